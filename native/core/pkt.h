/* pkt.h - packet buffers and their offload metadata.
 *
 * A packet is a frame (ethernet header first) in a fixed-size buffer owned by the
 * engine's pool, plus the virtio-net offload metadata that came with it. The
 * metadata is kept in host byte order and in one normalised form whatever port kind
 * the frame came from, so every port kind reads and writes the same struct.
 */
#ifndef CTN_PKT_H
#define CTN_PKT_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

/** Largest frame the dataplane carries: 64 KiB of payload behind an ethernet
 *  header with one 802.1Q tag. */
#define CTN_FRAME_MAX (65536 + 18)
/** Room in front of every frame for a port's prefix (vnet header, packet info). */
#define CTN_HEADROOM 64
/** Bytes of one buffer: headroom plus the largest frame, rounded to 64. */
#define CTN_BUF_SIZE (((CTN_HEADROOM + CTN_FRAME_MAX) + 63) & ~63)
/** Most frames moved in one burst (one rx call, one tx call). */
#define CTN_BURST 32
/** Bytes after which a burst ends early: large frames are forwarded while they
 *  are still in the cache instead of piling up 32 x 64 KiB first. */
#ifndef CTN_BURST_BYTES
#define CTN_BURST_BYTES (128u << 10)
#endif
/** Smallest frame we accept: an ethernet header. */
#define CTN_FRAME_MIN 14

/* Offload flags (values as in the virtio-net header). */
#define CTN_VNET_F_NEEDS_CSUM 1 /**< checksum from csum_start to end is still to do */
#define CTN_VNET_F_DATA_VALID 2 /**< checksum already verified */

/* GSO types (values as in the virtio-net header). */
#define CTN_GSO_NONE 0
#define CTN_GSO_TCPV4 1
#define CTN_GSO_UDP 3
#define CTN_GSO_TCPV6 4
#define CTN_GSO_UDP_L4 5
#define CTN_GSO_ECN 0x80

/** Offload metadata of one frame, host byte order (see the virtio spec, 5.1.6). */
struct ctn_vnet {
	uint8_t flags;        /**< CTN_VNET_F_* */
	uint8_t gso_type;     /**< CTN_GSO_*, possibly with CTN_GSO_ECN */
	uint16_t hdr_len;     /**< bytes of headers before the segmented payload */
	uint16_t gso_size;    /**< payload bytes per segment */
	uint16_t csum_start;  /**< offset where checksumming starts */
	uint16_t csum_offset; /**< where to store it, relative to csum_start */
};

/** The virtio-net header as it is on the wire of a tap (little endian on the
 *  machines we run on; num_buffers only present when the header is 12 bytes). */
struct ctn_vnet_wire {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/** One packet: a frame in a pool buffer plus its metadata. */
struct ctn_pkt {
	uint8_t *data;        /**< first byte of the ethernet header */
	uint32_t len;         /**< frame length in bytes */
	uint32_t in_port;     /**< id of the port it arrived on */
	struct ctn_vnet vnet; /**< offload state; all zero for a complete frame */
	uint8_t *buf;         /**< start of the buffer (data - buf is the headroom) */
	uint32_t index;       /**< index in the pool, for freeing */
};

/** Fixed-size pool of packet buffers, used by one engine thread only (no locks). */
struct ctn_pktpool {
	struct ctn_pkt *pkts; /**< all packet structs */
	uint32_t *free_idx;   /**< stack of free indexes */
	uint32_t nfree;       /**< entries on the stack */
	uint32_t size;        /**< number of buffers */
	uint8_t *mem;         /**< the buffers, one mapping */
	size_t mem_len;       /**< bytes mapped */
};

/** Map @size buffers. Returns 0, or -1 with errno set. Allocates (control path). */
int ctn_pktpool_init(struct ctn_pktpool *pool, uint32_t size);
/** Unmap everything. Safe on a zeroed pool. */
void ctn_pktpool_fini(struct ctn_pktpool *pool);

/** Take a buffer, with data at the default headroom and zeroed metadata.
 *  Returns NULL when the pool is empty. */
static inline struct ctn_pkt *ctn_pkt_alloc(struct ctn_pktpool *pool)
{
	if (pool->nfree == 0)
		return NULL;
	struct ctn_pkt *p = &pool->pkts[pool->free_idx[--pool->nfree]];
	p->data = p->buf + CTN_HEADROOM;
	p->len = 0;
	memset(&p->vnet, 0, sizeof(p->vnet));
	return p;
}

/** Give a buffer back to its pool. */
static inline void ctn_pkt_free(struct ctn_pktpool *pool, struct ctn_pkt *p)
{
	pool->free_idx[pool->nfree++] = p->index;
}

/** Ethertype of a frame, looking through one 802.1Q/802.1ad tag (host order). */
static inline uint16_t ctn_pkt_ethertype(const struct ctn_pkt *p)
{
	const uint8_t *d = p->data;
	uint16_t t = (uint16_t)(d[12] << 8 | d[13]);
	if ((t == 0x8100 || t == 0x88a8) && p->len >= 18)
		t = (uint16_t)(d[16] << 8 | d[17]);
	return t;
}

#endif
