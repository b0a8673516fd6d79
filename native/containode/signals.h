/* signals.h - passing signals on to the next process down, and waiting for it.
 *
 * Used twice: containode passes signals to the container's init, and the init
 * to PROGRAM. Only signals a process sent (si_code <= 0: kill, sigqueue,
 * tgkill) are passed on: those the kernel raised itself, such as a terminal's
 * Ctrl-C, already reached the whole foreground process group, PROGRAM
 * included, and passing them on would deliver them twice.
 */
#ifndef CN_SIGNALS_H
#define CN_SIGNALS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/** Where passed-on signals go; 0 while there is nobody to pass them to. */
extern volatile sig_atomic_t cn_forward_pid;

/** Block the @n signals of @sigs and return them in @set. Returns 0, or -1 with errno set. */
int cn_signals_block(const int *sigs, size_t n, sigset_t *set);

/** Route the @n signals of @sigs to the handler that passes them on to
 *  cn_forward_pid (one at a time). Returns 0, or -1 with errno set. */
int cn_signals_forward(const int *sigs, size_t n);

/** Wait until a child exits (any child when @pid is -1, else @pid), reap it and
 *  store its wait status in @status. If it is cn_forward_pid, forwarding stops
 *  before the reap, so a late signal never reaches a recycled pid. Returns the
 *  reaped pid, or -1 with errno set. */
pid_t cn_wait_and_reap(pid_t pid, int *status);

/** A wait status as an exit code: the code, 128+N for signal N, else 125. */
int cn_exit_code_of(int status);

#endif
