/* SPDX-License-Identifier: MIT */
/*
 * graph.c - `pylow report graph`: every root tree merged into one calling-
 * context tree (roots grouped by site too): calls, total, average and self
 * time per call path.  Memory: distinct call paths.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

struct graph {
	struct source *src;
	struct plw_arena *arena;
	struct plw_node top;		/* virtual: its children are the roots */
	uint64_t roots;
	bool oom;
};

static const struct plw_loc *graph_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct graph *)ctx)->src, input, loc);
}

static int merge_node(struct plw_arena *a, struct plw_node *into, const struct plw_node *n)
{
	struct plw_node *g = plw_node_get(a, into, n->site);

	if (!g)
		return -ENOMEM;
	if (!g->count) {
		g->start_ns = n->start_ns;
		g->input = n->input;
		g->pid = n->pid;
		g->tid = n->tid;
	}
	g->count += n->count;
	g->dur_ns += n->dur_ns;
	g->self_ns += n->self_ns;
	g->flags |= n->flags;
	for (const struct plw_node *c = n->child; c; c = c->next)
		if (merge_node(a, g, c))
			return -ENOMEM;
	return 0;
}

static bool graph_on_root(void *ctx, struct plw_tree *tree)
{
	struct graph *g = ctx;

	g->roots++;
	if (!g->oom && merge_node(g->arena, &g->top, tree->root))
		g->oom = true;
	return false;
}

static int cmp_total(const void *a, const void *b)
{
	const struct plw_node *x = *(struct plw_node *const *)a, *y = *(struct plw_node *const *)b;

	if (x->dur_ns != y->dur_ns)
		return x->dur_ns > y->dur_ns ? -1 : 1;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Children of N, heaviest first; NULL on ENOMEM (or no children). */
static struct plw_node **sorted_children(const struct plw_node *n)
{
	struct plw_node **v;
	size_t i = 0;

	if (!n->nr_children)
		return NULL;
	v = malloc(n->nr_children * sizeof(*v));
	if (!v)
		return NULL;
	for (struct plw_node *c = n->child; c; c = c->next)
		v[i++] = c;
	qsort(v, i, sizeof(*v), cmp_total);
	return v;
}

static int text_node(FILE *out, const struct plw_node *n, int depth)
{
	char where[512], fl[64];

	for (int i = 0; i < depth; i++)
		fputs("  ", out);
	fputs_safe(n->site->name, out);
	fprintf(out, "()  calls=%" PRIu64 "  total=%.3fms  avg=%.3fms  self=%.3fms", n->count,
		n->dur_ns / 1e6, n->count ? n->dur_ns / 1e6 / n->count : 0.0, n->self_ns / 1e6);
	where_text(n->site, where, sizeof(where));
	if (where[0]) {
		fputs("  (", out);
		fputs_safe(where, out);
		putc(')', out);
	}
	fputs(flags_text(n->flags, fl, sizeof(fl)), out);
	putc('\n', out);
	if (!n->nr_children)
		return 0;
	struct plw_node **v = sorted_children(n);

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n->nr_children; i++) {
		if (text_node(out, v[i], depth + 1)) {
			free(v);
			return -ENOMEM;
		}
	}
	free(v);
	return 0;
}

static int json_node(struct jw *j, const struct plw_node *n)
{
	jw_obj(j);
	jw_node_site(j, n);
	jw_key(j, "calls");
	jw_u64(j, n->count);
	jw_key(j, "total_ns");
	jw_u64(j, n->dur_ns);
	jw_key(j, "self_ns");
	jw_u64(j, n->self_ns);
	jw_key(j, "flags");
	jw_flags(j, n->flags);
	jw_key(j, "children");
	jw_arr(j);
	struct plw_node **v = sorted_children(n);
	int err = n->nr_children && !v ? -ENOMEM : 0;

	for (uint32_t i = 0; v && i < n->nr_children && !err; i++)
		err = json_node(j, v[i]);
	free(v);
	jw_arr_end(j);
	jw_obj_end(j);
	return err;
}

int report_graph(const struct report_opts *o, struct report_result *res)
{
	struct source src;
	struct graph g = { .src = &src };
	struct plw_model *m = NULL;
	struct plw_node **v = NULL;
	int err = source_open(&src, o, res);

	if (err)
		return err;
	struct plw_model_opts mo = {
		.trees = true, .on_root = graph_on_root, .resolve = graph_resolve, .ctx = &g,
	};
	g.arena = plw_arena_new();
	if (!g.arena || plw_model_new(&m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	err = source_run_model(&src, m, res);
	if (err)
		goto out;
	if (g.oom) {
		res_err(res, -ENOMEM, "out of memory merging call paths");
		err = -ENOMEM;
		goto out;
	}
	source_damage(&src, res);
	const struct plw_model_stats *st = plw_model_stats(m);

	v = sorted_children(&g.top);
	if (g.top.nr_children && !v) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	if (o->json) {
		struct jw j;

		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "events");
		jw_u64(&j, st->events);
		jw_key(&j, "calls");
		jw_u64(&j, st->calls);
		jw_key(&j, "root_calls");
		jw_u64(&j, g.roots);
		jw_key(&j, "lost");
		jw_u64(&j, st->lost);
		jw_damage(&j, res);
		jw_key(&j, "roots");
		jw_arr(&j);
		for (uint32_t i = 0; i < g.top.nr_children && !err; i++)
			err = json_node(&j, v[i]);
		jw_arr_end(&j);
		jw_obj_end(&j);
	} else if (!st->calls && !st->returns) {
		fprintf(o->out, "no Python calls in %s (%" PRIu64 " events, none from Python)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files", st->events);
	} else {
		for (uint32_t i = 0; i < g.top.nr_children && !err; i++)
			err = text_node(o->out, v[i], 0);
		if (st->lost)
			fprintf(o->out, "\n%" PRIu64 " events were lost while recording: paths open then are marked [incomplete]\n",
				st->lost);
	}
	if (err)
		res_err(res, err, "out of memory");
out:
	free(v);
	plw_model_free(m);
	plw_arena_free(g.arena);
	source_close(&src);
	return err;
}
