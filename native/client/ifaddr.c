/* ifaddr.c - addresses on a network device over rtnetlink (RTM_NEWADDR). */
#include "ifaddr.h"
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** An RTM_NEWADDR request: the header, the address message, its attributes. */
struct addr_req {
	struct nlmsghdr nh;    /**< netlink header */
	struct ifaddrmsg ifa;  /**< family, prefix, device */
	char attrs[64];        /**< IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS */
};

int ctn_ifaddr_parse(const char *text, struct ctn_ifaddr *a, char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : 0;
	if (!slash || n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "address \"%s\" must be ADDR/PREFIX", text);
		return -1;
	}
	memcpy(buf, text, n);
	buf[n] = 0;
	memset(a, 0, sizeof(*a));
	a->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	int max = a->family == AF_INET ? 32 : 128;
	char *end = NULL;
	errno = 0;
	long p = strtol(slash + 1, &end, 10);
	if (inet_pton(a->family, buf, a->addr) != 1 || !slash[1] || *end || errno || p < 0 || p > max) {
		snprintf(err, errlen, "address \"%s\" is not an IPv4 or IPv6 address with a prefix length", text);
		return -1;
	}
	a->prefix = (int)p;
	return 0;
}

int ctn_ifaddr_add(int ifindex, const struct ctn_ifaddr *a, char *err, size_t errlen)
{
	struct addr_req r = {0};
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.ifa));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.ifa.ifa_family = (unsigned char)a->family;
	r.ifa.ifa_prefixlen = (unsigned char)a->prefix;
	r.ifa.ifa_index = (unsigned)ifindex;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	size_t len = a->family == AF_INET ? 4 : 16;
	ctn_nl_put_attr(&r.nh, IFA_LOCAL, a->addr, len);
	ctn_nl_put_attr(&r.nh, IFA_ADDRESS, a->addr, len);
	if (a->family == AF_INET6) {
		/* Usable when the call returns: no tentative period (as `ip addr add ... nodad`). */
		unsigned flags = IFA_F_NODAD;
		r.ifa.ifa_flags = IFA_F_NODAD;
		ctn_nl_put_attr(&r.nh, IFA_FLAGS, &flags, sizeof(flags));
	}
	char txt[INET6_ADDRSTRLEN] = "", what[INET6_ADDRSTRLEN + 32];
	inet_ntop(a->family, a->addr, txt, sizeof(txt));
	snprintf(what, sizeof(what), "add address %s/%d", txt, a->prefix);
	int e = ctn_nl_request(&r.nh, what, err, errlen);
	if (e <= 0)
		return e;
	snprintf(err, errlen, "%s: %s", what,
		 e == EEXIST                               ? "the device has it already"
		 : e == EACCES && a->family == AF_INET6 ? "IPv6 is disabled on the device "
							  "(sysctl net.ipv6.conf.*.disable_ipv6)"
							: strerror(e));
	return -1;
}
