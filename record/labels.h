/* SPDX-License-Identifier: MIT */
/*
 * labels.h - protocol labels from the heads of socket reads and writes.
 *
 * The recorder feeds, per connection and direction, the first bytes of each
 * read/write call (and how many bytes the call moved in all); the parser
 * keeps a little state per connection (the head being assembled, how much
 * body is left) and calls back with the few fields pylow keeps of each
 * message: HTTP/1.x request (method, path without query, Host, traceparent)
 * and response (status); Redis (RESP) command and first key; PostgreSQL
 * simple-query 'Q' and parse 'P' messages (first keyword, table).  Nothing
 * else of the payload leaves the parser.
 *
 * Memory is bounded: at most LBL_CONNS_MAX connections (the least recently
 * used is dropped), a head is assembled up to LBL_HEAD_MAX bytes (a longer
 * head is labelled from its first LBL_HEAD_MAX bytes), a PostgreSQL query
 * up to LBL_SQL_MAX bytes.  No I/O, no printing: unit-tested on its own.
 */
#ifndef PYLOW_LABELS_H
#define PYLOW_LABELS_H

#include <stddef.h>
#include <stdint.h>

#define LBL_CONNS_MAX		4096
#define LBL_HEAD_MAX		4096
#define LBL_SQL_MAX		1024

/* one label; strings NUL-terminated, "" when absent */
struct lbl_out {
	uint64_t conn;
	unsigned dir;			/* PLW_DIR_* */
	unsigned proto;			/* PLW_PROTO_* */
	unsigned status;		/* HTTP response status */
	unsigned flags;			/* PLW_LABEL_* */
	char method[32];
	char target[256];
	char host[256];
	char traceparent[64];
};

/* called for each label; a non-zero return stops the feed and is returned */
typedef int (*lbl_emit_fn)(const struct lbl_out *l, void *ctx);

struct lbl;

/* MAX_CONNS 0: LBL_CONNS_MAX */
int lbl_new(struct lbl **out, size_t max_conns);
void lbl_free(struct lbl *l);

/*
 * One read/write call on CONN (socket cookie; FLAGS PLW_LABEL_TLS makes the
 * plaintext a stream of its own) in direction DIR that moved LEN bytes, of
 * which DATA holds the first CAPLEN.  Returns 0, -ENOMEM, or EMIT's
 * non-zero return.
 */
int lbl_feed(struct lbl *l, uint64_t conn, unsigned dir, unsigned flags,
	     const void *data, size_t caplen, uint64_t len, lbl_emit_fn emit, void *ctx);

/* the socket closed: forget its state (both the plain and the TLS stream) */
void lbl_close(struct lbl *l, uint64_t conn);

/* 1 if the stream of CONN in DIR (FLAGS: its TLS bit) carries no protocol
 * the parser knows (given up after a few calls): its data can be dropped */
int lbl_ignored(const struct lbl *l, uint64_t conn, unsigned dir, unsigned flags);

/* connections with state, bytes of head buffers held (for tests) */
size_t lbl_nr_conns(const struct lbl *l);
size_t lbl_bytes_held(const struct lbl *l);

/* helpers, exposed for the tests */
/* 1 if S (LEN bytes) is a valid W3C traceparent version 00 */
int lbl_traceparent_ok(const char *s, size_t len);
/* first keyword (upper-cased) and table of SQL (LEN bytes) */
void lbl_sql(const char *sql, size_t len, char *kw, size_t kwlen, char *table, size_t tlen);

#endif /* PYLOW_LABELS_H */
