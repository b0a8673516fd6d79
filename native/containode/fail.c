/* fail.c - the one way a setup step gives up (see fail.h). */
#include "fail.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

_Noreturn void cn_fail(const char *step, const char *path)
{
	const char *reason = strerror(errno);

	if (path != NULL)
		fprintf(stderr, "containode: %s: %s: %s\n", step, path, reason);
	else
		fprintf(stderr, "containode: %s: %s\n", step, reason);
	_exit(CN_EXIT_SETUP);
}
