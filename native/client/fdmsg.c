/* fdmsg.c - send one request with an fd over a unix socket, read the reply. */
#include "fdmsg.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

long ctn_json_span(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '{' && buf[i] != '[')
		return -1;
	int depth = 0;
	bool str = false, esc = false;
	for (; i < len; i++) {
		char ch = buf[i];
		if (str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				return (long)(i + 1);
		}
	}
	return 0;
}

/** Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long ctn_fdmsg_request(const char *path, const char *json, size_t len, const int *fds, int nfds, char *reply,
		       size_t cap, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (nfds < 0 || nfds > CTN_FDMSG_MAX_FDS) {
		snprintf(err, errlen, "at most %d fds per request", CTN_FDMSG_MAX_FDS);
		return -1;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int er = errno;
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(er));
		close(s);
		errno = er; /* the caller may try again (ECONNREFUSED) or not (ENOENT) */
		return -1;
	}
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * CTN_FDMSG_MAX_FDS)];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)json, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	/* One sendmsg, as the original clients do; a short write of a large
	 * request is finished with plain sends (the fd went with the first). */
	size_t sent = 0;
	while (sent < len) {
		ssize_t n = sent == 0 ? sendmsg(s, &mh, MSG_NOSIGNAL)
				      : send(s, json + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* A daemon that refuses us says why before it hangs up: read
			 * that answer rather than report the broken pipe. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			snprintf(err, errlen, "send to %s: %s", path, strerror(errno));
			close(s);
			return -1;
		}
		sent += (size_t)n;
	}
	size_t got = 0;
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long span = ctn_json_span(reply, got);
		if (span > 0) {
			got = (size_t)span;
			break;
		}
		if (span < 0) {
			snprintf(err, errlen, "reply from %s is not JSON", path);
			close(s);
			return -1;
		}
		if (got + 1 >= cap) {
			snprintf(err, errlen, "reply from %s longer than %zu bytes", path, cap - 1);
			close(s);
			return -1;
		}
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			snprintf(err, errlen, "no reply from %s within %d ms", path, timeout_ms);
			close(s);
			return -1;
		}
		ssize_t n = recv(s, reply + got, cap - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s closed the connection without a complete reply", path);
			close(s);
			return -1;
		}
		got += (size_t)n;
	}
	reply[got] = 0;
	close(s);
	return (long)got;
}
