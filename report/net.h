/* SPDX-License-Identifier: MIT */
/*
 * net.h - requests across hosts: client calls, server request spans, the
 * joins between them, and the hosts' clocks (report/net.c; functions are
 * rnet_*, the recorder's record/net.c has net_*).
 *
 * A first pass over every file (one reader at a time) collects what the
 * joins need: hostnames, clock references, connections (NET_CONN) and the
 * requests made of protocol labels (NET_LABEL):
 *  - a client call: a request sent (HTTP request, Redis command, SQL) until
 *    the next reply received on the same connection (FIFO: keep-alive);
 *  - a server request span: an HTTP request received until the response
 *    sent on the same connection.
 * A call (or span) still waiting when its connection is closed ends there,
 * flagged no_reply; one still waiting at the end of the file is not drawn.
 * Calls are joined to spans by W3C traceparent (the call's outbound
 * trace-id and parent-id equal the span's inbound ones), else by TCP
 * connection: the client's (local, peer) 4-tuple mirrored is the server's,
 * the connection accepted nearest in time to the connect, requests paired
 * in order.  Each join across hosts bounds the hosts' clock offsets
 * (merge/skew.h).  Then each input's times are mapped to its wall clock and
 * corrected by its host's offset (plw_merge_set_clock/offset), and the
 * second pass (rnet_run_model) feeds the model: a call becomes a leaf under
 * the calling Python frame (kind net), a span a span view (kind span).
 *
 * Memory: ~0.6 KB per request with its connection, 4 bytes per NET_LABEL
 * or NET_CONN event; never per Python event.
 */
#ifndef PYLOW_REPORT_NET_H
#define PYLOW_REPORT_NET_H

#include "../merge/skew.h"
#include "report_int.h"

enum net_link { NET_LINK_NONE = 0, NET_LINK_TRACEPARENT, NET_LINK_TCP };

struct net_conn {
	uint32_t input;
	uint64_t conn;			/* socket cookie */
	uint32_t op;			/* PLW_NET_CONNECT / ACCEPT / LISTEN */
	uint16_t family, lport, rport;
	uint8_t laddr[16], raddr[16];
	uint64_t ts;			/* file clock */
	uint32_t first, last;		/* requests on it (index + 1), in order */
	int32_t peer;			/* the other end's net_conn (TCP join), -1 */
};

/* a client call or a server request span */
struct net_req {
	uint32_t input, pid, tid;
	uint64_t conn;
	int32_t ci;			/* its net_conn, -1 unknown */
	bool server;
	uint16_t proto;			/* PLW_PROTO_* of the request */
	uint64_t start, end;		/* file clock; end 0: no reply seen */
	uint64_t tstart, tend;		/* on the merged timeline (second pass) */
	uint32_t status;
	bool no_reply;			/* ended by the connection's close, unanswered */
	char *method, *target, *host;
	char trace_id[33], span_id[17], parent_id[17];	/* "" unknown */
	char tp_parent[17];		/* the traceparent's parent-id field */
	int32_t peer;			/* the joined request on the other side, -1 */
	uint8_t link;			/* enum net_link */
	int32_t encl;			/* client: the server span it was made in, -1 */
	uint32_t next_on_conn;		/* index + 1 */
	char *label;			/* "POST api.example/v1/chat", "redis GET k", "GET /x" */
	const struct plw_site *site;
};

struct net_host {
	const char *name;		/* hostname, or "hostname/boot:xxxxxxxx" when two
					 * boots share it */
	char *own_name;
	uint32_t first;			/* its first input */
	struct plw_skew_host sk;
	uint32_t nr_inputs;
};

struct net_input {
	uint32_t host;
	const char *hostname;		/* META hostname, or the file's path */
	char *boot_id;			/* META boot_id, or NULL */
	struct plw_merge_clock *clk;	/* clock references, sorted */
	size_t nr_clk, cap_clk;
	uint32_t *acts;			/* per NET_LABEL and NET_CONN event (in file
					 * order): (request + 1) << 3 | action */
	size_t nr_acts, cap_acts, next_act;
};

struct net {
	struct net_input *in;
	size_t nr_in;
	struct net_host *hosts;
	uint32_t nr_hosts;
	struct net_req *r;
	size_t nr_r, cap_r;
	struct net_conn *c;
	size_t nr_c, cap_c;
	uint64_t labels;		/* NET_LABEL events seen */
	uint64_t links_tp, links_tcp;	/* joins by rule */
	uint64_t unjoined;		/* client calls not joined */
	int skew;			/* plw_skew_solve's result */
	bool timeline;			/* inputs mapped to wall clocks + offsets */
	/* flow: span views kept for the joins, by request index */
	struct plw_node **span_tree;
	uint32_t *srv;			/* server spans by (input, tid, start) */
	size_t nr_srv;
	uint32_t *ends;			/* ACCEPT/LISTEN conns by address (net.c) */
	size_t nr_ends;
};

/* First pass over O's files; fills N (free with rnet_free).  With several
 * inputs, maps S's inputs to one timeline.  0 or -errno with RES set. */
int rnet_prepare(struct net *n, const struct report_opts *o, struct source *s,
		struct report_result *res);
/* Second pass: every event into M, with the requests' leaves and spans. */
int rnet_run_model(struct net *n, struct source *s, struct plw_model *m,
		  struct report_result *res);
void rnet_free(struct net *n);

/* The request a net or span node stands for, or NULL. */
struct net_req *rnet_node_req(const struct net *n, const struct plw_node *node);
const char *rnet_host_of(const struct net *n, uint32_t input);
const char *rnet_link_name(uint8_t link);
/* "10.0.0.3:8000", "[::1]:80", "unix", "" */
const char *rnet_peer_text(const struct net *n, const struct net_req *r, char *buf, size_t len);
/* is PEER's endpoint (the call's server side) in one of the inputs? */
bool rnet_peer_recorded(const struct net *n, const struct net_req *r);
/* JSON keys of a net/span node: trace_id, span_id, parent_span_id, peer,
 * label, link (and status) */
void rnet_jw_req(struct jw *j, const struct net *n, const struct net_req *r);

/* ROOT (a thread's root call in which span views were taken): were all the
 * request spans served in it joined to a recorded caller (and so drawn
 * there)?  false when it served none. */
bool rnet_root_spans_joined(const struct net *n, const struct plw_node *root);
/* do S's inputs come from several hosts (META hostname, else the path),
 * each with a clock reference in its header */
bool rnet_hosts_differ(const struct source *s);
/* should flow look at requests: several files, or one with network events
 * (or one cut short, whose counts are not known) */
bool rnet_wanted(const struct source *s);
/* wall-clock ns of INPUT's TS on the merged timeline */
int64_t rnet_time(const struct net *n, uint32_t input, uint64_t ts);
/* flow's closing lines / keys: joins by rule, clocks, span roots */
void rnet_text_summary(FILE *f, const struct net *n, uint64_t span_roots);
void rnet_jw_summary(struct jw *j, const struct net *n, uint64_t span_roots);

int report_hosts(const struct report_opts *o, struct report_result *res);
int report_stitch(const struct report_opts *o, struct report_result *res);

#endif /* PYLOW_REPORT_NET_H */
