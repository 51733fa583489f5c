/* SPDX-License-Identifier: MIT */
/*
 * model.h - the event model: a time-ordered event stream in, call trees out.
 *
 * Streaming: memory is proportional to the live call depth of each thread and
 * to the number of distinct call paths of the trees being built, never to the
 * number of events.
 *
 * Per thread (input, pid, tid) the model keeps a stack of open frames.  A
 * call whose parent was not observed is a *root*; each root gets its own
 * calling-context tree (children grouped by site, with a call count and
 * summed times), built in an arena of its own.  When a root completes the
 * model calls on_root(); the callback keeps the tree (returns true, and later
 * frees it with model_tree_free) or lets the model recycle it.
 *
 * Anomalies are never dropped:
 *  - a return whose call was not observed (began before the recording, or its
 *    entry was lost) becomes a call flagged CUT_START that began at the
 *    input's recording start (empty stack: its own root) or at its parent's
 *    start (non-empty stack: a child of the open frame);
 *  - a return matching a deeper frame closes the frames above it, flagged
 *    INCOMPLETE;
 *  - frames still open at the end (or when their thread exits) are closed
 *    flagged CUT_END;
 *  - a LOST record flags every open root (and its open frames) INCOMPLETE.
 *
 * Library code: never prints, never exits.
 */
#ifndef PYLOW_REPORT_MODEL_H
#define PYLOW_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../format/plw.h"

/* What a node stands for.  Python frames have a code location; the kernel
 * kinds (to come) are leaves with a name and a count. */
enum plw_kind {
	PLW_KIND_PYTHON = 0,
	PLW_KIND_SYSCALL,
	PLW_KIND_OFFCPU,
	PLW_KIND_FAULT,
	PLW_KIND_IO,
	PLW_KIND_MEM,
	PLW_KIND_GIL,
	PLW_KIND_EXCEPTION,
	PLW_KIND_IRQ,
	PLW_KIND_TLB,
	PLW_KIND_PROBE,
	PLW_KIND_NET,			/* a client's request to another service (report/net.c) */
	PLW_KIND_SPAN,			/* a server's request span: root of a span view */
	PLW_KIND_MAX
};
const char *plw_kind_name(enum plw_kind kind);

/* Node flags */
#define PLW_NODE_CUT_START	0x1	/* its call began before what was recorded */
#define PLW_NODE_CUT_END	0x2	/* still running when the recording (or thread) ended */
#define PLW_NODE_INCOMPLETE	0x4	/* events may be missing (lost, mismatched return) */
#define PLW_NODE_SPANS		0x8	/* a root in which span views were taken */

/* A site: what nodes are grouped by.  Interned by the model, so two nodes
 * are the same call site exactly when their site pointers are equal. */
struct plw_site {
	uint16_t kind;			/* enum plw_kind */
	uint32_t input;			/* file it came from */
	uint32_t loc;			/* Python: code location id within INPUT */
	uint32_t line;
	const char *name;		/* function name, or kernel event name */
	const char *file;		/* "" when unknown */
	/* the first site of INPUT with the same name and file: CPython's
	 * function__return passes the line being executed, not the first
	 * line, so a return is matched to its entry by this identity */
	const struct plw_site *ident;
	/* on an ident: the first site of that identity with a line (an
	 * entry's), shown for calls cut at start; NULL if none yet */
	const struct plw_site *entry;
	/* on an ident, kept by the model: frames of that identity open on
	 * any thread's stack.  A return whose identity has none is known
	 * unmatched without scanning the stack (report/model.c on_return) */
	uint32_t open;
};

struct plw_node {
	const struct plw_site *site;
	struct plw_node *parent;
	struct plw_node *child;		/* first child; siblings in order of first appearance */
	struct plw_node *last;		/* last child */
	struct plw_node *next;		/* next sibling */
	struct plw_node **tab;		/* children by site, once a node has many */
	uint32_t nr_children, tab_cap;
	uint32_t input, pid, tid;
	uint32_t flags;			/* PLW_NODE_* */
	uint64_t start_ns;		/* first call's start */
	uint64_t dur_ns;		/* inclusive, summed over count calls */
	uint64_t self_ns;		/* dur_ns minus the children's, summed */
	uint64_t count;			/* calls closed into this node */
	uint64_t bytes;			/* syscall leaves: summed non-negative returns of
					 * byte-moving calls (read, write, ...) */
	uint64_t max_ns;		/* kernel leaves: longest single event */
	uint32_t fd1;			/* syscall leaves: fd + 1 of every call, 0 none,
					 * PLW_FD_MIXED when they differ */
};
#define PLW_FD_MIXED	0xffffffffu

struct plw_arena;

/* Trees are at most this deep: deeper calls are timed in the deepest node,
 * which is flagged INCOMPLETE (bounds recursion when printing). */
#define PLW_TREE_DEPTH_MAX	4096

/* One root call and everything below it. */
struct plw_tree {
	struct plw_node *root;
	struct plw_arena *arena;	/* owns the tree and its nodes */
	uint64_t seq;			/* completion order, from 0 */
};

/* Details of a kernel leaf event (on_leaf, and the syscall/sched reports). */
struct plw_leaf_info {
	enum plw_kind kind;		/* SYSCALL, OFFCPU, FAULT, IO, IRQ or TLB */
	const char *name;		/* syscall name ("syscall_N" unknown), or "blocked"/"preempted" */
	uint32_t nr;			/* syscall number */
	int32_t fd;			/* -1: none */
	int64_t ret;
	uint64_t bytes;			/* ret of byte-moving calls when >= 0, else 0 */
	uint64_t runq_ns;		/* OFFCPU: part spent runnable */
	uint32_t reason;		/* OFFCPU: PLW_OFFCPU_* */
	/* the event itself: MEM, GIL, EXCEPTION (u.mem, u.gil, u.exc), PROBE,
	 * and kernel tracepoint samples (PLW_REC_OTHER); NULL for others */
	const struct plw_event *ev;
	/* the Python frame it fell under (NULL: none open), and its parents
	 * up to the root: stack[0] is the root, stack[depth-1] the frame */
	const struct plw_site *const *stack;
	uint32_t depth;
	/* FAULT, IO, IRQ, TLB: the event's fields (bytes above for IO) */
	uint64_t addr;			/* FAULT: faulting address */
	uint32_t error_code;		/* FAULT: PLW_FAULT_* bits */
	uint32_t io_op;			/* IO: PLW_IO_* op | flags */
	uint32_t dev;			/* IO: kernel dev_t */
	uint64_t sector;		/* IO */
	uint32_t vec, irq_kind;		/* IRQ: irq or softirq vector, PLW_IRQ_* */
	uint32_t tlb_reason, pages;	/* TLB: PLW_TLB_*, pages (0xffffffff: all) */
	/* record --stacks: native stacks of the event, as file stack id + 1
	 * (0: none; frames from plw_model_stack()); OFFCPU only (a syscall's
	 * come after it through on_stack) */
	uint32_t kstack1, ustack1;
};

/* Names of the kernel leaves of the groups faults, io, irq, tlb (the
 * site's name): "page_fault"; "block_read", "block_write", ...; "softirq
 * NET_RX", "hardirq 24"; "remote shootdown", "task switch", ... */
const char *plw_io_op_name(uint32_t op);		/* "read", "write", ... */
const char *plw_softirq_name(uint32_t vec);		/* "NET_RX", ...; NULL unknown */
const char *plw_tlb_reason_name(uint32_t reason);	/* "remote shootdown", ...; NULL unknown */

/* Per-call hooks for streaming reports (timeline).  DEPTH is the frame's
 * depth in its thread's observed stack (0 = root). */
struct plw_call_info {
	const struct plw_site *site;
	uint32_t input, pid, tid;
	uint32_t depth;
	uint32_t flags;			/* PLW_NODE_* (exit only) */
	uint64_t ts;			/* the event's time */
	uint64_t start_ns, dur_ns;	/* exit only */
};

struct plw_model_opts {
	bool trees;			/* build trees (flow, graph); false: hooks only */
	/* kernel events (syscalls, off-CPU) become leaves of the trees and take
	 * their time from the frames' self time; false: they only reach on_leaf
	 * (the Python-only analyses: slow, anomaly, diff, nplus1, single) */
	bool kernel_leaves;
	/* a root completed; return true to keep TREE (free it with model_tree_free) */
	bool (*on_root)(void *ctx, struct plw_tree *tree);
	void (*on_enter)(void *ctx, const struct plw_call_info *ci);
	void (*on_exit)(void *ctx, const struct plw_call_info *ci);
	/* a kernel leaf (syscall, off-CPU) on a thread; DEPTH is that of the
	 * frame it falls under + 1 (+ 2 for an off-CPU interval inside a
	 * syscall: given right after that syscall); start_ns/dur_ns its
	 * interval.  LI has the event's details. */
	void (*on_leaf)(void *ctx, const struct plw_call_info *ci,
			const struct plw_leaf_info *li);
	/* record --stacks: the native stacks (file stack id + 1, 0 none) of
	 * the kernel leaf given last to on_leaf on that thread (CI: that leaf)
	 * when they come after it (syscalls); may be NULL */
	void (*on_stack)(void *ctx, const struct plw_call_info *ci, uint32_t kstack1,
			 uint32_t ustack1);
	/* code location not defined in the stream (e.g. only in the feature
	 * section); may be NULL or return NULL */
	const struct plw_loc *(*resolve)(void *ctx, uint32_t input, uint32_t loc);
	void *ctx;
};

struct plw_model_stats {
	uint64_t events;		/* events fed */
	uint64_t calls;			/* entries */
	uint64_t returns;
	uint64_t roots;			/* root trees completed */
	uint64_t lost;			/* samples lost (sum of LOST records) */
	uint64_t cut_start, cut_end, incomplete;	/* calls closed so flagged */
	uint64_t first_ts, last_ts;	/* over all events fed (0 if none) */
	uint64_t spans;			/* span views completed (not counted in roots) */
};

struct plw_model;

int plw_model_new(struct plw_model **m, const struct plw_model_opts *opts);
/* Start of INPUT's recording: where calls cut at the start begin.  Default:
 * the first event fed from INPUT. */
void plw_model_set_start(struct plw_model *m, uint32_t input, uint64_t ts);
/* Feeds one event (in time order).  0 or -errno (-ENOMEM). */
int plw_model_feed(struct plw_model *m, uint32_t input, const struct plw_event *ev);
/* Closes every open frame as CUT_END at END_NS (0: the last event's time),
 * emitting the remaining roots.  Call once, after the last event. */
int plw_model_finish(struct plw_model *m, uint64_t end_ns);
const struct plw_model_stats *plw_model_stats(const struct plw_model *m);
/* Site of a Python code location (interned; NULL on ENOMEM). */
const struct plw_site *plw_model_site(struct plw_model *m, uint32_t input, uint32_t loc);
void plw_model_free(struct plw_model *m);

/* Kernel (non-Python) events: a site per (KIND, NAME), interned; NULL on
 * ENOMEM.  Its file is "" and line 0. */
const struct plw_site *plw_model_site_named(struct plw_model *m, enum plw_kind kind,
					    const char *name);
/* A leaf event on a thread: under its open frame (count +1, DUR added to the
 * leaf and taken from the frame's self time), or a root of its own when no
 * frame is open.  DUR may be 0 (count-only events).  0 or -ENOMEM. */
int plw_model_leaf(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
		   const struct plw_site *site, uint64_t start, uint64_t dur);

/* Like plw_model_site_named, but on creation the site's loc is set to ID
 * (the caller's own identifier; later calls do not change it). */
const struct plw_site *plw_model_site_named_id(struct plw_model *m, enum plw_kind kind,
					       const char *name, uint32_t id);
/* A site of its own (not interned, never grouped with another): KIND, NAME,
 * INPUT, loc = ID.  NULL on ENOMEM. */
const struct plw_site *plw_model_site_unique(struct plw_model *m, enum plw_kind kind,
					     const char *name, uint32_t input, uint32_t id);

/* An interval on a thread that may span frames (a network call: sent in one
 * frame, answered in another).  plw_model_mark at its start; then
 * plw_model_leaf_marked puts the leaf under the innermost frame open all
 * along since the mark (the calling frame; a root of its own when none
 * was), its time taken from that frame's self time like a kernel leaf's,
 * and in the span view too.  One mark per thread: a later mark restarts
 * it.  0 or -ENOMEM. */
void plw_model_mark(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid);
int plw_model_leaf_marked(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
			  const struct plw_site *site, uint64_t start, uint64_t dur);

/*
 * Span views (server request spans, report/net.c).  A span begins on a
 * thread at START (e.g. a request read) and ends at END (its response
 * written).  Its tree is a second view of the thread's calls: a root node
 * for SITE (kind PLW_KIND_SPAN, dur_ns = END - START) whose children are the
 * calls entered on the thread while the span was open, with everything below
 * them, and the leaves (kernel events, plw_model_leaf) that fell directly in
 * the span.  The calls stay in the thread's own tree as well.  The view is
 * handed to on_root once the span ended and the calls it holds returned
 * (counted in stats.spans, not in roots).  A span begun while the thread's
 * previous one is still held hands the previous over flagged INCOMPLETE; one
 * never ended is handed over at the thread's end flagged CUT_END.
 * 0 or -ENOMEM.
 */
int plw_model_span_begin(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
			 const struct plw_site *site, uint64_t start);
int plw_model_span_end(struct plw_model *m, uint32_t input, uint32_t pid, uint32_t tid,
		       uint64_t end);

/* Name of syscall NR of INPUT, from the file's META "syscall_names" (fed
 * through plw_model_feed); "syscall_NR" in BUF when the file has none. */
const char *plw_model_syscall_name(struct plw_model *m, uint32_t input, uint32_t nr,
				   char *buf, size_t len);
/* true for syscalls that move bytes (read, write, pread64, recvfrom, ...):
 * their non-negative return is a byte count */
bool plw_syscall_moves_bytes(const char *name);
/* true for syscalls that wait for something (epoll_wait, poll, futex,
 * nanosleep, ...): long ones are shown as "waiting (NAME)" */
bool plw_syscall_waits(const char *name);

/* The bottleneck of ROOT's tree: the node with the largest self time on the
 * slowest path (the child with the largest inclusive time at each level,
 * ROOT included) or among the kernel leaves hanging off that path (and the
 * off-CPU intervals nested in them); an off-CPU interval nested in a syscall
 * gives way to that syscall.  NULL when ROOT has no children. */
const struct plw_node *plw_tree_bottleneck(const struct plw_node *root);
/* The same over trees joined to others: GRAFT(n) (NULL: none) is where the
 * slowest path may go on from N besides its children (a joined call's server
 * span), OWN(n) N's own time instead of its self_ns (a joined call's: the
 * part its server span does not explain).  OPS or either hook may be NULL. */
struct plw_bottleneck_ops {
	const struct plw_node *(*graft)(const struct plw_node *n);
	uint64_t (*own)(const struct plw_node *n);
};
const struct plw_node *plw_tree_bottleneck_ops(const struct plw_node *root,
					       const struct plw_bottleneck_ops *ops);

/* record --stacks: frames of stack ID of INPUT ('\n'-separated,
 * innermost first, "symbol+0xoff (module)"), NULL if not defined; *KIND
 * (may be NULL) gets PLW_STACK_KERNEL or PLW_STACK_USER.  Generic probes:
 * the name of probe PROBE of INPUT ("uprobe libc:getppid"), of its kind
 * ("uprobe", NULL if unknown). */
const char *plw_model_stack(const struct plw_model *m, uint32_t input, uint32_t id,
			    uint32_t *kind);
const char *plw_model_probe_name(const struct plw_model *m, uint32_t input, uint32_t probe,
				 char *buf, size_t len);
const char *plw_model_probe_kind(const struct plw_model *m, uint32_t input, uint32_t probe);

/* Trees kept by on_root; accepts NULL.  M must still exist (arenas are
 * recycled through it). */
void plw_model_tree_free(struct plw_model *m, struct plw_tree *tree);

/* ------------------------------------------------------------- helpers */

/* Child of PARENT for SITE, or NULL. */
struct plw_node *plw_node_find(const struct plw_node *parent, const struct plw_site *site);
/* Child of PARENT for SITE, created (zeroed but for site/parent) in ARENA
 * when missing; NULL on ENOMEM. */
struct plw_node *plw_node_get(struct plw_arena *arena, struct plw_node *parent,
			      const struct plw_site *site);

/* A compact read-only copy of the tree under ROOT in one malloc'd block
 * (free() it); sites are shared with the model.  NULL on ENOMEM. */
struct plw_node *plw_node_clone(const struct plw_node *root);

/* Arena: bump allocation in blocks, freed at once. */
struct plw_arena *plw_arena_new(void);
void *plw_arena_alloc(struct plw_arena *a, size_t size);	/* zeroed; NULL on ENOMEM */
void plw_arena_reset(struct plw_arena *a);	/* keeps the first block */
void plw_arena_free(struct plw_arena *a);
size_t plw_arena_bytes(const struct plw_arena *a);

#endif /* PYLOW_REPORT_MODEL_H */
