/* nat_dns.h - a NAT's DNS relay to a named upstream resolver.
 *
 * libslirp forwards DNS queries to the host's resolvers (from /etc/resolv.conf).
 * When the user names an upstream (`add nat --dns-upstream ADDR[:PORT]`), the NAT
 * answers at its DNS address itself instead: a UDP query from the lan is sent on
 * to the upstream from a socket of the relay, and the answer goes back to the
 * asker as a frame from the DNS address (the MAC libslirp gives its virtual
 * hosts). Queries in flight are kept in a fixed table (oldest replaced) keyed by
 * the id the relay gives them, so a flood of queries uses bounded memory.
 */
#ifndef CTN_NAT_DNS_H
#define CTN_NAT_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CTN_DNS_INFLIGHT 256 /**< queries awaiting an answer at once */

/** One query in flight. */
struct ctn_dns_query {
	bool used;
	uint16_t client_id;     /**< the id the asker chose */
	uint8_t client_mac[6];  /**< who asked */
	struct in_addr client_ip;
	uint16_t client_port;
};

/** The relay. */
struct ctn_dns_relay {
	int fd;                          /**< UDP socket connected to the upstream, or -1 */
	struct in_addr dns_addr;         /**< the NAT's DNS address on the lan */
	uint16_t next;                   /**< next slot (and upstream id) to use */
	struct ctn_dns_query q[CTN_DNS_INFLIGHT];
	uint64_t queries, answers, dropped; /**< counters */
};

/** Open the relay towards @upstream:@port. Returns 0 or -1 (errno). */
int ctn_dns_open(struct ctn_dns_relay *r, struct in_addr dns_addr, struct in_addr upstream, uint16_t port);
/** Close it. */
void ctn_dns_close(struct ctn_dns_relay *r);

/** If @frame (@len bytes) is a UDP/IPv4 query to the DNS address, send it
 *  upstream and return true (the frame is taken); else false. */
bool ctn_dns_from_lan(struct ctn_dns_relay *r, const uint8_t *frame, uint32_t len);

/** Read one answer from the upstream and build the frame for the asker into
 *  @out (room for 1514 + 4096 bytes). Returns its length, 0 when nothing (more)
 *  is waiting, or -1 for an answer matched to no query (dropped). */
int ctn_dns_to_lan(struct ctn_dns_relay *r, uint8_t *out, uint32_t room);

#endif
