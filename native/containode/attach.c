/* attach.c - eth0 on the switch, and waiting for a busy daemon (see attach.h). */
#include "attach.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fdmsg.h"
#include "json.h"
#include "tapdev.h"

/** Largest request and reply handled (requests are a few hundred bytes). */
#define REQUEST_MAX 4096
#define REPLY_MAX 4096
/** Shortest wait for a reply, even at the deadline, in milliseconds. */
#define REPLY_WAIT_MIN_MS 1000

/** The reply of a daemon whose control connections are all taken (native/core/ctl.c). */
static const char busy_reply[] = "too many control connections";

/** Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** Sleep @ms milliseconds, through signals. */
static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/** A random number in [0, 1). */
static double random_unit(void)
{
	unsigned int r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (unsigned int)now_ms() * 2654435761u;
	return (double)r / 4294967296.0;
}

long cn_attach_timeout_ms(void)
{
	const char *v = getenv(CN_ATTACH_TIMEOUT_ENV);
	char *end;
	double s;
	if (v == NULL || *v == '\0')
		return CN_ATTACH_TIMEOUT_S * 1000L;
	s = strtod(v, &end);
	if (*end != '\0' || !(s > 0) || s > 86400)
		return CN_ATTACH_TIMEOUT_S * 1000L;
	return s * 1000 < 1 ? 1 : (long)(s * 1000);
}

long cn_retry_delay_ms(int attempt, double jitter)
{
	long d = CN_RETRY_FIRST_MS;
	for (int i = 0; i < attempt && d < CN_RETRY_MAX_MS; i++)
		d *= 2;
	if (d > CN_RETRY_MAX_MS)
		d = CN_RETRY_MAX_MS;
	return d / 2 + (long)(jitter * (double)(d - d / 2));
}

/**
 * Send @json (with @fd when >= 0) to @socket and read the reply, trying again
 * while the daemon is busy or not accepting yet, until @budget_ms from now;
 * @retry_refused says whether a refused connection is worth waiting for.
 * Returns 0 on a reply without an error (copied to @out, @outlen bytes, when
 * @out is not NULL); -2 when the daemon refused, its words in @err; -1 when it
 * could not be asked or its reply not read, with the reason in @err.
 */
static int request(const char *socket, const char *json, const int *fds, int nfds, long budget_ms,
		   bool retry_refused, char *out, size_t outlen, char *err, size_t errlen)
{
	long long start = now_ms(), deadline = start + budget_ms;
	char reply[REPLY_MAX], why[512];
	for (int attempt = 0;; attempt++) {
		long long left = deadline - now_ms();
		long wait = cn_retry_delay_ms(attempt, random_unit());
		bool again;
		/* The reply wait: what is left, but never so little that a busy daemon's answer is missed. */
		long long reply_ms = left > REPLY_WAIT_MIN_MS ? left : REPLY_WAIT_MIN_MS;
		long n = ctn_fdmsg_request(socket, json, strlen(json), fds, nfds, reply, sizeof reply,
					   (int)reply_ms, why, sizeof why);
		if (n < 0) {
			again = retry_refused && (errno == ECONNREFUSED || errno == EAGAIN);
		} else {
			int e = cn_json_reply_error(reply, why, sizeof why);
			if (e < 0) {
				snprintf(err, errlen, "the daemon at %s answered something that is not a JSON object", socket);
				return -1;
			}
			if (e == 0) {
				if (out != NULL)
					snprintf(out, outlen, "%s", reply);
				return 0;
			}
			again = strncmp(why, busy_reply, sizeof busy_reply - 1) == 0;
		}
		if (!again) {
			snprintf(err, errlen, "%s", why);
			return n < 0 ? -1 : -2;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			double s = (double)(now_ms() - start) / 1000;
			if (n < 0)
				snprintf(err, errlen, "%s (tried for %.1f s)", why, s);
			else
				snprintf(err, errlen, "the daemon at %s: %s (tried for %.1f s)", socket, why, s);
			return -1;
		}
		sleep_ms(wait < left ? wait : (long)left); /* the last try is at the deadline */
	}
}

/** Append @p's authtoken to request @j, if it has one. */
static void put_token(struct cn_json *j, const struct cn_port *p)
{
	if (p->authtoken != NULL) {
		cn_json_raw(j, ",\"authtoken\":");
		cn_json_str(j, p->authtoken);
	}
}

/**
 * Queues to give the tap: @p->queues when set, else one per worker thread of
 * the daemon (its `version` reply's "threads"), so each worker polls a queue
 * of its own. A daemon that does not say (the original containet) gets one.
 * Returns the count, or -1 with @err when the daemon cannot be reached.
 */
static int queues_wanted(const struct cn_port *p, char *err, size_t errlen)
{
	if (p->queues > 0)
		return p->queues;
	char json[REQUEST_MAX], reply[REPLY_MAX];
	struct cn_json j;
	cn_json_init(&j, json, sizeof json);
	cn_json_raw(&j, "{\"version\":{}");
	put_token(&j, p);
	cn_json_raw(&j, "}");
	if (j.overflow) {
		snprintf(err, errlen, "the version request is longer than %d bytes", REQUEST_MAX);
		return -1;
	}
	int rc = request(p->socket, json, NULL, 0, cn_attach_timeout_ms(), true, reply, sizeof reply, err, errlen);
	if (rc == -2)
		return 1; /* a daemon without the verb */
	if (rc < 0)
		return -1;
	long long threads = 1;
	if (cn_json_reply_int(reply, "threads", &threads) != 1 || threads < 1)
		return 1;
	return threads > CTN_TAP_MAX_QUEUES ? CTN_TAP_MAX_QUEUES : (int)threads;
}

int cn_attach(const struct cn_port *p, char *err, size_t errlen)
{
	char netns[64], json[REQUEST_MAX];
	struct cn_json j;
	snprintf(netns, sizeof netns, "/proc/%d/ns/net", (int)p->pid);
	struct ctn_tap_req req = {
		.netns = netns,
		.ifname = p->ifname,
		.vnet_hdr = true,
		.packet_info = false,
		.mtu = p->mtu,
		.ipv4 = p->ipv4,
		.prefix = p->prefix,
		.addrs = p->addrs,
		.n_addrs = p->n_addrs,
		.mac = p->mac,
		.up = true,
		.lo_up = true,
	};
	int fds[CTN_TAP_MAX_QUEUES];
	req.queues = queues_wanted(p, err, errlen);
	if (req.queues < 0)
		return -1;
	req.queue_fds = fds + 1;
	fds[0] = ctn_tap_create(&req, err, errlen);
	if (fds[0] < 0)
		return -1;
	int nfds = req.queues > 1 ? req.queues : 1;

	cn_json_init(&j, json, sizeof json);
	cn_json_raw(&j, "{\"add-etherfd\":{\"ifname\":");
	cn_json_str(&j, p->ifname);
	cn_json_raw(&j, ",\"nodeid\":");
	cn_json_str(&j, p->identity);
	cn_json_raw(&j, ",\"pid\":");
	cn_json_int(&j, p->pid);
	if (p->lan != NULL) {
		cn_json_raw(&j, ",\"lan\":");
		cn_json_str(&j, p->lan);
	}
	cn_json_raw(&j, "}");
	put_token(&j, p);
	cn_json_raw(&j, "}");
	int rc;
	if (j.overflow) {
		snprintf(err, errlen, "the add-etherfd request is longer than %d bytes", REQUEST_MAX);
		rc = -1;
	} else {
		rc = request(p->socket, json, fds, nfds, cn_attach_timeout_ms(), true, NULL, 0, err, errlen);
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]); /* the switch has its own copies now (or none, on error) */
	return rc;
}

void cn_detach(const struct cn_port *p)
{
	char json[REQUEST_MAX], err[512];
	struct cn_json j;
	cn_json_init(&j, json, sizeof json);
	cn_json_raw(&j, "{\"remove-etherfd\":{\"nodeid\":");
	cn_json_str(&j, p->identity);
	cn_json_raw(&j, ",\"ifname\":");
	cn_json_str(&j, p->ifname);
	cn_json_raw(&j, "}");
	put_token(&j, p);
	cn_json_raw(&j, "}");
	if (!j.overflow)
		(void)request(p->socket, json, NULL, 0, CN_DETACH_TIMEOUT_MS, false, NULL, 0, err, sizeof err);
}
