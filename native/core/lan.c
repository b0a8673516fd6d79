/* lan.c - learning, forwarding and flooding within one lan. */
#include "lan.h"

#include <errno.h>
#include <stdlib.h>

int ctn_lan_init(struct ctn_lan *lan, uint32_t id, const struct ctn_lan_cfg *cfg)
{
	*lan = (struct ctn_lan){.id = id};
	if (ctn_mactable_init(&lan->macs, cfg->mac_table_size, cfg->aging_ms) < 0)
		return -1;
	return 0;
}

void ctn_lan_fini(struct ctn_lan *lan)
{
	ctn_mactable_fini(&lan->macs);
	free(lan->ports);
	*lan = (struct ctn_lan){0};
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
static void lan_flood(struct ctn_engine *e, struct ctn_lan *lan, struct ctn_port *in,
		      struct ctn_pkt *pkt)
{
	lan->flooded++;
	for (uint32_t i = 0; i < lan->nports; i++) {
		if (lan->ports[i] == in->id)
			continue;
		struct ctn_port *out = ctn_engine_port(e, lan->ports[i]);
		if (out && !out->broken)
			ctn_engine_tx_queue(e, out, pkt);
	}
}

void ctn_lan_forward(struct ctn_engine *e, struct ctn_lan *lan, struct ctn_port *in,
		     struct ctn_pkt **pkts, int n)
{
	uint64_t now = ctn_engine_now_ms(e);
	for (int i = 0; i < n; i++) {
		struct ctn_pkt *pkt = pkts[i];
		const uint8_t *dst = pkt->data, *src = pkt->data + 6;
		if ((src[0] & 1) || mac_is_zero(src)) {
			in->st.drops[CTN_DROP_BAD_SRC]++;
			continue;
		}
		ctn_mactable_learn(&lan->macs, src, 0, in->id, now);
		if (dst[0] & 1) {
			lan_flood(e, lan, in, pkt);
			continue;
		}
		uint32_t to = ctn_mactable_lookup(&lan->macs, dst, 0, now);
		if (to == CTN_MAC_NONE) {
			lan->unknown_unicast++;
			lan_flood(e, lan, in, pkt);
		} else if (to == in->id) {
			lan->filtered++;
		} else {
			struct ctn_port *out = ctn_engine_port(e, to);
			if (out && !out->broken)
				ctn_engine_tx_queue(e, out, pkt);
		}
	}
}
