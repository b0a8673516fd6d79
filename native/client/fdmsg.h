/* fdmsg.h - the client side of the switch socket: one JSON request, maybe with
 * an fd in SCM_RIGHTS, and its JSON reply. This is exactly what the original
 * containet clients do, so containode and the tests speak the same protocol. */
#ifndef CTN_FDMSG_H
#define CTN_FDMSG_H

#include <stddef.h>

/** Length of the complete JSON object (or array) at the start of @buf, skipping
 *  leading whitespace; 0 if it is not complete yet; -1 if @buf does not start
 *  with '{' or '['. Only structure is checked (strings, escapes, nesting). */
long ctn_json_span(const char *buf, size_t len);

/** Most fds one request can carry. */
#define CTN_FDMSG_MAX_FDS 16

/** Connect to @path, send @json (@len bytes) with the @nfds fds of @fds attached, and
 *  read the reply into @reply (NUL-terminated, at most @cap - 1 bytes) within
 *  @timeout_ms. Returns the reply length, or -1 with @err filled; when connect()
 *  failed, errno is its error (ECONNREFUSED: nobody listens; ENOENT: no socket). */
long ctn_fdmsg_request(const char *path, const char *json, size_t len, const int *fds, int nfds, char *reply,
		       size_t cap, int timeout_ms, char *err, size_t errlen);

#endif
