/* route.c - routes of a network namespace over rtnetlink (see route.h). */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ifaddr.h"
#include "netlink.h"
#include "netns.h"

/** An RTM_NEWROUTE request: the header, the route message, its attributes. */
struct route_req {
	struct nlmsghdr nh; /**< netlink header */
	struct rtmsg rtm;   /**< family, prefix length, table, scope, type */
	char attrs[64];     /**< RTA_DST, RTA_GATEWAY */
};

/** The routes to add, for the thread in the namespace. */
struct route_job {
	const struct ctn_route *r; /**< the routes */
	int n;                     /**< how many */
};

int ctn_route_parse(const char *dst, const char *via, struct ctn_route *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->family = strchr(via, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(r->family, via, r->via) != 1) {
		snprintf(err, errlen, "gateway \"%s\" is not an IPv4 or IPv6 address", via);
		return -1;
	}
	if (strcmp(dst, "default") == 0)
		return 0;
	struct ctn_ifaddr a;
	char why[160];
	if (ctn_ifaddr_parse(dst, &a, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "destination \"%s\" must be \"default\" or ADDR/PREFIX", dst);
		return -1;
	}
	if (a.family != r->family) {
		snprintf(err, errlen, "destination %s and gateway %s are not of one family", dst, via);
		return -1;
	}
	int bytes = a.family == AF_INET ? 4 : 16;
	for (int i = 0; i < bytes; i++) {
		int keep = a.prefix - i * 8; /* bits of this byte within the prefix */
		unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
		if (a.addr[i] & ~mask) {
			snprintf(err, errlen, "destination %s has bits set past its prefix length", dst);
			return -1;
		}
	}
	memcpy(r->dst, a.addr, sizeof(r->dst));
	r->dst_len = a.prefix;
	return 0;
}

/** Add one route in the caller's namespace: 0, or -1 with @err filled. */
static int route_add(const struct ctn_route *r, char *err, size_t errlen)
{
	struct route_req q = {0};
	size_t len = r->family == AF_INET ? 4 : 16;
	q.nh.nlmsg_len = NLMSG_LENGTH(sizeof(q.rtm));
	q.nh.nlmsg_type = RTM_NEWROUTE;
	q.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	q.rtm.rtm_family = (unsigned char)r->family;
	q.rtm.rtm_dst_len = (unsigned char)r->dst_len;
	q.rtm.rtm_table = RT_TABLE_MAIN;
	q.rtm.rtm_protocol = RTPROT_STATIC;
	q.rtm.rtm_scope = RT_SCOPE_UNIVERSE;
	q.rtm.rtm_type = RTN_UNICAST;
	if (r->dst_len > 0)
		ctn_nl_put_attr(&q.nh, RTA_DST, r->dst, len);
	ctn_nl_put_attr(&q.nh, RTA_GATEWAY, r->via, len);
	char dst[INET6_ADDRSTRLEN + 8] = "default", via[INET6_ADDRSTRLEN] = "", what[2 * INET6_ADDRSTRLEN + 32];
	if (r->dst_len > 0) {
		inet_ntop(r->family, r->dst, dst, sizeof(dst));
		snprintf(dst + strlen(dst), sizeof(dst) - strlen(dst), "/%d", r->dst_len);
	}
	inet_ntop(r->family, r->via, via, sizeof(via));
	snprintf(what, sizeof(what), "route %s via %s", dst, via);
	int e = ctn_nl_request(&q.nh, what, err, errlen);
	if (e <= 0)
		return e;
	snprintf(err, errlen, "%s: %s", what,
		 e == ENETUNREACH ? "the gateway is on none of the node's networks"
		 : e == EEXIST    ? "there is such a route already"
				  : strerror(e));
	return -1;
}

/** ctn_netns_fn: add every route of the job, stopping at the first refused. */
static int routes_work(void *arg, char *err, size_t errlen)
{
	const struct route_job *j = arg;
	for (int i = 0; i < j->n; i++)
		if (route_add(&j->r[i], err, errlen) < 0)
			return -1;
	return 0;
}

int ctn_routes_add(const char *netns, const struct ctn_route *r, int n, char *err, size_t errlen)
{
	struct route_job j = {.r = r, .n = n};
	if (n == 0)
		return 0;
	return ctn_netns_run(netns, routes_work, &j, err, errlen);
}
