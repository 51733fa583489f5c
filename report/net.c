/* SPDX-License-Identifier: MIT */
/*
 * net.c - requests across hosts: first pass (hosts, clocks, connections,
 * requests), joins (traceparent, TCP), clock offsets, and the second pass
 * that puts calls and spans into the model.  See net.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "format/grow.h"
#include "net.h"

enum { ACT_NONE, ACT_CSTART, ACT_CEND, ACT_SSTART, ACT_SEND };

/* ----------------------------------------------------- conn state table */

/* pending requests of a connection (FIFO), beside struct net_conn */
struct cstate {
	uint32_t cq, cq_tail;		/* client requests waiting for a reply (index + 1) */
	uint32_t sq, sq_tail;		/* server requests waiting for a response */
};

struct scan {
	struct net *n;
	uint32_t *tab;			/* conn index + 1, open addressing */
	size_t cap;
	struct cstate *cs;		/* by conn index */
	size_t cap_cs;
	uint32_t *qnext;		/* by request index: next in its queue (+1) */
	size_t cap_q;
	uint32_t *open_srv;		/* server spans still open (request index) */
	size_t nr_open, cap_open;
};

static uint64_t key_hash(uint32_t input, uint64_t conn)
{
	uint64_t k = conn ^ ((uint64_t)input * 0x9e3779b97f4a7c15ULL);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

/* the net_conn of (INPUT, CONN), created when missing (unless FIND_ONLY:
 * then -2); -1 on ENOMEM */
static int32_t conn_find(struct scan *sc, uint32_t input, uint64_t conn, bool find_only)
{
	struct net *n = sc->n;

	if ((n->nr_c + 1) * 2 > sc->cap) {
		size_t ncap = sc->cap ? sc->cap * 2 : 256;
		uint32_t *nt = calloc(ncap, sizeof(*nt));

		if (!nt)
			return -1;
		for (size_t i = 0; i < sc->cap; i++) {
			if (!sc->tab[i])
				continue;
			const struct net_conn *c = &n->c[sc->tab[i] - 1];
			size_t j = key_hash(c->input, c->conn) & (ncap - 1);

			while (nt[j])
				j = (j + 1) & (ncap - 1);
			nt[j] = sc->tab[i];
		}
		free(sc->tab);
		sc->tab = nt;
		sc->cap = ncap;
	}
	size_t j = key_hash(input, conn) & (sc->cap - 1);

	for (; sc->tab[j]; j = (j + 1) & (sc->cap - 1)) {
		const struct net_conn *c = &n->c[sc->tab[j] - 1];

		if (c->input == input && c->conn == conn)
			return (int32_t)(sc->tab[j] - 1);
	}
	if (find_only)
		return -2;
	if (plw_grow((void **)&n->c, &n->cap_c, n->nr_c + 1, sizeof(*n->c)) ||
	    plw_grow((void **)&sc->cs, &sc->cap_cs, n->nr_c + 1, sizeof(*sc->cs)))
		return -1;
	struct net_conn *c = &n->c[n->nr_c];

	memset(c, 0, sizeof(*c));
	c->input = input;
	c->conn = conn;
	c->op = UINT32_MAX;
	c->peer = -1;
	memset(&sc->cs[n->nr_c], 0, sizeof(sc->cs[0]));
	sc->tab[j] = (uint32_t)++n->nr_c;
	return (int32_t)(n->nr_c - 1);
}

/* ------------------------------------------------------------ first pass */

static int32_t conn_get(struct scan *sc, uint32_t input, uint64_t conn)
{
	return conn_find(sc, input, conn, false);
}

static int add_act(struct net_input *in, uint32_t req, uint32_t act)
{
	if (plw_grow((void **)&in->acts, &in->cap_acts, in->nr_acts + 1, sizeof(*in->acts)))
		return -ENOMEM;
	in->acts[in->nr_acts++] = act ? (req + 1) << 3 | act : 0;
	return 0;
}

static int add_clock(struct net_input *in, uint64_t mono, uint64_t tod)
{
	if (!mono && !tod)
		return 0;
	if (plw_grow((void **)&in->clk, &in->cap_clk, in->nr_clk + 1, sizeof(*in->clk)))
		return -ENOMEM;
	in->clk[in->nr_clk].mono_ns = mono;
	in->clk[in->nr_clk].off_ns = (int64_t)(tod - mono);
	in->nr_clk++;
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "00-<32 hex>-<16 hex>-<2 hex>" */
static bool parse_tp(const char *tp, char trace[33], char parent[17])
{
	if (!tp || strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
	    !is_hex(tp + 3, 32) || !is_hex(tp + 36, 16))
		return false;
	memcpy(trace, tp + 3, 32);
	trace[32] = 0;
	memcpy(parent, tp + 36, 16);
	parent[16] = 0;
	return true;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* a new request from the label EV of INPUT; its index or -ENOMEM */
static int req_new(struct scan *sc, uint32_t input, int32_t ci, const struct plw_event *ev,
		   bool server)
{
	struct net *n = sc->n;

	if (plw_grow((void **)&n->r, &n->cap_r, n->nr_r + 1, sizeof(*n->r)) ||
	    plw_grow((void **)&sc->qnext, &sc->cap_q, n->nr_r + 1, sizeof(*sc->qnext)))
		return -ENOMEM;
	struct net_req *r = &n->r[n->nr_r];

	memset(r, 0, sizeof(*r));
	r->input = input;
	r->pid = ev->pid;
	r->tid = ev->tid;
	r->conn = ev->u.label.conn;
	r->ci = ci;
	r->server = server;
	r->proto = ev->u.label.proto;
	r->start = ev->ts;
	r->peer = -1;
	r->encl = -1;
	r->method = dup_or_empty(ev->u.label.method);
	r->target = dup_or_empty(ev->u.label.target);
	r->host = dup_or_empty(ev->u.label.host);
	if (!r->method || !r->target || !r->host)
		return -ENOMEM;
	parse_tp(ev->u.label.traceparent, r->trace_id, r->tp_parent);
	sc->qnext[n->nr_r] = 0;
	/* the connection's list of requests, in order */
	struct net_conn *c = &n->c[ci];

	if (c->last)
		n->r[c->last - 1].next_on_conn = (uint32_t)n->nr_r + 1;
	else
		c->first = (uint32_t)n->nr_r + 1;
	c->last = (uint32_t)n->nr_r + 1;
	return (int)n->nr_r++;
}

static void q_push(struct scan *sc, uint32_t *head, uint32_t *tail, uint32_t req)
{
	sc->qnext[req] = 0;
	if (*tail)
		sc->qnext[*tail - 1] = req + 1;
	else
		*head = req + 1;
	*tail = req + 1;
}

static int32_t q_pop(struct scan *sc, uint32_t *head, uint32_t *tail)
{
	if (!*head)
		return -1;
	uint32_t r = *head - 1;

	*head = sc->qnext[r];
	if (!*head)
		*tail = 0;
	return (int32_t)r;
}

/* server span Q answered: no longer open on its thread */
static void srv_closed(struct scan *sc, uint32_t q)
{
	for (size_t i = 0; i < sc->nr_open; i++)
		if (sc->open_srv[i] == q) {
			memmove(sc->open_srv + i, sc->open_srv + i + 1,
				(sc->nr_open - i - 1) * sizeof(*sc->open_srv));
			sc->nr_open--;
			return;
		}
}

static int on_label(struct scan *sc, uint32_t input, const struct plw_event *ev)
{
	struct net *n = sc->n;
	struct net_input *in = &n->in[input];
	uint64_t conn = ev->u.label.conn;
	uint16_t proto = ev->u.label.proto, dir = ev->u.label.dir;
	bool request = proto == PLW_PROTO_HTTP_REQ ||
		       ((proto == PLW_PROTO_REDIS || proto == PLW_PROTO_PG) && dir == PLW_DIR_SEND);
	int32_t ci;
	int ri;

	n->labels++;
	if (!conn)	/* socket unknown (TLS without fd): the thread's fd */
		conn = 1ULL << 63 | (uint64_t)ev->tid << 24 | (uint32_t)ev->u.label.fd;
	ci = conn_get(sc, input, conn);
	if (ci < 0)
		return -ENOMEM;
	struct cstate *cs = &sc->cs[ci];

	if (request && dir == PLW_DIR_SEND) {
		/* a client's request */
		ri = req_new(sc, input, ci, ev, false);
		if (ri < 0)
			return ri;
		q_push(sc, &cs->cq, &cs->cq_tail, (uint32_t)ri);
		for (size_t i = sc->nr_open; i-- > 0;) {
			const struct net_req *s = &n->r[sc->open_srv[i]];

			if (s->input == input && s->tid == ev->tid) {
				n->r[ri].encl = (int32_t)sc->open_srv[i];
				break;
			}
		}
		return add_act(in, (uint32_t)ri, ACT_CSTART);
	}
	if (request && dir == PLW_DIR_RECV) {
		/* a server's request */
		ri = req_new(sc, input, ci, ev, true);
		if (ri < 0)
			return ri;
		q_push(sc, &cs->sq, &cs->sq_tail, (uint32_t)ri);
		if (plw_grow((void **)&sc->open_srv, &sc->cap_open, sc->nr_open + 1,
			 sizeof(*sc->open_srv)))
			return -ENOMEM;
		sc->open_srv[sc->nr_open++] = (uint32_t)ri;
		return add_act(in, (uint32_t)ri, ACT_SSTART);
	}
	if (dir == PLW_DIR_RECV) {
		/* a reply: to the connection's oldest waiting request */
		int32_t q = q_pop(sc, &cs->cq, &cs->cq_tail);

		if (q < 0)
			return add_act(in, 0, ACT_NONE);
		n->r[q].end = ev->ts;
		n->r[q].status = ev->u.label.status;
		return add_act(in, (uint32_t)q, ACT_CEND);
	}
	/* a response sent */
	int32_t q = q_pop(sc, &cs->sq, &cs->sq_tail);

	if (q < 0)
		return add_act(in, 0, ACT_NONE);
	n->r[q].end = ev->ts;
	n->r[q].status = ev->u.label.status;
	srv_closed(sc, (uint32_t)q);
	return add_act(in, (uint32_t)q, ACT_SEND);
}

static bool v4mapped(const uint8_t *a)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pre, 12);
}

static void unmap(uint8_t *a)
{
	if (v4mapped(a))
		memmove(a, a + 12, 4);
	else
		memset(a, 0, 4);
	memset(a + 4, 0, 12);
}

static int on_conn(struct scan *sc, uint32_t input, const struct plw_event *ev)
{
	const struct plw_net_conn *e = &ev->u.conn;
	struct net_input *in = &sc->n->in[input];
	uint64_t key = e->conn ? e->conn : 1ULL << 62 | (uint64_t)ev->tid << 24 | (uint32_t)e->fd;

	if (e->op == PLW_NET_CLOSE) {
		/* a call still waiting for its reply ends here, unanswered
		 * (the oldest; a request being served, likewise) */
		int32_t ci = conn_find(sc, input, key, true), q;

		if (ci == -1)
			return -ENOMEM;
		if (ci >= 0 && (q = q_pop(sc, &sc->cs[ci].cq, &sc->cs[ci].cq_tail)) >= 0) {
			sc->n->r[q].end = ev->ts;
			sc->n->r[q].no_reply = true;
			return add_act(in, (uint32_t)q, ACT_CEND);
		}
		if (ci >= 0 && (q = q_pop(sc, &sc->cs[ci].sq, &sc->cs[ci].sq_tail)) >= 0) {
			sc->n->r[q].end = ev->ts;
			sc->n->r[q].no_reply = true;
			srv_closed(sc, (uint32_t)q);
			return add_act(in, (uint32_t)q, ACT_SEND);
		}
		return add_act(in, 0, ACT_NONE);
	}
	int32_t ci = conn_get(sc, input, key);

	if (ci < 0 || add_act(in, 0, ACT_NONE))
		return -ENOMEM;
	struct net_conn *c = &sc->n->c[ci];

	c->op = e->op;
	c->family = e->family;
	c->lport = e->lport;
	c->rport = e->rport;
	memcpy(c->laddr, e->laddr, 16);
	memcpy(c->raddr, e->raddr, 16);
	c->ts = ev->ts;
	/* an IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) is the same
	 * endpoint as the other side's AF_INET one */
	if (c->family == AF_INET6 && v4mapped(c->laddr) && (v4mapped(c->raddr) ||
	    c->op == PLW_NET_LISTEN)) {
		c->family = AF_INET;
		unmap(c->laddr);
		unmap(c->raddr);
	}
	return 0;
}

static int cmp_clk(const void *a, const void *b)
{
	const struct plw_merge_clock *x = a, *y = b;

	return x->mono_ns < y->mono_ns ? -1 : x->mono_ns > y->mono_ns;
}

static int scan_input(struct scan *sc, uint32_t i, const char *path, unsigned flags,
		      struct report_result *res)
{
	struct net *n = sc->n;
	struct net_input *in = &n->in[i];
	struct plw_reader *r;
	struct plw_event ev;
	int ret = plw_reader_open(&r, path, flags);

	if (ret) {
		const char *e = r ? plw_reader_error(r) : NULL;

		/* as source_open says it */
		if (ret == -ENOENT || ret == -EACCES || ret == -EPERM || ret == -EISDIR ||
		    ret == -ENOTDIR || ret == -ELOOP || !e || !*e)
			res_err(res, ret, "cannot open %s: %s", path, strerror(-ret));
		else if (strstr(e, path))
			res_err(res, ret, "%s", e);
		else
			res_err(res, ret, "%s: %s", path, e);
		plw_reader_free(r);
		return ret;
	}
	while ((ret = plw_reader_next(r, &ev)) > 0) {
		int err = 0;

		switch (ev.type) {
		case PLW_EV_NET_LABEL:
			err = on_label(sc, i, &ev);
			break;
		case PLW_EV_NET_CONN:
			err = on_conn(sc, i, &ev);
			break;
		case PLW_EV_META: {
			const char *k = ev.u.meta.key, *v = ev.u.meta.value;
			unsigned long long mono, tod;

			if (!k || !v)
				break;
			if (!strcmp(k, "clock_ref") && sscanf(v, "%llu %llu", &mono, &tod) == 2)
				err = add_clock(in, mono, tod);
			else if (!strcmp(k, "hostname") && !in->hostname && *v)
				err = (in->hostname = strdup(v)) ? 0 : -ENOMEM;
			else if (!strcmp(k, "boot_id") && !in->boot_id && *v)
				err = (in->boot_id = strdup(v)) ? 0 : -ENOMEM;
			break;
		}
		default:
			break;
		}
		if (err) {
			res_err(res, err, "out of memory reading the network events of %s", path);
			plw_reader_free(r);
			return err;
		}
	}
	if (ret < 0) {
		const char *e = plw_reader_error(r);

		if (e && strstr(e, path))
			res_err(res, ret, "%s", e);
		else
			res_err(res, ret, "%s: %s", path, e && *e ? e : strerror(-ret));
		plw_reader_free(r);
		return ret;
	}
	const struct plw_meta *meta = plw_reader_meta(r);

	if (!in->hostname && meta->hostname && *meta->hostname)
		in->hostname = strdup(meta->hostname);
	if (!in->hostname)
		in->hostname = strdup(path);
	if (!in->boot_id && meta->boot_id && *meta->boot_id && !(in->boot_id = strdup(meta->boot_id)))
		ret = -ENOMEM;
	if ((meta->tod_ns || meta->mono_ns) && add_clock(in, meta->mono_ns, meta->tod_ns))
		ret = -ENOMEM;
	plw_reader_free(r);
	if (ret || !in->hostname) {
		res_err(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	/* sorted, one reference per time */
	if (in->nr_clk > 1)
		qsort(in->clk, in->nr_clk, sizeof(*in->clk), cmp_clk);
	size_t k = 0;

	for (size_t j = 0; j < in->nr_clk; j++)
		if (!k || in->clk[j].mono_ns != in->clk[k - 1].mono_ns)
			in->clk[k++] = in->clk[j];
	in->nr_clk = k;
	return 0;
}

/* ----------------------------------------------------------------- joins */

static int64_t wall(const struct net *n, uint32_t input, uint64_t ts)
{
	const struct net_input *in = &n->in[input];

	return plw_merge_clock_map(in->clk, in->nr_clk, ts);
}

static void join_pair(struct net *n, uint32_t c, uint32_t s, uint8_t rule)
{
	n->r[c].peer = (int32_t)s;
	n->r[s].peer = (int32_t)c;
	n->r[c].link = n->r[s].link = rule;
	if (rule == NET_LINK_TRACEPARENT)
		n->links_tp++;
	else
		n->links_tcp++;
}

static const struct net *sort_net;

static int cmp_tp(const void *a, const void *b)
{
	const struct net_req *x = &sort_net->r[*(const uint32_t *)a];
	const struct net_req *y = &sort_net->r[*(const uint32_t *)b];
	int c = strcmp(x->trace_id, y->trace_id);

	if (!c)
		c = strcmp(x->tp_parent, y->tp_parent);
	if (!c)
		c = x->start < y->start ? -1 : x->start > y->start;
	return c;
}

static int cmp_srv(const void *a, const void *b)
{
	const struct net_req *x = &sort_net->r[*(const uint32_t *)a];
	const struct net_req *y = &sort_net->r[*(const uint32_t *)b];

	if (x->input != y->input)
		return x->input < y->input ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int tp_cmp_key(const struct net_req *x, const struct net_req *y)
{
	int c = strcmp(x->trace_id, y->trace_id);

	return c ? c : strcmp(x->tp_parent, y->tp_parent);
}

static int join_traceparent(struct net *n)
{
	uint32_t *srv = malloc((n->nr_r + 1) * sizeof(*srv));
	size_t ns = 0;

	if (!srv)
		return -ENOMEM;
	for (size_t i = 0; i < n->nr_r; i++)
		if (n->r[i].server && n->r[i].trace_id[0])
			srv[ns++] = (uint32_t)i;
	sort_net = n;
	qsort(srv, ns, sizeof(*srv), cmp_tp);
	for (size_t i = 0; i < n->nr_r; i++) {
		struct net_req *c = &n->r[i];
		size_t lo = 0, hi = ns;

		if (c->server || !c->trace_id[0])
			continue;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (tp_cmp_key(&n->r[srv[mid]], c) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* the first not yet joined with this traceparent (retries) */
		for (; lo < ns && !tp_cmp_key(&n->r[srv[lo]], c); lo++)
			if (n->r[srv[lo]].peer < 0) {
				join_pair(n, (uint32_t)i, srv[lo], NET_LINK_TRACEPARENT);
				break;
			}
	}
	free(srv);
	return 0;
}

static bool is_tcp(const struct net_conn *c)
{
	return c->op != UINT32_MAX && (c->family == AF_INET || c->family == AF_INET6) &&
	       c->lport && c->rport;
}

/* server ends (ACCEPT, and LISTEN for the address index) sorted by
 * (family, local port, local address, remote port, remote address) */
static int cmp_end(const struct net_conn *x, uint16_t family, uint16_t lport,
		   const uint8_t *laddr, uint16_t rport, const uint8_t *raddr, bool full)
{
	int c;

	if (x->family != family)
		return x->family < family ? -1 : 1;
	if (x->lport != lport)
		return x->lport < lport ? -1 : 1;
	if ((c = memcmp(x->laddr, laddr, 16)))
		return c;
	if (!full)
		return 0;
	if (x->rport != rport)
		return x->rport < rport ? -1 : 1;
	return memcmp(x->raddr, raddr, 16);
}

static int cmp_srv_end(const void *a, const void *b)
{
	const struct net_conn *x = &sort_net->c[*(const uint32_t *)a];
	const struct net_conn *y = &sort_net->c[*(const uint32_t *)b];

	return cmp_end(x, y->family, y->lport, y->laddr, y->rport, y->raddr, true);
}

static int index_ends(struct net *n)
{
	n->ends = malloc((n->nr_c + 1) * sizeof(*n->ends));
	if (!n->ends)
		return -ENOMEM;
	n->nr_ends = 0;
	for (size_t j = 0; j < n->nr_c; j++)
		if (n->c[j].op == PLW_NET_ACCEPT || n->c[j].op == PLW_NET_LISTEN)
			n->ends[n->nr_ends++] = (uint32_t)j;
	sort_net = n;
	qsort(n->ends, n->nr_ends, sizeof(*n->ends), cmp_srv_end);
	return 0;
}

/* first server end >= the key (FULL: the whole 4-tuple, else the address) */
static size_t ends_lower(const struct net *n, uint16_t family, uint16_t lport,
			 const uint8_t *laddr, uint16_t rport, const uint8_t *raddr, bool full)
{
	size_t lo = 0, hi = n->nr_ends;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_end(&n->c[n->ends[mid]], family, lport, laddr, rport, raddr, full) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* the server end of client connection C: mirrored 4-tuple, nearest in time */
static int32_t tcp_peer(const struct net *n, const struct net_conn *c)
{
	int32_t best = -1;
	int64_t best_d = INT64_MAX;
	int64_t t = wall(n, c->input, c->ts);

	for (size_t k = ends_lower(n, c->family, c->rport, c->raddr, c->lport, c->laddr, true);
	     k < n->nr_ends; k++) {
		const struct net_conn *s = &n->c[n->ends[k]];

		if (cmp_end(s, c->family, c->rport, c->raddr, c->lport, c->laddr, true))
			break;
		if (s->op != PLW_NET_ACCEPT || !is_tcp(s))
			continue;
		int64_t d = wall(n, s->input, s->ts) - t;

		if (d < 0)
			d = -d;
		if (d < best_d) {
			best_d = d;
			best = (int32_t)n->ends[k];
		}
	}
	return best;
}

static void join_tcp(struct net *n)
{
	for (size_t i = 0; i < n->nr_c; i++) {
		struct net_conn *c = &n->c[i];

		if (c->op != PLW_NET_CONNECT || !is_tcp(c) || !c->first)
			continue;
		int32_t sj = tcp_peer(n, c);

		if (sj < 0)
			continue;
		c->peer = sj;
		n->c[sj].peer = (int32_t)i;
		/* requests not joined by traceparent, paired in order */
		uint32_t a = c->first, b = n->c[sj].first;

		for (;;) {
			while (a && (n->r[a - 1].server || n->r[a - 1].peer >= 0))
				a = n->r[a - 1].next_on_conn;
			while (b && (!n->r[b - 1].server || n->r[b - 1].peer >= 0))
				b = n->r[b - 1].next_on_conn;
			if (!a || !b)
				break;
			join_pair(n, a - 1, b - 1, NET_LINK_TCP);
		}
	}
}

static int hosts_and_skew(struct net *n)
{
	n->hosts = calloc(n->nr_in, sizeof(*n->hosts));
	if (!n->hosts)
		return -ENOMEM;
	/* one host per hostname and boot (files of one boot share its
	 * monotonic clock) */
	for (size_t i = 0; i < n->nr_in; i++) {
		uint32_t h;

		for (h = 0; h < n->nr_hosts; h++) {
			const struct net_input *f = &n->in[n->hosts[h].first];

			if (!strcmp(f->hostname, n->in[i].hostname) &&
			    (!f->boot_id || !n->in[i].boot_id || !strcmp(f->boot_id, n->in[i].boot_id)))
				break;
		}
		if (h == n->nr_hosts) {
			n->hosts[n->nr_hosts].name = n->in[i].hostname;
			n->hosts[n->nr_hosts++].first = (uint32_t)i;
		}
		n->hosts[h].nr_inputs++;
		n->in[i].host = h;
	}
	for (uint32_t h = 0; h < n->nr_hosts; h++) {
		const struct net_input *f = &n->in[n->hosts[h].first];
		bool shared = false;

		for (uint32_t k = 0; k < n->nr_hosts; k++)
			shared |= k != h && !strcmp(n->in[n->hosts[k].first].hostname, f->hostname);
		if (!shared || !f->boot_id)
			continue;
		size_t len = strlen(f->hostname) + 16;

		if (!(n->hosts[h].own_name = malloc(len)))
			return -ENOMEM;
		snprintf(n->hosts[h].own_name, len, "%s/boot:%.8s", f->hostname, f->boot_id);
		n->hosts[h].name = n->hosts[h].own_name;
	}
	if (n->nr_hosts > PLW_SKEW_HOSTS_MAX)
		return -E2BIG;
	struct plw_skew_exchange *ex = calloc(n->nr_r + 1, sizeof(*ex));
	size_t nx = 0;
	struct plw_skew_host *out = calloc(n->nr_hosts, sizeof(*out));

	if (!ex || !out) {
		free(ex);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n->nr_r; i++) {
		const struct net_req *c = &n->r[i], *s;

		if (c->server || c->peer < 0)
			continue;
		s = &n->r[c->peer];
		uint32_t hc = n->in[c->input].host, hs = n->in[s->input].host;

		if (hc == hs || !c->end || !s->end)
			continue;
		ex[nx++] = (struct plw_skew_exchange){
			.client = hc, .server = hs,
			.c_send = wall(n, c->input, c->start), .c_recv = wall(n, c->input, c->end),
			.s_recv = wall(n, s->input, s->start), .s_send = wall(n, s->input, s->end),
		};
	}
	n->skew = plw_skew_solve(n->nr_hosts, n->in[0].host, ex, nx, out);
	for (uint32_t h = 0; h < n->nr_hosts && n->skew >= 0; h++)
		n->hosts[h].sk = out[h];
	free(ex);
	free(out);
	return n->skew < 0 ? n->skew : 0;
}

/* span ids as far as the headers tell them (net.h, REPORTS.md) */
static void span_ids(struct net *n)
{
	for (size_t i = 0; i < n->nr_r; i++) {
		struct net_req *r = &n->r[i];

		if (!r->trace_id[0])
			continue;
		if (r->server) {
			memcpy(r->parent_id, r->tp_parent, sizeof(r->parent_id));
		} else {
			memcpy(r->span_id, r->tp_parent, sizeof(r->span_id));
			struct net_req *s = r->encl >= 0 ? &n->r[r->encl] : NULL;

			if (s && !strcmp(s->trace_id, r->trace_id) && !s->span_id[0])
				memcpy(s->span_id, r->tp_parent, sizeof(s->span_id));
		}
	}
	for (size_t i = 0; i < n->nr_r; i++) {
		struct net_req *r = &n->r[i];
		struct net_req *s = r->encl >= 0 ? &n->r[r->encl] : NULL;

		if (r->server || !s || !r->trace_id[0] || strcmp(s->trace_id, r->trace_id))
			continue;
		if (s->span_id[0] && strcmp(s->span_id, r->span_id))
			memcpy(r->parent_id, s->span_id, sizeof(r->parent_id));
		else
			memcpy(r->parent_id, s->parent_id, sizeof(r->parent_id));
	}
}

static const char *addr_text(uint16_t family, const uint8_t *a, uint16_t port, char *buf,
			     size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (family == AF_INET && inet_ntop(AF_INET, a, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, port);
	else if (family == AF_INET6 && inet_ntop(AF_INET6, a, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else if (family == AF_UNIX)
		snprintf(buf, len, "unix");
	else
		buf[0] = 0;
	return buf;
}

const char *rnet_peer_text(const struct net *n, const struct net_req *r, char *buf, size_t len)
{
	const struct net_conn *c = r->ci >= 0 ? &n->c[r->ci] : NULL;

	buf[0] = 0;
	if (c && c->op != UINT32_MAX)
		addr_text(c->family, c->raddr, c->rport, buf, len);
	return buf;
}

bool rnet_peer_recorded(const struct net *n, const struct net_req *r)
{
	const struct net_conn *c = r->ci >= 0 ? &n->c[r->ci] : NULL;
	size_t k;

	if (!c || c->op == UINT32_MAX || !n->ends)
		return false;
	/* an input accepted (or listened) on exactly that address; a
	 * wildcard listen says nothing of the host's addresses */
	k = ends_lower(n, c->family, c->rport, c->raddr, 0, NULL, false);
	return k < n->nr_ends &&
	       !cmp_end(&n->c[n->ends[k]], c->family, c->rport, c->raddr, 0, NULL, false);
}

static int labels(struct net *n)
{
	char buf[1024], peer[80];

	for (size_t i = 0; i < n->nr_r; i++) {
		struct net_req *r = &n->r[i];

		rnet_peer_text(n, r, peer, sizeof(peer));
		if (r->server)
			snprintf(buf, sizeof(buf), "%s %s", *r->method ? r->method : "request",
				 *r->target ? r->target : "/");
		else if (r->proto == PLW_PROTO_REDIS)
			snprintf(buf, sizeof(buf), "redis %s%s%s", *r->method ? r->method : "?",
				 *r->target ? " " : "", r->target);
		else if (r->proto == PLW_PROTO_PG)
			snprintf(buf, sizeof(buf), "sql %s%s%s", *r->method ? r->method : "?",
				 *r->target ? " " : "", r->target);
		else
			snprintf(buf, sizeof(buf), "%s %s%s", *r->method ? r->method : "request",
				 *r->host ? r->host : peer, r->target);
		r->label = strdup(buf);
		if (!r->label)
			return -ENOMEM;
	}
	return 0;
}

void rnet_free(struct net *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nr_in; i++) {
		free((char *)n->in[i].hostname);
		free(n->in[i].boot_id);
		free(n->in[i].clk);
		free(n->in[i].acts);
	}
	for (size_t i = 0; i < n->nr_r; i++) {
		free(n->r[i].method);
		free(n->r[i].target);
		free(n->r[i].host);
		free(n->r[i].label);
		if (n->span_tree)
			free(n->span_tree[i]);
	}
	for (uint32_t h = 0; n->hosts && h < n->nr_hosts; h++)
		free(n->hosts[h].own_name);
	free(n->span_tree);
	free(n->srv);
	free(n->ends);
	free(n->in);
	free(n->hosts);
	free(n->r);
	free(n->c);
	memset(n, 0, sizeof(*n));
}

int rnet_prepare(struct net *n, const struct report_opts *o, struct source *s,
		struct report_result *res)
{
	struct scan sc = { .n = n };
	int err = 0;

	memset(n, 0, sizeof(*n));
	n->nr_in = o->nr_paths;
	n->in = calloc(n->nr_in, sizeof(*n->in));
	if (!n->in) {
		res_err(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n->nr_in && !err; i++)
		err = scan_input(&sc, (uint32_t)i, o->paths[i], o->strict ? 0 : PLW_READ_SALVAGE, res);
	free(sc.tab);
	free(sc.cs);
	free(sc.qnext);
	free(sc.open_srv);
	if (err)
		return err;
	if ((err = join_traceparent(n)) || (err = index_ends(n)) ||
	    (join_tcp(n), err = hosts_and_skew(n)) ||
	    (err = labels(n))) {
		if (err == -E2BIG)
			res_err(res, err, "too many hosts (%u): at most %d", n->nr_hosts,
				PLW_SKEW_HOSTS_MAX);
		else
			res_err(res, err, "out of memory joining requests");
		return err;
	}
	span_ids(n);
	for (size_t i = 0; i < n->nr_r; i++)
		if (!n->r[i].server && n->r[i].peer < 0 && n->r[i].end)
			n->unjoined++;
	n->span_tree = calloc(n->nr_r + 1, sizeof(*n->span_tree));
	n->srv = malloc((n->nr_r + 1) * sizeof(*n->srv));
	if (!n->span_tree || !n->srv) {
		res_err(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n->nr_r; i++)
		if (n->r[i].server)
			n->srv[n->nr_srv++] = (uint32_t)i;
	sort_net = n;
	qsort(n->srv, n->nr_srv, sizeof(*n->srv), cmp_srv);
	/* files of one host share its clock: left as they are; so are files
	 * of which one has no clock reference (no common clock to put them on) */
	bool clocks = true;

	for (size_t i = 0; i < n->nr_in; i++)
		clocks = clocks && n->in[i].nr_clk;
	if (n->nr_hosts > 1 && clocks && s) {
		n->timeline = true;
		for (size_t i = 0; i < n->nr_in; i++) {
			plw_merge_set_clock(s->m, i, n->in[i].clk, n->in[i].nr_clk);
			plw_merge_set_offset(s->m, i, -n->hosts[n->in[i].host].sk.offset_ns);
		}
	}
	return 0;
}

/* ----------------------------------------------------------- second pass */

static int on_label2(struct net *n, struct plw_model *m, uint32_t input,
		     const struct plw_event *ev)
{
	struct net_input *in = &n->in[input];

	if (in->next_act >= in->nr_acts)
		return 0;
	uint32_t a = in->acts[in->next_act++];

	if (!a)
		return 0;
	struct net_req *r = &n->r[(a >> 3) - 1];
	uint32_t id = (uint32_t)(r - n->r) + 1;

	switch (a & 7) {
	case ACT_CSTART:
	case ACT_SSTART:
		r->tstart = ev->ts;
		if ((a & 7) == ACT_CSTART) {
			plw_model_mark(m, input, ev->pid, ev->tid);
			return 0;
		}
		r->site = plw_model_site_unique(m, PLW_KIND_SPAN, r->label, input, id);
		if (!r->site)
			return -ENOMEM;
		return plw_model_span_begin(m, input, ev->pid, ev->tid, r->site, ev->ts);
	case ACT_CEND:
		r->tend = ev->ts > r->tstart ? ev->ts : r->tstart;
		/* a call that can be told apart (joined, or with a trace id)
		 * is a node of its own; others group by label (×N) */
		if (r->peer >= 0 || r->trace_id[0])
			r->site = plw_model_site_unique(m, PLW_KIND_NET, r->label, input, id);
		else
			r->site = plw_model_site_named_id(m, PLW_KIND_NET, r->label, id);
		if (!r->site)
			return -ENOMEM;
		return plw_model_leaf_marked(m, input, ev->pid, ev->tid, r->site, r->tstart,
					     r->tend - r->tstart);
	case ACT_SEND:
		r->tend = ev->ts > r->tstart ? ev->ts : r->tstart;
		return plw_model_span_end(m, input, ev->pid, ev->tid, ev->ts);
	}
	return 0;
}

int rnet_run_model(struct net *n, struct source *s, struct plw_model *m,
		  struct report_result *res)
{
	struct plw_merge_event ev;
	int ret;

	for (size_t i = 0; i < n->nr_in; i++)
		n->in[i].next_act = 0;
	while ((ret = source_next(s, &ev, res)) > 0) {
		ret = plw_model_feed(m, ev.input, &ev.ev);
		if (!ret && (ev.ev.type == PLW_EV_NET_LABEL || ev.ev.type == PLW_EV_NET_CONN) &&
		    ev.input < n->nr_in)
			ret = on_label2(n, m, ev.input, &ev.ev);
		if (ret) {
			res_err(res, ret, "out of memory building call trees");
			return ret;
		}
	}
	if (ret < 0)
		return ret;
	return plw_model_finish(m, 0);
}

/* --------------------------------------------------------------- helpers */

bool rnet_root_spans_joined(const struct net *n, const struct plw_node *root)
{
	size_t lo = 0, hi = n->nr_srv;
	uint64_t end = root->start_ns + root->dur_ns;
	bool any = false;

	/* the thread's first span starting in the root; spans not reached
	 * by the second pass yet (tstart 0) are the last of their thread */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct net_req *r = &n->r[n->srv[mid]];

		if (r->input < root->input || (r->input == root->input && r->tid < root->tid) ||
		    (r->input == root->input && r->tid == root->tid && r->tstart &&
		     r->tstart < root->start_ns))
			lo = mid + 1;
		else
			hi = mid;
	}
	/* and the one before, when the root began inside it */
	if (lo > 0) {
		const struct net_req *p = &n->r[n->srv[lo - 1]];

		if (p->input == root->input && p->tid == root->tid && p->tstart &&
		    (!p->tend || p->tend >= root->start_ns))
			lo--;
	}
	for (; lo < n->nr_srv; lo++) {
		const struct net_req *r = &n->r[n->srv[lo]];

		if (r->input != root->input || r->tid != root->tid)
			break;
		if (!r->tstart || r->tstart > end)
			break;
		if (r->peer < 0)
			return false;
		any = true;
	}
	return any;
}

struct net_req *rnet_node_req(const struct net *n, const struct plw_node *node)
{
	const struct plw_site *st = node->site;

	if (!n || (st->kind != PLW_KIND_NET && st->kind != PLW_KIND_SPAN) || !st->loc ||
	    st->loc > n->nr_r)
		return NULL;
	return &n->r[st->loc - 1];
}

const char *rnet_host_of(const struct net *n, uint32_t input)
{
	if (!n || input >= n->nr_in)
		return "?";
	return n->hosts ? n->hosts[n->in[input].host].name : n->in[input].hostname;
}

const char *rnet_link_name(uint8_t link)
{
	return link == NET_LINK_TRACEPARENT ? "traceparent" : link == NET_LINK_TCP ? "tcp" : "";
}

void rnet_jw_req(struct jw *j, const struct net *n, const struct net_req *r)
{
	char peer[80];

	jw_key(j, "label");
	jw_str(j, r->label);
	if (r->trace_id[0]) {
		jw_key(j, "trace_id");
		jw_str(j, r->trace_id);
	}
	if (r->span_id[0]) {
		jw_key(j, "span_id");
		jw_str(j, r->span_id);
	}
	if (r->parent_id[0]) {
		jw_key(j, "parent_span_id");
		jw_str(j, r->parent_id);
	}
	rnet_peer_text(n, r, peer, sizeof(peer));
	if (r->server && r->ci >= 0 && n->c[r->ci].op != UINT32_MAX) {
		const struct net_conn *c = &n->c[r->ci];

		addr_text(c->family, c->raddr, c->rport, peer, sizeof(peer));
	}
	jw_key(j, "peer");
	if (peer[0])
		jw_str(j, peer);
	else
		jw_null(j);
	jw_key(j, "link");
	if (r->link)
		jw_str(j, rnet_link_name(r->link));
	else
		jw_null(j);
	if (r->status) {
		jw_key(j, "status");
		jw_u64(j, r->status);
	}
	if (r->no_reply) {
		jw_key(j, "no_reply");
		jw_bool(j, true);
	}
}
