/* lan.c - learning, forwarding and flooding within one lan. */
#include "lan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ctn_lan_init(struct ctn_lan *lan, uint32_t id, const struct ctn_lan_cfg *cfg)
{
	memset(lan, 0, sizeof(*lan));
	lan->id = id;
	if (ctn_mactable_init(&lan->macs, cfg->mac_table_size, cfg->aging_ms) < 0)
		return -1;
	return 0;
}

void ctn_lan_fini(struct ctn_lan *lan)
{
	ctn_mactable_fini(&lan->macs);
	free(lan->ports);
	memset(lan, 0, sizeof(*lan));
}

int ctn_lan_attach(struct ctn_lan *lan, uint32_t port)
{
	if (lan->nports == lan->cap) {
		uint32_t cap = lan->cap ? lan->cap * 2 : 8;
		uint32_t *p = realloc(lan->ports, cap * sizeof(*p));
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		lan->ports = p;
		lan->cap = cap;
	}
	lan->ports[lan->nports++] = port;
	return 0;
}

void ctn_lan_detach(struct ctn_lan *lan, uint32_t port)
{
	for (uint32_t i = 0; i < lan->nports; i++) {
		if (lan->ports[i] == port) {
			lan->ports[i] = lan->ports[--lan->nports];
			break;
		}
	}
	ctn_mactable_flush_port(&lan->macs, port);
}

/** True for 00:00:00:00:00:00, which is no station's address. */
static inline bool mac_is_zero(const uint8_t *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/** Queue @pkt on every member of @lan but @in. */
static void lan_flood(struct ctn_worker *w, struct ctn_lan *lan, struct ctn_port *in,
		      struct ctn_pkt *pkt)
{
	lan->local[w->id].flooded++;
	for (uint32_t i = 0; i < lan->nports; i++) {
		if (lan->ports[i] == in->id)
			continue;
		struct ctn_port *out = ctn_engine_port(w->eng, lan->ports[i]);
		if (out && !out->broken)
			ctn_worker_tx_queue(w, out, pkt);
	}
}

void ctn_lan_forward(struct ctn_worker *w, struct ctn_lan *lan, struct ctn_port *in,
		     struct ctn_pkt **pkts, int n)
{
	uint64_t now = w->now_ms;
	struct ctn_lan_local *cnt = &lan->local[w->id];
	for (int i = 0; i < n; i++) {
		struct ctn_pkt *pkt = pkts[i];
		const uint8_t *dst = pkt->data, *src = pkt->data + 6;
		if ((src[0] & 1) || mac_is_zero(src)) {
			in->local[w->id].st.drops[CTN_DROP_BAD_SRC]++;
			continue;
		}
		ctn_mactable_learn(&lan->macs, src, 0, in->id, now);
		if (dst[0] & 1) {
			lan_flood(w, lan, in, pkt);
			continue;
		}
		uint32_t to = ctn_mactable_lookup(&lan->macs, dst, 0, now);
		if (to == CTN_MAC_NONE) {
			cnt->unknown_unicast++;
			lan_flood(w, lan, in, pkt);
		} else if (to == in->id) {
			cnt->filtered++;
		} else {
			struct ctn_port *out = ctn_engine_port(w->eng, to);
			if (out && !out->broken)
				ctn_worker_tx_queue(w, out, pkt);
		}
	}
}

void ctn_lan_stats(struct ctn_lan *lan, struct ctn_lan_stats *st)
{
	*st = (struct ctn_lan_stats){
		.nports = lan->nports,
		.macs = atomic_load(&lan->macs.count),
		.mac_capacity = ctn_mactable_capacity(&lan->macs),
		.aging_ms = atomic_load(&lan->macs.aging_ms),
	};
	ctn_mactable_stats(&lan->macs, &st->mac);
	for (int w = 0; w < CTN_MAX_WORKERS; w++) {
		st->flooded += lan->local[w].flooded;
		st->unknown_unicast += lan->local[w].unknown_unicast;
		st->filtered += lan->local[w].filtered;
	}
}
