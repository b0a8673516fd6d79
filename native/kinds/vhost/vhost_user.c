/* vhost_user.c - vhost-user messages carried out on a device's state.
 *
 * One handler per request, in a table with the payload size it needs and
 * whether it always answers; ctn_vhost_handle() checks the header against the
 * table, calls the handler, and adds the REPLY_ACK answer in one place.
 */
#include "vhost_user.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vhost_guard.h"

const uint64_t ctn_vhost_features =
	CTN_BIT(CTN_VIRTIO_F_VERSION_1) | CTN_BIT(CTN_VIRTIO_NET_F_MRG_RXBUF) | CTN_BIT(CTN_VIRTIO_NET_F_CSUM) |
	CTN_BIT(CTN_VIRTIO_NET_F_GUEST_CSUM) | CTN_BIT(CTN_VIRTIO_NET_F_HOST_TSO4) |
	CTN_BIT(CTN_VIRTIO_NET_F_HOST_TSO6) | CTN_BIT(CTN_VIRTIO_NET_F_HOST_ECN) |
	CTN_BIT(CTN_VIRTIO_NET_F_GUEST_TSO4) | CTN_BIT(CTN_VIRTIO_NET_F_GUEST_TSO6) |
	CTN_BIT(CTN_VIRTIO_NET_F_GUEST_ECN) | CTN_BIT(CTN_VIRTIO_F_RING_INDIRECT_DESC) |
	CTN_BIT(CTN_VIRTIO_F_RING_EVENT_IDX) | CTN_BIT(CTN_VIRTIO_NET_F_MQ) | CTN_BIT(CTN_VHOST_F_PROTOCOL_FEATURES);

/** Protocol features this backend offers. */
static const uint64_t proto_features = CTN_BIT(CTN_VHOST_PROTO_F_MQ) | CTN_BIT(CTN_VHOST_PROTO_F_REPLY_ACK);

/** Fill d->err; returns @r for tail calls. */
static enum ctn_vhost_result say(struct ctn_vhost_dev *d, enum ctn_vhost_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum ctn_vhost_result say(struct ctn_vhost_dev *d, enum ctn_vhost_result r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return r;
}

/** Close *@fd if open and mark it closed. */
static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void ctn_vhost_init(struct ctn_vhost_dev *d)
{
	ctn_vguard_install(); /* before any memory table can be mapped */
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < CTN_VHOST_MAX_VQ; i++)
		d->vq[i].kickfd = d->vq[i].callfd = -1;
	d->hdr_len = 10;
}

void ctn_vhost_reset(struct ctn_vhost_dev *d)
{
	for (int i = 0; i < CTN_VHOST_MAX_VQ; i++) {
		close_fd(&d->vq[i].kickfd);
		close_fd(&d->vq[i].callfd);
	}
	ctn_vmem_clear(&d->mem);
	ctn_vhost_init(d);
}

/** A handler: carry out @m; put an answer in @r when the request has one. */
typedef enum ctn_vhost_result (*handler_fn)(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					    int nfds, struct ctn_vhost_msg *r);

/** The queue a state/addr/fd payload names, or NULL (d->err set). */
static struct ctn_virtq *queue(struct ctn_vhost_dev *d, uint32_t index)
{
	if (index >= CTN_VHOST_MAX_VQ) {
		say(d, CTN_VHOST_FATAL, "queue %u does not exist (%d queues)", index, CTN_VHOST_MAX_VQ);
		return NULL;
	}
	return &d->vq[index];
}

/**
 * Check the base a frontend gave against its used ring, once both are known.
 * A frontend that reconnects to a new backend (DPDK virtio_user in server
 * mode, after the daemon restarted) gives base 0 while its rings have moved
 * on: the used ring says where the old backend stopped, so resume there, as
 * DPDK's own vhost library does. Chains the old backend took and never
 * returned are lost (a net device tolerates it).
 */
static void resume_where_used(struct ctn_virtq *vq)
{
	if (!vq->base_given || !vq->used)
		return;
	vq->base_given = false;
	if (vq->last_avail != vq->used_idx)
		vq->last_avail = vq->used_idx;
}

/** Map @vq's rings if it has addresses and the memory table is there. */
static enum ctn_vhost_result map_queue(struct ctn_vhost_dev *d, struct ctn_virtq *vq)
{
	if (!vq->desc_uva || !d->mem.n)
		return CTN_VHOST_OK;
	if (ctn_virtq_map(vq, &d->mem) < 0)
		return say(d, CTN_VHOST_FATAL, "queue %ld: %s", (long)(vq - d->vq), vq->broken);
	vq->used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	resume_where_used(vq);
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result get_features(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					  int nfds, struct ctn_vhost_msg *r)
{
	(void)d, (void)m, (void)fds, (void)nfds;
	r->payload.u64 = ctn_vhost_features;
	r->size = 8;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_features(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					  int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	uint64_t f = m->payload.u64;
	if (f & ~ctn_vhost_features)
		return say(d, CTN_VHOST_FATAL, "features %#llx were never offered",
			   (unsigned long long)(f & ~ctn_vhost_features));
	d->features = f;
	d->hdr_len = (ctn_vhost_has(d, CTN_VIRTIO_F_VERSION_1) || ctn_vhost_has(d, CTN_VIRTIO_NET_F_MRG_RXBUF)) ? 12 : 10;
	for (int i = 0; i < CTN_VHOST_MAX_VQ; i++)
		d->vq[i].event_idx = ctn_vhost_has(d, CTN_VIRTIO_F_RING_EVENT_IDX);
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_owner(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
				       int nfds, struct ctn_vhost_msg *r)
{
	(void)d, (void)m, (void)fds, (void)nfds, (void)r;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result reset_owner(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					 int nfds, struct ctn_vhost_msg *r)
{
	(void)m, (void)fds, (void)nfds, (void)r;
	ctn_vhost_reset(d);
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_mem_table(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					   int nfds, struct ctn_vhost_msg *r)
{
	(void)r;
	uint32_t n = m->payload.mem.nregions;
	if (n == 0 || n > CTN_VMEM_MAX_REGIONS)
		return say(d, CTN_VHOST_FATAL, "memory table of %u regions (1 to %d)", n, CTN_VMEM_MAX_REGIONS);
	if (m->size < 8 + n * sizeof(struct ctn_vmem_desc))
		return say(d, CTN_VHOST_FATAL, "memory table of %u regions in %u bytes", n, m->size);
	if ((int)n != nfds)
		return say(d, CTN_VHOST_FATAL, "memory table of %u regions came with %d fds", n, nfds);
	char err[128];
	struct ctn_vmem_desc regions[CTN_VMEM_MAX_REGIONS];
	memcpy(regions, (const uint8_t *)m + CTN_VHOST_HDR_SIZE + 8, n * sizeof(regions[0]));
	if (ctn_vmem_set(&d->mem, regions, fds, n, err, sizeof(err)) < 0) {
		for (int i = 0; i < CTN_VHOST_MAX_VQ; i++)
			ctn_virtq_stop(&d->vq[i]);
		return say(d, CTN_VHOST_FATAL, "%s", err);
	}
	/* The mappings hold the memory; the fds are not needed (the caller closes). */
	for (int i = 0; i < CTN_VHOST_MAX_VQ; i++) {
		enum ctn_vhost_result rc = map_queue(d, &d->vq[i]);
		if (rc != CTN_VHOST_OK)
			return rc;
	}
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_vring_num(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					   int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	struct ctn_virtq *vq = queue(d, m->payload.state.index);
	if (!vq)
		return CTN_VHOST_FATAL;
	uint32_t n = m->payload.state.num;
	if (n == 0 || n > CTN_VIRTQ_MAX || (n & (n - 1)))
		return say(d, CTN_VHOST_FATAL, "ring size %u is not a power of two up to %d", n, CTN_VIRTQ_MAX);
	vq->num = n;
	/* Rings already mapped were checked against the old size: a larger one
	 * would reach past them (found by the fuzzer). Check them again. */
	return map_queue(d, vq);
}

static enum ctn_vhost_result set_vring_addr(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					    int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	struct ctn_virtq *vq = queue(d, m->payload.addr.index);
	if (!vq)
		return CTN_VHOST_FATAL;
	vq->desc_uva = m->payload.addr.desc;
	vq->avail_uva = m->payload.addr.avail;
	vq->used_uva = m->payload.addr.used;
	vq->broken[0] = 0;
	return map_queue(d, vq);
}

static enum ctn_vhost_result set_vring_base(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					    int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	struct ctn_virtq *vq = queue(d, m->payload.state.index);
	if (!vq)
		return CTN_VHOST_FATAL;
	vq->last_avail = (uint16_t)m->payload.state.num;
	vq->base_given = true;
	resume_where_used(vq); /* the rings may be there already */
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result get_vring_base(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					    int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds;
	struct ctn_virtq *vq = queue(d, m->payload.state.index);
	if (!vq)
		return CTN_VHOST_FATAL;
	/* The ring stops: whatever was taken has been used (we never hold chains
	 * across loop passes), so the next avail index is where to resume. */
	r->payload.state.index = m->payload.state.index;
	r->payload.state.num = vq->last_avail;
	r->size = 8;
	ctn_virtq_stop(vq);
	vq->enabled = false;
	close_fd(&vq->kickfd);
	close_fd(&vq->callfd);
	vq->desc_uva = 0;
	return CTN_VHOST_OK;
}

/** SET_VRING_KICK / CALL / ERR: the fd, or none, for the queue in the payload. */
static enum ctn_vhost_result set_vring_fd(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					  int nfds, struct ctn_vhost_msg *r)
{
	(void)r;
	uint64_t v = m->payload.u64;
	struct ctn_virtq *vq = queue(d, (uint32_t)(v & 0xff));
	if (!vq)
		return CTN_VHOST_FATAL;
	bool nofd = v & CTN_VHOST_VRING_NOFD;
	if (nfds != (nofd ? 0 : 1))
		return say(d, CTN_VHOST_FATAL, "%s for queue %u came with %d fds", ctn_vhost_req_name(m->request),
			   (unsigned)(v & 0xff), nfds);
	if (nofd && m->request == CTN_VHOST_SET_VRING_KICK)
		return say(d, CTN_VHOST_REFUSED, "polled queues (no kick fd) are not supported");
	int fd = nofd ? -1 : fds[0];
	if (!nofd)
		fds[0] = -1;
	switch (m->request) {
	case CTN_VHOST_SET_VRING_KICK:
		close_fd(&vq->kickfd);
		vq->kickfd = fd;
		/* Without protocol features a ring runs once it has its kick fd. */
		if (!ctn_vhost_has(d, CTN_VHOST_F_PROTOCOL_FEATURES))
			vq->enabled = true;
		return map_queue(d, vq);
	case CTN_VHOST_SET_VRING_CALL:
		close_fd(&vq->callfd);
		vq->callfd = fd;
		vq->signalled_valid = false;
		return CTN_VHOST_OK;
	default: /* SET_VRING_ERR: we never report errors through it */
		if (fd >= 0)
			close(fd);
		return CTN_VHOST_OK;
	}
}

static enum ctn_vhost_result get_protocol_features(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m,
						   int *fds, int nfds, struct ctn_vhost_msg *r)
{
	(void)d, (void)m, (void)fds, (void)nfds;
	r->payload.u64 = proto_features;
	r->size = 8;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_protocol_features(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m,
						   int *fds, int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	if (m->payload.u64 & ~proto_features)
		return say(d, CTN_VHOST_FATAL, "protocol features %#llx were never offered",
			   (unsigned long long)(m->payload.u64 & ~proto_features));
	d->protocol_features = m->payload.u64;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result get_queue_num(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					   int nfds, struct ctn_vhost_msg *r)
{
	(void)d, (void)m, (void)fds, (void)nfds;
	r->payload.u64 = CTN_VHOST_MAX_QP;
	r->size = 8;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result set_vring_enable(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
					      int nfds, struct ctn_vhost_msg *r)
{
	(void)fds, (void)nfds, (void)r;
	struct ctn_virtq *vq = queue(d, m->payload.state.index);
	if (!vq)
		return CTN_VHOST_FATAL;
	vq->enabled = m->payload.state.num != 0;
	return CTN_VHOST_OK;
}

static enum ctn_vhost_result ignore(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds, int nfds,
				    struct ctn_vhost_msg *r)
{
	(void)d, (void)m, (void)fds, (void)nfds, (void)r;
	return CTN_VHOST_OK;
}

/** How each request is handled. */
struct req_def {
	const char *name;  /**< for logs */
	handler_fn fn;     /**< NULL: not supported */
	uint32_t size;     /**< payload bytes needed (at least) */
	bool answers;      /**< always sends a reply */
};

static const struct req_def reqs[CTN_VHOST_REQ_MAX] = {
	[CTN_VHOST_GET_FEATURES] = {"GET_FEATURES", get_features, 0, true},
	[CTN_VHOST_SET_FEATURES] = {"SET_FEATURES", set_features, 8, false},
	[CTN_VHOST_SET_OWNER] = {"SET_OWNER", set_owner, 0, false},
	[CTN_VHOST_RESET_OWNER] = {"RESET_OWNER", reset_owner, 0, false},
	[CTN_VHOST_SET_MEM_TABLE] = {"SET_MEM_TABLE", set_mem_table, 8, false},
	[CTN_VHOST_SET_LOG_BASE] = {"SET_LOG_BASE", NULL, 0, false},
	[CTN_VHOST_SET_LOG_FD] = {"SET_LOG_FD", NULL, 0, false},
	[CTN_VHOST_SET_VRING_NUM] = {"SET_VRING_NUM", set_vring_num, 8, false},
	[CTN_VHOST_SET_VRING_ADDR] = {"SET_VRING_ADDR", set_vring_addr, 40, false},
	[CTN_VHOST_SET_VRING_BASE] = {"SET_VRING_BASE", set_vring_base, 8, false},
	[CTN_VHOST_GET_VRING_BASE] = {"GET_VRING_BASE", get_vring_base, 8, true},
	[CTN_VHOST_SET_VRING_KICK] = {"SET_VRING_KICK", set_vring_fd, 8, false},
	[CTN_VHOST_SET_VRING_CALL] = {"SET_VRING_CALL", set_vring_fd, 8, false},
	[CTN_VHOST_SET_VRING_ERR] = {"SET_VRING_ERR", set_vring_fd, 8, false},
	[CTN_VHOST_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES", get_protocol_features, 0, true},
	[CTN_VHOST_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES", set_protocol_features, 8, false},
	[CTN_VHOST_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", get_queue_num, 0, true},
	[CTN_VHOST_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", set_vring_enable, 8, false},
	[CTN_VHOST_SEND_RARP] = {"SEND_RARP", ignore, 8, false},
};

const char *ctn_vhost_req_name(uint32_t r)
{
	return r < CTN_VHOST_REQ_MAX && reqs[r].name ? reqs[r].name : "unknown request";
}

enum ctn_vhost_result ctn_vhost_handle(struct ctn_vhost_dev *d, const struct ctn_vhost_msg *m, int *fds,
				       int nfds, struct ctn_vhost_msg *reply, bool *send_reply)
{
	d->err[0] = 0;
	*send_reply = false;
	memset(reply, 0, CTN_VHOST_HDR_SIZE + 8);
	reply->request = m->request;
	reply->flags = CTN_VHOST_VERSION | CTN_VHOST_F_REPLY;
	if ((m->flags & 3) != CTN_VHOST_VERSION)
		return say(d, CTN_VHOST_FATAL, "protocol version %u (only 1 is known)", m->flags & 3);
	if (m->size > sizeof(m->payload))
		return say(d, CTN_VHOST_FATAL, "payload of %u bytes (at most %zu)", m->size, sizeof(m->payload));
	const struct req_def *def = m->request < CTN_VHOST_REQ_MAX ? &reqs[m->request] : NULL;
	bool ack = (m->flags & CTN_VHOST_F_NEED_REPLY) &&
		   (d->protocol_features & CTN_BIT(CTN_VHOST_PROTO_F_REPLY_ACK));
	enum ctn_vhost_result rc;
	if (!def || !def->fn) {
		rc = say(d, CTN_VHOST_REFUSED, "%s (%u) is not supported", ctn_vhost_req_name(m->request), m->request);
	} else if (m->size < def->size) {
		return say(d, CTN_VHOST_FATAL, "%s with %u bytes of payload (needs %u)", def->name, m->size, def->size);
	} else {
		/* Handlers read rings (map_queue reads the used index): a frontend
		 * that shrank its memory since it was mapped gets a SIGBUS there. */
		struct ctn_vguard g;
		if (sigsetjmp(g.env, 0)) {
			char why[sizeof(d->err)];
			return say(d, CTN_VHOST_FATAL, "%s", ctn_vguard_reason(&d->mem, why, sizeof(why)));
		}
		ctn_vguard_on(&g, &d->mem);
		rc = def->fn(d, m, fds, nfds, reply);
		ctn_vguard_off(&g);
		if (def->answers) {
			*send_reply = rc != CTN_VHOST_FATAL;
			return rc;
		}
	}
	if (ack && rc != CTN_VHOST_FATAL) {
		reply->payload.u64 = rc == CTN_VHOST_OK ? 0 : 1;
		reply->size = 8;
		*send_reply = true;
	}
	return rc;
}
