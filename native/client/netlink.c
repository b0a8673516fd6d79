/* netlink.c - one rtnetlink request and its acknowledgement (see netlink.h). */
#include "netlink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

void ctn_nl_put_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

int ctn_nl_request(struct nlmsghdr *nh, const char *what, char *err, size_t errlen)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0) {
		snprintf(err, errlen, "%s: netlink socket: %s", what, strerror(errno));
		return -1;
	}
	/* The kernel answers at once; a bound keeps a wedged kernel from hanging us. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nh->nlmsg_seq = 1;
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	if (sendto(s, nh, nh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		snprintf(err, errlen, "%s: netlink send: %s", what, strerror(errno));
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
			snprintf(err, errlen, "%s: netlink: %s", what, strerror(errno));
			close(s);
			return -1;
		}
		/* Walk the messages by hand (NLMSG_OK mixes signed and unsigned). */
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;) {
			struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
			if (h->nlmsg_len < sizeof(*h) || off + h->nlmsg_len > (size_t)n)
				break;
			off += NLMSG_ALIGN(h->nlmsg_len);
			if (h->nlmsg_seq != nh->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			close(s);
			return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}
