/* netns.c - work inside a network namespace, on a thread of its own (see netns.h). */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/** What the thread is given and gives back. */
struct netns_job {
	const char *netns; /**< namespace file, NULL: stay */
	ctn_netns_fn fn;   /**< the work */
	void *arg;         /**< its argument */
	int rc;            /**< what it returned (-1 until it ran) */
	char err[256];     /**< the reason on failure */
};

/** Thread body: enter the namespace, run the work. */
static void *netns_thread(void *p)
{
	struct netns_job *j = p;
	if (j->netns) {
		int ns = open(j->netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0) {
			snprintf(j->err, sizeof(j->err), "open %s: %s", j->netns, strerror(errno));
			return NULL;
		}
		int rc = setns(ns, CLONE_NEWNET);
		int er = errno;
		close(ns);
		if (rc < 0) {
			snprintf(j->err, sizeof(j->err), "enter %s: %s", j->netns, strerror(er));
			return NULL;
		}
	}
	j->rc = j->fn(j->arg, j->err, sizeof(j->err));
	return NULL;
}

int ctn_netns_run(const char *netns, ctn_netns_fn fn, void *arg, char *err, size_t errlen)
{
	struct netns_job j = {.netns = netns, .fn = fn, .arg = arg, .rc = -1};
	pthread_t t;
	int rc = pthread_create(&t, NULL, netns_thread, &j);
	if (rc != 0) {
		snprintf(err, errlen, "thread: %s", strerror(rc));
		return -1;
	}
	pthread_join(t, NULL);
	if (j.rc < 0)
		snprintf(err, errlen, "%s", j.err);
	return j.rc;
}
