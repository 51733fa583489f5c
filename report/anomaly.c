/* SPDX-License-Identifier: MIT */
/*
 * anomaly.c - `pylow report anomaly`: calls far slower than their baseline.
 *
 * Pass 1 (over FILE, or the --baseline files) keeps the durations of every
 * call per path and per function (stats.h: exact up to STATS_KEEP, then a
 * reservoir); calls cut at start are left out.  Baseline: median m and MAD;
 * bound = m + max(K x 1.4826 x MAD, MIN_MARGIN, REL x m).  Pass 2 flags
 * every call longer than the bound of its path when the path has MIN_N
 * baseline calls, else of its function (same rule), else it is not judged.
 * score = (duration - m) / (bound - m): above 1 for every anomaly.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

#define AN_K		5.0
#define AN_MIN_MARGIN	1e6		/* ns */
#define AN_REL		0.25
#define AN_MIN_N	10
#define AN_KEEP		100000		/* anomalies kept; the rest counted */

struct base {
	bool ok;
	bool by_path;
	uint64_t n;
	double median, mad, bound;
};

struct hit {
	uint32_t func, path;
	uint32_t input, pid, tid, flags;
	uint64_t start_ns, dur_ns;
	struct base b;
	uint32_t kid;			/* child with the most time, ANA_NONE if none */
	uint64_t kid_count, kid_ns;
};

struct anomaly {
	const struct report_opts *o;
	struct ana a;
	struct base *pb, *fb;		/* baselines per path, per function */
	uint32_t nr_pb, nr_fb;
	struct hit *h;
	size_t n, cap;
	uint64_t dropped, judged, unjudged;
	uint64_t *group_n;		/* per path: anomalies */
};

static int baseline(struct stats_samples *s, struct base *b)
{
	memset(b, 0, sizeof(*b));
	if (s->count < AN_MIN_N)
		return 0;
	int err = stats_median_mad(s->v, s->n, &b->median, &b->mad);

	if (err)
		return err;
	b->ok = true;
	b->n = s->count;
	b->bound = b->median + fmax(fmax(AN_K * 1.4826 * b->mad, AN_MIN_MARGIN), AN_REL * b->median);
	return 0;
}

static int an_on_call(void *ctx, const struct ana_call *c)
{
	struct anomaly *an = ctx;
	struct base *b = NULL;

	if (c->flags & PLW_NODE_CUT_START)
		return 0;
	if (c->path < an->nr_pb && an->pb[c->path].ok)
		b = &an->pb[c->path];
	else if (c->func < an->nr_fb && an->fb[c->func].ok)
		b = &an->fb[c->func];
	if (!b) {
		an->unjudged++;
		return 0;
	}
	an->judged++;
	if ((double)c->dur_ns <= b->bound)
		return 0;
	if (an->n == AN_KEEP) {
		an->dropped++;
		return 0;
	}
	if (an->n == an->cap) {
		size_t ncap = an->cap ? an->cap * 2 : 64;
		struct hit *nh = realloc(an->h, ncap * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		an->h = nh;
		an->cap = ncap;
	}
	struct hit *h = &an->h[an->n++];

	*h = (struct hit){
		.func = c->func, .path = c->path, .input = c->input, .pid = c->pid, .tid = c->tid,
		.flags = c->flags, .start_ns = c->start_ns, .dur_ns = c->dur_ns, .b = *b,
		.kid = ANA_NONE,
	};
	for (uint32_t i = 0; i < c->nr_kids; i++) {
		if (h->kid == ANA_NONE || c->kids[i].dur_ns > h->kid_ns) {
			h->kid = c->kids[i].func;
			h->kid_count = c->kids[i].count;
			h->kid_ns = c->kids[i].dur_ns;
		}
	}
	return 0;
}

static struct anomaly *sort_ctx;

static int cmp_hit(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;
	uint64_t na = sort_ctx->group_n[a->path], nb = sort_ctx->group_n[b->path];

	/* groups: most anomalies first, then by path; in a group by time */
	if (na != nb)
		return na > nb ? -1 : 1;
	if (a->path != b->path)
		return a->path < b->path ? -1 : 1;
	if (a->start_ns != b->start_ns)
		return a->start_ns < b->start_ns ? -1 : 1;
	return (a->tid > b->tid) - (a->tid < b->tid);
}

static double score(const struct hit *h)
{
	return ((double)h->dur_ns - h->b.median) / (h->b.bound - h->b.median);
}

static void print_text(struct anomaly *an)
{
	FILE *f = an->o->out;
	char b[4][32], fl[96];
	uint64_t t0 = an->a.st.first_ts;

	for (size_t i = 0; i < an->n; i++) {
		const struct hit *h = &an->h[i];
		const struct ana_func *fn = &an->a.funcs[h->func];

		if (!i || h->path != an->h[i - 1].path) {
			fprintf(f, "%s[BASELINE] ", i ? "\n" : "");
			ana_path_text(&an->a, h->path, f);
			fprintf(f, ": median=%s MAD=%s bound=%s (n=%" PRIu64 ", per %s)\n",
				ana_ms(h->b.median, b[0], 32), ana_ms(h->b.mad, b[1], 32),
				ana_ms(h->b.bound, b[2], 32), h->b.n, h->b.by_path ? "path" : "function");
		}
		fputs("🚨 ANOMALY ", f);
		ana_func_text(fn, f);
		fprintf(f, "(): %s vs baseline %s (score %.1f) at +%.6f s pid %u tid %u%s\n",
			ana_ms((double)h->dur_ns, b[0], 32), ana_ms(h->b.median, b[1], 32), score(h),
			h->start_ns >= t0 ? (double)(h->start_ns - t0) / 1e9 : 0.0, h->pid, h->tid,
			flags_text(h->flags, fl, sizeof(fl)));
		if (h->kid != ANA_NONE) {
			fputs("   inside: ", f);
			ana_func_text(&an->a.funcs[h->kid], f);
			fputs("()", f);
			if (h->kid_count > 1)
				fprintf(f, " ×%" PRIu64, h->kid_count);
			fprintf(f, " %s (%.1f%% of it)\n", ana_ms((double)h->kid_ns, b[0], 32),
				h->dur_ns ? 100.0 * (double)h->kid_ns / (double)h->dur_ns : 0);
		}
	}
	if (!an->n)
		fprintf(f, "no anomalies in %" PRIu64 " calls judged\n", an->judged);
	else
		fprintf(f, "\n%zu anomalies in %" PRIu64 " calls judged\n", an->n + (size_t)an->dropped,
			an->judged);
	if (an->unjudged)
		fprintf(f, "%" PRIu64 " calls not judged: fewer than %d baseline calls of their path and function\n",
			an->unjudged, AN_MIN_N);
	if (an->dropped)
		fprintf(f, "%" PRIu64 " anomalies past the first %d not shown\n", an->dropped, AN_KEEP);
	if (an->a.st.lost)
		fprintf(f, "%" PRIu64 " events were lost while recording: calls open then are marked [incomplete]\n",
			an->a.st.lost);
}

static void print_json(struct anomaly *an, const struct report_result *res)
{
	const struct report_opts *o = an->o;
	struct jw j;

	jw_init(&j, o->out);
	jw_obj(&j);
	jw_strs(&j, "files", o->paths, o->nr_paths);
	jw_strs(&j, "baseline_files", o->baseline, o->nr_baseline);
	jw_key(&j, "judged");
	jw_u64(&j, an->judged);
	jw_key(&j, "not_judged");
	jw_u64(&j, an->unjudged);
	jw_key(&j, "not_shown");
	jw_u64(&j, an->dropped);
	jw_key(&j, "lost");
	jw_u64(&j, an->a.st.lost);
	jw_damage(&j, res);
	jw_key(&j, "anomalies");
	jw_arr(&j);
	for (size_t i = 0; i < an->n; i++) {
		const struct hit *h = &an->h[i];
		const struct ana_func *fn = &an->a.funcs[h->func];

		jw_obj(&j);
		jw_key(&j, "name");
		jw_str(&j, fn->name);
		jw_key(&j, "file");
		jw_str(&j, fn->file);
		jw_key(&j, "line");
		jw_u64(&j, fn->line);
		jw_key(&j, "pid");
		jw_u64(&j, h->pid);
		jw_key(&j, "tid");
		jw_u64(&j, h->tid);
		jw_key(&j, "start_ns");
		jw_u64(&j, h->start_ns);
		jw_key(&j, "dur_ns");
		jw_u64(&j, h->dur_ns);
		jw_key(&j, "baseline");
		jw_obj(&j);
		jw_key(&j, "of");
		jw_str(&j, h->b.by_path ? "path" : "function");
		jw_key(&j, "n");
		jw_u64(&j, h->b.n);
		jw_key(&j, "median_ns");
		jw_u64(&j, (uint64_t)(h->b.median + 0.5));
		jw_key(&j, "mad_ns");
		jw_u64(&j, (uint64_t)(h->b.mad + 0.5));
		jw_key(&j, "bound_ns");
		jw_u64(&j, (uint64_t)(h->b.bound + 0.5));
		jw_obj_end(&j);
		jw_key(&j, "score");
		ana_jw_num(&j, score(h));
		jw_key(&j, "path");
		ana_path_json(&an->a, h->path, &j);
		jw_key(&j, "flags");
		jw_flags(&j, h->flags);
		jw_key(&j, "inside");
		if (h->kid == ANA_NONE) {
			jw_null(&j);
		} else {
			jw_obj(&j);
			jw_key(&j, "name");
			jw_str(&j, an->a.funcs[h->kid].name);
			jw_key(&j, "count");
			jw_u64(&j, h->kid_count);
			jw_key(&j, "dur_ns");
			jw_u64(&j, h->kid_ns);
			jw_key(&j, "share");
			ana_jw_num(&j, h->dur_ns ? (double)h->kid_ns / (double)h->dur_ns : 0);
			jw_obj_end(&j);
		}
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_obj_end(&j);
}

int report_anomaly(const struct report_opts *o, struct report_result *res)
{
	struct anomaly an = { .o = o };
	int err;

	ana_init(&an.a);
	an.a.ctx = &an;
	an.a.collect = true;
	if (o->nr_baseline)
		err = ana_run(&an.a, o, o->baseline, o->nr_baseline, false, NULL, res);
	else
		err = ana_run(&an.a, o, o->paths, o->nr_paths, false, NULL, res);
	if (err)
		goto out;
	/* baselines: the warnings of pass 1 are those of pass 2 when the files
	 * are the same */
	if (!o->nr_baseline)
		res->nr_warn = 0;
	an.nr_pb = an.a.nr_paths;
	an.nr_fb = an.a.nr_funcs;
	an.pb = calloc(an.nr_pb + 1, sizeof(*an.pb));
	an.fb = calloc(an.nr_fb + 1, sizeof(*an.fb));
	err = an.pb && an.fb ? 0 : -ENOMEM;
	for (uint32_t i = 0; i < an.nr_pb && !err; i++) {
		err = baseline(&an.a.paths[i].s[0], &an.pb[i]);
		an.pb[i].by_path = true;
		stats_samples_free(&an.a.paths[i].s[0]);
	}
	for (uint32_t i = 0; i < an.nr_fb && !err; i++) {
		err = baseline(&an.a.funcs[i].s[0], &an.fb[i]);
		stats_samples_free(&an.a.funcs[i].s[0]);
	}
	if (err) {
		res_err(res, err, "out of memory");
		goto out;
	}
	an.a.collect = false;
	an.a.on_call = an_on_call;
	err = ana_run(&an.a, o, o->paths, o->nr_paths, false, NULL, res);
	if (err)
		goto out;
	an.group_n = calloc(an.a.nr_paths + 1, sizeof(*an.group_n));
	if (!an.group_n) {
		err = -ENOMEM;
		res_err(res, err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < an.n; i++)
		an.group_n[an.h[i].path]++;
	sort_ctx = &an;
	if (an.n)
		qsort(an.h, an.n, sizeof(*an.h), cmp_hit);
	if (o->json)
		print_json(&an, res);
	else
		print_text(&an);
out:
	free(an.pb);
	free(an.fb);
	free(an.h);
	free(an.group_n);
	ana_free(&an.a);
	return err;
}
