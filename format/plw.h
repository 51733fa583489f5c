/* SPDX-License-Identifier: MIT */
/*
 * plw.h - pylow's file format library: write and read perf.data files with
 * zstd-compressed chunks.  See format/FORMAT.md.
 *
 * Library rules: functions return 0 (or a count) on success and -errno on
 * failure; they never print or exit.  On failure, a one-line explanation is
 * available from plw_writer_error() / plw_reader_error().
 *
 * plw_writer_open() / plw_reader_open*() failing may still set *W / *R to an
 * object that only carries the error message: always call
 * plw_writer_free() / plw_reader_free() (both accept NULL).
 */
#ifndef PYLOW_PLW_H
#define PYLOW_PLW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "events.h"

#define PLW_FORMAT_VERSION	1	/* version of the private feature section */
#define PLW_FEAT_PYLOW		250	/* feature bit of pylow's private section */

/* ------------------------------------------------------------------ meta */

/* One code location (function in a file). */
struct plw_loc {
	uint32_t id;
	uint32_t line;
	uint32_t pid;		/* process it was first seen in (0 = unknown) */
	const char *func;
	const char *file;
};

/* One process or thread as known at the end of the recording. */
struct plw_task {
	uint32_t pid, tid, ppid;
	uint64_t start_ns, end_ns;	/* 0 = before/after the recording */
	char comm[16];
	const char *exe;		/* may be NULL */
	const char *cmdline;		/* args joined by spaces; may be NULL */
	const char *python;		/* e.g. "3.11.2"; may be NULL */
	const char *source;		/* "usdt", "agent", NULL */
};

/* One line of the probe manifest: what was asked for, and what happened. */
struct plw_probe {
	const char *group;		/* "python", "proc", ... */
	const char *name;		/* e.g. "usdt:/usr/bin/python3.11:python:function__entry" */
	bool attached;
	const char *reason;		/* why not attached (NULL when attached) */
};

/* Loss in one time window on one cpu. */
struct plw_loss {
	uint32_t cpu;
	uint64_t start_ns, end_ns;
	uint64_t lost;
};

/* Everything the file says about itself besides the event stream. */
struct plw_meta {
	const char *hostname;
	const char *osrelease;
	const char *arch;
	const char *cmdline;		/* pylow's own command line */
	uint32_t nr_cpus_online, nr_cpus_avail;
	/* clock reference: CLOCK_REALTIME and CLOCK_MONOTONIC read back to back */
	uint64_t tod_ns, mono_ns;
	uint64_t start_ns, end_ns;	/* first and last event (monotonic) */
	/* private section */
	size_t nr_locs;
	struct plw_loc *locs;
	size_t nr_tasks;
	struct plw_task *tasks;
	size_t nr_probes;
	struct plw_probe *probes;
	size_t nr_losses;
	struct plw_loss *losses;
	uint64_t events_by_type[PLW_EV_MAX];
	uint64_t lost_total;
	bool finished;			/* false: written by a recorder that did not finish */
	bool truncated;			/* finished, then cut short (a copy, a full disk) */
	/* host identity (in-stream META and private section); NULL unknown */
	const char *machine_id;		/* /etc/machine-id */
	const char *boot_id;		/* /proc/sys/kernel/random/boot_id */
};

/* ---------------------------------------------------------------- writer */

struct plw_writer;

/* opts == NULL: all defaults.  Otherwise 0 fields take their default, except
 * keep_old which is used as given. */
struct plw_writer_opts {
	int zstd_level;			/* default 3 */
	size_t chunk_bytes;		/* uncompressed bytes per chunk; default 256 KiB (<= mmap_len) */
	bool keep_old;			/* rename an existing file to FILE.old at finish (default true) */
	/* kernel tracepoints recorded as perf records them (record -e
	 * tracepoint:SYS:NAME): one extra attr each, after pylow's own, and
	 * their formats in the tracing data (FORMAT.md "Kernel tracepoints") */
	const struct plw_tp_attr *tps;
	size_t nr_tps;
};

/* One kernel tracepoint of plw_writer_opts.tps (strings copied at open). */
struct plw_tp_attr {
	const char *system;		/* "sched" */
	const char *name;		/* "sched_process_fork" */
	uint32_t id;			/* the kernel's id: attr.config and common_type */
	const char *format;		/* tracefs "format" text, incl. "name:" and "ID:" lines */
};

/*
 * Creates PATH.partial (mode 0600, O_EXCL|O_NOFOLLOW), writes the header and
 * attrs for every file event type, and returns a writer.  Nothing is visible
 * under PATH until plw_writer_finish().
 */
int plw_writer_open(struct plw_writer **w, const char *path,
		    const struct plw_writer_opts *opts);

/* Appends one file event.  PAYLOAD is the bytes after struct plw_common
 * (variable-size events: the writer pads).  Buffered; compressed and written
 * in chunks. */
int plw_writer_event(struct plw_writer *w, enum plw_ev type, uint32_t pid,
		     uint32_t tid, uint64_t ts, uint32_t cpu,
		     const void *payload, uint32_t len);

/* Convenience builders for the variable-size events. */
int plw_writer_loc(struct plw_writer *w, uint32_t pid, uint32_t tid,
		   uint64_t ts, uint32_t cpu, uint32_t loc, uint32_t line,
		   const char *func, const char *file);
int plw_writer_meta(struct plw_writer *w, uint64_t ts, const char *key,
		    const char *value);
/* Added: IMPORT_START (done=false) / IMPORT_DONE event. */
int plw_writer_import(struct plw_writer *w, uint32_t pid, uint32_t tid,
		      uint64_t ts, uint32_t cpu, bool done, const char *module,
		      int32_t found);
/* String-carrying events (strings copied, truncated to the writer's limit;
 * NULL is ""): PLW_EV_EXCEPTION, PLW_EV_STACK_DEF, PLW_EV_NET_LABEL (L's
 * data_loc fields are filled in). */
int plw_writer_exception(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const char *type);
int plw_writer_stack_def(struct plw_writer *w, uint32_t pid, uint64_t ts,
			 uint32_t id, uint32_t kind, uint32_t nr, const char *frames);
int plw_writer_net_label(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const struct plw_net_label *l,
			 const char *method, const char *target, const char *host,
			 const char *traceparent);

/* One Python call or return given to plw_writer_py_batch(). */
struct plw_py_ev {
	uint64_t ts;
	uint32_t loc;
	uint32_t ret;			/* 0 PY_ENTRY, 1 PY_RETURN */
};

/*
 * Writes EV[0..N) of thread TID as PY_BATCH samples (FORMAT.md "Python
 * batches") at EV[0]'s time: as many events as one record holds, and
 * never past an event whose time goes backwards.  *TAKEN = how many were
 * written (>= 1 when N >= 1); the caller writes the rest later, at their
 * own time.  Counted as N PY_ENTRY/PY_RETURN events.
 */
int plw_writer_py_batch(struct plw_writer *w, uint32_t pid, uint32_t tid,
			uint32_t cpu, const struct plw_py_ev *ev, size_t n,
			size_t *taken);

/* A sample of a kernel tracepoint given in opts.tps: RAW is the trace
 * entry as the kernel wrote it (common header first; its common_type picks
 * the attr).  -ENOENT when no attr has that id. */
int plw_writer_tp_sample(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const void *raw, uint32_t len);

/* Added: the standard in-stream META records (FORMAT.md "In-stream
 * metadata") from the non-NULL/non-zero fields of META: hostname, osrelease,
 * arch, cmdline, nr_cpus_online, nr_cpus_avail, tod_ns, mono_ns.  Call it
 * right after plw_writer_open() so that a file cut short describes itself. */
int plw_writer_meta_all(struct plw_writer *w, uint64_t ts,
			const struct plw_meta *meta);

/* perf-native process records */
int plw_writer_comm(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint64_t ts, const char *comm, bool exec);
int plw_writer_fork(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint32_t ppid, uint32_t ptid, uint64_t ts);
int plw_writer_exit(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint32_t ppid, uint32_t ptid, uint64_t ts);
/* PERF_RECORD_LOST_SAMPLES for CPU at time TS */
int plw_writer_lost(struct plw_writer *w, uint32_t cpu, uint64_t ts,
		    uint64_t lost);

/* Compresses and writes what is buffered; called at least once a second by
 * the recorder so that a killed recorder loses at most the last second. */
int plw_writer_flush(struct plw_writer *w);

/* Bytes written so far (compressed, on disk) and events accepted. */
uint64_t plw_writer_bytes(const struct plw_writer *w);
uint64_t plw_writer_events(const struct plw_writer *w);

/*
 * Flushes, writes the feature sections (META must outlive the call), fixes
 * the header, fsyncs, and renames PATH.partial to PATH (an existing PATH is
 * first renamed to PATH.old).
 */
int plw_writer_finish(struct plw_writer *w, const struct plw_meta *meta);

/* Frees; if not finished, the PATH.partial file is left as it is (it is
 * readable up to its last whole chunk). Accepts NULL. */
void plw_writer_free(struct plw_writer *w);

const char *plw_writer_error(const struct plw_writer *w);

/* ---------------------------------------------------------------- reader */

struct plw_reader;

/* Reader-level kinds beyond enum plw_ev */
enum plw_rec {
	PLW_REC_COMM = 200,	/* comm, exec */
	PLW_REC_FORK = 201,	/* ppid/ptid -> pid/tid */
	PLW_REC_EXIT = 202,
	PLW_REC_LOST = 203,	/* lost samples on cpu at ts */
	PLW_REC_OTHER = 204,	/* a sample of an attr pylow does not model (perf's own files) */
};

struct plw_event {
	uint16_t type;		/* enum plw_ev or enum plw_rec */
	uint16_t cpu;
	uint32_t pid, tid;
	uint64_t ts;		/* monotonic ns (the file's clock) */
	const void *payload;	/* file events: bytes after plw_common; valid until next call */
	uint32_t len;
	union {
		struct { uint32_t loc; } py;		/* PY_ENTRY, PY_RETURN */
		struct plw_loc loc;			/* PY_LOC (strings point into payload) */
		struct { const char *comm; bool exec; } comm;
		struct { uint32_t ppid, ptid; } fork;	/* FORK, EXIT */
		struct { uint64_t lost; } lost;
		struct { const char *key, *value; } meta;
		struct { int64_t value; } gc;		/* gen for START, collected for DONE */
		struct { const char *module; int32_t found; } import;
		struct { uint64_t attr_config; uint32_t attr_type; } other;
		struct { uint32_t nr; int32_t fd; int64_t ret; uint64_t dur_ns; } sys;	/* SYSCALL */
		struct { uint64_t dur_ns, runq_ns; uint32_t reason; } off;	/* OFFCPU */
		struct { uint64_t addr; uint32_t error_code; } fault;	/* FAULT */
		struct { uint64_t dur_ns, sector; uint32_t bytes, dev, op; } io;	/* IO */
		struct { uint64_t addr, size, old_addr; uint32_t op; } mem;	/* MEM */
		struct { uint64_t wait_ns; } gil;		/* GIL */
		struct { const char *type; } exc;		/* EXCEPTION */
		struct { uint64_t dur_ns; uint32_t vec, kind; } irq;	/* IRQ */
		struct { uint32_t reason, pages; } tlb;		/* TLB */
		struct { uint32_t probe, nr_args; uint64_t args[PLW_PROBE_ARGS_MAX]; } probe; /* PROBE */
		struct { int32_t kstack, ustack; } stack;	/* STACK */
		struct { uint32_t id, kind, nr; const char *frames; } stack_def; /* STACK_DEF */
		struct plw_net_conn conn;			/* NET_CONN (a copy) */
		struct {				/* NET_LABEL */
			uint64_t conn; int32_t fd; uint16_t dir, proto;
			uint32_t status, flags;
			const char *method, *target, *host, *traceparent;
		} label;
	} u;
};

#define PLW_READ_SALVAGE	0x1	/* report what is intact before damage instead of failing */

int plw_reader_open(struct plw_reader **r, const char *path, unsigned flags);
/* Same, over a caller-owned buffer (used by the fuzzer and unit tests). */
int plw_reader_open_mem(struct plw_reader **r, const void *buf, size_t size,
			unsigned flags);

/* Meta from the header and feature sections (and, for files cut short,
 * from in-stream META/LOC/COMM records seen so far). Valid until free. */
const struct plw_meta *plw_reader_meta(const struct plw_reader *r);

/*
 * Next event in file order, except that the calls and returns of a PY_BATCH
 * sample come one by one as PY_ENTRY/PY_RETURN events, each at its time
 * among the records that follow the batch (FORMAT.md "Python batches");
 * PY_BATCH itself never comes out.  Returns 1 with *EV filled, 0 at the end, or
 * -errno on damage (then plw_reader_error() says what and where; with
 * PLW_READ_SALVAGE the damage is remembered, 0 is returned, and
 * plw_reader_damage() describes it).
 */
int plw_reader_next(struct plw_reader *r, struct plw_event *ev);

/* The HEADER_TRACING_DATA feature section as written (perf's layout:
 * header page, formats per system, ...), for libtraceevent; NULL (and *LEN
 * 0) when the file has none.  Valid until free. */
const void *plw_reader_tracing_data(const struct plw_reader *r, size_t *len);

/* Code location by id, from PY_LOC records seen so far or the feature
 * section; NULL if unknown. */
const struct plw_loc *plw_reader_loc(const struct plw_reader *r, uint32_t id);

/* NULL if the file was intact; else a one-line description of the damage
 * and the last complete timestamp is in *complete_until_ns. */
const char *plw_reader_damage(const struct plw_reader *r,
			      uint64_t *complete_until_ns);

const char *plw_reader_error(const struct plw_reader *r);
void plw_reader_free(struct plw_reader *r);

#endif /* PYLOW_PLW_H */
