/* capture.c - observers that copy frames into per-worker rings, and the writer
 * thread that empties them into a pcapng or pcap stream (see capture.h). */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "engine.h"
#include "gso.h"

#define OUT_BYTES (1u << 20)       /**< the writer's meta buffer (the file header may be long) */
#define BATCH_RECS 128             /**< records per batch (3 iovecs each, under IOV_MAX) */
#define BATCH_BYTES (1u << 20)     /**< frame bytes after which a batch ends */
#define RING_MIN (256u << 10)      /**< smallest ring of one worker */
#define IDLE_MS 5                  /**< writer's sleep when the rings are empty */
#define FLUSH_MS 500               /**< how long a capture being freed tries to write what is left */
#define REC_PAD UINT32_MAX         /**< ifid of a record that only fills the ring's end */
#define POINTS_MORE 256            /**< ports a capture may gain after it started (a lan's new ports) */
#define META_Q (64u << 10)         /**< bytes of interface blocks waiting for the writer */

/** A frame's record in a ring: this header, then caplen bytes, to 8 bytes. */
struct rec {
	uint32_t total;  /**< bytes of the record, header included */
	uint32_t ifid;   /**< interface (index of the port in the capture), or REC_PAD */
	uint32_t dir;    /**< CTN_OBS_IN or CTN_OBS_OUT */
	uint32_t caplen; /**< bytes of frame that follow */
	uint32_t len;    /**< the frame's length */
	uint32_t unused;
	uint64_t ts_ns;  /**< CLOCK_REALTIME when the worker saw it */
};

/** One worker's ring: the worker writes records at head, the writer thread
 *  reads them at tail. Each side's own fields on a cache line of their own. */
struct ring {
	_Atomic uint64_t head;     /**< published end of the records (worker) */
	uint64_t whead;            /**< the worker's own copy */
	_Atomic uint64_t drops;    /**< frames that found the ring full (worker) */
	_Atomic uint64_t filtered; /**< frames the filter turned away (worker) */
	uint8_t *mem;              /**< size bytes */
	uint64_t mask;             /**< size - 1 (size: a power of two) */
	_Alignas(64) _Atomic uint64_t tail; /**< published start (writer) */
	uint64_t rtail;            /**< the writer's own copy */
	uint64_t rhead;            /**< head as the writer last read it */
} __attribute__((aligned(64)));

/** One observed port. */
struct point {
	struct ctn_obs obs;     /**< hung on the port */
	struct ctn_capture *c;  /**< the capture */
	uint32_t port;          /**< engine id */
	uint32_t ifid;          /**< interface number in the file */
	uint32_t as;            /**< 0, or a sink's direction (ctn_capture_new) */
	bool on;                /**< hung on the port */
};

/** A capture. */
struct ctn_capture {
	struct ctn_engine *eng;       /**< whose ports it watches */
	struct ctn_capture_cfg cfg;   /**< filter not kept (compiled into prog) */
	struct bpf_program prog;      /**< the filter; bf_len 0: none */
	uint32_t nrings;              /**< one per worker */
	struct ring *rings;           /**< by worker id */
	uint32_t npoints;             /**< ports watched */
	uint32_t cap_points;          /**< room in points */
	struct point *points;         /**< one per port, by interface number */
	int fd;                       /**< output */
	int wakefd;                   /**< eventfd: stop asked, or a ring filling up */
	pthread_t writer;             /**< the writer thread */
	bool started;                 /**< writer thread running */
	_Atomic bool stop;            /**< the writer is to finish */
	_Atomic bool done;            /**< ended on its own; observers copy nothing more */
	_Atomic bool kicked;          /**< a worker woke the writer, which has not drained since */
	_Atomic uint64_t frames, bytes; /**< records taken for writing, and their frame bytes */
	pthread_mutex_t lock;         /**< guards reason and the interface blocks queued */
	char reason[128];             /**< why it ended, when done */
	uint8_t *meta_q;              /**< pcapng interface blocks of ports added since the start, to write */
	size_t meta_qlen;             /**< bytes in it */
	uint32_t ifaces_queued;       /**< interfaces described so far, queued or written (under lock) */
	uint32_t ifaces_out;          /**< interfaces whose blocks are in a batch (writer): records of later ones wait */
	uint8_t *out;                 /**< the writer's meta buffer: file header, records' heads and tails */
	size_t olen;                  /**< bytes used in it */
	struct iovec iov[BATCH_RECS * 3]; /**< the batch being written (the file header at first) */
	uint32_t niov, iov_at;        /**< iovecs in it, and the first not wholly written */
};

/** Round @v down to a power of two. */
static uint64_t pow2_floor(uint64_t v)
{
	uint64_t p = 1;
	while (p * 2 <= v)
		p *= 2;
	return p;
}

/** Add 1 to a counter only its one writer changes. */
static inline void bump(_Atomic uint64_t *v, uint64_t by)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by, memory_order_relaxed);
}

/**
 * Reserve a record for @room bytes of frame in ring @r (producer side; @tail as
 * read at the start of the burst): returns its header, with *@head advanced
 * past any filler at the ring's end, or NULL when it does not fit. The caller
 * fills it and advances *@head by its total.
 */
static struct rec *ring_reserve(struct ring *r, uint64_t *head, uint64_t tail, uint32_t room)
{
	uint64_t size = r->mask + 1;
	uint64_t need = (sizeof(struct rec) + room + 7) & ~(uint64_t)7;
	uint64_t off = *head & r->mask, left = size - off, pad = need > left ? left : 0;
	if (*head + pad + need - tail > size)
		return NULL;
	if (pad) {
		if (left >= sizeof(struct rec))
			*(struct rec *)(r->mem + off) = (struct rec){.total = (uint32_t)left, .ifid = REC_PAD};
		*head += pad;
		off = 0;
	}
	return (struct rec *)(r->mem + off);
}

/** Close record @h of a frame of @len bytes of which @caplen are in it, and
 *  advance *@head past it. */
static void ring_commit(struct rec *h, uint64_t *head, uint32_t ifid, uint32_t dir, uint32_t caplen, uint32_t len,
			uint64_t ts)
{
	uint32_t total = (uint32_t)((sizeof(struct rec) + caplen + 7) & ~(size_t)7);
	*h = (struct rec){.total = total, .ifid = ifid, .dir = dir, .caplen = caplen, .len = len, .ts_ns = ts};
	*head += total;
}

/** --segment: write the wire segments of GSO frame @pkt into @r, each its own
 *  record, straight from gso.c. Returns the segments that found no room, or
 *  -1 when the frame cannot be segmented (the caller writes it as it is). */
static int copy_segments(struct ctn_capture *c, struct ring *r, uint64_t *head, uint64_t tail, uint32_t ifid,
			 uint32_t dir, const struct ctn_pkt *pkt, uint64_t ts)
{
	struct ctn_gso g;
	if (ctn_gso_start(&g, pkt) < 0)
		return -1;
	int lost = 0;
	uint32_t max = ctn_gso_seg_max(&g), n = ctn_gso_count(&g);
	for (uint32_t i = 0; i < n; i++) {
		struct rec *h = ring_reserve(r, head, tail, max);
		if (!h) {
			lost += (int)(n - i);
			break;
		}
		uint32_t len = ctn_gso_next(&g, (uint8_t *)(h + 1));
		if (!len)
			break;
		ring_commit(h, head, ifid, dir, len < c->cfg.snaplen ? len : c->cfg.snaplen, len, ts);
	}
	return lost;
}

/** The observer (worker @w, packet path): filter each frame and copy what
 *  passes into @w's ring; a full ring drops it. */
static void cap_observe(struct ctn_obs *o, struct ctn_worker *w, struct ctn_port *p, uint32_t dir,
			struct ctn_pkt *const *pkts, int n)
{
	(void)p;
	struct point *pt = (struct point *)o;
	struct ctn_capture *c = pt->c;
	if (atomic_load_explicit(&c->done, memory_order_relaxed))
		return;
	if (pt->as)
		dir = pt->as; /* a sink: what it receives stands for that direction */
	struct ring *r = &c->rings[w->id];
	uint64_t size = r->mask + 1;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint64_t head = r->whead;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint64_t drops = 0, filtered = 0;
	for (int i = 0; i < n; i++) {
		const struct ctn_pkt *pkt = pkts[i];
		if (c->prog.bf_len && !bpf_filter(c->prog.bf_insns, pkt->data, pkt->len, pkt->len)) {
			filtered++;
			continue;
		}
		if (c->cfg.segment && pkt->vnet.gso_type != CTN_GSO_NONE) {
			int lost = copy_segments(c, r, &head, tail, pt->ifid, dir, pkt, now);
			if (lost >= 0) {
				drops += (uint64_t)lost;
				continue;
			}
		}
		uint32_t caplen = pkt->len < c->cfg.snaplen ? pkt->len : c->cfg.snaplen;
		struct rec *h = ring_reserve(r, &head, tail, caplen);
		if (!h) {
			drops++;
			continue;
		}
		memcpy(h + 1, pkt->data, caplen);
		ring_commit(h, &head, pt->ifid, dir, caplen, pkt->len, now);
	}
	r->whead = head;
	atomic_store_explicit(&r->head, head, memory_order_release);
	/* A quarter full: wake the writer now rather than at its next look (a
	 * burst of GSO frames fills a ring within its sleep); once per drain. */
	if (head - tail >= size / 4 && !atomic_load_explicit(&c->kicked, memory_order_relaxed) &&
	    !atomic_exchange(&c->kicked, true)) {
		uint64_t one = 1;
		if (write(c->wakefd, &one, sizeof(one)) < 0) {
			/* saturated: readable anyway */
		}
	}
	if (drops)
		bump(&r->drops, drops);
	if (filtered)
		bump(&r->filtered, filtered);
}

/** Point @pt of @c on port @port, interface @ifid, recorded as @as says. */
static void point_init(struct point *pt, struct ctn_capture *c, uint32_t port, uint32_t ifid, uint32_t as)
{
	*pt = (struct point){.obs = {.fn = cap_observe, .dirs = as ? CTN_OBS_IN : c->cfg.dirs},
			     .c = c,
			     .port = port,
			     .ifid = ifid,
			     .as = as};
}

/** The next record of ring @r (skipping end fillers), or NULL (writer). */
static const struct rec *ring_peek(struct ring *r)
{
	uint64_t size = r->mask + 1;
	for (;;) {
		if (r->rtail == r->rhead) {
			r->rhead = atomic_load_explicit(&r->head, memory_order_acquire);
			if (r->rtail == r->rhead)
				return NULL;
		}
		uint64_t off = r->rtail & r->mask;
		if (size - off < sizeof(struct rec)) {
			r->rtail += size - off;
			continue;
		}
		const struct rec *h = (const struct rec *)(r->mem + off);
		if (h->ifid == REC_PAD) {
			r->rtail += h->total;
			continue;
		}
		return h;
	}
}

/** Record why @c ended, once (the first reason wins), and stop its observers. */
static void cap_end(struct ctn_capture *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (!c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->done, true);
}

/** Is part of the current batch still to be written? (writer) */
static inline bool pending(const struct ctn_capture *c)
{
	return c->iov_at < c->niov;
}

/**
 * Once the batch before is written (its ring space then goes back to the
 * workers), make the next: records taken from the rings oldest first, while
 * the batch has room and the count allows, each as iovecs of its head and
 * tail (in the meta buffer) around its frame's bytes, which stay in the ring
 * until written (writer). Returns the records taken.
 */
static uint64_t cap_fill(struct ctn_capture *c)
{
	if (pending(c))
		return 0;
	for (uint32_t i = 0; i < c->nrings; i++)
		atomic_store_explicit(&c->rings[i].tail, c->rings[i].rtail, memory_order_release);
	c->niov = c->iov_at = 0;
	c->olen = 0;
	pthread_mutex_lock(&c->lock);
	if (c->meta_qlen) { /* interfaces added: described before their first frame */
		memcpy(c->out, c->meta_q, c->meta_qlen);
		c->iov[c->niov++] = (struct iovec){c->out, c->meta_qlen};
		c->olen = c->meta_qlen;
		c->meta_qlen = 0;
	}
	c->ifaces_out = c->ifaces_queued;
	pthread_mutex_unlock(&c->lock);
	uint64_t moved = 0, frames = atomic_load(&c->frames), bytes = 0;
	while (moved < BATCH_RECS && bytes < BATCH_BYTES && !(c->cfg.count && frames >= c->cfg.count)) {
		struct ring *best = NULL;
		const struct rec *bh = NULL;
		for (uint32_t i = 0; i < c->nrings; i++) {
			const struct rec *h = ring_peek(&c->rings[i]);
			if (h && (!bh || h->ts_ns < bh->ts_ns)) {
				bh = h;
				best = &c->rings[i];
			}
		}
		if (!bh || bh->ifid >= c->ifaces_out)
			break; /* none, or of a port whose block is in the next batch */
		uint32_t dir = bh->dir == CTN_OBS_IN ? 1 : 2;
		uint8_t *m = c->out + c->olen;
		size_t hn = ctn_pcap_record_head(m, c->cfg.format, bh->ifid, dir, bh->ts_ns, bh->caplen, bh->len);
		size_t tn = ctn_pcap_record_tail(m + hn, c->cfg.format, dir, bh->caplen);
		c->iov[c->niov++] = (struct iovec){m, hn};
		c->iov[c->niov++] = (struct iovec){(void *)(bh + 1), bh->caplen};
		if (tn)
			c->iov[c->niov++] = (struct iovec){m + hn, tn};
		c->olen += hn + tn;
		bytes += bh->caplen;
		best->rtail += bh->total;
		frames++;
		moved++;
	}
	atomic_fetch_add(&c->bytes, bytes);
	atomic_store(&c->frames, frames);
	return moved;
}

/** Write what is left of the batch, as far as the fd takes it (writer).
 *  Returns bytes written, or -1 when the output is gone (the capture ends). */
static ssize_t cap_flush(struct ctn_capture *c)
{
	ssize_t total = 0;
	while (pending(c)) {
		uint32_t cnt = c->niov - c->iov_at;
		ssize_t n = writev(c->fd, &c->iov[c->iov_at], (int)(cnt < IOV_MAX ? cnt : IOV_MAX));
		if (n > 0) {
			total += n;
			for (size_t left = (size_t)n; left;) {
				struct iovec *v = &c->iov[c->iov_at];
				if (left >= v->iov_len) {
					left -= v->iov_len;
					c->iov_at++;
				} else {
					v->iov_base = (uint8_t *)v->iov_base + left;
					v->iov_len -= left;
					left = 0;
				}
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		char why[96];
		snprintf(why, sizeof(why), "%s", n == 0 || errno == EPIPE || errno == ECONNRESET ? "reader gone" : strerror(errno));
		cap_end(c, why);
		return -1;
	}
	return total;
}

/** The writer thread: fill, write, wait for room or records; on stop, a last
 *  fill and a bounded flush. */
static void *cap_writer(void *arg)
{
	struct ctn_capture *c = arg;
	for (;;) {
		bool stopping = atomic_load(&c->stop);
		bool done = atomic_load(&c->done);
		uint64_t v;
		if (read(c->wakefd, &v, sizeof(v)) < 0) {
			/* EAGAIN: nobody kicked */
		}
		atomic_store(&c->kicked, false);
		if (!done)
			cap_fill(c);
		ssize_t wrote = pending(c) ? cap_flush(c) : 0;
		if (wrote < 0)
			break;
		if (c->cfg.count && atomic_load(&c->frames) >= c->cfg.count && !pending(c))
			cap_end(c, "count reached");
		if (stopping || (atomic_load(&c->done) && !pending(c)))
			break;
		if (wrote > 0 && !pending(c))
			continue; /* the batch is out: the next may be waiting */
		struct pollfd pf[2] = {{.fd = c->fd, .events = pending(c) ? POLLOUT : 0}, {.fd = c->wakefd, .events = POLLIN}};
		int pr = poll(pf, 2, pending(c) ? 100 : IDLE_MS);
		if (pr > 0 && (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			cap_end(c, pf[0].revents & POLLNVAL ? "output closed" : "reader gone");
			break;
		}
	}
	if (atomic_load(&c->stop) && !atomic_load(&c->done)) {
		/* Freed while running: the observers are off, the rings final. */
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			cap_fill(c);
			if (!pending(c) || cap_flush(c) < 0)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
			if (ms >= FLUSH_MS)
				break;
			struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
			poll(&pf, 1, (int)(FLUSH_MS - ms));
		}
	}
	return NULL;
}

/** An fd the writer can write to without blocking: a pipe or FIFO is opened
 *  anew, a new fd returned (the caller's open file, maybe a shell's stdout,
 *  keeps its flags); a
 *  regular file stays as it is; anything else is made non-blocking. */
static int out_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return fd;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (nfd >= 0) {
			/* room for a burst while the reader catches up (best effort) */
			fcntl(nfd, F_SETPIPE_SZ, 1 << 20);
			return nfd;
		}
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

/** Free what @c holds, the fd excepted (its threads stopped, observers off). */
static void cap_release(struct ctn_capture *c)
{
	for (uint32_t i = 0; c->rings && i < c->nrings; i++)
		free(c->rings[i].mem);
	free(c->rings);
	free(c->points);
	free(c->meta_q);
	free(c->out);
	if (c->wakefd >= 0)
		close(c->wakefd);
	pcap_freecode(&c->prog);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/** Compile @cfg's filter into @c->prog; -1 with libpcap's message in @err. */
static int cap_compile(struct ctn_capture *c, const struct ctn_capture_cfg *cfg, char *err, size_t errlen)
{
	if (!cfg->filter || !cfg->filter[0])
		return 0;
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, (int)c->cfg.snaplen);
	if (!pd) {
		snprintf(err, errlen, "filter: libpcap: out of memory");
		return -1;
	}
	int rc = pcap_compile(pd, &c->prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc < 0)
		snprintf(err, errlen, "bad filter \"%s\": %s", cfg->filter, pcap_geterr(pd));
	pcap_close(pd);
	return rc < 0 ? -1 : 0;
}

struct ctn_capture *ctn_capture_new(struct ctn_engine *e, int fd, const struct ctn_capture_cfg *cfg,
				    const uint32_t *ports, const char *const *names, const uint32_t *as,
				    uint32_t n, char *err, size_t errlen)
{
	if (n == 0) {
		snprintf(err, errlen, "nothing to capture");
		return NULL;
	}
	struct ctn_capture *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->eng = e;
	c->cfg = *cfg;
	c->cfg.filter = NULL;
	c->cfg.snaplen = cfg->snaplen ? cfg->snaplen : CTN_CAPTURE_SNAPLEN;
	c->cfg.dirs = cfg->dirs ? cfg->dirs : CTN_OBS_IN | CTN_OBS_OUT;
	c->fd = -1;
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->nrings = ctn_engine_threads(e);
	c->npoints = n;
	size_t total = cfg->ring_bytes ? cfg->ring_bytes : CTN_CAPTURE_RING_BYTES;
	uint64_t rsize = pow2_floor(total / c->nrings);
	if (rsize < RING_MIN)
		rsize = RING_MIN;
	c->rings = aligned_alloc(64, sizeof(struct ring) * c->nrings);
	c->cap_points = n + POINTS_MORE;
	c->points = calloc(c->cap_points, sizeof(*c->points));
	c->meta_q = malloc(META_Q);
	c->out = malloc(OUT_BYTES);
	c->ifaces_queued = c->ifaces_out = n;
	if (c->wakefd < 0 || !c->rings || !c->points || !c->out || !c->meta_q) {
		snprintf(err, errlen, "out of memory");
		free(c->rings);
		c->rings = NULL;
		cap_release(c);
		return NULL;
	}
	memset(c->rings, 0, sizeof(struct ring) * c->nrings);
	for (uint32_t i = 0; i < c->nrings; i++) {
		c->rings[i].mask = rsize - 1;
		c->rings[i].mem = malloc(rsize);
		if (!c->rings[i].mem) {
			snprintf(err, errlen, "out of memory for the capture's rings");
			cap_release(c);
			return NULL;
		}
	}
	if (cap_compile(c, cfg, err, errlen) < 0) {
		cap_release(c);
		return NULL;
	}
	c->olen = ctn_pcap_header(c->out, OUT_BYTES, c->cfg.format, c->cfg.snaplen, names, n);
	c->iov[0] = (struct iovec){c->out, c->olen};
	c->niov = 1;
	if (!c->olen) {
		snprintf(err, errlen, "too many ports for one capture");
		cap_release(c);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		point_init(&c->points[i], c, ports[i], i, as ? as[i] : 0);
	c->fd = out_fd(fd);
	int rc = pthread_create(&c->writer, NULL, cap_writer, c);
	if (rc != 0) {
		snprintf(err, errlen, "capture writer thread: %s", strerror(rc));
		if (c->fd != fd)
			close(c->fd); /* the caller's stays open */
		cap_release(c);
		return NULL;
	}
	c->started = true;
	for (uint32_t i = 0; i < n; i++) {
		if (ctn_engine_port_observe(e, ports[i], &c->points[i].obs, true, err, errlen) < 0) {
			if (c->fd == fd)
				c->fd = -1; /* the caller's, left open */
			ctn_capture_free(c, NULL);
			return NULL;
		}
		c->points[i].on = true;
	}
	if (c->fd != fd)
		close(fd); /* the capture writes through its own copy */
	return c;
}

int ctn_capture_add_port(struct ctn_capture *c, uint32_t port, const char *name, uint32_t as, char *err,
			 size_t errlen)
{
	if (atomic_load(&c->done)) {
		snprintf(err, errlen, "the capture has ended");
		return -1;
	}
	if (c->npoints == c->cap_points) {
		snprintf(err, errlen, "the capture watches %u ports already, its most", c->cap_points);
		return -1;
	}
	uint32_t i = c->npoints;
	pthread_mutex_lock(&c->lock);
	if (c->cfg.format == CTN_PCAP_NG) {
		size_t w = ctn_pcap_idb(c->meta_q + c->meta_qlen, META_Q - c->meta_qlen, c->cfg.snaplen, name);
		if (!w) {
			pthread_mutex_unlock(&c->lock);
			snprintf(err, errlen, "too many ports joined at once for the capture's writer");
			return -1;
		}
		c->meta_qlen += w;
	}
	c->ifaces_queued = i + 1;
	pthread_mutex_unlock(&c->lock);
	/* Its interface number is taken even if the port cannot be watched
	 * (numbers follow the blocks in the file); it then stays silent. */
	c->npoints = i + 1;
	struct point *pt = &c->points[i];
	point_init(pt, c, port, i, as);
	if (ctn_engine_port_observe(c->eng, port, &pt->obs, true, err, errlen) < 0)
		return -1;
	pt->on = true;
	return 0;
}

void ctn_capture_stats(struct ctn_capture *c, struct ctn_capture_stats *st)
{
	*st = (struct ctn_capture_stats){.frames = atomic_load(&c->frames), .bytes = atomic_load(&c->bytes),
					 .done = atomic_load(&c->done)};
	for (uint32_t i = 0; i < c->nrings; i++) {
		st->drops += atomic_load_explicit(&c->rings[i].drops, memory_order_relaxed);
		st->filtered += atomic_load_explicit(&c->rings[i].filtered, memory_order_relaxed);
	}
	pthread_mutex_lock(&c->lock);
	memcpy(st->reason, c->reason, sizeof(st->reason));
	pthread_mutex_unlock(&c->lock);
}

void ctn_capture_free(struct ctn_capture *c, struct ctn_capture_stats *st)
{
	if (!c)
		return;
	char err[256];
	for (uint32_t i = 0; i < c->npoints; i++)
		if (c->points[i].on)
			ctn_engine_port_observe(c->eng, c->points[i].port, &c->points[i].obs, false, err, sizeof(err));
	if (c->started) {
		atomic_store(&c->stop, true);
		uint64_t one = 1;
		if (write(c->wakefd, &one, sizeof(one)) < 0) {
			/* saturated: readable anyway */
		}
		pthread_join(c->writer, NULL);
	}
	if (st)
		ctn_capture_stats(c, st);
	if (c->fd >= 0)
		close(c->fd);
	cap_release(c);
}
