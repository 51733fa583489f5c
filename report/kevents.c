// SPDX-License-Identifier: MIT
/*
 * kevents.c - the reports of the event groups faults, io, irq and tlb
 * (pylow record -e faults,io,irq,tlb):
 *
 *   faults  user page faults by Python stack (hot spots), per thread
 *   io      block requests: by op, a log2 latency histogram (issue to
 *           completion), bytes, by Python stack, per thread
 *   irq     irq time taken from the recorded threads: by irq (softirq
 *           NET_RX, hardirq 24, ...), a histogram of the time per run, per
 *           thread, by Python stack
 *   tlb     TLB flushes: by reason, per thread, by Python stack
 *
 * One engine: each event (the model's on_leaf, with the Python stack of its
 * thread at that moment) is counted in three tables, by event name, by
 * thread and by Python stack; a per-kind description says which columns
 * and JSON keys each report has.  Streams (no trees).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define STACK_TEXT_MAX	1024
#define TEXT_ROWS	25		/* stacks shown in text; --json has all */

struct kdesc {
	enum plw_kind kind;
	const char *group;		/* record -e GROUP */
	const char *noun;		/* text: "no NOUN events" */
	const char *events_key;		/* JSON: number of events */
	const char *names_key;		/* JSON: the by-name table */
	const char *name_key;		/* JSON: a row's name */
	const char *name_col;		/* text: its column */
	const char *extra_key;		/* JSON and text: the extra count; NULL none */
	const char *hist_key;		/* JSON: histogram of durations (µs); NULL none */
	bool timed, bytes;
};

static const struct kdesc kd_faults = {
	PLW_KIND_FAULT, "faults", "page fault", "faults", NULL, NULL, NULL, "writes", NULL, false, false,
};
static const struct kdesc kd_io = {
	PLW_KIND_IO, "io", "block I/O", "requests", "ops", "op", "OP", "errors", "latency_us", true, true,
};
static const struct kdesc kd_irq = {
	PLW_KIND_IRQ, "irq", "irq", "runs", "irqs", "name", "IRQ", NULL, "time_us", true, false,
};
static const struct kdesc kd_tlb = {
	PLW_KIND_TLB, "tlb", "TLB flush", "flushes", "reasons", "reason", "REASON", "full", NULL, false, false,
};

struct row {
	char *key;			/* name, stack text or "pid/tid" */
	const struct plw_site *leaf;	/* stacks: innermost frame, NULL outside Python */
	uint32_t pid, tid;		/* threads */
	uint64_t count, total_ns, max_ns, bytes, extra;
	struct nstks nat;		/* stacks: user stacks (record --stacks) */
};

/* rows by key: an array and an open-addressing index over it */
struct tab {
	struct row *v;
	uint32_t n, cap;
	uint32_t *idx;			/* row + 1, 0 empty */
	uint32_t idx_cap;		/* power of two */
};

struct kev {
	const struct report_opts *o;
	const struct kdesc *d;
	struct source *src;
	int err;
	struct tab names, stacks, threads;
	struct row all;
	uint64_t hist[HIST_NB];
	struct plw_model *m;
	/* the stack row of the thread's last event: its STACK comes next */
	uint32_t last_tid, last_row;
	uint64_t last_ts;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

static int tab_reindex(struct tab *t, uint32_t cap)
{
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t j = (uint32_t)str_hash(t->v[i].key) & (cap - 1);

		while (idx[j])
			j = (j + 1) & (cap - 1);
		idx[j] = i + 1;
	}
	free(t->idx);
	t->idx = idx;
	t->idx_cap = cap;
	return 0;
}

/* the row for KEY, created zeroed when missing; NULL on ENOMEM */
static struct row *tab_get(struct tab *t, const char *key)
{
	uint32_t j;

	if (t->idx_cap) {
		for (j = (uint32_t)str_hash(key) & (t->idx_cap - 1); t->idx[j];
		     j = (j + 1) & (t->idx_cap - 1))
			if (!strcmp(t->v[t->idx[j] - 1].key, key))
				return &t->v[t->idx[j] - 1];
	}
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		struct row *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > t->idx_cap && tab_reindex(t, t->idx_cap ? t->idx_cap * 2 : 64))
		return NULL;
	struct row *r = &t->v[t->n];

	*r = (struct row){ .key = strdup(key) };
	if (!r->key)
		return NULL;
	for (j = (uint32_t)str_hash(key) & (t->idx_cap - 1); t->idx[j]; j = (j + 1) & (t->idx_cap - 1))
		;
	t->idx[j] = ++t->n;
	return r;
}

static void tab_free(struct tab *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		free(t->v[i].key);
		nstks_free(&t->v[i].nat);
	}
	free(t->v);
	free(t->idx);
}

static void row_add(struct row *r, uint64_t dur, uint64_t bytes, uint64_t extra)
{
	r->count++;
	r->total_ns += dur;
	if (dur > r->max_ns)
		r->max_ns = dur;
	r->bytes += bytes;
	r->extra += extra;
}

static void stack_text(const struct plw_leaf_info *li, char *out, size_t len)
{
	size_t n = 0;

	out[0] = 0;
	for (uint32_t i = 0; i < li->depth && n < len; i++)
		n += snprintf(out + n, len - n, "%s%s", i ? " → " : "", li->stack[i]->name);
}

static uint64_t extra_of(const struct kdesc *d, const struct plw_leaf_info *li)
{
	switch (d->kind) {
	case PLW_KIND_FAULT:
		return !!(li->error_code & PLW_FAULT_WRITE);
	case PLW_KIND_IO:
		return !!(li->io_op & PLW_IO_ERROR);
	case PLW_KIND_TLB:
		return li->pages == 0xffffffffu;
	default:
		return 0;
	}
}

static void kev_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct kev *k = ctx;
	char st[STACK_TEXT_MAX], key[32];
	const char *name = ci->site->name;
	uint64_t extra, dur = ci->dur_ns;
	struct row *r;

	if (k->err || li->kind != k->d->kind)
		return;
	extra = extra_of(k->d, li);
	if (k->d->kind == PLW_KIND_IO && !strncmp(name, "block_", 6))
		name += 6;
	row_add(&k->all, dur, li->bytes, extra);
	if (k->d->hist_key)
		k->hist[hist_bucket(dur / 1000)]++;
	if (!(r = tab_get(&k->names, name)))
		goto oom;
	row_add(r, dur, li->bytes, extra);
	snprintf(key, sizeof(key), "%u/%u", ci->pid, ci->tid);
	if (!(r = tab_get(&k->threads, key)))
		goto oom;
	r->pid = ci->pid;
	r->tid = ci->tid;
	row_add(r, dur, li->bytes, extra);
	stack_text(li, st, sizeof(st));
	if (!(r = tab_get(&k->stacks, st)))
		goto oom;
	r->leaf = li->depth ? li->stack[li->depth - 1] : NULL;
	row_add(r, dur, li->bytes, extra);
	k->last_tid = ci->tid;
	k->last_ts = ci->ts;
	k->last_row = r - k->stacks.v + 1;
	return;
oom:
	k->err = -ENOMEM;
}

/* record --stacks: the user stack of the event just given to kev_leaf */
static void kev_stack(void *ctx, const struct plw_call_info *ci, uint32_t kstack1, uint32_t ustack1)
{
	struct kev *k = ctx;

	if (k->err || !k->last_row || ci->tid != k->last_tid || ci->ts != k->last_ts)
		return;
	if (nstks_add(&k->stacks.v[k->last_row - 1].nat, ci->input, ustack1, 0))
		k->err = -ENOMEM;
	k->last_row = 0;
}

static const struct plw_loc *kev_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct kev *)ctx)->src, input, loc);
}

/* heaviest first: time when timed (ctx: the kdesc), else count; then key */
static int cmp_row(const void *a, const void *b, void *ctx)
{
	const struct row *x = a, *y = b;
	const struct kdesc *d = ctx;

	if (d->timed && x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* ------------------------------------------------------------ output */

static void json_row_vals(struct jw *j, const struct kdesc *d, const struct row *r)
{
	jw_key(j, "count");
	jw_u64(j, r->count);
	if (d->timed) {
		jw_key(j, "total_ns");
		jw_u64(j, r->total_ns);
		jw_key(j, "max_ns");
		jw_u64(j, r->max_ns);
	}
	if (d->bytes) {
		jw_key(j, "bytes");
		jw_u64(j, r->bytes);
	}
	if (d->extra_key) {
		jw_key(j, d->extra_key);
		jw_u64(j, r->extra);
	}
}

static void out_json(struct kev *k, struct jw *j)
{
	const struct kdesc *d = k->d;

	jw_key(j, d->events_key);
	jw_u64(j, k->all.count);
	if (d->timed) {
		jw_key(j, "total_ns");
		jw_u64(j, k->all.total_ns);
	}
	if (d->bytes) {
		jw_key(j, "bytes");
		jw_u64(j, k->all.bytes);
	}
	if (d->extra_key) {
		jw_key(j, d->extra_key);
		jw_u64(j, k->all.extra);
	}
	if (d->hist_key) {
		jw_key(j, d->hist_key);
		hist_json(j, k->hist, "us");
	}
	if (d->names_key) {
		jw_key(j, d->names_key);
		jw_arr(j);
		for (uint32_t i = 0; i < k->names.n; i++) {
			jw_obj(j);
			jw_key(j, d->name_key);
			jw_str(j, k->names.v[i].key);
			json_row_vals(j, d, &k->names.v[i]);
			jw_obj_end(j);
		}
		jw_arr_end(j);
	}
	jw_key(j, "threads");
	jw_arr(j);
	for (uint32_t i = 0; i < k->threads.n; i++) {
		jw_obj(j);
		jw_key(j, "pid");
		jw_u64(j, k->threads.v[i].pid);
		jw_key(j, "tid");
		jw_u64(j, k->threads.v[i].tid);
		json_row_vals(j, d, &k->threads.v[i]);
		jw_obj_end(j);
	}
	jw_arr_end(j);
	jw_key(j, "stacks");
	jw_arr(j);
	for (uint32_t i = 0; i < k->stacks.n; i++) {
		const struct row *r = &k->stacks.v[i];

		jw_obj(j);
		jw_key(j, "stack");
		jw_str(j, r->key);
		jw_key(j, "name");
		if (r->leaf)
			jw_str(j, r->leaf->name);
		else
			jw_null(j);
		jw_key(j, "file");
		jw_str(j, r->leaf ? r->leaf->file : "");
		jw_key(j, "line");
		jw_u64(j, r->leaf ? r->leaf->line : 0);
		json_row_vals(j, d, r);
		nstks_out(&r->nat, k->m, j, NULL, NULL, false);
		jw_obj_end(j);
	}
	jw_arr_end(j);
}

static void ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%10.3f ms", ns / 1e6);
}

static void upper(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	out[i] = 0;
}

/* the value columns of a row: COUNT [TOTAL MAX] [BYTES] [EXTRA] */
static void text_cols_head(FILE *f, const struct kdesc *d)
{
	char x[16];

	fprintf(f, "%8s", "COUNT");
	if (d->timed)
		fprintf(f, " %13s %13s", "TOTAL", "MAX");
	if (d->bytes)
		fprintf(f, " %10s", "BYTES");
	if (d->extra_key) {
		upper(d->extra_key, x, sizeof(x));
		fprintf(f, " %8s", x);
	}
}

static void text_cols(FILE *f, const struct kdesc *d, const struct row *r)
{
	char b[32];

	fprintf(f, "%8" PRIu64, r->count);
	if (d->timed) {
		putc(' ', f);
		ms(f, r->total_ns);
		putc(' ', f);
		ms(f, r->max_ns);
	}
	if (d->bytes) {
		human_size(r->bytes, b, sizeof(b));
		fprintf(f, " %10s", b);
	}
	if (d->extra_key)
		fprintf(f, " %8" PRIu64, r->extra);
}

/* text shows the innermost STACK_TAIL frames of a stack: "… → f → g" */
#define STACK_TAIL	6

static const char *stack_tail(const char *st, char *buf, size_t len)
{
	const char *p = st + strlen(st);
	int n = 0;

	while (p > st) {
		p--;
		if (!strncmp(p, " → ", strlen(" → ")) && ++n == STACK_TAIL) {
			snprintf(buf, len, "…%s", p);
			return buf;
		}
	}
	return st;
}

static void out_text(struct kev *k)
{
	const struct kdesc *d = k->d;
	const struct report_opts *o = k->o;
	FILE *f = o->out;
	char b[32], tail[STACK_TEXT_MAX + 8];

	if (!k->all.count) {
		fprintf(f, "no %s events in %s (record with -e %s)\n", d->noun,
			o->nr_paths == 1 ? o->paths[0] : "these files", d->group);
		return;
	}
	switch (d->kind) {
	case PLW_KIND_FAULT:
		fprintf(f, "%" PRIu64 " user page fault%s (%" PRIu64 " on writes) in the recorded threads\n",
			k->all.count, k->all.count == 1 ? "" : "s", k->all.extra);
		break;
	case PLW_KIND_IO:
		human_size(k->all.bytes, b, sizeof(b));
		fprintf(f, "%" PRIu64 " block request%s of the recorded threads, %s, %.3f ms issue to completion in all\n",
			k->all.count, k->all.count == 1 ? "" : "s", b, k->all.total_ns / 1e6);
		break;
	case PLW_KIND_IRQ:
		fprintf(f, "%" PRIu64 " irq handler run%s took %.3f ms from the recorded threads\n",
			k->all.count, k->all.count == 1 ? "" : "s", k->all.total_ns / 1e6);
		break;
	case PLW_KIND_TLB:
		fprintf(f, "%" PRIu64 " TLB flush%s on the recorded threads (%" PRIu64 " of all pages)\n",
			k->all.count, k->all.count == 1 ? "" : "es", k->all.extra);
		break;
	default:
		break;
	}
	if (d->names_key) {
		fprintf(f, "\n%-30s ", d->name_col);
		text_cols_head(f, d);
		putc('\n', f);
		for (uint32_t i = 0; i < k->names.n; i++) {
			size_t w = strlen(k->names.v[i].key);

			fputs_safe(k->names.v[i].key, f);	/* names may come from META */
			fprintf(f, "%*s ", w < 30 ? (int)(30 - w) : 0, "");
			text_cols(f, d, &k->names.v[i]);
			putc('\n', f);
		}
	}
	if (d->hist_key) {
		fputs(d->kind == PLW_KIND_IO ? "\nlatency (issue to completion):\n" : "\ntime per run:\n", f);
		hist_text(f, k->hist, "µs");
	}
	fprintf(f, "\n%8s %8s ", "PID", "TID");
	text_cols_head(f, d);
	putc('\n', f);
	for (uint32_t i = 0; i < k->threads.n; i++) {
		fprintf(f, "%8u %8u ", k->threads.v[i].pid, k->threads.v[i].tid);
		text_cols(f, d, &k->threads.v[i]);
		putc('\n', f);
	}
	fputs("\nby Python stack (innermost frames; --json has them all):\n", f);
	text_cols_head(f, d);
	fputs("  STACK\n", f);
	for (uint32_t i = 0; i < k->stacks.n && i < TEXT_ROWS; i++) {
		const struct row *r = &k->stacks.v[i];

		text_cols(f, d, r);
		fputs("  ", f);
		fputs_safe(r->key[0] ? stack_tail(r->key, tail, sizeof(tail)) : "(outside Python)", f);
		putc('\n', f);
		nstks_out(&r->nat, k->m, NULL, f, "      ", false);
	}
	if (k->stacks.n > TEXT_ROWS)
		fprintf(f, "… %u more stacks (--json lists them all)\n", k->stacks.n - TEXT_ROWS);
}

static int run(const struct report_opts *o, struct report_result *res, const struct kdesc *d)
{
	struct source src;
	struct kev k = { .o = o, .d = d, .src = &src };
	struct plw_model *m = NULL;
	struct jw j;
	int err = source_open(&src, o, res);

	if (err)
		return err;
	struct plw_model_opts mo = { .on_leaf = kev_leaf, .on_stack = kev_stack,
				     .resolve = kev_resolve, .ctx = &k };

	if ((err = source_model_pass(&src, &mo, &k.m, &k.err, res)))
		goto out;
	m = k.m;
	if (k.names.n)
		qsort_r(k.names.v, k.names.n, sizeof(*k.names.v), cmp_row, (void *)d);
	if (k.stacks.n)
		qsort_r(k.stacks.v, k.stacks.n, sizeof(*k.stacks.v), cmp_row, (void *)d);
	if (k.threads.n)
		qsort(k.threads.v, k.threads.n, sizeof(*k.threads.v), cmp_thread);
	if (o->json) {
		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "lost");
		jw_u64(&j, plw_model_stats(m)->lost);
		jw_damage(&j, res);
		out_json(&k, &j);
		jw_obj_end(&j);
	} else {
		out_text(&k);
		if (plw_model_stats(m)->lost)
			fprintf(o->out, "\n%" PRIu64 " events were lost while recording: counts are lower bounds\n",
				plw_model_stats(m)->lost);
	}
out:
	tab_free(&k.names);
	tab_free(&k.stacks);
	tab_free(&k.threads);
	plw_model_free(k.m);
	source_close(&src);
	return err;
}

int report_faults(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, &kd_faults);
}

int report_io(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, &kd_io);
}

int report_irq(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, &kd_irq);
}

int report_tlb(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, &kd_tlb);
}
