/* gso.c - software segmentation of GSO frames (see gso.h). */
#include "gso.h"

#include <arpa/inet.h>
#include <string.h>

#include "offload.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/** Big-endian 16-bit load. */
static inline uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/** Big-endian 16-bit store. */
static inline void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/** Big-endian 32-bit load. */
static inline uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/** Big-endian 32-bit store. */
static inline void st32(uint8_t *p, uint32_t v)
{
	st16(p, (uint16_t)(v >> 16));
	st16(p + 2, (uint16_t)v);
}

int ctn_parse_l4(const uint8_t *d, uint32_t len, uint32_t *l3, uint32_t *l4, bool *ipv6, uint8_t *proto)
{
	uint32_t off = 12;
	uint16_t type;
	int tags = 0;

	if (len < 14)
		return -CTN_GSO_E_L2;
	type = ld16(d + off);
	while ((type == 0x8100 || type == 0x88a8) && tags < 2) {
		off += 4;
		if (off + 2 > len)
			return -CTN_GSO_E_L2;
		type = ld16(d + off);
		tags++;
	}
	off += 2;
	*l3 = off;
	if (type == 0x0800) {
		uint32_t ihl;

		if (off + 20 > len || (d[off] >> 4) != 4)
			return -CTN_GSO_E_L3;
		ihl = (uint32_t)(d[off] & 0x0f) * 4;
		if (ihl < 20 || off + ihl > len)
			return -CTN_GSO_E_L3;
		if (ld16(d + off + 6) & 0x3fff) /* MF or a fragment offset */
			return -CTN_GSO_E_L3;
		*ipv6 = false;
		*proto = d[off + 9];
		*l4 = off + ihl;
		return 0;
	}
	if (type == 0x86dd) {
		uint8_t next;
		uint32_t p = off + 40;

		if (p > len || (d[off] >> 4) != 6)
			return -CTN_GSO_E_L3;
		next = d[off + 6];
		/* Hop-by-hop, routing and destination options may come before L4. */
		while (next == 0 || next == 43 || next == 60) {
			uint32_t hl;

			if (p + 8 > len)
				return -CTN_GSO_E_L3;
			hl = ((uint32_t)d[p + 1] + 1) * 8;
			next = d[p];
			p += hl;
			if (p > len)
				return -CTN_GSO_E_L3;
		}
		if (next == 44) /* a fragment */
			return -CTN_GSO_E_L3;
		*ipv6 = true;
		*proto = next;
		*l4 = p;
		return 0;
	}
	return -CTN_GSO_E_L2;
}

int ctn_gso_start(struct ctn_gso *g, const struct ctn_pkt *p)
{
	uint8_t type = p->vnet.gso_type & (uint8_t)~CTN_GSO_ECN;
	const uint8_t *d = p->data;
	uint8_t proto;
	int rc;

	memset(g, 0, sizeof(*g));
	if (type != CTN_GSO_TCPV4 && type != CTN_GSO_TCPV6 && type != CTN_GSO_UDP_L4)
		return -CTN_GSO_E_TYPE;
	rc = ctn_parse_l4(d, p->len, &g->l3, &g->l4, &g->ipv6, &proto);
	if (rc < 0)
		return rc;
	if ((type == CTN_GSO_TCPV4 && g->ipv6) || (type == CTN_GSO_TCPV6 && !g->ipv6))
		return -CTN_GSO_E_L3;
	if (type == CTN_GSO_UDP_L4) {
		if (proto != 17 || g->l4 + 8 > p->len)
			return -CTN_GSO_E_L4;
		g->hdr_len = g->l4 + 8;
	} else {
		uint32_t doff;

		if (proto != 6 || g->l4 + 20 > p->len)
			return -CTN_GSO_E_L4;
		doff = (uint32_t)(d[g->l4 + 12] >> 4) * 4;
		if (doff < 20 || g->l4 + doff > p->len)
			return -CTN_GSO_E_L4;
		g->hdr_len = g->l4 + doff;
		g->tcp = true;
		g->tcp_seq = ld32(d + g->l4 + 4);
	}
	g->mss = p->vnet.gso_size;
	if (g->mss == 0 || g->hdr_len >= p->len || g->hdr_len + g->mss > CTN_FRAME_MAX)
		return -CTN_GSO_E_SIZE;
	if (!g->ipv6)
		g->ip_id = ld16(d + g->l3 + 4);
	g->frame = d;
	g->len = p->len;
	return 0;
}

uint32_t ctn_gso_next(struct ctn_gso *g, uint8_t *dst)
{
	uint32_t payload = g->len - g->hdr_len;
	uint32_t plen, slen, l4len;
	bool first = g->off == 0, last;
	uint16_t csum;

	if (g->off >= payload)
		return 0;
	plen = payload - g->off < g->mss ? payload - g->off : g->mss;
	last = g->off + plen == payload;
	slen = g->hdr_len + plen;
	if (dst != g->frame) { /* else a single segment finished in place */
		memcpy(dst, g->frame, g->hdr_len);
		memcpy(dst + g->hdr_len, g->frame + g->hdr_len + g->off, plen);
	}

	if (g->ipv6) {
		st16(dst + g->l3 + 4, (uint16_t)(slen - g->l3 - 40));
	} else {
		uint32_t ihl = (uint32_t)(dst[g->l3] & 0x0f) * 4;

		st16(dst + g->l3 + 2, (uint16_t)(slen - g->l3));
		if (g->tcp)
			st16(dst + g->l3 + 4, (uint16_t)(g->ip_id + g->seg));
		st16(dst + g->l3 + 10, 0);
		csum = (uint16_t)~ctn_csum_fold(dst + g->l3, ihl, 0);
		memcpy(dst + g->l3 + 10, &csum, 2);
	}

	l4len = slen - g->l4;
	if (g->tcp) {
		uint8_t *th = dst + g->l4;

		st32(th + 4, g->tcp_seq + g->off);
		if (!last)
			th[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (!first)
			th[13] &= (uint8_t)~TCP_CWR;
		st16(th + 16, 0);
		csum = (uint16_t)~ctn_csum_fold(th, l4len, ctn_pseudo_sum(dst, g->l3, g->ipv6, 6, l4len));
		memcpy(th + 16, &csum, 2);
	} else {
		uint8_t *uh = dst + g->l4;

		st16(uh + 4, (uint16_t)l4len);
		st16(uh + 6, 0);
		csum = (uint16_t)~ctn_csum_fold(uh, l4len, ctn_pseudo_sum(dst, g->l3, g->ipv6, 17, l4len));
		if (csum == 0)
			csum = 0xffff; /* zero means "no checksum" in UDP */
		memcpy(uh + 6, &csum, 2);
	}
	g->off += plen;
	g->seg++;
	return slen;
}
