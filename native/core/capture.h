/* capture.h - capture of the frames crossing some ports, written as pcapng or
 * pcap to an fd (a pipe to tcpdump or wireshark, a FIFO, a file).
 *
 * A capture hangs an observer (port.h, struct ctn_obs) on each port it watches.
 * The worker that moves a burst filters each frame (a BPF program compiled by
 * libpcap) and copies what passes, cut to the snap length, into its own ring of
 * the capture: one bounded single-producer single-consumer byte ring per
 * worker, so the packet path takes no lock, allocates nothing, and never
 * waits. A writer thread of the capture drains the rings (merged by time
 * stamp) and writes the records out without blocking, in batches, with
 * writev: each record's head and tail encoded (pcapfile.h) around the frame's
 * bytes, written from the ring itself. When a ring is full the frame is not copied and counted as a drop:
 * a slow or stopped reader costs the capture frames, never the dataplane more
 * than the copy.
 *
 * A capture ends when it has written its COUNT frames, when its reader goes
 * away (EPIPE, a hang-up), or when it is freed; the owner polls
 * ctn_capture_stats() for the first two and then frees it. The process must
 * ignore SIGPIPE (Node does), or a reader that goes would kill it.
 */
#ifndef CTN_CAPTURE_H
#define CTN_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcapfile.h"

struct ctn_engine;

#define CTN_CAPTURE_SNAPLEN 262144u         /**< default snap length (tcpdump's) */
#define CTN_CAPTURE_RING_BYTES (16u << 20)  /**< default ring memory of one capture, all workers */

/** What to capture and how to write it. */
struct ctn_capture_cfg {
	enum ctn_pcap_format format; /**< pcapng or pcap */
	uint32_t snaplen;            /**< bytes kept of each frame (0: CTN_CAPTURE_SNAPLEN) */
	uint64_t count;              /**< frames after which it ends (0: no limit) */
	uint32_t dirs;               /**< CTN_OBS_IN and/or CTN_OBS_OUT */
	const char *filter;          /**< a pcap-filter(7) expression; NULL or "": every frame */
	size_t ring_bytes;           /**< ring memory, shared out among workers (0: default) */
	bool segment;                /**< write a GSO frame as the wire segments it stands for (gso.c) */
};

/** Counters of a capture. */
struct ctn_capture_stats {
	uint64_t frames;   /**< records written (or being written) to the output */
	uint64_t bytes;    /**< their captured bytes */
	uint64_t drops;    /**< frames that passed the filter but found their ring full */
	uint64_t filtered; /**< frames the filter turned away */
	bool done;         /**< ended on its own (count reached, reader gone): free it */
	char reason[128];  /**< why it ended, when done */
};

struct ctn_capture;

/**
 * Start capturing the @n ports @ports (engine ids; interface i of a pcapng file
 * is ports[i], named names[i]) into @fd per @cfg. @as (NULL: all 0) says, per
 * port, how its frames are recorded: 0 as they cross it, in their own
 * direction; CTN_OBS_IN or CTN_OBS_OUT makes it a *sink*, whose received
 * frames alone are recorded, with that direction (copies another switch sends
 * it of the frames a port of its own received or sent: an Open vSwitch
 * mirror's output). On success the capture owns @fd (it may replace it by a
 * non-blocking copy); on failure it stays the caller's. Returns NULL with
 * @err filled (a bad filter: libpcap's message).
 */
struct ctn_capture *ctn_capture_new(struct ctn_engine *e, int fd, const struct ctn_capture_cfg *cfg,
				    const uint32_t *ports, const char *const *names, const uint32_t *as,
				    uint32_t n, char *err, size_t errlen);

/** Read @c's counters (any thread). */
void ctn_capture_stats(struct ctn_capture *c, struct ctn_capture_stats *st);

/** Watch port @port too (a port that joined a lan being captured), as
 *  interface @name, recorded as @as says (ctn_capture_new): its description
 *  goes into the file before its first frame. Returns 0, or -1 with @err (the
 *  capture ended, or is full). */
int ctn_capture_add_port(struct ctn_capture *c, uint32_t port, const char *name, uint32_t as, char *err,
			 size_t errlen);

/** Take @c's observers off its ports, write out what its rings hold (briefly:
 *  a reader that does not read loses it), close its fd and free it; @st (may
 *  be NULL) gets its final counters. */
void ctn_capture_free(struct ctn_capture *c, struct ctn_capture_stats *st);

#endif
