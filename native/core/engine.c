/* engine.c - worker threads, their epoll loops, the command queue, and the port
 * and lan tables.
 *
 * Layout of one loop pass of a worker: epoll_wait; read the clock once; for each
 * ready fd dispatch on the kind packed in its cookie. Port input is read in bursts
 * of CTN_BURST frames, forwarded by the port's lan into the egress ports' queues of
 * this worker, and the queues are flushed before the buffers go back to this
 * worker's pool. Nothing on that path allocates or locks.
 *
 * Changes to the tables (ports, lans, lan members) are made by worker 0 while the
 * other workers are paused at the top of their loop, so a worker never sees a
 * table change in the middle of a pass; after a pause a worker drops the events it
 * had and asks epoll again (every fd is level-triggered, so nothing is lost).
 */
#include "closer.h"
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "lan.h"

#define RX_BURSTS_PER_WAKE 8 /**< bursts read from one port before others get a turn */
#define EPOLL_EVENTS 64      /**< events taken per epoll_wait */

/** Kinds of command the control plane sends. */
enum cmd_type {
	CMD_STOP,
	CMD_LAN_ADD,
	CMD_LAN_AGING,
	CMD_LAN_DEL,
	CMD_LAN_STATS,
	CMD_PORT_ADD,
	CMD_PORT_SET,
	CMD_PORT_WATCH_PID,
	CMD_PORT_DEL,
	CMD_PORT_STATS,
	CMD_PORT_OBSERVE,
	CMD_PORT_OUTPUT_ONLY,
	CMD_PORT_ADMIN,
	CMD_CTL_LISTEN,
	CMD_CTL_SEND,
	CMD_CTL_CLOSE,
};

/** One queued command, with its arguments and result; lives on the caller's
 *  stack while the caller waits on @done. */
struct cmd {
	enum cmd_type type;
	uint32_t id;                  /**< lan, port or connection id */
	int worker;                   /**< PORT_ADD: worker, or -1 */
	pid_t pid;                    /**< PORT_WATCH_PID */
	uint64_t u64;                 /**< LAN_AGING */
	const struct ctn_lan_cfg *lan_cfg;
	const struct ctn_kind *kind;  /**< PORT_ADD */
	const struct ctn_attr *attrs; /**< PORT_ADD, PORT_SET: the kind's settings */
	uint32_t nattrs;
	const uint32_t *lans;         /**< PORT_ADD: a lan per side */
	uint32_t nlans;
	uint32_t *ids;                /**< PORT_ADD out: a port id per side */
	const char *path;             /**< CTL_LISTEN */
	const void *data;             /**< CTL_SEND */
	size_t len;
	bool flag;                    /**< CTL_SEND close_after */
	struct ctn_lan_stats *lan_st; /**< LAN_STATS out */
	struct ctn_port_stats *port_st; /**< PORT_STATS out */
	struct ctn_port_info *info;   /**< PORT_ADD (one per side) / PORT_STATS out */
	struct ctn_obs *obs;          /**< PORT_OBSERVE (flag: on) */
	/* PORT_OUTPUT_ONLY: flag says on or off; PORT_ADMIN: flag says down */
	int rc;                       /**< result */
	char err[256];                /**< reason when rc < 0 */
	sem_t done;                   /**< posted by the engine when carried out */
	struct cmd *next;
};

/** The engine. */
struct ctn_engine {
	struct ctn_worker *workers[CTN_MAX_WORKERS]; /**< [0] runs commands */
	uint32_t nworkers;
	uint32_t poll_us;                        /**< adaptive polling after traffic (0: off) */
	bool busy_poll;                          /**< workers never sleep (a CPU each) */
	uint64_t ticks;                          /**< housekeeping passes so far */
	int cmdfd;                               /**< eventfd: commands waiting (worker 0) */
	int timerfd;                             /**< 10 Hz housekeeping (worker 0) */
	_Atomic bool stop;                       /**< every worker leaves its loop */
	_Atomic bool pause;                      /**< workers 1.. wait at the top of their loop */
	sem_t paused;                            /**< posted by each worker that stopped */
	_Atomic bool breaks;                     /**< a port broke: worker 0 tears it down */
	pthread_mutex_t cmd_lock;                /**< guards the command list only */
	struct cmd *cmd_head, *cmd_tail;
	ctn_event_fn on_event;                   /**< event callback */
	void *opaque;                            /**< its argument */
	struct ctn_port *ports[CTN_MAX_PORTS];   /**< by id */
	struct ctn_lan *lans[CTN_MAX_LANS];      /**< by id */
	struct ctn_ctl ctl;                      /**< control socket (worker 0) */
};

const char *const ctn_drop_names[CTN_DROP_MAX] = {
	[CTN_DROP_RX_ERROR] = "rx_error",   [CTN_DROP_RUNT] = "runt",
	[CTN_DROP_TOO_BIG] = "too_big",     [CTN_DROP_BAD_VNET] = "bad_vnet",
	[CTN_DROP_BAD_SRC] = "bad_src",     [CTN_DROP_NO_BUFFER] = "no_buffer",
	[CTN_DROP_NO_LAN] = "no_lan",       [CTN_DROP_TX_ERROR] = "tx_error",
	[CTN_DROP_TX_FULL] = "tx_full",     [CTN_DROP_TX_DOWN] = "tx_down",
	[CTN_DROP_GSO] = "gso",             [CTN_DROP_OUTPUT_ONLY] = "output_only",
	[CTN_DROP_ADMIN_DOWN_RX] = "admin_down_rx", [CTN_DROP_ADMIN_DOWN_TX] = "admin_down_tx",
};

/* ------------------------------------------------------------------ helpers */

/** Fill @err with a printf-style message; returns -1 for tail calls. */
static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/** Monotonic clock in milliseconds. */
static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/** Add 1 to eventfd @fd (wakes whoever polls it). */
static void kick(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN only, when the counter is saturated: it is readable anyway */
	}
}

/** Empty eventfd @fd. */
static void drain(int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: someone else drained it */
	}
}

struct ctn_port *ctn_engine_port(struct ctn_engine *e, uint32_t id)
{
	return id < CTN_MAX_PORTS ? e->ports[id] : NULL;
}

uint32_t ctn_engine_threads(const struct ctn_engine *e) { return e->nworkers; }

uint64_t ctn_engine_lan_aging_ms(struct ctn_engine *e, uint32_t lan)
{
	if (lan >= CTN_MAX_LANS || !e->lans[lan])
		return 0;
	return atomic_load_explicit(&e->lans[lan]->macs.aging_ms, memory_order_relaxed);
}

void ctn_engine_emit(struct ctn_engine *e, const struct ctn_event *ev)
{
	if (e->on_event) {
		e->on_event(e->opaque, ev);
	} else {
		for (int i = 0; i < ev->nfds; i++)
			close(ev->fds[i]);
	}
}

void ctn_engine_log(struct ctn_engine *e, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct ctn_event ev = {.type = CTN_EV_LOG, .text = text};
	ctn_engine_emit(e, &ev);
}

/** Add @fd to worker @w's epoll set. */
static int worker_watch(struct ctn_worker *w, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i)
{
	struct epoll_event ev = {.events = events, .data.u64 = ctn_cookie(k, i)};
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ctn_engine_watch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i)
{
	return worker_watch(e->workers[0], fd, events, k, i);
}

int ctn_engine_rewatch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i)
{
	struct epoll_event ev = {.events = events, .data.u64 = ctn_cookie(k, i)};
	return epoll_ctl(e->workers[0]->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void ctn_engine_unwatch(struct ctn_engine *e, int fd)
{
	epoll_ctl(e->workers[0]->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void *ctn_port_alloc(size_t size)
{
	void *p = NULL;
	size = (size + 63) & ~(size_t)63;
	if (posix_memalign(&p, 64, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

/* ----------------------------------------------------------------- pausing */

/** Stop workers 1.. at the top of their loop and wait until all have (worker 0
 *  only). The tables may then change under them. */
static void pause_others(struct ctn_engine *e)
{
	if (e->nworkers < 2)
		return;
	atomic_store(&e->pause, true);
	for (uint32_t i = 1; i < e->nworkers; i++)
		kick(e->workers[i]->wakefd);
	for (uint32_t i = 1; i < e->nworkers; i++)
		while (sem_wait(&e->paused) < 0 && errno == EINTR)
			;
}

/** Let the paused workers go on (worker 0 only). */
static void resume_others(struct ctn_engine *e)
{
	if (e->nworkers < 2)
		return;
	atomic_store(&e->pause, false);
	for (uint32_t i = 1; i < e->nworkers; i++)
		sem_post(&e->workers[i]->resume);
}

/** A worker other than 0 saw the pause flag: say so and wait to be resumed. */
static void worker_wait_resume(struct ctn_worker *w)
{
	drain(w->wakefd);
	sem_post(&w->eng->paused);
	while (sem_wait(&w->resume) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ packet path */

/** Hand @n frames @w queued for port @p to it: shown to its observers and
 *  sent, or, when @p is administratively down, dropped and counted (one
 *  predictable branch for a port that is up). */
static inline void port_send(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt **pkts, int n)
{
	if (p->admin_down) {
		p->local[w->id].st.drops[CTN_DROP_ADMIN_DOWN_TX] += (uint64_t)n;
		return;
	}
	if (p->obs)
		ctn_port_observe(p, w, CTN_OBS_OUT, pkts, n);
	p->ops->tx_burst(p, w, pkts, n);
}

void ctn_worker_tx_queue(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt *pkt)
{
	struct ctn_txq *q = &p->local[w->id].txq;
	if (q->n == CTN_BURST) {
		port_send(w, p, q->pkts, (int)q->n);
		q->n = 0;
	}
	q->pkts[q->n++] = pkt;
	if (!q->pending) {
		q->pending = true;
		w->tx_pending[w->ntx_pending++] = p;
	}
}

int ctn_worker_tx_own(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt *pkt)
{
	if (w->nowned == CTN_WORKER_OWNED)
		return -1;
	w->owned[w->nowned++] = pkt;
	ctn_worker_tx_queue(w, p, pkt);
	return 0;
}

/** Send everything worker @w queued in this pass, then give back to its pool
 *  the packets it made for the queues (ctn_worker_tx_own). An observer called
 *  here may queue more (a mirror's copies of what a port sends): the loop
 *  takes them too, ntx_pending being read at every turn. */
static void tx_flush(struct ctn_worker *w)
{
	for (uint32_t i = 0; i < w->ntx_pending; i++) {
		struct ctn_port *p = w->tx_pending[i];
		struct ctn_txq *q = &p->local[w->id].txq;
		if (q->n && !p->broken)
			port_send(w, p, q->pkts, (int)q->n);
		q->n = 0;
		q->pending = false;
	}
	w->ntx_pending = 0;
	for (uint32_t i = 0; i < w->nowned; i++)
		ctn_pkt_free(&w->pool, w->owned[i]);
	w->nowned = 0;
}

/** Hand @n frames @w read from port @p to its observers and its lan, and
 *  send what the lan queued. */
static void port_forward(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt **pkts, int n)
{
	struct ctn_lan *lan = p->lan < CTN_MAX_LANS ? w->eng->lans[p->lan] : NULL;
	if (p->obs)
		ctn_port_observe(p, w, CTN_OBS_IN, pkts, n);
	if (p->output_only)
		p->local[w->id].st.drops[CTN_DROP_OUTPUT_ONLY] += (uint64_t)n;
	else if (lan)
		ctn_lan_forward(w, lan, p, pkts, n);
	else
		p->local[w->id].st.drops[CTN_DROP_NO_LAN] += (uint64_t)n;
	tx_flush(w);
}

/** Port @p (owned by @w) is readable: read, forward and send a few bursts.
 *  Returns how many frames it read. */
static int port_input(struct ctn_worker *w, struct ctn_port *p, uint32_t events)
{
	struct ctn_pkt *pkts[CTN_BURST];
	int total = 0;
	for (int round = 0; round < RX_BURSTS_PER_WAKE && !p->broken; round++) {
		int n = p->ops->rx_burst(p, w, pkts, CTN_BURST);
		w->rx_sub = CTN_RX_MORE;
		if (n <= 0)
			break;
		total += n;
		if (p->admin_down)
			/* A pulled link: what arrives goes nowhere, not even to observers. */
			p->local[w->id].st.drops[CTN_DROP_ADMIN_DOWN_RX] += (uint64_t)n;
		else
			port_forward(w, p, pkts, n);
		uint32_t bytes = 0;
		for (int i = 0; i < n; i++) {
			bytes += pkts[i]->len;
			ctn_pkt_free(&w->pool, pkts[i]);
		}
		if (n < CTN_BURST && bytes < CTN_BURST_BYTES)
			break; /* drained (see rx_burst in port.h) */
	}
	/* Hang-up with nothing left to read: the device or the peer is gone. */
	if (!p->broken && (events & (EPOLLERR | EPOLLHUP)))
		ctn_port_break(p, "%s", (events & EPOLLERR) ? "device error (gone?)" : "peer hung up");
	return total;
}

/* ------------------------------------------------------------ ports & lans */

void ctn_port_break(struct ctn_port *p, const char *fmt, ...)
{
	if (atomic_exchange(&p->broken, true))
		return; /* someone else was first */
	struct ctn_engine *e = p->eng;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	/* Stop its owner polling it now (a hung-up fd would keep waking it); the
	 * fd stays open until worker 0 tears the port down, so its number cannot
	 * be reused while another worker may still be writing to it. */
	if (p->fd >= 0)
		epoll_ctl(e->workers[p->worker]->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	atomic_store(&e->breaks, true);
	kick(e->workers[0]->wakefd);
}

/** Take broken port @p out of its lan, close its fds and report it. Worker 0,
 *  others paused. */
static void port_down(struct ctn_engine *e, struct ctn_port *p)
{
	if (p->down)
		return;
	p->down = true;
	if (p->ops->down)
		p->ops->down(p);
	if (p->fd >= 0) {
		ctn_close_later(p->fd); /* a tap's may take a grace period: not here */
		p->fd = -1;
	}
	if (p->pidfd >= 0) {
		ctn_engine_unwatch(e, p->pidfd);
		close(p->pidfd);
		p->pidfd = -1;
	}
	if (p->lan < CTN_MAX_LANS && e->lans[p->lan])
		ctn_lan_detach(e->lans[p->lan], p->id);
	p->lan = CTN_LAN_NONE;
	struct ctn_event ev = {.type = CTN_EV_PORT_DOWN, .id = p->id, .text = p->reason};
	ctn_engine_emit(e, &ev);
}

/** Tear down every port that broke and serve every port that asked for its
 *  control hook since the last time (worker 0, the others paused). */
static void service_ports(struct ctn_engine *e)
{
	if (!atomic_exchange(&e->breaks, false))
		return;
	pause_others(e);
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++) {
		struct ctn_port *p = e->ports[i];
		if (!p)
			continue;
		if (p->broken && !p->down)
			port_down(e, p);
		if (atomic_exchange(&p->ctl_pending, false) && !p->broken && p->ops->control)
			p->ops->control(p, CTN_PORT_SUB_REQUEST, 0);
	}
	resume_others(e);
}

void ctn_port_request_control(struct ctn_port *p)
{
	struct ctn_engine *e = p->eng;
	atomic_store(&p->ctl_pending, true);
	atomic_store(&e->breaks, true);
	kick(e->workers[0]->wakefd);
}

/** Port @p's fd @fd (its sub-fd number @sub, 1..) is polled by its owner for
 *  input: readiness calls rx_burst. */
int ctn_port_watch_input(struct ctn_port *p, int fd, uint32_t sub)
{
	return worker_watch(p->eng->workers[p->worker], fd, EPOLLIN, CTN_FD_PORT, sub << 16 | p->id);
}

int ctn_port_watch_input_on(struct ctn_port *p, int fd, uint32_t sub, uint32_t worker)
{
	struct ctn_engine *e = p->eng;
	if (worker >= e->nworkers) {
		errno = EINVAL;
		return -1;
	}
	if (worker_watch(e->workers[worker], fd, EPOLLIN, CTN_FD_PORT, sub << 16 | p->id) < 0)
		return -1;
	p->rx_workers |= 1u << worker;
	return 0;
}

/** Port @p's fd @fd (@sub) is polled by worker 0: readiness calls the port's
 *  control hook with the other workers paused. */
int ctn_port_watch_control(struct ctn_port *p, int fd, uint32_t sub)
{
	return worker_watch(p->eng->workers[0], fd, EPOLLIN, CTN_FD_PORT_CTL, sub << 16 | p->id);
}

/** The epoll set of @p's worker. */
int ctn_port_epfd(const struct ctn_port *p)
{
	return p->eng->workers[p->worker]->epfd;
}

/** Stop polling @fd of port @p (whichever worker polled it). */
void ctn_port_unwatch(struct ctn_port *p, int fd)
{
	if (fd < 0)
		return;
	struct ctn_engine *e = p->eng;
	for (uint32_t i = 0; i < e->nworkers; i++)
		if (i == 0 || i == p->worker || (p->rx_workers >> i & 1))
			epoll_ctl(e->workers[i]->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/** Free slot for a new port, or -1. */
static int port_slot(struct ctn_engine *e)
{
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++)
		if (!e->ports[i])
			return (int)i;
	return -1;
}

/** Remove @p from everything and close it (others paused, or stopped). */
static void port_destroy(struct ctn_engine *e, struct ctn_port *p)
{
	if (p->lan < CTN_MAX_LANS && e->lans[p->lan])
		ctn_lan_detach(e->lans[p->lan], p->id);
	if (p->fd >= 0)
		epoll_ctl(e->workers[p->worker]->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	if (p->pidfd >= 0) {
		ctn_engine_unwatch(e, p->pidfd);
		close(p->pidfd);
	}
	e->workers[p->worker]->nports--;
	e->ports[p->id] = NULL;
	p->ops->close(p);
}

/** Worker for a new port: @want, or the one polling the fewest ports. */
static struct ctn_worker *pick_worker(struct ctn_engine *e, int want)
{
	if (want >= 0)
		return e->workers[want];
	struct ctn_worker *best = e->workers[0];
	for (uint32_t i = 1; i < e->nworkers; i++)
		if (e->workers[i]->nports < best->nports)
			best = e->workers[i];
	return best;
}

/** Put new port @p (just opened by its kind, fd p->fd or -1) into free slot
 *  @slot, on lan @lan, polled by worker @want (-1: the least loaded), and start
 *  it. Returns its id; on failure the port is closed and @err says why. */
static int port_attach(struct ctn_engine *e, int want, uint32_t lan, struct ctn_port *p, int slot, char *err,
		       size_t errlen)
{
	struct ctn_worker *w = pick_worker(e, want);
	p->id = (uint32_t)slot;
	p->eng = e;
	p->pidfd = -1;
	p->lan = CTN_LAN_NONE;
	p->worker = w->id;
	p->rx_workers = 1u << w->id;
	const char *what = NULL;
	int er = 0;
	if (p->fd >= 0 && worker_watch(w, p->fd, EPOLLIN, CTN_FD_PORT, p->id) < 0) {
		what = "epoll";
		er = errno;
	} else if (ctn_lan_attach(e->lans[lan], p->id) < 0) {
		what = "lan";
		er = ENOMEM;
	}
	if (what) {
		if (p->fd >= 0)
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, p->fd, NULL);
		p->ops->close(p);
		return fail(err, errlen, "%s: %s", what, strerror(er));
	}
	p->lan = lan;
	e->ports[slot] = p;
	w->nports++;
	if (p->ops->start && p->ops->start(p, err, errlen) < 0) {
		port_destroy(e, p);
		return -1;
	}
	return slot;
}

/** Fill @info with what port @p says of itself and where it runs. */
static void port_describe(const struct ctn_port *p, struct ctn_port_info *info)
{
	*info = (struct ctn_port_info){0};
	p->ops->info(p, info);
	info->broken = p->broken;
	info->admin_down = p->admin_down;
	info->worker = p->worker;
	memcpy(info->reason, p->reason, sizeof(info->reason));
}

/** Apply @fn to every fd field that policy @pol filled in settings @cfg
 *  (an optional one not given is -1, and skipped). */
static void cfg_fds(const struct ctn_attr_policy *pol, uint8_t *cfg, void (*fn)(int *fd))
{
	for (; pol->name; pol++)
		if (pol->type == CTN_ATTR_FD && *(int *)(cfg + pol->offset) >= 0)
			fn((int *)(cfg + pol->offset));
}

/** Replace *@fd with a copy of its own (-1 when none can be made). */
static void cfg_fd_copy(int *fd)
{
	*fd = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
}

/** Close *@fd. */
static void cfg_fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/** Does @cfg hold an fd that could not be copied from the one of @given? */
static bool cfg_fds_bad(const struct ctn_attr_policy *pol, const uint8_t *given, const uint8_t *cfg)
{
	for (; pol->name; pol++)
		if (pol->type == CTN_ATTR_FD && *(const int *)(given + pol->offset) >= 0 &&
		    *(const int *)(cfg + pol->offset) < 0)
			return true;
	return false;
}

/**
 * CMD_PORT_ADD on worker 0: the settings checked by the kind's policy, its
 * ports opened, each attached to its lan. The kind gets copies of the fds
 * given, so that a failure at any step leaves the caller's as they were; on
 * success the caller's are closed (the engine owns them, as its API says).
 * Returns the number of ports made.
 */
static int do_port_add(struct ctn_engine *e, struct cmd *c)
{
	const struct ctn_kind *k = c->kind;
	if (c->nlans != k->sides)
		return fail(c->err, sizeof(c->err), "a %s joins %u lan%s, not %u", k->name, k->sides,
			    k->sides == 1 ? "" : "s", c->nlans);
	for (uint32_t i = 0; i < c->nlans; i++) {
		if (c->lans[i] >= CTN_MAX_LANS || !e->lans[c->lans[i]])
			return fail(c->err, sizeof(c->err), "no lan with id %u", c->lans[i]);
		for (uint32_t j = 0; j < i; j++)
			if (c->lans[j] == c->lans[i])
				return fail(c->err, sizeof(c->err), "a %s joins %u different lans", k->name, k->sides);
	}
	if (c->worker >= (int)e->nworkers)
		return fail(c->err, sizeof(c->err), "no thread %d (the engine has %u)", c->worker, e->nworkers);
	uint32_t free_slots = 0;
	for (uint32_t i = 0; i < CTN_MAX_PORTS && free_slots < k->sides; i++)
		free_slots += !e->ports[i];
	if (free_slots < k->sides)
		return fail(c->err, sizeof(c->err), "too many ports (limit %d)", CTN_MAX_PORTS);
	_Alignas(max_align_t) uint8_t cfg[CTN_KIND_CFG_MAX];
	if (k->cfg_size > sizeof(cfg))
		return fail(c->err, sizeof(c->err), "%s: settings of %zu bytes (most %zu)", k->name, k->cfg_size, sizeof(cfg));
	if (ctn_attrs_parse(k->name, k->policy, c->attrs, c->nattrs, cfg, k->cfg_size, c->err, sizeof(c->err)) < 0)
		return -1;
	_Alignas(max_align_t) uint8_t given[CTN_KIND_CFG_MAX];
	memcpy(given, cfg, k->cfg_size);
	cfg_fds(k->policy, cfg, cfg_fd_copy);
	if (cfg_fds_bad(k->policy, given, cfg)) {
		int er = errno;
		cfg_fds(k->policy, cfg, cfg_fd_close);
		return fail(c->err, sizeof(c->err), "%s: cannot copy the fd: %s", k->name, strerror(er));
	}
	struct ctn_port *ports[CTN_KIND_MAX_SIDES] = {0};
	if (k->open(e, cfg, ports, c->err, sizeof(c->err)) < 0) {
		cfg_fds(k->policy, cfg, cfg_fd_close);
		return -1;
	}
	for (uint32_t i = 0; i < k->sides; i++) {
		ports[i]->kind = k;
		int id = port_attach(e, c->worker, c->lans[i], ports[i], port_slot(e), c->err, sizeof(c->err));
		if (id < 0) {
			/* Port i is closed: the ones before it leave, the ones after it
			 * (never attached) are closed. */
			for (uint32_t j = 0; j < i; j++)
				port_destroy(e, e->ports[c->ids[j]]);
			for (uint32_t j = i + 1; j < k->sides; j++)
				ports[j]->ops->close(ports[j]);
			return -1;
		}
		c->ids[i] = (uint32_t)id;
	}
	for (uint32_t i = 0; c->info && i < k->sides; i++)
		port_describe(e->ports[c->ids[i]], &c->info[i]);
	cfg_fds(k->policy, given, cfg_fd_close);
	return (int)k->sides;
}

/** CMD_PORT_SET on worker 0: the port's kind checks the settings and applies them. */
static int do_port_set(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_port *p = ctn_engine_port(e, c->id);
	if (!p)
		return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
	const struct ctn_kind *k = p->kind;
	if (!k->set)
		return fail(c->err, sizeof(c->err), "a %s port has no settings to change", k->name);
	_Alignas(max_align_t) uint8_t cfg[CTN_KIND_CFG_MAX];
	if (k->set_cfg_size > sizeof(cfg))
		return fail(c->err, sizeof(c->err), "%s: settings of %zu bytes (most %zu)", k->name, k->set_cfg_size, sizeof(cfg));
	if (ctn_attrs_parse(k->name, k->set_policy, c->attrs, c->nattrs, cfg, k->set_cfg_size, c->err, sizeof(c->err)) < 0)
		return -1;
	return k->set(p, cfg, c->err, sizeof(c->err));
}

/** CMD_PORT_WATCH_PID on worker 0. */
static int do_port_watch_pid(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_port *p = ctn_engine_port(e, c->id);
	if (!p)
		return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
	if (p->broken)
		return fail(c->err, sizeof(c->err), "port %u is broken: %s", c->id, p->reason);
	int fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd < 0)
		return fail(c->err, sizeof(c->err), "cannot watch process %d: %s", (int)c->pid,
			    strerror(errno));
	if (ctn_engine_watch(e, fd, EPOLLIN, CTN_FD_PIDFD, p->id) < 0) {
		int er = errno;
		close(fd);
		return fail(c->err, sizeof(c->err), "epoll: %s", strerror(er));
	}
	if (p->pidfd >= 0) {
		ctn_engine_unwatch(e, p->pidfd);
		close(p->pidfd);
	}
	p->pidfd = fd;
	return 0;
}

/** Add up @p's per-worker counters into @st. */
static void port_stats(const struct ctn_port *p, struct ctn_port_stats *st)
{
	*st = (struct ctn_port_stats){0};
	for (int w = 0; w < CTN_MAX_WORKERS; w++) {
		const struct ctn_port_stats *s = &p->local[w].st;
		st->rx_packets += s->rx_packets;
		st->rx_bytes += s->rx_bytes;
		st->tx_packets += s->tx_packets;
		st->tx_bytes += s->tx_bytes;
		for (int d = 0; d < CTN_DROP_MAX; d++)
			st->drops[d] += s->drops[d];
	}
}

/** CMD_PORT_OBSERVE on worker 0, others paused: hang c->obs on the port or
 *  take it off. */
static int do_port_observe(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_port *p = ctn_engine_port(e, c->id);
	if (!c->flag) {
		for (struct ctn_obs **o = p ? &p->obs : NULL; o && *o; o = &(*o)->next) {
			if (*o == c->obs) {
				*o = c->obs->next;
				break;
			}
		}
		c->obs->next = NULL;
		return 0;
	}
	if (!p)
		return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
	if (p->broken)
		return fail(c->err, sizeof(c->err), "port %u is broken: %s", c->id, p->reason);
	c->obs->next = p->obs;
	p->obs = c->obs;
	return 0;
}

/** CMD_PORT_OUTPUT_ONLY on worker 0, others paused: take the port out of its
 *  lan's member list (its MAC entries go too) or put it back. */
static int do_port_output_only(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_port *p = ctn_engine_port(e, c->id);
	if (!p)
		return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
	if (c->flag == p->output_only)
		return c->flag ? fail(c->err, sizeof(c->err), "port %u is already output only", c->id) : 0;
	struct ctn_lan *lan = p->lan < CTN_MAX_LANS ? e->lans[p->lan] : NULL;
	if (c->flag) {
		if (p->broken)
			return fail(c->err, sizeof(c->err), "port %u is broken: %s", c->id, p->reason);
		if (lan)
			ctn_lan_detach(lan, p->id);
	} else if (lan && !p->broken && ctn_lan_attach(lan, p->id) < 0) {
		return fail(c->err, sizeof(c->err), "lan: %s", strerror(ENOMEM));
	}
	p->output_only = c->flag;
	return 0;
}

/** CMD_PORT_ADMIN on worker 0, others paused: the port's administrative
 *  state, in force on every worker once they resume. A broken port takes it
 *  too (it forwards nothing anyway). */
static int do_port_admin(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_port *p = ctn_engine_port(e, c->id);
	if (!p)
		return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
	p->admin_down = c->flag;
	return 0;
}

/** CMD_LAN_ADD on worker 0. */
static int do_lan_add(struct ctn_engine *e, struct cmd *c)
{
	for (uint32_t i = 0; i < CTN_MAX_LANS; i++) {
		if (e->lans[i])
			continue;
		struct ctn_lan *l = NULL;
		if (posix_memalign((void **)&l, 64, sizeof(*l)) != 0)
			l = NULL;
		if (!l || ctn_lan_init(l, i, c->lan_cfg) < 0) {
			free(l);
			return fail(c->err, sizeof(c->err), "out of memory for the MAC table");
		}
		e->lans[i] = l;
		return (int)i;
	}
	return fail(c->err, sizeof(c->err), "too many lans (limit %d)", CTN_MAX_LANS);
}

/** Carry out one command on worker 0 (others paused unless it is a control
 *  socket command); returns its result. */
static int run_cmd(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_lan *lan = c->id < CTN_MAX_LANS ? e->lans[c->id] : NULL;
	struct ctn_port *p = ctn_engine_port(e, c->id);
	switch (c->type) {
	case CMD_STOP:
		e->stop = true;
		return 0;
	case CMD_LAN_ADD:
		return do_lan_add(e, c);
	case CMD_LAN_AGING:
		if (!lan)
			return fail(c->err, sizeof(c->err), "no lan with id %u", c->id);
		atomic_store(&lan->macs.aging_ms, c->u64 ? c->u64 : 1);
		return 0;
	case CMD_LAN_DEL:
		if (!lan)
			return fail(c->err, sizeof(c->err), "no lan with id %u", c->id);
		if (lan->nports)
			return fail(c->err, sizeof(c->err), "lan %u still has %u ports", c->id,
				    lan->nports);
		ctn_lan_fini(lan);
		free(lan);
		e->lans[c->id] = NULL;
		return 0;
	case CMD_LAN_STATS:
		if (!lan)
			return fail(c->err, sizeof(c->err), "no lan with id %u", c->id);
		ctn_lan_stats(lan, c->lan_st);
		return 0;
	case CMD_PORT_ADD:
		return do_port_add(e, c);
	case CMD_PORT_SET:
		return do_port_set(e, c);
	case CMD_PORT_WATCH_PID:
		return do_port_watch_pid(e, c);
	case CMD_PORT_DEL:
		if (!p)
			return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
		port_destroy(e, p);
		return 0;
	case CMD_PORT_STATS:
		if (!p)
			return fail(c->err, sizeof(c->err), "no port with id %u", c->id);
		if (c->port_st)
			port_stats(p, c->port_st);
		if (c->info)
			port_describe(p, c->info);
		return 0;
	case CMD_PORT_OBSERVE:
		return do_port_observe(e, c);
	case CMD_PORT_OUTPUT_ONLY:
		return do_port_output_only(e, c);
	case CMD_PORT_ADMIN:
		return do_port_admin(e, c);
	case CMD_CTL_LISTEN:
		return ctn_ctl_listen(&e->ctl, e, c->path, c->err, sizeof(c->err));
	case CMD_CTL_SEND:
		return ctn_ctl_send(&e->ctl, e, c->id, c->data, c->len, c->flag, c->err, sizeof(c->err));
	case CMD_CTL_CLOSE:
		if (ctn_ctl_close(&e->ctl, e, c->id) < 0)
			return fail(c->err, sizeof(c->err), "no control connection %u", c->id);
		return 0;
	}
	return fail(c->err, sizeof(c->err), "unknown command %d", (int)c->type);
}

/** Does command @t only touch worker 0's own state (the control socket)? */
static bool cmd_is_local(enum cmd_type t)
{
	return t == CMD_CTL_LISTEN || t == CMD_CTL_SEND || t == CMD_CTL_CLOSE || t == CMD_STOP;
}

/** Take every queued command off the list and carry it out (worker 0). */
static void drain_cmds(struct ctn_engine *e)
{
	drain(e->cmdfd);
	bool paused = false;
	for (;;) {
		pthread_mutex_lock(&e->cmd_lock);
		struct cmd *c = e->cmd_head;
		if (c) {
			e->cmd_head = c->next;
			if (!e->cmd_head)
				e->cmd_tail = NULL;
		}
		pthread_mutex_unlock(&e->cmd_lock);
		if (!c)
			break;
		if (!paused && !cmd_is_local(c->type)) {
			pause_others(e);
			paused = true;
		}
		c->err[0] = 0;
		c->rc = run_cmd(e, c);
		sem_post(&c->done);
	}
	if (paused)
		resume_others(e);
}

/** Ten times a second: the ports' tick hooks (with the others paused, only
 *  when some port has one); once a second: age the MAC tables (safe while the
 *  others forward). */
static void housekeeping(struct ctn_engine *e, uint64_t now_ms)
{
	drain(e->timerfd);
	bool paused = false;
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++) {
		struct ctn_port *p = e->ports[i];
		if (!p || p->broken || !p->ops->tick)
			continue;
		if (!paused) {
			pause_others(e);
			paused = true;
		}
		p->ops->tick(p, now_ms);
	}
	if (paused)
		resume_others(e);
	if (++e->ticks % 10)
		return;
	for (uint32_t i = 0; i < CTN_MAX_LANS; i++)
		if (e->lans[i])
			ctn_mactable_expire(&e->lans[i]->macs, now_ms);
}

/** Dispatch one ready fd of worker @w. Returns the frames read from a port. */
static int dispatch(struct ctn_worker *w, const struct epoll_event *ev)
{
	struct ctn_engine *e = w->eng;
	uint32_t kind = (uint32_t)(ev->data.u64 >> 32);
	uint32_t idx = (uint32_t)ev->data.u64;
	struct ctn_port *p;
	switch ((enum ctn_fd_kind)kind) {
	case CTN_FD_CMD:
		drain_cmds(e);
		break;
	case CTN_FD_WAKE:
		drain(w->wakefd);
		if (w->id == 0)
			service_ports(e);
		break;
	case CTN_FD_TIMER:
		housekeeping(e, w->now_ms);
		break;
	case CTN_FD_CTL_LISTEN:
		ctn_ctl_on_listen(&e->ctl, e);
		break;
	case CTN_FD_CTL_CONN:
		ctn_ctl_on_conn(&e->ctl, e, idx, ev->events);
		break;
	case CTN_FD_PORT:
		/* On worker 0 the port may have been removed by a command earlier in
		 * this batch: look it up again. */
		p = ctn_engine_port(e, idx & 0xffff);
		if (p && !p->broken && (p->rx_workers >> w->id & 1)) {
			w->rx_sub = idx >> 16;
			w->poll_veto = false;
			int got = port_input(w, p, (idx >> 16) ? 0 : ev->events);
			return p->no_poll || w->poll_veto ? 0 : got; /* see struct ctn_port */
		}
		break;
	case CTN_FD_PORT_CTL:
		p = ctn_engine_port(e, idx & 0xffff);
		if (p && !p->broken && p->ops->control) {
			pause_others(e);
			p->ops->control(p, idx >> 16, ev->events);
			resume_others(e);
		}
		break;
	case CTN_FD_PIDFD:
		p = ctn_engine_port(e, idx);
		if (p && !p->broken)
			ctn_port_break(p, "owner process exited");
		break;
	}
	return 0;
}

/** Monotonic clock in nanoseconds. */
static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/**
 * A worker thread. It sleeps in epoll_wait until an fd is ready; with adaptive
 * polling (poll_us > 0) it keeps asking epoll without sleeping for poll_us after
 * the last frame it read from a port that gains from it (a tap: its writer pays
 * for waking its reader), so a busy flow's next frames are picked up without a
 * wake-up, and goes back to sleep as soon as traffic pauses that long. With
 * busy_poll it never sleeps. Either way it yields the CPU between empty polls.
 */
static void *worker_main(void *arg)
{
	struct ctn_worker *w = arg;
	struct ctn_engine *e = w->eng;
	struct epoll_event evs[EPOLL_EVENTS];
	uint64_t poll_ns = (uint64_t)e->poll_us * 1000, poll_until = 0;
	bool polling = false;
	char name[16]; /* what ps, top and perf show for this thread */
	snprintf(name, sizeof(name), "ctn-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
		/* A pause asked while this worker dispatched its last batch: its kick
		 * may have been drained there (a wake-up left from the pause before
		 * came in that batch), so the flag, set before the kick, is looked at
		 * before sleeping; else this worker would sleep through the pause and
		 * worker 0 wait for it forever. */
		if (w->id != 0 && atomic_load_explicit(&e->pause, memory_order_acquire)) {
			worker_wait_resume(w);
			continue;
		}
		int n = epoll_wait(w->epfd, evs, EPOLL_EVENTS, polling || e->busy_poll ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ctn_engine_log(e, "worker %u: epoll_wait: %s; engine stops", w->id, strerror(errno));
			e->stop = true;
			break;
		}
		if (w->id != 0 && atomic_load_explicit(&e->pause, memory_order_acquire)) {
			/* The tables may change: drop this batch, ask epoll again. */
			worker_wait_resume(w);
			continue;
		}
		if (n == 0) {
			polling = clock_ns() < poll_until;
			/* Polling must not hold a CPU that a woken task waits for: the
			 * scheduler often wakes a tap's user on this CPU (the pinger this
			 * worker just answered), and it would wait out the window. */
			if (polling || e->busy_poll)
				sched_yield();
			continue;
		}
		w->now_ms = clock_ms();
		int frames = 0;
		for (int i = 0; i < n && !e->stop; i++)
			frames += dispatch(w, &evs[i]);
		if (w->id == 0 && atomic_load_explicit(&e->breaks, memory_order_relaxed))
			service_ports(e);
		if (frames && poll_ns) {
			poll_until = clock_ns() + poll_ns;
			polling = true;
		}
	}
	return NULL;
}

/* ------------------------------------------------------- public interface */

/** Free worker @w (its thread has ended or never started). */
static void worker_free(struct ctn_worker *w);

/** Make worker @id with a pool of @pool buffers; NULL with @err filled. */
static struct ctn_worker *worker_new(struct ctn_engine *e, uint32_t id, uint32_t pool, char *err,
				     size_t errlen)
{
	struct ctn_worker *w = calloc(1, sizeof(*w));
	if (!w) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	w->id = id;
	w->eng = e;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sem_init(&w->resume, 0, 0);
	w->scratch = malloc(CTN_BUF_SIZE);
	w->now_ms = clock_ms();
	if (w->epfd < 0 || w->wakefd < 0 || !w->scratch) {
		fail(err, errlen, "worker %u: epoll/eventfd: %s", id, strerror(errno));
		goto bad;
	}
	if (ctn_pktpool_init(&w->pool, pool) < 0) {
		fail(err, errlen, "packet pool of %u buffers: %s", pool, strerror(errno));
		goto bad;
	}
	if (worker_watch(w, w->wakefd, EPOLLIN, CTN_FD_WAKE, 0) < 0) {
		fail(err, errlen, "epoll: %s", strerror(errno));
		goto bad;
	}
	return w;
bad:
	worker_free(w);
	return NULL;
}

/** Free worker @w (its thread has ended or never started). */
static void worker_free(struct ctn_worker *w)
{
	if (!w)
		return;
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->wakefd >= 0)
		close(w->wakefd);
	sem_destroy(&w->resume);
	ctn_pktpool_fini(&w->pool);
	free(w->scratch);
	free(w);
}

struct ctn_engine *ctn_engine_new(const struct ctn_engine_cfg *cfg, ctn_event_fn fn, void *opaque,
				  char *err, size_t errlen)
{
	uint32_t threads = cfg && cfg->threads ? cfg->threads : 1;
	if (threads > CTN_MAX_WORKERS) {
		fail(err, errlen, "%u threads asked; at most %d", threads, CTN_MAX_WORKERS);
		return NULL;
	}
	struct ctn_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	e->cmdfd = e->timerfd = -1;
	e->poll_us = cfg ? cfg->poll_us : 0;
	e->busy_poll = cfg && cfg->busy_poll;
	e->on_event = fn;
	e->opaque = opaque;
	pthread_mutex_init(&e->cmd_lock, NULL);
	sem_init(&e->paused, 0, 0);
	ctn_ctl_init(&e->ctl);
	uint32_t pool = cfg && cfg->pool_size ? cfg->pool_size : 512;
	for (uint32_t i = 0; i < threads; i++) {
		e->workers[i] = worker_new(e, i, pool, err, errlen);
		if (!e->workers[i])
			goto bad;
		e->nworkers = i + 1;
	}
	e->cmdfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->cmdfd < 0 || e->timerfd < 0) {
		fail(err, errlen, "eventfd/timerfd: %s", strerror(errno));
		goto bad;
	}
	struct itimerspec its = {.it_interval = {0, 100000000}, .it_value = {0, 100000000}};
	timerfd_settime(e->timerfd, 0, &its, NULL);
	if (ctn_engine_watch(e, e->cmdfd, EPOLLIN, CTN_FD_CMD, 0) < 0 ||
	    ctn_engine_watch(e, e->timerfd, EPOLLIN, CTN_FD_TIMER, 0) < 0) {
		fail(err, errlen, "epoll: %s", strerror(errno));
		goto bad;
	}
	for (uint32_t i = 0; i < e->nworkers; i++) {
		struct ctn_worker *w = e->workers[i];
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			fail(err, errlen, "worker thread %u: %s", i, strerror(rc));
			goto bad;
		}
		w->started = true;
	}
	return e;
bad:
	ctn_engine_free(e);
	return NULL;
}

/** Queue @c, wake worker 0 and wait until it is carried out. */
static int call(struct ctn_engine *e, struct cmd *c, char *err, size_t errlen)
{
	if (!e->workers[0] || !e->workers[0]->started || e->stop)
		return fail(err, errlen, "engine is stopped");
	sem_init(&c->done, 0, 0);
	c->next = NULL;
	pthread_mutex_lock(&e->cmd_lock);
	if (e->cmd_tail)
		e->cmd_tail->next = c;
	else
		e->cmd_head = c;
	e->cmd_tail = c;
	pthread_mutex_unlock(&e->cmd_lock);
	kick(e->cmdfd);
	while (sem_wait(&c->done) < 0 && errno == EINTR)
		;
	sem_destroy(&c->done);
	if (c->rc < 0)
		fail(err, errlen, "%s", c->err);
	return c->rc;
}

void ctn_engine_free(struct ctn_engine *e)
{
	if (!e)
		return;
	if (e->workers[0] && e->workers[0]->started) {
		struct cmd c = {.type = CMD_STOP};
		call(e, &c, NULL, 0);
	}
	/* Every worker leaves its loop: wake and resume each one, then join. */
	atomic_store(&e->stop, true);
	atomic_store(&e->pause, false);
	for (uint32_t i = 0; i < e->nworkers; i++) {
		struct ctn_worker *w = e->workers[i];
		if (!w->started)
			continue;
		kick(w->wakefd);
		sem_post(&w->resume);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	/* The threads are gone: tear down from here. */
	if (e->nworkers)
		ctn_ctl_fini(&e->ctl, e);
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++)
		if (e->ports[i])
			port_destroy(e, e->ports[i]);
	/* Ports hand slow closes to the closer thread: the engine is gone when they are done. */
	ctn_close_drain();
	for (uint32_t i = 0; i < CTN_MAX_LANS; i++) {
		if (e->lans[i]) {
			ctn_lan_fini(e->lans[i]);
			free(e->lans[i]);
		}
	}
	if (e->cmdfd >= 0)
		close(e->cmdfd);
	if (e->timerfd >= 0)
		close(e->timerfd);
	for (uint32_t i = 0; i < e->nworkers; i++)
		worker_free(e->workers[i]);
	sem_destroy(&e->paused);
	pthread_mutex_destroy(&e->cmd_lock);
	free(e);
}

int ctn_engine_lan_add(struct ctn_engine *e, const struct ctn_lan_cfg *cfg, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_LAN_ADD, .lan_cfg = cfg};
	return call(e, &c, err, errlen);
}

int ctn_engine_lan_set_aging(struct ctn_engine *e, uint32_t lan, uint64_t aging_ms, char *err,
			     size_t errlen)
{
	struct cmd c = {.type = CMD_LAN_AGING, .id = lan, .u64 = aging_ms};
	return call(e, &c, err, errlen);
}

int ctn_engine_lan_del(struct ctn_engine *e, uint32_t lan, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_LAN_DEL, .id = lan};
	return call(e, &c, err, errlen);
}

int ctn_engine_lan_stats(struct ctn_engine *e, uint32_t lan, struct ctn_lan_stats *out, char *err,
			 size_t errlen)
{
	struct cmd c = {.type = CMD_LAN_STATS, .id = lan, .lan_st = out};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_add(struct ctn_engine *e, const char *kind, const struct ctn_attr *attrs, uint32_t nattrs,
			const uint32_t *lans, uint32_t nlans, int worker, uint32_t *ids, struct ctn_port_info *infos,
			char *err, size_t errlen)
{
	const struct ctn_kind *k = ctn_kind_find(kind);
	if (!k) {
		char names[256];
		ctn_kind_names(names, sizeof(names));
		return fail(err, errlen, "no port kind \"%s\" (known: %s)", kind, names);
	}
	struct cmd c = {.type = CMD_PORT_ADD, .kind = k, .attrs = attrs, .nattrs = nattrs, .lans = lans,
			.nlans = nlans, .worker = worker, .ids = ids, .info = infos};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_set(struct ctn_engine *e, uint32_t port, const struct ctn_attr *attrs, uint32_t nattrs,
			char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_SET, .id = port, .attrs = attrs, .nattrs = nattrs};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_watch_pid(struct ctn_engine *e, uint32_t port, pid_t pid, char *err,
			      size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_WATCH_PID, .id = port, .pid = pid};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_del(struct ctn_engine *e, uint32_t port, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_DEL, .id = port};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_stats(struct ctn_engine *e, uint32_t port, struct ctn_port_stats *st,
			  struct ctn_port_info *info, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_STATS, .id = port, .port_st = st, .info = info};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_observe(struct ctn_engine *e, uint32_t port, struct ctn_obs *o, bool on, char *err,
			    size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_OBSERVE, .id = port, .obs = o, .flag = on};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_output_only(struct ctn_engine *e, uint32_t port, bool on, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_OUTPUT_ONLY, .id = port, .flag = on};
	return call(e, &c, err, errlen);
}

int ctn_engine_port_admin(struct ctn_engine *e, uint32_t port, bool down, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_ADMIN, .id = port, .flag = down};
	return call(e, &c, err, errlen);
}

int ctn_engine_ctl_listen(struct ctn_engine *e, const char *path, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_CTL_LISTEN, .path = path};
	return call(e, &c, err, errlen);
}

int ctn_engine_ctl_send(struct ctn_engine *e, uint32_t conn, const void *data, size_t len,
			bool close_after, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_CTL_SEND, .id = conn, .data = data, .len = len, .flag = close_after};
	return call(e, &c, err, errlen);
}

int ctn_engine_ctl_close(struct ctn_engine *e, uint32_t conn, char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_CTL_CLOSE, .id = conn};
	return call(e, &c, err, errlen);
}
