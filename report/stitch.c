/* SPDX-License-Identifier: MIT */
/*
 * stitch.c - `pylow report hosts` (clock offsets per host) and
 * `pylow report stitch` (requests with their per-host spans), from the
 * requests and joins of report/net.c; and flow's summary of them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

bool rnet_hosts_differ(const struct source *s)
{
	const char *first = NULL, *first_boot = NULL;
	bool differ = false;

	for (size_t i = 0; i < s->n; i++) {
		const struct plw_meta *m = plw_reader_meta(plw_merge_reader(s->m, i));
		const char *h = m->hostname, *b = m->boot_id && *m->boot_id ? m->boot_id : NULL;

		/* without a clock reference there is no timeline to put it on */
		if (!m->tod_ns && !m->mono_ns)
			return false;
		if (!h || !*h)
			h = s->paths[i];
		if (!first) {
			first = h;
			first_boot = b;
		} else if (strcmp(first, h) || (first_boot && b && strcmp(first_boot, b))) {
			differ = true;
		}
	}
	return differ;
}

bool rnet_wanted(const struct source *s)
{
	if (s->n > 1)
		return true;
	const struct plw_meta *m = plw_reader_meta(plw_merge_reader(s->m, 0));

	return !m->finished || m->events_by_type[PLW_EV_NET_LABEL] ||
	       m->events_by_type[PLW_EV_NET_CONN];
}

int64_t rnet_time(const struct net *n, uint32_t input, uint64_t ts)
{
	const struct net_input *in = &n->in[input];

	if (!n->timeline)
		return (int64_t)ts;
	return plw_merge_clock_map(in->clk, in->nr_clk, ts) - n->hosts[in->host].sk.offset_ns;
}

static void fmt_ms(char *buf, size_t len, int64_t ns, bool sign)
{
	snprintf(buf, len, sign ? "%+.3f ms" : "%.3f ms", ns / 1e6);
}

void rnet_text_summary(FILE *f, const struct net *n, uint64_t span_roots)
{
	char b[64];

	/* no call made from a recorded thread: nothing to say about joins */
	bool calls = n->nr_r && (n->links_tp || n->links_tcp || n->unjoined);

	if (!calls && !n->timeline && !span_roots)
		return;
	putc('\n', f);
	if (calls)
		fprintf(f, "joins: %" PRIu64 " by traceparent, %" PRIu64 " by tcp connection (4-tuple and timing); %" PRIu64 " call%s not joined\n",
			n->links_tp, n->links_tcp, n->unjoined, n->unjoined == 1 ? "" : "s");
	if (n->timeline) {
		fputs("times: on the wall clock of ", f);
		fputs_safe(n->hosts[n->in[0].host].name, f);
		for (uint32_t h = 0; h < n->nr_hosts; h++) {
			const struct plw_skew_host *k = &n->hosts[h].sk;

			if (h == n->in[0].host || !k->offset_ns)
				continue;
			fmt_ms(b, sizeof(b), k->offset_ns < 0 ? -k->offset_ns : k->offset_ns, false);
			fputs("; ", f);
			fputs_safe(n->hosts[h].name, f);
			fprintf(f, "'s clock %s %s (corrected)", b,
				k->offset_ns > 0 ? "ahead" : "behind");
		}
		fputs(" (see 'pylow report hosts')\n", f);
	}
	if (span_roots)
		fprintf(f, "%" PRIu64 " server thread root%s not shown: %s requests are drawn under their callers\n",
			span_roots, span_roots == 1 ? "" : "s", span_roots == 1 ? "its" : "their");
}

void rnet_jw_summary(struct jw *j, const struct net *n, uint64_t span_roots)
{
	jw_key(j, "links");
	jw_obj(j);
	jw_key(j, "traceparent");
	jw_u64(j, n->links_tp);
	jw_key(j, "tcp");
	jw_u64(j, n->links_tcp);
	jw_key(j, "unjoined");
	jw_u64(j, n->unjoined);
	jw_obj_end(j);
	jw_key(j, "span_roots");
	jw_u64(j, span_roots);
	jw_key(j, "timeline");
	jw_str(j, n->timeline ? "wall" : "file");
}

/* ----------------------------------------------------------------- hosts */

static void jw_bound(struct jw *j, const char *key, int64_t v, bool open)
{
	jw_key(j, key);
	if (open)
		jw_null(j);
	else
		jw_i64(j, v);
}

int report_hosts(const struct report_opts *o, struct report_result *res)
{
	struct net n;
	int err = rnet_prepare(&n, o, NULL, res);

	if (err) {
		rnet_free(&n);
		return err;
	}
	uint32_t ref = n.in[0].host;

	if (o->json) {
		struct jw j;

		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		jw_key(&j, "reference");
		jw_str(&j, n.hosts[ref].name);
		jw_key(&j, "consistent");
		jw_bool(&j, n.skew == 0);
		jw_key(&j, "hosts");
		jw_arr(&j);
		for (uint32_t h = 0; h < n.nr_hosts; h++) {
			const struct plw_skew_host *k = &n.hosts[h].sk;
			size_t refs = 0;

			jw_obj(&j);
			jw_key(&j, "host");
			jw_str(&j, n.hosts[h].name);
			jw_key(&j, "offset_ns");
			jw_i64(&j, k->offset_ns);
			jw_bound(&j, "offset_lo_ns", k->lo_ns, k->lo_ns == PLW_SKEW_UNBOUNDED_LO);
			jw_bound(&j, "offset_hi_ns", k->hi_ns, k->hi_ns == PLW_SKEW_UNBOUNDED_HI);
			jw_key(&j, "matched");
			jw_u64(&j, k->matched);
			jw_key(&j, "bounded");
			jw_bool(&j, k->bounded);
			jw_key(&j, "inconsistent");
			jw_bool(&j, k->inconsistent);
			jw_key(&j, "files");
			jw_arr(&j);
			for (size_t i = 0; i < n.nr_in; i++)
				if (n.in[i].host == h) {
					jw_str(&j, o->paths[i]);
					refs += n.in[i].nr_clk;
				}
			jw_arr_end(&j);
			jw_key(&j, "clock_refs");
			jw_u64(&j, refs);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
		jw_key(&j, "links");
		jw_obj(&j);
		jw_key(&j, "traceparent");
		jw_u64(&j, n.links_tp);
		jw_key(&j, "tcp");
		jw_u64(&j, n.links_tcp);
		jw_key(&j, "unjoined");
		jw_u64(&j, n.unjoined);
		jw_obj_end(&j);
		jw_obj_end(&j);
		rnet_free(&n);
		return 0;
	}
	size_t w = 4;

	for (uint32_t h = 0; h < n.nr_hosts; h++)
		if (strlen(n.hosts[h].name) > w)
			w = strlen(n.hosts[h].name);
	fprintf(o->out, "%u host%s; OFFSET = how far a host's wall clock is ahead of ", n.nr_hosts,
		n.nr_hosts == 1 ? "" : "s");
	fputs_safe(n.hosts[ref].name, o->out);
	fputs("'s (the first file's host),\nfrom the clock references in the files and the causality of matched exchanges\n\n",
	      o->out);
	fprintf(o->out, "  %-*s  %14s  %-44s  %9s  %s\n", (int)w, "HOST", "OFFSET", "INTERVAL",
		"EXCHANGES", "FILES");
	for (uint32_t h = 0; h < n.nr_hosts; h++) {
		const struct plw_skew_host *k = &n.hosts[h].sk;
		char off[64], iv[128], lo[48], hi[48];
		size_t refs = 0;

		fmt_ms(off, sizeof(off), k->offset_ns, h != ref && k->offset_ns);
		if (h == ref) {
			snprintf(iv, sizeof(iv), "reference");
		} else if (!k->bounded && k->matched) {
			snprintf(iv, sizeof(iv), "unbounded (no exchange path to %s)",
				 n.hosts[ref].name);
		} else if (!k->bounded) {
			snprintf(iv, sizeof(iv), "unbounded (no exchanges with them)");
		} else {
			fmt_ms(lo, sizeof(lo), k->lo_ns, true);
			fmt_ms(hi, sizeof(hi), k->hi_ns, true);
			snprintf(iv, sizeof(iv), "[%s, %s]", lo, hi);
		}
		fputs("  ", o->out);
		fputs_safe(n.hosts[h].name, o->out);
		fprintf(o->out, "%*s  %14s  %-44s  %9" PRIu64 "  ", (int)(w - strlen(n.hosts[h].name)),
			"", off, iv, k->matched);
		bool first = true;

		for (size_t i = 0; i < n.nr_in; i++)
			if (n.in[i].host == h) {
				fputs(first ? "" : ", ", o->out);
				fputs_safe(o->paths[i], o->out);
				first = false;
				refs += n.in[i].nr_clk;
			}
		if (!refs)
			fputs("  (no clock reference: file times used as they are)", o->out);
		if (k->inconsistent)
			fputs("  (inconsistent bounds: clock stepped?)", o->out);
		putc('\n', o->out);
	}
	fprintf(o->out, "\njoins: %" PRIu64 " by traceparent, %" PRIu64 " by tcp connection; %" PRIu64 " call%s not joined\n",
		n.links_tp, n.links_tcp, n.unjoined, n.unjoined == 1 ? "" : "s");
	rnet_free(&n);
	return 0;
}

/* ---------------------------------------------------------------- stitch */

/*
 * The requests: root calls (and request spans whose caller was not
 * recorded) that made or served a network request, each with the spans it
 * led to on the other hosts grafted under the calls that made them.  Shown:
 * Python frames, calls and request spans (kernel leaves are flow's).
 */
struct st {
	const struct report_opts *o;
	struct source src;
	struct net n;
	struct plw_model *m;
	struct plw_node **roots;
	size_t nr, cap;
	bool oom;
	size_t w;			/* widest host name */
};

static const struct plw_node *st_graft(const struct net *n, const struct plw_node *x)
{
	const struct net_req *r = x->site->kind == PLW_KIND_NET ? rnet_node_req(n, x) : NULL;

	return r && r->peer >= 0 ? n->span_tree[r->peer] : NULL;
}

static bool st_shown(const struct plw_node *x)
{
	return x->site->kind == PLW_KIND_PYTHON || x->site->kind == PLW_KIND_NET ||
	       x->site->kind == PLW_KIND_SPAN;
}

/* does the tree under X (grafts included) hold a request */
static bool has_req(const struct net *n, const struct plw_node *x, int depth)
{
	if (rnet_node_req(n, x))
		return true;
	for (const struct plw_node *c = x->child; c && depth < 256; c = c->next)
		if (has_req(n, c, depth + 1))
			return true;
	return false;
}

static bool st_on_root(void *ctx, struct plw_tree *tree)
{
	struct st *s = ctx;
	struct net_req *r = rnet_node_req(&s->n, tree->root);
	struct plw_node *c;

	if (s->oom)
		return false;
	if (r && r->server && r->peer >= 0) {
		if (!s->n.span_tree[r - s->n.r] &&
		    !(s->n.span_tree[r - s->n.r] = plw_node_clone(tree->root)))
			s->oom = true;
		return false;
	}
	if ((!r && (tree->root->flags & PLW_NODE_SPANS)) || !has_req(&s->n, tree->root, 0))
		return false;
	if (s->nr == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct plw_node **nr = realloc(s->roots, ncap * sizeof(*nr));

		if (!nr) {
			s->oom = true;
			return false;
		}
		s->roots = nr;
		s->cap = ncap;
	}
	c = plw_node_clone(tree->root);
	if (!c)
		s->oom = true;
	else
		s->roots[s->nr++] = c;
	return false;
}

static const struct plw_loc *st_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(&((struct st *)ctx)->src, input, loc);
}

/*
 * A request: a kept root with its calls and spans; a root holding several
 * trace ids (a client making several requests) is one request per trace id
 * (and one for its calls without a trace id), each reached through the
 * root's frames above them.
 * Above the request only the frames leading to it are shown; below it only
 * the frames leading to further requests (flow shows everything).
 */
struct group {
	const struct plw_node *root;
	const char *trace;		/* NULL: the calls without a trace id */
	bool all;			/* every request of the root */
	const struct plw_node *top;	/* its first request node */
};

static const char *own_trace(const struct net *n, const struct plw_node *x)
{
	const struct net_req *r = rnet_node_req(n, x);

	return r ? r->trace_id : "";
}

static bool is_top(const struct st *s, const struct group *g, const struct plw_node *x)
{
	if (!rnet_node_req(&s->n, x))
		return false;
	if (g->all)
		return true;
	return !strcmp(own_trace(&s->n, x), g->trace ? g->trace : "");
}

/* is X, or a frame below X above any other request, one of G's requests */
static bool leads(const struct st *s, const struct group *g, const struct plw_node *x, int depth)
{
	if (rnet_node_req(&s->n, x))
		return is_top(s, g, x);
	for (const struct plw_node *c = x->child; c && depth < 256; c = c->next)
		if (leads(s, g, c, depth + 1))
			return true;
	return false;
}

static bool keep_child(const struct st *s, const struct group *g, const struct plw_node *c,
		       bool below)
{
	if (!st_shown(c))
		return false;
	return below ? has_req(&s->n, c, 0) : leads(s, g, c, 0);
}

struct groups {
	struct group *v;
	size_t nr, cap;
};

static int group_add(struct groups *gs, const struct plw_node *root, const char *trace,
		     bool all, const struct plw_node *top)
{
	for (size_t i = 0; i < gs->nr; i++)
		if (gs->v[i].root == root && !strcmp(gs->v[i].trace ? gs->v[i].trace : "",
						     trace ? trace : ""))
			return 0;
	if (gs->nr == gs->cap) {
		size_t ncap = gs->cap ? gs->cap * 2 : 64;
		struct group *nv = realloc(gs->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		gs->v = nv;
		gs->cap = ncap;
	}
	gs->v[gs->nr++] = (struct group){ .root = root, .trace = trace, .all = all, .top = top };
	return 0;
}

/* the first request node on each path from X: *FIRST (the first one),
 * *TRACE (the first trace id), *MANY (another trace id too); with GS, one
 * group per trace id */
static int collect(const struct st *s, struct groups *gs, const struct plw_node *root,
		   const struct plw_node *x, int depth, const struct plw_node **first,
		   const char **trace, bool *many)
{
	if (rnet_node_req(&s->n, x)) {
		const char *t = own_trace(&s->n, x);

		if (!*first)
			*first = x;
		if (*t && !*trace)
			*trace = t;
		else if (*t && strcmp(*trace, t))
			*many = true;
		return gs ? group_add(gs, root, *t ? t : NULL, false, x) : 0;
	}
	for (const struct plw_node *c = x->child; c && depth < 256; c = c->next) {
		int err = collect(s, gs, root, c, depth + 1, first, trace, many);

		if (err)
			return err;
	}
	return 0;
}

/* the requests of ROOT: one, or one per trace id when it holds several */
static int collect_root(const struct st *s, struct groups *gs, const struct plw_node *root)
{
	const struct plw_node *first = NULL;
	const char *trace = NULL;
	bool many = false;

	collect(s, NULL, root, root, 0, &first, &trace, &many);
	if (!first)
		return 0;
	if (!many)
		return group_add(gs, root, trace, true, first);
	first = NULL;
	trace = NULL;
	return collect(s, gs, root, root, 0, &first, &trace, &many);
}

static void hosts_of(const struct st *s, const struct group *g, const struct plw_node *x,
		     bool below, bool *seen, int depth)
{
	const struct plw_node *gr = st_graft(&s->n, x);

	seen[s->n.in[x->input].host] = true;
	below = below || is_top(s, g, x);
	if (depth >= 256)
		return;
	for (const struct plw_node *c = x->child; c; c = c->next)
		if (keep_child(s, g, c, below))
			hosts_of(s, g, c, below, seen, depth + 1);
	if (gr)
		hosts_of(s, g, gr, true, seen, depth + 1);
}

static void st_label(const struct st *s, const struct plw_node *x, FILE *out)
{
	const struct net_req *r = rnet_node_req(&s->n, x);
	char peer[80];

	if (r && x->site->kind == PLW_KIND_SPAN) {
		fputs("request ", out);
		fputs_safe(x->site->name, out);
		if (r->status)
			fprintf(out, "  %u", r->status);
		if (r->link)
			fprintf(out, "  (joined by %s)",
				r->link == NET_LINK_TCP ? "tcp connection" : "traceparent");
		if (r->no_reply)
			fputs("  (no response: connection closed)", out);
		return;
	}
	fputs_safe(x->site->name, out);
	if (x->count > 1)
		fprintf(out, " ×%" PRIu64, x->count);
	if (r && r->no_reply)
		fputs("  (no reply: connection closed)", out);
	if (r && r->peer < 0 && x->count == 1) {
		rnet_peer_text(&s->n, r, peer, sizeof(peer));
		if (peer[0] && !rnet_peer_recorded(&s->n, r))
			fprintf(out, "  (no recording of %s)", peer);
		else if (peer[0])
			fputs("  (not joined)", out);
	}
}

static void st_text(const struct st *s, const struct group *g, const struct plw_node *x,
		    bool below, int depth, char *pre, size_t plen, bool last)
{
	FILE *out = s->o->out;
	const char *h = rnet_host_of(&s->n, x->input);
	const struct plw_node *gr = st_graft(&s->n, x);
	const struct plw_node *lastc = NULL;
	size_t l = strlen(pre);

	below = below || is_top(s, g, x);
	fputs("  ", out);
	fputs(pre, out);
	if (depth)
		fputs(last ? "└── " : "├── ", out);
	fputs_safe(h, out);
	fprintf(out, "%*s  %12.3f ms  ", (int)(s->w - strlen(h)), "", x->dur_ns / 1e6);
	st_label(s, x, out);
	putc('\n', out);
	if (depth >= 256)
		return;
	if (depth && l + 8 < plen)
		strcat(pre, last ? "    " : "│   ");
	for (const struct plw_node *c = x->child; c; c = c->next)
		if (keep_child(s, g, c, below))
			lastc = c;
	for (const struct plw_node *c = x->child; c; c = c->next)
		if (keep_child(s, g, c, below))
			st_text(s, g, c, below, depth + 1, pre, plen, c == lastc && !gr);
	if (gr)
		st_text(s, g, gr, true, depth + 1, pre, plen, true);
	pre[l] = 0;
}

static void st_json(const struct st *s, struct jw *j, const struct group *g,
		    const struct plw_node *x, bool below, int depth)
{
	const struct net_req *r = rnet_node_req(&s->n, x);
	const struct plw_node *gr = st_graft(&s->n, x);

	below = below || is_top(s, g, x);
	jw_obj(j);
	jw_node_site(j, x);
	jw_key(j, "host");
	jw_str(j, rnet_host_of(&s->n, x->input));
	if (r)
		rnet_jw_req(j, &s->n, r);
	jw_key(j, "pid");
	jw_u64(j, x->pid);
	jw_key(j, "tid");
	jw_u64(j, x->tid);
	jw_key(j, "start_ns");
	jw_u64(j, x->start_ns);
	jw_key(j, "dur_ns");
	jw_u64(j, x->dur_ns);
	jw_key(j, "count");
	jw_u64(j, x->count);
	jw_key(j, "flags");
	jw_flags(j, x->flags);
	jw_key(j, "children");
	jw_arr(j);
	for (const struct plw_node *c = x->child; c && depth < 256; c = c->next)
		if (keep_child(s, g, c, below))
			st_json(s, j, g, c, below, depth + 1);
	if (gr && depth < 256)
		st_json(s, j, g, gr, true, depth + 1);
	jw_arr_end(j);
	jw_obj_end(j);
}

static bool in_services(const struct st *s, const bool *seen)
{
	for (uint32_t h = 0; h < s->n.nr_hosts; h++) {
		const char *name = s->n.hosts[h].name;
		size_t hl = strlen(name);

		if (!seen[h])
			continue;
		for (const char *p = s->o->services; *p;) {
			const char *e = strchr(p, ',');
			size_t l = e ? (size_t)(e - p) : strlen(p);

			if (l == hl && !strncmp(p, name, l))
				return true;
			p = e ? e + 1 : p + l;
		}
	}
	return false;
}

static int cmp_group_start(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->top->start_ns != y->top->start_ns)
		return x->top->start_ns < y->top->start_ns ? -1 : 1;
	return x < y ? -1 : x > y;
}

int report_stitch(const struct report_opts *o, struct report_result *res)
{
	struct st s = { .o = o };
	struct groups gs = { 0 };
	bool *seen = NULL;
	size_t shown = 0;
	int err = source_open(&s.src, o, res);

	if (err)
		return err;
	if (s.src.net) {
		/* several hosts: source_open joined them already; taken over */
		s.n = *s.src.net;
		free(s.src.net);
		s.src.net = NULL;
	} else if ((err = rnet_prepare(&s.n, o, &s.src, res))) {
		goto out;
	}
	struct plw_model_opts mo = {
		.trees = true, .on_root = st_on_root, .resolve = st_resolve, .ctx = &s,
	};
	seen = calloc(s.n.nr_hosts + 1, sizeof(*seen));
	if (!seen || plw_model_new(&s.m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	err = rnet_run_model(&s.n, &s.src, s.m, res);
	if (err)
		goto out;
	for (size_t i = 0; i < s.nr && !s.oom; i++)
		if (collect_root(&s, &gs, s.roots[i]))
			s.oom = true;
	if (s.oom) {
		res_err(res, -ENOMEM, "out of memory keeping the requests");
		err = -ENOMEM;
		goto out;
	}
	source_damage(&s.src, res);
	if (gs.nr > 1)
		qsort(gs.v, gs.nr, sizeof(*gs.v), cmp_group_start);
	for (uint32_t h = 0; h < s.n.nr_hosts; h++)
		if (strlen(s.n.hosts[h].name) > s.w)
			s.w = strlen(s.n.hosts[h].name);
	/* filters: a group not shown loses its root */
	for (size_t i = 0; i < gs.nr; i++) {
		struct group *g = &gs.v[i];

		memset(seen, 0, s.n.nr_hosts * sizeof(*seen));
		hosts_of(&s, g, g->root, false, seen, 0);
		if ((o->trace && (!g->trace || strncmp(g->trace, o->trace, strlen(o->trace)))) ||
		    (o->services && !in_services(&s, seen)))
			g->root = NULL;
		else
			shown++;
	}
	if (o->json) {
		struct jw j;

		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		rnet_jw_summary(&j, &s.n, 0);
		jw_damage(&j, res);
		jw_key(&j, "requests");
		jw_arr(&j);
		for (size_t i = 0; i < gs.nr; i++) {
			const struct group *g = &gs.v[i];

			if (!g->root)
				continue;
			memset(seen, 0, s.n.nr_hosts * sizeof(*seen));
			hosts_of(&s, g, g->root, false, seen, 0);
			jw_obj(&j);
			jw_key(&j, "trace_id");
			if (g->trace)
				jw_str(&j, g->trace);
			else
				jw_null(&j);
			jw_key(&j, "hosts");
			jw_arr(&j);
			for (uint32_t h = 0; h < s.n.nr_hosts; h++)
				if (seen[h])
					jw_str(&j, s.n.hosts[h].name);
			jw_arr_end(&j);
			jw_key(&j, "root");
			st_json(&s, &j, g, g->root, false, 0);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
		jw_obj_end(&j);
		goto out;
	}
	if (!shown) {
		fprintf(o->out, "no requests%s in %s (%" PRIu64 " protocol labels)\n",
			o->trace || o->services ? " matching" : "",
			o->nr_paths == 1 ? o->paths[0] : "these files", s.n.labels);
		goto out;
	}
	bool first = true;

	for (size_t i = 0; i < gs.nr; i++) {
		const struct group *g = &gs.v[i];
		char pre[4 * 256 + 16] = "";
		uint32_t nh = 0;

		if (!g->root)
			continue;
		memset(seen, 0, s.n.nr_hosts * sizeof(*seen));
		hosts_of(&s, g, g->root, false, seen, 0);
		for (uint32_t h = 0; h < s.n.nr_hosts; h++)
			nh += seen[h];
		fputs(first ? "" : "\n", o->out);
		first = false;
		if (g->trace)
			fprintf(o->out, "REQUEST trace-id: %s", g->trace);
		else
			fputs("REQUEST (no trace id)", o->out);
		fprintf(o->out, "  (%u host%s)\n\n", nh, nh == 1 ? "" : "s");
		st_text(&s, g, g->root, false, 0, pre, sizeof(pre), true);
	}
	rnet_text_summary(o->out, &s.n, 0);
out:
	for (size_t i = 0; i < s.nr; i++)
		free(s.roots[i]);
	free(s.roots);
	free(gs.v);
	free(seen);
	plw_model_free(s.m);
	rnet_free(&s.n);
	source_close(&s.src);
	return err;
}
