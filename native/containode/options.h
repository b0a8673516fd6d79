/* options.h - containode's command line: every option, its default, and the
 * messages and exit statuses of the original TypeScript CLI (commander), kept
 * word for word:
 *
 *   error: unknown option '--bogus'                              exit 1
 *   error: option '-s, --socket <path>' argument missing         exit 1
 *   error: option '--mtu <bytes>' argument '10' is invalid. ...   exit 1
 *   error: missing required argument 'program'                   exit 1
 *   --help / -h: the help text on stdout                         exit 0
 *   containode: <reason>   (options that do not fit together)    exit 125
 *
 * Parsing follows commander's rules: options come before PROGRAM (everything
 * from the first operand on is PROGRAM's), `--` ends them, short flags combine
 * (-NI, -s/x), long ones take `--opt=value`, an option's value is the next
 * argument whatever it looks like, no abbreviations; an unknown option makes
 * the rest unknown too, and -h/--help anywhere among them wins.
 */
#ifndef CN_OPTIONS_H
#define CN_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route.h"

/** Exit status of containode when the container could not be set up. */
#define CN_EXIT_SETUP 125
/** Exit status of a command-line error (commander's). */
#define CN_EXIT_USAGE 1

/** Characters of an identity (11 base62 digits = 64 bits) plus the NUL. */
#define CN_IDENTITY_RANDOM_LEN 11
/** Longest identity (a hostname label) plus the NUL. */
#define CN_IDENTITY_MAX 64
/** Room for a dotted IPv4 address and its NUL. */
#define CN_IPV4_LEN 16

/** Most --net interfaces, addresses of one, and --route routes. */
#define CN_NETS_MAX 16
#define CN_NET_ADDRS_MAX 8
#define CN_ROUTES_MAX 32
/** Room for an interface name (IFNAMSIZ) and its NUL. */
#define CN_IFNAME_LEN 16

/** One --net LAN[,ifname=NAME][,ip=CIDR]...[,mtu=N][,mac=MAC]: an interface. */
struct cn_net {
	char *spec;                /**< the option's value, copied and cut at its commas (malloc) */
	const char *lan;           /**< lan to join, NULL: the daemon's default */
	char ifname[CN_IFNAME_LEN]; /**< ifname=, default ethN (N: its place among the --net) */
	const char *addrs[CN_NET_ADDRS_MAX]; /**< ip=, each ADDR/LEN, IPv4 or IPv6 */
	int n_addrs;
	int mtu;                   /**< mtu=, 0: --mtu's */
	const char *mac;           /**< mac=, NULL: the kernel's random one */
};

/** Everything containode was asked to do. Strings point into argv or the
 *  environment unless they are arrays here. */
struct cn_options {
	const char *socket;          /**< -s: switch socket; NULL: no interface */
	bool has_ipv4;               /**< -4 given */
	char ipv4[CN_IPV4_LEN];      /**< -4: the address, normalised (no leading zeros) */
	int prefix;                  /**< -4: prefix length, given or the class default */
	const char *root;            /**< -r as given, NULL: the host's files */
	const char *top;             /**< -t as given, NULL: ROOT.IDENTITY */
	char identity[CN_IDENTITY_MAX]; /**< -i, or 11 random base62 digits */
	bool keep_net;               /**< -N */
	bool keep_ipc;               /**< -I */
	const char *lan;             /**< -l, NULL: the daemon's default lan */
	const char *ifname;          /**< --ifname, default "eth0" */
	bool ifname_given;           /**< --ifname was given */
	int mtu;                     /**< --mtu, 68..65521, default 64000 */
	int queues;                  /**< --queues, 1..8; 0 (default): one per worker thread of the daemon */
	char **env;                  /**< -e KEY=VALUE strings, env_count of them */
	size_t env_count;
	const char *authtoken;       /**< --authtoken, default $CONTAINET_AUTHTOKEN; NULL: none */
	struct cn_net nets[CN_NETS_MAX]; /**< --net, in order: the interfaces (none: -s makes one from -l, -4, --ifname) */
	size_t net_count;
	struct ctn_route routes[CN_ROUTES_MAX]; /**< --route, in order */
	size_t route_count;
	int ready_fd;                /**< --ready-fd, -1: none */
	char **argv;                 /**< PROGRAM and its arguments, NULL-terminated */
	char root_abs[PATH_MAX];     /**< after cn_check_options: -r made absolute, "" without -r */
	char top_abs[PATH_MAX];      /**< after cn_check_options: -t (or ROOT.IDENTITY) made absolute */
};

/** What the command line asks for. */
enum cn_parse_result {
	CN_PARSE_RUN,   /**< run PROGRAM: the options are filled */
	CN_PARSE_HELP,  /**< print cn_help_text on stdout, exit 0 */
	CN_PARSE_ERROR, /**< print the message on stderr, exit CN_EXIT_USAGE */
};

/** The --help text, as commander printed it for an 80-column output. */
extern const char cn_help_text[];

/** Parse @argc/@argv into @o (argv is kept: @o points into it; -e strings go
 *  to an array of argc entries from malloc, freed with cn_free_options).
 *  @authtoken_env is $CONTAINET_AUTHTOKEN (or NULL). On CN_PARSE_ERROR, @err
 *  holds the whole message ("error: ..."). */
enum cn_parse_result cn_parse_options(int argc, char **argv, const char *authtoken_env, struct cn_options *o, char *err,
				      size_t errlen);

/** Check that the options of @o fit together and that -r is a directory,
 *  resolve the root and top directories, and pick the random identity when
 *  none was given. Returns 0, or -1 with the reason (printed after
 *  "containode: ", exit 125) in @err. */
int cn_check_options(struct cn_options *o, char *err, size_t errlen);

/** Free what cn_parse_options allocated. */
void cn_free_options(struct cn_options *o);

/** Parse an IPv4 address `a.b.c.d[/len]` into @addr (dotted, normalised) and
 *  @prefix; without a length the class default (A /8, B /16, C /24; D and E
 *  need a length). Returns 0, or -1 with the reason in @err. */
int cn_parse_ipv4(const char *arg, char addr[CN_IPV4_LEN], int *prefix, char *err, size_t errlen);

/** Whether @id works as a hostname and inside a port name: 1-63 letters, digits
 *  or '-', starting and ending with a letter or digit. Returns 0, or -1 with
 *  the reason in @err. */
int cn_check_identity(const char *id, char *err, size_t errlen);

/** Parse an MTU as JavaScript's Number() would read it (decimal, exponent,
 *  0x/0o/0b, surrounding white space) and check 68..65521. Returns 0, or -1
 *  with the reason in @err. */
int cn_parse_mtu(const char *arg, int *mtu, char *err, size_t errlen);

/** Parse the --net value @arg as interface number @index (for its default
 *  name) into @n, whose names must differ from those of the @prev before it.
 *  Returns 0, or -1 with the reason in @err (@n holds nothing to free then). */
int cn_parse_net(const char *arg, size_t index, const struct cn_net *prev, struct cn_net *n, char *err, size_t errlen);

/** Parse the --route value @arg ("default" or ADDR/LEN, then ",via=ADDR")
 *  into @r. Returns 0, or -1 with the reason in @err. */
int cn_parse_route(const char *arg, struct ctn_route *r, char *err, size_t errlen);

/** Whether @arg is KEY=VALUE with a KEY of letters, digits and '_', not starting
 *  with a digit. Returns 0, or -1 with the reason in @err. */
int cn_check_env(const char *arg, char *err, size_t errlen);

/** Write @n as 11 base62 digits (0-9, A-Z, a-z; most significant first, with
 *  leading zeros) and a NUL into @out. */
void cn_identity_of(uint64_t n, char out[CN_IDENTITY_RANDOM_LEN + 1]);

/** 64 random bits (getrandom) as an identity into @out. Returns 0, or -1 with errno set. */
int cn_random_identity(char out[CN_IDENTITY_RANDOM_LEN + 1]);

/** commander's "did you mean" for the unknown option @flag: "\n(Did you mean
 *  --x?)", "\n(Did you mean one of --x, --y?)" or "" into @out. */
void cn_suggest_option(const char *flag, char *out, size_t cap);

/** Make @path absolute and lexically normal (as Node's path.resolve: relative
 *  to the working directory, "." and ".." folded, no trailing '/') into @out.
 *  Returns 0, or -1 with errno set. */
int cn_resolve_path(const char *path, char *out, size_t cap);

#endif
