// SPDX-License-Identifier: MIT
/*
 * native.c - the native-layer reports, over the MEM, GIL and EXCEPTION
 * events (pylow record -e mem,gil,exceptions):
 *
 *   malloc      allocator calls by Python frame (bytes, count), a log2
 *               histogram of sizes, and the allocations still live at the
 *               end (allocated while recording, never freed or realloc'd
 *               away) by Python frame: the leak candidates
 *   gil         GIL waits by thread and by Python frame, log2 histogram
 *   exceptions  raises by type, with the Python frames that raised them
 *
 * "Python frame" is the innermost frame open on the thread at the event
 * (NULL: none, shown as "(outside Python)").  Streams (no trees): the
 * model's on_leaf hook gives each event with the Python stack of its thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define NB		HIST_NB		/* log2 buckets */
#define TOP_TEXT	20		/* rows in text tables */
#define TOP_EXC_FRAMES	5

/* per-frame totals; site NULL: outside Python */
struct fent {
	const struct plw_site *site;
	uint64_t count, bytes;		/* mem: allocations and their bytes */
	uint64_t frees;			/* mem */
	uint64_t total_ns, max_ns;	/* gil */
	struct nstks nat;		/* mem: user stacks of its allocations (--stacks) */
};

struct ftab {
	struct fent *e;
	uint32_t n, cap;
};

struct gthr {
	uint32_t pid, tid;
	uint64_t count, total_ns, max_ns;
};

struct xtype {
	const char *name;		/* interned by the model */
	uint64_t count;
	struct ftab frames;
};

/* live allocations: open addressing on the address */
struct live {
	uint64_t addr;			/* 0: empty */
	uint64_t size;
	uint32_t pid;
	const struct plw_site *site;
};

struct nr {
	const struct report_opts *o;
	struct source *src;
	int err;
	struct plw_model *m;
	/* malloc */
	struct ftab mem;
	uint32_t last_tid, last_ent;	/* the last allocation's entry + 1: its STACK is next */
	uint64_t last_ts, last_bytes;
	uint64_t allocs, alloc_bytes, frees, frees_unknown, failed;
	uint64_t size_hist[NB];
	struct live *live;
	uint64_t live_cap, live_n, live_del;
	/* gil */
	struct ftab gil;
	struct gthr *thr;
	uint32_t nr_thr, cap_thr;
	uint64_t waits, wait_ns;
	uint64_t gil_hist[NB];		/* log2 of µs */
	/* exceptions */
	struct xtype *x;
	uint32_t nr_x, cap_x;
	uint64_t raises;
};

static int grow(void **v, uint32_t *cap, uint32_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, (size_t)ncap * sz);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static struct fent *fget(struct nr *k, struct ftab *t, const struct plw_site *site)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->e[i].site == site)
			return &t->e[i];
	if (grow((void **)&t->e, &t->cap, t->n, sizeof(*t->e))) {
		k->err = -ENOMEM;
		return NULL;
	}
	t->e[t->n] = (struct fent){ .site = site };
	return &t->e[t->n++];
}

/* ------------------------------------------------------------- live map */

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct live *live_slot(struct live *tab, uint64_t cap, uint64_t addr, uint32_t pid)
{
	uint64_t i = hash64(addr ^ ((uint64_t)pid << 48)) & (cap - 1);

	for (;; i = (i + 1) & (cap - 1))
		if (!tab[i].addr || (tab[i].addr == addr && tab[i].pid == pid))
			return &tab[i];
}

static int live_put(struct nr *k, uint32_t pid, uint64_t addr, uint64_t size,
		    const struct plw_site *site)
{
	if ((k->live_n + k->live_del + 1) * 2 > k->live_cap) {
		uint64_t cap = k->live_cap ? k->live_cap : 1024;
		struct live *nt;

		while ((k->live_n + 1) * 2 > cap / 2)
			cap *= 2;
		nt = calloc(cap, sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		for (uint64_t i = 0; i < k->live_cap; i++)
			if (k->live[i].addr && k->live[i].size != UINT64_MAX)
				*live_slot(nt, cap, k->live[i].addr, k->live[i].pid) = k->live[i];
		free(k->live);
		k->live = nt;
		k->live_cap = cap;
		k->live_del = 0;
	}
	struct live *s = live_slot(k->live, k->live_cap, addr, pid);

	if (!s->addr || s->size == UINT64_MAX) {
		if (s->addr)
			k->live_del--;
		k->live_n++;
	}
	*s = (struct live){ .addr = addr, .size = size, .pid = pid, .site = site };
	return 0;
}

/* removes ADDR; false when it was not live (allocated before the recording) */
static bool live_del(struct nr *k, uint32_t pid, uint64_t addr)
{
	if (!k->live_cap)
		return false;
	struct live *s = live_slot(k->live, k->live_cap, addr, pid);

	if (!s->addr || s->size == UINT64_MAX)
		return false;
	s->size = UINT64_MAX;	/* tombstone: keeps probe chains intact */
	s->site = NULL;
	k->live_n--;
	k->live_del++;
	return true;
}

/* ------------------------------------------------------------- events */

static void on_mem(struct nr *k, const struct plw_call_info *ci, const struct plw_leaf_info *li,
		   const struct plw_site *frame)
{
	const struct plw_event *ev = li->ev;
	uint32_t op = ev->u.mem.op;
	struct fent *e = fget(k, &k->mem, frame);

	if (!e)
		return;
	if (op == PLW_MEM_FREE) {
		k->frees++;
		e->frees++;
		if (!live_del(k, ci->pid, ev->u.mem.addr))
			k->frees_unknown++;
		return;
	}
	if (op == PLW_MEM_REALLOC && ev->u.mem.old_addr && ev->u.mem.addr)
		live_del(k, ci->pid, ev->u.mem.old_addr);
	if (!ev->u.mem.addr) {
		k->failed++;
		return;
	}
	k->allocs++;
	k->alloc_bytes += ev->u.mem.size;
	k->size_hist[hist_bucket(ev->u.mem.size)]++;
	e->count++;
	e->bytes += ev->u.mem.size;
	k->last_tid = ci->tid;
	k->last_ts = ci->ts;
	k->last_ent = e - k->mem.e + 1;
	k->last_bytes = ev->u.mem.size;
	if (live_put(k, ci->pid, ev->u.mem.addr, ev->u.mem.size, frame))
		k->err = -ENOMEM;
}

static void on_gil(struct nr *k, const struct plw_call_info *ci, const struct plw_site *frame)
{
	struct fent *e = fget(k, &k->gil, frame);
	struct gthr *t = NULL;

	if (!e)
		return;
	k->waits++;
	k->wait_ns += ci->dur_ns;
	k->gil_hist[hist_bucket(ci->dur_ns / 1000)]++;
	e->count++;
	e->total_ns += ci->dur_ns;
	if (ci->dur_ns > e->max_ns)
		e->max_ns = ci->dur_ns;
	for (uint32_t i = 0; i < k->nr_thr && !t; i++)
		if (k->thr[i].pid == ci->pid && k->thr[i].tid == ci->tid)
			t = &k->thr[i];
	if (!t) {
		if (grow((void **)&k->thr, &k->cap_thr, k->nr_thr, sizeof(*k->thr))) {
			k->err = -ENOMEM;
			return;
		}
		t = &k->thr[k->nr_thr++];
		*t = (struct gthr){ .pid = ci->pid, .tid = ci->tid };
	}
	t->count++;
	t->total_ns += ci->dur_ns;
	if (ci->dur_ns > t->max_ns)
		t->max_ns = ci->dur_ns;
}

static void on_exc(struct nr *k, const struct plw_call_info *ci, const struct plw_site *frame)
{
	struct xtype *x = NULL;
	struct fent *e;

	for (uint32_t i = 0; i < k->nr_x && !x; i++)
		if (k->x[i].name == ci->site->name)
			x = &k->x[i];
	if (!x) {
		if (grow((void **)&k->x, &k->cap_x, k->nr_x, sizeof(*k->x))) {
			k->err = -ENOMEM;
			return;
		}
		x = &k->x[k->nr_x++];
		*x = (struct xtype){ .name = ci->site->name };
	}
	k->raises++;
	x->count++;
	e = fget(k, &x->frames, frame);
	if (e)
		e->count++;
}

static void nr_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct nr *k = ctx;
	const struct plw_site *frame = li->depth ? li->stack[li->depth - 1] : NULL;

	if (k->err)
		return;
	if (li->kind == PLW_KIND_MEM)
		on_mem(k, ci, li, frame);
	else if (li->kind == PLW_KIND_GIL)
		on_gil(k, ci, frame);
	else if (li->kind == PLW_KIND_EXCEPTION)
		on_exc(k, ci, frame);
}

/* record --stacks: the user stack of the allocation just given to nr_leaf */
static void nr_stack(void *ctx, const struct plw_call_info *ci, uint32_t kstack1, uint32_t ustack1)
{
	struct nr *k = ctx;

	if (k->err || !k->last_ent || ci->tid != k->last_tid || ci->ts != k->last_ts)
		return;
	if (nstks_add(&k->mem.e[k->last_ent - 1].nat, ci->input, ustack1, k->last_bytes))
		k->err = -ENOMEM;
	k->last_ent = 0;
}

static const struct plw_loc *nr_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct nr *)ctx)->src, input, loc);
}

/* ------------------------------------------------------------- output */

static int cmp_bytes(const void *a, const void *b)
{
	const struct fent *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (!x->site || !y->site)
		return !x->site - !y->site;
	return strcmp(x->site->name, y->site->name);
}

static int cmp_time(const void *a, const void *b)
{
	const struct fent *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (!x->site || !y->site)
		return !x->site - !y->site;
	return strcmp(x->site->name, y->site->name);
}

static int cmp_count(const void *a, const void *b)
{
	const struct fent *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (!x->site || !y->site)
		return !x->site - !y->site;
	return strcmp(x->site->name, y->site->name);
}

static int cmp_gthr(const void *a, const void *b)
{
	const struct gthr *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cmp_x(const void *a, const void *b)
{
	const struct xtype *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void frame_text(const struct plw_site *s, char *out, size_t len)
{
	char where[512];

	if (!s) {
		snprintf(out, len, "(outside Python)");
		return;
	}
	where_text(s, where, sizeof(where));
	snprintf(out, len, "%s%s%s%s", s->name, where[0] ? " (" : "", where, where[0] ? ")" : "");
}

static void frame_json(struct jw *j, const struct plw_site *s)
{
	jw_key(j, "name");
	if (s)
		jw_str(j, s->name);
	else
		jw_null(j);
	jw_key(j, "file");
	jw_str(j, s ? s->file : "");
	jw_key(j, "line");
	jw_u64(j, s ? s->line : 0);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void none(const struct report_opts *o, const char *what, const char *group)
{
	fprintf(o->out, "no %s events in %s (record with -e %s)\n", what,
		o->nr_paths == 1 ? o->paths[0] : "these files", group);
}

/* M: with the rows' native stacks (record --stacks) */
static void mem_rows(FILE *f, const struct fent *e, uint32_t n, const struct plw_model *m)
{
	fprintf(f, "  %10s %8s  %s\n", "BYTES", "COUNT", "PYTHON FRAME");
	for (uint32_t i = 0; i < n && i < TOP_TEXT; i++) {
		char b[32], who[640];

		human_size(e[i].bytes, b, sizeof(b));
		frame_text(e[i].site, who, sizeof(who));
		fprintf(f, "  %10s %8" PRIu64 "  ", b, e[i].count);
		fputs_safe(who, f);
		putc('\n', f);
		if (m)
			nstks_out(&e[i].nat, m, NULL, f, "      ", true);
	}
	if (n > TOP_TEXT)
		fprintf(f, "  (%u more frames; --json lists them all)\n", n - TOP_TEXT);
}

static void out_malloc(struct nr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;
	struct ftab lv = { 0 };
	uint64_t live_bytes = 0;
	uint32_t na = 0;

	/* the live allocations, by frame */
	for (uint64_t i = 0; i < k->live_cap; i++) {
		const struct live *l = &k->live[i];
		struct fent *e;

		if (!l->addr || l->size == UINT64_MAX)
			continue;
		if (!(e = fget(k, &lv, l->site)))
			goto out;
		e->count++;
		e->bytes += l->size;
		live_bytes += l->size;
	}
	if (lv.n)
		qsort(lv.e, lv.n, sizeof(*lv.e), cmp_bytes);
	/* frames that allocated (frames that only freed are left out) */
	if (k->mem.n)
		qsort(k->mem.e, k->mem.n, sizeof(*k->mem.e), cmp_bytes);
	for (uint32_t i = 0; i < k->mem.n; i++)
		na += k->mem.e[i].count > 0;
	if (o->json) {
		jw_key(j, "allocations"); jw_u64(j, k->allocs);
		jw_key(j, "bytes"); jw_u64(j, k->alloc_bytes);
		jw_key(j, "frees"); jw_u64(j, k->frees);
		jw_key(j, "frees_unknown"); jw_u64(j, k->frees_unknown);
		jw_key(j, "failed"); jw_u64(j, k->failed);
		jw_key(j, "live"); jw_u64(j, k->live_n);
		jw_key(j, "live_bytes"); jw_u64(j, live_bytes);
		jw_key(j, "sizes");
		hist_json(j, k->size_hist, "bytes");
		jw_key(j, "frames");
		jw_arr(j);
		for (uint32_t i = 0; i < k->mem.n; i++) {
			const struct fent *e = &k->mem.e[i];

			jw_obj(j);
			frame_json(j, e->site);
			jw_key(j, "count"); jw_u64(j, e->count);
			jw_key(j, "bytes"); jw_u64(j, e->bytes);
			jw_key(j, "frees"); jw_u64(j, e->frees);
			nstks_out(&e->nat, k->m, j, NULL, NULL, true);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		jw_key(j, "live_frames");
		jw_arr(j);
		for (uint32_t i = 0; i < lv.n; i++) {
			jw_obj(j);
			frame_json(j, lv.e[i].site);
			jw_key(j, "count"); jw_u64(j, lv.e[i].count);
			jw_key(j, "bytes"); jw_u64(j, lv.e[i].bytes);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		goto out;
	}
	if (!k->allocs && !k->frees) {
		none(o, "allocator", "mem");
		goto out;
	}
	{
		char b[32], lb[32];

		human_size(k->alloc_bytes, b, sizeof(b));
		human_size(live_bytes, lb, sizeof(lb));
		fprintf(f, "%" PRIu64 " allocation%s (%s), %" PRIu64 " free%s (%" PRIu64
			" of memory allocated before the recording)", k->allocs, plural(k->allocs), b,
			k->frees, plural(k->frees), k->frees_unknown);
		if (k->failed)
			fprintf(f, ", %" PRIu64 " failed", k->failed);
		fprintf(f, "\n%" PRIu64 " allocation%s (%s) still live at the end\n", k->live_n,
			plural(k->live_n), lb);
	}
	fputs("\ntop allocating Python frames, by bytes:\n", f);
	mem_rows(f, k->mem.e, na, k->m);
	if (na > 1) {
		qsort(k->mem.e, k->mem.n, sizeof(*k->mem.e), cmp_count);
		fputs("\ntop allocating Python frames, by count:\n", f);
		mem_rows(f, k->mem.e, na, NULL);
	}
	fputs("\nallocation sizes:\n", f);
	hist_text(f, k->size_hist, "bytes");
	fputs("\nlive at the end (allocated while recording, never freed): leak candidates\n", f);
	if (!lv.n)
		fputs("  none\n", f);
	else
		mem_rows(f, lv.e, lv.n, NULL);
out:
	free(lv.e);
}

static void out_gil(struct nr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;

	if (k->nr_thr)
		qsort(k->thr, k->nr_thr, sizeof(*k->thr), cmp_gthr);
	if (k->gil.n)
		qsort(k->gil.e, k->gil.n, sizeof(*k->gil.e), cmp_time);
	if (o->json) {
		jw_key(j, "waits"); jw_u64(j, k->waits);
		jw_key(j, "total_ns"); jw_u64(j, k->wait_ns);
		jw_key(j, "histogram_us");
		hist_json(j, k->gil_hist, "us");
		jw_key(j, "threads");
		jw_arr(j);
		for (uint32_t i = 0; i < k->nr_thr; i++) {
			const struct gthr *t = &k->thr[i];

			jw_obj(j);
			jw_key(j, "pid"); jw_u64(j, t->pid);
			jw_key(j, "tid"); jw_u64(j, t->tid);
			jw_key(j, "count"); jw_u64(j, t->count);
			jw_key(j, "total_ns"); jw_u64(j, t->total_ns);
			jw_key(j, "max_ns"); jw_u64(j, t->max_ns);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		jw_key(j, "frames");
		jw_arr(j);
		for (uint32_t i = 0; i < k->gil.n; i++) {
			const struct fent *e = &k->gil.e[i];

			jw_obj(j);
			frame_json(j, e->site);
			jw_key(j, "count"); jw_u64(j, e->count);
			jw_key(j, "total_ns"); jw_u64(j, e->total_ns);
			jw_key(j, "max_ns"); jw_u64(j, e->max_ns);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	if (!k->waits) {
		none(o, "GIL wait", "gil");
		return;
	}
	fprintf(f, "%" PRIu64 " GIL wait%s, %.3f ms waiting in total\n\nby thread:\n", k->waits,
		plural(k->waits), k->wait_ns / 1e6);
	fprintf(f, "  %8s %8s %8s %13s %13s\n", "PID", "TID", "WAITS", "TOTAL", "MAX");
	for (uint32_t i = 0; i < k->nr_thr; i++) {
		const struct gthr *t = &k->thr[i];

		fprintf(f, "  %8u %8u %8" PRIu64 " %10.3f ms %10.3f ms\n", t->pid, t->tid, t->count,
			t->total_ns / 1e6, t->max_ns / 1e6);
	}
	fputs("\nby Python frame (where the thread was when it waited):\n", f);
	fprintf(f, "  %13s %8s %13s  %s\n", "TOTAL", "WAITS", "MAX", "PYTHON FRAME");
	for (uint32_t i = 0; i < k->gil.n && i < TOP_TEXT; i++) {
		const struct fent *e = &k->gil.e[i];
		char who[640];

		frame_text(e->site, who, sizeof(who));
		fprintf(f, "  %10.3f ms %8" PRIu64 " %10.3f ms  ", e->total_ns / 1e6, e->count,
			e->max_ns / 1e6);
		fputs_safe(who, f);
		putc('\n', f);
	}
	if (k->gil.n > TOP_TEXT)
		fprintf(f, "  (%u more frames; --json lists them all)\n", k->gil.n - TOP_TEXT);
	fputs("\nGIL waits:\n", f);
	hist_text(f, k->gil_hist, "µs");
}

static void out_exceptions(struct nr *k, struct jw *j)
{
	const struct report_opts *o = k->o;
	FILE *f = o->out;

	if (k->nr_x)
		qsort(k->x, k->nr_x, sizeof(*k->x), cmp_x);
	for (uint32_t i = 0; i < k->nr_x; i++)
		if (k->x[i].frames.n)
			qsort(k->x[i].frames.e, k->x[i].frames.n, sizeof(struct fent), cmp_count);
	if (o->json) {
		jw_key(j, "raises"); jw_u64(j, k->raises);
		jw_key(j, "types");
		jw_arr(j);
		for (uint32_t i = 0; i < k->nr_x; i++) {
			const struct xtype *x = &k->x[i];

			jw_obj(j);
			jw_key(j, "type"); jw_str(j, x->name);
			jw_key(j, "count"); jw_u64(j, x->count);
			jw_key(j, "frames");
			jw_arr(j);
			for (uint32_t c = 0; c < x->frames.n; c++) {
				jw_obj(j);
				frame_json(j, x->frames.e[c].site);
				jw_key(j, "count"); jw_u64(j, x->frames.e[c].count);
				jw_obj_end(j);
			}
			jw_arr_end(j);
			jw_obj_end(j);
		}
		jw_arr_end(j);
		return;
	}
	if (!k->raises) {
		none(o, "exception", "exceptions");
		return;
	}
	fprintf(f, "%" PRIu64 " exception%s raised, %u type%s, by count:\n\n", k->raises,
		plural(k->raises), k->nr_x, plural(k->nr_x));
	for (uint32_t i = 0; i < k->nr_x; i++) {
		const struct xtype *x = &k->x[i];

		fprintf(f, "%8" PRIu64 "  ", x->count);
		fputs_safe(x->name, f);
		putc('\n', f);
		for (uint32_t c = 0; c < x->frames.n && c < TOP_EXC_FRAMES; c++) {
			char who[640];

			frame_text(x->frames.e[c].site, who, sizeof(who));
			fprintf(f, "          ×%-7" PRIu64 " ", x->frames.e[c].count);
			fputs_safe(who, f);
			putc('\n', f);
		}
		if (x->frames.n > TOP_EXC_FRAMES)
			fprintf(f, "          (%u more frames)\n", x->frames.n - TOP_EXC_FRAMES);
	}
}

enum which { N_MALLOC, N_GIL, N_EXCEPTIONS };

static int run(const struct report_opts *o, struct report_result *res, enum which w)
{
	struct source src;
	struct nr k = { .o = o, .src = &src };
	struct plw_model *m = NULL;
	struct jw j;
	int err = source_open(&src, o, res);

	if (err)
		return err;
	struct plw_model_opts mo = { .on_leaf = nr_leaf, .on_stack = nr_stack,
				     .resolve = nr_resolve, .ctx = &k };

	if ((err = source_model_pass(&src, &mo, &k.m, &k.err, res)))
		goto out;
	m = k.m;
	if (o->json) {
		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "lost");
		jw_u64(&j, plw_model_stats(m)->lost);
		jw_damage(&j, res);
	}
	if (w == N_MALLOC)
		out_malloc(&k, &j);
	else if (w == N_GIL)
		out_gil(&k, &j);
	else
		out_exceptions(&k, &j);
	if (o->json) {
		jw_obj_end(&j);
	} else if (plw_model_stats(m)->lost) {
		fprintf(o->out, "\n%" PRIu64 " events were lost while recording: counts are lower bounds%s\n",
			plw_model_stats(m)->lost,
			w == N_MALLOC ? ", and lost frees make allocations look live" : "");
	}
	if (k.err) {
		res_err(res, k.err, "out of memory");
		err = k.err;
	}
out:
	for (uint32_t i = 0; i < k.mem.n; i++)
		nstks_free(&k.mem.e[i].nat);
	free(k.mem.e);
	free(k.gil.e);
	free(k.live);
	free(k.thr);
	for (uint32_t i = 0; i < k.nr_x; i++)
		free(k.x[i].frames.e);
	free(k.x);
	plw_model_free(k.m);
	source_close(&src);
	return err;
}

int report_malloc(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, N_MALLOC);
}

int report_gil(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, N_GIL);
}

int report_exceptions(const struct report_opts *o, struct report_result *res)
{
	return run(o, res, N_EXCEPTIONS);
}
