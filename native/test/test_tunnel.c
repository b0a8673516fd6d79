/* test_tunnel.c - unit tests of the tunnel kinds' headers and helpers
 * (native/kinds/tunnel/encap.c): VXLAN and Geneve headers written as the RFCs
 * lay them out and read back; every malformed header refused with its reason
 * (short, I flag clear, Geneve version, protocol, critical options, OAM, VNI);
 * Geneve options skipped; the flow hash equal for a flow's frames and spread
 * over flows; remote lists parsed, and refused with the reason; TCP segments
 * put back together (gro.c) into the GSO frame they were cut from, which cuts
 * into the same segments again, and every segment that must not join refused.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "encap.h"
#include "gro.h"
#include "gso.h"
#include "offload.h"
#include "unit.h"

/** VXLAN: the I flag, zero reserved bits, the VNI in bytes 4-6. */
static void test_vxlan_header(void)
{
	uint8_t h[TUN_HDR_LEN];
	tun_encap(TUN_VXLAN, 0x123456, h);
	const uint8_t want[TUN_HDR_LEN] = {0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0};
	CHECK(memcmp(h, want, sizeof(want)) == 0);
	uint8_t d[64] = {0};
	memcpy(d, h, sizeof(h));
	uint32_t inner = 0;
	CHECK(tun_decap(TUN_VXLAN, 0x123456, d, 8 + 14, &inner) == TUN_OK);
	CHECK(inner == 8);
	CHECK(tun_decap(TUN_VXLAN, 0x123457, d, 22, &inner) == TUN_BAD_VNI);
	CHECK(tun_decap(TUN_VXLAN, 0x123456, d, 7, &inner) == TUN_BAD_SHORT);
	d[0] = 0;
	CHECK(tun_decap(TUN_VXLAN, 0x123456, d, 22, &inner) == TUN_BAD_FLAGS);
	d[0] = 0x08 | 0x80; /* a reserved bit: ignored on receipt */
	d[7] = 0xff;
	CHECK(tun_decap(TUN_VXLAN, 0x123456, d, 22, &inner) == TUN_OK);
}

/** Geneve: version 0, no options, protocol 0x6558; options skipped; every
 *  refusal. */
static void test_geneve_header(void)
{
	uint8_t h[TUN_HDR_LEN];
	tun_encap(TUN_GENEVE, 42, h);
	const uint8_t want[TUN_HDR_LEN] = {0, 0, 0x65, 0x58, 0, 0, 42, 0};
	CHECK(memcmp(h, want, sizeof(want)) == 0);
	uint8_t d[64] = {0};
	memcpy(d, h, sizeof(h));
	uint32_t inner = 0;
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_OK && inner == 8);
	d[0] = 2; /* 8 bytes of options */
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_OK && inner == 16);
	CHECK(tun_decap(TUN_GENEVE, 42, d, 15, &inner) == TUN_BAD_SHORT);
	d[0] = 0x40; /* version 1 */
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_BAD_VERSION);
	d[0] = 0;
	d[1] = 0x40; /* critical options */
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_BAD_CRITICAL);
	d[1] = 0x80; /* OAM */
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_BAD_OAM);
	d[1] = 0;
	d[3] = 0x00; /* protocol 0x6500 */
	CHECK(tun_decap(TUN_GENEVE, 42, d, 30, &inner) == TUN_BAD_PROTO);
	d[3] = 0x58;
	CHECK(tun_decap(TUN_GENEVE, 43, d, 30, &inner) == TUN_BAD_VNI);
}

/** An IPv4 TCP frame from port @sport with @payload bytes of payload. */
static uint32_t tcp_frame(uint8_t *f, uint16_t sport, uint8_t last_octet, uint32_t payload)
{
	memset(f, 0, 14 + 40 + payload);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[9] = 6;
	ip[12] = 10, ip[15] = last_octet, ip[16] = 10, ip[19] = 2;
	ip[20] = (uint8_t)(sport >> 8), ip[21] = (uint8_t)sport, ip[22] = 0x13, ip[23] = 0x88;
	for (uint32_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 7 + sport);
	return 14 + 40 + payload;
}

/** The flow hash: the same for a flow's frames whatever their payload, and
 *  spread over flows. */
static void test_flow_hash(void)
{
	uint8_t a[256], b[256];
	uint32_t la = tcp_frame(a, 40000, 1, 100), lb = tcp_frame(b, 40000, 1, 7);
	CHECK(tun_flow_hash(a, la) == tun_flow_hash(b, lb));
	unsigned used[16] = {0};
	for (uint16_t p = 0; p < 256; p++) {
		la = tcp_frame(a, (uint16_t)(30000 + p), 1, 10);
		used[tun_flow_hash(a, la) % 16]++;
	}
	unsigned empty = 0;
	for (int i = 0; i < 16; i++)
		empty += used[i] == 0;
	CHECK(empty == 0);
	la = tcp_frame(a, 40000, 1, 10);
	lb = tcp_frame(b, 40000, 3, 10);
	CHECK(tun_flow_hash(a, la) != tun_flow_hash(b, lb));
	CHECK(tun_flow_hash(a, 5) == tun_flow_hash(a, 5)); /* a runt does not crash */
}

/** Remote lists: IPv4, IPv6, the port set; refusals name the address. */
static void test_remotes(void)
{
	struct tun_addr r[4];
	char err[160];
	CHECK(tun_parse_remotes("10.0.0.1,10.0.0.2", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) == 2);
	CHECK(r[0].sa.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&r[1].sa)->sin_port) == 4789);
	CHECK(tun_parse_remotes("fd00::1", 6081, AF_UNSPEC, r, 4, err, sizeof(err)) == 1 && r[0].sa.ss_family == AF_INET6);
	CHECK(tun_parse_remotes("", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) == 0);
	CHECK(tun_parse_remotes("10.0.0.1,fd00::1", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) < 0 && strstr(err, "fd00::1"));
	CHECK(tun_parse_remotes("10.0.0.1", 4789, AF_INET6, r, 4, err, sizeof(err)) < 0 && strstr(err, "IPv4"));
	CHECK(tun_parse_remotes("10.0.0.1,10.0.0.1", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) < 0 && strstr(err, "twice"));
	CHECK(tun_parse_remotes("10.0.0.x", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) < 0 && strstr(err, "10.0.0.x"));
	CHECK(tun_parse_remotes("10.0.0.1,,10.0.0.2", 4789, AF_UNSPEC, r, 4, err, sizeof(err)) < 0);
	CHECK(tun_parse_remotes("1.1.1.1,1.1.1.2,1.1.1.3", 4789, AF_UNSPEC, r, 2, err, sizeof(err)) < 0 && strstr(err, "more than 2"));
	struct sockaddr_storage from = r[0].sa;
	tun_parse_remotes("10.0.0.1", 4789, AF_UNSPEC, r, 4, err, sizeof(err));
	from = r[0].sa;
	((struct sockaddr_in *)&from)->sin_port = htons(55555); /* any source port */
	CHECK(tun_same_host(&from, &r[0]));
	CHECK(tun_overhead(AF_INET) == 50 && tun_overhead(AF_INET6) == 70);
}

static uint8_t gso_buf[CTN_BUF_SIZE], seg_bufs[8][CTN_BUF_SIZE], again[CTN_BUF_SIZE];

/** A GSO frame of IPv4 TCP (or IPv6 with @v6), @payload bytes, MSS @mss, PSH
 *  set, in gso_buf, described in @p. */
static void gso_frame(struct ctn_pkt *p, bool v6, uint32_t payload, uint16_t mss)
{
	uint8_t *f = gso_buf + CTN_HEADROOM;
	uint32_t l3 = 14, l4 = l3 + (v6 ? 40 : 20), hdr = l4 + 20;
	memset(f, 0, hdr);
	memset(f, 0x02, 6);
	memset(f + 6, 0x04, 6);
	f[12] = v6 ? 0x86 : 0x08, f[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		f[l3] = 0x60;
		f[l3 + 4] = (uint8_t)((payload + 20) >> 8), f[l3 + 5] = (uint8_t)(payload + 20);
		f[l3 + 6] = 6, f[l3 + 7] = 64;
		f[l3 + 8] = 0xfd, f[l3 + 23] = 1, f[l3 + 24] = 0xfd, f[l3 + 39] = 2;
	} else {
		f[l3] = 0x45;
		f[l3 + 2] = (uint8_t)((hdr - l3 + payload) >> 8), f[l3 + 3] = (uint8_t)(hdr - l3 + payload);
		f[l3 + 6] = 0x40, f[l3 + 8] = 64, f[l3 + 9] = 6;
		f[l3 + 12] = 10, f[l3 + 15] = 1, f[l3 + 16] = 10, f[l3 + 19] = 2;
	}
	f[l4] = 0x9c, f[l4 + 1] = 0x40, f[l4 + 2] = 0x14, f[l4 + 3] = 0x51;
	f[l4 + 4] = 0x12, f[l4 + 7] = 0x34; /* seq */
	f[l4 + 11] = 1;                     /* ack */
	f[l4 + 12] = 5 << 4, f[l4 + 13] = 0x18, f[l4 + 14] = 2;
	for (uint32_t i = 0; i < payload; i++)
		f[hdr + i] = (uint8_t)(i * 31 + 7);
	*p = (struct ctn_pkt){.buf = gso_buf, .data = f, .len = hdr + payload};
	p->vnet = (struct ctn_vnet){.flags = CTN_VNET_F_NEEDS_CSUM, .gso_type = v6 ? CTN_GSO_TCPV6 : CTN_GSO_TCPV4,
				    .hdr_len = (uint16_t)hdr, .gso_size = mss, .csum_start = (uint16_t)l4, .csum_offset = 16};
	/* The pseudo header's sum in the checksum field, as a tap hands it over. */
	uint8_t ph[40] = {0};
	uint32_t n = v6 ? 40 : 12, l4len = 20 + payload;
	if (v6) {
		memcpy(ph, f + l3 + 8, 32);
		ph[34] = (uint8_t)(l4len >> 8), ph[35] = (uint8_t)l4len, ph[39] = 6;
	} else {
		memcpy(ph, f + l3 + 12, 8);
		ph[9] = 6, ph[10] = (uint8_t)(l4len >> 8), ph[11] = (uint8_t)l4len;
	}
	uint16_t ps = ctn_csum_fold(ph, n, 0);
	memcpy(f + l4 + 16, &ps, 2);
}

/** Cut @p into segments (seg_bufs); returns how many and their lengths. */
static uint32_t cut(const struct ctn_pkt *p, uint8_t bufs[][CTN_BUF_SIZE], uint32_t *lens)
{
	struct ctn_gso g;
	if (ctn_gso_start(&g, p) < 0)
		return 0;
	uint32_t n = 0, len;
	while ((len = ctn_gso_next(&g, bufs[n] + CTN_HEADROOM)) != 0)
		lens[n++] = len;
	return n;
}

/** Segments of one GSO frame, joined by gro.c, make that frame again; cut
 *  again, the same segments (IPv4 ids and all). */
static void test_gro_roundtrip(void)
{
	for (int v6 = 0; v6 <= 1; v6++) {
		struct ctn_pkt orig;
		gso_frame(&orig, v6, 450, 100);
		uint32_t lens[8], n = cut(&orig, seg_bufs, lens);
		CHECK(n == 5);
		static uint8_t head_buf[CTN_BUF_SIZE];
		struct ctn_pkt head = {.buf = head_buf, .data = head_buf + CTN_HEADROOM, .len = lens[0]};
		memcpy(head.data, seg_bufs[0] + CTN_HEADROOM, lens[0]);
		struct tun_gro g;
		tun_gro_start(&g, &head);
		CHECK(g.pkt == &head);
		for (uint32_t i = 1; i < n; i++)
			CHECK(tun_gro_merge(&g, seg_bufs[i] + CTN_HEADROOM, lens[i]));
		CHECK(g.closed); /* the last is shorter (and has PSH) */
		tun_gro_finish(&g);
		CHECK(head.len == orig.len);
		CHECK(head.vnet.gso_type == orig.vnet.gso_type && head.vnet.gso_size == 100 &&
		      head.vnet.hdr_len == orig.vnet.hdr_len && (head.vnet.flags & CTN_VNET_F_NEEDS_CSUM));
		CHECK(memcmp(head.data + orig.vnet.hdr_len, orig.data + orig.vnet.hdr_len, 450) == 0);
		CHECK(head.data[orig.vnet.csum_start + 13] == 0x18); /* PSH back on */
		static uint8_t again_bufs[8][CTN_BUF_SIZE];
		uint32_t lens2[8], n2 = cut(&head, again_bufs, lens2);
		CHECK(n2 == n);
		int same = 0;
		for (uint32_t i = 0; i < n && i < n2; i++)
			same += lens[i] == lens2[i] && memcmp(seg_bufs[i] + CTN_HEADROOM, again_bufs[i] + CTN_HEADROOM, lens[i]) == 0;
		CHECK(same == (int)n);
	}
}

/** What must not join: a gap in sequence, a bad checksum, another flow, SYN
 *  or FIN, a segment longer than the first, anything after a shorter one. */
static void test_gro_refusals(void)
{
	struct ctn_pkt orig;
	gso_frame(&orig, false, 400, 100);
	uint32_t lens[8], n = cut(&orig, seg_bufs, lens);
	CHECK(n == 4);
	static uint8_t head_buf[CTN_BUF_SIZE];
	struct ctn_pkt head = {.buf = head_buf, .data = head_buf + CTN_HEADROOM, .len = lens[0]};
	struct tun_gro g;
	uint8_t *s2 = seg_bufs[2] + CTN_HEADROOM;
	uint32_t l4 = 34;
	/* a gap: segment 2 after segment 0 */
	memcpy(head.data, seg_bufs[0] + CTN_HEADROOM, lens[0]);
	tun_gro_start(&g, &head);
	CHECK(!tun_gro_merge(&g, s2, lens[2]));
	/* a bad checksum */
	uint8_t *s1 = seg_bufs[1] + CTN_HEADROOM;
	s1[lens[1] - 1] ^= 0xff;
	CHECK(!tun_gro_merge(&g, s1, lens[1]));
	s1[lens[1] - 1] ^= 0xff;
	/* another flow (source port), then FIN */
	s1[l4 + 1] ^= 1;
	CHECK(!tun_gro_merge(&g, s1, lens[1]));
	s1[l4 + 1] ^= 1;
	s1[l4 + 13] |= 0x01;
	CHECK(!tun_gro_merge(&g, s1, lens[1]));
	s1[l4 + 13] &= (uint8_t)~0x01;
	CHECK(tun_gro_merge(&g, s1, lens[1]));
	tun_gro_finish(&g);
	CHECK(head.vnet.gso_type == CTN_GSO_TCPV4 && head.len == lens[0] + 100);
	/* a lone segment, checked, goes on marked DATA_VALID; a SYN never starts */
	memcpy(head.data, seg_bufs[3] + CTN_HEADROOM, lens[3]);
	head.len = lens[3];
	head.vnet = (struct ctn_vnet){0};
	tun_gro_start(&g, &head);
	CHECK(g.pkt == &head);
	tun_gro_finish(&g);
	CHECK(head.vnet.flags == CTN_VNET_F_DATA_VALID && head.vnet.gso_type == CTN_GSO_NONE);
	head.vnet = (struct ctn_vnet){0};
	head.data[l4 + 13] |= 0x02;
	tun_gro_start(&g, &head);
	CHECK(g.pkt == NULL);
	(void)again;
}

/** Make @f's TCP checksum (transport at @l4, @l4len bytes, IPv4) what a
 *  kernel leaves for the hardware: the pseudo header's sum alone. */
static void make_partial(uint8_t *f, uint32_t l4, uint32_t l4len)
{
	uint8_t ph[12] = {0};
	memcpy(ph, f + 14 + 12, 8);
	ph[9] = 6, ph[10] = (uint8_t)(l4len >> 8), ph[11] = (uint8_t)l4len;
	uint16_t ps = ctn_csum_fold(ph, 12, 0);
	memcpy(f + l4 + 16, &ps, 2);
}

/** Segments whose checksum a sender left unfinished (a veth underlay with
 *  offloads on) go on with NEEDS_CSUM: joined, alone, a SYN, a padded ACK. */
static void test_gro_partial(void)
{
	struct ctn_pkt orig;
	gso_frame(&orig, false, 300, 100);
	uint32_t lens[8], n = cut(&orig, seg_bufs, lens);
	CHECK(n == 3);
	uint32_t l4 = 34;
	for (uint32_t i = 0; i < n; i++)
		make_partial(seg_bufs[i] + CTN_HEADROOM, l4, lens[i] - l4);
	static uint8_t head_buf[CTN_BUF_SIZE];
	struct ctn_pkt head = {.buf = head_buf, .data = head_buf + CTN_HEADROOM, .len = lens[0]};
	memcpy(head.data, seg_bufs[0] + CTN_HEADROOM, lens[0]);
	struct tun_gro g;
	tun_gro_start(&g, &head);
	CHECK(g.pkt == &head && g.partial);
	CHECK(tun_gro_merge(&g, seg_bufs[1] + CTN_HEADROOM, lens[1]));
	CHECK(tun_gro_merge(&g, seg_bufs[2] + CTN_HEADROOM, lens[2]));
	tun_gro_finish(&g);
	CHECK(head.len == orig.len && head.vnet.gso_type == CTN_GSO_TCPV4 && (head.vnet.flags & CTN_VNET_F_NEEDS_CSUM));
	/* cut again in software (checksums computed): the segments the sender
	 * meant, byte for byte */
	uint32_t lens2[8], lens3[8];
	static uint8_t again_bufs[8][CTN_BUF_SIZE], fresh_bufs[8][CTN_BUF_SIZE];
	CHECK(cut(&head, again_bufs, lens2) == 3);
	gso_frame(&orig, false, 300, 100);
	CHECK(cut(&orig, fresh_bufs, lens3) == 3);
	int same = 0;
	for (uint32_t i = 0; i < 3; i++)
		same += lens2[i] == lens3[i] && memcmp(again_bufs[i] + CTN_HEADROOM, fresh_bufs[i] + CTN_HEADROOM, lens3[i]) == 0;
	CHECK(same == 3);
	/* alone (then a SYN, which never joins): NEEDS_CSUM at the TCP checksum */
	memcpy(head.data, seg_bufs[0] + CTN_HEADROOM, lens[0]);
	head.len = lens[0];
	head.vnet = (struct ctn_vnet){0};
	head.data[l4 + 13] |= 0x02;
	make_partial(head.data, l4, lens[0] - l4);
	tun_gro_start(&g, &head);
	CHECK(g.pkt == NULL);
	CHECK(head.vnet.flags == CTN_VNET_F_NEEDS_CSUM && head.vnet.csum_start == l4 && head.vnet.csum_offset == 16);
	CHECK(ctn_csum_complete(&head) == 0);
	/* a pure ACK padded to 60 bytes: the IP length, not the frame's, counts */
	head.len = 54;
	head.vnet = (struct ctn_vnet){0};
	head.data[14 + 2] = 0, head.data[14 + 3] = 40;
	head.data[l4 + 13] = 0x10;
	make_partial(head.data, l4, 20);
	memset(head.data + 54, 0xee, 6);
	head.len = 60;
	tun_gro_start(&g, &head);
	CHECK(g.pkt == NULL && head.vnet.flags == CTN_VNET_F_NEEDS_CSUM && head.vnet.csum_start == l4);
	/* a wrong checksum is neither: the frame goes on as it came */
	head.vnet = (struct ctn_vnet){0};
	head.data[l4 + 16] ^= 0x55;
	tun_gro_start(&g, &head);
	CHECK(g.pkt == NULL && head.vnet.flags == 0);
}

/** A sender's uncut 64 KB segment (a UDP tunnel GSO packet that crossed a
 *  veth): GSO metadata given back, with the MSS given or cut to the MTU;
 *  anything but such a TCP frame refused. */
static void test_gro_super(void)
{
	struct ctn_pkt p;
	gso_frame(&p, false, 3000, 1448);
	CHECK(tun_ip_end(p.data, p.len) == p.len);
	CHECK(tun_ip_end(p.data, 13) == 0);
	p.vnet = (struct ctn_vnet){0};
	CHECK(tun_gro_super(&p, 1448, 1500));
	CHECK(p.vnet.gso_type == CTN_GSO_TCPV4 && p.vnet.gso_size == 1448 && p.vnet.hdr_len == 54 &&
	      p.vnet.flags == CTN_VNET_F_NEEDS_CSUM && p.vnet.csum_start == 34 && p.vnet.csum_offset == 16);
	uint32_t lens[8];
	CHECK(cut(&p, seg_bufs, lens) == 3 && lens[0] == 54 + 1448);
	p.vnet = (struct ctn_vnet){0};
	CHECK(tun_gro_super(&p, 0, 1450)); /* no MSS given: segments fit the tunnel's MTU */
	CHECK(p.vnet.gso_size == 1450 - 40);
	p.len -= 10; /* the IP header says more than there is */
	CHECK(!tun_gro_super(&p, 1448, 1500));
	gso_frame(&p, false, 3000, 1448);
	p.data[14 + 9] = 17; /* not TCP */
	CHECK(!tun_gro_super(&p, 1448, 1500));
}

int main(void)
{
	RUN(test_gro_super);
	RUN(test_gro_roundtrip);
	RUN(test_gro_partial);
	RUN(test_gro_refusals);
	RUN(test_vxlan_header);
	RUN(test_geneve_header);
	RUN(test_flow_hash);
	RUN(test_remotes);
	return unit_report("tunnel");
}
