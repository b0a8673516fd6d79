/* engine.c - the engine thread: epoll loop, command queue, port and lan tables.
 *
 * Layout of one loop pass: epoll_wait; read the clock once; for each ready fd
 * dispatch on the kind packed in its cookie (commands, housekeeping timer, control
 * socket, port input, watched process). Port input is read in bursts of CTN_BURST
 * frames, forwarded by the port's lan into per-port transmit queues, and the queues
 * are flushed before the buffers go back to the pool. Nothing on that path
 * allocates or locks.
 */
#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdarg.h>
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
	CMD_PORT_ADD_FD,
	CMD_PORT_WATCH_PID,
	CMD_PORT_DEL,
	CMD_PORT_STATS,
	CMD_CTL_LISTEN,
	CMD_CTL_SEND,
	CMD_CTL_CLOSE,
};

/** One queued command, with its arguments and result; lives on the caller's
 *  stack while the caller waits on @done. */
struct cmd {
	enum cmd_type type;
	uint32_t id;                  /**< lan, port or connection id */
	int fd;                       /**< PORT_ADD_FD */
	pid_t pid;                    /**< PORT_WATCH_PID */
	uint64_t u64;                 /**< LAN_AGING */
	const struct ctn_lan_cfg *lan_cfg;
	const char *path;             /**< CTL_LISTEN */
	const void *data;             /**< CTL_SEND */
	size_t len;
	bool flag;                    /**< CTL_SEND close_after */
	struct ctn_lan_stats *lan_st; /**< LAN_STATS out */
	struct ctn_port_stats *port_st; /**< PORT_STATS out */
	struct ctn_port_info *info;   /**< PORT_ADD_FD / PORT_STATS out */
	int rc;                       /**< result */
	char err[256];                /**< reason when rc < 0 */
	sem_t done;                   /**< posted by the engine when carried out */
	struct cmd *next;
};

/** The engine. */
struct ctn_engine {
	int epfd;                                /**< the epoll set */
	int cmdfd;                               /**< eventfd: commands waiting */
	int timerfd;                             /**< 1 Hz housekeeping */
	pthread_t thread;                        /**< the engine thread */
	bool thread_started;
	_Atomic bool stop;                       /**< leave the loop (read by callers too) */
	pthread_mutex_t cmd_lock;                /**< guards the command list only */
	struct cmd *cmd_head, *cmd_tail;
	ctn_event_fn on_event;                   /**< event callback */
	void *opaque;                            /**< its argument */
	uint64_t now_ms;                         /**< clock of this loop pass */
	struct ctn_pktpool pool;                 /**< packet buffers */
	struct ctn_port *ports[CTN_MAX_PORTS];   /**< by id */
	struct ctn_lan *lans[CTN_MAX_LANS];      /**< by id */
	struct ctn_port *tx_pending[CTN_MAX_PORTS]; /**< ports with queued frames */
	uint32_t ntx_pending;
	struct ctn_ctl ctl;                      /**< control socket */
};

const char *const ctn_drop_names[CTN_DROP_MAX] = {
	[CTN_DROP_RX_ERROR] = "rx_error",   [CTN_DROP_RUNT] = "runt",
	[CTN_DROP_TOO_BIG] = "too_big",     [CTN_DROP_BAD_VNET] = "bad_vnet",
	[CTN_DROP_BAD_SRC] = "bad_src",     [CTN_DROP_NO_BUFFER] = "no_buffer",
	[CTN_DROP_NO_LAN] = "no_lan",       [CTN_DROP_TX_ERROR] = "tx_error",
	[CTN_DROP_TX_FULL] = "tx_full",     [CTN_DROP_TX_DOWN] = "tx_down",
	[CTN_DROP_GSO] = "gso",
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

uint64_t ctn_engine_now_ms(const struct ctn_engine *e) { return e->now_ms; }
struct ctn_pktpool *ctn_engine_pool(struct ctn_engine *e) { return &e->pool; }

struct ctn_port *ctn_engine_port(struct ctn_engine *e, uint32_t id)
{
	return id < CTN_MAX_PORTS ? e->ports[id] : NULL;
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

int ctn_engine_watch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i)
{
	struct epoll_event ev = {.events = events, .data.u64 = ctn_cookie(k, i)};
	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ctn_engine_rewatch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i)
{
	struct epoll_event ev = {.events = events, .data.u64 = ctn_cookie(k, i)};
	return epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void ctn_engine_unwatch(struct ctn_engine *e, int fd)
{
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ------------------------------------------------------------ packet path */

void ctn_engine_tx_queue(struct ctn_engine *e, struct ctn_port *p, struct ctn_pkt *pkt)
{
	if (p->ntx == CTN_BURST) {
		p->ops->tx_burst(p, p->txq, (int)p->ntx);
		p->ntx = 0;
	}
	p->txq[p->ntx++] = pkt;
	if (!p->tx_pending) {
		p->tx_pending = true;
		e->tx_pending[e->ntx_pending++] = p;
	}
}

/** Send everything queued in this pass. */
static void tx_flush(struct ctn_engine *e)
{
	for (uint32_t i = 0; i < e->ntx_pending; i++) {
		struct ctn_port *p = e->tx_pending[i];
		if (p->ntx && !p->broken)
			p->ops->tx_burst(p, p->txq, (int)p->ntx);
		p->ntx = 0;
		p->tx_pending = false;
	}
	e->ntx_pending = 0;
}

/** Port @p is readable: read, forward and send a few bursts. */
static void port_input(struct ctn_engine *e, struct ctn_port *p, uint32_t events)
{
	struct ctn_pkt *pkts[CTN_BURST];
	for (int round = 0; round < RX_BURSTS_PER_WAKE && !p->broken; round++) {
		int n = p->ops->rx_burst(p, pkts, CTN_BURST);
		if (n <= 0)
			break;
		struct ctn_lan *lan = p->lan < CTN_MAX_LANS ? e->lans[p->lan] : NULL;
		if (lan)
			ctn_lan_forward(e, lan, p, pkts, n);
		else
			p->st.drops[CTN_DROP_NO_LAN] += (uint64_t)n;
		tx_flush(e);
		uint32_t bytes = 0;
		for (int i = 0; i < n; i++) {
			bytes += pkts[i]->len;
			ctn_pkt_free(&e->pool, pkts[i]);
		}
		if (n < CTN_BURST && bytes < CTN_BURST_BYTES)
			break; /* drained (see rx_burst in port.h) */
	}
	/* Hang-up with nothing left to read: the device or the peer is gone. */
	if (!p->broken && (events & (EPOLLERR | EPOLLHUP)))
		ctn_port_break(p, "%s", (events & EPOLLERR) ? "device error (gone?)" : "peer hung up");
}

/* ------------------------------------------------------------ ports & lans */

void ctn_port_break(struct ctn_port *p, const char *fmt, ...)
{
	if (p->broken)
		return;
	struct ctn_engine *e = p->eng;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	p->broken = true;
	if (p->fd >= 0) {
		ctn_engine_unwatch(e, p->fd);
		close(p->fd);
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

/** Free slot for a new port, or -1. */
static int port_slot(struct ctn_engine *e)
{
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++)
		if (!e->ports[i])
			return (int)i;
	return -1;
}

/** Remove @p from everything and close it. */
static void port_destroy(struct ctn_engine *e, struct ctn_port *p)
{
	if (p->lan < CTN_MAX_LANS && e->lans[p->lan])
		ctn_lan_detach(e->lans[p->lan], p->id);
	if (p->fd >= 0)
		ctn_engine_unwatch(e, p->fd);
	if (p->pidfd >= 0) {
		ctn_engine_unwatch(e, p->pidfd);
		close(p->pidfd);
	}
	e->ports[p->id] = NULL;
	p->ops->close(p);
}

/** CMD_PORT_ADD_FD on the engine thread. */
static int do_port_add_fd(struct ctn_engine *e, struct cmd *c)
{
	if (c->id >= CTN_MAX_LANS || !e->lans[c->id])
		return fail(c->err, sizeof(c->err), "no lan with id %u", c->id);
	int slot = port_slot(e);
	if (slot < 0)
		return fail(c->err, sizeof(c->err), "too many ports (limit %d)", CTN_MAX_PORTS);
	struct ctn_port *p = ctn_port_fd_open(e, c->fd, c->err, sizeof(c->err));
	if (!p)
		return -1;
	p->id = (uint32_t)slot;
	p->eng = e;
	p->pidfd = -1;
	p->lan = CTN_LAN_NONE;
	if (ctn_engine_watch(e, p->fd, EPOLLIN, CTN_FD_PORT, p->id) < 0) {
		int er = errno;
		p->fd = -1; /* still the caller's */
		p->ops->close(p);
		return fail(c->err, sizeof(c->err), "epoll: %s", strerror(er));
	}
	if (ctn_lan_attach(e->lans[c->id], p->id) < 0) {
		ctn_engine_unwatch(e, p->fd);
		p->fd = -1;
		p->ops->close(p);
		return fail(c->err, sizeof(c->err), "out of memory");
	}
	p->lan = c->id;
	e->ports[slot] = p;
	if (c->info) {
		*c->info = (struct ctn_port_info){0};
		p->ops->info(p, c->info);
	}
	return slot;
}

/** CMD_PORT_WATCH_PID on the engine thread. */
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

/** Fill @st with a lan's counters. */
static void lan_stats(struct ctn_lan *lan, struct ctn_lan_stats *st)
{
	*st = (struct ctn_lan_stats){
		.nports = lan->nports,
		.macs = lan->macs.count,
		.mac_capacity = ctn_mactable_capacity(&lan->macs),
		.aging_ms = lan->macs.aging_ms,
		.mac = lan->macs.st,
		.flooded = lan->flooded,
		.unknown_unicast = lan->unknown_unicast,
		.filtered = lan->filtered,
	};
}

/** Carry out one command on the engine thread; returns its result. */
static int run_cmd(struct ctn_engine *e, struct cmd *c)
{
	struct ctn_lan *lan = c->id < CTN_MAX_LANS ? e->lans[c->id] : NULL;
	struct ctn_port *p = ctn_engine_port(e, c->id);
	switch (c->type) {
	case CMD_STOP:
		e->stop = true;
		return 0;
	case CMD_LAN_ADD: {
		for (uint32_t i = 0; i < CTN_MAX_LANS; i++) {
			if (e->lans[i])
				continue;
			struct ctn_lan *l = malloc(sizeof(*l));
			if (!l || ctn_lan_init(l, i, c->lan_cfg) < 0) {
				free(l);
				return fail(c->err, sizeof(c->err), "out of memory for the MAC table");
			}
			e->lans[i] = l;
			return (int)i;
		}
		return fail(c->err, sizeof(c->err), "too many lans (limit %d)", CTN_MAX_LANS);
	}
	case CMD_LAN_AGING:
		if (!lan)
			return fail(c->err, sizeof(c->err), "no lan with id %u", c->id);
		lan->macs.aging_ms = c->u64 ? c->u64 : 1;
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
		lan_stats(lan, c->lan_st);
		return 0;
	case CMD_PORT_ADD_FD:
		return do_port_add_fd(e, c);
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
			*c->port_st = p->st;
		if (c->info) {
			*c->info = (struct ctn_port_info){0};
			p->ops->info(p, c->info);
			c->info->broken = p->broken;
			memcpy(c->info->reason, p->reason, sizeof(c->info->reason));
		}
		return 0;
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

/** Take every queued command off the list and carry it out. */
static void drain_cmds(struct ctn_engine *e)
{
	uint64_t v;
	if (read(e->cmdfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		ctn_engine_log(e, "command eventfd: %s", strerror(errno));
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
			return;
		c->err[0] = 0;
		c->rc = run_cmd(e, c);
		sem_post(&c->done);
	}
}

/** Once a second: age the MAC tables. */
static void housekeeping(struct ctn_engine *e)
{
	uint64_t v;
	if (read(e->timerfd, &v, sizeof(v)) < 0)
		return;
	for (uint32_t i = 0; i < CTN_MAX_LANS; i++)
		if (e->lans[i])
			ctn_mactable_expire(&e->lans[i]->macs, e->now_ms);
}

/** The engine thread. */
static void *engine_main(void *arg)
{
	struct ctn_engine *e = arg;
	struct epoll_event evs[EPOLL_EVENTS];
	while (!e->stop) {
		int n = epoll_wait(e->epfd, evs, EPOLL_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ctn_engine_log(e, "epoll_wait: %s; engine stops", strerror(errno));
			e->stop = true;
			break;
		}
		e->now_ms = clock_ms();
		for (int i = 0; i < n && !e->stop; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)evs[i].data.u64;
			struct ctn_port *p;
			switch ((enum ctn_fd_kind)kind) {
			case CTN_FD_CMD:
				drain_cmds(e);
				break;
			case CTN_FD_TIMER:
				housekeeping(e);
				break;
			case CTN_FD_CTL_LISTEN:
				ctn_ctl_on_listen(&e->ctl, e);
				break;
			case CTN_FD_CTL_CONN:
				ctn_ctl_on_conn(&e->ctl, e, idx, evs[i].events);
				break;
			case CTN_FD_PORT:
				/* The port may have been removed by a command earlier in
				 * this batch: look it up again. */
				p = ctn_engine_port(e, idx);
				if (p && !p->broken)
					port_input(e, p, evs[i].events);
				break;
			case CTN_FD_PIDFD:
				p = ctn_engine_port(e, idx);
				if (p && !p->broken)
					ctn_port_break(p, "owner process exited");
				break;
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------- public interface */

struct ctn_engine *ctn_engine_new(const struct ctn_engine_cfg *cfg, ctn_event_fn fn, void *opaque,
				  char *err, size_t errlen)
{
	struct ctn_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	e->epfd = e->cmdfd = e->timerfd = -1;
	e->on_event = fn;
	e->opaque = opaque;
	pthread_mutex_init(&e->cmd_lock, NULL);
	ctn_ctl_init(&e->ctl);
	uint32_t pool = cfg && cfg->pool_size ? cfg->pool_size : 512;
	if (ctn_pktpool_init(&e->pool, pool) < 0) {
		fail(err, errlen, "packet pool of %u buffers: %s", pool, strerror(errno));
		goto bad;
	}
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->cmdfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->epfd < 0 || e->cmdfd < 0 || e->timerfd < 0) {
		fail(err, errlen, "epoll/eventfd/timerfd: %s", strerror(errno));
		goto bad;
	}
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	timerfd_settime(e->timerfd, 0, &its, NULL);
	if (ctn_engine_watch(e, e->cmdfd, EPOLLIN, CTN_FD_CMD, 0) < 0 ||
	    ctn_engine_watch(e, e->timerfd, EPOLLIN, CTN_FD_TIMER, 0) < 0) {
		fail(err, errlen, "epoll: %s", strerror(errno));
		goto bad;
	}
	e->now_ms = clock_ms();
	int rc = pthread_create(&e->thread, NULL, engine_main, e);
	if (rc != 0) {
		fail(err, errlen, "engine thread: %s", strerror(rc));
		goto bad;
	}
	e->thread_started = true;
	return e;
bad:
	ctn_engine_free(e);
	return NULL;
}

/** Queue @c, wake the engine and wait until it is carried out. */
static int call(struct ctn_engine *e, struct cmd *c, char *err, size_t errlen)
{
	if (!e->thread_started || e->stop)
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
	uint64_t one = 1;
	if (write(e->cmdfd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		/* Cannot happen with a valid eventfd; the command stays queued. */
	}
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
	if (e->thread_started) {
		struct cmd c = {.type = CMD_STOP};
		call(e, &c, NULL, 0);
		pthread_join(e->thread, NULL);
		e->thread_started = false;
	}
	/* The thread is gone: tear down from here. */
	ctn_ctl_fini(&e->ctl, e);
	for (uint32_t i = 0; i < CTN_MAX_PORTS; i++)
		if (e->ports[i])
			port_destroy(e, e->ports[i]);
	for (uint32_t i = 0; i < CTN_MAX_LANS; i++) {
		if (e->lans[i]) {
			ctn_lan_fini(e->lans[i]);
			free(e->lans[i]);
		}
	}
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->cmdfd >= 0)
		close(e->cmdfd);
	if (e->timerfd >= 0)
		close(e->timerfd);
	ctn_pktpool_fini(&e->pool);
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

int ctn_engine_port_add_fd(struct ctn_engine *e, int fd, uint32_t lan, struct ctn_port_info *info,
			   char *err, size_t errlen)
{
	struct cmd c = {.type = CMD_PORT_ADD_FD, .id = lan, .fd = fd, .info = info};
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
