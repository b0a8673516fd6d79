/* shaper.h - what one direction of a link emulator does to each frame: the
 * decisions (lost, duplicated, reordered, corrupted) and the departure time
 * (serialization at a rate, then delay and jitter), with no queue or I/O, so
 * that it can be tested on its own. a2b_port.c keeps the queues. */
#ifndef CTN_SHAPER_H
#define CTN_SHAPER_H

#include <stdbool.h>
#include <stdint.h>

/** Jitter distributions. */
enum ctn_jitter_dist {
	CTN_JITTER_UNIFORM, /**< delay ± jitter, flat */
	CTN_JITTER_NORMAL,  /**< mean delay, standard deviation jitter */
};

/** Probabilities are fractions of 2^32 (0: never, UINT32_MAX: always). */
#define CTN_PROB_ONE UINT32_MAX

/** Settings of one direction. */
struct ctn_shaper_params {
	uint64_t rate_bps;      /**< serialization rate, bit/s; 0 = unlimited */
	uint64_t delay_ns;      /**< constant delay */
	uint64_t jitter_ns;     /**< jitter (see dist) */
	uint8_t dist;           /**< enum ctn_jitter_dist */
	uint32_t loss;          /**< independent loss probability */
	bool ge;                /**< Gilbert-Elliott loss instead of @loss */
	uint32_t ge_p;          /**< good to bad */
	uint32_t ge_r;          /**< bad to good */
	uint32_t ge_loss_bad;   /**< loss in the bad state (1-h) */
	uint32_t ge_loss_good;  /**< loss in the good state (1-k) */
	uint32_t duplicate;     /**< a second copy */
	uint32_t reorder;       /**< skips the delay */
	uint32_t corrupt;       /**< one bit flipped */
	uint32_t limit_pkts;    /**< queue limit in frames */
	uint64_t limit_bytes;   /**< queue limit in bytes */
	uint64_t seed;          /**< 0: random */
};

/** One direction's state. */
struct ctn_shaper {
	struct ctn_shaper_params p; /**< current settings */
	uint64_t rng[4];            /**< xoshiro256** state */
	bool ge_bad;                /**< Gilbert-Elliott state */
	uint64_t link_free_ns;      /**< when the serializer is next free */
	uint64_t last_depart_ns;    /**< latest departure of an in-order frame */
};

/** What happens to one frame. */
struct ctn_verdict {
	bool lost;             /**< dropped by the loss model */
	int copies;            /**< 1, or 2 when duplicated (0 when lost) */
	uint64_t depart_ns[2]; /**< departure time of each copy */
	bool express[2];       /**< copy skips the delay (reordered) */
	int64_t corrupt_bit;   /**< bit to flip (index from the frame's start), -1: none */
};

/** Start a direction with no shaping and seed @seed (0: from the clock and getrandom). */
void ctn_shaper_init(struct ctn_shaper *s, uint64_t seed);

/** New settings from now on; frames already decided keep their times. A seed
 *  different from the current one restarts the random sequence. */
void ctn_shaper_set(struct ctn_shaper *s, const struct ctn_shaper_params *p);

/** Does the direction only delay (no rate, loss, duplication, reordering or
 *  corruption)? Then frames may cross whole, GSO frames included. */
bool ctn_shaper_delay_only(const struct ctn_shaper_params *p);

/** Decide frame of @wire_bytes (its ethernet length) arriving at @now_ns, of
 *  which the first @hdr_bytes are not to be corrupted (the ethernet header). */
void ctn_shaper_decide(struct ctn_shaper *s, uint64_t now_ns, uint32_t wire_bytes, uint32_t hdr_bytes,
		       struct ctn_verdict *v);

/** A uniform random 32-bit number (exposed for tests). */
uint32_t ctn_shaper_rand32(struct ctn_shaper *s);

/** A probability for @percent (0..100), saturating. */
uint32_t ctn_prob_from_percent(double percent);

#endif
