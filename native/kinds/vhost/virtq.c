/* virtq.c - the device side of a split virtqueue, with every guest input checked. */
#include "virtq.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/** Mark @vq broken with a reason (first reason wins). Returns -1. */
static int vq_break(struct ctn_virtq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vq_break(struct ctn_virtq *vq, const char *fmt, ...)
{
	if (vq->broken[0])
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vq->broken, sizeof(vq->broken), fmt, ap);
	va_end(ap);
	if (!vq->broken[0])
		vq->broken[0] = '?';
	return -1;
}

/** 16-bit load from shared memory, ordered before what follows (acquire). */
static inline uint16_t ld_acq16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

int ctn_virtq_map(struct ctn_virtq *vq, const struct ctn_vmem *mem)
{
	uint64_t n = vq->num;
	if (!n)
		return vq_break(vq, "ring size was never set");
	vq->desc = (void *)ctn_vmem_uva(mem, vq->desc_uva, n * sizeof(struct ctn_vring_desc));
	vq->avail = (void *)ctn_vmem_uva(mem, vq->avail_uva, 6 + 2 * n);
	vq->used = (void *)ctn_vmem_uva(mem, vq->used_uva, 6 + 8 * n);
	const char *bad = !vq->desc || !vq->avail || !vq->used ? "ring addresses outside the memory table"
			  : ((uintptr_t)vq->desc & 15) || ((uintptr_t)vq->avail & 1) || ((uintptr_t)vq->used & 3)
			      ? "misaligned ring"
			      : NULL;
	if (bad) {
		/* None of the three may be used any more (notify writes to used). */
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return vq_break(vq, "%s", bad);
	}
	return 0;
}

uint16_t ctn_virtq_avail(struct ctn_virtq *vq)
{
	if (!ctn_virtq_ready(vq))
		return 0;
	uint16_t n = (uint16_t)(ld_acq16(&vq->avail->idx) - vq->last_avail);
	if (n > vq->num) {
		vq_break(vq, "available index moved by %u on a ring of %u", n, vq->num);
		return 0;
	}
	return n;
}

/** Add the buffer of descriptor @d to @iov as pieces that each lie in one
 *  region. Returns 0 or -1 (broken). */
static int add_buf(struct ctn_virtq *vq, const struct ctn_vmem *mem, const struct ctn_vring_desc *d,
		   struct ctn_vbuf *iov, int max, int *n, uint32_t *total)
{
	uint64_t addr = d->addr, left = d->len;
	if ((uint64_t)*total + left > UINT32_MAX)
		return vq_break(vq, "chain longer than 4 GiB");
	while (left) {
		uint64_t got;
		uint8_t *p = ctn_vmem_gpa(mem, addr, left, &got);
		if (!p)
			return vq_break(vq, "buffer at %#llx (%u bytes) outside guest memory",
					(unsigned long long)d->addr, d->len);
		if (*n == max)
			return vq_break(vq, "chain of more than %d pieces", max);
		iov[*n].p = p;
		iov[*n].len = (uint32_t)got;
		(*n)++;
		addr += got;
		left -= got;
	}
	*total += d->len;
	return 0;
}

int ctn_virtq_pop(struct ctn_virtq *vq, const struct ctn_vmem *mem, bool writable, struct ctn_vbuf *iov,
		  int max, uint16_t *head, uint32_t *total)
{
	if (!ctn_virtq_avail(vq))
		return vq->broken[0] ? -1 : 0;
	uint16_t h = vq->avail->ring[vq->last_avail & (vq->num - 1)];
	if (h >= vq->num)
		return vq_break(vq, "head %u out of a ring of %u", h, vq->num);
	vq->last_avail++;
	*head = h;
	*total = 0;
	int n = 0;
	const struct ctn_vring_desc *table = vq->desc;
	uint32_t size = vq->num, i = h, seen = 0;
	bool indirect = false;
	for (;;) {
		struct ctn_vring_desc d;
		memcpy(&d, &table[i], sizeof(d)); /* one read: the guest may change it */
		if (++seen > size)
			return vq_break(vq, "looped descriptor chain at head %u", h);
		if (d.flags & CTN_VRING_DESC_F_INDIRECT) {
			if (indirect)
				return vq_break(vq, "nested indirect table at head %u", h);
			if ((d.flags & CTN_VRING_DESC_F_NEXT) || !d.len || (d.len & 15) ||
			    d.len / 16 > CTN_VIRTQ_MAX)
				return vq_break(vq, "bad indirect table (%u bytes) at head %u", d.len, h);
			uint64_t contig;
			uint8_t *t = ctn_vmem_gpa(mem, d.addr, d.len, &contig);
			if (!t || contig != d.len || ((uintptr_t)t & 15))
				return vq_break(vq, "indirect table at %#llx outside guest memory",
						(unsigned long long)d.addr);
			table = (const struct ctn_vring_desc *)t;
			size = d.len / 16;
			i = 0;
			seen = 0;
			indirect = true;
			continue;
		}
		if (!!(d.flags & CTN_VRING_DESC_F_WRITE) != writable)
			return vq_break(vq, "%s descriptor in a chain the device %s", writable ? "read-only" : "writable",
					writable ? "writes" : "reads");
		if (add_buf(vq, mem, &d, iov, max, &n, total) < 0)
			return -1;
		if (!(d.flags & CTN_VRING_DESC_F_NEXT))
			return n;
		i = d.next;
		if (i >= size)
			return vq_break(vq, "next %u out of a table of %u", i, size);
	}
}

/** Does the driver want a call now? (virtio 1.x 2.7.10, event index). */
static bool want_call(struct ctn_virtq *vq, uint16_t old, uint16_t now)
{
	if (!vq->event_idx)
		return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) & CTN_VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t event = __atomic_load_n(&vq->avail->ring[vq->num], __ATOMIC_RELAXED); /* used_event */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void ctn_virtq_flush(struct ctn_virtq *vq)
{
	if (!vq->used)
		return;
	uint16_t old = __atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED);
	if (old == vq->used_idx)
		return;
	/* The used elements must be visible before the index that covers them. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	/* And the index before we read whether the driver wants a call: it reads
	 * them in the other order (a full barrier on both sides, 2.7.10). */
	atomic_thread_fence(memory_order_seq_cst);
	uint16_t since = vq->signalled_valid ? vq->signalled : old;
	if (vq->callfd >= 0 && (!vq->signalled_valid || want_call(vq, since, vq->used_idx))) {
		uint64_t one = 1;
		if (write(vq->callfd, &one, sizeof(one)) < 0) {
			/* the frontend closed it; nothing to tell */
		}
		vq->signalled = vq->used_idx;
		vq->signalled_valid = true;
	}
}

bool ctn_virtq_notify(struct ctn_virtq *vq, bool on)
{
	if (!vq->used)
		return false;
	if (vq->event_idx) {
		/* avail_event: kick us once the driver moves past what we took. */
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->num];
		__atomic_store_n(avail_event, on ? vq->last_avail : (uint16_t)(vq->last_avail - 1), __ATOMIC_RELAXED);
	} else {
		uint16_t f = on ? 0 : CTN_VRING_USED_F_NO_NOTIFY;
		__atomic_store_n(&vq->used->flags, f, __ATOMIC_RELAXED);
	}
	if (!on)
		return false;
	/* Our request must be visible before we look again, or a chain offered in
	 * between would get no kick and no look (the driver does the mirror). */
	atomic_thread_fence(memory_order_seq_cst);
	return ctn_virtq_avail(vq) != 0;
}

void ctn_virtq_stop(struct ctn_virtq *vq)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->signalled_valid = false;
	vq->broken[0] = 0;
}
