/* closer.h - closing fds whose close() may block, off the packet path.
 *
 * Closing the last fd of a tap destroys its device, and the kernel waits for
 * an RCU grace period before it returns (about 20 ms on a 2-CPU VM). Done on a
 * worker thread, that stalls every port the worker polls, once per removed
 * port: a thousand containers leaving would stop forwarding for 20 seconds.
 * Such fds go to one closer thread instead, started on first use; the caller
 * returns at once. The queue is taken only on the control path (a port's
 * close), never per frame.
 */
#ifndef CTN_CLOSER_H
#define CTN_CLOSER_H

/**
 * Close @fd on the closer thread; the caller must not use it again. Closes it
 * at once, on the caller's thread, when the thread cannot be started or its
 * queue is full (a slow close beats a leak).
 */
void ctn_close_later(int fd);

/** Wait until every fd handed to ctn_close_later() so far is closed. */
void ctn_close_drain(void);

#endif
