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
	PLW_EV_FAULT = 11,	/* struct plw_fault: a user page fault (group faults) */
	PLW_EV_IO = 12,		/* struct plw_io: a block request completed (group io) */
	PLW_EV_MEM = 13,	/* struct plw_mem: malloc/calloc/realloc/free (group mem) */
	PLW_EV_GIL = 14,	/* struct plw_gil: a thread took the GIL after waiting (group gil) */
	PLW_EV_EXCEPTION = 15,	/* struct plw_exception + string: a Python exception raised */
	PLW_EV_IRQ = 16,	/* struct plw_irq: hard/soft irq time taken from a target thread */
	PLW_EV_TLB = 17,	/* struct plw_tlb: a TLB flush on a target thread's CPU */
	PLW_EV_PROBE = 18,	/* struct plw_probe_hit: a hit of a generic -e usdt:/uprobe:/uretprobe: probe */
	PLW_EV_STACK = 19,	/* struct plw_stack: native stacks of the event just before it */
	PLW_EV_STACK_DEF = 20,	/* struct plw_stack_def + string: a symbolised stack */
	PLW_EV_NET_CONN = 21,	/* struct plw_net_conn: socket connect/accept/listen/close */
	PLW_EV_NET_LABEL = 22,	/* struct plw_net_label + strings: protocol fields of a message */
	PLW_EV_PY_BATCH = 23,	/* struct plw_py_batch + columns: a thread's PY_ENTRY/PY_RETURN run */
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

/* PLW_EV_PY_BATCH: consecutive PY_ENTRY/PY_RETURN events of one thread,
 * written by the recorder instead of one sample each (FORMAT.md "Python
 * batches").  The sample's pid/tid/cpu are the events'; its time is the
 * first event's.  After this header: ops_len bytes of ops, one LEB128
 * varint per event, PLW_BATCH_OP(loc, is_return); then ts_len bytes of LEB128
 * varints, each event's time minus the previous one's (the first's minus
 * the sample's time, i.e. 0); then zero padding.  Events are in time order
 * and end no later than the next batch of the same thread begins.  Readers
 * hand out the events one by one, merged by time with the other records. */
struct plw_py_batch {
	__u32 nr;			/* events */
	__u32 ops_len;			/* bytes of the ops column */
	__u32 ts_len;			/* bytes of the time-delta column */
};
/* An op: the loc id's low 31 bits, then its top bit (set in the agent's ids,
 * PLW_AGENT_LOC_BIT), then is_return, so that BPF's and the agent's ids
 * alike take 1-2 varint bytes, not 5. */
#define PLW_BATCH_OP(loc, ret)	((((__u64)(loc) & 0x7fffffff) << 2) | \
				 (((__u64)(loc) >> 31) << 1) | !!(ret))
#define PLW_BATCH_OP_LOC(op)	((__u32)(((op) >> 2) & 0x7fffffff) | \
				 ((__u32)(((op) >> 1) & 1) << 31))

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

/* ---------------------------------------------------------------------
 * Kernel and native layer (event groups of `pylow record -e`).  Unless said
 * otherwise: pid/tid are the target thread the event belongs to; an event
 * with a duration is stamped at its END and began at time - dur_ns.
 */

/* PLW_EV_FAULT: one user page fault (exceptions:page_fault_user).  Time: the
 * fault.  Packed to 12 bytes. */
#define PLW_FAULT_WRITE		0x2	/* x86 error_code bits */
#define PLW_FAULT_USER		0x4
#define PLW_FAULT_INSTR		0x10
struct plw_fault {
	__u64 addr;			/* faulting address */
	__u32 error_code;		/* PLW_FAULT_* and the rest of the arch's code */
} __attribute__((packed, aligned(4)));

/* PLW_EV_IO: a block request issued by a target thread completed.  pid/tid:
 * the thread that issued it (block_rq_issue runs in its context, or the
 * bio's submitter when known).  Time: completion.  Packed to 28 bytes. */
#define PLW_IO_READ		0
#define PLW_IO_WRITE		1
#define PLW_IO_FLUSH		2
#define PLW_IO_DISCARD		3
#define PLW_IO_OTHER		4
#define PLW_IO_OP_MASK		0xff
#define PLW_IO_SYNC		0x100	/* flag bits above the op */
#define PLW_IO_ERROR		0x200	/* completed with an error */
struct plw_io {
	__u64 dur_ns;			/* issue to completion */
	__u64 sector;
	__u32 bytes;
	__u32 dev;			/* kernel dev_t: major << 20 | minor */
	__u32 op;			/* PLW_IO_* op | flags */
} __attribute__((packed, aligned(4)));

/* PLW_EV_MEM: one libc allocator call (uprobes on the target's libc).  Time:
 * the call's return (free: its entry).  Packed to 28 bytes. */
#define PLW_MEM_MALLOC		0
#define PLW_MEM_CALLOC		1
#define PLW_MEM_REALLOC		2
#define PLW_MEM_FREE		3
#define PLW_MEM_ALIGNED		4	/* posix_memalign, aligned_alloc, memalign */
struct plw_mem {
	__u64 addr;			/* returned (free: freed) pointer; 0 on failure */
	__u64 size;			/* bytes asked for (calloc: nmemb * size); 0 for free */
	__u64 old_addr;			/* realloc: the pointer passed in; else 0 */
	__u32 op;			/* PLW_MEM_* */
} __attribute__((packed, aligned(4)));

/* PLW_EV_GIL: a thread took the GIL after waiting wait_ns for it.  Time:
 * when it got it.  Packed to 12 bytes. */
struct plw_gil {
	__u64 wait_ns;
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* PLW_EV_EXCEPTION: a Python exception was raised (set) on a target thread;
 * the Python frame is the one running on that thread (the model's stack).
 * Time: the raise.  16-byte header, then the type name (e.g. "ValueError",
 * "mod.MyError"), padded like PY_LOC's strings. */
struct plw_exception {
	__u32 flags;			/* 0; reserved */
	plw_data_loc type;		/* exception type name, NUL-terminated */
};

/* PLW_EV_IRQ: irq time taken from a target thread (the irq ran while it
 * was current).  Time: the handler's exit.  Packed to 20 bytes. */
#define PLW_IRQ_HARD		0
#define PLW_IRQ_SOFT		1
struct plw_irq {
	__u64 dur_ns;			/* handler entry to exit */
	__u32 vec;			/* irq number (hard) or softirq vector (soft) */
	__u32 kind;			/* PLW_IRQ_* */
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* PLW_EV_TLB: a TLB flush (tlb:tlb_flush) while a target thread ran.  Time:
 * the flush.  Reasons are the kernel's enum tlb_flush_reason (5: remote
 * wrong cpu, on newer kernels).  A remote shootdown belongs to the thread
 * the IPI interrupted; a task-switch flush to the thread switched in (task
 * switches that flush nothing, pages 0, are not recorded).  12 bytes. */
#define PLW_TLB_TASK_SWITCH	0
#define PLW_TLB_REMOTE_SHOOTDOWN 1
#define PLW_TLB_LOCAL_SHOOTDOWN	2
#define PLW_TLB_LOCAL_MM_SHOOTDOWN 3
#define PLW_TLB_REMOTE_SEND_IPI	4
struct plw_tlb {
	__u32 reason;
	__u32 pages;			/* 0xffffffff: a full flush */
	__u32 pad;
};

/* PLW_EV_PROBE: a hit of generic probe number `probe` (-e usdt:..., -e
 * uprobe:..., -e uretprobe:...); the META "probe.N" holds its spec, e.g.
 * "uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:getpid".  args: the probe's
 * first nr_args arguments (uretprobe: args[0] is the return value).  Time:
 * the hit.  Packed to 60 bytes.  (Generic `-e tracepoint:SYS:NAME` events
 * are not PROBE events: they are samples of the kernel tracepoint's own
 * attr, with its format in the tracing data, as perf records them.) */
#define PLW_PROBE_ARGS_MAX	6
struct plw_probe_hit {
	__u32 probe;
	__u32 nr_args;
	__u64 args[PLW_PROBE_ARGS_MAX];
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* PLW_EV_STACK: the native stacks of the event of the same thread just
 * before it in the stream (--stacks); ids are defined by STACK_DEF events
 * earlier in the stream; -1: not captured.  12 bytes. */
struct plw_stack {
	__s32 kstack;
	__s32 ustack;
	__u32 pad;
};

/* PLW_EV_STACK_DEF: stack `id` symbolised on the recording host.  16-byte
 * header, then the frames innermost first, separated by '\n', each
 * "symbol+0xoff (module)" or "0xaddr (module)" when no symbol is known. */
#define PLW_STACK_KERNEL	0
#define PLW_STACK_USER		1
struct plw_stack_def {
	__u32 id;
	__u32 kind;			/* PLW_STACK_* */
	__u32 nr;			/* frames */
	plw_data_loc frames;
};

/* ---------------------------------------------------------------------
 * Network layer (group "net") and protocol labels.
 */

/* PLW_EV_NET_CONN: socket lifecycle of a target thread.  Addresses are in
 * network byte order; IPv4 in the first 4 bytes; ports in host order.
 * `conn` identifies the socket within the recording (socket cookie), and is
 * the same in NET_LABEL events.  CLOSE carries the bytes moved over the
 * socket's life.  Time: the call's return.  Packed to 76 bytes. */
#define PLW_NET_CONNECT		0
#define PLW_NET_ACCEPT		1
#define PLW_NET_CLOSE		2
#define PLW_NET_LISTEN		3
struct plw_net_conn {
	__u32 op;			/* PLW_NET_* */
	__s32 fd;
	__u16 family;			/* AF_INET, AF_INET6, AF_UNIX */
	__u16 lport;
	__u16 rport;
	__u16 pad0;
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 conn;
	__u64 bytes_tx;			/* CLOSE: bytes sent over the socket's life */
	__u64 bytes_rx;			/* CLOSE: bytes received */
	__u32 pad;
} __attribute__((packed, aligned(4)));

/* PLW_EV_NET_LABEL: the fields pylow keeps of one protocol message seen on a
 * connection (never the payload itself).  Time: the read/write call's
 * return (for a message split across calls: the call completing its head).
 * 48-byte header then strings, padded like PY_LOC's; a field not present is
 * an empty string. */
#define PLW_DIR_SEND		0	/* written by the target */
#define PLW_DIR_RECV		1	/* read by the target */
#define PLW_PROTO_HTTP_REQ	1	/* method, target = path (no query), host */
#define PLW_PROTO_HTTP_RESP	2	/* status */
#define PLW_PROTO_REDIS		3	/* method = command, target = first key */
#define PLW_PROTO_PG		4	/* method = first keyword, target = table */
#define PLW_LABEL_TLS		0x1	/* seen through libssl */
struct plw_net_label {
	__u64 conn;			/* as NET_CONN's; 0 unknown */
	__s32 fd;
	__u16 dir;			/* PLW_DIR_* */
	__u16 proto;			/* PLW_PROTO_* */
	__u32 status;			/* HTTP response status, else 0 */
	__u32 flags;			/* PLW_LABEL_* */
	plw_data_loc method;
	plw_data_loc target;
	plw_data_loc host;
	plw_data_loc traceparent;	/* the W3C header's value, "" if none */
};

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
	PLW_RB_RAW_TP = 104,		/* a kernel tracepoint's raw entry (record -e
					 * tracepoint:SYS:NAME): payload = the entry,
					 * common header first; written as a sample of
					 * that tracepoint's own attr */
	PLW_RB_NET_DATA = 105,		/* struct plw_rb_net_data: head of a socket read/write
					 * (group net, labels on); parsed by the recorder into
					 * NET_LABEL events, never written to the file */
	PLW_RB_PY_STAGE = 106,		/* struct plw_rb_py_stage: Python calls and returns
					 * and syscalls of one process staged on one CPU
					 * (bpf/stage.bpf.h); split by the recorder into
					 * PY_ENTRY/PY_RETURN/SYSCALL */
};

/* kernel tracepoints of -e tracepoint:SYS:NAME in one recording (extra attrs) */
#define PLW_TPS_MAX		32

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

/* PLW_RB_NET_DATA: a read/write of a target's stream socket (or, with
 * PLW_LABEL_TLS, the plaintext of an SSL_read/SSL_write) that moved `len`
 * bytes; `data` holds the first `caplen` of them (caplen <= len,
 * PLW_NET_HEAD_MAX at most).  The record's size is the header + caplen. */
#define PLW_NET_HEAD_MAX	512
#define PLW_NET_DATA_SSL_KEY	0x8000	/* flags: conn is the SSL object's address,
					 * its socket not known yet */
struct plw_rb_net_data {
	__u64 conn;			/* socket cookie; 0 unknown (TLS before any I/O) */
	__u32 len;			/* bytes the call moved */
	__u32 caplen;			/* bytes of data[] */
	__u16 dir;			/* PLW_DIR_* */
	__u16 flags;			/* PLW_LABEL_* */
	__s32 fd;			/* the syscall's fd; -1 unknown (TLS) */
	__u8 data[PLW_NET_HEAD_MAX];
};

/*
 * PLW_RB_PY_STAGE.  A ring buffer record per event costs the BPF program a
 * reserve and a submit, about a quarter of a Python call's time; instead each
 * CPU stages up to PLW_STAGE_MAX slots of one process's Python calls and
 * returns and completed syscalls in a per-CPU map value, struct
 * plw_py_stage, whose hdr + st + ev[0..nr) goes out as one record when it is
 * full, when another process's event comes, when its first event is
 * PLW_STAGE_NS old, at a context switch, and from a timer program on each
 * CPU every PLW_STAGE_TICK_NS (bpf/stage.bpf.h).  hdr: ts = first event's,
 * pid, tid 0, the CPU.  A slot's op says what it is:
 *   - a Python call: its loc id (below PLW_STAGE_SYS), | PLW_STAGE_RET for
 *     a return;
 *   - a syscall (PLW_EV_SYSCALL at ts, on tid), two slots: op = PLW_STAGE_SYS
 *     | nr | (fd + 1) << PLW_STAGE_SYS_FD_SHIFT; the next slot holds dur_ns
 *     in ts, and ret's low 32 bits in tid, its high 32 in op.  A syscall
 *     whose nr or fd does not fit, one recorded with --stacks (its stacks
 *     follow it), or one that finds the stage busy goes through the ring
 *     alone.
 */
#define PLW_STAGE_MAX		64
#define PLW_STAGE_RET		0x80000000u
#define PLW_STAGE_SYS		0x40000000u
#define PLW_STAGE_SYS_NR_MAX	1023u		/* nr: bits 0-9 */
#define PLW_STAGE_SYS_FD_SHIFT	10		/* fd + 1: bits 10-29 */
#define PLW_STAGE_SYS_FD_MAX	((1 << 20) - 1)	/* fd below this */
#define PLW_STAGE_NS		(4 * 1000000ull)
#define PLW_STAGE_TICK_NS	(10 * 1000000ull)

struct plw_rb_py_ev {
	__u64 ts;
	__u32 tid;
	__u32 op;			/* loc | PLW_STAGE_RET, or PLW_STAGE_SYS | ... */
};

struct plw_rb_py_stage {
	__u32 nr;			/* slots that follow */
	__u32 nsys;			/* syscalls among them (two slots each) */
};

/* the per-CPU map value (stage_map) */
struct plw_py_stage {
	__u32 busy;			/* 1: a program of this CPU is using it */
	__u32 pad;
	struct plw_rb_hdr hdr;		/* the record as it goes out: hdr, st, ev[0..nr) */
	struct plw_rb_py_stage st;
	struct plw_rb_py_ev ev[PLW_STAGE_MAX];
};

/* Per-CPU counters kept by BPF in an array map, read by the recorder.
 * Only what the recorder reads is counted: each count is a map lookup and
 * an atomic add on a hot path (a per-event count, 0, and the context
 * switch counts, 4 and 5, were never read, and are gone) */
enum plw_counter {
	PLW_CNT_LOST = 1,		/* ringbuf reserve failures: records dropped */
	PLW_CNT_LOC_NEW = 2,		/* code locations defined */
	PLW_CNT_FILTERED = 3,		/* events dropped by -F/-f filters */
	PLW_CNT_MAX = 8
};

#ifndef __bpf__
_Static_assert(sizeof(struct plw_common) == 8, "common header");
_Static_assert((8 + sizeof(struct plw_py_call)) % 8 == 4, "py_call padding");
_Static_assert((8 + sizeof(struct plw_py_batch)) % 8 == 4, "py_batch header padding");
_Static_assert((8 + sizeof(struct plw_py_loc)) % 8 == 0, "py_loc header is 16; strings padded by writer");
_Static_assert((8 + sizeof(struct plw_py_gc_start)) % 8 == 4, "gc_start padding");
_Static_assert((8 + sizeof(struct plw_py_gc_done)) % 8 == 4, "gc_done padding");
_Static_assert(sizeof(struct plw_rb_hdr) == 24, "rb header");
_Static_assert((8 + sizeof(struct plw_syscall)) % 8 == 4, "syscall padding");
_Static_assert((8 + sizeof(struct plw_offcpu)) % 8 == 4, "offcpu padding");
_Static_assert((8 + sizeof(struct plw_fault)) % 8 == 4 && sizeof(struct plw_fault) == 12, "fault");
_Static_assert((8 + sizeof(struct plw_io)) % 8 == 4 && sizeof(struct plw_io) == 28, "io");
_Static_assert((8 + sizeof(struct plw_mem)) % 8 == 4 && sizeof(struct plw_mem) == 28, "mem");
_Static_assert((8 + sizeof(struct plw_gil)) % 8 == 4, "gil");
_Static_assert(sizeof(struct plw_exception) == 8, "exception header is 16; strings padded by writer");
_Static_assert((8 + sizeof(struct plw_irq)) % 8 == 4 && sizeof(struct plw_irq) == 20, "irq");
_Static_assert((8 + sizeof(struct plw_tlb)) % 8 == 4, "tlb");
_Static_assert((8 + sizeof(struct plw_probe_hit)) % 8 == 4 && sizeof(struct plw_probe_hit) == 60, "probe");
_Static_assert((8 + sizeof(struct plw_stack)) % 8 == 4, "stack");
_Static_assert(sizeof(struct plw_stack_def) == 16, "stack_def header");
_Static_assert((8 + sizeof(struct plw_net_conn)) % 8 == 4 && sizeof(struct plw_net_conn) == 76, "net_conn");
_Static_assert(sizeof(struct plw_net_label) == 40, "net_label header is 48; strings padded by writer");
_Static_assert(sizeof(struct plw_rb_net_data) == 24 + PLW_NET_HEAD_MAX, "rb net_data");
#endif

#endif /* PYLOW_EVENTS_H */
