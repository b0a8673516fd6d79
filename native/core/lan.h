/* lan.h - one learning ethernet switch ("lan") inside an engine.
 *
 * A lan knows its ports and learns which station sits behind which port. A frame
 * for a known station goes out that station's port only; broadcast, multicast and
 * frames for unknown stations are flooded to every other port of the lan, and a
 * frame never goes back out of the port it came in on.
 *
 * Every worker forwards through a lan at once: the MAC table is safe for that
 * (see mactable.h), the member list changes only while the workers are paused,
 * and the counters are kept per worker.
 */
#ifndef CTN_LAN_H
#define CTN_LAN_H

#include "engine.h"
#include "mactable.h"

/** Forwarding counters of a lan kept by one worker (see struct ctn_lan_stats). */
struct ctn_lan_local {
	uint64_t flooded;
	uint64_t unknown_unicast;
	uint64_t filtered;
} __attribute__((aligned(64)));

/** A lan. */
struct ctn_lan {
	uint32_t id;                /**< slot in the engine */
	struct ctn_mactable macs;   /**< learned stations */
	uint32_t *ports;            /**< ids of member ports */
	uint32_t nports, cap;       /**< members, room */
	struct ctn_lan_local local[CTN_MAX_WORKERS]; /**< per worker counters */
};

/** Set up @lan with @cfg. Returns 0 or -1 (ENOMEM). */
int ctn_lan_init(struct ctn_lan *lan, uint32_t id, const struct ctn_lan_cfg *cfg);
/** Free a lan's memory (its ports must be gone). */
void ctn_lan_fini(struct ctn_lan *lan);
/** Make port @port a member. Returns 0 or -1 (ENOMEM). */
int ctn_lan_attach(struct ctn_lan *lan, uint32_t port);
/** Remove port @port and forget the stations learned on it. */
void ctn_lan_detach(struct ctn_lan *lan, uint32_t port);
/** Learn from and forward @n frames that came in on @in, on worker @w: each
 *  frame is queued on its egress ports with ctn_worker_tx_queue(). */
void ctn_lan_forward(struct ctn_worker *w, struct ctn_lan *lan, struct ctn_port *in,
		     struct ctn_pkt **pkts, int n);
/** Add up the lan's counters into @st (nports, macs, flooding, learning). */
void ctn_lan_stats(struct ctn_lan *lan, struct ctn_lan_stats *st);

#endif
