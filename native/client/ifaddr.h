/* ifaddr.h - addresses on a network device over rtnetlink (RTM_NEWADDR).
 *
 * The ioctls (SIOCSIFADDR) take one IPv4 address per device; a station on a
 * lan may have several, IPv4 and IPv6. This adds one address with one netlink
 * request and waits for the kernel's answer, so the address is there (or the
 * reason it is not is known) when the call returns. Used by tapdev.c, inside
 * the namespace the device is in.
 */
#ifndef CTN_IFADDR_H
#define CTN_IFADDR_H

#include <stddef.h>

/** An address with its prefix length, parsed from "ADDR/PREFIX". */
struct ctn_ifaddr {
	int family;            /**< AF_INET or AF_INET6 */
	unsigned char addr[16]; /**< the address, network order (4 bytes used for IPv4) */
	int prefix;            /**< 0 to 32 (IPv4) or 0 to 128 (IPv6) */
};

/** Parse @text ("10.0.0.1/24", "fd00::1/64") into @a. Returns 0, or -1 with
 *  @err filled. */
int ctn_ifaddr_parse(const char *text, struct ctn_ifaddr *a, char *err, size_t errlen);

/** Add @a to device @ifindex of the caller's network namespace (an IPv6
 *  address without duplicate address detection, so it is usable at once).
 *  Returns 0, or -1 with @err filled (the kernel's reason). */
int ctn_ifaddr_add(int ifindex, const struct ctn_ifaddr *a, char *err, size_t errlen);

#endif
