/* SPDX-License-Identifier: MIT */
/*
 * diff.c - `pylow report diff`: per function and per call path, the
 * durations of every call before and after, compared with the Mann-Whitney
 * U test.
 *
 * Significant: Benjamini-Hochberg q <= DIFF_Q over all comparisons (every
 * function on both sides, and the paths listed) AND |Δmedian| >=
 * max(DIFF_REL x median before, DIFF_ABS_NS).  Sign of Δmedian: regression
 * or improvement.  Impact: Δmean x calls after.  A path is compared (and
 * listed) only when its function is reached by more than one path: else the
 * function's line says it all.  Samples: stats.h (exact up to STATS_KEEP per
 * function and side, then a reservoir).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

#define DIFF_Q		0.01
#define DIFF_REL	0.05
#define DIFF_ABS_NS	50000.0

enum { D_REG, D_IMP, D_SAME, D_NEW, D_REMOVED, D_NR };
static const char *const sect_json[D_NR] = { "regressions", "improvements", "unchanged", "new", "removed" };

struct entry {
	bool is_path;
	uint32_t id;			/* function or path */
	uint32_t func;
	struct stats_samples *s;	/* [2] */
	double p, q;
	double mean[2], p50[2], p95[2];
	double impact;
	int sect;
};

struct diff {
	const struct report_opts *o;
	struct ana a;
	struct entry *e;
	size_t n;
	uint32_t *nr_paths_of;		/* per function: paths reaching it */
};

static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->sect != b->sect)
		return a->sect - b->sect;
	if (a->is_path != b->is_path)
		return a->is_path - b->is_path;
	if (a->impact != b->impact)
		return a->impact > b->impact ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static void entry_fill(struct entry *e)
{
	for (int k = 0; k < 2; k++) {
		e->mean[k] = stats_samples_mean(&e->s[k]);
		e->p50[k] = stats_samples_quantile(&e->s[k], 0.5);
		e->p95[k] = stats_samples_quantile(&e->s[k], 0.95);
	}
	if (e->s[0].count && e->s[1].count)
		e->impact = fabs(e->mean[1] - e->mean[0]) * (double)e->s[1].count;
	else
		e->impact = e->s[0].sum + e->s[1].sum;
}

static int build(struct diff *d)
{
	struct ana *a = &d->a;
	size_t max = (size_t)a->nr_funcs + a->nr_paths;

	d->e = calloc(max ? max : 1, sizeof(*d->e));
	d->nr_paths_of = calloc(a->nr_funcs ? a->nr_funcs : 1, sizeof(*d->nr_paths_of));
	if (!d->e || !d->nr_paths_of)
		return -ENOMEM;
	for (uint32_t i = 0; i < a->nr_paths; i++)
		d->nr_paths_of[a->paths[i].func]++;
	for (uint32_t i = 0; i < a->nr_funcs; i++) {
		if (!a->funcs[i].s[0].count && !a->funcs[i].s[1].count)
			continue;	/* only calls cut at start */
		d->e[d->n++] = (struct entry){ .id = i, .func = i, .s = a->funcs[i].s };
	}
	for (uint32_t i = 0; i < a->nr_paths; i++) {
		struct ana_path *p = &a->paths[i];

		if (d->nr_paths_of[p->func] < 2 || (!p->s[0].count && !p->s[1].count))
			continue;
		d->e[d->n++] = (struct entry){ .is_path = true, .id = i, .func = p->func, .s = p->s };
	}
	/* tests, then BH over those with both sides */
	double *pv = calloc(d->n ? d->n : 1, sizeof(*pv));
	size_t *idx = calloc(d->n ? d->n : 1, sizeof(*idx));
	size_t m = 0;
	int err = 0;

	if (!pv || !idx) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = &d->e[i];

		entry_fill(e);
		e->p = e->q = NAN;
		if (!e->s[1].count) {
			e->sect = D_REMOVED;
			continue;
		}
		if (!e->s[0].count) {
			e->sect = D_NEW;
			continue;
		}
		struct stats_mw r;

		err = stats_mann_whitney(e->s[0].v, e->s[0].n, e->s[1].v, e->s[1].n, &r);
		if (err)
			goto out;
		e->p = r.p;
		pv[m] = r.p;
		idx[m++] = i;
	}
	err = stats_bh(pv, m, pv);
	if (err)
		goto out;
	for (size_t k = 0; k < m; k++) {
		struct entry *e = &d->e[idx[k]];
		double dmed = e->p50[1] - e->p50[0];
		double min = fmax(DIFF_REL * e->p50[0], DIFF_ABS_NS);

		e->q = pv[k];
		if (e->q <= DIFF_Q && fabs(dmed) >= min)
			e->sect = dmed > 0 ? D_REG : D_IMP;
		else
			e->sect = D_SAME;
	}
	if (d->n)
		qsort(d->e, d->n, sizeof(*d->e), cmp_entry);
out:
	free(pv);
	free(idx);
	return err;
}

static bool listed(const struct diff *d, const struct entry *e)
{
	if (d->o->show_all)
		return true;
	if (e->sect == D_SAME)
		return false;
	/* a new or removed path of a function on both sides is listed with
	 * --all only; new or removed functions always */
	return !e->is_path || e->sect == D_REG || e->sect == D_IMP;
}

static void name_text(const struct diff *d, const struct entry *e, FILE *f)
{
	if (e->is_path)
		ana_path_text(&d->a, e->id, f);
	else
		ana_func_text(&d->a.funcs[e->id], f);
}

static void files_text(FILE *f, const char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		fputs_safe(v[i], f);
	}
}

static void print_text(struct diff *d)
{
	const struct report_opts *o = d->o;
	FILE *f = o->out;
	static const char *const title[D_NR] = {
		"REGRESSIONS", "IMPROVEMENTS", "NOT SIGNIFICANT", "NEW CALLS", "REMOVED",
	};
	char b[8][32];
	size_t tests = 0;

	for (size_t i = 0; i < d->n; i++)
		tests += !isnan(d->e[i].q);
	fputs("Comparing before (", f);
	files_text(f, o->before, o->nr_before);
	fputs(") vs after (", f);
	files_text(f, o->after, o->nr_after);
	fprintf(f, ")\nsignificant: Mann-Whitney U, Benjamini-Hochberg q <= %.2g over %zu comparisons, and median moved by max(%.0f%%, %.2f ms) or more\n",
		DIFF_Q, tests, DIFF_REL * 100, DIFF_ABS_NS / 1e6);
	for (int sect = 0; sect < D_NR; sect++) {
		bool any = false, paths = false;

		if (sect == D_SAME && !o->show_all)
			continue;
		fprintf(f, "\n%s:\n", title[sect]);
		for (size_t i = 0; i < d->n; i++) {
			const struct entry *e = &d->e[i];

			if (e->sect != sect || !listed(d, e))
				continue;
			if (e->is_path && !paths) {
				fputs("\n  by call path:\n", f);
				paths = true;
			}
			if (!any && !e->is_path)
				putc('\n', f);
			any = true;
			fputs("  ", f);
			name_text(d, e, f);
			if (!e->is_path && *d->a.funcs[e->func].file) {
				fputs("  (", f);
				fputs_safe(d->a.funcs[e->func].file, f);
				putc(')', f);
			}
			if (sect == D_NEW) {
				fprintf(f, "  %s avg  calls %" PRIu64 "\n", ana_ms(e->mean[1], b[0], 32), e->s[1].count);
				continue;
			}
			if (sect == D_REMOVED) {
				fprintf(f, "  (was %s avg, calls %" PRIu64 ")\n", ana_ms(e->mean[0], b[0], 32),
					e->s[0].count);
				continue;
			}
			double dm = e->mean[1] - e->mean[0];

			fprintf(f, "\n      %c%s avg  (was %s, now %s)  p50 %s → %s  p95 %s → %s  calls %" PRIu64 " → %" PRIu64 "  p=%.2g q=%.2g\n",
				dm < 0 ? '-' : '+', ana_ms(fabs(dm), b[0], 32), ana_ms(e->mean[0], b[1], 32),
				ana_ms(e->mean[1], b[2], 32), ana_ms(e->p50[0], b[3], 32), ana_ms(e->p50[1], b[4], 32),
				ana_ms(e->p95[0], b[5], 32), ana_ms(e->p95[1], b[6], 32),
				e->s[0].count, e->s[1].count, e->p, e->q);
		}
		if (!any)
			fputs("  (none)\n", f);
	}
}

static void side_json(struct jw *j, const struct entry *e, int k)
{
	jw_obj(j);
	jw_key(j, "calls");
	jw_u64(j, e->s[k].count);
	jw_key(j, "mean_ns");
	jw_u64(j, (uint64_t)(e->mean[k] + 0.5));
	jw_key(j, "p50_ns");
	jw_u64(j, (uint64_t)(e->p50[k] + 0.5));
	jw_key(j, "p95_ns");
	jw_u64(j, (uint64_t)(e->p95[k] + 0.5));
	jw_obj_end(j);
}

static void print_json(struct diff *d, const struct report_result *res)
{
	const struct report_opts *o = d->o;
	struct jw j;

	jw_init(&j, o->out);
	jw_obj(&j);
	jw_strs(&j, "before", o->before, o->nr_before);
	jw_strs(&j, "after", o->after, o->nr_after);
	jw_key(&j, "alpha");
	ana_jw_num(&j, DIFF_Q);
	jw_damage(&j, res);
	for (int sect = 0; sect < D_NR; sect++) {
		if (sect == D_SAME && !o->show_all)
			continue;
		jw_key(&j, sect_json[sect]);
		jw_arr(&j);
		for (size_t i = 0; i < d->n; i++) {
			const struct entry *e = &d->e[i];
			const struct ana_func *fn = &d->a.funcs[e->func];

			if (e->sect != sect || !listed(d, e))
				continue;
			jw_obj(&j);
			jw_key(&j, "kind");
			jw_str(&j, e->is_path ? "path" : "function");
			jw_key(&j, "name");
			jw_str(&j, fn->name);
			jw_key(&j, "file");
			jw_str(&j, fn->file);
			if (e->is_path) {
				jw_key(&j, "path");
				ana_path_json(&d->a, e->id, &j);
			}
			jw_key(&j, "before");
			side_json(&j, e, 0);
			jw_key(&j, "after");
			side_json(&j, e, 1);
			jw_key(&j, "delta_ns");
			jw_i64(&j, (int64_t)llround(e->mean[1] - e->mean[0]));
			jw_key(&j, "delta_p50_ns");
			jw_i64(&j, (int64_t)llround(e->p50[1] - e->p50[0]));
			jw_key(&j, "p_value");
			ana_jw_num(&j, e->p);
			jw_key(&j, "q_value");
			ana_jw_num(&j, e->q);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
	}
	jw_obj_end(&j);
}

int report_diff(const struct report_opts *o, struct report_result *res)
{
	struct diff d = { .o = o };
	int err;

	ana_init(&d.a);
	d.a.collect = true;
	d.a.side = 0;
	err = ana_run(&d.a, o, o->before, o->nr_before, false, NULL, res);
	if (!err) {
		d.a.side = 1;
		err = ana_run(&d.a, o, o->after, o->nr_after, false, NULL, res);
	}
	if (!err && (err = build(&d)))
		res_err(res, err, "out of memory");
	if (!err) {
		if (o->json)
			print_json(&d, res);
		else
			print_text(&d);
	}
	free(d.e);
	free(d.nr_paths_of);
	ana_free(&d.a);
	return err;
}
