/*
 * containode: run a program in a new container whose eth0 is a port of a
 * containet switch. One native process is the whole launcher: it reads the
 * options (options.c), clones the container's init (launch.c), makes eth0 (or
 * every --net interface) and hands it to the switch while the init mounts
 * (attach.c), sets the --route routes, tells the init to go (and with
 * --ready-fd says "ready INIT" once PROGRAM runs), then supervises: passes signals on (signals.c), waits, removes the port
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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "fail.h"
#include "launch.h"
#include "options.h"
#include "route.h"
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

/** The interfaces to make, into @ports (CN_NETS_MAX of them): one per
 *  --net, or eth0 from -l, -4 and --ifname, or none without -s. Returns how
 *  many. */
static size_t ports_of(const struct cn_options *o, pid_t init, struct cn_port *ports)
{
	const struct cn_port base = {
		.socket = o->socket,
		.identity = o->identity,
		.authtoken = o->authtoken,
		.mtu = o->mtu,
		.pid = init,
		.queues = o->queues,
	};
	if (o->socket == NULL)
		return 0;
	if (o->net_count == 0) {
		ports[0] = base;
		ports[0].ifname = o->ifname;
		ports[0].lan = o->lan;
		ports[0].ipv4 = o->has_ipv4 ? o->ipv4 : NULL;
		ports[0].prefix = o->prefix;
		return 1;
	}
	for (size_t i = 0; i < o->net_count; i++) {
		const struct cn_net *n = &o->nets[i];
		ports[i] = base;
		ports[i].ifname = n->ifname;
		ports[i].lan = n->lan;
		ports[i].addrs = n->addrs;
		ports[i].n_addrs = n->n_addrs;
		ports[i].mac = n->mac;
		if (n->mtu)
			ports[i].mtu = n->mtu;
	}
	return o->net_count;
}

/** Remove the first @n ports of @ports from the switch. */
static void detach_all(const struct cn_port *ports, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cn_detach(&ports[i]);
}

/**
 * Attach the @n interfaces @ports in turn, then set the @o's routes in the
 * container of @init. Returns 0, or -1 with the reason in @err and every
 * port it added removed again.
 */
static int attach_all(const struct cn_options *o, pid_t init, const struct cn_port *ports, size_t n, char *err, size_t errlen)
{
	char netns[64];
	for (size_t i = 0; i < n; i++)
		if (cn_attach(&ports[i], err, errlen) < 0) {
			detach_all(ports, i);
			return -1;
		}
	snprintf(netns, sizeof netns, "/proc/%d/ns/net", (int)init);
	if (ctn_routes_add(netns, o->routes, (int)o->route_count, err, errlen) < 0) {
		detach_all(ports, n);
		return -1;
	}
	return 0;
}

/** Tell the init to go; with --ready-fd, wait until PROGRAM was executed and
 *  say "ready INIT" on that fd, then close it. */
static void go(const struct cn_options *o, int sync_fd, pid_t init)
{
	char line[32];
	if (o->ready_fd < 0) {
		(void)cn_launch_go(sync_fd); /* if the init is gone, its status says why */
		return;
	}
	if (cn_launch_go_started(sync_fd) == 0) {
		int n = snprintf(line, sizeof line, "ready %d\n", (int)init);
		/* a reader that went is no reason to stop the container */
		ssize_t w;
		do
			w = write(o->ready_fd, line, (size_t)n);
		while (w < 0 && errno == EINTR);
	}
	close(o->ready_fd);
}

/** Entry point: parse, check, launch, attach, supervise. */
int main(int argc, char **argv)
{
	static struct cn_options o; /* large (paths): not on the stack the init copies */
	static struct cn_port ports[CN_NETS_MAX];
	char err[1024];
	struct cn_launch l;
	size_t nports;
	int sync_fd, status;
	pid_t init;

	switch (cn_parse_options(argc, argv, getenv("CONTAINET_AUTHTOKEN"), &o, err, sizeof err)) {
	case CN_PARSE_HELP:
		fputs(cn_help_text, stdout);
		return 0;
	case CN_PARSE_ERROR:
		fprintf(stderr, "%s\n", err);
		cn_free_options(&o);
		return CN_EXIT_USAGE;
	case CN_PARSE_RUN:
		break;
	}
	if (cn_check_options(&o, err, sizeof err) < 0) {
		fprintf(stderr, "containode: %s\n", err);
		return CN_EXIT_SETUP;
	}
	/* PROGRAM never gets the ready fd (and the init closes its copy). */
	if (o.ready_fd >= 0 && fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "containode: --ready-fd %d: %s\n", o.ready_fd, strerror(errno));
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
	l.private_fd = o.ready_fd;
	init = cn_launch_start(&l, &sync_fd);
	supervise_signals(init, isatty(STDIN_FILENO));

	nports = ports_of(&o, init, ports);
	if (attach_all(&o, init, ports, nports, err, sizeof err) < 0) {
		/* The init prints "containode: aborted: REASON" and exits 125. */
		cn_launch_abort(sync_fd, err);
		(void)wait_init(init);
		return CN_EXIT_SETUP;
	}
	go(&o, sync_fd, init);
	status = wait_init(init);
	detach_all(ports, nports);
	cn_free_options(&o);
	return status;
}
