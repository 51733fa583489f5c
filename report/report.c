/* SPDX-License-Identifier: MIT */
/*
 * report.c - `pylow report SUBCOMMAND [options] FILE...`: the command layer.
 * Parses options, runs one report (info.c, flow.c, timeline.c, graph.c,
 * slow.c, diff.c, anomaly.c, nplus1.c, single.c, kernel.c, kevents.c, threads.c),
 * prints errors (as JSON with --json) and warnings, chooses the exit code:
 *   0  done (also when a damaged file was salvaged: a warning on stderr)
 *   1  failed (missing or unreadable file, --strict and damage, out of memory)
 *   2  usage error
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_int.h"

struct sub {
	const char *name;
	int (*fn)(const struct report_opts *o, struct report_result *res);
	const char *summary;
	const char *usage;
};

static const struct sub subs[] = {
	{ "info", report_info, "what a recording holds: host, span, processes, events, losses, damage",
	  "usage: pylow report info [--json] [--strict] FILE...\n"
	  "\n"
	  "Describes each recording: host, kernel, cpus, wall-clock span, whether the\n"
	  "recorder finished, processes and threads, events by kind, lost events,\n"
	  "probes, and damage (a file cut short is described up to where it is intact).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report info trace.plw\n"
	  "  pylow report info --json trace.plw | jq .lost\n" },
	{ "flow", report_flow, "call trees, one per root call (slowest first by default)",
	  "usage: pylow report flow [--json] [--top N | --all | --last] [--min-ms X] [--depth N] FILE...\n"
	  "\n"
	  "One calling-context tree per root call (a call whose caller was not\n"
	  "recorded, e.g. a request handler).  Calls from the same place under the\n"
	  "same parent are grouped: 'f ×3  15.000 ms' is three calls taking 15 ms in all.\n"
	  "Flags: [cut at start] began before the recording, [cut at end] still\n"
	  "running at its end, [incomplete] events were lost or did not match.\n"
	  "Network calls (record -e net) are leaves: '[GET svc-b/x]  40 ms'.  With one\n"
	  "file per host, a call's server side on the other host is drawn below it\n"
	  "('request GET /x ... @svc-b (joined by traceparent)'), times on one clock\n"
	  "(see 'report hosts'; 'report stitch' lists the requests).\n"
	  "\n"
	  "Options:\n"
	  "  --top N       the N slowest root calls, slowest first (default: 10)\n"
	  "  --all         every root call, in start order\n"
	  "  --last        the root call that completed last\n"
	  "  --min-ms X    hide calls (and root calls) shorter than X ms; hidden\n"
	  "                children are summed in a '… N more calls' line\n"
	  "  --depth N     show N levels below each root (0: roots only)\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report flow trace.plw                 # the 10 slowest requests\n"
	  "  pylow report flow --top 3 --min-ms 1 trace.plw\n"
	  "  pylow report flow --last --depth 2 trace.plw\n"
	  "  pylow report flow --all --json trace.plw > flows.json\n"
	  "  pylow report flow api.plw worker.plw db.plw    # one file per host\n" },
	{ "timeline", report_timeline, "every call and return in time order, indented by depth",
	  "usage: pylow report timeline [--json] [--threshold MS] [--pid P] [--tid T] FILE...\n"
	  "\n"
	  "Chronological entries (→) and returns (←) with the time since the first\n"
	  "event, pid and tid, indented by the thread's call depth.  Kernel events\n"
	  "and generic probe hits (record -e uprobe:..., tracepoint:...) are '·'\n"
	  "lines under their frame, with their values (tracepoint fields decoded\n"
	  "from the formats in the file); native stacks (record --stacks) follow\n"
	  "their event as '│ kernel' / '│ user' frame lines.\n"
	  "\n"
	  "Options:\n"
	  "  --threshold MS  mark returns of calls longer than MS with '⚠ SLOW'\n"
	  "  --pid P         only process P\n"
	  "  --tid T         only thread T\n"
	  "  --json          one JSON document on stdout (errors too)\n"
	  "  --strict        fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help      this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report timeline trace.plw | less\n"
	  "  pylow report timeline --threshold 2 --pid 4821 trace.plw\n" },
	{ "graph", report_graph, "call paths over the whole recording: calls, total, avg, self",
	  "usage: pylow report graph [--json] FILE...\n"
	  "\n"
	  "Every root call merged into one tree of call paths: how often each path\n"
	  "was called, its total, average and self time; heaviest first.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report graph trace.plw\n"
	  "  pylow report graph --json trace.plw | jq '.roots[0]'\n" },
	{ "slow", report_slow, "slow root calls grouped by the path to their root cause, with percentiles",
	  "usage: pylow report slow [--json] [--threshold MS] FILE...\n"
	  "\n"
	  "Root calls (requests) taking MS or more, grouped by the path from the root\n"
	  "to their root cause: the place with the most exclusive time inside the call\n"
	  "(a function's own time, or a kernel wait once recorded).  Per path:\n"
	  "occurrences, avg, p50, p95, p99, max, and the cause's share of the time.\n"
	  "\n"
	  "Options:\n"
	  "  --threshold MS  root calls at least this long (default: 200)\n"
	  "  --json          one JSON document on stdout (errors too)\n"
	  "  --strict        fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help      this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report slow trace.plw\n"
	  "  pylow report slow --threshold 50 --json trace.plw | jq '.paths[0].root_cause'\n" },
	{ "diff", report_diff, "what got slower or faster between two recordings (Mann-Whitney U)",
	  "usage: pylow report diff [--json] [--all] BEFORE AFTER\n"
	  "       pylow report diff [--json] [--all] BEFORE... -- AFTER...\n"
	  "       pylow report diff [--json] [--all] --before FILE... --after FILE...\n"
	  "\n"
	  "Per function (and per call path, for functions reached by several paths):\n"
	  "calls, avg, p50, p95 before and after.  A change is significant when the\n"
	  "Mann-Whitney U test gives q <= 0.01 after the Benjamini-Hochberg correction\n"
	  "over all comparisons AND the median moved by max(5%, 0.05 ms) or more.\n"
	  "Sections: REGRESSIONS, IMPROVEMENTS (by impact: change of avg x calls),\n"
	  "NEW CALLS, REMOVED.\n"
	  "\n"
	  "Options:\n"
	  "  --before FILE   a file of the old version (repeat for several)\n"
	  "  --after FILE    a file of the new version (repeat for several)\n"
	  "  --all           also the changes that are not significant, and new or\n"
	  "                  removed call paths\n"
	  "  --json          one JSON document on stdout (errors too)\n"
	  "  --strict        fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help      this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report diff v1.2.plw v1.3.plw\n"
	  "  pylow report diff a1.plw a2.plw -- b1.plw b2.plw\n"
	  "  pylow report diff --json --before v1.2.plw --after v1.3.plw | jq .regressions\n" },
	{ "anomaly", report_anomaly, "calls far slower than their function's baseline (median + MAD)",
	  "usage: pylow report anomaly [--json] [--baseline FILE]... FILE...\n"
	  "\n"
	  "Baselines per call path and per function from a first pass over FILE (or\n"
	  "over the --baseline files): median and MAD of the durations.  A call is an\n"
	  "anomaly when it takes longer than\n"
	  "  median + max(5 x 1.4826 x MAD, 1 ms, 25% of the median)\n"
	  "of its path (when the path has 10 or more calls, else of its function).\n"
	  "Each is shown with the child that took most of its time, grouped by path.\n"
	  "\n"
	  "Options:\n"
	  "  --baseline FILE  take the baselines from FILE (repeat for several)\n"
	  "  --json           one JSON document on stdout (errors too)\n"
	  "  --strict         fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help       this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report anomaly today.plw\n"
	  "  pylow report anomaly --baseline last-week.plw today.plw\n" },
	{ "nplus1", report_nplus1, "calls that call the same function N or more times (N+1 queries)",
	  "usage: pylow report nplus1 [--json] [--min N] FILE...\n"
	  "\n"
	  "One call (e.g. a view) that calls the same function N or more times itself\n"
	  "(e.g. one query per row): the candidate, how often per call, and its share\n"
	  "of the caller's time.  Grouped by caller and callee function.\n"
	  "\n"
	  "Options:\n"
	  "  --min N       calls of the same function per caller call (default: 10)\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report nplus1 trace.plw\n"
	  "  pylow report nplus1 --min 5 --json trace.plw\n" },
	{ "single", report_single, "one call of a function, its complete tree with total and self time",
	  "usage: pylow report single [--json] [--nth K | --slowest] FUNC FILE...\n"
	  "\n"
	  "Every call and return inside one call of FUNC (a function name), with the\n"
	  "time since it began, total and self time.  Calls of FUNC inside a call of\n"
	  "FUNC are part of it.\n"
	  "\n"
	  "Options:\n"
	  "  --nth K       the K-th call of FUNC (in start order, from 1)\n"
	  "  --slowest     the slowest call of FUNC (the default)\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report single handle_request trace.plw\n"
	  "  pylow report single --nth 3 --json handle_request trace.plw\n" },
	{ "syscalls", report_syscalls, "system calls: count, time, latency histogram, Python callers",
	  "usage: pylow report syscalls [--json] FILE...\n"
	  "\n"
	  "Every system call of the recorded threads (record -e syscalls, a default),\n"
	  "by syscall, slowest in total first: calls, failures, total and longest\n"
	  "time, bytes moved (read, write, ...), a log2 latency histogram in µs, and\n"
	  "the Python functions that made them (the innermost frame at the call).\n"
	  "Syscall numbers are named from the table the recorder wrote into the file.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report syscalls trace.plw\n" },
	{ "offcpu", report_offcpu, "off-CPU time by Python stack and reason (blocked, preempted)",
	  "usage: pylow report offcpu [--json] FILE...\n"
	  "\n"
	  "Time the recorded threads spent off CPU (record -e sched, a default), by\n"
	  "the Python stack they were in and why: blocked (slept: I/O, locks,\n"
	  "sleep) or preempted (runnable, but another task had the CPU); with the\n"
	  "part spent waiting on a runqueue, and a log2 histogram of the intervals.\n"
	  "Recorded with --stacks: the top kernel/user native stacks of each entry\n"
	  "(symbolised when recorded; --json lists them all).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report offcpu trace.plw\n" },
	{ "sched", report_sched, "runqueue latency, voluntary/involuntary context switches per thread",
	  "usage: pylow report sched [--json] FILE...\n"
	  "\n"
	  "Scheduling of the recorded threads (record -e sched, a default): a log2\n"
	  "histogram of runqueue latency (runnable until on a CPU: after a wakeup,\n"
	  "or after being preempted) and, per thread, voluntary (blocked) and\n"
	  "involuntary (preempted) context switches, off-CPU and runqueue time.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report sched trace.plw\n" },
	{ "faults", report_faults, "user page faults by Python stack (hot spots) and thread",
	  "usage: pylow report faults [--json] FILE...\n"
	  "\n"
	  "User page faults of the recorded threads (record -e faults): how many,\n"
	  "how many on writes, per thread, and by the Python stack running when they\n"
	  "happened, most first (text: the first 25 stacks; --json: all).  A fault\n"
	  "outside any Python call is '(outside Python)'.  Recorded with --stacks,\n"
	  "each Python stack lists the user stacks of its faults (where in C code\n"
	  "they faulted; text: the top 3).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow record -e python,faults -o trace.plw -- python3 app.py\n"
	  "  pylow report faults trace.plw\n" },
	{ "io", report_io, "block I/O: latency histogram, by op, bytes, by Python stack",
	  "usage: pylow report io [--json] FILE...\n"
	  "\n"
	  "Block requests the recorded threads issued (record -e io): by op (read,\n"
	  "write, flush, discard) with count, time from issue to completion, the\n"
	  "longest, bytes and failures; a log2 latency histogram in µs; per thread;\n"
	  "and by the Python stack that issued them.  Writes of the page cache\n"
	  "flushed later by the kernel belong to its flusher threads, not to yours.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow record -e python,syscalls,io -o trace.plw -- python3 app.py\n"
	  "  pylow report io trace.plw\n" },
	{ "irq", report_irq, "irq time taken from the threads: by irq, per thread, by Python stack",
	  "usage: pylow report irq [--json] [--strict] FILE...\n"
	  "\n"
	  "Hard and soft irqs that ran while a recorded thread was on the CPU\n"
	  "(record -e irq), i.e. time taken from it: by irq ('softirq NET_RX',\n"
	  "'hardirq 24') with count, total and longest; a log2 histogram of the\n"
	  "time per run in µs; per thread; by the Python stack it interrupted.\n"
	  "A hard irq inside a softirq is counted once, as the hard irq.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report irq trace.plw\n" },
	{ "tlb", report_tlb, "TLB flushes by reason, per thread, by Python stack",
	  "usage: pylow report tlb [--json] [--strict] FILE...\n"
	  "\n"
	  "TLB flushes on the recorded threads (record -e tlb) by the kernel's\n"
	  "reason: 'remote send ipi' (the thread changed its mappings, e.g. munmap,\n"
	  "and interrupted the CPUs running its other threads), 'remote shootdown'\n"
	  "(the thread was interrupted by such an IPI), 'local shootdown', 'local mm\n"
	  "shootdown', 'task switch' (switched in with a flush); how many flushed\n"
	  "all pages; per thread; by the Python stack running at the flush.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report tlb trace.plw\n" },
	{ "threads", report_threads, "per thread: wall, busy, off-CPU, Python self time, syscall time",
	  "usage: pylow report threads [--json] [--strict] FILE...\n"
	  "\n"
	  "Where each recorded thread's time went: WALL its span in the recording\n"
	  "(from its creation or exec, else the start, to its exit, else the end);\n"
	  "OFF-CPU off the CPU (-e sched), split into BLOCKED (sleeping) and\n"
	  "RUNQUEUE (runnable, waiting for a CPU); BUSY = WALL - OFF-CPU; PYTHON\n"
	  "the time inside Python calls, PY SELF the part in the functions' own code\n"
	  "(not in callees, syscalls, off-CPU intervals or irqs); SYSCALLS the time\n"
	  "in system calls (-e syscalls).  Then each thread's functions with the most\n"
	  "self time.  Without -e sched, BUSY and OFF-CPU are unknown (-, null).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report threads trace.plw\n"
	  "  pylow report threads --json trace.plw | jq '.threads[] | {tid, busy_ns}'\n" },
	{ "malloc", report_malloc, "allocations by Python frame (bytes, count), sizes, live-at-end leak candidates",
	  "usage: pylow report malloc [--json] FILE...\n"
	  "\n"
	  "The libc allocator calls of the recorded processes (record -e mem):\n"
	  "allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc,\n"
	  "memalign) by the Python frame that made them, by bytes and by count, a\n"
	  "log2 histogram of their sizes, and the allocations still live at the end:\n"
	  "allocated while recording and never freed nor realloc'd away, by Python\n"
	  "frame (leak candidates; memory a process keeps on purpose shows too).\n"
	  "Frees of memory allocated before the recording are counted apart.  Python\n"
	  "objects of 512 bytes or less come from CPython's own arenas (pymalloc),\n"
	  "not from malloc: only the 256 KiB arenas themselves (via mmap) and larger\n"
	  "objects reach libc.  Recorded with --stacks, each frame lists the user\n"
	  "stacks of its allocations (from malloc up; text: the top 3 by bytes).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow record -e python,mem -- python3 app.py\n"
	  "  pylow report malloc trace.plw\n" },
	{ "gil", report_gil, "GIL waits by thread and Python frame, histogram",
	  "usage: pylow report gil [--json] FILE...\n"
	  "\n"
	  "Time the recorded threads waited to take CPython's GIL (record -e gil): by\n"
	  "thread, by the Python frame the thread was in when it waited (its GIL was\n"
	  "released around a blocking call, or it was asked to drop it for another\n"
	  "thread), longest in total first, and a log2 histogram of the waits in µs.\n"
	  "A wait is a take_gil() call in which the thread slept; takes of a free\n"
	  "GIL are not waits.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow record -e python,gil -- python3 app.py\n"
	  "  pylow report gil trace.plw\n" },
	{ "exceptions", report_exceptions, "exceptions raised by type, with the raising Python frames",
	  "usage: pylow report exceptions [--json] FILE...\n"
	  "\n"
	  "Python exceptions raised in the recorded processes (record -e exceptions),\n"
	  "by type, most frequent first, each with the Python frames that raised it\n"
	  "(the innermost frame open on the thread: for an error set by C code, such\n"
	  "as a KeyError from a dict lookup, the Python function that called it).\n"
	  "Raises are counted, not the frames an exception propagates through; a\n"
	  "bare 'raise' re-raising the exception being handled is not counted again.\n"
	  "Exceptions raised and caught inside the interpreter count too (e.g.\n"
	  "AttributeError from hasattr(), KeyError while importing).\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow record -e python,exceptions -- python3 app.py\n"
	  "  pylow report exceptions trace.plw\n" },
	{ "stitch", report_stitch, "requests across hosts: each request with its per-host spans",
	  "usage: pylow report stitch [--json] [--trace ID] [--services HOST,...] FILE...\n"
	  "\n"
	  "One recording per host (pylow record on each), copied together: every\n"
	  "request with the spans it made on each host.  A client call (HTTP request,\n"
	  "Redis command, SQL query: sent until its reply) is joined to the server's\n"
	  "request span on the other host by its W3C traceparent header, else by the\n"
	  "TCP connection (the client's 4-tuple mirrored on the server, accepted\n"
	  "nearest in time; requests paired in order).  Calls whose server was not\n"
	  "recorded say so: '(no recording of 10.0.0.3:8000)'.  Hosts are named by the\n"
	  "recordings' hostname (record --host NAME).  Times are put on the first\n"
	  "file's host's wall clock, corrected by causality (see 'report hosts').\n"
	  "\n"
	  "Options:\n"
	  "  --trace ID         only the request with this trace id (or prefix)\n"
	  "  --services A,B     only requests touching one of these hosts\n"
	  "  --json             one JSON document on stdout (errors too)\n"
	  "  --strict           fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help         this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report stitch api.plw worker.plw ml.plw\n"
	  "  pylow report stitch --services api,worker *.plw\n"
	  "  pylow report stitch --trace 4bf92f3577b34da6 --json *.plw\n"
	  "  pylow report flow api.plw worker.plw ml.plw   # with the Python frames\n" },
	{ "hosts", report_hosts, "each host's clock offset, its interval, and the exchanges that bound it",
	  "usage: pylow report hosts [--json] FILE...\n"
	  "\n"
	  "Per host (recordings' hostname): how far its wall clock is ahead of the\n"
	  "first file's host (OFFSET), the interval the offset must lie in, and how\n"
	  "many matched exchanges bound it.  Each file's times are first put on its\n"
	  "wall clock from its clock references (the nearest ones); then every joined\n"
	  "request bounds the two hosts' offsets (the server cannot receive before\n"
	  "the client sends, nor the client receive the reply before the server sends\n"
	  "it); the offset is a point inside all the bounds.  A host with no exchange\n"
	  "with the others keeps offset 0, unbounded.  flow and stitch apply these\n"
	  "offsets.\n"
	  "\n"
	  "Options:\n"
	  "  --json        one JSON document on stdout (errors too)\n"
	  "  --strict      fail on a damaged file instead of reporting what is intact\n"
	  "  -h, --help    this help\n"
	  "\n"
	  "Examples:\n"
	  "  pylow report hosts a.plw b.plw c.plw\n"
	  "  pylow report hosts --json *.plw | jq '.hosts[] | {host, offset_ns}'\n" },
};
#define NR_SUBS (sizeof(subs) / sizeof(subs[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: pylow report SUBCOMMAND [options] FILE...\n\nSubcommands:\n");
	for (size_t i = 0; i < NR_SUBS; i++)
		fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
	fprintf(f,
		"\nEvery subcommand takes --json.  Several files are merged by time.\n"
		"A damaged file is reported up to where it is intact, with a warning on\n"
		"stderr (exit 0); --strict makes that an error.\n"
		"\nExamples:\n"
		"  pylow report info trace.plw\n"
		"  pylow report flow --top 3 trace.plw\n"
		"  pylow report timeline --threshold 2 trace.plw\n"
		"  pylow report graph trace.plw\n"
		"  pylow report slow --threshold 100 trace.plw\n"
		"  pylow report diff v1.2.plw v1.3.plw\n"
		"  pylow report stitch api.plw worker.plw     # requests across hosts\n"
		"\n'pylow report SUBCOMMAND --help' for its options.\n");
}

enum { OPT_JSON = 256, OPT_STRICT, OPT_TOP, OPT_ALL, OPT_LAST, OPT_MIN_MS, OPT_DEPTH,
       OPT_THRESHOLD, OPT_PID, OPT_TID, OPT_BEFORE, OPT_AFTER, OPT_BASELINE, OPT_MIN,
       OPT_NTH, OPT_SLOWEST, OPT_TRACE, OPT_SERVICES };

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "last", no_argument, NULL, OPT_LAST },
	{ "min-ms", required_argument, NULL, OPT_MIN_MS },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "before", required_argument, NULL, OPT_BEFORE },
	{ "after", required_argument, NULL, OPT_AFTER },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "min", required_argument, NULL, OPT_MIN },
	{ "nth", required_argument, NULL, OPT_NTH },
	{ "slowest", no_argument, NULL, OPT_SLOWEST },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "services", required_argument, NULL, OPT_SERVICES },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static const char *opt_name(int val)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/* which options each subcommand takes */
static bool takes(const struct sub *s, int opt)
{
	switch (opt) {
	case OPT_JSON: case OPT_STRICT: case 'h':
		return true;
	case OPT_ALL:
		return s->fn == report_flow || s->fn == report_diff;
	case OPT_TOP: case OPT_LAST: case OPT_MIN_MS: case OPT_DEPTH:
		return s->fn == report_flow;
	case OPT_THRESHOLD:
		return s->fn == report_timeline || s->fn == report_slow;
	case OPT_PID: case OPT_TID:
		return s->fn == report_timeline;
	case OPT_BEFORE: case OPT_AFTER:
		return s->fn == report_diff;
	case OPT_BASELINE:
		return s->fn == report_anomaly;
	case OPT_MIN:
		return s->fn == report_nplus1;
	case OPT_NTH: case OPT_SLOWEST:
		return s->fn == report_single;
	case OPT_TRACE: case OPT_SERVICES:
		return s->fn == report_stitch;
	}
	return false;
}

static bool json_mode;

static void fail(const char *sub, const char *msg)
{
	if (json_mode) {
		fputs("{\"error\":", stdout);
		json_string(stdout, msg);
		fputs("}\n", stdout);
		fflush(stdout);
	} else {
		fprintf(stderr, "pylow report%s%s: %s\n", sub ? " " : "", sub ? sub : "", msg);
	}
}

static int usage_err(const struct sub *s, const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	if (json_mode) {
		fail(s ? s->name : NULL, msg);
	} else {
		fprintf(stderr, "pylow report%s%s: %s; see 'pylow report %s%s--help'\n",
			s ? " " : "", s ? s->name : "", msg, s ? s->name : "", s ? " " : "");
	}
	return 2;
}

static bool parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || n > UINT32_MAX || *s == '-')
		return false;
	*v = (uint32_t)n;
	return true;
}

static bool parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e12)
		return false;
	*ns = (uint64_t)llround(v * 1e6);
	return true;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o = { .out = stdout, .mode = FLOW_TOP, .top = 10, .depth = -1,
				 .min_count = 10 };
	/* --before/--after/--baseline FILE: at most argc of each */
	static const char **lists[3];
	struct report_result res = { 0 };
	const struct sub *s = NULL;
	uint32_t u;
	int c, ret;

	json_mode = false;
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			json_mode = true;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	size_t len = strlen(argv[1]);

	for (size_t i = 0; i < NR_SUBS; i++) {
		if (strncmp(subs[i].name, argv[1], len))
			continue;
		if (s)
			return usage_err(NULL, "'%s' is ambiguous", argv[1]);
		s = &subs[i];
		if (len == strlen(s->name))
			break;
	}
	if (!s)
		return usage_err(NULL, "unknown subcommand '%s' (info, flow, timeline, graph, slow, diff, anomaly, nplus1, single, syscalls, offcpu, sched, faults, io, irq, tlb, threads, malloc, gil, exceptions, stitch, hosts)", argv[1]);
	for (int i = 0; i < 3; i++) {
		free(lists[i]);
		if (!(lists[i] = calloc((size_t)argc, sizeof(*lists[i])))) {
			fail(s->name, "out of memory");
			return 1;
		}
	}
	o.before = lists[0];
	o.after = lists[1];
	o.baseline = lists[2];

	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (c == '?')
			return usage_err(s, "unknown option '%s'", argv[optind - 1]);
		if (c == ':')
			return usage_err(s, "option '%s' needs a value", argv[optind - 1]);
		if (!takes(s, c))
			return usage_err(s, "option '--%s' does not apply here", opt_name(c));
		switch (c) {
		case 'h':
			fputs(s->usage, stdout);
			return 0;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_STRICT:
			o.strict = true;
			break;
		case OPT_TOP:
			if (!parse_u32(optarg, &o.top) || !o.top)
				return usage_err(s, "--top wants a positive number, not '%s'", optarg);
			o.mode = FLOW_TOP;
			break;
		case OPT_ALL:
			o.mode = FLOW_ALL;
			o.show_all = true;
			break;
		case OPT_LAST:
			o.mode = FLOW_LAST;
			break;
		case OPT_MIN_MS:
			if (!parse_ms(optarg, &o.min_ns))
				return usage_err(s, "--min-ms wants milliseconds (e.g. 0.5), not '%s'", optarg);
			break;
		case OPT_DEPTH:
			if (!parse_u32(optarg, &u) || u > INT32_MAX)
				return usage_err(s, "--depth wants a number of levels, not '%s'", optarg);
			o.depth = (int)u;
			break;
		case OPT_THRESHOLD:
			if (!parse_ms(optarg, &o.threshold_ns))
				return usage_err(s, "--threshold wants milliseconds (e.g. 2.5), not '%s'", optarg);
			o.has_threshold = true;
			break;
		case OPT_BEFORE:
			o.before[o.nr_before++] = optarg;
			break;
		case OPT_AFTER:
			o.after[o.nr_after++] = optarg;
			break;
		case OPT_BASELINE:
			o.baseline[o.nr_baseline++] = optarg;
			break;
		case OPT_MIN:
			if (!parse_u32(optarg, &o.min_count) || o.min_count < 2)
				return usage_err(s, "--min wants a number of calls (2 or more), not '%s'", optarg);
			break;
		case OPT_NTH:
			if (!parse_u32(optarg, &o.nth) || !o.nth)
				return usage_err(s, "--nth wants a positive number, not '%s'", optarg);
			break;
		case OPT_SLOWEST:
			o.nth = 0;
			break;
		case OPT_TRACE:
			o.trace = optarg;
			break;
		case OPT_SERVICES:
			o.services = optarg;
			break;
		case OPT_PID:
			if (!parse_u32(optarg, &o.pid))
				return usage_err(s, "--pid wants a process id, not '%s'", optarg);
			o.has_pid = true;
			break;
		case OPT_TID:
			if (!parse_u32(optarg, &o.tid))
				return usage_err(s, "--tid wants a thread id, not '%s'", optarg);
			o.has_tid = true;
			break;
		}
	}
	if (s->fn == report_slow && !o.has_threshold)
		o.threshold_ns = 200000000;
	if (s->fn == report_single) {
		if (optind >= argc)
			return usage_err(s, "no FUNC given%s", " (a function name, e.g. handle_request)");
		o.func = argv[optind++];
	}
	if (s->fn == report_diff) {
		/* BEFORE AFTER | BEFORE... -- AFTER... | --before F... --after F... */
		int sep = -1;

		for (int i = optind; i < argc; i++)
			if (!strcmp(argv[i], "--") && sep < 0)
				sep = i;
		if (o.nr_before || o.nr_after) {
			if (!o.nr_before || !o.nr_after)
				return usage_err(s, "%s", "give both --before FILE and --after FILE");
			if (optind < argc)
				return usage_err(s, "'%s': with --before and --after, no other FILE", argv[optind]);
		} else if (sep >= 0) {
			for (int i = optind; i < sep; i++)
				o.before[o.nr_before++] = argv[i];
			for (int i = sep + 1; i < argc; i++)
				o.after[o.nr_after++] = argv[i];
			if (!o.nr_before || !o.nr_after)
				return usage_err(s, "%s", "give files on both sides of '--' (BEFORE... -- AFTER...)");
		} else if (argc - optind == 2) {
			o.before[o.nr_before++] = argv[optind];
			o.after[o.nr_after++] = argv[optind + 1];
		} else {
			return usage_err(s, "%s", "give BEFORE AFTER, or BEFORE... -- AFTER..., or --before FILE --after FILE");
		}
		optind = argc;
		o.paths = o.after;
		o.nr_paths = o.nr_after;
	} else {
		if (optind >= argc)
			return usage_err(s, "no FILE given%s", " (record one with 'pylow record')");
		o.paths = (const char *const *)&argv[optind];
		o.nr_paths = (size_t)(argc - optind);
	}

	static char obuf[1 << 16];

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	ret = s->fn(&o, &res);
	fflush(stdout);
	if (ret) {
		if (res.msg[0]) {
			char msg[1200];

			snprintf(msg, sizeof(msg), "%s%s", res.msg,
				 ret == -ENOENT ? " (record one with 'pylow record')" : "");
			fail(s->name, msg);
		}
		return 1;
	}
	for (size_t i = 0; i < res.nr_warn; i++)
		fprintf(stderr, "pylow report %s: warning: %s; %s\n", s->name, res.warn[i],
			o.strict ? "failing (--strict)" : "reported what is intact");
	if (o.strict && res.nr_warn)
		return 1;
	if (ferror(stdout)) {
		fprintf(stderr, "pylow report %s: cannot write the output: %s\n", s->name, strerror(errno));
		return 1;
	}
	return 0;
}
