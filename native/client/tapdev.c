/* tapdev.c - tap creation inside a network namespace, on a thread of its own. */
#include "tapdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
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

/** Work item shared with the thread. */
struct tap_job {
	const struct ctn_tap_req *req;
	int fd;         /**< result */
	char err[256];  /**< reason on failure */
};

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
	if (r->ipv4 && if_addr4(s, name, r->ipv4, r->prefix, &step) < 0)
		goto bad;
	step = "bring up";
	if (r->up && if_up(s, name) < 0)
		goto bad;
	step = "bring up lo";
	if (r->lo_up && if_up(s, "lo") < 0)
		goto bad;
	close(s);
	return 0;
bad:
	snprintf(j->err, sizeof(j->err), "%s %s: %s", step, name, strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

/** Thread body: enter the namespace, make and configure the tap. */
static void *tap_thread(void *arg)
{
	struct tap_job *j = arg;
	const struct ctn_tap_req *r = j->req;
	if (r->netns) {
		int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0) {
			snprintf(j->err, sizeof(j->err), "open %s: %s", r->netns, strerror(errno));
			return NULL;
		}
		int rc = setns(ns, CLONE_NEWNET);
		int er = errno;
		close(ns);
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err), "enter %s: %s", r->netns, strerror(er));
			return NULL;
		}
	}
	/* Attaching must never create: TUNSETIFF makes a missing device. */
	if (r->attach && if_nametoindex(r->ifname) == 0) {
		snprintf(j->err, sizeof(j->err), "no device %s in that namespace", r->ifname);
		return NULL;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(j->err, sizeof(j->err), "open /dev/net/tun: %s", strerror(errno));
		return NULL;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", r->ifname);
	ifr.ifr_flags = IFF_TAP | (r->packet_info ? 0 : IFF_NO_PI) | (r->vnet_hdr ? IFF_VNET_HDR : 0);
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
		return NULL;
	}
	if (r->attach) {
		if (r->unpersist && ioctl(fd, TUNSETPERSIST, 0) < 0) {
			snprintf(j->err, sizeof(j->err), "TUNSETPERSIST 0 on %s: %s", r->ifname, strerror(errno));
			close(fd);
			return NULL;
		}
		j->fd = fd;
		return NULL;
	}
	int hdr = 12;
	if (r->vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		snprintf(j->err, sizeof(j->err), "TUNSETVNETHDRSZ on %s: %s", r->ifname, strerror(errno));
		close(fd);
		return NULL;
	}
	if (tap_configure(j, ifr.ifr_name) < 0) {
		close(fd);
		return NULL;
	}
	j->fd = fd;
	return NULL;
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
	struct tap_job j = {.req = req, .fd = -1};
	pthread_t t;
	int rc = pthread_create(&t, NULL, tap_thread, &j);
	if (rc != 0) {
		snprintf(err, errlen, "thread: %s", strerror(rc));
		return -1;
	}
	pthread_join(t, NULL);
	if (j.fd < 0)
		snprintf(err, errlen, "%s", j.err);
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
