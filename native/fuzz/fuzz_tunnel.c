/* fuzz_tunnel.c - libFuzzer harness of what a tunnel port does with the
 * datagrams any host may send it (native/kinds/tunnel): the overlay header
 * checks (encap.c), the inner flow hash, TCP receive coalescing (gro.c)
 * over a run of datagrams, as tun_rx_burst drives them, and the GSO metadata
 * given back to an uncut segment.
 *
 * Input: one byte (bit 0: VXLAN or Geneve; bits 1-7: how many datagrams of the
 * run form one "GRO run"), then datagrams, each a 16-bit length (little
 * endian) and its bytes. Every frame made must stay within its buffer and
 * have the lengths its headers claim (checked below); sanitizers catch the
 * rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "gro.h"
#include "pkt.h"

#define VNI 42
#define FRAMES 16 /**< packet buffers of the harness's pool */

/** The buffers frames are made in, as the engine's pool would give them. */
static uint8_t bufs[FRAMES][CTN_BUF_SIZE];

/** Check what a finished frame claims against what it is. */
static void check(const struct ctn_pkt *p)
{
	if (p->len > CTN_FRAME_MAX || p->data < p->buf || p->data + p->len > p->buf + CTN_BUF_SIZE)
		abort();
	if (p->vnet.gso_type != CTN_GSO_NONE && (p->vnet.hdr_len >= p->len || p->vnet.gso_size == 0 ||
						  p->vnet.csum_start + p->vnet.csum_offset + 2 > p->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum tun_type type = (data[0] & 1) ? TUN_GENEVE : TUN_VXLAN;
	struct ctn_pkt pkts[FRAMES];
	struct tun_gro g = {0};
	uint32_t used = 0;
	size_t at = 1;
	while (at + 2 <= size) {
		uint32_t n = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8;
		at += 2;
		if (n > size - at)
			n = (uint32_t)(size - at);
		const uint8_t *d = data + at;
		at += n;
		uint32_t off = 0;
		if (tun_decap(type, VNI, d, n, &off) != TUN_OK)
			continue;
		uint32_t len = n - off;
		if (len < CTN_FRAME_MIN || len > CTN_FRAME_MAX)
			continue;
		(void)tun_flow_hash(d + off, len);
		if (len > 1518) { /* an uncut segment from a sender on a veth, as rx_begin finds one */
			static uint8_t big[CTN_BUF_SIZE];
			struct ctn_pkt sp = {.buf = big, .data = big + CTN_HEADROOM, .len = len};
			memcpy(sp.data, d + off, len);
			if (tun_ip_end(sp.data, len) == len && tun_gro_super(&sp, (uint16_t)(data[0] & 0xfe) * 8, 1450))
				check(&sp);
			continue;
		}
		if (g.pkt && tun_gro_merge(&g, d + off, len)) {
			check(g.pkt);
			continue;
		}
		if (g.pkt)
			check(g.pkt);
		tun_gro_finish(&g);
		if (g.pkt)
			abort(); /* finish empties it */
		if (used == FRAMES) {
			for (uint32_t i = 0; i < used; i++)
				check(&pkts[i]);
			used = 0;
		}
		struct ctn_pkt *p = &pkts[used];
		*p = (struct ctn_pkt){.buf = bufs[used], .data = bufs[used] + CTN_HEADROOM, .len = len};
		used++;
		memcpy(p->data, d + off, len);
		tun_gro_start(&g, p);
	}
	tun_gro_finish(&g);
	for (uint32_t i = 0; i < used; i++)
		check(&pkts[i]);
	return 0;
}
