/* a2b_port.c - the "a2b" kind, the link emulator's ports: a link of two sides, each a port on
 * its own lan, and a queue per direction.
 *
 *   lan A ──tx_burst(side A)──▶ [shaper a2b: decide] ──▶ queue a2b ──timerfd──▶ rx_burst(side B) ──▶ lan B
 *   lan A ◀──rx_burst(side A)── queue b2a ◀── [shaper b2a: decide] ◀──tx_burst(side B)── lan B
 *
 * A frame sent to a side is decided at once (lost, duplicated, reordered,
 * corrupted, and its departure time, see shaper.c) and copied into its
 * direction's queue: two FIFOs in one mapping each, in order and express
 * (reordered frames). The side on the far end watches the direction's timerfd,
 * armed (absolute, CLOCK_MONOTONIC, ns) for the earliest departure; when it
 * fires, rx_burst hands the lan every frame due within A2B_SLACK_NS, in
 * departure order, and arms it again. No busy waiting and no tick: the timer
 * is exact to the kernel's wake-up latency. When a direction only delays, frames
 * cross whole (GSO frames stay GSO frames); otherwise the shared offload code
 * cuts them into segments first, each decided (and charged at the rate) on
 * its own, so a 64 KiB frame never bursts through a slow link. Each direction
 * has a lock: frames come from any worker of its lan, leave on the far side's.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "kind.h"
#include "offload.h"
#include "port.h"
#include "shaper.h"

#define A2B_FIFO_BYTES (16u << 20) /**< in-order FIFO of a direction (the byte limit's ceiling) */
#define A2B_EXPRESS_BYTES (4u << 20) /**< FIFO of reordered frames */
#define A2B_SLACK_NS 10000u        /**< frames due this soon leave with the ones due now */
#define SUB_RELEASE 1              /**< input sub-fd: the timerfd of the direction a side releases */
#define NO_WRAP UINT32_MAX

/** A frame in a FIFO: departure time, length and offload metadata, then the frame. */
struct a2b_entry {
	uint64_t depart_ns;
	uint32_t len;
	uint32_t pad;
	struct ctn_vnet vnet;
	uint8_t pad2[6];
};

/** Frames in one mapping, each contiguous: a writer that reaches the end marks
 *  where the data stops (wrap) and goes on at the start. */
struct a2b_fifo {
	uint8_t *mem;
	uint32_t size;
	uint32_t head, tail; /**< write and read offsets */
	uint32_t wrap;       /**< end of the data before the writer wrapped, or NO_WRAP */
	uint32_t count;      /**< frames in it */
};

/** Counters of one direction. */
struct a2b_counters {
	uint64_t passed, passed_bytes;
	uint64_t drop_loss, drop_limit, drop_nobuf;
	uint64_t duplicated, reordered, corrupted;
};

/** One direction. */
struct a2b_dir {
	atomic_flag lock;         /**< around everything below */
	struct ctn_shaper sh;     /**< settings and random state */
	struct a2b_fifo q[2];     /**< [0] in order, [1] express (reordered) */
	uint32_t pkts;            /**< frames queued (both FIFOs) */
	uint64_t bytes;           /**< their bytes */
	int timerfd;              /**< fires at the earliest departure */
	uint64_t armed_ns;        /**< when it fires, UINT64_MAX: disarmed */
	struct a2b_counters c;
};

/** A link: two directions ([0] A to B, [1] B to A) and two sides. */
struct a2b_link {
	struct a2b_dir dir[2];
	int refs; /**< sides not yet closed */
};

/** A side: a port on one of the two lans. Side s feeds dir[s] and releases dir[1-s]. */
struct a2b_port {
	struct ctn_port base; /**< must be first */
	struct a2b_link *link;
	int side;             /**< 0: A, 1: B */
};

/** The port's side struct. */
static inline struct a2b_port *ap_of(struct ctn_port *p) { return (struct a2b_port *)p; }

/** Take a direction's lock. */
static void dir_lock(struct a2b_dir *d)
{
	while (atomic_flag_test_and_set_explicit(&d->lock, memory_order_acquire))
		;
}

/** Release it. */
static void dir_unlock(struct a2b_dir *d)
{
	atomic_flag_clear_explicit(&d->lock, memory_order_release);
}

/** Monotonic clock, ns. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ FIFO */

/** Bytes an entry of a @len-byte frame takes. */
static inline uint32_t entry_size(uint32_t len)
{
	return (uint32_t)sizeof(struct a2b_entry) + ((len + 7u) & ~7u);
}

/** Append @e and @len bytes of @data; returns the copy of the frame, or NULL when full. */
static uint8_t *fifo_push(struct a2b_fifo *f, const struct a2b_entry *e, const uint8_t *data)
{
	uint32_t need = entry_size(e->len), at;
	if (f->count == 0) {
		f->head = f->tail = 0;
		f->wrap = NO_WRAP;
	}
	if (f->wrap == NO_WRAP) { /* data in [tail, head) */
		if (f->size - f->head >= need) {
			at = f->head;
		} else if (f->tail > need) {
			f->wrap = f->head;
			at = 0;
		} else {
			return NULL;
		}
	} else if (f->tail - f->head > need) { /* data in [tail, wrap) and [0, head) */
		at = f->head;
	} else {
		return NULL;
	}
	memcpy(f->mem + at, e, sizeof(*e));
	memcpy(f->mem + at + sizeof(*e), data, e->len);
	f->head = at + need;
	f->count++;
	return f->mem + at + sizeof(*e);
}

/** The oldest entry, or NULL. */
static struct a2b_entry *fifo_peek(struct a2b_fifo *f)
{
	if (f->count == 0)
		return NULL;
	if (f->tail == f->wrap) {
		f->tail = 0;
		f->wrap = NO_WRAP;
	}
	return (struct a2b_entry *)(f->mem + f->tail);
}

/** Drop the oldest entry (after fifo_peek). */
static void fifo_pop(struct a2b_fifo *f)
{
	struct a2b_entry *e = (struct a2b_entry *)(f->mem + f->tail);
	f->tail += entry_size(e->len);
	f->count--;
}

/* ------------------------------------------------------------- queueing */

/** Arm @d's timer for its earliest departure when that is earlier than what it
 *  is armed for. Lock held. */
static void arm(struct a2b_dir *d)
{
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < 2; i++) {
		struct a2b_entry *e = fifo_peek(&d->q[i]);
		if (e && e->depart_ns < next)
			next = e->depart_ns;
	}
	if (next == UINT64_MAX || next >= d->armed_ns)
		return;
	uint64_t t = next ? next : 1; /* zero would disarm */
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)}};
	if (timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		d->armed_ns = next;
}

/** Decide and queue one wire frame of @len bytes arriving at @now. Lock held. */
static void enqueue(struct a2b_dir *d, uint64_t now, const uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	/* Tail drop before anything is decided: a frame that never enters the
	 * queue must not take link time (the rate would sink under overload). */
	if (d->pkts >= d->sh.p.limit_pkts || d->bytes + len > d->sh.p.limit_bytes) {
		d->c.drop_limit++;
		return;
	}
	struct ctn_verdict v;
	ctn_shaper_decide(&d->sh, now, len, 14, &v);
	if (v.lost) {
		d->c.drop_loss++;
		return;
	}
	if (v.copies == 2)
		d->c.duplicated++;
	for (int i = 0; i < v.copies; i++) {
		if (d->pkts >= d->sh.p.limit_pkts || d->bytes + len > d->sh.p.limit_bytes) {
			d->c.drop_limit++;
			continue;
		}
		struct a2b_entry e = {.depart_ns = v.depart_ns[i], .len = len, .vnet = *vnet};
		uint8_t *copy = fifo_push(&d->q[v.express[i]], &e, data);
		if (!copy) {
			d->c.drop_limit++;
			continue;
		}
		d->pkts++;
		d->bytes += len;
		if (v.express[i])
			d->c.reordered++;
		if (v.corrupt_bit >= 0) {
			copy[v.corrupt_bit / 8] ^= (uint8_t)(1u << (v.corrupt_bit % 8));
			d->c.corrupted++;
		}
	}
}

/** Where ctn_offload_egress hands the segments of a frame: the direction and the time. */
struct seg_ctx {
	struct a2b_dir *d;
	uint64_t now;
};

/** ctn_emit_fn: one segment (or whole frame) into the queue. */
static int enqueue_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	struct seg_ctx *s = arg;
	enqueue(s->d, s->now, data, len, vnet);
	return 0;
}

/* ----------------------------------------------------------- the hooks */

/** tx_burst hook: frames from this side's lan into its direction (any worker). */
static void a2b_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct a2b_port *ap = ap_of(p);
	struct a2b_dir *d = &ap->link->dir[ap->side];
	struct ctn_port_stats *st = &p->local[w->id].st;
	struct seg_ctx ctx = {.d = d, .now = now_ns()};
	dir_lock(d);
	bool whole = ctn_shaper_delay_only(&d->sh.p);
	for (int i = 0; i < n; i++) {
		struct ctn_pkt *pkt = pkts[i];
		int drop = 0;
		if (whole)
			enqueue(d, ctx.now, pkt->data, pkt->len, &pkt->vnet);
		else
			drop = ctn_offload_egress(pkt, 0, w->scratch, enqueue_emit, &ctx);
		if (drop) {
			st->drops[drop]++;
			continue;
		}
		st->tx_packets++;
		st->tx_bytes += pkt->len;
	}
	arm(d);
	dir_unlock(d);
}

/** rx_burst hook: the frames of the direction this side releases that are due. */
static int a2b_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct a2b_port *ap = ap_of(p);
	struct a2b_dir *d = &ap->link->dir[1 - ap->side];
	struct ctn_port_stats *st = &p->local[w->id].st;
	uint64_t v;
	dir_lock(d);
	if (w->rx_sub == SUB_RELEASE && read(d->timerfd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		d->armed_ns = UINT64_MAX;
	uint64_t due = now_ns() + A2B_SLACK_NS;
	int got = 0;
	uint32_t bytes = 0;
	while (got < max && bytes < CTN_BURST_BYTES) {
		struct a2b_entry *e0 = fifo_peek(&d->q[0]), *e1 = fifo_peek(&d->q[1]);
		int qi = !e0 ? 1 : !e1 ? 0 : e1->depart_ns < e0->depart_ns;
		struct a2b_entry *e = qi ? e1 : e0;
		if (!e || e->depart_ns > due)
			break;
		struct ctn_pkt *pkt = ctn_pkt_alloc(&w->pool);
		if (!pkt) {
			/* Not lost: it waits in the queue for the next pass. */
			d->c.drop_nobuf++;
			st->drops[CTN_DROP_NO_BUFFER]++;
			d->armed_ns = UINT64_MAX; /* re-arm below for a retry */
			break;
		}
		memcpy(pkt->data, (uint8_t *)e + sizeof(*e), e->len);
		pkt->len = e->len;
		pkt->vnet = e->vnet;
		pkt->in_port = p->id;
		d->pkts--;
		d->bytes -= e->len;
		d->c.passed++;
		d->c.passed_bytes += e->len;
		st->rx_packets++;
		st->rx_bytes += e->len;
		bytes += e->len;
		fifo_pop(&d->q[qi]);
		pkts[got++] = pkt;
	}
	arm(d);
	dir_unlock(d);
	return got;
}

/** start hook: watch the timerfd of the direction this side releases. */
static int a2b_start(struct ctn_port *p, char *err, size_t errlen)
{
	struct a2b_port *ap = ap_of(p);
	if (ctn_port_watch_input(p, ap->link->dir[1 - ap->side].timerfd, SUB_RELEASE) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/** Free a link's directions (each may be half made). */
static void link_free(struct a2b_link *l)
{
	for (int i = 0; i < 2; i++) {
		struct a2b_dir *d = &l->dir[i];
		if (d->timerfd >= 0)
			close(d->timerfd);
		if (d->q[0].mem)
			munmap(d->q[0].mem, d->q[0].size);
		if (d->q[1].mem)
			munmap(d->q[1].mem, d->q[1].size);
	}
	free(l);
}

/** close hook: the side goes; the link with the last one. */
static void a2b_close(struct ctn_port *p)
{
	struct a2b_port *ap = ap_of(p);
	struct a2b_link *l = ap->link;
	if (p->eng) /* in an engine (else never attached) */
		ctn_port_unwatch(p, l->dir[1 - ap->side].timerfd);
	if (--l->refs == 0)
		link_free(l);
	free(ap);
}

/** Format @ns as a short duration ("20ms", "150us", "0"). */
static void fmt_ns(char *out, size_t n, uint64_t ns)
{
	if (ns % 1000000 == 0 && ns)
		snprintf(out, n, "%llums", (unsigned long long)(ns / 1000000));
	else
		snprintf(out, n, "%lluus", (unsigned long long)(ns / 1000));
}

/** info hook: the side, the settings of the direction it feeds, its counters. */
static void a2b_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	const struct a2b_port *ap = (const struct a2b_port *)p;
	struct a2b_dir *d = &ap->link->dir[ap->side];
	snprintf(info->kind, sizeof(info->kind), "a2b");
	dir_lock(d);
	struct ctn_shaper_params s = d->sh.p;
	struct a2b_counters c = d->c;
	uint64_t pkts = d->pkts, bytes = d->bytes;
	dir_unlock(d);
	char delay[24], jitter[24];
	fmt_ns(delay, sizeof(delay), s.delay_ns);
	fmt_ns(jitter, sizeof(jitter), s.jitter_ns);
	snprintf(info->state, sizeof(info->state), "side %c, %s: rate %llu bit/s, delay %s, jitter %s",
		 ap->side ? 'B' : 'A', ap->side ? "b2a" : "a2b", (unsigned long long)s.rate_bps, delay, jitter);
	const struct {
		const char *name;
		uint64_t v;
	} k[] = {
		{"passed", c.passed},         {"passed_bytes", c.passed_bytes}, {"drop_loss", c.drop_loss},
		{"drop_limit", c.drop_limit}, {"drop_nobuf", c.drop_nobuf},     {"queued", pkts},
		{"queued_bytes", bytes},      {"duplicated", c.duplicated},     {"reordered", c.reordered},
		{"corrupted", c.corrupted},
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		ctn_port_info_counter(info, k[i].name, k[i].v);
}

/** The vtable. */
static const struct ctn_port_ops a2b_ops = {
	.rx_burst = a2b_rx_burst,
	.tx_burst = a2b_tx_burst,
	.close = a2b_close,
	.info = a2b_info,
	.start = a2b_start,
};

/** Map a FIFO of @size bytes (pages are only committed when used). */
static int fifo_init(struct a2b_fifo *f, uint32_t size)
{
	f->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->mem == MAP_FAILED) {
		f->mem = NULL;
		return -1;
	}
	f->size = size;
	f->wrap = NO_WRAP;
	return 0;
}

/** What the "a2b" kind takes when added: nothing (a link passes everything
 *  as it comes until set). */
static const struct ctn_attr_policy a2b_policy[] = {{0}};

/** open hook: a link; ports[0] is side A, ports[1] side B. */
static int a2b_open(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)cfg;
	(void)e;
	struct a2b_link *l = calloc(1, sizeof(*l));
	struct a2b_port *side[2] = {ctn_port_alloc(sizeof(struct a2b_port)), ctn_port_alloc(sizeof(struct a2b_port))};
	if (!l || !side[0] || !side[1]) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	for (int i = 0; i < 2; i++)
		l->dir[i].timerfd = -1;
	for (int i = 0; i < 2; i++) {
		struct a2b_dir *d = &l->dir[i];
		atomic_flag_clear(&d->lock);
		ctn_shaper_init(&d->sh, 0);
		d->armed_ns = UINT64_MAX;
		d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (d->timerfd < 0 || fifo_init(&d->q[0], A2B_FIFO_BYTES) < 0 || fifo_init(&d->q[1], A2B_EXPRESS_BYTES) < 0) {
			snprintf(err, errlen, "timerfd/queues: %s", strerror(errno));
			goto bad;
		}
	}
	l->refs = 2;
	for (int i = 0; i < 2; i++) {
		side[i]->base.ops = &a2b_ops;
		side[i]->base.fd = -1;
		side[i]->link = l;
		side[i]->side = i;
	}
	ports[0] = &side[0]->base;
	ports[1] = &side[1]->base;
	return 0;
bad:
	free(side[0]);
	free(side[1]);
	if (l)
		link_free(l);
	return -1;
}

/** Directions a set applies to (masks of struct a2b_set_cfg's dirs). */
#define DIR_AB 1u /**< side A to side B */
#define DIR_BA 2u /**< side B to side A */

/** What set takes: the whole settings of one direction or both, in the units
 *  of the control plane (percent, microseconds). */
struct a2b_set_cfg {
	uint32_t dirs;          /**< DIR_AB, DIR_BA or both */
	uint64_t rate_bps;      /**< 0: unlimited */
	uint64_t delay_ns;      /**< given in microseconds */
	uint64_t jitter_ns;     /**< likewise */
	bool normal;            /**< normal jitter (else uniform) */
	double loss;            /**< percent */
	bool ge;                /**< Gilbert-Elliott loss (some "ge.*" given) */
	double ge_p, ge_r, ge_loss_bad, ge_loss_good; /**< percent */
	double duplicate, reorder, corrupt;           /**< percent */
	uint32_t limit;         /**< frames */
	uint64_t limit_bytes;
	uint64_t seed;          /**< 0: random */
};

/** The policy of set. */
static const struct ctn_attr_policy a2b_set_policy[] = {
	{.name = "dirs", .type = CTN_ATTR_U32, .offset = offsetof(struct a2b_set_cfg, dirs), .max = 3, .required = true},
	{.name = "rateBps", .type = CTN_ATTR_U64, .offset = offsetof(struct a2b_set_cfg, rate_bps)},
	{.name = "delayUs", .type = CTN_ATTR_U64, .offset = offsetof(struct a2b_set_cfg, delay_ns), .scale = 1000},
	{.name = "jitterUs", .type = CTN_ATTR_U64, .offset = offsetof(struct a2b_set_cfg, jitter_ns), .scale = 1000},
	{.name = "normal", .type = CTN_ATTR_BOOL, .offset = offsetof(struct a2b_set_cfg, normal)},
	{.name = "lossPct", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, loss), .max = 100},
	{.name = "ge", .type = CTN_ATTR_PRESENT, .offset = offsetof(struct a2b_set_cfg, ge)},
	{.name = "ge.p", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, ge_p), .max = 100},
	{.name = "ge.r", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, ge_r), .max = 100},
	{.name = "ge.lossBad", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, ge_loss_bad), .max = 100},
	{.name = "ge.lossGood", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, ge_loss_good), .max = 100},
	{.name = "duplicatePct", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, duplicate), .max = 100},
	{.name = "reorderPct", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, reorder), .max = 100},
	{.name = "corruptPct", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct a2b_set_cfg, corrupt), .max = 100},
	{.name = "limit", .type = CTN_ATTR_U32, .offset = offsetof(struct a2b_set_cfg, limit)},
	{.name = "limitBytes", .type = CTN_ATTR_U64, .offset = offsetof(struct a2b_set_cfg, limit_bytes)},
	{.name = "seed", .type = CTN_ATTR_U64, .offset = offsetof(struct a2b_set_cfg, seed)},
	{0},
};

/** set hook: the directions in dirs of the link that side @p belongs to get
 *  the settings (others paused). Queued frames keep their times. */
static int a2b_set(struct ctn_port *p, const void *cfgp, char *err, size_t errlen)
{
	const struct a2b_set_cfg *c = cfgp;
	struct ctn_shaper_params params = {
		.rate_bps = c->rate_bps,
		.delay_ns = c->delay_ns,
		.jitter_ns = c->jitter_ns,
		.dist = c->normal ? CTN_JITTER_NORMAL : CTN_JITTER_UNIFORM,
		.loss = ctn_prob_from_percent(c->loss),
		.ge = c->ge,
		.ge_p = ctn_prob_from_percent(c->ge_p),
		.ge_r = ctn_prob_from_percent(c->ge_r),
		.ge_loss_bad = ctn_prob_from_percent(c->ge_loss_bad),
		.ge_loss_good = ctn_prob_from_percent(c->ge_loss_good),
		.duplicate = ctn_prob_from_percent(c->duplicate),
		.reorder = ctn_prob_from_percent(c->reorder),
		.corrupt = ctn_prob_from_percent(c->corrupt),
		.limit_pkts = c->limit,
		.limit_bytes = c->limit_bytes,
		.seed = c->seed,
	};
	if (params.limit_bytes > A2B_FIFO_BYTES || params.limit_pkts == 0 || params.limit_bytes < CTN_FRAME_MAX) {
		snprintf(err, errlen, "queue limits: 1 or more frames and %u to %u bytes", CTN_FRAME_MAX,
			 A2B_FIFO_BYTES);
		return -1;
	}
	if (!c->dirs) {
		snprintf(err, errlen, "no direction to set (dirs: 1 a2b, 2 b2a, 3 both)");
		return -1;
	}
	struct a2b_link *l = ap_of(p)->link;
	for (int i = 0; i < 2; i++) {
		if (!(c->dirs & (i ? DIR_BA : DIR_AB)))
			continue;
		dir_lock(&l->dir[i]);
		ctn_shaper_set(&l->dir[i].sh, &params);
		dir_unlock(&l->dir[i]);
	}
	return 0;
}

/** The "a2b" kind: two sides on two lans; set shapes each direction. */
const struct ctn_kind ctn_kind_a2b = {
	.name = "a2b",
	.sides = 2,
	.policy = a2b_policy,
	.cfg_size = 0,
	.open = a2b_open,
	.set_policy = a2b_set_policy,
	.set_cfg_size = sizeof(struct a2b_set_cfg),
	.set = a2b_set,
};
