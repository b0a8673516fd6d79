/* mactable.c - set associative MAC learning table with aging and eviction. */
#include "mactable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/** Hash of a station key to a set index (multiplicative, good enough for MACs,
 *  whose low bytes vary most). */
static inline uint32_t mac_set(const struct ctn_mactable *t, const uint8_t *mac, uint16_t vid)
{
	uint64_t k = (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
		     (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
	k ^= (uint64_t)vid << 48;
	k *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(k >> 32) & (t->nsets - 1);
}

/** True when entry @e holds (@mac, @vid). */
static inline bool mac_match(const struct ctn_mac_entry *e, const uint8_t *mac, uint16_t vid)
{
	return e->port != CTN_MAC_NONE && e->vid == vid && memcmp(e->mac, mac, 6) == 0;
}

/** True when entry @e is live at @now_ms. */
static inline bool mac_fresh(const struct ctn_mactable *t, const struct ctn_mac_entry *e,
			     uint64_t now_ms)
{
	return e->port != CTN_MAC_NONE && now_ms - e->seen_ms < t->aging_ms;
}

int ctn_mactable_init(struct ctn_mactable *t, uint32_t capacity, uint64_t aging_ms)
{
	uint32_t nsets = 1;
	while ((uint64_t)nsets * CTN_MAC_WAYS < capacity && nsets < (1u << 24))
		nsets <<= 1;
	*t = (struct ctn_mactable){0};
	t->e = malloc((size_t)nsets * CTN_MAC_WAYS * sizeof(*t->e));
	if (!t->e) {
		errno = ENOMEM;
		return -1;
	}
	for (uint32_t i = 0; i < nsets * CTN_MAC_WAYS; i++)
		t->e[i].port = CTN_MAC_NONE;
	t->nsets = nsets;
	t->aging_ms = aging_ms ? aging_ms : 1;
	return 0;
}

void ctn_mactable_fini(struct ctn_mactable *t)
{
	free(t->e);
	*t = (struct ctn_mactable){0};
}

uint32_t ctn_mactable_lookup(const struct ctn_mactable *t, const uint8_t *mac, uint16_t vid,
			     uint64_t now_ms)
{
	const struct ctn_mac_entry *set = &t->e[(size_t)mac_set(t, mac, vid) * CTN_MAC_WAYS];
	for (int i = 0; i < CTN_MAC_WAYS; i++)
		if (mac_match(&set[i], mac, vid))
			return mac_fresh(t, &set[i], now_ms) ? set[i].port : CTN_MAC_NONE;
	return CTN_MAC_NONE;
}

/** Eviction rank of an entry: empty before expired before live. */
static inline int mac_rank(const struct ctn_mactable *t, const struct ctn_mac_entry *e,
			   uint64_t now_ms)
{
	if (e->port == CTN_MAC_NONE)
		return 0;
	return mac_fresh(t, e, now_ms) ? 2 : 1;
}

void ctn_mactable_learn(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid, uint32_t port,
			uint64_t now_ms)
{
	struct ctn_mac_entry *set = &t->e[(size_t)mac_set(t, mac, vid) * CTN_MAC_WAYS];
	struct ctn_mac_entry *victim = NULL;
	int victim_rank = 3;
	for (int i = 0; i < CTN_MAC_WAYS; i++) {
		struct ctn_mac_entry *e = &set[i];
		if (mac_match(e, mac, vid)) {
			if (!mac_fresh(t, e, now_ms))
				t->st.learned++; /* aged but not yet swept: a new sighting */
			else if (e->port != port)
				t->st.moved++;
			e->port = port;
			e->seen_ms = now_ms;
			return;
		}
		/* The victim is the lowest rank, and the oldest among equals. */
		int r = mac_rank(t, e, now_ms);
		if (r < victim_rank || (r == victim_rank && e->seen_ms < victim->seen_ms)) {
			victim = e;
			victim_rank = r;
		}
	}
	if (victim_rank == 0)
		t->count++;
	else if (victim_rank == 2)
		t->st.evicted++;
	else
		t->st.expired++;
	memcpy(victim->mac, mac, 6);
	victim->vid = vid;
	victim->port = port;
	victim->seen_ms = now_ms;
	t->st.learned++;
}

uint32_t ctn_mactable_flush_port(struct ctn_mactable *t, uint32_t port)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nsets * CTN_MAC_WAYS; i++) {
		if (t->e[i].port == port) {
			t->e[i].port = CTN_MAC_NONE;
			n++;
		}
	}
	t->count -= n;
	return n;
}

uint32_t ctn_mactable_expire(struct ctn_mactable *t, uint64_t now_ms)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nsets * CTN_MAC_WAYS; i++) {
		struct ctn_mac_entry *e = &t->e[i];
		if (e->port != CTN_MAC_NONE && !mac_fresh(t, e, now_ms)) {
			e->port = CTN_MAC_NONE;
			n++;
		}
	}
	t->count -= n;
	t->st.expired += n;
	return n;
}
