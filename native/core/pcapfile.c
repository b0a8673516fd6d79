/* pcapfile.c - pcapng and pcap encoding (see pcapfile.h and the pcapng draft:
 * every block is type, total length, body, total length, padded to 4 bytes;
 * written in host byte order, which the byte-order magic tells readers). */
#include "pcapfile.h"

#include <string.h>

/** Append the @n bytes of @v at *@p. */
static void put(uint8_t **p, const void *v, size_t n)
{
	memcpy(*p, v, n);
	*p += n;
}

/** Append 32-bit @v at *@p. */
static void put32(uint8_t **p, uint32_t v) { put(p, &v, 4); }

/** Append 16-bit @v at *@p. */
static void put16(uint8_t **p, uint16_t v) { put(p, &v, 2); }

/** Append pcapng option @code with @len bytes of @v, padded to 4. */
static void put_opt(uint8_t **p, uint16_t code, const void *v, uint16_t len)
{
	put16(p, code);
	put16(p, len);
	put(p, v, len);
	uint32_t pad = (4 - (len & 3)) & 3;
	memset(*p, 0, pad);
	*p += pad;
}

/** Close the block that began at @start: its total length at both ends. */
static void end_block(uint8_t *start, uint8_t **p)
{
	uint32_t total = (uint32_t)(*p - start) + 4;
	memcpy(start + 4, &total, 4);
	put32(p, total);
}

size_t ctn_pcap_header(uint8_t *out, size_t cap, enum ctn_pcap_format fmt, uint32_t snaplen,
		       const char *const *names, uint32_t n)
{
	uint8_t *p = out;
	if (fmt == CTN_PCAP_CLASSIC) {
		if (cap < 24)
			return 0;
		put32(&p, 0xa1b23c4d); /* nanosecond timestamps */
		put16(&p, 2);
		put16(&p, 4);
		put32(&p, 0); /* thiszone */
		put32(&p, 0); /* sigfigs */
		put32(&p, snaplen);
		put32(&p, 1); /* LINKTYPE_ETHERNET */
		return (size_t)(p - out);
	}
	size_t need = 28;
	for (uint32_t i = 0; i < n; i++)
		need += 20 + 4 + ((strlen(names[i]) + 3) & ~(size_t)3) + 8 + 4 + 4;
	if (cap < need)
		return 0;
	uint8_t *b = p; /* section header block */
	put32(&p, 0x0A0D0D0A);
	put32(&p, 0);
	put32(&p, 0x1A2B3C4D);
	put16(&p, 1);
	put16(&p, 0);
	uint64_t len = UINT64_MAX; /* section length unknown */
	put(&p, &len, 8);
	end_block(b, &p);
	for (uint32_t i = 0; i < n; i++) /* one interface per port */
		p += ctn_pcap_idb(p, CTN_PCAP_IDB_MAX, snaplen, names[i]);
	return (size_t)(p - out);
}

size_t ctn_pcap_idb(uint8_t *out, size_t cap, uint32_t snaplen, const char *name)
{
	size_t nl = strlen(name);
	if (nl > 255)
		nl = 255;
	if (cap < 20 + 4 + ((nl + 3) & ~(size_t)3) + 8 + 4 + 4)
		return 0;
	uint8_t *p = out, *b = p;
	put32(&p, 1);
	put32(&p, 0);
	put16(&p, 1); /* LINKTYPE_ETHERNET */
	put16(&p, 0);
	put32(&p, snaplen);
	put_opt(&p, 2, name, (uint16_t)nl); /* if_name */
	uint8_t tsresol = 9;               /* ns */
	put_opt(&p, 9, &tsresol, 1);
	put32(&p, 0); /* opt_endofopt */
	end_block(b, &p);
	return (size_t)(p - out);
}

/** Total length of the pcapng EPB of @caplen bytes with (@dir) or without epb_flags. */
static uint32_t epb_len(uint32_t dir, uint32_t caplen)
{
	return 28 + ((caplen + 3) & ~3u) + (dir ? 12 : 0) + 4;
}

size_t ctn_pcap_record_head(uint8_t *head, enum ctn_pcap_format fmt, uint32_t ifid, uint32_t dir, uint64_t ts_ns,
			    uint32_t caplen, uint32_t len)
{
	uint8_t *p = head;
	if (fmt == CTN_PCAP_CLASSIC) {
		put32(&p, (uint32_t)(ts_ns / 1000000000u));
		put32(&p, (uint32_t)(ts_ns % 1000000000u));
		put32(&p, caplen);
		put32(&p, len);
		return (size_t)(p - head);
	}
	put32(&p, 6); /* enhanced packet block */
	put32(&p, epb_len(dir, caplen));
	put32(&p, ifid);
	put32(&p, (uint32_t)(ts_ns >> 32));
	put32(&p, (uint32_t)ts_ns);
	put32(&p, caplen);
	put32(&p, len);
	return (size_t)(p - head);
}

size_t ctn_pcap_record_tail(uint8_t *tail, enum ctn_pcap_format fmt, uint32_t dir, uint32_t caplen)
{
	if (fmt == CTN_PCAP_CLASSIC)
		return 0;
	uint8_t *p = tail;
	uint32_t pad = (4 - (caplen & 3)) & 3;
	memset(p, 0, pad);
	p += pad;
	if (dir) {
		uint32_t flags = dir & 3; /* epb_flags bits 0-1: 01 inbound, 10 outbound */
		put_opt(&p, 2, &flags, 4);
		put32(&p, 0);
	}
	put32(&p, epb_len(dir, caplen));
	return (size_t)(p - tail);
}

size_t ctn_pcap_record(uint8_t *out, enum ctn_pcap_format fmt, uint32_t ifid, uint32_t dir, uint64_t ts_ns,
		       const uint8_t *data, uint32_t caplen, uint32_t len)
{
	size_t n = ctn_pcap_record_head(out, fmt, ifid, dir, ts_ns, caplen, len);
	memcpy(out + n, data, caplen);
	n += caplen;
	return n + ctn_pcap_record_tail(out + n, fmt, dir, caplen);
}
