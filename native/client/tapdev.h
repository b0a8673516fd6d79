/* tapdev.h - create a tap inside a network namespace and configure it.
 *
 * Used by containode: the tap must be created from inside the container's network
 * namespace (a tap belongs to the namespace its fd was opened in), while the rest
 * of the process stays where it is. The work runs on a short-lived thread of its
 * own that enters the namespace, so the caller's threads never change namespace.
 */
#ifndef CTN_TAPDEV_H
#define CTN_TAPDEV_H

#include <stdbool.h>
#include <stddef.h>

/** Most queues of a multi-queue tap made or opened here (one per worker of
 *  the daemon, CTN_MAX_WORKERS). */
#define CTN_TAP_MAX_QUEUES 8

/** What tap to make. */
struct ctn_tap_req {
	const char *netns;  /**< namespace file (e.g. /proc/PID/ns/net), NULL: the caller's */
	const char *ifname; /**< device name */
	bool vnet_hdr;      /**< IFF_VNET_HDR (12-byte header) */
	bool packet_info;   /**< keep the 4-byte packet information (no IFF_NO_PI) */
	int mtu;            /**< 0: leave the default */
	const char *ipv4;   /**< dotted address, NULL: none */
	int prefix;         /**< its prefix length */
	bool up;            /**< bring the device up */
	bool lo_up;         /**< bring "lo" up as well */
	bool attach;        /**< open the existing (persistent) tap @ifname instead: never create
			         one, configure nothing (vnet_hdr, packet_info say its framing) */
	bool unpersist;     /**< with attach: clear its persistence (TUNSETPERSIST 0), so it goes
			         when the fd returned is closed */
	bool exclusive;     /**< make a new device, never open one: a name in use (by a device of
			         any type) is refused ("tap name in use"); the tap is made under a
			         name the kernel picks and renamed, so no race can attach to another */
	const char *const *addrs; /**< addresses to add, "ADDR/PREFIX", IPv4 or IPv6 (netlink) */
	int n_addrs;        /**< how many */
	const char *mac;    /**< "aa:bb:cc:dd:ee:ff" (unicast), NULL: the kernel's random one */
	int queues;         /**< 0 or 1: a single-queue tap; 2 to CTN_TAP_MAX_QUEUES: a multi-queue
			         tap (IFF_MULTI_QUEUE) and a fd per queue; with attach, open that
			         many queues of an existing multi-queue tap */
	int *queue_fds;     /**< with queues > 1: gets the fds of queues 1 .. queues - 1 */
};

/** Create the tap (or with @req->attach open the existing one); returns its fd
 *  (close-on-exec; queue 0's, the others' in req->queue_fds), or -1 with @err
 *  filled. Addresses and MAC are checked
 *  before anything is made; a tap that fails to be configured is closed, and
 *  so gone, when this returns. */
int ctn_tap_create(const struct ctn_tap_req *req, char *err, size_t errlen);

/** Parse @text ("aa:bb:cc:dd:ee:ff") into @mac; a multicast or all-zero
 *  address is refused. Returns 0, or -1 with @err filled. */
int ctn_tap_parse_mac(const char *text, unsigned char mac[6], char *err, size_t errlen);

/** Where a tun/tap fd's device lives: the device and inode numbers of its
 *  network namespace (TUNGETDEVNETNS), in @dev and @ino. Returns 0, or -1 with
 *  errno (ENOTTY: not a tun/tap fd, or a kernel older than 5.2). */
int ctn_tap_netns_id(int fd, unsigned long long *dev, unsigned long long *ino);

#endif
