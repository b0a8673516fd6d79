/* route.h - routes of a network namespace over rtnetlink (RTM_NEWROUTE):
 * "default" or a destination CIDR, through a gateway, as `ip route add DST
 * via ADDR` does. containode sets a container's routes with these once its
 * interfaces are up and addressed (a gateway must be on one of their lans). */
#ifndef CTN_ROUTE_H
#define CTN_ROUTE_H

#include <stddef.h>

/** A route: a destination prefix (0.0.0.0/0 or ::/0 for "default") via a
 *  gateway of the same family. */
struct ctn_route {
	int family;            /**< AF_INET or AF_INET6 */
	unsigned char dst[16]; /**< destination, network order */
	int dst_len;           /**< its prefix length */
	unsigned char via[16]; /**< the gateway */
};

/** Parse @dst ("default" or "ADDR/PREFIX") and @via (an address) into @r.
 *  Refused, with the reason in @err: a malformed destination or gateway, a
 *  family mismatch, host bits set in the destination. Returns 0 or -1. */
int ctn_route_parse(const char *dst, const char *via, struct ctn_route *r, char *err, size_t errlen);

/** Add @n routes @r to the main table of the network namespace of file
 *  @netns (NULL: the caller's). Returns 0, or -1 with @err filled (the
 *  route and the kernel's reason). */
int ctn_routes_add(const char *netns, const struct ctn_route *r, int n, char *err, size_t errlen);

#endif
