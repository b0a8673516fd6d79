/* pktpool.c - the engine's fixed pool of packet buffers. */
#include "pkt.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

int ctn_pktpool_init(struct ctn_pktpool *pool, uint32_t size)
{
	*pool = (struct ctn_pktpool){0};
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	pool->mem_len = (size_t)size * CTN_BUF_SIZE;
	/* MAP_NORESERVE: pages are only committed when a frame that large arrives. */
	pool->mem = mmap(NULL, pool->mem_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool->mem == MAP_FAILED) {
		pool->mem = NULL;
		return -1;
	}
	pool->pkts = calloc(size, sizeof(*pool->pkts));
	pool->free_idx = calloc(size, sizeof(*pool->free_idx));
	if (!pool->pkts || !pool->free_idx) {
		ctn_pktpool_fini(pool);
		errno = ENOMEM;
		return -1;
	}
	pool->size = size;
	for (uint32_t i = 0; i < size; i++) {
		pool->pkts[i].buf = pool->mem + (size_t)i * CTN_BUF_SIZE;
		pool->pkts[i].index = i;
		pool->free_idx[i] = size - 1 - i;
	}
	pool->nfree = size;
	return 0;
}

void ctn_pktpool_fini(struct ctn_pktpool *pool)
{
	if (pool->mem)
		munmap(pool->mem, pool->mem_len);
	free(pool->pkts);
	free(pool->free_idx);
	*pool = (struct ctn_pktpool){0};
}
