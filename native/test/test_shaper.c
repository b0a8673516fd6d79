/* test_shaper.c - unit tests of the link emulator's decisions and timing
 * (shaper.c): serialization at a rate, delay, jitter distributions and order,
 * loss (independent and Gilbert-Elliott) against their expected rates,
 * duplication, reordering, corruption, reproducibility with a seed, and
 * settings changed mid-stream. Prints one line per failed check; exits 1 if any. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "shaper.h"

static int failures, checks;

/** Record one check. */
#define CHECK(cond, ...)                                                                                     \
	do {                                                                                                 \
		checks++;                                                                                    \
		if (!(cond)) {                                                                               \
			failures++;                                                                          \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                          \
			printf(__VA_ARGS__);                                                                 \
			printf("\n");                                                                        \
		}                                                                                            \
	} while (0)

/** A shaper with @p (seeded with @seed). */
static void make(struct ctn_shaper *s, struct ctn_shaper_params p, uint64_t seed)
{
	ctn_shaper_init(s, seed);
	if (!p.limit_pkts)
		p.limit_pkts = 1000;
	if (!p.limit_bytes)
		p.limit_bytes = 16u << 20;
	p.seed = seed;
	ctn_shaper_set(s, &p);
}

/** Serialization: back-to-back frames leave one wire time apart, and an idle link restarts at arrival. */
static void test_rate(void)
{
	struct ctn_shaper s;
	make(&s, (struct ctn_shaper_params){.rate_bps = 10000000}, 1);
	struct ctn_verdict v;
	uint64_t t = 1000000000;
	for (int i = 0; i < 100; i++) {
		ctn_shaper_decide(&s, t, 1250, 14, &v); /* 10000 bits = 1 ms at 10 Mbit/s */
		CHECK(v.copies == 1 && v.depart_ns[0] == t + (uint64_t)(i + 1) * 1000000, "frame %d leaves at %llu", i,
		      (unsigned long long)(v.depart_ns[0] - t));
	}
	/* After the link drained, a frame leaves one wire time after it arrives. */
	uint64_t later = t + 1000000000;
	ctn_shaper_decide(&s, later, 125, 14, &v); /* 1000 bits = 100 us */
	CHECK(v.depart_ns[0] == later + 100000, "idle link: %llu", (unsigned long long)(v.depart_ns[0] - later));
	/* A 64 KiB frame at 1 Mbit/s takes 524 ms. */
	make(&s, (struct ctn_shaper_params){.rate_bps = 1000000}, 1);
	ctn_shaper_decide(&s, t, 65536, 14, &v);
	CHECK(v.depart_ns[0] - t == 524288000, "64 KiB at 1 Mbit/s: %llu ns", (unsigned long long)(v.depart_ns[0] - t));
}

/** Delay alone, then uniform and normal jitter: mean, spread, bounds, order kept. */
static void test_delay_jitter(void)
{
	struct ctn_shaper s;
	struct ctn_verdict v;
	make(&s, (struct ctn_shaper_params){.delay_ns = 20000000}, 2);
	ctn_shaper_decide(&s, 5, 100, 14, &v);
	CHECK(v.depart_ns[0] == 20000005, "delay only: %llu", (unsigned long long)v.depart_ns[0]);
	CHECK(ctn_shaper_delay_only(&s.p), "delay only is delay only");

	/* Uniform: frames far apart (no reordering pressure), delay 10 ms +- 2 ms. */
	for (int dist = 0; dist < 2; dist++) {
		make(&s, (struct ctn_shaper_params){.delay_ns = 10000000, .jitter_ns = 2000000, .dist = (uint8_t)dist}, 3);
		double sum = 0, sum2 = 0, lo = 1e18, hi = 0;
		int n = 20000;
		for (int i = 0; i < n; i++) {
			uint64_t t = (uint64_t)i * 100000000; /* 100 ms apart */
			ctn_shaper_decide(&s, t, 100, 14, &v);
			double d = (double)(v.depart_ns[0] - t);
			sum += d;
			sum2 += d * d;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
		CHECK(fabs(mean - 10e6) < 0.05e6, "dist %d: mean %.0f", dist, mean);
		if (dist == CTN_JITTER_UNIFORM) {
			CHECK(lo >= 8e6 && hi <= 12e6, "uniform bounds %.0f..%.0f", lo, hi);
			CHECK(fabs(sd - 2e6 / sqrt(3)) < 0.05e6, "uniform sd %.0f", sd);
		} else {
			CHECK(fabs(sd - 2e6) < 0.08e6, "normal sd %.0f", sd);
			CHECK(hi > 15e6, "normal tail reaches past 2.5 sd: %.0f", hi);
		}
	}
	/* Order kept: frames 10 us apart with 2 ms of jitter never overtake. */
	make(&s, (struct ctn_shaper_params){.delay_ns = 10000000, .jitter_ns = 2000000}, 4);
	uint64_t last = 0;
	int bad = 0;
	for (int i = 0; i < 10000; i++) {
		ctn_shaper_decide(&s, (uint64_t)i * 10000, 100, 14, &v);
		bad += v.depart_ns[0] < last;
		last = v.depart_ns[0];
	}
	CHECK(bad == 0, "%d frames overtook", bad);
	/* Jitter larger than the delay never makes a departure before the arrival. */
	make(&s, (struct ctn_shaper_params){.delay_ns = 1000000, .jitter_ns = 5000000, .dist = CTN_JITTER_NORMAL}, 5);
	bad = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t t = (uint64_t)i * 1000000000;
		ctn_shaper_decide(&s, t, 100, 14, &v);
		bad += v.depart_ns[0] < t;
	}
	CHECK(bad == 0, "%d departures before arrival", bad);
}

/** Independent loss near its rate (binomial bounds), and 0/100 % exact. */
static void test_loss(void)
{
	struct ctn_shaper s;
	struct ctn_verdict v;
	int n = 100000, lost = 0;
	make(&s, (struct ctn_shaper_params){.loss = ctn_prob_from_percent(10)}, 6);
	for (int i = 0; i < n; i++) {
		ctn_shaper_decide(&s, (uint64_t)i, 100, 14, &v);
		lost += v.lost;
	}
	double sd = sqrt(n * 0.1 * 0.9);
	CHECK(fabs(lost - n * 0.1) < 5 * sd, "10%% loss: %d of %d", lost, n);
	make(&s, (struct ctn_shaper_params){.loss = ctn_prob_from_percent(100)}, 6);
	lost = 0;
	for (int i = 0; i < 1000; i++) {
		ctn_shaper_decide(&s, (uint64_t)i, 100, 14, &v);
		lost += v.lost;
	}
	CHECK(lost == 1000, "100%% loss: %d", lost);
	CHECK(ctn_prob_from_percent(0) == 0 && ctn_prob_from_percent(-3) == 0 && ctn_prob_from_percent(150) == CTN_PROB_ONE,
	      "percent bounds");
}

/** Gilbert-Elliott: the loss rate p/(p+r) and mean burst 1/r with loss 100 % in bad, 0 in good. */
static void test_gilbert_elliott(void)
{
	struct ctn_shaper s;
	struct ctn_verdict v;
	make(&s, (struct ctn_shaper_params){.ge = true, .ge_p = ctn_prob_from_percent(1), .ge_r = ctn_prob_from_percent(10),
					   .ge_loss_bad = CTN_PROB_ONE},
	     7);
	int n = 400000, lost = 0, bursts = 0;
	bool prev = false;
	for (int i = 0; i < n; i++) {
		ctn_shaper_decide(&s, (uint64_t)i, 100, 14, &v);
		lost += v.lost;
		bursts += v.lost && !prev;
		prev = v.lost;
	}
	double rate = (double)lost / n, mean_burst = (double)lost / bursts;
	CHECK(fabs(rate - 0.01 / 0.11) < 0.01, "GE loss rate %.4f (expected %.4f)", rate, 0.01 / 0.11);
	CHECK(fabs(mean_burst - 10) < 1.0, "GE mean burst %.2f (expected 10)", mean_burst);
}

/** Duplication, reordering and corruption at 100 % and near their rates. */
static void test_dup_reorder_corrupt(void)
{
	struct ctn_shaper s;
	struct ctn_verdict v;
	make(&s, (struct ctn_shaper_params){.duplicate = CTN_PROB_ONE, .delay_ns = 1000}, 8);
	ctn_shaper_decide(&s, 0, 100, 14, &v);
	CHECK(v.copies == 2 && v.depart_ns[1] >= v.depart_ns[0], "duplicate: %d copies", v.copies);
	make(&s, (struct ctn_shaper_params){.reorder = ctn_prob_from_percent(25), .delay_ns = 10000000}, 9);
	int express = 0, n = 20000;
	for (int i = 0; i < n; i++) {
		ctn_shaper_decide(&s, (uint64_t)i * 1000, 100, 14, &v);
		if (v.express[0]) {
			express++;
			CHECK(v.depart_ns[0] == (uint64_t)i * 1000, "a reordered frame skips the delay");
		}
	}
	CHECK(fabs(express - n * 0.25) < 5 * sqrt(n * 0.25 * 0.75), "reordered %d of %d", express, n);
	make(&s, (struct ctn_shaper_params){.corrupt = CTN_PROB_ONE}, 10);
	int outside = 0;
	for (int i = 0; i < 1000; i++) {
		ctn_shaper_decide(&s, 0, 60, 14, &v);
		outside += v.corrupt_bit < 14 * 8 || v.corrupt_bit >= 60 * 8;
	}
	CHECK(outside == 0, "%d corrupt bits outside the frame's payload", outside);
	CHECK(!ctn_shaper_delay_only(&s.p), "corruption is not delay only");
}

/** The same seed gives the same decisions; another seed others. */
static void test_seed(void)
{
	struct ctn_shaper a, b, c;
	struct ctn_shaper_params p = {.loss = ctn_prob_from_percent(30), .delay_ns = 1000000, .jitter_ns = 500000};
	make(&a, p, 42);
	make(&b, p, 42);
	make(&c, p, 43);
	int same_ab = 0, same_ac = 0, n = 1000;
	for (int i = 0; i < n; i++) {
		struct ctn_verdict va, vb, vc;
		uint64_t t = (uint64_t)i * 10000000;
		ctn_shaper_decide(&a, t, 100, 14, &va);
		ctn_shaper_decide(&b, t, 100, 14, &vb);
		ctn_shaper_decide(&c, t, 100, 14, &vc);
		same_ab += va.lost == vb.lost && va.depart_ns[0] == vb.depart_ns[0];
		same_ac += va.lost == vc.lost && va.depart_ns[0] == vc.depart_ns[0];
	}
	CHECK(same_ab == n, "seed 42 twice: %d of %d decisions equal", same_ab, n);
	CHECK(same_ac < n / 2, "seeds 42 and 43: %d of %d decisions equal", same_ac, n);
}

/** New settings apply from the change on: departures already given stand, order holds across it. */
static void test_change(void)
{
	struct ctn_shaper s;
	struct ctn_verdict v;
	make(&s, (struct ctn_shaper_params){.delay_ns = 100000000}, 11);
	ctn_shaper_decide(&s, 0, 100, 14, &v);
	uint64_t first = v.depart_ns[0];
	struct ctn_shaper_params p = s.p;
	p.delay_ns = 0;
	ctn_shaper_set(&s, &p);
	ctn_shaper_decide(&s, 1000, 100, 14, &v);
	CHECK(first == 100000000 && v.depart_ns[0] >= first, "a frame after the change does not overtake: %llu < %llu",
	      (unsigned long long)v.depart_ns[0], (unsigned long long)first);
	/* The rate's serializer state carries over a change of rate. */
	make(&s, (struct ctn_shaper_params){.rate_bps = 1000000}, 12);
	ctn_shaper_decide(&s, 0, 1250, 14, &v); /* 10 ms */
	p = s.p;
	p.rate_bps = 10000000;
	ctn_shaper_set(&s, &p);
	ctn_shaper_decide(&s, 0, 1250, 14, &v); /* 1 ms more, after the first */
	CHECK(v.depart_ns[0] == 11000000, "rate change: %llu", (unsigned long long)v.depart_ns[0]);
}

int main(void)
{
	void (*tests[])(void) = {test_rate, test_delay_jitter, test_loss, test_gilbert_elliott,
				 test_dup_reorder_corrupt, test_seed, test_change};
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		tests[i]();
	printf("%zu tests, %d checks, %d failures\n", sizeof(tests) / sizeof(tests[0]), checks, failures);
	return failures ? 1 : 0;
}
