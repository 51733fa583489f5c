/* SPDX-License-Identifier: MIT */
/*
 * sink.c - ring buffer records -> file events.
 *
 * Each poll drains what the ring buffer holds into a batch, sorts the batch
 * by timestamp (stable: a PY_LOC stays before the event that defined it) and
 * writes it.  Process records keep a task table for the file's meta, and
 * the per-CPU loss counters become PERF_RECORD_LOST_SAMPLES per window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "format/grow.h"
#include "rec.h"

#define BATCH_MAX_BYTES	(32u << 20)	/* then write and come back */
#define BATCH_FULL	(-ENOSPC)
/* thread entries of the private task table; past it threads are still
 * recorded (COMM records, events), only not listed (processes always are) */
#define TASKS_MAX	(1u << 18)
#define HOLD_NS		SINK_HOLD_NS	/* records younger than this wait */
#define FLUSH_EVERY_NS	(25 * 1000000ull)

struct brec {
	uint64_t ts;
	uint32_t seq;
	uint32_t off;			/* into batch bytes */
};

struct pythr {
	uint32_t tid;
	size_t first, n;		/* its events: pyev[first, first + n) */
	size_t seen, done;		/* records met in the write pass; events written */
};

struct task_ent {
	struct plw_task t;
	bool exited;
	bool process;			/* counted in live_targets */
};

struct sink {
	struct plw_writer *w;
	struct ring_buffer *rb;
	int counters_fd;
	int nr_cpus;
	sink_exec_cb exec_cb;
	void *ctx;
	/* batch */
	unsigned char *bytes, *held;
	size_t nbytes, capbytes;
	size_t batch_max;		/* "full" past this (BATCH_MAX_BYTES) */
	uint64_t horizon;		/* 0, or: records from before it may still come
					 * from another source (sink_set_horizon) */
	uint64_t last_ts;		/* newest timestamp written */
	uint64_t last_flush_ns;
	struct brec *recs, *tmp;	/* tmp: merge sort's other half */
	size_t nrecs, caprecs, captmp;
	size_t *runs;			/* starts of sorted runs in recs */
	size_t capruns;
	/* tasks */
	struct task_ent *tasks;
	size_t ntasks, captasks;
	struct plw_task *meta_tasks;
	/* losses */
	uint64_t *lost_prev;		/* per cpu */
	uint64_t lost_since;
	struct plw_loss *losses;
	size_t nlosses, caplosses;
	/* which source fed each process (pid -> "usdt", "agent", "pyusdt") */
	struct { uint32_t pid; const char *src; char python[16]; } *srcs;
	size_t nsrcs, capsrcs;
	const char *default_src;
	struct stacks *stk;		/* --stacks */
	struct net *net;
	/* PY_BATCH (on unless --no-batch): per flush, each thread's Python
	 * calls and returns, written as batches at their first event */
	bool py_batch;
	struct pythr *thr;		/* threads of this flush */
	size_t nthr, capthr;
	uint32_t *thr_hash;		/* tid hash: slot + 1, 0 free */
	size_t cap_hash;
	uint32_t *rslot;		/* per record: its thread's slot, or NOT_PY */
	size_t cap_rslot;
	struct plw_py_ev *pyev;
	size_t cap_pyev;
	struct sink_stats st;
	char err[256];
};

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int serr(struct sink *s, int err, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what,
		 s->w ? plw_writer_error(s->w) : strerror(-err));
	return err;
}

const char *sink_error(const struct sink *s)
{
	return s->err;
}

static struct task_ent *task_find(struct sink *s, uint32_t tid)
{
	for (size_t i = s->ntasks; i-- > 0;)
		if (s->tasks[i].t.tid == tid && !s->tasks[i].exited)
			return &s->tasks[i];
	for (size_t i = s->ntasks; i-- > 0;)
		if (s->tasks[i].t.tid == tid)
			return &s->tasks[i];
	return NULL;
}

static struct task_ent *task_add(struct sink *s, uint32_t pid, uint32_t tid,
				 uint32_t ppid, uint64_t start)
{
	struct task_ent *e;

	if (s->ntasks == s->captasks) {
		size_t cap = s->captasks ? s->captasks * 2 : 64;
		struct task_ent *a = realloc(s->tasks, cap * sizeof(*a));

		if (!a)
			return NULL;
		s->tasks = a;
		s->captasks = cap;
	}
	e = &s->tasks[s->ntasks++];
	memset(e, 0, sizeof(*e));
	e->t.pid = pid;
	e->t.tid = tid;
	e->t.ppid = ppid;
	e->t.start_ns = start;
	e->t.source = s->default_src;
	if (pid == tid) {
		e->process = true;
		s->st.live_targets++;
	}
	return e;
}

static void task_set_proc_info(struct task_ent *e, int pid)
{
	char buf[PATH_MAX], ver[32];
	char lib[PATH_MAX], probed[PATH_MAX];

	if (!target_exe(pid, buf, sizeof(buf))) {
		free((char *)e->t.exe);
		e->t.exe = strdup(buf);
		target_libpython(pid, lib, sizeof(lib));
		if (!py_find_probes(buf, lib, probed, sizeof(probed)) &&
		    !usdt_python_version(probed, ver, sizeof(ver)) && ver[0]) {
			free((char *)e->t.python);
			e->t.python = strdup(ver);
		} else if ((lib[0] && !usdt_python_version(lib, ver, sizeof(ver)) && ver[0]) ||
			   (!usdt_python_version(buf, ver, sizeof(ver)) && ver[0])) {
			free((char *)e->t.python);
			e->t.python = strdup(ver);
		}
	}
	if (!target_cmdline(pid, buf, sizeof(buf))) {
		free((char *)e->t.cmdline);
		e->t.cmdline = strdup(buf);
	}
}

struct add_ctx {
	struct sink *s;
	uint64_t ts;
	int err;
};

static int add_thread(int pid, int tid, void *ctx)
{
	struct add_ctx *a = ctx;
	struct sink *s = a->s;
	struct task_ent *e;
	char comm[64] = "";

	if (task_find(s, tid) && !task_find(s, tid)->exited)
		return 0;
	target_comm(pid, tid, comm, sizeof(comm));
	e = task_add(s, pid, tid, pid == tid ? target_ppid(pid) : pid, 0);
	if (!e)
		return a->err = -ENOMEM;
	{ memcpy(e->t.comm, comm, sizeof(e->t.comm)); e->t.comm[sizeof(e->t.comm) - 1] = 0; }
	if (pid == tid)
		task_set_proc_info(e, pid);
	if (plw_writer_comm(s->w, pid, tid, a->ts, comm, false) < 0)
		return a->err = serr(s, -EIO, "cannot write a COMM record");
	return 0;
}

int sink_add_process(struct sink *s, int pid, uint64_t ts)
{
	struct add_ctx a = { .s = s, .ts = ts };
	int err;

	/* the leader first, so that it is the process entry */
	if ((err = add_thread(pid, pid, &a)))
		return err;
	err = target_threads(pid, add_thread, &a);
	return a.err ? a.err : err;
}

static void set_comm(struct task_ent *e, const char *comm)
{
	memcpy(e->t.comm, comm, sizeof(e->t.comm));
	e->t.comm[sizeof(e->t.comm) - 1] = 0;
}

static int inherit_sources(struct sink *s, uint32_t parent, uint32_t child)
{
	size_t n = s->nsrcs;

	for (size_t i = 0; i < n; i++)
		if (s->srcs[i].pid == parent) {
			char py[sizeof(s->srcs[i].python)];

			memcpy(py, s->srcs[i].python, sizeof(py));
			if (sink_set_source(s, child, s->srcs[i].src, py))
				return -ENOMEM;
		}
	return 0;
}

/*
 * The task table follows the process records as they are consumed (in ring
 * order), not after the hold-back: an exec'd process is read in /proc while
 * it likely still lives, and a new Python gets its probes at once.
 */
static int task_track(struct sink *s, const struct plw_rb_hdr *h,
		      const unsigned char *p, size_t len)
{
	struct task_ent *e;

	switch (h->type) {
	case PLW_RB_FORK: {
		struct plw_rb_fork f;

		if (len < sizeof(f))
			return 0;
		memcpy(&f, p, sizeof(f));
		if (f.child_pid != f.child_tid && s->ntasks >= TASKS_MAX) {
			s->st.tasks_dropped++;
			return 0;
		}
		e = task_add(s, f.child_pid, f.child_tid, f.parent_pid, h->ts);
		if (!e)
			return -ENOMEM;
		set_comm(e, f.comm);
		if (f.child_pid != f.parent_pid) {
			struct task_ent *pe = task_find(s, f.parent_pid);

			if (pe && pe->t.exe)
				e->t.exe = strdup(pe->t.exe);
			if (pe && pe->t.python)
				e->t.python = strdup(pe->t.python);
			if (pe && pe->t.cmdline)
				e->t.cmdline = strdup(pe->t.cmdline);
			/* the child runs what fed its parent (pyusdt's library,
			 * the agent's hook) until it execs */
			if (inherit_sources(s, f.parent_pid, f.child_pid))
				return -ENOMEM;
		}
		break;
	}
	case PLW_RB_EXEC: {
		struct plw_rb_exec x;
		char file[PLW_FILE_MAX + 1] = "", ver[32];

		if (len < sizeof(x))
			return 0;
		memcpy(&x, p, sizeof(x));
		memcpy(file, x.filename, PLW_FILE_MAX);
		e = task_find(s, h->tid);
		if (e) {
			set_comm(e, x.comm);
			free((char *)e->t.exe);
			e->t.exe = strdup(file);
			free((char *)e->t.python);
			e->t.python = NULL;
			free((char *)e->t.cmdline);
			e->t.cmdline = NULL;
			if (e->t.pid == h->pid)
				task_set_proc_info(e, h->pid);
			if (e->t.pid == h->pid)
				stacks_note_exec(s->stk, h->pid);
			if (!e->t.python && !usdt_python_version(file, ver, sizeof(ver)) && ver[0])
				e->t.python = strdup(ver);
		}
		/* an exec drops the loaded pyusdt library (the agent, loaded
		 * again by the new Python, registers itself again) */
		for (size_t i = 0; i < s->nsrcs; i++)
			if (s->srcs[i].pid == h->pid && !strcmp(s->srcs[i].src, "pyusdt"))
				s->srcs[i--] = s->srcs[--s->nsrcs];
		if (s->exec_cb)
			s->exec_cb(h->pid, file, s->ctx);
		break;
	}
	case PLW_RB_EXIT: {
		struct plw_rb_exit x = { 0 };

		memcpy(&x, p, len < sizeof(x) ? len : sizeof(x));
		e = task_find(s, h->tid);
		if (e) {
			e->t.end_ns = h->ts;
			e->exited = true;
		}
		if (x.group_dead) {
			struct task_ent *pe = task_find(s, h->pid);

			if (pe && pe->process) {
				if (!pe->t.end_ns)
					pe->t.end_ns = h->ts;
				pe->exited = true;
				pe->process = false;
				if (s->st.live_targets)
					s->st.live_targets--;
			}
		}
		break;
	}
	case PLW_RB_COMM: {
		struct plw_rb_comm c;

		if (len < sizeof(c))
			return 0;
		memcpy(&c, p, sizeof(c));
		e = task_find(s, h->tid);
		if (e)
			set_comm(e, c.comm);
		break;
	}
	}
	return 0;
}

static int add_rec(struct sink *s, const struct plw_rb_hdr *hp, const void *payload);

struct sdef_ctx {
	struct sink *s;
	struct plw_rb_hdr h;		/* of the STACK record */
};

/* a stack seen for the first time: a STACK_DEF record just before its STACK
 * (same time: the stable sort keeps it first) */
static int def_stack(void *ctx, uint32_t pid, uint32_t id, uint32_t kind, uint32_t nr,
		     const char *frames)
{
	struct sdef_ctx *c = ctx;
	size_t fl = strlen(frames) + 1;
	unsigned char buf[sizeof(struct plw_stack_def) + 4096];
	struct plw_rb_hdr h = c->h;
	struct plw_stack_def d = { .id = id, .kind = kind, .nr = nr };
	int err;

	if (fl > 4096)
		fl = 4096;
	d.frames = PLW_DATA_LOC(8 + sizeof(d), fl);
	memcpy(buf, &d, sizeof(d));
	memcpy(buf + sizeof(d), frames, fl);
	buf[sizeof(d) + fl - 1] = 0;
	h.type = PLW_EV_STACK_DEF;
	h.size = sizeof(d) + fl;
	h.pid = h.tid = pid;
	err = add_rec(c->s, &h, buf);
	return err == BATCH_FULL ? 0 : err;
}

void sink_set_stacks(struct sink *s, struct stacks *stk)
{
	s->stk = stk;
}

/* a PLW_RB_PY_STAGE record: its events, one PY_ENTRY/PY_RETURN/SYSCALL
 * record each (format/events.h) */
static int add_stage(struct sink *s, const struct plw_rb_hdr *hp, const void *payload)
{
	struct plw_rb_py_stage st;
	const unsigned char *p = payload;
	int err = 0, full = 0;

	if (hp->size < sizeof(st))
		return 0;
	memcpy(&st, p, sizeof(st));
	if (st.nr > (hp->size - sizeof(st)) / sizeof(struct plw_rb_py_ev))
		st.nr = (hp->size - sizeof(st)) / sizeof(struct plw_rb_py_ev);
	p += sizeof(st);
	for (uint32_t i = 0; i < st.nr; i++, p += sizeof(struct plw_rb_py_ev)) {
		struct plw_rb_py_ev e;
		union {
			struct plw_py_call c;
			struct plw_syscall sc;
		} pl = { 0 };
		struct plw_rb_hdr h = *hp;

		memcpy(&e, p, sizeof(e));
		h.ts = e.ts;
		h.tid = e.tid;
		if (e.op & PLW_STAGE_SYS && !(e.op & PLW_STAGE_RET)) {
			/* a syscall: two slots (format/events.h) */
			struct plw_rb_py_ev e2;

			if (i + 1 >= st.nr)
				break;		/* half of one: not from our BPF */
			p += sizeof(e2);
			i++;
			memcpy(&e2, p, sizeof(e2));
			pl.sc.nr = e.op & PLW_STAGE_SYS_NR_MAX;
			pl.sc.fd = (int32_t)((e.op & ~(PLW_STAGE_SYS | PLW_STAGE_RET)) >>
					     PLW_STAGE_SYS_FD_SHIFT) - 1;
			pl.sc.ret = (int64_t)((uint64_t)e2.op << 32 | e2.tid);
			pl.sc.dur_ns = e2.ts;
			h.type = PLW_EV_SYSCALL;
			h.size = sizeof(pl.sc);
		} else {
			h.type = e.op & PLW_STAGE_RET ? PLW_EV_PY_RETURN : PLW_EV_PY_ENTRY;
			h.size = sizeof(pl.c);
			pl.c.loc = e.op & ~PLW_STAGE_RET;
		}
		err = add_rec(s, &h, &pl);
		if (err == BATCH_FULL)
			full = 1;
		else if (err)
			return err;
	}
	return full ? BATCH_FULL : 0;
}

/* one record into the batch: H then PAYLOAD (h.size bytes) */
static int add_rec(struct sink *s, const struct plw_rb_hdr *hp, const void *payload)
{
	struct plw_rb_hdr h = *hp;
	size_t size = sizeof(h) + h.size;
	struct plw_stack st;
	int err;

	if (h.type == PLW_RB_PY_STAGE)
		return add_stage(s, hp, payload);
	if (h.type == PLW_EV_STACK && s->stk && h.size >= sizeof(st)) {
		memcpy(&st, payload, sizeof(st));
		struct sdef_ctx c = { s, h };

		if ((err = stacks_map(s->stk, h.pid, &st, def_stack, &c)))
			return err;
		payload = &st;
		h.size = sizeof(st);
		size = sizeof(h) + h.size;
	}
	if (s->nbytes + ((size + 7) & ~7ul) > s->capbytes) {
		size_t cap = s->capbytes ? s->capbytes * 2 : (1 << 20);
		unsigned char *b;

		while (cap < s->nbytes + ((size + 7) & ~7ul))
			cap *= 2;
		b = realloc(s->bytes, cap);
		if (!b)
			return -ENOMEM;
		s->bytes = b;
		b = realloc(s->held, cap);
		if (!b)
			return -ENOMEM;
		s->held = b;
		s->capbytes = cap;
	}
	if (s->nrecs == s->caprecs) {
		size_t cap = s->caprecs ? s->caprecs * 2 : 65536;
		struct brec *r = realloc(s->recs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->recs = r;
		s->caprecs = cap;
	}
	if (h.type >= PLW_RB_FORK && (err = task_track(s, &h, payload, h.size)))
		return err;
	if (h.type == PLW_RB_NET_DATA || h.type == PLW_EV_NET_CONN)
		net_scout(s->net, &h, payload);
	s->recs[s->nrecs] = (struct brec){ .ts = h.ts, .seq = s->nrecs, .off = s->nbytes };
	s->nrecs++;
	memcpy(s->bytes + s->nbytes, &h, sizeof(h));
	memcpy(s->bytes + s->nbytes + sizeof(h), payload, h.size);
	s->nbytes += (size + 7) & ~7ul;
	s->st.records++;
	return s->nbytes >= s->batch_max ? BATCH_FULL : 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct plw_rb_hdr h;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	if (h.size > size - sizeof(h))
		h.size = size - sizeof(h);
	return add_rec(ctx, &h, (const unsigned char *)data + sizeof(h));
}

int sink_feed(struct sink *s, const struct plw_rb_hdr *h, const void *payload)
{
	return add_rec(s, h, payload);
}

void sink_set_batch_max(struct sink *s, size_t bytes)
{
	s->batch_max = bytes ? bytes : BATCH_MAX_BYTES;
}

bool sink_batch_full(const struct sink *s)
{
	return s->nbytes >= s->batch_max;
}

void sink_set_net(struct sink *s, struct net *n)
{
	s->net = n;
}

int sink_meta_kv(struct sink *s, uint64_t ts, const char *key, const char *value)
{
	size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
	size_t size = sizeof(struct plw_meta_ev) + kl + vl;
	struct plw_rb_hdr h = { .ts = ts, .type = PLW_EV_META, .size = size };
	unsigned char *p = calloc(1, size);
	struct plw_meta_ev m;
	int err;

	if (!p || kl > 0xffff || vl > 0xffff) {
		free(p);
		return -ENOMEM;
	}
	/* data_loc offsets count the 8-byte common header */
	m.key = PLW_DATA_LOC(8 + sizeof(m), kl);
	m.value = PLW_DATA_LOC(8 + sizeof(m) + kl, vl);
	m.pad = 0;
	memcpy(p, &m, sizeof(m));
	memcpy(p + sizeof(m), key, kl);
	memcpy(p + sizeof(m) + kl, value, vl);
	err = add_rec(s, &h, p);
	free(p);
	return err == BATCH_FULL ? 0 : err;	/* added; the next poll writes the batch */
}

static inline bool brec_before(const struct brec *x, const struct brec *y)
{
	return x->ts < y->ts || (x->ts == y->ts && x->seq < y->seq);
}

/*
 * Sorts recs by (time, arrival).  The batch is a few sorted runs, not a
 * random order: the BPF ring is nearly in time order and each agent ring's
 * drain is in order, so this merges the natural runs, bottom up: O(n log
 * runs), and nothing to do for one run.
 */
static int sort_recs(struct sink *s)
{
	size_t n = s->nrecs, nruns = 0, i;
	struct brec *src = s->recs, *dst;

	for (i = 0; i < n; i++) {
		if (i && !brec_before(&src[i], &src[i - 1]))
			continue;
		if (plw_grow((void **)&s->runs, &s->capruns, nruns + 2, sizeof(*s->runs)))
			return -ENOMEM;
		s->runs[nruns++] = i;
	}
	if (nruns <= 1)
		return 0;
	if (plw_grow((void **)&s->tmp, &s->captmp, n, sizeof(*s->tmp)))
		return -ENOMEM;
	dst = s->tmp;
	s->runs[nruns] = n;
	while (nruns > 1) {
		size_t r, out = 0;

		for (r = 0; r < nruns; r += 2) {
			size_t a = s->runs[r], am = s->runs[r + 1], b, bm, o = a;

			if (r + 1 == nruns) {	/* the odd one out: copied */
				memcpy(dst + a, src + a, (n - a) * sizeof(*src));
				s->runs[out++] = a;
				break;
			}
			b = am;
			bm = s->runs[r + 2];	/* runs[nruns] == n */
			while (a < am && b < bm)
				dst[o++] = brec_before(&src[b], &src[a]) ? src[b++] : src[a++];
			memcpy(dst + o, src + a, (am - a) * sizeof(*src));
			o += am - a;
			memcpy(dst + o, src + b, (bm - b) * sizeof(*src));
			s->runs[out++] = s->runs[r];
		}
		nruns = out;
		s->runs[nruns] = n;
		struct brec *t = src;

		src = dst;
		dst = t;
	}
	if (src != s->recs) {
		/* the sorted array is the other buffer: swap them */
		s->tmp = s->recs;
		s->recs = src;
		size_t c = s->captmp;

		s->captmp = s->caprecs;
		s->caprecs = c;
	}
	return 0;
}

/* a NUL-terminated string at data_loc DL inside PAYLOAD of LEN bytes */
static const char *dl_str(const unsigned char *payload, uint32_t len, plw_data_loc dl)
{
	uint32_t off = PLW_DATA_LOC_OFF(dl), n = PLW_DATA_LOC_LEN(dl);

	if (off < 8 || !n || off - 8 + n > len || payload[off - 8 + n - 1])
		return "";
	return (const char *)payload + off - 8;
}

static int write_one(struct sink *s, const unsigned char *rec)
{
	struct plw_rb_hdr h;
	const unsigned char *p = rec + sizeof(h);
	struct task_ent *e;
	int err = 0;

	memcpy(&h, rec, sizeof(h));
	switch (h.type) {
	case PLW_EV_PY_ENTRY:
	case PLW_EV_PY_RETURN:
	case PLW_EV_PY_GC_START:
	case PLW_EV_PY_GC_DONE:
	case PLW_EV_SYSCALL:
	case PLW_EV_OFFCPU:
	case PLW_EV_FAULT:
	case PLW_EV_IO:
	case PLW_EV_IRQ:
	case PLW_EV_TLB:
	case PLW_EV_MEM:
	case PLW_EV_GIL:
	case PLW_EV_PROBE:
	case PLW_EV_STACK:
		err = plw_writer_event(s->w, h.type, h.pid, h.tid, h.ts, h.cpu, p, h.size);
		break;
	case PLW_EV_STACK_DEF: {
		struct plw_stack_def d;

		if (h.size < sizeof(d))
			return 0;
		memcpy(&d, p, sizeof(d));
		err = plw_writer_stack_def(s->w, h.pid, h.ts, d.id, d.kind, d.nr,
					   dl_str(p, h.size, d.frames));
		break;
	}
	case PLW_RB_RAW_TP:
		err = plw_writer_tp_sample(s->w, h.pid, h.tid, h.ts, h.cpu, p, h.size);
		if (err == -ENOENT)
			err = 0;	/* not one of ours */
		break;
	case PLW_EV_EXCEPTION: {
		struct plw_exception x;

		if (h.size < sizeof(x))
			return 0;
		memcpy(&x, p, sizeof(x));
		err = plw_writer_exception(s->w, h.pid, h.tid, h.ts, h.cpu, dl_str(p, h.size, x.type));
		break;
	}
	case PLW_EV_PY_LOC: {
		struct plw_py_loc l;

		if (h.size < sizeof(l))
			return 0;
		memcpy(&l, p, sizeof(l));
		err = plw_writer_loc(s->w, h.pid, h.tid, h.ts, h.cpu, l.loc, l.line,
				     dl_str(p, h.size, l.func), dl_str(p, h.size, l.file));
		s->st.locs++;
		break;
	}
	case PLW_EV_PY_IMPORT_START:
	case PLW_EV_PY_IMPORT_DONE: {
		struct plw_py_import im;

		if (h.size < sizeof(im))
			return 0;
		memcpy(&im, p, sizeof(im));
		err = plw_writer_import(s->w, h.pid, h.tid, h.ts, h.cpu,
					h.type == PLW_EV_PY_IMPORT_DONE,
					dl_str(p, h.size, im.module), im.found);
		break;
	}
	case PLW_EV_NET_CONN:
	case PLW_RB_NET_DATA:
		err = net_record(s->net, s->w, &h, p);
		break;
	case PLW_EV_META: {
		struct plw_meta_ev m;

		if (h.size < sizeof(m))
			return 0;
		memcpy(&m, p, sizeof(m));
		err = plw_writer_meta(s->w, h.ts, dl_str(p, h.size, m.key), dl_str(p, h.size, m.value));
		break;
	}
	case PLW_RB_FORK: {
		struct plw_rb_fork f;
		char comm[PLW_COMM_MAX + 1] = "";

		if (h.size < sizeof(f))
			return 0;
		memcpy(&f, p, sizeof(f));
		memcpy(comm, f.comm, PLW_COMM_MAX);
		err = plw_writer_fork(s->w, f.child_pid, f.child_tid, f.parent_pid,
				      f.parent_tid, h.ts);
		if (!err)
			err = plw_writer_comm(s->w, f.child_pid, f.child_tid, h.ts, comm, false);
		break;
	}
	case PLW_RB_EXEC: {
		struct plw_rb_exec x;
		char comm[PLW_COMM_MAX + 1] = "";

		if (h.size < sizeof(x))
			return 0;
		memcpy(&x, p, sizeof(x));
		memcpy(comm, x.comm, PLW_COMM_MAX);
		err = plw_writer_comm(s->w, h.pid, h.tid, h.ts, comm, true);
		break;
	}
	case PLW_RB_EXIT: {
		uint32_t ppid = 0;

		e = task_find(s, h.tid);
		if (e)
			ppid = e->t.ppid;
		err = plw_writer_exit(s->w, h.pid, h.tid, ppid, ppid, h.ts);
		break;
	}
	case PLW_RB_COMM: {
		struct plw_rb_comm c;
		char comm[PLW_COMM_MAX + 1] = "";

		if (h.size < sizeof(c))
			return 0;
		memcpy(&c, p, sizeof(c));
		memcpy(comm, c.comm, PLW_COMM_MAX);
		err = plw_writer_comm(s->w, h.pid, h.tid, h.ts, comm, false);
		break;
	}
	default:
		return 0;
	}
	if (err < 0)
		return serr(s, err, "cannot write to the file");
	return 0;
}

static inline bool is_py_call(uint16_t type)
{
	return type == PLW_EV_PY_ENTRY || type == PLW_EV_PY_RETURN;
}

/* the slot of thread TID in this flush's table, added if new; -1 no memory */
static long thr_slot(struct sink *s, uint32_t tid)
{
	size_t mask = s->cap_hash - 1, h = (tid * 0x9e3779b1u) & mask;

	for (;; h = (h + 1) & mask) {
		uint32_t v = s->thr_hash[h];

		if (!v)
			break;
		if (s->thr[v - 1].tid == tid)
			return v - 1;
	}
	if (plw_grow((void **)&s->thr, &s->capthr, s->nthr + 1, sizeof(*s->thr)))
		return -1;
	s->thr[s->nthr] = (struct pythr){ .tid = tid };
	s->thr_hash[h] = ++s->nthr;
	if (2 * s->nthr >= s->cap_hash) {
		/* rehash into a table twice as big */
		size_t cap = 2 * s->cap_hash;
		uint32_t *a = calloc(cap, sizeof(*a));

		if (!a)
			return -1;
		for (size_t t = 0; t < s->nthr; t++) {
			size_t j = (s->thr[t].tid * 0x9e3779b1u) & (cap - 1);

			while (a[j])
				j = (j + 1) & (cap - 1);
			a[j] = t + 1;
		}
		free(s->thr_hash);
		s->thr_hash = a;
		s->cap_hash = cap;
	}
	return s->nthr - 1;
}

/*
 * Writes recs[0, n) with each thread's Python calls and returns as PY_BATCH
 * samples: a batch goes where its first event was, and holds that thread's
 * following ones of this flush (as many as a record takes), so the file stays
 * in time order by sample time and a reader merges the batches back in.
 */
#define NOT_PY	UINT32_MAX	/* rslot of a record that is not a Python call */

static int write_batched(struct sink *s, size_t n)
{
	struct plw_rb_hdr h;
	size_t i, t, total = 0;
	uint32_t last_tid = 0;
	long last_slot = -1;
	int err = 0;

	if (!s->thr_hash) {
		if (!(s->thr_hash = calloc(64, sizeof(*s->thr_hash))))
			return serr(s, -ENOMEM, "out of memory");
		s->cap_hash = 64;
	}
	if (plw_grow((void **)&s->rslot, &s->cap_rslot, n + 1, sizeof(*s->rslot)))
		return serr(s, -ENOMEM, "out of memory");
	/* threads and their event counts (a thread's calls come in runs:
	 * the last one's slot is asked first) */
	for (i = 0; i < n; i++) {
		long slot;

		memcpy(&h, s->bytes + s->recs[i].off, sizeof(h));
		if (!is_py_call(h.type) || h.size < sizeof(struct plw_py_call)) {
			s->rslot[i] = NOT_PY;
			continue;
		}
		if (h.tid == last_tid && last_slot >= 0)
			slot = last_slot;
		else if ((slot = thr_slot(s, h.tid)) < 0)
			return serr(s, -ENOMEM, "out of memory");
		last_tid = h.tid;
		last_slot = slot;
		s->rslot[i] = slot;
		s->thr[slot].n++;
		total++;
	}
	if (plw_grow((void **)&s->pyev, &s->cap_pyev, total + 1, sizeof(*s->pyev)))
		return serr(s, -ENOMEM, "out of memory");
	for (t = 0, total = 0; t < s->nthr; t++) {
		s->thr[t].first = total;
		total += s->thr[t].n;
		s->thr[t].n = 0;
	}
	for (i = 0; i < n; i++) {
		const unsigned char *rec = s->bytes + s->recs[i].off;
		struct pythr *th;
		uint32_t loc;

		if (s->rslot[i] == NOT_PY)
			continue;
		memcpy(&h, rec, sizeof(h));
		th = &s->thr[s->rslot[i]];
		memcpy(&loc, rec + sizeof(h), sizeof(loc));
		s->pyev[th->first + th->n++] = (struct plw_py_ev){
			.ts = h.ts, .loc = loc, .ret = h.type == PLW_EV_PY_RETURN,
		};
	}
	/* write: other records as they come, a thread's next batch at its first event */
	for (i = 0; i < n && !err; i++) {
		const unsigned char *rec = s->bytes + s->recs[i].off;
		struct pythr *th;
		size_t taken;

		if (s->rslot[i] == NOT_PY) {
			err = write_one(s, rec);
			continue;
		}
		th = &s->thr[s->rslot[i]];
		if (th->seen++ != th->done)
			continue;	/* in a batch already written */
		memcpy(&h, rec, sizeof(h));
		err = plw_writer_py_batch(s->w, h.pid, h.tid, h.cpu, s->pyev + th->first + th->done,
					  th->n - th->done, &taken);
		if (err)
			err = serr(s, err, "cannot write to the file");
		th->done += taken;
	}
	/* empty the thread table for the next flush (sized by the most
	 * threads one flush has had: 256 bytes for up to 31) */
	memset(s->thr_hash, 0, s->cap_hash * sizeof(*s->thr_hash));
	s->nthr = 0;
	return err;
}

/*
 * Sorts the batch and writes the records up to CUTOFF; later ones are kept
 * for the next batch: a record whose timestamp was taken before the poll may
 * still be on its way into the ring buffer (HOLD_NS covers that).
 */
static int flush_batch(struct sink *s, uint64_t cutoff)
{
	size_t i, k;
	int err = 0;

	if (!s->nrecs)
		return 0;
	/* every flush moves the held-back records to the front again: with polls
	 * much shorter than the hold-back, flush at most every FLUSH_EVERY_NS
	 * (unless final, or the batch is big) so a record is moved once or twice */
	if (cutoff != UINT64_MAX && s->nbytes < s->batch_max / 4) {
		uint64_t now = cutoff + HOLD_NS;

		if (now - s->last_flush_ns < FLUSH_EVERY_NS)
			return 0;
		s->last_flush_ns = now;
	}
	if ((err = sort_recs(s)))
		return serr(s, err, "out of memory");
	for (i = 0; i < s->nrecs && s->recs[i].ts <= cutoff; i++)
		if (s->recs[i].ts < s->last_ts)
			s->st.late++;
	if (s->py_batch)
		err = write_batched(s, i);
	else
		for (k = 0; k < i && !err; k++)
			err = write_one(s, s->bytes + s->recs[k].off);
	if (err)
		return err;
	if (i && s->recs[i - 1].ts > s->last_ts)
		s->last_ts = s->recs[i - 1].ts;
	/* keep the rest, compacted into the other buffer (same capacity), in
	 * the same order; then the buffers swap */
	size_t nb = 0;
	unsigned char *b;

	for (k = 0; i < s->nrecs; i++, k++) {
		const unsigned char *src = s->bytes + s->recs[i].off;
		struct plw_rb_hdr h;
		size_t sz;

		memcpy(&h, src, sizeof(h));
		sz = (sizeof(h) + h.size + 7) & ~7ul;
		memcpy(s->held + nb, src, sz);
		s->recs[k] = (struct brec){ .ts = h.ts, .seq = k, .off = nb };
		nb += sz;
	}
	b = s->bytes;
	s->bytes = s->held;
	s->held = b;
	s->nrecs = k;
	s->nbytes = nb;
	return 0;
}

/* what a flush may write now: older than the hold-back, and than what
 * the other sources may still deliver */
static uint64_t cutoff_now(const struct sink *s)
{
	uint64_t c = mono_ns() - HOLD_NS;

	if (s->horizon && s->horizon < c)
		c = s->horizon;
	return c;
}

void sink_set_horizon(struct sink *s, uint64_t ts)
{
	s->horizon = ts;
}

int sink_poll(struct sink *s, int timeout_ms, bool final)
{
	int n, err;

	for (;;) {
		uint64_t cutoff = final ? UINT64_MAX : cutoff_now(s);

		/* the programs submit without wakeups: the poll's timeout paces
		 * the loop, and consume() drains whatever is there */
		n = ring_buffer__poll(s->rb, timeout_ms);
		if (n >= 0 || n == -EINTR)
			n = ring_buffer__consume(s->rb);
		if (n < 0 && n != BATCH_FULL && n != -EINTR)
			return serr(s, n, "ring buffer poll failed");
		if ((err = flush_batch(s, cutoff)))
			return err;
		if (n != BATCH_FULL)
			return 0;
		timeout_ms = 0;
	}
}

int sink_flush(struct sink *s, bool final)
{
	return flush_batch(s, final ? UINT64_MAX : cutoff_now(s));
}

static int add_loss(struct sink *s, uint32_t cpu, uint64_t now, uint64_t d)
{
	uint64_t at = s->last_ts;
	int err;

	s->st.lost += d;
	/* stamped after the newest event written: keeps the file in order;
	 * before anything is written, before the oldest event held */
	if (!at) {
		at = now;
		for (size_t i = 0; i < s->nrecs; i++)
			if (s->recs[i].ts < at)
				at = s->recs[i].ts;
	}
	if ((err = plw_writer_lost(s->w, cpu, at, d)) < 0)
		return serr(s, err, "cannot write a LOST record");
	if (s->nlosses == s->caplosses) {
		size_t cap = s->caplosses ? s->caplosses * 2 : 64;
		struct plw_loss *l = realloc(s->losses, cap * sizeof(*l));

		if (!l)
			return serr(s, -ENOMEM, "loss table");
		s->losses = l;
		s->caplosses = cap;
	}
	s->losses[s->nlosses++] = (struct plw_loss){
		.cpu = cpu, .start_ns = s->lost_since, .end_ns = now, .lost = d,
	};
	return 0;
}

int sink_lost(struct sink *s, uint64_t now, uint64_t lost)
{
	return lost ? add_loss(s, 0, now, lost) : 0;
}

int sink_counters(struct sink *s, uint64_t now)
{
	uint64_t vals[s->nr_cpus];
	uint32_t key;
	int err;

	key = PLW_CNT_LOST;
	if (bpf_map_lookup_elem(s->counters_fd, &key, vals))
		return serr(s, -errno, "cannot read the BPF counters");
	for (int cpu = 0; cpu < s->nr_cpus; cpu++) {
		uint64_t d = vals[cpu] - s->lost_prev[cpu];

		if (!d)
			continue;
		s->lost_prev[cpu] = vals[cpu];
		if ((err = add_loss(s, cpu, now, d)))
			return err;
	}
	s->lost_since = now;
	key = PLW_CNT_FILTERED;
	if (!bpf_map_lookup_elem(s->counters_fd, &key, vals)) {
		uint64_t sum = 0;

		for (int cpu = 0; cpu < s->nr_cpus; cpu++)
			sum += vals[cpu];
		s->st.filtered = sum;
	}
	return 0;
}

int sink_check_alive(struct sink *s)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		struct task_ent *e = &s->tasks[i];
		int err;

		if (!e->process || e->exited || target_alive(e->t.pid))
			continue;
		/* its EXIT record was lost (ring buffer full): say it here */
		e->exited = true;
		e->process = false;
		e->t.end_ns = s->last_ts;
		if (s->st.live_targets)
			s->st.live_targets--;
		err = plw_writer_exit(s->w, e->t.pid, e->t.tid, e->t.ppid, e->t.ppid,
				      s->last_ts ? s->last_ts : mono_ns());
		if (err < 0)
			return serr(s, err, "cannot write an EXIT record");
	}
	return 0;
}

void sink_stats(const struct sink *s, struct sink_stats *st)
{
	*st = s->st;
	st->events = plw_writer_events(s->w);
}

void sink_set_default_source(struct sink *s, const char *src)
{
	s->default_src = src;
	for (size_t i = 0; i < s->ntasks; i++)
		s->tasks[i].t.source = src;
}

int sink_set_source(struct sink *s, uint32_t pid, const char *src, const char *python)
{
	for (size_t i = 0; i < s->nsrcs; i++)
		if (s->srcs[i].pid == pid && !strcmp(s->srcs[i].src, src)) {
			if (python && python[0])
				snprintf(s->srcs[i].python, sizeof(s->srcs[i].python), "%s", python);
			return 0;
		}
	if (s->nsrcs == s->capsrcs) {
		size_t cap = s->capsrcs ? s->capsrcs * 2 : 32;
		void *a = realloc(s->srcs, cap * sizeof(*s->srcs));

		if (!a)
			return -ENOMEM;
		s->srcs = a;
		s->capsrcs = cap;
	}
	s->srcs[s->nsrcs].pid = pid;
	s->srcs[s->nsrcs].src = src;
	snprintf(s->srcs[s->nsrcs].python, sizeof(s->srcs[s->nsrcs].python), "%s",
		 python ? python : "");
	s->nsrcs++;
	return 0;
}

void sink_meta(struct sink *s, struct plw_meta *m)
{
	free(s->meta_tasks);
	s->meta_tasks = calloc(s->ntasks ? s->ntasks : 1, sizeof(*s->meta_tasks));
	if (s->meta_tasks) {
		for (size_t i = 0; i < s->ntasks; i++) {
			struct plw_task *t = &s->meta_tasks[i];

			*t = s->tasks[i].t;
			/* the last source seen for the pid (an exec'd program may
			 * differ from its parent's: the newest entry wins) */
			for (size_t k = 0; k < s->nsrcs; k++) {
				if (s->srcs[k].pid != t->pid)
					continue;
				t->source = s->srcs[k].src;
				if (s->srcs[k].python[0])
					t->python = s->srcs[k].python;
			}
		}
		m->tasks = s->meta_tasks;
		m->nr_tasks = s->ntasks;
	}
	m->losses = s->losses;
	m->nr_losses = s->nlosses;
	m->lost_total = s->st.lost;
}

int sink_new(struct sink **sp, struct plw_writer *w, int counters_fd,
	     int rb_fd, sink_exec_cb exec_cb, void *ctx)
{
	struct sink *s = calloc(1, sizeof(*s));
	int err;

	*sp = NULL;
	if (!s)
		return -ENOMEM;
	s->w = w;
	s->batch_max = BATCH_MAX_BYTES;
	s->default_src = "usdt";
	s->py_batch = true;
	s->counters_fd = counters_fd;
	s->exec_cb = exec_cb;
	s->ctx = ctx;
	s->nr_cpus = libbpf_num_possible_cpus();
	if (s->nr_cpus <= 0) {
		err = s->nr_cpus ? s->nr_cpus : -EINVAL;
		goto fail;
	}
	s->lost_prev = calloc(s->nr_cpus, sizeof(*s->lost_prev));
	if (!s->lost_prev) {
		err = -ENOMEM;
		goto fail;
	}
	s->lost_since = mono_ns();
	s->rb = ring_buffer__new(rb_fd, on_sample, s, NULL);
	if (!s->rb) {
		err = -errno;
		goto fail;
	}
	*sp = s;
	return 0;
fail:
	sink_free(s);
	return err;
}

void sink_free(struct sink *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (size_t i = 0; i < s->ntasks; i++) {
		free((char *)s->tasks[i].t.exe);
		free((char *)s->tasks[i].t.cmdline);
		free((char *)s->tasks[i].t.python);
	}
	free(s->tasks);
	free(s->meta_tasks);
	free(s->srcs);
	free(s->bytes);
	free(s->held);
	free(s->recs);
	free(s->tmp);
	free(s->runs);
	free(s->lost_prev);
	free(s->losses);
	free(s->thr);
	free(s->thr_hash);
	free(s->rslot);
	free(s->pyev);
	free(s);
}

void sink_set_py_batch(struct sink *s, bool on)
{
	s->py_batch = on;
}
