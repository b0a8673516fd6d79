/* attr.h - a kind's settings as named values, checked against the kind's policy.
 *
 * The control plane hands the engine the settings of a port kind as a list of
 * named values (a number, a boolean or a string each), the way rtnetlink hands a
 * link kind its IFLA_INFO_DATA attributes. Each kind declares a policy: a table of
 * the names it takes, each with a type and the field of the kind's own settings
 * struct it fills (see kind.h). ctn_attrs_parse() fills that struct from the
 * list and refuses, naming the setting, a name the policy does not have, a name
 * given twice, a value of the wrong type or out of range, and a required setting
 * left out. The engine and the addon never see a kind's settings struct.
 *
 * A nested object of the control plane arrives flattened: its members are named
 * "OBJECT.MEMBER" ("ge.p"); a CTN_ATTR_PRESENT entry named "OBJECT" records that
 * some member was given.
 */
#ifndef CTN_ATTR_H
#define CTN_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What a value is, as the control plane gave it. */
enum ctn_val_type {
	CTN_VAL_NUM,  /**< a number (JS numbers are doubles) */
	CTN_VAL_BOOL, /**< true or false */
	CTN_VAL_STR,  /**< a NUL-terminated string */
};

/** One named value. The pointers belong to the caller and live through the call. */
struct ctn_attr {
	const char *name;       /**< "mtu", or "ge.p" for a member of a nested object */
	enum ctn_val_type type; /**< which of the fields below holds the value */
	double num;             /**< CTN_VAL_NUM */
	bool b;                 /**< CTN_VAL_BOOL */
	const char *str;        /**< CTN_VAL_STR */
};

/** What a policy entry turns a value into. */
enum ctn_attr_type {
	CTN_ATTR_BOOL,    /**< bool, from a boolean */
	CTN_ATTR_U16,     /**< uint16_t, from an integer >= 0 (times @scale) */
	CTN_ATTR_U32,     /**< uint32_t, likewise */
	CTN_ATTR_U64,     /**< uint64_t, likewise (exact up to 2^53) */
	CTN_ATTR_DOUBLE,  /**< double, from a finite number >= 0 */
	CTN_ATTR_FD,      /**< int, from an integer naming an open file descriptor; -1 when not given */
	CTN_ATTR_STR,     /**< char[@size], from a non-empty string that fits with its NUL */
	CTN_ATTR_IPV4,    /**< struct in_addr, from a dotted IPv4 string */
	CTN_ATTR_PRESENT, /**< bool, set when some member "NAME.x" is given */
};

/** One setting a kind takes. A table of them ends with an entry whose name is NULL. */
struct ctn_attr_policy {
	const char *name;        /**< as the control plane names it */
	enum ctn_attr_type type; /**< what it becomes */
	size_t offset;           /**< of its field in the kind's settings struct */
	size_t size;             /**< CTN_ATTR_STR: the field's size in bytes */
	double max;              /**< numbers: the largest value accepted (0: what the field holds) */
	double scale;            /**< integers: the field gets value * scale (0: 1), e.g. 1000 for us to ns */
	bool required;           /**< refuse the settings without it */
};

/**
 * Fill @out (zeroed first, @out_size bytes) from @attrs (@n of them) by policy
 * @pol. @what names the kind in errors. Returns 0, or -1 with @err naming the
 * setting and what is wrong with it.
 */
int ctn_attrs_parse(const char *what, const struct ctn_attr_policy *pol, const struct ctn_attr *attrs, uint32_t n,
		    void *out, size_t out_size, char *err, size_t errlen);

#endif
