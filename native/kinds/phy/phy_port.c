/* phy_port.c - the "phy" kind: an existing interface of the daemon's network
 * namespace on a lan (cloonix's phy), through an AF_PACKET socket.
 *
 * The socket is bound to the interface for every protocol (ETH_P_ALL), sees
 * every frame on it (PACKET_MR_PROMISC, which the kernel takes back when the
 * socket goes) but not those it sends itself (PACKET_IGNORE_OUTGOING), and
 * carries a virtio-net header in front of every frame (PACKET_VNET_HDR), so
 * GSO and partial-checksum frames come in and go out whole, as through a vnet
 * tap.
 *
 * Input: a receive ring mapped once, of one of two versions:
 * - TPACKET_V2 (the default): one slot per frame, each large enough for a whole
 *   64 KiB GSO frame; the kernel hands each frame over as it comes (and wakes
 *   the worker), rx_burst copies it into a packet of the pool and gives the
 *   slot back at once.
 * - TPACKET_V3: the kernel packs frames into blocks and hands a block over when
 *   it is full or its retire timer (RETIRE_MS, 1 ms at the least) fires;
 *   rx_burst walks the blocks it owns and gives each back once read to its
 *   end. Fewer wake-ups, but up to a millisecond of delay for a frame that
 *   does not fill a block: ping p50 0.83 ms against 0.068 ms with V2 through
 *   two phys (bench/README.md), hence V2 by default.
 * In both, the slot holds the tpacket header, then the vnet header right in
 * front of the frame (tp_mac), as tpacket_rcv() lays it out; each frame is
 * copied into a pool packet (with its VLAN tag, which the kernel keeps aside,
 * put back).
 *
 * Output: sendmmsg() of up to a burst of frames, each one iovec of vnet header
 * plus frame, both already contiguous in the packet's headroom. A TX ring was
 * not taken: its slots are of one fixed size, so whole 64 KiB GSO frames need
 * 64 KiB slots, and the frame must be copied in anyway, as sendmmsg copies it.
 *
 * A device that goes administratively down only stops traffic (the kernel
 * reports ENETDOWN, which is read and forgotten); a device that goes away
 * (unregistered: the socket's ifindex becomes -1; or ENXIO/ENODEV on send)
 * breaks the port. Closing the port drops promiscuity and sets the device down
 * again if the port set it up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "closer.h"
#include "engine.h"
#include "kind.h"
#include "offload.h"
#include "port.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define VNET_LEN 10          /**< struct virtio_net_hdr (PACKET_VNET_HDR's size) */
#define VLAN_LEN 4           /**< an 802.1Q tag */
#define BLOCK_SIZE (1u << 20) /**< bytes of one ring block: room for ~15 whole 64 KiB GSO frames */
#define BLOCK_NR 16u         /**< blocks in the ring (16 MiB) */
#define FRAME_SIZE 2048u     /**< nominal frame size the kernel checks (V3 packs frames of any size) */
#define RETIRE_MS 1u         /**< a block that is not full is handed over after this long */
/** V2 slot: a whole 64 KiB GSO frame behind its tpacket2_hdr and vnet header. */
#define V2_FRAME_SIZE (65536u + 512u)
#define V2_PER_BLOCK (BLOCK_SIZE / V2_FRAME_SIZE) /**< V2 slots per block (frames do not cross blocks) */
#define V2_FRAMES (V2_PER_BLOCK * BLOCK_NR)        /**< V2 slots in the ring */

/** A phy port. */
struct phy_port {
	struct ctn_port base;  /**< must be first */
	char ifname[IFNAMSIZ]; /**< the interface, as named when added */
	int sock;              /**< the AF_PACKET socket (polled as sub-fd 1; base.fd is -1) */
	int ifindex;           /**< its index in the daemon's namespace */
	bool set_up;           /**< the port brought it up: close sets it down again */
	bool promisc;          /**< PACKET_MR_PROMISC is held */
	uint8_t *ring;         /**< the mapped RX ring */
	size_t ring_len;       /**< its bytes */
	uint32_t version;      /**< TPACKET_V3 (blocks of frames) or TPACKET_V2 (one frame a slot) */
	/* The read position, touched by the port's owner worker only. */
	uint32_t blk;          /**< V3: block being read; V2: slot to read next */
	uint32_t left;         /**< V3: frames of the block not read yet (0: not started) */
	uint32_t off;          /**< V3: offset in the block of the next frame to read */
	uint64_t vlan_frames;  /**< frames whose VLAN tag was put back */
	uint64_t truncated;    /**< frames the ring could not hold whole */
	uint64_t admin_down;   /**< ENETDOWN reports read while the device stayed */
	/** The device went down (ENETDOWN): tick looks whether it is gone, as its
	 *  unregistering, which follows its going down, reports nothing more. */
	bool down_seen;
};

/** Our port from the base pointer. */
static inline struct phy_port *phyp(struct ctn_port *p) { return (struct phy_port *)p; }

/** Block @i of @pp's ring. */
static inline struct tpacket_block_desc *block(struct phy_port *pp, uint32_t i)
{
	return (struct tpacket_block_desc *)(pp->ring + (size_t)i * BLOCK_SIZE);
}

/** Is the socket's device gone (unregistered)? The kernel sets the bound
 *  ifindex to -1 then. */
static bool device_gone(struct phy_port *pp)
{
	struct sockaddr_ll sll = {0};
	socklen_t l = sizeof(sll);
	if (getsockname(pp->sock, (struct sockaddr *)&sll, &l) < 0)
		return true;
	return sll.sll_ifindex != pp->ifindex;
}

/** The socket reported an error (EPOLLERR woke us with an empty ring): read
 *  it, which clears it; break the port if the device is gone. */
static void check_error(struct phy_port *pp)
{
	int soerr = 0;
	socklen_t l = sizeof(soerr);
	if (getsockopt(pp->sock, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr == 0)
		return;
	if (device_gone(pp)) {
		ctn_port_break(&pp->base, "device %s is gone", pp->ifname);
	} else if (soerr == ENETDOWN) {
		pp->admin_down++;
		pp->down_seen = true;
	} else {
		ctn_port_break(&pp->base, "socket on %s: %s", pp->ifname, strerror(soerr));
	}
}

/** What rx_frame needs of a ring slot's header (tpacket2_hdr or tpacket3_hdr). */
struct rx_slot {
	const uint8_t *frame; /**< the frame (its vnet header right in front) */
	uint32_t len;         /**< its length on the wire */
	uint32_t snaplen;     /**< bytes of it in the slot */
	uint32_t status;      /**< TP_STATUS_* of the slot */
	uint16_t vlan_tci;    /**< the tag kept aside (TP_STATUS_VLAN_VALID) */
	uint16_t vlan_tpid;   /**< its TPID (TP_STATUS_VLAN_TPID_VALID) */
};

/** Copy ring frame @h into @pkt: its vnet header decoded, its VLAN tag (kept
 *  aside by the kernel) put back in front of the ethertype.
 *  Returns 0, or the drop reason. */
static int rx_frame(struct phy_port *pp, const struct rx_slot *h, struct ctn_pkt *pkt)
{
	const uint8_t *frame = h->frame;
	uint32_t len = h->snaplen;
	if (len < h->len) {
		pp->truncated++;
		return CTN_DROP_TOO_BIG;
	}
	if (len < CTN_FRAME_MIN)
		return CTN_DROP_RUNT;
	bool vlan = (h->status & TP_STATUS_VLAN_VALID) != 0;
	if (len + (vlan ? VLAN_LEN : 0) > CTN_FRAME_MAX)
		return CTN_DROP_TOO_BIG;
	struct ctn_vnet_wire wv = {0};
	memcpy(&wv, frame - VNET_LEN, VNET_LEN);
	if (ctn_vnet_decode(&wv, len, &pkt->vnet) < 0)
		return CTN_DROP_BAD_VNET;
	if (vlan) {
		uint16_t tpid = (h->status & TP_STATUS_VLAN_TPID_VALID) ? h->vlan_tpid : ETH_P_8021Q;
		uint16_t tci = h->vlan_tci;
		memcpy(pkt->data, frame, 12);
		pkt->data[12] = (uint8_t)(tpid >> 8);
		pkt->data[13] = (uint8_t)tpid;
		pkt->data[14] = (uint8_t)(tci >> 8);
		pkt->data[15] = (uint8_t)tci;
		memcpy(pkt->data + 16, frame + 12, len - 12);
		len += VLAN_LEN;
		/* Offsets of the offload metadata count from the frame's start. */
		if (pkt->vnet.flags & CTN_VNET_F_NEEDS_CSUM)
			pkt->vnet.csum_start = (uint16_t)(pkt->vnet.csum_start + VLAN_LEN);
		if (pkt->vnet.gso_type != CTN_GSO_NONE)
			pkt->vnet.hdr_len = (uint16_t)(pkt->vnet.hdr_len + VLAN_LEN);
		pp->vlan_frames++;
	} else {
		memcpy(pkt->data, frame, len);
	}
	pkt->len = len;
	return 0;
}

/** Slot @i of @pp's TPACKET_V2 ring. */
static inline struct tpacket2_hdr *slot2(struct phy_port *pp, uint32_t i)
{
	return (struct tpacket2_hdr *)(pp->ring + (size_t)(i / V2_PER_BLOCK) * BLOCK_SIZE +
				       (size_t)(i % V2_PER_BLOCK) * V2_FRAME_SIZE);
}

/** Read up to @max frames from a TPACKET_V2 ring, slot by slot, each given
 *  back to the kernel as soon as it is copied. Returns how many. */
static int rx_v2(struct phy_port *pp, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct ctn_pktpool *pool = &w->pool;
	struct ctn_port_stats *st = &pp->base.local[w->id].st;
	int got = 0;
	uint32_t bytes = 0;
	while (got < max && bytes < CTN_BURST_BYTES) {
		struct tpacket2_hdr *h = slot2(pp, pp->blk);
		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		struct ctn_pkt *pkt = ctn_pkt_alloc(pool);
		if (!pkt) {
			st->drops[CTN_DROP_NO_BUFFER]++;
			break;
		}
		struct rx_slot slot = {(const uint8_t *)h + h->tp_mac, h->tp_len, h->tp_snaplen, h->tp_status,
				       h->tp_vlan_tci, h->tp_vlan_tpid};
		int drop = rx_frame(pp, &slot, pkt);
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		pp->blk = (pp->blk + 1) % V2_FRAMES;
		ctn_port_rx_take(&pp->base, st, pool, pkt, drop, pkts, &got, &bytes);
	}
	return got;
}

/** Read up to @max frames from a TPACKET_V3 ring: walk the blocks the kernel
 *  handed over, frame by frame; a block goes back to the kernel once read to
 *  its end. Returns how many. */
static int rx_v3(struct phy_port *pp, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct ctn_port *p = &pp->base;
	struct ctn_pktpool *pool = &w->pool;
	struct ctn_port_stats *st = &p->local[w->id].st;
	int got = 0;
	uint32_t bytes = 0;
	while (got < max && bytes < CTN_BURST_BYTES) {
		struct tpacket_block_desc *b = block(pp, pp->blk);
		if (pp->left == 0) {
			if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
				break; /* the kernel is still filling it */
			pp->left = b->hdr.bh1.num_pkts;
			pp->off = b->hdr.bh1.offset_to_first_pkt;
			if (pp->left == 0) { /* retired empty */
				__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
				pp->blk = (pp->blk + 1) % BLOCK_NR;
				continue;
			}
		}
		struct ctn_pkt *pkt = ctn_pkt_alloc(pool);
		if (!pkt) {
			/* Leave the frames in the ring; the worker comes back once
			 * buffers are free (the socket stays readable). */
			st->drops[CTN_DROP_NO_BUFFER]++;
			break;
		}
		const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)((uint8_t *)b + pp->off);
		struct rx_slot slot = {(const uint8_t *)h + h->tp_mac, h->tp_len, h->tp_snaplen, h->tp_status,
				       (uint16_t)h->hv1.tp_vlan_tci, (uint16_t)h->hv1.tp_vlan_tpid};
		int drop = rx_frame(pp, &slot, pkt);
		pp->off += h->tp_next_offset;
		if (--pp->left == 0) {
			__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			pp->blk = (pp->blk + 1) % BLOCK_NR;
		}
		ctn_port_rx_take(p, st, pool, pkt, drop, pkts, &got, &bytes);
	}
	return got;
}

/** rx_burst hook: read the ring. */
static int phy_rx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int max)
{
	struct phy_port *pp = phyp(p);
	int got = pp->version == TPACKET_V2 ? rx_v2(pp, w, pkts, max) : rx_v3(pp, w, pkts, max);
	/* Woken with nothing to read: the socket has an error to report. */
	if (got == 0 && w->rx_sub != CTN_RX_MORE && !p->broken)
		check_error(pp);
	return got;
}

/** A batch of frames for one sendmmsg(), on the calling worker's stack. */
struct phy_tx {
	struct phy_port *pp;             /**< the port */
	struct ctn_port_stats *st;       /**< the calling worker's counters */
	struct mmsghdr msgs[CTN_BURST];  /**< one per frame */
	struct iovec iov[CTN_BURST];     /**< vnet header + frame of each */
	uint32_t lens[CTN_BURST];        /**< frame bytes of each (without the header) */
	int n;                           /**< frames queued */
	bool at_once;                    /**< send each frame as it comes (software segments) */
};

/** Count a failed send of errno @er; break the port if the device is gone.
 *  Returns the drop reason. */
static int tx_error(struct phy_port *pp, int er)
{
	if (er == EAGAIN || er == ENOBUFS || er == ENOMEM)
		return CTN_DROP_TX_FULL;
	if (er == ENETDOWN) {
		if (device_gone(pp))
			ctn_port_break(&pp->base, "device %s is gone", pp->ifname);
		return CTN_DROP_TX_DOWN;
	}
	if (er == ENXIO || er == ENODEV) /* its ifindex finds no device */
		ctn_port_break(&pp->base, "device %s is gone", pp->ifname);
	return CTN_DROP_TX_ERROR;
}

/** Send the frames queued in @tx, skipping (and counting) any the kernel
 *  refuses. */
static void tx_flush(struct phy_tx *tx)
{
	int at = 0;
	while (at < tx->n && !tx->pp->base.broken) {
		int r = sendmmsg(tx->pp->sock, tx->msgs + at, (unsigned)(tx->n - at), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int drop = tx_error(tx->pp, errno);
			if (drop == CTN_DROP_TX_FULL) { /* the rest would fail alike */
				tx->st->drops[drop] += (uint64_t)(tx->n - at);
				break;
			}
			tx->st->drops[drop]++;
			at++;
			continue;
		}
		for (int i = at; i < at + r; i++) {
			tx->st->tx_packets++;
			tx->st->tx_bytes += tx->lens[i];
		}
		at += r;
	}
	tx->n = 0;
}

/** ctn_emit_fn: queue one wire frame with its vnet header in front (the
 *  caller flushes before the batch is full, and after each software segment,
 *  which the next one overwrites). */
static int phy_emit(void *arg, uint8_t *data, uint32_t len, const struct ctn_vnet *vnet)
{
	struct phy_tx *tx = arg;
	uint8_t *hdr = data - VNET_LEN;
	ctn_vnet_encode(vnet, hdr, VNET_LEN);
	int i = tx->n++;
	tx->iov[i] = (struct iovec){.iov_base = hdr, .iov_len = VNET_LEN + len};
	tx->msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &tx->iov[i], .msg_iovlen = 1}};
	tx->lens[i] = len;
	if (tx->at_once)
		tx_flush(tx);
	return 0;
}

/** tx_burst hook: frames the port takes as they are (every offload the kernel
 *  parses in a vnet header) go out in one sendmmsg(); one that needs software
 *  work first (a UFO frame) is sent on its own, segment by segment. Calls from
 *  several workers at once are safe: every message is one whole frame. */
static void phy_tx_burst(struct ctn_port *p, struct ctn_worker *w, struct ctn_pkt **pkts, int n)
{
	struct phy_tx tx;
	tx.pp = phyp(p);
	tx.st = &p->local[w->id].st;
	tx.n = 0;
	for (int i = 0; i < n && !p->broken; i++) {
		struct ctn_pkt *pkt = pkts[i];
		/* Only a UFO frame is segmented in software on this port. */
		tx.at_once = (pkt->vnet.gso_type & ~CTN_GSO_ECN) == CTN_GSO_UDP;
		if (tx.at_once && tx.n)
			tx_flush(&tx);
		int drop = ctn_offload_egress(pkt, p->caps, w->scratch, phy_emit, &tx);
		if (drop)
			tx.st->drops[drop]++;
		if (tx.n == CTN_BURST)
			tx_flush(&tx);
	}
	if (tx.n && !p->broken)
		tx_flush(&tx);
}

/** Set or clear IFF_UP on interface @ifindex through socket @fd.
 *  Returns 0, or -1 with errno. */
static int set_up(int fd, int ifindex, bool up)
{
	struct ifreq ifr = {0};
	ifr.ifr_ifindex = ifindex;
	if (ioctl(fd, SIOCGIFNAME, &ifr) < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (!!(ifr.ifr_flags & IFF_UP) == up)
		return 0;
	ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
	return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

/** Release what the port holds of its device, at once: promiscuity and the
 *  up flag it set (so del gives the device back as it found it). */
static void release_device(struct phy_port *pp)
{
	int fd = pp->sock;
	if (fd < 0)
		return;
	if (pp->promisc) {
		struct packet_mreq mr = {.mr_ifindex = pp->ifindex, .mr_type = PACKET_MR_PROMISC};
		setsockopt(fd, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mr, sizeof(mr));
		pp->promisc = false;
	}
	if (pp->set_up) {
		set_up(fd, pp->ifindex, false);
		pp->set_up = false;
	}
}

/** tick hook: a device seen going down is either set down (traffic waits
 *  for it to come up again) or on its way out (the port breaks). */
static void phy_tick(struct ctn_port *p, uint64_t now_ms)
{
	(void)now_ms;
	struct phy_port *pp = phyp(p);
	if (!pp->down_seen || p->broken)
		return;
	if (device_gone(pp)) {
		ctn_port_break(p, "device %s is gone", pp->ifname);
		return;
	}
	struct ifreq ifr = {0};
	ifr.ifr_ifindex = pp->ifindex;
	if (ioctl(pp->sock, SIOCGIFNAME, &ifr) == 0 && ioctl(pp->sock, SIOCGIFFLAGS, &ifr) == 0 &&
	    (ifr.ifr_flags & IFF_UP))
		pp->down_seen = false;
}

/** close hook. */
static void phy_close(struct ctn_port *p)
{
	struct phy_port *pp = phyp(p);
	release_device(pp);
	if (pp->ring)
		munmap(pp->ring, pp->ring_len);
	if (pp->sock >= 0)
		ctn_close_later(pp->sock);
	free(pp);
}

/** start hook: poll the socket as a sub-fd, so an error it reports (EPOLLERR)
 *  comes to rx_burst, which tells a device set down from one that is gone. */
static int phy_start(struct ctn_port *p, char *err, size_t errlen)
{
	if (ctn_port_watch_input(p, phyp(p)->sock, 1) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/** info hook. */
static void phy_info(const struct ctn_port *p, struct ctn_port_info *info)
{
	const struct phy_port *pp = (const struct phy_port *)p;
	snprintf(info->kind, sizeof(info->kind), "phy");
	snprintf(info->ifname, sizeof(info->ifname), "%s", pp->ifname);
	info->caps = p->caps;
	info->hdr_len = VNET_LEN;
	info->vnet_hdr = true;
	snprintf(info->state, sizeof(info->state), "promisc, tpacket v%d%s", pp->version == TPACKET_V2 ? 2 : 3,
		 pp->set_up ? ", set up" : "");
	struct tpacket_stats_v3 ks = {0};
	socklen_t l = sizeof(ks);
	/* Reading the kernel's counters resets them: show them, do not keep them. */
	if (pp->sock >= 0 && getsockopt(pp->sock, SOL_PACKET, PACKET_STATISTICS, &ks, &l) == 0)
		ctn_port_info_counter(info, "ring_drops", ks.tp_drops);
	ctn_port_info_counter(info, "vlan_frames", pp->vlan_frames);
	ctn_port_info_counter(info, "truncated", pp->truncated);
	ctn_port_info_counter(info, "admin_down", pp->admin_down);
}

/** The vtable. The socket is polled as a sub-fd (start), not as base.fd. */
static const struct ctn_port_ops phy_ops = {
	.rx_burst = phy_rx_burst,
	.tx_burst = phy_tx_burst,
	.close = phy_close,
	.info = phy_info,
	.start = phy_start,
	.tick = phy_tick,
};

/** Settings of a phy port. */
struct phy_cfg {
	char ifname[IFNAMSIZ]; /**< the interface, in the daemon's namespace */
	uint32_t tpacket;      /**< ring version: 2 (default: a slot per frame) or 3 (blocks of frames) */
};

/** What the "phy" kind takes. */
static const struct ctn_attr_policy phy_policy[] = {
	{.name = "ifname", .type = CTN_ATTR_STR, .offset = offsetof(struct phy_cfg, ifname),
	 .size = sizeof(((struct phy_cfg *)0)->ifname), .required = true},
	{.name = "tpacket", .type = CTN_ATTR_U32, .offset = offsetof(struct phy_cfg, tpacket), .max = 3},
	{0},
};

/** Check that interface @ifname (index @ifindex) is an ethernet device other
 *  than a tap, asking through socket @fd. Returns 0, or -1 with @err. */
static int check_device(int fd, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		snprintf(err, errlen, "%s: SIOCGIFHWADDR: %s", ifname, strerror(errno));
		return -1;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		snprintf(err, errlen, "%s is not an ethernet device (link type %u)", ifname,
			 ifr.ifr_hwaddr.sa_family);
		return -1;
	}
	struct ethtool_drvinfo di = {.cmd = ETHTOOL_GDRVINFO};
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0 && strcmp(di.driver, "tun") == 0) {
		snprintf(err, errlen, "%s is a tap: a tap joins a lan through its fd (add-etherfd), not as a phy",
			 ifname);
		return -1;
	}
	return 0;
}

/** Give socket @fd its vnet header, its RX ring (mapped into @pp) and its
 *  binding to @pp's interface, in the order the kernel wants (the header
 *  before the ring, the ring before the binding, so no frame comes in
 *  unframed). Returns 0, or -1 with @err. */
static int setup_socket(struct phy_port *pp, int fd, char *err, size_t errlen)
{
	int one = 1, version = (int)pp->version;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "PACKET_VNET_HDR: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "PACKET_IGNORE_OUTGOING: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0) {
		snprintf(err, errlen, "PACKET_VERSION TPACKET_V%d: %s", version + 1, strerror(errno));
		return -1;
	}
	struct tpacket_req3 req = {
		.tp_block_size = BLOCK_SIZE,
		.tp_block_nr = BLOCK_NR,
		.tp_frame_size = FRAME_SIZE,
		.tp_frame_nr = BLOCK_SIZE / FRAME_SIZE * BLOCK_NR,
		.tp_retire_blk_tov = RETIRE_MS,
	};
	if (pp->version == TPACKET_V2) { /* a tpacket_req: the first four fields */
		req.tp_frame_size = V2_FRAME_SIZE;
		req.tp_frame_nr = V2_FRAMES;
	}
	socklen_t reqlen = pp->version == TPACKET_V2 ? sizeof(struct tpacket_req) : sizeof(req);
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, reqlen) < 0) {
		snprintf(err, errlen, "PACKET_RX_RING (TPACKET_V%d, %u x %u bytes): %s", version + 1, BLOCK_NR,
			 BLOCK_SIZE, strerror(errno));
		return -1;
	}
	pp->ring_len = (size_t)BLOCK_SIZE * BLOCK_NR;
	void *ring = mmap(NULL, pp->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (ring == MAP_FAILED) {
		snprintf(err, errlen, "mmap of the RX ring: %s", strerror(errno));
		return -1;
	}
	pp->ring = ring;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = pp->ifindex};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		snprintf(err, errlen, "bind to %s: %s", pp->ifname, strerror(errno));
		return -1;
	}
	struct packet_mreq mr = {.mr_ifindex = pp->ifindex, .mr_type = PACKET_MR_PROMISC};
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		snprintf(err, errlen, "promiscuous mode on %s: %s", pp->ifname, strerror(errno));
		return -1;
	}
	pp->promisc = true;
	return 0;
}

/** open hook: a port on interface @cfg->ifname of the daemon's namespace. */
static int phy_open(struct ctn_engine *e, const void *cfg, struct ctn_port **ports, char *err, size_t errlen)
{
	(void)e;
	const char *ifname = ((const struct phy_cfg *)cfg)->ifname;
	uint32_t tpacket = ((const struct phy_cfg *)cfg)->tpacket;
	if (tpacket != 0 && tpacket != 2 && tpacket != 3) {
		snprintf(err, errlen, "tpacket %u: the ring is TPACKET_V2 or TPACKET_V3 (2 or 3)", tpacket);
		return -1;
	}
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0) {
		snprintf(err, errlen, "no interface %s in the daemon's network namespace", ifname);
		return -1;
	}
	struct phy_port *pp = ctn_port_alloc(sizeof(*pp));
	if (!pp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(pp->ifname, sizeof(pp->ifname), "%s", ifname);
	pp->ifindex = (int)idx;
	pp->version = tpacket == 3 ? TPACKET_V3 : TPACKET_V2;
	/* Protocol 0: nothing comes in before the ring is there (bind sets it). */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	pp->sock = fd;
	pp->base.fd = -1;
	if (fd < 0) {
		snprintf(err, errlen, "AF_PACKET socket: %s", strerror(errno));
		goto bad;
	}
	if (check_device(fd, ifname, err, errlen) < 0)
		goto bad;
	/* Up before the bind, which would report a device that is down. */
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		if (set_up(fd, pp->ifindex, true) < 0) {
			snprintf(err, errlen, "cannot set %s up: %s", ifname, strerror(errno));
			goto bad;
		}
		pp->set_up = true;
	}
	if (setup_socket(pp, fd, err, errlen) < 0)
		goto bad;
	pp->base.ops = &phy_ops;
	/* Every offload the kernel parses in a vnet header on send. */
	pp->base.caps = CTN_CAP_CSUM | CTN_CAP_TSO | CTN_CAP_USO;
	/* A V3 ring hands frames over by block, on its timer: polling epoll
	 * between two blocks finds nothing sooner. A V2 ring hands each frame
	 * over at once, as a tap does. */
	pp->base.no_poll = pp->version == TPACKET_V3;
	ports[0] = &pp->base;
	return 0;
bad:
	phy_close(&pp->base);
	return -1;
}

/** The "phy" kind. */
const struct ctn_kind ctn_kind_phy = {
	.name = "phy",
	.sides = 1,
	.policy = phy_policy,
	.cfg_size = sizeof(struct phy_cfg),
	.open = phy_open,
};
