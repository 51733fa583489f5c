/* SPDX-License-Identifier: MIT */
/*
 * stats.c - bounded samples, quantiles, median/MAD, Mann-Whitney U,
 * Benjamini-Hochberg.  See stats.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int stats_samples_add(struct stats_samples *s, double x)
{
	size_t keep = s->keep ? s->keep : STATS_KEEP;

	if (!s->count || x < s->min)
		s->min = x;
	if (!s->count || x > s->max)
		s->max = x;
	s->count++;
	s->sum += x;
	if (s->n < keep) {
		if (s->n == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 8;
			double *nv;

			if (ncap > keep)
				ncap = keep;
			nv = realloc(s->v, ncap * sizeof(*nv));
			if (!nv) {
				s->count--;
				s->sum -= x;
				return -ENOMEM;
			}
			s->v = nv;
			s->cap = ncap;
		}
		s->v[s->n++] = x;
		s->sorted = false;
		return 0;
	}
	/* algorithm R: the COUNT-th value replaces a kept one with
	 * probability KEEP / COUNT */
	uint64_t j = splitmix(&s->rng) % s->count;

	if (j < keep) {
		s->v[j] = x;
		s->sorted = false;
	}
	return 0;
}

void stats_samples_free(struct stats_samples *s)
{
	if (!s)
		return;
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void stats_samples_sort(struct stats_samples *s)
{
	if (!s->sorted && s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	s->sorted = true;
}

double stats_samples_mean(const struct stats_samples *s)
{
	return s->count ? s->sum / (double)s->count : 0;
}

double stats_samples_quantile(struct stats_samples *s, double q)
{
	if (!s->n)
		return 0;
	stats_samples_sort(s);
	return stats_quantile_sorted(s->v, s->n, q);
}

double stats_quantile_sorted(const double *x, size_t n, double q)
{
	if (!n)
		return 0;
	if (q <= 0)
		return x[0];
	if (q >= 1)
		return x[n - 1];
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);

	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

int stats_median_mad(const double *x, size_t n, double *median, double *mad)
{
	double *t;

	if (!n)
		return -EINVAL;
	t = malloc(n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memcpy(t, x, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_double);
	double med = stats_quantile_sorted(t, n, 0.5);

	for (size_t i = 0; i < n; i++)
		t[i] = fabs(t[i] - med);
	qsort(t, n, sizeof(*t), cmp_double);
	*median = med;
	*mad = stats_quantile_sorted(t, n, 0.5);
	free(t);
	return 0;
}

struct ranked {
	double v;
	int group;			/* 0: a, 1: b */
};

static int cmp_ranked(const void *a, const void *b)
{
	return cmp_double(&((const struct ranked *)a)->v, &((const struct ranked *)b)->v);
}

int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
		       struct stats_mw *r)
{
	size_t n = na + nb;
	struct ranked *x;

	if (!na || !nb)
		return -EINVAL;
	x = malloc(n * sizeof(*x));
	if (!x)
		return -ENOMEM;
	for (size_t i = 0; i < na; i++)
		x[i] = (struct ranked){ a[i], 0 };
	for (size_t i = 0; i < nb; i++)
		x[na + i] = (struct ranked){ b[i], 1 };
	qsort(x, n, sizeof(*x), cmp_ranked);

	double ra = 0, ties = 0;

	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && x[j].v == x[i].v)
			j++;
		/* ranks i+1 .. j share their average */
		double rank = ((double)(i + 1) + (double)j) / 2, t = (double)(j - i);

		for (size_t k = i; k < j; k++)
			if (!x[k].group)
				ra += rank;
		ties += t * t * t - t;
		i = j;
	}
	free(x);

	double dna = (double)na, dnb = (double)nb, dn = (double)n;
	double u = ra - dna * (dna + 1) / 2;
	double mu = dna * dnb / 2;
	double var = dna * dnb / 12 * ((dn + 1) - ties / (dn * (dn - 1)));

	r->u = u;
	if (n < 2 || var <= 0) {
		r->z = 0;
		r->p = 1;
		return 0;
	}
	double d = fabs(u - mu) - 0.5;

	if (d < 0)
		d = 0;
	r->z = (u >= mu ? d : -d) / sqrt(var);
	r->p = erfc(fabs(r->z) / sqrt(2.0));
	if (r->p > 1)
		r->p = 1;
	return 0;
}

struct pidx {
	double p;
	size_t i;
};

static int cmp_pidx(const void *a, const void *b)
{
	const struct pidx *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

int stats_bh(const double *p, size_t n, double *q)
{
	struct pidx *t;

	if (!n)
		return 0;
	t = malloc(n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t[i] = (struct pidx){ p[i], i };
	qsort(t, n, sizeof(*t), cmp_pidx);

	double min = 1;

	for (size_t k = n; k-- > 0;) {
		double v = t[k].p * (double)n / (double)(k + 1);

		if (v < min)
			min = v;
		t[k].p = min;
	}
	for (size_t k = 0; k < n; k++)
		q[t[k].i] = t[k].p;
	free(t);
	return 0;
}
