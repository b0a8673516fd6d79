/* mirror.h - port mirroring: copies of the frames some ports receive and/or
 * send, sent out of another port (a host tap for tcpdump, a tunnel port for a
 * remote capture).
 *
 * A mirror hangs an observer (port.h, struct ctn_obs) on each selected port.
 * The worker that moves a burst copies each frame, with its virtio-net
 * metadata (a GSO frame stays one frame; the output port's tx_burst, or
 * ctn_offload_egress for what it cannot take, finishes it), into a packet of
 * its own pool and queues it on the output port's transmit queue of that
 * worker (ctn_worker_tx_own): the copy leaves with the pass's other frames and
 * goes back to the pool after the flush, so the packet path takes no lock and
 * allocates nothing. An empty pool, or a pass that made too many copies, is a
 * counted drop.
 *
 * The output port is taken out of its lan's forwarding while the mirror lives
 * (ctn_engine_port_output_only): it gets nothing but the copies, and what
 * arrives on it is dropped.
 */
#ifndef CTN_MIRROR_H
#define CTN_MIRROR_H

#include <stddef.h>
#include <stdint.h>

struct ctn_engine;
struct ctn_mirror;

/** Counters of a mirror. */
struct ctn_mirror_stats {
	uint64_t frames; /**< copies queued on the output port */
	uint64_t bytes;  /**< their bytes */
	uint64_t drops;  /**< frames not copied: the worker's pool was empty, or its pass made too many copies */
};

/**
 * Mirror what the @n ports @ports (engine ids) move in directions @dirs
 * (CTN_OBS_IN and/or CTN_OBS_OUT) to port @out, which is taken out of its
 * lan's forwarding meanwhile. @port_dirs (NULL: @dirs for all) gives each
 * port its own directions instead (a sink that another switch's mirror feeds
 * is watched IN whatever the mirror copies). Refused (NULL, @err filled) when
 * @out is among @ports, is already output only, or any port is missing or
 * broken.
 */
struct ctn_mirror *ctn_mirror_new(struct ctn_engine *e, const uint32_t *ports, const uint32_t *port_dirs,
				  uint32_t n, uint32_t out, uint32_t dirs, char *err, size_t errlen);

/** Read @m's counters (any thread). */
void ctn_mirror_stats(const struct ctn_mirror *m, struct ctn_mirror_stats *st);

/** Take @m's observers off its ports, give its output port back to its lan
 *  (when it is still there) and free it; @st (may be NULL) gets its final
 *  counters. */
void ctn_mirror_free(struct ctn_mirror *m, struct ctn_mirror_stats *st);

#endif
