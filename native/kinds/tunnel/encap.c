/* encap.c - VXLAN and Geneve headers, the inner flow hash and the remotes'
 * list (see encap.h). */
#include "encap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* VXLAN (RFC 7348 section 5):
 *   flags (8: I = 0x08) | reserved (24) | VNI (24) | reserved (8)
 * Geneve (RFC 8926 section 3.4):
 *   ver (2) opt len (6, 4-byte words) | O (1) C (1) rsvd (6) | protocol (16) |
 *   VNI (24) | reserved (8) | options */
#define VXLAN_I 0x08
#define GENEVE_O 0x80
#define GENEVE_C 0x40

void tun_encap(enum tun_type type, uint32_t vni, uint8_t *hdr)
{
	memset(hdr, 0, TUN_HDR_LEN);
	if (type == TUN_VXLAN) {
		hdr[0] = VXLAN_I;
	} else {
		hdr[2] = (uint8_t)(TUN_ETH_P_TEB >> 8);
		hdr[3] = (uint8_t)TUN_ETH_P_TEB;
	}
	hdr[4] = (uint8_t)(vni >> 16);
	hdr[5] = (uint8_t)(vni >> 8);
	hdr[6] = (uint8_t)vni;
}

enum tun_bad tun_decap(enum tun_type type, uint32_t vni, const uint8_t *d, uint32_t n, uint32_t *inner)
{
	if (n < TUN_HDR_LEN)
		return TUN_BAD_SHORT;
	uint32_t off = TUN_HDR_LEN;
	if (type == TUN_VXLAN) {
		/* Reserved bits are ignored on receipt (RFC 7348 section 5). */
		if (!(d[0] & VXLAN_I))
			return TUN_BAD_FLAGS;
	} else {
		if (d[0] >> 6)
			return TUN_BAD_VERSION;
		off += (uint32_t)(d[0] & 0x3f) * 4;
		if (n < off)
			return TUN_BAD_SHORT;
		if ((uint16_t)(d[2] << 8 | d[3]) != TUN_ETH_P_TEB)
			return TUN_BAD_PROTO;
		if (d[1] & GENEVE_O)
			return TUN_BAD_OAM;
		/* Options we do not know are skipped, unless marked critical
		 * (section 3.5): then the datagram must be dropped. */
		if (d[1] & GENEVE_C)
			return TUN_BAD_CRITICAL;
	}
	if (((uint32_t)d[4] << 16 | (uint32_t)d[5] << 8 | d[6]) != vni)
		return TUN_BAD_VNI;
	*inner = off;
	return TUN_OK;
}

/** Mix @v into hash @h (FNV-1a over the bytes of @v's words, cheap and good
 *  enough to spread flows over a few source ports). */
static inline uint32_t mix(uint32_t h, const uint8_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ v[i]) * 16777619u;
	return h;
}

uint32_t tun_flow_hash(const uint8_t *f, uint32_t len)
{
	uint32_t h = 2166136261u;
	if (len < 14)
		return mix(h, f, len);
	uint32_t l3 = 12;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	while ((et == 0x8100 || et == 0x88a8) && len >= l3 + 6) {
		l3 += 4;
		et = (uint16_t)(f[l3] << 8 | f[l3 + 1]);
	}
	l3 += 2;
	uint8_t proto = 0;
	uint32_t l4 = 0;
	if (et == 0x0800 && len >= l3 + 20) {
		uint32_t ihl = (uint32_t)(f[l3] & 0x0f) * 4;
		bool frag = ((f[l3 + 6] & 0x3f) | f[l3 + 7]) != 0; /* MF or an offset */
		h = mix(h, f + l3 + 12, 8);
		proto = f[l3 + 9];
		if (!frag && ihl >= 20)
			l4 = l3 + ihl;
	} else if (et == 0x86dd && len >= l3 + 40) {
		h = mix(h, f + l3 + 8, 32);
		proto = f[l3 + 6];
		l4 = l3 + 40; /* extension headers: addresses only */
	} else {
		return mix(h, f, 14);
	}
	h = mix(h, &proto, 1);
	if (l4 && (proto == 6 || proto == 17 || proto == 132) && len >= l4 + 4)
		h = mix(h, f + l4, 4);
	return h ^ (h >> 16);
}

int tun_parse_remotes(const char *list, uint16_t port, int family, struct tun_addr *out, int max, char *err,
		      size_t errlen)
{
	int n = 0;
	const char *s = list;
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t l = end ? (size_t)(end - s) : strlen(s);
		char a[INET6_ADDRSTRLEN + 1];
		if (l == 0 || l >= sizeof(a)) {
			snprintf(err, errlen, "remote \"%.*s\" is not an IPv4 or IPv6 address", (int)(l > 64 ? 64 : l), s);
			return -1;
		}
		memcpy(a, s, l);
		a[l] = 0;
		if (n == max) {
			snprintf(err, errlen, "more than %d remotes", max);
			return -1;
		}
		struct tun_addr *t = &out[n];
		memset(t, 0, sizeof(*t));
		struct sockaddr_in *v4 = (struct sockaddr_in *)&t->sa;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->sa;
		if (inet_pton(AF_INET, a, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons(port);
			t->len = sizeof(*v4);
		} else if (inet_pton(AF_INET6, a, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons(port);
			t->len = sizeof(*v6);
		} else {
			snprintf(err, errlen, "remote \"%s\" is not an IPv4 or IPv6 address", a);
			return -1;
		}
		int fam = t->sa.ss_family;
		if (family != AF_UNSPEC && fam != family) {
			snprintf(err, errlen, "remote %s is %s, the tunnel's underlay is %s", a, fam == AF_INET ? "IPv4" : "IPv6",
				 family == AF_INET ? "IPv4" : "IPv6");
			return -1;
		}
		family = fam;
		for (int i = 0; i < n; i++)
			if (tun_same_host(&t->sa, &out[i])) {
				snprintf(err, errlen, "remote %s is given twice", a);
				return -1;
			}
		n++;
		s = end ? end + 1 : NULL;
	}
	return n;
}

bool tun_same_host(const struct sockaddr_storage *a, const struct tun_addr *b)
{
	if (a->ss_family != b->sa.ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->sa)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)&b->sa)->sin6_addr,
		      16) == 0;
}
