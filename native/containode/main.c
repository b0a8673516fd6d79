/*
 * containode: run a program in a new container whose eth0 is a port of a
 * containet switch. One native process is the whole launcher: it reads the
 * options (options.c), clones the container's init (launch.c), makes eth0 and
 * hands it to the switch while the init mounts (attach.c), tells the init to
 * go, then supervises: passes signals on (signals.c), waits, removes the port
 * and exits with the program's status.
 *
 *   containode [options] [--] PROGRAM [ARGS...]      (see --help, docs/containode.md)
 *
 * Signals: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to containode go on to
 * the init, which passes them to PROGRAM; SIGINT and SIGQUIT too when stdin
 * is no terminal. On a terminal the terminal delivers those to PROGRAM itself
 * (same foreground process group) and containode ignores them.
 *
 * Exit status: PROGRAM's code, 128+N if it died of signal N, 125 when the
 * container could not be set up, 126/127 when PROGRAM could not be run or
 * found, 1 for a command-line error (0 for --help).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "fail.h"
#include "launch.h"
#include "options.h"
#include "signals.h"

/** Signals containode passes on to the init whatever stdin is. */
static const int always_forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
/** The terminal's own: passed on only when stdin is no terminal. */
static const int terminal_signals[] = {SIGINT, SIGQUIT};

/**
 * Set up how containode treats signals once the init @init exists: pass the
 * always-forwarded ones on, and the terminal's ones too unless @on_terminal
 * (then they are ignored); finally unblock what cn_launch_start blocked.
 */
static void supervise_signals(pid_t init, int on_terminal)
{
	struct sigaction ign;
	sigset_t all;

	cn_forward_pid = init;
	if (cn_signals_forward(always_forwarded, sizeof always_forwarded / sizeof always_forwarded[0]) < 0)
		cn_fail("sigaction", NULL);
	if (on_terminal) {
		memset(&ign, 0, sizeof ign);
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		for (size_t i = 0; i < sizeof terminal_signals / sizeof terminal_signals[0]; i++)
			if (sigaction(terminal_signals[i], &ign, NULL) < 0)
				cn_fail("sigaction", NULL);
	} else if (cn_signals_forward(terminal_signals, sizeof terminal_signals / sizeof terminal_signals[0]) < 0) {
		cn_fail("sigaction", NULL);
	}
	sigemptyset(&all);
	for (size_t i = 0; i < cn_init_signal_count; i++)
		sigaddset(&all, cn_init_signals[i]);
	if (sigprocmask(SIG_UNBLOCK, &all, NULL) < 0)
		cn_fail("sigprocmask", NULL);
}

/** Wait for the init @init and return its exit status as containode's. */
static int wait_init(pid_t init)
{
	int status;

	if (cn_wait_and_reap(init, &status) < 0)
		cn_fail("wait", NULL);
	return cn_exit_code_of(status);
}

/** Entry point: parse, check, launch, attach, supervise. */
int main(int argc, char **argv)
{
	static struct cn_options o; /* large (paths): not on the stack the init copies */
	char err[1024];
	struct cn_launch l;
	struct cn_port port;
	int sync_fd, status;
	pid_t init;

	switch (cn_parse_options(argc, argv, getenv("CONTAINET_AUTHTOKEN"), &o, err, sizeof err)) {
	case CN_PARSE_HELP:
		fputs(cn_help_text, stdout);
		return 0;
	case CN_PARSE_ERROR:
		fprintf(stderr, "%s\n", err);
		return CN_EXIT_USAGE;
	case CN_PARSE_RUN:
		break;
	}
	if (cn_check_options(&o, err, sizeof err) < 0) {
		fprintf(stderr, "containode: %s\n", err);
		return CN_EXIT_SETUP;
	}

	memset(&l, 0, sizeof l);
	l.hostname = o.identity;
	l.root = o.root != NULL ? o.root_abs : NULL;
	l.top = o.root != NULL ? o.top_abs : NULL;
	l.keep_net = o.keep_net;
	l.keep_ipc = o.keep_ipc;
	l.envs = o.env;
	l.env_count = o.env_count;
	l.argv = o.argv;
	init = cn_launch_start(&l, &sync_fd);
	supervise_signals(init, isatty(STDIN_FILENO));

	port = (struct cn_port){
		.socket = o.socket,
		.identity = o.identity,
		.ifname = o.ifname,
		.lan = o.lan,
		.authtoken = o.authtoken,
		.ipv4 = o.has_ipv4 ? o.ipv4 : NULL,
		.prefix = o.prefix,
		.mtu = o.mtu,
		.pid = init,
	};
	if (o.socket != NULL && cn_attach(&port, err, sizeof err) < 0) {
		/* The init prints "containode: aborted: REASON" and exits 125. */
		cn_launch_abort(sync_fd, err);
		(void)wait_init(init);
		return CN_EXIT_SETUP;
	}
	(void)cn_launch_go(sync_fd); /* if the init is gone, its status says why */
	status = wait_init(init);
	if (o.socket != NULL)
		cn_detach(&port);
	cn_free_options(&o);
	return status;
}
