/* attach.h - eth0 on the switch: a tap made inside the container's network
 * namespace, handed to the daemon with `add-etherfd`, and `remove-etherfd`
 * once the container is gone, exactly as the TypeScript containode did.
 *
 * A busy daemon is waited for: a connection refused (ECONNREFUSED: nobody
 * accepts yet, a daemon restarting; EAGAIN: its backlog is full) or the reply
 * "too many control connections ..." is tried again after a pause that starts
 * at 5 ms and doubles up to 500 ms, each with random jitter (half to all of
 * it), until the attach deadline: CONTAINODE_ATTACH_TIMEOUT seconds (default
 * 60), the last try at the deadline. The wait for a reply is what is left of
 * it, but at least 1 s. No socket at the path (ENOENT) and every other
 * refusal fail at once.
 */
#ifndef CN_ATTACH_H
#define CN_ATTACH_H

#include <stddef.h>
#include <sys/types.h>

/** Default attach deadline, in seconds. */
#define CN_ATTACH_TIMEOUT_S 60
/** The environment variable that overrides it (seconds, fractions allowed). */
#define CN_ATTACH_TIMEOUT_ENV "CONTAINODE_ATTACH_TIMEOUT"
/** First pause before a retry, and the longest, in milliseconds. */
#define CN_RETRY_FIRST_MS 5
#define CN_RETRY_MAX_MS 500
/** How long remove-etherfd may wait for a busy daemon, in milliseconds. */
#define CN_DETACH_TIMEOUT_MS 10000

/** The port to make. Strings are borrowed. */
struct cn_port {
	const char *socket;    /**< the switch socket */
	const char *identity;  /**< nodeid (the port is IDENTITY.IFNAME) */
	const char *ifname;    /**< interface name in the container */
	const char *lan;       /**< lan to join, NULL: the daemon's default */
	const char *authtoken; /**< token sent with every request, NULL: none */
	const char *ipv4;      /**< address of the interface, NULL: none */
	int prefix;            /**< its prefix length */
	const char *const *addrs; /**< more addresses, "ADDR/LEN", IPv4 or IPv6 (--net's ip=) */
	int n_addrs;           /**< how many */
	const char *mac;       /**< its MAC, NULL: the kernel's random one */
	int mtu;               /**< MTU of the interface */
	pid_t pid;             /**< the container's init (its network namespace; the daemon watches it) */
	int queues;            /**< queues of the tap (multi-queue when > 1); 0: one per worker
				    thread of the daemon, as its version reply says */
};

/** Make the tap in /proc/PID/ns/net (vnet header, MTU, MAC, addresses, up, lo up; a
 *  queue per daemon worker, see struct cn_port) and add it to the switch, waiting for a busy daemon (see above). Returns 0, or
 *  -1 with the reason in @err (the daemon's own words when it refused). */
int cn_attach(const struct cn_port *p, char *err, size_t errlen);

/** Remove the port (`remove-etherfd`); the daemon may have done so already
 *  (it watches the init), so failures are ignored. */
void cn_detach(const struct cn_port *p);

/** The attach deadline in milliseconds: $CONTAINODE_ATTACH_TIMEOUT seconds when
 *  it is a positive number, else the default. */
long cn_attach_timeout_ms(void);

/** The pause before retry number @attempt (0 first): CN_RETRY_FIRST_MS doubled
 *  per attempt up to CN_RETRY_MAX_MS, scaled by @jitter (0..1) into its
 *  upper half. */
long cn_retry_delay_ms(int attempt, double jitter);

#endif
