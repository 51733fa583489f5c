/* SPDX-License-Identifier: MIT */
/*
 * test_labels.c - the protocol label parser (record/labels.c): HTTP/1.x
 * heads split at every byte, keep-alive pipelining, bodies by length and by
 * chunks, bytes not captured, huge heads, garbage; Redis RESP arrays and
 * inline commands; PostgreSQL Q and P messages; memory bounds.  Every label
 * is checked never to carry a planted SECRET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "format/events.h"
#include "record/labels.h"

#define MAXL 64

struct got {
	size_t n;
	struct lbl_out l[MAXL];
};

static int collect(const struct lbl_out *o, void *ctx)
{
	struct got *g = ctx;

	/* nothing of a payload beyond the labelled fields */
	assert_null(strstr(o->method, "SECRET"));
	assert_null(strstr(o->target, "SECRET"));
	assert_null(strstr(o->host, "SECRET"));
	assert_null(strstr(o->traceparent, "SECRET"));
	if (g->n < MAXL)
		g->l[g->n] = *o;
	g->n++;
	return 0;
}

/* one call that moved all of S, captured up to CAP bytes (0: all) */
static void feed(struct lbl *l, uint64_t conn, unsigned dir, const char *s, size_t len,
		 size_t cap, struct got *g)
{
	assert_int_equal(lbl_feed(l, conn, dir, 0, s, cap && cap < len ? cap : len, len,
				  collect, g), 0);
}

static void feeds(struct lbl *l, uint64_t conn, unsigned dir, const char *s, struct got *g)
{
	feed(l, conn, dir, s, strlen(s), 0, g);
}

static struct lbl *mk(void)
{
	struct lbl *l;

	assert_int_equal(lbl_new(&l, 0), 0);
	return l;
}

#define TP1 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP2 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"

static const char req1[] =
	"POST /v1/chat?user=SECRET&x=1 HTTP/1.1\r\n"
	"Host: api.example\r\n"
	"Authorization: Bearer SECRET-token\r\n"
	"traceparent: " TP1 "\r\n"
	"Content-Length: 17\r\n"
	"\r\n"
	"{\"q\": \"SECRET!\"}\n";
static const char req2[] =
	"GET /health HTTP/1.1\r\n"
	"host: other.example:8080\r\n"
	"TraceParent:   " TP2 "  \r\n"
	"\r\n";

static void check_req1(const struct lbl_out *o)
{
	assert_int_equal(o->proto, PLW_PROTO_HTTP_REQ);
	assert_string_equal(o->method, "POST");
	assert_string_equal(o->target, "/v1/chat");
	assert_string_equal(o->host, "api.example");
	assert_string_equal(o->traceparent, TP1);
	assert_int_equal(o->status, 0);
}

static void check_req2(const struct lbl_out *o)
{
	assert_int_equal(o->proto, PLW_PROTO_HTTP_REQ);
	assert_string_equal(o->method, "GET");
	assert_string_equal(o->target, "/health");
	assert_string_equal(o->host, "other.example:8080");
	assert_string_equal(o->traceparent, TP2);
}

static void test_http_request(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };

	feeds(l, 1, PLW_DIR_SEND, req1, &g);
	assert_int_equal(g.n, 1);
	check_req1(&g.l[0]);
	assert_int_equal(g.l[0].dir, PLW_DIR_SEND);
	assert_int_equal(g.l[0].conn, 1);
	assert_int_equal(g.l[0].flags, 0);
	feeds(l, 1, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 2);
	check_req2(&g.l[1]);
	lbl_free(l);
}

/* req1 + req2 split into two calls at every offset, then three calls at
 * every pair of offsets: always exactly two labels, the same fields */
static void test_http_split_everywhere(void **st)
{
	char both[1024];
	size_t n;

	snprintf(both, sizeof(both), "%s%s", req1, req2);
	n = strlen(both);
	for (size_t k = 1; k < n; k++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		feed(l, 7, PLW_DIR_RECV, both, k, 0, &g);
		feed(l, 7, PLW_DIR_RECV, both + k, n - k, 0, &g);
		assert_int_equal(g.n, 2);
		check_req1(&g.l[0]);
		check_req2(&g.l[1]);
		assert_int_equal(g.l[0].dir, PLW_DIR_RECV);
		lbl_free(l);
	}
	for (size_t a = 1; a < n; a += 3)
		for (size_t b = a + 1; b < n; b += 2) {
			struct lbl *l = mk();
			struct got g = { 0 };

			feed(l, 7, PLW_DIR_RECV, both, a, 0, &g);
			feed(l, 7, PLW_DIR_RECV, both + a, b - a, 0, &g);
			feed(l, 7, PLW_DIR_RECV, both + b, n - b, 0, &g);
			assert_int_equal(g.n, 2);
			check_req1(&g.l[0]);
			check_req2(&g.l[1]);
			lbl_free(l);
		}
}

/* byte by byte: the label comes with the byte that ends the head */
static void test_http_byte_by_byte(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	size_t n = strlen(req2);

	for (size_t i = 0; i < n; i++) {
		feed(l, 3, PLW_DIR_SEND, req2 + i, 1, 0, &g);
		assert_int_equal(g.n, i == n - 1 ? 1 : 0);
	}
	check_req2(&g.l[0]);
	lbl_free(l);
}

/* keep-alive: requests pipelined in one write, responses of every kind in
 * one read, HEAD and 204/304 without body, 100 Continue skipped, chunked */
static void test_http_keepalive_pipelined(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	char reqs[2048], resps[2048];

	snprintf(reqs, sizeof(reqs), "%s%s%s%s", req1, req2,
		 "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n", "DELETE /d/1 HTTP/1.1\r\nHost: a\r\n\r\n");
	snprintf(resps, sizeof(resps), "%s%s%s%s%s",
		 "HTTP/1.1 100 Continue\r\n\r\n"
		 "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nSECRET body!",
		 "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "6\r\nSECRET\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: SECRET\r\n\r\n",
		 /* to HEAD: a Content-Length, but no body */
		 "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n",
		 "HTTP/1.1 204 No Content\r\n\r\n",
		 "");
	feeds(l, 9, PLW_DIR_SEND, reqs, &g);
	assert_int_equal(g.n, 4);
	check_req1(&g.l[0]);
	check_req2(&g.l[1]);
	assert_string_equal(g.l[2].method, "HEAD");
	assert_string_equal(g.l[3].method, "DELETE");
	assert_string_equal(g.l[3].target, "/d/1");
	feeds(l, 9, PLW_DIR_RECV, resps, &g);
	assert_int_equal(g.n, 8);
	assert_int_equal(g.l[4].proto, PLW_PROTO_HTTP_RESP);
	assert_int_equal(g.l[4].status, 200);
	assert_int_equal(g.l[4].dir, PLW_DIR_RECV);
	assert_string_equal(g.l[4].method, "");
	assert_string_equal(g.l[4].traceparent, "");
	assert_int_equal(g.l[5].status, 404);
	assert_int_equal(g.l[6].status, 200);
	assert_int_equal(g.l[7].status, 204);
	/* and one more exchange on the same connection still parses */
	feeds(l, 9, PLW_DIR_SEND, req2, &g);
	feeds(l, 9, PLW_DIR_RECV, "HTTP/1.0 304 Not Modified\r\nContent-Length: 5\r\n\r\n", &g);
	assert_int_equal(g.n, 10);
	check_req2(&g.l[8]);
	assert_int_equal(g.l[9].status, 304);
	lbl_free(l);
}

/* a chunked response split at every offset */
static void test_http_chunked_split(void **st)
{
	const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n"
			"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";
	size_t n = strlen(r);

	for (size_t k = 1; k < n; k++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		feed(l, 4, PLW_DIR_RECV, r, k, 0, &g);
		feed(l, 4, PLW_DIR_RECV, r + k, n - k, 0, &g);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.l[0].status, 200);
		assert_int_equal(g.l[1].status, 500);
		lbl_free(l);
	}
}

/* bytes beyond the capture: a body is skipped by count; a head cut by the
 * capture is labelled from what was seen, and the stream resumes at the
 * next call that starts a message */
static void test_http_not_captured(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	char big[8192];
	int n;

	/* head + 5000-byte body in one call, 512 captured */
	n = snprintf(big, sizeof(big), "PUT /blob HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n");
	memset(big + n, 'S', 5000);
	feed(l, 5, PLW_DIR_SEND, big, n + 5000, 512, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.l[0].method, "PUT");
	/* the next request in a call of its own is seen */
	feeds(l, 5, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 2);
	check_req2(&g.l[1]);
	/* a body that goes on over several calls, none of them captured */
	n = snprintf(big, sizeof(big), "POST /up HTTP/1.1\r\nContent-Length: 3000\r\n\r\n");
	feed(l, 5, PLW_DIR_SEND, big, n, 0, &g);
	memset(big, 'S', 3000);
	feed(l, 5, PLW_DIR_SEND, big, 1000, 0 + 1, &g);	/* 1 byte captured */
	feed(l, 5, PLW_DIR_SEND, big, 2000, 10, &g);
	feeds(l, 5, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.l[2].target, "/up");
	check_req2(&g.l[3]);
	/* a head longer than the capture: the fields seen, then resync */
	n = snprintf(big, sizeof(big), "GET /long?SECRET HTTP/1.1\r\nHost: early\r\nX-Pad: %0900d\r\n"
		     "traceparent: " TP1 "\r\n\r\n", 0);
	feed(l, 5, PLW_DIR_SEND, big, n, 512, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.l[4].target, "/long");
	assert_string_equal(g.l[4].host, "early");
	assert_string_equal(g.l[4].traceparent, "");
	/* garbage that does not start a message is ignored while lost */
	feeds(l, 5, PLW_DIR_SEND, "more of the same header\r\n\r\n", &g);
	assert_int_equal(g.n, 5);
	feeds(l, 5, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 6);
	check_req2(&g.l[5]);
	lbl_free(l);
}

/* heads past LBL_HEAD_MAX: labelled once from their first bytes, the rest
 * skipped up to the blank line; memory stays bounded */
static void test_http_huge_head(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	size_t cap = 64 * 1024, n = 0;
	char *h = malloc(cap);

	n += snprintf(h + n, cap - n, "GET /huge?SECRET HTTP/1.1\r\nHost: big.example\r\n");
	for (int i = 0; i < 500; i++)
		n += snprintf(h + n, cap - n, "X-Header-%d: SECRET-%080d\r\n", i, i);
	n += snprintf(h + n, cap - n, "traceparent: " TP1 "\r\nContent-Length: 3\r\n\r\nabc");
	for (size_t off = 0; off < n; off += 512) {
		feed(l, 6, PLW_DIR_SEND, h + off, n - off < 512 ? n - off : 512, 0, &g);
		assert_true(lbl_bytes_held(l) <= 2 * LBL_HEAD_MAX);
	}
	assert_int_equal(g.n, 1);
	assert_string_equal(g.l[0].target, "/huge");
	assert_string_equal(g.l[0].host, "big.example");
	feeds(l, 6, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 2);
	check_req2(&g.l[1]);
	free(h);
	lbl_free(l);
}

static void test_http_absolute_and_odd(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };

	feeds(l, 8, PLW_DIR_SEND, "GET http://proxy.example:3128/a/b?c=SECRET#f HTTP/1.1\r\n\r\n", &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.l[0].host, "proxy.example:3128");
	assert_string_equal(g.l[0].target, "/a/b");
	/* bare LF line ends, a fragment, no Host */
	feeds(l, 8, PLW_DIR_SEND, "OPTIONS *#frag HTTP/1.0\n\n", &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.l[1].method, "OPTIONS");
	assert_string_equal(g.l[1].target, "*");
	assert_string_equal(g.l[1].host, "");
	lbl_free(l);
}

static void test_traceparent(void **st)
{
	static const char *bad[] = {
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",	/* upper case */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",	/* zero trace */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",	/* zero span */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* version */
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",	/* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",	/* long */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"",
	};

	assert_true(lbl_traceparent_ok(TP1, strlen(TP1)));
	assert_true(lbl_traceparent_ok(TP2, strlen(TP2)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lbl *l = mk();
		struct got g = { 0 };
		char req[256];

		assert_false(lbl_traceparent_ok(bad[i], strlen(bad[i])));
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\ntraceparent: %s\r\n\r\n", bad[i]);
		feeds(l, 1, PLW_DIR_SEND, req, &g);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.l[0].traceparent, "");
		lbl_free(l);
	}
}

/* random bytes and near misses: no labels, no crash, bounded memory */
static void test_garbage(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	unsigned char buf[700];
	uint32_t x = 12345;

	for (int c = 0; c < 200; c++) {
		for (int k = 0; k < 300; k++) {
			for (size_t i = 0; i < sizeof(buf); i++) {
				x = x * 1103515245 + 12345;
				buf[i] = x >> 16;
			}
			/* never a method or '*' or 'Q'/'P' at the start */
			buf[0] = 0x16;
			assert_int_equal(lbl_feed(l, 1000 + c, k & 1, 0, buf, 512, sizeof(buf),
						  collect, &g), 0);
		}
	}
	assert_int_equal(g.n, 0);
	assert_int_equal(lbl_bytes_held(l), 0);
	/* given up on: the recorder stops the copies */
	assert_true(lbl_ignored(l, 1000, 0, 0));
	assert_true(lbl_ignored(l, 1199, 1, 0));
	assert_false(lbl_ignored(l, 1000, 0, PLW_LABEL_TLS));
	feeds(l, 2000, PLW_DIR_SEND, req2, &g);
	assert_false(lbl_ignored(l, 2000, PLW_DIR_SEND, 0));
	assert_int_equal(g.n, 1);
	g.n = 0;
	/* near misses */
	feeds(l, 1, PLW_DIR_SEND, "GETX\r\n\r\n", &g);
	feeds(l, 2, PLW_DIR_RECV, "HTTP/1.1 abc\r\n\r\n", &g);
	feeds(l, 3, PLW_DIR_SEND, "GETX / HTTP/1.1\r\n\r\n", &g);
	feeds(l, 4, PLW_DIR_SEND, "*x\r\n", &g);
	feeds(l, 5, PLW_DIR_SEND, "*2\r\n$3\r\nGE", &g);
	feeds(l, 5, PLW_DIR_SEND, "T\r\n$zz\r\n", &g);
	assert_int_equal(g.n, 0);
	lbl_free(l);
}

/* a framed binary protocol whose reader takes the 4-byte length first, then
 * the message ("GET /item/0 HTTP/1.0", as W2's echo): it looks like an HTTP
 * head until the next length's NUL bytes; given up on then, with no label.
 * A stream that had a whole head is resynchronised instead */
static void test_http_lookalike(void **st)
{
	static const char len4[4] = { 0, 0, 0, 20 };
	struct lbl *l = mk();
	struct got g = { 0 };

	for (int i = 0; i < 3; i++) {
		feed(l, 7, PLW_DIR_RECV, len4, sizeof(len4), 0, &g);
		if (i == 0)
			assert_false(lbl_ignored(l, 7, PLW_DIR_RECV, 0));
		feeds(l, 7, PLW_DIR_RECV, "GET /item/0 HTTP/1.0", &g);
	}
	assert_true(lbl_ignored(l, 7, PLW_DIR_RECV, 0));
	assert_int_equal(g.n, 0);
	assert_int_equal(lbl_bytes_held(l), 0);
	/* after a whole head, binary bytes lose sync but keep the stream */
	feeds(l, 8, PLW_DIR_SEND, req2, &g);
	feed(l, 8, PLW_DIR_SEND, len4, sizeof(len4), 0, &g);
	assert_false(lbl_ignored(l, 8, PLW_DIR_SEND, 0));
	feeds(l, 8, PLW_DIR_SEND, req2, &g);
	assert_int_equal(g.n, 2);
	check_req2(&g.l[0]);
	check_req2(&g.l[1]);
	lbl_free(l);
}

/* ---------------------------------------------------------------- Redis */

static size_t resp(char *out, size_t cap, int n, ...)
{
	va_list ap;
	size_t k = snprintf(out, cap, "*%d\r\n", n);

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *a = va_arg(ap, const char *);

		k += snprintf(out + k, cap - k, "$%zu\r\n%s\r\n", strlen(a), a);
	}
	va_end(ap);
	return k;
}

static void test_redis(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	char b[4096];
	size_t n;

	n = resp(b, sizeof(b), 3, "set", "session_id", "SECRET-value");
	feed(l, 20, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.l[0].proto, PLW_PROTO_REDIS);
	assert_string_equal(g.l[0].method, "SET");
	assert_string_equal(g.l[0].target, "session_id");
	/* replies in the other direction are not commands: one label each,
	 * without command or key (the call's end) */
	feeds(l, 20, PLW_DIR_RECV, "+OK\r\n", &g);
	feeds(l, 20, PLW_DIR_RECV, "*2\r\n$6\r\nSECRET\r\n$3\r\nabc\r\n", &g);
	assert_int_equal(g.n, 3);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(g.l[i].proto, PLW_PROTO_REDIS);
		assert_int_equal(g.l[i].dir, PLW_DIR_RECV);
		assert_string_equal(g.l[i].method, "");
		assert_string_equal(g.l[i].target, "");
	}
	g.n = 1;
	/* pipelined, one without a key, a null bulk */
	n = resp(b, sizeof(b), 2, "GET", "k1");
	n += resp(b + n, sizeof(b) - n, 1, "PING");
	n += resp(b + n, sizeof(b) - n, 4, "HSET", "h:1", "f", "SECRET");
	n += snprintf(b + n, sizeof(b) - n, "*2\r\n$3\r\nGET\r\n$-1\r\n");
	feed(l, 20, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.l[1].method, "GET");
	assert_string_equal(g.l[1].target, "k1");
	assert_string_equal(g.l[2].method, "PING");
	assert_string_equal(g.l[2].target, "");
	assert_string_equal(g.l[3].method, "HSET");
	assert_string_equal(g.l[3].target, "h:1");
	assert_string_equal(g.l[4].method, "GET");
	assert_string_equal(g.l[4].target, "");
	/* inline commands */
	feeds(l, 20, PLW_DIR_SEND, "exists session_id\r\nPING\r\n", &g);
	assert_int_equal(g.n, 7);
	assert_string_equal(g.l[5].method, "EXISTS");
	assert_string_equal(g.l[5].target, "session_id");
	assert_string_equal(g.l[6].method, "PING");
	lbl_free(l);
}

/* replies of every RESP2/RESP3 type, nested, pipelined, split anywhere,
 * a big one past the capture: one label per top-level reply */
static void test_redis_replies(void **st)
{
	static const char r[] =
		"+OK\r\n-ERR wrong SECRET\r\n:42\r\n$-1\r\n$6\r\nSECRET\r\n"
		"*2\r\n*1\r\n$1\r\na\r\n:1\r\n*0\r\n*-1\r\n"
		"%2\r\n+k1\r\n:1\r\n+k2\r\n*2\r\n,1.5\r\n#t\r\n_\r\n"
		">2\r\n+push\r\n=9\r\ntxt:SECRE\r\n~1\r\n(123\r\n!3\r\nbad\r\n";
	size_t n = strlen(r);
	const size_t replies = 13;
	char cmd[64];
	size_t cn = resp(cmd, sizeof(cmd), 2, "GET", "k");

	for (size_t k = 0; k < n; k++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		feed(l, 60, PLW_DIR_SEND, cmd, cn, 0, &g);
		feed(l, 60, PLW_DIR_RECV, r, k, 0, &g);
		feed(l, 60, PLW_DIR_RECV, r + k, n - k, 0, &g);
		assert_int_equal(g.n, 1 + replies);
		for (size_t i = 1; i < g.n; i++) {
			assert_int_equal(g.l[i].dir, PLW_DIR_RECV);
			assert_string_equal(g.l[i].method, "");
		}
		lbl_free(l);
	}
	/* a 6000-byte bulk reply, 512 captured, then the next */
	struct lbl *l = mk();
	struct got g = { 0 };
	char big[7000];
	int m = snprintf(big, sizeof(big), "$6000\r\n");

	memset(big + m, 'S', 6000);
	memcpy(big + m + 6000, "\r\n", 2);
	feed(l, 61, PLW_DIR_SEND, cmd, cn, 0, &g);
	feed(l, 61, PLW_DIR_RECV, big, m + 6002, 512, &g);
	feeds(l, 61, PLW_DIR_RECV, ":7\r\n", &g);
	assert_int_equal(g.n, 3);
	lbl_free(l);
}

static void test_redis_split_and_gaps(void **st)
{
	char b[8192];
	size_t n;

	n = resp(b, sizeof(b), 3, "SET", "user:42", "SECRET");
	n += resp(b + n, sizeof(b) - n, 2, "INCR", "hits");
	for (size_t k = 1; k < n; k++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		feed(l, 21, PLW_DIR_SEND, b, k, 0, &g);
		feed(l, 21, PLW_DIR_SEND, b + k, n - k, 0, &g);
		assert_int_equal(g.n, 2);
		assert_string_equal(g.l[0].method, "SET");
		assert_string_equal(g.l[0].target, "user:42");
		assert_string_equal(g.l[1].method, "INCR");
		assert_string_equal(g.l[1].target, "hits");
		lbl_free(l);
	}
	/* a big value past the capture, then the next command */
	struct lbl *l = mk();
	struct got g = { 0 };
	char val[6000];

	memset(val, 'S', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	n = resp(b, sizeof(b), 3, "SET", "big", val);
	feed(l, 22, PLW_DIR_SEND, b, n, 512, &g);
	n = resp(b, sizeof(b), 2, "GET", "big");
	feed(l, 22, PLW_DIR_SEND, b, n, 512, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.l[0].target, "big");
	assert_string_equal(g.l[1].method, "GET");
	/* a value spread over calls, most of it not captured */
	n = snprintf(b, sizeof(b), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n");
	feed(l, 22, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 3);
	feed(l, 22, PLW_DIR_SEND, val, 3000, 16, &g);
	feed(l, 22, PLW_DIR_SEND, val, 2000, 16, &g);
	feed(l, 22, PLW_DIR_SEND, "\r\n", 2, 0, &g);
	n = resp(b, sizeof(b), 2, "DEL", "k");
	feed(l, 22, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.l[3].method, "DEL");
	lbl_free(l);
}

/* ----------------------------------------------------------- PostgreSQL */

static size_t pgmsg(char *out, char type, const char *a, size_t alen, const char *b, size_t blen)
{
	uint32_t len = 4 + alen + blen;

	out[0] = type;
	out[1] = len >> 24;
	out[2] = len >> 16;
	out[3] = len >> 8;
	out[4] = len;
	memcpy(out + 5, a, alen);
	if (blen)
		memcpy(out + 5 + alen, b, blen);
	return 5 + alen + blen;
}

static size_t pgq(char *out, const char *sql)
{
	return pgmsg(out, 'Q', sql, strlen(sql) + 1, NULL, 0);
}

static size_t pgp(char *out, const char *name, const char *sql)
{
	char body[2048];
	size_t n = strlen(name) + 1;

	memcpy(body, name, n);
	memcpy(body + n, sql, strlen(sql) + 1);
	n += strlen(sql) + 1;
	body[n++] = 0;		/* no parameter types */
	body[n++] = 0;
	return pgmsg(out, 'P', body, n, NULL, 0);
}

static void test_pg(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	char b[8192];
	size_t n = 0;
	/* StartupMessage: length, protocol 3.0, user/database */
	static const char startup[] = "\0\0\0\x29\0\x03\0\0user\0SECRET\0database\0shop\0\0";

	feed(l, 30, PLW_DIR_SEND, startup, 0x29, 0, &g);
	assert_int_equal(g.n, 0);
	n = pgq(b, "  SELECT * FROM stock WHERE secret = 'SECRET' ");
	feed(l, 30, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.l[0].proto, PLW_PROTO_PG);
	assert_string_equal(g.l[0].method, "SELECT");
	assert_string_equal(g.l[0].target, "stock");
	/* extended protocol: Parse, Bind (with a SECRET parameter), Execute, Sync */
	n = pgp(b, "s1", "insert into orders (id, note) values ($1, $2)");
	n += pgmsg(b + n, 'B', "\0s1\0\0\0\0\x01\0\0\0\x06SECRET\0\0", 18, NULL, 0);
	n += pgmsg(b + n, 'E', "\0\0\0\0\0", 5, NULL, 0);
	n += pgmsg(b + n, 'S', "", 0, NULL, 0);
	feed(l, 30, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.l[1].method, "INSERT");
	assert_string_equal(g.l[1].target, "orders");
	/* server replies are not queries; ReadyForQuery ends each answer */
	n = pgmsg(b, 'T', "\0\x01id\0", 6, NULL, 0);
	n += pgmsg(b + n, 'D', "\0\x01\0\0\0\x06SECRET", 12, NULL, 0);
	n += pgmsg(b + n, 'C', "SELECT 1\0", 9, NULL, 0);
	n += pgmsg(b + n, 'Z', "I", 1, NULL, 0);
	n += pgmsg(b + n, '1', "", 0, NULL, 0);
	n += pgmsg(b + n, 'Z', "I", 1, NULL, 0);
	for (size_t k = 1; k < n; k++) {
		struct lbl *l2 = mk();
		struct got g2 = { 0 };
		size_t q = pgq(b + 1024, "SELECT 1");

		feed(l2, 34, PLW_DIR_SEND, b + 1024, q, 0, &g2);
		feed(l2, 34, PLW_DIR_RECV, b, k, 0, &g2);
		feed(l2, 34, PLW_DIR_RECV, b + k, n - k, 0, &g2);
		assert_int_equal(g2.n, 3);
		assert_int_equal(g2.l[1].dir, PLW_DIR_RECV);
		assert_int_equal(g2.l[1].proto, PLW_PROTO_PG);
		assert_string_equal(g2.l[1].method, "");
		lbl_free(l2);
	}
	feed(l, 30, PLW_DIR_RECV, b, n, 0, &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.l[2].method, "");
	assert_string_equal(g.l[3].method, "");
	lbl_free(l);
}

static void test_pg_split_gap_midstream(void **st)
{
	char b[8192];
	size_t n;

	n = pgq(b, "UPDATE public.stock SET n = n - 1 WHERE id = 7");
	n += pgq(b + n, "DELETE FROM \"Cart Items\" WHERE sid = 'SECRET'");
	for (size_t k = 1; k < n; k++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		/* no startup seen: recording began mid-connection */
		feed(l, 31, PLW_DIR_SEND, b, k, 0, &g);
		feed(l, 31, PLW_DIR_SEND, b + k, n - k, 0, &g);
		if (k >= 5) {
			assert_int_equal(g.n, 2);
			assert_string_equal(g.l[0].method, "UPDATE");
			assert_string_equal(g.l[0].target, "public.stock");
			assert_string_equal(g.l[1].method, "DELETE");
			assert_string_equal(g.l[1].target, "Cart Items");
		}
		lbl_free(l);
	}
	/* mid-connection, the server's reply seen first: the next query is
	 * still recognised */
	{
		struct lbl *l = mk();
		struct got g = { 0 };

		n = pgmsg(b, 'C', "SELECT 1\0", 9, NULL, 0);
		n += pgmsg(b + n, 'Z', "I", 1, NULL, 0);
		feed(l, 33, PLW_DIR_RECV, b, n, 0, &g);
		n = pgq(b, "select * from t");
		feed(l, 33, PLW_DIR_SEND, b, n, 0, &g);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.l[0].method, "SELECT");
		assert_string_equal(g.l[0].target, "t");
		lbl_free(l);
	}
	/* a long query: its head captured, the rest counted */
	struct lbl *l = mk();
	struct got g = { 0 };
	char sql[5000];

	n = snprintf(sql, sizeof(sql), "SELECT a FROM big_table WHERE x IN (");
	while (n < sizeof(sql) - 16)
		n += snprintf(sql + n, sizeof(sql) - n, "'SECRET',");
	snprintf(sql + n - 1, sizeof(sql) - n + 1, ")");
	n = pgq(b, sql);
	feed(l, 32, PLW_DIR_SEND, b, n, 512, &g);
	n = pgq(b, "SELECT 1");
	feed(l, 32, PLW_DIR_SEND, b, n, 0, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.l[0].target, "big_table");
	assert_string_equal(g.l[1].method, "SELECT");
	assert_string_equal(g.l[1].target, "");
	lbl_free(l);
}

static void test_sql(void **st)
{
	static const struct { const char *sql, *kw, *table; } c[] = {
		{ "select * from Stock", "SELECT", "Stock" },
		{ "-- comment\n /* c2 */ WITH x AS (SELECT 1) SELECT * FROM t1 JOIN t2", "WITH", "t1" },
		{ "INSERT INTO s.orders VALUES ('from x')", "INSERT", "s.orders" },
		{ "SELECT 'FROM secret' AS a FROM real_t", "SELECT", "real_t" },
		{ "create table if not exists foo (a int)", "CREATE", "foo" },
		{ "DROP TABLE IF EXISTS bar", "DROP", "bar" },
		{ "(SELECT 1) UNION (SELECT 2)", "SELECT", "" },
		{ "BEGIN", "BEGIN", "" },
		{ "SELECT * FROM (SELECT 1) q", "SELECT", "" },
		{ "truncate only logs", "TRUNCATE", "" },
		{ "SELECT fromage FROM cheese", "SELECT", "cheese" },
		{ "", "", "" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char kw[32], t[64];

		lbl_sql(c[i].sql, strlen(c[i].sql), kw, sizeof(kw), t, sizeof(t));
		assert_string_equal(kw, c[i].kw);
		assert_string_equal(t, c[i].table);
	}
}

/* ------------------------------------------------------------- memory */

static void test_close_and_bounds(void **st)
{
	struct lbl *l;
	struct got g = { 0 };

	assert_int_equal(lbl_new(&l, 100), 0);
	/* half a head on each of 5000 connections: at most 100 kept */
	for (uint64_t c = 1; c <= 5000; c++) {
		feed(l, c, PLW_DIR_SEND, "GET /x HTTP/1.1\r\nHost: a", 24, 0, &g);
		assert_true(lbl_nr_conns(l) <= 100);
		assert_true(lbl_bytes_held(l) <= 100 * LBL_HEAD_MAX);
	}
	assert_int_equal(g.n, 0);
	/* the newest survive and complete */
	feed(l, 5000, PLW_DIR_SEND, "\r\n\r\n", 4, 0, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.l[0].host, "a");
	for (uint64_t c = 1; c <= 5000; c++)
		lbl_close(l, c);
	assert_int_equal(lbl_nr_conns(l), 0);
	assert_int_equal(lbl_bytes_held(l), 0);
	lbl_free(l);
}

/* TLS plaintext is a stream of its own on the same socket */
static void test_tls_stream(void **st)
{
	struct lbl *l = mk();
	struct got g = { 0 };
	unsigned char hello[300] = { 0x16, 0x03, 0x01, 0x01, 0x20 };

	/* the handshake's ciphertext on the socket itself */
	assert_int_equal(lbl_feed(l, 40, PLW_DIR_SEND, 0, hello, sizeof(hello), sizeof(hello),
				  collect, &g), 0);
	assert_int_equal(lbl_feed(l, 40, PLW_DIR_SEND, PLW_LABEL_TLS, req2, strlen(req2),
				  strlen(req2), collect, &g), 0);
	assert_int_equal(g.n, 1);
	check_req2(&g.l[0]);
	assert_int_equal(g.l[0].flags, PLW_LABEL_TLS);
	assert_int_equal(lbl_nr_conns(l), 2);
	lbl_close(l, 40);
	assert_int_equal(lbl_nr_conns(l), 0);
	lbl_free(l);
}

static int stop_cb(const struct lbl_out *o, void *ctx)
{
	(*(int *)ctx)++;
	return -42;
}

/* a writer error from the callback stops the feed and comes back */
static void test_emit_error(void **st)
{
	struct lbl *l = mk();
	char both[512];
	int calls = 0;

	snprintf(both, sizeof(both), "%s%s", req2, req2);
	assert_int_equal(lbl_feed(l, 1, PLW_DIR_SEND, 0, both, strlen(both), strlen(both),
				  stop_cb, &calls), -42);
	assert_int_equal(calls, 1);
	lbl_free(l);
}

/* random call boundaries and captures over a mix of every protocol: never
 * more labels than messages, exactly as many when everything is captured,
 * memory bounded (run under ASan by 'make check') */
static void test_random(void **st)
{
	char stream[16384];
	size_t n = 0, msgs = 0;
	uint32_t x = 777;

	for (int i = 0; i < 20; i++) {
		n += snprintf(stream + n, sizeof(stream) - n, "%s%s", req1, req2);
		msgs += 2;
	}
	for (int round = 0; round < 400; round++) {
		struct lbl *l;
		struct got g = { 0 };
		bool full = round % 2 == 0;

		assert_int_equal(lbl_new(&l, 8), 0);
		for (size_t off = 0; off < n;) {
			size_t len, cap;

			x = x * 1103515245 + 12345;
			len = 1 + (x >> 16) % 700;
			if (len > n - off)
				len = n - off;
			x = x * 1103515245 + 12345;
			cap = full ? len : 1 + (x >> 16) % len;
			assert_int_equal(lbl_feed(l, round % 3, PLW_DIR_SEND, 0, stream + off, cap, len,
						  collect, &g), 0);
			assert_true(lbl_bytes_held(l) <= 8 * 2 * LBL_HEAD_MAX);
			off += len;
		}
		assert_true(g.n <= msgs);
		if (full) {
			assert_int_equal(g.n, msgs);
			for (size_t i = 0; i < msgs && i < MAXL; i++) {
				if (i % 2)
					check_req2(&g.l[i]);
				else
					check_req1(&g.l[i]);
			}
		}
		lbl_free(l);
	}
	/* RESP and PG the same way */
	n = 0;
	for (int i = 0; i < 30; i++) {
		n += resp(stream + n, sizeof(stream) - n, 3, "SET", "k", "SECRET-v");
	}
	for (int round = 0; round < 200; round++) {
		struct lbl *l = mk();
		struct got g = { 0 };

		for (size_t off = 0; off < n;) {
			size_t len;

			x = x * 1103515245 + 12345;
			len = 1 + (x >> 16) % 100;
			if (len > n - off)
				len = n - off;
			feed(l, 50, PLW_DIR_SEND, stream + off, len, round % 2 ? 1 + len / 2 : 0, &g);
			off += len;
		}
		assert_true(g.n <= 30);
		if (round % 2 == 0)
			assert_int_equal(g.n, 30);
		lbl_free(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_request),
		cmocka_unit_test(test_http_split_everywhere),
		cmocka_unit_test(test_http_byte_by_byte),
		cmocka_unit_test(test_http_keepalive_pipelined),
		cmocka_unit_test(test_http_chunked_split),
		cmocka_unit_test(test_http_not_captured),
		cmocka_unit_test(test_http_huge_head),
		cmocka_unit_test(test_http_absolute_and_odd),
		cmocka_unit_test(test_traceparent),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_http_lookalike),
		cmocka_unit_test(test_redis),
		cmocka_unit_test(test_redis_replies),
		cmocka_unit_test(test_redis_split_and_gaps),
		cmocka_unit_test(test_pg),
		cmocka_unit_test(test_pg_split_gap_midstream),
		cmocka_unit_test(test_sql),
		cmocka_unit_test(test_close_and_bounds),
		cmocka_unit_test(test_tls_stream),
		cmocka_unit_test(test_emit_error),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
