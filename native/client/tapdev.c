/* tapdev.c - tap creation inside a network namespace, on a thread of its own (netns.c). */
#include "tapdev.h"
#include "ifaddr.h"
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Newer than some headers (Linux 5.2). */
#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

/** Most addresses one request may give a device. */
#define TAP_MAX_ADDRS 32

/** Work item shared with the thread. */
struct tap_job {
	const struct ctn_tap_req *req;
	struct ctn_ifaddr addrs[TAP_MAX_ADDRS]; /**< req->addrs, parsed */
	unsigned char mac[6]; /**< req->mac, parsed */
	int fd;         /**< result */
	int more[CTN_TAP_MAX_QUEUES]; /**< result: queues 1.. of a multi-queue tap */
	char err[256];  /**< reason on failure */
};

/** Open queues 1 .. req->queues - 1 of multi-queue tap @name (queue 0 is
 *  open) into @j->more, with @flags. Returns 0, or -1 with @j->err (those
 *  opened are closed). */
static int tap_queues(struct tap_job *j, const char *name, short flags)
{
	for (int i = 1; i < j->req->queues; i++) {
		int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		struct ifreq ifr = {0};
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_flags = (short)(flags | IFF_MULTI_QUEUE);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
			snprintf(j->err, sizeof(j->err), "queue %d of tap %s: %s", i, name, strerror(errno));
			if (fd >= 0)
				close(fd);
			while (--i > 0)
				close(j->more[i]);
			return -1;
		}
		j->more[i] = fd;
	}
	return 0;
}

int ctn_tap_parse_mac(const char *text, unsigned char mac[6], char *err, size_t errlen)
{
	unsigned v[6];
	char end;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6 ||
	    strlen(text) != 17) {
		snprintf(err, errlen, "MAC \"%s\" must be six hex bytes like 02:00:00:00:00:01", text);
		return -1;
	}
	unsigned any = 0;
	for (int i = 0; i < 6; i++) {
		mac[i] = (unsigned char)v[i];
		any |= v[i];
	}
	if ((mac[0] & 1) || !any) {
		snprintf(err, errlen, "MAC %s is not a unicast address", text);
		return -1;
	}
	return 0;
}

/** Give @name the MAC address @mac through socket @s (the device is down). */
static int if_mac(int s, const char *name, const unsigned char mac[6])
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return ioctl(s, SIOCSIFHWADDR, &ifr);
}

/** Set IFF_UP on @name through socket @s. */
static int if_up(int s, const char *name)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/** Give @name an IPv4 address and netmask through socket @s. */
static int if_addr4(int s, const char *name, const char *addr, int prefix, const char **step)
{
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	sin->sin_family = AF_INET;
	*step = "parse address";
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	*step = "SIOCSIFADDR";
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		return -1;
	sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
	*step = "SIOCSIFNETMASK";
	return ioctl(s, SIOCSIFNETMASK, &ifr);
}

/** Configure the new device: mtu, address, up. Runs inside the namespace. */
static int tap_configure(struct tap_job *j, const char *name)
{
	const struct ctn_tap_req *r = j->req;
	const char *step = "socket";
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto bad;
	if (r->mtu) {
		struct ifreq ifr = {0};
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_mtu = r->mtu;
		step = "set mtu";
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			goto bad;
	}
	step = "set MAC";
	if (r->mac && if_mac(s, name, j->mac) < 0)
		goto bad;
	if (r->ipv4 && if_addr4(s, name, r->ipv4, r->prefix, &step) < 0)
		goto bad;
	step = "bring up";
	if (r->up && if_up(s, name) < 0)
		goto bad;
	step = "bring up lo";
	if (r->lo_up && if_up(s, "lo") < 0)
		goto bad;
	close(s);
	/* After up: an IPv6 address needs the device's IPv6 state, made at up. */
	int index = r->n_addrs ? (int)if_nametoindex(name) : 0;
	if (r->n_addrs && !index) {
		snprintf(j->err, sizeof(j->err), "find %s: %s", name, strerror(errno));
		return -1;
	}
	char why[200];
	for (int i = 0; i < r->n_addrs; i++) {
		if (ctn_ifaddr_add(index, &j->addrs[i], why, sizeof(why)) < 0) {
			snprintf(j->err, sizeof(j->err), "%s: %s", name, why);
			return -1;
		}
	}
	return 0;
bad:
	snprintf(j->err, sizeof(j->err), "%s %s: %s", step, name, strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

/** Rename the new tap @from to @to; a name in use is refused as
 *  such. Runs inside the namespace. */
static int tap_rename(const char *from, const char *to, struct tap_job *j)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(j->err, sizeof(j->err), "socket: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", from);
	snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", to);
	int rc = ioctl(s, SIOCSIFNAME, &ifr);
	int er = errno;
	close(s);
	if (rc < 0 && er == EEXIST)
		snprintf(j->err, sizeof(j->err), "tap name in use: a device named %s exists", to);
	else if (rc < 0)
		snprintf(j->err, sizeof(j->err), "rename %s to %s: %s", from, to, strerror(er));
	return rc;
}

/** Make and configure the tap, inside the namespace (on netns.c's thread);
 *  the fd goes to @j->fd, a failure's reason to @j->err. */
static void tap_make(struct tap_job *j)
{
	const struct ctn_tap_req *r = j->req;
	/* Attaching must never create: TUNSETIFF makes a missing device. */
	if (r->attach && if_nametoindex(r->ifname) == 0) {
		snprintf(j->err, sizeof(j->err), "no device %s in that namespace", r->ifname);
		return;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(j->err, sizeof(j->err), "open /dev/net/tun: %s", strerror(errno));
		return;
	}
	struct ifreq ifr = {0};
	/* Exclusive: an empty name has the kernel pick a free one ("tap%d"). */
	if (!r->exclusive)
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", r->ifname);
	ifr.ifr_flags = IFF_TAP | (r->packet_info ? 0 : IFF_NO_PI) | (r->vnet_hdr ? IFF_VNET_HDR : 0);
	short flags = ifr.ifr_flags;
	if (r->queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	int rc = ioctl(fd, TUNSETIFF, &ifr);
	if (rc < 0 && r->attach && errno == EINVAL) {
		/* A multi-queue tap takes only a multi-queue open. */
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
		rc = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (rc < 0) {
		snprintf(j->err, sizeof(j->err), "%s tap %s: %s", r->attach ? "open" : "create", r->ifname,
			 strerror(errno));
		close(fd);
		return;
	}
	if (r->attach) {
		if (r->unpersist && ioctl(fd, TUNSETPERSIST, 0) < 0) {
			snprintf(j->err, sizeof(j->err), "TUNSETPERSIST 0 on %s: %s", r->ifname, strerror(errno));
			close(fd);
			return;
		}
		if (tap_queues(j, r->ifname, flags) < 0) {
			close(fd);
			return;
		}
		j->fd = fd;
		return;
	}
	int hdr = 12;
	if (r->vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(j->err, sizeof(j->err), "TUNSETVNETHDRSZ on %s: %s", r->ifname, strerror(errno));
		close(fd);
		return;
	}
	if (r->exclusive && tap_rename(ifr.ifr_name, r->ifname, j) < 0) {
		close(fd);
		return;
	}
	const char *name = r->exclusive ? r->ifname : ifr.ifr_name;
	if (tap_configure(j, name) < 0) {
		close(fd);
		return;
	}
	if (tap_queues(j, name, flags) < 0) {
		close(fd);
		return;
	}
	j->fd = fd;
	return;
}

/** ctn_netns_fn of tap_make: 0 with the fd in the job, or -1 with its reason. */
static int tap_work(void *arg, char *err, size_t errlen)
{
	struct tap_job *j = arg;
	tap_make(j);
	if (j->fd >= 0)
		return 0;
	snprintf(err, errlen, "%s", j->err);
	return -1;
}

int ctn_tap_create(const struct ctn_tap_req *req, char *err, size_t errlen)
{
	if (!req->ifname || !*req->ifname || strlen(req->ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "interface name must be 1 to %d characters", IFNAMSIZ - 1);
		return -1;
	}
	if (req->ipv4 && (req->prefix < 0 || req->prefix > 32)) {
		snprintf(err, errlen, "prefix length %d is not 0 to 32", req->prefix);
		return -1;
	}
	if (req->queues < 0 || req->queues > CTN_TAP_MAX_QUEUES || (req->queues > 1 && !req->queue_fds)) {
		snprintf(err, errlen, "queues must be 1 to %d", CTN_TAP_MAX_QUEUES);
		return -1;
	}
	struct tap_job j = {.req = req, .fd = -1};
	if (req->n_addrs < 0 || req->n_addrs > TAP_MAX_ADDRS) {
		snprintf(err, errlen, "at most %d addresses", TAP_MAX_ADDRS);
		return -1;
	}
	for (int i = 0; i < req->n_addrs; i++)
		if (ctn_ifaddr_parse(req->addrs[i], &j.addrs[i], err, errlen) < 0)
			return -1;
	if (req->mac && ctn_tap_parse_mac(req->mac, j.mac, err, errlen) < 0)
		return -1;
	if (ctn_netns_run(req->netns, tap_work, &j, err, errlen) < 0)
		return -1;
	for (int i = 1; i < req->queues; i++)
		req->queue_fds[i - 1] = j.more[i];
	return j.fd;
}

int ctn_tap_netns_id(int fd, unsigned long long *dev, unsigned long long *ino)
{
	int ns = ioctl(fd, TUNGETDEVNETNS);
	if (ns < 0)
		return -1;
	struct stat st;
	int rc = fstat(ns, &st);
	int er = errno;
	close(ns);
	if (rc < 0) {
		errno = er;
		return -1;
	}
	*dev = (unsigned long long)st.st_dev;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}
