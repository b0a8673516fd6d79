/* test_attr.c - unit tests of attr.c: a kind's settings filled from named values
 * by its policy, and every refusal named. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "unit.h"

/** A settings struct with a field of every type. */
struct cfg {
	bool flag;
	uint16_t port;
	uint32_t count;
	uint64_t big;
	uint64_t ns; /* given in microseconds */
	double pct;
	int fd;
	char name[8];
	struct in_addr addr;
	bool group;
	double group_a, group_b;
};

static const struct ctn_attr_policy policy[] = {
	{.name = "flag", .type = CTN_ATTR_BOOL, .offset = offsetof(struct cfg, flag)},
	{.name = "port", .type = CTN_ATTR_U16, .offset = offsetof(struct cfg, port)},
	{.name = "count", .type = CTN_ATTR_U32, .offset = offsetof(struct cfg, count), .max = 100, .required = true},
	{.name = "big", .type = CTN_ATTR_U64, .offset = offsetof(struct cfg, big)},
	{.name = "us", .type = CTN_ATTR_U64, .offset = offsetof(struct cfg, ns), .scale = 1000},
	{.name = "pct", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct cfg, pct), .max = 100},
	{.name = "fd", .type = CTN_ATTR_FD, .offset = offsetof(struct cfg, fd)},
	{.name = "name", .type = CTN_ATTR_STR, .offset = offsetof(struct cfg, name), .size = sizeof(((struct cfg *)0)->name)},
	{.name = "addr", .type = CTN_ATTR_IPV4, .offset = offsetof(struct cfg, addr)},
	{.name = "g", .type = CTN_ATTR_PRESENT, .offset = offsetof(struct cfg, group)},
	{.name = "g.a", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct cfg, group_a)},
	{.name = "g.b", .type = CTN_ATTR_DOUBLE, .offset = offsetof(struct cfg, group_b)},
	{0},
};

/** A number value. */
static struct ctn_attr num(const char *name, double v)
{
	return (struct ctn_attr){.name = name, .type = CTN_VAL_NUM, .num = v};
}

/** A boolean value. */
static struct ctn_attr boolean(const char *name, bool v)
{
	return (struct ctn_attr){.name = name, .type = CTN_VAL_BOOL, .b = v};
}

/** A string value. */
static struct ctn_attr string(const char *name, const char *v)
{
	return (struct ctn_attr){.name = name, .type = CTN_VAL_STR, .str = v};
}

static char err[256];

/** Parse @n values into @c; returns what ctn_attrs_parse returned. */
static int parse(const struct ctn_attr *a, uint32_t n, struct cfg *c)
{
	err[0] = 0;
	memset(c, 0xa5, sizeof(*c)); /* must be zeroed by the parse */
	return ctn_attrs_parse("kind", policy, a, n, c, sizeof(*c), err, sizeof(err));
}

/** Every type is filled, and what is not given is zero. */
static void test_fills_every_type(void)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	struct ctn_attr a[] = {
		boolean("flag", true), num("port", 65535),  num("count", 100),      num("big", 9007199254740992.0),
		num("us", 2.5),        num("pct", 0.5),     num("fd", fds[0]),      string("name", "abcdefg"),
		string("addr", "10.0.2.15"),
	};
	struct cfg c;
	CHECK(parse(a, sizeof(a) / sizeof(a[0]), &c) == 0);
	CHECK(c.flag);
	CHECK(c.port == 65535);
	CHECK(c.count == 100);
	CHECK(c.big == 9007199254740992ull);
	CHECK(c.ns == 2500);
	CHECK(c.pct == 0.5);
	CHECK(c.fd == fds[0]);
	CHECK(strcmp(c.name, "abcdefg") == 0);
	CHECK(c.addr.s_addr == htonl(0x0a00020f));
	CHECK(!c.group && c.group_a == 0 && c.group_b == 0);
	close(fds[0]);
	close(fds[1]);
}

/** A member of a nested object sets its group's presence flag. */
static void test_group_presence(void)
{
	struct ctn_attr a[] = {num("count", 1), num("g.b", 7)};
	struct cfg c;
	CHECK(parse(a, 2, &c) == 0);
	CHECK(c.group && c.group_b == 7 && c.group_a == 0);
	struct ctn_attr g[] = {num("count", 1), num("g", 1)};
	CHECK(parse(g, 2, &c) < 0);
	CHECK(strstr(err, "\"g\"") != NULL);
}

/** An fd not given is -1, never 0 (standard input): the engine copies and
 *  closes only the fds given. */
static void test_absent_fd(void)
{
	struct ctn_attr a[] = {num("count", 1)};
	struct cfg c;
	CHECK(parse(a, 1, &c) == 0);
	CHECK(c.fd == -1);
	CHECK(c.count == 1);
}

/** Each refusal names the setting and what is wrong. */
static void test_refusals(void)
{
	static const struct {
		struct ctn_attr a;
		const char *says;
	} bad[] = {
		{{.name = "colour", .type = CTN_VAL_STR, .str = "red"}, "unknown setting \"colour\" (known: flag, port, count"},
		{{.name = "flag", .type = CTN_VAL_NUM, .num = 1}, "\"flag\" must be true or false"},
		{{.name = "port", .type = CTN_VAL_NUM, .num = 65536}, "\"port\" must be an integer from 0 to 65535"},
		{{.name = "port", .type = CTN_VAL_NUM, .num = -1}, "\"port\""},
		{{.name = "port", .type = CTN_VAL_NUM, .num = 1.5}, "an integer"},
		{{.name = "port", .type = CTN_VAL_STR, .str = "80"}, "\"port\""},
		{{.name = "big", .type = CTN_VAL_NUM, .num = 1e300}, "\"big\""},
		{{.name = "us", .type = CTN_VAL_NUM, .num = -0.5}, "\"us\" must be a number"},
		{{.name = "pct", .type = CTN_VAL_NUM, .num = 100.5}, "\"pct\" must be a number from 0 to 100"},
		{{.name = "name", .type = CTN_VAL_STR, .str = "abcdefgh"}, "\"name\" is longer than 7 bytes"},
		{{.name = "name", .type = CTN_VAL_STR, .str = ""}, "\"name\" must be a non-empty string"},
		{{.name = "addr", .type = CTN_VAL_STR, .str = "10.0.2"}, "\"addr\" must be a dotted IPv4 address"},
		{{.name = "fd", .type = CTN_VAL_NUM, .num = 987654}, "fd 987654 is not open"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctn_attr a[] = {num("count", 1), bad[i].a};
		struct cfg c;
		CHECK(parse(a, 2, &c) < 0);
		CHECK(strncmp(err, "kind: ", 6) == 0);
		if (!strstr(err, bad[i].says))
			fprintf(stderr, "  case %zu said: %s\n", i, err);
		CHECK(strstr(err, bad[i].says) != NULL);
	}
	struct ctn_attr twice[] = {num("count", 1), num("count", 2)};
	struct cfg c;
	CHECK(parse(twice, 2, &c) < 0);
	CHECK(strstr(err, "\"count\" given twice") != NULL);
	struct ctn_attr none[] = {boolean("flag", false)};
	CHECK(parse(none, 1, &c) < 0);
	CHECK(strstr(err, "\"count\" is required") != NULL);
	struct ctn_attr over[] = {num("count", 101)};
	CHECK(parse(over, 1, &c) < 0);
	CHECK(strstr(err, "from 0 to 100") != NULL);
}

/** An empty policy takes nothing and refuses anything. */
static void test_empty_policy(void)
{
	static const struct ctn_attr_policy nothing[] = {{0}};
	char out[1];
	CHECK(ctn_attrs_parse("link", nothing, NULL, 0, out, 0, err, sizeof(err)) == 0);
	struct ctn_attr a[] = {num("x", 1)};
	CHECK(ctn_attrs_parse("link", nothing, a, 1, out, 0, err, sizeof(err)) < 0);
	CHECK(strstr(err, "link: unknown setting \"x\" (known: none)") != NULL);
}

int main(void)
{
	RUN(test_fills_every_type);
	RUN(test_group_presence);
	RUN(test_absent_fd);
	RUN(test_refusals);
	RUN(test_empty_policy);
	return unit_report("attr");
}
