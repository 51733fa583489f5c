/* SPDX-License-Identifier: MIT */
/*
 * report_int.h - what the report subcommands share: options, the input
 * source (merge + damage collection), a JSON writer and formatting helpers.
 *
 * Report functions write to o->out, return 0 or -errno, and on failure leave
 * a one-line message in res->err; they never print to stderr or exit.
 */
#ifndef PYLOW_REPORT_INT_H
#define PYLOW_REPORT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../merge/merge.h"
#include "model.h"

enum flow_mode { FLOW_TOP, FLOW_ALL, FLOW_LAST };

struct report_opts {
	FILE *out;
	bool json;
	bool strict;			/* damaged file: fail instead of salvaging */
	const char *const *paths;
	size_t nr_paths;
	/* flow */
	enum flow_mode mode;
	unsigned top;
	uint64_t min_ns;
	int depth;			/* -1: unlimited */
	/* timeline */
	uint64_t threshold_ns;		/* 0: none */
	bool has_pid, has_tid;
	uint32_t pid, tid;
	/* slow (threshold_ns), diff, anomaly, nplus1, single */
	bool has_threshold;
	bool show_all;			/* diff --all */
	const char **before, **after, **baseline;	/* diff, anomaly --baseline */
	size_t nr_before, nr_after, nr_baseline;
	uint32_t min_count;		/* nplus1 --min */
	uint32_t nth;			/* single --nth (0: --slowest) */
	const char *func;		/* single */
	const char *trace;		/* stitch --trace */
	const char *services;		/* stitch --services a,b */
};

#define REPORT_MAX_WARN	8

struct report_result {
	int err;			/* -errno of the failure */
	char msg[1024];			/* the failure, one line */
	size_t nr_warn;
	char warn[REPORT_MAX_WARN][512];	/* damage, one line each */
};

int report_info(const struct report_opts *o, struct report_result *res);
int report_flow(const struct report_opts *o, struct report_result *res);
int report_timeline(const struct report_opts *o, struct report_result *res);
int report_graph(const struct report_opts *o, struct report_result *res);
int report_slow(const struct report_opts *o, struct report_result *res);
int report_diff(const struct report_opts *o, struct report_result *res);
int report_anomaly(const struct report_opts *o, struct report_result *res);
int report_nplus1(const struct report_opts *o, struct report_result *res);
int report_single(const struct report_opts *o, struct report_result *res);
int report_syscalls(const struct report_opts *o, struct report_result *res);
int report_offcpu(const struct report_opts *o, struct report_result *res);
int report_sched(const struct report_opts *o, struct report_result *res);
int report_faults(const struct report_opts *o, struct report_result *res);
int report_io(const struct report_opts *o, struct report_result *res);
int report_irq(const struct report_opts *o, struct report_result *res);
int report_tlb(const struct report_opts *o, struct report_result *res);
int report_threads(const struct report_opts *o, struct report_result *res);
int report_malloc(const struct report_opts *o, struct report_result *res);
int report_gil(const struct report_opts *o, struct report_result *res);
int report_exceptions(const struct report_opts *o, struct report_result *res);
int report_hosts(const struct report_opts *o, struct report_result *res);	/* stitch.c */
int report_stitch(const struct report_opts *o, struct report_result *res);

/* ---------------------------------------------------------------- source */

struct net;

struct source {
	struct plw_merge *m;
	/* several hosts: their requests, joins and clocks (report/net.h); the
	 * inputs are on one timeline (each host's wall clock, corrected) */
	struct net *net;
	const char *const *paths;
	size_t n;
	uint64_t events;
	uint64_t first_ts, last_ts;
};

/* Opens the inputs (salvaging unless o->strict); on failure fills RES.
 * Inputs from several hosts (META hostname) are put on one timeline
 * (report/net.c: a first pass over every file). */
int source_open(struct source *s, const struct report_opts *o, struct report_result *res);
/* Next event (1), end (0), or -errno with RES filled. */
int source_next(struct source *s, struct plw_merge_event *ev, struct report_result *res);
/* After the end: adds one warning per damaged input to RES. */
void source_damage(struct source *s, struct report_result *res);
void source_close(struct source *s);
/* Code location resolver for the model (ctx: struct source *). */
const struct plw_loc *source_resolve(void *ctx, uint32_t input, uint32_t loc);
/* Name for an input in output: its path. */
const char *source_name(const struct source *s, const struct report_opts *o, uint32_t input);

/* Feeds every event of S into M and finishes it; 0 or -errno with RES set. */
int source_run_model(struct source *s, struct plw_model *m, struct report_result *res);
/* A model with MO over all of S (source_run_model), then S's damage
 * warnings.  *M is set before the first event (callbacks may use it; free it
 * with plw_model_free whatever this returns); a callback that failed leaves
 * its -errno in *CB_ERR.  0 or -errno with RES filled. */
int source_model_pass(struct source *s, const struct plw_model_opts *mo, struct plw_model **m,
		      const int *cb_err, struct report_result *res);

/* ------------------------------------------------------------------ json */

struct jw {
	FILE *f;
	int depth;
	/* bit d: a value was written at nesting level d.  Trees are capped at
	 * 4096 levels by the model and each level nests an object and its
	 * children array, so 16384 levels cover every document */
#define JW_MAX_DEPTH 16384
	uint64_t comma[JW_MAX_DEPTH / 64];
	bool key;			/* a key was just written */
};

void jw_init(struct jw *j, FILE *f);
/* "KEY": [strings...] */
void jw_strs(struct jw *j, const char *key, const char *const *s, size_t n);
/* the keys every tree node has: name, file, line, kind, input */
void jw_node_site(struct jw *j, const struct plw_node *n);
/* "damage": [one line per damaged input...] */
void jw_damage(struct jw *j, const struct report_result *res);
void jw_obj(struct jw *j);
void jw_obj_end(struct jw *j);
void jw_arr(struct jw *j);
void jw_arr_end(struct jw *j);
void jw_key(struct jw *j, const char *key);
void jw_str(struct jw *j, const char *s);
void jw_u64(struct jw *j, uint64_t v);
void jw_i64(struct jw *j, int64_t v);
void jw_bool(struct jw *j, bool v);
void jw_null(struct jw *j);
/* JSON string literal (with quotes) to F */
void json_string(FILE *f, const char *s);

/* Writes the flags of a node as a JSON array of strings. */
void jw_flags(struct jw *j, uint32_t flags);
/* " [cut at start] [incomplete]" for text output; "" when none */
const char *flags_text(uint32_t flags, char *buf, size_t len);
/* "1970-01-01 00:00:00.000000 UTC" */
const char *wall_text(uint64_t wall_ns, char *buf, size_t len);
/* "file:line", or "" when the site has no file */
const char *where_text(const struct plw_site *s, char *buf, size_t len);
/* S with control characters shown as '?' (text output stays one line) */
void fputs_safe(const char *s, FILE *f);
/* flow.c: "4.1KB"; a kernel leaf's label ("[pread64 fd=5 4.1KB]",
 * "waiting (epoll_wait)", "off-CPU blocked") */
void human_size(uint64_t b, char *out, size_t len);
void kernel_label(const struct plw_node *n, char *out, size_t len);
/* kernel.c: log2 histograms of HIST_NB buckets: bucket 0 is [0, 1), bucket
 * b [2^(b-1), 2^b); drawn with '@' bars, or as JSON [{lo_UNIT, hi_UNIT,
 * count}] */
#define HIST_NB	48
int hist_bucket(uint64_t v);
void hist_text(FILE *f, const uint64_t *h, const char *unit);
void hist_json(struct jw *j, const uint64_t *h, const char *unit);
void res_err(struct report_result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* nstacks.c: the native (user) stacks of a report row (record --stacks) */
#define NSTK_TEXT	3		/* stacks shown per row in text */
#define NSTK_FRAMES	8		/* frames shown per stack in text */
struct nstk {
	uint32_t input, u1;		/* file stack id + 1 */
	uint64_t count, bytes;
};
struct nstks {
	struct nstk *v;
	uint32_t n, cap;
};
int nstks_add(struct nstks *s, uint32_t input, uint32_t u1, uint64_t bytes);
/* sorts S; JSON (J): "native_stacks":[...]; else text lines to F, each
 * starting with INDENT; nothing when S is empty */
void nstks_out(const struct nstks *s, const struct plw_model *m, struct jw *j, FILE *f,
	       const char *indent, bool bytes);
void nstks_free(struct nstks *s);

#endif /* PYLOW_REPORT_INT_H */
