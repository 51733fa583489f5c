/* SPDX-License-Identifier: MIT */
/*
 * labels.c - protocol labels from the heads of socket reads and writes
 * (labels.h).  Each direction of a connection is a stream with its own
 * state machine; a call's bytes beyond what was captured are accounted for
 * by count (a body being skipped, a Redis value, a PostgreSQL message), and
 * when they hide the start of the next message the stream waits for a call
 * that begins with one ("lost", resynchronised at a call boundary).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/events.h"
#include "labels.h"

#define DETECT_TRIES	64		/* calls to recognise a stream's protocol */
#define LINE_MAX_	64		/* chunk-size, RESP length lines */
#define INLINE_MAX	512		/* RESP inline command line */
#define PENDING_MAX	32		/* HTTP requests awaiting their response */
#define NBUCKETS	1024

enum { P_DETECT, P_HTTP, P_REDIS, P_PG, P_NONE, P_REDIS_REPLY, P_PG_REPLY };

enum {
	H_HEAD, H_HEAD_SKIP, H_BODY, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_END,
	H_TRAILER, H_UNTIL_CLOSE,
};

enum { R_START, R_ARRLEN, R_BULKLEN, R_BULK, R_INLINE, R_INLINE_SKIP, RR_LINE, RR_BULK };

#define RESP_DEPTH	16		/* nesting of a RESP reply followed */

enum { G_STARTUP_HDR, G_STARTUP, G_HDR, G_BODY };

struct stream {
	uint8_t proto, st, lost, tries;
	uint8_t eoh;			/* end-of-head matcher state */
	uint8_t emitted;		/* this message's label is out */
	uint8_t chunked, no_body;	/* HTTP: what follows the head being skipped */
	uint8_t proven;			/* HTTP: a whole head was read on this stream */
	uint64_t rem;			/* body / chunk / bulk / message bytes left */
	uint64_t clen;			/* HTTP Content-Length of the head (or -1) */
	char *buf;			/* head / inline line / SQL being assembled */
	uint32_t n;
	char line[LINE_MAX_];
	uint32_t nline;
	/* redis */
	int64_t nargs, argi, alen;
	char cmd[32];
	char key[256];
	uint32_t ncmd, nkey;
	/* redis replies: children left at each open aggregate */
	int64_t agg[RESP_DEPTH];
	uint32_t depth;
	/* postgres */
	uint8_t pg_type;
	uint8_t hdr[8];
	uint32_t nhdr;
};

struct conn {
	uint64_t id;
	uint8_t tls;
	int8_t first_dir;
	uint64_t use;
	struct stream s[2];
	uint8_t pend[PENDING_MAX];	/* HTTP: 1 = a HEAD request */
	uint32_t pend_head, pend_n;
	struct conn *next;
};

struct lbl {
	struct conn *b[NBUCKETS];
	size_t nr, max;
	uint64_t clock;
	/* the call being fed */
	lbl_emit_fn emit;
	void *ctx;
	int ret;
};

static const char *const methods[] = {
	"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
};

static const char *const redis_inline[] = {
	"PING", "GET", "SET", "DEL", "INCR", "DECR", "EXISTS", "EXPIRE", "TTL", "KEYS",
	"HGET", "HSET", "HDEL", "HGETALL", "LPUSH", "RPUSH", "LPOP", "RPOP", "LRANGE",
	"SADD", "SREM", "SMEMBERS", "ZADD", "ZRANGE", "MGET", "MSET", "SELECT", "AUTH",
	"HELLO", "INFO", "QUIT", "ECHO", "FLUSHALL", "FLUSHDB", "DBSIZE", "TYPE",
	"PUBLISH", "SUBSCRIBE", "CLIENT", "COMMAND", "CONFIG", "APPEND", "GETSET",
	"SETEX", "SETNX", "INCRBY", "DECRBY",
};

/* ------------------------------------------------------------ helpers */

static void copy_field(char *dst, size_t cap, const char *src, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char c = src[i];

		if (c < 0x20 || c == 0x7f)
			break;
		dst[k++] = c;
	}
	dst[k] = 0;
}

static const char *trim(const char *s, const char *e, const char **end)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*end = e;
	return s;
}

static bool hexc(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int lbl_traceparent_ok(const char *s, size_t len)
{
	static const int parts[] = { 2, 32, 16, 2 };
	size_t p = 0;
	bool zero;

	if (len != 55)
		return 0;
	for (int k = 0; k < 4; k++) {
		zero = true;
		for (int i = 0; i < parts[k]; i++, p++) {
			if (!hexc(s[p]))
				return 0;
			if (s[p] != '0')
				zero = false;
		}
		if ((k == 1 || k == 2) && zero)
			return 0;
		if (k < 3 && s[p++] != '-')
			return 0;
	}
	return s[0] == '0' && s[1] == '0';
}

static bool is_method(const char *s, size_t n, bool any)
{
	size_t k = 0;

	while (k < n && k < 16 && s[k] >= 'A' && s[k] <= 'Z')
		k++;
	if (!k || k >= n || s[k] != ' ')
		return false;
	if (any)
		return true;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == k && !memcmp(s, methods[i], k))
			return true;
	return false;
}

/* the start of an HTTP message: a request line or a status line, or the
 * first bytes of one (a head split right at its start) */
static int http_start(const unsigned char *d, size_t n)
{
	if (n >= 7 && !memcmp(d, "HTTP/1.", 7))
		return 2;
	if (n < 7 && !memcmp(d, "HTTP/1.", n))
		return 2;
	if (is_method((const char *)d, n, false))
		return 1;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n && n <= strlen(methods[i]) && !memcmp(d, methods[i], n))
			return 1;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool pg_type_ok(unsigned char t)
{
	return t && strchr("BCdcDEfFHPpQSX", t) != NULL;
}

/* a backend (server) message type */
static bool pg_server_type_ok(unsigned char t)
{
	return t && strchr("RSKZTDCEINnst123AGHWdcVv", t) != NULL;
}

/* the first byte of a RESP2/RESP3 reply */
static bool resp_reply_start(const unsigned char *d, size_t n)
{
	return n && strchr("+-:$*_,#!=(%~>|", d[0]) != NULL && d[0];
}

static bool pg_start(const unsigned char *d, size_t n)
{
	uint32_t len;

	if (n < 5 || (d[0] != 'Q' && d[0] != 'P'))
		return false;
	len = be32(d + 1);
	if (len < 5 || len > (1u << 28))
		return false;
	/* the query (Q) or the statement name (P) is text */
	for (size_t i = 5; i < n && i < 12; i++)
		if (d[i] && (d[i] < 0x09 || d[i] > 0x7e))
			return false;
	return true;
}

static bool pg_startup(const unsigned char *d, size_t n)
{
	uint32_t len, code;

	if (n < 8)
		return false;
	len = be32(d);
	code = be32(d + 4);
	return len >= 8 && len <= 10000 &&
	       (code == 196608 || code == 80877103 || code == 80877104 || code == 80877102);
}

static bool redis_start(const unsigned char *d, size_t n)
{
	return (n == 1 && d[0] == '*') || (n >= 2 && d[0] == '*' && d[1] >= '0' && d[1] <= '9');
}

static bool redis_inline_start(const unsigned char *d, size_t n)
{
	size_t k = 0;

	while (k < n && k < 16 && isalpha(d[k]))
		k++;
	if (!k || (k < n && d[k] != ' ' && d[k] != '\r' && d[k] != '\n'))
		return false;
	for (size_t i = 0; i < sizeof(redis_inline) / sizeof(redis_inline[0]); i++)
		if (strlen(redis_inline[i]) == k && !strncasecmp((const char *)d, redis_inline[i], k))
			return true;
	return false;
}

/* -------------------------------------------------------------- SQL */

static bool word_at(const char *s, size_t len, size_t i, const char *w)
{
	size_t n = strlen(w);

	if (i + n > len || strncasecmp(s + i, w, n))
		return false;
	if (i && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return false;
	return i + n == len || !(isalnum((unsigned char)s[i + n]) || s[i + n] == '_');
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	for (;;) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
			const char *e = NULL;

			for (size_t k = i + 2; k + 1 < len; k++)
				if (s[k] == '*' && s[k + 1] == '/') {
					e = s + k;
					break;
				}
			i = e ? (size_t)(e - s) + 2 : len;
		} else {
			return i;
		}
	}
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || c == '.';
}

void lbl_sql(const char *s, size_t len, char *kw, size_t kwlen, char *table, size_t tlen)
{
	size_t i, k = 0;
	char q = 0;

	kw[0] = table[0] = 0;
	i = skip_space(s, len, 0);
	while (i < len && s[i] == '(')
		i = skip_space(s, len, i + 1);
	while (i < len && isalpha((unsigned char)s[i]) && k + 1 < kwlen)
		kw[k++] = toupper((unsigned char)s[i++]);
	kw[k] = 0;
	/* the first identifier after FROM / INTO / UPDATE / TABLE, outside quotes */
	for (i = 0; i < len && s[i]; i++) {
		char c = s[i];

		if (q) {
			if (c == q)
				q = 0;
			continue;
		}
		if (c == '\'') {
			q = c;
			continue;
		}
		if (!word_at(s, len, i, "FROM") && !word_at(s, len, i, "INTO") &&
		    !word_at(s, len, i, "UPDATE") && !word_at(s, len, i, "TABLE"))
			continue;
		i += word_at(s, len, i, "UPDATE") ? 6 : word_at(s, len, i, "TABLE") ? 5 : 4;
		i = skip_space(s, len, i);
		for (;;) {
			static const char *const noise[] = { "IF NOT EXISTS", "IF EXISTS", "ONLY" };
			bool hit = false;

			for (size_t m = 0; m < 3; m++) {
				size_t n = strlen(noise[m]);

				if (i + n <= len && !strncasecmp(s + i, noise[m], n) &&
				    (i + n == len || !ident_char(s[i + n]))) {
					i = skip_space(s, len, i + n);
					hit = true;
				}
			}
			if (!hit)
				break;
		}
		k = 0;
		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"' && k + 1 < tlen; i++)
				if ((unsigned char)s[i] >= 0x20)
					table[k++] = s[i];
		} else {
			while (i < len && ident_char(s[i]) && k + 1 < tlen)
				table[k++] = s[i++];
		}
		table[k] = 0;
		return;
	}
}

/* ------------------------------------------------------------ conns */

static size_t hash(uint64_t id, uint8_t tls)
{
	uint64_t h = (id ^ tls) * 0x9e3779b97f4a7c15ull;

	return (h >> 40) % NBUCKETS;
}

static void stream_reset(struct stream *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void conn_free(struct conn *c)
{
	stream_reset(&c->s[0]);
	stream_reset(&c->s[1]);
	free(c);
}

static void conn_unlink(struct lbl *l, struct conn *c)
{
	struct conn **pp = &l->b[hash(c->id, c->tls)];

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	l->nr--;
	conn_free(c);
}

static struct conn *conn_get(struct lbl *l, uint64_t id, uint8_t tls)
{
	struct conn *c;
	size_t h = hash(id, tls);

	for (c = l->b[h]; c; c = c->next)
		if (c->id == id && c->tls == tls) {
			c->use = ++l->clock;
			return c;
		}
	if (l->nr >= l->max) {
		struct conn *old = NULL;

		for (size_t i = 0; i < NBUCKETS; i++)
			for (c = l->b[i]; c; c = c->next)
				if (!old || c->use < old->use)
					old = c;
		if (old)
			conn_unlink(l, old);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->tls = tls;
	c->first_dir = -1;
	c->use = ++l->clock;
	c->next = l->b[h];
	l->b[h] = c;
	l->nr++;
	return c;
}

int lbl_new(struct lbl **out, size_t max_conns)
{
	struct lbl *l = calloc(1, sizeof(*l));

	*out = l;
	if (!l)
		return -ENOMEM;
	l->max = max_conns ? max_conns : LBL_CONNS_MAX;
	return 0;
}

void lbl_free(struct lbl *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (l->b[i]) {
			struct conn *c = l->b[i];

			l->b[i] = c->next;
			conn_free(c);
		}
	free(l);
}

void lbl_close(struct lbl *l, uint64_t id)
{
	for (uint8_t tls = 0; tls < 2; tls++) {
		struct conn *c;

		for (c = l->b[hash(id, tls)]; c; c = c->next)
			if (c->id == id && c->tls == tls)
				break;
		if (c)
			conn_unlink(l, c);
	}
}

int lbl_ignored(const struct lbl *l, uint64_t id, unsigned dir, unsigned flags)
{
	uint8_t tls = !!(flags & PLW_LABEL_TLS);

	if (dir > 1)
		return 0;
	for (const struct conn *c = l->b[hash(id, tls)]; c; c = c->next)
		if (c->id == id && c->tls == tls)
			return c->s[dir].proto == P_NONE;
	return 0;
}

size_t lbl_nr_conns(const struct lbl *l)
{
	return l->nr;
}

size_t lbl_bytes_held(const struct lbl *l)
{
	size_t n = 0;

	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct conn *c = l->b[i]; c; c = c->next)
			for (int d = 0; d < 2; d++)
				if (c->s[d].buf)
					n += c->s[d].proto == P_PG ? LBL_SQL_MAX : LBL_HEAD_MAX;
	return n;
}

static int buf_need(struct stream *s, size_t cap)
{
	if (!s->buf && !(s->buf = malloc(cap)))
		return -ENOMEM;
	return 0;
}

static void buf_drop(struct stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->n = 0;
}

static void emit(struct lbl *l, struct conn *c, unsigned dir, struct lbl_out *o)
{
	o->conn = c->id;
	o->dir = dir;
	o->flags = c->tls ? PLW_LABEL_TLS : 0;
	if (!l->ret)
		l->ret = l->emit(o, l->ctx);
}

/* ------------------------------------------------------------- HTTP */

/* parses the head in s->buf (s->n bytes, possibly cut short): label and
 * what follows it; false if it is not an HTTP head */
static bool http_head(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	const char *h = s->buf, *e = s->buf + s->n, *p, *eol;
	struct lbl_out o;
	bool resp, chunked = false;
	int64_t clen = -1;

	memset(&o, 0, sizeof(o));
	eol = memchr(h, '\n', e - h);
	if (!eol)
		eol = e;
	if (e - h >= 7 && !memcmp(h, "HTTP/1.", 7)) {
		resp = true;
		p = memchr(h, ' ', eol - h);
		if (!p || eol - p < 4 || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || !isdigit((unsigned char)p[3]))
			return false;
		o.status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
		o.proto = PLW_PROTO_HTTP_RESP;
	} else {
		const char *sp, *t, *te;

		resp = false;
		if (!is_method(h, eol - h, true))
			return false;
		sp = memchr(h, ' ', eol - h);
		copy_field(o.method, sizeof(o.method), h, sp - h);
		t = sp + 1;
		te = memchr(t, ' ', eol - t);
		if (!te)
			te = eol;
		/* absolute form: scheme://host/path */
		if (te - t > 7 && (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8))) {
			const char *hs = strstr(t, "://") + 3, *ps = hs;

			while (ps < te && *ps != '/' && *ps != '?')
				ps++;
			copy_field(o.host, sizeof(o.host), hs, ps - hs);
			t = ps;
		}
		for (p = t; p < te && *p != '?' && *p != '#'; p++)
			;
		copy_field(o.target, sizeof(o.target), t, p - t);
		o.proto = PLW_PROTO_HTTP_REQ;
	}
	/* headers */
	for (p = eol < e ? eol + 1 : e; p < e; p = eol + 1) {
		const char *colon, *v, *ve;
		size_t nl;

		eol = memchr(p, '\n', e - p);
		if (!eol)
			eol = e;
		colon = memchr(p, ':', eol - p);
		if (!colon)
			continue;
		nl = colon - p;
		v = trim(colon + 1, eol, &ve);
		if (nl == 4 && !strncasecmp(p, "host", 4)) {
			if (!resp && !o.host[0])
				copy_field(o.host, sizeof(o.host), v, ve - v);
		} else if (nl == 11 && !strncasecmp(p, "traceparent", 11)) {
			if (!resp && lbl_traceparent_ok(v, ve - v))
				copy_field(o.traceparent, sizeof(o.traceparent), v, ve - v);
		} else if (nl == 14 && !strncasecmp(p, "content-length", 14)) {
			char *end;
			long long x = strtoll(v, &end, 10);

			if (end != v && x >= 0)
				clen = x;
		} else if (nl == 17 && !strncasecmp(p, "transfer-encoding", 17)) {
			for (const char *q = v; q + 7 <= ve; q++)
				if (!strncasecmp(q, "chunked", 7))
					chunked = true;
		}
		if (eol == e)
			break;
	}
	s->chunked = chunked;
	s->clen = clen < 0 ? (uint64_t)-1 : (uint64_t)clen;
	s->no_body = false;
	if (resp) {
		bool head_req = false;

		/* interim 1xx: no body, and the final response follows */
		if (o.status >= 100 && o.status < 200) {
			s->no_body = true;
			return true;
		}
		if (c->pend_n) {
			head_req = c->pend[c->pend_head];
			c->pend_head = (c->pend_head + 1) % PENDING_MAX;
			c->pend_n--;
		}
		if (head_req || o.status == 204 || o.status == 304)
			s->no_body = true;
		else if (!chunked && clen < 0)
			s->clen = (uint64_t)-2;		/* until close */
	} else {
		if (c->pend_n < PENDING_MAX) {
			c->pend[(c->pend_head + c->pend_n) % PENDING_MAX] = !strcmp(o.method, "HEAD");
			c->pend_n++;
		}
		if (!chunked && clen < 0)
			s->no_body = true;
	}
	emit(l, c, dir, &o);
	return true;
}

/* a header line seen after LBL_HEAD_MAX: Content-Length, Transfer-Encoding */
static void http_framing(struct stream *s, const char *line)
{
	const char *v = strchr(line, ':');

	if (!v)
		return;
	if (v - line == 14 && !strncasecmp(line, "content-length", 14)) {
		char *end;
		long long x = strtoll(v + 1, &end, 10);

		if (end != v + 1 && x >= 0) {
			s->clen = x;
			s->no_body = false;
		}
	} else if (v - line == 17 && !strncasecmp(line, "transfer-encoding", 17) &&
		   strcasestr(v, "chunked")) {
		s->chunked = true;
		s->no_body = false;
	}
}

/* after a head: what its body is */
static void http_body(struct stream *s)
{
	buf_drop(s);
	s->eoh = 0;
	s->nline = 0;
	if (s->no_body) {
		s->st = H_HEAD;
	} else if (s->chunked) {
		s->st = H_CHUNK_SIZE;
	} else if (s->clen == (uint64_t)-2) {
		s->st = H_UNTIL_CLOSE;
	} else if (s->clen == (uint64_t)-1 || s->clen == 0) {
		s->st = H_HEAD;
	} else {
		s->st = H_BODY;
		s->rem = s->clen;
	}
}

/* end of head: a line feed, an optional CR, a line feed */
static bool eoh_step(struct stream *s, unsigned char ch)
{
	if (ch == '\n') {
		if (s->eoh == 1 || s->eoh == 2)
			return true;
		s->eoh = 1;
	} else if (ch == '\r' && s->eoh == 1) {
		s->eoh = 2;
	} else if (ch != '\r') {
		s->eoh = 0;
	}
	return false;
}

static void lose(struct stream *s)
{
	s->lost = 1;
	buf_drop(s);
	s->eoh = 0;
	s->nline = 0;
	s->emitted = 0;
}

/* a byte an HTTP/1.x head never holds (RFC 9110 5.5: no CTL but HTAB) */
static bool http_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f;
}

static int http_feed(struct lbl *l, struct conn *c, unsigned dir, struct stream *s,
		     const unsigned char *d, size_t cap, uint64_t len)
{
	size_t i = 0;
	uint64_t gap = len - cap;

	while (i < cap && !s->lost && !l->ret) {
		unsigned char ch = d[i];

		if ((s->st == H_HEAD || s->st == H_HEAD_SKIP) && http_ctl(ch)) {
			/* binary in a head: a stream that never had a whole
			 * head only began like HTTP ("GET " of a framed
			 * protocol): given up on, so BPF stops copying it;
			 * one that had is resynchronised at a call boundary */
			if (!s->proven) {
				buf_drop(s);
				s->proto = P_NONE;
				return 0;
			}
			lose(s);
			break;
		}
		switch (s->st) {
		case H_HEAD:
			if (!s->n && ch != '\r' && ch != '\n' && !s->buf && buf_need(s, LBL_HEAD_MAX))
				return -ENOMEM;
			if (!s->n && (ch == '\r' || ch == '\n')) {
				i++;		/* stray CRLF between messages */
				break;
			}
			s->buf[s->n++] = ch;
			i++;
			if (eoh_step(s, ch)) {
				if (!http_head(l, c, dir, s)) {
					lose(s);
					break;
				}
				s->proven = 1;
				http_body(s);
			} else if (s->n == LBL_HEAD_MAX) {
				/* a huge head: label it from its first bytes, skip the rest */
				if (!http_head(l, c, dir, s)) {
					lose(s);
					break;
				}
				buf_drop(s);
				s->st = H_HEAD_SKIP;
			}
			break;
		case H_HEAD_SKIP:
			/* past LBL_HEAD_MAX: only the body's framing is looked for */
			i++;
			if (ch != '\n' && ch != '\r' && s->nline < sizeof(s->line) - 1)
				s->line[s->nline++] = ch;
			if (ch == '\n') {
				s->line[s->nline] = 0;
				http_framing(s, s->line);
				s->nline = 0;
			}
			if (eoh_step(s, ch)) {
				s->proven = 1;
				http_body(s);
			}
			break;
		case H_BODY: {
			uint64_t take = cap - i < s->rem ? cap - i : s->rem;

			i += take;
			s->rem -= take;
			if (!s->rem)
				s->st = H_HEAD;
			break;
		}
		case H_CHUNK_SIZE:
		case H_CHUNK_END:
		case H_TRAILER:
			i++;
			if (ch != '\n') {
				if (s->nline < sizeof(s->line) - 1)
					s->line[s->nline++] = ch;
				else if (s->st == H_CHUNK_SIZE) {
					lose(s);
				}
				break;
			}
			s->line[s->nline] = 0;
			if (s->st == H_CHUNK_END) {
				s->st = H_CHUNK_SIZE;
			} else if (s->st == H_TRAILER) {
				if (s->nline == 0 || (s->nline == 1 && s->line[0] == '\r'))
					s->st = H_HEAD;
			} else {
				char *end;
				unsigned long long x = strtoull(s->line, &end, 16);

				if (end == s->line) {
					lose(s);
					break;
				}
				if (x == 0) {
					s->st = H_TRAILER;
				} else {
					s->st = H_CHUNK_DATA;
					s->rem = x;
				}
			}
			s->nline = 0;
			break;
		case H_CHUNK_DATA: {
			uint64_t take = cap - i < s->rem ? cap - i : s->rem;

			i += take;
			s->rem -= take;
			if (!s->rem) {
				s->st = H_CHUNK_END;
				s->nline = 0;
			}
			break;
		}
		case H_UNTIL_CLOSE:
			i = cap;
			break;
		}
	}
	if (!gap || s->lost || l->ret)
		return 0;
	/* the bytes not captured */
	if ((s->st == H_BODY || s->st == H_CHUNK_DATA) && gap <= s->rem) {
		s->rem -= gap;
		if (!s->rem)
			s->st = s->st == H_BODY ? H_HEAD : H_CHUNK_END;
		return 0;
	}
	if (s->st == H_UNTIL_CLOSE)
		return 0;
	if (s->st == H_HEAD && s->n) {
		/* the head goes on beyond what was captured: label what we have */
		http_head(l, c, dir, s);
	}
	lose(s);
	return 0;
}

/* ------------------------------------------------------------ Redis */

static void redis_emit(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	struct lbl_out o;

	memset(&o, 0, sizeof(o));
	o.proto = PLW_PROTO_REDIS;
	copy_field(o.method, sizeof(o.method), s->cmd, s->ncmd);
	for (char *m = o.method; *m; m++)
		*m = toupper((unsigned char)*m);
	copy_field(o.target, sizeof(o.target), s->key, s->nkey);
	s->emitted = 1;
	emit(l, c, dir, &o);
}

static void redis_arg_done(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	s->argi++;
	if (!s->emitted && (s->argi == 2 || s->argi >= s->nargs))
		redis_emit(l, c, dir, s);
	if (s->argi >= s->nargs) {
		s->st = R_START;
		s->emitted = 0;
	} else {
		s->st = R_BULKLEN;
		s->nline = 0;
	}
}

/* a RESP inline command: "GET key\r\n" */
static void redis_inline_done(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	const char *p = s->buf, *e = s->buf + s->n;

	s->ncmd = s->nkey = 0;
	while (p < e && *p == ' ')
		p++;
	for (; p < e && *p != ' ' && *p != '\r'; p++)
		if (s->ncmd < sizeof(s->cmd))
			s->cmd[s->ncmd++] = *p;
	while (p < e && *p == ' ')
		p++;
	for (; p < e && *p != ' ' && *p != '\r'; p++)
		if (s->nkey < sizeof(s->key))
			s->key[s->nkey++] = *p;
	if (s->ncmd && redis_inline_start((const unsigned char *)s->cmd, s->ncmd))
		redis_emit(l, c, dir, s);
	s->emitted = 0;
	buf_drop(s);
}

static int redis_feed(struct lbl *l, struct conn *c, unsigned dir, struct stream *s,
		      const unsigned char *d, size_t cap, uint64_t len)
{
	size_t i = 0;
	uint64_t gap = len - cap;

	while (i < cap && !s->lost && !l->ret) {
		unsigned char ch = d[i];

		switch (s->st) {
		case R_START:
			if (ch == '\r' || ch == '\n') {
				i++;
			} else if (ch == '*') {
				i++;
				s->st = R_ARRLEN;
				s->nline = 0;
				s->ncmd = s->nkey = 0;
				s->emitted = 0;
			} else {
				if (buf_need(s, INLINE_MAX))
					return -ENOMEM;
				s->n = 0;
				s->ncmd = s->nkey = 0;
				s->st = R_INLINE;
			}
			break;
		case R_ARRLEN:
		case R_BULKLEN:
			i++;
			if (ch == '\r')
				break;
			if (ch != '\n') {
				if (s->nline >= sizeof(s->line) - 1 ||
				    !((ch >= '0' && ch <= '9') || (ch == '$' && s->st == R_BULKLEN && !s->nline) ||
				      (ch == '-' && s->st == R_ARRLEN && !s->nline) ||
				      (ch == '-' && s->st == R_BULKLEN && s->nline == 1)))
					lose(s);
				else
					s->line[s->nline++] = ch;
				break;
			}
			s->line[s->nline] = 0;
			if (s->st == R_ARRLEN) {
				s->nargs = strtoll(s->line, NULL, 10);
				s->argi = 0;
				if (s->nargs <= 0) {
					s->st = R_START;
					break;
				}
				s->st = R_BULKLEN;
			} else {
				if (s->line[0] != '$') {
					lose(s);
					break;
				}
				s->alen = strtoll(s->line + 1, NULL, 10);
				if (s->alen < 0) {
					redis_arg_done(l, c, dir, s);
					break;
				}
				s->st = R_BULK;
				s->rem = (uint64_t)s->alen + 2;
			}
			s->nline = 0;
			break;
		case R_BULK: {
			uint64_t take = cap - i < s->rem ? cap - i : s->rem;
			uint64_t pos = (uint64_t)s->alen + 2 - s->rem;

			for (uint64_t k = 0; k < take; k++, pos++) {
				if (pos >= (uint64_t)s->alen)
					break;
				if (s->argi == 0 && s->ncmd < sizeof(s->cmd))
					s->cmd[s->ncmd++] = d[i + k];
				else if (s->argi == 1 && s->nkey < sizeof(s->key))
					s->key[s->nkey++] = d[i + k];
				else
					break;
			}
			i += take;
			s->rem -= take;
			if (!s->rem)
				redis_arg_done(l, c, dir, s);
			break;
		}
		case R_INLINE:
			i++;
			if (ch == '\n') {
				redis_inline_done(l, c, dir, s);
				s->st = R_START;
			} else if (s->n < INLINE_MAX) {
				s->buf[s->n++] = ch;
			} else {
				redis_inline_done(l, c, dir, s);
				s->st = R_INLINE_SKIP;
			}
			break;
		case R_INLINE_SKIP:
			i++;
			if (ch == '\n')
				s->st = R_START;
			break;
		}
	}
	if (!gap || s->lost || l->ret)
		return 0;
	if (s->st == R_BULK && gap <= s->rem) {
		s->rem -= gap;
		if (!s->rem)
			redis_arg_done(l, c, dir, s);
		return 0;
	}
	if (s->st == R_BULK && s->argi < 2 && !s->emitted)
		redis_emit(l, c, dir, s);
	lose(s);
	return 0;
}

/* Redis replies: one label (no command, no key) per top-level reply, in
 * the reply direction, so that a call's end is known.  RESP2 and RESP3. */
static void reply_done(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	while (s->depth) {
		if (--s->agg[s->depth - 1] > 0)
			return;
		s->depth--;
	}
	struct lbl_out o;

	memset(&o, 0, sizeof(o));
	o.proto = PLW_PROTO_REDIS;
	emit(l, c, dir, &o);
}

static int reply_feed(struct lbl *l, struct conn *c, unsigned dir, struct stream *s,
		      const unsigned char *d, size_t cap, uint64_t len)
{
	size_t i = 0;
	uint64_t gap = len - cap;

	while (i < cap && !s->lost && !l->ret) {
		unsigned char ch = d[i];

		if (s->st == RR_BULK) {
			uint64_t take = cap - i < s->rem ? cap - i : s->rem;

			i += take;
			s->rem -= take;
			if (!s->rem) {
				s->st = RR_LINE;
				s->nline = 0;
				reply_done(l, c, dir, s);
			}
			continue;
		}
		/* RR_LINE: a type byte and the rest of its line */
		i++;
		if (!s->nline && !strchr("+-:$*_,#!=(%~>|", ch)) {
			lose(s);
			break;
		}
		if (ch != '\n') {
			if (s->nline < sizeof(s->line) - 1)
				s->line[s->nline++] = ch;
			continue;
		}
		s->line[s->nline] = 0;
		s->nline = 0;
		long long n = strtoll(s->line + 1, NULL, 10);

		switch (s->line[0]) {
		case '$': case '!': case '=':
			if (n < 0) {
				reply_done(l, c, dir, s);
			} else {
				s->st = RR_BULK;
				s->rem = (uint64_t)n + 2;
			}
			break;
		case '*': case '~': case '>': case '%': case '|':
			if (s->line[0] == '%' || s->line[0] == '|')
				n *= 2;
			if (n <= 0) {
				reply_done(l, c, dir, s);
			} else if (s->depth == RESP_DEPTH) {
				lose(s);
			} else {
				s->agg[s->depth++] = n;
			}
			break;
		default:
			reply_done(l, c, dir, s);
		}
	}
	if (!gap || s->lost || l->ret)
		return 0;
	if (s->st == RR_BULK && gap <= s->rem) {
		s->rem -= gap;
		if (!s->rem) {
			s->st = RR_LINE;
			reply_done(l, c, dir, s);
		}
		return 0;
	}
	lose(s);
	return 0;
}

/* --------------------------------------------------------- PostgreSQL */

static void pg_done(struct lbl *l, struct conn *c, unsigned dir, struct stream *s)
{
	struct lbl_out o;
	const char *q = s->buf;
	size_t n = s->n;

	if (s->proto == P_PG_REPLY) {
		/* ReadyForQuery: the answer to a simple query or a Sync is complete */
		if (s->pg_type == 'Z') {
			memset(&o, 0, sizeof(o));
			o.proto = PLW_PROTO_PG;
			emit(l, c, dir, &o);
		}
	} else if ((s->pg_type == 'Q' || s->pg_type == 'P') && s->buf) {
		if (s->pg_type == 'P') {
			const char *z = memchr(q, 0, n);	/* the statement name */

			n = z ? n - (z + 1 - q) : 0;
			q = z ? z + 1 : q;
		}
		const char *z = memchr(q, 0, n);

		if (z)
			n = z - q;
		memset(&o, 0, sizeof(o));
		o.proto = PLW_PROTO_PG;
		lbl_sql(q, n, o.method, sizeof(o.method), o.target, sizeof(o.target));
		if (o.method[0])
			emit(l, c, dir, &o);
	}
	buf_drop(s);
	s->st = G_HDR;
	s->nhdr = 0;
}

static int pg_feed(struct lbl *l, struct conn *c, unsigned dir, struct stream *s,
		   const unsigned char *d, size_t cap, uint64_t len)
{
	size_t i = 0;
	uint64_t gap = len - cap;

	while (i < cap && !s->lost && !l->ret) {
		switch (s->st) {
		case G_STARTUP_HDR:
		case G_HDR: {
			size_t want = s->st == G_HDR ? 5 : 4;

			s->hdr[s->nhdr++] = d[i++];
			if (s->nhdr < want)
				break;
			if (s->st == G_STARTUP_HDR) {
				uint32_t n = be32(s->hdr);

				if (n < 8 || n > 10000) {
					lose(s);
					break;
				}
				s->pg_type = 0;
				s->rem = n - 4;
				s->st = G_BODY;
			} else {
				uint32_t n = be32(s->hdr + 1);

				if (!(s->proto == P_PG_REPLY ? pg_server_type_ok(s->hdr[0]) :
				      pg_type_ok(s->hdr[0])) || n < 4 || n > (1u << 30)) {
					lose(s);
					break;
				}
				s->pg_type = s->hdr[0];
				s->rem = n - 4;
				s->st = G_BODY;
				if (s->proto == P_PG &&
				    (s->pg_type == 'Q' || s->pg_type == 'P') && buf_need(s, LBL_SQL_MAX))
					return -ENOMEM;
				s->n = 0;
			}
			if (!s->rem)
				pg_done(l, c, dir, s);
			break;
		}
		case G_BODY: {
			uint64_t take = cap - i < s->rem ? cap - i : s->rem;

			if (s->buf)
				for (uint64_t k = 0; k < take && s->n < LBL_SQL_MAX; k++)
					s->buf[s->n++] = d[i + k];
			i += take;
			s->rem -= take;
			if (!s->rem)
				pg_done(l, c, dir, s);
			break;
		}
		}
	}
	if (!gap || s->lost || l->ret)
		return 0;
	if (s->st == G_BODY && gap <= s->rem) {
		s->rem -= gap;
		if (!s->rem)
			pg_done(l, c, dir, s);
		return 0;
	}
	lose(s);
	return 0;
}

/* ------------------------------------------------------------- feed */

/* a call that begins a message of the stream's protocol: start over */
static bool resync(struct conn *c, unsigned dir, struct stream *s, const unsigned char *d, size_t n)
{
	switch (s->proto) {
	case P_HTTP:
		if (!http_start(d, n))
			return false;
		s->st = H_HEAD;
		break;
	case P_REDIS:
		if (!redis_start(d, n))
			return false;
		s->st = R_START;
		break;
	case P_PG:
		if (!pg_start(d, n))
			return false;
		s->st = G_HDR;
		s->nhdr = 0;
		break;
	case P_REDIS_REPLY:
		if (!resp_reply_start(d, n))
			return false;
		s->st = RR_LINE;
		s->depth = 0;
		break;
	case P_PG_REPLY:
		if (n < 5 || !pg_server_type_ok(d[0]) || be32(d + 1) < 4)
			return false;
		s->st = G_HDR;
		s->nhdr = 0;
		break;
	default:
		return false;
	}
	buf_drop(s);
	s->lost = 0;
	s->eoh = 0;
	s->nline = 0;
	s->emitted = 0;
	return true;
}

static void detect(struct conn *c, unsigned dir, struct stream *s, const unsigned char *d, size_t n)
{
	bool first = c->first_dir == (int8_t)dir;
	unsigned other = c->s[!dir].proto;

	/* the answers on a connection whose requests are Redis / PostgreSQL */
	if (!first && other == P_REDIS && resp_reply_start(d, n)) {
		s->proto = P_REDIS_REPLY;
		s->st = RR_LINE;
		return;
	}
	if (!first && other == P_PG && n >= 1 && pg_server_type_ok(d[0])) {
		s->proto = P_PG_REPLY;
		s->st = G_HDR;
		return;
	}
	if (http_start(d, n)) {
		s->proto = P_HTTP;
		s->st = H_HEAD;
	} else if (first && redis_start(d, n)) {
		s->proto = P_REDIS;
		s->st = R_START;
	} else if (first && pg_startup(d, n)) {
		s->proto = P_PG;
		s->st = G_STARTUP_HDR;
	} else if (pg_start(d, n)) {
		/* 'Q' and 'P' are frontend messages only: either direction (a
		 * recording that began with the server's reply) */
		s->proto = P_PG;
		s->st = G_HDR;
	} else if (first && redis_inline_start(d, n)) {
		s->proto = P_REDIS;
		s->st = R_START;
	} else if (++s->tries >= DETECT_TRIES) {
		s->proto = P_NONE;
	}
}

int lbl_feed(struct lbl *l, uint64_t id, unsigned dir, unsigned flags,
	     const void *data, size_t caplen, uint64_t len, lbl_emit_fn fn, void *ctx)
{
	const unsigned char *d = data;
	struct conn *c;
	struct stream *s;
	int err = 0;

	if (dir > 1 || !len)
		return 0;
	if (caplen > len)
		caplen = len;
	c = conn_get(l, id, !!(flags & PLW_LABEL_TLS));
	if (!c)
		return -ENOMEM;
	if (c->first_dir < 0)
		c->first_dir = dir;
	s = &c->s[dir];
	if (s->proto == P_DETECT) {
		detect(c, dir, s, d, caplen);
		if (s->proto == P_DETECT || s->proto == P_NONE)
			return 0;
	}
	if (s->proto == P_NONE)
		return 0;
	if (s->lost && !resync(c, dir, s, d, caplen))
		return 0;
	l->emit = fn;
	l->ctx = ctx;
	l->ret = 0;
	switch (s->proto) {
	case P_HTTP:
		err = http_feed(l, c, dir, s, d, caplen, len);
		break;
	case P_REDIS:
		err = redis_feed(l, c, dir, s, d, caplen, len);
		break;
	case P_PG:
	case P_PG_REPLY:
		err = pg_feed(l, c, dir, s, d, caplen, len);
		break;
	case P_REDIS_REPLY:
		err = reply_feed(l, c, dir, s, d, caplen, len);
		break;
	}
	return err ? err : l->ret;
}
