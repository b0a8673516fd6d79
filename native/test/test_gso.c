/* test_gso.c - unit tests of software segmentation and checksum completion.
 *
 * Builds GSO frames the way a Linux tap hands them over (TCP over IPv4 and IPv6,
 * UDP_L4, with and without an 802.1Q tag, with IPv6 extension headers), segments
 * them with ctn_gso_*, and checks every segment independently: lengths, IPv4
 * header checksum, TCP sequence numbers and flags, transport checksums verified
 * by summing the segment (a correct one sums to 0xffff), and that the payloads
 * put back together equal the original; a done TCP checksum turned back into
 * one left to do (ctn_csum_make_partial) and completed again.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gso.h"
#include "offload.h"
#include "port.h"
#include "unit.h"

/** Options of a synthetic GSO frame. */
struct frame_spec {
	int ipv6;        /**< IPv6 instead of IPv4 */
	int udp;         /**< UDP_L4 instead of TCP */
	int vlan;        /**< one 802.1Q tag */
	int ext_hdr;     /**< an IPv6 destination-options header before L4 */
	int tcp_opts;    /**< bytes of TCP options (multiple of 4) */
	uint32_t payload; /**< payload bytes */
	uint16_t mss;    /**< gso_size */
	uint8_t tcp_flags;
};

static uint8_t frame_buf[CTN_BUF_SIZE];
static uint8_t seg_buf[CTN_BUF_SIZE];
static uint8_t joined[CTN_BUF_SIZE];

/** Big-endian 16-bit store. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/** Big-endian 16-bit load. */
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/** Big-endian 32-bit load. */
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/** Build the frame described by @s into frame_buf and describe it in @p. */
static void build(const struct frame_spec *s, struct ctn_pkt *p)
{
	uint8_t *d = frame_buf + CTN_HEADROOM;
	uint32_t off = 12, l3, l4, hl;

	memset(frame_buf, 0, sizeof(frame_buf));
	memcpy(d, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	if (s->vlan) {
		put16(d + off, 0x8100);
		put16(d + off + 2, 42);
		off += 4;
	}
	put16(d + off, s->ipv6 ? 0x86dd : 0x0800);
	l3 = off + 2;
	if (s->ipv6) {
		d[l3] = 0x60;
		d[l3 + 6] = s->ext_hdr ? 60 : (s->udp ? 17 : 6);
		d[l3 + 7] = 64;
		memcpy(d + l3 + 8, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		memcpy(d + l3 + 24, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
		l4 = l3 + 40;
		if (s->ext_hdr) {
			d[l4] = s->udp ? 17 : 6; /* next header */
			d[l4 + 1] = 0;           /* 8 bytes */
			d[l4 + 2] = 1;           /* PadN option filling the rest */
			d[l4 + 3] = 4;
			l4 += 8;
		}
	} else {
		d[l3] = 0x45;
		put16(d + l3 + 4, 0x1234);
		put16(d + l3 + 6, 0x4000); /* DF */
		d[l3 + 8] = 64;
		d[l3 + 9] = s->udp ? 17 : 6;
		memcpy(d + l3 + 12, "\x0a\0\0\x01\x0a\0\0\x02", 8);
		l4 = l3 + 20;
	}
	put16(d + l4, 40000);
	put16(d + l4 + 2, 5201);
	if (s->udp) {
		hl = l4 + 8;
	} else {
		uint32_t doff = 20 + (uint32_t)s->tcp_opts;

		d[l4 + 4] = 0xff; /* sequence close to wrapping */
		d[l4 + 5] = 0xff;
		d[l4 + 6] = 0xf0;
		d[l4 + 12] = (uint8_t)(doff / 4) << 4;
		d[l4 + 13] = s->tcp_flags;
		put16(d + l4 + 14, 512);
		for (int i = 20; i < (int)doff; i++)
			d[l4 + i] = 1; /* NOP options */
		hl = l4 + doff;
	}
	for (uint32_t i = 0; i < s->payload; i++)
		d[hl + i] = (uint8_t)(i * 7 + 3);
	memset(p, 0, sizeof(*p));
	p->buf = frame_buf;
	p->data = d;
	p->len = hl + s->payload;
	p->vnet.gso_type = s->udp ? CTN_GSO_UDP_L4 : (s->ipv6 ? CTN_GSO_TCPV6 : CTN_GSO_TCPV4);
	p->vnet.gso_size = s->mss;
	p->vnet.hdr_len = (uint16_t)hl;
	p->vnet.flags = CTN_VNET_F_NEEDS_CSUM;
	p->vnet.csum_start = (uint16_t)l4;
	p->vnet.csum_offset = s->udp ? 6 : 16;
}

/** Sum of the transport segment @l4 of @seg with its pseudo header, folded. */
static uint16_t l4_sum(const uint8_t *seg, uint32_t len, uint32_t l3, uint32_t l4, int ipv6, uint8_t proto)
{
	uint32_t l4len = len - l4;
	uint32_t sum = ipv6 ? ctn_csum_fold(seg + l3 + 8, 32, 0) : ctn_csum_fold(seg + l3 + 12, 8, 0);

	sum += htons(proto) + htons((uint16_t)l4len);
	return ctn_csum_fold(seg + l4, l4len, sum);
}

/** Segment the frame of @s and check every segment; returns the count. */
static uint32_t check_segments(const struct frame_spec *s)
{
	struct ctn_pkt p;
	struct ctn_gso g;
	uint32_t n = 0, got = 0, len;

	build(s, &p);
	CHECK(ctn_gso_start(&g, &p) == 0);
	CHECK(ctn_gso_count(&g) == (s->payload + s->mss - 1) / s->mss);
	while ((len = ctn_gso_next(&g, seg_buf)) != 0) {
		uint32_t plen = len - g.hdr_len;
		int last = got + plen == s->payload;

		CHECK(len <= ctn_gso_seg_max(&g));
		CHECK(plen == (last ? s->payload - got : s->mss));
		if (s->ipv6) {
			CHECK(get16(seg_buf + g.l3 + 4) == len - g.l3 - 40);
		} else {
			CHECK(get16(seg_buf + g.l3 + 2) == len - g.l3);
			CHECK(ctn_csum_fold(seg_buf + g.l3, 20, 0) == 0xffff);
			CHECK(get16(seg_buf + g.l3 + 4) == (uint16_t)(0x1234 + (s->udp ? 0 : n)));
		}
		if (s->udp) {
			CHECK(get16(seg_buf + g.l4 + 4) == len - g.l4);
			CHECK(l4_sum(seg_buf, len, g.l3, g.l4, s->ipv6, 17) == 0xffff);
		} else {
			uint8_t fl = seg_buf[g.l4 + 13];

			CHECK(get32(seg_buf + g.l4 + 4) == 0xfffff000u + got);
			CHECK(!!(fl & 0x01) == (last && (s->tcp_flags & 0x01)));
			CHECK(!!(fl & 0x08) == (last && (s->tcp_flags & 0x08)));
			CHECK(!!(fl & 0x80) == (n == 0 && (s->tcp_flags & 0x80)));
			CHECK((fl & 0x10) == (s->tcp_flags & 0x10)); /* ACK on every segment */
			CHECK(l4_sum(seg_buf, len, g.l3, g.l4, s->ipv6, 6) == 0xffff);
		}
		CHECK(memcmp(seg_buf, p.data, 12) == 0);
		memcpy(joined + got, seg_buf + g.hdr_len, plen);
		got += plen;
		n++;
	}
	CHECK(got == s->payload);
	CHECK(memcmp(joined, p.data + g.hdr_len, s->payload) == 0);
	return n;
}

/** TCP over IPv4: 64 KiB into MSS 1448 segments, flags split correctly. */
static void test_tcp4(void)
{
	struct frame_spec s = {.payload = 65000, .mss = 1448, .tcp_flags = 0x18 | 0x01 | 0x80, .tcp_opts = 12};

	CHECK(check_segments(&s) == 45);
}

/** TCP over IPv6 with a VLAN tag and a destination-options header. */
static void test_tcp6_vlan_ext(void)
{
	struct frame_spec s = {.ipv6 = 1, .vlan = 1, .ext_hdr = 1, .payload = 30001, .mss = 1428, .tcp_flags = 0x18};

	CHECK(check_segments(&s) == 22);
}

/** TCP over IPv4 with a VLAN tag, payload an exact multiple of the MSS. */
static void test_tcp4_vlan_exact(void)
{
	struct frame_spec s = {.vlan = 1, .payload = 1400 * 10, .mss = 1400, .tcp_flags = 0x10};

	CHECK(check_segments(&s) == 10);
}

/** UDP segmentation (USO) over IPv4 and IPv6, odd sizes. */
static void test_udp(void)
{
	struct frame_spec s4 = {.udp = 1, .payload = 9999, .mss = 1333};
	struct frame_spec s6 = {.udp = 1, .ipv6 = 1, .vlan = 1, .payload = 4097, .mss = 1000};

	CHECK(check_segments(&s4) == 8);
	CHECK(check_segments(&s6) == 5);
}

/** A single segment (payload under the MSS) still comes out complete. */
static void test_single(void)
{
	struct frame_spec s = {.payload = 100, .mss = 1448, .tcp_flags = 0x19};

	CHECK(check_segments(&s) == 1);
}

/** Frames that must be refused, each with its reason. */
static void test_refused(void)
{
	struct frame_spec s = {.payload = 5000, .mss = 1000, .tcp_flags = 0x10};
	struct ctn_pkt p;
	struct ctn_gso g;

	build(&s, &p);
	p.vnet.gso_type = CTN_GSO_UDP; /* UFO is never offered */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_TYPE);
	build(&s, &p);
	p.vnet.gso_type = CTN_GSO_TCPV6; /* type says v6, frame is v4 */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_L3);
	build(&s, &p);
	p.vnet.gso_size = 0;
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_SIZE);
	build(&s, &p);
	p.len = 14 + 20 + 10; /* TCP header cut short */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_L4);
	build(&s, &p);
	p.data[14] = 0x44; /* IHL below 20 bytes */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_L3);
	build(&s, &p);
	put16(p.data + 14 + 6, 0x2000); /* more fragments */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_L3);
	build(&s, &p);
	put16(p.data + 12, 0x0806); /* ARP */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_L2);
	build(&s, &p);
	p.len = 14 + 20 + 20; /* headers only, no payload */
	CHECK(ctn_gso_start(&g, &p) == -CTN_GSO_E_SIZE);
}

/** Checksum completion of a non-GSO frame with a partial checksum. */
static void test_csum_complete(void)
{
	struct frame_spec s = {.ipv6 = 1, .payload = 777, .mss = 1000, .tcp_flags = 0x18};
	struct ctn_pkt p;
	struct ctn_gso g;
	uint32_t l4;

	build(&s, &p);
	CHECK(ctn_gso_start(&g, &p) == 0);
	l4 = g.l4;
	put16(p.data + g.l3 + 4, (uint16_t)(p.len - g.l3 - 40));
	/* What a sender leaves behind: the pseudo-header sum, not inverted. */
	uint32_t ps = ctn_csum_fold(p.data + g.l3 + 8, 32, 0) + htons(6) + htons((uint16_t)(p.len - l4));
	uint16_t seed = ctn_csum_fold(NULL, 0, ps);
	memcpy(p.data + l4 + 16, &seed, 2);
	p.vnet.gso_type = CTN_GSO_NONE;
	CHECK(ctn_csum_complete(&p) == 0);
	CHECK(!(p.vnet.flags & CTN_VNET_F_NEEDS_CSUM));
	CHECK(l4_sum(p.data, p.len, g.l3, l4, 1, 6) == 0xffff);
	p.vnet.flags = CTN_VNET_F_NEEDS_CSUM;
	p.vnet.csum_start = (uint16_t)(p.len - 1);
	p.vnet.csum_offset = 16; /* points past the end */
	CHECK(ctn_csum_complete(&p) == -1);
}

/** What ctn_offload_egress handed to collect(). */
struct emitted {
	uint32_t n, bytes;
	uint32_t last_len;
	struct ctn_vnet last_vnet;
	int bad_csum;      /**< frames whose transport checksum did not verify */
	int stop_after;    /**< return CTN_DROP_TX_FULL after this many (0: never) */
};

/** ctn_emit_fn: count frames, verify each complete one's transport checksum. */
static int collect(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	struct emitted *e = arg;
	uint32_t l3, l4;
	bool v6;
	uint8_t proto;

	e->n++;
	e->bytes += len;
	e->last_len = len;
	e->last_vnet = *vnet;
	if (!(vnet->flags & CTN_VNET_F_NEEDS_CSUM) && ctn_parse_l4(data, len, &l3, &l4, &v6, &proto) == 0 &&
	    vnet->gso_type == CTN_GSO_NONE && l4_sum(data, len, l3, l4, v6, proto) != 0xffff)
		e->bad_csum++;
	if (e->stop_after && (int)e->n >= e->stop_after)
		return CTN_DROP_TX_FULL;
	return 0;
}

/** Fill the transport checksum field of @p with the pseudo-header sum and mark
 *  it NEEDS_CSUM, as a sender with checksum offload leaves it. */
static void make_partial(struct ctn_pkt *p, uint32_t l3, uint32_t l4, int ipv6, uint8_t proto)
{
	uint32_t ps = ipv6 ? ctn_csum_fold(p->data + l3 + 8, 32, 0) : ctn_csum_fold(p->data + l3 + 12, 8, 0);
	ps += htons(proto) + htons((uint16_t)(p->len - l4));
	uint16_t seed = ctn_csum_fold(NULL, 0, ps);
	uint32_t off = proto == 6 ? 16 : 6;
	memcpy(p->data + l4 + off, &seed, 2);
	p->vnet.flags = CTN_VNET_F_NEEDS_CSUM;
	p->vnet.csum_start = (uint16_t)l4;
	p->vnet.csum_offset = (uint16_t)off;
}

/** ctn_offload_egress: by capability, a frame passes whole, has its checksum
 *  completed, or is segmented; a stop from the port ends the segments. */
static void test_egress(void)
{
	static uint8_t scratch[CTN_BUF_SIZE];
	struct frame_spec tcp = {.payload = 20000, .mss = 1448, .tcp_flags = 0x18};
	struct frame_spec udp6 = {.udp = 1, .ipv6 = 1, .payload = 5000, .mss = 1200};
	struct ctn_pkt p;
	struct ctn_gso g;
	struct emitted e;

	/* A TSO port takes the GSO frame whole, metadata and all. */
	build(&tcp, &p);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, CTN_CAP_VNET, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && e.last_len == p.len && e.last_vnet.gso_type == CTN_GSO_TCPV4);

	/* A plain port gets 14 complete segments with correct checksums. */
	build(&tcp, &p);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == 0);
	CHECK(e.n == 14 && e.bad_csum == 0 && e.last_vnet.flags == 0);

	/* A TSO port without USO: a UDP GSO frame is segmented, marked verified. */
	build(&udp6, &p);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, CTN_CAP_VNET, scratch, collect, &e) == 0);
	CHECK(e.n == 5 && e.bad_csum == 0 && e.last_vnet.flags == CTN_VNET_F_DATA_VALID);
	build(&udp6, &p);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, CTN_CAP_VNET | CTN_CAP_USO, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && e.last_vnet.gso_type == CTN_GSO_UDP_L4);

	/* A GSO frame of one segment, to a plain port: finished in place (no
	 * copy into scratch), checksums right, and the packet is then a plain
	 * frame for any other port it goes to. */
	struct frame_spec one = {.payload = 30000, .mss = 32767, .tcp_flags = 0x19, .tcp_opts = 12};
	build(&one, &p);
	CHECK(ctn_gso_start(&g, &p) == 0 && ctn_gso_single(&g));
	uint8_t *before = p.data;
	uint32_t before_len = p.len;
	memset(scratch, 0xee, 64 + CTN_HEADROOM);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && e.bad_csum == 0 && e.last_len == before_len && p.data == before);
	CHECK(scratch[CTN_HEADROOM] == 0xee); /* scratch untouched */
	CHECK(p.vnet.gso_type == CTN_GSO_NONE && p.vnet.flags == 0 && p.len == before_len);
	CHECK((p.data[g.l4 + 13] & 0x19) == 0x19); /* FIN and PSH kept: it is the last segment */
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, CTN_CAP_VNET, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && e.bad_csum == 0 && e.last_vnet.gso_type == CTN_GSO_NONE);

	/* A partial checksum: kept for a CSUM port, completed for a plain one. */
	struct frame_spec small = {.payload = 900, .mss = 1448, .tcp_flags = 0x18};
	build(&small, &p);
	CHECK(ctn_gso_start(&g, &p) == 0);
	put16(p.data + g.l3 + 2, (uint16_t)(p.len - g.l3));
	p.vnet.gso_type = CTN_GSO_NONE;
	p.vnet.gso_size = 0;
	make_partial(&p, g.l3, g.l4, 0, 6);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, CTN_CAP_CSUM, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && (e.last_vnet.flags & CTN_VNET_F_NEEDS_CSUM));
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == 0);
	CHECK(e.n == 1 && e.bad_csum == 0 && !(e.last_vnet.flags & CTN_VNET_F_NEEDS_CSUM));

	/* The port says stop (its queue is full): no more segments, reason kept. */
	build(&tcp, &p);
	e = (struct emitted){.stop_after = 3};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == CTN_DROP_TX_FULL);
	CHECK(e.n == 3);

	/* Headers that cannot be segmented: dropped as gso, nothing emitted. */
	build(&tcp, &p);
	put16(p.data + 12, 0x0806);
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == CTN_DROP_GSO);
	CHECK(e.n == 0);

	/* A partial checksum pointing outside the frame: bad_vnet, nothing emitted. */
	build(&small, &p);
	p.vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM, .csum_start = (uint16_t)(p.len - 1), .csum_offset = 16};
	e = (struct emitted){0};
	CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == CTN_DROP_BAD_VNET);
	CHECK(e.n == 0);
}

/** The ones' complement sum as RFC 1071 writes it: 16-bit words (in memory
 *  order) one at a time, an odd last byte padded with zero. */
static uint16_t csum_reference(const uint8_t *d, uint32_t len, uint32_t seed)
{
	uint64_t sum = seed;
	for (uint32_t i = 0; i + 1 < len; i += 2) {
		uint16_t w;
		memcpy(&w, d + i, 2);
		sum += w;
	}
	if (len & 1) {
		uint16_t w = 0;
		memcpy(&w, d + len - 1, 1);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/** A whole (not GSO) frame of @s with its IP length set and its transport
 *  checksum done, as libslirp sends one; @l3 and @l4 get its offsets. */
static void build_done(const struct frame_spec *s, struct ctn_pkt *p, uint32_t *l3, uint32_t *l4)
{
	struct ctn_gso g;

	build(s, p);
	CHECK(ctn_gso_start(&g, p) == 0);
	*l3 = g.l3;
	*l4 = g.l4;
	if (s->ipv6)
		put16(p->data + g.l3 + 4, (uint16_t)(p->len - g.l3 - 40));
	else
		put16(p->data + g.l3 + 2, (uint16_t)(p->len - g.l3));
	p->vnet = (struct ctn_vnet){0};
	uint32_t off = s->udp ? 6 : 16;
	put16(p->data + g.l4 + off, 0);
	uint16_t c = (uint16_t)~l4_sum(p->data, p->len, g.l3, g.l4, s->ipv6, s->udp ? 17 : 6);
	memcpy(p->data + g.l4 + off, &c, 2);
}

/** ctn_csum_make_partial: a TCP frame's done checksum turned back into the
 *  pseudo header's sum (IPv4, and IPv6 behind a tag and an extension header);
 *  completing it gives back the frame byte for byte, a port without checksum
 *  offload gets it completed, one with it gets it as it is; every frame it must
 *  leave alone is left alone. */
static void test_csum_make_partial(void)
{
	static uint8_t scratch[CTN_BUF_SIZE], orig[CTN_BUF_SIZE];
	const struct frame_spec specs[] = {
		{.payload = 3000, .mss = 1448, .tcp_flags = 0x18},
		{.ipv6 = 1, .vlan = 1, .ext_hdr = 1, .tcp_opts = 12, .payload = 65000, .mss = 1000, .tcp_flags = 0x10},
		{.payload = 1, .mss = 1, .tcp_flags = 0x18}, /* an odd length */
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const struct frame_spec *s = &specs[i];
		struct ctn_pkt p;
		uint32_t l3, l4;

		build_done(s, &p, &l3, &l4);
		CHECK(l4_sum(p.data, p.len, l3, l4, s->ipv6, 6) == 0xffff);
		memcpy(orig, p.data, p.len);
		CHECK(ctn_csum_make_partial(&p) == 0);
		CHECK(p.vnet.flags == CTN_VNET_F_NEEDS_CSUM && p.vnet.gso_type == CTN_GSO_NONE);
		CHECK(p.vnet.csum_start == l4 && p.vnet.csum_offset == 16);
		/* The field holds the pseudo header's sum, computed here on its own. */
		uint32_t ps = s->ipv6 ? ctn_csum_fold(p.data + l3 + 8, 32, 0) : ctn_csum_fold(p.data + l3 + 12, 8, 0);
		uint16_t want = ctn_csum_fold(NULL, 0, ps + htons(6) + htons((uint16_t)(p.len - l4)));
		CHECK(memcmp(p.data + l4 + 16, &want, 2) == 0);
		CHECK(memcmp(p.data, orig, l4 + 16) == 0 && memcmp(p.data + l4 + 18, orig + l4 + 18, p.len - l4 - 18) == 0);
		CHECK(ctn_csum_make_partial(&p) == -1); /* already flagged */

		struct emitted e = {0};
		CHECK(ctn_offload_egress(&p, CTN_CAP_CSUM, scratch, collect, &e) == 0);
		CHECK(e.n == 1 && (e.last_vnet.flags & CTN_VNET_F_NEEDS_CSUM));
		CHECK(ctn_offload_egress(&p, 0, scratch, collect, &e) == 0);
		CHECK(e.n == 2 && e.bad_csum == 0 && !(e.last_vnet.flags & CTN_VNET_F_NEEDS_CSUM));
		CHECK(memcmp(p.data, orig, p.len) == 0); /* completed: the frame as it was */
	}

	struct ctn_pkt p;
	uint32_t l3, l4;
	const struct frame_spec tcp = {.payload = 500, .mss = 500, .tcp_flags = 0x18};
	const struct frame_spec udp = {.udp = 1, .payload = 500, .mss = 500};
	build_done(&udp, &p, &l3, &l4);
	memcpy(orig, p.data, p.len);
	CHECK(ctn_csum_make_partial(&p) == -1 && p.vnet.flags == 0 && memcmp(p.data, orig, p.len) == 0);
	build_done(&tcp, &p, &l3, &l4);
	p.len += 6; /* ethernet padding past the IP length */
	CHECK(ctn_csum_make_partial(&p) == -1 && p.vnet.flags == 0);
	build_done(&tcp, &p, &l3, &l4);
	put16(p.data + l3 + 6, 0x2000); /* MF: a fragment */
	CHECK(ctn_csum_make_partial(&p) == -1 && p.vnet.flags == 0);
	build_done(&tcp, &p, &l3, &l4);
	p.vnet.gso_type = CTN_GSO_TCPV4;
	CHECK(ctn_csum_make_partial(&p) == -1 && p.vnet.flags == 0);
	build_done(&tcp, &p, &l3, &l4);
	p.len = l4 + 10; /* TCP header cut short */
	put16(p.data + l3 + 2, (uint16_t)(p.len - l3));
	CHECK(ctn_csum_make_partial(&p) == -1 && p.vnet.flags == 0);
}

/** ctn_csum_fold agrees with the reference on every length up to 300 and on
 *  long buffers, at every alignment, with seeds, all-ones data (the most
 *  carries) and all zeros. */
static void test_csum_fold(void)
{
	static uint8_t buf[70000];
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	int bad = 0;
	for (uint32_t len = 0; len <= 300; len++)
		for (uint32_t off = 0; off < 8; off++)
			bad += ctn_csum_fold(buf + off, len, len * 977u) != csum_reference(buf + off, len, len * 977u);
	CHECK(bad == 0);
	uint32_t longs[] = {1500, 9000, 65535, 65536, 69999};
	for (size_t k = 0; k < sizeof(longs) / sizeof(longs[0]); k++) {
		CHECK(ctn_csum_fold(buf, longs[k], 0) == csum_reference(buf, longs[k], 0));
		CHECK(ctn_csum_fold(buf + 1, longs[k], 0xfffff) == csum_reference(buf + 1, longs[k], 0xfffff));
	}
	memset(buf, 0xff, sizeof(buf));
	CHECK(ctn_csum_fold(buf, 65536, 0) == csum_reference(buf, 65536, 0));
	CHECK(ctn_csum_fold(buf, 65536, 0xffffffffu) == csum_reference(buf, 65536, 0xffffffffu));
	memset(buf, 0, sizeof(buf));
	CHECK(ctn_csum_fold(buf, 4096, 0) == 0);
}

int main(void)
{
	RUN(test_csum_fold);
	RUN(test_tcp4);
	RUN(test_tcp6_vlan_ext);
	RUN(test_tcp4_vlan_exact);
	RUN(test_udp);
	RUN(test_single);
	RUN(test_refused);
	RUN(test_csum_complete);
	RUN(test_egress);
	RUN(test_csum_make_partial);
	return unit_report("gso");
}
