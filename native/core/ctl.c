/* ctl.c - the control socket's transport: accept, credentials, bytes and fds. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"

/** Slot of a connection id. */
static inline uint32_t conn_slot(uint32_t id) { return id & 0xffff; }

/** The live connection with id @id, or NULL. */
static struct ctn_ctl_conn *conn_get(struct ctn_ctl *c, uint32_t id)
{
	uint32_t s = conn_slot(id);
	if (s >= CTN_CTL_MAX_CONNS || !c->conns[s] || c->conns[s]->id != id)
		return NULL;
	return c->conns[s];
}

void ctn_ctl_init(struct ctn_ctl *c)
{
	*c = (struct ctn_ctl){.lfd = -1};
}

/** Fill @err; returns -1. */
static int ctl_fail(char *err, size_t errlen, const char *what, const char *path, int er)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(er));
	return -1;
}

/** Is something answering on the socket at @path? 1 yes, 0 no (stale), -1 error. */
static int socket_alive(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ctl_fail(err, errlen, "cannot inspect", path, errno);
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not replacing it", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ctl_fail(err, errlen, "socket for", path, errno);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int er = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "a daemon is already listening on %s", path);
		return 1;
	}
	if (er == ECONNREFUSED)
		return 0; /* nobody home: a stale file */
	return ctl_fail(err, errlen, "cannot probe", path, er);
}

int ctn_ctl_listen(struct ctn_ctl *c, struct ctn_engine *e, const char *path, char *err, size_t errlen)
{
	if (c->lfd >= 0) {
		snprintf(err, errlen, "already listening on %s", c->path);
		return -1;
	}
	size_t plen = strlen(path);
	if (plen == 0 || plen + 16 >= sizeof(c->path)) {
		snprintf(err, errlen, "socket path must be 1 to %zu bytes long", sizeof(c->path) - 17);
		return -1;
	}
	int alive = socket_alive(path, err, errlen);
	if (alive != 0)
		return -1;
	if (!c->rbuf && !(c->rbuf = malloc(CTN_CTL_READ_MAX))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Bind under a temporary name, make it owner-only, then rename it into
	 * place: no moment exists where the socket is reachable with looser
	 * permissions, and a stale file is replaced atomically. */
	char tmp[sizeof(c->path)];
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ctl_fail(err, errlen, "socket for", path, errno);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, tmp, strlen(tmp) + 1);
	unlink(tmp);
	struct stat st;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int er = errno;
		close(fd);
		return ctl_fail(err, errlen, "cannot bind", tmp, er);
	}
	if (chmod(tmp, 0600) < 0 || listen(fd, SOMAXCONN) < 0 || rename(tmp, path) < 0 || stat(path, &st) < 0) {
		int er = errno;
		close(fd);
		unlink(tmp);
		return ctl_fail(err, errlen, "cannot set up", path, er);
	}
	if (ctn_engine_watch(e, fd, EPOLLIN, CTN_FD_CTL_LISTEN, 0) < 0) {
		int er = errno;
		close(fd);
		unlink(path);
		return ctl_fail(err, errlen, "epoll for", path, er);
	}
	c->lfd = fd;
	memcpy(c->path, path, plen + 1);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return 0;
}

/** The lowest free connection slot, or CTN_CTL_MAX_CONNS when all are taken. */
static uint32_t free_slot(const struct ctn_ctl *c)
{
	uint32_t slot = 0;
	while (slot < CTN_CTL_MAX_CONNS && c->conns[slot])
		slot++;
	return slot;
}

/** Tell a client it is refused (best effort, never blocks) and close it. */
static void refuse(int fd, const char *reason)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "{\"error\":\"%s\"}", reason);

	if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing more to do: the client is gone or not reading */
	}
	close(fd);
}

void ctn_ctl_on_listen(struct ctn_ctl *c, struct ctn_engine *e)
{
	for (;;) {
		if (c->nconns >= CTN_CTL_MAX_CONNS) {
			/* Every slot is taken: leave the rest in the listen backlog
			 * (their connect() waits there) until a connection closes. */
			if (!c->paused && ctn_engine_rewatch(e, c->lfd, 0, CTN_FD_CTL_LISTEN, 0) == 0)
				c->paused = true;
			return;
		}
		int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				ctn_engine_log(e, "control socket accept: %s", strerror(errno));
			return;
		}
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			ctn_engine_log(e, "control client refused: no peer credentials: %s", strerror(errno));
			close(fd);
			continue;
		}
		/* Only root and the daemon's own user may drive the switch. */
		if (cred.uid != 0 && cred.uid != geteuid()) {
			ctn_engine_log(e, "control client refused: pid %d uid %u is neither root nor uid %u",
				       (int)cred.pid, (unsigned)cred.uid, (unsigned)geteuid());
			refuse(fd, "permission denied: only root and the daemon's user may use this socket");
			continue;
		}
		uint32_t slot = free_slot(c);
		struct ctn_ctl_conn *conn = slot < CTN_CTL_MAX_CONNS ? calloc(1, sizeof(*conn)) : NULL;
		if (!conn) {
			ctn_engine_log(e, "control client pid %d refused: out of memory", (int)cred.pid);
			refuse(fd, "daemon out of memory; try again later");
			continue;
		}
		c->gen = (uint16_t)(c->gen + 1);
		conn->fd = fd;
		conn->id = (uint32_t)c->gen << 16 | slot;
		if (ctn_engine_watch(e, fd, EPOLLIN | EPOLLRDHUP, CTN_FD_CTL_CONN, slot) < 0) {
			ctn_engine_log(e, "control client: epoll: %s", strerror(errno));
			close(fd);
			free(conn);
			continue;
		}
		c->conns[slot] = conn;
		c->nconns++;
		struct ctn_event ev = {.type = CTN_EV_CTL_OPEN, .id = conn->id, .pid = cred.pid,
				       .uid = cred.uid, .gid = cred.gid};
		ctn_engine_emit(e, &ev);
	}
}

/** Close @conn and free its slot; report it when @report. */
static void conn_close(struct ctn_ctl *c, struct ctn_engine *e, struct ctn_ctl_conn *conn, bool report)
{
	uint32_t id = conn->id;
	ctn_engine_unwatch(e, conn->fd);
	close(conn->fd);
	c->conns[conn_slot(id)] = NULL;
	c->nconns--;
	free(conn->out);
	free(conn);
	/* A slot is free again: take the next client waiting in the backlog. */
	if (c->paused && ctn_engine_rewatch(e, c->lfd, EPOLLIN, CTN_FD_CTL_LISTEN, 0) == 0)
		c->paused = false;
	if (report) {
		struct ctn_event ev = {.type = CTN_EV_CTL_CLOSED, .id = id};
		ctn_engine_emit(e, &ev);
	}
}

/** Write what is queued on @conn. Returns -1 when the connection died. */
static int conn_flush(struct ctn_ctl *c, struct ctn_engine *e, struct ctn_ctl_conn *conn)
{
	size_t done = 0;
	while (done < conn->out_len) {
		ssize_t n = send(conn->fd, conn->out + done, conn->out_len - done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(c, e, conn, true);
			return -1;
		}
		done += (size_t)n;
	}
	memmove(conn->out, conn->out + done, conn->out_len - done);
	conn->out_len -= done;
	uint32_t want = (conn->eof ? 0 : EPOLLIN | EPOLLRDHUP) | (conn->out_len ? EPOLLOUT : 0);
	ctn_engine_rewatch(e, conn->fd, want, CTN_FD_CTL_CONN, conn_slot(conn->id));
	if (!conn->out_len && conn->close_after) {
		conn_close(c, e, conn, true);
		return -1;
	}
	return 0;
}

/** Read what a client sent and report it. */
static void conn_read(struct ctn_ctl *c, struct ctn_engine *e, struct ctn_ctl_conn *conn)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * CTN_MAX_FDS)];
	} cbuf;
	struct iovec iov = {.iov_base = c->rbuf, .iov_len = CTN_CTL_READ_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf)};
	ssize_t n = recvmsg(conn->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	struct ctn_event ev = {.type = CTN_EV_CTL_DATA, .id = conn->id};
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (ev.nfds < CTN_MAX_FDS)
				ev.fds[ev.nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n <= 0) {
		/* End of stream (or error): no data to attach fds to, so close them. */
		for (int i = 0; i < ev.nfds; i++)
			close(ev.fds[i]);
		if (n < 0) {
			conn_close(c, e, conn, true);
			return;
		}
		/* A clean half-close: the client may still wait for the answers to
		 * what it sent. Stop reading; the control plane closes the connection
		 * once those answers are out (ctn_ctl_send with close_after). */
		conn->eof = true;
		ctn_engine_rewatch(e, conn->fd, conn->out_len ? EPOLLOUT : 0, CTN_FD_CTL_CONN, conn_slot(conn->id));
		struct ctn_event eof = {.type = CTN_EV_CTL_EOF, .id = conn->id};
		ctn_engine_emit(e, &eof);
		return;
	}
	ev.data = c->rbuf;
	ev.len = (size_t)n;
	/* More fds than we have room for were closed by the kernel; say so by
	 * reporting one fd too many as -1, so the control plane rejects it. */
	if ((mh.msg_flags & MSG_CTRUNC) && ev.nfds < CTN_MAX_FDS)
		ev.fds[ev.nfds++] = -1;
	ctn_engine_emit(e, &ev);
}

void ctn_ctl_on_conn(struct ctn_ctl *c, struct ctn_engine *e, uint32_t slot, uint32_t events)
{
	if (slot >= CTN_CTL_MAX_CONNS || !c->conns[slot])
		return;
	struct ctn_ctl_conn *conn = c->conns[slot];
	if (conn->eof && (events & (EPOLLHUP | EPOLLERR))) {
		conn_close(c, e, conn, true); /* gone both ways: nobody to answer */
		return;
	}
	if ((events & EPOLLOUT) && conn_flush(c, e, conn) < 0)
		return;
	if (!conn->eof && (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		conn_read(c, e, conn);
}

int ctn_ctl_send(struct ctn_ctl *c, struct ctn_engine *e, uint32_t id, const void *data, size_t len,
		 bool close_after, char *err, size_t errlen)
{
	struct ctn_ctl_conn *conn = conn_get(c, id);
	if (!conn) {
		snprintf(err, errlen, "control connection %u is closed", id);
		return -1;
	}
	if (conn->out_len + len > CTN_CTL_OUT_MAX) {
		ctn_engine_log(e, "control client %u does not read its replies; closing it", id);
		conn_close(c, e, conn, true);
		snprintf(err, errlen, "control connection %u closed: reply backlog too large", id);
		return -1;
	}
	if (conn->out_len + len > conn->out_cap) {
		size_t cap = conn->out_cap ? conn->out_cap : 4096;
		while (cap < conn->out_len + len)
			cap *= 2;
		uint8_t *b = realloc(conn->out, cap);
		if (!b) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		conn->out = b;
		conn->out_cap = cap;
	}
	memcpy(conn->out + conn->out_len, data, len);
	conn->out_len += len;
	conn->close_after = conn->close_after || close_after;
	conn_flush(c, e, conn);
	return 0;
}

int ctn_ctl_close(struct ctn_ctl *c, struct ctn_engine *e, uint32_t id)
{
	struct ctn_ctl_conn *conn = conn_get(c, id);
	if (!conn)
		return -1;
	conn_close(c, e, conn, true);
	return 0;
}

void ctn_ctl_fini(struct ctn_ctl *c, struct ctn_engine *e)
{
	for (uint32_t i = 0; i < CTN_CTL_MAX_CONNS; i++)
		if (c->conns[i])
			conn_close(c, e, c->conns[i], false);
	if (c->lfd >= 0) {
		close(c->lfd);
		struct stat st;
		/* Remove the file only if it is still the one we made. */
		if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			unlink(c->path);
	}
	free(c->rbuf);
	ctn_ctl_init(c);
}
