/* SPDX-License-Identifier: MIT */
/*
 * nplus1.c - `pylow report nplus1`: a call that calls the same function
 * --min N times or more itself (default 10): the N+1 query pattern.
 * Per call, from the call stream (ana.h: direct children by function);
 * grouped by (caller function, callee function): caller calls with the
 * pattern, the most and the mean calls per caller call, and the callee's
 * share of those callers' time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

struct cand {
	uint32_t parent, child;
	uint64_t calls;			/* caller calls with the pattern */
	uint64_t max, sum;		/* callee calls per caller call */
	uint64_t child_ns, parent_ns;
	uint64_t first_ns;
	uint32_t path;			/* caller's path, first seen */
};

struct nplus1 {
	const struct report_opts *o;
	struct ana a;
	struct cand *v;
	uint32_t n, cap;
};

static int np_on_call(void *ctx, const struct ana_call *c)
{
	struct nplus1 *np = ctx;

	for (uint32_t i = 0; i < c->nr_kids; i++) {
		const struct ana_child *k = &c->kids[i];
		struct cand *cd = NULL;

		if (k->count < np->o->min_count)
			continue;
		for (uint32_t j = 0; j < np->n; j++)
			if (np->v[j].parent == c->func && np->v[j].child == k->func)
				cd = &np->v[j];
		if (!cd) {
			if (np->n == np->cap) {
				uint32_t ncap = np->cap ? np->cap * 2 : 16;
				struct cand *nv = realloc(np->v, ncap * sizeof(*nv));

				if (!nv)
					return -ENOMEM;
				np->v = nv;
				np->cap = ncap;
			}
			cd = &np->v[np->n++];
			*cd = (struct cand){ .parent = c->func, .child = k->func, .path = c->path,
					     .first_ns = c->start_ns };
		}
		cd->calls++;
		cd->sum += k->count;
		if (k->count > cd->max)
			cd->max = k->count;
		cd->child_ns += k->dur_ns;
		cd->parent_ns += c->dur_ns;
	}
	return 0;
}

static int cmp_cand(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	if (a->child_ns != b->child_ns)
		return a->child_ns > b->child_ns ? -1 : 1;
	return (a->first_ns > b->first_ns) - (a->first_ns < b->first_ns);
}

static double share(const struct cand *c)
{
	return c->parent_ns ? (double)c->child_ns / (double)c->parent_ns : 0;
}

static void where(const struct ana_func *fn, FILE *f)
{
	if (!*fn->file)
		return;
	fputs("  ", f);
	fputs_safe(fn->file, f);
	if (fn->line)
		fprintf(f, ":%u", fn->line);
}

static void print_text(struct nplus1 *np)
{
	FILE *f = np->o->out;
	char b[2][32];

	for (uint32_t i = 0; i < np->n; i++) {
		const struct cand *c = &np->v[i];
		const struct ana_func *p = &np->a.funcs[c->parent], *ch = &np->a.funcs[c->child];

		fputs(i ? "\n⚠️  N+1 CANDIDATE: " : "⚠️  N+1 CANDIDATE: ", f);
		ana_func_text(ch, f);
		fputs("()", f);
		where(ch, f);
		fprintf(f, "\n   called %" PRIu64 "× by one call of ", c->max);
		ana_func_text(p, f);
		fputs("()", f);
		where(p, f);
		fprintf(f, "\n   in %" PRIu64 " of %" PRIu64 " calls of ", c->calls, p->calls[0]);
		ana_func_text(p, f);
		fprintf(f, "(): %.1f× per call on average, %.1f%% of their time (%s of %s)\n",
			(double)c->sum / (double)c->calls, 100 * share(c),
			ana_ms((double)c->child_ns, b[0], 32), ana_ms((double)c->parent_ns, b[1], 32));
	}
	if (!np->n)
		fprintf(f, "no call calls the same function %u times or more\n", np->o->min_count);
}

static void print_json(struct nplus1 *np, const struct report_result *res)
{
	const struct report_opts *o = np->o;
	struct jw j;

	jw_init(&j, o->out);
	jw_obj(&j);
	jw_strs(&j, "files", o->paths, o->nr_paths);
	jw_key(&j, "min");
	jw_u64(&j, o->min_count);
	jw_damage(&j, res);
	jw_key(&j, "candidates");
	jw_arr(&j);
	for (uint32_t i = 0; i < np->n; i++) {
		const struct cand *c = &np->v[i];
		const struct ana_func *p = &np->a.funcs[c->parent], *ch = &np->a.funcs[c->child];

		jw_obj(&j);
		jw_key(&j, "parent");
		jw_str(&j, p->name);
		jw_key(&j, "parent_file");
		jw_str(&j, p->file);
		jw_key(&j, "child");
		jw_str(&j, ch->name);
		jw_key(&j, "child_file");
		jw_str(&j, ch->file);
		jw_key(&j, "child_line");
		jw_u64(&j, ch->line);
		jw_key(&j, "count");
		jw_u64(&j, c->max);
		jw_key(&j, "mean_count");
		ana_jw_num(&j, (double)c->sum / (double)c->calls);
		jw_key(&j, "parent_calls");
		jw_u64(&j, c->calls);
		jw_key(&j, "parent_calls_total");
		jw_u64(&j, p->calls[0]);
		jw_key(&j, "child_ns");
		jw_u64(&j, c->child_ns);
		jw_key(&j, "parent_ns");
		jw_u64(&j, c->parent_ns);
		jw_key(&j, "share");
		ana_jw_num(&j, share(c));
		jw_key(&j, "path");
		ana_path_json(&np->a, c->path, &j);
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_obj_end(&j);
}

int report_nplus1(const struct report_opts *o, struct report_result *res)
{
	struct nplus1 np = { .o = o };
	int err;

	ana_init(&np.a);
	np.a.ctx = &np;
	np.a.on_call = np_on_call;
	err = ana_run(&np.a, o, o->paths, o->nr_paths, false, NULL, res);
	if (!err) {
		if (np.n)
			qsort(np.v, np.n, sizeof(*np.v), cmp_cand);
		if (o->json)
			print_json(&np, res);
		else
			print_text(&np);
	}
	free(np.v);
	ana_free(&np.a);
	return err;
}
