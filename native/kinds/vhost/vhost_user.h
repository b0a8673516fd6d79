/* vhost_user.h - the backend side of the vhost-user protocol for a net device.
 *
 * A frontend (QEMU, DPDK's virtio_user) drives the device over a unix socket:
 * each message is a 12-byte header (request, flags, payload size), a payload, and
 * maybe fds. ctn_vhost_handle() carries out one message on a device's state
 * (features, memory table, virtqueues) and says whether and what to answer. It
 * owns no socket and no event loop, so it can be unit tested and fuzzed alone;
 * vhost_port.c moves the bytes and watches the fds.
 *
 * Offered: VERSION_1, MRG_RXBUF, CSUM, GUEST_CSUM, HOST/GUEST TSO4, TSO6 and ECN,
 * RING_INDIRECT_DESC, RING_EVENT_IDX, MQ, and the protocol features MQ and
 * REPLY_ACK. Memory tables of up to CTN_VMEM_MAX_REGIONS regions.
 */
#ifndef CTN_VHOST_USER_H
#define CTN_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_mem.h"
#include "virtq.h"

#define CTN_VHOST_MAX_QP 8              /**< queue pairs offered (GET_QUEUE_NUM) */
#define CTN_VHOST_MAX_VQ (2 * CTN_VHOST_MAX_QP)
#define CTN_VHOST_MAX_FDS CTN_VMEM_MAX_REGIONS /**< fds one message may carry */

/* Requests (vhost-user spec, "Front-end message types"). */
enum ctn_vhost_req {
	CTN_VHOST_GET_FEATURES = 1,
	CTN_VHOST_SET_FEATURES = 2,
	CTN_VHOST_SET_OWNER = 3,
	CTN_VHOST_RESET_OWNER = 4,
	CTN_VHOST_SET_MEM_TABLE = 5,
	CTN_VHOST_SET_LOG_BASE = 6,
	CTN_VHOST_SET_LOG_FD = 7,
	CTN_VHOST_SET_VRING_NUM = 8,
	CTN_VHOST_SET_VRING_ADDR = 9,
	CTN_VHOST_SET_VRING_BASE = 10,
	CTN_VHOST_GET_VRING_BASE = 11,
	CTN_VHOST_SET_VRING_KICK = 12,
	CTN_VHOST_SET_VRING_CALL = 13,
	CTN_VHOST_SET_VRING_ERR = 14,
	CTN_VHOST_GET_PROTOCOL_FEATURES = 15,
	CTN_VHOST_SET_PROTOCOL_FEATURES = 16,
	CTN_VHOST_GET_QUEUE_NUM = 17,
	CTN_VHOST_SET_VRING_ENABLE = 18,
	CTN_VHOST_SEND_RARP = 19,
	CTN_VHOST_REQ_MAX = 64,
};

#define CTN_VHOST_VERSION 0x1         /**< header flags: protocol version */
#define CTN_VHOST_F_REPLY 0x4         /**< header flags: this is a reply */
#define CTN_VHOST_F_NEED_REPLY 0x8    /**< header flags: ack wanted (REPLY_ACK) */
#define CTN_VHOST_VRING_NOFD (1u << 8) /**< kick/call payload: no fd, poll */

/* virtio-net and vhost feature bits. */
#define CTN_VIRTIO_NET_F_CSUM 0
#define CTN_VIRTIO_NET_F_GUEST_CSUM 1
#define CTN_VIRTIO_NET_F_GUEST_TSO4 7
#define CTN_VIRTIO_NET_F_GUEST_TSO6 8
#define CTN_VIRTIO_NET_F_GUEST_ECN 9
#define CTN_VIRTIO_NET_F_HOST_TSO4 11
#define CTN_VIRTIO_NET_F_HOST_TSO6 12
#define CTN_VIRTIO_NET_F_HOST_ECN 13
#define CTN_VIRTIO_NET_F_MRG_RXBUF 15
#define CTN_VIRTIO_NET_F_MQ 22
#define CTN_VIRTIO_F_RING_INDIRECT_DESC 28
#define CTN_VIRTIO_F_RING_EVENT_IDX 29
#define CTN_VHOST_F_PROTOCOL_FEATURES 30
#define CTN_VIRTIO_F_VERSION_1 32
#define CTN_VHOST_PROTO_F_MQ 0
#define CTN_VHOST_PROTO_F_REPLY_ACK 3

/** Bit @b as a feature mask. */
#define CTN_BIT(b) (1ull << (b))

/** One message: header and the largest payload we accept. */
struct ctn_vhost_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /**< payload bytes that follow the header */
	union {
		uint64_t u64;
		struct {
			uint32_t index, num;
		} state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t nregions, padding;
			struct ctn_vmem_desc regions[CTN_VMEM_MAX_REGIONS];
		} mem;
		uint8_t bytes[256];
	} payload;
} __attribute__((packed));

#define CTN_VHOST_HDR_SIZE 12 /**< bytes before the payload */

/** A device's state. */
struct ctn_vhost_dev {
	uint64_t features;            /**< acked by SET_FEATURES */
	uint64_t protocol_features;   /**< acked by SET_PROTOCOL_FEATURES */
	struct ctn_vmem mem;          /**< the frontend's memory */
	struct ctn_virtq vq[CTN_VHOST_MAX_VQ]; /**< even: guest rx, odd: guest tx */
	uint32_t hdr_len;             /**< virtio-net header bytes (10 or 12) */
	char err[128];                /**< why the last message was refused */
};

/** Features this backend offers. */
extern const uint64_t ctn_vhost_features;

/** Zero state (no memory, no rings, no fds). */
void ctn_vhost_init(struct ctn_vhost_dev *d);
/** Release memory and fds, back to the zero state. */
void ctn_vhost_reset(struct ctn_vhost_dev *d);

/** What ctn_vhost_handle() decided. */
enum ctn_vhost_result {
	CTN_VHOST_OK,      /**< done; send @reply if *send_reply */
	CTN_VHOST_REFUSED, /**< refused (d->err says why); send @reply if *send_reply */
	CTN_VHOST_FATAL,   /**< the frontend broke the protocol: hang up (d->err) */
};

/** Carry out message @m (with @nfds fds in @fds). fds the device keeps are set
 *  to -1 in @fds; the caller closes the rest. Fills @reply and *@send_reply. */
enum ctn_vhost_result ctn_vhost_handle(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
				       int nfds, struct ctn_vhost_msg *reply, bool *send_reply);

/** Is feature bit @b acked? */
static inline bool ctn_vhost_has(const struct ctn_vhost_dev *d, int b)
{
	return (d->features >> b) & 1;
}

/** Name of request @r, for logs. */
const char *ctn_vhost_req_name(uint32_t r);

#endif
