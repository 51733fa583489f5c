/* SPDX-License-Identifier: MIT */
/*
 * test_stats.c - report/stats on known inputs.
 *
 * Mann-Whitney references: scipy's documented example (males vs females,
 * U = 17, asymptotic p = 0.11134688653314041, scipy.stats.mannwhitneyu docs)
 * and values from a ten-line pure-Python implementation of the same formula
 * (average ranks, tie-corrected variance, continuity 0.5, erfc), run once.
 * BH references: R's p.adjust(p, "BH").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>

#include "report/stats.h"

static void test_quantiles(void **state)
{
	(void)state;
	const double x[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

	assert_true(fabs(stats_quantile_sorted(x, 10, 0.5) - 5.5) < 1e-12);
	assert_true(fabs(stats_quantile_sorted(x, 10, 0.95) - 9.55) < 1e-12);
	assert_true(fabs(stats_quantile_sorted(x, 10, 0.99) - 9.91) < 1e-12);
	assert_true(stats_quantile_sorted(x, 10, 0) == 1);
	assert_true(stats_quantile_sorted(x, 10, 1) == 10);
	assert_true(stats_quantile_sorted(x, 1, 0.7) == 1);

	struct stats_samples s = { 0 };

	for (int i = 100; i >= 1; i--)
		assert_int_equal(stats_samples_add(&s, i), 0);
	assert_int_equal(s.count, 100);
	assert_true(s.min == 1 && s.max == 100);
	assert_true(fabs(stats_samples_mean(&s) - 50.5) < 1e-12);
	assert_true(fabs(stats_samples_quantile(&s, 0.5) - 50.5) < 1e-12);
	assert_true(fabs(stats_samples_quantile(&s, 0.99) - 99.01) < 1e-9);
	stats_samples_free(&s);
	stats_samples_free(NULL);
}

static void test_reservoir(void **state)
{
	(void)state;
	struct stats_samples s = { .keep = 1000 };

	/* 0..99999 uniformly: the reservoir keeps 1000, exact count/min/max */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(stats_samples_add(&s, i), 0);
	assert_int_equal(s.n, 1000);
	assert_int_equal(s.count, 100000);
	assert_true(s.min == 0 && s.max == 99999);
	assert_true(fabs(stats_samples_mean(&s) - 49999.5) < 1e-6);
	/* a uniform sample of 1000: the median within 5% of the range */
	double med = stats_samples_quantile(&s, 0.5);

	assert_true(fabs(med - 50000) < 5000);
	/* deterministic: the same input gives the same reservoir */
	struct stats_samples t = { .keep = 1000 };

	for (int i = 0; i < 100000; i++)
		assert_int_equal(stats_samples_add(&t, i), 0);
	assert_true(stats_samples_quantile(&t, 0.5) == med);
	stats_samples_free(&s);
	stats_samples_free(&t);
}

static void test_median_mad(void **state)
{
	(void)state;
	const double x[] = { 1, 1, 2, 2, 4, 6, 9 };	/* Wikipedia's MAD example */
	double med, mad;

	assert_int_equal(stats_median_mad(x, 7, &med, &mad), 0);
	assert_true(med == 2 && mad == 1);
	assert_true(x[6] == 9);		/* not changed */
	const double y[] = { 10, 10, 10, 10 };

	assert_int_equal(stats_median_mad(y, 4, &med, &mad), 0);
	assert_true(med == 10 && mad == 0);
	assert_int_equal(stats_median_mad(y, 0, &med, &mad), -EINVAL);
}

static void test_mann_whitney(void **state)
{
	(void)state;
	struct stats_mw r;
	const double males[] = { 19, 22, 16, 29, 24 }, females[] = { 20, 11, 17, 12 };

	assert_int_equal(stats_mann_whitney(males, 5, females, 4, &r), 0);
	assert_true(r.u == 17);
	assert_true(fabs(r.p - 0.11134688653314041) < 1e-12);
	assert_true(fabs(r.z - 1.5921683328090657) < 1e-12);

	/* ties across and within the groups */
	const double a[] = { 1, 2, 2, 3, 3, 3, 4, 5 }, b[] = { 3, 4, 4, 5, 5, 6, 7, 7, 8 };

	assert_int_equal(stats_mann_whitney(a, 8, b, 9, &r), 0);
	assert_true(r.u == 7.5);
	assert_true(fabs(r.z - -2.727939278646863) < 1e-12);
	assert_true(fabs(r.p - 0.006373133838085877) < 1e-12);
	/* symmetric: B against A, U = na nb - U, same p */
	assert_int_equal(stats_mann_whitney(b, 9, a, 8, &r), 0);
	assert_true(r.u == 72 - 7.5);
	assert_true(fabs(r.p - 0.006373133838085877) < 1e-12);

	/* identical samples: no evidence */
	const double c[] = { 1.5, 2.5, 3.5 };

	assert_int_equal(stats_mann_whitney(c, 3, c, 3, &r), 0);
	assert_true(r.u == 4.5 && r.p == 1);
	/* all tied: zero variance */
	const double d[] = { 7, 7, 7 };

	assert_int_equal(stats_mann_whitney(d, 3, d, 2, &r), 0);
	assert_true(r.p == 1);
	assert_int_equal(stats_mann_whitney(d, 0, d, 2, &r), -EINVAL);

	/* complete separation, 30 vs 30: p far below any alpha */
	double lo[30], hi[30];

	for (int i = 0; i < 30; i++) {
		lo[i] = i;
		hi[i] = 100 + i;
	}
	assert_int_equal(stats_mann_whitney(lo, 30, hi, 30, &r), 0);
	assert_true(r.u == 0);
	assert_true(r.p < 1e-9);
}

static void test_bh(void **state)
{
	(void)state;
	const double p[] = { 0.01, 0.04, 0.03, 0.005 };
	double q[4];

	/* p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02 */
	assert_int_equal(stats_bh(p, 4, q), 0);
	assert_true(fabs(q[0] - 0.02) < 1e-12);
	assert_true(fabs(q[1] - 0.04) < 1e-12);
	assert_true(fabs(q[2] - 0.04) < 1e-12);
	assert_true(fabs(q[3] - 0.02) < 1e-12);

	/* capped at 1, in place */
	double r[] = { 0.9, 0.8, 0.95 };

	assert_int_equal(stats_bh(r, 3, r), 0);
	assert_true(fabs(r[0] - 0.95) < 1e-12 && fabs(r[1] - 0.95) < 1e-12 &&
		    fabs(r[2] - 0.95) < 1e-12);
	double s[] = { 0.6 };

	assert_int_equal(stats_bh(s, 1, s), 0);
	assert_true(s[0] == 0.6);
	assert_int_equal(stats_bh(s, 0, s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_reservoir),
		cmocka_unit_test(test_median_mad),
		cmocka_unit_test(test_mann_whitney),
		cmocka_unit_test(test_bh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
