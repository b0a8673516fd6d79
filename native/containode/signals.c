/* signals.c - passing signals on, and reaping (see signals.h). */
#include "signals.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "options.h"

volatile sig_atomic_t cn_forward_pid;

/** Handler of the passed-on signals: sends @sig on to cn_forward_pid when a
 *  process sent it. Async-signal-safe: it only calls kill(). */
static void forward_signal(int sig, siginfo_t *info, void *ucontext)
{
	int saved_errno = errno;
	pid_t target = (pid_t)cn_forward_pid;

	(void)ucontext;
	if (info->si_code <= 0 && target > 0)
		(void)kill(target, sig); /* nothing to do if the target is gone */
	errno = saved_errno;
}

int cn_signals_block(const int *sigs, size_t n, sigset_t *set)
{
	if (sigemptyset(set) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sigaddset(set, sigs[i]) < 0)
			return -1;
	return sigprocmask(SIG_BLOCK, set, NULL);
}

int cn_signals_forward(const int *sigs, size_t n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigemptyset(&sa.sa_mask) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sigaddset(&sa.sa_mask, sigs[i]) < 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
}

pid_t cn_wait_and_reap(pid_t pid, int *status)
{
	siginfo_t info;
	pid_t reaped;

	for (;;) {
		memset(&info, 0, sizeof info);
		if (waitid(pid < 0 ? P_ALL : P_PID, pid < 0 ? 0 : (id_t)pid, &info, WEXITED | WNOWAIT) == 0)
			break;
		if (errno != EINTR)
			return -1;
	}
	if (info.si_pid == (pid_t)cn_forward_pid)
		cn_forward_pid = 0;
	do
		reaped = waitpid(info.si_pid, status, 0);
	while (reaped < 0 && errno == EINTR);
	return reaped;
}

int cn_exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return CN_EXIT_SETUP;
}
