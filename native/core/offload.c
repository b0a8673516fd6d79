/* offload.c - checksum completion and virtio-net header coding. */
#include "offload.h"

#include <arpa/inet.h>
#include <string.h>

#include "gso.h"
#include "port.h"

int ctn_vnet_decode(const struct ctn_vnet_wire *w, uint32_t frame_len, struct ctn_vnet *out)
{
	struct ctn_vnet v = {
		.flags = w->flags,
		.gso_type = w->gso_type,
		.hdr_len = w->hdr_len,
		.gso_size = w->gso_size,
		.csum_start = w->csum_start,
		.csum_offset = w->csum_offset,
	};
	if (v.flags & CTN_VNET_F_NEEDS_CSUM) {
		if ((uint32_t)v.csum_start + v.csum_offset + 2 > frame_len)
			return -1;
	} else {
		v.csum_start = v.csum_offset = 0;
	}
	if ((v.gso_type & ~CTN_GSO_ECN) != CTN_GSO_NONE && v.gso_size == 0)
		return -1;
	*out = v;
	return 0;
}

void ctn_vnet_encode(const struct ctn_vnet *v, uint8_t *dst, uint32_t hdr_len)
{
	struct ctn_vnet_wire w = {
		.flags = v->flags,
		.gso_type = v->gso_type,
		.hdr_len = v->hdr_len,
		.gso_size = v->gso_size,
		.csum_start = v->csum_start,
		.csum_offset = v->csum_offset,
		.num_buffers = 1,
	};
	memset(dst, 0, hdr_len);
	memcpy(dst, &w, hdr_len < sizeof(w) ? hdr_len : sizeof(w));
}

uint16_t ctn_csum_fold(const uint8_t *data, uint32_t len, uint32_t seed)
{
	/* Ones' complement addition is order independent and 2^16 is 1 modulo
	 * 2^16 - 1, so 64-bit words may be added up (their carries kept in the
	 * upper half of a 128-bit sum) and folded to 16 bits at the end: two
	 * sums, 32 bytes a turn, keep the adder busy. */
	unsigned __int128 a = seed, b = 0;
	uint32_t i = 0;
	for (; i + 32 <= len; i += 32) {
		uint64_t w[4];
		memcpy(w, data + i, 32);
		a += w[0];
		b += w[1];
		a += w[2];
		b += w[3];
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, data + i, 8);
		a += w;
	}
	a += b;
	uint64_t lo = (uint64_t)a, hi = (uint64_t)(a >> 64);
	uint64_t sum = lo + hi;
	sum += sum < lo; /* end-around carry */
	sum = (sum & 0xffffffffu) + (sum >> 32);
	for (; i + 2 <= len; i += 2) {
		uint16_t w;
		memcpy(&w, data + i, 2);
		sum += w;
	}
	if (i < len) {
		uint16_t w = 0;
		memcpy(&w, data + i, 1);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t ctn_pseudo_sum(const uint8_t *f, uint32_t l3, bool ipv6, uint8_t proto, uint32_t l4len)
{
	uint32_t sum = ipv6 ? ctn_csum_fold(f + l3 + 8, 32, 0) : ctn_csum_fold(f + l3 + 12, 8, 0);
	/* Words in network order, summed as the native loads in ctn_csum_fold do. */
	sum += htons(proto);
	sum += (uint32_t)htons((uint16_t)(l4len >> 16)) + htons((uint16_t)l4len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int ctn_csum_make_partial(struct ctn_pkt *p)
{
	uint32_t l3, l4;
	bool ipv6;
	uint8_t proto;
	if (p->vnet.flags || p->vnet.gso_type != CTN_GSO_NONE ||
	    ctn_parse_l4(p->data, p->len, &l3, &l4, &ipv6, &proto) < 0 || proto != 6 || l4 + 20 > p->len)
		return -1;
	/* The IP length must end where the frame does: completion sums to the
	 * frame's end, and padding would be summed in. */
	const uint8_t *ip = p->data + l3;
	uint32_t ip_end = ipv6 ? l3 + 40 + (uint32_t)(ip[4] << 8 | ip[5]) : l3 + (uint32_t)(ip[2] << 8 | ip[3]);
	if (ip_end != p->len)
		return -1;
	uint16_t ps = ctn_pseudo_sum(p->data, l3, ipv6, 6, p->len - l4);
	memcpy(p->data + l4 + 16, &ps, 2);
	p->vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM, .csum_start = (uint16_t)l4, .csum_offset = 16};
	return 0;
}

int ctn_csum_complete(struct ctn_pkt *p)
{
	if (!(p->vnet.flags & CTN_VNET_F_NEEDS_CSUM))
		return 0;
	uint32_t start = p->vnet.csum_start, off = start + p->vnet.csum_offset;
	if (off + 2 > p->len || start >= p->len)
		return -1;
	/* The field holds the pseudo-header sum already; sum over it as it is. */
	uint16_t sum = ctn_csum_fold(p->data + start, p->len - start, 0);
	uint16_t csum = (uint16_t)~sum;
	/* UDP sends a zero checksum as all ones; harmless for TCP, which never
	 * has a computed checksum of zero after inversion of a non-zero sum. */
	if (csum == 0)
		csum = 0xffff;
	memcpy(p->data + off, &csum, 2);
	p->vnet.flags = (uint8_t)((p->vnet.flags & ~CTN_VNET_F_NEEDS_CSUM) | CTN_VNET_F_DATA_VALID);
	p->vnet.csum_start = p->vnet.csum_offset = 0;
	return 0;
}

int ctn_offload_egress(struct ctn_pkt *pkt, uint32_t caps, uint8_t *scratch, ctn_emit_fn emit, void *arg)
{
	uint8_t type = pkt->vnet.gso_type & (uint8_t)~CTN_GSO_ECN;
	bool gso = type != CTN_GSO_NONE;
	bool takes_gso = (type == CTN_GSO_TCPV4 || type == CTN_GSO_TCPV6) ? (caps & CTN_CAP_TSO)
			 : type == CTN_GSO_UDP_L4			   ? (caps & CTN_CAP_USO)
									   : false;
	if (!gso || takes_gso) {
		if ((pkt->vnet.flags & CTN_VNET_F_NEEDS_CSUM) && !(caps & CTN_CAP_CSUM) &&
		    ctn_csum_complete(pkt) < 0)
			return CTN_DROP_BAD_VNET;
		if (!(caps & CTN_CAP_CSUM))
			pkt->vnet.flags &= (uint8_t)~CTN_VNET_F_DATA_VALID;
		return emit(arg, pkt->data, pkt->len, &pkt->vnet);
	}
	struct ctn_gso g;
	if (ctn_gso_start(&g, pkt) < 0)
		return CTN_DROP_GSO;
	/* Every segment leaves with its checksums computed. */
	const struct ctn_vnet done = {.flags = (caps & CTN_CAP_CSUM) ? CTN_VNET_F_DATA_VALID : 0};
	if (ctn_gso_single(&g)) {
		/* One segment (a TSO sender's usual frame when the MSS is over half
		 * of 64 KiB): finished in place, no copy; the packet is then a plain
		 * frame for every other port it goes to. */
		uint32_t len = ctn_gso_next(&g, pkt->data);
		pkt->len = len;
		pkt->vnet = (struct ctn_vnet){0};
		return emit(arg, pkt->data, len, &done);
	}
	uint8_t *dst = scratch + CTN_HEADROOM;
	uint32_t len;
	while ((len = ctn_gso_next(&g, dst)) != 0) {
		int rc = emit(arg, dst, len, &done);
		if (rc)
			return rc;
	}
	return 0;
}
