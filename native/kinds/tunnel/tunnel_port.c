/* tunnel_port.c - the "vxlan" and "geneve" kinds: a lan stretched to other
 * hosts over UDP, interoperable with Linux's vxlan device, Open vSwitch's
 * tunnel ports and hardware VTEPs (encap.h has the headers).
 *
 * Sockets (all in the daemon's network namespace, opened by the kind):
 * - one receive socket bound to [local]:dstport, with UDP_GRO: the kernel
 *   hands over a run of datagrams of one flow as one buffer with their size,
 *   read in batches with recvmmsg(); each datagram is checked (sender among
 *   the remotes, overlay header, VNI, inner length) and its frame copied into
 *   a packet of the pool;
 * - send sockets bound to up to SEND_SOCKS ports spread over the source port
 *   range: a hash of the inner flow picks one, so that routers that spread
 *   flows over paths by UDP ports (ECMP) see the overlay's flows apart. Each
 *   port has two sockets over IPv4 unless udpcsum: one with zero UDP
 *   checksums (SO_NO_CHECK, as Linux's vxlan sends by default) for single
 *   datagrams, one with checksums for UDP GSO, which Linux refuses without.
 *
 * Transmit: a GSO frame (from a vnet tap) is cut into segments that fit the
 * tunnel's MTU (its gso_size lowered when the lan's MTU is larger), each
 * behind its overlay header, laid out one after the other in the worker's
 * buffer, and sent as one UDP GSO datagram per run of segments (UDP_SEGMENT):
 * the kernel makes the datagrams, or the NIC does. Frames go to the remote
 * their destination station was learned behind; broadcast, multicast and
 * unknown unicast to every remote (head-end replication). All of a burst goes
 * out in as few sendmmsg() calls as there are send sockets in turn.
 *
 * Learning: the remote a station's frames came from is kept in a table of the
 * port's own (the lan's MAC table, keyed the same way, with remotes for
 * ports), aged with the lan. With `learn`, a datagram from an address that is
 * not a remote makes it one (up to MAX_REMOTES); without, it is dropped and
 * counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "closer.h"
#include "encap.h"
#include "engine.h"
#include "gro.h"
#include "gso.h"
#include "kind.h"
#include "mactable.h"
#include "offload.h"
#include "port.h"

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef UDP_NO_CHECK6_RX
#define UDP_NO_CHECK6_RX 102
#endif
#ifndef SO_NO_CHECK
#define SO_NO_CHECK 11
#endif

#define MAX_REMOTES 64          /**< remotes of one port, given and learned */
#define SEND_SOCKS 16           /**< send sockets (source ports) of one port, at most */
#define RX_BATCH 8              /**< datagrams (or GRO runs of them) per recvmmsg */
#define RX_BUF 65536u           /**< bytes of one receive slot: a GRO run is at most 64 KiB */
#define TX_BUF (512u << 10)     /**< bytes of a worker's transmit buffer (segments and headers) */
#define TX_MSGS 64              /**< messages per sendmmsg */
#define GSO_SEGS_MAX 64         /**< segments per UDP GSO datagram (UDP_MAX_SEGMENTS is 64 on older kernels) */
#define GSO_BYTES_MAX 65000u    /**< UDP payload of one UDP GSO datagram, at most (under 65507) */
#define MACS 4096               /**< stations the learned-remote table holds */
#define AGING_MS 300000u        /**< the table's aging until the lan's is read */
#define SOCK_BUF (4 << 20)      /**< send buffer size asked for */
#define RCV_BUF (16 << 20)      /**< receive buffer size asked for: room for the worker's scheduling delays */

/** Counters of one worker's transmissions (any worker sends on the port). */
struct tun_txstats {
	uint64_t datagrams;   /**< UDP datagrams sent (a GSO run counts its segments) */
	uint64_t gso_sends;   /**< UDP GSO messages */
	uint64_t flooded;     /**< frames sent to every remote (broadcast, multicast, unknown) */
	uint64_t unreachable; /**< datagrams the kernel refused for their remote (no route, ...) */
	uint64_t too_big;     /**< frames over the tunnel's MTU, not sent */
} __attribute__((aligned(64)));

/** A message being gathered for sendmmsg. */
struct tun_msg {
	struct iovec iov;                    /**< the datagram (or GSO run) */
	char ctl[CMSG_SPACE(sizeof(uint16_t))]; /**< UDP_SEGMENT, for a run */
	uint16_t segs;                       /**< datagrams it stands for */
};

/** What a worker gathers during one tx_burst (on the worker's own memory). */
struct tun_tx {
	struct mmsghdr msgs[TX_MSGS];
	struct tun_msg m[TX_MSGS];
	uint32_t n;     /**< messages gathered */
	int sock;       /**< the socket they go out on, or -1 */
	uint32_t used;  /**< bytes of the worker's buffer in use */
	uint8_t *buf;   /**< the worker's buffer (TX_BUF bytes) */
};

/** A tunnel port. */
struct tun_port {
	struct ctn_port base;  /**< must be first */
	enum tun_type type;    /**< VXLAN or Geneve */
	uint32_t vni;          /**< 24 bits */
	int family;            /**< AF_INET or AF_INET6 (the underlay) */
	uint16_t dstport;      /**< UDP port of every remote, and ours */
	uint32_t mtu;          /**< inner MTU: bytes of an inner frame's IP packet, at most */
	bool learn;            /**< datagrams from elsewhere add remotes */
	bool udpcsum;          /**< IPv4: checksums on single datagrams too */
	int rx_sock;           /**< the receive socket (base.fd) */
	uint32_t nsend;        /**< send ports */
	int send[SEND_SOCKS];  /**< per send port: with UDP checksums (GSO runs, IPv6) */
	int send0[SEND_SOCKS]; /**< per send port: zero checksum (IPv4 singles), or -1 */
	uint16_t sport[SEND_SOCKS]; /**< the ports bound */
	char local[INET6_ADDRSTRLEN]; /**< the local address, "" for any */
	/** Remotes; those given first, learned ones appended by the port's owner
	 *  worker, published by nremotes (read by every worker). */
	struct tun_addr remotes[MAX_REMOTES];
	uint32_t ngiven;       /**< how many were given */
	CTN_ATOMIC(uint32_t) nremotes;
	struct ctn_mactable macs; /**< station -> remote index */
	uint8_t *txbuf;        /**< CTN_MAX_WORKERS transmit buffers of TX_BUF bytes */
	struct tun_tx *tx;     /**< CTN_MAX_WORKERS gatherings */
	struct tun_txstats txst[CTN_MAX_WORKERS];
	/* Receive side, the owner worker's only. */
	uint8_t *rxbuf;                        /**< RX_BATCH slots of RX_BUF bytes */
	struct mmsghdr rxmsg[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxfrom[RX_BATCH];
	char rxctl[RX_BATCH][CMSG_SPACE(sizeof(int))];
	uint32_t rx_n;         /**< messages of the last recvmmsg */
	uint32_t rx_i;         /**< the one being cut into datagrams */
	uint32_t rx_off;       /**< offset of its next datagram */
	uint32_t rx_seg;       /**< its GRO segment size (0: one datagram) */
	uint32_t rx_super;     /**< it is one datagram of a sender's uncut 64 KB segment (veth): the inner MSS */
	int rx_remote;         /**< remote index of its sender, or -1 (dropped) */
	struct tun_gro gro;    /**< TCP segments of the run being put back together */
	uint64_t super_frames; /**< uncut 64 KB segments taken from a sender on a veth (rx_super) */
	uint64_t gro_merged;   /**< segments taken into a frame before them */
	uint64_t rx_datagrams, bad_header, bad_vni, unknown_src, rx_too_big, oam, learned;
};

/** Our port from the base pointer. */
static inline struct tun_port *tunp(struct ctn_port *p) { return (struct tun_port *)p; }

/** Remote index of sender @from, learning it when the port learns; -1 when
 *  it is none of ours (counted). Owner worker. */
static int rx_sender(struct tun_port *tp, const struct sockaddr_storage *from)
{
	uint32_t n = atomic_load_explicit(&tp->nremotes, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (tun_same_host(from, &tp->remotes[i]))
			return (int)i;
	if (!tp->learn || n == MAX_REMOTES || from->ss_family != tp->family) {
		tp->unknown_src++;
		return -1;
	}
	struct tun_addr *r = &tp->remotes[n];
	memset(r, 0, sizeof(*r));
	memcpy(&r->sa, from, sizeof(*from));
	r->len = tp->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (tp->family == AF_INET)
		((struct sockaddr_in *)&r->sa)->sin_port = htons(tp->dstport);
	else
		((struct sockaddr_in6 *)&r->sa)->sin6_port = htons(tp->dstport);
	atomic_store_explicit(&tp->nremotes, n + 1, memory_order_release);
	tp->learned++;
	return (int)n;
}

/** Read the next batch of datagrams into the receive slots. Returns how many
 *  messages, 0 when none is waiting (or the socket failed: the port broke). */
static uint32_t rx_fill(struct tun_port *tp)
{
	for (uint32_t i = 0; i < RX_BATCH; i++) {
		tp->rxiov[i] = (struct iovec){tp->rxbuf + (size_t)i * RX_BUF, RX_BUF};
		tp->rxmsg[i].msg_hdr = (struct msghdr){.msg_name = &tp->rxfrom[i], .msg_namelen = sizeof(tp->rxfrom[i]),
						       .msg_iov = &tp->rxiov[i], .msg_iovlen = 1,
						       .msg_control = tp->rxctl[i], .msg_controllen = sizeof(tp->rxctl[i])};
	}
	int r;
	do
		r = recvmmsg(tp->rx_sock, tp->rxmsg, RX_BATCH, MSG_DONTWAIT, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EHOSTUNREACH &&
		    errno != ENETUNREACH)
			ctn_port_break(&tp->base, "receive socket: %s", strerror(errno));
		return 0;
	}
	return (uint32_t)r;
}

/** Start cutting message @i of the batch: its GRO segment size and sender. */
static void rx_begin(struct tun_port *tp, uint32_t i)
{
	tp->rx_i = i;
	tp->rx_off = 0;
	tp->rx_seg = 0;
	struct msghdr *m = &tp->rxmsg[i].msg_hdr;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int seg;
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			if (seg > 0)
				tp->rx_seg = (uint32_t)seg;
		}
	tp->rx_super = 0;
	/* A sender whose kernel left a TCP segment uncut for "the hardware"
	 * (UDP tunnel GSO) on a veth underlay: one datagram, over the MTU, whose
	 * inner packet says it fills it; a size given with it is its inner MSS
	 * (without one, segments are cut to the tunnel's MTU). */
	uint32_t total = tp->rxmsg[i].msg_len, off = 0;
	const uint8_t *d = tp->rxbuf + (size_t)i * RX_BUF;
	if (total > TUN_HDR_LEN + tp->mtu + 18 && tun_decap(tp->type, tp->vni, d, total, &off) == TUN_OK &&
	    off + tun_ip_end(d + off, total - off) == total) {
		tp->rx_super = tp->rx_seg ? tp->rx_seg : UINT32_MAX;
		tp->rx_seg = 0;
	}
	tp->rx_remote = rx_sender(tp, &tp->rxfrom[i]);
}

/** Check datagram @d (@n bytes): its overlay header, VNI and inner length.
 *  Returns its frame (*@len bytes), or NULL (dropped and counted: the caller
 *  then takes it off the batch). */
static const uint8_t *rx_check(struct tun_port *tp, struct ctn_worker *w, const uint8_t *d, uint32_t n, uint32_t *len)
{
	uint32_t most = tp->rx_super ? CTN_FRAME_MAX : tp->mtu + 18; /* an uncut segment is cut by whoever takes it */
	struct ctn_port_stats *st = &tp->base.local[w->id].st;
	uint32_t off = 0;
	enum tun_bad bad = tun_decap(tp->type, tp->vni, d, n, &off);
	if (bad == TUN_BAD_VNI) {
		tp->bad_vni++;
		return NULL;
	}
	if (bad == TUN_BAD_OAM) {
		tp->oam++;
		return NULL;
	}
	if (bad) {
		tp->bad_header++;
		return NULL;
	}
	*len = n - off;
	if (*len < CTN_FRAME_MIN) {
		st->drops[CTN_DROP_RUNT]++;
		return NULL;
	}
	if (*len > most || *len > CTN_FRAME_MAX) { /* ethernet header and one VLAN tag */
		tp->rx_too_big++;
		st->drops[CTN_DROP_TOO_BIG]++;
		return NULL;
	}
	return d + off;
}

/** Copy frame @f (@len bytes) from remote @remote into a packet of @w's pool,
 *  learning its source station. Returns it, or NULL (counted). */
static struct ctn_pkt *rx_copy(struct tun_port *tp, struct ctn_worker *w, const uint8_t *f, uint32_t len, int remote)
{
	struct ctn_port_stats *st = &tp->base.local[w->id].st;
	struct ctn_pkt *pkt = ctn_pkt_alloc(&w->pool);
	if (!pkt) {
		st->drops[CTN_DROP_NO_BUFFER]++;
		return NULL;
	}
	memcpy(pkt->data, f, len);
	pkt->len = len;
	pkt->in_port = tp->base.id;
	const uint8_t *src = pkt->data + 6;
	if (!(src[0] & 1))
		ctn_mactable_learn(&tp->macs, src, 0, (uint32_t)remote, w->now_ms);
	return pkt;
}

/** rx_burst hook: cut the batches read into datagrams, reading more while
 *  there is room; a short burst means the socket is empty and nothing is left
 *  of the last batch. Consecutive TCP segments of one flow (within a GRO
 *  run and across datagrams) are put back together (gro.h); the frame being
 *  made is finished before the burst is handed over. */
static int tun_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct tun_port *tp = tunp(p);
	struct ctn_port_stats *st = &p->local[w->id].st;
	int got = 0;
	uint32_t bytes = 0;
	/* Past the burst's bytes, only to complete the frame being made. */
	while ((bytes < CTN_BURST_BYTES || tp->gro.pkt) && !p->broken) {
		if (tp->rx_i >= tp->rx_n) {
			tp->rx_n = rx_fill(tp);
			if (tp->rx_n == 0)
				break;
			rx_begin(tp, 0);
		}
		uint32_t total = tp->rxmsg[tp->rx_i].msg_len;
		if (tp->rx_off >= total || tp->rx_remote < 0 || (tp->rxmsg[tp->rx_i].msg_hdr.msg_flags & MSG_TRUNC)) {
			if (tp->rx_i + 1 < tp->rx_n)
				rx_begin(tp, tp->rx_i + 1);
			else
				tp->rx_i = tp->rx_n; /* batch done */
			continue;
		}
		uint32_t n = total - tp->rx_off;
		if (tp->rx_seg && n > tp->rx_seg)
			n = tp->rx_seg;
		const uint8_t *d = tp->rxbuf + (size_t)tp->rx_i * RX_BUF + tp->rx_off;
		uint32_t len;
		const uint8_t *f = rx_check(tp, w, d, n, &len);
		if (f && tp->gro.pkt && tun_gro_merge(&tp->gro, f, len)) {
			tp->rx_off += n;
			tp->rx_datagrams++;
			tp->gro_merged++;
			st->rx_bytes += len;
			bytes += len;
			continue;
		}
		if (f && (got == max || bytes >= CTN_BURST_BYTES))
			break; /* the next burst takes it: it stays where it is */
		tp->rx_off += n;
		tp->rx_datagrams++;
		tun_gro_finish(&tp->gro);
		struct ctn_pkt *pkt = f ? rx_copy(tp, w, f, len, tp->rx_remote) : NULL;
		if (!pkt)
			continue;
		if (tp->rx_super && len > tp->mtu + 18 && !tun_gro_super(pkt, tp->rx_super == UINT32_MAX ? 0 : (uint16_t)tp->rx_super, tp->mtu)) {
			tp->rx_too_big++; /* an uncut frame that is not TCP: nobody cuts it */
			st->drops[CTN_DROP_TOO_BIG]++;
			ctn_pkt_free(&w->pool, pkt);
			continue;
		}
		st->rx_packets++;
		st->rx_bytes += len;
		pkts[got++] = pkt;
		bytes += len;
		if (pkt->vnet.gso_type == CTN_GSO_NONE)
			tun_gro_start(&tp->gro, pkt);
		else
			tp->super_frames++;
	}
	tun_gro_finish(&tp->gro);
	return got;
}

/** Send what @tx gathered, on its socket; count what the kernel refused. The
 *  buffer's bytes stay in use: only the caller knows none is waiting to be
 *  queued. */
static void tx_flush(struct tun_port *tp, struct ctn_worker *w, struct tun_tx *tx)
{
	struct tun_txstats *ts = &tp->txst[w->id];
	struct ctn_port_stats *st = &tp->base.local[w->id].st;
	uint32_t at = 0;
	while (at < tx->n) {
		int r = sendmmsg(tx->sock, tx->msgs + at, tx->n - at, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int er = errno;
			if (er == EAGAIN || er == ENOBUFS || er == ENOMEM) { /* the rest would fail alike */
				for (; at < tx->n; at++)
					st->drops[CTN_DROP_TX_FULL] += tx->m[at].segs;
				break;
			}
			if (er == EMSGSIZE)
				ts->too_big += tx->m[at].segs;
			else if (er == ENETUNREACH || er == EHOSTUNREACH || er == ECONNREFUSED || er == EHOSTDOWN ||
				 er == ENETDOWN || er == EADDRNOTAVAIL || er == EPERM || er == EACCES)
				ts->unreachable += tx->m[at].segs;
			else
				st->drops[CTN_DROP_TX_ERROR] += tx->m[at].segs;
			at++;
			continue;
		}
		for (uint32_t i = at; i < at + (uint32_t)r; i++) {
			ts->datagrams += tx->m[i].segs;
			if (tx->m[i].segs > 1 || tx->msgs[i].msg_hdr.msg_controllen)
				ts->gso_sends++;
		}
		at += (uint32_t)r;
	}
	tx->n = 0;
}

/** Queue datagram(s) @data (@len bytes: @segs datagrams of @seg bytes each, the
 *  last maybe shorter, when @segs > 1) to remote @r on socket @sock. */
static void tx_queue(struct tun_port *tp, struct ctn_worker *w, struct tun_tx *tx, int sock, const struct tun_addr *r,
		     uint8_t *data, uint32_t len, uint16_t segs, uint16_t seg)
{
	if (tx->n && (tx->sock != sock || tx->n == TX_MSGS))
		tx_flush(tp, w, tx); /* the callers make room first: not expected */
	tx->sock = sock;
	uint32_t i = tx->n++;
	struct tun_msg *m = &tx->m[i];
	m->iov = (struct iovec){data, len};
	m->segs = segs;
	struct msghdr *h = &tx->msgs[i].msg_hdr;
	*h = (struct msghdr){.msg_name = (void *)&r->sa, .msg_namelen = r->len, .msg_iov = &m->iov, .msg_iovlen = 1};
	if (segs > 1) {
		h->msg_control = m->ctl;
		h->msg_controllen = sizeof(m->ctl);
		struct cmsghdr *c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	}
}

/** The remotes frame @f goes to: the one its destination was learned behind,
 *  else all (*@first and *@count of the remotes). */
static void tx_targets(struct tun_port *tp, struct ctn_worker *w, const uint8_t *f, uint32_t *first, uint32_t *count)
{
	uint32_t n = atomic_load_explicit(&tp->nremotes, memory_order_acquire);
	*first = 0;
	*count = n;
	if (f[0] & 1)
		return;
	uint32_t r = ctn_mactable_lookup(&tp->macs, f, 0, w->now_ms);
	if (r < n) {
		*first = r;
		*count = 1;
	}
}

/** What tx_emit needs: where the segments go. */
struct tun_soft {
	struct tun_port *tp;
	struct ctn_worker *w;
	struct tun_tx *tx;
	uint32_t k, first, count;
};

/** ctn_emit_fn: send one segment made in software at once (the next one is
 *  written over it), its overlay header in its headroom. */
static int tx_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	(void)vnet;
	struct tun_soft *s = arg;
	struct tun_port *tp = s->tp;
	if (s->tx->n)
		tx_flush(tp, s->w, s->tx);
	uint8_t *hdr = data - TUN_HDR_LEN;
	tun_encap(tp->type, tp->vni, hdr);
	int sock = tp->send0[s->k] >= 0 ? tp->send0[s->k] : tp->send[s->k];
	for (uint32_t j = 0; j < s->count; j++)
		tx_queue(tp, s->w, s->tx, sock, &tp->remotes[s->first + j], hdr, len + TUN_HDR_LEN, 1, 0);
	tx_flush(tp, s->w, s->tx);
	return 0;
}

/** A GSO frame the segmenter here does not take (UFO): segmented in software
 *  by the core, each segment sent on its own. Returns 0, or the drop reason. */
static int tx_soft(struct tun_port *tp, struct ctn_worker *w, struct tun_tx *tx, struct ctn_pkt *pkt, uint32_t k,
		   uint32_t first, uint32_t count)
{
	struct tun_soft s = {tp, w, tx, k, first, count};
	if (tx->n)
		tx_flush(tp, w, tx);
	return ctn_offload_egress(pkt, 0, w->scratch, tx_emit, &s);
}

/** Send GSO frame @pkt as UDP GSO runs of segments cut to the tunnel's MTU,
 *  to remotes [@first, @first + @count) on send port @k. Returns 0, or the
 *  drop reason. */
static int tx_gso(struct tun_port *tp, struct ctn_worker *w, struct tun_tx *tx, struct ctn_pkt *pkt, uint32_t k,
		  uint32_t first, uint32_t count)
{
	struct ctn_gso g;
	struct ctn_pkt cut = *pkt;
	if (ctn_gso_start(&g, &cut) < 0)
		return tx_soft(tp, w, tx, pkt, k, first, count);
	/* Segments the tunnel's MTU takes: the IP packet (frame less its
	 * ethernet header and tags, that is less l3) at most mtu bytes. */
	uint32_t room = tp->mtu + g.l3;
	if (g.hdr_len + g.mss > room) {
		if (room <= g.hdr_len + 8)
			return CTN_DROP_GSO;
		cut.vnet.gso_size = (uint16_t)(room - g.hdr_len);
		if (ctn_gso_start(&g, &cut) < 0)
			return CTN_DROP_GSO;
	}
	uint32_t stride = TUN_HDR_LEN + ctn_gso_seg_max(&g);
	uint32_t per = GSO_BYTES_MAX / stride;
	if (per > GSO_SEGS_MAX)
		per = GSO_SEGS_MAX;
	if (per == 0)
		return CTN_DROP_GSO;
	for (bool last = false; !last;) {
		/* Room for a run and its messages, on its socket: what is
		 * gathered goes first, and the buffer is free again. */
		if (tx->n && (tx->sock != tp->send[k] || tx->n + count > TX_MSGS || tx->used + per * stride > TX_BUF)) {
			tx_flush(tp, w, tx);
			tx->used = 0;
		}
		if (tx->used + per * stride > TX_BUF)
			tx->used = 0;
		uint8_t *run = tx->buf + tx->used;
		uint32_t at = 0, segs = 0;
		while (segs < per) {
			uint32_t len = ctn_gso_next(&g, run + at + TUN_HDR_LEN);
			if (!len) {
				last = true;
				break;
			}
			tun_encap(tp->type, tp->vni, run + at);
			at += TUN_HDR_LEN + len;
			segs++;
			if (TUN_HDR_LEN + len < stride) {
				last = true; /* the last, shorter one */
				break;
			}
		}
		if (!segs)
			break;
		tx->used += at;
		for (uint32_t i = 0; i < count; i++)
			tx_queue(tp, w, tx, tp->send[k], &tp->remotes[first + i], run, at, (uint16_t)segs, (uint16_t)stride);
	}
	return 0;
}

/** tx_burst hook. Safe from several workers at once: each has its own
 *  gathering and buffer, and the sockets take whole datagrams. */
static void tun_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct tun_port *tp = tunp(p);
	struct tun_tx *tx = &tp->tx[w->id];
	struct ctn_port_stats *st = &p->local[w->id].st;
	struct tun_txstats *ts = &tp->txst[w->id];
	tx->n = 0;
	tx->used = 0;
	tx->sock = -1;
	for (int i = 0; i < n && !p->broken; i++) {
		struct ctn_pkt *pkt = pkts[i];
		uint32_t first, count;
		tx_targets(tp, w, pkt->data, &first, &count);
		if (count == 0)
			continue;
		if (count > 1)
			ts->flooded++;
		uint32_t k = tun_flow_hash(pkt->data, pkt->len) % tp->nsend;
		if (pkt->vnet.gso_type != CTN_GSO_NONE) {
			int drop = tx_gso(tp, w, tx, pkt, k, first, count);
			if (drop) {
				st->drops[drop]++;
				continue;
			}
		} else {
			uint16_t et = (uint16_t)(pkt->data[12] << 8 | pkt->data[13]);
			uint32_t l2 = et == 0x8100 || et == 0x88a8 ? 18 : 14;
			if (pkt->len > tp->mtu + l2) {
				ts->too_big++;
				st->drops[CTN_DROP_TOO_BIG]++;
				continue;
			}
			if (ctn_csum_complete(pkt) < 0) {
				st->drops[CTN_DROP_BAD_VNET]++;
				continue;
			}
			/* The overlay header goes in the headroom: the frame is not copied. */
			uint8_t *hdr = pkt->data - TUN_HDR_LEN;
			tun_encap(tp->type, tp->vni, hdr);
			int sock = tp->send0[k] >= 0 ? tp->send0[k] : tp->send[k];
			if (tx->n && (tx->sock != sock || tx->n + count > TX_MSGS))
				tx_flush(tp, w, tx);
			for (uint32_t j = 0; j < count; j++)
				tx_queue(tp, w, tx, sock, &tp->remotes[first + j], hdr, pkt->len + TUN_HDR_LEN, 1, 0);
		}
		st->tx_packets++;
		st->tx_bytes += pkt->len;
	}
	if (tx->n)
		tx_flush(tp, w, tx);
}

/** Close @fd if it is one. */
static void close_fd(int fd)
{
	if (fd >= 0)
		ctn_close_later(fd);
}

/** close hook. */
static void tun_close(struct ctn_port *p)
{
	struct tun_port *tp = tunp(p);
	close_fd(tp->rx_sock);
	for (uint32_t i = 0; i < SEND_SOCKS; i++) {
		close_fd(tp->send[i]);
		close_fd(tp->send0[i]);
	}
	ctn_mactable_fini(&tp->macs);
	if (tp->txbuf)
		munmap(tp->txbuf, (size_t)TX_BUF * CTN_MAX_WORKERS);
	if (tp->rxbuf)
		munmap(tp->rxbuf, (size_t)RX_BUF * RX_BATCH);
	free(tp->tx);
	free(tp);
}

/** tick hook: age the learned stations as the lan does. */
static void tun_tick(struct ctn_port *p, uint64_t now_ms)
{
	struct tun_port *tp = tunp(p);
	uint64_t aging = ctn_engine_lan_aging_ms(p->eng, p->lan);
	if (aging && aging != atomic_load_explicit(&tp->macs.aging_ms, memory_order_relaxed))
		atomic_store_explicit(&tp->macs.aging_ms, aging, memory_order_relaxed);
	ctn_mactable_expire(&tp->macs, now_ms);
}

/** info hook. */
static void tun_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	struct tun_port *tp = tunp((struct ctn_port *)p);
	snprintf(info->kind, sizeof(info->kind), "%s", tp->type == TUN_VXLAN ? "vxlan" : "geneve");
	info->caps = p->caps;
	uint32_t nr = atomic_load_explicit(&tp->nremotes, memory_order_acquire);
	snprintf(info->state, sizeof(info->state), "vni %u, dstport %u, mtu %u, %u remote%s, %s%s", tp->vni,
		 tp->dstport, tp->mtu, nr, nr == 1 ? "" : "s", tp->family == AF_INET ? "ipv4" : "ipv6",
		 tp->learn ? ", learning" : "");
	struct tun_txstats sum = {0};
	for (uint32_t i = 0; i < CTN_MAX_WORKERS; i++) {
		sum.datagrams += tp->txst[i].datagrams;
		sum.gso_sends += tp->txst[i].gso_sends;
		sum.flooded += tp->txst[i].flooded;
		sum.unreachable += tp->txst[i].unreachable;
		sum.too_big += tp->txst[i].too_big;
	}
	ctn_port_info_counter(info, "rx_datagrams", tp->rx_datagrams);
	ctn_port_info_counter(info, "tx_datagrams", sum.datagrams);
	ctn_port_info_counter(info, "tx_gso_sends", sum.gso_sends);
	ctn_port_info_counter(info, "flooded", sum.flooded);
	ctn_port_info_counter(info, "unreachable", sum.unreachable);
	ctn_port_info_counter(info, "too_big", sum.too_big + tp->rx_too_big);
	ctn_port_info_counter(info, "bad_header", tp->bad_header);
	ctn_port_info_counter(info, "bad_vni", tp->bad_vni);
	ctn_port_info_counter(info, "unknown_src", tp->unknown_src);
	ctn_port_info_counter(info, "oam", tp->oam);
	ctn_port_info_counter(info, "gro_merged", tp->gro_merged);
	ctn_port_info_counter(info, "uncut_in", tp->super_frames);
	ctn_port_info_counter(info, "learned_remotes", tp->learned);
	ctn_port_info_counter(info, "macs", atomic_load_explicit(&tp->macs.count, memory_order_relaxed));
}

/** start hook: poll the receive socket (a sub-fd: the port closes it), and
 *  read the lan's aging time. */
static int tun_start(struct ctn_port *p, char *err, size_t errlen)
{
	if (ctn_port_watch_input(p, tunp(p)->rx_sock, 1) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	uint64_t aging = ctn_engine_lan_aging_ms(p->eng, p->lan);
	if (aging)
		atomic_store_explicit(&tunp(p)->macs.aging_ms, aging, memory_order_relaxed);
	return 0;
}

/** The vtable. */
static const struct ctn_port_ops tun_ops = {
	.rx_burst = tun_rx_burst,
	.tx_burst = tun_tx_burst,
	.close = tun_close,
	.info = tun_info,
	.start = tun_start,
	.tick = tun_tick,
};

/** Settings of a tunnel port (both kinds). */
struct tun_cfg {
	uint32_t vni;
	char remotes[1024];           /**< comma-separated addresses */
	char local[INET6_ADDRSTRLEN]; /**< an address of ours, or "" */
	uint16_t dstport;             /**< 0: the kind's */
	uint16_t srcport_lo, srcport_hi; /**< 0: the kernel's ip_local_port_range */
	uint32_t mtu;                 /**< inner MTU; 0: the underlay's less the overhead */
	uint32_t ttl, tos;            /**< 0: the system's */
	bool learn;                   /**< remotes learned from datagrams */
	bool udpcsum;                 /**< IPv4 singles with UDP checksums */
};

#define CFG_STR(f) .offset = offsetof(struct tun_cfg, f), .size = sizeof(((struct tun_cfg *)0)->f)
/** What both tunnel kinds take. */
static const struct ctn_attr_policy tun_policy[] = {
	{.name = "vni", .type = CTN_ATTR_U32, .offset = offsetof(struct tun_cfg, vni), .max = TUN_VNI_MAX, .required = true},
	{.name = "remotes", .type = CTN_ATTR_STR, CFG_STR(remotes)},
	{.name = "local", .type = CTN_ATTR_STR, CFG_STR(local)},
	{.name = "dstport", .type = CTN_ATTR_U16, .offset = offsetof(struct tun_cfg, dstport)},
	{.name = "srcport_lo", .type = CTN_ATTR_U16, .offset = offsetof(struct tun_cfg, srcport_lo)},
	{.name = "srcport_hi", .type = CTN_ATTR_U16, .offset = offsetof(struct tun_cfg, srcport_hi)},
	{.name = "mtu", .type = CTN_ATTR_U32, .offset = offsetof(struct tun_cfg, mtu), .max = 65000},
	{.name = "ttl", .type = CTN_ATTR_U32, .offset = offsetof(struct tun_cfg, ttl), .max = 255},
	{.name = "tos", .type = CTN_ATTR_U32, .offset = offsetof(struct tun_cfg, tos), .max = 255},
	{.name = "learn", .type = CTN_ATTR_BOOL, .offset = offsetof(struct tun_cfg, learn)},
	{.name = "udpcsum", .type = CTN_ATTR_BOOL, .offset = offsetof(struct tun_cfg, udpcsum)},
	{0},
};
#undef CFG_STR

/** Fill @sa with address @a (of @family, "" for any) and @port. Returns its
 *  length, or 0 when @a is not an address of @family. */
static socklen_t make_addr(struct sockaddr_storage *sa, int family, const char *a, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		if (a[0] && inet_pton(AF_INET, a, &v4->sin_addr) != 1)
			return 0;
		return sizeof(*v4);
	}
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons(port);
	if (a[0] && inet_pton(AF_INET6, a, &v6->sin6_addr) != 1)
		return 0;
	return sizeof(*v6);
}

/** A UDP socket of @tp's family bound to [local]:@port with the port's TTL
 *  and TOS; @nocheck: zero checksums (IPv4). Returns it, or -1 with errno. */
static int udp_socket(struct tun_port *tp, const struct tun_cfg *c, uint16_t port, bool nocheck, bool reuse)
{
	int fd = socket(tp->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1, buf = SOCK_BUF;
	if (tp->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (nocheck)
		setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one));
	int ttl = (int)c->ttl, tos = (int)c->tos;
	if (ttl)
		setsockopt(fd, tp->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   tp->family == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
	if (tos)
		setsockopt(fd, tp->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   tp->family == AF_INET ? IP_TOS : IPV6_TCLASS, &tos, sizeof(tos));
	/* Outer packets may be fragmented, as Linux's vxlan does by default
	 * (df unset); frames over the inner MTU are refused before that. */
	int pmtu = IP_PMTUDISC_DONT;
	if (tp->family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	struct sockaddr_storage sa;
	socklen_t l = make_addr(&sa, tp->family, tp->local, port);
	if (bind(fd, (struct sockaddr *)&sa, l) < 0) {
		int er = errno;
		close(fd);
		errno = er;
		return -1;
	}
	return fd;
}

/** The kernel's ephemeral port range, or 32768-60999. */
static void local_port_range(uint16_t *lo, uint16_t *hi)
{
	*lo = 32768;
	*hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (!f)
		return;
	unsigned a, b;
	if (fscanf(f, "%u %u", &a, &b) == 2 && a >= 1 && a <= b && b <= 65535) {
		*lo = (uint16_t)a;
		*hi = (uint16_t)b;
	}
	fclose(f);
}

/** The MTU of the route to @r (the underlay's), or 1500 when it cannot be told. */
static uint32_t path_mtu(int family, const struct tun_addr *r)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1500;
	int mtu = 0;
	socklen_t l = sizeof(mtu);
	if (connect(fd, (const struct sockaddr *)&r->sa, r->len) < 0 ||
	    getsockopt(fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, family == AF_INET ? IP_MTU : IPV6_MTU, &mtu,
		       &l) < 0 ||
	    mtu < 576)
		mtu = 1500;
	close(fd);
	return (uint32_t)mtu;
}

/** Open @tp's sockets from settings @c. Returns 0, or -1 with @err. */
static int open_sockets(struct tun_port *tp, const struct tun_cfg *c, char *err, size_t errlen)
{
	tp->rx_sock = udp_socket(tp, c, tp->dstport, false, false);
	if (tp->rx_sock < 0) {
		snprintf(err, errlen, "cannot receive on UDP port %u%s%s: %s", tp->dstport, tp->local[0] ? " of " : "",
			 tp->local, strerror(errno));
		return -1;
	}
	int one = 1, buf = RCV_BUF;
	if (setsockopt(tp->rx_sock, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(tp->rx_sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(tp->rx_sock, SOL_UDP, UDP_GRO, &one, sizeof(one)); /* best effort: datagrams one by one without */
	/* Zero UDP checksums over IPv6 accepted, as RFC 6935 allows tunnels
	 * (Linux's vxlan: udp6zerocsumrx); over IPv4 they always are. */
	if (tp->family == AF_INET6)
		setsockopt(tp->rx_sock, SOL_UDP, UDP_NO_CHECK6_RX, &one, sizeof(one));
	uint16_t lo = c->srcport_lo, hi = c->srcport_hi;
	if (!lo && !hi)
		local_port_range(&lo, &hi);
	if (!lo || !hi || lo > hi) {
		snprintf(err, errlen, "source port range %u-%u: LO-HI with 1 <= LO <= HI <= 65535", lo, hi);
		return -1;
	}
	uint32_t span = (uint32_t)hi - lo + 1, want = span < SEND_SOCKS ? span : SEND_SOCKS;
	bool nocheck = tp->family == AF_INET && !c->udpcsum;
	/* Ports spread over the range; one in use by someone else is passed over
	 * for the next free one of its stretch. */
	for (uint32_t i = 0; i < want && tp->nsend < SEND_SOCKS; i++) {
		uint32_t from = lo + (uint32_t)((uint64_t)span * i / want), to = lo + (uint32_t)((uint64_t)span * (i + 1) / want);
		for (uint32_t port = from; port < to; port++) {
			if (port == tp->dstport)
				continue;
			int s = udp_socket(tp, c, (uint16_t)port, false, nocheck);
			if (s < 0)
				continue;
			int s0 = -1;
			if (nocheck) {
				s0 = udp_socket(tp, c, (uint16_t)port, true, true);
				if (s0 < 0) {
					close(s);
					continue;
				}
			}
			/* Nothing is read from a send socket: what strays to its
			 * port may take the least room the kernel allows. */
			int least = 1;
			setsockopt(s, SOL_SOCKET, SO_RCVBUF, &least, sizeof(least));
			if (s0 >= 0)
				setsockopt(s0, SOL_SOCKET, SO_RCVBUF, &least, sizeof(least));
			tp->send[tp->nsend] = s;
			tp->send0[tp->nsend] = s0;
			tp->sport[tp->nsend++] = (uint16_t)port;
			break;
		}
	}
	if (tp->nsend == 0) {
		snprintf(err, errlen, "no free UDP source port in %u-%u", lo, hi);
		return -1;
	}
	return 0;
}

/** open hook of both kinds. */
static int tun_open(enum tun_type type, const void *cfgp, struct ctn_port **ports, char *err, size_t errlen)
{
	const struct tun_cfg *c = cfgp;
	struct tun_port *tp = ctn_port_alloc(sizeof(*tp));
	if (!tp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tp->base.fd = -1;
	tp->rx_sock = -1;
	for (uint32_t i = 0; i < SEND_SOCKS; i++)
		tp->send[i] = tp->send0[i] = -1;
	tp->type = type;
	tp->vni = c->vni;
	tp->learn = c->learn;
	tp->udpcsum = c->udpcsum;
	tp->dstport = c->dstport ? c->dstport : type == TUN_VXLAN ? 4789 : 6081;
	snprintf(tp->local, sizeof(tp->local), "%s", c->local);
	struct sockaddr_storage sa;
	int family = AF_UNSPEC;
	if (c->local[0]) {
		if (make_addr(&sa, AF_INET, c->local, 0))
			family = AF_INET;
		else if (make_addr(&sa, AF_INET6, c->local, 0))
			family = AF_INET6;
		else {
			snprintf(err, errlen, "local \"%s\" is not an IPv4 or IPv6 address", c->local);
			goto bad;
		}
	}
	int n = tun_parse_remotes(c->remotes, tp->dstport, family, tp->remotes, MAX_REMOTES, err, errlen);
	if (n < 0)
		goto bad;
	if (n == 0 && !c->learn) {
		snprintf(err, errlen, "no remote: give at least one, or let the tunnel learn them (learn)");
		goto bad;
	}
	if (n > 0)
		family = tp->remotes[0].sa.ss_family;
	tp->family = family == AF_UNSPEC ? AF_INET : family;
	tp->ngiven = (uint32_t)n;
	atomic_store(&tp->nremotes, (uint32_t)n);
	uint32_t over = tun_overhead(tp->family);
	tp->mtu = c->mtu ? c->mtu : (n ? path_mtu(tp->family, &tp->remotes[0]) : 1500) - over;
	if (tp->mtu < 68) {
		snprintf(err, errlen, "mtu %u: an IP packet needs at least 68", tp->mtu);
		goto bad;
	}
	if (ctn_mactable_init(&tp->macs, MACS, AGING_MS) < 0) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	tp->tx = calloc(CTN_MAX_WORKERS, sizeof(*tp->tx));
	void *tb = mmap(NULL, (size_t)TX_BUF * CTN_MAX_WORKERS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *rb = mmap(NULL, (size_t)RX_BUF * RX_BATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tp->txbuf = tb == MAP_FAILED ? NULL : tb;
	tp->rxbuf = rb == MAP_FAILED ? NULL : rb;
	if (!tp->tx || !tp->txbuf || !tp->rxbuf) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	for (uint32_t i = 0; i < CTN_MAX_WORKERS; i++)
		tp->tx[i].buf = tp->txbuf + (size_t)i * TX_BUF;
	if (open_sockets(tp, c, err, errlen) < 0)
		goto bad;
	tp->base.ops = &tun_ops;
	/* GSO frames are cut here, to the tunnel's MTU; a checksum left to do is
	 * finished before a single datagram goes. */
	tp->base.caps = CTN_CAP_CSUM | CTN_CAP_TSO;
	ports[0] = &tp->base;
	return 0;
bad:
	tun_close(&tp->base);
	return -1;
}

/** open hook of the "vxlan" kind. */
static int vxlan_open(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)e;
	return tun_open(TUN_VXLAN, cfg, ports, err, errlen);
}

/** open hook of the "geneve" kind. */
static int geneve_open(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)e;
	return tun_open(TUN_GENEVE, cfg, ports, err, errlen);
}

/** The "vxlan" kind (RFC 7348). */
const struct ctn_kind ctn_kind_vxlan = {
	.name = "vxlan",
	.sides = 1,
	.policy = tun_policy,
	.cfg_size = sizeof(struct tun_cfg),
	.open = vxlan_open,
};

/** The "geneve" kind (RFC 8926). */
const struct ctn_kind ctn_kind_geneve = {
	.name = "geneve",
	.sides = 1,
	.policy = tun_policy,
	.cfg_size = sizeof(struct tun_cfg),
	.open = geneve_open,
};
