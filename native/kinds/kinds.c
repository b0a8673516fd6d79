/* kinds.c - the table of port kinds the engine finds by name (see kind.h).
 *
 * Adding a kind: a folder native/kinds/NAME/ whose files define
 * `const struct ctn_kind ctn_kind_NAME` (binding.gyp compiles every .c file under
 * native/kinds/), and one line in CTN_KINDS below.
 */
#include <stdio.h>
#include <string.h>

#include "kind.h"

/** Every kind, one per line. */
#define CTN_KINDS(X) \
	X(fd)        \
	X(vhost)     \
	X(nat)       \
	X(a2b)       \
	X(phy)       \
	X(vxlan)     \
	X(geneve)

#define DECLARE(k) extern const struct ctn_kind ctn_kind_##k;
CTN_KINDS(DECLARE)
#undef DECLARE

#define ENTRY(k) &ctn_kind_##k,
/** The table, in registration order. */
static const struct ctn_kind *const kinds[] = {CTN_KINDS(ENTRY)};
#undef ENTRY

const struct ctn_kind *ctn_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

void ctn_kind_names(char *out, size_t n)
{
	size_t at = 0;
	out[0] = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && at < n; i++) {
		int w = snprintf(out + at, n - at, "%s%s", i ? ", " : "", kinds[i]->name);
		if (w > 0)
			at += (size_t)w;
	}
}
