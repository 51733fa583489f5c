/* SPDX-License-Identifier: MIT */
/* test_skew.c - merge/skew: host clock offsets from matched exchanges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "merge/skew.h"

#define MS	1000000LL

/* an exchange as it happens in true time: the client sends at T, the
 * request takes LAT to arrive, the server works WORK, the reply takes LAT2;
 * each host's clock reads true time + its offset OFF[] */
static struct plw_skew_exchange ex_at(uint32_t c, uint32_t s, const int64_t *off, int64_t t,
				      int64_t lat, int64_t work, int64_t lat2)
{
	struct plw_skew_exchange e = {
		.client = c, .server = s,
		.c_send = t + off[c],
		.s_recv = t + lat + off[s],
		.s_send = t + lat + work + off[s],
		.c_recv = t + lat + work + lat2 + off[c],
	};
	return e;
}

static void single_pair(void **state)
{
	int64_t off[2] = { 0, 5000 * MS };	/* host 1 runs 5 s ahead */
	struct plw_skew_exchange e = ex_at(0, 1, off, 1000 * MS, 1 * MS, 10 * MS, 1 * MS);
	struct plw_skew_host h[2];

	assert_int_equal(plw_skew_solve(2, 0, &e, 1, h), 0);
	assert_int_equal(h[0].offset_ns, 0);
	assert_int_equal(h[0].lo_ns, 0);
	assert_int_equal(h[0].hi_ns, 0);
	assert_int_equal(h[0].matched, 1);
	assert_true(h[1].bounded);
	assert_int_equal(h[1].matched, 1);
	/* s_send - c_recv .. s_recv - c_send = 5000 - 1 .. 5000 + 1 ms */
	assert_int_equal(h[1].lo_ns, 4999 * MS);
	assert_int_equal(h[1].hi_ns, 5001 * MS);
	assert_int_equal(h[1].offset_ns, 5000 * MS);
	assert_false(h[1].inconsistent);
}

static void many_exchanges(void **state)
{
	int64_t off[2] = { 0, -2345 * MS };
	struct plw_skew_exchange e[100];
	struct plw_skew_host h[2];

	/* asymmetric latencies that differ per exchange: the interval is the
	 * intersection of all of them */
	for (int i = 0; i < 100; i++)
		e[i] = ex_at(1, 0, off, i * 50 * MS, (1 + i % 7) * MS, 3 * MS, (1 + i % 5) * MS);
	assert_int_equal(plw_skew_solve(2, 0, e, 100, h), 0);
	assert_int_equal(h[1].matched, 100);
	/* client is 1, server 0: off(0) - off(1) in [-(lat2), lat] per
	 * exchange; tightest: lat = 1, lat2 = 1 */
	assert_int_equal(h[1].lo_ns, -2346 * MS);
	assert_int_equal(h[1].hi_ns, -2344 * MS);
	assert_int_equal(h[1].offset_ns, -2345 * MS);
}

static void inconsistent(void **state)
{
	int64_t off[2] = { 0, 100 * MS };
	struct plw_skew_exchange e[2];
	struct plw_skew_host h[2];

	e[0] = ex_at(0, 1, off, 0, 1 * MS, 1 * MS, 1 * MS);
	/* host 1's clock stepped by +50 ms before the second exchange */
	off[1] += 50 * MS;
	e[1] = ex_at(0, 1, off, 1000 * MS, 1 * MS, 1 * MS, 1 * MS);
	assert_int_equal(plw_skew_solve(2, 0, e, 2, h), 1);
	assert_true(h[1].inconsistent);
	assert_true(h[0].inconsistent);
	assert_true(h[1].bounded);
	/* bounds: from e0 [99, 101], from e1 [149, 151]: crossed (lo 149 >
	 * hi 101), narrowed to their middle 125 */
	assert_int_equal(h[1].offset_ns, 125 * MS);
	assert_int_equal(h[1].lo_ns, 125 * MS);
	assert_int_equal(h[1].hi_ns, 125 * MS);
}

static void chained(void **state)
{
	/* A (ref) -> B -> C -> D: C and D never talk to A */
	int64_t off[4] = { 0, 3000 * MS, -700 * MS, 42 * MS };
	struct plw_skew_exchange e[3];
	struct plw_skew_host h[4];

	e[0] = ex_at(0, 1, off, 0, 2 * MS, 20 * MS, 2 * MS);
	e[1] = ex_at(1, 2, off, 5 * MS, 1 * MS, 5 * MS, 1 * MS);
	e[2] = ex_at(2, 3, off, 7 * MS, 1 * MS, 1 * MS, 1 * MS);
	assert_int_equal(plw_skew_solve(4, 0, e, 3, h), 0);
	assert_int_equal(h[1].matched, 2);
	assert_int_equal(h[2].matched, 2);
	assert_int_equal(h[3].matched, 1);
	assert_int_equal(h[1].lo_ns, 2998 * MS);
	assert_int_equal(h[1].hi_ns, 3002 * MS);
	/* widths add up along the chain */
	assert_int_equal(h[2].lo_ns, -703 * MS);
	assert_int_equal(h[2].hi_ns, -697 * MS);
	assert_int_equal(h[3].lo_ns, 42 * MS - 4 * MS);
	assert_int_equal(h[3].hi_ns, 42 * MS + 4 * MS);
	for (int i = 1; i < 4; i++) {
		assert_true(h[i].bounded);
		assert_true(h[i].offset_ns >= h[i].lo_ns && h[i].offset_ns <= h[i].hi_ns);
	}
	/* applying the estimates keeps every exchange causal */
	for (int i = 0; i < 3; i++) {
		int64_t oc = h[e[i].client].offset_ns, os = h[e[i].server].offset_ns;

		assert_true(e[i].s_recv - os >= e[i].c_send - oc);
		assert_true(e[i].c_recv - oc >= e[i].s_send - os);
	}
}

static void no_exchanges(void **state)
{
	int64_t off[3] = { 0, 10 * MS, 999 * MS };
	struct plw_skew_exchange e = ex_at(0, 1, off, 0, 1 * MS, 1 * MS, 1 * MS);
	struct plw_skew_host h[3];

	assert_int_equal(plw_skew_solve(3, 0, &e, 1, h), 0);
	assert_false(h[2].bounded);
	assert_int_equal(h[2].offset_ns, 0);
	assert_int_equal(h[2].matched, 0);
	assert_true(h[2].lo_ns == PLW_SKEW_UNBOUNDED_LO);
	assert_true(h[2].hi_ns == PLW_SKEW_UNBOUNDED_HI);
	assert_int_equal(h[1].offset_ns, 10 * MS);
	/* none at all */
	assert_int_equal(plw_skew_solve(3, 1, NULL, 0, h), 0);
	assert_true(h[1].bounded);
	assert_false(h[0].bounded);
	assert_false(h[2].bounded);
}

static void separate_groups(void **state)
{
	/* 0-1 exchange, 2-3 exchange (their link to 0 and 1 not recorded) */
	int64_t off[4] = { 0, 7 * MS, 40 * MS, 100 * MS };
	struct plw_skew_exchange e[2];
	struct plw_skew_host h[4];

	e[0] = ex_at(0, 1, off, 0, 1 * MS, 1 * MS, 1 * MS);
	e[1] = ex_at(2, 3, off, 0, 2 * MS, 1 * MS, 2 * MS);
	assert_int_equal(plw_skew_solve(4, 0, e, 2, h), 0);
	assert_int_equal(h[1].offset_ns, 7 * MS);
	assert_false(h[2].bounded);
	assert_false(h[3].bounded);
	/* 2 keeps its clock; 3 placed relative to it: 100 - 40 ms */
	assert_int_equal(h[2].offset_ns, 0);
	assert_int_equal(h[3].offset_ns, 60 * MS);
	assert_true(h[3].lo_ns == PLW_SKEW_UNBOUNDED_LO);
	assert_int_equal(h[3].matched, 1);
}

static void cycle_inconsistent(void **state)
{
	/* each pair consistent on its own, the cycle A->B->C->A is not */
	struct plw_skew_exchange e[3] = {
		{ .client = 0, .server = 1, .c_send = 0, .s_recv = 10 * MS, .s_send = 11 * MS, .c_recv = 2 * MS },
		{ .client = 1, .server = 2, .c_send = 0, .s_recv = 10 * MS, .s_send = 11 * MS, .c_recv = 2 * MS },
		{ .client = 2, .server = 0, .c_send = 0, .s_recv = 10 * MS, .s_send = 11 * MS, .c_recv = 2 * MS },
	};
	/* each: off(s) - off(c) in [9, 10] ms; around the cycle the sum must
	 * be 0 but is at least 27 ms */
	struct plw_skew_host h[3];

	assert_int_equal(plw_skew_solve(3, 0, e, 3, h), 1);
	for (int i = 0; i < 3; i++) {
		assert_true(h[i].inconsistent);
		assert_true(h[i].bounded);
	}
	assert_true(h[1].offset_ns >= 9 * MS && h[1].offset_ns <= 10 * MS);
}

static void bad_args(void **state)
{
	struct plw_skew_exchange e = { .client = 0, .server = 0 };
	struct plw_skew_host h[2];

	assert_int_equal(plw_skew_solve(0, 0, NULL, 0, h), -EINVAL);
	assert_int_equal(plw_skew_solve(2, 2, NULL, 0, h), -EINVAL);
	assert_int_equal(plw_skew_solve(2, 0, &e, 1, h), -EINVAL);
	e.server = 5;
	assert_int_equal(plw_skew_solve(2, 0, &e, 1, h), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_pair),
		cmocka_unit_test(many_exchanges),
		cmocka_unit_test(inconsistent),
		cmocka_unit_test(chained),
		cmocka_unit_test(no_exchanges),
		cmocka_unit_test(separate_groups),
		cmocka_unit_test(cycle_inconsistent),
		cmocka_unit_test(bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
