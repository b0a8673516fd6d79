/* pcapfile.h - the bytes of capture files: pcapng (a section header, one
 * interface description per port, enhanced packet blocks carrying the
 * interface and the direction) and classic pcap (nanosecond timestamps).
 * Pure encoding into caller buffers: no I/O, no allocation.
 */
#ifndef CTN_PCAPFILE_H
#define CTN_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

/** File formats. */
enum ctn_pcap_format {
	CTN_PCAP_NG,      /**< pcapng: interface and direction per frame */
	CTN_PCAP_CLASSIC, /**< classic pcap (magic 0xa1b23c4d, ns), linktype ethernet */
};

/** Bytes a record of @caplen bytes of frame takes at most, in either format. */
#define CTN_PCAP_RECORD_MAX(caplen) (64u + (((caplen) + 3u) & ~3u))

/**
 * Write the start of a file into @out (@cap bytes): pcapng's section header and
 * one interface description per name of @names (@n; interface i is names[i],
 * ethernet, @snaplen, ns timestamps), or pcap's global header. Returns the
 * bytes written, 0 when @cap is too small.
 */
size_t ctn_pcap_header(uint8_t *out, size_t cap, enum ctn_pcap_format fmt, uint32_t snaplen,
		       const char *const *names, uint32_t n);

/** Bytes of the longest interface description block (a 255-byte name). */
#define CTN_PCAP_IDB_MAX (20 + 4 + 256 + 8 + 4 + 4)

/**
 * Write one pcapng interface description block into @out (@cap bytes):
 * interface @name (cut to 255 bytes), ethernet, @snaplen, ns timestamps. Its
 * index is the number of blocks written before it in the section. Returns
 * the bytes written, 0 when @cap is too small.
 */
size_t ctn_pcap_idb(uint8_t *out, size_t cap, uint32_t snaplen, const char *name);

/**
 * Write one frame's record into @out (room for CTN_PCAP_RECORD_MAX(@caplen)):
 * @caplen bytes of @data, of a frame of @len bytes, seen at @ts_ns (ns since the
 * epoch) on interface @ifid in direction @dir (1 inbound, 2 outbound, 0
 * unknown; pcapng only). Returns the bytes written.
 */
size_t ctn_pcap_record(uint8_t *out, enum ctn_pcap_format fmt, uint32_t ifid, uint32_t dir, uint64_t ts_ns,
		       const uint8_t *data, uint32_t caplen, uint32_t len);

/** Bytes a record's head (what comes before the frame's bytes) takes at most. */
#define CTN_PCAP_HEAD_MAX 28u
/** Bytes a record's tail (what comes after them) takes at most. */
#define CTN_PCAP_TAIL_MAX 20u

/** The record of ctn_pcap_record() in three parts, for a writev from where the
 *  frame's bytes are: its head into @head (returns its length); the frame's
 *  @caplen bytes come next; then its tail, written into @tail by
 *  ctn_pcap_record_tail(). */
size_t ctn_pcap_record_head(uint8_t *head, enum ctn_pcap_format fmt, uint32_t ifid, uint32_t dir, uint64_t ts_ns,
			    uint32_t caplen, uint32_t len);
/** The tail of a record (see ctn_pcap_record_head); returns its length (0 for pcap). */
size_t ctn_pcap_record_tail(uint8_t *tail, enum ctn_pcap_format fmt, uint32_t dir, uint32_t caplen);

#endif
