/* offload.h - checksum and segmentation work that one port kind asks of another.
 *
 * A frame may arrive with its transport checksum left to do (NEEDS_CSUM) or as one
 * large GSO frame standing for many segments. A port that accepts the virtio-net
 * header passes both on; for any other port the core finishes the work here, once,
 * in software. Every port kind uses these functions; none has its own copy.
 */
#ifndef CTN_OFFLOAD_H
#define CTN_OFFLOAD_H

#include <stdbool.h>

#include "pkt.h"

/** Decode a tap's virtio-net header into @out. Returns 0, or -1 when the header
 *  is inconsistent with a frame of @frame_len bytes. */
int ctn_vnet_decode(const struct ctn_vnet_wire *w, uint32_t frame_len, struct ctn_vnet *out);

/** Encode @v as a virtio-net header of @hdr_len bytes (10, 12 or more) at @dst. */
void ctn_vnet_encode(const struct ctn_vnet *v, uint8_t *dst, uint32_t hdr_len);

/** Finish a partial checksum in place (NEEDS_CSUM) and clear the flag.
 *  Returns 0, or -1 when csum_start/csum_offset point outside the frame. */
int ctn_csum_complete(struct ctn_pkt *p);

/** Ones' complement sum of the IPv4 or IPv6 (@ipv6) pseudo header of frame
 *  @f (IP header at @l3) for @l4len bytes of protocol @proto, folded to 16
 *  bits, not inverted: what a checksum left to do (NEEDS_CSUM) holds in its
 *  field, and the seed of a full checksum. */
uint16_t ctn_pseudo_sum(const uint8_t *f, uint32_t l3, bool ipv6, uint8_t proto, uint32_t l4len);

/** The reverse of ctn_csum_complete for a TCP frame whose checksum is done
 *  (no vnet flags, not GSO): its field set back to the pseudo header's sum and
 *  the frame marked NEEDS_CSUM, so a port that takes CTN_CAP_CSUM hands it on
 *  for its receiver to trust without summing the payload again (a tap's
 *  kernel takes it as CHECKSUM_PARTIAL), and any other port has it completed
 *  by ctn_offload_egress(). O(1): the payload is not read. Returns 0, or -1
 *  (the frame untouched) when it is not such a frame: not TCP over IPv4 or
 *  IPv6, an IP fragment, padded past its IP length, or already flagged. */
int ctn_csum_make_partial(struct ctn_pkt *p);

/** Receives one wire frame from ctn_offload_egress(): @data (with at least
 *  CTN_HEADROOM bytes free in front of it for the port's prefix), @len bytes, and
 *  the offload metadata that goes with it. Returns 0, or an enum ctn_drop reason
 *  that stops the remaining segments of the frame. */
typedef int (*ctn_emit_fn)(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet);

/** Hand @emit the wire frames that @pkt stands for on a port with offload
 *  capabilities @caps (CTN_CAP_*): @pkt itself when the port takes what it
 *  carries; else @pkt with its checksum completed in place; else each segment of
 *  a GSO frame in turn, written at @scratch + CTN_HEADROOM (@scratch has room for
 *  CTN_BUF_SIZE bytes). The one implementation every port kind uses.
 *  Returns 0, or the enum ctn_drop reason of the first frame that failed. */
int ctn_offload_egress(struct ctn_pkt *pkt, uint32_t caps, uint8_t *scratch, ctn_emit_fn emit, void *arg);

/** Ones' complement sum of @len bytes, folded to 16 bits, not inverted. */
uint16_t ctn_csum_fold(const uint8_t *data, uint32_t len, uint32_t seed);

#endif
