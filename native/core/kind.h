/* kind.h - a kind of port, as the engine finds it by name.
 *
 * Every kind of port (a tap or socket handed over, a vhost-user socket, a NAT, a
 * link emulator ...) registers one struct ctn_kind, as a link type of the kernel
 * registers its rtnl_link_ops: its name, the settings it takes (a policy, see
 * attr.h), a hook that opens its ports from those settings and one that changes
 * a port's settings at run time. What a port of the kind moves, says about itself
 * and counts are the hooks of its port vtable (port.h: rx_burst, tx_burst, info
 * ...). The engine offers generic commands (add ports of kind K with settings S,
 * set port P with settings S) and never names a kind; the table of kinds lives
 * in native/kinds/kinds.c, one line per kind, each kind in a folder of its own
 * under native/kinds/. See docs/adding-a-kind.md.
 */
#ifndef CTN_KIND_H
#define CTN_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "attr.h"

struct ctn_engine;
struct ctn_port;

#define CTN_KIND_MAX_SIDES 2    /**< ports one object of a kind may make (a link has two) */
#define CTN_KIND_CFG_MAX 2048   /**< bytes of the largest settings struct of any kind */

/** A kind of port. Every hook runs on worker 0 with the other workers paused. */
struct ctn_kind {
	const char *name; /**< what the control plane asks for: "fd", "vhost", "nat", "a2b" */
	/** Ports one object of the kind makes, each on a lan of its own: 1, or 2
	 *  for a link between two lans (whose lans must differ). */
	uint32_t sides;
	const struct ctn_attr_policy *policy; /**< the settings open takes */
	size_t cfg_size;                      /**< the size of the struct they fill (<= CTN_KIND_CFG_MAX) */
	/**
	 * Make the object's ports from settings @cfg (filled by policy): ports[0]
	 * to ports[sides - 1], allocated with ctn_port_alloc, with their ops and
	 * fd set and in no lan yet; the engine then gives each its id, worker and
	 * lan and calls its start hook. An fd in @cfg (CTN_ATTR_FD) becomes the
	 * port's on success; on failure it stays the caller's. Returns 0, or -1
	 * with @err.
	 */
	int (*open)(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen);
	const struct ctn_attr_policy *set_policy; /**< the settings set takes; NULL: nothing can be set */
	size_t set_cfg_size;                      /**< the size of the struct they fill */
	/** Change port @p's settings at run time from @cfg (filled by set_policy).
	 *  Returns 0, or -1 with @err (nothing changed). NULL with set_policy. */
	int (*set)(struct ctn_port *p, const void *cfg, char *err, size_t errlen);
};

/** The kind named @name, or NULL (native/kinds/kinds.c). */
const struct ctn_kind *ctn_kind_find(const char *name);

/** Write the names of every kind, comma-separated, into @out (@n bytes), for
 *  an error message. */
void ctn_kind_names(char *out, size_t n);

#endif
