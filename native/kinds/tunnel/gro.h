/* gro.h - receive coalescing of the TCP segments a tunnel brings in.
 *
 * A GSO frame sent over a tunnel arrives cut into MTU-sized segments, which a
 * UDP GRO run hands over together. Rather than hand the lan (and a vnet tap
 * behind it) one frame per segment, consecutive segments of one TCP flow are
 * put back together into one GSO frame, as the kernel's GRO does: same
 * headers but for lengths, IPv4 id and checksums, TCP sequence numbers in
 * order, every segment but the last of the same size, ACK (and PSH, which
 * ends the frame) the only flags. Each segment's TCP checksum is checked
 * before it is taken in (one left unfinished by a sender on a veth underlay
 * is taken as unfinished); the frame made carries NEEDS_CSUM, like one from a
 * vnet tap, and ports without TSO get the segments again in software.
 */
#ifndef CTN_TUNNEL_GRO_H
#define CTN_TUNNEL_GRO_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

/** A frame being put together. */
struct tun_gro {
	struct ctn_pkt *pkt; /**< the first segment, which grows; NULL: none */
	uint32_t l3, l4;     /**< offsets of its IP and TCP headers */
	uint32_t hdr;        /**< offset of its payload */
	uint32_t mss;        /**< payload of its first segment: the size of all but the last */
	uint32_t next_seq;   /**< sequence number the next segment must have */
	uint32_t segs;       /**< segments in it */
	bool ipv6;           /**< IPv6 (else IPv4) */
	bool closed;         /**< a shorter or PSH segment ended it */
	bool partial;        /**< a segment's checksum was never finished (see gro.c) */
};

/** Begin with frame @pkt (a complete frame, just received) if it is a TCP
 *  segment that others may join; else leave @g empty. */
void tun_gro_start(struct tun_gro *g, struct ctn_pkt *pkt);

/** Take frame @f (@len bytes) into @g's frame if it is its next segment.
 *  Returns whether it was taken (copied; the caller keeps @f). */
bool tun_gro_merge(struct tun_gro *g, const uint8_t *f, uint32_t len);

/** Bytes from the start of ethernet frame @f (@len bytes) to the end of its
 *  IP packet as its IP header says (the packet may be longer than the frame
 *  holds), or 0 when it is not IPv4 or IPv6. */
uint32_t tun_ip_end(const uint8_t *f, uint32_t len);

/** A TCP frame (@pkt, whole) that its sender's kernel never cut: a "UDP
 *  tunnel GSO" packet that crossed a veth whole and came out of a UDP socket
 *  as one datagram holding a 64 KB inner segment. Give it the GSO metadata
 *  it had (segments of @mss bytes; the checksum field holds the pseudo
 *  header's sum, as the kernel leaves it) so that whoever takes it cuts it;
 *  @mss 0: segments that fit IP packets of @mtu bytes.
 *  Returns false when it is not such a TCP frame. */
bool tun_gro_super(struct ctn_pkt *pkt, uint16_t mss, uint32_t mtu);

/** Finish @g's frame (lengths, checksums, GSO metadata when it has more than
 *  one segment; a lone segment, whose checksum was checked, marked
 *  DATA_VALID) and leave @g empty. */
void tun_gro_finish(struct tun_gro *g);

#endif
