/* SPDX-License-Identifier: MIT */
/*
 * events.h - the one header holding the event structs shared by the BPF
 * programs (bpf/), the recorder (record/), the file format (format/) and the
 * reports (report/).
 *
 * Two layers live here:
 *
 *  1. File events (enum plw_ev): each is stored in the perf.data file as a
 *     PERF_RECORD_SAMPLE of its own PERF_TYPE_TRACEPOINT attr (system
 *     "pylow"), whose PERF_SAMPLE_RAW bytes are struct plw_common followed by
 *     the payload struct below.  The tracepoint format text that describes
 *     these payloads to perf/libtraceevent is generated from the same
 *     definitions (format/tracing.c), so `perf script` prints them by name.
 *
 *  2. Ring-buffer records (struct plw_rb_hdr + payload): what the BPF side
 *     submits to user space.  For file events the payload bytes are exactly
 *     the file payload; process lifecycle records (PLW_RB_*) become perf's
 *     native PERF_RECORD_COMM / FORK / EXIT records instead.
 *
 * All integers are native-endian (the file's header magic reveals endianness;
 * a reader refuses the other one).  Keep every payload a multiple of 4 bytes
 * with (8 + payload) % 8 == 4, so that perf's RAW field (u32 size + data)
 * needs no padding; the static asserts at the bottom enforce it.
 *
 * Must compile both as BPF C (after vmlinux.h) and as user-space C.
 */
#ifndef PYLOW_EVENTS_H
#define PYLOW_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Tracepoint ids used for pylow's own events, as attr.config and as the
 * "ID:" in the tracing-data formats.  Kept below 65536 (common_type is u16)
 * and far above the kernel's own ids. */
#define PLW_TP_ID_BASE		60000

/* File event types.  Values are stable: they are written into files. */
enum plw_ev {
	PLW_EV_PY_ENTRY = 1,	/* struct plw_py_call */
	PLW_EV_PY_RETURN = 2,	/* struct plw_py_call */
	PLW_EV_PY_LOC = 3,	/* struct plw_py_loc + strings: defines a code location id */
	PLW_EV_PY_GC_START = 4,	/* struct plw_py_gc_start */
	PLW_EV_PY_GC_DONE = 5,	/* struct plw_py_gc_done */
	PLW_EV_PY_IMPORT_START = 6, /* struct plw_py_import + string */
	PLW_EV_PY_IMPORT_DONE = 7,  /* struct plw_py_import + string */
	PLW_EV_META = 8,	/* struct plw_meta_ev + strings: key/value, in-stream metadata */
	PLW_EV_SYSCALL = 9,	/* struct plw_syscall: one completed system call */
	PLW_EV_OFFCPU = 10,	/* struct plw_offcpu: one off-CPU interval of a thread */
	PLW_EV_MAX		/* first unused; new kinds are appended */
};

/* Flags for plw_py_call.flags (source of the Python event). */
#define PLW_PYSRC_USDT		0	/* CPython's USDT probes via BPF */
#define PLW_PYSRC_AGENT		1	/* in-process agent (later) */

/* tracepoint common header, as the kernel lays it out */
struct plw_common {
	__u16 common_type;		/* PLW_TP_ID_BASE + enum plw_ev */
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;		/* thread id */
};

/*
 * A "__data_loc" field, as in kernel tracepoint formats: the low 16 bits are
 * the offset of the string from the start of the RAW data (i.e. counting the
 * common header), the high 16 bits its length including the NUL.
 */
typedef __u32 plw_data_loc;
#define PLW_DATA_LOC(off, len)	((__u32)(off) | ((__u32)(len) << 16))
#define PLW_DATA_LOC_OFF(dl)	((dl) & 0xffff)
#define PLW_DATA_LOC_LEN(dl)	((dl) >> 16)

/* PLW_EV_PY_ENTRY / PLW_EV_PY_RETURN: 4 bytes, the hot path */
struct plw_py_call {
	__u32 loc;			/* code location id, defined by an earlier PY_LOC */
};

/* PLW_EV_PY_LOC: a code location seen for the first time in a process.
 * Ids are unique within one recording (all processes). */
struct plw_py_loc {
	__u32 loc;
	__u32 line;			/* first line of the code object */
	plw_data_loc func;		/* function name, NUL-terminated */
	plw_data_loc file;		/* file name, NUL-terminated */
	/* strings follow; total padded so that (8 + payload) % 8 == 4 */
};

struct plw_py_gc_start {
	__s32 generation;
};

/* packed to 12 bytes so that (8 + payload) % 8 == 4 like the others (an
 * aligned s64 member would make it 16); read it with memcpy */
struct plw_py_gc_done {
	__s64 collected;
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* PLW_EV_PY_IMPORT_START / DONE */
struct plw_py_import {
	__s32 found;			/* DONE only; 0 for START */
	__u32 pad;
	plw_data_loc module;
	/* string follows, padded as above */
};

/* PLW_EV_META: "key" = "value", written by the recorder at the start of the
 * stream (host, kernel, clock reference, ...) so that a file cut short still
 * describes itself.  The private feature section repeats them. */
struct plw_meta_ev {		/* payload; named _ev: plw.h has struct plw_meta */
	plw_data_loc key;
	plw_data_loc value;
	__u32 pad;
	/* strings follow, padded as above */
};

/* PLW_EV_SYSCALL: one completed system call of a target thread (event group
 * "syscalls").  The sample's time is the syscall's EXIT (so that the stream
 * stays in time order however long the call blocked); it began at
 * time - dur_ns.  Syscall numbers are the recording machine's (arch in the
 * META "arch"); the META "syscall_names" (comma-separated names indexed by
 * number) names them.  Packed to 28 bytes; read with memcpy. */
struct plw_syscall {
	__u32 nr;			/* syscall number */
	__s32 fd;			/* args[0] of fd-based calls (read, write, ...), else -1 */
	__s64 ret;			/* return value (-errno on failure; bytes for I/O) */
	__u64 dur_ns;			/* entry to exit */
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* Reasons of PLW_EV_OFFCPU */
#define PLW_OFFCPU_PREEMPTED	0	/* switched out runnable (involuntary) */
#define PLW_OFFCPU_BLOCKED	1	/* switched out sleeping (voluntary) */

/* PLW_EV_OFFCPU: a target thread was off CPU (event group "sched").  Time:
 * when it was switched back in; it was switched out at time - dur_ns.
 * runq_ns is the part of dur_ns spent runnable waiting for a CPU (from the
 * wakeup, or the whole interval when preempted); dur_ns - runq_ns is the time
 * blocked.  Packed to 20 bytes. */
struct plw_offcpu {
	__u64 dur_ns;			/* switch-out to switch-in */
	__u64 runq_ns;			/* wakeup (or switch-out when preempted) to switch-in */
	__u32 reason;			/* PLW_OFFCPU_* */
} __attribute__((packed, aligned(4)));

/* Longest strings the BPF side copies; longer ones are truncated (and still
 * NUL-terminated). */
#define PLW_FUNC_MAX		128
#define PLW_FILE_MAX		256
#define PLW_MODULE_MAX		128
#define PLW_COMM_MAX		16

/* ---------------------------------------------------------------------
 * Ring buffer records (BPF -> recorder).  Never written to files as such.
 */
enum plw_rb {
	/* 1..PLW_EV_MAX-1: a file event, payload = file payload */
	PLW_RB_FORK = 100,		/* struct plw_rb_fork: process or thread created */
	PLW_RB_EXEC = 101,		/* struct plw_rb_exec */
	PLW_RB_EXIT = 102,		/* struct plw_rb_exit: thread exited */
	PLW_RB_COMM = 103,		/* struct plw_rb_comm: thread renamed */
};

struct plw_rb_hdr {
	__u64 ts;			/* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
	__u32 pid;			/* tgid */
	__u32 tid;
	__u16 type;			/* enum plw_ev or enum plw_rb */
	__u16 cpu;
	__u32 size;			/* payload bytes that follow this header */
};

struct plw_rb_fork {
	__u32 parent_pid;
	__u32 parent_tid;
	__u32 child_pid;
	__u32 child_tid;
	char comm[PLW_COMM_MAX];
};

struct plw_rb_exec {
	char comm[PLW_COMM_MAX];
	char filename[PLW_FILE_MAX];
};

struct plw_rb_exit {
	__u32 group_dead;		/* last thread: the process exited */
	__s32 exit_code;		/* task->exit_code (wait status) */
};

struct plw_rb_comm {
	char comm[PLW_COMM_MAX];
};

/* Per-CPU counters kept by BPF in an array map, read by the recorder. */
enum plw_counter {
	PLW_CNT_EVENTS = 0,		/* records submitted */
	PLW_CNT_LOST = 1,		/* ringbuf reserve failures: records dropped */
	PLW_CNT_LOC_NEW = 2,		/* code locations defined */
	PLW_CNT_FILTERED = 3,		/* events dropped by -F/-f filters */
	PLW_CNT_SWITCH_VOL = 4,		/* context switches of targets: blocked */
	PLW_CNT_SWITCH_INVOL = 5,	/* context switches of targets: preempted */
	PLW_CNT_MAX = 8
};

#ifndef __bpf__
_Static_assert(sizeof(struct plw_common) == 8, "common header");
_Static_assert((8 + sizeof(struct plw_py_call)) % 8 == 4, "py_call padding");
_Static_assert((8 + sizeof(struct plw_py_loc)) % 8 == 0, "py_loc header is 16; strings padded by writer");
_Static_assert((8 + sizeof(struct plw_py_gc_start)) % 8 == 4, "gc_start padding");
_Static_assert((8 + sizeof(struct plw_py_gc_done)) % 8 == 4, "gc_done padding");
_Static_assert(sizeof(struct plw_rb_hdr) == 24, "rb header");
_Static_assert((8 + sizeof(struct plw_syscall)) % 8 == 4, "syscall padding");
_Static_assert((8 + sizeof(struct plw_offcpu)) % 8 == 4, "offcpu padding");
#endif

#endif /* PYLOW_EVENTS_H */
