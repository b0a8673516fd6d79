/* fd_port.c - the "fd" kind: ports on an fd a client handed over (the original
 * containet's add-etherfd), taps and datagram sockets.
 *
 * A tap is read and written one frame per syscall, with whatever prefix its flags
 * ask for: the 4-byte packet information (unless IFF_NO_PI) and then the virtio-net
 * header (with IFF_VNET_HDR, of the size TUNGETVNETHDRSZ reports). The prefix is
 * built in the headroom in front of the frame so each frame is one read or write.
 * A unix datagram or seqpacket socket carries one bare frame per message, as QEMU's
 * "-netdev dgram" does; the tests use socketpairs of this kind as ports too.
 *
 * A multi-queue tap (IFF_MULTI_QUEUE) comes with one fd per queue ("fd" is
 * queue 0, "queue1".. the others). The kernel puts each flow the container sends
 * on one queue (by flow hash, then where the flow's last frame came in), and
 * each queue is polled by a worker of its own, so several flows are forwarded on
 * several cores and a flow's frames stay in order. A worker sends on its own
 * queue, which also steers the flow's answers back to it. Queues beyond the
 * engine's workers are closed (the kernel then stops using them).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "closer.h"
#include "engine.h"
#include "kind.h"
#include "offload.h"
#include "port.h"

#define PI_LEN 4 /**< struct tun_pi: flags, proto */

/* UDP segmentation offload flags, newer than the headers of Debian 12. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/** A tap or datagram-socket port. */
struct fd_port {
	struct ctn_port base;  /**< must be first */
	uint32_t nq;           /**< queues: 1, or more for a multi-queue tap */
	int q[CTN_MAX_WORKERS];      /**< their fds; q[0] is base.fd */
	uint32_t qworker[CTN_MAX_WORKERS]; /**< the worker polling each queue */
	int rxfd[CTN_MAX_WORKERS];   /**< by worker: the queue it reads (-1: none) */
	int txfd[CTN_MAX_WORKERS];   /**< by worker: the queue it writes */
	bool watched;          /**< queues 1.. are polled (start ran) */
	bool tap;              /**< tap device (else a datagram socket) */
	bool pi;               /**< frames carry packet information */
	bool vnet;             /**< frames carry a virtio-net header */
	uint32_t vnet_len;     /**< its size */
	uint32_t prefix;       /**< pi + vnet bytes in front of each frame */
	char ifname[IFNAMSIZ]; /**< tap name (in its own namespace) */
	uint32_t caps;         /**< offloads agreed with the kernel (CTN_CAP_*) */
	bool persist;          /**< the tap is persistent (TUNSETPERSIST): it outlives its fds */
	unsigned long long netns_ino; /**< inode of the tap's network namespace (0: unknown) */
};

/** Our port from the base pointer. */
static inline struct fd_port *fdp(struct ctn_port *p) { return (struct fd_port *)p; }

/** Is @er an error after which the fd will never work again? */
static bool fatal_errno(int er)
{
	return er == EBADFD || er == EBADF || er == ENXIO || er == ENODEV || er == ECONNREFUSED ||
	       er == ECONNRESET || er == EPIPE || er == ENOTCONN;
}

/** Decode the prefix of a frame just read into @pkt (total @n bytes read).
 *  Returns 0, or the drop reason. */
static int rx_decode(struct fd_port *fp, struct ctn_pkt *pkt, size_t n)
{
	if (n < fp->prefix + CTN_FRAME_MIN)
		return CTN_DROP_RUNT;
	pkt->len = (uint32_t)(n - fp->prefix);
	const uint8_t *pre = pkt->data - fp->prefix;
	if (fp->pi && (pre[0] | pre[1] << 8) & TUN_PKT_STRIP)
		return CTN_DROP_TOO_BIG;
	if (fp->vnet) {
		struct ctn_vnet_wire w = {0};
		memcpy(&w, pre + (fp->pi ? PI_LEN : 0),
		       fp->vnet_len < sizeof(w) ? fp->vnet_len : sizeof(w));
		if (ctn_vnet_decode(&w, pkt->len, &pkt->vnet) < 0)
			return CTN_DROP_BAD_VNET;
	}
	return 0;
}

/** rx_burst hook. */
static int fd_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct fd_port *fp = fdp(p);
	struct ctn_pktpool *pool = &w->pool;
	struct ctn_port_stats *st = &p->local[w->id].st;
	int got = 0;
	uint32_t bytes = 0;
	while (got < max && bytes < CTN_BURST_BYTES) {
		struct ctn_pkt *pkt = ctn_pkt_alloc(pool);
		if (!pkt) {
			/* Leave the frames in the device; level-triggered epoll
			 * brings us back once buffers are free. */
			st->drops[CTN_DROP_NO_BUFFER]++;
			break;
		}
		ssize_t n;
		size_t room = fp->prefix + CTN_FRAME_MAX;
		if (fp->tap)
			n = read(fp->rxfd[w->id], pkt->data - fp->prefix, room);
		else
			n = recv(p->fd, pkt->data, CTN_FRAME_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			int er = errno;
			ctn_pkt_free(pool, pkt);
			if (er == EINTR)
				continue;
			if (er == EAGAIN)
				break;
			if (fatal_errno(er)) {
				ctn_port_break(p, "read: %s", strerror(er));
				break;
			}
			st->drops[CTN_DROP_RX_ERROR]++;
			break;
		}
		if (n == 0 && !fp->tap) {
			int type = 0;
			socklen_t tl = sizeof(type);
			getsockopt(p->fd, SOL_SOCKET, SO_TYPE, &type, &tl);
			ctn_pkt_free(pool, pkt);
			if (type == SOCK_SEQPACKET) { /* end of stream */
				ctn_port_break(p, "peer closed the socket");
				break;
			}
			st->drops[CTN_DROP_RUNT]++;
			continue;
		}
		int drop = (!fp->tap && (size_t)n > CTN_FRAME_MAX) ? CTN_DROP_TOO_BIG
								     : rx_decode(fp, pkt, (size_t)n);
		ctn_port_rx_take(p, st, pool, pkt, drop, pkts, &got, &bytes);
	}
	return got;
}

/** Write the prefix @fp needs in front of the frame at @data. */
static void tx_prefix(struct fd_port *fp, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	uint8_t *pre = data - fp->prefix;
	if (fp->pi) {
		uint16_t proto = (uint16_t)(data[12] << 8 | data[13]);
		if ((proto == 0x8100 || proto == 0x88a8) && len >= 18)
			proto = (uint16_t)(data[16] << 8 | data[17]);
		pre[0] = pre[1] = 0;
		pre[2] = (uint8_t)(proto >> 8);
		pre[3] = (uint8_t)proto;
	}
	if (fp->vnet)
		ctn_vnet_encode(vnet, pre + (fp->pi ? PI_LEN : 0), fp->vnet_len);
}

/** Where fd_emit writes and counts. */
struct fd_tx {
	struct fd_port *fp;          /**< the port */
	int fd;                      /**< the queue the calling worker writes */
	struct ctn_port_stats *st;   /**< the calling worker's counters */
};

/** ctn_emit_fn: write one wire frame with its prefix, counting it. */
static int fd_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	struct fd_tx *tx = arg;
	struct fd_port *fp = tx->fp;
	struct ctn_port *p = &fp->base;
	if (p->broken)
		return CTN_DROP_TX_DOWN;
	tx_prefix(fp, data, len, vnet);
	ssize_t w;
	do {
		if (fp->tap)
			w = write(tx->fd, data - fp->prefix, fp->prefix + len);
		else
			w = send(p->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w >= 0) {
		tx->st->tx_packets++;
		tx->st->tx_bytes += len;
		return 0;
	}
	int er = errno;
	if (er == EAGAIN || er == ENOBUFS || er == ENOMEM)
		return CTN_DROP_TX_FULL;
	if (er == EIO && fp->tap)
		return CTN_DROP_TX_DOWN;
	if (fatal_errno(er))
		ctn_port_break(p, "write: %s", strerror(er));
	return CTN_DROP_TX_ERROR;
}

/** tx_burst hook: one write per wire frame; what the port cannot take as it
 *  is (a GSO frame, a partial checksum) is finished in software first, in the
 *  calling worker's scratch buffer. Writes to one fd from several workers are
 *  safe: each is one whole frame. */
static void fd_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct fd_tx tx = {fdp(p), fdp(p)->txfd[w->id], &p->local[w->id].st};
	for (int i = 0; i < n && !p->broken; i++) {
		int drop = ctn_offload_egress(pkts[i], p->caps, w->scratch, fd_emit, &tx);
		if (drop)
			tx.st->drops[drop]++;
	}
}

/** Stop polling queues 1.. of @fp and close them (queue 0 is the engine's
 *  p->fd). A tap's device goes with its last fd, which takes the kernel an
 *  RCU grace period: the closer thread waits for it, not the worker. */
static void fd_queues_close(struct fd_port *fp)
{
	for (uint32_t i = 1; i < fp->nq; i++) {
		if (fp->watched)
			ctn_port_unwatch(&fp->base, fp->q[i]);
		ctn_close_later(fp->q[i]);
	}
	fp->nq = 1;
	fp->watched = false;
}

/** close hook (see fd_queues_close). */
static void fd_close(struct ctn_port *p)
{
	fd_queues_close(fdp(p));
	ctn_close_later(p->fd);
	free(fdp(p));
}

/** info hook. */
static void fd_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	const struct fd_port *fp = (const struct fd_port *)p;
	snprintf(info->kind, sizeof(info->kind), "%s", fp->tap ? "tap" : "dgram");
	snprintf(info->ifname, sizeof(info->ifname), "%s", fp->ifname);
	info->caps = p->caps;
	info->hdr_len = fp->prefix;
	info->vnet_hdr = fp->vnet;
	info->packet_info = fp->pi;
	if (fp->nq <= 1)
		return;
	/* A multi-queue tap: its queues, their threads, what each brought in. */
	int at = snprintf(info->state, sizeof(info->state), "%u queues on threads", fp->nq);
	ctn_port_info_counter(info, "queues", fp->nq);
	for (uint32_t i = 0; i < fp->nq; i++) {
		if (at > 0 && (size_t)at < sizeof(info->state))
			at += snprintf(info->state + at, sizeof(info->state) - (size_t)at, "%s%u", i ? "," : " ",
				       fp->qworker[i]);
		char name[16];
		snprintf(name, sizeof(name), "rx_q%u", i);
		ctn_port_info_counter(info, name, p->local[fp->qworker[i]].st.rx_packets);
	}
}

/** start hook: queues 1.. of a multi-queue tap polled by the workers after
 *  the port's own (queue 0 is polled by the port's worker, as any fd port),
 *  and each worker told which queue to read and which to write. */
static int fd_start(struct ctn_port *p, char *err, size_t errlen)
{
	struct fd_port *fp = fdp(p);
	uint32_t nw = ctn_engine_threads(p->eng);
	for (uint32_t i = 0; i < CTN_MAX_WORKERS; i++)
		fp->rxfd[i] = -1;
	for (uint32_t i = 0; i < fp->nq; i++) {
		fp->qworker[i] = (p->worker + i) % nw;
		fp->rxfd[fp->qworker[i]] = fp->q[i];
		if (i > 0 && ctn_port_watch_input_on(p, fp->q[i], 1, fp->qworker[i]) < 0) {
			snprintf(err, errlen, "epoll of queue %u: %s", i, strerror(errno));
			fp->watched = true; /* unwatch what was watched */
			return -1;
		}
	}
	fp->watched = true;
	/* A worker with no queue of its own (more workers than queues) writes
	 * to one of them, spread by worker id. */
	for (uint32_t i = 0; i < CTN_MAX_WORKERS; i++)
		fp->txfd[i] = fp->rxfd[i] >= 0 ? fp->rxfd[i] : fp->q[i % fp->nq];
	return 0;
}

/** down hook: a port that broke (its owner exited, its device went) is gone
 *  for good: its tap stops being persistent, so it goes with its last fd. */
static void fd_down(struct ctn_port *p)
{
	struct fd_port *fp = fdp(p);
	if (fp->persist && ioctl(p->fd, TUNSETPERSIST, 0) == 0)
		fp->persist = false;
	fd_queues_close(fp);
}

/** The vtable. */
static const struct ctn_port_ops fd_ops = {
	.rx_burst = fd_rx_burst,
	.tx_burst = fd_tx_burst,
	.close = fd_close,
	.info = fd_info,
	.start = fd_start,
	.down = fd_down,
};

/** Say what kind of file @fd is, for an error message. */
static const char *fd_what(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return "unusable";
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a pipe";
	case S_IFSOCK: return "a stream socket";
	case S_IFCHR: return "a character device other than a tap";
	default: return "not a tap";
	}
}

/** Does tap @fd run with IFF_NO_PI? @flags are what TUNGETIFF said.
 *
 * TUNGETIFF also reports IFF_NOFILTER (no socket filter attached), which has the
 * same value as IFF_NO_PI, so with no filter the bit means nothing. With a filter
 * attached it means IFF_NO_PI: attach an accept-all filter, ask again, detach.
 * Returns 1 (no packet info), 0 (packet info) or -1 with errno. */
static int tap_no_pi(int fd, short flags)
{
	if (!(flags & IFF_NO_PI))
		return 0; /* a filter is attached and NO_PI is clear */
	struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
	struct sock_fprog prog = {.len = 1, .filter = &accept_all};
	if (ioctl(fd, TUNATTACHFILTER, &prog) < 0)
		return -1;
	struct ifreq ifr = {0};
	int rc = ioctl(fd, TUNGETIFF, &ifr);
	int er = errno;
	ioctl(fd, TUNDETACHFILTER, &prog);
	errno = er;
	if (rc < 0)
		return -1;
	return (ifr.ifr_flags & IFF_NO_PI) ? 1 : 0;
}

/** The inode of the network namespace tun/tap @fd's device is in, into
 *  *@ino (TUNGETDEVNETNS, Linux 5.2). Returns 0, or -1 with errno. */
static int tap_netns_ino(int fd, unsigned long long *ino)
{
#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif
	int ns = ioctl(fd, TUNGETDEVNETNS);
	if (ns < 0)
		return -1;
	struct stat st;
	int rc = fstat(ns, &st);
	close(ns);
	if (rc == 0)
		*ino = (unsigned long long)st.st_ino;
	return rc;
}

/** Examine @fd as a tap; fill @fp. Returns 1 if it is one, 0 if it is no tun
 *  device at all, -1 for a tun device we cannot use (with @err). */
static int probe_tap(struct fd_port *fp, int fd, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		if (errno == EBADFD) {
			snprintf(err, errlen, "fd is a tun/tap file with no device attached (TUNSETIFF was never done)");
			return -1;
		}
		return 0;
	}
	if (!(ifr.ifr_flags & IFF_TAP)) {
		snprintf(err, errlen, "%.16s is a layer-3 tun device; containet needs a tap (IFF_TAP)",
			 ifr.ifr_name);
		return -1;
	}
	fp->tap = true;
	memcpy(fp->ifname, ifr.ifr_name, IFNAMSIZ);
	fp->ifname[IFNAMSIZ - 1] = 0;
	int no_pi = tap_no_pi(fd, ifr.ifr_flags);
	if (no_pi < 0) {
		snprintf(err, errlen, "cannot tell the framing of %s: %s", fp->ifname, strerror(errno));
		return -1;
	}
	fp->pi = !no_pi;
	fp->vnet = ifr.ifr_flags & IFF_VNET_HDR;
	if (tap_netns_ino(fd, &fp->netns_ino) < 0)
		fp->netns_ino = 0;
	if (fp->vnet) {
		int sz = 0;
		if (ioctl(fd, TUNGETVNETHDRSZ, &sz) < 0) {
			snprintf(err, errlen, "TUNGETVNETHDRSZ on %s: %s", fp->ifname, strerror(errno));
			return -1;
		}
		if (sz < 10 || sz > CTN_HEADROOM - PI_LEN) {
			snprintf(err, errlen, "vnet header of %d bytes on %s is not supported (10 to %d)",
				 sz, fp->ifname, CTN_HEADROOM - PI_LEN);
			return -1;
		}
		fp->vnet_len = (uint32_t)sz;
		/* Let the kernel hand us partial checksums and whole TSO (and, where
		 * it has them, USO) frames; older kernels refuse the USO bits. */
		unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
		if (ioctl(fd, TUNSETOFFLOAD, off | TUN_F_USO4 | TUN_F_USO6) == 0) {
			fp->caps = CTN_CAP_VNET | CTN_CAP_USO;
		} else if (ioctl(fd, TUNSETOFFLOAD, off) == 0) {
			fp->caps = CTN_CAP_VNET;
		} else {
			snprintf(err, errlen, "TUNSETOFFLOAD on %s: %s", fp->ifname, strerror(errno));
			return -1;
		}
	}
	fp->prefix = (fp->pi ? PI_LEN : 0) + fp->vnet_len;
	return 1;
}

/** Settings of an fd port. */
struct fd_cfg {
	int fd;       /**< the tap or socket handed over (queue 0 of a multi-queue tap) */
	int queue[CTN_MAX_WORKERS]; /**< queue[1..]: the other queues' fds, -1 when not given */
	bool persist; /**< make a tap persistent, so it outlives the daemon (nothing for a socket) */
};

/** Policy entry of the fd of queue @i of a multi-queue tap. */
#define FD_QUEUE(i) {.name = "queue" #i, .type = CTN_ATTR_FD, .offset = offsetof(struct fd_cfg, queue[i])}

/** What the "fd" kind takes. */
static const struct ctn_attr_policy fd_policy[] = {
	{.name = "fd", .type = CTN_ATTR_FD, .offset = offsetof(struct fd_cfg, fd), .required = true},
	FD_QUEUE(1), FD_QUEUE(2), FD_QUEUE(3), FD_QUEUE(4), FD_QUEUE(5), FD_QUEUE(6), FD_QUEUE(7),
	{.name = "persist", .type = CTN_ATTR_BOOL, .offset = offsetof(struct fd_cfg, persist)},
	{0},
};
_Static_assert(CTN_MAX_WORKERS == 8, "fd_policy names a queue per worker");

/** Make tap @fp persistent or not (TUNSETPERSIST); a socket port has nothing
 *  to do. Returns 0, or -1 with @err. */
static int fd_persist(struct fd_port *fp, bool on, char *err, size_t errlen)
{
	if (!fp->tap || fp->persist == on)
		return 0;
	if (ioctl(fp->base.fd, TUNSETPERSIST, on ? 1 : 0) < 0) {
		snprintf(err, errlen, "TUNSETPERSIST %d on %s: %s", on, fp->ifname, strerror(errno));
		return -1;
	}
	fp->persist = on;
	return 0;
}

/** Make @fd non-blocking. Returns 0, or -1 with errno. */
static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	return (fl & O_NONBLOCK) ? 0 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/** Take the other queues of a multi-queue tap from @cfg into @fp (q[0] is
 *  already its fd): each must be a queue of the same device, with the same
 *  framing; @nw: the engine's workers, the most queues used. Returns how many
 *  queues there are, or -1 with @err (the fds stay @cfg's). */
static int fd_queues(struct fd_port *fp, const struct fd_cfg *cfg, uint32_t nw, char *err, size_t errlen)
{
	uint32_t n = 1;
	while (n < CTN_MAX_WORKERS && cfg->queue[n] >= 0)
		n++;
	for (uint32_t i = n; i < CTN_MAX_WORKERS; i++)
		if (cfg->queue[i] >= 0) {
			snprintf(err, errlen, "queue%u given without queue%u", i, n);
			return -1;
		}
	if (n > 1 && !fp->tap) {
		snprintf(err, errlen, "queue1 given with a socket: only a multi-queue tap has queues");
		return -1;
	}
	for (uint32_t i = 1; i < n; i++) {
		int fd = cfg->queue[i];
		struct ifreq ifr = {0};
		if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
			snprintf(err, errlen, "queue%u: fd is %s", i,
				 errno == EBADFD ? "a tun/tap file with no device attached" : "not a tun/tap fd");
			return -1;
		}
		/* The same name in another namespace is another device. */
		unsigned long long ino = 0;
		bool elsewhere = fp->netns_ino && tap_netns_ino(fd, &ino) == 0 && ino != fp->netns_ino;
		if (!(ifr.ifr_flags & IFF_MULTI_QUEUE) || strncmp(ifr.ifr_name, fp->ifname, IFNAMSIZ) != 0 || elsewhere ||
		    !(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) != !fp->vnet) {
			snprintf(err, errlen, "queue%u: not a queue of the multi-queue tap %s (it is %.16s%s)", i,
				 fp->ifname, ifr.ifr_name,
				 !(ifr.ifr_flags & IFF_MULTI_QUEUE) ? ", single-queue"
				 : elsewhere			    ? " in another network namespace"
								    : ", framed otherwise");
			return -1;
		}
		if (set_nonblock(fd) < 0) {
			snprintf(err, errlen, "queue%u: cannot make it non-blocking: %s", i, strerror(errno));
			return -1;
		}
	}
	return (int)(n < nw ? n : nw);
}

/** open hook: a port on the fd of @cfg, a tap (any flags, with its other
 *  queues if it has several) or a unix datagram or seqpacket socket carrying
 *  one frame per message. */
static int fd_open(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen)
{
	int fd = ((const struct fd_cfg *)cfg)->fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0) {
		snprintf(err, errlen, "fd %d is not open", fd);
		return -1;
	}
	struct fd_port *fp = ctn_port_alloc(sizeof(*fp));
	if (!fp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int tap = probe_tap(fp, fd, err, errlen);
	if (tap < 0)
		goto bad;
	if (tap == 0) {
		int type = 0, domain = 0;
		socklen_t l1 = sizeof(type), l2 = sizeof(domain);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l2) < 0 ||
		    (type != SOCK_DGRAM && type != SOCK_SEQPACKET) || domain != AF_UNIX) {
			snprintf(err, errlen,
				 "fd is %s, not a tap or a unix datagram/seqpacket socket", fd_what(fd));
			goto bad;
		}
	}
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "cannot make the fd non-blocking: %s", strerror(errno));
		goto bad;
	}
	const struct fd_cfg *c = cfg;
	int nq = fd_queues(fp, c, ctn_engine_threads(e), err, errlen);
	if (nq < 0)
		goto bad;
	fp->base.ops = &fd_ops;
	fp->base.fd = fd;
	if (c->persist && fd_persist(fp, true, err, errlen) < 0)
		goto bad;
	/* The port owns the fds from here: the queues it has no worker for go. */
	fp->nq = (uint32_t)nq;
	fp->q[0] = fd;
	for (uint32_t i = 1; i < CTN_MAX_WORKERS; i++) {
		if (i < fp->nq)
			fp->q[i] = c->queue[i];
		else if (c->queue[i] >= 0)
			ctn_close_later(c->queue[i]);
	}
	for (uint32_t i = 0; i < CTN_MAX_WORKERS; i++)
		fp->rxfd[i] = fp->txfd[i] = fd; /* until start spreads the queues */
	fp->base.caps = fp->caps;
	ports[0] = &fp->base;
	return 0;
bad:
	free(fp);
	return -1;
}

/** Settings set changes: whether the tap outlives its fds. */
struct fd_set_cfg {
	bool persist; /**< TUNSETPERSIST (cleared before a port is removed for good) */
};

/** What set takes for an fd port. */
static const struct ctn_attr_policy fd_set_policy[] = {
	{.name = "persist", .type = CTN_ATTR_BOOL, .offset = offsetof(struct fd_set_cfg, persist), .required = true},
	{0},
};

/** set hook: make the tap persistent or not. */
static int fd_port_set(struct ctn_port *p, const void *cfg, char *err, size_t errlen)
{
	return fd_persist(fdp(p), ((const struct fd_set_cfg *)cfg)->persist, err, errlen);
}

/** The "fd" kind: a tap's persistence can be set at run time (closing the port
 *  never clears it: a daemon that stops leaves a persistent tap behind, for
 *  the next one to find; see docs/state.md). */
const struct ctn_kind ctn_kind_fd = {
	.name = "fd",
	.sides = 1,
	.policy = fd_policy,
	.cfg_size = sizeof(struct fd_cfg),
	.open = fd_open,
	.set_policy = fd_set_policy,
	.set_cfg_size = sizeof(struct fd_set_cfg),
	.set = fd_port_set,
};
