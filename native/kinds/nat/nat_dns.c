/* nat_dns.c - a NAT's DNS relay to a named upstream resolver (see nat_dns.h). */
#include "nat_dns.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "offload.h"

#define ETH_HLEN 14
#define IP_HLEN 20
#define UDP_HLEN 8
#define DNS_MAX 4096 /**< largest answer relayed */

/** Big-endian 16-bit load. */
static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/** Big-endian 16-bit store. */
static inline void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int ctn_dns_open(struct ctn_dns_relay *r, struct in_addr dns_addr, struct in_addr upstream, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->dns_addr = dns_addr;
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = upstream, .sin_port = htons(port)};
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int er = errno;
		close(r->fd);
		r->fd = -1;
		errno = er;
		return -1;
	}
	return 0;
}

void ctn_dns_close(struct ctn_dns_relay *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

bool ctn_dns_from_lan(struct ctn_dns_relay *r, const uint8_t *f, uint32_t len)
{
	if (r->fd < 0 || len < ETH_HLEN + IP_HLEN + UDP_HLEN + 12 || ld16(f + 12) != 0x0800)
		return false;
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || ip[9] != 17 || (ld16(ip + 6) & 0x3fff) ||
	    memcmp(ip + 16, &r->dns_addr, 4) != 0)
		return false;
	uint32_t tot = ld16(ip + 2);
	if (tot > len - ETH_HLEN || tot < ihl + UDP_HLEN)
		return false;
	const uint8_t *udp = ip + ihl;
	if (ld16(udp + 2) != 53)
		return false;
	/* A query to our DNS address: it is ours whatever becomes of it. */
	uint32_t dlen = tot - ihl - UDP_HLEN;
	if (dlen < 12 || dlen > DNS_MAX) {
		r->dropped++;
		return true;
	}
	uint8_t msg[DNS_MAX];
	memcpy(msg, udp + UDP_HLEN, dlen);
	uint16_t slot = r->next++ % CTN_DNS_INFLIGHT;
	struct ctn_dns_query *q = &r->q[slot];
	*q = (struct ctn_dns_query){.used = true, .client_id = ld16(msg), .client_port = ld16(udp)};
	memcpy(q->client_mac, f + 6, 6);
	memcpy(&q->client_ip, ip + 12, 4);
	st16(msg, slot); /* the upstream answers with the slot as its id */
	if (send(r->fd, msg, dlen, MSG_DONTWAIT) < 0) {
		q->used = false;
		r->dropped++;
		return true;
	}
	r->queries++;
	return true;
}

int ctn_dns_to_lan(struct ctn_dns_relay *r, uint8_t *out, uint32_t room)
{
	uint8_t msg[DNS_MAX];
	ssize_t n = r->fd >= 0 ? recv(r->fd, msg, sizeof(msg), MSG_DONTWAIT) : -1;
	if (n < 12)
		return n < 0 ? 0 : -1;
	uint16_t slot = ld16(msg);
	struct ctn_dns_query *q = slot < CTN_DNS_INFLIGHT ? &r->q[slot] : NULL;
	uint32_t tot = IP_HLEN + UDP_HLEN + (uint32_t)n;
	if (!q || !q->used || ETH_HLEN + tot > room) {
		r->dropped++;
		return -1;
	}
	q->used = false;
	st16(msg, q->client_id);
	/* Ethernet: to the asker, from the MAC libslirp gives the DNS address
	 * (52:55 and the address's four bytes). */
	memcpy(out, q->client_mac, 6);
	out[6] = 0x52;
	out[7] = 0x55;
	memcpy(out + 8, &r->dns_addr, 4);
	st16(out + 12, 0x0800);
	uint8_t *ip = out + ETH_HLEN, *udp = ip + IP_HLEN;
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	st16(ip + 2, (uint16_t)tot);
	st16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &r->dns_addr, 4);
	memcpy(ip + 16, &q->client_ip, 4);
	uint16_t c = (uint16_t)~ctn_csum_fold(ip, IP_HLEN, 0);
	memcpy(ip + 10, &c, 2);
	st16(udp, 53);
	st16(udp + 2, q->client_port);
	st16(udp + 4, (uint16_t)(UDP_HLEN + n));
	st16(udp + 6, 0);
	memcpy(udp + UDP_HLEN, msg, (size_t)n);
	/* The UDP checksum over the pseudo header and the datagram. */
	uint32_t ps = ctn_csum_fold(ip + 12, 8, 0) + htons(17) + htons((uint16_t)(UDP_HLEN + n));
	c = (uint16_t)~ctn_csum_fold(udp, (uint32_t)(UDP_HLEN + n), ps);
	if (c == 0)
		c = 0xffff;
	memcpy(udp + 6, &c, 2);
	r->answers++;
	return (int)(ETH_HLEN + tot);
}
