/* netlink.h - one rtnetlink request and its acknowledgement, in the caller's
 * network namespace: what ifaddr.c (RTM_NEWADDR) and route.c (RTM_NEWROUTE)
 * share. */
#ifndef CTN_NETLINK_H
#define CTN_NETLINK_H

#include <linux/netlink.h>
#include <stddef.h>

/** Append attribute @type of @len bytes at @data to the request @nh (whose
 *  buffer must have room for it). */
void ctn_nl_put_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len);

/** Send @nh (NLM_F_ACK is added) on a new NETLINK_ROUTE socket and wait (at
 *  most 5 s) for the kernel's answer. Returns 0 when it was done, the kernel's
 *  errno (> 0) when it refused, or -1 with @err filled when it could not be
 *  asked or did not answer (@what names the request in that message). */
int ctn_nl_request(struct nlmsghdr *nh, const char *what, char *err, size_t errlen);

#endif
