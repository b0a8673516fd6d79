/* ctl.h - the control socket: a unix stream socket clients send JSON and fds to.
 *
 * The engine only moves bytes and file descriptors here: it accepts connections,
 * checks the peer's credentials, reads what arrives (with SCM_RIGHTS fds) and
 * reports it as CTN_EV_CTL_DATA events; the control plane parses the messages and
 * answers through ctn_engine_ctl_send(). Connection ids carry a generation so an
 * answer to a client that has gone never reaches the one that took its slot.
 */
#ifndef CTN_CTL_H
#define CTN_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ctn_engine;

#define CTN_CTL_MAX_CONNS 256          /**< connections at once; more wait in the listen backlog */
#define CTN_CTL_READ_MAX 65536          /**< bytes read per event */
#define CTN_CTL_OUT_MAX (64u << 20)     /**< unsent bytes before a slow reader is cut off */

/** One client connection. */
struct ctn_ctl_conn {
	int fd;           /**< the socket */
	uint32_t id;      /**< generation << 16 | slot */
	uint8_t *out;     /**< bytes not yet written */
	size_t out_len;   /**< how many */
	size_t out_cap;   /**< room */
	bool close_after; /**< close once out is empty */
	bool eof;         /**< the client shut down its sending side */
};

/** The listener and its connections. */
struct ctn_ctl {
	int lfd;                                   /**< listening socket, or -1 */
	char path[108];                            /**< its file */
	dev_t dev;                                 /**< identity of the file we made, */
	ino_t ino;                                 /**< so we only ever remove our own */
	struct ctn_ctl_conn *conns[CTN_CTL_MAX_CONNS]; /**< by slot */
	uint32_t nconns;                           /**< connections open */
	bool paused;                               /**< not accepting: every slot taken */
	uint16_t gen;                              /**< next generation */
	uint8_t *rbuf;                             /**< read buffer */
};

/** Zero state. */
void ctn_ctl_init(struct ctn_ctl *c);
/** Start listening at @path. Returns 0 or -1 with @err. */
int ctn_ctl_listen(struct ctn_ctl *c, struct ctn_engine *e, const char *path, char *err, size_t errlen);
/** The listener is readable: accept. */
void ctn_ctl_on_listen(struct ctn_ctl *c, struct ctn_engine *e);
/** Connection in slot @slot has @events. */
void ctn_ctl_on_conn(struct ctn_ctl *c, struct ctn_engine *e, uint32_t slot, uint32_t events);
/** Queue bytes to a connection. Returns 0 or -1 with @err (unknown connection). */
int ctn_ctl_send(struct ctn_ctl *c, struct ctn_engine *e, uint32_t id, const void *data, size_t len,
		 bool close_after, char *err, size_t errlen);
/** Close connection @id (reporting CTL_CLOSED). Returns 0 or -1 (unknown). */
int ctn_ctl_close(struct ctn_ctl *c, struct ctn_engine *e, uint32_t id);
/** Close everything and remove the socket file if it is still ours. */
void ctn_ctl_fini(struct ctn_ctl *c, struct ctn_engine *e);

#endif
