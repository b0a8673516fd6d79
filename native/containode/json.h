/* json.h - the little JSON containode speaks on the switch socket: requests
 * built into a fixed buffer, and the reply's "error" read back. */
#ifndef CN_JSON_H
#define CN_JSON_H

#include <stdbool.h>
#include <stddef.h>

/** A request being written into a caller's buffer; overflow is sticky. */
struct cn_json {
	char *buf;       /**< the text, NUL-terminated while not overflowed */
	size_t cap;      /**< size of buf */
	size_t len;      /**< bytes written */
	bool overflow;   /**< something did not fit: the text is unusable */
};

/** Start writing into @buf of @cap bytes. */
void cn_json_init(struct cn_json *j, char *buf, size_t cap);

/** Append @text as it is (structure: braces, colons, commas). */
void cn_json_raw(struct cn_json *j, const char *text);

/** Append @s as a JSON string, quoted and escaped. */
void cn_json_str(struct cn_json *j, const char *s);

/** Append the integer @v. */
void cn_json_int(struct cn_json *j, long long v);

/** Read a reply: 0 when it is an object without a string "error", 1 when it
 *  has one (unescaped into @err, truncated to @errlen), -1 when it is not a
 *  JSON object. */
int cn_json_reply_error(const char *reply, char *err, size_t errlen);

/** Integer member @name of reply @reply (top level): 1 with its value in
 *  *@out, 0 when the reply has none (or it is not an integer), -1 when the
 *  reply is not a JSON object. */
int cn_json_reply_int(const char *reply, const char *name, long long *out);

#endif
