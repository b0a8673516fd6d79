/* vhost_mem.c - mapping and translating a vhost-user frontend's memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GET_SEALS (the fuzzer builds this file alone) */
#endif
#include "vhost_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

/** Can @fd never shrink? Sealed with F_SEAL_SHRINK (seals are never removed),
 *  and not on hugetlbfs, where touching a page the frontend punched out can
 *  still fail with SIGBUS when no huge page is free. */
static bool cannot_shrink(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	struct statfs sf;
	return seals >= 0 && (seals & F_SEAL_SHRINK) && fstatfs(fd, &sf) == 0 && sf.f_type != HUGETLBFS_MAGIC;
}

void ctn_vmem_clear(struct ctn_vmem *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}

int ctn_vmem_set(struct ctn_vmem *m, const struct ctn_vmem_desc *d, const int *fds, uint32_t n, char *err,
		 size_t errlen)
{
	ctn_vmem_clear(m);
	if (n == 0 || n > CTN_VMEM_MAX_REGIONS) {
		snprintf(err, errlen, "memory table of %u regions (1 to %d)", n, CTN_VMEM_MAX_REGIONS);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct ctn_vmem_desc *r = &d[i];
		if (r->size == 0 || r->gpa + r->size < r->gpa || r->uva + r->size < r->uva ||
		    r->mmap_offset + r->size < r->mmap_offset || r->mmap_offset + r->size > SIZE_MAX) {
			snprintf(err, errlen, "memory region %u: size %#llx at %#llx (offset %#llx) wraps", i,
				 (unsigned long long)r->size, (unsigned long long)r->gpa,
				 (unsigned long long)r->mmap_offset);
			goto bad;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (r->gpa < d[j].gpa + d[j].size && d[j].gpa < r->gpa + r->size) {
				snprintf(err, errlen, "memory regions %u and %u overlap", j, i);
				goto bad;
			}
		}
		size_t len = (size_t)(r->mmap_offset + r->size);
		/* Touching a mapping past the end of its file raises SIGBUS: a region
		 * larger than its fd is refused here; one whose fd shrinks later is
		 * what the guard (vhost_guard.h) is for. The seals are read first:
		 * once F_SEAL_SHRINK is on, the size fstat gives can only grow. */
		bool sealed = cannot_shrink(fds[i]);
		struct stat st = {0};
		if (fstat(fds[i], &st) < 0 || (S_ISREG(st.st_mode) && (uint64_t)st.st_size < len)) {
			snprintf(err, errlen, "memory region %u does not fit its fd: %zu bytes asked of an fd of %lld", i,
				 len, (long long)st.st_size);
			goto bad;
		}
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fds[i], 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "memory region %u: mmap of %zu bytes: %s", i, len, strerror(errno));
			goto bad;
		}
		m->r[i] = (struct ctn_vmem_region){
			.gpa = r->gpa,
			.size = r->size,
			.uva = r->uva,
			.host = (uint8_t *)p + r->mmap_offset,
			.map = p,
			.map_len = len,
			.sealed = sealed,
		};
		m->n = i + 1;
	}
	m->sealed = true;
	for (uint32_t i = 0; i < n; i++)
		m->sealed = m->sealed && m->r[i].sealed;
	return 0;
bad:
	ctn_vmem_clear(m);
	return -1;
}

uint8_t *ctn_vmem_uva(const struct ctn_vmem *m, uint64_t uva, uint64_t len)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ctn_vmem_region *r = &m->r[i];
		if (uva - r->uva < r->size && len <= r->size - (uva - r->uva))
			return r->host + (uva - r->uva);
	}
	return NULL;
}
