/* SPDX-License-Identifier: MIT */
/*
 * slow.c - `pylow report slow`: root calls (requests) at or above a
 * threshold, grouped by the path from the root down to their root cause,
 * with the distribution of their durations.
 *
 * Root cause of one root call: the node of its tree (calling context, the
 * calls from one place summed) with the largest exclusive time -- a Python
 * frame's own time, or a kernel leaf (syscall, off-CPU wait, ...) once the
 * recorder emits them.  Its share: that exclusive time over the root's.
 * Calls cut at start have no known duration and are not ranked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

struct slow_path {
	uint32_t path;			/* root → … → cause */
	struct stats_samples d;		/* root durations */
	double cause_ns;		/* summed exclusive time of the cause */
	uint64_t incomplete;		/* occurrences with flags */
};

struct slow {
	const struct report_opts *o;
	struct ana a;
	struct slow_path *v;
	uint32_t n, cap;
	uint32_t *by_path;		/* path id → index + 1 */
	uint32_t by_path_cap;
	uint64_t roots, slow, cut_start;
	int err;
};

static void walk(const struct plw_node *n, const struct plw_node **best, uint32_t *flags)
{
	for (; n; n = n->next) {
		*flags |= n->flags;
		if (!*best || n->self_ns > (*best)->self_ns)
			*best = n;
		if (n->child)
			walk(n->child, best, flags);
	}
}

static int add(struct slow *s, const struct plw_node *root)
{
	const struct plw_node *best = NULL, *chain[PLW_TREE_DEPTH_MAX + 1];
	uint32_t flags = root->flags, path = ANA_NONE;
	size_t n = 0;

	if (root->child)
		walk(root->child, &best, &flags);
	if (!best || root->self_ns >= best->self_ns)
		best = root;
	for (const struct plw_node *p = best; p && n < PLW_TREE_DEPTH_MAX + 1; p = p->parent)
		chain[n++] = p;
	while (n--) {
		uint32_t fn = ana_func_of(&s->a, chain[n]->site);

		if (fn == ANA_NONE || (path = ana_path_of(&s->a, path, fn)) == ANA_NONE)
			return -ENOMEM;
	}
	if (path >= s->by_path_cap) {
		uint32_t ncap = s->by_path_cap ? s->by_path_cap : 64;

		while (ncap <= path)
			ncap *= 2;
		uint32_t *nb = realloc(s->by_path, ncap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		memset(nb + s->by_path_cap, 0, (ncap - s->by_path_cap) * sizeof(*nb));
		s->by_path = nb;
		s->by_path_cap = ncap;
	}
	if (!s->by_path[path]) {
		if (s->n == s->cap) {
			uint32_t ncap = s->cap ? s->cap * 2 : 16;
			struct slow_path *nv = realloc(s->v, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			s->v = nv;
			s->cap = ncap;
		}
		memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
		s->v[s->n].path = path;
		s->by_path[path] = ++s->n;
	}
	struct slow_path *sp = &s->v[s->by_path[path] - 1];

	sp->cause_ns += (double)best->self_ns;
	if (flags)
		sp->incomplete++;
	return stats_samples_add(&sp->d, (double)root->dur_ns);
}

static bool slow_on_root(void *ctx, struct plw_tree *tree)
{
	struct ana *a = ctx;
	struct slow *s = a->ctx;
	const struct plw_node *r = tree->root;

	s->roots++;
	if (r->flags & PLW_NODE_CUT_START) {
		s->cut_start++;
		return false;
	}
	if (r->dur_ns < s->o->threshold_ns || s->err)
		return false;
	s->slow++;
	s->err = add(s, r);
	return false;
}

static int cmp_total(const void *x, const void *y)
{
	const struct slow_path *a = x, *b = y;

	if (a->d.sum != b->d.sum)
		return a->d.sum > b->d.sum ? -1 : 1;
	return (a->path > b->path) - (a->path < b->path);
}

static const char *kind_text(uint16_t kind)
{
	switch (kind) {
	case PLW_KIND_PYTHON: return "own time (Python code, or calls not traced)";
	case PLW_KIND_SYSCALL: return "in the system call";
	case PLW_KIND_OFFCPU: return "off-CPU (waiting)";
	case PLW_KIND_IO: return "waiting for I/O";
	case PLW_KIND_GIL: return "waiting for the GIL";
	default: return plw_kind_name((enum plw_kind)kind);
	}
}

static void print_text(struct slow *s)
{
	FILE *f = s->o->out;
	char b[6][32];

	fprintf(f, "SLOW PATHS: %" PRIu64 " of %" PRIu64 " root calls took %s or more\n",
		s->slow, s->roots - s->cut_start, ana_ms((double)s->o->threshold_ns, b[0], sizeof(b[0])));
	for (uint32_t i = 0; i < s->n; i++) {
		struct slow_path *p = &s->v[i];
		const struct ana_func *cause = &s->a.funcs[s->a.paths[p->path].func];
		double mean = stats_samples_mean(&p->d);

		fprintf(f, "\n  #%u  ", i + 1);
		ana_path_text(&s->a, p->path, f);
		fprintf(f, "\n      avg: %s  p50: %s  p95: %s  p99: %s  max: %s  occurrences: %" PRIu64 "\n",
			ana_ms(mean, b[0], 32), ana_ms(stats_samples_quantile(&p->d, 0.5), b[1], 32),
			ana_ms(stats_samples_quantile(&p->d, 0.95), b[2], 32),
			ana_ms(stats_samples_quantile(&p->d, 0.99), b[3], 32),
			ana_ms(p->d.max, b[4], 32), p->d.count);
		fputs("      root cause: ", f);
		ana_func_text(cause, f);
		fprintf(f, " %s avg (%.1f%% of the time) — %s", ana_ms(p->cause_ns / (double)p->d.count, b[5], 32),
			p->d.sum > 0 ? 100 * p->cause_ns / p->d.sum : 0, kind_text(cause->kind));
		if (*cause->file) {
			fputs(", ", f);
			fputs_safe(cause->file, f);
			if (cause->line)
				fprintf(f, ":%u", cause->line);
		}
		putc('\n', f);
		if (p->incomplete)
			fprintf(f, "      [incomplete] %" PRIu64 " of them: events were lost, cut or did not match\n",
				p->incomplete);
	}
	if (!s->slow) {
		if (s->roots == s->cut_start)
			fprintf(f, "\nno complete root calls in %s\n",
				s->o->nr_paths == 1 ? s->o->paths[0] : "these files");
		else
			fprintf(f, "\nnone (try a lower --threshold)\n");
	}
	if (s->cut_start)
		fprintf(f, "\n%" PRIu64 " root calls began before the recording (duration unknown): not ranked\n",
			s->cut_start);
	if (s->a.st.lost)
		fprintf(f, "%" PRIu64 " events were lost while recording: calls open then are marked [incomplete]\n",
			s->a.st.lost);
}

static void print_json(struct slow *s, const struct report_result *res)
{
	struct jw j;

	jw_init(&j, s->o->out);
	jw_obj(&j);
	jw_key(&j, "files");
	jw_arr(&j);
	for (size_t i = 0; i < s->o->nr_paths; i++)
		jw_str(&j, s->o->paths[i]);
	jw_arr_end(&j);
	jw_key(&j, "threshold_ns");
	jw_u64(&j, s->o->threshold_ns);
	jw_key(&j, "root_calls");
	jw_u64(&j, s->roots);
	jw_key(&j, "slow_calls");
	jw_u64(&j, s->slow);
	jw_key(&j, "cut_start");
	jw_u64(&j, s->cut_start);
	jw_key(&j, "lost");
	jw_u64(&j, s->a.st.lost);
	jw_damage(&j, res);
	jw_key(&j, "paths");
	jw_arr(&j);
	for (uint32_t i = 0; i < s->n; i++) {
		struct slow_path *p = &s->v[i];
		const struct ana_func *cause = &s->a.funcs[s->a.paths[p->path].func];

		jw_obj(&j);
		jw_key(&j, "path");
		ana_path_json(&s->a, p->path, &j);
		jw_key(&j, "count");
		jw_u64(&j, p->d.count);
		jw_key(&j, "mean_ns");
		jw_u64(&j, (uint64_t)(stats_samples_mean(&p->d) + 0.5));
		jw_key(&j, "p50_ns");
		jw_u64(&j, (uint64_t)(stats_samples_quantile(&p->d, 0.5) + 0.5));
		jw_key(&j, "p95_ns");
		jw_u64(&j, (uint64_t)(stats_samples_quantile(&p->d, 0.95) + 0.5));
		jw_key(&j, "p99_ns");
		jw_u64(&j, (uint64_t)(stats_samples_quantile(&p->d, 0.99) + 0.5));
		jw_key(&j, "max_ns");
		jw_u64(&j, (uint64_t)p->d.max);
		jw_key(&j, "total_ns");
		jw_u64(&j, (uint64_t)p->d.sum);
		jw_key(&j, "incomplete");
		jw_u64(&j, p->incomplete);
		jw_key(&j, "root_cause");
		jw_obj(&j);
		jw_key(&j, "name");
		jw_str(&j, cause->name);
		jw_key(&j, "kind");
		jw_str(&j, plw_kind_name((enum plw_kind)cause->kind));
		jw_key(&j, "file");
		jw_str(&j, cause->file);
		jw_key(&j, "line");
		jw_u64(&j, cause->line);
		jw_key(&j, "mean_ns");
		jw_u64(&j, (uint64_t)(p->cause_ns / (double)p->d.count + 0.5));
		jw_key(&j, "share");
		ana_jw_num(&j, p->d.sum > 0 ? p->cause_ns / p->d.sum : 0);
		jw_obj_end(&j);
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_obj_end(&j);
}

int report_slow(const struct report_opts *o, struct report_result *res)
{
	struct slow s = { .o = o };
	int err;

	ana_init(&s.a);
	s.a.ctx = &s;
	err = ana_run(&s.a, o, o->paths, o->nr_paths, true, slow_on_root, res);
	if (!err && s.err) {
		err = s.err;
		res_err(res, err, "out of memory");
	}
	if (!err) {
		if (s.n)
			qsort(s.v, s.n, sizeof(*s.v), cmp_total);
		if (o->json)
			print_json(&s, res);
		else
			print_text(&s);
	}
	for (uint32_t i = 0; i < s.n; i++)
		stats_samples_free(&s.v[i].d);
	free(s.v);
	free(s.by_path);
	ana_free(&s.a);
	return err;
}
