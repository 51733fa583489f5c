/* SPDX-License-Identifier: MIT */
/*
 * ana.h - what the statistical reports (slow, diff, anomaly, nplus1,
 * single) share: functions and call paths interned across files, and a
 * per-invocation stream of calls.
 *
 * A *function* is (kind, name, file): the same function in two recordings
 * (two releases) is one function; lines are not part of it (they move).  A
 * *path* is a function under a parent path (root: none).
 *
 * The per-invocation stream is rebuilt from the model's enter/exit hooks:
 * for every call (at any depth) on_call gets its duration, self time, flags
 * and its direct children grouped by function (count and summed time) --
 * what the model's trees merge away for non-root calls.  Kernel leaves have
 * no hooks yet and are not part of it (slow reads them from the trees).
 *
 * Library code: returns 0 or -errno, never prints.
 */
#ifndef PYLOW_REPORT_ANA_H
#define PYLOW_REPORT_ANA_H

#include "report_int.h"
#include "stats.h"

#define ANA_NONE	UINT32_MAX

struct ana_func {
	uint16_t kind;
	const char *name, *file;
	uint32_t line;			/* first line seen with an entry, 0 if none */
	uint64_t calls[2];		/* calls closed, per side */
	struct stats_samples s[2];	/* durations (ns) per side, when collected */
};

struct ana_path {
	uint32_t parent;		/* path id, ANA_NONE for a root */
	uint32_t func;
	uint32_t depth;
	struct stats_samples s[2];
};

struct ana_child {
	uint32_t func;
	uint64_t count, dur_ns;
};

struct ana_call {
	uint32_t func, path;
	uint32_t input, pid, tid, depth;
	uint32_t flags;			/* PLW_NODE_* */
	uint64_t start_ns, dur_ns, self_ns;
	const struct ana_child *kids;	/* direct children by function */
	uint32_t nr_kids;
	const struct plw_site *site;	/* the entry's site (the return's when cut at start) */
};

struct ana_thread;

struct ana {
	struct ana_func *funcs;
	uint32_t nr_funcs, funcs_cap;
	struct ana_path *paths;
	uint32_t nr_paths, paths_cap;
	int side;			/* which samples calls go to: 0 or 1 */
	bool collect;			/* keep per function and path durations */
	/* every closed call, children first; return -errno to stop */
	int (*on_call)(void *ctx, const struct ana_call *c);
	/* every entry (depth: in the thread's stack) */
	int (*on_enter)(void *ctx, const struct ana_call *c);
	void *ctx;
	/* internal */
	struct ana_map { uint64_t *keys; uint32_t *vals; size_t cap, n; } fmap, pmap, smap, tmap;
	struct ana_thread **threads;
	uint32_t nr_threads, threads_cap;
	struct source *src;
	int err;
	/* of the last run */
	struct plw_model_stats st;
};

void ana_init(struct ana *a);
void ana_free(struct ana *a);
/* Function id of SITE (interned); ANA_NONE on ENOMEM. */
uint32_t ana_func_of(struct ana *a, const struct plw_site *site);
/* Path id of FUNC under PARENT (ANA_NONE: a root); ANA_NONE on ENOMEM. */
uint32_t ana_path_of(struct ana *a, uint32_t parent, uint32_t func);
/* Runs the files PATHS (merged by time) through the model; TREES and ON_ROOT
 * as in plw_model_opts (ON_ROOT's ctx is A; A->ctx is the report's), and the call stream when A->on_call
 * or A->collect.  Damage warnings go to RES.  0 or -errno with RES set. */
int ana_run(struct ana *a, const struct report_opts *o, const char *const *paths, size_t n,
	    bool trees, bool (*on_root)(void *ctx, struct plw_tree *tree),
	    struct report_result *res);

/* Functions of PATH, root first, into V (at most MAX); returns the depth. */
size_t ana_path_funcs(const struct ana *a, uint32_t path, uint32_t *v, size_t max);
/* Writes "a → b → c" (names; kernel kinds in brackets) to F; paths deeper
 * than 8 show their first 3 and last 4 with '…' between. */
void ana_path_text(const struct ana *a, uint32_t path, FILE *f);
/* Writes the path as a JSON array of names. */
void ana_path_json(const struct ana *a, uint32_t path, struct jw *j);
/* Function name for text: "[name]" for kernel kinds, else the name. */
void ana_func_text(const struct ana_func *fn, FILE *f);
/* A JSON number (finite; %.6g) */
void ana_jw_num(struct jw *j, double v);
/* "12.345 ms" */
const char *ana_ms(double ns, char *buf, size_t len);

#endif /* PYLOW_REPORT_ANA_H */
