/* vhost_guard.c - the SIGBUS handler behind guarded guest-memory access. */
#include "vhost_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

_Thread_local struct ctn_vguard *ctn_vguard_cur __attribute__((tls_model("initial-exec")));

/** Where this thread's last recovered fault was. */
static _Thread_local struct {
	uintptr_t addr; /**< the faulting address */
	int region;     /**< the region whose mapping holds it */
} last_fault __attribute__((tls_model("initial-exec")));

static struct sigaction prev_action; /**< SIGBUS's handler before ours */
static pthread_once_t installed = PTHREAD_ONCE_INIT;

/** SIGBUS: back to the thread's recovery point when the fault is in the guest
 *  memory it guards; otherwise what would have happened without us. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct ctn_vguard *g = ctn_vguard_cur;
	if (g && si->si_code > 0) { /* a fault (si_code <= 0: sent by someone) */
		int r = ctn_vmem_region_at(g->mem, si->si_addr);
		if (r >= 0) {
			last_fault.addr = (uintptr_t)si->si_addr;
			last_fault.region = r;
			ctn_vguard_cur = g->prev;
			siglongjmp(g->env, 1);
		}
	}
	if (prev_action.sa_flags & SA_SIGINFO) {
		prev_action.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_action.sa_handler == SIG_IGN && si->si_code <= 0)
		return;
	if (prev_action.sa_handler != SIG_DFL && prev_action.sa_handler != SIG_IGN) {
		prev_action.sa_handler(sig);
		return;
	}
	/* The default action, as without us: a fault happens again when we return
	 * (SIGBUS is not blocked: SA_NODEFER); a sent signal is sent again. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void install_once(void)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev_action);
}

void ctn_vguard_install(void)
{
	pthread_once(&installed, install_once);
}

const char *ctn_vguard_reason(const struct ctn_vmem *mem, char *buf, size_t len)
{
	int r = last_fault.region;
	if (r < 0 || (uint32_t)r >= mem->n) {
		snprintf(buf, len, "guest memory shrank under us (SIGBUS)");
		return buf;
	}
	const struct ctn_vmem_region *reg = &mem->r[r];
	unsigned long long off = (unsigned long long)(last_fault.addr - (uintptr_t)reg->map);
	snprintf(buf, len, "guest memory shrank under us: SIGBUS at offset %#llx of region %d's fd (%#llx bytes mapped)",
		 off, r, (unsigned long long)reg->map_len);
	return buf;
}
