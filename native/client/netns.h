/* netns.h - run a piece of work inside another network namespace, on a
 * short-lived thread of its own that enters it (setns), so the caller's
 * threads never change namespace. Used by tapdev.c (a tap belongs to the
 * namespace its fd was opened in) and route.c (routes of a container). */
#ifndef CTN_NETNS_H
#define CTN_NETNS_H

#include <stddef.h>

/** The work: runs on the thread, inside the namespace; returns 0, or -1 with
 *  the reason in @err (@errlen bytes). */
typedef int (*ctn_netns_fn)(void *arg, char *err, size_t errlen);

/** Run @fn(@arg) inside the network namespace of file @netns (e.g.
 *  /proc/PID/ns/net; NULL: the caller's, still on a thread of its own).
 *  Returns what @fn returned, or -1 with @err filled when the namespace
 *  cannot be entered or no thread made. */
int ctn_netns_run(const char *netns, ctn_netns_fn fn, void *arg, char *err, size_t errlen);

#endif
