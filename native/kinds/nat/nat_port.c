/* nat_port.c - the "nat" kind: a NAT port on libslirp, folded into the engine's epoll.
 *
 *   lan ──tx_burst (any worker)──▶ slirp_input ──▶ host sockets (TCP, UDP, ICMP)
 *   lan ◀──rx_burst (its worker)── frame ring ◀── send_packet ◀┘
 *
 * libslirp is single-threaded: every call into it is made holding the port's
 * lock (a worker sending frames to the NAT, the port's own worker serving its
 * sockets and timers; the lock is uncontended with one worker thread). Its
 * sockets are polled by the port's worker: after every call into slirp the set
 * of fds and events it wants (slirp_pollfds_fill) is compared with what is in
 * epoll and only the difference changed; when one is ready, rx_burst asks the
 * kernel which with one poll() and hands the answers to slirp_pollfds_poll.
 * slirp's timers (TCP's, IPv6 router advertisements) are one timerfd.
 * Frames slirp sends while the port's own worker serves its sockets (host
 * data for the lan: the bulk of the bytes) are copied straight into that
 * worker's packets and handed on in the same rx_burst. Frames it sends while
 * being fed from another port's burst (or once that burst is full) go to a
 * byte ring first; rx_burst moves them into packets on the next pass of the
 * port's worker (woken by the eventfd). Handing those on within the burst that
 * made them was tried: it made TCP to the host slower (the sender's stack then
 * runs once per ACK instead of once per batch). TCP frames to the lan leave
 * with their checksum marked left to do (ctn_csum_make_partial), so a vnet
 * tap's kernel does not sum again the payload libslirp has just summed.
 * Frames handed to slirp are always whole: the shared offload code segments
 * GSO frames and completes checksums (the port takes no offloads).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "kind.h"
#include "nat_dns.h"
#include "offload.h"
#include "port.h"

#define NAT_MAX_FDS 4096         /**< slirp sockets polled at once */
#define NAT_RING (4u << 20)      /**< bytes of frames from slirp awaiting the lan */
#define NAT_MAX_TIMERS 8         /**< slirp timers (it uses one, for RA) */
#define SUB_SOCKETS 1            /**< input sub-fd of slirp's sockets and the DNS relay's */
#define SUB_TIMER 2              /**< input sub-fd of the timerfd */
#define SUB_WAKE 3               /**< input sub-fd of the wake eventfd (frames in the ring) */
#define NAT_FD_LIMIT 65536       /**< fds numbered past this are not polled (counted) */
#define NAT_SMALL_FRAME 128      /**< frames this short carry no data (ACKs, control) */
#define NAT_PEND 64              /**< frames from slirp held as packets for the next rx_burst */

/** Settings of a NAT (host byte order where plain integers). */
struct nat_cfg {
	struct in_addr net;        /**< guest network, e.g. 10.0.2.0 */
	struct in_addr mask;       /**< its netmask, e.g. 255.255.255.0 */
	struct in_addr gateway;    /**< the NAT's own address on the lan (host side) */
	struct in_addr dns;        /**< the DNS address it answers on */
	struct in_addr dhcp_start; /**< first address it leases */
	bool ipv6;                 /**< also IPv6 (prefix fd00::/64 unless @prefix6 set) */
	struct in6_addr prefix6;   /**< IPv6 prefix of the guests */
	uint8_t prefix6_len;       /**< its length */
	uint32_t mtu;              /**< MTU and MRU of the lan side */
	bool no_host_loopback;     /**< the gateway does not reach the host's 127.0.0.1 */
	uint32_t max_sockets;      /**< host sockets at once; new TCP connections beyond are refused */
	char hostname[64];         /**< hostname given in DHCP, "" for none */
	struct in_addr dns_upstream; /**< with dns_upstream_port: answer DNS by relaying here */
	uint16_t dns_upstream_port;  /**< 0: libslirp forwards to the host's resolvers */
};

/** A host-to-guest port forward. */
struct nat_fwd {
	bool udp;                  /**< UDP (else TCP) */
	struct in_addr host_addr;  /**< host address to listen on */
	uint16_t host_port;        /**< host port */
	struct in_addr guest_addr; /**< guest address to connect to */
	uint16_t guest_port;       /**< guest port */
};

/** One slirp timer. */
struct nat_timer {
	bool used;        /**< allocated by slirp */
	bool armed;       /**< expire_ms is set */
	SlirpTimerId id;  /**< what to tell slirp_handle_timer */
	void *cb_opaque;  /**< and this */
	int64_t expire_ms;
};

/** A NAT port. */
struct nat_port {
	struct ctn_port base;                 /**< must be first */
	struct nat_cfg cfg;               /**< settings */
	Slirp *slirp;                         /**< the stack */
	atomic_flag lock;                     /**< held around every slirp call */
	int wakefd;                           /**< eventfd: frames or work waiting */
	int timerfd;                          /**< slirp's next timer */
	int64_t timer_at;                     /**< when the timerfd fires (ms), INT64_MAX: disarmed */
	struct pollfd pfd[NAT_MAX_FDS];       /**< what slirp wants polled (last fill) */
	int npfd;
	struct pollfd reg[NAT_MAX_FDS];       /**< what is in epoll now (fd, events) */
	int nreg;
	int16_t *reg_at;                      /**< by fd (< NAT_FD_LIMIT): index in reg, or -1 */
	uint8_t *seen;                        /**< by fd: wanted by the current fill */
	bool overflow;                        /**< slirp wanted more fds than we poll */
	uint32_t fill_timeout_ms;             /**< slirp's wanted wake-up from the last fill */
	struct nat_timer timers[NAT_MAX_TIMERS];
	uint8_t *ring;                        /**< frames from slirp: u32 length, bytes, padded to 4 */
	uint32_t ring_head, ring_tail;        /**< write and read offsets (mod NAT_RING) */
	uint32_t ring_used;                   /**< bytes in it */
	uint64_t ring_drops;                  /**< frames lost to a full ring */
	struct ctn_worker *owner_now;         /**< the port's worker while it calls slirp, else NULL */
	struct ctn_pkt *pend[NAT_PEND];       /**< frames from slirp in packets of the owner's pool, in order */
	int npend;
	struct ctn_pktpool *pend_pool;        /**< that pool (to give them back at close) */
	uint64_t direct_frames;               /**< frames copied straight into packets */
	uint64_t guest_errors;                /**< slirp's complaints about the lan's frames */
	uint64_t syn_refused;                 /**< new connections refused at max_sockets */
	struct nat_fwd fwd[64];           /**< forwards in place */
	int nfwd;
	struct ctn_dns_relay dns;             /**< DNS relay to a named upstream (fd -1: none) */
};

/** Our port from the base pointer. */
static inline struct nat_port *np_of(struct ctn_port *p) { return (struct nat_port *)p; }

/** Take the slirp lock. */
static void nat_lock(struct nat_port *np)
{
	while (atomic_flag_test_and_set_explicit(&np->lock, memory_order_acquire))
		;
}

/** Release the slirp lock. */
static void nat_unlock(struct nat_port *np)
{
	atomic_flag_clear_explicit(&np->lock, memory_order_release);
}

/** Wake the port's worker (frames in the ring, or slirp wants a poll). */
static void nat_kick(struct nat_port *np)
{
	uint64_t one = 1;
	if (write(np->wakefd, &one, sizeof(one)) < 0) {
		/* saturated: readable anyway */
	}
}

/* ------------------------------------------------------- slirp callbacks */

/** Make @pkt, a frame from slirp, a packet read by the port on worker @w
 *  (counted there). */
static void frame_to_pkt(struct nat_port *np, struct ctn_worker *w, struct ctn_pkt *pkt)
{
	struct ctn_port_stats *st = &np->base.local[w->id].st;
	pkt->in_port = np->base.id;
	/* libslirp summed it; the receiver need not (a tap's kernel trusts a
	 * checksum left to do). Frames other than TCP stay as they are. */
	(void)ctn_csum_make_partial(pkt);
	st->rx_packets++;
	st->rx_bytes += pkt->len;
}

/** Copy frame @buf (@len bytes) straight into a packet of the port's own
 *  worker, queued for its next rx_burst, when slirp is being called on that
 *  worker (np->owner_now), the queue has room and no older frame waits in the
 *  ring. Returns whether it did. */
static bool direct_take(struct nat_port *np, const void *buf, uint32_t len)
{
	struct ctn_worker *w = np->owner_now;
	if (!w || np->npend == NAT_PEND || np->ring_used)
		return false;
	struct ctn_pkt *pkt = ctn_pkt_alloc(&w->pool);
	if (!pkt)
		return false;
	memcpy(pkt->data, buf, len);
	pkt->len = len;
	frame_to_pkt(np, w, pkt);
	np->pend[np->npend++] = pkt;
	np->pend_pool = &w->pool;
	np->direct_frames++;
	return true;
}

/** send_packet: a frame for the lan; straight into a packet (direct_take),
 *  else into the ring (dropped when full, as slirp allows: TCP
 *  will send it again). */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct nat_port *np = opaque;
	uint32_t need = 4 + (((uint32_t)len + 3) & ~3u);
	if (len >= CTN_FRAME_MIN && len <= CTN_FRAME_MAX && direct_take(np, buf, (uint32_t)len))
		return (ssize_t)len;
	if (len < CTN_FRAME_MIN || len > CTN_FRAME_MAX || NAT_RING - np->ring_used < need) {
		np->ring_drops++;
		return (ssize_t)len;
	}
	uint32_t l = (uint32_t)len;
	for (uint32_t i = 0; i < 4; i++)
		np->ring[(np->ring_head + i) % NAT_RING] = ((uint8_t *)&l)[i];
	uint32_t at = (np->ring_head + 4) % NAT_RING, first = NAT_RING - at < l ? NAT_RING - at : l;
	memcpy(np->ring + at, buf, first);
	memcpy(np->ring, (const uint8_t *)buf + first, l - first);
	np->ring_head = (np->ring_head + need) % NAT_RING;
	np->ring_used += need;
	return (ssize_t)len;
}

/** guest_error: a frame from the lan slirp could not make sense of. */
static void cb_guest_error(const char *msg, void *opaque)
{
	struct nat_port *np = opaque;
	if (np->guest_errors++ < 10)
		ctn_engine_log(np->base.eng, "nat: bad frame from the lan: %s", msg);
}

/** clock_get_ns: the monotonic clock. */
static int64_t cb_clock_ns(void *opaque)
{
	(void)opaque;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/** timer_new_opaque: a timer slot. */
static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct nat_port *np = opaque;
	for (int i = 0; i < NAT_MAX_TIMERS; i++) {
		if (!np->timers[i].used) {
			np->timers[i] = (struct nat_timer){.used = true, .id = id, .cb_opaque = cb_opaque};
			return &np->timers[i];
		}
	}
	return NULL;
}

/** timer_free. */
static void cb_timer_free(void *timer, void *opaque)
{
	(void)opaque;
	if (timer)
		*(struct nat_timer *)timer = (struct nat_timer){0};
}

/** timer_mod: fire at @expire_ms on slirp's clock (ms). */
static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	if (!timer)
		return;
	struct nat_timer *t = timer;
	t->armed = true;
	t->expire_ms = expire_ms;
	/* The refill() that ends every call into slirp arms the timerfd. */
}

/** register_poll_fd: we learn the fds from fill. */
static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque;
}

/** unregister_poll_fd: slirp is closing @fd; forget our registration now, or a
 *  new socket given the same number would be taken for one still in epoll. */
static void cb_unregister_poll_fd(int fd, void *opaque)
{
	struct nat_port *np = opaque;
	if (fd < 0 || fd >= NAT_FD_LIMIT || np->reg_at[fd] < 0)
		return;
	int i = np->reg_at[fd];
	epoll_ctl(ctn_port_epfd(&np->base), EPOLL_CTL_DEL, fd, NULL);
	np->reg_at[fd] = -1;
	np->reg[i] = np->reg[--np->nreg];
	if (i < np->nreg)
		np->reg_at[np->reg[i].fd] = (int16_t)i;
}

/** notify: slirp has new work for the poller. Nothing to do: every call into
 *  slirp here ends with refill(), which brings epoll and the timerfd up to
 *  date (a kick would cost a wake-up and a poll() per frame). */
static void cb_notify(void *opaque)
{
	(void)opaque;
}

/** SlirpAddPollCb: one fd slirp wants polled; returns its index. */
static int cb_add_poll(int fd, int events, void *opaque)
{
	struct nat_port *np = opaque;
	if (np->npfd == NAT_MAX_FDS) {
		np->overflow = true;
		return -1;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	np->pfd[np->npfd] = (struct pollfd){.fd = fd, .events = ev};
	return np->npfd++;
}

/** SlirpGetREventsCb: what poll() said of index @idx. */
static int cb_get_revents(int idx, void *opaque)
{
	struct nat_port *np = opaque;
	if (idx < 0 || idx >= np->npfd)
		return 0;
	short r = np->pfd[idx].revents;
	int out = 0;
	if (r & POLLIN)
		out |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		out |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		out |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		out |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		out |= SLIRP_POLL_HUP;
	return out;
}

/** The callbacks. */
static const SlirpCb nat_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ------------------------------------------------------------- polling */

/** epoll events for poll events @ev (0 when slirp wants nothing of the fd). */
static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) | (ev & POLLPRI ? EPOLLPRI : 0);
}

/** Ask slirp what to poll and make epoll (and the timerfd) match. Lock held. */
static void refill(struct nat_port *np)
{
	struct ctn_port *p = &np->base;
	np->npfd = 0;
	np->overflow = false;
	uint32_t timeout = UINT32_MAX;
	slirp_pollfds_fill(np->slirp, &timeout, cb_add_poll, np);
	np->fill_timeout_ms = timeout;
	/* Make epoll match, in time linear in the fds: what the fill wants is
	 * added or changed, then what it no longer wants is dropped. */
	uint64_t cookie = ctn_cookie(CTN_FD_PORT, SUB_SOCKETS << 16 | p->id);
	for (int j = 0; j < np->npfd; j++) {
		int fd = np->pfd[j].fd;
		if (fd < 0 || fd >= NAT_FD_LIMIT) {
			np->overflow = true;
			continue;
		}
		np->seen[fd] = 1;
		int i = np->reg_at[fd];
		struct epoll_event ev = {.events = to_epoll(np->pfd[j].events), .data.u64 = cookie};
		if (i >= 0) {
			if (np->reg[i].events != np->pfd[j].events &&
			    epoll_ctl(ctn_port_epfd(p), EPOLL_CTL_MOD, fd, &ev) == 0)
				np->reg[i].events = np->pfd[j].events;
		} else if (epoll_ctl(ctn_port_epfd(p), EPOLL_CTL_ADD, fd, &ev) == 0) {
			np->reg_at[fd] = (int16_t)np->nreg;
			np->reg[np->nreg++] = np->pfd[j];
		}
	}
	for (int i = 0; i < np->nreg; i++) {
		int fd = np->reg[i].fd;
		if (np->seen[fd]) {
			np->seen[fd] = 0;
			continue;
		}
		/* slirp closed it (epoll forgot it then) or stopped wanting it. */
		epoll_ctl(ctn_port_epfd(p), EPOLL_CTL_DEL, fd, NULL);
		np->reg_at[fd] = -1;
		np->reg[i] = np->reg[--np->nreg];
		if (i < np->nreg)
			np->reg_at[np->reg[i].fd] = (int16_t)i;
		i--;
	}
	/* The timerfd: slirp's own timeout or the earliest armed timer. It is
	 * only moved earlier: a wake-up that comes too soon costs one pass, a
	 * system call per fill would cost more. */
	int64_t now = cb_clock_ns(NULL) / 1000000, at = timeout == UINT32_MAX ? INT64_MAX : now + timeout;
	for (int i = 0; i < NAT_MAX_TIMERS; i++)
		if (np->timers[i].used && np->timers[i].armed && np->timers[i].expire_ms < at)
			at = np->timers[i].expire_ms;
	if (at == INT64_MAX || at >= np->timer_at)
		return;
	int64_t ms = at - now < 1 ? 1 : at - now;
	struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}};
	if (timerfd_settime(np->timerfd, 0, &its, NULL) == 0)
		np->timer_at = now + ms;
}

/** Serve slirp: expired timers, ready sockets. Lock held. */
static void service(struct nat_port *np)
{
	int64_t now = cb_clock_ns(NULL) / 1000000;
	for (int i = 0; i < NAT_MAX_TIMERS; i++) {
		struct nat_timer *t = &np->timers[i];
		if (t->used && t->armed && t->expire_ms <= now) {
			t->armed = false;
			slirp_handle_timer(np->slirp, t->id, t->cb_opaque);
		}
	}
	int n = np->npfd ? poll(np->pfd, (nfds_t)np->npfd, 0) : 0;
	slirp_pollfds_poll(np->slirp, n < 0, cb_get_revents, np);
	refill(np);
	/* Answers of the DNS relay join slirp's frames in the ring. */
	uint8_t frame[1514 + 4096];
	int len;
	while (np->dns.fd >= 0 && (len = ctn_dns_to_lan(&np->dns, frame, sizeof(frame))) != 0)
		if (len > 0)
			cb_send_packet(frame, (size_t)len, np);
}

/* ----------------------------------------------------------- the hooks */

/** Move up to @max frames from the ring into packets of @w's pool (counted as
 *  received). Lock held. */
static int ring_take(struct nat_port *np, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct ctn_port_stats *st = &np->base.local[w->id].st;
	int got = 0;
	while (got < max && np->ring_used) {
		uint32_t l = 0;
		for (uint32_t i = 0; i < 4; i++)
			((uint8_t *)&l)[i] = np->ring[(np->ring_tail + i) % NAT_RING];
		uint32_t need = 4 + ((l + 3) & ~3u);
		struct ctn_pkt *pkt = ctn_pkt_alloc(&w->pool);
		if (!pkt) {
			st->drops[CTN_DROP_NO_BUFFER]++;
			break;
		}
		uint32_t at = (np->ring_tail + 4) % NAT_RING, first = NAT_RING - at < l ? NAT_RING - at : l;
		memcpy(pkt->data, np->ring + at, first);
		memcpy(pkt->data + first, np->ring, l - first);
		pkt->len = l;
		frame_to_pkt(np, w, pkt);
		np->ring_tail = (np->ring_tail + need) % NAT_RING;
		np->ring_used -= need;
		pkts[got++] = pkt;
	}
	return got;
}

/** Hand out up to @max of the queued packets (oldest first) into @pkts;
 *  returns how many. Lock held. */
static int pend_take(struct nat_port *np, struct ctn_pkt **pkts, int max)
{
	int n = np->npend < max ? np->npend : max;
	memcpy(pkts, np->pend, (size_t)n * sizeof(*pkts));
	memmove(np->pend, np->pend + n, (size_t)(np->npend - n) * sizeof(*pkts));
	np->npend -= n;
	return n;
}

/** rx_burst hook: serve slirp when one of its fds woke the worker (not for
 *  the frames it left in the ring: those are only handed on), then hand the
 *  lan the frames it sent: those queued as packets first (they are older
 *  than any in the ring), then the ring's. */
static int nat_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct nat_port *np = np_of(p);
	uint64_t v;
	nat_lock(np);
	if (w->rx_sub == SUB_TIMER && read(np->timerfd, &v, sizeof(v)) >= 0)
		np->timer_at = INT64_MAX;
	/* The wake eventfd only says frames wait in the ring: no need to ask
	 * slirp's sockets (they and the timers have fds of their own). */
	if (w->rx_sub == SUB_WAKE && read(np->wakefd, &v, sizeof(v)) < 0) {
		/* raced with another reader: nothing pending */
	}
	if (w->rx_sub == SUB_SOCKETS || w->rx_sub == SUB_TIMER) {
		np->owner_now = w;
		service(np);
		np->owner_now = NULL;
	}
	int got = pend_take(np, pkts, max);
	got += ring_take(np, w, pkts + got, max - got);
	/* Only data for the lan (not slirp's ACKs of the lan's data) is worth
	 * polling on for: its receiver answers at once. */
	bool data = false;
	for (int i = 0; i < got; i++)
		data |= pkts[i]->len > NAT_SMALL_FRAME;
	if (got && !data)
		w->poll_veto = true;
	bool more = np->ring_used != 0 || np->npend != 0;
	nat_unlock(np);
	if (more)
		nat_kick(np);
	return got;
}

/** Is @f (@len bytes) a TCP SYN without ACK, IPv4 or IPv6, maybe tagged? */
static bool is_tcp_syn(const uint8_t *f, uint32_t len)
{
	uint32_t off = 12;
	uint16_t type = (uint16_t)(f[off] << 8 | f[off + 1]);
	if (type == 0x8100 && len >= 18) {
		off += 4;
		type = (uint16_t)(f[off] << 8 | f[off + 1]);
	}
	off += 2;
	uint32_t l4;
	if (type == 0x0800 && len >= off + 20 && f[off + 9] == 6)
		l4 = off + (uint32_t)(f[off] & 15) * 4;
	else if (type == 0x86dd && len >= off + 40 && f[off + 6] == 6)
		l4 = off + 40;
	else
		return false;
	return len >= l4 + 14 && (f[l4 + 13] & 0x12) == 0x02;
}

/** ctn_emit_fn: one whole frame into slirp. */
static int nat_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	(void)vnet;
	struct nat_port *np = arg;
	if (np->nreg >= (int)np->cfg.max_sockets && is_tcp_syn(data, len)) {
		np->syn_refused++;
		return CTN_DROP_TX_FULL;
	}
	if (np->dns.fd >= 0 && ctn_dns_from_lan(&np->dns, data, len))
		return 0;
	slirp_input(np->slirp, data, (int)len);
	return 0;
}

/** tx_burst hook: frames from the lan into slirp (any worker). */
static void nat_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct nat_port *np = np_of(p);
	struct ctn_port_stats *st = &p->local[w->id].st;
	nat_lock(np);
	/* On the port's own worker, what slirp answers (data the lan's ACKs let
	 * it send) goes straight into that worker's packets. */
	np->owner_now = w->id == p->worker ? w : NULL;
	for (int i = 0; i < n; i++) {
		int drop = ctn_offload_egress(pkts[i], 0, w->scratch, nat_emit, np);
		if (drop) {
			st->drops[drop]++;
			continue;
		}
		st->tx_packets++;
		st->tx_bytes += pkts[i]->len;
	}
	np->owner_now = NULL;
	refill(np);
	bool more = np->ring_used != 0 || np->npend != 0;
	nat_unlock(np);
	if (more)
		nat_kick(np);
	/* This thread answers these frames itself (and writes to the host's
	 * sockets, waking their readers onto this CPU: the kernel expects a
	 * waker to sleep soon); spinning on afterwards only keeps those readers
	 * waiting. See README, NAT figures. */
	w->poll_veto = true;
}

/** start hook: poll the wake eventfd and the timerfd; first fill. */
static int nat_start(struct ctn_port *p, char *err, size_t errlen)
{
	struct nat_port *np = np_of(p);
	if (ctn_port_watch_input(p, np->wakefd, SUB_WAKE) < 0 ||
	    ctn_port_watch_input(p, np->timerfd, SUB_TIMER) < 0 ||
	    (np->dns.fd >= 0 && ctn_port_watch_input(p, np->dns.fd, SUB_SOCKETS) < 0)) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	refill(np);
	return 0;
}

/** Release @np's fds and memory (slirp is gone or never was). */
static void nat_free(struct nat_port *np)
{
	ctn_dns_close(&np->dns);
	if (np->wakefd >= 0)
		close(np->wakefd);
	if (np->timerfd >= 0)
		close(np->timerfd);
	free(np->ring);
	free(np->reg_at);
	free(np->seen);
	free(np);
}

/** close hook: every slirp socket closes with it. */
static void nat_close(struct ctn_port *p)
{
	struct nat_port *np = np_of(p);
	for (int i = 0; i < np->npend; i++)
		ctn_pkt_free(np->pend_pool, np->pend[i]);
	for (int i = 0; i < np->nreg; i++)
		ctn_port_unwatch(p, np->reg[i].fd);
	if (np->slirp)
		slirp_cleanup(np->slirp);
	ctn_port_unwatch(p, np->wakefd);
	ctn_port_unwatch(p, np->timerfd);
	ctn_port_unwatch(p, np->dns.fd);
	nat_free(np);
}

/** info hook. */
static void nat_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	const struct nat_port *np = (const struct nat_port *)p;
	char net[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &np->cfg.net, net, sizeof(net));
	inet_ntop(AF_INET, &np->cfg.gateway, gw, sizeof(gw));
	snprintf(info->kind, sizeof(info->kind), "nat");
	snprintf(info->state, sizeof(info->state), "net %s gw %s%s", net, gw,
		 np->dns.fd >= 0 ? ", DNS relayed upstream" : "");
	const struct {
		const char *name;
		uint64_t v;
	} c[] = {
		{"sockets", (uint64_t)np->nreg},     {"forwards", (uint64_t)np->nfwd},
		{"ring_drops", np->ring_drops},      {"guest_errors", np->guest_errors},
		{"syn_refused", np->syn_refused},    {"direct_frames", np->direct_frames},
		{"dns_queries", np->dns.queries},
		{"dns_answers", np->dns.answers},    {"dns_dropped", np->dns.dropped},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ctn_port_info_counter(info, c[i].name, c[i].v);
}

/** The vtable. */
static const struct ctn_port_ops nat_ops = {
	.rx_burst = nat_rx_burst,
	.tx_burst = nat_tx_burst,
	.close = nat_close,
	.info = nat_info,
	.start = nat_start,
};

/** What the "nat" kind takes (addresses dotted). */
static const struct ctn_attr_policy nat_policy[] = {
	{.name = "net", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, net), .required = true},
	{.name = "mask", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, mask), .required = true},
	{.name = "gateway", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, gateway), .required = true},
	{.name = "dns", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, dns), .required = true},
	{.name = "dhcpStart", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, dhcp_start), .required = true},
	{.name = "mtu", .type = CTN_ATTR_U32, .offset = offsetof(struct nat_cfg, mtu), .max = 65520},
	{.name = "ipv6", .type = CTN_ATTR_BOOL, .offset = offsetof(struct nat_cfg, ipv6)},
	{.name = "noHostLoopback", .type = CTN_ATTR_BOOL, .offset = offsetof(struct nat_cfg, no_host_loopback)},
	{.name = "maxSockets", .type = CTN_ATTR_U32, .offset = offsetof(struct nat_cfg, max_sockets)},
	{.name = "dnsUpstream", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_cfg, dns_upstream)},
	{.name = "dnsUpstreamPort", .type = CTN_ATTR_U16, .offset = offsetof(struct nat_cfg, dns_upstream_port)},
	{.name = "hostname", .type = CTN_ATTR_STR, .offset = offsetof(struct nat_cfg, hostname),
	 .size = sizeof(((struct nat_cfg *)0)->hostname)},
	{0},
};

/** open hook: a NAT with the settings of @cfgp (struct nat_cfg). Defaults:
 *  MTU 1500 when none is given, IPv6 prefix fd00::/64, DNS upstream port 53. */
static int nat_open(struct ctn_engine *e, const void *cfgp, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)e;
	struct nat_port *np = ctn_port_alloc(sizeof(*np));
	if (!np) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	np->cfg = *(const struct nat_cfg *)cfgp;
	const struct nat_cfg *cfg = &np->cfg;
	if (!np->cfg.mtu)
		np->cfg.mtu = 1500;
	if (!np->cfg.prefix6_len) {
		inet_pton(AF_INET6, "fd00::", &np->cfg.prefix6);
		np->cfg.prefix6_len = 64;
	}
	if (np->cfg.dns_upstream.s_addr && !np->cfg.dns_upstream_port)
		np->cfg.dns_upstream_port = 53;
	np->dns.fd = np->wakefd = np->timerfd = -1;
	if (cfg->dns_upstream_port && ctn_dns_open(&np->dns, cfg->dns, cfg->dns_upstream, cfg->dns_upstream_port) < 0) {
		snprintf(err, errlen, "DNS upstream: %s", strerror(errno));
		nat_free(np);
		return -1;
	}
	if (!np->cfg.max_sockets || np->cfg.max_sockets > NAT_MAX_FDS - 8)
		np->cfg.max_sockets = NAT_MAX_FDS - 8;
	atomic_flag_clear(&np->lock);
	np->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	np->timer_at = INT64_MAX;
	np->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	np->ring = malloc(NAT_RING);
	np->reg_at = malloc(NAT_FD_LIMIT * sizeof(*np->reg_at));
	np->seen = calloc(NAT_FD_LIMIT, 1);
	if (np->reg_at)
		memset(np->reg_at, 0xff, NAT_FD_LIMIT * sizeof(*np->reg_at)); /* all -1 */
	if (np->wakefd < 0 || np->timerfd < 0 || !np->ring || !np->reg_at || !np->seen) {
		snprintf(err, errlen, "eventfd/timerfd: %s", strerror(errno));
		goto bad;
	}
	SlirpConfig sc = {
		.version = 4,
		.in_enabled = true,
		.vnetwork = cfg->net,
		.vnetmask = cfg->mask,
		.vhost = cfg->gateway,
		.in6_enabled = cfg->ipv6,
		.vprefix_addr6 = cfg->prefix6,
		.vprefix_len = cfg->prefix6_len,
		.vhostname = cfg->hostname[0] ? cfg->hostname : NULL,
		.vdhcp_start = cfg->dhcp_start,
		.vnameserver = cfg->dns,
		.if_mtu = cfg->mtu,
		.if_mru = cfg->mtu,
		.disable_host_loopback = cfg->no_host_loopback,
	};
	if (cfg->ipv6) {
		/* The host (gateway) and DNS addresses inside the prefix: ::2 and ::3. */
		sc.vhost6 = cfg->prefix6;
		sc.vhost6.s6_addr[15] = 2;
		sc.vnameserver6 = cfg->prefix6;
		sc.vnameserver6.s6_addr[15] = 3;
	}
	np->slirp = slirp_new(&sc, &nat_callbacks, np);
	if (!np->slirp) {
		snprintf(err, errlen, "libslirp refused the settings (network, addresses or MTU)");
		goto bad;
	}
	np->base.ops = &nat_ops;
	np->base.fd = -1;
	ports[0] = &np->base;
	return 0;
bad:
	nat_free(np);
	return -1;
}

/** What set takes: a port forward to add, or (remove) to take away. */
struct nat_set_cfg {
	bool remove;           /**< take the forward away (else add it) */
	struct nat_fwd f;  /**< the forward; a removal names the host side only */
};

/** The policy of set. */
static const struct ctn_attr_policy nat_set_policy[] = {
	{.name = "remove", .type = CTN_ATTR_BOOL, .offset = offsetof(struct nat_set_cfg, remove)},
	{.name = "udp", .type = CTN_ATTR_BOOL, .offset = offsetof(struct nat_set_cfg, f.udp)},
	{.name = "hostAddr", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_set_cfg, f.host_addr), .required = true},
	{.name = "hostPort", .type = CTN_ATTR_U16, .offset = offsetof(struct nat_set_cfg, f.host_port), .required = true},
	{.name = "guestAddr", .type = CTN_ATTR_IPV4, .offset = offsetof(struct nat_set_cfg, f.guest_addr)},
	{.name = "guestPort", .type = CTN_ATTR_U16, .offset = offsetof(struct nat_set_cfg, f.guest_port)},
	{0},
};

/** set hook: add or remove a port forward (others paused). */
static int nat_set(struct ctn_port *p, const void *cfgp, char *err, size_t errlen)
{
	const struct nat_set_cfg *c = cfgp;
	const struct nat_fwd *f = &c->f;
	bool add = !c->remove;
	struct nat_port *np = np_of(p);
	if (add && (!f->host_port || !f->guest_port || !f->guest_addr.s_addr)) {
		snprintf(err, errlen, "a forward needs a host port, a guest address and a guest port");
		return -1;
	}
	int i = 0;
	while (i < np->nfwd && !(np->fwd[i].udp == f->udp && np->fwd[i].host_addr.s_addr == f->host_addr.s_addr &&
				np->fwd[i].host_port == f->host_port))
		i++;
	if (add) {
		if (i < np->nfwd) {
			snprintf(err, errlen, "a forward from that host address and port exists");
			return -1;
		}
		if (np->nfwd == (int)(sizeof(np->fwd) / sizeof(np->fwd[0]))) {
			snprintf(err, errlen, "too many forwards (%d)", np->nfwd);
			return -1;
		}
		if (slirp_add_hostfwd(np->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr, f->guest_port) < 0) {
			snprintf(err, errlen, "cannot listen on %s port %u: %s", f->udp ? "UDP" : "TCP", f->host_port,
				 strerror(errno));
			return -1;
		}
		np->fwd[np->nfwd++] = *f;
	} else {
		if (i == np->nfwd) {
			snprintf(err, errlen, "no such forward");
			return -1;
		}
		slirp_remove_hostfwd(np->slirp, f->udp, f->host_addr, f->host_port);
		np->fwd[i] = np->fwd[--np->nfwd];
	}
	refill(np);
	return 0;
}

/** The "nat" kind: set adds and removes port forwards. */
const struct ctn_kind ctn_kind_nat = {
	.name = "nat",
	.sides = 1,
	.policy = nat_policy,
	.cfg_size = sizeof(struct nat_cfg),
	.open = nat_open,
	.set_policy = nat_set_policy,
	.set_cfg_size = sizeof(struct nat_set_cfg),
	.set = nat_set,
};
