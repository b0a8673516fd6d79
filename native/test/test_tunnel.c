/* test_tunnel.c - unit tests of the tunnel kinds' headers and helpers
 * (native/kinds/tunnel/encap.c): VXLAN and Geneve headers written as the RFCs
 * lay them out and read back; every malformed header refused with its reason
 * (short, I flag clear, Geneve version, protocol, critical options, OAM, VNI);
 * Geneve options skipped; the flow hash equal for a flow's frames and spread
 * over flows; remote lists parsed, and refused with the reason.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "encap.h"
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

int main(void)
{
	RUN(test_vxlan_header);
	RUN(test_geneve_header);
	RUN(test_flow_hash);
	RUN(test_remotes);
	return unit_report("tunnel");
}
