/* virtq.h - the device side of a split virtqueue (virtio 1.x, 2.7), as a
 * vhost-user backend runs it over a frontend's shared memory.
 *
 * The driver (the guest) offers descriptor chains in the available ring; the
 * device takes them (ctn_virtq_pop), reads or fills their buffers, and returns
 * them in the used ring (ctn_virtq_push, then ctn_virtq_flush), calling the
 * driver when it asked to be called. Everything read from the rings is guest
 * input and is checked: indexes, chain lengths (a chain longer than the ring is
 * a loop), indirect tables, every buffer address and length against the memory
 * table. A check that fails breaks the queue with the reason; the caller then
 * takes the whole device out of service.
 */
#ifndef CTN_VIRTQ_H
#define CTN_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_mem.h"

#define CTN_VIRTQ_MAX 32768 /**< largest ring the spec allows */

#define CTN_VRING_DESC_F_NEXT 1
#define CTN_VRING_DESC_F_WRITE 2
#define CTN_VRING_DESC_F_INDIRECT 4
#define CTN_VRING_AVAIL_F_NO_INTERRUPT 1
#define CTN_VRING_USED_F_NO_NOTIFY 1

/** A descriptor, as in guest memory (little endian = host order here). */
struct ctn_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/** The available ring: flags, idx, ring[num], then used_event. */
struct ctn_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

/** One used element. */
struct ctn_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/** The used ring: flags, idx, ring[num], then avail_event. */
struct ctn_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct ctn_vring_used_elem ring[];
};

/** One piece of a buffer, in our address space. */
struct ctn_vbuf {
	uint8_t *p;
	uint32_t len;
};

/** A queue. */
struct ctn_virtq {
	uint32_t num;                   /**< entries (power of two), 0 until set */
	struct ctn_vring_desc *desc;    /**< descriptor table */
	struct ctn_vring_avail *avail;  /**< available ring */
	struct ctn_vring_used *used;    /**< used ring */
	uint64_t desc_uva, avail_uva, used_uva; /**< as the frontend gave them */
	uint16_t last_avail;            /**< next available entry to take */
	uint16_t used_idx;              /**< our copy of used->idx, ahead until flushed */
	uint16_t signalled;             /**< used->idx when the driver was last called */
	bool signalled_valid;           /**< @signalled means something */
	bool event_idx;                 /**< VIRTIO_RING_F_EVENT_IDX negotiated */
	bool enabled;                   /**< SET_VRING_ENABLE (or no protocol features) */
	bool base_given;                /**< SET_VRING_BASE came, the rings not mapped since */
	int kickfd;                     /**< eventfd the driver kicks, or -1 */
	int callfd;                     /**< eventfd we call the driver on, or -1 */
	char broken[96];                /**< why the queue is unusable, "" while fine */
};

/** True when @vq has rings, is enabled and is not broken. */
static inline bool ctn_virtq_ready(const struct ctn_virtq *vq)
{
	return vq->desc && vq->enabled && !vq->broken[0];
}

/** Translate the ring addresses (frontend user addresses) through @mem.
 *  Returns 0, or -1 with vq->broken set. */
int ctn_virtq_map(struct ctn_virtq *vq, const struct ctn_vmem *mem);

/** Number of chains the driver offers that we have not taken (0 when broken). */
uint16_t ctn_virtq_avail(struct ctn_virtq *vq);

/** Take the next offered chain: its buffers go to @iov (at most @max pieces;
 *  readable ones when @writable is false, writable ones when true, and a chain
 *  with the other kind is refused), *@head gets its head index and *@total its
 *  bytes. Returns the number of pieces, 0 when nothing is offered, or -1 when
 *  the queue broke (vq->broken says why). */
int ctn_virtq_pop(struct ctn_virtq *vq, const struct ctn_vmem *mem, bool writable, struct ctn_vbuf *iov,
		  int max, uint16_t *head, uint32_t *total);

/** Return chain @head with @len bytes written into it (not yet visible). */
static inline void ctn_virtq_push(struct ctn_virtq *vq, uint16_t head, uint32_t len)
{
	struct ctn_vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	e->id = head;
	e->len = len;
	vq->used_idx++;
}

/** Give back the last chain taken but not used (to take it again later). */
static inline void ctn_virtq_unpop(struct ctn_virtq *vq)
{
	vq->last_avail--;
}

/** Publish what was pushed and call the driver if it wants to be called. */
void ctn_virtq_flush(struct ctn_virtq *vq);

/** Ask the driver to kick us when it offers more (@on) or not to bother. With
 *  @on, returns true when chains came in meanwhile (take them now: no kick is
 *  coming for those). */
bool ctn_virtq_notify(struct ctn_virtq *vq, bool on);

/** Forget ring state (GET_VRING_BASE, a frontend gone): keeps fds and num. */
void ctn_virtq_stop(struct ctn_virtq *vq);

#endif
