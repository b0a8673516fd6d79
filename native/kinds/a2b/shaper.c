/* shaper.c - one direction of a link emulator: loss models, duplication,
 * reordering, corruption and departure times (see shaper.h).
 *
 * Departure of a frame arriving at t:
 *   serialized  = max(t, link_free) + wire_bits / rate      (link_free := serialized)
 *   depart      = serialized + delay + jitter sample         (>= serialized)
 *   in order    : depart = max(depart, last in-order departure)
 *   reordered   : depart = serialized (skips delay and jitter, so it overtakes)
 * Lost frames take no link time. A duplicate is serialized after its original.
 */
#include "shaper.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/** splitmix64 step: seeds the generator from one 64-bit value. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/** Rotate left. */
static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/** xoshiro256** next value. */
static uint64_t next64(struct ctn_shaper *s)
{
	uint64_t *r = s->rng;
	uint64_t out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return out;
}

uint32_t ctn_shaper_rand32(struct ctn_shaper *s)
{
	return (uint32_t)(next64(s) >> 32);
}

/** True with probability @prob (a fraction of 2^32). */
static bool chance(struct ctn_shaper *s, uint32_t prob)
{
	if (prob == 0)
		return false;
	if (prob == CTN_PROB_ONE)
		return true;
	return ctn_shaper_rand32(s) < prob;
}

/** Uniform in [0, 1). */
static double uniform01(struct ctn_shaper *s)
{
	return (double)(next64(s) >> 11) * 0x1.0p-53;
}

/** Standard normal sample (Box-Muller). */
static double normal01(struct ctn_shaper *s)
{
	double u = uniform01(s), v = uniform01(s);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/** Seed the generator with @seed, or from getrandom (then the clock) when 0. */
static void reseed(struct ctn_shaper *s, uint64_t seed)
{
	uint64_t x = seed;
	if (x == 0 && getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)s;
	}
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	s->ge_bad = false;
}

uint32_t ctn_prob_from_percent(double percent)
{
	if (!(percent > 0))
		return 0;
	if (percent >= 100)
		return CTN_PROB_ONE;
	return (uint32_t)(percent / 100.0 * 4294967296.0);
}

void ctn_shaper_init(struct ctn_shaper *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->p.limit_pkts = 1000;
	s->p.limit_bytes = 16u << 20;
	s->p.seed = seed;
	reseed(s, seed);
}

void ctn_shaper_set(struct ctn_shaper *s, const struct ctn_shaper_params *p)
{
	bool reseeding = p->seed != s->p.seed;
	s->p = *p;
	if (reseeding)
		reseed(s, p->seed);
}

bool ctn_shaper_delay_only(const struct ctn_shaper_params *p)
{
	return !p->rate_bps && !p->loss && !p->ge && !p->duplicate && !p->reorder && !p->corrupt;
}

/** Is this frame lost (independent or Gilbert-Elliott)? Advances the GE chain. */
static bool lose(struct ctn_shaper *s)
{
	const struct ctn_shaper_params *p = &s->p;
	if (!p->ge)
		return chance(s, p->loss);
	/* Transition first, then lose with the new state's probability (netem's gemodel). */
	if (s->ge_bad) {
		if (chance(s, p->ge_r))
			s->ge_bad = false;
	} else if (chance(s, p->ge_p)) {
		s->ge_bad = true;
	}
	return chance(s, s->ge_bad ? p->ge_loss_bad : p->ge_loss_good);
}

/** The delay of one in-order copy: delay plus a jitter sample, never below 0. */
static uint64_t sample_delay(struct ctn_shaper *s)
{
	const struct ctn_shaper_params *p = &s->p;
	if (!p->jitter_ns)
		return p->delay_ns;
	double j = (double)p->jitter_ns;
	double d = (double)p->delay_ns + (p->dist == CTN_JITTER_NORMAL ? j * normal01(s) : j * (2.0 * uniform01(s) - 1.0));
	return d <= 0 ? 0 : (uint64_t)d;
}

/** Serialize @bytes starting no earlier than @t; returns when the last bit is out. */
static uint64_t serialize(struct ctn_shaper *s, uint64_t t, uint32_t bytes)
{
	if (!s->p.rate_bps)
		return t;
	uint64_t start = t > s->link_free_ns ? t : s->link_free_ns;
	/* bits * 1e9 / rate, without overflow for any frame and rate >= 1 bit/s. */
	unsigned __int128 ns = (unsigned __int128)bytes * 8u * 1000000000u / s->p.rate_bps;
	s->link_free_ns = start + (uint64_t)ns;
	return s->link_free_ns;
}

void ctn_shaper_decide(struct ctn_shaper *s, uint64_t now_ns, uint32_t wire_bytes, uint32_t hdr_bytes,
		       struct ctn_verdict *v)
{
	*v = (struct ctn_verdict){.corrupt_bit = -1};
	if (lose(s)) {
		v->lost = true;
		return;
	}
	v->copies = chance(s, s->p.duplicate) ? 2 : 1;
	for (int c = 0; c < v->copies; c++) {
		uint64_t out = serialize(s, now_ns, wire_bytes);
		if (chance(s, s->p.reorder)) {
			v->express[c] = true;
			v->depart_ns[c] = out;
			continue;
		}
		uint64_t d = out + sample_delay(s);
		if (d < s->last_depart_ns)
			d = s->last_depart_ns;
		s->last_depart_ns = d;
		v->depart_ns[c] = d;
	}
	if (wire_bytes > hdr_bytes && chance(s, s->p.corrupt))
		v->corrupt_bit = (int64_t)hdr_bytes * 8 +
				 (int64_t)(next64(s) % ((uint64_t)(wire_bytes - hdr_bytes) * 8));
}
