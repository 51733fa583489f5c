/* SPDX-License-Identifier: MIT */
/*
 * pylow_agent.c - the in-process agent: CPython extension module
 * `_pylow_agent`, one source for Python 3.6 to 3.13.
 *
 * It writes the records BPF would (format/events.h: struct plw_rb_hdr +
 * PY_LOC / PY_ENTRY / PY_RETURN payloads) into this process's shared-memory
 * ring (ring.h), from:
 *
 *   3.12+      sys.monitoring, a tool id of its own, C builtins (METH_FASTCALL)
 *              as callbacks: PY_START, PY_RESUME, PY_THROW -> entry;
 *              PY_RETURN, PY_YIELD, PY_UNWIND -> return.
 *   3.11       a PEP 523 frame evaluation hook (every thread of the
 *              interpreter): entry before the frame runs, return after.
 *              The profile hook would put 3.11's eval loop in its tracing
 *              mode, which runs every instruction unspecialised (W2: about
 *              170 ns per call of the application's, agent/README.md).
 *   3.6-3.10   a PyEval_SetProfile C hook: PyTrace_CALL -> entry,
 *              PyTrace_RETURN -> return (C calls ignored), in the thread that
 *              starts the agent; threads started later through `threading`
 *              install it from threading.setprofile(_thread_hook).
 *
 * A generator or coroutine resume is an entry and a yield a return, like the
 * USDT probes.  Each code object gets a loc id once per process, kept in its
 * co_extra slot as (generation << 32 | id); a fork bumps the generation so
 * that the child defines its own ids in its own ring.
 *
 * `pylow record -F/-f` filters (agent/filter.h, from the environment) are
 * decided in loc_define, once per code object: one left out keeps id 0 of
 * the current generation in co_extra, so each of its later events costs one
 * check and a count (ring header `filtered`), and writes nothing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/filter.h"
#include "agent/ring.h"

#if PY_VERSION_HEX < 0x03060000
#error "pylow agent: Python 3.6 or later"
#endif

#if PY_VERSION_HEX >= 0x030c0000
#define PLW_MONITORING	1
#define code_get_extra	PyUnstable_Code_GetExtra
#define code_set_extra	PyUnstable_Code_SetExtra
#define request_extra	PyUnstable_Eval_RequestCodeExtraIndex
#else
#define PLW_MONITORING	0
#define code_get_extra	_PyCode_GetExtra
#define code_set_extra	_PyCode_SetExtra
#define request_extra	_PyEval_RequestCodeExtraIndex
#endif

#if PY_VERSION_HEX >= 0x030b0000 && PY_VERSION_HEX < 0x030c0000
#define PLW_EVALFRAME	1
#include <fenv.h>
#include <ucontext.h>
#include "agent/frame311.h"
#else
#define PLW_EVALFRAME	0
#endif
/* the profile hook: 3.6-3.10, and 3.11 with PYLOW_AGENT_HOOK=profile */
#define PLW_PROFILE	(!PLW_MONITORING)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* state; every change happens with the GIL held or in a fork child */
static struct plw_agent_ring *g_ring;	/* NULL: not recording */
static struct plw_agent_locs *g_locs;
static char *g_dir;
static char g_exe[64];
static uint64_t g_ring_size;
static Py_ssize_t g_extra = -1;
static uint32_t g_gen = 1;		/* bumped in each fork child */
static uint32_t g_pid;
/* PLW_AGENT_SRC_*, chosen in PyInit (3.11: PYLOW_AGENT_HOOK) */
static int g_source = PLW_MONITORING ? PLW_AGENT_SRC_MONITORING :
		      PLW_EVALFRAME ? PLW_AGENT_SRC_EVALFRAME : PLW_AGENT_SRC_PROFILE;

static const char *source_name(void)
{
	return g_source == PLW_AGENT_SRC_MONITORING ? "sys.monitoring" :
	       g_source == PLW_AGENT_SRC_EVALFRAME ? "eval_frame" : "profile";
}
/* sys.hexversion: the interpreter's own version (3.11.2), not the headers'
 * this module was built with (PY_VERSION_HEX: 3.11.7) */
static uint32_t g_py_version;
static int g_atfork_done, g_atexit_done;
static uint64_t g_fork_failures;
static struct plw_agent_filter g_filter;	/* -F / -f, from the environment */
static int g_filtering;
#if PLW_MONITORING
static int g_tool = -1;
#endif
static __thread uint32_t t_tid __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ clock
 *
 * Timestamps are CLOCK_MONOTONIC ns, the clock of bpf_ktime_get_ns.  The
 * vDSO clock_gettime costs 25-50 ns in this VM, as much as everything else
 * on the path, so when the kernel's own clocksource is the TSC (invariant
 * and synchronised, or the kernel would not use it) each thread extrapolates
 * from an anchor pair (tsc, CLOCK_MONOTONIC) taken at most TSC_ANCHOR_NS
 * ago: ns = anchor_ns + (rdtsc - anchor_tsc) * mult >> 32.  The rate comes
 * from the first anchor of the process and the latest one (seconds apart:
 * NTP slewing included), so the error stays within tens of ns; per thread
 * the result never goes backwards.  PYLOW_AGENT_CLOCK=vdso turns it off.
 */
#if defined(__x86_64__)
#include <x86intrin.h>
#define TSC_ANCHOR_NS	200000ull	/* re-anchor after 200 us */

static int g_use_tsc;
static uint64_t g_tsc_start, g_ns_start;	/* first anchor of the process */
static uint64_t g_tsc_mult;			/* ns per tick << 32 */
static uint64_t g_tsc_anchor_ticks;

struct tclock {
	uint64_t tsc0, ns0, last;
};
static __thread struct tclock t_clock __attribute__((tls_model("initial-exec")));
#endif

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
/* (tsc, ns) read together: the ns between two TSC reads, their midpoint */
static void tsc_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t a = __rdtsc(), m = mono_ns(), b = __rdtsc();

	*tsc = a + (b - a) / 2;
	*ns = m;
}

static __attribute__((noinline)) uint64_t tsc_anchor(struct tclock *c)
{
	uint64_t tsc, ns, dt;

	tsc_pair(&tsc, &ns);
	dt = tsc - __atomic_load_n(&g_tsc_start, __ATOMIC_RELAXED);
	if (dt > 1000000)	/* rate over the whole life of the process */
		__atomic_store_n(&g_tsc_mult,
				 (uint64_t)(((unsigned __int128)(ns - g_ns_start) << 32) / dt),
				 __ATOMIC_RELAXED);
	c->tsc0 = tsc;
	c->ns0 = ns;
	if (ns < c->last)
		return c->last;
	c->last = ns;
	return ns;
}

static int tsc_usable(void)
{
	const char *e = getenv("PYLOW_AGENT_CLOCK");
	char buf[64] = "";
	FILE *f;
	size_t n;

	if (e && !strcmp(e, "vdso"))
		return 0;
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return !strcmp(buf, "tsc\n");
}

static void tsc_init(void)
{
	uint64_t t1, n1, t2, n2;

	g_use_tsc = 0;
	if (!tsc_usable())
		return;
	/* a first rate from 100 us; tsc_anchor() refines it */
	tsc_pair(&t1, &n1);
	do
		tsc_pair(&t2, &n2);
	while (n2 - n1 < 100000);
	if (t2 <= t1)
		return;
	g_tsc_start = t1;
	g_ns_start = n1;
	g_tsc_mult = (uint64_t)(((unsigned __int128)(n2 - n1) << 32) / (t2 - t1));
	g_tsc_anchor_ticks = (uint64_t)(((unsigned __int128)TSC_ANCHOR_NS << 32) / g_tsc_mult);
	if (!g_tsc_mult || !g_tsc_anchor_ticks)
		return;
	g_use_tsc = 1;
}

static inline uint64_t now_ns(void)
{
	struct tclock *c;
	uint64_t d, ns;

	if (unlikely(!g_use_tsc))
		return mono_ns();
	c = &t_clock;
	d = __rdtsc() - c->tsc0;
	if (unlikely(d > g_tsc_anchor_ticks))	/* also: first use in a thread */
		return tsc_anchor(c);
	ns = c->ns0 + (uint64_t)(((unsigned __int128)d * __atomic_load_n(&g_tsc_mult, __ATOMIC_RELAXED)) >> 32);
	if (unlikely(ns < c->last))
		ns = c->last;
	c->last = ns;
	return ns;
}
#else
static void tsc_init(void) { }
static inline uint64_t now_ns(void) { return mono_ns(); }
#endif

static inline uint32_t my_tid(void)
{
	if (unlikely(!t_tid))
		t_tid = (uint32_t)syscall(SYS_gettid);
	return t_tid;
}

/*
 * The CPU this thread runs on.  glibc 2.35+ registers rseq for every thread
 * and sched_getcpu() reads the kernel-kept cpu_id from that area; reading
 * it here (thread pointer + __rseq_offset, found with dlsym so that an older
 * glibc still loads the agent) saves the call on every event.
 */
static ptrdiff_t g_rseq_off;
static int g_rseq;

static void rseq_init(void)
{
	const ptrdiff_t *off = dlsym(RTLD_DEFAULT, "__rseq_offset");
	const unsigned int *size = dlsym(RTLD_DEFAULT, "__rseq_size");

	g_rseq = off && size && *size >= 8 && sched_getcpu() >= 0;
	if (g_rseq)
		g_rseq_off = *off;
}

static inline uint16_t my_cpu(void)
{
	int cpu;

#if defined(__x86_64__) || defined(__aarch64__)
	if (likely(g_rseq)) {
		/* struct rseq: u32 cpu_id_start, then u32 cpu_id */
		cpu = (int)__atomic_load_n((const uint32_t *)((char *)__builtin_thread_pointer() +
							     g_rseq_off + 4), __ATOMIC_RELAXED);
		if (likely(cpu >= 0))
			return (uint16_t)cpu;
	}
#endif
	cpu = sched_getcpu();
	return cpu < 0 ? 0 : (uint16_t)cpu;
}

static inline void fill_hdr(struct plw_rb_hdr *h, uint64_t ts, uint16_t type, uint32_t size)
{
	uint16_t cpu = my_cpu();

	h->ts = ts;
	h->pid = g_pid;
	h->tid = my_tid();
	h->type = type;
	h->cpu = cpu;
	h->size = size;
}

/* ------------------------------------------------------------ locations */

/* the same layout as bpf/pylow.bpf.c's struct loc_rec: strings at fixed
 * places, the record cut after the file name */
struct loc_rec {
	struct plw_rb_hdr hdr;
	struct plw_py_loc loc;
	char func[PLW_FUNC_MAX];
	char file[PLW_FILE_MAX];
};

/* the UTF-8 of S (or "?"), for the filters */
static const char *utf8_of(PyObject *s, Py_ssize_t *n)
{
	const char *u = NULL;

	if (s && PyUnicode_Check(s))
		u = PyUnicode_AsUTF8AndSize(s, n);
	if (!u) {
		PyErr_Clear();
		*n = 1;
		return "?";
	}
	return u;
}

/* one event of a code object that -F/-f leave out.  Callbacks run with
 * the GIL held: no other thread of this process counts at the same time */
static inline void count_filtered(struct plw_agent_ring *r)
{
	__atomic_store_n(&r->hdr->filtered,
			 __atomic_load_n(&r->hdr->filtered, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

/* copies the UTF-8 of S into DST (at most MAX bytes with the NUL, cut on a
 * character boundary); returns the bytes written with the NUL */
static uint32_t copy_str(char *dst, uint32_t max, PyObject *s)
{
	const char *u = NULL;
	Py_ssize_t n = 0;

	if (s && PyUnicode_Check(s))
		u = PyUnicode_AsUTF8AndSize(s, &n);
	if (!u) {
		PyErr_Clear();
		u = "?";
		n = 1;
	}
	if ((size_t)n > max - 1) {
		n = max - 1;
		while (n > 0 && ((unsigned char)u[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, u, (size_t)n);
	dst[n] = 0;
	return (uint32_t)n + 1;
}

static uint32_t loc_define(PyObject *code, uint64_t ts)
{
	PyCodeObject *co = (PyCodeObject *)code;
	struct plw_agent_ring *r = g_ring;
	PyObject *et, *ev, *tb;
	struct loc_rec *rec;
	uint32_t id, fnl, fl, size;
	char func[PLW_FUNC_MAX], file[PLW_FILE_MAX];

	if (!PyCode_Check(code))
		return 0;
	if (g_filtering) {
		const char *fu, *fi;
		Py_ssize_t fun, fin;
		bool pass;

		PyErr_Fetch(&et, &ev, &tb);
		fu = utf8_of(co->co_name, &fun);
		fi = utf8_of(co->co_filename, &fin);
		pass = plw_agent_filter_passes(&g_filter, fu, (size_t)fun, fi, (size_t)fin);
		if (!pass) {
			/* id 0 of this generation: "filtered out", cached */
			if (code_set_extra(code, g_extra, (void *)((uintptr_t)g_gen << 32)) < 0)
				PyErr_Clear();
			count_filtered(r);
		}
		PyErr_Restore(et, ev, tb);
		if (!pass)
			return 0;
	}
	id = plw_agent_locs_next(&g_locs, g_dir);
	if (!id)
		return 0;
	PyErr_Fetch(&et, &ev, &tb);
	fnl = copy_str(func, sizeof(func), co->co_name);
	fl = copy_str(file, sizeof(file), co->co_filename);
	size = (uint32_t)offsetof(struct loc_rec, file) + fl;
	rec = plw_agent_ring_reserve(r, size);
	if (!rec) {
		/* not cached: defined again at the next call; the event is
		 * lost with it */
		__atomic_fetch_add(&r->hdr->dropped, 1, __ATOMIC_RELAXED);
		PyErr_Restore(et, ev, tb);
		return 0;
	}
	fill_hdr(&rec->hdr, ts, PLW_EV_PY_LOC, size - (uint32_t)sizeof(struct plw_rb_hdr));
	rec->loc.loc = id;
	rec->loc.line = co->co_firstlineno > 0 ? (uint32_t)co->co_firstlineno : 0;
	/* offsets from the start of the RAW data: plw_common (8) + payload */
	rec->loc.func = PLW_DATA_LOC(8 + offsetof(struct loc_rec, func) - sizeof(struct plw_rb_hdr), fnl);
	rec->loc.file = PLW_DATA_LOC(8 + offsetof(struct loc_rec, file) - sizeof(struct plw_rb_hdr), fl);
	memcpy(rec->func, func, fnl);
	memset(rec->func + fnl, 0, sizeof(rec->func) - fnl);
	memcpy(rec->file, file, fl);
	plw_agent_ring_commit(r, rec);
	__atomic_fetch_add(&r->hdr->locs, 1, __ATOMIC_RELAXED);
	if (code_set_extra(code, g_extra, (void *)(((uintptr_t)g_gen << 32) | id)) < 0)
		PyErr_Clear();
	PyErr_Restore(et, ev, tb);
	return id;
}

static inline uint32_t loc_of(PyObject *code, uint64_t ts)
{
	void *extra = NULL;

	if (likely(code_get_extra(code, g_extra, &extra) == 0)) {
		uintptr_t v = (uintptr_t)extra;

		if (likely(v && (uint32_t)(v >> 32) == g_gen)) {
			if (unlikely(!(uint32_t)v))	/* filtered out */
				count_filtered(g_ring);
			return (uint32_t)v;
		}
	} else {
		PyErr_Clear();
		return 0;
	}
	return loc_define(code, ts);
}

/* the hot path: one PY_ENTRY / PY_RETURN record */
static inline void on_event(PyObject *code, uint16_t type)
{
	struct plw_agent_ring *r = g_ring;
	uint64_t ts;
	uint32_t loc;

	if (unlikely(!r))
		return;
	ts = now_ns();
	loc = loc_of(code, ts);
	if (unlikely(!loc))
		return;
	plw_agent_ring_call(r, ts, my_tid(), my_cpu(), loc, type == PLW_EV_PY_RETURN);
}

/* ------------------------------------------------------------ sources */

#if PLW_MONITORING
static PyObject *mon_entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (likely(nargs >= 1 && PyCode_Check(args[0])))
		on_event(args[0], PLW_EV_PY_ENTRY);
	Py_RETURN_NONE;
}

static PyObject *mon_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (likely(nargs >= 1 && PyCode_Check(args[0])))
		on_event(args[0], PLW_EV_PY_RETURN);
	Py_RETURN_NONE;
}

static PyMethodDef mon_entry_def = {
	"_entry", (PyCFunction)(void (*)(void))mon_entry, METH_FASTCALL,
	"sys.monitoring callback: PY_START, PY_RESUME, PY_THROW"
};
static PyMethodDef mon_return_def = {
	"_return", (PyCFunction)(void (*)(void))mon_return, METH_FASTCALL,
	"sys.monitoring callback: PY_RETURN, PY_YIELD, PY_UNWIND"
};

static int mon_install(void)
{
	static const char *const entry_ev[] = { "PY_START", "PY_RESUME", "PY_THROW" };
	static const char *const return_ev[] = { "PY_RETURN", "PY_YIELD", "PY_UNWIND" };
	/* 3 and 4 have no assigned role; 2 (PROFILER) is what cProfile takes */
	static const int tools[] = { 4, 3, 5 };
	PyObject *mon, *events = NULL, *fe = NULL, *fr = NULL, *res;
	long mask = 0;
	size_t i;
	int err = -1;

	mon = PySys_GetObject("monitoring");	/* borrowed */
	if (!mon) {
		PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
		return -1;
	}
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		res = PyObject_CallMethod(mon, "use_tool_id", "is", tools[i], "pylow");
		if (res) {
			Py_DECREF(res);
			g_tool = tools[i];
			break;
		}
		PyErr_Clear();
	}
	if (g_tool < 0) {
		PyErr_SetString(PyExc_RuntimeError,
				"sys.monitoring tool ids 3, 4 and 5 are all in use");
		return -1;
	}
	events = PyObject_GetAttrString(mon, "events");
	fe = PyCFunction_New(&mon_entry_def, NULL);
	fr = PyCFunction_New(&mon_return_def, NULL);
	if (!events || !fe || !fr)
		goto out;
	for (i = 0; i < 6; i++) {
		const char *name = i < 3 ? entry_ev[i] : return_ev[i - 3];
		PyObject *ev = PyObject_GetAttrString(events, name);
		long e;

		if (!ev)
			goto out;
		e = PyLong_AsLong(ev);
		if (e == -1 && PyErr_Occurred()) {
			Py_DECREF(ev);
			goto out;
		}
		res = PyObject_CallMethod(mon, "register_callback", "iOO", g_tool, ev,
					  i < 3 ? fe : fr);
		Py_DECREF(ev);
		if (!res)
			goto out;
		Py_DECREF(res);
		mask |= e;
	}
	res = PyObject_CallMethod(mon, "set_events", "il", g_tool, mask);
	if (!res)
		goto out;
	Py_DECREF(res);
	err = 0;
out:
	Py_XDECREF(events);
	Py_XDECREF(fe);
	Py_XDECREF(fr);
	if (err) {
		PyObject *et, *ev, *tb;

		PyErr_Fetch(&et, &ev, &tb);
		res = PyObject_CallMethod(mon, "free_tool_id", "i", g_tool);
		Py_XDECREF(res);
		PyErr_Clear();
		PyErr_Restore(et, ev, tb);
		g_tool = -1;
	}
	return err;
}

static void mon_uninstall(void)
{
	PyObject *mon = PySys_GetObject("monitoring"), *res;

	if (!mon || g_tool < 0)
		return;
	res = PyObject_CallMethod(mon, "set_events", "ii", g_tool, 0);
	Py_XDECREF(res);
	res = PyObject_CallMethod(mon, "free_tool_id", "i", g_tool);
	Py_XDECREF(res);
	PyErr_Clear();
	g_tool = -1;
}
#elif PLW_EVALFRAME
/*
 * 3.11: the interpreter's frame evaluation function (PEP 523).  With one
 * set, 3.11 no longer inlines Python-to-Python calls, so every frame run,
 * generator resume included, passes here; the eval loop itself keeps its
 * specialised instructions.  A generator's or coroutine's first run only
 * makes the object (RETURN_GENERATOR, the frame still the thread's): the
 * profile hook and the USDT probes see no call there, and neither does this.
 */
static _PyFrameEvalFunction g_prev_eval;	/* what was set before: chained */

/*
 * The C stack.  Natively 3.11 runs a Python call made from Python inside
 * the caller's eval loop, on no C stack of its own; with a frame evaluation
 * function set every call is a C recursion (~460 bytes a level here).  A
 * program that raises the recursion limit and recurses deep (natively
 * 100,000 levels run fine) would overflow its thread's stack (8 MiB: ~18,000
 * levels), and a thread started with a small threading.stack_size() sooner.
 * So once a thread has used 3/4 of its stack, the frame runs on a stack
 * segment of its own (SEG_SIZE reserved, touched as used; again from there
 * when that one is 3/4 used): the program recurses as deep as natively.
 */
#define SEG_SIZE	(64ul << 20)

/* below this, switch; NULL: not known yet; (char *)1: never (unknown stack) */
static __thread char *t_stk_limit __attribute__((tls_model("initial-exec")));
/* the thread's first segment, kept while it lives: a frame at the switch
 * depth that makes many calls would otherwise map and unmap one per call
 * (~12 us each, measured); NULL: none yet.  t_seg_busy: in use now */
static __thread char *t_seg __attribute__((tls_model("initial-exec")));
static __thread int t_seg_busy __attribute__((tls_model("initial-exec")));
static pthread_key_t g_seg_key;
static pthread_once_t g_seg_once = PTHREAD_ONCE_INIT;
static int g_seg_key_ok;

static void seg_free(void *mem)
{
	/* a thread that ended while on its segment (pthread_exit of a daemon
	 * thread at finalisation: glibc unwinds to the thread's own stack
	 * first, musl may not) leaves it mapped */
	if (!(t_seg_busy && mem == t_seg))
		munmap(mem, SEG_SIZE);
	t_seg = NULL;
}

static void seg_key_init(void)
{
	g_seg_key_ok = !pthread_key_create(&g_seg_key, seg_free);
}

/* a segment, guard page below; the thread's kept one when free */
static char *seg_get(bool *kept)
{
	char *mem;

	*kept = false;
	if (t_seg && !t_seg_busy) {
		t_seg_busy = 1;
		*kept = true;
		return t_seg;
	}
	mem = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	if (mprotect(mem, 4096, PROT_NONE)) {
		munmap(mem, SEG_SIZE);
		return NULL;
	}
	/* the first one stays the thread's (unmapped when it exits) */
	if (!t_seg && !pthread_once(&g_seg_once, seg_key_init) && g_seg_key_ok &&
	    !pthread_setspecific(g_seg_key, mem)) {
		t_seg = mem;
		t_seg_busy = 1;
		*kept = true;
	}
	return mem;
}

static void seg_put(char *mem, bool kept)
{
	if (kept)
		t_seg_busy = 0;
	else
		munmap(mem, SEG_SIZE);
}

static void stk_init(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;

	t_stk_limit = (char *)1;
	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (!pthread_attr_getstack(&a, &lo, &size) && size >= 4 * 4096)
		t_stk_limit = (char *)lo + size / 4;
	pthread_attr_destroy(&a);
}

struct deep_call {
	PyThreadState *ts;
	struct _PyInterpreterFrame *f;
	int throwflag;
	PyObject *res;
	char *limit;			/* t_stk_limit on the segment */
	ucontext_t *back;
	fenv_t fe;			/* the frame's floating-point environment */
};

/* makecontext passes ints: the pointer comes in two halves */
static void deep_run(unsigned hi, unsigned lo)
{
	struct deep_call *d = (struct deep_call *)(uintptr_t)(((uint64_t)hi << 32) | lo);

	t_stk_limit = d->limit;
	d->res = g_prev_eval(d->ts, d->f, d->throwflag);
	/* returning restores the signal mask and the floating-point
	 * environment saved at the switch: keep what the frame made them */
	pthread_sigmask(SIG_SETMASK, NULL, &d->back->uc_sigmask);
	fegetenv(&d->fe);
}

/* runs D on segment MEM and comes back: 0, or -1 if it could not switch
 * (then D did not run).  Apart, so that no caller's variable lives across
 * getcontext()/swapcontext() */
static __attribute__((noinline)) int seg_switch(struct deep_call *d, char *mem)
{
	ucontext_t back, seg;
	uint64_t p = (uint64_t)(uintptr_t)d;

	if (getcontext(&seg))
		return -1;
	seg.uc_stack.ss_sp = mem;
	seg.uc_stack.ss_size = SEG_SIZE;
	seg.uc_link = &back;
	d->limit = mem + SEG_SIZE / 4;
	d->back = &back;
	makecontext(&seg, (void (*)(void))deep_run, 2, (unsigned)(p >> 32), (unsigned)p);
	return swapcontext(&back, &seg) ? -1 : 0;
}

static PyObject *run_on_segment(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag)
{
	struct deep_call d = { ts, f, throwflag, NULL, NULL, NULL };
	char *saved = t_stk_limit, *mem;
	bool kept;
	int err;

	mem = seg_get(&kept);
	if (!mem)
		return g_prev_eval(ts, f, throwflag);	/* as deep as the stack goes */
	err = seg_switch(&d, mem);
	if (!err)
		fesetenv(&d.fe);
	t_stk_limit = saved;
	seg_put(mem, kept);
	return err ? g_prev_eval(ts, f, throwflag) : d.res;
}

static inline PyObject *run_frame(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag)
{
	char *sp = (char *)__builtin_frame_address(0);

	if (unlikely(sp < t_stk_limit) || unlikely(!t_stk_limit)) {
		if (!t_stk_limit)
			stk_init();
		if (sp < t_stk_limit)
			return run_on_segment(ts, f, throwflag);
	}
	return g_prev_eval(ts, f, throwflag);
}

static PyObject *eval_hook(PyThreadState *ts, struct _PyInterpreterFrame *f, int throwflag)
{
	const struct plw_frame311 *fr = (const struct plw_frame311 *)f;
	PyObject *code = (PyObject *)fr->f_code, *res;

	if (unlikely(!g_ring) ||
	    unlikely((fr->f_code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) &&
		     fr->owner == PLW_FRAME_OWNED_BY_THREAD))
		return run_frame(ts, f, throwflag);
	/* the frame's reference goes with the frame */
	Py_INCREF(code);
	on_event(code, PLW_EV_PY_ENTRY);
	res = run_frame(ts, f, throwflag);
	on_event(code, PLW_EV_PY_RETURN);
	Py_DECREF(code);
	return res;
}

static void eval_install(void)
{
	PyInterpreterState *in = PyInterpreterState_Get();
	_PyFrameEvalFunction cur = _PyInterpreterState_GetEvalFrameFunc(in);

	if (cur != eval_hook) {
		g_prev_eval = cur;	/* _PyEval_EvalFrameDefault when none */
		_PyInterpreterState_SetEvalFrameFunc(in, eval_hook);
	}
}

static void eval_uninstall(void)
{
	PyInterpreterState *in = PyInterpreterState_Get();

	/* frames running now still return through eval_hook: g_prev_eval stays */
	if (_PyInterpreterState_GetEvalFrameFunc(in) == eval_hook)
		_PyInterpreterState_SetEvalFrameFunc(in, g_prev_eval);
}
#endif

#if PLW_PROFILE
static int prof_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
	PyObject *code;

	if (what != PyTrace_CALL && what != PyTrace_RETURN)
		return 0;
#if PY_VERSION_HEX >= 0x030b0000
	code = (PyObject *)PyFrame_GetCode(frame);
	on_event(code, what == PyTrace_CALL ? PLW_EV_PY_ENTRY : PLW_EV_PY_RETURN);
	Py_DECREF(code);
#else
	code = (PyObject *)frame->f_code;
	on_event(code, what == PyTrace_CALL ? PLW_EV_PY_ENTRY : PLW_EV_PY_RETURN);
#endif
	return 0;
}
#endif

/* threading.setprofile() target (the profile hook): the first profile
 * event of a new thread lands here; install the C hook and pass that event
 * on */
static PyObject *agent_thread_hook(PyObject *self, PyObject *args)
{
#if PLW_PROFILE
	PyObject *frame, *event, *arg;

	if (!PyArg_UnpackTuple(args, "_thread_hook", 3, 3, &frame, &event, &arg))
		return NULL;
	/* not recording, or the frame hook records the thread already */
	if (!g_ring || g_source != PLW_AGENT_SRC_PROFILE) {
		PyEval_SetProfile(NULL, NULL);
		Py_RETURN_NONE;
	}
	PyEval_SetProfile(prof_hook, NULL);
	if (PyFrame_Check(frame) && PyUnicode_Check(event)) {
		if (!PyUnicode_CompareWithASCIIString(event, "call"))
			prof_hook(NULL, (PyFrameObject *)frame, PyTrace_CALL, NULL);
		else if (!PyUnicode_CompareWithASCIIString(event, "return"))
			prof_hook(NULL, (PyFrameObject *)frame, PyTrace_RETURN, NULL);
	}
#endif
	Py_RETURN_NONE;
}

/* the source's hook on (-1 with a Python exception) or off */
static int hook_install(void)
{
#if PLW_MONITORING
	return mon_install();
#else
#if PLW_EVALFRAME
	if (g_source == PLW_AGENT_SRC_EVALFRAME) {
		eval_install();
		return 0;
	}
#endif
	PyEval_SetProfile(prof_hook, NULL);
	return 0;
#endif
}

static void hook_uninstall(void)
{
#if PLW_MONITORING
	mon_uninstall();
#else
#if PLW_EVALFRAME
	if (g_source == PLW_AGENT_SRC_EVALFRAME) {
		eval_uninstall();
		return;
	}
#endif
	/* other threads keep the hook; it does nothing without a ring */
	PyEval_SetProfile(NULL, NULL);
#endif
}

/* ------------------------------------------------------------ lifecycle */

static void atfork_child(void)
{
	struct plw_agent_ring *old = g_ring;
	int err;

	t_tid = 0;
	g_pid = (uint32_t)getpid();
	g_gen++;			/* every code object is new to this process */
	if (!old)
		return;
	g_ring = NULL;
	plw_agent_ring_forget(old);
	err = plw_agent_ring_create(&g_ring, g_dir, g_ring_size, g_py_version,
				    (uint32_t)g_source, g_exe);
	if (err)
		g_fork_failures++;	/* nothing recorded in this child */
}

static void at_exit(void)
{
	struct plw_agent_ring *r = g_ring;

	if (r)
		__atomic_store_n(&r->hdr->closed, 1, __ATOMIC_RELEASE);
}

static uint64_t ring_size_from_env(void)
{
	const char *s = getenv("PYLOW_AGENT_RING_SIZE");
	unsigned long long v;
	char *end;

	if (!s || !*s)
		return PLW_AGENT_RING_DEFAULT;
	v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	default: break;
	}
	return v ? v : PLW_AGENT_RING_DEFAULT;
}

static const char *getenv_const(const char *name)
{
	return getenv(name);
}

PyDoc_STRVAR(start_doc,
"start(dir=None) -> ring path\n\n"
"Start recording Python calls into a new ring in DIR (default: the\n"
"PYLOW_AGENT_DIR environment variable).  Raises on failure.");

static PyObject *agent_start(PyObject *self, PyObject *args)
{
	const char *dir = NULL;
	PyObject *exe, *ver;
	int err;

	if (!PyArg_ParseTuple(args, "|z:start", &dir))
		return NULL;
	if (g_ring) {
		PyErr_SetString(PyExc_RuntimeError, "pylow agent already started");
		return NULL;
	}
	if (!dir || !*dir)
		dir = getenv("PYLOW_AGENT_DIR");
	if (!dir || !*dir) {
		PyErr_SetString(PyExc_RuntimeError, "PYLOW_AGENT_DIR is not set");
		return NULL;
	}
	if (g_extra < 0) {
		g_extra = request_extra(NULL);
		if (g_extra < 0) {
			PyErr_SetString(PyExc_RuntimeError, "no free co_extra index");
			return NULL;
		}
	}
	free(g_dir);
	g_dir = strdup(dir);
	if (!g_dir)
		return PyErr_NoMemory();
	ver = PySys_GetObject("hexversion");	/* borrowed */
	g_py_version = ver && PyLong_Check(ver) ? (uint32_t)PyLong_AsUnsignedLong(ver) : 0;
	if (!g_py_version || PyErr_Occurred()) {
		PyErr_Clear();
		g_py_version = PY_VERSION_HEX;
	}
	exe = PySys_GetObject("executable");	/* borrowed */
	g_exe[0] = 0;
	if (exe && PyUnicode_Check(exe)) {
		copy_str(g_exe, sizeof(g_exe), exe);
	}
	g_ring_size = ring_size_from_env();
	plw_agent_filter_from_env(&g_filter, getenv_const);
	g_filtering = plw_agent_filter_active(&g_filter);
	tsc_init();
	rseq_init();
	g_pid = (uint32_t)getpid();
	t_tid = 0;
	err = plw_agent_ring_create(&g_ring, g_dir, g_ring_size, g_py_version,
				    (uint32_t)g_source, g_exe);
	if (err) {
		errno = -err;
		return PyErr_SetFromErrnoWithFilename(PyExc_OSError, g_dir);
	}
	if (!g_atfork_done) {
		if (pthread_atfork(NULL, NULL, atfork_child)) {
			plw_agent_ring_free(g_ring);
			g_ring = NULL;
			PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
			return NULL;
		}
		g_atfork_done = 1;
	}
	if (!g_atexit_done && Py_AtExit(at_exit) == 0)
		g_atexit_done = 1;
	if (hook_install() < 0) {
		plw_agent_ring_free(g_ring);
		g_ring = NULL;
		return NULL;
	}
	return PyUnicode_FromString(g_ring->path);
}

PyDoc_STRVAR(stop_doc,
"stop()\n\nStop recording (all threads) and close the ring.");

static PyObject *agent_stop(PyObject *self, PyObject *noargs)
{
	struct plw_agent_ring *r = g_ring;

	if (!r)
		Py_RETURN_NONE;
	hook_uninstall();
	/* callbacks run with the GIL held, which we hold: nobody is writing */
	g_ring = NULL;
	__atomic_store_n(&r->hdr->closed, 1, __ATOMIC_RELEASE);
	plw_agent_ring_free(r);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(stats_doc,
"stats() -> dict or None\n\n"
"ring path, size, dropped records, locs defined, events filtered out\n"
"by -F/-f, source, tool id.");

static PyObject *agent_stats(PyObject *self, PyObject *noargs)
{
	struct plw_agent_ring *r = g_ring;

	if (!r)
		Py_RETURN_NONE;
	return Py_BuildValue("{s:s,s:K,s:K,s:K,s:K,s:s,s:i,s:K,s:s}",
			     "ring", r->path,
			     "size", (unsigned long long)r->size,
			     "dropped", (unsigned long long)__atomic_load_n(&r->hdr->dropped, __ATOMIC_RELAXED),
			     "locs", (unsigned long long)__atomic_load_n(&r->hdr->locs, __ATOMIC_RELAXED),
			     "filtered", (unsigned long long)__atomic_load_n(&r->hdr->filtered, __ATOMIC_RELAXED),
			     "source", source_name(),
#if PLW_MONITORING
			     "tool", g_tool,
#else
			     "tool", -1,
#endif
			     "fork_failures", (unsigned long long)g_fork_failures,
#if defined(__x86_64__)
			     "clock", g_use_tsc ? "tsc" : "vdso"
#else
			     "clock", "vdso"
#endif
			     );
}

PyDoc_STRVAR(clock_doc,
"_clock() -> (agent_ns, monotonic_ns)\n\n"
"The agent's timestamp and CLOCK_MONOTONIC read right after (tests).");

static PyObject *agent_clock(PyObject *self, PyObject *noargs)
{
	uint64_t a = now_ns(), m = mono_ns();

	return Py_BuildValue("(KK)", (unsigned long long)a, (unsigned long long)m);
}

static PyMethodDef agent_methods[] = {
	{ "_clock", agent_clock, METH_NOARGS, clock_doc },
	{ "start", agent_start, METH_VARARGS, start_doc },
	{ "stop", agent_stop, METH_NOARGS, stop_doc },
	{ "stats", agent_stats, METH_NOARGS, stats_doc },
	{ "_thread_hook", agent_thread_hook, METH_VARARGS,
	  "threading.setprofile() target: installs the C hook in a new thread" },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef agent_module = {
	PyModuleDef_HEAD_INIT, "_pylow_agent",
	"pylow in-process agent: Python calls into a shared-memory ring.",
	-1, agent_methods, NULL, NULL, NULL, NULL
};

/* visible under -fvisibility=hidden (PyMODINIT_FUNC says so only from 3.9) */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__pylow_agent(void)
{
	PyObject *m = PyModule_Create(&agent_module);
#if PLW_EVALFRAME
	const char *hook = getenv("PYLOW_AGENT_HOOK");

	/* the profile hook instead, for a program whose own PEP 523 function
	 * would replace the agent's (agent/README.md) */
	if (hook && !strcmp(hook, "profile"))
		g_source = PLW_AGENT_SRC_PROFILE;
#endif

	if (!m)
		return NULL;
	if (PyModule_AddIntConstant(m, "MONITORING", PLW_MONITORING) < 0 ||
	    PyModule_AddStringConstant(m, "SOURCE", source_name()) < 0 ||
	    PyModule_AddIntConstant(m, "RING_DEFAULT", PLW_AGENT_RING_DEFAULT) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
