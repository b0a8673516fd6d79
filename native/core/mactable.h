/* mactable.h - a lan's MAC learning table.
 *
 * Set associative, like a hardware switch's: a station's (MAC, VLAN) hashes to one
 * set of CTN_MAC_WAYS entries. Learning fills a free or expired entry of the set, or
 * evicts the set's least recently seen one, so the table is bounded, never allocates
 * after init, and every operation touches one set. Entries older than the aging time
 * are treated as absent and cleared by ctn_mactable_expire().
 */
#ifndef CTN_MACTABLE_H
#define CTN_MACTABLE_H

#include <stdbool.h>
#include <stdint.h>

#define CTN_MAC_WAYS 8           /**< entries per set */
#define CTN_MAC_NONE UINT32_MAX  /**< port value of an empty entry */

/** One learned station. */
struct ctn_mac_entry {
	uint8_t mac[6];   /**< station address */
	uint16_t vid;     /**< VLAN id (0 when untagged) */
	uint32_t port;    /**< port id it was seen on, or CTN_MAC_NONE */
	uint64_t seen_ms; /**< engine time when last seen */
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
	struct ctn_mac_entry *e; /**< nsets * CTN_MAC_WAYS entries */
	uint32_t nsets;          /**< power of two */
	uint32_t count;          /**< live entries */
	uint64_t aging_ms;       /**< entries not seen for this long are gone */
	struct ctn_mac_stats st; /**< counters */
};

/** Allocate room for at least @capacity entries (rounded up to a power of two,
 *  at least one set). Returns 0 or -1 (ENOMEM). */
int ctn_mactable_init(struct ctn_mactable *t, uint32_t capacity, uint64_t aging_ms);
/** Free the entries. */
void ctn_mactable_fini(struct ctn_mactable *t);
/** Port of (@mac, @vid) if known and fresh at @now_ms, else CTN_MAC_NONE. */
uint32_t ctn_mactable_lookup(const struct ctn_mactable *t, const uint8_t *mac, uint16_t vid,
			     uint64_t now_ms);
/** Record that (@mac, @vid) was seen on @port at @now_ms. */
void ctn_mactable_learn(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid, uint32_t port,
			uint64_t now_ms);
/** Forget every entry that points at @port. Returns how many. */
uint32_t ctn_mactable_flush_port(struct ctn_mactable *t, uint32_t port);
/** Clear entries older than the aging time. Returns how many. */
uint32_t ctn_mactable_expire(struct ctn_mactable *t, uint64_t now_ms);
/** Entries the table can hold. */
static inline uint32_t ctn_mactable_capacity(const struct ctn_mactable *t)
{
	return t->nsets * CTN_MAC_WAYS;
}

#endif
