/* vhost_guard.h - surviving a frontend that shrinks its memory under us.
 *
 * A memory region is a MAP_SHARED mapping of a file the frontend holds too.
 * When the frontend truncates that file, touching the mapping past the new end
 * raises SIGBUS, whose default action ends the whole daemon. Two defences:
 *
 *  - At map time (ctn_vmem_set): a region must fit its fd, and a region whose
 *    fd is sealed with F_SEAL_SHRINK (a memfd; not hugetlbfs, where a fault can
 *    still fail for want of huge pages) can never shrink: a memory table made
 *    only of such regions (ctn_vmem.sealed) needs no guard.
 *  - Otherwise every stretch of code that touches guest memory (ring reads and
 *    writes, copies from and to buffers) runs under a guard: a per-thread
 *    recovery point that the process-wide SIGBUS handler jumps back to when
 *    the faulting address lies in a mapping of the guarded memory table. The
 *    code there takes the device out of service with the reason
 *    (ctn_vguard_reason). A SIGBUS that is not ours goes on to the handler
 *    that was there before us, or gets the default action as before.
 *
 * Use (the recovery point must be in a frame that is still alive when the
 * fault comes, hence the open-coded sigsetjmp):
 *
 *	struct ctn_vguard g;
 *	if (sigsetjmp(g.env, 0)) {
 *		... the guard is off already; ctn_vguard_reason() says what ...
 *	}
 *	ctn_vguard_on(&g, mem);
 *	... touch guest memory ...
 *	ctn_vguard_off(&g);
 *
 * After the jump, locals of that function changed since sigsetjmp are
 * indeterminate unless volatile (C11 7.13.2.1): the fault path reads only
 * volatile ones and ones set before sigsetjmp.
 *
 * Cost: sigsetjmp(env, 0) saves a few registers and no signal mask (saving it
 * would be a syscall), one per burst. The handler is installed with
 * SA_NODEFER, so SIGBUS is not blocked while it runs, and leaving it with
 * siglongjmp leaves the thread's mask as it was at the fault; otherwise SIGBUS
 * would stay blocked in that thread and the next fault would kill the process.
 * The interrupted code is always a load, a store or a memcpy on guest memory,
 * never inside a lock or an allocator: jumping out of it is safe.
 */
#ifndef CTN_VHOST_GUARD_H
#define CTN_VHOST_GUARD_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>

#include "vhost_mem.h"

/** A recovery point of one thread. */
struct ctn_vguard {
	sigjmp_buf env;              /**< where a fault in @mem goes back to */
	const struct ctn_vmem *mem;  /**< whose mappings' faults are ours */
	struct ctn_vguard *prev;     /**< the guard this one is nested in, or NULL */
};

/** This thread's innermost armed guard, or NULL (initial-exec TLS: read by
 *  the signal handler, where a lazily allocated TLS block could not be). */
extern _Thread_local struct ctn_vguard *ctn_vguard_cur __attribute__((tls_model("initial-exec")));

/** Install the SIGBUS handler (once per process; later calls do nothing). */
void ctn_vguard_install(void);

/** Arm @g (its env set by sigsetjmp just before) for faults in @mem. */
static inline void ctn_vguard_on(struct ctn_vguard *g, const struct ctn_vmem *mem)
{
	g->mem = mem;
	g->prev = ctn_vguard_cur;
	ctn_vguard_cur = g;
	/* A compiler barrier: armed before the first guest access. */
	atomic_signal_fence(memory_order_seq_cst);
}

/** Disarm @g (not needed after a fault: the handler did it). */
static inline void ctn_vguard_off(struct ctn_vguard *g)
{
	/* The last guest access before disarming. */
	atomic_signal_fence(memory_order_seq_cst);
	ctn_vguard_cur = g->prev;
}

/** After a fault of this thread in @mem: what happened, in @buf. Returns @buf. */
const char *ctn_vguard_reason(const struct ctn_vmem *mem, char *buf, size_t len);

#endif
