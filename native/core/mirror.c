/* mirror.c - observers that copy frames onto another port's transmit queue
 * (see mirror.h). */
#include "mirror.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/** One worker's counters of a mirror, on a cache line of its own (written by
 *  that worker only, read by anyone). */
struct mirror_local {
	_Atomic uint64_t frames; /**< copies queued */
	_Atomic uint64_t bytes;  /**< their bytes */
	_Atomic uint64_t drops;  /**< frames not copied */
} __attribute__((aligned(64)));

/** One selected port. */
struct point {
	struct ctn_obs obs;     /**< hung on the port */
	struct ctn_mirror *m;   /**< the mirror */
	uint32_t port;          /**< engine id */
	bool on;                /**< hung on the port */
};

/** A mirror. */
struct ctn_mirror {
	struct ctn_engine *eng;                   /**< the engine */
	uint32_t out;                             /**< output port id */
	bool out_only;                            /**< the output port was made output only by us */
	struct mirror_local local[CTN_MAX_WORKERS]; /**< per worker */
	uint32_t npoints;                         /**< entries in points */
	struct point points[];                    /**< the selected ports */
};

/** Add @v to counter @c of the calling worker (its only writer). */
static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

/** The observer (worker @w, packet path): copy each frame of the burst into a
 *  packet of @w's pool and queue it on the output port. */
static void mirror_observe(struct ctn_obs *o, struct ctn_worker *w, struct ctn_port *p, uint32_t dir,
			   struct ctn_pkt *const *pkts, int n)
{
	(void)p;
	(void)dir;
	struct ctn_mirror *m = ((struct point *)o)->m;
	struct mirror_local *l = &m->local[w->id];
	struct ctn_port *out = ctn_engine_port(m->eng, m->out);
	if (!out || out->broken) {
		bump(&l->drops, (uint64_t)n);
		return;
	}
	uint64_t frames = 0, bytes = 0, drops = 0;
	for (int i = 0; i < n; i++) {
		const struct ctn_pkt *pkt = pkts[i];
		struct ctn_pkt *c = ctn_pkt_alloc(&w->pool);
		if (!c) {
			drops++;
			continue;
		}
		memcpy(c->data, pkt->data, pkt->len);
		c->len = pkt->len;
		c->in_port = pkt->in_port;
		c->vnet = pkt->vnet; /* a GSO frame stays one: the output port finishes it */
		if (ctn_worker_tx_own(w, out, c) < 0) {
			ctn_pkt_free(&w->pool, c);
			drops++;
			continue;
		}
		frames++;
		bytes += pkt->len;
	}
	if (frames) {
		bump(&l->frames, frames);
		bump(&l->bytes, bytes);
	}
	if (drops)
		bump(&l->drops, drops);
}

struct ctn_mirror *ctn_mirror_new(struct ctn_engine *e, const uint32_t *ports, const uint32_t *port_dirs,
				  uint32_t n, uint32_t out, uint32_t dirs, char *err, size_t errlen)
{
	if (!n) {
		snprintf(err, errlen, "a mirror selects at least one port");
		return NULL;
	}
	if (!(dirs & (CTN_OBS_IN | CTN_OBS_OUT))) {
		snprintf(err, errlen, "a mirror copies frames in, out or both");
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (port_dirs && !(port_dirs[i] & (CTN_OBS_IN | CTN_OBS_OUT))) {
			snprintf(err, errlen, "a mirror copies frames in, out or both (port %u)", ports[i]);
			return NULL;
		}
		if (ports[i] == out) {
			snprintf(err, errlen, "port %u is both selected and the output", out);
			return NULL;
		}
	}
	struct ctn_mirror *m = NULL;
	if (posix_memalign((void **)&m, 64, sizeof(*m) + n * sizeof(struct point)) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(m, 0, sizeof(*m) + n * sizeof(struct point));
	m->eng = e;
	m->out = out;
	m->npoints = n;
	for (uint32_t i = 0; i < n; i++)
		m->points[i] = (struct point){
		    .obs = {.fn = mirror_observe, .dirs = port_dirs ? port_dirs[i] : dirs}, .m = m, .port = ports[i]};
	if (ctn_engine_port_output_only(e, out, true, err, errlen) < 0) {
		free(m);
		return NULL;
	}
	m->out_only = true;
	for (uint32_t i = 0; i < n; i++) {
		if (ctn_engine_port_observe(e, ports[i], &m->points[i].obs, true, err, errlen) < 0) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			ctn_mirror_free(m, NULL);
			snprintf(err, errlen, "%s", why);
			return NULL;
		}
		m->points[i].on = true;
	}
	return m;
}

void ctn_mirror_stats(const struct ctn_mirror *m, struct ctn_mirror_stats *st)
{
	*st = (struct ctn_mirror_stats){0};
	for (int i = 0; i < CTN_MAX_WORKERS; i++) {
		st->frames += atomic_load_explicit(&m->local[i].frames, memory_order_relaxed);
		st->bytes += atomic_load_explicit(&m->local[i].bytes, memory_order_relaxed);
		st->drops += atomic_load_explicit(&m->local[i].drops, memory_order_relaxed);
	}
}

void ctn_mirror_free(struct ctn_mirror *m, struct ctn_mirror_stats *st)
{
	if (!m)
		return;
	char err[256];
	for (uint32_t i = 0; i < m->npoints; i++)
		if (m->points[i].on)
			ctn_engine_port_observe(m->eng, m->points[i].port, &m->points[i].obs, false, err, sizeof(err));
	/* The output port may be gone or broken: then there is nothing to give back. */
	if (m->out_only)
		ctn_engine_port_output_only(m->eng, m->out, false, err, sizeof(err));
	if (st)
		ctn_mirror_stats(m, st);
	free(m);
}
