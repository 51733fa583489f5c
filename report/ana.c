/* SPDX-License-Identifier: MIT */
/*
 * ana.c - functions and paths interned across files, and the per-invocation
 * call stream for the statistical reports.  See ana.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

struct frame {
	uint32_t func, path;
	uint64_t start, child_ns;
	const struct plw_site *site;
	struct ana_child *kids;
	uint32_t nr_kids, kids_cap;
};

struct ana_thread {
	uint32_t input, pid, tid;
	struct frame *stack;
	uint32_t depth, cap;
};

/* ------------------------------------------------------------------ maps */

static size_t map_slot(const struct ana_map *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ (h >> 29)) & (m->cap - 1);
}

static uint32_t map_get(const struct ana_map *m, uint64_t key)
{
	if (!m->cap)
		return ANA_NONE;
	for (size_t i = map_slot(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == ANA_NONE)
			return ANA_NONE;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static int map_put(struct ana_map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct ana_map n = { .cap = m->cap ? m->cap * 2 : 64 };

		n.keys = malloc(n.cap * sizeof(*n.keys));
		n.vals = malloc(n.cap * sizeof(*n.vals));
		if (!n.keys || !n.vals) {
			free(n.keys);
			free(n.vals);
			return -ENOMEM;
		}
		memset(n.vals, 0xff, n.cap * sizeof(*n.vals));
		for (size_t i = 0; i < m->cap; i++)
			if (m->vals[i] != ANA_NONE)
				map_put(&n, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = n;
	}
	size_t i = map_slot(m, key);

	while (m->vals[i] != ANA_NONE && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (m->vals[i] == ANA_NONE)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

static void map_free(struct ana_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------ functions, paths */

void ana_init(struct ana *a)
{
	memset(a, 0, sizeof(*a));
}

void ana_free(struct ana *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < a->nr_funcs; i++) {
		free((char *)a->funcs[i].name);
		free((char *)a->funcs[i].file);
		stats_samples_free(&a->funcs[i].s[0]);
		stats_samples_free(&a->funcs[i].s[1]);
	}
	for (uint32_t i = 0; i < a->nr_paths; i++) {
		stats_samples_free(&a->paths[i].s[0]);
		stats_samples_free(&a->paths[i].s[1]);
	}
	for (uint32_t i = 0; i < a->nr_threads; i++) {
		struct ana_thread *t = a->threads[i];

		for (uint32_t k = 0; k < t->cap; k++)
			free(t->stack[k].kids);
		free(t->stack);
		free(t);
	}
	free(a->threads);
	free(a->funcs);
	free(a->paths);
	map_free(&a->fmap);
	map_free(&a->pmap);
	map_free(&a->smap);
	map_free(&a->tmap);
	memset(a, 0, sizeof(*a));
}

static uint64_t str_hash(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}


/* ARR (of *CAP elements of SIZE bytes, all used) doubled, from FIRST when
 * empty; *CAP updated.  NULL on ENOMEM, ARR untouched. */
static void *grow(void *arr, uint32_t *cap, size_t size, uint32_t first)
{
	uint32_t ncap = *cap ? *cap * 2 : first;
	void *p = realloc(arr, (size_t)ncap * size);

	if (p)
		*cap = ncap;
	return p;
}

static uint32_t func_intern(struct ana *a, uint16_t kind, const char *name, const char *file,
			    uint32_t line)
{
	uint64_t h = str_hash(str_hash(0xcbf29ce484222325ULL ^ kind, name), file);
	uint32_t id;

	/* a different function with the same hash takes the next key */
	for (;; h++) {
		id = map_get(&a->fmap, h);
		if (id == ANA_NONE)
			break;
		struct ana_func *fn = &a->funcs[id];

		if (fn->kind == kind && !strcmp(fn->name, name) && !strcmp(fn->file, file)) {
			if (!fn->line)
				fn->line = line;
			return id;
		}
	}
	if (a->nr_funcs == a->funcs_cap) {
		struct ana_func *nf = grow(a->funcs, &a->funcs_cap, sizeof(*nf), 64);

		if (!nf)
			return ANA_NONE;
		a->funcs = nf;
	}
	struct ana_func *fn = &a->funcs[a->nr_funcs];

	memset(fn, 0, sizeof(*fn));
	fn->kind = kind;
	fn->line = line;
	fn->name = strdup(name);
	fn->file = strdup(file);
	if (!fn->name || !fn->file || map_put(&a->fmap, h, a->nr_funcs)) {
		free((char *)fn->name);
		free((char *)fn->file);
		return ANA_NONE;
	}
	return a->nr_funcs++;
}

uint32_t ana_func_of(struct ana *a, const struct plw_site *site)
{
	uint64_t key = (uint64_t)(uintptr_t)site;
	uint32_t id = map_get(&a->smap, key);

	if (id != ANA_NONE)
		return id;
	const struct plw_site *shown = site->ident && site->ident->entry ? site->ident->entry : site;

	id = func_intern(a, site->kind, site->name ? site->name : "?", site->file ? site->file : "",
			 shown->line);
	if (id != ANA_NONE && map_put(&a->smap, key, id))
		return ANA_NONE;
	return id;
}

uint32_t ana_path_of(struct ana *a, uint32_t parent, uint32_t func)
{
	uint64_t key = (uint64_t)(parent == ANA_NONE ? 0 : parent + 1) << 32 | func;
	uint32_t id = map_get(&a->pmap, key);

	if (id != ANA_NONE)
		return id;
	if (a->nr_paths == a->paths_cap) {
		struct ana_path *np = grow(a->paths, &a->paths_cap, sizeof(*np), 64);

		if (!np)
			return ANA_NONE;
		a->paths = np;
	}
	struct ana_path *p = &a->paths[a->nr_paths];

	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->func = func;
	p->depth = parent == ANA_NONE ? 0 : a->paths[parent].depth + 1;
	if (map_put(&a->pmap, key, a->nr_paths))
		return ANA_NONE;
	return a->nr_paths++;
}

size_t ana_path_funcs(const struct ana *a, uint32_t path, uint32_t *v, size_t max)
{
	size_t n = path == ANA_NONE ? 0 : a->paths[path].depth + 1;

	for (size_t i = n; i-- > 0; path = a->paths[path].parent)
		if (i < max)
			v[i] = a->paths[path].func;
	return n;
}

void ana_func_text(const struct ana_func *fn, FILE *f)
{
	if (fn->kind != PLW_KIND_PYTHON)
		putc('[', f);
	fputs_safe(fn->name, f);
	if (fn->kind != PLW_KIND_PYTHON)
		putc(']', f);
}

void ana_path_text(const struct ana *a, uint32_t path, FILE *f)
{
	uint32_t v[PLW_TREE_DEPTH_MAX + 1];
	size_t n = ana_path_funcs(a, path, v, sizeof(v) / sizeof(v[0]));

	if (n > sizeof(v) / sizeof(v[0]))
		n = sizeof(v) / sizeof(v[0]);
	for (size_t i = 0; i < n; i++) {
		if (n > 8 && i == 3) {
			fputs(" → …", f);
			i = n - 5;
			continue;
		}
		if (i)
			fputs(" → ", f);
		ana_func_text(&a->funcs[v[i]], f);
	}
}

void ana_path_json(const struct ana *a, uint32_t path, struct jw *j)
{
	uint32_t v[PLW_TREE_DEPTH_MAX + 1];
	size_t n = ana_path_funcs(a, path, v, sizeof(v) / sizeof(v[0]));

	if (n > sizeof(v) / sizeof(v[0]))
		n = sizeof(v) / sizeof(v[0]);
	jw_arr(j);
	for (size_t i = 0; i < n; i++)
		jw_str(j, a->funcs[v[i]].name);
	jw_arr_end(j);
}

void ana_jw_num(struct jw *j, double v)
{
	/* jw's separator logic, for a number it does not format */
	if (j->key)
		j->key = false;
	else {
		if (j->depth > 0 && j->comma[j->depth])
			putc(',', j->f);
		j->comma[j->depth] = true;
	}
	if (!isfinite(v))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.6g", v);
}

const char *ana_ms(double ns, char *buf, size_t len)
{
	snprintf(buf, len, "%.3f ms", ns / 1e6);
	return buf;
}

/* ---------------------------------------------------------- call stream */

static struct ana_thread *get_thread(struct ana *a, uint32_t input, uint32_t pid, uint32_t tid)
{
	uint64_t key = ((uint64_t)input * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)pid << 32 | tid);
	uint32_t id;

	for (;; key++) {
		id = map_get(&a->tmap, key);
		if (id == ANA_NONE)
			break;
		struct ana_thread *t = a->threads[id];

		if (t->input == input && t->pid == pid && t->tid == tid)
			return t;
	}
	if (a->nr_threads == a->threads_cap) {
		struct ana_thread **nt = grow(a->threads, &a->threads_cap, sizeof(*nt), 16);

		if (!nt)
			return NULL;
		a->threads = nt;
	}
	struct ana_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->input = input;
	t->pid = pid;
	t->tid = tid;
	if (map_put(&a->tmap, key, a->nr_threads)) {
		free(t);
		return NULL;
	}
	a->threads[a->nr_threads++] = t;
	return t;
}

static int frame_reserve(struct ana_thread *t, uint32_t depth)
{
	if (depth < t->cap)
		return 0;
	uint32_t ncap = t->cap ? t->cap * 2 : 32;

	while (ncap <= depth)
		ncap *= 2;
	struct frame *ns = realloc(t->stack, ncap * sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	memset(ns + t->cap, 0, (ncap - t->cap) * sizeof(*ns));
	t->stack = ns;
	t->cap = ncap;
	return 0;
}

static int kid_add(struct frame *f, uint32_t func, uint64_t dur)
{
	for (uint32_t i = 0; i < f->nr_kids; i++) {
		if (f->kids[i].func == func) {
			f->kids[i].count++;
			f->kids[i].dur_ns += dur;
			return 0;
		}
	}
	if (f->nr_kids == f->kids_cap) {
		struct ana_child *nk = grow(f->kids, &f->kids_cap, sizeof(*nk), 4);

		if (!nk)
			return -ENOMEM;
		f->kids = nk;
	}
	f->kids[f->nr_kids++] = (struct ana_child){ func, 1, dur };
	return 0;
}

static void hook_enter(void *ctx, const struct plw_call_info *ci)
{
	struct ana *a = ctx;
	struct ana_thread *t;

	if (a->err)
		return;
	t = get_thread(a, ci->input, ci->pid, ci->tid);
	if (!t || frame_reserve(t, ci->depth)) {
		a->err = -ENOMEM;
		return;
	}
	/* the model's stack and this one agree; ci->depth wins */
	t->depth = ci->depth;
	uint32_t parent = t->depth ? t->stack[t->depth - 1].path : ANA_NONE;
	struct frame *f = &t->stack[t->depth++];

	f->func = ana_func_of(a, ci->site);
	f->path = f->func == ANA_NONE ? ANA_NONE : ana_path_of(a, parent, f->func);
	if (f->path == ANA_NONE) {
		a->err = -ENOMEM;
		return;
	}
	f->start = ci->start_ns;
	f->child_ns = 0;
	f->site = ci->site;
	f->nr_kids = 0;
	if (a->on_enter) {
		struct ana_call c = {
			.func = f->func, .path = f->path, .input = ci->input, .pid = ci->pid,
			.tid = ci->tid, .depth = ci->depth, .start_ns = ci->start_ns, .site = ci->site,
		};
		int err = a->on_enter(a->ctx, &c);

		if (err)
			a->err = err;
	}
}

static void hook_exit(void *ctx, const struct plw_call_info *ci)
{
	struct ana *a = ctx;
	struct ana_thread *t;
	struct frame tmp = { 0 }, *f;
	int err;

	if (a->err)
		return;
	t = get_thread(a, ci->input, ci->pid, ci->tid);
	if (!t || frame_reserve(t, ci->depth)) {
		a->err = -ENOMEM;
		return;
	}
	if (t->depth == ci->depth + 1) {
		f = &t->stack[--t->depth];
	} else {
		/* cut at start: closed without an entry hook */
		t->depth = ci->depth;
		uint32_t parent = t->depth ? t->stack[t->depth - 1].path : ANA_NONE;

		f = &tmp;
		f->func = ana_func_of(a, ci->site);
		f->path = f->func == ANA_NONE ? ANA_NONE : ana_path_of(a, parent, f->func);
		if (f->path == ANA_NONE) {
			a->err = -ENOMEM;
			return;
		}
		f->site = ci->site;
	}
	struct ana_call c = {
		.func = f->func, .path = f->path, .input = ci->input, .pid = ci->pid,
		.tid = ci->tid, .depth = ci->depth, .flags = ci->flags,
		.start_ns = ci->start_ns, .dur_ns = ci->dur_ns,
		.self_ns = ci->dur_ns > f->child_ns ? ci->dur_ns - f->child_ns : 0,
		.kids = f->kids, .nr_kids = f->nr_kids, .site = f->site,
	};
	a->funcs[c.func].calls[a->side]++;
	if (a->collect && !(ci->flags & PLW_NODE_CUT_START)) {
		/* a call cut at start has no known duration: not a sample */
		if (stats_samples_add(&a->funcs[c.func].s[a->side], (double)c.dur_ns) ||
		    stats_samples_add(&a->paths[c.path].s[a->side], (double)c.dur_ns)) {
			a->err = -ENOMEM;
			return;
		}
	}
	if (a->on_call && (err = a->on_call(a->ctx, &c))) {
		a->err = err;
		return;
	}
	if (t->depth) {
		struct frame *p = &t->stack[t->depth - 1];

		p->child_ns += ci->dur_ns;
		if (kid_add(p, c.func, ci->dur_ns))
			a->err = -ENOMEM;
	}
}

static const struct plw_loc *ana_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct ana *)ctx)->src, input, loc);
}

int ana_run(struct ana *a, const struct report_opts *o, const char *const *paths, size_t n,
	    bool trees, bool (*on_root)(void *ctx, struct plw_tree *tree),
	    struct report_result *res)
{
	struct report_opts so = *o;
	struct source src;
	struct plw_model *m = NULL;
	bool hooks = a->on_call || a->on_enter || a->collect;
	int err;

	so.paths = paths;
	so.nr_paths = n;
	err = source_open(&src, &so, res);
	if (err)
		return err;
	a->src = &src;
	/* stacks of an earlier run are closed (the model closed their frames) */
	for (uint32_t i = 0; i < a->nr_threads; i++)
		a->threads[i]->depth = 0;

	struct plw_model_opts mo = {
		.trees = trees, .on_root = on_root,
		.on_enter = hooks ? hook_enter : NULL, .on_exit = hooks ? hook_exit : NULL,
		.resolve = ana_resolve, .ctx = a,
	};
	if (plw_model_new(&m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	err = source_run_model(&src, m, res);
	if (err)
		goto out;
	if (a->err) {
		err = a->err;
		res_err(res, err, "%s", err == -ENOMEM ? "out of memory" : strerror(-err));
		goto out;
	}
	a->st = *plw_model_stats(m);
	source_damage(&src, res);
out:
	plw_model_free(m);
	source_close(&src);
	a->src = NULL;
	return err;
}
