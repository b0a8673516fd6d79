/* fuzz_vhost.c - libFuzzer target: vhost-user messages and the descriptor walker.
 *
 * The input is a little-endian u16 length L, L bytes of guest memory, then a
 * stream of vhost-user messages, as a hostile frontend could send them. Guest
 * memory (GUEST_MEM bytes, the L given first, zero padded) lives in a memfd that
 * SET_MEM_TABLE messages map, so rings and descriptors are fuzzed too. Each message is a 12-byte header and its
 * payload; SET_MEM_TABLE gets one memfd per region, SET_VRING_KICK/CALL/ERR an
 * eventfd, as the real socket would. After every message each queue that is
 * ready is walked as the ports do: chains taken, buffers touched, returned, and
 * the used ring published. Anything the handler or the walker accepts must be
 * safe to touch: AddressSanitizer checks every byte.
 *
 * Two requests no frontend sends stand for what a hostile one does to its
 * memory fd between messages: FUZZ_TRUNCATE (payload: u32 new size, modulo
 * GUEST_MEM + 1) shrinks or grows it, FUZZ_SEAL adds F_SEAL_SHRINK. The walker
 * runs under the SIGBUS guard unless the memory table is sealed, as the port
 * does: a fault there hangs up like a fatal message, and a fault anywhere else
 * (a sealed table that could shrink after all, a handler's unguarded access)
 * kills the fuzzer, which reports it.
 *
 * Build and run (test/fuzz.test.ts does this for a bounded time):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Inative/kinds/vhost \
 *     native/fuzz/fuzz_vhost.c native/kinds/vhost/vhost_user.c native/kinds/vhost/virtq.c \
 *     native/kinds/vhost/vhost_mem.c -o build/fuzz_vhost
 *   build/fuzz_vhost -max_total_time=30 CORPUS_COPY native/fuzz/corpus/vhost
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost_guard.h"
#include "vhost_user.h"

#define GUEST_MEM 8192 /**< bytes of fuzzed guest memory */
#define FUZZ_TRUNCATE 0x100 /**< not a vhost-user request: ftruncate the memory fd */
#define FUZZ_SEAL 0x101     /**< not a vhost-user request: seal it against shrinking */

/** Walk every ready queue as rx_burst and vh_emit do. */
static void walk_queues(struct ctn_vhost_dev *d)
{
	struct ctn_vbuf iov[64];
	for (int q = 0; q < CTN_VHOST_MAX_VQ; q++) {
		struct ctn_virtq *vq = &d->vq[q];
		for (int k = 0; k < 8 && ctn_virtq_ready(vq); k++) {
			uint16_t head;
			uint32_t total;
			bool writable = (q & 1) == 0; /* guest rx rings are written by us */
			int n = ctn_virtq_pop(vq, &d->mem, writable, iov, 64, &head, &total);
			if (n <= 0)
				break;
			uint32_t sum = 0;
			for (int i = 0; i < n; i++) {
				if (writable)
					memset(iov[i].p, 0xa5, iov[i].len);
				else
					for (uint32_t j = 0; j < iov[i].len; j++)
						sum += iov[i].p[j];
			}
			ctn_virtq_push(vq, head, writable ? total : sum & 1);
		}
		if (ctn_virtq_ready(vq)) {
			ctn_virtq_flush(vq);
			ctn_virtq_notify(vq, true);
		}
	}
}

/** walk_queues under the guard unless the memory is sealed, as the port's
 *  bursts run. Returns 0, or -1 when the guest's memory faulted. */
static __attribute__((noinline)) int walk(struct ctn_vhost_dev *d)
{
	if (d->mem.sealed) {
		walk_queues(d);
		return 0;
	}
	struct ctn_vguard g;
	if (sigsetjmp(g.env, 0))
		return -1;
	ctn_vguard_on(&g, &d->mem);
	walk_queues(d);
	ctn_vguard_off(&g);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int mem = memfd_create("guest", MFD_ALLOW_SEALING);
	if (mem < 0 || ftruncate(mem, GUEST_MEM) < 0)
		return 0;
	if (size < 2) {
		close(mem);
		return 0;
	}
	size_t take = (size_t)(data[0] | data[1] << 8);
	data += 2;
	size -= 2;
	if (take > size)
		take = size;
	if (take > GUEST_MEM)
		take = GUEST_MEM;
	if (take && pwrite(mem, data, take, 0) < 0) {
		close(mem);
		return 0;
	}
	data += take;
	size -= take;

	struct ctn_vhost_dev d;
	ctn_vhost_init(&d);
	while (size >= CTN_VHOST_HDR_SIZE) {
		struct ctn_vhost_msg m;
		memset(&m, 0, sizeof(m));
		memcpy(&m, data, CTN_VHOST_HDR_SIZE);
		data += CTN_VHOST_HDR_SIZE;
		size -= CTN_VHOST_HDR_SIZE;
		size_t pl = m.size < sizeof(m.payload) ? m.size : sizeof(m.payload);
		if (pl > size)
			pl = size;
		memcpy(&m.payload, data, pl);
		data += pl;
		size -= pl;

		if (m.request == FUZZ_TRUNCATE) {
			if (ftruncate(mem, (off_t)(m.payload.u64 % (GUEST_MEM + 1))) < 0) {
				/* sealed: it cannot shrink */
			}
			continue; /* the next message and walk find out */
		}
		if (m.request == FUZZ_SEAL) {
			if (fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
				__builtin_trap();
			continue;
		}
		int fds[CTN_VHOST_MAX_FDS];
		int nfds = 0;
		if (m.request == CTN_VHOST_SET_MEM_TABLE) {
			uint32_t n = m.payload.mem.nregions;
			for (uint32_t i = 0; i < n && i < CTN_VHOST_MAX_FDS; i++)
				fds[nfds++] = dup(mem);
		} else if ((m.request == CTN_VHOST_SET_VRING_KICK || m.request == CTN_VHOST_SET_VRING_CALL ||
			    m.request == CTN_VHOST_SET_VRING_ERR) &&
			   !(m.payload.u64 & CTN_VHOST_VRING_NOFD)) {
			fds[nfds++] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		}
		struct ctn_vhost_msg reply;
		bool answer;
		enum ctn_vhost_result rc = ctn_vhost_handle(&d, &m, fds, nfds, &reply, &answer);
		for (int i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (answer && reply.size > sizeof(reply.payload))
			__builtin_trap(); /* a reply we could not send whole */
		if (rc == CTN_VHOST_FATAL)
			break; /* the port hangs up here */
		if (walk(&d) < 0)
			break; /* so it does after a fault in guest memory */
	}
	ctn_vhost_reset(&d);
	close(mem);
	return 0;
}
