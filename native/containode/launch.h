/* launch.h - the container's init (see launch.c for the handshake and the
 * setup steps): containode clones it into new namespaces, makes eth0 while
 * the init mounts, then tells it to go (or to abort). */
#ifndef CN_LAUNCH_H
#define CN_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** What the init sets up and runs. Strings must live until the init is gone
 *  (it runs on a copy of containode's memory). */
struct cn_launch {
	const char *hostname; /**< hostname in the new UTS namespace (the identity) */
	const char *root;     /**< absolute root directory, or NULL for the host's files */
	const char *top;      /**< absolute directory for the root's changes, set when root is */
	bool keep_net;        /**< share containode's network namespace */
	bool keep_ipc;        /**< share containode's IPC namespace */
	char **envs;          /**< KEY=VAL strings added to PROGRAM's environment */
	size_t env_count;
	char **argv;          /**< PROGRAM and its arguments, NULL-terminated */
	int private_fd;       /**< containode's own fd the init closes at once (--ready-fd), -1: none */
	int sync_fd;          /**< the init's end of the handshake socket (set by cn_launch_start) */
	int peer_fd;          /**< containode's end, which the init closes (set by cn_launch_start) */
};

/** The signals the init passes on to PROGRAM, blocked in containode (and so
 *  in the init) from cn_launch_start on; containode unblocks them once its
 *  own handlers are set. */
extern const int cn_init_signals[];
extern const size_t cn_init_signal_count;

/** Clone the init into the namespaces @l asks for. Returns its pid, and
 *  containode's end of the handshake socket in *@sync_fd. Exits 125 with the
 *  reason when it cannot. */
pid_t cn_launch_start(struct cn_launch *l, int *sync_fd);

/** Tell the init to run PROGRAM and close @sync_fd. Returns 0, or -1 when the
 *  init is gone (its exit status says why). */
int cn_launch_go(int sync_fd);

/** Tell the init to run PROGRAM, wait for its `started` (PROGRAM was
 *  executed) and close @sync_fd. Returns 0 once it came, or -1 when the init
 *  ended without it (exec failed, or it died: its exit status says why). */
int cn_launch_go_started(int sync_fd);

/** Tell the init to give up (it prints "containode: aborted: @reason" and
 *  exits 125) and close @sync_fd. */
void cn_launch_abort(int sync_fd, const char *reason);

#endif
