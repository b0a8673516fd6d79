/* vhost_port.c - the "vhost" kind: a vhost-user port, a VM (QEMU) or a DPDK application
 * (virtio_user) plugged into a lan through shared-memory virtqueues.
 *
 *   frontend ──unix socket──▶ control (worker 0, others paused): messages,
 *      │                      connect / accept / reconnect
 *      ├─ kick eventfds ────▶ rx_burst (the port's worker): guest TX rings
 *      └◀─ call eventfds ─── tx_burst (any worker): guest RX rings
 *
 * The socket is a server (we listen; one frontend at a time) or a client (we
 * connect, and reconnect with backoff when the frontend goes away). Messages are
 * carried out by vhost_user.c. A frontend that breaks the protocol or hands us a
 * bad ring (a looped chain, an address outside its memory) is disconnected with
 * the reason logged and kept in the port's state; the port stays, waits for the
 * next connection, and the rest of the switch forwards on. So is a frontend
 * that shrinks its memory under us: unless it is sealed against that, every
 * burst runs under a guard (vhost_guard.h) that turns the SIGBUS into a reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "kind.h"
#include "offload.h"
#include "port.h"
#include "vhost_guard.h"
#include "vhost_user.h"

#define SUB_LISTEN 1      /**< control sub-fd: the listening socket */
#define SUB_CONN 2        /**< control sub-fd: the connection */
#define SUB_KICK 3        /**< input sub-fds: SUB_KICK + queue index */
#define MAX_IOV 64        /**< pieces of one chain we follow */
#define MAX_HEADS 64      /**< guest rx chains one frame may fill (MRG_RXBUF) */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/** A vhost-user port. */
struct vhost_port {
	struct ctn_port base;                /**< must be first */
	char path[108];                      /**< socket path */
	bool client;                         /**< we connect (else we listen) */
	int lfd;                             /**< listening socket, or -1 */
	int cfd;                             /**< connection to the frontend, or -1 */
	struct ctn_vhost_dev dev;            /**< protocol and ring state */
	int kick_watched[CTN_VHOST_MAX_VQ];  /**< kick fd we poll for queue i, or -1 */
	CTN_ATOMIC(bool) dev_broken;         /**< a worker found the rings bad */
	char dev_reason[128];                /**< why */
	uint32_t backoff_ms;                 /**< client: wait before the next try */
	uint64_t retry_at_ms;                /**< client: when to try */
	atomic_flag rxq_lock[CTN_VHOST_MAX_QP]; /**< one writer per guest rx ring */
	uint64_t connections;                /**< frontends that came */
	char state[96];                      /**< for show */
	struct ctn_vhost_msg in;             /**< message being read */
	uint32_t in_len;                     /**< bytes of it read so far */
	int in_fds[CTN_VHOST_MAX_FDS];       /**< fds that came with it */
	int in_nfds;
};

/** Our port from the base pointer. */
static inline struct vhost_port *vp_of(struct ctn_port *p) { return (struct vhost_port *)p; }

/** Set the state line shown by show. */
static void set_state(struct vhost_port *vp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_state(struct vhost_port *vp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vp->state, sizeof(vp->state), fmt, ap);
	va_end(ap);
}

/** Offloads we may hand the guest, from what it acked. */
static uint32_t guest_caps(const struct ctn_vhost_dev *d)
{
	uint32_t caps = 0;
	if (ctn_vhost_has(d, CTN_VIRTIO_NET_F_GUEST_CSUM))
		caps |= CTN_CAP_CSUM;
	if ((caps & CTN_CAP_CSUM) && ctn_vhost_has(d, CTN_VIRTIO_NET_F_GUEST_TSO4) &&
	    ctn_vhost_has(d, CTN_VIRTIO_NET_F_GUEST_TSO6) && ctn_vhost_has(d, CTN_VIRTIO_NET_F_GUEST_ECN))
		caps |= CTN_CAP_TSO;
	return caps;
}

/** Make the polled kick fds match the device's guest tx queues. */
static void sync_kicks(struct vhost_port *vp)
{
	for (int i = 1; i < CTN_VHOST_MAX_VQ; i += 2) {
		struct ctn_virtq *vq = &vp->dev.vq[i];
		int want = vp->cfd >= 0 && vq->kickfd >= 0 ? vq->kickfd : -1;
		if (vp->kick_watched[i] == want)
			continue;
		ctn_port_unwatch(&vp->base, vp->kick_watched[i]);
		vp->kick_watched[i] = -1;
		if (want >= 0 && ctn_port_watch_input(&vp->base, want, SUB_KICK + (uint32_t)i) == 0)
			vp->kick_watched[i] = want;
	}
}

/** Drop the frontend: close the connection and every fd it gave, forget the
 *  rings; a server waits for the next one, a client tries again. */
static void disconnect(struct vhost_port *vp, const char *why)
{
	struct ctn_port *p = &vp->base;
	if (vp->cfd >= 0) {
		ctn_port_unwatch(p, vp->cfd);
		close(vp->cfd);
		vp->cfd = -1;
		ctn_engine_log(p->eng, "vhost %s: frontend disconnected: %s", vp->path, why);
	}
	for (int i = 0; i < vp->in_nfds; i++)
		close(vp->in_fds[i]);
	vp->in_nfds = 0;
	vp->in_len = 0;
	sync_kicks(vp); /* unwatch before the fds close */
	ctn_vhost_reset(&vp->dev);
	p->caps = 0;
	atomic_store(&vp->dev_broken, false);
	if (vp->client) {
		vp->retry_at_ms = 0; /* the tick sets it */
		set_state(vp, "reconnecting (%s)", why);
	} else {
		set_state(vp, "listening (%s)", why);
	}
}

/** We have a connection @fd to a frontend. */
static void connected(struct vhost_port *vp, int fd)
{
	vp->cfd = fd;
	vp->connections++;
	vp->backoff_ms = BACKOFF_MIN_MS;
	if (ctn_port_watch_control(&vp->base, fd, SUB_CONN) < 0) {
		disconnect(vp, "epoll failed");
		return;
	}
	set_state(vp, "connected");
	ctn_engine_log(vp->base.eng, "vhost %s: frontend connected", vp->path);
}

/** Client: one attempt to connect; schedules the next on failure. */
static void try_connect(struct vhost_port *vp, uint64_t now_ms)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, vp->path, strlen(vp->path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		connected(vp, fd);
		return;
	}
	int er = errno;
	if (fd >= 0)
		close(fd);
	set_state(vp, "connecting: %s", strerror(er));
	vp->retry_at_ms = now_ms + vp->backoff_ms;
	vp->backoff_ms = vp->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : vp->backoff_ms * 2;
}

/** Send @r to the frontend. Returns 0 or -1. */
static int send_reply(struct vhost_port *vp, struct ctn_vhost_msg *r)
{
	size_t len = CTN_VHOST_HDR_SIZE + r->size;
	ssize_t n = send(vp->cfd, r, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n == (ssize_t)len ? 0 : -1;
}

/** The whole message in vp->in is here: carry it out. */
static void handle_message(struct vhost_port *vp)
{
	struct ctn_vhost_msg reply;
	bool answer;
	enum ctn_vhost_result rc = ctn_vhost_handle(&vp->dev, &vp->in, vp->in_fds, vp->in_nfds, &reply, &answer);
	for (int i = 0; i < vp->in_nfds; i++)
		if (vp->in_fds[i] >= 0)
			close(vp->in_fds[i]);
	vp->in_nfds = 0;
	vp->in_len = 0;
	if (rc == CTN_VHOST_FATAL) {
		char why[160];
		snprintf(why, sizeof(why), "%s: %s", ctn_vhost_req_name(vp->in.request), vp->dev.err);
		disconnect(vp, why);
		return;
	}
	if (rc == CTN_VHOST_REFUSED)
		ctn_engine_log(vp->base.eng, "vhost %s: %s", vp->path, vp->dev.err);
	if (rc == CTN_VHOST_OK && vp->in.request == CTN_VHOST_SET_MEM_TABLE)
		ctn_engine_log(vp->base.eng, "vhost %s: memory table of %u region(s), %s", vp->path, vp->dev.mem.n,
			       vp->dev.mem.sealed ? "sealed against shrinking: accessed unguarded"
						  : "not sealed against shrinking: accessed under the SIGBUS guard");
	if (answer && send_reply(vp, &reply) < 0) {
		disconnect(vp, "cannot answer the frontend");
		return;
	}
	vp->base.caps = guest_caps(&vp->dev);
	sync_kicks(vp);
}

/** The connection is readable: take in what there is of the current message. */
static void conn_readable(struct vhost_port *vp)
{
	for (;;) {
		uint32_t want = vp->in_len < CTN_VHOST_HDR_SIZE ? CTN_VHOST_HDR_SIZE : CTN_VHOST_HDR_SIZE + vp->in.size;
		if (vp->in_len >= CTN_VHOST_HDR_SIZE && vp->in.size > sizeof(vp->in.payload)) {
			disconnect(vp, "message payload too large");
			return;
		}
		char cbuf[CMSG_SPACE(sizeof(int) * CTN_VHOST_MAX_FDS)];
		struct iovec iov = {(uint8_t *)&vp->in + vp->in_len, want - vp->in_len};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ssize_t n = iov.iov_len ? recvmsg(vp->cfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) : 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			disconnect(vp, strerror(errno));
			return;
		}
		if (iov.iov_len && n == 0) {
			disconnect(vp, "frontend closed the socket");
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int nf = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *f = (int *)CMSG_DATA(c);
			for (int i = 0; i < nf; i++) {
				if (vp->in_nfds < CTN_VHOST_MAX_FDS)
					vp->in_fds[vp->in_nfds++] = f[i];
				else
					close(f[i]);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			disconnect(vp, "too many fds in one message");
			return;
		}
		vp->in_len += (uint32_t)n;
		if (vp->in_len >= CTN_VHOST_HDR_SIZE && vp->in_len == CTN_VHOST_HDR_SIZE + vp->in.size) {
			handle_message(vp);
			if (vp->cfd < 0)
				return;
		}
	}
}

/** control hook: the listener, the connection, or a worker's request. */
static void vh_control(struct ctn_port *p, uint32_t sub, uint32_t events)
{
	struct vhost_port *vp = vp_of(p);
	if (sub == CTN_PORT_SUB_REQUEST) {
		if (atomic_load(&vp->dev_broken))
			disconnect(vp, vp->dev_reason);
		return;
	}
	if (sub == SUB_LISTEN) {
		int fd = accept4(vp->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (vp->cfd >= 0) {
			/* One frontend at a time: a second one is told no by the close. */
			ctn_engine_log(p->eng, "vhost %s: a second frontend refused (one is connected)", vp->path);
			close(fd);
			return;
		}
		connected(vp, fd);
		return;
	}
	if (sub == SUB_CONN && vp->cfd >= 0) {
		if (events & EPOLLIN)
			conn_readable(vp);
		else if (events & (EPOLLHUP | EPOLLERR))
			disconnect(vp, "frontend hung up");
	}
}

/** tick hook: a client whose frontend is away tries again. */
static void vh_tick(struct ctn_port *p, uint64_t now_ms)
{
	struct vhost_port *vp = vp_of(p);
	if (!vp->client || vp->cfd >= 0)
		return;
	if (!vp->retry_at_ms)
		vp->retry_at_ms = now_ms + vp->backoff_ms;
	if (now_ms >= vp->retry_at_ms)
		try_connect(vp, now_ms);
}

/** A worker found the device's rings or memory bad: have worker 0 disconnect
 *  it, with the reason. */
static void dev_break(struct vhost_port *vp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dev_break(struct vhost_port *vp, const char *fmt, ...)
{
	if (atomic_exchange(&vp->dev_broken, true))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vp->dev_reason, sizeof(vp->dev_reason), fmt, ap);
	va_end(ap);
	ctn_port_request_control(&vp->base);
}

/**
 * Run @fn(@arg), which touches @vp's guest memory, under a guard against its
 * shrinking (vhost_guard.h), or straight when the memory is sealed against
 * that. Returns what @fn returned, or -1 when the guest's memory faulted: the
 * device is then broken with the reason, and what @fn left in @arg says what
 * to undo (it stores it before the guest access it covers, with a compiler
 * barrier). Not inlined, so that the recovery point is in a frame of its own
 * whose locals do not change after sigsetjmp.
 */
static __attribute__((noinline)) int guarded(struct vhost_port *vp, int (*fn)(void *), void *arg)
{
	if (vp->dev.mem.sealed)
		return fn(arg);
	struct ctn_vguard g;
	if (sigsetjmp(g.env, 0)) {
		char why[sizeof(vp->dev_reason)];
		dev_break(vp, "%s", ctn_vguard_reason(&vp->dev.mem, why, sizeof(why)));
		return -1;
	}
	ctn_vguard_on(&g, &vp->dev.mem);
	int r = fn(arg);
	ctn_vguard_off(&g);
	return r;
}

/** Copy chain pieces @iov (@n of them, @total bytes) into @pkt: the virtio-net
 *  header, then the frame. Returns 0 or a drop reason. */
static int chain_to_pkt(struct vhost_port *vp, const struct ctn_vbuf *iov, int n, uint32_t total,
			struct ctn_pkt *pkt)
{
	uint32_t hl = vp->dev.hdr_len;
	if (total < hl + CTN_FRAME_MIN)
		return CTN_DROP_RUNT;
	if (total - hl > CTN_FRAME_MAX)
		return CTN_DROP_TOO_BIG;
	uint8_t hbuf[16] = {0}; /* hl is 10 or 12 */
	uint32_t hdone = 0, fdone = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *s = iov[i].p;
		uint32_t len = iov[i].len;
		if (hdone < hl) {
			uint32_t k = hl - hdone < len ? hl - hdone : len;
			memcpy(hbuf + hdone, s, k);
			hdone += k;
			s += k;
			len -= k;
		}
		memcpy(pkt->data + fdone, s, len);
		fdone += len;
	}
	struct ctn_vnet_wire w;
	memcpy(&w, hbuf, sizeof(w));
	pkt->len = fdone;
	return ctn_vnet_decode(&w, pkt->len, &pkt->vnet) < 0 ? CTN_DROP_BAD_VNET : 0;
}

/** One rx burst, as guarded() runs it. */
struct vh_rx {
	struct vhost_port *vp;
	struct ctn_worker *w;
	struct ctn_pkt **pkts; /**< where the frames go */
	int max;               /**< room in @pkts */
	int held;              /**< packets of @pkts that are ours, one being filled included */
};

/** guarded() fn: frames the guest sent, from its tx rings, into the burst
 *  @arg (a struct vh_rx). Returns how many there are. */
static int rx_rings(void *arg)
{
	struct vh_rx *rx = arg;
	struct vhost_port *vp = rx->vp;
	struct ctn_worker *w = rx->w;
	struct ctn_pkt **pkts = rx->pkts;
	int max = rx->max;
	struct ctn_port *p = &vp->base;
	struct ctn_port_stats *st = &p->local[w->id].st;
	int got = 0;
	uint32_t bytes = 0;
	struct ctn_vbuf iov[MAX_IOV];
	for (int q = 1; q < CTN_VHOST_MAX_VQ && got < max; q += 2) {
		struct ctn_virtq *vq = &vp->dev.vq[q];
		if (!ctn_virtq_ready(vq))
			continue;
		uint64_t v;
		if (vq->kickfd >= 0 && read(vq->kickfd, &v, sizeof(v)) < 0) {
			/* EAGAIN: no kick pending */
		}
		while (got < max && bytes < CTN_BURST_BYTES) {
			uint16_t head;
			uint32_t total;
			int n = ctn_virtq_pop(vq, &vp->dev.mem, false, iov, MAX_IOV, &head, &total);
			if (n < 0) {
				dev_break(vp, "bad guest ring: %s", vq->broken);
				goto out;
			}
			if (n == 0) {
				if (ctn_virtq_notify(vq, true))
					continue;
				break;
			}
			struct ctn_pkt *pkt = ctn_pkt_alloc(&w->pool);
			if (!pkt) {
				ctn_virtq_unpop(vq);
				st->drops[CTN_DROP_NO_BUFFER]++;
				break;
			}
			pkts[got] = pkt;
			rx->held = got + 1;
			atomic_signal_fence(memory_order_seq_cst); /* both stored before the copy */
			int drop = chain_to_pkt(vp, iov, n, total, pkt);
			ctn_virtq_push(vq, head, 0);
			if (drop) {
				st->drops[drop]++;
				rx->held = got;
				atomic_signal_fence(memory_order_seq_cst); /* not ours before it is freed */
				ctn_pkt_free(&w->pool, pkt);
				continue;
			}
			pkt->in_port = p->id;
			st->rx_packets++;
			st->rx_bytes += pkt->len;
			bytes += pkt->len;
			got++;
		}
		ctn_virtq_flush(vq);
		/* Chains left for later (the burst is full): no kick will come for
		 * them, so kick ourselves and epoll brings us back. */
		if (ctn_virtq_avail(vq)) {
			uint64_t one = 1;
			if (write(vq->kickfd, &one, sizeof(one)) < 0) {
				/* the counter is saturated: readable anyway */
			}
		}
	}
out:
	return got;
}

/** rx_burst hook: frames the guest sent, from its tx rings; under the guard
 *  unless its memory is sealed (a fault frees what the burst took). */
static int vh_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct vhost_port *vp = vp_of(p);
	if (vp->cfd < 0 || atomic_load_explicit(&vp->dev_broken, memory_order_relaxed))
		return 0;
	struct vh_rx rx = {vp, w, pkts, max, 0};
	int got = guarded(vp, rx_rings, &rx);
	if (got < 0) {
		for (int i = 0; i < rx.held; i++)
			ctn_pkt_free(&w->pool, pkts[i]);
		return 0;
	}
	return got;
}

/** One tx burst, as guarded() runs it; vh_emit writes to its ring. */
struct vh_tx {
	struct vhost_port *vp;
	struct ctn_virtq *vq;      /**< the guest rx ring */
	struct ctn_port_stats *st; /**< the calling worker's counters */
	struct ctn_worker *w;
	struct ctn_pkt **pkts;     /**< the frames */
	int n;                     /**< how many */
	int done;                  /**< frames finished */
};

/** Write @len bytes of @src at cursor (@iov, *@i, *@off), across pieces. */
static void put_bytes(const struct ctn_vbuf *iov, int n, int *i, uint32_t *off, const uint8_t *src, uint32_t len)
{
	while (len && *i < n) {
		uint32_t room = iov[*i].len - *off, k = len < room ? len : room;
		memcpy(iov[*i].p + *off, src, k);
		src += k;
		len -= k;
		*off += k;
		if (*off == iov[*i].len) {
			(*i)++;
			*off = 0;
		}
	}
}

/** ctn_emit_fn: put one frame into the guest's rx ring (several chains with
 *  MRG_RXBUF), header first. */
static int vh_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	struct vh_tx *tx = arg;
	struct vhost_port *vp = tx->vp;
	struct ctn_virtq *vq = tx->vq;
	uint32_t hl = vp->dev.hdr_len, need = hl + len;
	bool mrg = ctn_vhost_has(&vp->dev, CTN_VIRTIO_NET_F_MRG_RXBUF);
	struct ctn_vbuf iov[MAX_IOV];
	uint16_t heads[MAX_HEADS];
	uint32_t lens[MAX_HEADS];
	int nheads = 0, npieces = 0;
	uint32_t have = 0;
	while (have < need) {
		if (nheads == MAX_HEADS || (!mrg && nheads == 1))
			goto short_of_room;
		uint16_t head;
		uint32_t total;
		int n = ctn_virtq_pop(vq, &vp->dev.mem, true, iov + npieces, MAX_IOV - npieces, &head, &total);
		if (n < 0) {
			dev_break(vp, "bad guest ring: %s", vq->broken);
			return CTN_DROP_TX_DOWN;
		}
		if (n == 0)
			goto short_of_room;
		npieces += n;
		heads[nheads] = head;
		lens[nheads] = total;
		nheads++;
		have += total;
	}
	struct ctn_vnet_wire w = {0};
	ctn_vnet_encode(vnet, (uint8_t *)&w, sizeof(w));
	w.num_buffers = (uint16_t)nheads;
	int i = 0;
	uint32_t off = 0;
	put_bytes(iov, npieces, &i, &off, (const uint8_t *)&w, hl);
	put_bytes(iov, npieces, &i, &off, data, len);
	uint32_t left = need;
	for (int h = 0; h < nheads; h++) {
		uint32_t used = left < lens[h] ? left : lens[h];
		ctn_virtq_push(vq, heads[h], used);
		left -= used;
	}
	tx->st->tx_packets++;
	tx->st->tx_bytes += len;
	return 0;
short_of_room:
	while (nheads--)
		ctn_virtq_unpop(vq);
	return CTN_DROP_TX_FULL;
}

/** guarded() fn: the frames of burst @arg (a struct vh_tx) into its ring. */
static int tx_frames(void *arg)
{
	struct vh_tx *tx = arg;
	for (int i = 0; i < tx->n; i++) {
		int drop = ctn_offload_egress(tx->pkts[i], tx->vp->base.caps, tx->w->scratch, vh_emit, tx);
		if (drop)
			tx->st->drops[drop]++;
		tx->done = i + 1;
		atomic_signal_fence(memory_order_seq_cst); /* stored before the next frame's copy */
	}
	ctn_virtq_flush(tx->vq);
	return 0;
}

/** tx_burst hook: frames for the guest, into one of its rx rings (the calling
 *  worker's, by index, so workers do not share a ring while there are enough;
 *  a ring shared anyway is taken in turns, one burst at a time). */
static void vh_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct vhost_port *vp = vp_of(p);
	struct vh_tx tx = {vp, NULL, &p->local[w->id].st, w, pkts, n, 0};
	if (vp->cfd < 0 || atomic_load_explicit(&vp->dev_broken, memory_order_relaxed)) {
		tx.st->drops[CTN_DROP_TX_DOWN] += (uint64_t)n;
		return;
	}
	uint32_t qp = w->id % CTN_VHOST_MAX_QP;
	if (!ctn_virtq_ready(&vp->dev.vq[2 * qp]))
		qp = 0;
	tx.vq = &vp->dev.vq[2 * qp];
	if (!ctn_virtq_ready(tx.vq)) {
		tx.st->drops[CTN_DROP_TX_DOWN] += (uint64_t)n;
		return;
	}
	while (atomic_flag_test_and_set_explicit(&vp->rxq_lock[qp], memory_order_acquire))
		;
	/* A fault in the guest's memory: the frames not sent are dropped. */
	if (guarded(vp, tx_frames, &tx) < 0)
		tx.st->drops[CTN_DROP_TX_DOWN] += (uint64_t)(n - tx.done);
	atomic_flag_clear_explicit(&vp->rxq_lock[qp], memory_order_release);
}

/** Listen at vp->path: a stale socket file (nobody answers) is replaced; a
 *  live one, or anything else at the path, is an error. */
static int listen_at(struct vhost_port *vp, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, vp->path, strlen(vp->path) + 1);
	struct stat st;
	if (lstat(vp->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", vp->path);
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = probe >= 0 ? connect(probe, (struct sockaddr *)&sa, sizeof(sa)) : -1;
		if (probe >= 0)
			close(probe);
		if (rc == 0) {
			snprintf(err, errlen, "%s is in use: something listens on it", vp->path);
			return -1;
		}
		unlink(vp->path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", vp->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	vp->lfd = fd;
	if (ctn_port_watch_control(&vp->base, fd, SUB_LISTEN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	set_state(vp, "listening");
	return 0;
}

/** start hook: listen, or make the first connection attempt. */
static int vh_start(struct ctn_port *p, char *err, size_t errlen)
{
	struct vhost_port *vp = vp_of(p);
	if (!vp->client)
		return listen_at(vp, err, errlen);
	try_connect(vp, 0);
	vp->retry_at_ms = 0;
	return 0;
}

/** close hook: hang up, stop listening (removing our socket file). */
static void vh_close(struct ctn_port *p)
{
	struct vhost_port *vp = vp_of(p);
	disconnect(vp, "port removed");
	if (vp->lfd >= 0) {
		ctn_port_unwatch(p, vp->lfd);
		close(vp->lfd);
		unlink(vp->path);
	}
	free(vp);
}

/** info hook. */
static void vh_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	const struct vhost_port *vp = (const struct vhost_port *)p;
	snprintf(info->kind, sizeof(info->kind), "vhost");
	const char *base = strrchr(vp->path, '/');
	snprintf(info->ifname, sizeof(info->ifname), "%.31s", base ? base + 1 : vp->path);
	info->caps = p->caps;
	info->hdr_len = vp->dev.hdr_len;
	info->vnet_hdr = true;
	snprintf(info->state, sizeof(info->state), "%s%.80s", vp->client ? "client, " : "", vp->state);
	snprintf(info->counters[0].name, sizeof(info->counters[0].name), "connections");
	info->counters[0].value = vp->connections;
	info->ncounters = 1;
}

/** The vtable. */
static const struct ctn_port_ops vhost_ops = {
	.rx_burst = vh_rx_burst,
	.tx_burst = vh_tx_burst,
	.close = vh_close,
	.info = vh_info,
	.start = vh_start,
	.control = vh_control,
	.tick = vh_tick,
};

/** Settings of a vhost-user port. */
struct vhost_cfg {
	char path[108]; /**< socket path (sun_path's size) */
	bool client;    /**< connect to it (else listen at it) */
};

/** What the "vhost" kind takes. */
static const struct ctn_attr_policy vhost_policy[] = {
	{.name = "path", .type = CTN_ATTR_STR, .offset = offsetof(struct vhost_cfg, path),
	 .size = sizeof(((struct vhost_cfg *)0)->path), .required = true},
	{.name = "client", .type = CTN_ATTR_BOOL, .offset = offsetof(struct vhost_cfg, client)},
	{0},
};

/** open hook: a server socket at the path, or with client a connection to it;
 *  the socket is made in the start hook. */
static int vh_open(struct ctn_engine *e, const void *cfgp, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)e;
	const struct vhost_cfg *cfg = cfgp;
	struct vhost_port *vp = ctn_port_alloc(sizeof(*vp));
	if (!vp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	_Static_assert(sizeof(vp->path) == sizeof(cfg->path), "the path fits");
	memcpy(vp->path, cfg->path, sizeof(vp->path));
	vp->client = cfg->client;
	vp->lfd = vp->cfd = -1;
	for (int i = 0; i < CTN_VHOST_MAX_VQ; i++)
		vp->kick_watched[i] = -1;
	for (int i = 0; i < CTN_VHOST_MAX_QP; i++)
		atomic_flag_clear(&vp->rxq_lock[i]);
	vp->backoff_ms = BACKOFF_MIN_MS;
	ctn_vhost_init(&vp->dev);
	vp->base.ops = &vhost_ops;
	vp->base.fd = -1;
	vp->base.no_poll = true;
	ports[0] = &vp->base;
	return 0;
}

/** The "vhost" kind: nothing to set at run time. */
const struct ctn_kind ctn_kind_vhost = {
	.name = "vhost",
	.sides = 1,
	.policy = vhost_policy,
	.cfg_size = sizeof(struct vhost_cfg),
	.open = vh_open,
};
