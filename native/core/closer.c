/* closer.c - the closer thread: see closer.h. */
#include "closer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

/** fds queued at most; a port holds one or two, so a burst of removals fits. */
#define CLOSER_QUEUE 8192

/** The queue of fds to close, a ring guarded by @lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;  /**< signalled when an fd is queued */
	pthread_cond_t idle;  /**< signalled when the queue is empty and nothing is closing */
	int fds[CLOSER_QUEUE];
	uint32_t head;        /**< next to close */
	uint32_t count;       /**< queued */
	bool closing;         /**< the thread is inside close() */
	bool started;         /**< the thread runs */
	bool failed;          /**< it could not be started: close inline */
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

/** The thread: close what is queued, one at a time, forever. */
static void *closer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (!q.count) {
			q.closing = false;
			pthread_cond_broadcast(&q.idle);
			pthread_cond_wait(&q.work, &q.lock);
		}
		int fd = q.fds[q.head];
		q.head = (q.head + 1) % CLOSER_QUEUE;
		q.count--;
		q.closing = true;
		pthread_mutex_unlock(&q.lock);
		close(fd);
		pthread_mutex_lock(&q.lock);
	}
	return NULL;
}

/** Start the thread (detached: it lives as long as the process) under @q.lock. */
static void start_locked(void)
{
	pthread_attr_t a;
	pthread_t t;
	q.started = true;
	if (pthread_attr_init(&a) != 0) {
		q.failed = true;
		return;
	}
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	if (pthread_create(&t, &a, closer_main, NULL) != 0)
		q.failed = true;
	pthread_attr_destroy(&a);
}

void ctn_close_later(int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&q.lock);
	if (!q.started)
		start_locked();
	if (q.failed || q.count == CLOSER_QUEUE) {
		pthread_mutex_unlock(&q.lock);
		close(fd);
		return;
	}
	q.fds[(q.head + q.count) % CLOSER_QUEUE] = fd;
	q.count++;
	pthread_cond_signal(&q.work);
	pthread_mutex_unlock(&q.lock);
}

void ctn_close_drain(void)
{
	pthread_mutex_lock(&q.lock);
	while (q.started && !q.failed && (q.count || q.closing))
		pthread_cond_wait(&q.idle, &q.lock);
	pthread_mutex_unlock(&q.lock);
}
