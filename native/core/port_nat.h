/* port_nat.h - a NAT port: the lan's way out through the host's own sockets,
 * on libslirp (a userspace TCP/IP stack with a DHCP server, DNS forwarding,
 * ICMP echo, and host-to-guest port forwards). See port_nat.c. */
#ifndef CTN_PORT_NAT_H
#define CTN_PORT_NAT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctn_engine;
struct ctn_port;

/** Settings of a NAT (host byte order where plain integers). */
struct ctn_nat_cfg {
	struct in_addr net;        /**< guest network, e.g. 10.0.2.0 */
	struct in_addr mask;       /**< its netmask, e.g. 255.255.255.0 */
	struct in_addr gateway;    /**< the NAT's own address on the lan (host side) */
	struct in_addr dns;        /**< the DNS address it answers on */
	struct in_addr dhcp_start; /**< first address it leases */
	bool ipv6;                 /**< also IPv6 (prefix fd00::/64 unless @prefix6 set) */
	struct in6_addr prefix6;   /**< IPv6 prefix of the guests */
	uint8_t prefix6_len;       /**< its length */
	uint32_t mtu;              /**< MTU and MRU of the lan side */
	bool no_host_loopback;     /**< the gateway does not reach the host's 127.0.0.1 */
	uint32_t max_sockets;      /**< host sockets at once; new TCP connections beyond are refused */
	char hostname[64];         /**< hostname given in DHCP, "" for none */
	struct in_addr dns_upstream; /**< with dns_upstream_port: answer DNS by relaying here */
	uint16_t dns_upstream_port;  /**< 0: libslirp forwards to the host's resolvers */
};

/** A host-to-guest port forward. */
struct ctn_nat_fwd {
	bool udp;                  /**< UDP (else TCP) */
	struct in_addr host_addr;  /**< host address to listen on */
	uint16_t host_port;        /**< host port */
	struct in_addr guest_addr; /**< guest address to connect to */
	uint16_t guest_port;       /**< guest port */
};

/** Open a NAT port with @cfg. NULL with @err when libslirp refuses. */
struct ctn_port *ctn_port_nat_open(struct ctn_engine *e, const struct ctn_nat_cfg *cfg, char *err, size_t errlen);

/** Add (@add) or remove forward @f on NAT port @p (others paused). Returns 0,
 *  or -1 with @err. */
int ctn_port_nat_forward(struct ctn_port *p, bool add, const struct ctn_nat_fwd *f, char *err, size_t errlen);

/** Is @p a NAT port? */
bool ctn_port_is_nat(const struct ctn_port *p);

#endif
