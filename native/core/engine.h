/* engine.h - the dataplane engine: worker threads, each with an epoll set, and
 * the lans and ports they share.
 *
 * The control plane (the Node addon, or a C test) talks to the engine only through
 * the functions below. Each one queues a command, wakes the first worker through
 * an eventfd and waits for it to carry the command out, so the engine's tables
 * change only on that thread, while the other workers are paused between two
 * loop passes; the packet path takes no lock. The engine reports what happens on
 * its own (a port broke, a control client sent a message) through the event
 * callback given at creation, called on a worker thread.
 *
 * Workers: worker 0 runs commands, the control socket, housekeeping and watched
 * processes, and polls ports like every other worker. Each port's input belongs to
 * one worker (chosen at add: the one with the fewest ports, unless the caller
 * names one); a frame is forwarded by the worker that read it, straight into the
 * egress ports' queues, so busy ports on different workers forward in parallel.
 */
#ifndef CTN_ENGINE_H
#define CTN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>
#include <semaphore.h>

#include "attr.h"
#include "kind.h"
#include "mactable.h"
#include "pkt.h"
#include "port.h"

#define CTN_MAX_PORTS 4096 /**< port slots per engine */
#define CTN_MAX_LANS 1024  /**< lan slots per engine */
#define CTN_MAX_FDS 9      /**< fds taken from one control message: one more than any verb takes (add-etherfd: 8 queues), so a surplus shows */

/** Kinds of event the engine reports. */
enum ctn_event_type {
	CTN_EV_PORT_DOWN,  /**< a port broke: id, text = reason */
	CTN_EV_CTL_OPEN,   /**< a control client connected: id, pid, uid, gid */
	CTN_EV_CTL_DATA,   /**< bytes (and maybe fds) from a control client: id, data, fds */
	CTN_EV_CTL_CLOSED, /**< a control client is gone: id */
	CTN_EV_CTL_EOF,    /**< a control client finished sending (it may still read): id */
	CTN_EV_LOG,        /**< something worth a log line: text */
};

/** One event. Pointers are valid only during the callback; fds become the
 *  callee's to close. */
struct ctn_event {
	enum ctn_event_type type;
	uint32_t id;              /**< port or connection id */
	const uint8_t *data;      /**< CTL_DATA bytes */
	size_t len;               /**< their length */
	int fds[CTN_MAX_FDS];     /**< CTL_DATA fds */
	int nfds;                 /**< how many */
	pid_t pid;                /**< CTL_OPEN peer credentials */
	uid_t uid;
	gid_t gid;
	const char *text;         /**< PORT_DOWN reason, LOG message */
};

/** Event callback: runs on a worker thread (any of them), must not block for
 *  long, and must be safe to call from several threads at once. */
typedef void (*ctn_event_fn)(void *opaque, const struct ctn_event *ev);

/** Settings of a lan. */
struct ctn_lan_cfg {
	uint32_t mac_table_size; /**< entries (rounded up to a power of two) */
	uint64_t aging_ms;       /**< MAC aging time */
};

/** Counters of a lan. */
struct ctn_lan_stats {
	uint32_t nports;           /**< ports in it */
	uint32_t macs;             /**< live MAC entries */
	uint32_t mac_capacity;     /**< entries it can hold */
	uint64_t aging_ms;         /**< aging time in force */
	struct ctn_mac_stats mac;  /**< learning counters */
	uint64_t flooded;          /**< frames flooded (broadcast, multicast, unknown) */
	uint64_t unknown_unicast;  /**< of which unicast to an unknown station */
	uint64_t filtered;         /**< unicast whose station sits on the ingress port */
};

/** Settings of an engine. */
struct ctn_engine_cfg {
	uint32_t pool_size; /**< packet buffers per worker (0: default 512) */
	uint32_t threads;   /**< worker threads, 1 to CTN_MAX_WORKERS (0: 1) */
	uint32_t poll_us;   /**< keep polling this long after the last frame read (0: sleep at once) */
	bool busy_poll;     /**< never sleep: each worker polls all the time, idle or not */
};

struct ctn_engine;

/** Create an engine and start its thread. Returns NULL with @err filled. */
struct ctn_engine *ctn_engine_new(const struct ctn_engine_cfg *cfg, ctn_event_fn fn, void *opaque,
				  char *err, size_t errlen);
/** Stop the thread, close every port and connection, remove the control socket
 *  file, free everything. */
void ctn_engine_free(struct ctn_engine *e);

/* Each call below returns >= 0 on success, or -1 with @err filled. */

/** Add a lan; returns its id. */
int ctn_engine_lan_add(struct ctn_engine *e, const struct ctn_lan_cfg *cfg, char *err, size_t errlen);
/** Change a lan's aging time (its MAC table is kept). */
int ctn_engine_lan_set_aging(struct ctn_engine *e, uint32_t lan, uint64_t aging_ms, char *err,
			     size_t errlen);
/** Remove a lan that has no ports left. */
int ctn_engine_lan_del(struct ctn_engine *e, uint32_t lan, char *err, size_t errlen);
/** Read a lan's counters. */
int ctn_engine_lan_stats(struct ctn_engine *e, uint32_t lan, struct ctn_lan_stats *out, char *err,
			 size_t errlen);
/**
 * Add an object of kind @kind (kind.h) with settings @attrs (@nattrs of them,
 * checked against the kind's policy): its ports, one on each lan of @lans
 * (@nlans: as many as the kind has sides), polled by worker @worker (-1: each
 * the least loaded). Fills ids[i] with side i's port id and, when @infos is
 * not NULL, infos[i] with its description (both CTN_KIND_MAX_SIDES long).
 * Returns the number of ports made. An fd among the settings (CTN_ATTR_FD) is
 * the engine's on success (it keeps a copy and closes the one given); on
 * failure it stays the caller's.
 */
int ctn_engine_port_add(struct ctn_engine *e, const char *kind, const struct ctn_attr *attrs, uint32_t nattrs,
			const uint32_t *lans, uint32_t nlans, int worker, uint32_t *ids, struct ctn_port_info *infos,
			char *err, size_t errlen);
/** Change the settings of port @port by its kind's set hook, from @attrs
 *  (checked against the kind's set policy). */
int ctn_engine_port_set(struct ctn_engine *e, uint32_t port, const struct ctn_attr *attrs, uint32_t nattrs,
			char *err, size_t errlen);
/** Hang observer @o on port @port (@on), or take it off (!@on; a port gone
 *  or without it is no error when taking off). The caller keeps @o alive
 *  until it is taken off or the port is gone. */
int ctn_engine_port_observe(struct ctn_engine *e, uint32_t port, struct ctn_obs *o, bool on, char *err,
			    size_t errlen);
/** Take port @port out of its lan's forwarding (@on: it receives nothing from
 *  the lan, and frames arriving on it are dropped and counted) or put it back
 *  (!@on). Refused when it is already so (@on), or broken. */
int ctn_engine_port_output_only(struct ctn_engine *e, uint32_t port, bool on, char *err, size_t errlen);
/** Set port @port administratively down (@down: a pulled link; whatever it
 *  receives and whatever its lan sends it is dropped, counted admin_down_rx and admin_down_tx,
 *  from the moment this returns, on every worker) or up again (!@down).
 *  Setting the state it is in already is no error. */
int ctn_engine_port_admin(struct ctn_engine *e, uint32_t port, bool down, char *err, size_t errlen);
/** Number of worker threads. */
uint32_t ctn_engine_threads(const struct ctn_engine *e);
/** The MAC aging time of lan @lan, in ms (0: no such lan). For a port's hooks
 *  that run on worker 0 with the others paused (start, tick). */
uint64_t ctn_engine_lan_aging_ms(struct ctn_engine *e, uint32_t lan);
/** Remove the port when process @pid exits (pidfd). */
int ctn_engine_port_watch_pid(struct ctn_engine *e, uint32_t port, pid_t pid, char *err,
			      size_t errlen);
/** Close and forget a port (broken or not). */
int ctn_engine_port_del(struct ctn_engine *e, uint32_t port, char *err, size_t errlen);
/** Read a port's counters and description. */
int ctn_engine_port_stats(struct ctn_engine *e, uint32_t port, struct ctn_port_stats *st,
			  struct ctn_port_info *info, char *err, size_t errlen);
/** Listen on a unix socket at @path (owner-only; a stale file is replaced only
 *  when nothing answers on it). */
int ctn_engine_ctl_listen(struct ctn_engine *e, const char *path, char *err, size_t errlen);
/** Queue @len bytes to control connection @conn; close it once sent when
 *  @close_after. */
int ctn_engine_ctl_send(struct ctn_engine *e, uint32_t conn, const void *data, size_t len,
			bool close_after, char *err, size_t errlen);
/** Close control connection @conn now. */
int ctn_engine_ctl_close(struct ctn_engine *e, uint32_t conn, char *err, size_t errlen);

/* --- for the engine's own modules --- */

#define CTN_WORKER_OWNED (CTN_BURST * 8) /**< packets a worker may make for one pass's queues */

/** A worker thread. Port hooks and lan code use the fields up to @now_ms. */
struct ctn_worker {
	uint32_t id;                 /**< index: selects counters and transmit queues */
	struct ctn_engine *eng;      /**< the engine */
	struct ctn_pktpool pool;     /**< packet buffers of this thread */
	uint8_t *scratch;            /**< CTN_BUF_SIZE bytes for software segments */
	uint64_t now_ms;             /**< monotonic clock, read once per loop pass */
	int epfd;                    /**< this thread's epoll set */
	int wakefd;                  /**< eventfd: pause or stop requested */
	pthread_t thread;            /**< the thread */
	bool started;                /**< thread is running */
	sem_t resume;                /**< posted to end a pause */
	uint32_t nports;             /**< ports whose input it polls */
	uint32_t ntx_pending;        /**< entries in tx_pending */
	uint32_t nowned;             /**< entries in owned */
	/** Packets this worker took from its pool for this pass's transmit queues
	 *  (copies made by an observer, ctn_worker_tx_own), given back to the
	 *  pool once the queues are flushed. */
	struct ctn_pkt *owned[CTN_WORKER_OWNED];
	/** Ports with frames queued by this worker. A port is listed once until it
	 *  is flushed; during a flush only an observer's copy (ctn_worker_tx_own,
	 *  at most CTN_WORKER_OWNED per pass) can list a flushed port again. */
	struct ctn_port *tx_pending[CTN_MAX_PORTS + CTN_WORKER_OWNED];
	/** Why the port's rx_burst is called: the sub-fd number (see
	 *  ctn_port_watch_input; 0 for the port's own fd) that became ready, for
	 *  the first burst of a wake-up; CTN_RX_MORE for the bursts after it. */
	uint32_t rx_sub;
	/** Set by a port's hooks during a read when the frames moved gain nothing
	 *  from the worker polling on afterwards (a port whose reads only hand on
	 *  what the worker's own writes caused): that read then does not extend
	 *  adaptive polling. */
	bool poll_veto;
};

/** rx_sub of a burst after the first of a wake-up. */
#define CTN_RX_MORE UINT32_MAX

/** Report an event to the control plane (any worker). */
void ctn_engine_emit(struct ctn_engine *e, const struct ctn_event *ev);
/** Emit a log line (printf style; any worker). */
void ctn_engine_log(struct ctn_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The port with id @id, or NULL. */
struct ctn_port *ctn_engine_port(struct ctn_engine *e, uint32_t id);
/** Queue @pkt on @p's transmit queue of worker @w for this forwarding pass. */
void ctn_worker_tx_queue(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt *pkt);
/** Queue @pkt, a packet @w took from its own pool during this pass (an
 *  observer's copy), on @p's transmit queue; @w gives it back to its pool
 *  once the pass's queues are flushed. Returns 0, or -1 when @w already holds
 *  CTN_WORKER_OWNED such packets (@pkt is then still the caller's). Only from
 *  the packet path of a pass (an observer), which a flush always follows. */
int ctn_worker_tx_own(struct ctn_worker *w, struct ctn_port *p, struct ctn_pkt *pkt);

/** Kinds of fd in the epoll set; the cookie is kind << 32 | index. */
enum ctn_fd_kind {
	CTN_FD_CMD,        /**< eventfd: commands queued (worker 0) */
	CTN_FD_WAKE,       /**< eventfd: pause, stop, or a port broke */
	CTN_FD_TIMER,      /**< timerfd: 10 Hz housekeeping (port ticks, MAC aging) */
	CTN_FD_CTL_LISTEN, /**< control socket listener */
	CTN_FD_CTL_CONN,   /**< a control connection; index = connection id */
	CTN_FD_PORT,       /**< a port's input fd; index = sub << 16 | port id */
	CTN_FD_PORT_CTL,   /**< a port's control fd (worker 0); index = sub << 16 | port id */
	CTN_FD_PIDFD,      /**< a watched process; index = port id */
};

/** Epoll cookie for fd kind @k with index @i. */
static inline uint64_t ctn_cookie(enum ctn_fd_kind k, uint32_t i)
{
	return (uint64_t)k << 32 | i;
}

/** Add @fd to worker 0's epoll set for @events with cookie (@k, @i). */
int ctn_engine_watch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i);
/** Remove @fd from the epoll set. */
void ctn_engine_unwatch(struct ctn_engine *e, int fd);
/** Change the events watched on @fd. */
int ctn_engine_rewatch(struct ctn_engine *e, int fd, uint32_t events, enum ctn_fd_kind k, uint32_t i);

#endif
