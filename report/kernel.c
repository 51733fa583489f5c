// SPDX-License-Identifier: MIT
/*
 * kernel.c - the kernel-layer reports, over the SYSCALL and OFFCPU events
 * (pylow record -e syscalls,sched):
 *
 *   syscalls  per syscall: count, errors, total and longest time, bytes, a
 *             log2 latency histogram and the Python functions that made them
 *   offcpu    off-CPU time by Python stack and reason (blocked, preempted)
 *   sched     runqueue latency histogram; voluntary (blocked) and
 *             involuntary (preempted) switches per thread
 *
 * Streams (no trees): the model's on_leaf hook gives each event with the
 * Python stack of its thread at that moment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define NB		HIST_NB		/* log2 buckets */
#define TOP_CALLERS	3
#define MAX_STACK_TEXT	1024

struct caller {
	const struct plw_site *site;	/* NULL: outside Python */
	uint64_t count, total_ns;
};

struct sysent {
	const char *name;		/* interned by the model */
	uint64_t count, errors, total_ns, max_ns, bytes;
	uint64_t hist[NB];		/* log2 of µs */
	struct caller *callers;
	uint32_t nr_callers, cap_callers;
};

/* record --stacks: one kernel/user stack pair of an off-CPU entry */
struct native {
	uint32_t input, k1, u1;		/* file stack ids + 1 (0: none) */
	uint64_t count, total_ns;
};

struct offent {
	char *stack;			/* "a → b → c", "" outside Python */
	const struct plw_site *leaf;	/* innermost frame, NULL outside */
	uint32_t reason;
	uint64_t count, total_ns, runq_ns, max_ns;
	struct native *nat;
	uint32_t nr_nat, cap_nat;
};

#define NATIVE_SHOWN	3	/* stack pairs shown per entry (text) */
#define FRAMES_SHOWN	16	/* frames shown per stack (text) */

struct thr {
	uint32_t pid, tid;
	uint64_t vol, invol, off_ns, runq_ns, max_runq_ns;
};

struct kr {
	const struct report_opts *o;
	struct plw_model *m;
	struct source *src;
	int err;
	struct sysent *sys;
	uint32_t nr_sys, cap_sys;
	struct offent *off;
	uint32_t nr_off, cap_off;
	struct thr *thr;
	uint32_t nr_thr, cap_thr;
	uint64_t sys_events, off_events, sys_ns, off_ns;
	uint64_t off_hist[NB];		/* log2 of ms */
	uint64_t runq_hist[NB];		/* log2 of µs */
};

static int grow(void **v, uint32_t *cap, uint32_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, ncap * sz);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

int hist_bucket(uint64_t v)
{
	int b = 0;

	while (v >= 1 && b < NB - 1) {
		v >>= 1;
		b++;
	}
	return b;		/* 0: [0, 1), b: [2^(b-1), 2^b) */
}

void hist_text(FILE *f, const uint64_t *h, const char *unit)
{
	int lo = -1, hi = -1;
	uint64_t max = 0;

	for (int i = 0; i < NB; i++) {
		if (!h[i])
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
		if (h[i] > max)
			max = h[i];
	}
	for (int i = lo; i >= 0 && i <= hi; i++) {
		char r[48];
		int w = (int)((h[i] * 36 + max - 1) / max);

		snprintf(r, sizeof(r), "[%llu, %llu) %s", i ? 1ull << (i - 1) : 0ull, 1ull << i, unit);
		fprintf(f, "  %-22s %8" PRIu64 " |", r, h[i]);
		for (int k = 0; k < 36; k++)
			putc(k < w ? '@' : ' ', f);
		fputs("|\n", f);
	}
}

void hist_json(struct jw *j, const uint64_t *h, const char *unit)
{
	char k[32];

	jw_arr(j);
	for (int i = 0; i < NB; i++) {
		if (!h[i])
			continue;
		jw_obj(j);
		snprintf(k, sizeof(k), "lo_%s", unit);
		jw_key(j, k);
		jw_u64(j, i ? 1ull << (i - 1) : 0);
		snprintf(k, sizeof(k), "hi_%s", unit);
		jw_key(j, k);
		jw_u64(j, 1ull << i);
		jw_key(j, "count");
		jw_u64(j, h[i]);
		jw_obj_end(j);
	}
	jw_arr_end(j);
}

static struct thr *get_thr(struct kr *k, uint32_t pid, uint32_t tid)
{
	for (uint32_t i = 0; i < k->nr_thr; i++)
		if (k->thr[i].pid == pid && k->thr[i].tid == tid)
			return &k->thr[i];
	if (grow((void **)&k->thr, &k->cap_thr, k->nr_thr, sizeof(*k->thr)))
		return NULL;
	k->thr[k->nr_thr] = (struct thr){ .pid = pid, .tid = tid };
	return &k->thr[k->nr_thr++];
}

static void stack_text(const struct plw_leaf_info *li, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < li->depth && n < len; i++)
		n += snprintf(out + n, len - n, "%s%s", i ? " → " : "", li->stack[i]->name);
}

static void on_sys(struct kr *k, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct sysent *e = NULL;
	const struct plw_site *caller = li->depth ? li->stack[li->depth - 1] : NULL;

	for (uint32_t i = 0; i < k->nr_sys; i++)
		if (k->sys[i].name == ci->site->name)
			e = &k->sys[i];
	if (!e) {
		if (grow((void **)&k->sys, &k->cap_sys, k->nr_sys, sizeof(*k->sys))) {
			k->err = -ENOMEM;
			return;
		}
		e = &k->sys[k->nr_sys++];
		*e = (struct sysent){ .name = ci->site->name };
	}
	k->sys_events++;
	k->sys_ns += ci->dur_ns;
	e->count++;
	e->errors += li->ret < 0;
	e->total_ns += ci->dur_ns;
	e->bytes += li->bytes;
	if (ci->dur_ns > e->max_ns)
		e->max_ns = ci->dur_ns;
	e->hist[hist_bucket(ci->dur_ns / 1000)]++;
	struct caller *c = NULL;

	for (uint32_t i = 0; i < e->nr_callers; i++)
		if (e->callers[i].site == caller)
			c = &e->callers[i];
	if (!c) {
		if (grow((void **)&e->callers, &e->cap_callers, e->nr_callers, sizeof(*c))) {
			k->err = -ENOMEM;
			return;
		}
		c = &e->callers[e->nr_callers++];
		*c = (struct caller){ .site = caller };
	}
	c->count++;
	c->total_ns += ci->dur_ns;
}

static void on_off(struct kr *k, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	char st[MAX_STACK_TEXT];
	struct offent *e = NULL;
	struct thr *t = get_thr(k, ci->pid, ci->tid);

	if (!t) {
		k->err = -ENOMEM;
		return;
	}
	k->off_events++;
	k->off_ns += ci->dur_ns;
	k->off_hist[hist_bucket(ci->dur_ns / 1000000)]++;
	if (li->runq_ns || li->reason == PLW_OFFCPU_PREEMPTED)
		k->runq_hist[hist_bucket(li->runq_ns / 1000)]++;
	if (li->reason == PLW_OFFCPU_PREEMPTED)
		t->invol++;
	else
		t->vol++;
	t->off_ns += ci->dur_ns;
	t->runq_ns += li->runq_ns;
	if (li->runq_ns > t->max_runq_ns)
		t->max_runq_ns = li->runq_ns;
	stack_text(li, st, sizeof(st));
	for (uint32_t i = 0; i < k->nr_off; i++)
		if (k->off[i].reason == li->reason && !strcmp(k->off[i].stack, st))
			e = &k->off[i];
	if (!e) {
		if (grow((void **)&k->off, &k->cap_off, k->nr_off, sizeof(*k->off))) {
			k->err = -ENOMEM;
			return;
		}
		e = &k->off[k->nr_off];
		*e = (struct offent){ .stack = strdup(st), .reason = li->reason,
				      .leaf = li->depth ? li->stack[li->depth - 1] : NULL };
		if (!e->stack) {
			k->err = -ENOMEM;
			return;
		}
		k->nr_off++;
	}
	e->count++;
	e->total_ns += ci->dur_ns;
	e->runq_ns += li->runq_ns;
	if (ci->dur_ns > e->max_ns)
		e->max_ns = ci->dur_ns;
	if (li->kstack1 || li->ustack1) {
		struct native *n = NULL;

		for (uint32_t i = 0; i < e->nr_nat; i++)
			if (e->nat[i].input == ci->input && e->nat[i].k1 == li->kstack1 &&
			    e->nat[i].u1 == li->ustack1)
				n = &e->nat[i];
		if (!n) {
			if (grow((void **)&e->nat, &e->cap_nat, e->nr_nat, sizeof(*e->nat))) {
				k->err = -ENOMEM;
				return;
			}
			n = &e->nat[e->nr_nat++];
			*n = (struct native){ .input = ci->input, .k1 = li->kstack1, .u1 = li->ustack1 };
		}
		n->count++;
		n->total_ns += ci->dur_ns;
	}
}

static int cmp_nat(const void *a, const void *b)
{
	const struct native *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	return x->count > y->count ? -1 : x->count < y->count;
}

/* frames of a stack, one per line (text) or as an array (JSON) */
static void frames_out(struct kr *k, struct jw *j, uint32_t input, uint32_t id1, const char *what)
{
	const char *fr = id1 ? plw_model_stack(k->m, input, id1 - 1, NULL) : NULL;
	int n = 0;

	if (j)
		jw_arr(j);
	while (fr && *fr) {
		size_t l = strcspn(fr, "\n");
		char f[512];

		snprintf(f, sizeof(f), "%.*s", (int)l, fr);
		if (j) {
			jw_str(j, f);
		} else if (n < FRAMES_SHOWN) {
			fprintf(k->o->out, "        %s ", n ? "      " : what);
			fputs_safe(f, k->o->out);
			putc('\n', k->o->out);
		} else if (n == FRAMES_SHOWN) {
			fprintf(k->o->out, "               ...\n");
		}
		n++;
		fr += l + (fr[l] == '\n');
	}
	if (j)
		jw_arr_end(j);
}

static void native_out(struct kr *k, struct jw *j, struct offent *e)
{
	if (e->nr_nat > 1)
		qsort(e->nat, e->nr_nat, sizeof(*e->nat), cmp_nat);
	if (j) {
		jw_key(j, "native_stacks");
		jw_arr(j);
		for (uint32_t i = 0; i < e->nr_nat; i++) {
			jw_obj(j);
			jw_key(j, "count"); jw_u64(j, e->nat[i].count);
			jw_key(j, "total_ns"); jw_u64(j, e->nat[i].total_ns);
			jw_key(j, "kernel"); frames_out(k, j, e->nat[i].input, e->nat[i].k1, NULL);
			jw_key(j, "user"); frames_out(k, j, e->nat[i].input, e->nat[i].u1, NULL);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	for (uint32_t i = 0; i < e->nr_nat && i < NATIVE_SHOWN; i++) {
		fprintf(k->o->out, "      native stack ×%" PRIu64 "  %.3f ms:\n", e->nat[i].count,
			e->nat[i].total_ns / 1e6);
		frames_out(k, NULL, e->nat[i].input, e->nat[i].k1, "kernel");
		frames_out(k, NULL, e->nat[i].input, e->nat[i].u1, "user  ");
	}
	if (e->nr_nat > NATIVE_SHOWN)
		fprintf(k->o->out, "      (%u more native stacks; --json lists them all)\n",
			e->nr_nat - NATIVE_SHOWN);
}

static void kr_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct kr *k = ctx;

	if (k->err)
		return;
	if (li->kind == PLW_KIND_SYSCALL)
		on_sys(k, ci, li);
	else if (li->kind == PLW_KIND_OFFCPU)
		on_off(k, ci, li);
}

static const struct plw_loc *kr_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct kr *)ctx)->src, input, loc);
}

static int cmp_sys(const void *a, const void *b)
{
	const struct sysent *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_caller(const void *a, const void *b)
{
	const struct caller *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	return (x->count < y->count) - (x->count > y->count);
}

static int cmp_off(const void *a, const void *b)
{
	const struct offent *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason > y->reason ? -1 : 1;
	return strcmp(x->stack, y->stack);
}

static int cmp_thr(const void *a, const void *b)
{
	const struct thr *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static void ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%10.3f ms", ns / 1e6);
}

static void caller_text(const struct caller *c, char *out, size_t len)
{
	char where[512];

	if (!c->site) {
		snprintf(out, len, "(outside Python)");
		return;
	}
	where_text(c->site, where, sizeof(where));
	snprintf(out, len, "%s%s%s%s", c->site->name, where[0] ? " (" : "", where, where[0] ? ")" : "");
}

/* ------------------------------------------------------------ output */

enum which { K_SYSCALLS, K_OFFCPU, K_SCHED };

static void json_head(struct jw *j, const struct report_opts *o, const struct report_result *res,
		      const struct plw_model_stats *st)
{
	jw_strs(j, "files", o->paths, o->nr_paths);
	jw_key(j, "lost");
	jw_u64(j, st->lost);
	jw_damage(j, res);
}

static void out_syscalls(struct kr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;

	if (k->nr_sys)
		qsort(k->sys, k->nr_sys, sizeof(*k->sys), cmp_sys);
	for (uint32_t i = 0; i < k->nr_sys; i++)
		if (k->sys[i].nr_callers)
			qsort(k->sys[i].callers, k->sys[i].nr_callers, sizeof(struct caller), cmp_caller);
	if (o->json) {
		jw_key(j, "calls");
		jw_u64(j, k->sys_events);
		jw_key(j, "total_ns");
		jw_u64(j, k->sys_ns);
		jw_key(j, "syscalls");
		jw_arr(j);
		for (uint32_t i = 0; i < k->nr_sys; i++) {
			const struct sysent *e = &k->sys[i];

			jw_obj(j);
			jw_key(j, "name"); jw_str(j, e->name);
			jw_key(j, "count"); jw_u64(j, e->count);
			jw_key(j, "errors"); jw_u64(j, e->errors);
			jw_key(j, "total_ns"); jw_u64(j, e->total_ns);
			jw_key(j, "max_ns"); jw_u64(j, e->max_ns);
			jw_key(j, "bytes"); jw_u64(j, e->bytes);
			jw_key(j, "latency_us");
			hist_json(j, e->hist, "us");
			jw_key(j, "callers");
			jw_arr(j);
			for (uint32_t c = 0; c < e->nr_callers && c < TOP_CALLERS; c++) {
				const struct caller *cl = &e->callers[c];

				jw_obj(j);
				jw_key(j, "name");
				if (cl->site) jw_str(j, cl->site->name); else jw_null(j);
				jw_key(j, "file"); jw_str(j, cl->site ? cl->site->file : "");
				jw_key(j, "line"); jw_u64(j, cl->site ? cl->site->line : 0);
				jw_key(j, "count"); jw_u64(j, cl->count);
				jw_key(j, "total_ns"); jw_u64(j, cl->total_ns);
				jw_obj_end(j);
			}
			jw_arr_end(j);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	if (!k->sys_events) {
		fprintf(f, "no syscall events in %s (record with -e syscalls)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files");
		return;
	}
	fprintf(f, "%" PRIu64 " syscalls, %.3f ms in total, by total time:\n\n", k->sys_events,
		k->sys_ns / 1e6);
	fprintf(f, "%-20s %8s %7s %13s %13s %10s\n", "SYSCALL", "COUNT", "ERRORS", "TOTAL", "MAX", "BYTES");
	for (uint32_t i = 0; i < k->nr_sys; i++) {
		const struct sysent *e = &k->sys[i];
		char b[32] = "-";

		if (e->bytes)
			human_size(e->bytes, b, sizeof(b));
		fprintf(f, "%-20s %8" PRIu64 " %7" PRIu64 " ", e->name, e->count, e->errors);
		ms(f, e->total_ns);
		putc(' ', f);
		ms(f, e->max_ns);
		fprintf(f, " %10s\n", b);
	}
	for (uint32_t i = 0; i < k->nr_sys; i++) {
		const struct sysent *e = &k->sys[i];

		fprintf(f, "\n%s: %" PRIu64 " call%s, latency:\n", e->name, e->count, e->count == 1 ? "" : "s");
		hist_text(f, e->hist, "µs");
		fputs("  top Python callers:\n", f);
		for (uint32_t c = 0; c < e->nr_callers && c < TOP_CALLERS; c++) {
			char who[600];

			caller_text(&e->callers[c], who, sizeof(who));
			fprintf(f, "    %-48s ×%-6" PRIu64, who, e->callers[c].count);
			ms(f, e->callers[c].total_ns);
			putc('\n', f);
		}
	}
}

static const char *reason_name(uint32_t r)
{
	return r == PLW_OFFCPU_PREEMPTED ? "preempted" : "blocked";
}

static void out_offcpu(struct kr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;

	if (k->nr_off)
		qsort(k->off, k->nr_off, sizeof(*k->off), cmp_off);
	if (o->json) {
		jw_key(j, "intervals");
		jw_u64(j, k->off_events);
		jw_key(j, "total_ns");
		jw_u64(j, k->off_ns);
		jw_key(j, "histogram_ms");
		hist_json(j, k->off_hist, "ms");
		jw_key(j, "stacks");
		jw_arr(j);
		for (uint32_t i = 0; i < k->nr_off; i++) {
			const struct offent *e = &k->off[i];

			jw_obj(j);
			jw_key(j, "stack"); jw_str(j, e->stack);
			jw_key(j, "reason"); jw_str(j, reason_name(e->reason));
			jw_key(j, "count"); jw_u64(j, e->count);
			jw_key(j, "total_ns"); jw_u64(j, e->total_ns);
			jw_key(j, "runq_ns"); jw_u64(j, e->runq_ns);
			jw_key(j, "max_ns"); jw_u64(j, e->max_ns);
			if (e->nr_nat)
				native_out(k, j, &k->off[i]);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	if (!k->off_events) {
		fprintf(f, "no off-CPU events in %s (record with -e sched)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files");
		return;
	}
	fprintf(f, "%" PRIu64 " off-CPU intervals, %.3f ms off CPU, by Python stack and reason:\n\n",
		k->off_events, k->off_ns / 1e6);
	for (uint32_t i = 0; i < k->nr_off; i++) {
		const struct offent *e = &k->off[i];

		fputs("  ", f);
		ms(f, e->total_ns);
		fprintf(f, "  %-9s ×%-6" PRIu64 " runqueue ", reason_name(e->reason), e->count);
		fprintf(f, "%.3f ms  ", e->runq_ns / 1e6);
		fputs_safe(e->stack[0] ? e->stack : "(outside Python)", f);
		putc('\n', f);
		if (e->nr_nat)
			native_out(k, NULL, &k->off[i]);
	}
	fputs("\noff-CPU intervals:\n", f);
	hist_text(f, k->off_hist, "ms");
}

static void out_sched(struct kr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;
	uint64_t vol = 0, invol = 0;

	if (k->nr_thr)
		qsort(k->thr, k->nr_thr, sizeof(*k->thr), cmp_thr);
	for (uint32_t i = 0; i < k->nr_thr; i++) {
		vol += k->thr[i].vol;
		invol += k->thr[i].invol;
	}
	if (o->json) {
		jw_key(j, "voluntary");
		jw_u64(j, vol);
		jw_key(j, "involuntary");
		jw_u64(j, invol);
		jw_key(j, "runq_latency_us");
		hist_json(j, k->runq_hist, "us");
		jw_key(j, "threads");
		jw_arr(j);
		for (uint32_t i = 0; i < k->nr_thr; i++) {
			const struct thr *t = &k->thr[i];

			jw_obj(j);
			jw_key(j, "pid"); jw_u64(j, t->pid);
			jw_key(j, "tid"); jw_u64(j, t->tid);
			jw_key(j, "voluntary"); jw_u64(j, t->vol);
			jw_key(j, "involuntary"); jw_u64(j, t->invol);
			jw_key(j, "off_cpu_ns"); jw_u64(j, t->off_ns);
			jw_key(j, "runq_ns"); jw_u64(j, t->runq_ns);
			jw_key(j, "max_runq_ns"); jw_u64(j, t->max_runq_ns);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	if (!k->off_events) {
		fprintf(f, "no scheduler events in %s (record with -e sched)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files");
		return;
	}
	fprintf(f, "%" PRIu64 " context switches: %" PRIu64 " voluntary (blocked), %" PRIu64
		" involuntary (preempted)\n\nrunqueue latency (runnable, waiting for a CPU):\n",
		vol + invol, vol, invol);
	hist_text(f, k->runq_hist, "µs");
	fprintf(f, "\n%8s %8s %10s %12s %13s %13s %13s\n", "PID", "TID", "VOLUNTARY", "INVOLUNTARY",
		"OFF-CPU", "RUNQUEUE", "MAX RUNQ");
	for (uint32_t i = 0; i < k->nr_thr; i++) {
		const struct thr *t = &k->thr[i];

		fprintf(f, "%8u %8u %10" PRIu64 " %12" PRIu64 " ", t->pid, t->tid, t->vol, t->invol);
		ms(f, t->off_ns);
		putc(' ', f);
		ms(f, t->runq_ns);
		putc(' ', f);
		ms(f, t->max_runq_ns);
		putc('\n', f);
	}
}

static int run(const struct report_opts *o, struct report_result *res, enum which w)
{
	struct source src;
	struct kr k = { .o = o, .src = &src };
	struct plw_model *m = NULL;
	struct jw j;
	int err = source_open(&src, o, res);

	if (err)
		return err;
	struct plw_model_opts mo = { .on_leaf = kr_leaf, .resolve = kr_resolve, .ctx = &k };

	if ((err = source_model_pass(&src, &mo, &k.m, &k.err, res)))
		goto out;
	m = k.m;
	if (o->json) {
		jw_init(&j, o->out);
		jw_obj(&j);
		json_head(&j, o, res, plw_model_stats(m));
	}
	if (w == K_SYSCALLS)
		out_syscalls(&k, &j);
	else if (w == K_OFFCPU)
		out_offcpu(&k, &j);
	else
		out_sched(&k, &j);
	if (o->json) {
		jw_obj_end(&j);
	} else if (plw_model_stats(m)->lost) {
		fprintf(o->out, "\n%" PRIu64 " events were lost while recording: counts are lower bounds\n",
			plw_model_stats(m)->lost);
	}
out:
	for (uint32_t i = 0; i < k.nr_sys; i++)
		free(k.sys[i].callers);
	for (uint32_t i = 0; i < k.nr_off; i++) {
		free(k.off[i].stack);
		free(k.off[i].nat);
	}
	free(k.sys);
	free(k.off);
	free(k.thr);
	plw_model_free(k.m);
	source_close(&src);
	return err;
}

int report_syscalls(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, K_SYSCALLS);
}

int report_offcpu(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, K_OFFCPU);
}

int report_sched(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, K_SCHED);
}
