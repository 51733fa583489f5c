/* SPDX-License-Identifier: MIT */
/*
 * record.c - `pylow record`: options, checks, attach, the main loop.
 * The only file of record/ that prints or exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <libgen.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "record.h"
#include "rec.h"
#include "bpf/pylow.skel.h"
#include "agent/ring.h"

#define DEFAULT_OUTPUT		"trace.plw"
#define DEFAULT_BUFFER_MB	64
#define MAX_FUNCS		16	/* MAX_FUNC_FILTERS in bpf/pylow.bpf.c */
#define MAX_GLOBS		16
#define MAX_PIDS		64
#define MAX_PY			16	/* Python binaries attached at once */
/* META clock_ref: promised at least every 10 s; written every 5 s so that a
 * loaded machine's late loop still keeps the promise */
#define CLOCK_REF_EVERY_NS	(5 * 1000000000ull)

static int verbose;
static volatile sig_atomic_t stop_sig;

#define pr(fmt, ...)  fprintf(stderr, "pylow: " fmt "\n", ##__VA_ARGS__)
#define pr_v(lvl, fmt, ...) do { if (verbose >= (lvl)) pr(fmt, ##__VA_ARGS__); } while (0)

enum py_mode { PY_AUTO, PY_AGENT, PY_USDT };

struct agent_ring {
	char name[NAME_MAX + 1];
	struct plw_agent_reader *rd;
	uint64_t dropped;		/* already written as LOST */
	uint64_t filtered;		/* already added to agent_filtered */
};

struct rec {
	const char *output;
	enum py_mode mode;
	bool use_agent;			/* launched command recorded by the agent */
	char agent_path[PATH_MAX];	/* installed agent (PYTHONPATH entry) */
	char agent_dir[64];		/* private tmpfs dir of the rings */
	struct agent_ring *rings;
	size_t nr_rings, cap_rings;
	struct stage_ticks *ticks;	/* the stage timer; NULL: calls not staged */
	uint64_t agent_rings_seen;
	uint64_t agent_drained;		/* records of the last drain */
	bool agent_sliced;		/* a ring had more than a drain takes */
	long agent_budget;		/* records a drain takes from a ring */
	uint64_t agent_filtered;	/* events the agents left out (-F/-f) */
	double duration;
	bool quiet;
	unsigned buffer_mb;
	int pids[MAX_PIDS];
	int nr_pids;
	const char *funcs[MAX_FUNCS];
	int nr_funcs;
	const char *globs[MAX_GLOBS];
	int nr_globs;
	char **cmd;
	char *cmdline;			/* pylow's own */

	pid_t child;
	int child_status;
	bool child_reaped;
	int go_fd;			/* write end of the child's start pipe */
	int child_execd;		/* EXEC records of the launched child seen */

	struct pylow_bpf *skel;
	struct bpf_link *tp_links[4];
	struct py_attach py[MAX_PY];
	int pyusdt_pids[MAX_PIDS];	/* -p targets recorded through pyusdt */
	int nr_pyusdt;
	int nr_py;
	struct manifest man;
	struct plw_writer *w;
	struct sink *sink;
	char partial[PATH_MAX + 16];
	unsigned groups;		/* KGROUP_* of -e (0: the default) */
	struct kern *kern;
	struct native *native;		/* -e mem,gil,exceptions */
	struct net *net;		/* group net (net.c) */
	bool labels_off;		/* --labels=off */
	bool no_batch;			/* --no-batch */
	bool net_default;		/* net on by default (no -e): a failure only warns */
	const char *host;		/* --host NAME */
	int64_t tod_shift;		/* PYLOW_TOD_SHIFT_NS (test hook) */
	char machine_id[64], boot_id[64];
};

static const char usage_text[] =
"usage: pylow record [OPTIONS] [-p PID[,PID...]] [-- CMD [ARGS...]]\n"
"\n"
"Record the Python function calls of running processes (-p) or of a command,\n"
"and of every process and thread they start, into one perf.data-format file\n"
"with zstd chunks.  Needs root (CAP_BPF and CAP_PERFMON; CAP_SYS_PTRACE for\n"
"other users' processes): processes, forks, execs and exits come from BPF.\n"
"\n"
"Targets:\n"
"  -p, --pid PID[,PID...]  attach to running Python processes (repeatable)\n"
"  -- CMD [ARGS...]        launch CMD (PATH searched) and record it from its start\n"
"\n"
"Python calls come from:\n"
"      --python=MODE       auto (default): the agent for a launched command,\n"
"                          USDT probes (CPython's, else pyusdt's) for -p\n"
"                          agent: the in-process agent (CPython 3.6-3.13, any\n"
"                          build: pyenv, Docker images, 3.12+); launched\n"
"                          commands only; every Python the command starts\n"
"                          loads it (PYTHONPATH + sitecustomize), except those\n"
"                          run with -S, -I or -E\n"
"                          usdt: CPython's USDT probes through BPF (a Python\n"
"                          built --with-dtrace, such as Debian's python3.11),\n"
"                          or a process that loaded a pyusdt library\n"
"\n"
"Output:\n"
"  -o, --output FILE       output file (default " DEFAULT_OUTPUT "); an existing FILE\n"
"                          becomes FILE.old; FILE.partial while recording\n"
"      --buffer-size MB    BPF ring buffer size in MiB, rounded up to a power of\n"
"                          two (default %u); with the agent, the size of each\n"
"                          process's ring too; raise it if events are lost\n"
"      --no-batch          one perf sample per Python call and return (about\n"
"                          4.4 bytes each on disk), so that `perf script`\n"
"                          prints every call; by default a thread's calls and\n"
"                          returns are stored as pylow:py_batch samples\n"
"                          (about 1.3 bytes each), which pylow's reports\n"
"                          expand and perf script prints as batches\n"
"\n"
"Events:\n"
"  -e, --event GROUP[,GROUP...]  event groups to record (repeatable); default\n"
"                          python,syscalls,sched,net:\n"
"                            python    Python calls and returns (CPython USDT)\n"
"                            syscalls  system calls of the targets' threads:\n"
"                                      duration, fd, bytes (raw_syscalls)\n"
"                            sched     off-CPU intervals (blocked, preempted) and\n"
"                                      runqueue waits (sched_switch, sched_wakeup)\n"
"                            net       sockets of the targets: connect, accept,\n"
"                                      listen, close with addresses, ports, bytes;\n"
"                                      protocol labels of their messages (below)\n"
"                            faults    user page faults of the targets' threads\n"
"                                      (exceptions:page_fault_user; x86)\n"
"                            io        block requests the targets' threads issue:\n"
"                                      op, bytes, issue to completion (block:\n"
"                                      block_io_start, block_rq_issue,\n"
"                                      block_rq_complete); buffered writes that\n"
"                                      the kernel flushes later are not theirs\n"
"                            irq       hard and soft irq time taken from the\n"
"                                      targets' threads: the irq ran while one\n"
"                                      was current (irq_handler_*, softirq_*)\n"
"                            tlb       TLB flushes on the targets' threads, by\n"
"                                      reason (tlb:tlb_flush; a remote shootdown\n"
"                                      counts for the thread it interrupted)\n"
"                            mem       libc malloc, calloc, realloc, free,\n"
"                                      posix_memalign, aligned_alloc, memalign:\n"
"                                      sizes, pointers (live-at-end = leak\n"
"                                      candidates).  COSTLY: a uprobe trap per\n"
"                                      call, two for allocations: measured\n"
"                                      ~17 us per malloc+free pair on a VM\n"
"                                      (0.5 us unrecorded; ~4 us more with\n"
"                                      --stacks); an allocation-heavy program\n"
"                                      can run many times slower.\n"
"                                      Probes are put in the targets' own\n"
"                                      processes only (the rest of the machine\n"
"                                      does not trap); a child process is\n"
"                                      probed ~0.1-0.7 s after it starts\n"
"                            gil       time a thread waits to take the GIL\n"
"                                      (uprobes on CPython's take_gil, found in\n"
"                                      .symtab, or in stripped builds from\n"
"                                      PyEval_RestoreThread's code): every wait\n"
"                                      in which the thread slept, after a\n"
"                                      blocking call or a forced switch (5 ms)\n"
"                                      alike; takes of a free GIL are not\n"
"                                      recorded; two uprobe traps per take\n"
"                            exceptions  Python exceptions raised (Python\n"
"                                      raise or C code setting an error): type\n"
"                                      name and Python frame (uprobe on\n"
"                                      _PyErr_SetObject); re-raises and\n"
"                                      propagation through frames not counted\n"
"                          gil, exceptions: like the python group's probes, put\n"
"                          in every process running that Python file (events of\n"
"                          non-targets are dropped in the kernel, after the trap)\n"
"                          faults, io, mem, gil, exceptions, irq and tlb are off unless asked for\n"
"                          generic probes (mixable with groups; alone they add\n"
"                          to the default groups), only the targets' hits:\n"
"                            usdt:BINARY:PROVIDER:NAME   a USDT probe: its args\n"
"                            uprobe:BINARY:SYMBOL        a function entry: 6 args\n"
"                            uretprobe:BINARY:SYMBOL     a function return: value\n"
"                            tracepoint:SYSTEM:NAME      a kernel tracepoint: its\n"
"                                      fields, as perf records them\n"
"                          BINARY: a path, or a short name (libc, python3.11)\n"
"                          found in the target's maps, the ld cache or PATH\n"
"      --stacks            kernel and user native stacks on syscalls, off-CPU\n"
"                          intervals, probe hits and page faults; the issuing\n"
"                          thread's on block I/O; user stacks on mem (at the\n"
"                          allocator call), gil and exceptions; none on irq\n"
"                          and tlb (interrupt context).  Symbolised here\n"
"                          (kallsyms, ELF symbols of the live processes):\n"
"                          reports need neither the binaries nor debug info;\n"
"                          user stacks follow frame pointers (without them:\n"
"                          the innermost frames only)\n"
"\n"
"Network (group net):\n"
"      --labels=on|off     on (default): the first bytes of each read/write of\n"
"                          a target's TCP or Unix stream socket (and the\n"
"                          plaintext of libssl's SSL_read/SSL_write, for\n"
"                          TLS) are parsed while recording into labels:\n"
"                          HTTP/1.x method, path (no query), Host,\n"
"                          traceparent, status; Redis command and first key;\n"
"                          PostgreSQL first keyword and table.  Only those\n"
"                          fields reach the file, never the payload.  off:\n"
"                          no payload is copied at all, no labels\n"
"      --host NAME         the host name written into the file (default: this\n"
"                          machine's); reports across files show and join by it\n"
"  The file also holds the machine id and boot id, and a wall-clock\n"
"  reference (META clock_ref \"MONO_NS TOD_NS\") at the start, every 5 s and\n"
"  at the end.\n"
"  Test hook: the environment variable PYLOW_TOD_SHIFT_NS (signed ns) is added\n"
"  to every wall-clock value written (CLOCK_DATA, clock_tod_ns, clock_ref),\n"
"  to simulate a host whose clock is off.  PYLOW_TEST_BATCH_BYTES (bytes) makes\n"
"  the recorder's sort batch that small, so that it fills often;\n"
"  PYLOW_TEST_DRAIN_BUDGET (records) drains the agent's rings in slices that small.\n"
"  PYLOW_STAGE=0: each USDT Python call and each syscall goes through the\n"
"  ring buffer alone, instead of staged per CPU (flushed within 10 ms).\n"
"\n"
"Filters (decided once per code location; USDT and the agent alike):\n"
"  -F, --func FUNC         only functions named exactly FUNC (repeatable, max %d)\n"
"  -f, --file GLOB         only functions in files matching GLOB ('*', '?');\n"
"                          a GLOB with a '/' matches the whole file name, else\n"
"                          its last component (repeatable, max %d)\n"
"                          -F and -f together: both must match\n"
"\n"
"Stopping:\n"
"  -d, --duration SEC      stop after SEC seconds (fractions allowed)\n"
"                          otherwise: Ctrl-C, SIGTERM, SIGHUP, or when every\n"
"                          target process has exited\n"
"\n"
"Messages:\n"
"  -q, --quiet             no status line (rewritten each second on a terminal,\n"
"                          a line every 10 s otherwise), no summary\n"
"  -v, --verbose           more detail (-vv: libbpf's messages too)\n"
"  -h, --help              this help\n"
"\n"
"Memory (bounded whatever the target does; README, \"Reliability\"):\n"
"  ring buffer    --buffer-size MiB; when full, events are dropped and counted\n"
"                 per CPU (LOST records, 'pylow report info' shows them)\n"
"  sort batch     at most 32 MiB of records (x2 while sorting), then written;\n"
"                 records wait 50 ms for stragglers from other CPUs\n"
"  code locations 262144 in the kernel (LRU: an evicted one is named again\n"
"                 when next seen); 524288 in the file's location index (past\n"
"                 it only the in-stream records name them)\n"
"  threads        262144 listed in the task table (past it still recorded,\n"
"                 not listed); processes are always listed\n"
"  agent rings    --buffer-size each (at most 512 MiB), one per Python\n"
"                 process, plus one spare kept ready (its pages allocated\n"
"                 by the recorder)\n"
"  under 300 MiB in all with the default 64 MiB ring buffer, without the\n"
"                 agent's rings\n"
"\n"
"Exit status: 0 when a complete file was written, whatever the exit status of\n"
"the launched command (it is printed on stderr); 1 when recording failed (no\n"
"file is left, or a FILE.partial if the failure came mid-recording); 2 on\n"
"usage errors.  When the recording stops (Ctrl-C, -d) before a launched\n"
"command exits, the command gets SIGTERM; when recording fails (a full disk)\n"
"the probes come off and the command runs on, unrecorded.\n"
"\n"
"Examples:\n"
"  pylow record -- python3 app.py                      # record a script (agent)\n"
"  pylow record --python=usdt -- /usr/bin/python3.11 app.py   # through USDT\n"
"  pylow record -p 4821 -d 10 -o web.plw               # 10 s of a running process\n"
"  pylow record -e python,faults,io -p 4821 -d 5       # + page faults, disk I/O\n"
"  pylow record -f '*/myapp/*' -F handle -- python3.11 -m myapp\n"
"  pylow record -e python,syscalls,uprobe:libc:getppid,uretprobe:libc:getppid -p 4821\n"
"  pylow record -e tracepoint:sched:sched_process_fork --stacks -- python3.11 app.py\n"
"  pylow record --python=usdt -e python,mem,gil,exceptions -- /usr/bin/python3.11 app.py\n"
"  pylow report malloc trace.plw                       # top allocators, leaks\n"
"  pylow record -e python,faults,mem --stacks -p 4821 -d 5   # + where in C\n"
"  pylow report faults trace.plw                       # user stacks per Python stack\n"
"  pylow record -p 4821 --host web1 -o web1.plw       # a service, named web1\n"
"  pylow record --labels=off -p 4821                   # sockets without labels\n"
"  pylow report flow trace.plw                         # then look at it\n";

static void usage(FILE *f)
{
	fprintf(f, usage_text, DEFAULT_BUFFER_MB, MAX_FUNCS, MAX_GLOBS);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if ((level == LIBBPF_DEBUG && verbose < 3) || (level == LIBBPF_INFO && verbose < 2) ||
	    (level == LIBBPF_WARN && verbose < 1))
		return 0;
	fprintf(stderr, "libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

static void on_signal(int sig)
{
	stop_sig = sig;
}

/* ----------------------------------------------------------- checks */

static int check_caps(struct rec *r)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	uint64_t eff;
	const char *missing = NULL;

	if (syscall(SYS_capget, &h, d)) {
		pr("cannot read this process's capabilities: %s", strerror(errno));
		return -1;
	}
	eff = d[0].effective | ((uint64_t)d[1].effective << 32);
#define HAS(c) (eff & (1ull << (c)))
	if (!HAS(CAP_BPF) && !HAS(CAP_SYS_ADMIN))
		missing = "CAP_BPF";
	else if (!HAS(CAP_PERFMON) && !HAS(CAP_SYS_ADMIN))
		missing = "CAP_PERFMON";
	if (missing) {
		pr("missing capability %s: recording needs CAP_BPF and CAP_PERFMON "
		   "(run as root, e.g. 'sudo pylow record ...')", missing);
		return -1;
	}
	for (int i = 0; i < r->nr_pids; i++) {
		int uid = target_uid(r->pids[i]);

		if (uid >= 0 && (uid_t)uid != geteuid() && !HAS(CAP_SYS_PTRACE)) {
			pr("missing capability CAP_SYS_PTRACE: process %d belongs to uid %d "
			   "(run as root or as that user)", r->pids[i], uid);
			return -1;
		}
	}
#undef HAS
	return 0;
}

static int check_kernel(void)
{
	struct statfs sf;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr("this kernel has no BTF (/sys/kernel/btf/vmlinux: %s): pylow record needs "
		   "a kernel built with CONFIG_DEBUG_INFO_BTF=y", strerror(errno));
		return -1;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		pr("this kernel has no uprobe support (/sys/bus/event_source/devices/uprobe/type: %s): "
		   "pylow record needs CONFIG_UPROBE_EVENTS=y", strerror(errno));
		return -1;
	}
	/* libbpf attaches through the uprobe PMU; tracefs is only its fallback */
	if (statfs("/sys/kernel/tracing", &sf) || sf.f_type != 0x74726163 /* TRACEFS_MAGIC */) {
		if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
			pr_v(1, "tracefs is not mounted and mounting /sys/kernel/tracing failed (%s); "
			     "if attaching fails, run 'mount -t tracefs nodev /sys/kernel/tracing'",
			     strerror(errno));
		else
			pr_v(1, "mounted tracefs on /sys/kernel/tracing");
	}
	return 0;
}

/*
 * Finds the file holding the Python probes for EXE (running as PID, or 0 when
 * about to be launched).  Prints why not and returns -1.
 */
static int python_of(const char *exe, int pid, const char *what, char *probed, size_t len)
{
	char lib[PATH_MAX] = "";
	struct usdt_file *f = NULL;
	int err;

	if (pid)
		target_libpython(pid, lib, sizeof(lib));
	err = usdt_file_load(exe, &f);
	if (err == -ENOEXEC) {
		pr("%s: %s is not an ELF binary but a script (a pyenv shim, or '#!/usr/bin/env "
		   "...'): pylow cannot tell which Python it runs; give the interpreter's path, "
		   "e.g. '-- /usr/bin/python3.11 script.py'", what, exe);
		return -1;
	}
	if (err) {
		pr("%s: cannot read %s: %s", what, exe, strerror(-err));
		return -1;
	}
	if (!lib[0] && f->needed_libpython[0])
		usdt_find_needed(f, lib, sizeof(lib));
	const char *b = strrchr(exe, '/');
	bool pyname = strstr(b ? b + 1 : exe, "python") != NULL;
	bool pylib = lib[0] || f->needed_libpython[0];
	bool has_note = f->has_note;
	usdt_file_free(f);
	if (!pyname && !pylib && !has_note) {
		pr("%s: %s is not a Python interpreter (no python in its name, no libpython "
		   "mapped or needed, no USDT probes); record a Python process or command",
		   what, exe);
		return -1;
	}
	if (!py_find_probes(exe, lib, probed, len))
		return 0;
	{
		char ver[32] = "", where[PATH_MAX * 2 + 16], pep768[160] = "";
		int maj = 0, min = 0;

		if (lib[0])
			snprintf(where, sizeof(where), "%s nor in %s", exe, lib);
		else
			snprintf(where, sizeof(where), "%s (no libpython)", exe);
		if ((lib[0] && !usdt_python_version(lib, ver, sizeof(ver)) && ver[0]) ||
		    !usdt_python_version(exe, ver, sizeof(ver)))
			sscanf(ver, "%d.%d", &maj, &min);
		if (maj > 3 || (maj == 3 && min >= 14))
			snprintf(pep768, sizeof(pep768), "; Python %s has PEP 768 remote execution "
				 "(sys.remote_exec), but pylow cannot load its agent that way on this "
				 "machine", ver);
		if (pid)
			pr("%s: no USDT probes in %s (.note.stapsdt without python:function__entry; "
			   "no pyusdt library loaded): this Python%s%s was built without --with-dtrace, "
			   "so a running process cannot be recorded%s. What works: launch it under "
			   "'pylow record -- CMD' (the in-process agent records any CPython 3.6-3.13), "
			   "load a pyusdt library into it, or run a Python built with probes, such as "
			   "Debian's /usr/bin/python3.11", what, where, ver[0] ? " " : "", ver, pep768);
		else
			pr("%s: no CPython USDT probes in %s (.note.stapsdt missing or without "
			   "python:function__entry): this Python was built without --with-dtrace; "
			   "drop --python=usdt to record it with the in-process agent, or use a Python "
			   "built with probes, such as Debian's /usr/bin/python3.11", what, where);
	}
	return -1;
}

/* ----------------------------------------------------------- attach */

static int attach_pyusdt(struct rec *r, const char *lib, int pid)
{
	struct py_attach *pa;
	int n;

	for (int i = 0; i < r->nr_py; i++)
		if (!strcmp(r->py[i].path, lib))
			return 0;
	if (r->nr_py == MAX_PY) {
		pr("process %d: too many probed binaries (%d) to attach to; %s skipped",
		   pid, MAX_PY, lib);
		return -1;
	}
	pa = &r->py[r->nr_py];
	n = pyusdt_attach(r->skel, lib, pa, &r->man);
	if (n < 0) {
		pr("process %d: cannot attach the pyusdt probes of %s: %s (run with -vv for "
		   "libbpf's messages)", pid, lib, strerror(-n));
		return -1;
	}
	r->nr_py++;
	pr_v(1, "%s: %d pyusdt probes attached (process %d)", lib, n, pid);
	return 0;
}

static int attach_python(struct rec *r, const char *probed, int pid)
{
	struct py_attach *pa;
	int n;

	for (int i = 0; i < r->nr_py; i++)
		if (!strcmp(r->py[i].path, probed))
			return 0;
	if (r->nr_py == MAX_PY) {
		pr("process %d: too many Python binaries (%d) to attach to; %s skipped",
		   pid, MAX_PY, probed);
		return -1;
	}
	pa = &r->py[r->nr_py];
	n = py_attach(r->skel, probed, pa, &r->man);
	if (n == -EINVAL) {
		pr("cannot attach python:function__entry/return in %s: %s; another tracer "
		   "(perf probe, bpftrace, BCC) probably holds a uprobe there with another "
		   "semaphore offset (dmesg: 'ref_ctr_offset mismatch'): stop it, remove "
		   "leftover probes ('perf probe -d sdt_python:*'), and retry", probed,
		   strerror(-n));
		return -1;
	}
	if (n < 0) {
		pr("cannot attach the USDT probes of %s: %s (run with -vv for libbpf's messages)",
		   probed, strerror(-n));
		return -1;
	}
	r->nr_py++;
	pr_v(1, "%s: python %s, %d USDT probes attached (pid -1, filtered in the kernel)%s",
	     probed, pa->version, n,
	     pa->line_sem ? "; `line` semaphore held (CPython 3.11: needed for Python-to-Python calls)" : "");
	return 0;
}

static void on_exec(int pid, const char *filename, void *ctx)
{
	struct rec *r = ctx;
	char exe[PATH_MAX], probed[PATH_MAX], lib[PATH_MAX] = "";
	struct usdt_file *f;

	/* the launched command's own exec: probed just before it, in a
	 * fork()ed child, which the probes follow */
	if (r->native && !(r->cmd && pid == r->child && !r->child_execd++))
		native_on_exec(r->native, pid);
	if (r->native && !target_exe(pid, exe, sizeof(exe))) {
		char why[PATH_MAX + 128];

		target_libpython(pid, lib, sizeof(lib));
		if (native_attach_python(r->native, exe, lib, &r->man, why, sizeof(why)) && !r->quiet)
			pr("warning: %s", why);
		lib[0] = 0;
	}
	if (r->use_agent)	/* the agent loads itself in every Python */
		return;
	if (target_exe(pid, exe, sizeof(exe)) && !realpath(filename, exe))
		return;
	for (int i = 0; i < r->nr_py; i++)
		if (!strcmp(r->py[i].path, exe))
			return;
	if (usdt_file_load(exe, &f))
		return;
	if (f->needed_libpython[0])
		usdt_find_needed(f, lib, sizeof(lib));
	usdt_file_free(f);
	if (py_find_probes(exe, lib, probed, sizeof(probed)))
		return;
	for (int i = 0; i < r->nr_py; i++)
		if (!strcmp(r->py[i].path, probed))
			return;
	if (!attach_python(r, probed, pid) && !r->quiet)
		pr("probes attached to %s, exec'd by followed process %d (python %s)",
		   probed, pid, r->py[r->nr_py - 1].version);
}

static int attach_tracepoints(struct rec *r)
{
	struct bpf_program *progs[] = {
		r->skel->progs.on_fork, r->skel->progs.on_exec,
		r->skel->progs.on_exit, r->skel->progs.on_rename,
	};
	static const char *names[] = {
		"tp_btf:sched_process_fork", "tp_btf:sched_process_exec",
		"tp_btf:sched_process_exit", "tp_btf:task_rename",
	};

	for (int i = 0; i < 4; i++) {
		r->tp_links[i] = bpf_program__attach(progs[i]);
		if (!r->tp_links[i]) {
			int err = -errno;

			manifest_add(&r->man, "proc", names[i], false, strerror(-err));
			pr("cannot attach %s: %s (children and exits cannot be followed)",
			   names[i], strerror(-err));
			return -1;
		}
		manifest_add(&r->man, "proc", names[i], true, NULL);
	}
	return 0;
}

static int load_bpf(struct rec *r)
{
	struct pylow_bpf *skel;
	unsigned long rb = 1;
	int err;

	skel = pylow_bpf__open();
	if (!skel) {
		pr("cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	r->skel = skel;
	while (rb < (unsigned long)r->buffer_mb << 20)
		rb <<= 1;
	if ((err = bpf_map__set_max_entries(skel->maps.rb, rb))) {
		pr("cannot size the ring buffer to %lu bytes: %s", rb, strerror(-err));
		return -1;
	}
	skel->rodata->nr_func_filters = r->nr_funcs;
	for (int i = 0; i < r->nr_funcs; i++)
		strncpy((char *)skel->rodata->func_filters[i], r->funcs[i], PLW_FUNC_MAX - 1);
	skel->rodata->nr_file_filters = r->nr_globs;
	for (int i = 0; i < r->nr_globs; i++) {
		strncpy((char *)skel->rodata->file_filters[i], r->globs[i], PLW_FILE_MAX - 1);
		skel->rodata->file_filter_path[i] = strchr(r->globs[i], '/') != NULL;
	}
	if ((err = pylow_bpf__load(skel))) {
		pr("cannot load the BPF programs: %s (run with -vvv for the verifier's log)",
		   strerror(-err));
		return -1;
	}
	/* Python calls and syscalls staged per CPU (bpf/stage.bpf.h) need a
	 * timer on every CPU; without one each is its own ring buffer record */
	const char *stage_env = getenv("PYLOW_STAGE");

	if (!stage_env || strcmp(stage_env, "0")) {
		if ((err = stage_ticks_open(&r->ticks)))
			pr_v(1, "Python calls not staged per CPU: no cpu-clock perf event: %s",
			     strerror(-err));
		else if ((err = stage_ticks_attach(r->ticks, skel->progs.stage_tick,
						   skel->progs.stage_switch)))
			pr("warning: Python calls not staged per CPU (each goes through the ring "
			   "buffer alone): cannot attach the timer that flushes them: %s",
			   strerror(-err));
		if (err) {
			stage_ticks_free(r->ticks);
			r->ticks = NULL;
		} else {
			skel->bss->stage_on = 1;
		}
	}
	if (r->ticks)
		pr_v(1, "Python calls staged per CPU (flushed at least every %llu ms)",
		     (unsigned long long)(PLW_STAGE_TICK_NS / 1000000));
	else
		pr_v(1, "Python calls not staged: one ring buffer record each");
	if ((err = kern_load(&r->kern, skel, r->groups))) {
		pr("cannot load the kernel event programs (bpf/kernel.bpf.c): %s (run with -vvv "
		   "for the verifier's log, or leave kernel groups out of -e)", strerror(-err));
		return -1;
	}
	if ((err = native_load(&r->native, skel, r->groups, kern_stacks_fd(r->kern)))) {
		pr("cannot load the native event programs (bpf/native.bpf.c): %s (run with -vvv "
		   "for the verifier's log, or leave out -e mem,gil,exceptions)", strerror(-err));
		return -1;
	}
	if ((err = net_load(&r->net, skel, !!(r->groups & KGROUP_NET), !r->labels_off))) {
		if (!r->net_default) {
			pr("cannot load the network programs (bpf/net.bpf.c): %s (run with -vvv for the "
			   "verifier's log, or choose groups without net, e.g. -e python,syscalls,sched)",
			   strerror(-err));
			return -1;
		}
		/* on by default: record the rest */
		pr("warning: no network events: cannot load bpf/net.bpf.c: %s (-vvv shows why; "
		   "-e python,syscalls,sched silences this)", strerror(-err));
		net_free(r->net);
		r->groups &= ~KGROUP_NET;
		if ((err = net_load(&r->net, skel, false, false)))
			return -1;
	}
	return 0;
}

static int add_target(struct rec *r, int pid)
{
	uint32_t key = pid;
	uint8_t one = 1;

	if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.targets), &key, &one, BPF_ANY)) {
		pr("cannot add pid %d to the target map: %s", pid, strerror(errno));
		return -1;
	}
	return 0;
}

/* ----------------------------------------------------------- agent */

/* the installed agent: <dir of this binary>/agent, or $PYLOW_AGENT_PATH */
static int find_agent(struct rec *r)
{
	const char *env = getenv("PYLOW_AGENT_PATH");
	char self[PATH_MAX], f[PATH_MAX + 32];
	ssize_t n;

	if (env && env[0]) {
		snprintf(r->agent_path, sizeof(r->agent_path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			pr("cannot read /proc/self/exe: %s", strerror(errno));
			return -1;
		}
		self[n] = 0;
		snprintf(r->agent_path, sizeof(r->agent_path), "%s/agent", dirname(self));
	}
	snprintf(f, sizeof(f), "%s/sitecustomize.py", r->agent_path);
	if (access(f, R_OK)) {
		pr("the Python agent is not installed: no %s (%s); build it with 'make agent' "
		   "(it goes next to the pylow binary), or set PYLOW_AGENT_PATH to its directory, "
		   "or use --python=usdt with a Python that has USDT probes", f, strerror(errno));
		return -1;
	}
	if (realpath(r->agent_path, self))
		snprintf(r->agent_path, sizeof(r->agent_path), "%s", self);
	return 0;
}

/* a launched Python whose version has no agent build: say so up front */
static void warn_no_build(struct rec *r, const char *exe)
{
	char ver[32] = "", dir[PATH_MAX + 48];
	int maj, min;

	if (usdt_python_version(exe, ver, sizeof(ver)) || sscanf(ver, "%d.%d", &maj, &min) != 2)
		return;		/* not a Python binary (a script, a shell, a shim) */
	snprintf(dir, sizeof(dir), "%s/%d.%d", r->agent_path, maj, min);
	if (!access(dir, R_OK))
		return;
	pr("warning: %s is Python %s, and no agent is built for %d.%d in %s%s: its calls "
	   "will not be recorded; build the agent for it ('make agent' with its headers "
	   "installed), or use --python=usdt with a Python that has probes", exe, ver, maj, min,
	   r->agent_path, maj > 3 || (maj == 3 && min >= 14) ?
	   " (3.14+ is not supported by the agent yet)" : "");
}

/* a Python option that keeps site (and so the agent) from loading */
static void warn_no_site(struct rec *r)
{
	const char *b = strrchr(r->cmd[0], '/');

	if (!strstr(b ? b + 1 : r->cmd[0], "python"))
		return;
	for (int i = 1; r->cmd[i] && r->cmd[i][0] == '-' && r->cmd[i][1] != '-'; i++) {
		const char *o = r->cmd[i] + 1;

		if (!strcmp(o, "c") || !strcmp(o, "m"))
			break;
		if (strpbrk(o, "SIE") && !strpbrk(o, "cmWX")) {
			pr("warning: %s %s does not load the agent (-S: no site; -I/-E: the "
			   "environment is ignored): its calls will not be recorded; without that "
			   "option it would be, or use --python=usdt with a Python built with probes",
			   r->cmd[0], r->cmd[i]);
			return;
		}
	}
}

/*
 * Keeps PLW_AGENT_SPARES spare rings ready in the agent dir (agent/ring.h):
 * their tmpfs pages are allocated here, on the recorder's CPU, instead of
 * by page faults in the application as it first writes its ring.  At most
 * STEP bytes per call, so that the drain loop never waits long (4 MiB take
 * about 3 ms).  Failures only cost the spares: the agent then makes its own
 * ring.
 */
static void agent_spares(struct rec *r, uint64_t step)
{
	for (unsigned k = 0; k < PLW_AGENT_SPARES && r->agent_dir[0]; k++) {
		int ready = 0;

		if (plw_agent_spare_grow(r->agent_dir, (uint64_t)r->buffer_mb << 20, k, step,
					 &ready) < 0 || !ready)
			return;
	}
}

static int agent_setup(struct rec *r)
{
	struct statfs sf;

	if (statfs("/dev/shm", &sf) || sf.f_type != 0x01021994 /* TMPFS_MAGIC */) {
		pr("/dev/shm is not a tmpfs: the agent's rings need shared memory there");
		return -1;
	}
	snprintf(r->agent_dir, sizeof(r->agent_dir), "/dev/shm/pylow-agent.XXXXXX");
	if (!mkdtemp(r->agent_dir)) {	/* mode 0700 */
		pr("cannot create a directory in /dev/shm: %s", strerror(errno));
		r->agent_dir[0] = 0;
		return -1;
	}
	manifest_add(&r->man, "python", "agent:sys.monitoring (3.12+) / eval_frame (3.11) / PyEval_SetProfile (3.6-3.10)",
		     true, NULL);
	/* the first Python's ring is ready before it starts */
	agent_spares(r, UINT64_MAX);
	return 0;
}

/* in the launched child, before exec */
static void agent_env(struct rec *r)
{
	const char *old = getenv("PYTHONPATH");
	char *pp;

	char size[32];

	setenv("PYLOW_AGENT_DIR", r->agent_dir, 1);
	/* --buffer-size sizes each agent ring too (tmpfs pages are only
	 * allocated as the ring is first written) */
	snprintf(size, sizeof(size), "%uM", r->buffer_mb);
	setenv("PYLOW_AGENT_RING_SIZE", size, 1);
	/* -F / -f: PYLOW_AGENT_FUNC_<i>, PYLOW_AGENT_FILE_<i> (agent/filter.h) */
	for (int i = 0; i < MAX_FUNCS || i < MAX_GLOBS; i++) {
		char k[32];

		snprintf(k, sizeof(k), "PYLOW_AGENT_FUNC_%d", i);
		if (i < r->nr_funcs)
			setenv(k, r->funcs[i], 1);
		else
			unsetenv(k);
		snprintf(k, sizeof(k), "PYLOW_AGENT_FILE_%d", i);
		if (i < r->nr_globs)
			setenv(k, r->globs[i], 1);
		else
			unsetenv(k);
	}
	if (old && old[0] && asprintf(&pp, "%s:%s", r->agent_path, old) > 0)
		setenv("PYTHONPATH", pp, 1);
	else
		setenv("PYTHONPATH", r->agent_path, 1);
}

/* records one drain takes from a ring: a ring behind by more (a call
 * storm) is drained a slice at a time, the slices written out in between,
 * instead of a whole ring's worth (64 MiB: ~2.8 M records) held in the
 * batch at once (the recorder's RSS was ~650 MB under W1 `20 0`) */
#define AGENT_DRAIN_BUDGET	(256 * 1024)

/* a thread's agent clock may run this much behind another's (each
 * extrapolates the TSC from its own anchor: tens of ns), so one ring is in
 * time order within it (its writers take the GIL between the timestamp
 * and the slot; a free-threaded Python would need more) */
#define AGENT_CLOCK_SLACK_NS	1000000ull

struct feed {
	struct sink *sink;
	long left;			/* records this drain may still take */
	uint64_t last_ts;		/* of the last one it took */
	uint64_t until;			/* takes nothing younger */
	bool caught_up;			/* stopped at UNTIL, not at the budget */
};

/* A record of a ring into the sink.  The sink adds it even when it says
 * "batch full" (-ENOSPC): the drain must go on then, or the record would
 * stay in the ring and be fed again; the batch is flushed after the drain.
 * With the budget spent, the record stays in the ring (-EAGAIN). */
static int feed_cb(void *ctx, const struct plw_rb_hdr *h, const void *payload)
{
	struct feed *f = ctx;
	int err;

	if (f->left <= 0)
		return -EAGAIN;
	if (h->ts > f->until) {
		f->caught_up = true;
		return -EAGAIN;
	}
	err = sink_feed(f->sink, h, payload);
	if (err && err != -ENOSPC)
		return err;
	f->left--;
	f->last_ts = h->ts;
	return 0;
}

static void agent_close(struct rec *r, size_t i)
{
	char p[sizeof(r->agent_dir) + NAME_MAX + 2];

	plw_agent_reader_close(r->rings[i].rd);
	snprintf(p, sizeof(p), "%s/%s", r->agent_dir, r->rings[i].name);
	unlink(p);
	r->rings[i] = r->rings[--r->nr_rings];
}

static int agent_open_new(struct rec *r)
{
	DIR *d = opendir(r->agent_dir);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct plw_agent_reader *rd;
		char p[sizeof(r->agent_dir) + NAME_MAX + 2];
		bool known = false;

		if (strncmp(de->d_name, "ring.", 5))
			continue;
		for (size_t i = 0; i < r->nr_rings && !known; i++)
			known = !strcmp(r->rings[i].name, de->d_name);
		if (known)
			continue;
		snprintf(p, sizeof(p), "%s/%s", r->agent_dir, de->d_name);
		int err = plw_agent_reader_open(&rd, p);

		if (err == -EPROTO) {
			/* an agent of another pylow build (another ring
			 * version): say so once, and set it aside */
			char q[sizeof(p) + 4];

			pr("agent ring %s is not one this pylow reads (an agent of another pylow "
			   "build?): that process's Python calls are not recorded", de->d_name);
			snprintf(q, sizeof(q), "%s/bad.%s", r->agent_dir, de->d_name);
			if (rename(p, q))
				unlink(p);
			continue;
		}
		if (err)
			continue;	/* not ready: next scan */
		if (r->nr_rings == r->cap_rings) {
			size_t cap = r->cap_rings ? r->cap_rings * 2 : 16;
			struct agent_ring *a = realloc(r->rings, cap * sizeof(*a));

			if (!a) {
				plw_agent_reader_close(rd);
				closedir(d);
				return -ENOMEM;
			}
			r->rings = a;
			r->cap_rings = cap;
		}
		const struct plw_agent_ring_hdr *h = plw_agent_reader_hdr(rd);
		char ver[32];

		snprintf(ver, sizeof(ver), "%u.%u.%u", h->py_version >> 24,
			 (h->py_version >> 16) & 0xff, (h->py_version >> 8) & 0xff);
		sink_set_source(r->sink, h->pid, "agent", ver);
		snprintf(r->rings[r->nr_rings].name, sizeof(r->rings[0].name), "%s", de->d_name);
		r->rings[r->nr_rings].rd = rd;
		r->rings[r->nr_rings].dropped = 0;
		r->rings[r->nr_rings].filtered = 0;
		r->nr_rings++;
		r->agent_rings_seen++;
		pr_v(1, "agent ring of pid %u (python %s, %s) opened", h->pid, ver,
		     h->source == PLW_AGENT_SRC_MONITORING ? "sys.monitoring" :
		     h->source == PLW_AGENT_SRC_EVALFRAME ? "eval_frame hook" : "profile hook");
	}
	closedir(d);
	return 0;
}

/*
 * Drains every ring of the agent dir into the sink (new rings first), writes
 * LOST records for what the agents dropped, and closes the rings whose
 * writers are gone after a last drain.  FINAL: drain and close them all.
 */
static int agent_drain(struct rec *r, bool final, uint64_t until)
{
	uint64_t begin = mono_ns();
	/* everything the rings held from before this is in the sink after a
	 * whole drain: a record's time is taken a moment before its slot, and
	 * the hold-back covers that moment */
	uint64_t horizon = begin > SINK_HOLD_NS ? begin - SINK_HOLD_NS : 0;
	int err;

	r->agent_drained = 0;
	r->agent_sliced = false;
	if (!r->use_agent || !r->agent_dir[0])
		return 0;
	if ((err = agent_open_new(r))) {
		pr("cannot read %s: %s", r->agent_dir, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < r->nr_rings;) {
		struct agent_ring *a = &r->rings[i];
		/* liveness first: a writer gone now wrote everything it will */
		int gone = final ? 1 : plw_agent_reader_writer_gone(a->rd);
		struct feed f = { r->sink, final ? LONG_MAX : r->agent_budget, 0, until, false };
		long n;
		uint64_t d;

		n = plw_agent_reader_drain(a->rd, feed_cb, &f);
		if (n == -EAGAIN) {
			/* cut short: what this ring still holds is younger than
			 * its last record taken (one ring is in time order, up
			 * to the threads' clocks), or than UNTIL when it stopped
			 * there (maybe having taken nothing); never 0, which
			 * means "no horizon" to the sink */
			uint64_t base = f.caught_up ? f.until : f.last_ts;
			uint64_t h = base > AGENT_CLOCK_SLACK_NS ? base - AGENT_CLOCK_SLACK_NS : 1;

			n = r->agent_budget - f.left;	/* never final here */
			if (h < horizon)
				horizon = h;
			gone = 0;
			if (!f.caught_up)
				r->agent_sliced = true;
		}
		/* a full batch: write what is older than the hold-back (a
		 * ring holds a bounded amount, so the batch is bounded too) */
		if (sink_batch_full(r->sink) && (err = sink_flush(r->sink, false)))
			return err;
		if (n > 0)
			r->agent_drained += n;
		if (n < 0) {
			pr("agent ring %s: %s; dropped", a->name, n == -EPROTO ? "damaged" : strerror(-n));
			if (n != -EPROTO)
				return (int)n;
			gone = 1;
		}
		d = plw_agent_reader_dropped(a->rd);
		if (d > a->dropped) {
			if ((err = sink_lost(r->sink, mono_ns(), d - a->dropped)))
				return err;
			a->dropped = d;
		}
		d = __atomic_load_n(&plw_agent_reader_hdr(a->rd)->filtered, __ATOMIC_RELAXED);
		if (d > a->filtered) {
			r->agent_filtered += d - a->filtered;
			a->filtered = d;
		}
		if (gone == 1) {
			agent_close(r, i);
			continue;
		}
		i++;
	}
	/* what the agents committed before HORIZON is in the sink now; what
	 * they write from now on waits in their rings for the next drain,
	 * which may take longer than the hold-back when they are busy */
	sink_set_horizon(r->sink, horizon);
	return 0;
}

static void agent_cleanup(struct rec *r)
{
	DIR *d;
	struct dirent *de;

	while (r->nr_rings)
		agent_close(r, r->nr_rings - 1);
	free(r->rings);
	r->rings = NULL;
	if (!r->agent_dir[0])
		return;
	if ((d = opendir(r->agent_dir))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || (de->d_name[1] && strcmp(de->d_name, "..")))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(r->agent_dir);
	r->agent_dir[0] = 0;
}

/* ----------------------------------------------------------- launch */

static int start_child(struct rec *r)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC)) {
		pr("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	r->child = fork();
	if (r->child < 0) {
		pr("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (!r->child) {
		char c = 0;

		close(fds[1]);
		if (read(fds[0], &c, 1) != 1 || c != 'g')
			_exit(127);
		if (r->use_agent)
			agent_env(r);
		execvp(r->cmd[0], r->cmd);
		fprintf(stderr, "pylow: cannot run %s: %s\n", r->cmd[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	r->go_fd = fds[1];
	return 0;
}

static void release_child(struct rec *r)
{
	if (r->go_fd >= 0) {
		if (write(r->go_fd, "g", 1) != 1)
			pr("cannot start %s: %s", r->cmd[0], strerror(errno));
		close(r->go_fd);
		r->go_fd = -1;
	}
}

static void reap_child(struct rec *r, bool block)
{
	int st;

	if (r->child <= 0 || r->child_reaped)
		return;
	if (waitpid(r->child, &st, block ? 0 : WNOHANG) == r->child) {
		r->child_status = st;
		r->child_reaped = true;
	}
}

/* ----------------------------------------------------------- meta */

static char *join_args(int argc, char **argv)
{
	size_t n = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	s = calloc(1, n);
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* the first line of FILE, trimmed, into OUT ("" if unreadable) */
static void read_id(const char *file, char *out, size_t len)
{
	FILE *f = fopen(file, "r");

	out[0] = 0;
	if (!f)
		return;
	if (!fgets(out, len, f))
		out[0] = 0;
	out[strcspn(out, " \t\r\n")] = 0;
	fclose(f);
}

static void fill_meta(struct rec *r, struct plw_meta *m, struct utsname *u)
{
	memset(m, 0, sizeof(*m));
	uname(u);
	m->hostname = r->host ? r->host : u->nodename;
	read_id("/etc/machine-id", r->machine_id, sizeof(r->machine_id));
	if (!r->machine_id[0])
		read_id("/var/lib/dbus/machine-id", r->machine_id, sizeof(r->machine_id));
	read_id("/proc/sys/kernel/random/boot_id", r->boot_id, sizeof(r->boot_id));
	m->machine_id = r->machine_id[0] ? r->machine_id : NULL;
	m->boot_id = r->boot_id[0] ? r->boot_id : NULL;
	m->osrelease = u->release;
	m->arch = u->machine;
	m->cmdline = r->cmdline;
	m->nr_cpus_online = sysconf(_SC_NPROCESSORS_ONLN);
	m->nr_cpus_avail = sysconf(_SC_NPROCESSORS_CONF);
	m->tod_ns = clock_ns(CLOCK_REALTIME) + r->tod_shift;
	m->mono_ns = clock_ns(CLOCK_MONOTONIC);
}

/* "MONO_NS TOD_NS" read back to back; *MONO gets MONO_NS */
static void clock_ref(struct rec *r, char *buf, size_t len, uint64_t *mono)
{
	uint64_t t = clock_ns(CLOCK_REALTIME) + r->tod_shift;

	*mono = clock_ns(CLOCK_MONOTONIC);
	snprintf(buf, len, "%llu %llu", (unsigned long long)*mono, (unsigned long long)t);
}

static int write_start_meta(struct rec *r, struct plw_meta *m, uint64_t ts)
{
	char buf[1024], num[32];
	size_t n = 0;
	int err;

	if ((err = plw_writer_meta_all(r->w, ts, m)))
		return err;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)m->tod_ns);
	if ((err = plw_writer_meta(r->w, ts, "clock_tod_ns", num)))
		return err;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)m->mono_ns);
	if ((err = plw_writer_meta(r->w, ts, "clock_mono_ns", num)))
		return err;
	snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long)m->mono_ns,
		 (unsigned long long)m->tod_ns);
	if ((err = plw_writer_meta(r->w, ts, "clock_ref", buf)))
		return err;
	if ((r->groups & KGROUP_NET) &&
	    (err = plw_writer_meta(r->w, ts, "labels", r->labels_off ? "off" : "on")))
		return err;
	buf[0] = 0;
	for (int i = 0; i < r->nr_pids && n < sizeof(buf) - 16; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : "", r->pids[i]);
	if (r->child > 0)
		snprintf(buf + n, sizeof(buf) - n, "%s%d", n ? "," : "", r->child);
	if ((err = plw_writer_meta(r->w, ts, "target_pids", buf)))
		return err;
	if ((r->groups & KGROUP_SYSCALLS) &&
	    (err = plw_writer_meta(r->w, ts, "syscall_names", kern_syscall_names())))
		return err;
	if ((r->groups & KGROUP_IRQ) && (err = kg_write_irq_names(r->w, ts)))
		return err;
	if ((err = kern_write_meta(r->kern, r->w, ts)))
		return err;
	if (r->cmd && (err = plw_writer_meta(r->w, ts, "command", join_args(1, r->cmd))))
		return err;
	for (int i = 0; i < r->nr_py; i++) {
		if (r->py[i].pyusdt)
			snprintf(buf, sizeof(buf), "%.1000s pyusdt", r->py[i].path);
		else
			snprintf(buf, sizeof(buf), "%s python %s usdt%s", r->py[i].path, r->py[i].version,
				 r->py[i].line_sem ? " line-semaphore-held" : "");
		if ((err = plw_writer_meta(r->w, ts, "python", buf)))
			return err;
	}
	if (r->use_agent) {
		snprintf(buf, sizeof(buf), "agent %.1000s", r->agent_path);
		if ((err = plw_writer_meta(r->w, ts, "python", buf)))
			return err;
	}
	for (int i = 0; i < r->nr_funcs; i++)
		if ((err = plw_writer_meta(r->w, ts, "filter_func", r->funcs[i])))
			return err;
	for (int i = 0; i < r->nr_globs; i++)
		if ((err = plw_writer_meta(r->w, ts, "filter_file", r->globs[i])))
			return err;
	return 0;
}

/* ----------------------------------------------------------- options */

static int parse_pids(struct rec *r, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(t, &end, 10);

		if (*end || v <= 0 || v > INT_MAX) {
			pr("invalid pid '%s' in -p %s", t, arg);
			free(copy);
			return -1;
		}
		if (r->nr_pids == MAX_PIDS) {
			pr("too many pids (max %d)", MAX_PIDS);
			free(copy);
			return -1;
		}
		r->pids[r->nr_pids++] = v;
	}
	free(copy);
	return 0;
}

static int parse_args(struct rec *r, int argc, char **argv)
{
	enum { OPT_BUFFER = 256, OPT_PYTHON, OPT_STACKS, OPT_LABELS, OPT_HOST, OPT_NO_BATCH };
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' },
		{ "func", required_argument, NULL, 'F' },
		{ "file", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "buffer-size", required_argument, NULL, OPT_BUFFER },
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "help", no_argument, NULL, 'h' },
		{ "event", required_argument, NULL, 'e' },
		{ "stacks", no_argument, NULL, OPT_STACKS },
		{ "labels", required_argument, NULL, OPT_LABELS },
		{ "no-batch", no_argument, NULL, OPT_NO_BATCH },
		{ "host", required_argument, NULL, OPT_HOST },
		{ 0 },
	};
	int c;

	r->output = DEFAULT_OUTPUT;
	r->buffer_mb = DEFAULT_BUFFER_MB;
	while ((c = getopt_long(argc, argv, "+p:o:d:F:f:e:qvh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'p':
			if (parse_pids(r, optarg))
				return -1;
			break;
		case 'o':
			r->output = optarg;
			break;
		case 'd':
			r->duration = strtod(optarg, &end);
			if (*end || r->duration <= 0) {
				pr("invalid --duration '%s': give seconds, e.g. 10 or 0.5", optarg);
				return -1;
			}
			break;
		case 'F':
			if (r->nr_funcs == MAX_FUNCS) {
				pr("too many -F (max %d)", MAX_FUNCS);
				return -1;
			}
			if (strlen(optarg) >= PLW_FUNC_MAX) {
				pr("-F %s: longer than %d bytes", optarg, PLW_FUNC_MAX - 1);
				return -1;
			}
			r->funcs[r->nr_funcs++] = optarg;
			break;
		case 'f':
			if (r->nr_globs == MAX_GLOBS) {
				pr("too many -f (max %d)", MAX_GLOBS);
				return -1;
			}
			if (strlen(optarg) >= PLW_FILE_MAX) {
				pr("-f %s: longer than %d bytes", optarg, PLW_FILE_MAX - 1);
				return -1;
			}
			r->globs[r->nr_globs++] = optarg;
			break;
		case 'e': {
			char why[160];

			if (kern_parse_groups(optarg, &r->groups, why, sizeof(why))) {
				pr("-e %s: %s", optarg, why);
				return -1;
			}
			break;
		}
		case OPT_STACKS:
			kern_want_stacks();
			break;
		case 'q':
			r->quiet = true;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_BUFFER: {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !v || v > 4096) {
				pr("invalid --buffer-size '%s': MiB, 1 to 4096", optarg);
				return -1;
			}
			r->buffer_mb = v;
			break;
		}
		case OPT_PYTHON:
			if (!strcmp(optarg, "auto"))
				r->mode = PY_AUTO;
			else if (!strcmp(optarg, "agent"))
				r->mode = PY_AGENT;
			else if (!strcmp(optarg, "usdt"))
				r->mode = PY_USDT;
			else {
				pr("invalid --python '%s': auto, agent or usdt", optarg);
				return -1;
			}
			break;
		case OPT_NO_BATCH:
			r->no_batch = true;
			break;
		case OPT_LABELS:
			if (!strcmp(optarg, "on"))
				r->labels_off = false;
			else if (!strcmp(optarg, "off"))
				r->labels_off = true;
			else {
				pr("invalid --labels '%s': on or off", optarg);
				return -1;
			}
			break;
		case OPT_HOST:
			if (!optarg[0] || strlen(optarg) > 255) {
				pr("invalid --host '%s': a name of 1 to 255 characters", optarg);
				return -1;
			}
			r->host = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "see 'pylow record --help'\n");
			return -1;
		}
	}
	if (optind < argc)
		r->cmd = argv + optind;
	{
		const char *e = getenv("PYLOW_TOD_SHIFT_NS");
		char *end;

		if (e && e[0]) {
			errno = 0;
			r->tod_shift = strtoll(e, &end, 10);
			if (*end || errno) {
				pr("invalid PYLOW_TOD_SHIFT_NS '%s': signed nanoseconds, e.g. -2500000000", e);
				return -1;
			}
		}
	}
	if (!(r->groups & ~KGROUP_PROBES)) {
		r->groups |= KGROUP_DEFAULT;	/* none, or probes alone: the default groups */
		r->net_default = true;
	}
	if (!r->nr_pids && !r->cmd) {
		pr("nothing to record: give -p PID or -- CMD; see 'pylow record --help'");
		return -1;
	}
	if (r->nr_pids && r->cmd) {
		pr("give either -p PID or -- CMD, not both");
		return -1;
	}
	if (r->nr_pids && r->mode == PY_AGENT) {
		pr("--python=agent records launched commands only ('-- CMD'): the agent is "
		   "loaded when Python starts; for -p use --python=usdt (or auto)");
		return -1;
	}
	r->use_agent = r->cmd && r->mode != PY_USDT;
	return 0;
}

/* ----------------------------------------------------------- main loop */

/* A write error mid-recording.  A full disk (or quota, or file size limit)
 * gets its own line: what happened, what is left, what to do. */
static void pr_write_failed(struct rec *r, int err, const char *what)
{
	if (err == -ENOSPC || err == -EDQUOT || err == -EFBIG)
		pr("disk full writing %s (%s): recording stopped, probes detached, the target runs on; "
		   "the file holds what was recorded until then ('pylow report info %s'); "
		   "free space or record to another file system with -o",
		   r->partial, strerror(-err), r->partial);
	else
		pr("%s; %s is left as it is, readable up to its last whole chunk", what, r->partial);
}


static void human_bytes(uint64_t b, char *out, size_t len)
{
	if (b >= 10ull << 20)
		snprintf(out, len, "%.1f MiB", b / 1048576.0);
	else if (b >= 10ull << 10)
		snprintf(out, len, "%.1f KiB", b / 1024.0);
	else
		snprintf(out, len, "%llu B", (unsigned long long)b);
}

/* Called once a second: on a terminal the line is rewritten in place; in a
 * log (stderr not a terminal) a plain line every STATUS_LOG_EVERY seconds. */
#define STATUS_LOG_EVERY 10

static void status_line(struct rec *r, uint64_t start, bool tty)
{
	static unsigned calls;
	struct sink_stats st;
	char b[32];

	if (r->quiet || (!tty && ++calls % STATUS_LOG_EVERY))
		return;
	sink_stats(r->sink, &st);
	human_bytes(plw_writer_bytes(r->w), b, sizeof(b));
	fprintf(stderr, "%spylow: %6.1fs  %llu events  %s  lost %llu%s",
		tty ? "\r" : "", (mono_ns() - start) / 1e9, (unsigned long long)st.events, b,
		(unsigned long long)st.lost, tty ? "   " : "\n");
}

static void *detach_one(void *arg)
{
	py_detach(arg);
	return NULL;
}

/* Removing a uprobe waits ~100 ms for the kernel to synchronize: detach
 * the Pythons in parallel (their links one after the other). */
static void detach_all(struct rec *r)
{
	pthread_t th[MAX_PY];
	bool started[MAX_PY] = { 0 };

	for (int i = 0; i < r->nr_py; i++)
		started[i] = !pthread_create(&th[i], NULL, detach_one, &r->py[i]);
	for (int i = 0; i < r->nr_py; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			py_detach(&r->py[i]);
	}
	for (int i = 0; i < 4; i++) {
		bpf_link__destroy(r->tp_links[i]);
		r->tp_links[i] = NULL;
	}
	kern_detach(r->kern);
	native_detach(r->native);
	net_detach(r->net);
}

static void cleanup(struct rec *r)
{
	detach_all(r);
	stage_ticks_free(r->ticks);
	r->ticks = NULL;
	agent_cleanup(r);
	sink_free(r->sink);
	kern_free(r->kern);
	r->kern = NULL;
	native_free(r->native);
	r->native = NULL;
	net_free(r->net);
	r->net = NULL;
	pylow_bpf__destroy(r->skel);
	manifest_free(&r->man);
	free(r->cmdline);
}

static void fail_cleanup(struct rec *r)
{
	if (r->child > 0 && !r->child_reaped) {
		if (r->go_fd >= 0) {
			close(r->go_fd);	/* the child exits 127 without exec */
			r->go_fd = -1;
		} else {
			kill(r->child, SIGTERM);
		}
		reap_child(r, true);
	}
	if (r->w) {
		plw_writer_free(r->w);
		r->w = NULL;
		/* nothing recorded yet: leave nothing behind */
		unlink(r->partial);
	}
	cleanup(r);
}

int cmd_record(int argc, char **argv)
{
	struct rec rr = { .go_fd = -1 }, *r = &rr;
	char probed[PATH_MAX], exe[PATH_MAX], what[64];
	struct plw_meta meta;
	struct utsname uts;
	bool tty = isatty(2);
	uint64_t t0, start, last_sec, last_ref, deadline = 0;
	int err, ret = 1;

	if (parse_args(r, argc, argv))
		return 2;
	/* the batch and chunk buffers are freed and allocated again all the
	 * time: keep them in the heap (no mmap/munmap and page faults per chunk) */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	{
		char *a = join_args(argc, argv);

		if (a && asprintf(&r->cmdline, "pylow %s", a) < 0)
			r->cmdline = NULL;
		free(a);
	}
	libbpf_set_print(libbpf_print);
	if (check_caps(r) || check_kernel())
		return 1;

	/* what to attach to, before anything is started */
	if (r->cmd) {
		err = target_resolve_cmd(r->cmd[0], exe, sizeof(exe));
		if (err) {
			pr("cannot find command '%s': %s%s", r->cmd[0], strerror(-err),
			   strchr(r->cmd[0], '/') ? "" : " (searched PATH)");
			return 1;
		}
		snprintf(what, sizeof(what), "command '%s'", r->cmd[0]);
		if (r->use_agent) {
			if (find_agent(r))
				return 1;
			warn_no_build(r, exe);
			warn_no_site(r);
		} else if (python_of(exe, 0, r->cmd[0], probed, sizeof(probed))) {
			return 1;
		}
	}
	for (int i = 0; i < r->nr_pids; i++) {
		snprintf(what, sizeof(what), "process %d", r->pids[i]);
		if (!target_exists(r->pids[i])) {
			pr("process %d does not exist (no /proc/%d); check the pid with 'pgrep -a python'",
			   r->pids[i], r->pids[i]);
			return 1;
		}
		if ((err = target_exe(r->pids[i], exe, sizeof(exe)))) {
			pr("process %d: cannot read /proc/%d/exe: %s%s", r->pids[i], r->pids[i],
			   strerror(-err), err == -EACCES || err == -EPERM ?
			   " (another user's process: run as root, or with CAP_SYS_PTRACE)" : "");
			return 1;
		}
		{
			char lib[PATH_MAX] = "";

			target_libpython(r->pids[i], lib, sizeof(lib));
			/* no CPython probes: a pyusdt library loaded by the process? */
			if (py_find_probes(exe, lib, probed, sizeof(probed)) &&
			    !pyusdt_find(r->pids[i], probed, sizeof(probed)))
				continue;
		}
		if (python_of(exe, r->pids[i], what, probed, sizeof(probed)))
			return 1;
	}

	/* the output first: a bad path fails before anything is started */
	snprintf(r->partial, sizeof(r->partial), "%s.partial", r->output);
	{
		struct plw_writer_opts wo = { .keep_old = true };

		kern_writer_opts(&wo);	/* -e tracepoint:...: their attrs */
		err = plw_writer_open(&r->w, r->output, &wo);
	}
	if (err) {
		if (err == -ENOENT || err == -EACCES || err == -EROFS || err == -ENOSPC)
			pr("cannot create %s: %s; check that the directory exists and is writable",
			   r->partial, strerror(-err));
		else if (err == -ELOOP)
			pr("cannot create %s: it exists and is a symbolic link, which is never followed; "
			   "remove it or choose another -o", r->partial);
		else
			pr("%s", plw_writer_error(r->w));
		plw_writer_free(r->w);
		r->w = NULL;
		goto fail;
	}
	/* before the first probe: the timestamp of META and the initial COMMs */
	t0 = mono_ns();
	if (load_bpf(r))
		goto fail;
	if (r->use_agent && agent_setup(r))
		goto fail;
	if (r->cmd && start_child(r))
		goto fail;
	if (r->cmd && add_target(r, r->child))
		goto fail;
	for (int i = 0; i < r->nr_pids; i++)
		if (add_target(r, r->pids[i]))
			goto fail;
	if (attach_tracepoints(r))
		goto fail;
	{
		char why[256];

		int pids[MAX_PIDS + 1], nr = 0;

		if (kern_attach(r->kern, &r->man, why, sizeof(why))) {
			pr("%s", why);
			goto fail;
		}
		/* one program per context switch, not two */
		if (kern_drains_stages(r->kern))
			stage_ticks_switch_off(r->ticks);
		for (int i = 0; i < r->nr_pids; i++)
			pids[nr++] = r->pids[i];
		if (r->child > 0)
			pids[nr++] = r->child;
		if (net_attach(r->net, &r->man, pids, nr, why, sizeof(why))) {
			if (!r->net_default) {
				pr("%s", why);
				goto fail;
			}
			pr("warning: no network events: %s", why);
			net_detach(r->net);
			r->groups &= ~KGROUP_NET;
		}
	}
	if (r->groups & (KGROUP_MEM | KGROUP_GIL | KGROUP_EXCEPTIONS)) {
		char why[PATH_MAX + 128];

		/* mem: the targets' libc, per process; gil, exceptions: their
		 * Python files (a failure is a warning: the other groups record) */
		if (r->cmd && (r->groups & KGROUP_MEM) &&
		    native_attach_mem(r->native, r->child, &r->man, why, sizeof(why)))
			pr("warning: %s", why);
		if (r->cmd && native_attach_python(r->native, exe, NULL, &r->man, why, sizeof(why)))
			pr("warning: %s", why);
		for (int i = 0; i < r->nr_pids; i++) {
			char pexe[PATH_MAX], lib[PATH_MAX] = "";

			if ((r->groups & KGROUP_MEM) &&
			    native_attach_mem(r->native, r->pids[i], &r->man, why, sizeof(why)))
				pr("warning: %s", why);
			if (target_exe(r->pids[i], pexe, sizeof(pexe)))
				continue;
			target_libpython(r->pids[i], lib, sizeof(lib));
			if (native_attach_python(r->native, pexe, lib, &r->man, why, sizeof(why)))
				pr("warning: %s", why);
		}
	}
	native_manifest(r->native, r->groups, &r->man);
	/* every distinct Python of the targets */
	if (!(r->groups & KGROUP_PYTHON))
		;	/* -e without python: kernel events only */
	else if (r->cmd && !r->use_agent && attach_python(r, probed, r->child))
		goto fail;
	for (int i = 0; i < r->nr_pids; i++) {
		char lib[PATH_MAX];

		if (target_exe(r->pids[i], exe, sizeof(exe)))
			continue;
		target_libpython(r->pids[i], lib, sizeof(lib));
		if (!(r->groups & KGROUP_PYTHON)) {
			;	/* -e without python: kernel events only */
		} else if (!py_find_probes(exe, lib, probed, sizeof(probed))) {
			if (attach_python(r, probed, r->pids[i]))
				goto fail;
		} else if (!pyusdt_find(r->pids[i], probed, sizeof(probed))) {
			if (attach_pyusdt(r, probed, r->pids[i]))
				goto fail;
			r->pyusdt_pids[r->nr_pyusdt++] = r->pids[i];
		}
	}

	fill_meta(r, &meta, &uts);
	if ((err = write_start_meta(r, &meta, t0))) {
		pr("cannot write to %s: %s", r->partial, plw_writer_error(r->w));
		goto fail;
	}
	if ((err = sink_new(&r->sink, r->w, bpf_map__fd(r->skel->maps.counters),
			    bpf_map__fd(r->skel->maps.rb), on_exec, r))) {
		pr("cannot set up the ring buffer: %s", strerror(-err));
		goto fail;
	}
	if ((err = kern_setup_sink(r->kern, r->sink))) {
		pr("cannot set up --stacks: %s", strerror(-err));
		goto fail;
	}
	sink_set_net(r->sink, r->net);
	sink_set_py_batch(r->sink, !r->no_batch);
	{
		/* test hook: a small batch, so that "batch full" happens often */
		const char *bb = getenv("PYLOW_TEST_BATCH_BYTES");

		if (bb)
			sink_set_batch_max(r->sink, strtoull(bb, NULL, 0));
		/* and: an agent ring drained in slices this small */
		bb = getenv("PYLOW_TEST_DRAIN_BUDGET");
		r->agent_budget = bb && strtol(bb, NULL, 0) > 0 ? strtol(bb, NULL, 0) : AGENT_DRAIN_BUDGET;
	}
	if (r->use_agent)
		sink_set_default_source(r->sink, NULL);
	for (int i = 0; i < r->nr_pyusdt; i++)
		sink_set_source(r->sink, r->pyusdt_pids[i], "pyusdt", NULL);
	start = mono_ns();
	if (r->cmd && (err = sink_add_process(r->sink, r->child, t0))) {
		pr("cannot record process %d: %s", r->child, sink_error(r->sink));
		goto fail;
	}
	for (int i = 0; i < r->nr_pids; i++) {
		if ((err = sink_add_process(r->sink, r->pids[i], t0))) {
			pr("cannot record process %d: %s", r->pids[i],
			   err == -ENOENT ? "it exited" : sink_error(r->sink));
			goto fail;
		}
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!r->quiet) {
		char pids[256] = "";
		size_t n = 0;

		for (int i = 0; i < r->nr_pids && n < sizeof(pids) - 16; i++)
			n += snprintf(pids + n, sizeof(pids) - n, "%s%d", i ? "," : "", r->pids[i]);
		if (r->cmd)
			snprintf(pids, sizeof(pids), "%d", r->child);
		char mm[32];

		/* major.minor of "3.11.2" */
		snprintf(mm, sizeof(mm), "%.31s", r->nr_py ? r->py[0].version : "");
		if (strchr(mm, '.') && strchr(strchr(mm, '.') + 1, '.'))
			*strchr(strchr(mm, '.') + 1, '.') = 0;
		if (r->use_agent)
			pr("recording PID %s and its children (python agent from %s); recording to %s",
			   pids, r->agent_path, r->output);
		else
			pr("probes attached to PID %s (%s%s%s); recording to %s", pids,
			   r->nr_py && r->py[0].pyusdt ? "pyusdt library" : "python ",
			   r->nr_py && r->py[0].pyusdt ? "" : mm,
			   r->nr_py > 1 ? " and others" : r->nr_py && r->py[0].pyusdt ? "" : ", usdt",
			   r->output);
	}
	r->skel->bss->running = 1;
	kern_set_running(r->kern, 1);
	native_set_running(r->native, 1);
	net_set_running(r->net, 1);
	release_child(r);
	if (r->duration)
		deadline = start + (uint64_t)(r->duration * 1e9);

	/* the loop: ~100 ms polls, counters each poll, flush/status each second */
	last_sec = start;
	last_ref = start;
	for (;;) {
		struct sink_stats st;
		uint64_t now;

		/* the agent's rings are drained after each poll, every 10 ms; again
		 * after 1 ms while they deliver more than 65536 records a drain
		 * (~6.5 M a second: a busy ring would otherwise be drained at half
		 * speed).  Below that, waking every 1 ms cost W2 (~0.8 M calls a
		 * second on 2 CPUs) 154 ns per call against 79 at 10 ms: each wake
		 * took a CPU its two threads take turns on */
		if ((err = sink_poll(r->sink, !r->use_agent ? 100 : r->agent_sliced ? 0 :
				     r->agent_drained > 65536 ? 1 : 10, false)) ||
		    (err = agent_drain(r, false, UINT64_MAX))) {
			char m[512];

			snprintf(m, sizeof(m), "recording failed: %s", sink_error(r->sink));
			pr_write_failed(r, err, m);
			goto fail_mid;
		}
		native_poll(r->native, &r->man);	/* mem: children not probed yet */
		/* not while a ring delivers much: allocating pages competes
		 * with a busy application for memory bandwidth */
		if (r->use_agent && r->agent_drained < 1024)
			agent_spares(r, 4u << 20);
		now = mono_ns();
		if ((err = sink_counters(r->sink, now))) {
			pr("recording failed: %s", sink_error(r->sink));
			goto fail_mid;
		}
		reap_child(r, false);
		/* a wall-clock reference pair every CLOCK_REF_EVERY_NS */
		if (now - last_ref >= CLOCK_REF_EVERY_NS) {
			char ref[64];
			uint64_t mono;

			clock_ref(r, ref, sizeof(ref), &mono);
			last_ref = now;
			if ((err = sink_meta_kv(r->sink, mono, "clock_ref", ref))) {
				pr("recording failed: %s", strerror(-err));
				goto fail_mid;
			}
		}
		if (now - last_sec >= 1000000000ull) {
			last_sec = now;
			if ((err = plw_writer_flush(r->w))) {
				pr_write_failed(r, err, plw_writer_error(r->w));
				goto fail_mid;
			}
			status_line(r, start, tty);
			/* EXIT records can be lost too: look at /proc once a second
			 * (after the poll, so a recorded EXIT comes first) */
			if ((err = sink_check_alive(r->sink))) {
				pr("recording failed: %s", sink_error(r->sink));
				goto fail_mid;
			}
		}
		if (stop_sig)
			break;
		if (deadline && now >= deadline)
			break;
		sink_stats(r->sink, &st);
		/* followed children keep the recording going after their parent */
		if (!st.live_targets)
			break;
	}

	/* stop the sources (all at once), then drain what is left */
	r->skel->bss->running = 0;
	kern_set_running(r->kern, 0);
	native_set_running(r->native, 0);
	net_set_running(r->net, 0);
	detach_all(r);
	/* no program writes the stages now (a flush that began before the
	 * detach has long ended after 20 ms): what they hold goes in too */
	if (r->ticks) {
		stage_ticks_detach(r->ticks);
		usleep(20000);
		if ((err = stage_collect(bpf_map__fd(r->skel->maps.stage_map), r->sink))) {
			pr("recording failed while draining the staged Python calls and syscalls: %s",
			   strerror(-err));
			goto fail_mid;
		}
	}
	/* rings far behind: a slice at a time up to now, written out in
	 * between with what the BPF ring still holds (agents still running
	 * get no further: what they write meanwhile goes in whole below) */
	{
		uint64_t until = mono_ns();

		do
			err = agent_drain(r, false, until) ?:
			      r->agent_sliced ? sink_poll(r->sink, 0, false) : 0;
		while (!err && r->agent_sliced);
	}
	if (err || (err = agent_drain(r, true, UINT64_MAX))) {
		pr("recording failed while draining: %s", sink_error(r->sink));
		goto fail_mid;
	}
	for (int i = 0; i < 100; i++) {
		struct sink_stats a, b;

		sink_stats(r->sink, &a);
		if ((err = sink_poll(r->sink, 0, true)))
			break;
		sink_stats(r->sink, &b);
		if (a.records == b.records)
			break;
	}
	if (err || (err = sink_counters(r->sink, mono_ns()))) {
		char m[512];

		snprintf(m, sizeof(m), "recording failed while draining: %s", sink_error(r->sink));
		pr_write_failed(r, err, m);
		goto fail_mid;
	}
	if (tty && !r->quiet)
		fprintf(stderr, "\n");
	if (r->child > 0 && !r->child_reaped) {
		reap_child(r, false);
		if (!r->child_reaped) {
			pr("stopping command %s (pid %d) with SIGTERM", r->cmd[0], r->child);
			kill(r->child, SIGTERM);
			reap_child(r, true);
		}
	}

	{
		char ref[64];
		uint64_t mono;

		clock_ref(r, ref, sizeof(ref), &mono);
		if ((err = plw_writer_meta(r->w, mono, "clock_ref", ref))) {
			pr_write_failed(r, err, plw_writer_error(r->w));
			goto fail_mid;
		}
	}
	meta.probes = r->man.p;
	meta.nr_probes = r->man.nr;
	meta.finished = true;
	sink_meta(r->sink, &meta);
	if ((err = plw_writer_finish(r->w, &meta))) {
		char m[640];

		snprintf(m, sizeof(m), "cannot finish %s: %s", r->output, plw_writer_error(r->w));
		pr_write_failed(r, err, m);
		goto fail_mid;
	}
	{
		struct sink_stats st;
		uint64_t bytes = plw_writer_bytes(r->w);
		char b[32];

		sink_stats(r->sink, &st);
		human_bytes(bytes, b, sizeof(b));
		if (!r->quiet)
			pr("%llu events, %s, %.1f bytes/event, lost %llu%s, %llu filtered; wrote %s",
			   (unsigned long long)st.events, b,
			   st.events ? (double)bytes / st.events : 0.0,
			   (unsigned long long)st.lost,
			   st.lost ? " (raise --buffer-size)" : "",
			   (unsigned long long)(st.filtered + r->agent_filtered), r->output);
		if (r->net) {
			uint64_t data, muted, labels;

			net_stats(r->net, &data, &muted, &labels);
			pr_v(1, "net: %llu labels; BPF copied the head of %llu socket calls, and "
			     "stopped copying %llu streams of no known protocol",
			     (unsigned long long)labels, (unsigned long long)data,
			     (unsigned long long)muted);
		}
		if (st.late)
			pr("warning: %llu events reached the recorder more than %llu ms late and are "
			   "out of time order in the file (report info counts them); a machine too "
			   "busy to run the recorder?", (unsigned long long)st.late,
			   (unsigned long long)(SINK_HOLD_NS / 1000000));
	}
	if (r->child > 0 && r->child_reaped) {
		int s = r->child_status;

		if (WIFEXITED(s) && WEXITSTATUS(s))
			pr("command %s exited with status %d", r->cmd[0], WEXITSTATUS(s));
		else if (WIFSIGNALED(s))
			pr("command %s was killed by signal %d (%s)", r->cmd[0], WTERMSIG(s),
			   strsignal(WTERMSIG(s)));
	}
	ret = 0;
	plw_writer_free(r->w);
	r->w = NULL;
	cleanup(r);
	return ret;

fail_mid:
	/* events were recorded: keep the .partial, readable up to its last
	 * chunk.  The target is not harmed: probes come off first, and a
	 * launched command runs to its end (it is ours to wait for). */
	plw_writer_free(r->w);
	r->w = NULL;
	cleanup(r);
	if (r->child > 0 && !r->child_reaped) {
		reap_child(r, false);
		if (!r->child_reaped) {
			pr("command %s (pid %d) runs on unrecorded; waiting for it to exit", r->cmd[0], r->child);
			while (!r->child_reaped && !stop_sig) {
				usleep(50000);
				reap_child(r, false);
			}
			if (!r->child_reaped) {
				kill(r->child, SIGTERM);
				reap_child(r, true);
			}
		}
	}
	return 1;
fail:
	fail_cleanup(r);
	return 1;
}
