/* json.c - building requests and reading replies (see json.h). */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_json_init(struct cn_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = cap == 0;
	if (cap > 0)
		buf[0] = '\0';
}

/** Append the @n bytes of @p. */
static void put(struct cn_json *j, const char *p, size_t n)
{
	if (j->overflow || j->len + n + 1 > j->cap) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, p, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

void cn_json_raw(struct cn_json *j, const char *text)
{
	put(j, text, strlen(text));
}

void cn_json_str(struct cn_json *j, const char *s)
{
	put(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(j, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			put(j, esc, 6);
		} else {
			put(j, (const char *)p, 1);
		}
	}
	put(j, "\"", 1);
}

void cn_json_int(struct cn_json *j, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%lld", v);
	put(j, num, (size_t)n);
}

/** Skip JSON white space at @p. */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/** Value of hex digit @c, or -1. */
static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/** Four hex digits at @p as a number, or -1. */
static long hex4(const char *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex(p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/** Append code point @cp as UTF-8 to @out (at *@n, at most @cap - 1 bytes). */
static void put_utf8(char *out, size_t cap, size_t *n, long cp)
{
	char u[4];
	size_t k;
	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (out != NULL && *n + k < cap) {
		memcpy(out + *n, u, k);
		*n += k;
	}
}

/**
 * Read the JSON string at @p (its opening quote), unescaped into @out (may be
 * NULL; at most @cap - 1 bytes kept, NUL-terminated). Returns the text after
 * the closing quote, or NULL when it is malformed.
 */
static const char *read_string(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	if (*p++ != '"')
		return NULL;
	for (;;) {
		char c = *p++;
		if (c == '\0')
			return NULL;
		if (c == '"')
			break;
		if (c != '\\') {
			if (out != NULL && n + 1 < cap)
				out[n++] = c;
			continue;
		}
		c = *p++;
		long cp;
		switch (c) {
		case 'n': cp = '\n'; break;
		case 't': cp = '\t'; break;
		case 'r': cp = '\r'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case '"': case '\\': case '/': cp = c; break;
		case 'u':
			cp = hex4(p);
			if (cp < 0)
				return NULL;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[0] == '\\' && p[1] == 'u') {
				long lo = hex4(p + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			break;
		default:
			return NULL;
		}
		put_utf8(out, cap, &n, cp);
	}
	if (out != NULL && cap > 0)
		out[n] = '\0';
	return p;
}

/** Skip one JSON value at @p; returns the text after it, or NULL when malformed. */
static const char *skip_value(const char *p)
{
	int depth = 0;
	p = skip_ws(p);
	do {
		if (*p == '"') {
			p = read_string(p, NULL, 0);
			if (p == NULL)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return NULL;
			p++;
		} else if (*p == '\0') {
			return NULL;
		} else if (depth == 0) {
			/* a scalar: up to the next delimiter */
			while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
				p++;
		} else {
			p++;
		}
	} while (depth > 0);
	return p;
}

/** Find member @want of the JSON object @reply (top level only): 1 with
 *  *@value at its value, 0 when the object has none, -1 when @reply is not a
 *  well-formed object. */
static int find_member(const char *reply, const char *want, const char **value)
{
	const char *p = skip_ws(reply);
	int found = 0;
	if (*p++ != '{')
		return -1;
	p = skip_ws(p);
	if (*p == '}')
		return 0;
	for (;;) {
		char key[16];
		p = read_string(skip_ws(p), key, sizeof key);
		if (p == NULL)
			return -1;
		p = skip_ws(p);
		if (*p++ != ':')
			return -1;
		p = skip_ws(p);
		if (!found && strcmp(key, want) == 0) {
			*value = p;
			found = 1;
		}
		p = skip_value(p);
		if (p == NULL)
			return -1;
		p = skip_ws(p);
		if (*p == '}')
			return found;
		if (*p++ != ',')
			return -1;
	}
}

int cn_json_reply_error(const char *reply, char *err, size_t errlen)
{
	const char *v;
	int rc = find_member(reply, "error", &v);
	if (rc <= 0)
		return rc;
	if (*v != '"')
		return 0;
	return read_string(v, err, errlen) == NULL ? -1 : 1;
}

int cn_json_reply_int(const char *reply, const char *name, long long *out)
{
	const char *v;
	int rc = find_member(reply, name, &v);
	if (rc <= 0)
		return rc;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (end == v || errno != 0 || (*end != ',' && *end != '}' && *end != ' ' && *end != '\n'))
		return 0;
	*out = n;
	return 1;
}
