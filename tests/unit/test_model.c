/* SPDX-License-Identifier: MIT */
/* test_model.c - the event model on synthetic event sequences (no files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/model.h"

#define MAX_TREES 64

struct fx {
	struct plw_model *m;
	struct plw_tree *trees[MAX_TREES];
	int nr_trees;
	int exits;
};

static bool keep_root(void *ctx, struct plw_tree *tree)
{
	struct fx *fx = ctx;

	assert_true(fx->nr_trees < MAX_TREES);
	fx->trees[fx->nr_trees++] = tree;
	return true;
}

static void count_exit(void *ctx, const struct plw_call_info *ci)
{
	((struct fx *)ctx)->exits++;
}

static int setup(void **state)
{
	static struct fx fx;
	struct plw_model_opts o = { .trees = true, .on_root = keep_root,
				    .on_exit = count_exit, .ctx = &fx };

	memset(&fx, 0, sizeof(fx));
	assert_int_equal(plw_model_new(&fx.m, &o), 0);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	for (int i = 0; i < fx->nr_trees; i++)
		plw_model_tree_free(fx->m, fx->trees[i]);
	plw_model_free(fx->m);
	return 0;
}

static void loc(struct fx *fx, uint32_t id, const char *func, const char *file, uint32_t line)
{
	struct plw_event ev = { .type = PLW_EV_PY_LOC, .pid = 1, .tid = 1, .ts = 0 };

	ev.u.loc.id = id;
	ev.u.loc.func = func;
	ev.u.loc.file = file;
	ev.u.loc.line = line;
	assert_int_equal(plw_model_feed(fx->m, 0, &ev), 0);
}

static void call(struct fx *fx, int type, uint32_t tid, uint64_t ts, uint32_t id)
{
	struct plw_event ev = { .type = type, .pid = 1, .tid = tid, .ts = ts };

	ev.u.py.loc = id;
	assert_int_equal(plw_model_feed(fx->m, 0, &ev), 0);
}
#define IN(fx, tid, ts, id)	call(fx, PLW_EV_PY_ENTRY, tid, ts, id)
#define OUT(fx, tid, ts, id)	call(fx, PLW_EV_PY_RETURN, tid, ts, id)

static void locs(struct fx *fx)
{
	loc(fx, 1, "main", "app.py", 1);
	loc(fx, 2, "work", "app.py", 10);
	loc(fx, 3, "leaf", "lib.py", 20);
	loc(fx, 4, "other", "lib.py", 30);
}

static const struct plw_node *child(const struct plw_node *n, int i)
{
	const struct plw_node *c = n->child;

	while (c && i--)
		c = c->next;
	assert_non_null(c);
	return c;
}

static void expect(const struct plw_node *n, const char *name, uint64_t start, uint64_t dur,
		   uint64_t self, uint64_t count, uint32_t flags, uint32_t nr_children)
{
	assert_string_equal(n->site->name, name);
	assert_int_equal(n->start_ns, start);
	assert_int_equal(n->dur_ns, dur);
	assert_int_equal(n->self_ns, self);
	assert_int_equal(n->count, count);
	assert_int_equal(n->flags, flags);
	assert_int_equal(n->nr_children, nr_children);
}

static void test_nesting(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);
	IN(fx, 1, 120, 3);
	OUT(fx, 1, 150, 3);
	OUT(fx, 1, 170, 2);
	IN(fx, 1, 180, 4);
	OUT(fx, 1, 185, 4);
	OUT(fx, 1, 200, 1);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "main", 100, 100, 100 - 60 - 5, 1, 0, 2);
	assert_string_equal(r->site->file, "app.py");
	assert_int_equal(r->site->line, 1);
	expect(child(r, 0), "work", 110, 60, 30, 1, 0, 1);
	expect(child(child(r, 0), 0), "leaf", 120, 30, 30, 1, 0, 0);
	expect(child(r, 1), "other", 180, 5, 5, 1, 0, 0);
	assert_ptr_equal(child(r, 1)->parent, r);
	assert_int_equal(plw_model_finish(fx->m, 0), 0);
	assert_int_equal(fx->nr_trees, 1);
	assert_int_equal(plw_model_stats(fx->m)->roots, 1);
	assert_int_equal(fx->exits, 4);

	/* a clone is the same tree in one block */
	struct plw_node *c = plw_node_clone(r);

	assert_non_null(c);
	assert_null(c->parent);
	expect(c, "main", 100, 100, 35, 1, 0, 2);
	expect(child(c, 0), "work", 110, 60, 30, 1, 0, 1);
	expect(child(child(c, 0), 0), "leaf", 120, 30, 30, 1, 0, 0);
	expect(child(c, 1), "other", 180, 5, 5, 1, 0, 0);
	assert_ptr_equal(child(c, 1)->parent, c);
	assert_ptr_equal(plw_node_find(c, child(r, 1)->site), child(c, 1));
	free(c);
}

static void test_grouping(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 0, 1);
	for (int i = 0; i < 1000; i++) {
		uint64_t t = 10 + i * 10;

		IN(fx, 1, t, 2);
		IN(fx, 1, t + 1, 3);
		OUT(fx, 1, t + 3, 3);
		OUT(fx, 1, t + 5, 2);
	}
	/* many distinct children: exercises the child table */
	for (uint32_t id = 100; id < 140; id++) {
		char name[16];

		snprintf(name, sizeof(name), "f%u", id);
		loc(fx, id, name, "many.py", id);
		IN(fx, 1, 20000 + id * 2, id);
		OUT(fx, 1, 20001 + id * 2, id);
		IN(fx, 1, 30000 + id * 2, id);
		OUT(fx, 1, 30001 + id * 2, id);
	}
	OUT(fx, 1, 40000, 1);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	assert_int_equal(r->nr_children, 41);
	expect(child(r, 0), "work", 10, 5000, 3000, 1000, 0, 1);
	expect(child(child(r, 0), 0), "leaf", 11, 2000, 2000, 1000, 0, 0);
	expect(child(r, 40), "f139", 20000 + 139 * 2, 2, 2, 2, 0, 0);
	/* self = 40000 - work 5000 - 40 sites * 2 */
	expect(r, "main", 0, 40000, 40000 - 5000 - 80, 1, 0, 41);
	const struct plw_site *s = plw_model_site(fx->m, 0, 120);

	assert_non_null(plw_node_find(r, s));
	assert_string_equal(plw_node_find(r, s)->site->name, "f120");
}

static void test_roots_in_sequence(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	for (int i = 0; i < 5; i++) {
		IN(fx, 1, i * 100, 2);
		OUT(fx, 1, i * 100 + 10 * (i + 1), 2);
	}
	assert_int_equal(fx->nr_trees, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fx->trees[i]->seq, i);
		expect(fx->trees[i]->root, "work", i * 100, 10 * (i + 1), 10 * (i + 1), 1, 0, 0);
	}
}

static void test_cut_start(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	plw_model_set_start(fx->m, 0, 50);
	IN(fx, 1, 100, 3);
	OUT(fx, 1, 110, 3);
	OUT(fx, 1, 130, 2);	/* work: entered before the recording */
	IN(fx, 1, 140, 1);
	OUT(fx, 1, 150, 4);	/* other: entry lost, inside main */
	OUT(fx, 1, 160, 1);
	assert_int_equal(plw_model_finish(fx->m, 0), 0);
	assert_int_equal(fx->nr_trees, 3);
	expect(fx->trees[0]->root, "leaf", 100, 10, 10, 1, 0, 0);
	expect(fx->trees[1]->root, "work", 50, 80, 80, 1, PLW_NODE_CUT_START, 0);
	expect(fx->trees[2]->root, "main", 140, 20, 10, 1, 0, 1);
	expect(child(fx->trees[2]->root, 0), "other", 140, 10, 10, 1, PLW_NODE_CUT_START, 0);
	assert_int_equal(plw_model_stats(fx->m)->cut_start, 2);
}

static void test_cut_end(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);
	IN(fx, 1, 120, 3);
	OUT(fx, 1, 130, 3);
	assert_int_equal(fx->nr_trees, 0);
	assert_int_equal(plw_model_finish(fx->m, 0), 0);	/* last event: 130 */
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "main", 100, 30, 10, 1, PLW_NODE_CUT_END, 1);
	expect(child(r, 0), "work", 110, 20, 10, 1, PLW_NODE_CUT_END, 1);
	expect(child(child(r, 0), 0), "leaf", 120, 10, 10, 1, 0, 0);
	assert_int_equal(plw_model_stats(fx->m)->cut_end, 2);
}

static void test_cut_end_explicit(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 1);
	assert_int_equal(plw_model_finish(fx->m, 500), 0);
	assert_int_equal(fx->nr_trees, 1);
	expect(fx->trees[0]->root, "main", 100, 400, 400, 1, PLW_NODE_CUT_END, 0);
}

static void test_mismatch(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);
	IN(fx, 1, 120, 3);
	OUT(fx, 1, 140, 1);	/* leaf and work never returned */
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "main", 100, 40, 10, 1, PLW_NODE_INCOMPLETE, 1);
	expect(child(r, 0), "work", 110, 30, 10, 1, PLW_NODE_INCOMPLETE, 1);
	expect(child(child(r, 0), 0), "leaf", 120, 20, 20, 1, PLW_NODE_INCOMPLETE, 0);
	assert_int_equal(plw_model_stats(fx->m)->incomplete, 3);
}

static void test_threads(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 2, 105, 2);
	IN(fx, 1, 110, 3);
	IN(fx, 2, 115, 3);
	OUT(fx, 1, 120, 3);
	OUT(fx, 2, 135, 3);
	OUT(fx, 2, 140, 2);
	OUT(fx, 1, 200, 1);
	assert_int_equal(fx->nr_trees, 2);
	const struct plw_node *a = fx->trees[0]->root, *b = fx->trees[1]->root;

	expect(a, "work", 105, 35, 15, 1, 0, 1);
	assert_int_equal(a->tid, 2);
	expect(child(a, 0), "leaf", 115, 20, 20, 1, 0, 0);
	expect(b, "main", 100, 100, 90, 1, 0, 1);
	assert_int_equal(b->tid, 1);
	expect(child(b, 0), "leaf", 110, 10, 10, 1, 0, 0);
	/* same site, different trees, same site pointer */
	assert_ptr_equal(child(a, 0)->site, child(b, 0)->site);
}

static void test_lost(void **state)
{
	struct fx *fx = *state;
	struct plw_event lost = { .type = PLW_REC_LOST, .cpu = 0, .ts = 125 };

	lost.u.lost.lost = 7;
	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);
	OUT(fx, 1, 120, 2);
	assert_int_equal(plw_model_feed(fx->m, 0, &lost), 0);
	IN(fx, 1, 130, 3);
	OUT(fx, 1, 140, 3);
	OUT(fx, 1, 150, 1);
	IN(fx, 2, 160, 2);	/* began after the loss: not flagged */
	OUT(fx, 2, 170, 2);
	assert_int_equal(fx->nr_trees, 2);
	expect(fx->trees[0]->root, "main", 100, 50, 30, 1, PLW_NODE_INCOMPLETE, 2);
	expect(child(fx->trees[0]->root, 0), "work", 110, 10, 10, 1, 0, 0);
	expect(child(fx->trees[0]->root, 1), "leaf", 130, 10, 10, 1, 0, 0);
	expect(fx->trees[1]->root, "work", 160, 10, 10, 1, 0, 0);
	assert_int_equal(plw_model_stats(fx->m)->lost, 7);
}

static void test_unknown_loc_and_exit(void **state)
{
	struct fx *fx = *state;
	struct plw_event ex = { .type = PLW_REC_EXIT, .pid = 1, .tid = 3, .ts = 300 };

	IN(fx, 3, 100, 42);
	IN(fx, 3, 200, 43);
	assert_int_equal(plw_model_feed(fx->m, 0, &ex), 0);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "<loc 42>", 100, 200, 100, 1, PLW_NODE_CUT_END, 1);
	expect(child(r, 0), "<loc 43>", 200, 100, 100, 1, PLW_NODE_CUT_END, 0);
	/* a later definition names the site */
	loc(fx, 42, "late", "late.py", 7);
	assert_string_equal(r->site->name, "late");
}

static void test_depth_cap(void **state)
{
	struct fx *fx = *state;
	const uint32_t n = PLW_TREE_DEPTH_MAX + 100;

	for (uint32_t i = 0; i < n; i++)
		IN(fx, 1, i, 1);
	for (uint32_t i = 0; i < n; i++)
		OUT(fx, 1, n + i, 1);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *node = fx->trees[0]->root;
	uint32_t depth = 1;

	while (node->child) {
		node = node->child;
		depth++;
	}
	assert_int_equal(depth, PLW_TREE_DEPTH_MAX);
	assert_true(node->flags & PLW_NODE_INCOMPLETE);
	assert_int_equal(node->count, 1);
	assert_int_equal(fx->trees[0]->root->dur_ns, 2 * n - 1);
}

static void test_kernel_leaves(void **state)
{
	struct fx *fx = *state;
	const struct plw_site *rd = plw_model_site_named(fx->m, PLW_KIND_SYSCALL, "read");
	const struct plw_site *off = plw_model_site_named(fx->m, PLW_KIND_OFFCPU, "read");

	assert_non_null(rd);
	assert_non_null(off);
	assert_ptr_not_equal(rd, off);
	assert_ptr_equal(plw_model_site_named(fx->m, PLW_KIND_SYSCALL, "read"), rd);
	assert_string_equal(plw_kind_name(rd->kind), "syscall");
	locs(fx);
	IN(fx, 1, 100, 1);
	assert_int_equal(plw_model_leaf(fx->m, 0, 1, 1, rd, 110, 10), 0);
	assert_int_equal(plw_model_leaf(fx->m, 0, 1, 1, rd, 130, 5), 0);
	assert_int_equal(plw_model_leaf(fx->m, 0, 1, 1, off, 140, 20), 0);
	OUT(fx, 1, 200, 1);
	/* no open frame: a root of its own */
	assert_int_equal(plw_model_leaf(fx->m, 0, 1, 1, rd, 300, 7), 0);
	assert_int_equal(fx->nr_trees, 2);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "main", 100, 100, 65, 1, 0, 2);
	expect(child(r, 0), "read", 110, 15, 15, 2, 0, 0);
	assert_int_equal(child(r, 0)->max_ns, 10);	/* the longer of 10 and 5 */
	assert_int_equal(child(r, 0)->site->kind, PLW_KIND_SYSCALL);
	expect(child(r, 1), "read", 140, 20, 20, 1, 0, 0);
	assert_int_equal(child(r, 1)->site->kind, PLW_KIND_OFFCPU);
	expect(fx->trees[1]->root, "read", 300, 7, 7, 1, 0, 0);
}

static struct { int kind; uint32_t depth; } leaf_log[32];
static int nr_leaf_log;

static void log_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	assert_true(nr_leaf_log < 32);
	leaf_log[nr_leaf_log].kind = li->kind;
	leaf_log[nr_leaf_log++].depth = ci->depth;
}

static void kev(struct fx *fx, int type, uint64_t ts, uint64_t dur, uint32_t reason)
{
	struct plw_event ev = { .type = type, .pid = 1, .tid = 1, .ts = ts };

	if (type == PLW_EV_SYSCALL) {
		ev.u.sys.fd = -1;
		ev.u.sys.dur_ns = dur;
	} else {
		ev.u.off.dur_ns = dur;
		ev.u.off.reason = reason;
	}
	assert_int_equal(plw_model_feed(fx->m, 0, &ev), 0);
}
#define SYS(fx, end, dur)	kev(fx, PLW_EV_SYSCALL, end, dur, 0)
#define OFF(fx, end, dur)	kev(fx, PLW_EV_OFFCPU, end, dur, PLW_OFFCPU_BLOCKED)
#define PRE(fx, end, dur)	kev(fx, PLW_EV_OFFCPU, end, dur, PLW_OFFCPU_PREEMPTED)

static struct plw_leaf_info kg_log[16];
static int nr_kg_log;

static void log_kg(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	assert_true(nr_kg_log < 16);
	kg_log[nr_kg_log] = *li;
	kg_log[nr_kg_log].name = NULL;	/* valid only during the call */
	kg_log[nr_kg_log++].stack = NULL;
	assert_int_equal(ci->depth, li->depth);
}

static void kg_feed(struct fx *fx, struct plw_event ev)
{
	ev.pid = ev.tid = 1;
	assert_int_equal(plw_model_feed(fx->m, 0, &ev), 0);
}

/* faults, block requests, irqs and TLB flushes: leaves named by the event,
 * grouped; only irq time is taken from the frame's self time */
static void test_kgroup_leaves(void **state)
{
	struct fx *fx = *state;
	struct plw_model_opts o = { .trees = true, .kernel_leaves = true, .on_root = keep_root,
				    .on_leaf = log_kg, .ctx = fx };
	struct plw_event ev;

	plw_model_free(fx->m);
	assert_int_equal(plw_model_new(&fx->m, &o), 0);
	nr_kg_log = 0;
	locs(fx);
	IN(fx, 1, 100, 1);
	for (int i = 0; i < 3; i++)
		kg_feed(fx, (struct plw_event){ .type = PLW_EV_FAULT, .ts = 110 + i,
						.u.fault = { 0x1000 * i, PLW_FAULT_WRITE | PLW_FAULT_USER } });
	ev = (struct plw_event){ .type = PLW_EV_IO, .ts = 150 };
	ev.u.io.dur_ns = 30;
	ev.u.io.bytes = 4096;
	ev.u.io.op = PLW_IO_READ | PLW_IO_SYNC;
	kg_feed(fx, ev);
	ev.ts = 160;
	ev.u.io.op = PLW_IO_WRITE | PLW_IO_ERROR;
	kg_feed(fx, ev);
	ev = (struct plw_event){ .type = PLW_EV_IRQ, .ts = 170 };
	ev.u.irq.dur_ns = 4;
	ev.u.irq.vec = 3;
	ev.u.irq.kind = PLW_IRQ_SOFT;
	kg_feed(fx, ev);
	ev.ts = 175;
	kg_feed(fx, ev);
	ev.u.irq.vec = 24;
	ev.u.irq.kind = PLW_IRQ_HARD;
	kg_feed(fx, ev);
	ev.u.irq.vec = 42;		/* no such softirq */
	ev.u.irq.kind = PLW_IRQ_SOFT;
	kg_feed(fx, ev);
	ev = (struct plw_event){ .type = PLW_EV_TLB, .ts = 180 };
	ev.u.tlb.reason = PLW_TLB_REMOTE_SHOOTDOWN;
	ev.u.tlb.pages = 0xffffffffu;
	kg_feed(fx, ev);
	ev.u.tlb.reason = 9;
	kg_feed(fx, ev);
	OUT(fx, 1, 200, 1);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	/* 100 ns, of which 16 in irqs */
	expect(r, "main", 100, 100, 84, 1, 0, 8);
	expect(child(r, 0), "page_fault", 110, 0, 0, 3, 0, 0);
	assert_int_equal(child(r, 0)->site->kind, PLW_KIND_FAULT);
	expect(child(r, 1), "block_read", 120, 30, 30, 1, 0, 0);
	assert_int_equal(child(r, 1)->bytes, 4096);
	assert_int_equal(child(r, 1)->site->kind, PLW_KIND_IO);
	expect(child(r, 2), "block_write", 130, 30, 30, 1, 0, 0);
	expect(child(r, 3), "softirq NET_RX", 166, 8, 8, 2, 0, 0);
	assert_int_equal(child(r, 3)->max_ns, 4);
	assert_int_equal(child(r, 3)->site->kind, PLW_KIND_IRQ);
	expect(child(r, 4), "hardirq 24", 171, 4, 4, 1, 0, 0);
	expect(child(r, 5), "softirq 42", 171, 4, 4, 1, 0, 0);
	expect(child(r, 6), "remote shootdown", 180, 0, 0, 1, 0, 0);
	assert_int_equal(child(r, 6)->site->kind, PLW_KIND_TLB);
	expect(child(r, 7), "reason 9", 180, 0, 0, 1, 0, 0);
	/* on_leaf carries the fields */
	assert_int_equal(nr_kg_log, 11);
	assert_int_equal(kg_log[1].kind, PLW_KIND_FAULT);
	assert_int_equal(kg_log[1].addr, 0x1000);
	assert_int_equal(kg_log[1].error_code, PLW_FAULT_WRITE | PLW_FAULT_USER);
	assert_int_equal(kg_log[3].io_op, PLW_IO_READ | PLW_IO_SYNC);
	assert_int_equal(kg_log[3].bytes, 4096);
	assert_int_equal(kg_log[4].io_op & PLW_IO_OP_MASK, PLW_IO_WRITE);
	assert_int_equal(kg_log[7].irq_kind, PLW_IRQ_HARD);
	assert_int_equal(kg_log[7].vec, 24);
	assert_int_equal(kg_log[9].tlb_reason, PLW_TLB_REMOTE_SHOOTDOWN);
	assert_int_equal(kg_log[9].pages, 0xffffffffu);
	assert_int_equal(kg_log[9].depth, 1);
	assert_string_equal(plw_io_op_name(PLW_IO_FLUSH | PLW_IO_SYNC), "flush");
	assert_null(plw_softirq_name(10));
	assert_string_equal(plw_tlb_reason_name(5), "remote wrong cpu");
}

/* an off-CPU interval inside a syscall (fed first: it ends first) nests
 * under it; one outside stays under the frame; more than the model holds
 * go under the frame early, still taken out of the syscall's self time */
static void test_offcpu_in_syscall(void **state)
{
	struct fx *fx = *state;
	struct plw_model_opts o = { .trees = true, .kernel_leaves = true, .on_root = keep_root,
				    .on_leaf = log_leaf, .ctx = fx };

	plw_model_free(fx->m);
	assert_int_equal(plw_model_new(&fx->m, &o), 0);
	nr_leaf_log = 0;
	locs(fx);
	IN(fx, 1, 100, 1);
	OFF(fx, 170, 50);		/* 120..170 */
	SYS(fx, 180, 70);		/* 110..180: encloses it */
	PRE(fx, 190, 5);		/* 185..190: running Python */
	SYS(fx, 195, 3);		/* 192..195: does not enclose it */
	for (int i = 0; i < 10; i++)	/* 10 in one call: 2 over the bound */
		OFF(fx, 206 + 9 * i, 5);
	SYS(fx, 300, 100);		/* 200..300 */
	OUT(fx, 1, 400, 1);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root, *sys = child(r, 0);

	expect(r, "main", 100, 300, 300 - 70 - 5 - 3 - 10 - 90, 1, 0, 3);
	expect(sys, "syscall_0", 110, 173, 20 + 3 + 50, 3, 0, 1);
	expect(child(sys, 0), "blocked", 120, 90, 90, 9, 0, 0);
	assert_ptr_equal(child(sys, 0)->parent, sys);
	expect(child(r, 1), "preempted", 185, 5, 5, 1, 0, 0);
	expect(child(r, 2), "blocked", 201, 10, 10, 2, 0, 0);
	/* on_leaf: the syscall, then what it encloses one level deeper */
	assert_int_equal(nr_leaf_log, 15);
	assert_int_equal(leaf_log[0].kind, PLW_KIND_SYSCALL);
	assert_int_equal(leaf_log[0].depth, 1);
	assert_int_equal(leaf_log[1].kind, PLW_KIND_OFFCPU);
	assert_int_equal(leaf_log[1].depth, 2);
	assert_int_equal(leaf_log[2].kind, PLW_KIND_OFFCPU);
	assert_int_equal(leaf_log[2].depth, 1);
	assert_int_equal(leaf_log[3].kind, PLW_KIND_SYSCALL);

	/* the syscall is the bottleneck, not the blocked time inside it */
	IN(fx, 1, 1000, 2);
	OFF(fx, 1990, 980);
	SYS(fx, 2000, 1000);
	OUT(fx, 1, 2000, 2);
	assert_int_equal(fx->nr_trees, 2);
	r = fx->trees[1]->root;
	expect(child(r, 0), "syscall_0", 1000, 1000, 20, 1, 0, 1);
	assert_ptr_equal(plw_tree_bottleneck(r), child(r, 0));

	/* held at the end: placed under the frame still open */
	IN(fx, 1, 3000, 3);
	OFF(fx, 3100, 50);
	assert_int_equal(plw_model_finish(fx->m, 3200), 0);
	assert_int_equal(fx->nr_trees, 3);
	r = fx->trees[2]->root;
	expect(child(r, 0), "blocked", 3050, 50, 50, 1, 0, 0);
}

/* MEM, GIL, EXCEPTION: leaves under the open frame; allocator calls and
 * raises are count-only (mem with the bytes asked for, free without), the
 * GIL wait takes its time from the frame's self time; on_leaf gets the event */
static uint32_t native_seen[8];	/* event types given with li->ev */
static int nr_native_seen;

static void log_native(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	assert_true(nr_native_seen < 8);
	assert_non_null(li->ev);
	native_seen[nr_native_seen++] = li->ev->type;
	if (li->ev->type == PLW_EV_GIL)
		assert_int_equal(li->ev->u.gil.wait_ns, 25);
	assert_int_equal(ci->depth, 1);
}

static void nev(struct fx *fx, int type, uint64_t ts, uint32_t op, uint64_t v, const char *type_name)
{
	struct plw_event ev = { .type = type, .pid = 1, .tid = 1, .ts = ts };

	if (type == PLW_EV_MEM) {
		ev.u.mem.op = op;
		ev.u.mem.size = op == PLW_MEM_FREE ? 0 : v;
		ev.u.mem.addr = 0x1000;
	} else if (type == PLW_EV_GIL) {
		ev.u.gil.wait_ns = v;
	} else {
		ev.u.exc.type = type_name;
	}
	assert_int_equal(plw_model_feed(fx->m, 0, &ev), 0);
}

static void test_native_leaves(void **state)
{
	struct fx *fx = *state;
	struct plw_model_opts o = { .trees = true, .kernel_leaves = true, .on_root = keep_root,
				    .on_leaf = log_native, .ctx = fx };

	plw_model_free(fx->m);
	assert_int_equal(plw_model_new(&fx->m, &o), 0);
	nr_native_seen = 0;
	locs(fx);
	IN(fx, 1, 100, 1);
	nev(fx, PLW_EV_MEM, 110, PLW_MEM_MALLOC, 3000, NULL);
	nev(fx, PLW_EV_MEM, 120, PLW_MEM_MALLOC, 5000, NULL);
	nev(fx, PLW_EV_MEM, 130, PLW_MEM_FREE, 0, NULL);
	nev(fx, PLW_EV_GIL, 160, 0, 25, NULL);		/* 135..160 */
	nev(fx, PLW_EV_EXCEPTION, 170, 0, 0, "ValueError");
	nev(fx, PLW_EV_EXCEPTION, 175, 0, 0, "ValueError");
	OUT(fx, 1, 200, 1);
	assert_int_equal(nr_native_seen, 6);
	assert_int_equal(native_seen[3], PLW_EV_GIL);
	assert_int_equal(native_seen[5], PLW_EV_EXCEPTION);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *r = fx->trees[0]->root;

	expect(r, "main", 100, 100, 75, 1, 0, 4);
	expect(child(r, 0), "malloc", 110, 0, 0, 2, 0, 0);
	assert_int_equal(child(r, 0)->site->kind, PLW_KIND_MEM);
	assert_int_equal(child(r, 0)->bytes, 8000);
	expect(child(r, 1), "free", 130, 0, 0, 1, 0, 0);
	assert_int_equal(child(r, 1)->bytes, 0);
	expect(child(r, 2), "GIL", 135, 25, 25, 1, 0, 0);
	assert_int_equal(child(r, 2)->site->kind, PLW_KIND_GIL);
	expect(child(r, 3), "ValueError", 170, 0, 0, 2, 0, 0);
	assert_int_equal(child(r, 3)->site->kind, PLW_KIND_EXCEPTION);
	assert_string_equal(plw_kind_name(child(r, 3)->site->kind), "exception");
}

static void test_return_by_identity(void **state)
{
	struct fx *fx = *state;

	/* CPython's return probe reports the current line: the recorder gives
	 * returns their own location ids (line 0); they match by name + file */
	locs(fx);
	loc(fx, 51, "main", "app.py", 0);
	loc(fx, 52, "work", "app.py", 0);
	loc(fx, 53, "work", "other.py", 0);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);
	OUT(fx, 1, 120, 52);
	OUT(fx, 1, 130, 51);
	assert_int_equal(fx->nr_trees, 1);
	expect(fx->trees[0]->root, "main", 100, 30, 20, 1, 0, 1);
	expect(child(fx->trees[0]->root, 0), "work", 110, 10, 10, 1, 0, 0);
	assert_int_equal(child(fx->trees[0]->root, 0)->site->line, 10);
	/* cut at start: shown with the entry's site when there is one */
	OUT(fx, 1, 140, 52);
	assert_int_equal(fx->nr_trees, 2);
	assert_int_equal(fx->trees[1]->root->site->line, 10);
	assert_int_equal(fx->trees[1]->root->flags, PLW_NODE_CUT_START);
	/* the return's site was defined first: still shown with the entry's */
	loc(fx, 60, "late", "late.py", 0);
	loc(fx, 61, "late", "late.py", 77);
	OUT(fx, 1, 145, 60);
	assert_int_equal(fx->nr_trees, 3);
	assert_int_equal(fx->trees[2]->root->site->line, 77);
	fx->nr_trees--;
	plw_model_tree_free(fx->m, fx->trees[2]);
	/* same name, other file: not a match */
	IN(fx, 1, 150, 2);
	OUT(fx, 1, 160, 53);
	OUT(fx, 1, 170, 52);
	assert_int_equal(fx->nr_trees, 3);
	expect(fx->trees[2]->root, "work", 150, 20, 10, 1, 0, 1);
	expect(child(fx->trees[2]->root, 0), "work", 150, 10, 10, 1, PLW_NODE_CUT_START, 0);
	assert_string_equal(child(fx->trees[2]->root, 0)->site->file, "other.py");
}

static bool drop_root(void *ctx, struct plw_tree *tree)
{
	(*(int *)ctx)++;
	return false;
}

/* a server request span read inside main/work (entered before it), handled
 * by leaf and other, its response written inside other; a second span on
 * the same thread forces nothing early */
static void test_span_view(void **state)
{
	struct fx *fx = *state;
	const struct plw_site *sp = plw_model_site_unique(fx->m, PLW_KIND_SPAN, "GET /x", 0, 7);
	const struct plw_site *sp2 = plw_model_site_unique(fx->m, PLW_KIND_SPAN, "GET /x", 0, 8);
	const struct plw_site *net = plw_model_site_named_id(fx->m, PLW_KIND_NET, "redis GET k", 3);

	assert_non_null(sp);
	assert_ptr_not_equal(sp, sp2);	/* unique: never grouped */
	assert_int_equal(sp->loc, 7);
	assert_int_equal(net->loc, 3);
	/* interned: the id of the first call stays */
	assert_ptr_equal(plw_model_site_named_id(fx->m, PLW_KIND_NET, "redis GET k", 9), net);
	assert_int_equal(net->loc, 3);
	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);		/* the read: begun before the span */
	assert_int_equal(plw_model_span_begin(fx->m, 0, 1, 1, sp, 120), 0);
	OUT(fx, 1, 125, 2);		/* not in the view */
	IN(fx, 1, 130, 3);
	assert_int_equal(plw_model_leaf(fx->m, 0, 1, 1, net, 135, 5), 0);
	OUT(fx, 1, 150, 3);
	IN(fx, 1, 160, 4);
	assert_int_equal(plw_model_span_end(fx->m, 0, 1, 1, 170), 0);
	assert_int_equal(fx->nr_trees, 0);	/* other still running */
	OUT(fx, 1, 175, 4);
	assert_int_equal(fx->nr_trees, 1);
	const struct plw_node *v = fx->trees[0]->root;

	assert_int_equal(v->site->kind, PLW_KIND_SPAN);
	/* 50 ns span; children leaf 20 + other 15 */
	expect(v, "GET /x", 120, 50, 15, 1, 0, 2);
	expect(child(v, 0), "leaf", 130, 20, 15, 1, 0, 1);
	expect(child(child(v, 0), 0), "redis GET k", 135, 5, 5, 1, 0, 0);
	expect(child(v, 1), "other", 160, 15, 15, 1, 0, 0);
	assert_int_equal(plw_model_stats(fx->m)->spans, 1);
	assert_int_equal(plw_model_stats(fx->m)->roots, 0);
	/* a span begun and never ended: handed over at the thread's end */
	assert_int_equal(plw_model_span_begin(fx->m, 0, 1, 1, sp2, 180), 0);
	IN(fx, 1, 185, 3);
	OUT(fx, 1, 190, 3);
	OUT(fx, 1, 200, 1);
	assert_int_equal(fx->nr_trees, 2);
	/* the thread's own tree has every call, and says spans were taken */
	const struct plw_node *r = fx->trees[1]->root;

	assert_true(r->flags & PLW_NODE_SPANS);
	expect(child(r, 1), "leaf", 130, 25, 20, 2, 0, 1);
	assert_int_equal(plw_model_finish(fx->m, 0), 0);
	assert_int_equal(fx->nr_trees, 3);
	v = fx->trees[2]->root;
	expect(v, "GET /x", 180, 20, 15, 1, PLW_NODE_CUT_END, 1);
	assert_int_equal(v->site->loc, 8);
}

/* a call sent in one frame and answered in another goes under the frame
 * open all along (the caller), its time taken from that frame */
static void test_leaf_marked(void **state)
{
	struct fx *fx = *state;
	const struct plw_site *net = plw_model_site_named(fx->m, PLW_KIND_NET, "GET b/x");

	locs(fx);
	IN(fx, 1, 100, 1);
	IN(fx, 1, 110, 2);		/* work: the caller */
	IN(fx, 1, 120, 3);		/* leaf: sends */
	plw_model_mark(fx->m, 0, 1, 1);
	OUT(fx, 1, 125, 3);
	IN(fx, 1, 130, 4);		/* other: reads the reply */
	assert_int_equal(plw_model_leaf_marked(fx->m, 0, 1, 1, net, 121, 39), 0);
	OUT(fx, 1, 165, 4);
	OUT(fx, 1, 170, 2);
	/* sent and answered with no frame open all along: a root */
	IN(fx, 1, 180, 3);
	plw_model_mark(fx->m, 0, 1, 1);
	OUT(fx, 1, 185, 3);
	OUT(fx, 1, 190, 1);
	assert_int_equal(plw_model_leaf_marked(fx->m, 0, 1, 1, net, 184, 10), 0);
	assert_int_equal(fx->nr_trees, 2);
	const struct plw_node *w = child(fx->trees[0]->root, 0);

	/* work: 60 ns, children leaf 5 + other 35 + the call 39 (clamped) */
	expect(w, "work", 110, 60, 0, 1, 0, 3);
	expect(child(w, 2), "GET b/x", 121, 39, 39, 1, 0, 0);
	assert_int_equal(child(w, 2)->max_ns, 39);
	expect(fx->trees[1]->root, "GET b/x", 184, 10, 10, 1, 0, 0);
}

/*
 * Returns that match nothing under a deep stack of entries that never
 * return (a cut or corrupt stream).  Each is known unmatched without a scan
 * of the stack (plw_site.open), which made this stream quadratic: 100000
 * entries and returns took minutes.  What is matched must not change.
 */
static void test_unmatched_deep(void **state)
{
	struct plw_model *m;
	struct fx fx = { 0 };
	struct plw_model_opts o = { .on_exit = count_exit, .ctx = &fx };
	const uint32_t n = 100000;

	assert_int_equal(plw_model_new(&m, &o), 0);
	fx.m = m;
	locs(&fx);
	for (uint32_t i = 0; i < n; i++)
		IN(&fx, 1, 100 + i, 1);			/* main, never returns */
	for (uint32_t i = 0; i < n; i++)
		OUT(&fx, 1, 100 + n + i, 4);		/* other: never entered */
	assert_int_equal(plw_model_stats(m)->cut_start, n);
	assert_int_equal(fx.exits, n);
	/* open on another thread only: unmatched here, matched there */
	IN(&fx, 2, 300000, 3);
	OUT(&fx, 1, 300001, 3);
	assert_int_equal(plw_model_stats(m)->cut_start, n + 1);
	OUT(&fx, 2, 300002, 3);
	assert_int_equal(plw_model_stats(m)->cut_start, n + 1);
	assert_int_equal(fx.exits, n + 2);
	/* a frame deep down is still found: work under 50 mains, its return
	 * closes them, flagged, and itself */
	IN(&fx, 1, 300010, 2);
	for (uint32_t i = 0; i < 50; i++)
		IN(&fx, 1, 300020 + i, 1);
	OUT(&fx, 1, 300100, 2);
	assert_int_equal(fx.exits, n + 2 + 51);
	assert_int_equal(plw_model_stats(m)->incomplete, 50);
	/* every main still open is cut at the end; the root is flagged
	 * incomplete too (a frame under it never returned) */
	assert_int_equal(plw_model_finish(m, 0), 0);
	assert_int_equal(plw_model_stats(m)->cut_end, n);
	assert_int_equal(plw_model_stats(m)->incomplete, 51);
	assert_int_equal(plw_model_stats(m)->cut_start, n + 1);
	plw_model_free(m);
}

/* a call whose PY_LOC comes after it: a placeholder site first, then the
 * identity of main; its open frame must count there, or main's return
 * further up would not find it */
static void test_placeholder_identity(void **state)
{
	struct fx *fx = *state;

	locs(fx);
	IN(fx, 1, 100, 7);		/* <loc 7> */
	loc(fx, 7, "main", "app.py", 5);	/* now main, like loc 1 */
	IN(fx, 1, 110, 1);
	OUT(fx, 1, 115, 1);
	IN(fx, 1, 120, 2);		/* work: never returns */
	OUT(fx, 1, 130, 1);		/* main: closes work and the first frame */
	assert_int_equal(plw_model_stats(fx->m)->cut_start, 0);
	/* work, and the root it was left open under */
	assert_int_equal(plw_model_stats(fx->m)->incomplete, 2);
	assert_int_equal(fx->nr_trees, 1);
	assert_string_equal(fx->trees[0]->root->site->name, "main");
	assert_int_equal(fx->trees[0]->root->dur_ns, 30);
}

static void test_no_growth(void **state)
{
	/* a long stream of short roots reuses one arena */
	struct plw_model *m;
	int roots = 0;
	struct plw_model_opts o = { .trees = true, .on_root = drop_root, .ctx = &roots };
	struct plw_event ev = { .pid = 1, .tid = 1 };

	assert_int_equal(plw_model_new(&m, &o), 0);
	for (int i = 0; i < 100000; i++) {
		ev.type = PLW_EV_PY_ENTRY;
		ev.ts = i * 10;
		ev.u.py.loc = 1;
		assert_int_equal(plw_model_feed(m, 0, &ev), 0);
		ev.u.py.loc = 2 + i % 3;
		assert_int_equal(plw_model_feed(m, 0, &ev), 0);
		ev.type = PLW_EV_PY_RETURN;
		ev.ts += 5;
		assert_int_equal(plw_model_feed(m, 0, &ev), 0);
		ev.u.py.loc = 1;
		assert_int_equal(plw_model_feed(m, 0, &ev), 0);
	}
	assert_int_equal(roots, 100000);
	assert_int_equal(plw_model_stats(m)->events, 400000);
	plw_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grouping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roots_in_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_end_explicit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_loc_and_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offcpu_in_syscall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kgroup_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_native_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_by_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_span_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaf_marked, setup, teardown),
		cmocka_unit_test(test_unmatched_deep),
		cmocka_unit_test_setup_teardown(test_placeholder_identity, setup, teardown),
		cmocka_unit_test(test_no_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
