/* test_containode.c - containode's command line (options.c: every option,
 * commander's messages, identities, IPv4 and MTU parsing, paths), its JSON
 * (json.c), --net and --route, the retry pauses (attach.c), and the client side's checks of a
 * tap's addresses and MAC (ifaddr.c, tapdev.c: refused before anything is
 * made, so no privilege is needed). Run by test/core-unit.test.ts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "attach.h"
#include "ifaddr.h"
#include "json.h"
#include "options.h"
#include "tapdev.h"
#include "unit.h"

/** The numeric value of base62 identity @id, or UINT64_MAX+overflow flagged via *@big. */
static uint64_t base62_value(const char *id, int *big)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned __int128 n = 0;
	for (const char *p = id; *p; p++)
		n = n * 62 + (unsigned)(strchr(digits, *p) - digits);
	*big = n > UINT64_MAX;
	return (uint64_t)n;
}

/** Random identities: 11 base62 digits, at most 64 bits, valid, distinct, every position varying. */
static void test_identity_random(void)
{
	enum { N = 2000 };
	static char ids[N][12];
	int seen[11][128] = {{0}};
	char err[256];
	for (int i = 0; i < N; i++) {
		int big;
		CHECK(cn_random_identity(ids[i]) == 0);
		CHECK(strlen(ids[i]) == 11);
		(void)base62_value(ids[i], &big);
		CHECK(!big);
		CHECK(cn_check_identity(ids[i], err, sizeof err) == 0);
		for (int k = 0; k < 11; k++)
			seen[k][(unsigned char)ids[i][k]]++;
	}
	int dups = 0;
	for (int i = 0; i < N; i++)
		for (int k = i + 1; k < N; k++)
			dups += strcmp(ids[i], ids[k]) == 0;
	CHECK(dups == 0);
	for (int k = 1; k < 11; k++) {
		int kinds = 0;
		for (int c = 0; c < 128; c++)
			kinds += seen[k][c] > 0;
		CHECK(kinds > 40);
	}
	/* 2^64 < 22 * 62^10: the first digit is 0..L */
	for (int c = 0; c < 128; c++)
		if (seen[0][c])
			CHECK((c >= '0' && c <= '9') || (c >= 'A' && c <= 'L'));
}

/** cn_identity_of: fixed values, leading zeros kept. */
static void test_identity_of(void)
{
	char id[12];
	int big;
	cn_identity_of(0, id);
	CHECK(strcmp(id, "00000000000") == 0);
	cn_identity_of(61, id);
	CHECK(strcmp(id, "0000000000z") == 0);
	cn_identity_of(62, id);
	CHECK(strcmp(id, "00000000010") == 0);
	cn_identity_of(UINT64_MAX, id);
	CHECK(strcmp(id, "LygHa16AHYF") == 0);
	CHECK(base62_value(id, &big) == UINT64_MAX && !big);
}

/** cn_check_identity: what a hostname label takes, nothing else. */
static void test_identity_check(void)
{
	char err[256], sixty3[64], sixty4[65];
	memset(sixty3, 'x', 63);
	sixty3[63] = 0;
	memset(sixty4, 'x', 64);
	sixty4[64] = 0;
	const char *ok[] = {"a", "Z", "7", "node-1", "A1b2C3", sixty3, "0-0"};
	const char *bad[] = {"", "-a", "abc-", sixty4, "a_b", "a.b", "a b", "a/b", "caf\xc3\xa9", "a\n", "a:b", "a@b"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		CHECK(cn_check_identity(ok[i], err, sizeof err) == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(cn_check_identity(bad[i], err, sizeof err) < 0);
		CHECK(strstr(err, "must be 1-63 letters, digits or '-', starting and ending with a letter or digit") != NULL);
	}
	cn_check_identity("bad_id", err, sizeof err);
	CHECK(strcmp(err, "identity \"bad_id\" must be 1-63 letters, digits or '-', starting and ending with a letter or digit") == 0);
}

/** Parse @arg and check the address and prefix. */
static void ipv4_is(const char *arg, const char *addr, int prefix)
{
	char a[CN_IPV4_LEN], err[256];
	int p = -1;
	CHECK(cn_parse_ipv4(arg, a, &p, err, sizeof err) == 0);
	CHECK(strcmp(a, addr) == 0);
	CHECK(p == prefix);
}

/** Parse @arg, expecting the failure message that contains @msg. */
static void ipv4_bad(const char *arg, const char *msg)
{
	char a[CN_IPV4_LEN], err[256];
	int p;
	CHECK(cn_parse_ipv4(arg, a, &p, err, sizeof err) < 0);
	CHECK(strstr(err, msg) != NULL);
}

/** cn_parse_ipv4: explicit prefixes, the class defaults, and every refusal. */
static void test_ipv4(void)
{
	ipv4_is("10.0.0.2/24", "10.0.0.2", 24);
	ipv4_is("192.168.1.7/16", "192.168.1.7", 16);
	ipv4_is("172.16.0.1/0", "172.16.0.1", 0);
	ipv4_is("1.2.3.4/32", "1.2.3.4", 32);
	ipv4_is("224.0.0.1/4", "224.0.0.1", 4);
	ipv4_is("010.001.000.002", "10.1.0.2", 8);
	const struct { const char *a; int p; } cls[] = {
		{"0.0.0.1", 8}, {"10.0.0.2", 8}, {"127.0.0.1", 8}, {"128.0.0.1", 16}, {"172.16.5.4", 16},
		{"191.255.255.254", 16}, {"192.0.2.1", 24}, {"192.168.1.1", 24}, {"223.255.255.1", 24},
	};
	for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++)
		ipv4_is(cls[i].a, cls[i].a, cls[i].p);
	const char *de[] = {"224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255"};
	for (size_t i = 0; i < sizeof de / sizeof de[0]; i++)
		ipv4_bad(de[i], "is class D/E: give a prefix length");
	const char *malformed[] = {"", "10.0.0", "10.0.0.0.1", "10.0.0.1/", "10.0.0.1/24/8", "a.b.c.d", " 10.0.0.1",
				   "10.0.0.1 ", "10.0.0.-1", "10.0.0.1/-1", "10.0.0.1/100", "1000.0.0.1", "::1", "10.0.0.1/2a"};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
		ipv4_bad(malformed[i], "is not an IPv4 address (a.b.c.d or a.b.c.d/len)");
	ipv4_bad("256.0.0.1", "each part of an IPv4 address is 0 to 255");
	ipv4_bad("10.0.0.256", "each part of an IPv4 address is 0 to 255");
	ipv4_bad("10.300.0.1/8", "each part of an IPv4 address is 0 to 255");
	ipv4_bad("10.0.0.1/33", "prefix length must be 0 to 32");
	ipv4_bad("10.0.0.1/99", "prefix length must be 0 to 32");
}

/** cn_parse_mtu: JavaScript's Number() and the range. */
static void test_mtu(void)
{
	char err[64];
	int m;
	const struct { const char *s; int v; } ok[] = {
		{"68", 68}, {"65521", 65521}, {"1400", 1400}, {"1e3", 1000}, {"0x100", 256}, {" 1500 ", 1500},
		{"1500.0", 1500}, {"+1500", 1500}, {"0b1000100", 68}, {"0o3720", 2000}, {"1500.", 1500},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		m = 0;
		CHECK(cn_parse_mtu(ok[i].s, &m, err, sizeof err) == 0);
		CHECK(m == ok[i].v);
	}
	const char *bad[] = {"10", "67", "65522", "big", "", " ", "1500.5", "-1500", "0x", "1e", "Infinity", "NaN", "1_500", "15 00"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(cn_parse_mtu(bad[i], &m, err, sizeof err) < 0);
		CHECK(strcmp(err, "must be 68 to 65521") == 0);
	}
}

/** cn_check_env: KEY=VALUE with a shell-like key. */
static void test_env(void)
{
	char err[64];
	const char *ok[] = {"A=1", "_=", "FOO=bar baz", "a_1=x=y", "EMPTY="};
	const char *bad[] = {"NOEQUALS", "=x", "1A=x", "A-B=x", "", "A B=x"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		CHECK(cn_check_env(ok[i], err, sizeof err) == 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(cn_check_env(bad[i], err, sizeof err) < 0);
		CHECK(strcmp(err, "must be KEY=VALUE") == 0);
	}
}

/** Parse the NULL-terminated @args (after "containode") into @o. */
static enum cn_parse_result parse(struct cn_options *o, char *err, const char *token, const char **args)
{
	static char *argv[64];
	int argc = 0;
	argv[argc++] = "containode";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return cn_parse_options(argc, argv, token, o, err, 512);
}

/** Parse @args expecting a command-line error equal to @msg. */
static void parse_error(const char **args, const char *msg)
{
	struct cn_options o;
	char err[512] = "";
	CHECK(parse(&o, err, NULL, args) == CN_PARSE_ERROR);
	CHECK(strcmp(err, msg) == 0);
	if (strcmp(err, msg) != 0)
		fprintf(stderr, "  got: %s\n  want: %s\n", err, msg);
	cn_free_options(&o);
}

/** The command line: defaults, every option, combinations and commander's errors. */
static void test_parse(void)
{
	struct cn_options o;
	char err[512];

	CHECK(parse(&o, err, NULL, (const char *[]){"--", "/bin/true", NULL}) == CN_PARSE_RUN);
	CHECK(o.socket == NULL && !o.has_ipv4 && o.root == NULL && o.top == NULL && o.identity[0] == 0);
	CHECK(!o.keep_net && !o.keep_ipc && o.lan == NULL && strcmp(o.ifname, "eth0") == 0 && o.mtu == 64000);
	CHECK(o.env_count == 0 && o.authtoken == NULL && strcmp(o.argv[0], "/bin/true") == 0 && o.argv[1] == NULL);
	cn_free_options(&o);

	CHECK(parse(&o, err, "tok", (const char *[]){"-s", "/x.sock", "-4", "10.1.2.3", "-r", "/r", "-t", "/t", "-i", "abc",
						     "-N", "-I", "-l", "blue", "--ifname", "net7", "--mtu", "1400", "-e",
						     "A=1", "--env", "B=2", "sh", "-c", "x", NULL}) == CN_PARSE_RUN);
	CHECK(strcmp(o.socket, "/x.sock") == 0 && o.has_ipv4 && strcmp(o.ipv4, "10.1.2.3") == 0 && o.prefix == 8);
	CHECK(strcmp(o.root, "/r") == 0 && strcmp(o.top, "/t") == 0 && strcmp(o.identity, "abc") == 0);
	CHECK(o.keep_net && o.keep_ipc && strcmp(o.lan, "blue") == 0 && strcmp(o.ifname, "net7") == 0 && o.mtu == 1400);
	CHECK(o.env_count == 2 && strcmp(o.env[0], "A=1") == 0 && strcmp(o.env[1], "B=2") == 0);
	CHECK(strcmp(o.authtoken, "tok") == 0);
	CHECK(strcmp(o.argv[0], "sh") == 0 && strcmp(o.argv[2], "x") == 0 && o.argv[3] == NULL);
	cn_free_options(&o);

	/* long forms, --opt=value, combined and attached short flags */
	CHECK(parse(&o, err, "env", (const char *[]){"--socket=/y", "--authtoken", "given", "-NIs/z", "--lan=", "p", NULL}) == CN_PARSE_RUN);
	CHECK(strcmp(o.socket, "/z") == 0 && o.keep_net && o.keep_ipc && strcmp(o.authtoken, "given") == 0);
	CHECK(o.lan != NULL && o.lan[0] == 0 && strcmp(o.argv[0], "p") == 0);
	cn_free_options(&o);
	/* options after PROGRAM are PROGRAM's; an option's value may start with '-' */
	CHECK(parse(&o, err, NULL, (const char *[]){"-l", "-x", "/bin/sh", "-c", "-i", NULL}) == CN_PARSE_RUN);
	CHECK(strcmp(o.lan, "-x") == 0 && strcmp(o.argv[0], "/bin/sh") == 0 && strcmp(o.argv[2], "-i") == 0);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"--", "--bogus", NULL}) == CN_PARSE_RUN);
	CHECK(strcmp(o.argv[0], "--bogus") == 0);
	cn_free_options(&o);

	/* help wins among the unknown, not after PROGRAM or before a bad value */
	CHECK(parse(&o, err, NULL, (const char *[]){"--help", NULL}) == CN_PARSE_HELP);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"-i", "ab", "-h", "--", "x", NULL}) == CN_PARSE_HELP);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"--bogus", "--help", NULL}) == CN_PARSE_HELP);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"true", "--help", NULL}) == CN_PARSE_RUN);
	cn_free_options(&o);
	CHECK(strncmp(cn_help_text, "Usage: containode [options] [--] PROGRAM [ARGS...]\n", 51) == 0);

	parse_error((const char *[]){"--bogus", NULL}, "error: unknown option '--bogus'");
	parse_error((const char *[]){"-x", "--", "true", NULL}, "error: unknown option '-x'");
	parse_error((const char *[]){"-V", NULL}, "error: unknown option '-V'");
	parse_error((const char *[]){"-Nx", NULL}, "error: unknown option '-x'");
	parse_error((const char *[]){"--keep", "--", "true", NULL}, "error: unknown option '--keep'\n(Did you mean --help?)");
	parse_error((const char *[]){"--sockt", "x", NULL}, "error: unknown option '--sockt'\n(Did you mean --socket?)");
	parse_error((const char *[]){"--keep-nett", NULL}, "error: unknown option '--keep-nett'\n(Did you mean --keep-net?)");
	parse_error((const char *[]){"--keep-ne", NULL}, "error: unknown option '--keep-ne'\n(Did you mean --keep-net?)");
	parse_error((const char *[]){"--keep-net=1", "true", NULL}, "error: unknown option '--keep-net=1'\n(Did you mean --keep-net?)");
	parse_error((const char *[]){"--mop", NULL}, "error: unknown option '--mop'\n(Did you mean --top?)");
	parse_error((const char *[]){"--keep-xxx", NULL}, "error: unknown option '--keep-xxx'\n(Did you mean one of --keep-ipc, --keep-net?)");
	parse_error((const char *[]){"--sock", "/x", "true", NULL}, "error: unknown option '--sock'\n(Did you mean --socket?)");
	parse_error((const char *[]){"-s", NULL}, "error: option '-s, --socket <path>' argument missing");
	parse_error((const char *[]){"--ifname", NULL}, "error: option '--ifname <name>' argument missing");
	parse_error((const char *[]){"--mtu", NULL}, "error: option '--mtu <bytes>' argument missing");
	parse_error((const char *[]){NULL}, "error: missing required argument 'program'");
	parse_error((const char *[]){"--", NULL}, "error: missing required argument 'program'");
	parse_error((const char *[]){"-Ntrue", NULL}, "error: missing required argument 'program'");
	parse_error((const char *[]){"-4", "1.2.3", "--", "true", NULL},
		    "error: option '-4, --ipv4 <addr[/len]>' argument '1.2.3' is invalid. \"1.2.3\" is not an IPv4 address (a.b.c.d or a.b.c.d/len)");
	parse_error((const char *[]){"-i", "-leading-dash", "--", "true", NULL},
		    "error: option '-i, --identity <id>' argument '-leading-dash' is invalid. identity \"-leading-dash\" must be 1-63 letters, digits or '-', starting and ending with a letter or digit");
	parse_error((const char *[]){"--mtu", "big", "--", "true", NULL}, "error: option '--mtu <bytes>' argument 'big' is invalid. must be 68 to 65521");
	parse_error((const char *[]){"-e", "NOEQUALS", "--", "true", NULL},
		    "error: option '-e, --env <KEY=VALUE>' argument 'NOEQUALS' is invalid. must be KEY=VALUE");
	/* a bad value before an unknown option is reported first */
	parse_error((const char *[]){"-4", "x", "--bogus", NULL},
		    "error: option '-4, --ipv4 <addr[/len]>' argument 'x' is invalid. \"x\" is not an IPv4 address (a.b.c.d or a.b.c.d/len)");
	parse_error((const char *[]){"--bogus", "-4", "x", NULL}, "error: unknown option '--bogus'");
}

/** --net and --route: every setting, defaults, and each kind of bad value. */
static void test_net_route(void)
{
	struct cn_options o;
	char err[512];

	CHECK(parse(&o, err, NULL, (const char *[]){"-s", "/x", "--net", "lan0,ip=10.0.0.1/24,ip=fd00::1/64,mtu=1400,mac=02:00:00:00:00:01",
						    "--net", ",ifname=up1", "--net", "b", "--route", "default,via=10.0.0.254",
						    "--route", "fd01::/64,via=fd00::2", "--ready-fd", "7", "true", NULL}) == CN_PARSE_RUN);
	CHECK(o.net_count == 3 && o.route_count == 2 && o.ready_fd == 7);
	CHECK(strcmp(o.nets[0].lan, "lan0") == 0 && strcmp(o.nets[0].ifname, "eth0") == 0 && o.nets[0].n_addrs == 2);
	CHECK(strcmp(o.nets[0].addrs[1], "fd00::1/64") == 0 && o.nets[0].mtu == 1400 && strcmp(o.nets[0].mac, "02:00:00:00:00:01") == 0);
	CHECK(o.nets[1].lan == NULL && strcmp(o.nets[1].ifname, "up1") == 0 && o.nets[1].n_addrs == 0 && o.nets[1].mtu == 0);
	CHECK(strcmp(o.nets[2].lan, "b") == 0 && strcmp(o.nets[2].ifname, "eth2") == 0 && o.nets[2].mac == NULL);
	CHECK(o.routes[0].family == AF_INET && o.routes[0].dst_len == 0 && o.routes[0].via[3] == 254);
	CHECK(o.routes[1].family == AF_INET6 && o.routes[1].dst_len == 64 && o.routes[1].dst[0] == 0xfd && o.routes[1].via[15] == 2);
	CHECK(cn_check_options(&o, err, sizeof err) == 0);
	cn_free_options(&o);
	/* without --ready-fd: none */
	CHECK(parse(&o, err, NULL, (const char *[]){"true", NULL}) == CN_PARSE_RUN);
	CHECK(o.ready_fd == -1 && o.net_count == 0 && o.route_count == 0);
	cn_free_options(&o);

	parse_error((const char *[]){"--net", "a,foo=1", "true", NULL},
		    "error: option '--net <spec>' argument 'a,foo=1' is invalid. \"foo\" is not a setting of an interface (LAN first, then ifname=, ip=, mtu=, mac=)");
	parse_error((const char *[]){"--net", "a,ip=10.0.0.300/24", "true", NULL},
		    "error: option '--net <spec>' argument 'a,ip=10.0.0.300/24' is invalid. address \"10.0.0.300/24\" is not an IPv4 or IPv6 address with a prefix length");
	parse_error((const char *[]){"--net", "a,mac=01:00:00:00:00:01", "true", NULL},
		    "error: option '--net <spec>' argument 'a,mac=01:00:00:00:00:01' is invalid. MAC 01:00:00:00:00:01 is not a unicast address");
	parse_error((const char *[]){"--net", "a,mtu=10", "true", NULL},
		    "error: option '--net <spec>' argument 'a,mtu=10' is invalid. mtu \"10\" must be 68 to 65521");
	parse_error((const char *[]){"--net", "a,ifname=way-too-long-name", "true", NULL},
		    "error: option '--net <spec>' argument 'a,ifname=way-too-long-name' is invalid. ifname \"way-too-long-name\" must be 1-15 characters without '/', ':', ',' or spaces");
	parse_error((const char *[]){"--net", "a", "--net", "b,ifname=eth0", "true", NULL},
		    "error: option '--net <spec>' argument 'b,ifname=eth0' is invalid. two interfaces named eth0");
	parse_error((const char *[]){"--route", "10.1.0.0/16", "true", NULL},
		    "error: option '--route <spec>' argument '10.1.0.0/16' is invalid. must be DST,via=ADDR (DST \"default\" or ADDR/LEN)");
	parse_error((const char *[]){"--route", "10.1.0.1/16,via=10.0.0.1", "true", NULL},
		    "error: option '--route <spec>' argument '10.1.0.1/16,via=10.0.0.1' is invalid. destination 10.1.0.1/16 has bits set past its prefix length");
	parse_error((const char *[]){"--route", "fd00::/8,via=10.0.0.1", "true", NULL},
		    "error: option '--route <spec>' argument 'fd00::/8,via=10.0.0.1' is invalid. destination fd00::/8 and gateway 10.0.0.1 are not of one family");
	parse_error((const char *[]){"--route", "default,via=nowhere", "true", NULL},
		    "error: option '--route <spec>' argument 'default,via=nowhere' is invalid. gateway \"nowhere\" is not an IPv4 or IPv6 address");
	parse_error((const char *[]){"--ready-fd", "1", "true", NULL},
		    "error: option '--ready-fd <n>' argument '1' is invalid. must be a file descriptor from 3 to 1023");
	parse_error((const char *[]){"--queues", "0", "true", NULL},
		    "error: option '--queues <n>' argument '0' is invalid. must be an integer from 1 to 8");
	CHECK(parse(&o, err, NULL, (const char *[]){"--queues", "3", "true", NULL}) == CN_PARSE_RUN);
	CHECK(o.queues == 3);
	cn_free_options(&o);
}

/** cn_check_options: options that do not fit together, and the root's paths. */
static void test_check(void)
{
	struct cn_options o;
	char err[512];
	const char *cases[][8] = {
		{"-t", "/tmp/top", "true", NULL},
		{"-4", "10.0.0.1/24", "true", NULL},
		{"-N", "-s", "/x.sock", "true", NULL},
		{"-r", "/no/such/root/dir", "true", NULL},
		{"-r", "/etc/passwd", "true", NULL},
		{"--net", "lan0", "true", NULL},
		{"-s", "/x.sock", "--net", "lan0", "-4", "10.0.0.1/24", "true", NULL},
		{"-s", "/x.sock", "--ifname", "e0", "--net", "lan0", "true", NULL},
		{"--route", "default,via=10.0.0.1", "true", NULL},
	};
	const char *want[] = {
		"-t needs -r (it holds the changes to that root)",
		"-4 needs -s (the address goes on the switch interface)",
		"-N keeps the host network: it cannot be combined with -s",
		"root /no/such/root/dir: ENOENT",
		"root /etc/passwd is not a directory",
		"--net needs -s (its interfaces go on the switch)",
		"--net replaces -4, -l and --ifname: give the interface's settings in its --net",
		"--net replaces -4, -l and --ifname: give the interface's settings in its --net",
		"--route needs -s (routes go through the switch interfaces)",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		CHECK(parse(&o, err, NULL, cases[i]) == CN_PARSE_RUN);
		CHECK(cn_check_options(&o, err, sizeof err) < 0);
		CHECK(strcmp(err, want[i]) == 0);
		cn_free_options(&o);
	}
	/* empty values count as not given; a random identity is picked */
	CHECK(parse(&o, err, "", (const char *[]){"-s", "", "-N", "true", NULL}) == CN_PARSE_RUN);
	CHECK(cn_check_options(&o, err, sizeof err) == 0);
	CHECK(o.socket == NULL && o.authtoken == NULL && strlen(o.identity) == 11);
	cn_free_options(&o);
	/* the default top is ROOT.IDENTITY, both absolute */
	CHECK(parse(&o, err, NULL, (const char *[]){"-r", "/tmp/", "-i", "n1", "true", NULL}) == CN_PARSE_RUN);
	CHECK(cn_check_options(&o, err, sizeof err) == 0);
	CHECK(strcmp(o.root_abs, "/tmp") == 0 && strcmp(o.top_abs, "/tmp.n1") == 0);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"-r", "/tmp", "-t", "/a/./b/../c//", "true", NULL}) == CN_PARSE_RUN);
	CHECK(cn_check_options(&o, err, sizeof err) == 0);
	CHECK(strcmp(o.top_abs, "/a/c") == 0);
	cn_free_options(&o);
	CHECK(parse(&o, err, NULL, (const char *[]){"-r", "/tmp", "-t", "/a,b", "true", NULL}) == CN_PARSE_RUN);
	CHECK(cn_check_options(&o, err, sizeof err) < 0);
	CHECK(strstr(err, "must not contain ','") != NULL);
	cn_free_options(&o);
}

/** cn_resolve_path: Node's path.resolve, lexically. */
static void test_resolve(void)
{
	char out[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX + 8];
	const struct { const char *in, *out; } abs[] = {
		{"/", "/"}, {"/a/b/", "/a/b"}, {"//a//b", "/a/b"}, {"/a/../..", "/"}, {"/a/./b/.", "/a/b"}, {"/a/b/../c", "/a/c"},
	};
	for (size_t i = 0; i < sizeof abs / sizeof abs[0]; i++) {
		CHECK(cn_resolve_path(abs[i].in, out, sizeof out) == 0);
		CHECK(strcmp(out, abs[i].out) == 0);
	}
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	snprintf(want, sizeof want, "%s/x", strcmp(cwd, "/") == 0 ? "" : cwd);
	CHECK(cn_resolve_path("./x/", out, sizeof out) == 0);
	CHECK(strcmp(out, want) == 0);
}

/** The JSON of requests and replies. */
static void test_json(void)
{
	char buf[128], err[64];
	struct cn_json j;
	cn_json_init(&j, buf, sizeof buf);
	cn_json_raw(&j, "{\"a\":");
	cn_json_str(&j, "q\"b\\s\n\x01\xc3\xa9");
	cn_json_raw(&j, ",\"n\":");
	cn_json_int(&j, -42);
	cn_json_raw(&j, "}");
	CHECK(!j.overflow);
	CHECK(strcmp(buf, "{\"a\":\"q\\\"b\\\\s\\u000a\\u0001\xc3\xa9\",\"n\":-42}") == 0);
	char tiny[8];
	cn_json_init(&j, tiny, sizeof tiny);
	cn_json_str(&j, "too long for it");
	CHECK(j.overflow);

	CHECK(cn_json_reply_error("{}", err, sizeof err) == 0);
	CHECK(cn_json_reply_error(" { } ", err, sizeof err) == 0);
	CHECK(cn_json_reply_error("{\"ok\":true,\"list\":[1,{\"error\":\"x\"}]}", err, sizeof err) == 0);
	CHECK(cn_json_reply_error("{\"error\":\"no lan named \\\"blue\\\"\"}", err, sizeof err) == 1);
	CHECK(strcmp(err, "no lan named \"blue\"") == 0);
	CHECK(cn_json_reply_error("{\"a\":{\"b\":\"}\"},\"error\":\"caf\\u00e9 \\ud83d\\ude00\"}", err, sizeof err) == 1);
	CHECK(strcmp(err, "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0);
	CHECK(cn_json_reply_error("[]", err, sizeof err) < 0);
	CHECK(cn_json_reply_error("\"error\"", err, sizeof err) < 0);
	CHECK(cn_json_reply_error("{\"error\":", err, sizeof err) < 0);
	CHECK(cn_json_reply_error("", err, sizeof err) < 0);

	/* An integer member: the daemon's threads in its version reply. */
	long long v = 0;
	CHECK(cn_json_reply_int("{\"version\":\"0.1.0\",\"verbs\":[\"add-lan\",\"version\"],\"threads\":2}", "threads", &v) == 1);
	CHECK(v == 2);
	CHECK(cn_json_reply_int("{\"a\":{\"threads\":5}, \"threads\" : 7 }", "threads", &v) == 1 && v == 7);
	CHECK(cn_json_reply_int("{\"version\":\"1\"}", "threads", &v) == 0);
	CHECK(cn_json_reply_int("{\"threads\":\"2\"}", "threads", &v) == 0);
	CHECK(cn_json_reply_int("{\"threads\":2.5}", "threads", &v) == 0);
	CHECK(cn_json_reply_int("[2]", "threads", &v) < 0);
}

/** The retry pauses: 5 ms doubling to 500 ms, jitter in the upper half; the deadline's variable. */
static void test_backoff(void)
{
	CHECK(cn_retry_delay_ms(0, 0) == 2 && cn_retry_delay_ms(0, 1) == 5);
	CHECK(cn_retry_delay_ms(1, 1) == 10 && cn_retry_delay_ms(2, 1) == 20);
	CHECK(cn_retry_delay_ms(6, 1) == 320 && cn_retry_delay_ms(7, 1) == 500 && cn_retry_delay_ms(50, 1) == 500);
	CHECK(cn_retry_delay_ms(50, 0) == 250);
	for (int a = 0; a < 20; a++)
		for (double x = 0; x < 1; x += 0.125) {
			long d = cn_retry_delay_ms(a, x);
			CHECK(d >= 2 && d <= 500 && d <= cn_retry_delay_ms(a, 1) && d >= cn_retry_delay_ms(a, 0));
		}
	unsetenv(CN_ATTACH_TIMEOUT_ENV);
	CHECK(cn_attach_timeout_ms() == 60000);
	setenv(CN_ATTACH_TIMEOUT_ENV, "2.5", 1);
	CHECK(cn_attach_timeout_ms() == 2500);
	setenv(CN_ATTACH_TIMEOUT_ENV, "soon", 1);
	CHECK(cn_attach_timeout_ms() == 60000);
	setenv(CN_ATTACH_TIMEOUT_ENV, "-1", 1);
	CHECK(cn_attach_timeout_ms() == 60000);
	unsetenv(CN_ATTACH_TIMEOUT_ENV);
}

/** Run every test of containode's parsing and JSON. */
/** "ADDR/PREFIX" of both families parses; anything else is refused with the text named. */
static void test_ifaddr_parse(void)
{
	char err[200];
	struct ctn_ifaddr a;
	CHECK(ctn_ifaddr_parse("10.1.2.3/24", &a, err, sizeof err) == 0);
	CHECK(a.family == AF_INET && a.prefix == 24 && a.addr[0] == 10 && a.addr[3] == 3);
	CHECK(ctn_ifaddr_parse("fd00::1/64", &a, err, sizeof err) == 0);
	CHECK(a.family == AF_INET6 && a.prefix == 64 && a.addr[0] == 0xfd && a.addr[15] == 1);
	CHECK(ctn_ifaddr_parse("::ffff:10.0.0.1/128", &a, err, sizeof err) == 0);
	CHECK(a.family == AF_INET6 && a.prefix == 128);
	const char *bad[] = {"10.1.2.3", "10.1.2.3/", "10.1.2.3/33", "10.1.2.3/-1", "10.1.2.3/24x", "/24",
			     "10.1.2/24", "fd00::1/129", "fd00:::1/64", "fe80::1%eth0/64", "host/24"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(ctn_ifaddr_parse(bad[i], &a, err, sizeof err) < 0);
		CHECK(strstr(err, bad[i]) != NULL);
	}
}

/** ctn_tap_create refuses bad addresses and MACs before it makes anything. */
static void test_tap_checks(void)
{
	char err[256];
	const char *addrs[] = {"10.0.0.1/24", "10.0.0.1/40"};
	struct ctn_tap_req r = {.ifname = "ctnunit0", .exclusive = true, .addrs = addrs, .n_addrs = 2};
	CHECK(ctn_tap_create(&r, err, sizeof err) < 0);
	CHECK(strstr(err, "10.0.0.1/40") != NULL);
	r.n_addrs = 1;
	const char *macs[] = {"02:00:00:00:00", "01:00:5e:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00:0g",
			      "02:00:00:00:00:01:02", "2:0:0:0:0:1"};
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		r.mac = macs[i];
		CHECK(ctn_tap_create(&r, err, sizeof err) < 0);
		CHECK(strstr(err, macs[i]) != NULL);
	}
	r.mac = NULL;
	r.ifname = "0123456789abcdef";
	CHECK(ctn_tap_create(&r, err, sizeof err) < 0);
	CHECK(strstr(err, "1 to 15 characters") != NULL);
}

int main(void)
{
	RUN(test_identity_random);
	RUN(test_identity_of);
	RUN(test_identity_check);
	RUN(test_ipv4);
	RUN(test_mtu);
	RUN(test_env);
	RUN(test_parse);
	RUN(test_net_route);
	RUN(test_check);
	RUN(test_resolve);
	RUN(test_json);
	RUN(test_backoff);
	RUN(test_ifaddr_parse);
	RUN(test_tap_checks);
	return unit_report("containode-unit-tests");
}
