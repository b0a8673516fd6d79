/* options.c - containode's command line, as the original commander CLI read it. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifaddr.h"
#include "tapdev.h"

const char cn_help_text[] =
	"Usage: containode [options] [--] PROGRAM [ARGS...]\n"
	"\n"
	"run PROGRAM in new namespaces, with eth0 on a containet switch\n"
	"\n"
	"Arguments:\n"
	"  program                  program and its arguments\n"
	"\n"
	"Options:\n"
	"  -s, --socket <path>      switch socket to attach eth0 to (no interface\n"
	"                           without it)\n"
	"  -4, --ipv4 <addr[/len]>  IPv4 address of eth0 (prefix from the address class\n"
	"                           if omitted)\n"
	"  -r, --root <dir>         root filesystem (mounted as an overlay, then pivoted\n"
	"                           into)\n"
	"  -t, --top <dir>          directory for the root's changes (default:\n"
	"                           ROOT.IDENTITY)\n"
	"  -i, --identity <id>      unique identity, also the hostname (default: 11\n"
	"                           random base62 digits)\n"
	"  -N, --keep-net           keep the host's network namespace\n"
	"  -I, --keep-ipc           keep the host's IPC namespace\n"
	"  -l, --lan <name>         lan to join (default: the daemon's default lan)\n"
	"  --ifname <name>          name of the interface in the container (default:\n"
	"                           \"eth0\")\n"
	"  --mtu <bytes>            MTU of the interface (default: 64000)\n"
	"  --queues <n>             queues of each interface's tap, 1 to 8 (default:\n"
	"                           one per worker thread of the daemon)\n"
	"  -e, --env <KEY=VALUE>    set an environment variable for PROGRAM (repeatable)\n"
	"                           (default: [])\n"
	"  --net <spec>             an interface (repeatable; replaces -l, -4 and\n"
	"                           --ifname): LAN[,ifname=NAME][,ip=ADDR/LEN]...\n"
	"                           [,mtu=N][,mac=MAC], ip IPv4 or IPv6, ifname\n"
	"                           default ethN\n"
	"  --route <spec>           a route, set once the interfaces are up\n"
	"                           (repeatable): DST,via=ADDR with DST \"default\" or\n"
	"                           ADDR/LEN\n"
	"  --ready-fd <n>           write \"ready INITPID\" on fd N once PROGRAM has\n"
	"                           started, then close it\n"
	"  --authtoken <token>      token for the switch (default: $CONTAINET_AUTHTOKEN)\n"
	"  -h, --help               display help for command\n"
	;

/** Which option a table entry is. */
enum cn_opt_id {
	OPT_SOCKET,
	OPT_IPV4,
	OPT_ROOT,
	OPT_TOP,
	OPT_IDENTITY,
	OPT_KEEP_NET,
	OPT_KEEP_IPC,
	OPT_LAN,
	OPT_IFNAME,
	OPT_MTU,
	OPT_QUEUES,
	OPT_ENV,
	OPT_AUTHTOKEN,
	OPT_NET,
	OPT_ROUTE,
	OPT_READY_FD,
};

/** One option: its short letter (0: none), long name, the flags as messages
 *  show them, and whether it takes a value. */
struct cn_opt_def {
	char short_name;
	const char *long_name;
	const char *flags;
	bool takes_value;
	enum cn_opt_id id;
};

/** Every option, in the order of --help. */
static const struct cn_opt_def opt_defs[] = {
	{'s', "--socket", "-s, --socket <path>", true, OPT_SOCKET},
	{'4', "--ipv4", "-4, --ipv4 <addr[/len]>", true, OPT_IPV4},
	{'r', "--root", "-r, --root <dir>", true, OPT_ROOT},
	{'t', "--top", "-t, --top <dir>", true, OPT_TOP},
	{'i', "--identity", "-i, --identity <id>", true, OPT_IDENTITY},
	{'N', "--keep-net", "-N, --keep-net", false, OPT_KEEP_NET},
	{'I', "--keep-ipc", "-I, --keep-ipc", false, OPT_KEEP_IPC},
	{'l', "--lan", "-l, --lan <name>", true, OPT_LAN},
	{0, "--ifname", "--ifname <name>", true, OPT_IFNAME},
	{0, "--mtu", "--mtu <bytes>", true, OPT_MTU},
	{0, "--queues", "--queues <n>", true, OPT_QUEUES},
	{'e', "--env", "-e, --env <KEY=VALUE>", true, OPT_ENV},
	{0, "--net", "--net <spec>", true, OPT_NET},
	{0, "--route", "--route <spec>", true, OPT_ROUTE},
	{0, "--ready-fd", "--ready-fd <n>", true, OPT_READY_FD},
	{0, "--authtoken", "--authtoken <token>", true, OPT_AUTHTOKEN},
};
#define OPT_COUNT (sizeof opt_defs / sizeof opt_defs[0])

/** The option spelled exactly @arg ("-s" or "--socket"), or NULL. */
static const struct cn_opt_def *find_option(const char *arg)
{
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct cn_opt_def *d = &opt_defs[i];
		if ((d->short_name && arg[0] == '-' && arg[1] == d->short_name && arg[2] == '\0') ||
		    strcmp(arg, d->long_name) == 0)
			return d;
	}
	return NULL;
}

/** The option with long name @name of @len characters, or NULL. */
static const struct cn_opt_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (strlen(opt_defs[i].long_name) == len && strncmp(opt_defs[i].long_name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

/** Whether @arg looks like an option to commander: '-' and at least one more character. */
static bool maybe_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0';
}

/** ASCII digit test (JavaScript's \d), whatever the locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/** ASCII letter or digit. */
static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** Read 1 to @max ASCII digits at *@p into @value, moving *@p past them. */
static bool read_digits(const char **p, int max, int *value)
{
	int n = 0, v = 0;
	while (is_digit(**p)) {
		if (++n > max)
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*value = v;
	return n > 0;
}

int cn_parse_ipv4(const char *arg, char addr[CN_IPV4_LEN], int *prefix, char *err, size_t errlen)
{
	const char *p = arg;
	int o[4], len = -1;
	for (int i = 0; i < 4; i++) {
		if ((i > 0 && *p++ != '.') || !read_digits(&p, 3, &o[i]))
			goto malformed;
	}
	if (*p == '/') {
		p++;
		if (!read_digits(&p, 2, &len))
			goto malformed;
	}
	if (*p != '\0')
		goto malformed;
	for (int i = 0; i < 4; i++)
		if (o[i] > 255) {
			snprintf(err, errlen, "\"%s\": each part of an IPv4 address is 0 to 255", arg);
			return -1;
		}
	snprintf(addr, CN_IPV4_LEN, "%d.%d.%d.%d", o[0], o[1], o[2], o[3]);
	if (len >= 0) {
		if (len > 32) {
			snprintf(err, errlen, "\"%s\": prefix length must be 0 to 32", arg);
			return -1;
		}
		*prefix = len;
	} else if (o[0] < 128) {
		*prefix = 8;
	} else if (o[0] < 192) {
		*prefix = 16;
	} else if (o[0] < 224) {
		*prefix = 24;
	} else {
		snprintf(err, errlen, "\"%s\" is class D/E: give a prefix length", arg);
		return -1;
	}
	return 0;
malformed:
	snprintf(err, errlen, "\"%s\" is not an IPv4 address (a.b.c.d or a.b.c.d/len)", arg);
	return -1;
}

int cn_check_identity(const char *id, char *err, size_t errlen)
{
	size_t len = strlen(id);
	bool ok = len >= 1 && len <= 63 && is_alnum(id[0]) && is_alnum(id[len - 1]);
	for (size_t i = 0; ok && i < len; i++)
		ok = is_alnum(id[i]) || id[i] == '-';
	if (ok)
		return 0;
	snprintf(err, errlen, "identity \"%s\" must be 1-63 letters, digits or '-', starting and ending with a letter or digit",
		 id);
	return -1;
}

/** JavaScript's white space and line terminators, as Number() trims them (ASCII and the common Unicode ones). */
static size_t js_space(const char *s)
{
	static const char *const wide[] = {"\xc2\xa0", "\xef\xbb\xbf", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe1\x9a\x80",
					   "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
	if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		return 1;
	if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] >= 0x80 &&
	    (unsigned char)s[2] <= 0x8a)
		return 3; /* U+2000..U+200A */
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
		if (strncmp(s, wide[i], strlen(wide[i])) == 0)
			return strlen(wide[i]);
	return 0;
}

/**
 * The value of @s as JavaScript's Number() reads a string, when that is an
 * integer: 0 with *@value set, or -1 (NaN, fractional, infinite or beyond
 * what a long long holds, all of which no MTU can be).
 */
static int js_integer(const char *s, long long *value)
{
	size_t n, len;
	while ((n = js_space(s)) > 0)
		s += n;
	len = strlen(s);
	while (len > 0) {
		size_t k = 0;
		for (size_t back = 1; back <= 3 && back <= len && k == 0; back++)
			if (js_space(s + len - back) == back)
				k = back;
		if (k == 0)
			break;
		len -= k;
	}
	char buf[64];
	if (len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 0) { /* Number("") is 0 */
		*value = 0;
		return 0;
	}
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X' || buf[1] == 'o' || buf[1] == 'O' || buf[1] == 'b' || buf[1] == 'B')) {
		int base = (buf[1] == 'x' || buf[1] == 'X') ? 16 : (buf[1] == 'o' || buf[1] == 'O') ? 8 : 2;
		long long v = 0;
		if (buf[2] == '\0')
			return -1;
		for (const char *p = buf + 2; *p; p++) {
			int d = is_digit(*p) ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : 99;
			if (d >= base || v > (1LL << 50))
				return -1;
			v = v * base + d;
		}
		*value = v;
		return 0;
	}
	/* StrDecimalLiteral: [+-] (digits [. digits] | . digits) [(e|E) [+-] digits] */
	const char *p = buf;
	if (*p == '+' || *p == '-')
		p++;
	const char *mant = p;
	while (is_digit(*p))
		p++;
	bool int_digits = p > mant;
	if (*p == '.') {
		p++;
		const char *frac = p;
		while (is_digit(*p))
			p++;
		if (!int_digits && p == frac)
			return -1;
	} else if (!int_digits) {
		return -1;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return -1;
		while (is_digit(*p))
			p++;
	}
	if (*p != '\0')
		return -1;
	errno = 0;
	char *end;
	double d = strtod(buf, &end);
	if (errno == ERANGE && (d > 1 || d < -1))
		return -1;
	if (d != d || d > 9e15 || d < -9e15 || d != (double)(long long)d)
		return -1;
	*value = (long long)d;
	return 0;
}

/** @s as an integer from @lo to @hi (js_integer) into *@out: 0, or -1 with
 *  *@out untouched. */
static int int_in(const char *s, long long lo, long long hi, int *out)
{
	long long v;
	if (js_integer(s, &v) < 0 || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int cn_parse_mtu(const char *arg, int *mtu, char *err, size_t errlen)
{
	if (int_in(arg, 68, 65521, mtu) < 0) {
		snprintf(err, errlen, "must be 68 to 65521");
		return -1;
	}
	return 0;
}

int cn_check_env(const char *arg, char *err, size_t errlen)
{
	const char *p = arg;
	if (*p == '_' || (is_alnum(*p) && !is_digit(*p))) {
		while (*p == '_' || is_alnum(*p))
			p++;
		if (*p == '=')
			return 0;
	}
	snprintf(err, errlen, "must be KEY=VALUE");
	return -1;
}

void cn_identity_of(uint64_t n, char out[CN_IDENTITY_RANDOM_LEN + 1])
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	for (int i = CN_IDENTITY_RANDOM_LEN - 1; i >= 0; i--) {
		out[i] = digits[n % 62];
		n /= 62;
	}
	out[CN_IDENTITY_RANDOM_LEN] = '\0';
}

int cn_random_identity(char out[CN_IDENTITY_RANDOM_LEN + 1])
{
	uint64_t n;
	size_t got = 0;
	while (got < sizeof n) {
		ssize_t r = getrandom((char *)&n + got, sizeof n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	cn_identity_of(n, out);
	return 0;
}

/** Most characters an option name is compared over in cn_suggest_option. */
#define SUGGEST_MAX 64

/** commander's edit distance (optimal string alignment) of @a and @b, or the
 *  longer length when they differ in length by more than 3. */
static int edit_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	static int d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	if (la - lb > 3 || lb - la > 3 || la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return la > lb ? la : lb;
	for (int i = 0; i <= la; i++)
		d[i][0] = i;
	for (int j = 0; j <= lb; j++)
		d[0][j] = j;
	for (int j = 1; j <= lb; j++)
		for (int i = 1; i <= la; i++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

void cn_suggest_option(const char *flag, char *out, size_t cap)
{
	/* The long flags commander offered: every option's, and --help. */
	const char *cand[OPT_COUNT + 1];
	const char *similar[OPT_COUNT + 1];
	size_t nc = 0, ns = 0;
	int best = 3;
	out[0] = '\0';
	if (strncmp(flag, "--", 2) != 0)
		return;
	for (size_t i = 0; i < OPT_COUNT; i++)
		cand[nc++] = opt_defs[i].long_name + 2;
	cand[nc++] = "help";
	const char *word = flag + 2;
	for (size_t i = 0; i < nc; i++) {
		if (strlen(cand[i]) <= 1)
			continue;
		int dist = edit_distance(word, cand[i]);
		int len = (int)(strlen(word) > strlen(cand[i]) ? strlen(word) : strlen(cand[i]));
		if ((double)(len - dist) / len <= 0.4)
			continue;
		if (dist < best) {
			best = dist;
			ns = 0;
			similar[ns++] = cand[i];
		} else if (dist == best) {
			similar[ns++] = cand[i];
		}
	}
	/* sorted, as localeCompare sorts these lower-case names */
	for (size_t i = 1; i < ns; i++)
		for (size_t j = i; j > 0 && strcmp(similar[j - 1], similar[j]) > 0; j--) {
			const char *t = similar[j];
			similar[j] = similar[j - 1];
			similar[j - 1] = t;
		}
	if (ns == 0)
		return;
	size_t pos = (size_t)snprintf(out, cap, ns > 1 ? "\n(Did you mean one of " : "\n(Did you mean ");
	for (size_t i = 0; i < ns && pos < cap; i++)
		pos += (size_t)snprintf(out + pos, cap - pos, "%s--%s", i ? ", " : "", similar[i]);
	if (pos < cap)
		snprintf(out + pos, cap - pos, "?)");
}

/** Whether @name works as an interface name: 1-15 characters, none of them
 *  '/', ':', ',' or white space, not "." or "..". */
static bool good_ifname(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len >= CN_IFNAME_LEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',' || *p == ' ' || (*p >= '\t' && *p <= '\r'))
			return false;
	return true;
}

int cn_parse_net(const char *arg, size_t index, const struct cn_net *prev, struct cn_net *n, char *err, size_t errlen)
{
	char why[160];
	memset(n, 0, sizeof *n);
	n->spec = strdup(arg);
	if (n->spec == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(n->ifname, sizeof n->ifname, "eth%zu", index);
	char *rest = n->spec, *part = strsep(&rest, ",");
	n->lan = *part ? part : NULL;
	while ((part = strsep(&rest, ",")) != NULL) {
		char *eq = strchr(part, '=');
		const char *key = part, *val = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (eq && strcmp(key, "ifname") == 0) {
			if (!good_ifname(val)) {
				snprintf(err, errlen, "ifname \"%s\" must be 1-15 characters without '/', ':', ',' or spaces", val);
				goto bad;
			}
			snprintf(n->ifname, sizeof n->ifname, "%s", val);
		} else if (eq && strcmp(key, "ip") == 0) {
			struct ctn_ifaddr a;
			if (n->n_addrs == CN_NET_ADDRS_MAX) {
				snprintf(err, errlen, "at most %d addresses on one interface", CN_NET_ADDRS_MAX);
				goto bad;
			}
			if (ctn_ifaddr_parse(val, &a, err, errlen) < 0)
				goto bad;
			n->addrs[n->n_addrs++] = val;
		} else if (eq && strcmp(key, "mtu") == 0) {
			if (cn_parse_mtu(val, &n->mtu, why, sizeof why) < 0) {
				snprintf(err, errlen, "mtu \"%s\" %s", val, why);
				goto bad;
			}
		} else if (eq && strcmp(key, "mac") == 0) {
			unsigned char mac[6];
			if (ctn_tap_parse_mac(val, mac, err, errlen) < 0)
				goto bad;
			n->mac = val;
		} else {
			snprintf(err, errlen, "\"%s\" is not a setting of an interface (LAN first, then ifname=, ip=, mtu=, mac=)", key);
			goto bad;
		}
	}
	for (size_t i = 0; i < index; i++)
		if (strcmp(prev[i].ifname, n->ifname) == 0) {
			snprintf(err, errlen, "two interfaces named %s", n->ifname);
			goto bad;
		}
	return 0;
bad:
	free(n->spec);
	n->spec = NULL;
	return -1;
}

int cn_parse_route(const char *arg, struct ctn_route *r, char *err, size_t errlen)
{
	char buf[256];
	if (strlen(arg) >= sizeof buf) {
		snprintf(err, errlen, "longer than %zu characters", sizeof buf - 1);
		return -1;
	}
	snprintf(buf, sizeof buf, "%s", arg);
	char *comma = strchr(buf, ',');
	if (comma == NULL || strncmp(comma + 1, "via=", 4) != 0 || strchr(comma + 1, ',') != NULL) {
		snprintf(err, errlen, "must be DST,via=ADDR (DST \"default\" or ADDR/LEN)");
		return -1;
	}
	*comma = '\0';
	return ctn_route_parse(buf, comma + 5, r, err, errlen);
}

/** Store @value of option @d into @o; -1 with commander's message in @err when it is invalid. */
static int apply_option(const struct cn_opt_def *d, const char *value, struct cn_options *o, char *err, size_t errlen)
{
	char why[256];
	int rc = 0;
	switch (d->id) {
	case OPT_SOCKET:
		o->socket = value;
		break;
	case OPT_IPV4:
		rc = cn_parse_ipv4(value, o->ipv4, &o->prefix, why, sizeof why);
		o->has_ipv4 = rc == 0;
		break;
	case OPT_ROOT:
		o->root = value;
		break;
	case OPT_TOP:
		o->top = value;
		break;
	case OPT_IDENTITY:
		rc = cn_check_identity(value, why, sizeof why);
		if (rc == 0)
			snprintf(o->identity, sizeof o->identity, "%s", value);
		break;
	case OPT_KEEP_NET:
		o->keep_net = true;
		break;
	case OPT_KEEP_IPC:
		o->keep_ipc = true;
		break;
	case OPT_LAN:
		o->lan = value;
		break;
	case OPT_IFNAME:
		o->ifname = value;
		o->ifname_given = true;
		break;
	case OPT_MTU:
		rc = cn_parse_mtu(value, &o->mtu, why, sizeof why);
		break;
	case OPT_QUEUES:
		rc = int_in(value, 1, CTN_TAP_MAX_QUEUES, &o->queues);
		if (rc < 0)
			snprintf(why, sizeof why, "must be an integer from 1 to %d", CTN_TAP_MAX_QUEUES);
		break;
	case OPT_ENV:
		rc = cn_check_env(value, why, sizeof why);
		if (rc == 0)
			o->env[o->env_count++] = (char *)value;
		break;
	case OPT_AUTHTOKEN:
		o->authtoken = value;
		break;
	case OPT_NET:
		if (o->net_count == CN_NETS_MAX) {
			snprintf(why, sizeof why, "at most %d interfaces", CN_NETS_MAX);
			rc = -1;
			break;
		}
		rc = cn_parse_net(value, o->net_count, o->nets, &o->nets[o->net_count], why, sizeof why);
		if (rc == 0)
			o->net_count++;
		break;
	case OPT_ROUTE:
		if (o->route_count == CN_ROUTES_MAX) {
			snprintf(why, sizeof why, "at most %d routes", CN_ROUTES_MAX);
			rc = -1;
			break;
		}
		rc = cn_parse_route(value, &o->routes[o->route_count], why, sizeof why);
		if (rc == 0)
			o->route_count++;
		break;
	case OPT_READY_FD:
		rc = int_in(value, 3, 1023, &o->ready_fd);
		if (rc < 0)
			snprintf(why, sizeof why, "must be a file descriptor from 3 to 1023");
		break;
	}
	if (rc < 0)
		snprintf(err, errlen, "error: option '%s' argument '%s' is invalid. %s", d->flags, value, why);
	return rc;
}

enum cn_parse_result cn_parse_options(int argc, char **argv, const char *authtoken_env, struct cn_options *o, char *err,
				      size_t errlen)
{
	/* "-" and the rest of a combined short flag ("-NI" -> "-I"), put back as the next argument */
	char *pushed = NULL;
	enum cn_parse_result result = CN_PARSE_RUN;
	int i = 1;

	memset(o, 0, sizeof *o);
	o->ifname = "eth0";
	o->mtu = 64000;
	o->ready_fd = -1;
	o->env = calloc((size_t)argc + 1, sizeof *o->env);
	if (o->env == NULL) {
		snprintf(err, errlen, "error: out of memory");
		return CN_PARSE_ERROR;
	}
	bool have_token = false;
	static char *no_program[] = {NULL};
	o->argv = no_program;

	while (i < argc || pushed != NULL) {
		const char *arg;
		char *held = NULL;
		if (pushed != NULL) {
			arg = held = pushed;
			pushed = NULL;
		} else {
			arg = argv[i++];
		}
		const struct cn_opt_def *d;
		int rc = 0;
		bool done = false;

		if (strcmp(arg, "--") == 0) {
			o->argv = &argv[i];
			free(held);
			break;
		}
		if (maybe_option(arg) && (d = find_option(arg)) != NULL) {
			if (d->takes_value) {
				if (i >= argc) {
					snprintf(err, errlen, "error: option '%s' argument missing", d->flags);
					free(held);
					return CN_PARSE_ERROR;
				}
				rc = apply_option(d, argv[i++], o, err, errlen);
			} else {
				rc = apply_option(d, NULL, o, err, errlen);
			}
			if (d->id == OPT_AUTHTOKEN)
				have_token = true;
			done = true;
		} else if (arg[0] == '-' && arg[1] != '-' && arg[1] != '\0' && arg[2] != '\0' &&
			   (d = find_option((char[]){'-', arg[1], '\0'})) != NULL) {
			if (d->takes_value) {
				/* the value is the rest; it lives as long as argv (or held, kept below) */
				const char *value = arg + 2;
				rc = apply_option(d, value, o, err, errlen);
				held = NULL; /* a pushed string now holds a value: kept for the whole run */
			} else {
				rc = apply_option(d, NULL, o, err, errlen);
				size_t rest = strlen(arg + 2);
				pushed = malloc(rest + 2);
				if (pushed == NULL) {
					snprintf(err, errlen, "error: out of memory");
					free(held);
					return CN_PARSE_ERROR;
				}
				pushed[0] = '-';
				memcpy(pushed + 1, arg + 2, rest + 1);
			}
			done = true;
		} else if (strncmp(arg, "--", 2) == 0 && arg[2] != '=' && strchr(arg + 2, '=') != NULL &&
			   (d = find_long(arg, (size_t)(strchr(arg, '=') - arg))) != NULL && d->takes_value) {
			rc = apply_option(d, strchr(arg, '=') + 1, o, err, errlen);
			if (d->id == OPT_AUTHTOKEN)
				have_token = true;
			done = true;
		}
		if (done) {
			free(held);
			if (rc < 0) {
				free(pushed);
				return CN_PARSE_ERROR;
			}
			continue;
		}
		if (maybe_option(arg)) {
			/* Unknown: it and everything after it are unknown; help among them wins. */
			bool help = strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
			for (int k = i; k < argc && !help; k++)
				help = strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0;
			if (help) {
				result = CN_PARSE_HELP;
			} else {
				char hint[256];
				cn_suggest_option(arg, hint, sizeof hint);
				snprintf(err, errlen, "error: unknown option '%s'%s", arg, hint);
				result = CN_PARSE_ERROR;
			}
			free(held);
			break;
		}
		/* The first operand: PROGRAM, and everything after it is its. */
		o->argv = &argv[i - 1];
		free(held);
		break;
	}
	if (result != CN_PARSE_RUN)
		return result;
	if (o->argv[0] == NULL) {
		snprintf(err, errlen, "error: missing required argument 'program'");
		return CN_PARSE_ERROR;
	}
	if (!have_token)
		o->authtoken = authtoken_env;
	return CN_PARSE_RUN;
}

int cn_resolve_path(const char *path, char *out, size_t cap)
{
	char buf[PATH_MAX * 2];
	size_t len = 0;
	if (path[0] != '/') {
		if (getcwd(buf, PATH_MAX) == NULL)
			return -1;
		len = strlen(buf);
	}
	if (len + 1 + strlen(path) + 1 > sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[len++] = '/';
	strcpy(buf + len, path);
	/* Fold the segments of buf into out. */
	size_t o = 0;
	const char *p = buf;
	while (*p) {
		while (*p == '/')
			p++;
		const char *seg = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the '/' before the dropped segment */
			continue;
		}
		if (o + 1 + n + 1 > cap) {
			errno = ENAMETOOLONG;
			return -1;
		}
		out[o++] = '/';
		memcpy(out + o, seg, n);
		o += n;
	}
	if (o == 0) {
		if (cap < 2) {
			errno = ENAMETOOLONG;
			return -1;
		}
		out[o++] = '/';
	}
	out[o] = '\0';
	return 0;
}

/** The directory an overlay option string can carry: no ',', ':' or '\'. */
static int check_overlay_path(const char *what, const char *dir, char *err, size_t errlen)
{
	if (strpbrk(dir, ",:\\") == NULL)
		return 0;
	snprintf(err, errlen, "%s %s: the path must not contain ',', ':' or '\\' (overlay options cannot carry them)", what, dir);
	return -1;
}

int cn_check_options(struct cn_options *o, char *err, size_t errlen)
{
	struct stat st;
	/* Empty strings count as not given, as they did in the TypeScript CLI. */
	if (o->socket != NULL && o->socket[0] == '\0')
		o->socket = NULL;
	if (o->root != NULL && o->root[0] == '\0')
		o->root = NULL;
	if (o->top != NULL && o->top[0] == '\0')
		o->top = NULL;
	if (o->lan != NULL && o->lan[0] == '\0')
		o->lan = NULL;
	if (o->authtoken != NULL && o->authtoken[0] == '\0')
		o->authtoken = NULL;

	if (o->argv[0] == NULL) {
		snprintf(err, errlen, "no program to run (give it after --)");
		return -1;
	}
	if (o->keep_net && o->socket != NULL) {
		snprintf(err, errlen, "-N keeps the host network: it cannot be combined with -s");
		return -1;
	}
	if (o->top != NULL && o->root == NULL) {
		snprintf(err, errlen, "-t needs -r (it holds the changes to that root)");
		return -1;
	}
	if (o->net_count > 0 && o->socket == NULL) {
		snprintf(err, errlen, "--net needs -s (its interfaces go on the switch)");
		return -1;
	}
	if (o->net_count > 0 && (o->has_ipv4 || o->lan != NULL || o->ifname_given)) {
		snprintf(err, errlen, "--net replaces -4, -l and --ifname: give the interface's settings in its --net");
		return -1;
	}
	if (o->route_count > 0 && o->socket == NULL) {
		snprintf(err, errlen, "--route needs -s (routes go through the switch interfaces)");
		return -1;
	}
	if (o->has_ipv4 && o->socket == NULL) {
		snprintf(err, errlen, "-4 needs -s (the address goes on the switch interface)");
		return -1;
	}
	if (o->identity[0] == '\0' && cn_random_identity(o->identity) < 0) {
		snprintf(err, errlen, "random identity: %s", strerror(errno));
		return -1;
	}
	o->root_abs[0] = o->top_abs[0] = '\0';
	if (o->root == NULL)
		return 0;
	if (stat(o->root, &st) < 0) {
		const char *code = strerrorname_np(errno);
		snprintf(err, errlen, "root %s: %s", o->root, code != NULL ? code : strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "root %s is not a directory", o->root);
		return -1;
	}
	if (cn_resolve_path(o->root, o->root_abs, sizeof o->root_abs) < 0) {
		snprintf(err, errlen, "root %s: %s", o->root, strerror(errno));
		return -1;
	}
	if (o->top != NULL) {
		if (cn_resolve_path(o->top, o->top_abs, sizeof o->top_abs) < 0) {
			snprintf(err, errlen, "top %s: %s", o->top, strerror(errno));
			return -1;
		}
	} else {
		/* ROOT.IDENTITY: the resolved root without trailing '/', then resolved again */
		char top[PATH_MAX + CN_IDENTITY_MAX + 2];
		size_t len = strlen(o->root_abs);
		while (len > 0 && o->root_abs[len - 1] == '/')
			len--;
		snprintf(top, sizeof top, "%.*s.%s", (int)len, o->root_abs, o->identity);
		if (cn_resolve_path(top, o->top_abs, sizeof o->top_abs) < 0) {
			snprintf(err, errlen, "top %s: %s", top, strerror(errno));
			return -1;
		}
	}
	if (check_overlay_path("root", o->root_abs, err, errlen) < 0 || check_overlay_path("top", o->top_abs, err, errlen) < 0)
		return -1;
	return 0;
}

void cn_free_options(struct cn_options *o)
{
	for (size_t i = 0; i < o->net_count; i++)
		free(o->nets[i].spec);
	o->net_count = 0;
	free(o->env);
	o->env = NULL;
	o->env_count = 0;
}
