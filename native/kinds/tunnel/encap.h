/* encap.h - the overlay headers of the tunnel kinds (VXLAN, RFC 7348; Geneve,
 * RFC 8926), and what else a tunnel port computes without a socket: the flow
 * hash that picks the outer UDP source port, and its list of remotes.
 *
 * Pure functions, no state: unit tested and fuzzed on their own
 * (native/test, native/fuzz).
 */
#ifndef CTN_TUNNEL_ENCAP_H
#define CTN_TUNNEL_ENCAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define TUN_HDR_LEN 8          /**< a VXLAN header, or a Geneve header without options */
#define TUN_VNI_MAX 0xffffffu  /**< VNIs are 24 bits */
#define TUN_ETH_P_TEB 0x6558   /**< Geneve's protocol type for ethernet frames */

/** Which overlay. */
enum tun_type {
	TUN_VXLAN,  /**< RFC 7348, UDP port 4789 */
	TUN_GENEVE, /**< RFC 8926, UDP port 6081 */
};

/** Why a datagram's overlay header was refused (tun_decap's result). */
enum tun_bad {
	TUN_OK = 0,
	TUN_BAD_SHORT,    /**< shorter than its header (with a Geneve header's options) */
	TUN_BAD_FLAGS,    /**< VXLAN: the I flag is clear */
	TUN_BAD_VERSION,  /**< Geneve: a version other than 0 */
	TUN_BAD_PROTO,    /**< Geneve: a protocol type other than ethernet (0x6558) */
	TUN_BAD_CRITICAL, /**< Geneve: critical options, which we do not understand */
	TUN_BAD_OAM,      /**< Geneve: an OAM (control) frame, not for the lan */
	TUN_BAD_VNI,      /**< another VNI than the port's */
};

/** Write the @type header for @vni at @hdr (TUN_HDR_LEN bytes). */
void tun_encap(enum tun_type type, uint32_t vni, uint8_t *hdr);

/** Check the overlay header of datagram @d (@n bytes) against VNI @vni: returns
 *  TUN_OK with *@inner set to the offset of the ethernet frame, or why not. */
enum tun_bad tun_decap(enum tun_type type, uint32_t vni, const uint8_t *d, uint32_t n, uint32_t *inner);

/** A hash of ethernet frame @f (@len bytes) that is the same for every frame
 *  of one flow: IP addresses and TCP/UDP/SCTP ports when there are, else the
 *  MAC addresses and ethertype (RFC 7348 section 5: the source port "SHOULD
 *  be a hash of fields of the inner packet"). */
uint32_t tun_flow_hash(const uint8_t *f, uint32_t len);

/** A remote's address. */
struct tun_addr {
	struct sockaddr_storage sa; /**< AF_INET or AF_INET6, with the destination port */
	socklen_t len;              /**< of sa */
};

/** Parse comma-separated IPv4 or IPv6 addresses @list into @out (room for
 *  @max), each with port @port; all must be of one family, and of @family
 *  when it is not AF_UNSPEC. Returns how many, or -1 with @err naming the
 *  address and what is wrong with it. */
int tun_parse_remotes(const char *list, uint16_t port, int family, struct tun_addr *out, int max, char *err,
		      size_t errlen);

/** Is @a the address (not the port) of @b? */
bool tun_same_host(const struct sockaddr_storage *a, const struct tun_addr *b);

/** Bytes the encapsulation adds to a frame's IP packet on an underlay of
 *  @family: outer IP, UDP, overlay header and the inner ethernet header. */
static inline uint32_t tun_overhead(int family)
{
	return (family == AF_INET6 ? 40u : 20u) + 8u + TUN_HDR_LEN + 14u;
}

#endif
