/* lan.h - one learning ethernet switch ("lan") inside an engine.
 *
 * A lan knows its ports and learns which station sits behind which port. A frame
 * for a known station goes out that station's port only; broadcast, multicast and
 * frames for unknown stations are flooded to every other port of the lan, and a
 * frame never goes back out of the port it came in on.
 */
#ifndef CTN_LAN_H
#define CTN_LAN_H

#include "engine.h"
#include "mactable.h"

/** A lan. */
struct ctn_lan {
	uint32_t id;                /**< slot in the engine */
	struct ctn_mactable macs;   /**< learned stations */
	uint32_t *ports;            /**< ids of member ports */
	uint32_t nports, cap;       /**< members, room */
	uint64_t flooded;           /**< see struct ctn_lan_stats */
	uint64_t unknown_unicast;
	uint64_t filtered;
};

/** Set up @lan with @cfg. Returns 0 or -1 (ENOMEM). */
int ctn_lan_init(struct ctn_lan *lan, uint32_t id, const struct ctn_lan_cfg *cfg);
/** Free a lan's memory (its ports must be gone). */
void ctn_lan_fini(struct ctn_lan *lan);
/** Make port @port a member. Returns 0 or -1 (ENOMEM). */
int ctn_lan_attach(struct ctn_lan *lan, uint32_t port);
/** Remove port @port and forget the stations learned on it. */
void ctn_lan_detach(struct ctn_lan *lan, uint32_t port);
/** Learn from and forward @n frames that came in on @in: each frame is queued on
 *  its egress ports with ctn_engine_tx_queue(). */
void ctn_lan_forward(struct ctn_engine *e, struct ctn_lan *lan, struct ctn_port *in,
		     struct ctn_pkt **pkts, int n);

/** Queue @pkt for sending on @p in this forwarding pass (engine.c). */
void ctn_engine_tx_queue(struct ctn_engine *e, struct ctn_port *p, struct ctn_pkt *pkt);
/** The port with id @id, or NULL (engine.c). */
struct ctn_port *ctn_engine_port(struct ctn_engine *e, uint32_t id);

#endif
