/* vhost_mem.h - a vhost-user frontend's memory, mapped into this process.
 *
 * The frontend (QEMU, a DPDK virtio_user) shares its guest memory as a table of
 * regions, each an fd to mmap with the region's guest physical address, its
 * address in the frontend's own address space and an offset into the fd.
 * Descriptors carry guest physical addresses; ring addresses are given in the
 * frontend's user addresses. Every translation here is bounded by one region:
 * an address or a length the table does not cover is refused, never guessed.
 * A region must fit its fd when it is mapped; whether the fd can still shrink
 * afterwards (it has no F_SEAL_SHRINK) decides whether accesses to it need a
 * guard against SIGBUS (vhost_guard.h).
 */
#ifndef CTN_VHOST_MEM_H
#define CTN_VHOST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Regions one SET_MEM_TABLE may carry (the spec's baseline, and QEMU's). */
#define CTN_VMEM_MAX_REGIONS 8

/** One mapped region. */
struct ctn_vmem_region {
	uint64_t gpa;      /**< guest physical address of its first byte */
	uint64_t size;     /**< bytes */
	uint64_t uva;      /**< the frontend's address of its first byte */
	uint8_t *host;     /**< our address of its first byte */
	void *map;         /**< what mmap returned (the fd mapped from 0) */
	size_t map_len;    /**< its length */
	bool sealed;       /**< its fd can never shrink (F_SEAL_SHRINK, not hugetlbfs) */
};

/** A memory table. */
struct ctn_vmem {
	uint32_t n;                                          /**< regions in use */
	bool sealed;                                         /**< every region is: no guard needed */
	struct ctn_vmem_region r[CTN_VMEM_MAX_REGIONS];      /**< the regions */
};

/** A region as the frontend describes it (the wire format, host order). */
struct ctn_vmem_desc {
	uint64_t gpa, size, uva, mmap_offset;
};

/** Replace @m's table with @n regions described by @d, mapping @fds[i] for
 *  region i. The fds stay the caller's. Returns 0, or -1 with @err filled and
 *  @m left empty (its old mappings are released either way). */
int ctn_vmem_set(struct ctn_vmem *m, const struct ctn_vmem_desc *d, const int *fds, uint32_t n, char *err,
		 size_t errlen);

/** The region whose mapping holds @addr, or -1. Async-signal-safe. */
static inline int ctn_vmem_region_at(const struct ctn_vmem *m, const void *addr)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ctn_vmem_region *r = &m->r[i];
		if ((uintptr_t)addr - (uintptr_t)r->map < r->map_len)
			return (int)i;
	}
	return -1;
}

/** Unmap everything. */
void ctn_vmem_clear(struct ctn_vmem *m);

/** Our address of guest physical @gpa, with @len bytes behind it in one region;
 *  *@contig gets how many of them are contiguous (<= @len). NULL when @gpa is
 *  in no region. */
static inline uint8_t *ctn_vmem_gpa(const struct ctn_vmem *m, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ctn_vmem_region *r = &m->r[i];
		if (gpa - r->gpa < r->size) {
			uint64_t left = r->size - (gpa - r->gpa);
			*contig = len < left ? len : left;
			return r->host + (gpa - r->gpa);
		}
	}
	return NULL;
}

/** Our address of the frontend's user address @uva, whose @len bytes must all
 *  lie in one region; NULL otherwise. */
uint8_t *ctn_vmem_uva(const struct ctn_vmem *m, uint64_t uva, uint64_t len);

#endif
