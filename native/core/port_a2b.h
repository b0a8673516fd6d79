/* port_a2b.h - a link emulator between two lans: two ports (side A on lan A,
 * side B on lan B) sharing one link with a shaped queue per direction. See
 * port_a2b.c and shaper.h. */
#ifndef CTN_PORT_A2B_H
#define CTN_PORT_A2B_H

#include <stdbool.h>
#include <stddef.h>

#include "shaper.h"

struct ctn_engine;
struct ctn_port;

/** Directions: A to B, B to A (masks for ctn_port_a2b_set). */
#define CTN_A2B_DIR_AB 1u
#define CTN_A2B_DIR_BA 2u

/** Open a link: *@a and *@b are its two sides (not yet in any lan). Returns 0,
 *  or -1 with @err. */
int ctn_port_a2b_open(struct ctn_engine *e, struct ctn_port **a, struct ctn_port **b, char *err, size_t errlen);

/** Apply @params to the directions in @dirs (CTN_A2B_DIR_*) of the link that
 *  side @p belongs to (others paused). Queued frames keep their times. */
int ctn_port_a2b_set(struct ctn_port *p, unsigned dirs, const struct ctn_shaper_params *params, char *err,
		     size_t errlen);

/** Is @p a side of a link? */
bool ctn_port_is_a2b(const struct ctn_port *p);

#endif
