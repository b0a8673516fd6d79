/* gro.c - TCP receive coalescing of a tunnel's segments (see gro.h). */
#include "gro.h"

#include <string.h>

#include "gso.h"
#include "offload.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/** Big-endian 16 and 32-bit reads and writes. */
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/** What the TCP or UDP checksum of a frame says. */
enum csum_state {
	CSUM_BAD,     /**< wrong: the frame goes on as it came, for its receiver to drop */
	CSUM_OK,      /**< right (or a UDP datagram over IPv4 without one) */
	CSUM_PARTIAL, /**< never finished: the field holds the pseudo header's sum */
};

/**
 * The TCP (@proto 6) or UDP (17) checksum of the frame at @f, its transport
 * header at @l4 and @l4len bytes long. A sender whose kernel left the checksum
 * to "the hardware" (CHECKSUM_PARTIAL) on a veth underlay puts the frame on
 * the wire with the field holding only the pseudo header's sum: Linux's vxlan
 * receiver takes that state from the packet itself, a reader of a UDP socket
 * sees only the bytes. Such a frame is taken as partial, as the kernel takes
 * it, and handed on with NEEDS_CSUM.
 */
static enum csum_state csum_state(const uint8_t *f, uint32_t l3, uint32_t l4, bool ipv6, uint8_t proto, uint32_t l4len)
{
	uint32_t off = proto == 6 ? 16 : 6;
	uint16_t field;
	memcpy(&field, f + l4 + off, 2);
	if (proto == 17 && !ipv6 && field == 0)
		return CSUM_OK;
	uint16_t ps = ctn_pseudo_sum(f, l3, ipv6, proto, l4len);
	if (ctn_csum_fold(f + l4, l4len, ps) == 0xffff)
		return CSUM_OK;
	return field == ps ? CSUM_PARTIAL : CSUM_BAD;
}

/** The checksum state of TCP segment @f (@len bytes, layout of @g). */
static enum csum_state seg_csum(const struct tun_gro *g, const uint8_t *f, uint32_t len)
{
	return csum_state(f, g->l3, g->l4, g->ipv6, 6, len - g->l4);
}

/** Check the TCP or UDP checksum of whole frame @pkt (IP header at @l3,
 *  transport at @l4): a right one is marked DATA_VALID (checked once, here);
 *  an unfinished one NEEDS_CSUM. Returns the state (CSUM_BAD for a frame
 *  that is neither, or whose lengths do not hold). */
static enum csum_state frame_csum(struct ctn_pkt *pkt, uint32_t l3, uint32_t l4, bool ipv6, uint8_t proto)
{
	const uint8_t *f = pkt->data;
	uint32_t end = l3 + (ipv6 ? 40u + (uint32_t)(f[l3 + 4] << 8 | f[l3 + 5]) : (uint32_t)(f[l3 + 2] << 8 | f[l3 + 3]));
	uint32_t hmin = proto == 6 ? 20 : 8;
	if ((proto != 6 && proto != 17) || end > pkt->len || end < l4 + hmin)
		return CSUM_BAD;
	enum csum_state cs = csum_state(f, l3, l4, ipv6, proto, end - l4);
	if (cs == CSUM_OK)
		pkt->vnet.flags = CTN_VNET_F_DATA_VALID;
	else if (cs == CSUM_PARTIAL)
		pkt->vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM, .csum_start = (uint16_t)l4,
					      .csum_offset = (uint16_t)(proto == 6 ? 16 : 6)};
	return cs;
}

uint32_t tun_ip_end(const uint8_t *f, uint32_t len)
{
	if (len < 14)
		return 0;
	uint32_t l3 = 14;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	while ((et == 0x8100 || et == 0x88a8) && len >= l3 + 6) {
		et = (uint16_t)(f[l3 + 2] << 8 | f[l3 + 3]);
		l3 += 4;
	}
	if (et == 0x0800 && len >= l3 + 20)
		return l3 + (uint32_t)(f[l3 + 2] << 8 | f[l3 + 3]);
	if (et == 0x86dd && len >= l3 + 40)
		return l3 + 40 + (uint32_t)(f[l3 + 4] << 8 | f[l3 + 5]);
	return 0;
}

bool tun_gro_super(struct ctn_pkt *pkt, uint16_t mss, uint32_t mtu)
{
	uint32_t l3, l4;
	bool ipv6;
	uint8_t proto;
	const uint8_t *f = pkt->data;
	if (ctn_parse_l4(f, pkt->len, &l3, &l4, &ipv6, &proto) < 0 || proto != 6 || l4 + 20 > pkt->len)
		return false;
	uint32_t hdr = l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
	if (hdr < l4 + 20 || hdr >= pkt->len || tun_ip_end(f, pkt->len) != pkt->len)
		return false;
	if (mss == 0) {
		if (mtu <= hdr - l3 + 8)
			return false;
		mss = (uint16_t)(mtu - (hdr - l3));
	}
	pkt->vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM,
				      .gso_type = ipv6 ? CTN_GSO_TCPV6 : CTN_GSO_TCPV4,
				      .hdr_len = (uint16_t)hdr,
				      .gso_size = mss,
				      .csum_start = (uint16_t)l4,
				      .csum_offset = 16};
	return true;
}

void tun_gro_start(struct tun_gro *g, struct ctn_pkt *pkt)
{
	g->pkt = NULL;
	const uint8_t *f = pkt->data;
	uint32_t l3, l4;
	bool ipv6;
	uint8_t proto;
	if (pkt->vnet.gso_type != CTN_GSO_NONE || pkt->vnet.flags)
		return;
	if (ctn_parse_l4(f, pkt->len, &l3, &l4, &ipv6, &proto) < 0)
		return;
	enum csum_state cs = frame_csum(pkt, l3, l4, ipv6, proto);
	if (cs == CSUM_BAD || proto != 6)
		return;
	/* Others may join a data segment with plain headers (IPv4 without
	 * options, IPv6 without extensions), not padded, ACK and maybe PSH. */
	if (ipv6 ? l4 != l3 + 40 : (l4 != l3 + 20 || (f[l3 + 6] & 0x3f) || f[l3 + 7]))
		return;
	uint32_t hdr = l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
	uint8_t flags = f[l4 + 13];
	if (hdr < l4 + 20 || hdr >= pkt->len || (flags & ~(TCP_ACK | TCP_PSH)) || !(flags & TCP_ACK))
		return;
	uint32_t iplen = ipv6 ? (uint32_t)(f[l3 + 4] << 8 | f[l3 + 5]) + 40 : (uint32_t)(f[l3 + 2] << 8 | f[l3 + 3]);
	if (iplen != pkt->len - l3) /* padded */
		return;
	/* A PSH segment ends its frame: alone, it is only checked. */
	*g = (struct tun_gro){.l3 = l3, .l4 = l4, .hdr = hdr, .mss = pkt->len - hdr, .ipv6 = ipv6, .segs = 1,
			      .closed = (flags & TCP_PSH) != 0, .partial = cs == CSUM_PARTIAL};
	g->pkt = pkt;
	g->next_seq = rd32(f + l4 + 4) + g->mss;
}

bool tun_gro_merge(struct tun_gro *g, const uint8_t *f, uint32_t len)
{
	struct ctn_pkt *p = g->pkt;
	if (!p || g->closed || len <= g->hdr || len - g->hdr > g->mss || p->len + (len - g->hdr) > CTN_FRAME_MAX)
		return false;
	const uint8_t *h = p->data;
	uint32_t l3 = g->l3, l4 = g->l4;
	/* Ethernet (and tags), then IP but for lengths, id and checksum. */
	if (memcmp(f, h, l3) != 0)
		return false;
	if (g->ipv6) {
		if (memcmp(f + l3, h + l3, 4) || memcmp(f + l3 + 6, h + l3 + 6, 34))
			return false;
		if ((uint32_t)(f[l3 + 4] << 8 | f[l3 + 5]) + 40 != len - l3)
			return false;
	} else {
		if (memcmp(f + l3, h + l3, 2) || (f[l3 + 6] & 0x3f) || f[l3 + 7] || memcmp(f + l3 + 6, h + l3 + 6, 4) ||
		    memcmp(f + l3 + 12, h + l3 + 12, 8))
			return false;
		if ((uint32_t)(f[l3 + 2] << 8 | f[l3 + 3]) != len - l3)
			return false;
		if (p->len + (len - g->hdr) - l3 > 65535)
			return false;
	}
	/* TCP: ports, ack, header length, window, urgent and options alike;
	 * the next sequence number; ACK, and maybe PSH, alone. */
	uint8_t flags = f[l4 + 13];
	if (memcmp(f + l4, h + l4, 4) || memcmp(f + l4 + 8, h + l4 + 8, 5) || memcmp(f + l4 + 14, h + l4 + 14, 2) ||
	    memcmp(f + l4 + 18, h + l4 + 18, g->hdr - l4 - 18) || (flags & ~(TCP_ACK | TCP_PSH)) || !(flags & TCP_ACK))
		return false;
	if (rd32(f + l4 + 4) != g->next_seq)
		return false;
	enum csum_state cs = seg_csum(g, f, len);
	if (cs == CSUM_BAD)
		return false;
	g->partial |= cs == CSUM_PARTIAL;
	uint32_t pay = len - g->hdr;
	memcpy(p->data + p->len, f + g->hdr, pay);
	p->len += pay;
	g->next_seq += pay;
	g->segs++;
	if (pay < g->mss || (flags & TCP_PSH)) {
		p->data[l4 + 13] |= (uint8_t)(flags & TCP_PSH);
		g->closed = true;
	}
	return true;
}

void tun_gro_finish(struct tun_gro *g)
{
	struct ctn_pkt *p = g->pkt;
	g->pkt = NULL;
	if (!p)
		return;
	if (g->segs < 2)
		return; /* as tun_gro_start marked it */
	uint8_t *f = p->data;
	uint32_t l3 = g->l3, l4 = g->l4, l4len = p->len - l4;
	if (g->ipv6) {
		wr16(f + l3 + 4, p->len - l3 - 40);
	} else {
		wr16(f + l3 + 2, p->len - l3);
		f[l3 + 10] = f[l3 + 11] = 0;
		uint16_t ipc = (uint16_t)~ctn_csum_fold(f + l3, 20, 0); /* in memory order, as folded */
		memcpy(f + l3 + 10, &ipc, 2);
	}
	/* The checksum field holds the pseudo header's sum, for whoever
	 * finishes it (NEEDS_CSUM), as a vnet tap hands such frames over. */
	uint16_t ps = ctn_pseudo_sum(f, l3, g->ipv6, 6, l4len);
	memcpy(f + l4 + 16, &ps, 2);
	p->vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM,
				    .gso_type = g->ipv6 ? CTN_GSO_TCPV6 : CTN_GSO_TCPV4,
				    .hdr_len = (uint16_t)g->hdr,
				    .gso_size = (uint16_t)g->mss,
				    .csum_start = (uint16_t)l4,
				    .csum_offset = 16};
}
