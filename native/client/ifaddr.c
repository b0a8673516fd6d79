/* ifaddr.c - addresses on a network device over rtnetlink (RTM_NEWADDR). */
#include "ifaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/** An RTM_NEWADDR request: the header, the address message, its attributes. */
struct addr_req {
	struct nlmsghdr nh;    /**< netlink header */
	struct ifaddrmsg ifa;  /**< family, prefix, device */
	char attrs[64];        /**< IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS */
};

/** Append attribute @type of @len bytes at @data to request @r. */
static void put_attr(struct addr_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

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
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		return -1;
	}
	/* The kernel answers at once; a bound keeps a wedged kernel from hanging us. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct addr_req r = {0};
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(r.ifa));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	r.nh.nlmsg_seq = 1;
	r.ifa.ifa_family = (unsigned char)a->family;
	r.ifa.ifa_prefixlen = (unsigned char)a->prefix;
	r.ifa.ifa_index = (unsigned)ifindex;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	size_t len = a->family == AF_INET ? 4 : 16;
	put_attr(&r, IFA_LOCAL, a->addr, len);
	put_attr(&r, IFA_ADDRESS, a->addr, len);
	if (a->family == AF_INET6) {
		/* Usable when the call returns: no tentative period (as `ip addr add ... nodad`). */
		unsigned flags = IFA_F_NODAD;
		r.ifa.ifa_flags = IFA_F_NODAD;
		put_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	}
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	char txt[INET6_ADDRSTRLEN] = "";
	inet_ntop(a->family, a->addr, txt, sizeof(txt));
	if (sendto(s, &r, r.nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		snprintf(err, errlen, "add address %s/%d: netlink send: %s", txt, a->prefix, strerror(errno));
		close(s);
		return -1;
	}
	/* The ack: an NLMSG_ERROR whose error is 0 on success. */
	char buf[1024] __attribute__((aligned(8)));
	for (;;) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "add address %s/%d: netlink: %s", txt, a->prefix, strerror(errno));
			close(s);
			return -1;
		}
		/* Walk the messages by hand (NLMSG_OK mixes signed and unsigned). */
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
			struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
			if (h->nlmsg_len < sizeof(*h) || off + h->nlmsg_len > (size_t)n)
				break;
			off += NLMSG_ALIGN(h->nlmsg_len);
			if (h->nlmsg_seq != r.nh.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
			close(s);
			if (e == 0)
				return 0;
			snprintf(err, errlen, "add address %s/%d: %s", txt, a->prefix,
				 e == EEXIST                               ? "the device has it already"
				 : e == EACCES && a->family == AF_INET6 ? "IPv6 is disabled on the device "
									  "(sysctl net.ipv6.conf.*.disable_ipv6)"
									: strerror(e));
			return -1;
		}
	}
}
