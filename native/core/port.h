/* port.h - the one vtable that every kind of port implements.
 *
 * A port moves frames between a lan and something outside the engine: a tap, a
 * datagram socket, vhost-user rings, a NAT, a side of a link emulator ... Each
 * kind of port implements these hooks and registers itself in the table of
 * kinds (kind.h), which says how a port of the kind is opened and changed.
 * Each port's input is polled by one worker thread (its owner), or, for a port
 * with several input queues (a multi-queue tap), each queue by a worker of its
 * own (ctn_port_watch_input_on); any worker may transmit on it, since frames for it come from ports of every worker. So a port
 * keeps one slot of counters and one transmit queue per worker, each written only
 * by that worker, and its hooks take no lock. A port that fails (its device
 * vanished, its peer went away) calls ctn_port_break() with the reason, from any
 * worker; the engine takes it out of its lan and reports it, and the other ports
 * forward on.
 */
#ifndef CTN_PORT_H
#define CTN_PORT_H

#include "ctn_atomic.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "pkt.h"

struct ctn_engine;
struct ctn_kind;
struct ctn_port;
struct ctn_worker;

#define CTN_MAX_WORKERS 8 /**< worker threads per engine */

/** Why a port dropped a frame. Each port counts its own drops by reason. */
enum ctn_drop {
	CTN_DROP_RX_ERROR,   /**< read failed */
	CTN_DROP_RUNT,       /**< shorter than an ethernet header */
	CTN_DROP_TOO_BIG,    /**< larger than CTN_FRAME_MAX, or truncated by the device */
	CTN_DROP_BAD_VNET,   /**< virtio-net header inconsistent with the frame */
	CTN_DROP_BAD_SRC,    /**< multicast or all-zero source address */
	CTN_DROP_NO_BUFFER,  /**< packet pool empty */
	CTN_DROP_NO_LAN,     /**< port is in no lan */
	CTN_DROP_TX_ERROR,   /**< write failed */
	CTN_DROP_TX_FULL,    /**< peer's queue full (EAGAIN/ENOBUFS) */
	CTN_DROP_TX_DOWN,    /**< device administratively down (EIO) */
	CTN_DROP_GSO,        /**< GSO frame whose headers cannot be segmented */
	CTN_DROP_OUTPUT_ONLY, /**< arrived on an output-only port (ctn_engine_port_output_only) */
	CTN_DROP_ADMIN_DOWN_RX, /**< received on a port set down (ctn_engine_port_admin) */
	CTN_DROP_ADMIN_DOWN_TX, /**< sent by its lan to a port set down */
	CTN_DROP_MAX
};

/** Names of enum ctn_drop, for reports (index by reason). */
extern const char *const ctn_drop_names[CTN_DROP_MAX];

/** Counters of one port. Each worker keeps its own copy; reads add them up. */
struct ctn_port_stats {
	uint64_t rx_packets, rx_bytes; /**< frames taken in from outside */
	uint64_t tx_packets, tx_bytes; /**< frames handed out */
	uint64_t drops[CTN_DROP_MAX];  /**< by reason */
};

/** Frames one worker queued for a port during one forwarding pass. */
struct ctn_txq {
	struct ctn_pkt *pkts[CTN_BURST]; /**< in order */
	uint32_t n;                      /**< entries */
	bool pending;                    /**< on the worker's list of queues to flush */
};

/** What belongs to one worker in a port: its counters and its transmit queue,
 *  on cache lines of their own so workers do not share them. */
struct ctn_port_local {
	struct ctn_port_stats st; /**< this worker's counters */
	struct ctn_txq txq;       /**< this worker's frames for the port */
} __attribute__((aligned(64)));

/* Offload capabilities of a port (CTN_CAP_*): what it takes as it is. Whatever a
 * port lacks, ctn_offload_egress() finishes in software before the port sees it. */
#define CTN_CAP_CSUM 1u /**< frames whose checksum is still to do (NEEDS_CSUM) */
#define CTN_CAP_TSO 2u  /**< TCP GSO frames, IPv4 and IPv6, with ECN */
#define CTN_CAP_USO 4u  /**< UDP GSO frames (GSO_UDP_L4) */
#define CTN_CAP_VNET (CTN_CAP_CSUM | CTN_CAP_TSO) /**< the usual set of a vnet tap */

#define CTN_PORT_COUNTERS 16 /**< kind-specific counters a port may report */

/** What a port says about itself, for show/stats. */
struct ctn_port_info {
	char kind[16];     /**< "tap", "dgram", ... */
	char ifname[32];   /**< device name where there is one */
	uint32_t caps;     /**< CTN_CAP_* */
	uint32_t hdr_len;  /**< bytes of prefix per frame (vnet header, packet info) */
	bool vnet_hdr;     /**< frames carry a virtio-net header */
	bool packet_info;  /**< frames carry the 4-byte tun packet-info prefix */
	bool broken;       /**< taken out of service */
	bool admin_down;   /**< administratively down (ctn_engine_port_admin) */
	char reason[128];  /**< why, when broken */
	uint32_t worker;   /**< index of the worker that polls its input */
	char state[96];    /**< kind-specific state for show ("connected", ...) */
	struct {
		char name[16];
		uint64_t value;
	} counters[CTN_PORT_COUNTERS]; /**< kind-specific counters for stats */
	uint32_t ncounters;            /**< entries in counters */
};

/** Append counter @name = @value to @info (dropped once it holds CTN_PORT_COUNTERS). */
static inline void ctn_port_info_counter(struct ctn_port_info *info, const char *name, uint64_t value)
{
	if (info->ncounters >= CTN_PORT_COUNTERS)
		return;
	snprintf(info->counters[info->ncounters].name, sizeof(info->counters[0].name), "%s", name);
	info->counters[info->ncounters++].value = value;
}

/** The hooks. @w is the worker thread calling: its packet pool, its scratch
 *  buffer and its slot of the port's counters (p->local[w->id]). */
struct ctn_port_ops {
	/** Read up to @max frames into packets taken from @w's pool; fill pkts[] and
	 *  return how many (0 when nothing is waiting). Stop early once
	 *  CTN_BURST_BYTES have been read; a burst of fewer than @max frames and
	 *  fewer bytes means nothing more is waiting. Drops are counted in the
	 *  port's stats. On a fatal error call ctn_port_break() and return 0.
	 *  Called by the port's owner only (or, for a port that spread its input
	 *  queues over workers, by each of those workers for its own queue). */
	int (*rx_burst)(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max);
	/** Send @n frames. The caller keeps ownership of the packets (they may go to
	 *  other ports too) but lets the port finish offload work on them in place.
	 *  Counts tx and drops itself. Called by any worker, possibly by several at
	 *  once: what it touches besides @w's slot must be safe for that. */
	void (*tx_burst)(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n);
	/** Release the port's fds and memory, including the port itself (which was
	 *  allocated with ctn_port_alloc). Called with every worker paused. */
	void (*close)(struct ctn_port *p);
	/** Fill kind-specific fields of @info: what the port is (kind, ifname,
	 *  caps, state ...) and its kind-specific counters (ctn_port_info_counter). */
	void (*info)(const struct ctn_port *p, struct ctn_port_info *info);
	/** Optional: begin work once the port has its id, worker and lan (listen,
	 *  connect, watch its fds). Returns 0, or -1 with @err (the port is then
	 *  closed). Worker 0, others paused. */
	int (*start)(struct ctn_port *p, char *err, size_t errlen);
	/** Optional: an fd watched with ctn_port_watch_control (@sub) is ready, or
	 *  (sub CTN_PORT_SUB_REQUEST) the port asked with
	 *  ctn_port_request_control(). Worker 0, others paused: may change what
	 *  the other hooks use. */
	void (*control)(struct ctn_port *p, uint32_t sub, uint32_t events);
	/** Optional: ten times a second (reconnects, timeouts). Worker 0, others
	 *  paused. */
	void (*tick)(struct ctn_port *p, uint64_t now_ms);
	/** Optional: the port broke and is being taken out of service for good,
	 *  its fd still open: undo what was to outlive the daemon but not the port
	 *  (a tap's persistence). Worker 0, others paused. */
	void (*down)(struct ctn_port *p);
};

/* Directions of an observation point (struct ctn_obs). */
#define CTN_OBS_IN 1u  /**< what the port received: its frames right after rx_burst */
#define CTN_OBS_OUT 2u /**< what it is about to send: its frames right before tx_burst */

/**
 * An observation point on a port: whoever watches a port's frames (a capture,
 * a mirror) embeds one and has the engine hang it on the port
 * (ctn_engine_port_observe). The worker that moves a burst calls @fn with the
 * burst, before the port's rx/tx hooks have touched it on the way out (a GSO
 * frame is seen whole): the hook may read and copy the frames, never keep or
 * change them, and must not block or take a lock (it runs on the packet path
 * of every worker that sends to the port, possibly several at once). A port
 * with no observer pays one predictable branch.
 */
struct ctn_obs {
	/** Frames @pkts[0..n) crossing port @p in direction @dir (CTN_OBS_*), on worker @w. */
	void (*fn)(struct ctn_obs *o, struct ctn_worker *w, struct ctn_port *p, uint32_t dir,
		   struct ctn_pkt *const *pkts, int n);
	uint32_t dirs;        /**< CTN_OBS_* it wants */
	struct ctn_obs *next; /**< the port's next observer (set by the engine, workers paused) */
};

/** The sub-fd number control() gets for ctn_port_request_control(). */
#define CTN_PORT_SUB_REQUEST 0

/** State common to all ports; a kind embeds it first in its own struct. */
struct ctn_port {
	const struct ctn_port_ops *ops; /**< the kind's hooks */
	const struct ctn_kind *kind;    /**< the kind it was opened as (set by the engine) */
	struct ctn_engine *eng;         /**< owner */
	uint32_t id;                    /**< slot in the engine */
	uint32_t lan;                   /**< lan id, or CTN_LAN_NONE */
	uint32_t worker;                /**< index of the worker that polls its input */
	/** Workers that poll some input of it (bit per worker id): its own, and
	 *  those a multi-queue port spread its queues over
	 *  (ctn_port_watch_input_on). Changed with workers paused. */
	uint32_t rx_workers;
	int fd;                         /**< fd polled for input, or -1 */
	int pidfd;                      /**< process whose exit removes the port, or -1 */
	uint32_t caps;                  /**< CTN_CAP_* */
	/** Frames read from it do not keep its worker polling (--poll-us): its
	 *  peer busy-polls or kicks through an eventfd, and a worker spinning on a
	 *  shared CPU only takes time from that peer. Set by the kind's open. */
	bool no_poll;
	CTN_ATOMIC(bool) broken;            /**< out of service, awaiting removal */
	CTN_ATOMIC(bool) ctl_pending;       /**< asked for its control hook */
	bool down;                      /**< taken out of its lan and reported */
	/** Out of its lan's forwarding while set (ctn_engine_port_output_only): the
	 *  lan sends it nothing, and what it receives is dropped (counted
	 *  CTN_DROP_OUTPUT_ONLY) after its observers saw it; p->lan stays, so
	 *  clearing the flag puts it back. Changed with workers paused. */
	bool output_only;
	/** Administratively down while set (ctn_engine_port_admin): a link
	 *  pulled out. What it receives and what the lan sends it are dropped
	 *  (counted CTN_DROP_ADMIN_DOWN_RX and _TX) before its observers see them; it stays
	 *  in its lan. Changed with workers paused. */
	bool admin_down;
	char reason[128];               /**< why it broke (written by whoever broke it first) */
	struct ctn_obs *obs;            /**< observers, NULL when none (changed with workers paused) */
	struct ctn_port_local local[CTN_MAX_WORKERS]; /**< per worker (see above) */
};

#define CTN_LAN_NONE UINT32_MAX

/** Hand burst @pkts[0..n) crossing @p in direction @dir to every observer of
 *  @p that wants it (callers test p->obs first: the branch stays inline). */
static inline void ctn_port_observe(struct ctn_port *p, struct ctn_worker *w, uint32_t dir,
				    struct ctn_pkt *const *pkts, int n)
{
	for (struct ctn_obs *o = p->obs; o; o = o->next)
		if (o->dirs & dir)
			o->fn(o, w, p, dir, pkts, n);
}

/**
 * The end of one frame of a port's rx_burst: a frame to drop (@drop, an enum
 * ctn_drop, non-zero) is counted and @pkt given back to @pool; one to keep is
 * marked as read by @p, counted and appended to the burst (@pkts[*@got], its
 * bytes added to *@bytes). Returns whether it was kept.
 */
static inline bool ctn_port_rx_take(struct ctn_port *p, struct ctn_port_stats *st, struct ctn_pktpool *pool,
				    struct ctn_pkt *pkt, int drop, struct ctn_pkt **pkts, int *got, uint32_t *bytes)
{
	if (drop) {
		st->drops[drop]++;
		ctn_pkt_free(pool, pkt);
		return false;
	}
	pkt->in_port = p->id;
	st->rx_packets++;
	st->rx_bytes += pkt->len;
	pkts[(*got)++] = pkt;
	*bytes += pkt->len;
	return true;
}

/** Take @p out of service, from any worker: it stops being polled and sent to at
 *  once; the engine's first worker then closes its fds, removes it from its lan
 *  and reports @fmt to the control plane. The first reason given wins. */
void ctn_port_break(struct ctn_port *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Ask for @p's control hook (sub CTN_PORT_SUB_REQUEST) to be run on worker 0
 *  with the other workers paused, soon; from any worker. */
void ctn_port_request_control(struct ctn_port *p);
/** Poll @fd for @p's input on its worker; readiness reads a burst. @sub: 1.. */
int ctn_port_watch_input(struct ctn_port *p, int fd, uint32_t sub);
/** Poll @fd for @p's input on worker @worker (below ctn_engine_threads()), not
 *  necessarily its own: a port with several input queues (a multi-queue tap)
 *  spreads them over workers, and each worker then reads its queue in its
 *  rx_burst calls (at most one queue of a port per worker). Worker 0, others
 *  paused (a start hook). @sub: 1.. */
int ctn_port_watch_input_on(struct ctn_port *p, int fd, uint32_t sub, uint32_t worker);
/** Poll @fd on worker 0; readiness calls @p's control hook with @sub (1..). */
int ctn_port_watch_control(struct ctn_port *p, int fd, uint32_t sub);
/** The epoll set of @p's worker (to watch an fd with events other than EPOLLIN). */
int ctn_port_epfd(const struct ctn_port *p);
/** Stop polling @fd of @p (on whichever of its workers polled it). */
void ctn_port_unwatch(struct ctn_port *p, int fd);

/** Zeroed memory for a port struct of @size bytes (a kind's struct embedding
 *  struct ctn_port), aligned for its per-worker slots; free() releases it.
 *  NULL when out of memory. */
void *ctn_port_alloc(size_t size);

#endif
