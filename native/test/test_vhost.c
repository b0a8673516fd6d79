/* test_vhost.c - unit tests of the vhost-user message handler and the virtqueue
 * walker, driven as a frontend would (features, memory table in a memfd, ring
 * setup), with rings written by hand: plain, chained and indirect chains, and
 * the broken ones a hostile guest could offer (a loop, an address outside its
 * memory, a wrong direction), and a frontend that shrinks its memory under us
 * (a SIGBUS caught by the guard, a sealed memfd that cannot shrink). */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vhost_guard.h"
#include "vhost_user.h"
#include "unit.h"

#define MEM_SIZE (1 << 20)  /**< guest memory of the tests */
#define GPA_BASE 0x100000   /**< its guest physical address */
#define UVA_BASE 0x7f0000000000ull /**< its address in the "frontend" */
#define QSZ 8               /**< ring size */
#define DESC_OFF 0x0        /**< offsets of the rings in guest memory */
#define AVAIL_OFF 0x1000
#define USED_OFF 0x2000
#define BUF_OFF 0x10000

static uint8_t *guest; /**< our view of guest memory, as the frontend writes it */
static int memfd;

/** Send one message with @nfds fds; returns the result, the reply in @r. */
static enum ctn_vhost_result msg(struct ctn_vhost_dev *d, uint32_t req, uint32_t flags, const void *payload,
				 uint32_t size, int *fds, int nfds, struct ctn_vhost_msg *r, bool *answer)
{
	struct ctn_vhost_msg m;
	memset(&m, 0, sizeof(m));
	m.request = req;
	m.flags = CTN_VHOST_VERSION | flags;
	m.size = size;
	memcpy(&m.payload, payload, size);
	return ctn_vhost_handle(d, &m, fds, nfds, r, answer);
}

/** Shorthand: a message without fds whose reply we ignore. */
static enum ctn_vhost_result simple(struct ctn_vhost_dev *d, uint32_t req, const void *payload, uint32_t size)
{
	struct ctn_vhost_msg r;
	bool a;
	return msg(d, req, 0, payload, size, NULL, 0, &r, &a);
}

/** Negotiate, give memory and set up queue @q with kick and call eventfds. */
static void setup(struct ctn_vhost_dev *d, uint32_t q, uint64_t features)
{
	ctn_vhost_init(d);
	CHECK(simple(d, CTN_VHOST_SET_FEATURES, &features, 8) == CTN_VHOST_OK);
	struct {
		uint32_t n, pad;
		struct ctn_vmem_desc r[1];
	} mt = {1, 0, {{GPA_BASE, MEM_SIZE, UVA_BASE, 0}}};
	int fd = dup(memfd);
	struct ctn_vhost_msg r;
	bool a;
	CHECK(msg(d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, &fd, 1, &r, &a) == CTN_VHOST_OK);
	close(fd);
	uint32_t num[2] = {q, QSZ};
	CHECK(simple(d, CTN_VHOST_SET_VRING_NUM, num, 8) == CTN_VHOST_OK);
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr = {q, 0, UVA_BASE + DESC_OFF, UVA_BASE + USED_OFF, UVA_BASE + AVAIL_OFF, 0};
	CHECK(simple(d, CTN_VHOST_SET_VRING_ADDR, &addr, 40) == CTN_VHOST_OK);
	uint32_t base[2] = {q, 0};
	CHECK(simple(d, CTN_VHOST_SET_VRING_BASE, base, 8) == CTN_VHOST_OK);
	uint64_t v = q;
	int kick = eventfd(0, EFD_NONBLOCK), call = eventfd(0, EFD_NONBLOCK);
	CHECK(msg(d, CTN_VHOST_SET_VRING_KICK, 0, &v, 8, &kick, 1, &r, &a) == CTN_VHOST_OK);
	CHECK(kick == -1); /* kept by the device */
	CHECK(msg(d, CTN_VHOST_SET_VRING_CALL, 0, &v, 8, &call, 1, &r, &a) == CTN_VHOST_OK);
	CHECK(ctn_virtq_ready(&d->vq[q]));
}

/** Guest side: descriptor @i of the ring (or of a table at guest offset @table). */
static struct ctn_vring_desc *gdesc(uint32_t table, int i)
{
	return (struct ctn_vring_desc *)(guest + table) + i;
}

/** Guest side: offer head @h as the next available entry. */
static void offer(uint16_t h)
{
	struct ctn_vring_avail *av = (void *)(guest + AVAIL_OFF);
	av->ring[av->idx % QSZ] = h;
	__atomic_store_n(&av->idx, (uint16_t)(av->idx + 1), __ATOMIC_RELEASE);
}

/** Reset the guest's rings. */
static void clear_rings(void)
{
	memset(guest, 0, 0x3000);
}

/** The handshake's answers: features, protocol features, queue count, acks. */
static void test_negotiation(void)
{
	struct ctn_vhost_dev d;
	struct ctn_vhost_msg r;
	bool a;
	ctn_vhost_init(&d);
	CHECK(msg(&d, CTN_VHOST_GET_FEATURES, 0, NULL, 0, NULL, 0, &r, &a) == CTN_VHOST_OK);
	CHECK(a && r.size == 8 && r.payload.u64 == ctn_vhost_features);
	CHECK(r.flags == (CTN_VHOST_VERSION | CTN_VHOST_F_REPLY));
	CHECK(r.payload.u64 & CTN_BIT(CTN_VIRTIO_NET_F_MRG_RXBUF));
	uint64_t bad = CTN_BIT(63);
	CHECK(simple(&d, CTN_VHOST_SET_FEATURES, &bad, 8) == CTN_VHOST_FATAL);
	CHECK(strstr(d.err, "never offered") != NULL);
	uint64_t f = CTN_BIT(CTN_VIRTIO_F_VERSION_1) | CTN_BIT(CTN_VHOST_F_PROTOCOL_FEATURES);
	CHECK(simple(&d, CTN_VHOST_SET_FEATURES, &f, 8) == CTN_VHOST_OK);
	CHECK(d.hdr_len == 12);
	CHECK(msg(&d, CTN_VHOST_GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0, &r, &a) == CTN_VHOST_OK && a);
	uint64_t pf = CTN_BIT(CTN_VHOST_PROTO_F_REPLY_ACK) | CTN_BIT(CTN_VHOST_PROTO_F_MQ);
	CHECK(r.payload.u64 == pf);
	CHECK(simple(&d, CTN_VHOST_SET_PROTOCOL_FEATURES, &pf, 8) == CTN_VHOST_OK);
	CHECK(msg(&d, CTN_VHOST_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0, &r, &a) == CTN_VHOST_OK);
	CHECK(a && r.payload.u64 == CTN_VHOST_MAX_QP);
	/* REPLY_ACK: 0 for done, 1 for refused; the session goes on. */
	uint32_t num[2] = {0, 256};
	CHECK(msg(&d, CTN_VHOST_SET_VRING_NUM, CTN_VHOST_F_NEED_REPLY, num, 8, NULL, 0, &r, &a) == CTN_VHOST_OK);
	CHECK(a && r.size == 8 && r.payload.u64 == 0);
	CHECK(msg(&d, CTN_VHOST_SET_LOG_BASE, CTN_VHOST_F_NEED_REPLY, num, 8, NULL, 0, &r, &a) == CTN_VHOST_REFUSED);
	CHECK(a && r.payload.u64 == 1);
	/* Malformed: bad ring size, missing payload, wrong version, unknown queue. */
	num[1] = 300;
	CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, num, 8) == CTN_VHOST_FATAL);
	CHECK(simple(&d, CTN_VHOST_SET_VRING_ADDR, num, 8) == CTN_VHOST_FATAL);
	struct ctn_vhost_msg m;
	memset(&m, 0, sizeof(m));
	m.request = CTN_VHOST_GET_FEATURES;
	m.flags = 2;
	CHECK(ctn_vhost_handle(&d, &m, NULL, 0, &r, &a) == CTN_VHOST_FATAL);
	uint32_t far[2] = {CTN_VHOST_MAX_VQ, 8};
	CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, far, 8) == CTN_VHOST_FATAL);
	ctn_vhost_reset(&d);
}

/** Memory tables: fds must match regions; a region larger than its fd, or
 *  overlapping another, is refused. */
static void test_mem_table(void)
{
	struct ctn_vhost_dev d;
	struct ctn_vhost_msg r;
	bool a;
	ctn_vhost_init(&d);
	struct {
		uint32_t n, pad;
		struct ctn_vmem_desc r[2];
	} mt = {1, 0, {{GPA_BASE, MEM_SIZE * 2, UVA_BASE, 0}, {0}}};
	int fd = dup(memfd);
	CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, &fd, 1, &r, &a) == CTN_VHOST_FATAL);
	CHECK(strstr(d.err, "bytes asked of an fd") != NULL);
	close(fd);
	mt.r[0].size = MEM_SIZE;
	CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, NULL, 0, &r, &a) == CTN_VHOST_FATAL);
	mt.n = 2;
	mt.r[1] = (struct ctn_vmem_desc){GPA_BASE + 4096, 4096, UVA_BASE + MEM_SIZE, 0};
	int two[2] = {dup(memfd), dup(memfd)};
	CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 64, two, 2, &r, &a) == CTN_VHOST_FATAL);
	CHECK(strstr(d.err, "overlap") != NULL);
	close(two[0]);
	close(two[1]);
	CHECK(d.mem.n == 0);
	ctn_vhost_reset(&d);
}

/** A chained and an indirect chain on a guest tx ring, then GET_VRING_BASE. */
static void test_chains(void)
{
	struct ctn_vhost_dev d;
	clear_rings();
	setup(&d, 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1) | CTN_BIT(CTN_VIRTIO_F_RING_INDIRECT_DESC));
	struct ctn_virtq *vq = &d.vq[1];
	memcpy(guest + BUF_OFF, "hello, ", 7);
	memcpy(guest + BUF_OFF + 100, "world", 5);
	*gdesc(DESC_OFF, 0) = (struct ctn_vring_desc){GPA_BASE + BUF_OFF, 7, CTN_VRING_DESC_F_NEXT, 3};
	*gdesc(DESC_OFF, 3) = (struct ctn_vring_desc){GPA_BASE + BUF_OFF + 100, 5, 0, 0};
	offer(0);
	struct ctn_vbuf iov[8];
	uint16_t head;
	uint32_t total;
	CHECK(ctn_virtq_avail(vq) == 1);
	CHECK(ctn_virtq_pop(vq, &d.mem, false, iov, 8, &head, &total) == 2);
	CHECK(head == 0 && total == 12 && iov[0].len == 7 && memcmp(iov[1].p, "world", 5) == 0);
	ctn_virtq_push(vq, head, 0);
	ctn_virtq_flush(vq);
	struct ctn_vring_used *used = (void *)(guest + USED_OFF);
	CHECK(used->idx == 1 && used->ring[0].id == 0);
	/* An indirect table of two descriptors. */
	*gdesc(0x3000, 0) = (struct ctn_vring_desc){GPA_BASE + BUF_OFF, 4, CTN_VRING_DESC_F_NEXT, 1};
	*gdesc(0x3000, 1) = (struct ctn_vring_desc){GPA_BASE + BUF_OFF + 100, 3, 0, 0};
	*gdesc(DESC_OFF, 5) = (struct ctn_vring_desc){GPA_BASE + 0x3000, 32, CTN_VRING_DESC_F_INDIRECT, 0};
	offer(5);
	CHECK(ctn_virtq_pop(vq, &d.mem, false, iov, 8, &head, &total) == 2);
	CHECK(head == 5 && total == 7);
	ctn_virtq_push(vq, head, 0);
	ctn_virtq_flush(vq);
	/* Stopping the ring answers where it stopped. */
	struct ctn_vhost_msg r;
	bool a;
	uint32_t st[2] = {1, 0};
	CHECK(msg(&d, CTN_VHOST_GET_VRING_BASE, 0, st, 8, NULL, 0, &r, &a) == CTN_VHOST_OK);
	CHECK(a && r.payload.state.index == 1 && r.payload.state.num == 2);
	CHECK(!ctn_virtq_ready(vq) && vq->kickfd == -1);
	ctn_vhost_reset(&d);
}

/** A frontend that reconnects to a new backend with base 0 while its rings
 *  moved on (DPDK virtio_user in server mode): the queue resumes where the
 *  used ring says, before or after the ring addresses come. */
static void test_reconnect_base(void)
{
	for (int base_first = 0; base_first < 2; base_first++) {
		struct ctn_vhost_dev d;
		clear_rings();
		setup(&d, 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1));
		ctn_vhost_reset(&d);
		/* The old backend used 13 chains; the driver offered 13 and then 1 more. */
		struct ctn_vring_used *used = (void *)(guest + USED_OFF);
		struct ctn_vring_avail *av = (void *)(guest + AVAIL_OFF);
		used->idx = 13;
		av->idx = 13;
		*gdesc(DESC_OFF, 2) = (struct ctn_vring_desc){GPA_BASE + BUF_OFF, 7, 0, 0};
		offer(2);
		ctn_vhost_init(&d);
		uint64_t features = CTN_BIT(CTN_VIRTIO_F_VERSION_1);
		CHECK(simple(&d, CTN_VHOST_SET_FEATURES, &features, 8) == CTN_VHOST_OK);
		struct {
			uint32_t n, pad;
			struct ctn_vmem_desc r[1];
		} mt = {1, 0, {{GPA_BASE, MEM_SIZE, UVA_BASE, 0}}};
		int fd = dup(memfd);
		struct ctn_vhost_msg r;
		bool a;
		CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, &fd, 1, &r, &a) == CTN_VHOST_OK);
		close(fd);
		uint32_t num[2] = {1, QSZ};
		CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, num, 8) == CTN_VHOST_OK);
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr = {1, 0, UVA_BASE + DESC_OFF, UVA_BASE + USED_OFF, UVA_BASE + AVAIL_OFF, 0};
		uint32_t base[2] = {1, 0};
		if (base_first)
			CHECK(simple(&d, CTN_VHOST_SET_VRING_BASE, base, 8) == CTN_VHOST_OK);
		CHECK(simple(&d, CTN_VHOST_SET_VRING_ADDR, &addr, 40) == CTN_VHOST_OK);
		if (!base_first)
			CHECK(simple(&d, CTN_VHOST_SET_VRING_BASE, base, 8) == CTN_VHOST_OK);
		struct ctn_virtq *vq = &d.vq[1];
		CHECK(vq->last_avail == 13);
		d.vq[1].enabled = true;
		CHECK(ctn_virtq_avail(vq) == 1);
		struct ctn_vbuf iov[4];
		uint16_t head;
		uint32_t total;
		CHECK(ctn_virtq_pop(vq, &d.mem, false, iov, 4, &head, &total) == 1);
		CHECK(head == 2 && total == 7);
		ctn_vhost_reset(&d);
	}
}

/** What a hostile guest can offer: each breaks the queue with a reason. */
static void test_hostile(void)
{
	struct {
		const char *what;
		struct ctn_vring_desc d0, d1;
		bool writable;
		const char *reason;
	} cases[] = {
		{"loop", {GPA_BASE + BUF_OFF, 8, CTN_VRING_DESC_F_NEXT, 1}, {GPA_BASE + BUF_OFF, 8, CTN_VRING_DESC_F_NEXT, 0}, false, "looped"},
		{"outside", {GPA_BASE + MEM_SIZE - 4, 8, 0, 0}, {0}, false, "outside guest memory"},
		{"below", {0x1000, 8, 0, 0}, {0}, false, "outside guest memory"},
		{"direction", {GPA_BASE + BUF_OFF, 8, 0, 0}, {0}, true, "read-only descriptor"},
		{"next out", {GPA_BASE + BUF_OFF, 8, CTN_VRING_DESC_F_NEXT, 99}, {0}, false, "next 99"},
		{"indirect+next", {GPA_BASE + 0x3000, 32, CTN_VRING_DESC_F_INDIRECT | CTN_VRING_DESC_F_NEXT, 1}, {0}, false, "bad indirect"},
		{"indirect outside", {GPA_BASE + MEM_SIZE - 16, 32, CTN_VRING_DESC_F_INDIRECT, 0}, {0}, false, "indirect table"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct ctn_vhost_dev d;
		clear_rings();
		setup(&d, cases[c].writable ? 0 : 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1) | CTN_BIT(CTN_VIRTIO_F_RING_INDIRECT_DESC));
		struct ctn_virtq *vq = &d.vq[cases[c].writable ? 0 : 1];
		*gdesc(DESC_OFF, 0) = cases[c].d0;
		*gdesc(DESC_OFF, 1) = cases[c].d1;
		offer(0);
		struct ctn_vbuf iov[8];
		uint16_t head;
		uint32_t total;
		int n = ctn_virtq_pop(vq, &d.mem, cases[c].writable, iov, 8, &head, &total);
		CHECK(n == -1);
		if (!strstr(vq->broken, cases[c].reason))
			fprintf(stderr, "case %s: reason \"%s\"\n", cases[c].what, vq->broken);
		CHECK(strstr(vq->broken, cases[c].reason) != NULL);
		CHECK(!ctn_virtq_ready(vq));
		ctn_vhost_reset(&d);
	}
	/* A ring size raised after the rings were mapped (the fuzzer's find): the
	 * rings are checked again, and rings that no longer fit are unmapped, so
	 * nothing reaches past them, not even the notification fields. */
	{
		struct ctn_vhost_dev d;
		clear_rings();
		setup(&d, 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1) | CTN_BIT(CTN_VIRTIO_F_RING_EVENT_IDX));
		/* Memory just large enough for the rings of QSZ entries. */
		struct {
			uint32_t n, pad;
			struct ctn_vmem_desc r[1];
		} small = {1, 0, {{GPA_BASE, 0x3000, UVA_BASE, 0}}};
		int fd = dup(memfd);
		struct ctn_vhost_msg rr;
		bool aa;
		CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &small, 8 + 32, &fd, 1, &rr, &aa) == CTN_VHOST_OK);
		close(fd);
		CHECK(ctn_virtq_ready(&d.vq[1]));
		uint32_t bigger[2] = {1, CTN_VIRTQ_MAX};
		CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, bigger, 8) == CTN_VHOST_FATAL);
		CHECK(d.vq[1].used == NULL && d.vq[1].avail == NULL && d.vq[1].desc == NULL);
		CHECK(!ctn_virtq_notify(&d.vq[1], true));
		CHECK(ctn_virtq_avail(&d.vq[1]) == 0);
		ctn_vhost_reset(&d);
		/* A smaller size is fine: the rings still fit. */
		clear_rings();
		setup(&d, 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1));
		uint32_t smaller[2] = {1, QSZ / 2};
		CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, smaller, 8) == CTN_VHOST_OK);
		CHECK(ctn_virtq_ready(&d.vq[1]));
		ctn_vhost_reset(&d);
	}
	/* The available index jumping past the ring breaks the queue too. */
	struct ctn_vhost_dev d;
	clear_rings();
	setup(&d, 1, CTN_BIT(CTN_VIRTIO_F_VERSION_1));
	struct ctn_vring_avail *av = (void *)(guest + AVAIL_OFF);
	av->idx = QSZ + 1;
	CHECK(ctn_virtq_avail(&d.vq[1]) == 0);
	CHECK(strstr(d.vq[1].broken, "available index") != NULL);
	ctn_vhost_reset(&d);
}

/** Read the @n pieces of @iov under a guard for @mem, as the ports copy
 *  (twice over: a second fault must be caught as well as the first). Returns
 *  the bytes' sum, or -1 when guest memory faulted. */
static __attribute__((noinline)) long guarded_sum(const struct ctn_vmem *mem, const struct ctn_vbuf *iov, int n)
{
	struct ctn_vguard g;
	if (sigsetjmp(g.env, 0))
		return -1;
	ctn_vguard_on(&g, mem);
	long sum = 0;
	for (int i = 0; i < n; i++)
		for (uint32_t j = 0; j < iov[i].len; j++)
			sum += ((volatile uint8_t *)iov[i].p)[j];
	ctn_vguard_off(&g);
	return sum;
}

/** A frontend that shrinks its memory: the guard turns the SIGBUS into a
 *  reason, every time; a sealed memfd cannot shrink and needs no guard; a
 *  SIGBUS outside guest memory still kills as before. */
static void test_shrink(void)
{
	const size_t size = 0x10000;
	struct {
		uint32_t n, pad;
		struct ctn_vmem_desc r[1];
	} mt = {1, 0, {{GPA_BASE, size, UVA_BASE, 0}}};
	struct ctn_vhost_msg r;
	bool a;
	/* Unsealed: rings in the first pages, a buffer at 0x8000. */
	int mem = memfd_create("shrink", MFD_ALLOW_SEALING);
	CHECK(mem >= 0 && ftruncate(mem, (off_t)size) == 0);
	uint8_t *gm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0);
	CHECK(gm != MAP_FAILED);
	struct ctn_vhost_dev d;
	ctn_vhost_init(&d);
	uint64_t f = CTN_BIT(CTN_VIRTIO_F_VERSION_1);
	CHECK(simple(&d, CTN_VHOST_SET_FEATURES, &f, 8) == CTN_VHOST_OK);
	int fd = dup(mem);
	CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, &fd, 1, &r, &a) == CTN_VHOST_OK);
	close(fd);
	CHECK(!d.mem.sealed);
	uint32_t num[2] = {1, QSZ};
	CHECK(simple(&d, CTN_VHOST_SET_VRING_NUM, num, 8) == CTN_VHOST_OK);
	struct {
		uint32_t index, flags;
		uint64_t desc, used, avail, log;
	} addr = {1, 0, UVA_BASE + DESC_OFF, UVA_BASE + USED_OFF, UVA_BASE + AVAIL_OFF, 0};
	CHECK(simple(&d, CTN_VHOST_SET_VRING_ADDR, &addr, 40) == CTN_VHOST_OK);
	d.vq[1].enabled = true;
	((struct ctn_vring_desc *)gm)[0] = (struct ctn_vring_desc){GPA_BASE + 0x8000, 64, 0, 0};
	struct ctn_vring_avail *av = (void *)(gm + AVAIL_OFF);
	av->ring[0] = 0;
	av->idx = 1;
	struct ctn_vbuf iov[4];
	uint16_t head;
	uint32_t total;
	CHECK(ctn_virtq_pop(&d.vq[1], &d.mem, false, iov, 4, &head, &total) == 1);
	CHECK(guarded_sum(&d.mem, iov, 1) == 0);
	/* The frontend cuts its memory to the rings: the buffer is gone. */
	CHECK(ftruncate(mem, 0x4000) == 0);
	CHECK(guarded_sum(&d.mem, iov, 1) == -1);
	char why[160];
	ctn_vguard_reason(&d.mem, why, sizeof(why));
	CHECK(strstr(why, "shrank under us: SIGBUS at offset 0x8000 of region 0") != NULL);
	CHECK(guarded_sum(&d.mem, iov, 1) == -1); /* SIGBUS is not left blocked */
	CHECK(ctn_vguard_cur == NULL);
	/* And to nothing: the control path reads the used index (at 0x2002) when rings are
	 * given, under its own guard. */
	CHECK(ftruncate(mem, 0) == 0);
	CHECK(simple(&d, CTN_VHOST_SET_VRING_ADDR, &addr, 40) == CTN_VHOST_FATAL);
	if (!strstr(d.err, "shrank under us: SIGBUS at offset 0x2002"))
		fprintf(stderr, "control path: \"%s\"\n", d.err);
	CHECK(strstr(d.err, "shrank under us: SIGBUS at offset 0x2002") != NULL);
	ctn_vhost_reset(&d);
	/* Sealed against shrinking: the table says so, and the frontend cannot. */
	CHECK(ftruncate(mem, (off_t)size) == 0);
	CHECK(fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
	ctn_vhost_init(&d);
	fd = dup(mem);
	CHECK(msg(&d, CTN_VHOST_SET_MEM_TABLE, 0, &mt, 8 + 32, &fd, 1, &r, &a) == CTN_VHOST_OK);
	close(fd);
	CHECK(d.mem.sealed && d.mem.r[0].sealed);
	CHECK(ftruncate(mem, 0x4000) < 0);
	ctn_vhost_reset(&d);
	munmap(gm, size);
	close(mem);
	/* A SIGBUS that is not in guarded guest memory kills as before (in a child). */
	pid_t pid = fork();
	if (pid == 0) {
		int m2 = memfd_create("other", 0);
		if (m2 < 0 || ftruncate(m2, 8192) < 0)
			_exit(2);
		volatile uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m2, 0);
		if (ftruncate(m2, 0) < 0)
			_exit(2);
		(void)p[4096];
		_exit(0);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
}

int main(void)
{
	memfd = memfd_create("guest", 0);
	if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0)
		return 2;
	guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (guest == MAP_FAILED)
		return 2;
	RUN(test_negotiation);
	RUN(test_mem_table);
	RUN(test_chains);
	RUN(test_hostile);
	RUN(test_reconnect_base);
	RUN(test_shrink);
	return unit_report("vhost");
}
