// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pylow.bpf.c - every BPF program of `pylow record`.
 *
 * CPython's USDT probes are attached with pid = -1 to the Python binary (and
 * libpython); the programs keep only the processes in the `targets` map,
 * which the sched tracepoints below maintain: a child (process or thread) of
 * a target is a target, an exiting process leaves the map.
 *
 * Code locations are named once: `locs` maps {tgid, funcname ptr, filename
 * ptr, line} to a loc id; on a miss the strings are read, the -F/-f filters
 * are applied, and a PLW_EV_PY_LOC record goes out before the event.  A loc
 * id of 0 caches "filtered out".
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>

#include "format/events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define MAX_FUNC_FILTERS	16
#define MAX_FILE_FILTERS	16
#define GLOB_MAX		PLW_FILE_MAX
#define GLOB_STEPS		(1 << 16)	/* bound of one glob match */
#define LOC_LOST		0xffffffffu	/* PY_LOC could not be submitted */

/* filters, set through rodata before load */
const volatile __u32 nr_func_filters = 0;
const volatile __u32 nr_file_filters = 0;
const volatile char func_filters[MAX_FUNC_FILTERS][PLW_FUNC_MAX] = {};
/* a glob with a '/' matches the whole file name, else its basename */
const volatile char file_filters[MAX_FILE_FILTERS][GLOB_MAX] = {};
const volatile __u8 file_filter_path[MAX_FILE_FILTERS] = {};
/* follow children of targets (default on) */
const volatile __u8 follow = 1;

__u32 next_loc = 0;
#include "shared.bpf.h"
#include "stage.bpf.h"

struct loc_key {
	__u32 tgid;
	__u32 line;
	__u64 func;
	__u64 file;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, struct loc_key);
	__type(value, __u32);		/* loc id, 0 = filtered out */
} locs SEC(".maps");

/*
 * Direct-mapped per-CPU cache in front of `locs`: the hot path is one
 * (inlined) per-CPU array lookup and a compare of the whole key.  Entries
 * are copies of `locs` entries, whose ids never change meaning (an id
 * evicted from the LRU is simply defined again under a new id), so a
 * stale cache entry still names the right location.
 */
#define LOC_CACHE_SLOTS	512

struct loc_cache_ent {
	struct loc_key key;
	__u32 id, pad;
};

struct loc_cache {
	struct loc_cache_ent e[LOC_CACHE_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loc_cache);
} loc_cache_map SEC(".maps");

static __always_inline struct loc_cache_ent *cache_slot(struct loc_cache *c,
							 const struct loc_key *k)
{
	__u64 h;

	if (!c)
		return NULL;
	h = (k->func >> 3) ^ (k->file >> 7) ^ ((__u64)k->line * 0x9e3779b1u) ^ k->tgid;
	h ^= h >> 9;
	return &c->e[h & (LOC_CACHE_SLOTS - 1)];
}

/* a PY_LOC record under construction: strings at fixed places */
struct loc_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_loc loc;
	char func[PLW_FUNC_MAX];
	char file[PLW_FILE_MAX];
};

struct import_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_import imp;
	char module[PLW_MODULE_MAX];
};

struct scratch {
	struct loc_rec loc;
	struct import_rec imp;
	__u32 file_len, base_off;	/* file name length (with NUL), basename offset */
	__u32 glob;			/* file filter being matched */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline bool is_target(__u32 tgid)
{
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

/* ------------------------------------------------------------- filters */

static __always_inline bool func_eq(const char *a, const volatile char *b)
{
	for (int i = 0; i < PLW_FUNC_MAX; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

/*
 * Glob match of file_filters[glob] against the file name from base_off, with
 * the classic single-backtrack algorithm ('*' any run, '?' one char), one
 * step per bpf_loop iteration.
 */
struct glob_ctx {
	struct scratch *s;
	__u32 p, n;		/* positions in pattern and name */
	__s32 star_p, star_n;	/* last '*' seen, and where it was tried */
	int result;		/* -1 running, 0 no, 1 yes */
};

static int glob_step(__u32 i, void *data)
{
	struct glob_ctx *g = data;
	struct scratch *s = g->s;
	__u32 gi = s->glob & (MAX_FILE_FILTERS - 1);
	__u32 p = g->p, n = g->n;
	char pc, nc;

	if (p >= GLOB_MAX || n >= PLW_FILE_MAX) {
		g->result = 0;
		return 1;
	}
	pc = file_filters[gi][p & (GLOB_MAX - 1)];
	nc = s->loc.file[n & (PLW_FILE_MAX - 1)];
	if (!pc && !nc) {
		g->result = 1;
		return 1;
	}
	if (pc == '*') {
		g->star_p = p;
		g->star_n = n;
		g->p = p + 1;
		return 0;
	}
	if (nc && (pc == '?' || pc == nc)) {
		g->p = p + 1;
		g->n = n + 1;
		return 0;
	}
	if (g->star_p >= 0 && s->loc.file[g->star_n & (PLW_FILE_MAX - 1)]) {
		g->star_n++;
		g->p = g->star_p + 1;
		g->n = g->star_n;
		return 0;
	}
	g->result = 0;
	return 1;
}

static int file_filter_cb(__u32 i, void *data)
{
	struct glob_ctx *g = data;
	struct scratch *s = g->s;

	if (i >= nr_file_filters || i >= MAX_FILE_FILTERS)
		return 1;
	s->glob = i;
	g->p = 0;
	g->n = file_filter_path[i & (MAX_FILE_FILTERS - 1)] ? 0 : s->base_off;
	g->star_p = -1;
	g->star_n = 0;
	g->result = -1;
	bpf_loop(GLOB_STEPS, glob_step, g, 0);
	return g->result == 1 ? 1 : 0;	/* stop at the first match */
}

static int basename_cb(__u32 i, void *data)
{
	struct glob_ctx *g = data;
	struct scratch *s = g->s;

	if (i >= PLW_FILE_MAX)
		return 1;
	if (!s->loc.file[i])
		return 1;
	if (s->loc.file[i] == '/')
		s->base_off = i + 1;
	return 0;
}

/* the strings are in s->loc; true if the location passes -F and -f */
static __always_inline bool loc_passes(struct scratch *s)
{
	if (nr_func_filters) {
		bool ok = false;

		for (int i = 0; i < MAX_FUNC_FILTERS; i++) {
			if (i >= nr_func_filters)
				break;
			if (func_eq(s->loc.func, func_filters[i])) {
				ok = true;
				break;
			}
		}
		if (!ok)
			return false;
	}
	if (nr_file_filters) {
		struct glob_ctx g = { .s = s, .result = -1 };

		s->base_off = 0;
		bpf_loop(PLW_FILE_MAX, basename_cb, &g, 0);
		bpf_loop(MAX_FILE_FILTERS, file_filter_cb, &g, 0);
		if (g.result != 1)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------- usdt args */

#ifdef __TARGET_ARCH_x86
/* a register by its pt_regs offset, read directly from the context (no
 * helper call: this is the hot path).  One asm load per case: otherwise
 * clang folds the switch into ctx + off, which the verifier refuses. */
#define CTX_REG(ctx, field) ({						\
	__u64 __v;							\
	asm volatile("%0 = *(u64 *)(%1 + %2)" : "=r"(__v)		\
		     : "r"(ctx), "i"(offsetof(struct pt_regs, field)));	\
	__v;								\
})
static __always_inline __u64 reg_at(struct pt_regs *ctx, short off)
{
	switch (off) {
	case offsetof(struct pt_regs, r15): return CTX_REG(ctx, r15);
	case offsetof(struct pt_regs, r14): return CTX_REG(ctx, r14);
	case offsetof(struct pt_regs, r13): return CTX_REG(ctx, r13);
	case offsetof(struct pt_regs, r12): return CTX_REG(ctx, r12);
	case offsetof(struct pt_regs, bp): return CTX_REG(ctx, bp);
	case offsetof(struct pt_regs, bx): return CTX_REG(ctx, bx);
	case offsetof(struct pt_regs, r11): return CTX_REG(ctx, r11);
	case offsetof(struct pt_regs, r10): return CTX_REG(ctx, r10);
	case offsetof(struct pt_regs, r9): return CTX_REG(ctx, r9);
	case offsetof(struct pt_regs, r8): return CTX_REG(ctx, r8);
	case offsetof(struct pt_regs, ax): return CTX_REG(ctx, ax);
	case offsetof(struct pt_regs, cx): return CTX_REG(ctx, cx);
	case offsetof(struct pt_regs, dx): return CTX_REG(ctx, dx);
	case offsetof(struct pt_regs, si): return CTX_REG(ctx, si);
	case offsetof(struct pt_regs, di): return CTX_REG(ctx, di);
	case offsetof(struct pt_regs, ip): return CTX_REG(ctx, ip);
	case offsetof(struct pt_regs, sp): return CTX_REG(ctx, sp);
	}
	return 0;
}

/* bpf_usdt_arg() for one spec already looked up */
static __always_inline long spec_arg(struct pt_regs *ctx, struct __bpf_usdt_spec *spec, int i)
{
	struct __bpf_usdt_arg_spec *a = &spec->args[i];
	__u64 val = 0;

	switch (a->arg_type) {
	case BPF_USDT_ARG_CONST:
		val = a->val_off;
		break;
	case BPF_USDT_ARG_REG:
		val = reg_at(ctx, a->reg_off);
		break;
	case BPF_USDT_ARG_REG_DEREF:
		val = reg_at(ctx, a->reg_off);
		if (bpf_probe_read_user(&val, sizeof(val), (void *)val + a->val_off))
			return 0;
		break;
	default:
		return 0;
	}
	val <<= a->arg_bitshift;
	if (a->arg_signed)
		return ((long)val) >> a->arg_bitshift;
	return val >> a->arg_bitshift;
}

/* the three arguments of function__entry/return with one spec lookup */
static __always_inline void usdt_args3(struct pt_regs *ctx, long *a0, long *a1, long *a2)
{
	struct __bpf_usdt_spec *spec;
	int id = __bpf_usdt_spec_id(ctx);

	if (id < 0)
		return;
	spec = bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
	if (!spec || spec->arg_cnt < 3)
		return;
	*a0 = spec_arg(ctx, spec, 0);
	*a1 = spec_arg(ctx, spec, 1);
	*a2 = spec_arg(ctx, spec, 2);
}
#else
static __always_inline void usdt_args3(struct pt_regs *ctx, long *a0, long *a1, long *a2)
{
	bpf_usdt_arg(ctx, 0, a0);
	bpf_usdt_arg(ctx, 1, a1);
	bpf_usdt_arg(ctx, 2, a2);
}
#endif

/* ------------------------------------------------------------- python */

/* loc id for a probe hit; defines it (PY_LOC) on first sight; 0 = drop */
static __always_inline __u32 get_loc(struct loc_cache *c, __u64 pid_tgid, __u64 ts,
				     __u64 file, __u64 func, __u32 line)
{
	struct loc_key key = {
		.tgid = pid_tgid >> 32, .line = line, .func = func, .file = file,
	};
	struct loc_cache_ent *ce = cache_slot(c, &key);
	struct scratch *s;
	__u32 zero = 0, id;
	__u32 *v;
	long fl, fnl;

	if (ce && ce->key.func == key.func && ce->key.file == key.file &&
	    ce->key.tgid == key.tgid && ce->key.line == key.line && ce->key.func)
		return ce->id;
	v = bpf_map_lookup_elem(&locs, &key);
	if (v) {
		id = *v;
		if (ce) {
			ce->key = key;
			ce->id = id;
		}
		return id;
	}

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	fnl = bpf_probe_read_user_str(s->loc.func, sizeof(s->loc.func), (void *)func);
	if (fnl < 1) {
		s->loc.func[0] = 0;
		fnl = 1;
	}
	fl = bpf_probe_read_user_str(s->loc.file, sizeof(s->loc.file), (void *)file);
	if (fl < 1) {
		s->loc.file[0] = 0;
		fl = 1;
	}
	if (!loc_passes(s)) {
		id = 0;
		bpf_map_update_elem(&locs, &key, &id, BPF_ANY);
		return 0;
	}
	id = __sync_fetch_and_add(&next_loc, 1) + 1;
	s->loc.loc.loc = id;
	s->loc.loc.line = line;
	/* offsets from the start of the RAW data: plw_common (8) + payload */
	s->loc.loc.func = PLW_DATA_LOC(8 + offsetof(struct loc_rec, func) - sizeof(struct plw_rb_hdr),
				       (__u32)fnl);
	s->loc.loc.file = PLW_DATA_LOC(8 + offsetof(struct loc_rec, file) - sizeof(struct plw_rb_hdr),
				       (__u32)fl);
	__u32 size = offsetof(struct loc_rec, file) + ((__u32)fl & (PLW_FILE_MAX - 1));
	if (fl >= PLW_FILE_MAX)
		size = sizeof(struct loc_rec);
	fill_hdr(&s->loc.hdr, pid_tgid, ts, PLW_EV_PY_LOC,
		 size - sizeof(struct plw_rb_hdr));
	if (bpf_ringbuf_output(&rb, &s->loc, size, BPF_RB_NO_WAKEUP)) {
		count(PLW_CNT_LOST);
		/* not cached: defined again at the next hit */
		return LOC_LOST;
	}
	count(PLW_CNT_LOC_NEW);
	bpf_map_update_elem(&locs, &key, &id, BPF_ANY);
	return id;
}

struct call_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_call call;
};

/* ------------------------------------------------------------- staging
 * (stage.bpf.h); the programs that empty the stages */

/* every PLW_STAGE_TICK_NS on each CPU (a cpu-clock perf event): for a
 * thread that runs on without Python calls */
SEC("perf_event")
int stage_tick(void *ctx)
{
	stage_drain();
	return 0;
}

/* at every context switch: a thread that blocks, sleeps or is preempted
 * leaves nothing behind on its CPU (an idle CPU may see no timer tick) */
SEC("tp_btf/sched_switch")
int BPF_PROG(stage_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	stage_drain();
	return 0;
}

/* PYUSDT: the probe is pyusdt's (function, file, line), not CPython's
 * function__entry/return (file, function, line) */
static __always_inline int py_call(struct pt_regs *ctx, __u16 type, bool pyusdt)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	long file = 0, func = 0, line = 0;
	__u32 zero = 0;
	struct loc_cache *c;
	struct call_rec *r;
	__u64 ts;
	__u32 id;

	if (!target_running(pid_tgid >> 32))
		return 0;
	c = bpf_map_lookup_elem(&loc_cache_map, &zero);
	ts = bpf_ktime_get_ns();
	if (pyusdt)
		usdt_args3(ctx, &func, &file, &line);
	else
		usdt_args3(ctx, &file, &func, &line);
	/* function__return passes the line being executed, not the code
	 * object's first line: key returns by (func, file) alone, line 0, so
	 * a function gets one return location; reports match a return to its
	 * entry by name and file (report/model.c) */
	if (type == PLW_EV_PY_RETURN)
		line = 0;
	id = get_loc(c, pid_tgid, ts, file, func, line);
	if (id == LOC_LOST) {
		count(PLW_CNT_LOST);	/* the event itself */
		return 0;
	}
	if (!id) {
		count(PLW_CNT_FILTERED);
		return 0;
	}
	if (stage_on && stage_add_py(pid_tgid, ts, type == PLW_EV_PY_RETURN, id))
		return 0;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(PLW_CNT_LOST);
		return 0;
	}
	fill_hdr(&r->hdr, pid_tgid, ts, type, sizeof(r->call));
	r->call.loc = id;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("usdt")
int py_entry(struct pt_regs *ctx)
{
	return py_call(ctx, PLW_EV_PY_ENTRY, false);
}

SEC("usdt")
int py_return(struct pt_regs *ctx)
{
	return py_call(ctx, PLW_EV_PY_RETURN, false);
}

/* pyusdt libraries: PY_START, PY_RESUME -> entry; PY_RETURN, PY_YIELD -> return */
SEC("usdt")
int pyusdt_entry(struct pt_regs *ctx)
{
	return py_call(ctx, PLW_EV_PY_ENTRY, true);
}

SEC("usdt")
int pyusdt_return(struct pt_regs *ctx)
{
	return py_call(ctx, PLW_EV_PY_RETURN, true);
}

struct gc_start_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_gc_start gc;
};

struct gc_done_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_gc_done gc;
};

SEC("usdt")
int py_gc_start(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct gc_start_rec *r;
	long gen = 0;

	if (!target_running(pid_tgid >> 32))
		return 0;
	bpf_usdt_arg(ctx, 0, &gen);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(PLW_CNT_LOST);
		return 0;
	}
	fill_hdr(&r->hdr, pid_tgid, bpf_ktime_get_ns(), PLW_EV_PY_GC_START, sizeof(r->gc));
	r->gc.generation = gen;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("usdt")
int py_gc_done(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct gc_done_rec *r;
	long n = 0;

	if (!target_running(pid_tgid >> 32))
		return 0;
	bpf_usdt_arg(ctx, 0, &n);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(PLW_CNT_LOST);
		return 0;
	}
	fill_hdr(&r->hdr, pid_tgid, bpf_ktime_get_ns(), PLW_EV_PY_GC_DONE, sizeof(r->gc));
	__s64 v = n;
	__builtin_memcpy(&r->gc.collected, &v, sizeof(v));
	r->gc.pad = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline int py_import(struct pt_regs *ctx, __u16 type)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	long mod = 0, found = 0;
	struct import_rec *r;
	struct scratch *s;
	__u32 zero = 0;
	long len;

	if (!target_running(pid_tgid >> 32))
		return 0;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	r = &s->imp;
	bpf_usdt_arg(ctx, 0, &mod);
	if (type == PLW_EV_PY_IMPORT_DONE)
		bpf_usdt_arg(ctx, 1, &found);
	len = bpf_probe_read_user_str(r->module, sizeof(r->module), (void *)mod);
	if (len < 1) {
		r->module[0] = 0;
		len = 1;
	}
	r->imp.found = found;
	r->imp.pad = 0;
	r->imp.module = PLW_DATA_LOC(8 + sizeof(struct plw_py_import), (__u32)len);
	__u32 size = offsetof(struct import_rec, module) + ((__u32)len & (PLW_MODULE_MAX - 1));
	if (len >= PLW_MODULE_MAX)
		size = sizeof(*r);
	fill_hdr(&r->hdr, pid_tgid, bpf_ktime_get_ns(), type, size - sizeof(r->hdr));
	if (bpf_ringbuf_output(&rb, r, size, BPF_RB_NO_WAKEUP)) {
		count(PLW_CNT_LOST);
		return 0;
	}
	return 0;
}

SEC("usdt")
int py_import_start(struct pt_regs *ctx)
{
	return py_import(ctx, PLW_EV_PY_IMPORT_START);
}

SEC("usdt")
int py_import_done(struct pt_regs *ctx)
{
	return py_import(ctx, PLW_EV_PY_IMPORT_DONE);
}

/*
 * Attached at an address that never runs (Py_FatalError) with the `line`
 * probe's semaphore as ref_ctr: holds that semaphore so that CPython 3.11
 * fires function__entry for Python-to-Python calls (see
 * docs/cpython-usdt.md).  Never expected to run.
 */
SEC("uprobe")
int hold_sem(struct pt_regs *ctx)
{
	return 0;
}

/* ------------------------------------------------------------- processes */

static __always_inline void *rb_reserve(__u32 payload)
{
	void *r = bpf_ringbuf_reserve(&rb, sizeof(struct plw_rb_hdr) + payload, 0);

	if (!r)
		count(PLW_CNT_LOST);
	return r;
}

struct fork_rec {
	struct plw_rb_hdr hdr;
	struct plw_rb_fork f;
};

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct fork_rec *r;
	__u8 one = 1;

	if (!follow || !is_target(ptgid))
		return 0;
	if (ctgid != ptgid) {
		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
		targets_changed();
	}
	r = rb_reserve(sizeof(r->f));
	if (!r)
		return 0;
	fill_hdr(&r->hdr, ((__u64)ctgid << 32) | (__u32)BPF_CORE_READ(child, pid),
		 bpf_ktime_get_ns(), PLW_RB_FORK, sizeof(r->f));
	r->f.parent_pid = ptgid;
	r->f.parent_tid = BPF_CORE_READ(parent, pid);
	r->f.child_pid = ctgid;
	r->f.child_tid = BPF_CORE_READ(child, pid);
	BPF_CORE_READ_STR_INTO(&r->f.comm, child, comm);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

struct exec_rec {
	struct plw_rb_hdr hdr;
	struct plw_rb_exec e;
};

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct exec_rec *r;

	if (!is_target(pid_tgid >> 32))
		return 0;
	r = rb_reserve(sizeof(r->e));
	if (!r)
		return 0;
	fill_hdr(&r->hdr, pid_tgid, bpf_ktime_get_ns(), PLW_RB_EXEC, sizeof(r->e));
	BPF_CORE_READ_STR_INTO(&r->e.comm, p, comm);
	bpf_probe_read_kernel_str(r->e.filename, sizeof(r->e.filename),
				  BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);	/* may need an attach */
	return 0;
}

struct exit_rec {
	struct plw_rb_hdr hdr;
	struct plw_rb_exit x;
};

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p, bool group_dead)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct exit_rec *r;

	if (!is_target(tgid))
		return 0;
	if (group_dead) {
		bpf_map_delete_elem(&targets, &tgid);
		targets_changed();
	}
	r = rb_reserve(sizeof(r->x));
	if (!r)
		return 0;
	fill_hdr(&r->hdr, pid_tgid, bpf_ktime_get_ns(), PLW_RB_EXIT, sizeof(r->x));
	r->x.group_dead = group_dead;
	r->x.exit_code = BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

struct comm_rec {
	struct plw_rb_hdr hdr;
	struct plw_rb_comm c;
};

SEC("tp_btf/task_rename")
int BPF_PROG(on_rename, struct task_struct *task, const char *comm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct comm_rec *r;

	if (!is_target(tgid))
		return 0;
	r = rb_reserve(sizeof(r->c));
	if (!r)
		return 0;
	fill_hdr(&r->hdr, ((__u64)tgid << 32) | (__u32)BPF_CORE_READ(task, pid),
		 bpf_ktime_get_ns(), PLW_RB_COMM, sizeof(r->c));
	bpf_probe_read_kernel_str(r->c.comm, sizeof(r->c.comm), comm);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}
