/* mactable.c - set associative MAC learning table with aging and eviction,
 * safe for several worker threads at once (see the seqlock in mactable.h). */
#include "mactable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RELAXED memory_order_relaxed

/** Tell the CPU we are spinning. */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

/** Relaxed atomic load of a plain field (entries are read while a writer may
 *  change them; the set's sequence count tells the reader to try again). */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/** Relaxed atomic store of a plain field. */
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/** The key of (@mac, @vid): 48 bits of address above 12 bits of VLAN id. */
static inline uint64_t mac_key(const uint8_t *mac, uint16_t vid)
{
	uint64_t m = (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
		     (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
	return m << 12 | (vid & 0xfffu);
}

/** Set index of @key (multiplicative hash; the low address bytes vary most). */
static inline uint32_t key_set(const struct ctn_mactable *t, uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (t->nsets - 1);
}

/** True when entry @e is live at @now_ms under aging time @aging. */
static inline bool fresh(const struct ctn_mac_entry *e, uint64_t now_ms, uint64_t aging)
{
	return LD(e->port) != CTN_MAC_NONE && now_ms - LD(e->seen_ms) < aging;
}

/** Take the write side of set @s: writers of one set take turns. */
static void set_lock(struct ctn_mactable *t, uint32_t s)
{
	for (;;) {
		uint32_t v = atomic_load_explicit(&t->seq[s], RELAXED);
		if (!(v & 1) && atomic_compare_exchange_weak_explicit(&t->seq[s], &v, v + 1,
								      memory_order_acquire, RELAXED))
			return;
		cpu_relax();
	}
}

/** Release set @s: the count goes even again and readers see the change. */
static void set_unlock(struct ctn_mactable *t, uint32_t s)
{
	atomic_fetch_add_explicit(&t->seq[s], 1, memory_order_release);
}

int ctn_mactable_init(struct ctn_mactable *t, uint32_t capacity, uint64_t aging_ms)
{
	uint32_t nsets = 1;
	while ((uint64_t)nsets * CTN_MAC_WAYS < capacity && nsets < (1u << 24))
		nsets <<= 1;
	memset(t, 0, sizeof(*t));
	t->e = malloc((size_t)nsets * CTN_MAC_WAYS * sizeof(*t->e));
	t->seq = calloc(nsets, sizeof(*t->seq));
	if (!t->e || !t->seq) {
		ctn_mactable_fini(t);
		errno = ENOMEM;
		return -1;
	}
	for (uint32_t i = 0; i < nsets * CTN_MAC_WAYS; i++)
		t->e[i] = (struct ctn_mac_entry){.port = CTN_MAC_NONE};
	t->nsets = nsets;
	atomic_store(&t->aging_ms, aging_ms ? aging_ms : 1);
	return 0;
}

void ctn_mactable_fini(struct ctn_mactable *t)
{
	free(t->e);
	free((void *)t->seq);
	memset(t, 0, sizeof(*t));
}

/** Index of the entry of set @s that holds @key, or -1. Caller holds the set
 *  or validates with the sequence count. */
static inline int find(const struct ctn_mactable *t, uint32_t s, uint64_t key)
{
	const struct ctn_mac_entry *set = &t->e[(size_t)s * CTN_MAC_WAYS];
	for (int i = 0; i < CTN_MAC_WAYS; i++)
		if (LD(set[i].key) == key && LD(set[i].port) != CTN_MAC_NONE)
			return i;
	return -1;
}

uint32_t ctn_mactable_lookup(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid,
			     uint64_t now_ms)
{
	uint64_t key = mac_key(mac, vid), aging = atomic_load_explicit(&t->aging_ms, RELAXED);
	uint32_t s = key_set(t, key);
	const struct ctn_mac_entry *set = &t->e[(size_t)s * CTN_MAC_WAYS];
	for (;;) {
		uint32_t v = atomic_load_explicit(&t->seq[s], memory_order_acquire);
		if (v & 1) {
			cpu_relax();
			continue;
		}
		int i = find(t, s, key);
		uint32_t port = i < 0 ? CTN_MAC_NONE : LD(set[i].port);
		if (i >= 0 && !fresh(&set[i], now_ms, aging))
			port = CTN_MAC_NONE;
		/* The loads above must complete before the count is read again. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&t->seq[s], RELAXED) == v)
			return port;
	}
}

/** Eviction rank of an entry: empty before expired before live. */
static inline int rank(const struct ctn_mac_entry *e, uint64_t now_ms, uint64_t aging)
{
	if (LD(e->port) == CTN_MAC_NONE)
		return 0;
	return fresh(e, now_ms, aging) ? 2 : 1;
}

void ctn_mactable_learn(struct ctn_mactable *t, const uint8_t *mac, uint16_t vid, uint32_t port,
			uint64_t now_ms)
{
	uint64_t key = mac_key(mac, vid), aging = atomic_load_explicit(&t->aging_ms, RELAXED);
	uint32_t s = key_set(t, key);
	struct ctn_mac_entry *set = &t->e[(size_t)s * CTN_MAC_WAYS];

	/* The common case, a known station on the same port: refresh its time.
	 * A racing writer can at worst make this refresh land on a reused entry,
	 * which then looks younger by under a millisecond. */
	int i = find(t, s, key);
	if (i >= 0 && LD(set[i].port) == port && fresh(&set[i], now_ms, aging)) {
		if (LD(set[i].seen_ms) != now_ms)
			ST(set[i].seen_ms, now_ms);
		return;
	}

	set_lock(t, s);
	i = find(t, s, key);
	if (i >= 0) {
		struct ctn_mac_entry *e = &set[i];
		if (!fresh(e, now_ms, aging))
			atomic_fetch_add_explicit(&t->st.learned, 1, RELAXED); /* aged, not yet swept */
		else if (LD(e->port) != port)
			atomic_fetch_add_explicit(&t->st.moved, 1, RELAXED);
		ST(e->port, port);
		ST(e->seen_ms, now_ms);
		set_unlock(t, s);
		return;
	}
	/* The victim is the lowest rank, and the oldest among equals. */
	struct ctn_mac_entry *victim = NULL;
	int victim_rank = 3;
	for (int j = 0; j < CTN_MAC_WAYS; j++) {
		struct ctn_mac_entry *e = &set[j];
		int r = rank(e, now_ms, aging);
		if (r < victim_rank || (r == victim_rank && LD(e->seen_ms) < LD(victim->seen_ms))) {
			victim = e;
			victim_rank = r;
		}
	}
	if (victim_rank == 0)
		atomic_fetch_add_explicit(&t->count, 1, RELAXED);
	else if (victim_rank == 2)
		atomic_fetch_add_explicit(&t->st.evicted, 1, RELAXED);
	else
		atomic_fetch_add_explicit(&t->st.expired, 1, RELAXED);
	ST(victim->key, key);
	ST(victim->port, port);
	ST(victim->seen_ms, now_ms);
	atomic_fetch_add_explicit(&t->st.learned, 1, RELAXED);
	set_unlock(t, s);
}

/** Clear, set by set, every live entry for which @drop says so; returns how many. */
static uint32_t sweep(struct ctn_mactable *t, bool (*drop)(const struct ctn_mac_entry *, const void *),
		      const void *arg)
{
	uint32_t n = 0;
	for (uint32_t s = 0; s < t->nsets; s++) {
		struct ctn_mac_entry *set = &t->e[(size_t)s * CTN_MAC_WAYS];
		bool locked = false;
		for (int i = 0; i < CTN_MAC_WAYS; i++) {
			if (LD(set[i].port) == CTN_MAC_NONE || !drop(&set[i], arg))
				continue;
			if (!locked) {
				set_lock(t, s);
				locked = true;
				if (LD(set[i].port) == CTN_MAC_NONE || !drop(&set[i], arg))
					continue; /* changed before we held the set */
			}
			ST(set[i].port, CTN_MAC_NONE);
			n++;
		}
		if (locked)
			set_unlock(t, s);
	}
	atomic_fetch_sub_explicit(&t->count, n, RELAXED);
	return n;
}

/** sweep() test: the entry points at port *(uint32_t *)arg. */
static bool on_port(const struct ctn_mac_entry *e, const void *arg)
{
	return LD(e->port) == *(const uint32_t *)arg;
}

/** What ctn_mactable_expire() compares against. */
struct expiry {
	uint64_t now_ms, aging;
};

/** sweep() test: the entry is older than the aging time. */
static bool stale(const struct ctn_mac_entry *e, const void *arg)
{
	const struct expiry *x = arg;
	return !fresh(e, x->now_ms, x->aging);
}

uint32_t ctn_mactable_flush_port(struct ctn_mactable *t, uint32_t port)
{
	return sweep(t, on_port, &port);
}

uint32_t ctn_mactable_expire(struct ctn_mactable *t, uint64_t now_ms)
{
	struct expiry x = {now_ms, atomic_load_explicit(&t->aging_ms, RELAXED)};
	uint32_t n = sweep(t, stale, &x);
	atomic_fetch_add_explicit(&t->st.expired, n, RELAXED);
	return n;
}

void ctn_mactable_stats(struct ctn_mactable *t, struct ctn_mac_stats *out)
{
	out->learned = atomic_load_explicit(&t->st.learned, RELAXED);
	out->moved = atomic_load_explicit(&t->st.moved, RELAXED);
	out->evicted = atomic_load_explicit(&t->st.evicted, RELAXED);
	out->expired = atomic_load_explicit(&t->st.expired, RELAXED);
}
