/* gso.h - software segmentation of GSO frames.
 *
 * A GSO frame (virtio-net gso_type TCPV4, TCPV6 or UDP_L4) stands for a run of
 * wire segments that share one set of headers. A port that cannot take such a
 * frame as it is (one without CTN_CAP_TSO or CTN_CAP_USO, see port.h) asks,
 * through ctn_offload_egress(), this iterator for the segments one by
 * one, each a complete frame with correct IPv4/IPv6 lengths, IPv4 header
 * checksum, TCP sequence numbers and flags, and a full TCP or UDP checksum.
 * Headers are parsed here (ethernet, up to two 802.1Q/802.1ad tags, IPv4 or
 * IPv6 with extension headers, TCP or UDP); the header's hdr_len is not trusted.
 *
 * No allocation: the caller gives the memory each segment is written to.
 */
#ifndef CTN_GSO_H
#define CTN_GSO_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

/** Iterator over the segments of one GSO frame. */
struct ctn_gso {
	const uint8_t *frame; /**< the GSO frame */
	uint32_t len;         /**< its length */
	uint32_t l3;          /**< offset of the IP header */
	uint32_t l4;          /**< offset of the TCP/UDP header */
	uint32_t hdr_len;     /**< offset of the payload */
	uint32_t mss;         /**< payload bytes per segment */
	uint32_t off;         /**< payload bytes already emitted */
	uint32_t seg;         /**< index of the next segment */
	uint32_t tcp_seq;     /**< sequence number of the first segment (host order) */
	uint16_t ip_id;       /**< IPv4 id of the first segment (host order) */
	bool ipv6;            /**< IPv6 rather than IPv4 */
	bool tcp;             /**< TCP rather than UDP */
};

/** Why a frame cannot be segmented (returned negated by ctn_gso_start). */
enum ctn_gso_error {
	CTN_GSO_OK = 0,
	CTN_GSO_E_TYPE,    /**< gso_type not TCPV4, TCPV6 or UDP_L4 */
	CTN_GSO_E_L2,      /**< not IPv4/IPv6 behind at most two VLAN tags */
	CTN_GSO_E_L3,      /**< IP header truncated, fragmented or not matching the type */
	CTN_GSO_E_L4,      /**< TCP/UDP header truncated or not matching the type */
	CTN_GSO_E_SIZE,    /**< no payload, zero gso_size, or a segment over CTN_FRAME_MAX */
};

/** Prepare @g to segment @p (whose vnet.gso_type is not NONE). Returns 0, or a
 *  negative enum ctn_gso_error. Keeps a pointer to @p's data. */
int ctn_gso_start(struct ctn_gso *g, const struct ctn_pkt *p);

/** Write the next segment to @dst (room for at least ctn_gso_seg_max(g) bytes)
 *  and return its length, or 0 when every segment has been written. @dst may be
 *  the frame itself when it stands for one segment only (ctn_gso_single). */
uint32_t ctn_gso_next(struct ctn_gso *g, uint8_t *dst);

/** Does the frame stand for one segment only (so it can be finished in place)? */
static inline bool ctn_gso_single(const struct ctn_gso *g)
{
	return g->len - g->hdr_len <= g->mss;
}

/** Longest segment @g will write. */
static inline uint32_t ctn_gso_seg_max(const struct ctn_gso *g)
{
	return g->hdr_len + g->mss;
}

/** Number of segments @g stands for in all. */
static inline uint32_t ctn_gso_count(const struct ctn_gso *g)
{
	uint32_t payload = g->len - g->hdr_len;
	return (payload + g->mss - 1) / g->mss;
}

/** Parse the headers of frame @d (@len bytes) for checksum work: fills the
 *  offsets of the IP and transport headers and the transport protocol. Returns
 *  0, or a negative enum ctn_gso_error. Shared with the checksum code. */
int ctn_parse_l4(const uint8_t *d, uint32_t len, uint32_t *l3, uint32_t *l4, bool *ipv6, uint8_t *proto);

#endif
