/* SPDX-License-Identifier: MIT */
/*
 * single.c - `pylow report single FUNC`: one call of FUNC (the slowest, or
 * the --nth K-th in start order) with every call and return inside it,
 * total and self time.  Calls of FUNC inside a captured call are part of it
 * (not counted as calls of their own).  At most SINGLE_MAX events are kept
 * for one call; the rest are counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

#define SINGLE_MAX	1000000

struct sev {
	bool exit;
	uint32_t func, depth, flags;
	uint32_t line;			/* the entry's (sites die with the model) */
	uint64_t ts, dur_ns, self_ns;
};

struct capture {
	uint32_t input, pid, tid;
	bool active;
	uint32_t depth;
	uint64_t nth;			/* which call of FUNC */
	struct sev *ev;
	size_t n, cap;
	uint64_t dropped;
	uint64_t dur;			/* of the captured call, once closed */
};

struct single {
	const struct report_opts *o;
	struct ana a;
	struct capture *c;
	size_t nr_c;
	struct capture best;
	bool have, done;
	uint64_t calls;			/* calls of FUNC (outermost) */
};

static struct capture *cap_of(struct single *s, const struct ana_call *c, bool create)
{
	for (size_t i = 0; i < s->nr_c; i++)
		if (s->c[i].input == c->input && s->c[i].pid == c->pid && s->c[i].tid == c->tid)
			return &s->c[i];
	if (!create)
		return NULL;
	struct capture *nc = realloc(s->c, (s->nr_c + 1) * sizeof(*nc));

	if (!nc)
		return NULL;
	s->c = nc;
	memset(&s->c[s->nr_c], 0, sizeof(*nc));
	s->c[s->nr_c].input = c->input;
	s->c[s->nr_c].pid = c->pid;
	s->c[s->nr_c].tid = c->tid;
	return &s->c[s->nr_c++];
}

static int push(struct capture *k, const struct sev *e)
{
	if (k->n >= SINGLE_MAX) {
		k->dropped++;
		return 0;
	}
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 64;
		struct sev *ne = realloc(k->ev, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		k->ev = ne;
		k->cap = ncap;
	}
	k->ev[k->n++] = *e;
	return 0;
}

static int si_on_enter(void *ctx, const struct ana_call *c)
{
	struct single *s = ctx;
	struct capture *k = cap_of(s, c, false);
	struct sev e = { .func = c->func, .depth = c->depth, .ts = c->start_ns,
			 .line = c->site ? c->site->line : 0 };

	if (k && k->active)
		return push(k, &e);
	if (s->done || strcmp(s->a.funcs[c->func].name, s->o->func))
		return 0;
	s->calls++;
	if (s->o->nth && s->calls != s->o->nth)
		return 0;
	if (!(k = cap_of(s, c, true)))
		return -ENOMEM;
	k->active = true;
	k->depth = c->depth;
	k->nth = s->calls;
	k->n = 0;
	k->dropped = 0;
	return push(k, &e);
}

static int si_on_call(void *ctx, const struct ana_call *c)
{
	struct single *s = ctx;
	struct capture *k = cap_of(s, c, false);
	struct sev e = {
		.exit = true, .func = c->func, .depth = c->depth, .flags = c->flags, .line = c->site ? c->site->line : 0,
		.ts = c->start_ns + c->dur_ns, .dur_ns = c->dur_ns, .self_ns = c->self_ns,
	};
	int err;

	if (!k || !k->active || c->depth < k->depth)
		return 0;
	if ((err = push(k, &e)))
		return err;
	if (c->depth > k->depth)
		return 0;
	k->active = false;
	k->dur = c->dur_ns;
	if (s->o->nth)
		s->done = true;
	if (!s->have || c->dur_ns > s->best.dur) {
		struct capture t = s->best;

		s->best = *k;
		/* hand the old buffer to this thread's capture */
		k->ev = t.ev;
		k->cap = t.cap;
		k->n = 0;
		s->have = true;
	}
	return 0;
}

static void print_text(struct single *s)
{
	FILE *f = s->o->out;
	struct capture *k = &s->best;
	uint64_t t0 = k->ev[0].ts;
	char fl[96];

	fprintf(f, "call %" PRIu64 " of %" PRIu64 " of %s()%s, pid %u tid %u, %.3f ms\n\n",
		k->nth, s->calls, s->o->func, s->o->nth ? "" : " (the slowest)", k->pid, k->tid,
		(double)k->dur / 1e6);
	for (size_t i = 0; i < k->n; i++) {
		const struct sev *e = &k->ev[i];
		const struct ana_func *fn = &s->a.funcs[e->func];

		fprintf(f, "[%10.3fms] %*s%s ", (double)(e->ts - t0) / 1e6,
			2 * (int)(e->depth - k->depth), "", e->exit ? "←" : "→");
		ana_func_text(fn, f);
		fputs("()", f);
		if (!e->exit) {
			if (*fn->file) {
				fputs("  ", f);
				fputs_safe(fn->file, f);
				if (e->line)
					fprintf(f, ":%u", e->line);
			}
		} else {
			fprintf(f, "  total=%.3fms  self=%.3fms%s", (double)e->dur_ns / 1e6,
				(double)e->self_ns / 1e6, flags_text(e->flags, fl, sizeof(fl)));
		}
		putc('\n', f);
	}
	if (k->dropped)
		fprintf(f, "… %" PRIu64 " more events not kept (the first %d are shown)\n", k->dropped,
			SINGLE_MAX);
}

/* the events from I as one JSON node; returns the index after it */
static size_t json_node(struct single *s, struct jw *j, size_t i)
{
	struct capture *k = &s->best;
	const struct sev *e = &k->ev[i];
	const struct ana_func *fn = &s->a.funcs[e->func];

	jw_obj(j);
	jw_key(j, "name");
	jw_str(j, fn->name);
	jw_key(j, "file");
	jw_str(j, fn->file);
	jw_key(j, "line");
	jw_u64(j, e->line);
	if (e->exit) {
		/* cut at start: no entry */
		jw_key(j, "start_ns");
		jw_u64(j, e->ts - e->dur_ns);
		jw_key(j, "dur_ns");
		jw_u64(j, e->dur_ns);
		jw_key(j, "self_ns");
		jw_u64(j, e->self_ns);
		jw_key(j, "flags");
		jw_flags(j, e->flags);
		jw_key(j, "children");
		jw_arr(j);
		jw_arr_end(j);
		jw_obj_end(j);
		return i + 1;
	}
	jw_key(j, "start_ns");
	jw_u64(j, e->ts);
	jw_key(j, "children");
	jw_arr(j);
	for (i++; i < k->n && !(k->ev[i].exit && k->ev[i].depth == e->depth);)
		i = json_node(s, j, i);
	jw_arr_end(j);
	if (i < k->n) {
		jw_key(j, "dur_ns");
		jw_u64(j, k->ev[i].dur_ns);
		jw_key(j, "self_ns");
		jw_u64(j, k->ev[i].self_ns);
		jw_key(j, "flags");
		jw_flags(j, k->ev[i].flags);
		i++;
	}
	jw_obj_end(j);
	return i;
}

static void print_json(struct single *s, const struct report_result *res)
{
	const struct report_opts *o = s->o;
	struct capture *k = &s->best;
	struct jw j;

	jw_init(&j, o->out);
	jw_obj(&j);
	jw_strs(&j, "files", o->paths, o->nr_paths);
	jw_key(&j, "function");
	jw_str(&j, o->func);
	jw_key(&j, "nth");
	jw_u64(&j, k->nth);
	jw_key(&j, "calls");
	jw_u64(&j, s->calls);
	jw_key(&j, "pid");
	jw_u64(&j, k->pid);
	jw_key(&j, "tid");
	jw_u64(&j, k->tid);
	jw_key(&j, "not_kept");
	jw_u64(&j, k->dropped);
	jw_damage(&j, res);
	jw_key(&j, "call");
	json_node(s, &j, 0);
	jw_obj_end(&j);
}

int report_single(const struct report_opts *o, struct report_result *res)
{
	struct single s = { .o = o };
	int err;

	ana_init(&s.a);
	s.a.ctx = &s;
	s.a.on_enter = si_on_enter;
	s.a.on_call = si_on_call;
	err = ana_run(&s.a, o, o->paths, o->nr_paths, false, NULL, res);
	if (!err && !s.have) {
		err = -ENOENT;
		if (o->nth && s.calls)
			res_err(res, -EINVAL, "%s() was called %" PRIu64 " times, not %u (try --nth %" PRIu64 ")",
				o->func, s.calls, o->nth, s.calls);
		else
			res_err(res, -EINVAL, "no complete call of %s() in %s (a function name, as 'pylow report graph' shows)",
				o->func, o->nr_paths == 1 ? o->paths[0] : "these files");
		err = -EINVAL;
	}
	if (!err) {
		if (o->json)
			print_json(&s, res);
		else
			print_text(&s);
	}
	for (size_t i = 0; i < s.nr_c; i++)
		free(s.c[i].ev);
	free(s.c);
	free(s.best.ev);
	ana_free(&s.a);
	return err;
}
