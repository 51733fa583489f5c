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

bool net_wanted(const struct source *s)
{
	if (s->n > 1)
		return true;
	const struct plw_meta *m = plw_reader_meta(plw_merge_reader(s->m, 0));

	return !m->finished || m->events_by_type[PLW_EV_NET_LABEL] ||
	       m->events_by_type[PLW_EV_NET_CONN];
}

int64_t net_time(const struct net *n, uint32_t input, uint64_t ts)
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

void net_text_summary(FILE *f, const struct net *n, uint64_t span_roots)
{
	char b[64];

	if (!n->nr_r && !n->timeline)
		return;
	putc('\n', f);
	if (n->nr_r)
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
		fprintf(f, "%" PRIu64 " server thread root%s shown as %s request spans\n", span_roots,
			span_roots == 1 ? "" : "s", span_roots == 1 ? "its" : "their");
}

void net_jw_summary(struct jw *j, const struct net *n, uint64_t span_roots)
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
	int err = net_prepare(&n, o, NULL, res);

	if (err) {
		net_free(&n);
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
		net_free(&n);
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
	fprintf(o->out, "  %-*s  %14s  %-34s  %9s  %s\n", (int)w, "HOST", "OFFSET", "INTERVAL",
		"EXCHANGES", "FILES");
	for (uint32_t h = 0; h < n.nr_hosts; h++) {
		const struct plw_skew_host *k = &n.hosts[h].sk;
		char off[64], iv[128], lo[48], hi[48];
		size_t refs = 0;

		fmt_ms(off, sizeof(off), k->offset_ns, h != ref && k->offset_ns);
		if (h == ref) {
			snprintf(iv, sizeof(iv), "reference");
		} else if (!k->bounded) {
			snprintf(iv, sizeof(iv), "unbounded (no exchanges with them)");
		} else {
			fmt_ms(lo, sizeof(lo), k->lo_ns, true);
			fmt_ms(hi, sizeof(hi), k->hi_ns, true);
			snprintf(iv, sizeof(iv), "[%s, %s]", lo, hi);
		}
		fputs("  ", o->out);
		fputs_safe(n.hosts[h].name, o->out);
		fprintf(o->out, "%*s  %14s  %-34s  %9" PRIu64 "  ", (int)(w - strlen(n.hosts[h].name)),
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
	net_free(&n);
	return 0;
}

/* ---------------------------------------------------------------- stitch */

struct st {
	const struct report_opts *o;
	struct net *n;
	uint32_t *kids;			/* per request: children, by index */
	uint32_t *kid_off, *kid_len;
	size_t w;
};

static int cmp_start_net;
static const struct net *cmp_n;

static int cmp_req_start(const void *a, const void *b)
{
	const struct net_req *x = &cmp_n->r[*(const uint32_t *)a];
	const struct net_req *y = &cmp_n->r[*(const uint32_t *)b];
	int64_t tx = net_time(cmp_n, x->input, x->start), ty = net_time(cmp_n, y->input, y->start);

	(void)cmp_start_net;
	return tx < ty ? -1 : tx > ty ? 1 : (x < y ? -1 : x > y);
}

/* children of request I: a span's calls, a call's span */
static int build_kids(struct st *s)
{
	struct net *n = s->n;
	size_t nr = n->nr_r;

	s->kid_off = calloc(nr + 1, sizeof(*s->kid_off));
	s->kid_len = calloc(nr + 1, sizeof(*s->kid_len));
	s->kids = calloc(nr + 1, sizeof(*s->kids));
	if (!s->kid_off || !s->kid_len || !s->kids)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		const struct net_req *r = &n->r[i];

		if (!r->server && r->encl >= 0)
			s->kid_len[r->encl]++;
		else if (!r->server && r->peer >= 0)
			s->kid_len[i]++;
	}
	uint32_t off = 0;

	for (size_t i = 0; i < nr; i++) {
		s->kid_off[i] = off;
		off += s->kid_len[i];
		s->kid_len[i] = 0;
	}
	for (size_t i = 0; i < nr; i++) {
		const struct net_req *r = &n->r[i];

		if (!r->server && r->encl >= 0)
			s->kids[s->kid_off[r->encl] + s->kid_len[r->encl]++] = (uint32_t)i;
		if (!r->server && r->peer >= 0)
			s->kids[s->kid_off[i] + s->kid_len[i]++] = (uint32_t)r->peer;
	}
	cmp_n = n;
	for (size_t i = 0; i < nr; i++)
		qsort(s->kids + s->kid_off[i], s->kid_len[i], sizeof(*s->kids), cmp_req_start);
	return 0;
}

static bool is_root(const struct net_req *r)
{
	return r->server ? r->peer < 0 : r->encl < 0;
}

/* does the tree under I touch one of --services' hosts */
static bool touches(const struct st *s, uint32_t i, int depth)
{
	const char *sv = s->o->services;
	const char *h = net_host_of(s->n, s->n->r[i].input);
	size_t hl = strlen(h);

	for (const char *p = sv; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == hl && !strncmp(p, h, l))
			return true;
		p = e ? e + 1 : p + l;
	}
	for (uint32_t k = 0; depth < 64 && k < s->kid_len[i]; k++)
		if (touches(s, s->kids[s->kid_off[i] + k], depth + 1))
			return true;
	return false;
}

static const char *trace_of(const struct st *s, uint32_t i)
{
	return s->n->r[i].trace_id;
}

static uint64_t req_dur(const struct net_req *r)
{
	return r->end > r->start ? r->end - r->start : 0;
}

static void text_req(const struct st *s, uint32_t i, int depth, char *pre, size_t plen)
{
	const struct net_req *r = &s->n->r[i];
	FILE *out = s->o->out;
	const char *h = net_host_of(s->n, r->input);
	char d[32], peer[80];

	snprintf(d, sizeof(d), r->end ? "%.3f ms" : "no reply", req_dur(r) / 1e6);
	fputs("  ", out);
	fputs(pre, out);
	if (depth)
		fputs("└── ", out);
	fputs_safe(h, out);
	fprintf(out, "%*s  %12s  ", (int)(s->w - strlen(h)), "", d);
	fputs_safe(r->label, out);
	if (r->server && r->status)
		fprintf(out, "  %u", r->status);
	if (r->server && r->link)
		fprintf(out, "  (%s)", r->link == NET_LINK_TCP ? "tcp connection" : "traceparent");
	if (!r->server && r->peer < 0 && r->end) {
		net_peer_text(s->n, r, peer, sizeof(peer));
		if (peer[0] && !net_peer_recorded(s->n, r))
			fprintf(out, "  (no recording of %s)", peer);
		else if (peer[0])
			fprintf(out, "  (not joined)");
	}
	putc('\n', out);
	size_t l = strlen(pre);

	if (depth && l + 4 < plen)
		strcat(pre, "    ");
	for (uint32_t k = 0; depth < 64 && k < s->kid_len[i]; k++)
		text_req(s, s->kids[s->kid_off[i] + k], depth + 1, pre, plen);
	pre[l] = 0;
}

static void json_req(const struct st *s, struct jw *j, uint32_t i, int depth)
{
	const struct net_req *r = &s->n->r[i];

	jw_obj(j);
	jw_key(j, "host");
	jw_str(j, net_host_of(s->n, r->input));
	jw_key(j, "kind");
	jw_str(j, r->server ? "span" : "net");
	net_jw_req(j, s->n, r);
	jw_key(j, "input");
	jw_u64(j, r->input);
	jw_key(j, "pid");
	jw_u64(j, r->pid);
	jw_key(j, "tid");
	jw_u64(j, r->tid);
	jw_key(j, "start_ns");
	jw_i64(j, net_time(s->n, r->input, r->start));
	jw_key(j, "dur_ns");
	if (r->end)
		jw_u64(j, req_dur(r));
	else
		jw_null(j);
	jw_key(j, "children");
	jw_arr(j);
	for (uint32_t k = 0; depth < 64 && k < s->kid_len[i]; k++)
		json_req(s, j, s->kids[s->kid_off[i] + k], depth + 1);
	jw_arr_end(j);
	jw_obj_end(j);
}

static void hosts_of(const struct st *s, uint32_t i, bool *seen, int depth)
{
	seen[s->n->in[s->n->r[i].input].host] = true;
	for (uint32_t k = 0; depth < 64 && k < s->kid_len[i]; k++)
		hosts_of(s, s->kids[s->kid_off[i] + k], seen, depth + 1);
}

int report_stitch(const struct report_opts *o, struct report_result *res)
{
	struct net n;
	struct st s = { .o = o, .n = &n };
	uint32_t *roots = NULL;
	size_t nr = 0;
	bool *seen = NULL;
	int err = net_prepare(&n, o, NULL, res);

	if (err)
		goto out;
	n.timeline = n.nr_hosts > 1;
	roots = calloc(n.nr_r + 1, sizeof(*roots));
	seen = calloc(n.nr_hosts + 1, sizeof(*seen));
	if (!roots || !seen || build_kids(&s)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n.nr_r; i++) {
		if (!is_root(&n.r[i]))
			continue;
		if (o->trace && strncmp(n.r[i].trace_id, o->trace, strlen(o->trace)))
			continue;
		if (o->services && !touches(&s, (uint32_t)i, 0))
			continue;
		roots[nr++] = (uint32_t)i;
	}
	cmp_n = &n;
	qsort(roots, nr, sizeof(*roots), cmp_req_start);
	for (uint32_t h = 0; h < n.nr_hosts; h++)
		if (strlen(n.hosts[h].name) > s.w)
			s.w = strlen(n.hosts[h].name);
	if (o->json) {
		struct jw j;

		jw_init(&j, o->out);
		jw_obj(&j);
		jw_strs(&j, "files", o->paths, o->nr_paths);
		net_jw_summary(&j, &n, 0);
		jw_key(&j, "requests");
		jw_arr(&j);
		for (size_t k = 0; k < nr; k++) {
			const struct net_req *r = &n.r[roots[k]];

			memset(seen, 0, n.nr_hosts * sizeof(*seen));
			hosts_of(&s, roots[k], seen, 0);
			jw_obj(&j);
			jw_key(&j, "trace_id");
			if (r->trace_id[0])
				jw_str(&j, r->trace_id);
			else
				jw_null(&j);
			jw_key(&j, "hosts");
			jw_arr(&j);
			for (uint32_t h = 0; h < n.nr_hosts; h++)
				if (seen[h])
					jw_str(&j, n.hosts[h].name);
			jw_arr_end(&j);
			jw_key(&j, "spans");
			jw_arr(&j);
			json_req(&s, &j, roots[k], 0);
			jw_arr_end(&j);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
		jw_obj_end(&j);
		goto out;
	}
	if (!nr) {
		fprintf(o->out, "no requests%s in %s (%" PRIu64 " protocol labels)\n",
			o->trace || o->services ? " matching" : "",
			o->nr_paths == 1 ? o->paths[0] : "these files", n.labels);
		goto out;
	}
	for (size_t k = 0; k < nr; k++) {
		char pre[4 * 64 + 8] = "";
		uint32_t nh = 0;

		memset(seen, 0, n.nr_hosts * sizeof(*seen));
		hosts_of(&s, roots[k], seen, 0);
		for (uint32_t h = 0; h < n.nr_hosts; h++)
			nh += seen[h];
		if (k)
			putc('\n', o->out);
		fputs("REQUEST ", o->out);
		if (trace_of(&s, roots[k])[0])
			fprintf(o->out, "trace-id: %s", trace_of(&s, roots[k]));
		else
			fputs("(no trace id)", o->out);
		fprintf(o->out, "  %u host%s\n\n", nh, nh == 1 ? "" : "s");
		text_req(&s, roots[k], 0, pre, sizeof(pre));
	}
	net_text_summary(o->out, &n, 0);
out:
	free(roots);
	free(seen);
	free(s.kids);
	free(s.kid_off);
	free(s.kid_len);
	net_free(&n);
	return err;
}
