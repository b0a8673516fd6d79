/* attr.c - filling a kind's settings struct from named values (see attr.h). */
#include "attr.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/** Fill @err; returns -1 for tail calls. */
static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/** The policy entry named @name (@len bytes of it), or NULL. */
static const struct ctn_attr_policy *lookup(const struct ctn_attr_policy *pol, const char *name, size_t len)
{
	for (; pol->name; pol++)
		if (strlen(pol->name) == len && memcmp(pol->name, name, len) == 0)
			return pol;
	return NULL;
}

/** Names the policy takes, for an error: "a, b, c" (cut to fit @n bytes). */
static void known(const struct ctn_attr_policy *pol, char *out, size_t n)
{
	size_t at = 0;
	out[0] = 0;
	for (; pol->name && at < n; pol++) {
		if (pol->type == CTN_ATTR_PRESENT)
			continue;
		int w = snprintf(out + at, n - at, "%s%s", at ? ", " : "", pol->name);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

/** Largest value an integer field of type @t holds. */
static double int_max(enum ctn_attr_type t)
{
	switch (t) {
	case CTN_ATTR_U16: return 65535.0;
	case CTN_ATTR_U32: return 4294967295.0;
	case CTN_ATTR_FD: return 2147483647.0;
	default: return 9007199254740992.0; /* 2^53: exact in a double */
	}
}

/** Bytes of the field entry @p fills. */
static size_t field_size(const struct ctn_attr_policy *p)
{
	switch (p->type) {
	case CTN_ATTR_U16: return sizeof(uint16_t);
	case CTN_ATTR_U32: return sizeof(uint32_t);
	case CTN_ATTR_IPV4: return sizeof(uint32_t);
	case CTN_ATTR_U64: return sizeof(uint64_t);
	case CTN_ATTR_DOUBLE: return sizeof(double);
	case CTN_ATTR_FD: return sizeof(int);
	case CTN_ATTR_STR: return p->size;
	default: return sizeof(bool);
	}
}

/** Store value @a into @out by entry @p. Returns 0 or -1 with @err. */
static int store(const char *what, const struct ctn_attr_policy *p, const struct ctn_attr *a, uint8_t *out, char *err,
		 size_t errlen)
{
	uint8_t *f = out + p->offset;
	switch (p->type) {
	case CTN_ATTR_BOOL:
		if (a->type != CTN_VAL_BOOL)
			return bad(err, errlen, "%s: \"%s\" must be true or false", what, a->name);
		*(bool *)f = a->b;
		return 0;
	case CTN_ATTR_STR: {
		if (a->type != CTN_VAL_STR || !a->str[0])
			return bad(err, errlen, "%s: \"%s\" must be a non-empty string", what, a->name);
		size_t len = strlen(a->str);
		if (len >= p->size)
			return bad(err, errlen, "%s: \"%s\" is longer than %zu bytes", what, a->name, p->size - 1);
		memcpy(f, a->str, len + 1);
		return 0;
	}
	case CTN_ATTR_IPV4:
		if (a->type != CTN_VAL_STR || inet_pton(AF_INET, a->str, f) != 1)
			return bad(err, errlen, "%s: \"%s\" must be a dotted IPv4 address", what, a->name);
		return 0;
	case CTN_ATTR_DOUBLE:
		if (a->type != CTN_VAL_NUM || !isfinite(a->num) || a->num < 0 || (p->max && a->num > p->max))
			return p->max ? bad(err, errlen, "%s: \"%s\" must be a number from 0 to %g", what, a->name, p->max)
				      : bad(err, errlen, "%s: \"%s\" must be a number >= 0", what, a->name);
		*(double *)f = a->num;
		return 0;
	case CTN_ATTR_U16:
	case CTN_ATTR_U32:
	case CTN_ATTR_U64:
	case CTN_ATTR_FD: {
		/* A scaled value (microseconds given, nanoseconds kept) may have a
		 * fraction: it is the scaled value that is rounded. */
		double max = p->max ? p->max : int_max(p->type) / (p->scale ? p->scale : 1);
		bool whole = p->scale != 0 || a->num == floor(a->num);
		if (a->type != CTN_VAL_NUM || !isfinite(a->num) || !whole || a->num < 0 || a->num > max)
			return bad(err, errlen, "%s: \"%s\" must be %s from 0 to %.0f", what, a->name,
				   p->scale ? "a number" : "an integer", max);
		double v = round(a->num * (p->scale ? p->scale : 1));
		if (v > int_max(p->type))
			return bad(err, errlen, "%s: \"%s\" is too large", what, a->name);
		if (p->type == CTN_ATTR_U16)
			*(uint16_t *)f = (uint16_t)v;
		else if (p->type == CTN_ATTR_U32)
			*(uint32_t *)f = (uint32_t)v;
		else if (p->type == CTN_ATTR_U64)
			*(uint64_t *)f = (uint64_t)v;
		else if (fcntl((int)v, F_GETFD) < 0)
			return bad(err, errlen, "%s: fd %d is not open", what, (int)v);
		else
			*(int *)f = (int)v;
		return 0;
	}
	case CTN_ATTR_PRESENT:
		break;
	}
	return bad(err, errlen, "%s: \"%s\" is not a value (give its members)", what, a->name);
}

int ctn_attrs_parse(const char *what, const struct ctn_attr_policy *pol, const struct ctn_attr *attrs, uint32_t n,
		    void *out, size_t out_size, char *err, size_t errlen)
{
	memset(out, 0, out_size);
	/* An fd not given is -1, never 0 (standard input). */
	for (const struct ctn_attr_policy *p = pol; p->name; p++)
		if (p->type == CTN_ATTR_FD && p->offset + sizeof(int) <= out_size)
			*(int *)((uint8_t *)out + p->offset) = -1;
	for (uint32_t i = 0; i < n; i++) {
		const struct ctn_attr *a = &attrs[i];
		const struct ctn_attr_policy *p = lookup(pol, a->name, strlen(a->name));
		if (!p) {
			char names[256];
			known(pol, names, sizeof(names));
			return bad(err, errlen, "%s: unknown setting \"%s\" (known: %s)", what, a->name,
				   names[0] ? names : "none");
		}
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(attrs[j].name, a->name) == 0)
				return bad(err, errlen, "%s: \"%s\" given twice", what, a->name);
		if (p->offset + field_size(p) > out_size)
			return bad(err, errlen, "%s: \"%s\" lies outside the settings (policy error)", what, a->name);
		if (store(what, p, a, out, err, errlen) < 0)
			return -1;
		const char *dot = strchr(a->name, '.');
		const struct ctn_attr_policy *group = dot ? lookup(pol, a->name, (size_t)(dot - a->name)) : NULL;
		if (group && group->type == CTN_ATTR_PRESENT)
			*(bool *)((uint8_t *)out + group->offset) = true;
	}
	for (; pol->name; pol++) {
		if (!pol->required)
			continue;
		uint32_t i = 0;
		while (i < n && strcmp(attrs[i].name, pol->name) != 0)
			i++;
		if (i == n)
			return bad(err, errlen, "%s: \"%s\" is required", what, pol->name);
	}
	return 0;
}
