/* test_pcapfile.c - unit tests of the capture file encoding (pcapfile.c): the
 * pcap global header and records, and pcapng's section header, interface
 * descriptions (if_name, if_tsresol) and enhanced packet blocks (interface,
 * split timestamp, lengths, padding, epb_flags), each block's two lengths equal
 * and a multiple of 4, walked block by block as a reader does.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pcapfile.h"
#include "unit.h"

/** 32-bit value at @p (host order, as written). */
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/** 16-bit value at @p. */
static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/** Classic pcap: header fields, one record of a frame cut to its snap length. */
static void test_pcap(void)
{
	uint8_t out[256];
	size_t n = ctn_pcap_header(out, sizeof(out), CTN_PCAP_CLASSIC, 96, NULL, 0);
	CHECK(n == 24);
	CHECK(rd32(out) == 0xa1b23c4d);
	CHECK(rd16(out + 4) == 2 && rd16(out + 6) == 4);
	CHECK(rd32(out + 16) == 96);
	CHECK(rd32(out + 20) == 1);
	CHECK(ctn_pcap_header(out, 10, CTN_PCAP_CLASSIC, 96, NULL, 0) == 0);
	uint8_t frame[60];
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	n = ctn_pcap_record(out, CTN_PCAP_CLASSIC, 3, 1, 5000000123ull, frame, 50, 60);
	CHECK(n == 16 + 50);
	CHECK(rd32(out) == 5 && rd32(out + 4) == 123);
	CHECK(rd32(out + 8) == 50 && rd32(out + 12) == 60);
	CHECK(memcmp(out + 16, frame, 50) == 0);
}

/** pcapng: walk the blocks of a header for three ports and two packets. */
static void test_pcapng(void)
{
	static uint8_t out[4096];
	const char *names[] = {"c1.eth0", "a2b:lanB", "x"};
	size_t n = ctn_pcap_header(out, sizeof(out), CTN_PCAP_NG, 262144, names, 3);
	CHECK(n > 0 && n % 4 == 0);
	CHECK(ctn_pcap_header(out, 40, CTN_PCAP_NG, 262144, names, 3) == 0);
	uint8_t frame[61];
	memset(frame, 0xab, sizeof(frame));
	size_t r1 = ctn_pcap_record(out + n, CTN_PCAP_NG, 2, 2, 0x123456789abcdefull, frame, 61, 1000);
	CHECK(r1 <= CTN_PCAP_RECORD_MAX(61));
	size_t r2 = ctn_pcap_record(out + n + r1, CTN_PCAP_NG, 0, 0, 7, frame, 14, 14);
	size_t total = n + r1 + r2;
	/* Walk: SHB, three IDBs, two EPBs. */
	uint32_t types[6], i = 0;
	for (size_t off = 0; off < total && i < 6; i++) {
		uint32_t len = rd32(out + off + 4);
		CHECK(len % 4 == 0 && len >= 12);
		CHECK(rd32(out + off + len - 4) == len);
		types[i] = rd32(out + off);
		if (types[i] == 1) { /* IDB: linktype, snaplen, if_name first */
			CHECK(rd16(out + off + 8) == 1);
			CHECK(rd32(out + off + 12) == 262144);
			CHECK(rd16(out + off + 16) == 2);
			uint16_t nl = rd16(out + off + 18);
			CHECK(nl == strlen(names[i - 1]));
			CHECK(memcmp(out + off + 20, names[i - 1], nl) == 0);
			uint32_t o = 20 + ((nl + 3u) & ~3u);
			CHECK(rd16(out + off + o) == 9 && rd16(out + off + o + 2) == 1 && out[off + o + 4] == 9);
		}
		off += len;
		if (off == total)
			CHECK(i == 5);
	}
	CHECK(i == 6);
	CHECK(types[0] == 0x0A0D0D0A && rd32(out + 8) == 0x1A2B3C4D);
	CHECK(types[1] == 1 && types[2] == 1 && types[3] == 1 && types[4] == 6 && types[5] == 6);
	/* First EPB: interface 2, timestamp halves, lengths, padded data, epb_flags outbound. */
	const uint8_t *e = out + n;
	CHECK(rd32(e + 8) == 2);
	CHECK(rd32(e + 12) == 0x01234567u && rd32(e + 16) == 0x89abcdefu);
	CHECK(rd32(e + 20) == 61 && rd32(e + 24) == 1000);
	CHECK(memcmp(e + 28, frame, 61) == 0 && e[28 + 61] == 0 && e[28 + 63] == 0);
	CHECK(rd16(e + 28 + 64) == 2 && rd16(e + 28 + 66) == 4 && rd32(e + 28 + 68) == 2);
	CHECK(rd32(e + 28 + 72) == 0); /* opt_endofopt */
	/* Second: direction unknown, no options. */
	CHECK(r2 == 28 + 16 + 4);
}

int main(void)
{
	RUN(test_pcap);
	RUN(test_pcapng);
	return unit_report("pcapfile");
}
