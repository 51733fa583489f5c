/* SPDX-License-Identifier: MIT */
/*
 * rec.h - internals of `pylow record`: ELF/USDT notes (usdt.c), /proc
 * targets (target.c), BPF attach (attach.c), ring buffer -> file (sink.c),
 * the flush of the per-CPU stages of Python calls (stage.c).
 * Everything here returns 0 or -errno and never prints; record.c is the only
 * layer that talks to the user.
 */
#ifndef PYLOW_REC_H
#define PYLOW_REC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/plw.h"

/* ---------------------------------------------------------- usdt.c */

struct usdt_probe {
	char provider[64];
	char name[64];
	uint64_t pc;			/* virtual address of the probe */
	uint64_t sema_addr;		/* 0: no semaphore */
	uint64_t sema_off;		/* file offset of the semaphore */
};

struct usdt_file {
	char path[PATH_MAX];
	size_t nr;
	struct usdt_probe *probes;
	bool has_note;			/* .note.stapsdt present */
	bool shared;			/* ET_DYN */
	char needed_libpython[256];	/* DT_NEEDED libpython*, "" if none */
	char runpath[PATH_MAX];		/* DT_RUNPATH or DT_RPATH */
};

/* Reads PATH's ELF: notes, dynamic section.  -ENOEXEC if not ELF. */
int usdt_file_load(const char *path, struct usdt_file **out);
void usdt_file_free(struct usdt_file *f);
const struct usdt_probe *usdt_file_probe(const struct usdt_file *f,
					 const char *provider, const char *name);
/* finds the library DT_NEEDED names with F's runpath ($ORIGIN too) and the
 * usual system directories; realpath in OUT */
int usdt_find_needed(const struct usdt_file *f, char *out, size_t len);
/* "3.11.2" from the PY_VERSION string in the binary, else major.minor from
 * a name like "python3.11" or "libpython3.11.so.1.0" */
int usdt_python_version(const char *path, char *out, size_t len);

/* ---------------------------------------------------------- target.c */

bool target_exists(int pid);
/* exists and is not a zombie */
bool target_alive(int pid);
int target_exe(int pid, char *out, size_t len);
/* realpath of the libpython*.so mapped by PID ("" and 0 if none) */
int target_libpython(int pid, char *out, size_t len);
int target_cmdline(int pid, char *out, size_t len);
int target_comm(int pid, int tid, char *out, size_t len);
int target_ppid(int pid);
/* calls CB for every thread of PID; stops at the first non-zero return */
int target_threads(int pid, int (*cb)(int pid, int tid, void *ctx), void *ctx);
/* PATH search of CMD (if no '/'), realpath in OUT; a script with a "#!"
 * line resolves to its interpreter (INTERP gets it, else ""). */
int target_resolve_cmd(const char *cmd, char *out, size_t len);
/* file owner uid of /proc/PID */
int target_uid(int pid);

/* ---------------------------------------------------------- attach.c */

struct pylow_bpf;
struct bpf_object;

/* before OBJ loads: the maps it shares with pylow.bpf.c's (shared.bpf.h:
 * rb, targets, targets_gen, counters; stage.bpf.h: stage_map) are made
 * those of PY (loaded) */
int share_maps(struct bpf_object *obj, struct pylow_bpf *py);

/* One Python binary (or libpython) the probes are attached to. */
struct py_attach {
	char path[PATH_MAX];		/* file with the probes */
	char version[32];
	bool line_sem;			/* 3.11: `line` semaphore held */
	bool pyusdt;			/* a pyusdt library, not CPython's probes */
	int nr_links;
	struct bpf_link *links[16];
};

struct manifest {
	size_t nr, cap;
	struct plw_probe *p;
};

int manifest_add(struct manifest *m, const char *group, const char *name,
		 bool attached, const char *reason);
void manifest_free(struct manifest *m);

/*
 * Checks that the Python EXE (and LIB, may be NULL/"") carries USDT probes;
 * *PROBED gets the file with them.  -ENOENT: no .note.stapsdt in either.
 */
int py_find_probes(const char *exe, const char *lib, char *probed, size_t len);
/* Attaches every Python probe of PATH with pid -1; adds manifest lines.
 * Returns the number of probes attached or -errno (nothing attached; also
 * when function__entry or function__return could not be attached). */
int py_attach(struct pylow_bpf *skel, const char *path, struct py_attach *pa,
	      struct manifest *m);
void py_detach(struct py_attach *pa);
/* a library with pyusdt:PY_START/PY_RETURN mapped by PID (path through
 * /proc/PID/root into OUT); -ENOENT if none */
int pyusdt_find(int pid, char *out, size_t len);
/* attaches pyusdt's PY_START/PY_RESUME (entry), PY_RETURN/PY_YIELD (return) */
int pyusdt_attach(struct pylow_bpf *skel, const char *path, struct py_attach *pa,
		  struct manifest *m);

/* ---------------------------------------------------------- kernel.c */

/* event groups of -e */
#define KGROUP_PYTHON		0x1
#define KGROUP_SYSCALLS		0x2
#define KGROUP_SCHED		0x4
#define KGROUP_PROBES		0x8000	/* generic probes given (record/probes.c) */
/* bits in the order of kernel.c's groups table */
#define KGROUP_FAULTS		0x8
#define KGROUP_IO		0x10
#define KGROUP_MEM		0x20	/* native.c */
#define KGROUP_GIL		0x40
#define KGROUP_EXCEPTIONS	0x80
#define KGROUP_IRQ		0x100
#define KGROUP_TLB		0x200
#define KGROUP_KG		(KGROUP_FAULTS | KGROUP_IO | KGROUP_IRQ | KGROUP_TLB)
#define KGROUP_NET		0x800	/* net.c */
#define KGROUP_DEFAULT		(KGROUP_PYTHON | KGROUP_SYSCALLS | KGROUP_SCHED | KGROUP_NET)

struct kern;

/* ORs the groups of ARG ("g1,g2") into *MASK; -EINVAL (unknown) or
 * -EOPNOTSUPP (not built yet) with a message in ERR */
int kern_parse_groups(const char *arg, unsigned *mask, char *err, size_t len);
/* opens and loads bpf/kernel.bpf.c on PY's ring buffer, targets and
 * counters (PY loaded); *K is set even on failure (kern_free it) */
int kern_load(struct kern **k, struct pylow_bpf *py, unsigned mask);
/* attaches the selected groups; manifest lines for every group */
int kern_attach(struct kern *k, struct manifest *m, char *err, size_t len);
/* its on_switch (attached) empties the per-CPU stages at every context
 * switch, as stage_switch does (stage_ticks_switch_off) */
bool kern_drains_stages(const struct kern *k);
void kern_set_running(struct kern *k, int on);
void kern_detach(struct kern *k);
void kern_free(struct kern *k);
/* the build machine's syscall names, comma-separated, indexed by number */
const char *kern_syscall_names(void);

/* ---------------------------------------------------------- kgroups.c */

/* the groups faults, io, irq, tlb (bpf/kgroups.bpf.c) */
struct kgroups;

/* 0, or -EOPNOTSUPP with WHY when this kernel lacks a tracepoint a group of
 * MASK needs */
int kg_check(unsigned mask, char *why, size_t len);
/* like kern_load, for the KGROUP_KG bits of MASK; *K is set even on failure */
int kg_load(struct kgroups **k, struct pylow_bpf *py, unsigned mask, int stacks_fd);
/* attaches; manifest lines for every tracepoint of the four groups */
int kg_attach(struct kgroups *k, struct manifest *m, char *err, size_t len);
void kg_set_running(struct kgroups *k, int on);
void kg_detach(struct kgroups *k);
void kg_free(struct kgroups *k);
/* META "irq.N" = the handlers of irq N (/sys/kernel/irq/N/actions), for
 * reports to name hard irqs; 0 or the writer's -errno */
int kg_write_irq_names(struct plw_writer *w, uint64_t ts);

/* the file's stacks: --stacks (native stacks on kernel events) */
void kern_want_stacks(void);
/* --stacks: the stack-trace map every BPF object shares (after kern_load;
 * -1 without --stacks) */
int kern_stacks_fd(const struct kern *k);
/* makes the BPF object's `stacks` map (bpf/stacks.bpf.h) that map and sets
 * its want_stacks; nothing when STACKS_FD < 0 */
#define PLW_STACKS_SHARE(skel, stacks_fd)					\
	((stacks_fd) < 0 ? 0 : ((skel)->rodata->want_stacks = 1,		\
				bpf_map__reuse_fd((skel)->maps.stacks, (stacks_fd))))
/* -e tracepoint:...: the extra attrs of the file (before plw_writer_open) */
void kern_writer_opts(struct plw_writer_opts *o);
/* META probe.N / tracepoint.ID of the generic probes (after kern_attach) */
int kern_write_meta(struct kern *k, struct plw_writer *w, uint64_t ts);
struct sink;
/* gives SINK what it needs to write this recording's records (stacks) */
int kern_setup_sink(struct kern *k, struct sink *s);

/* ---------------------------------------------------------- probes.c */

struct probes;

/* "usdt:", "uprobe:", "uretprobe:" or "tracepoint:" */
bool probes_is_spec(const char *tok);
/* parses and remembers one spec of -e (tracepoints: looked up now);
 * -errno with a message in ERR */
int probes_spec_add(const char *tok, char *err, size_t len);
int probes_count(void);
void probes_writer_opts(struct plw_writer_opts *o);
/* stack-trace map entries with --stacks (bpf/stacks.bpf.h; 512 bytes each) */
#define PLW_STACKS_ENTRIES	16384
#define PLW_STACK_BYTES		(64 * 8)	/* a stack: PLW_STACK_DEPTH u64s */
/* opens and loads bpf/probes.bpf.c on PY's maps; *P NULL when no probes.
 * STACKS_FD: kern_stacks_fd() */
int probes_load(struct probes **p, struct pylow_bpf *py, int stacks_fd);
/* resolves the binaries (short names through the first live target in
 * TARGETS_FD) and attaches; manifest lines (group "probe") */
int probes_attach(struct probes *p, int targets_fd, struct manifest *m, char *err, size_t len);
int probes_write_meta(struct plw_writer *w, uint64_t ts);
void probes_set_running(struct probes *p, int on);
void probes_detach(struct probes *p);
void probes_free(struct probes *p);

/* ---------------------------------------------------------- stacks.c */

struct stacks;

/* a stack seen for the first time: define file stack ID */
typedef int (*stacks_def_cb)(void *ctx, uint32_t pid, uint32_t id, uint32_t kind,
			     uint32_t nr, const char *frames);
/* MAP_FD: the BPF stack-trace map */
int stacks_new(struct stacks **s, int map_fd);
/* rewrites ST's map stack ids (captured in process PID) into file ids,
 * calling DEF first for stacks not defined yet; -1 stays -1 */
int stacks_map(struct stacks *s, uint32_t pid, struct plw_stack *st, stacks_def_cb def,
	       void *ctx);
/* PID exec'd: reads its maps now, while it likely lives, for the user
 * stacks to come (it may be gone when they are read) */
void stacks_note_exec(struct stacks *s, uint32_t pid);
void stacks_free(struct stacks *s);

/* ---------------------------------------------------------- native.c */

struct native;

/* opens and loads bpf/native.bpf.c on PY's maps when MASK has mem, gil or
 * exceptions; *N is set even on failure (native_free it).  STACKS_FD:
 * kern_stacks_fd() */
int native_load(struct native **n, struct pylow_bpf *py, unsigned mask, int stacks_fd);
/* mem: probes PID's libc for PID only (its threads too); ERR on failure */
int native_attach_mem(struct native *n, int pid, struct manifest *m, char *err, size_t len);
/* mem: probes the target processes not probed yet (children); returns how many */
int native_poll(struct native *n, struct manifest *m);
/* mem: PID exec'd: its probes are attached again once it maps its libc */
void native_on_exec(struct native *n, int pid);
/* gil, exceptions: probes the interpreter core of Python EXE (LIB: its
 * libpython if known, else found from EXE), once per file, pid -1.  0 when
 * EXE is not a Python; -errno with ERR set when a probe failed */
int native_attach_python(struct native *n, const char *exe, const char *lib,
			 struct manifest *m, char *err, size_t len);
/* manifest lines for the groups not selected or with nothing attached */
void native_manifest(struct native *n, unsigned mask, struct manifest *m);
void native_set_running(struct native *n, int on);
void native_detach(struct native *n);
void native_free(struct native *n);

/* ---------------------------------------------------------- net.c */

struct net;
struct plw_rb_hdr;

/* opens and loads bpf/net.bpf.c on PY's ring buffer, targets and counters
 * when ON; LABELS: copy payload heads and parse them; *N is set even on
 * failure (net_free it) */
int net_load(struct net **n, struct pylow_bpf *py, bool on, bool labels);
/* attaches the socket hooks, and libssl's SSL_read/SSL_write (of PIDS'
 * maps and the system's) when labels are on; manifest lines */
int net_attach(struct net *n, struct manifest *m, const int *pids, int nr, char *err, size_t len);
void net_set_running(struct net *n, int on);
void net_detach(struct net *n);
void net_free(struct net *n);
/* a NET_CONN or NET_DATA ring buffer record (sink.c): NET_CONN written,
 * NET_DATA parsed into NET_LABEL events; N may be NULL */
int net_record(struct net *n, struct plw_writer *w, const struct plw_rb_hdr *h,
	       const void *payload);
/*
 * A NET_DATA or NET_CONN record as it is drained (sink.c, before the sort
 * and the hold-back): a second parser sees each stream as soon as BPF copied
 * it and mutes one of no known protocol there, a flush (50+ ms) sooner than
 * net_record() could.  The labels still come from net_record(), in time
 * order.  N may be NULL.
 */
void net_scout(struct net *n, const struct plw_rb_hdr *h, const void *payload);
/* NET_DATA records BPF copied, streams muted, labels written */
void net_stats(const struct net *n, uint64_t *data, uint64_t *muted, uint64_t *labels);

/* ---------------------------------------------------------- sink.c */

struct sink;
struct ring_buffer;

/* records younger than this wait in the sink, for older ones still on
 * their way into the ring buffer (or staged per CPU in BPF) */
#define SINK_HOLD_NS	(50 * 1000000ull)

struct sink_stats {
	uint64_t records;		/* ring buffer records */
	uint64_t events;		/* file events written */
	uint64_t lost;
	uint64_t filtered;
	uint64_t locs;
	uint64_t tasks_dropped;		/* threads past the task table cap */
	/* records that came after a later one was written (more than the
	 * hold-back late): in the file out of time order */
	uint64_t late;
	unsigned live_targets;		/* processes not yet exited */
};

/* CB is called for each EXEC record of a target (to attach new Pythons) */
typedef void (*sink_exec_cb)(int pid, const char *filename, void *ctx);

int sink_new(struct sink **s, struct plw_writer *w, int counters_fd,
	     int rb_fd, sink_exec_cb exec_cb, void *ctx);
/* registers an existing process: task table entries + COMM records */
int sink_add_process(struct sink *s, int pid, uint64_t ts);
/* polls the ring buffer for up to TIMEOUT_MS, sorts and writes (all of it
 * when FINAL, else what is older than a short hold-back window) */
int sink_poll(struct sink *s, int timeout_ms, bool final);
/* one record from another source (the agent's rings, the stages): 0, or
 * -ENOSPC when the batch is now full: the record WAS added, sink_flush()
 * soon; -errno on error (not added) */
int sink_feed(struct sink *s, const struct plw_rb_hdr *h, const void *payload);
/* the batch is past its size: sink_flush() it (sink_feed said -ENOSPC) */
bool sink_batch_full(const struct sink *s);
/* Records of another source (the agent's rings) from before TS may still
 * come: flushes write nothing younger than TS (nor than the hold-back). */
void sink_set_horizon(struct sink *s, uint64_t ts);
/* the batch size that counts as full (default 32 MiB; a test hook) */
void sink_set_batch_max(struct sink *s, size_t bytes);
/* writes the batch (all of it when FINAL, else what is older than the hold-back) */
int sink_flush(struct sink *s, bool final);
/* LOST records for LOST events dropped outside BPF (the agent's rings) */
int sink_lost(struct sink *s, uint64_t now, uint64_t lost);
/* NET_CONN / NET_DATA records go to N (net.c) */
void sink_set_net(struct sink *s, struct net *n);

/* ---------------------------------------------------------- stage.c */

struct stage_ticks;
struct bpf_program;

/* A cpu-clock perf event every PLW_STAGE_TICK_NS on each online CPU; the
 * error of the first CPU that has none (e.g. -EACCES, -ENOENT). */
int stage_ticks_open(struct stage_ticks **t);
/* Runs TICK (bpf/pylow.bpf.c's stage_tick) on them, and ON_SWITCH
 * (stage_switch) on sched_switch. */
int stage_ticks_attach(struct stage_ticks *t, struct bpf_program *tick,
		       struct bpf_program *on_switch);
/* Detaches stage_switch: another program empties the stages at every
 * context switch (kern_drains_stages). */
void stage_ticks_switch_off(struct stage_ticks *t);
/* Stops and closes the events (stage_ticks_free does too). */
void stage_ticks_detach(struct stage_ticks *t);
void stage_ticks_free(struct stage_ticks *t);
/* Feeds to S what stage_map (MAP_FD) still holds on each CPU; only once
 * every program that writes it is detached. */
int stage_collect(int map_fd, struct sink *s);
/* a META "KEY" = "VALUE" at time TS, written in time order with the rest */
int sink_meta_kv(struct sink *s, uint64_t ts, const char *key, const char *value);
/* the source of the task table's processes ("usdt" unless told) */
void sink_set_default_source(struct sink *s, const char *src);
/* PID was fed by SRC (a static string); PYTHON its version if known */
int sink_set_source(struct sink *s, uint32_t pid, const char *src, const char *python);
/* reads the loss counters and writes LOST records for increases */
int sink_counters(struct sink *s, uint64_t now);
/* processes gone without an EXIT record (lost) are marked exited */
int sink_check_alive(struct sink *s);
void sink_stats(const struct sink *s, struct sink_stats *st);
/* task and loss tables for plw_meta; valid until sink_free */
void sink_meta(struct sink *s, struct plw_meta *m);
const char *sink_error(const struct sink *s);
/* STACK records get their stacks defined through STK (not owned) */
void sink_set_stacks(struct sink *s, struct stacks *stk);
/* PY_BATCH samples for Python calls/returns (default) or one sample each */
void sink_set_py_batch(struct sink *s, bool on);
void sink_free(struct sink *s);

uint64_t mono_ns(void);

#endif /* PYLOW_REC_H */
