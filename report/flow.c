/* SPDX-License-Identifier: MIT */
/*
 * flow.c - `pylow report flow`: one calling-context tree per root call.
 *
 * Keeps only what it prints: the N slowest roots (a min-heap by duration),
 * the last one, or all of them (--all).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "report_int.h"

/* a root call kept for printing: a compact copy of its tree */
struct kept {
	struct plw_node *root;		/* plw_node_clone(): free() */
	uint64_t seq;
};

struct flow {
	const struct report_opts *o;
	struct source *src;
	struct plw_model *m;
	struct kept **trees;	/* heap (top), list (all), one (last) */
	size_t len, cap;
	uint64_t roots;
	/* --top: roots cut at start are not ranked (their real duration is
	 * unknown: they began before the recording); counted and named */
	uint64_t cut_roots;
	const struct plw_site *cut_sites[5];
	size_t nr_cut_sites;
	bool cut_more;			/* more names than cut_sites holds */
	bool oom;
	struct net *net;		/* requests and joins (report/net.c), or NULL */
	uint64_t span_roots;		/* roots shown as their request spans */
};

/* ordering for "slowest first": longer first, then earlier start, then seq */
static bool slower(const struct kept *a, const struct kept *b)
{
	if (a->root->dur_ns != b->root->dur_ns)
		return a->root->dur_ns > b->root->dur_ns;
	if (a->root->start_ns != b->root->start_ns)
		return a->root->start_ns < b->root->start_ns;
	return a->seq < b->seq;
}

static void heap_down(struct kept **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		/* min-heap: the fastest at the top */
		if (l < n && slower(h[min], h[l]))
			min = l;
		if (r < n && slower(h[min], h[r]))
			min = r;
		if (min == i)
			return;
		struct kept *t = h[i];

		h[i] = h[min];
		h[min] = t;
		i = min;
	}
}

static void heap_up(struct kept **h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;

		if (!slower(h[p], h[i]))
			return;
		struct kept *t = h[i];

		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static bool keep(struct flow *f, const struct plw_tree *tree, struct kept **slot)
{
	struct kept *k = malloc(sizeof(*k));

	if (k)
		k->root = plw_node_clone(tree->root);
	if (!k || !k->root) {
		free(k);
		f->oom = true;
		return false;
	}
	k->seq = tree->seq;
	*slot = k;
	return true;
}

static void drop(struct kept *k)
{
	if (k) {
		free(k->root);
		free(k);
	}
}

/* Copies what it keeps: the model recycles the tree's arena at once. */
static bool flow_on_root(void *ctx, struct plw_tree *tree)
{
	struct flow *f = ctx;
	struct kept probe = { .root = tree->root, .seq = tree->seq };

	if (f->net) {
		struct net_req *r = rnet_node_req(f->net, tree->root);

		if (r && r->server) {
			/* a joined request span is drawn under its client call;
			 * the others are in their thread's root call */
			if (r->peer >= 0 && !f->net->span_tree[r - f->net->r] &&
			    !(f->net->span_tree[r - f->net->r] = plw_node_clone(tree->root)))
				f->oom = true;
			return false;
		}
		if ((tree->root->flags & PLW_NODE_SPANS) &&
		    rnet_root_spans_joined(f->net, tree->root)) {
			/* a server thread's root whose requests are all drawn
			 * under their callers */
			f->span_roots++;
			return false;
		}
	}
	f->roots++;
	if (tree->root->dur_ns < f->o->min_ns || f->oom)
		return false;
	switch (f->o->mode) {
	case FLOW_LAST:
		drop(f->len ? f->trees[0] : NULL);
		f->len = 0;
		if (keep(f, tree, &f->trees[0]))
			f->len = 1;
		break;
	case FLOW_TOP:
		if (tree->root->flags & PLW_NODE_CUT_START) {
			const struct plw_site *site = tree->root->site->ident ? tree->root->site->ident
									       : tree->root->site;
			size_t i;

			f->cut_roots++;
			for (i = 0; i < f->nr_cut_sites && f->cut_sites[i] != site; i++)
				;
			if (i == f->nr_cut_sites && i < sizeof(f->cut_sites) / sizeof(f->cut_sites[0]))
				f->cut_sites[f->nr_cut_sites++] = site;
			else if (i == f->nr_cut_sites)
				f->cut_more = true;
			break;
		}
		if (f->len < f->o->top) {
			if (keep(f, tree, &f->trees[f->len])) {
				f->len++;
				heap_up(f->trees, f->len - 1);
			}
			break;
		}
		if (!f->len || !slower(&probe, f->trees[0]))
			break;
		drop(f->trees[0]);
		if (!keep(f, tree, &f->trees[0])) {
			f->trees[0] = f->trees[--f->len];
		}
		heap_down(f->trees, f->len, 0);
		break;
	case FLOW_ALL:
		if (f->len == f->cap) {
			size_t ncap = f->cap * 2;
			struct kept **nt = realloc(f->trees, ncap * sizeof(*nt));

			if (!nt) {
				f->oom = true;
				break;
			}
			f->trees = nt;
			f->cap = ncap;
		}
		if (keep(f, tree, &f->trees[f->len]))
			f->len++;
		break;
	}
	return false;
}

static const struct plw_loc *flow_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct flow *)ctx)->src, input, loc);
}

static int cmp_slowest(const void *a, const void *b)
{
	const struct kept *x = *(struct kept *const *)a, *y = *(struct kept *const *)b;

	return slower(x, y) ? -1 : slower(y, x) ? 1 : 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct kept *x = *(struct kept *const *)a, *y = *(struct kept *const *)b;

	if (x->root->start_ns != y->root->start_ns)
		return x->root->start_ns < y->root->start_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ------------------------------------------------------------------ text */

struct prefix {
	char *buf;
	size_t len, cap;
};

static int prefix_push(struct prefix *p, const char *s)
{
	size_t n = strlen(s);

	if (p->len + n + 1 > p->cap) {
		size_t ncap = (p->cap ? p->cap : 256) * 2 + n;
		char *nb = realloc(p->buf, ncap);

		if (!nb)
			return -ENOMEM;
		p->buf = nb;
		p->cap = ncap;
	}
	memcpy(p->buf + p->len, s, n + 1);
	p->len += n;
	return 0;
}

static bool shown(const struct report_opts *o, const struct plw_node *n)
{
	return n->dur_ns >= o->min_ns;
}

static void ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%.3f ms", ns / 1e6);
}

/* "4.1KB" style */
void human_size(uint64_t b, char *out, size_t len)
{
	if (b >= 1000000000ull)
		snprintf(out, len, "%.1fGB", b / 1e9);
	else if (b >= 1000000ull)
		snprintf(out, len, "%.1fMB", b / 1e6);
	else if (b >= 1000ull)
		snprintf(out, len, "%.1fKB", b / 1e3);
	else
		snprintf(out, len, "%lluB", (unsigned long long)b);
}

/* long waits are shown as waits: at least 1 ms per call on average */
#define WAIT_SHOWN_NS	1000000ull

/* a kernel leaf's label: "[pread64 fd=5 4.1KB]", "waiting (epoll_wait)",
 * "off-CPU blocked" */
void kernel_label(const struct plw_node *n, char *out, size_t len)
{
	char b[32];
	size_t k;

	if (n->site->kind == PLW_KIND_OFFCPU) {
		snprintf(out, len, "off-CPU %s", n->site->name);
		return;
	}
	switch (n->site->kind) {
	case PLW_KIND_FAULT:
		snprintf(out, len, "page fault%s", n->count == 1 ? "" : "s");
		return;
	case PLW_KIND_IO:
		human_size(n->bytes, b, sizeof(b));
		snprintf(out, len, "[block %s %s]",
			 strncmp(n->site->name, "block_", 6) ? n->site->name : n->site->name + 6, b);
		return;
	case PLW_KIND_IRQ:
		snprintf(out, len, "irq time (%s)", n->site->name);
		return;
	case PLW_KIND_TLB:
		snprintf(out, len, "tlb flush%s (%s)", n->count == 1 ? "" : "es", n->site->name);
		return;
	case PLW_KIND_MEM:
		human_size(n->bytes, b, sizeof(b));
		if (n->bytes)
			snprintf(out, len, "%s %s", n->site->name, b);
		else
			snprintf(out, len, "%s", n->site->name);
		return;
	case PLW_KIND_GIL:
		snprintf(out, len, "waiting for the GIL");
		return;
	case PLW_KIND_EXCEPTION:
		snprintf(out, len, "raise %s", n->site->name);
		return;
	default:
		break;
	}
	if (n->site->kind != PLW_KIND_SYSCALL) {
		snprintf(out, len, "[%s]", n->site->name);
		return;
	}
	if (plw_syscall_waits(n->site->name) && n->count &&
	    n->dur_ns / n->count >= WAIT_SHOWN_NS) {
		snprintf(out, len, "waiting (%s)", n->site->name);
		return;
	}
	k = snprintf(out, len, "[%s", n->site->name);
	if (k < len && n->fd1 && n->fd1 != PLW_FD_MIXED)
		k += snprintf(out + k, len - k, " fd=%u", n->fd1 - 1);
	if (k < len && n->bytes) {
		human_size(n->bytes, b, sizeof(b));
		k += snprintf(out + k, len - k, " %s", b);
	}
	if (k < len)
		snprintf(out + k, len - k, "]");
}

static const struct plw_node *cur_bottleneck;
static const struct net *cur_net;

/* a joined call's server span (kept), or NULL */
static const struct plw_node *graft_of(const struct plw_node *n)
{
	const struct net_req *r = n->site->kind == PLW_KIND_NET ? rnet_node_req(cur_net, n) : NULL;

	return r && r->peer >= 0 ? cur_net->span_tree[r->peer] : NULL;
}

/* a node's own time: a joined call's is the part its server span does
 * not explain (the network, queues) */
static uint64_t own_ns(const struct plw_node *n)
{
	const struct plw_node *g = graft_of(n);

	if (!g)
		return n->self_ns;
	return n->dur_ns > g->dur_ns ? n->dur_ns - g->dur_ns : 0;
}

/* plw_tree_bottleneck over the tree with the joined server spans in it:
 * the slowest path goes on into the server that answered the call */
static const struct plw_node *bottleneck(const struct plw_node *root)
{
	static const struct plw_bottleneck_ops joined = { .graft = graft_of, .own = own_ns };

	return plw_tree_bottleneck_ops(root, cur_net ? &joined : NULL);
}

static void node_line(FILE *out, const struct plw_node *n)
{
	char where[512], fl[64];
	const struct net_req *r = rnet_node_req(cur_net, n);

	if (r && n->site->kind == PLW_KIND_SPAN) {
		fputs("request ", out);
		fputs_safe(n->site->name, out);
	} else if (n->site->kind != PLW_KIND_PYTHON) {
		char lab[256];

		kernel_label(n, lab, sizeof(lab));
		fputs_safe(lab, out);
	} else {
		fputs_safe(n->site->name, out);
	}
	if (n->count > 1)
		fprintf(out, " ×%" PRIu64, n->count);
	/* faults, TLB flushes, allocator calls and raises are counted, not timed */
	if (n->site->kind != PLW_KIND_FAULT && n->site->kind != PLW_KIND_TLB &&
	    n->site->kind != PLW_KIND_MEM && n->site->kind != PLW_KIND_EXCEPTION) {
		fputs("  ", out);
		ms(out, n->dur_ns);
	}
	where_text(n->site, where, sizeof(where));
	if (where[0]) {
		fputs("  ", out);
		fputs_safe(where, out);
	}
	fputs(flags_text(n->flags, fl, sizeof(fl)), out);
	if (r && n->site->kind == PLW_KIND_SPAN) {
		fputs("  @", out);
		fputs_safe(rnet_host_of(cur_net, n->input), out);
		if (r->status)
			fprintf(out, "  %u", r->status);
		if (r->link) {
			fputs("  (joined by ", out);
			fputs(r->link == NET_LINK_TCP ? "tcp connection" : "traceparent", out);
			putc(')', out);
		}
	}
	if (r && r->no_reply)
		fputs(n->site->kind == PLW_KIND_SPAN ? "  (no response: connection closed)"
						      : "  (no reply: connection closed)", out);
	if (r && n->site->kind == PLW_KIND_NET && r->peer < 0 && n->count == 1) {
		char peer[80];

		rnet_peer_text(cur_net, r, peer, sizeof(peer));
		if (peer[0] && !rnet_peer_recorded(cur_net, r))
			fprintf(out, "  (no recording of %s)", peer);
		else if (peer[0])
			fprintf(out, "  (not joined: no matching request on %s)", peer);
	} else if (r && n->site->kind == PLW_KIND_NET && r->peer >= 0 && !graft_of(n)) {
		fputs("  (server span not kept)", out);
	}
	if (n == cur_bottleneck)
		fputs("  ← bottleneck", out);
}

static int text_children(const struct report_opts *o, const struct plw_node *n, int depth,
			 struct prefix *p)
{
	FILE *out = o->out;
	uint64_t hidden_calls = 0, hidden_ns = 0;
	const struct plw_node *last = NULL;
	bool too_deep = o->depth >= 0 && depth >= o->depth;

	for (const struct plw_node *c = n->child; c; c = c->next) {
		if (too_deep || !shown(o, c)) {
			hidden_calls += c->count;
			hidden_ns += c->dur_ns;
		} else {
			last = c;
		}
	}
	for (const struct plw_node *c = n->child; c && !too_deep; c = c->next) {
		if (!shown(o, c))
			continue;
		bool is_last = c == last && !hidden_calls;
		size_t save = p->len;

		fputs(p->buf, out);
		fputs(is_last ? "└── " : "├── ", out);
		node_line(out, c);
		putc('\n', out);
		if (prefix_push(p, is_last ? "    " : "│   "))
			return -ENOMEM;
		if (text_children(o, c, depth + 1, p))
			return -ENOMEM;
		p->len = save;
		p->buf[save] = 0;
	}
	const struct plw_node *g = graft_of(n);

	if (g && !too_deep && shown(o, g) && depth < PLW_TREE_DEPTH_MAX) {
		/* the server's side of a call: its request span on its host */
		size_t save = p->len;

		fputs(p->buf, out);
		fputs("└── ", out);
		node_line(out, g);
		putc('\n', out);
		if (prefix_push(p, "    ") || text_children(o, g, depth + 1, p))
			return -ENOMEM;
		p->len = save;
		p->buf[save] = 0;
	}
	if (hidden_calls) {
		fputs(p->buf, out);
		fprintf(out, "└── … %" PRIu64 " more call%s, ", hidden_calls,
			hidden_calls == 1 ? "" : "s");
		ms(out, hidden_ns);
		putc('\n', out);
	}
	return 0;
}

static int text_tree(const struct flow *f, const struct kept *t)
{
	const struct report_opts *o = f->o;
	const struct plw_node *r = t->root;
	struct prefix p = { 0 };
	int err;

	cur_bottleneck = bottleneck(r);
	node_line(o->out, r);
	if (f->net) {
		/* a request span's line names its host already */
		if (r->site->kind != PLW_KIND_SPAN) {
			fputs("  @", o->out);
			fputs_safe(rnet_host_of(f->net, r->input), o->out);
		}
		fprintf(o->out, "%s[pid %u tid %u]\n", r->site->kind == PLW_KIND_SPAN ? "  " : " ",
			r->pid, r->tid);
	} else if (f->src->n > 1) {
		fputs("  [", o->out);
		fputs_safe(source_name(f->src, o, r->input), o->out);
		fprintf(o->out, " pid %u tid %u]\n", r->pid, r->tid);
	} else {
		fprintf(o->out, "  [pid %u tid %u]\n", r->pid, r->tid);
	}
	err = prefix_push(&p, "");
	if (!err)
		err = text_children(o, r, 0, &p);
	free(p.buf);
	return err;
}

/* ------------------------------------------------------------------ json */

static void json_node(const struct report_opts *o, struct jw *j, const struct plw_node *n,
		      int depth)
{
	uint64_t hidden_calls = 0, hidden_ns = 0;
	bool too_deep = o->depth >= 0 && depth >= o->depth;

	jw_obj(j);
	jw_node_site(j, n);
	if (cur_net) {
		const struct net_req *r = rnet_node_req(cur_net, n);

		jw_key(j, "host");
		jw_str(j, rnet_host_of(cur_net, n->input));
		if (r)
			rnet_jw_req(j, cur_net, r);
	}
	jw_key(j, "pid");
	jw_u64(j, n->pid);
	jw_key(j, "tid");
	jw_u64(j, n->tid);
	jw_key(j, "start_ns");
	jw_u64(j, n->start_ns);
	jw_key(j, "dur_ns");
	jw_u64(j, n->dur_ns);
	jw_key(j, "self_ns");
	jw_u64(j, n->self_ns);
	jw_key(j, "count");
	jw_u64(j, n->count);
	jw_key(j, "flags");
	jw_flags(j, n->flags);
	if (n->site->kind == PLW_KIND_SYSCALL) {
		jw_key(j, "fd");
		if (n->fd1 && n->fd1 != PLW_FD_MIXED)
			jw_u64(j, n->fd1 - 1);
		else
			jw_null(j);
		jw_key(j, "bytes");
		jw_u64(j, n->bytes);
	}
	if (n->site->kind == PLW_KIND_IO || n->site->kind == PLW_KIND_MEM) {
		jw_key(j, "bytes");
		jw_u64(j, n->bytes);
	}
	if (n->site->kind != PLW_KIND_PYTHON) {
		jw_key(j, "max_ns");
		jw_u64(j, n->max_ns);
	}
	if (n == cur_bottleneck) {
		jw_key(j, "bottleneck");
		jw_bool(j, true);
	}
	jw_key(j, "children");
	jw_arr(j);
	for (const struct plw_node *c = n->child; c; c = c->next) {
		if (too_deep || !shown(o, c)) {
			hidden_calls += c->count;
			hidden_ns += c->dur_ns;
			continue;
		}
		json_node(o, j, c, depth + 1);
	}
	const struct plw_node *g = graft_of(n);

	if (g && !too_deep && shown(o, g) && depth < PLW_TREE_DEPTH_MAX)
		json_node(o, j, g, depth + 1);
	jw_arr_end(j);
	if (hidden_calls) {
		jw_key(j, "hidden");
		jw_obj(j);
		jw_key(j, "calls");
		jw_u64(j, hidden_calls);
		jw_key(j, "dur_ns");
		jw_u64(j, hidden_ns);
		jw_obj_end(j);
	}
	jw_obj_end(j);
}

static const char *mode_name(const struct report_opts *o)
{
	return o->mode == FLOW_ALL ? "all" : o->mode == FLOW_LAST ? "last" : "top";
}

int report_flow(const struct report_opts *o, struct report_result *res)
{
	struct source src;
	struct net net;
	struct flow f = { .o = o, .src = &src };
	int err = source_open(&src, o, res);

	if (err)
		return err;
	memset(&net, 0, sizeof(net));
	if (src.net) {
		/* several hosts: source_open joined them already; taken over */
		net = *src.net;
		free(src.net);
		src.net = NULL;
		f.net = &net;
	} else if (rnet_wanted(&src)) {
		/* one host: its requests (and joins between its files) */
		err = rnet_prepare(&net, o, &src, res);
		if (err)
			goto out;
		f.net = net.labels || net.nr_hosts > 1 ? &net : NULL;
	}
	cur_net = f.net;
	f.cap = o->mode == FLOW_TOP ? (o->top ? o->top : 1) : o->mode == FLOW_LAST ? 1 : 1024;
	f.trees = calloc(f.cap, sizeof(*f.trees));
	struct plw_model_opts mo = {
		.trees = true, .kernel_leaves = true, .on_root = flow_on_root, .resolve = flow_resolve, .ctx = &f,
	};
	if (!f.trees || plw_model_new(&f.m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	err = f.net ? rnet_run_model(f.net, &src, f.m, res) : source_run_model(&src, f.m, res);
	if (err)
		goto out;
	if (f.oom) {
		res_err(res, -ENOMEM, "out of memory keeping %" PRIu64 " root calls (try --top N)", f.roots);
		err = -ENOMEM;
		goto out;
	}
	source_damage(&src, res);
	if (o->mode == FLOW_TOP)
		qsort(f.trees, f.len, sizeof(*f.trees), cmp_slowest);
	else
		qsort(f.trees, f.len, sizeof(*f.trees), cmp_start);

	const struct plw_model_stats *st = plw_model_stats(f.m);

	if (o->json) {
		struct jw j;

		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "mode");
		jw_str(&j, mode_name(o));
		jw_key(&j, "events");
		jw_u64(&j, st->events);
		jw_key(&j, "calls");
		jw_u64(&j, st->calls);
		jw_key(&j, "root_calls");
		jw_u64(&j, f.roots);
		jw_key(&j, "lost");
		jw_u64(&j, st->lost);
		if (o->mode == FLOW_TOP) {
			jw_key(&j, "cut_start_roots");
			jw_u64(&j, f.cut_roots);
		}
		if (f.net)
			rnet_jw_summary(&j, f.net, f.span_roots);
		jw_damage(&j, res);
		jw_key(&j, "roots");
		jw_arr(&j);
		for (size_t i = 0; i < f.len; i++) {
			cur_bottleneck = bottleneck(f.trees[i]->root);
			json_node(o, &j, f.trees[i]->root, 0);
		}
		jw_arr_end(&j);
		jw_obj_end(&j);
		goto out;
	}
	if (!st->calls && !st->returns) {
		fprintf(o->out, "no Python calls in %s (%" PRIu64 " events, none from Python)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files", st->events);
		goto out;
	}
	switch (o->mode) {
	case FLOW_TOP:
		if (f.len == f.roots - f.cut_roots)
			fprintf(o->out, "%zu root call%s, slowest first:\n\n", f.len,
				f.len == 1 ? "" : "s");
		else
			fprintf(o->out, "the %zu slowest of %" PRIu64 " root calls:\n\n", f.len,
				f.roots - f.cut_roots);
		break;
	case FLOW_ALL:
		fprintf(o->out, "%" PRIu64 " root call%s, in start order:\n\n", f.roots,
			f.roots == 1 ? "" : "s");
		break;
	case FLOW_LAST:
		fprintf(o->out, "the last of %" PRIu64 " root call%s:\n\n", f.roots,
			f.roots == 1 ? "" : "s");
		break;
	}
	for (size_t i = 0; i < f.len; i++) {
		if (i)
			putc('\n', o->out);
		if (text_tree(&f, f.trees[i])) {
			res_err(res, -ENOMEM, "out of memory");
			err = -ENOMEM;
			goto out;
		}
	}
	if (f.cut_roots) {
		fprintf(o->out, "\n%" PRIu64 " root call%s cut at start (began before the recording, duration unknown) not ranked: ",
			f.cut_roots, f.cut_roots == 1 ? "" : "s");
		for (size_t i = 0; i < f.nr_cut_sites; i++) {
			fputs(i ? ", " : "", o->out);
			fputs_safe(f.cut_sites[i]->name, o->out);
		}
		fprintf(o->out, "%s; see --all\n", f.cut_more ? ", …" : "");
	}
	if (st->lost)
		fprintf(o->out, "\n%" PRIu64 " events were lost while recording: trees open then are marked [incomplete]\n",
			st->lost);
	if (f.net)
		rnet_text_summary(o->out, f.net, f.span_roots);
out:
	for (size_t i = 0; i < f.len; i++)
		drop(f.trees[i]);
	free(f.trees);
	plw_model_free(f.m);
	rnet_free(&net);
	cur_net = NULL;
	source_close(&src);
	return err;
}
