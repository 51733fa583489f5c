// SPDX-License-Identifier: MIT
/*
 * threads.c - `pylow report threads`: per recorded thread, where its time
 * went (the offline form of the seed's `pythread`):
 *
 *   wall       its span in the recording: from its creation (FORK) or exec,
 *              else the recording's start, to its EXIT, else the end
 *   off-CPU    summed off-CPU intervals (-e sched), split into blocked
 *              (sleeping) and runqueue (runnable, waiting for a CPU: after a
 *              wakeup, or preempted)
 *   busy       wall - off-CPU: on a CPU (only when sched was recorded)
 *   python     time inside Python calls (the thread's root calls summed)
 *   self       the part of it in the functions' own code: minus the
 *              callees, the syscalls, off-CPU intervals and irqs under them
 *   syscalls   summed syscall time (-e syscalls), in Python or not
 *
 * and its functions with the most self time.  Streams: per thread a stack
 * of child times (no trees).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define TOP_FUNCS	3

struct fself {
	const struct plw_site *site;	/* by identity (name, file) */
	uint64_t calls, self_ns;
};

struct thr {
	uint32_t input, pid, tid;
	char comm[16];
	uint64_t start, end;		/* 0: the input's start / end */
	uint64_t off_ns, blocked_ns, runq_ns, nr_off, nr_preempt;
	uint64_t sys_ns, nr_sys, irq_ns;
	uint64_t py_ns, self_ns, calls;
	uint64_t *child;		/* child time per open depth */
	uint32_t depth, cap;
	struct fself *f;
	uint32_t nr_f, cap_f;
	uint32_t *fidx;			/* open addressing over f by site: index + 1 */
	uint32_t fidx_cap;		/* power of two */
};

struct input_span {
	uint64_t first, last;
	bool sched;			/* sched recorded: off-CPU is known */
	bool seen;
};

struct th {
	const struct report_opts *o;
	struct source *src;
	int err;
	struct thr *t;
	uint32_t n, cap;
	uint32_t last;			/* lookup cache */
	uint32_t *idx;			/* open addressing over t by thread: index + 1 */
	uint32_t idx_cap;
	struct input_span *in;
	uint32_t nr_in;
};

static uint32_t thr_slot(uint32_t input, uint32_t pid, uint32_t tid, uint32_t cap)
{
	uint64_t k = ((uint64_t)pid << 32 | tid) ^ ((uint64_t)input * 0x9e3779b97f4a7c15ULL);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k & (cap - 1);
}

static int idx_grow(struct th *h)
{
	uint32_t cap = h->idx_cap ? h->idx_cap * 2 : 64;
	uint32_t *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t j = thr_slot(h->t[i].input, h->t[i].pid, h->t[i].tid, cap);

		while (v[j])
			j = (j + 1) & (cap - 1);
		v[j] = i + 1;
	}
	free(h->idx);
	h->idx = v;
	h->idx_cap = cap;
	return 0;
}

static struct thr *get(struct th *h, uint32_t input, uint32_t pid, uint32_t tid)
{
	uint32_t j;

	if (h->last < h->n) {
		struct thr *t = &h->t[h->last];

		if (t->tid == tid && t->pid == pid && t->input == input)
			return t;
	}
	if (h->idx_cap) {
		for (j = thr_slot(input, pid, tid, h->idx_cap); h->idx[j]; j = (j + 1) & (h->idx_cap - 1)) {
			struct thr *t = &h->t[h->idx[j] - 1];

			if (t->tid == tid && t->pid == pid && t->input == input) {
				h->last = h->idx[j] - 1;
				return t;
			}
		}
	}
	if ((h->n + 1) * 2 > h->idx_cap && idx_grow(h)) {
		h->err = -ENOMEM;
		return NULL;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 16;
		struct thr *v = realloc(h->t, cap * sizeof(*v));

		if (!v) {
			h->err = -ENOMEM;
			return NULL;
		}
		h->t = v;
		h->cap = cap;
	}
	h->t[h->n] = (struct thr){ .input = input, .pid = pid, .tid = tid };
	for (j = thr_slot(input, pid, tid, h->idx_cap); h->idx[j]; j = (j + 1) & (h->idx_cap - 1))
		;
	h->idx[j] = h->n + 1;
	h->last = h->n;
	return &h->t[h->n++];
}

/* the child-time slot of depth D (created, zeroed up to it) */
static uint64_t *slot(struct th *h, struct thr *t, uint32_t d)
{
	if (d >= t->cap) {
		uint32_t cap = t->cap ? t->cap : 32;

		while (cap <= d)
			cap *= 2;
		uint64_t *v = realloc(t->child, cap * sizeof(*v));

		if (!v) {
			h->err = -ENOMEM;
			return NULL;
		}
		t->child = v;
		t->cap = cap;
	}
	while (t->depth <= d)
		t->child[t->depth++] = 0;
	return &t->child[d];
}

static void th_enter(void *ctx, const struct plw_call_info *ci)
{
	struct th *h = ctx;
	struct thr *t = get(h, ci->input, ci->pid, ci->tid);
	uint64_t *c;

	if (!t || !(c = slot(h, t, ci->depth)))
		return;
	*c = 0;
	t->depth = ci->depth + 1;
}

static uint32_t ptr_slot(const void *p, uint32_t cap)
{
	uint64_t k = (uint64_t)(uintptr_t)p;

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k & (cap - 1);
}

static int fidx_grow(struct thr *t)
{
	uint32_t cap = t->fidx_cap ? t->fidx_cap * 2 : 64;
	uint32_t *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nr_f; i++) {
		uint32_t j = ptr_slot(t->f[i].site, cap);

		while (v[j])
			j = (j + 1) & (cap - 1);
		v[j] = i + 1;
	}
	free(t->fidx);
	t->fidx = v;
	t->fidx_cap = cap;
	return 0;
}

static void add_self(struct th *h, struct thr *t, const struct plw_site *site, uint64_t self)
{
	const struct plw_site *id = site->ident ? site->ident : site;
	uint32_t j;

	if (t->fidx_cap) {
		for (j = ptr_slot(id, t->fidx_cap); t->fidx[j]; j = (j + 1) & (t->fidx_cap - 1)) {
			struct fself *e = &t->f[t->fidx[j] - 1];

			if (e->site == id) {
				e->calls++;
				e->self_ns += self;
				return;
			}
		}
	}
	if ((t->nr_f + 1) * 2 > t->fidx_cap && fidx_grow(t)) {
		h->err = -ENOMEM;
		return;
	}
	if (t->nr_f == t->cap_f) {
		uint32_t cap = t->cap_f ? t->cap_f * 2 : 16;
		struct fself *v = realloc(t->f, cap * sizeof(*v));

		if (!v) {
			h->err = -ENOMEM;
			return;
		}
		t->f = v;
		t->cap_f = cap;
	}
	t->f[t->nr_f] = (struct fself){ .site = id, .calls = 1, .self_ns = self };
	for (j = ptr_slot(id, t->fidx_cap); t->fidx[j]; j = (j + 1) & (t->fidx_cap - 1))
		;
	t->fidx[j] = ++t->nr_f;
}

static void th_exit(void *ctx, const struct plw_call_info *ci)
{
	struct th *h = ctx;
	struct thr *t = get(h, ci->input, ci->pid, ci->tid);
	uint64_t child = 0, self;

	if (!t)
		return;
	/* a call cut at start was never entered: no children seen */
	if (ci->depth < t->depth)
		child = t->child[ci->depth];
	self = ci->dur_ns > child ? ci->dur_ns - child : 0;
	t->calls++;
	t->self_ns += self;
	add_self(h, t, ci->site, self);
	t->depth = ci->depth;
	if (ci->depth) {
		uint64_t *c = slot(h, t, ci->depth - 1);

		if (c)
			*c += ci->dur_ns;
	} else {
		t->py_ns += ci->dur_ns;
	}
}

static void th_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct th *h = ctx;
	struct thr *t = get(h, ci->input, ci->pid, ci->tid);
	bool nested = ci->depth > li->depth;	/* off-CPU inside a syscall */
	uint64_t frame_ns = 0, *c;

	if (!t)
		return;
	switch (li->kind) {
	case PLW_KIND_SYSCALL:
		t->sys_ns += ci->dur_ns;
		t->nr_sys++;
		frame_ns = ci->dur_ns;
		break;
	case PLW_KIND_OFFCPU:
		t->off_ns += ci->dur_ns;
		t->nr_off++;
		t->runq_ns += li->runq_ns;
		t->blocked_ns += ci->dur_ns > li->runq_ns ? ci->dur_ns - li->runq_ns : 0;
		t->nr_preempt += li->reason == PLW_OFFCPU_PREEMPTED;
		frame_ns = nested ? 0 : ci->dur_ns;
		break;
	case PLW_KIND_IRQ:
		t->irq_ns += ci->dur_ns;
		frame_ns = ci->dur_ns;
		break;
	default:
		return;
	}
	/* taken from the frame's self time, as the model does */
	if (li->depth && frame_ns && (c = slot(h, t, li->depth - 1)))
		*c += frame_ns;
}

static const struct plw_loc *th_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct th *)ctx)->src, input, loc);
}

static struct input_span *span_of(struct th *h, uint32_t input)
{
	if (input >= h->nr_in) {
		struct input_span *v = realloc(h->in, (input + 1) * sizeof(*v));

		if (!v) {
			h->err = -ENOMEM;
			return NULL;
		}
		memset(v + h->nr_in, 0, (input + 1 - h->nr_in) * sizeof(*v));
		h->in = v;
		h->nr_in = input + 1;
	}
	return &h->in[input];
}

/* the raw events the model does not hook: spans, names */
static void th_event(struct th *h, uint32_t input, const struct plw_event *ev)
{
	struct input_span *s = span_of(h, input);
	struct thr *t;

	if (!s)
		return;
	if (!s->seen || ev->ts < s->first)
		s->first = ev->ts;
	if (ev->ts > s->last)
		s->last = ev->ts;
	s->seen = true;
	switch (ev->type) {
	case PLW_REC_FORK:
		if ((t = get(h, input, ev->pid, ev->tid)) && !t->start)
			t->start = ev->ts;
		break;
	case PLW_REC_COMM:
		if (!(t = get(h, input, ev->pid, ev->tid)))
			break;
		snprintf(t->comm, sizeof(t->comm), "%s", ev->u.comm.comm ? ev->u.comm.comm : "");
		if (ev->u.comm.exec && !t->start)
			t->start = ev->ts;
		break;
	case PLW_REC_EXIT:
		if ((t = get(h, input, ev->pid, ev->tid)))
			t->end = ev->ts;
		break;
	default:
		break;
	}
}

static bool sched_recorded(struct source *src, uint32_t input)
{
	const struct plw_meta *m = plw_reader_meta(plw_merge_reader(src->m, input));

	for (size_t i = 0; m && i < m->nr_probes; i++)
		if (m->probes[i].attached && m->probes[i].group && !strcmp(m->probes[i].group, "sched"))
			return true;
	return false;
}

static uint64_t wall(const struct th *h, const struct thr *t)
{
	const struct input_span *s = &h->in[t->input];
	uint64_t a = t->start ? t->start : s->first, b = t->end ? t->end : s->last;

	return b > a ? b - a : 0;
}

static int cmp_thr(const void *a, const void *b)
{
	const struct thr *x = a, *y = b;

	if (x->input != y->input)
		return x->input < y->input ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cmp_self(const void *a, const void *b)
{
	const struct fself *x = a, *y = b;

	if (x->self_ns != y->self_ns)
		return x->self_ns > y->self_ns ? -1 : 1;
	return strcmp(x->site->name, y->site->name);
}

static void ms(FILE *f, uint64_t ns)
{
	fprintf(f, " %10.3f", ns / 1e6);
}

static void out_json(struct th *h, struct jw *j)
{
	jw_key(j, "threads");
	jw_arr(j);
	for (uint32_t i = 0; i < h->n; i++) {
		const struct thr *t = &h->t[i];
		bool sched = h->in[t->input].sched;
		uint64_t w = wall(h, t);

		jw_obj(j);
		jw_key(j, "input"); jw_u64(j, t->input);
		jw_key(j, "pid"); jw_u64(j, t->pid);
		jw_key(j, "tid"); jw_u64(j, t->tid);
		jw_key(j, "comm"); jw_str(j, t->comm);
		jw_key(j, "wall_ns"); jw_u64(j, w);
		jw_key(j, "busy_ns");
		if (sched) jw_u64(j, w > t->off_ns ? w - t->off_ns : 0); else jw_null(j);
		jw_key(j, "off_cpu_ns");
		if (sched) jw_u64(j, t->off_ns); else jw_null(j);
		jw_key(j, "blocked_ns"); jw_u64(j, t->blocked_ns);
		jw_key(j, "runq_ns"); jw_u64(j, t->runq_ns);
		jw_key(j, "switches"); jw_u64(j, t->nr_off);
		jw_key(j, "preempted"); jw_u64(j, t->nr_preempt);
		jw_key(j, "python_ns"); jw_u64(j, t->py_ns);
		jw_key(j, "self_ns"); jw_u64(j, t->self_ns);
		jw_key(j, "calls"); jw_u64(j, t->calls);
		jw_key(j, "syscall_ns"); jw_u64(j, t->sys_ns);
		jw_key(j, "syscalls"); jw_u64(j, t->nr_sys);
		jw_key(j, "irq_ns"); jw_u64(j, t->irq_ns);
		jw_key(j, "top_self");
		jw_arr(j);
		for (uint32_t k = 0; k < t->nr_f && k < TOP_FUNCS; k++) {
			jw_obj(j);
			jw_key(j, "name"); jw_str(j, t->f[k].site->name);
			jw_key(j, "file"); jw_str(j, t->f[k].site->file);
			jw_key(j, "line"); jw_u64(j, t->f[k].site->entry ? t->f[k].site->entry->line
									  : t->f[k].site->line);
			jw_key(j, "calls"); jw_u64(j, t->f[k].calls);
			jw_key(j, "self_ns"); jw_u64(j, t->f[k].self_ns);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		jw_obj_end(j);
	}
	jw_arr_end(j);
}

static void out_text(struct th *h)
{
	FILE *f = h->o->out;
	bool any_sched = false;

	for (uint32_t i = 0; i < h->nr_in; i++)
		any_sched |= h->in[i].sched;
	if (!h->n) {
		fprintf(f, "no threads in %s\n", h->o->nr_paths == 1 ? h->o->paths[0] : "these files");
		return;
	}
	fprintf(f, "%u thread%s; times in ms%s:\n\n", h->n, h->n == 1 ? "" : "s",
		any_sched ? "" : " (no -e sched: busy and off-CPU unknown, shown as -)");
	fprintf(f, "%8s %8s %-15s %11s %11s %11s %11s %11s %11s %11s %11s\n", "PID", "TID", "COMM",
		"WALL", "BUSY", "OFF-CPU", "BLOCKED", "RUNQUEUE", "PYTHON", "PY SELF", "SYSCALLS");
	for (uint32_t i = 0; i < h->n; i++) {
		const struct thr *t = &h->t[i];
		uint64_t w = wall(h, t);

		fprintf(f, "%8u %8u %-15s", t->pid, t->tid, t->comm[0] ? t->comm : "?");
		ms(f, w);
		if (h->in[t->input].sched) {
			ms(f, w > t->off_ns ? w - t->off_ns : 0);
			ms(f, t->off_ns);
			ms(f, t->blocked_ns);
			ms(f, t->runq_ns);
		} else {
			fprintf(f, " %10s %10s %10s %10s", "-", "-", "-", "-");
		}
		ms(f, t->py_ns);
		ms(f, t->self_ns);
		ms(f, t->sys_ns);
		putc('\n', f);
	}
	for (uint32_t i = 0; i < h->n; i++) {
		const struct thr *t = &h->t[i];
		char where[512];

		if (!t->nr_f)
			continue;
		fprintf(f, "\ntid %u (%s): most Python self time\n", t->tid, t->comm[0] ? t->comm : "?");
		for (uint32_t k = 0; k < t->nr_f && k < TOP_FUNCS; k++) {
			const struct plw_site *s = t->f[k].site->entry ? t->f[k].site->entry : t->f[k].site;

			fprintf(f, "  %10.3f ms  ×%-6" PRIu64 " ", t->f[k].self_ns / 1e6, t->f[k].calls);
			fputs_safe(s->name, f);
			where_text(s, where, sizeof(where));
			if (where[0]) {
				fputs("  ", f);
				fputs_safe(where, f);
			}
			putc('\n', f);
		}
	}
}

int report_threads(const struct report_opts *o, struct report_result *res)
{
	struct source src;
	struct th h = { .o = o, .src = &src };
	struct plw_model *m = NULL;
	struct plw_merge_event ev;
	struct jw j;
	int err = source_open(&src, o, res), ret;

	if (err)
		return err;
	struct plw_model_opts mo = {
		.on_enter = th_enter, .on_exit = th_exit, .on_leaf = th_leaf, .kernel_leaves = true,
		.resolve = th_resolve, .ctx = &h,
	};
	if (plw_model_new(&m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	while ((ret = source_next(&src, &ev, res)) > 0) {
		th_event(&h, ev.input, &ev.ev);
		if ((ret = plw_model_feed(m, ev.input, &ev.ev))) {
			res_err(res, ret, "out of memory");
			break;
		}
	}
	if (ret < 0) {
		err = ret;
		goto out;
	}
	plw_model_finish(m, 0);
	if (h.err) {
		res_err(res, h.err, "out of memory");
		err = h.err;
		goto out;
	}
	source_damage(&src, res);
	for (uint32_t i = 0; i < h.nr_in; i++)
		h.in[i].sched = sched_recorded(&src, i);
	if (h.n)
		qsort(h.t, h.n, sizeof(*h.t), cmp_thr);
	for (uint32_t i = 0; i < h.n; i++)
		if (h.t[i].nr_f)
			qsort(h.t[i].f, h.t[i].nr_f, sizeof(*h.t[i].f), cmp_self);
	if (o->json) {
		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "lost");
		jw_u64(&j, plw_model_stats(m)->lost);
		jw_damage(&j, res);
		out_json(&h, &j);
		jw_obj_end(&j);
	} else {
		out_text(&h);
		if (plw_model_stats(m)->lost)
			fprintf(o->out, "\n%" PRIu64 " events were lost while recording: times are lower bounds\n",
				plw_model_stats(m)->lost);
	}
out:
	for (uint32_t i = 0; i < h.n; i++) {
		free(h.t[i].child);
		free(h.t[i].f);
		free(h.t[i].fidx);
	}
	free(h.t);
	free(h.idx);
	free(h.in);
	plw_model_free(m);
	source_close(&src);
	return err;
}
