/* fail.h - how containode and its init give up on a setup step: one line
 * "containode: STEP: PATH: REASON" on stderr and exit status 125. Only for
 * the executable: nothing in the addon may exit the process. */
#ifndef CN_FAIL_H
#define CN_FAIL_H

/** Print "containode: @step: @path: strerror(errno)" (without @path when NULL)
 *  and _exit(125). */
_Noreturn void cn_fail(const char *step, const char *path);

#endif
