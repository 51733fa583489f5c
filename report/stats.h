/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the statistics behind slow, diff and anomaly: bounded duration
 * samples, quantiles, median/MAD, the Mann-Whitney U test and the
 * Benjamini-Hochberg correction.
 *
 * Library code: returns 0 or -errno, never prints, never exits.
 */
#ifndef PYLOW_REPORT_STATS_H
#define PYLOW_REPORT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values kept exactly up to STATS_KEEP (or ->keep when set); past that a
 * uniform reservoir of that size (Vitter's algorithm R) with a fixed-seed
 * generator, so reports are deterministic.  count, sum, min and max are
 * always exact; quantiles and tests use the kept values. */
#define STATS_KEEP	16384

struct stats_samples {
	double *v;
	size_t n, cap;			/* kept values */
	size_t keep;			/* 0: STATS_KEEP */
	uint64_t count;			/* values added */
	double sum, min, max;
	uint64_t rng;
	bool sorted;
};

int stats_samples_add(struct stats_samples *s, double x);
void stats_samples_free(struct stats_samples *s);	/* accepts NULL */
/* Sorts the kept values (in place; adding later unsorts them). */
void stats_samples_sort(struct stats_samples *s);
double stats_samples_mean(const struct stats_samples *s);	/* 0 when empty */
/* Quantile Q (0..1) of the kept values (sorted first); 0 when empty. */
double stats_samples_quantile(struct stats_samples *s, double q);

/* Quantile Q of sorted X (N > 0): linear interpolation between closest
 * ranks, h = (N-1)Q (Hyndman & Fan type 7, numpy's default). */
double stats_quantile_sorted(const double *x, size_t n, double q);
/* Median and median absolute deviation (unscaled) of X; X is not changed.
 * -EINVAL when N is 0, -ENOMEM. */
int stats_median_mad(const double *x, size_t n, double *median, double *mad);

struct stats_mw {
	double u;			/* U of A: pairs (a, b) with a > b, ties 1/2 */
	double z;			/* normal approximation, tie + continuity corrected */
	double p;			/* two-sided p-value */
};
/* Mann-Whitney U test of A against B (two-sided): ranks with ties averaged,
 * sigma^2 = na nb / 12 ((N+1) - sum(t^3 - t) / (N (N-1))), continuity
 * correction 0.5, p = erfc(|z| / sqrt 2) (scipy's mannwhitneyu with
 * method="asymptotic").  All values tied: z = 0, p = 1.  -EINVAL when A or
 * B is empty, -ENOMEM. */
int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
		       struct stats_mw *r);
/* Benjamini-Hochberg adjusted p-values (q-values) of P into Q (may alias):
 * q(i) = min over rank j >= rank(i) of p(j) N / j, at most 1.  -ENOMEM. */
int stats_bh(const double *p, size_t n, double *q);

#endif /* PYLOW_REPORT_STATS_H */
