/* mactable.h - a lan's MAC learning table.
 *
 * Set associative, like a hardware switch's: a station's (MAC, VLAN) hashes to one
 * set of CTN_MAC_WAYS entries. Learning fills a free or expired entry of the set, or
 * evicts the set's least recently seen one, so the table is bounded, never allocates
 * after init, and every operation touches one set. Entries older than the aging time
 * are treated as absent and cleared by ctn_mactable_expire().
 *
 * Several worker threads use one table at once without a lock on the lookup path:
 * each set has a sequence count (a seqlock). A writer (a new station, a move, an
 * expiry) makes the count odd while it changes the set, and writers of one set take
 * turns on it; a reader retries when the count changed under it. Refreshing the
 * last-seen time of a known station is a single relaxed store, done at most once
 * per millisecond so busy stations do not bounce the set's cache line between
 * cores.
 */
#ifndef CTN_MACTABLE_H
#define CTN_MACTABLE_H

#include "ctn_atomic.h"
#include <stdbool.h>
#include <stdint.h>

#define CTN_MAC_WAYS 8           /**< entries per set */
#define CTN_MAC_NONE UINT32_MAX  /**< port value of an empty entry */

/** One learned station; every field is read and written with atomic accesses. */
struct ctn_mac_entry {
	uint64_t key;     /**< MAC (48 bits) << 12 | VLAN id (12 bits) */
	uint64_t seen_ms; /**< engine time when last seen */
	uint32_t port;    /**< port id it was seen on, or CTN_MAC_NONE */
};

/** Counters of a table's life. */
struct ctn_mac_stats {
	uint64_t learned;  /**< new entries */
	uint64_t moved;    /**< station seen on another port than before */
	uint64_t evicted;  /**< live entries pushed out by a full set */
	uint64_t expired;  /**< entries aged out */
};

/** The table. */
struct ctn_mactable {
	struct ctn_mac_entry *e;   /**< nsets * CTN_MAC_WAYS entries */
	CTN_ATOMIC(uint32_t) *seq;     /**< per set: odd while a writer changes it */
	uint32_t nsets;            /**< power of two */
	CTN_ATOMIC(uint32_t) count;    /**< live entries */
	CTN_ATOMIC(uint64_t) aging_ms; /**< entries not seen for this long are gone */
	struct {
		CTN_ATOMIC(uint64_t) learned, moved, evicted, expired;
	} st;                      /**< counters (see struct ctn_mac_stats) */
};

/** Allocate room for at least @capacity entries (rounded up to a power of two,
 *  at least one set). Returns 0 or -1 (ENOMEM). */
int ctn_mactable_init(struct ctn_mactable *t, uint32_t capacity, uint64_t aging_ms);
/** Free the entries. */
void ctn_mactable_fini(struct ctn_mactable *t);
/** Port of (@mac, @vid) if known and fresh at @now_ms, else CTN_MAC_NONE. */
uint32_t ctn_mactable_lookup(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid,
			     uint64_t now_ms);
/** Record that (@mac, @vid) was seen on @port at @now_ms. */
void ctn_mactable_learn(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid, uint32_t port,
			uint64_t now_ms);
/** Forget every entry that points at @port. Returns how many. */
uint32_t ctn_mactable_flush_port(struct ctn_mactable *t, uint32_t port);
/** Clear entries older than the aging time. Returns how many. */
uint32_t ctn_mactable_expire(struct ctn_mactable *t, uint64_t now_ms);
/** Copy the counters. */
void ctn_mactable_stats(struct ctn_mactable *t, struct ctn_mac_stats *out);
/** Entries the table can hold. */
static inline uint32_t ctn_mactable_capacity(const struct ctn_mactable *t)
{
	return t->nsets * CTN_MAC_WAYS;
}

#endif
