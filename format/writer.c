// SPDX-License-Identifier: MIT
/*
 * writer.c - write a pylow file (FORMAT.md): header and attrs at open,
 * records into a chunk buffer, each chunk compressed into one independent
 * zstd frame inside a PERF_RECORD_COMPRESSED, features at finish.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "internal.h"

#define SAMPLE_HDR	44	/* header, id, pid/tid, time, cpu/res, raw size */
#define TRAILER		32	/* sample_id_all: pid/tid, time, cpu/res, id */
/* code locations kept for the private section's index (about 100 bytes
 * each); past it the index is partial, the in-stream PY_LOC records still
 * name every location (README, "Reliability") */
#define PLW_WRITER_LOCS_MAX	(1u << 19)
#define STR_MAX		4095	/* longest string stored in a variable event */

struct wloc {
	uint32_t id, line, pid;
	char *func, *file;
};

struct plw_writer {
	int fd;
	char *path, *partial;
	int level;
	size_t chunk_bytes;
	bool keep_old, finished;
	ZSTD_CCtx *cctx;
	unsigned char *chunk;		/* chunk_bytes */
	size_t chunk_len, sent;
	unsigned char *zbuf;
	size_t zcap;
	uint64_t data_offset, off;	/* data start; end of data written */
	uint64_t raw_total, comp_total, events;
	uint64_t events_by_type[PLW_EV_MAX];
	uint64_t first_ts, last_ts, lost_total;
	struct wloc *locs;
	size_t nr_locs, cap_locs;
	struct plw_tp_attr *tps;	/* opts.tps, copied: attrs PLW_NR_ATTRS.. */
	size_t nr_tps;
	char err[512];
};

static int werr(struct plw_writer *w, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	n = strlen(w->err);
	if (err && n < sizeof(w->err) - 2)
		snprintf(w->err + n, sizeof(w->err) - n, ": %s", strerror(-err));
	return err;
}

const char *plw_writer_error(const struct plw_writer *w)
{
	return w && w->err[0] ? w->err : "no error";
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		p = (const char *)p + r;
		n -= r;
		off += r;
	}
	return 0;
}

static void fill_attr(struct perf_event_attr *a, unsigned ev)
{
	memset(a, 0, sizeof(*a));
	a->type = PERF_TYPE_TRACEPOINT;
	a->size = PLW_ATTR_SIZE;
	a->config = PLW_TP_ID_BASE + ev;
	a->sample_period = 1;
	a->sample_type = PLW_SAMPLE_TYPE;
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
}

/* attr I of W: pylow's events, then the kernel tracepoints */
static void attr_of(const struct plw_writer *w, unsigned i, struct perf_event_attr *a)
{
	fill_attr(a, i + 1);
	if (i >= PLW_NR_ATTRS)
		a->config = w->tps[i - PLW_NR_ATTRS].id;
}

static void header_init(struct plw_file_header *h, unsigned nr_attrs)
{
	memset(h, 0, sizeof(*h));
	h->magic = PLW_PERF_MAGIC;
	h->size = sizeof(*h);
	h->attr_size = PLW_ATTR_ENTRY;
	h->attrs.offset = sizeof(*h) + 8 * nr_attrs;
	h->attrs.size = (uint64_t)PLW_ATTR_ENTRY * nr_attrs;
	h->data.offset = h->attrs.offset + h->attrs.size;
}

/* header + ids + attrs */
static int write_head(struct plw_writer *w)
{
	unsigned nr = PLW_NR_ATTRS + w->nr_tps;
	unsigned char buf[sizeof(struct plw_file_header) + (8 + PLW_ATTR_ENTRY) *
			  (PLW_NR_ATTRS + PLW_TPS_MAX)];
	struct plw_file_header h;
	size_t pos;

	_Static_assert(sizeof(struct perf_event_attr) >= PLW_ATTR_SIZE, "attr size");
	header_init(&h, nr);
	memcpy(buf, &h, sizeof(h));
	pos = sizeof(h);
	for (unsigned i = 0; i < nr; i++) {
		uint64_t id = PLW_ATTR_ID0 + i;

		memcpy(buf + pos, &id, 8);
		pos += 8;
	}
	for (unsigned i = 0; i < nr; i++) {
		struct perf_event_attr a;
		struct plw_file_section ids = { sizeof(h) + 8 * i, 8 };

		attr_of(w, i, &a);
		memcpy(buf + pos, &a, PLW_ATTR_SIZE);
		memcpy(buf + pos + PLW_ATTR_SIZE, &ids, sizeof(ids));
		pos += PLW_ATTR_ENTRY;
	}
	w->data_offset = w->off = h.data.offset;
	return pwrite_all(w->fd, buf, pos, 0);
}

static int copy_tps(struct plw_writer *w, const struct plw_tp_attr *tps, size_t nr)
{
	if (!nr)
		return 0;
	if (nr > PLW_TPS_MAX)
		return werr(w, -E2BIG, "%zu tracepoints (at most %d)", nr, PLW_TPS_MAX);
	w->tps = calloc(nr, sizeof(*w->tps));
	if (!w->tps)
		return -ENOMEM;
	w->nr_tps = nr;
	for (size_t i = 0; i < nr; i++) {
		if (!tps[i].system || !tps[i].name || !tps[i].format || !strcmp(tps[i].system, "pylow"))
			return werr(w, -EINVAL, "tracepoint %zu: system, name and format are needed",
				    i);
		w->tps[i].id = tps[i].id;
		w->tps[i].system = strdup(tps[i].system);
		w->tps[i].name = strdup(tps[i].name);
		w->tps[i].format = strdup(tps[i].format);
		if (!w->tps[i].system || !w->tps[i].name || !w->tps[i].format)
			return -ENOMEM;
	}
	return 0;
}

/* Creates PATH.partial; a stale one (regular file, not locked by a live
 * writer) is replaced. */
static int create_partial(struct plw_writer *w)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = open(w->partial, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		struct stat st;

		if (fd >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
				int err = -errno;

				close(fd);
				return werr(w, err, "cannot lock %s", w->partial);
			}
			w->fd = fd;
			return 0;
		}
		if (errno != EEXIST || tries)
			return werr(w, -errno, "cannot create %s", w->partial);
		fd = open(w->partial, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return werr(w, -errno, "%s exists and cannot be checked (remove it by hand)",
				    w->partial);
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return werr(w, -EEXIST, "%s exists and is not a regular file (remove it by hand)",
				    w->partial);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return werr(w, -EBUSY, "%s is being written by another pylow record",
				    w->partial);
		}
		if (unlink(w->partial) < 0) {
			int err = -errno;

			close(fd);
			return werr(w, err, "cannot remove stale %s", w->partial);
		}
		close(fd);
	}
	return -EEXIST;
}

int plw_writer_open(struct plw_writer **wp, const char *path,
		    const struct plw_writer_opts *opts)
{
	struct plw_writer *w;
	int err;

	*wp = NULL;
	if (!path || !*path)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->level = opts && opts->zstd_level ? opts->zstd_level : 3;
	w->chunk_bytes = opts && opts->chunk_bytes ? opts->chunk_bytes : PLW_CHUNK_DEFAULT;
	if (w->chunk_bytes < 4096)
		w->chunk_bytes = 4096;
	if (w->chunk_bytes > PLW_CHUNK_MAX)
		w->chunk_bytes = PLW_CHUNK_MAX;
	w->keep_old = opts ? opts->keep_old : true;
	w->path = strdup(path);
	if (!w->path || asprintf(&w->partial, "%s.partial", path) < 0) {
		w->partial = NULL;
		err = -ENOMEM;
		goto fail;
	}
	w->chunk = malloc(w->chunk_bytes);
	w->zcap = ZSTD_compressBound(w->chunk_bytes);
	w->zbuf = malloc(w->zcap + 8);
	w->cctx = ZSTD_createCCtx();
	if (!w->chunk || !w->zbuf || !w->cctx) {
		err = -ENOMEM;
		goto fail;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
		err = -EINVAL;
		goto fail;
	}
	if (opts && (err = copy_tps(w, opts->tps, opts->nr_tps)))
		goto fail;
	if ((err = create_partial(w)))
		goto fail;
	if ((err = write_head(w))) {
		werr(w, err, "cannot write header to %s", w->partial);
		unlink(w->partial);
		goto fail;
	}
	*wp = w;
	return 0;
fail:
	/* keep an error-only writer so that plw_writer_error() can say why */
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->finished = true;
	if (!w->err[0])
		werr(w, err, "cannot open %s", path);
	*wp = w;
	return err;
}

/* ------------------------------------------------------------- chunks */

/* Compresses records [start, end) of the chunk into COMPRESSED records of at
 * most 65535 bytes, splitting at a record boundary when needed. Returns the
 * number of bytes of the chunk written (a prefix), or -errno. */
static int write_range(struct plw_writer *w, size_t start, size_t end)
{
	size_t z;
	int err;

	z = ZSTD_compress2(w->cctx, w->zbuf + 8, w->zcap, w->chunk + start, end - start);
	if (ZSTD_isError(z))
		return werr(w, -EIO, "zstd compression failed: %s", ZSTD_getErrorName(z));
	if (z + 8 > PLW_MAX_RECORD) {
		/* split at the record boundary closest to the middle */
		size_t mid = start, pos = start, half = start + (end - start) / 2;

		while (pos < end) {
			uint16_t sz;

			memcpy(&sz, w->chunk + pos + 6, 2);
			if (pos > start && pos >= half)
				break;
			pos += sz;
			mid = pos;
		}
		if (mid <= start || mid >= end)
			return werr(w, -EOVERFLOW, "a record does not compress below 64 KiB");
		if ((err = write_range(w, start, mid)))
			return err;
		return write_range(w, mid, end);
	}
	struct perf_event_header h = {
		.type = PLW_PERF_RECORD_COMPRESSED, .misc = 0, .size = z + 8,
	};
	memcpy(w->zbuf, &h, 8);
	if ((err = pwrite_all(w->fd, w->zbuf, z + 8, w->off))) {
		/* keep the file valid up to the last whole record */
		if (ftruncate(w->fd, w->off) < 0) {
			/* nothing more to do; the reader stops at the bad tail */
		}
		return werr(w, err, "cannot write %s", w->partial);
	}
	w->off += z + 8;
	w->comp_total += z + 8;
	w->raw_total += end - start;
	w->sent = end;
	return 0;
}

int plw_writer_flush(struct plw_writer *w)
{
	size_t len = w->chunk_len;
	int err;

	if (!len)
		return 0;
	if (w->finished)
		return -EINVAL;
	w->sent = 0;
	err = write_range(w, 0, len);
	if (err) {
		/* keep what did not reach the disk; a retry may succeed */
		memmove(w->chunk, w->chunk + w->sent, len - w->sent);
		w->chunk_len = len - w->sent;
		return err;
	}
	w->chunk_len = 0;
	return 0;
}

static inline int reserve(struct plw_writer *w, size_t n, unsigned char **p)
{
	if (w->finished)
		return werr(w, -EINVAL, "writer already finished");
	if (w->chunk_len + n > w->chunk_bytes) {
		int err = plw_writer_flush(w);

		if (err)
			return err;
	}
	*p = w->chunk + w->chunk_len;
	return 0;
}

static inline void put_hdr(unsigned char *p, uint32_t type, uint16_t misc, uint16_t size)
{
	struct perf_event_header h = { .type = type, .misc = misc, .size = size };

	memcpy(p, &h, 8);
}

static inline void note_ts(struct plw_writer *w, uint64_t ts)
{
	if (!w->first_ts || ts < w->first_ts)
		w->first_ts = ts;
	if (ts > w->last_ts)
		w->last_ts = ts;
}

/* a PERF_RECORD_SAMPLE's header and fixed fields (IDENTIFIER, TID, TIME,
 * CPU) and its RAW size, in P of SIZE bytes; the RAW data follows at p + 44 */
static void put_sample_head(unsigned char *p, size_t size, uint64_t id, uint32_t pid,
			    uint32_t tid, uint64_t ts, uint32_t cpu, uint32_t raw)
{
	uint32_t v[2] = { pid, tid };

	put_hdr(p, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER, size);
	memcpy(p + 8, &id, 8);
	memcpy(p + 16, v, 8);
	memcpy(p + 24, &ts, 8);
	v[0] = cpu;
	v[1] = 0;
	memcpy(p + 32, v, 8);
	memcpy(p + 40, &raw, 4);
}

static int put_sample(struct plw_writer *w, unsigned ev, uint32_t pid,
		      uint32_t tid, uint64_t ts, uint32_t cpu,
		      const void *payload, uint32_t len)
{
	uint32_t raw = ((4 + 8 + len + 7) & ~7u) - 4;
	size_t size = SAMPLE_HDR + raw;
	unsigned char *p = NULL;
	uint64_t id = PLW_ATTR_ID0 + ev - 1;
	struct plw_common c = {
		.common_type = PLW_TP_ID_BASE + ev, .common_pid = tid,
	};
	int err;

	if (size > PLW_MAX_RECORD)
		return werr(w, -E2BIG, "event of %u bytes is too big", len);
	if ((err = reserve(w, size, &p)))
		return err;
	put_sample_head(p, size, id, pid, tid, ts, cpu, raw);
	memcpy(p + 44, &c, 8);
	memcpy(p + 52, payload, len);
	memset(p + 52 + len, 0, raw - 8 - len);
	w->chunk_len += size;
	w->events++;
	w->events_by_type[ev]++;
	note_ts(w, ts);
	return 0;
}

int plw_writer_event(struct plw_writer *w, enum plw_ev type, uint32_t pid,
		     uint32_t tid, uint64_t ts, uint32_t cpu,
		     const void *payload, uint32_t len)
{
	static const uint32_t fixed[PLW_EV_MAX] = {
		[PLW_EV_PY_ENTRY] = sizeof(struct plw_py_call),
		[PLW_EV_PY_RETURN] = sizeof(struct plw_py_call),
		[PLW_EV_PY_LOC] = sizeof(struct plw_py_loc),
		[PLW_EV_PY_GC_START] = sizeof(struct plw_py_gc_start),
		[PLW_EV_PY_GC_DONE] = sizeof(struct plw_py_gc_done),
		[PLW_EV_PY_IMPORT_START] = sizeof(struct plw_py_import),
		[PLW_EV_PY_IMPORT_DONE] = sizeof(struct plw_py_import),
		[PLW_EV_META] = sizeof(struct plw_meta_ev),
		[PLW_EV_SYSCALL] = sizeof(struct plw_syscall),
		[PLW_EV_OFFCPU] = sizeof(struct plw_offcpu),
		[PLW_EV_FAULT] = sizeof(struct plw_fault),
		[PLW_EV_IO] = sizeof(struct plw_io),
		[PLW_EV_MEM] = sizeof(struct plw_mem),
		[PLW_EV_GIL] = sizeof(struct plw_gil),
		[PLW_EV_EXCEPTION] = sizeof(struct plw_exception),
		[PLW_EV_IRQ] = sizeof(struct plw_irq),
		[PLW_EV_TLB] = sizeof(struct plw_tlb),
		[PLW_EV_PROBE] = sizeof(struct plw_probe_hit),
		[PLW_EV_STACK] = sizeof(struct plw_stack),
		[PLW_EV_STACK_DEF] = sizeof(struct plw_stack_def),
		[PLW_EV_NET_CONN] = sizeof(struct plw_net_conn),
		[PLW_EV_NET_LABEL] = sizeof(struct plw_net_label),
		[PLW_EV_PY_BATCH] = sizeof(struct plw_py_batch),
	};

	if ((unsigned)type == 0 || (unsigned)type >= PLW_EV_MAX)
		return werr(w, -EINVAL, "unknown event type %u", (unsigned)type);
	if (len < fixed[type] || (!payload && len))
		return werr(w, -EINVAL, "event type %u: payload of %u bytes, need %u",
			    (unsigned)type, len, fixed[type]);
	if (type == PLW_EV_PY_LOC) {
		struct plw_py_loc l;

		memcpy(&l, payload, sizeof(l));
		if (l.loc < (1u << 24) && l.loc) {
			/* remember it for the private section (strings checked) */
			const char *base = (const char *)payload - 8;
			uint32_t fo = PLW_DATA_LOC_OFF(l.func), fl = PLW_DATA_LOC_LEN(l.func);
			uint32_t io = PLW_DATA_LOC_OFF(l.file), il = PLW_DATA_LOC_LEN(l.file);

			if (fl && il && fo >= 8 && io >= 8 && fo + fl <= 8 + len &&
			    io + il <= 8 + len && w->nr_locs < PLW_WRITER_LOCS_MAX) {
				if (w->nr_locs == w->cap_locs) {
					size_t cap = w->cap_locs ? w->cap_locs * 2 : 256;
					struct wloc *a = realloc(w->locs, cap * sizeof(*a));

					if (!a)
						return werr(w, -ENOMEM, "loc table");
					w->locs = a;
					w->cap_locs = cap;
				}
				struct wloc *x = &w->locs[w->nr_locs];

				x->id = l.loc;
				x->line = l.line;
				x->pid = pid;
				x->func = strndup(base + fo, fl - 1);
				x->file = strndup(base + io, il - 1);
				if (!x->func || !x->file) {
					free(x->func);
					free(x->file);
					return werr(w, -ENOMEM, "loc table");
				}
				w->nr_locs++;
			}
		}
	}
	return put_sample(w, type, pid, tid, ts, cpu, payload, len);
}

int plw_writer_py_batch(struct plw_writer *w, uint32_t pid, uint32_t tid,
			uint32_t cpu, const struct plw_py_ev *ev, size_t n,
			size_t *taken)
{
	/* the payload: header, ops column, then the time deltas (built in a
	 * scratch buffer and moved behind the ops) */
	enum { HEAD = SAMPLE_HDR + 8 + sizeof(struct plw_py_batch) };
	unsigned char pay[PLW_MAX_RECORD], tsb[PLW_MAX_RECORD];
	unsigned char *ops = pay + sizeof(struct plw_py_batch);
	struct plw_py_batch b = { 0 };
	size_t i, budget, nent = 0;
	uint64_t prev;
	int err;

	*taken = 0;
	if (!n)
		return 0;
	if (!ev)
		return werr(w, -EINVAL, "py batch without events");
	if (w->finished)
		return werr(w, -EINVAL, "writer already finished");
	/* fill what the chunk has left, unless that is little */
	if (w->chunk_len && w->chunk_bytes - w->chunk_len < HEAD + 8 + 2048 &&
	    (err = plw_writer_flush(w)))
		return err;
	budget = w->chunk_bytes - w->chunk_len;
	if (budget > PLW_MAX_RECORD)
		budget = PLW_MAX_RECORD;
	budget -= HEAD + 8;
	prev = ev[0].ts;
	for (i = 0; i < n; i++) {
		if (ev[i].ts < prev ||
		    b.ops_len + b.ts_len + 2 * PLW_VARINT_MAX > budget)
			break;
		b.ops_len += plw_varint_put(ops + b.ops_len,
					    PLW_BATCH_OP(ev[i].loc, ev[i].ret));
		b.ts_len += plw_varint_put(tsb + b.ts_len, ev[i].ts - prev);
		prev = ev[i].ts;
		nent += !ev[i].ret;
	}
	b.nr = i;
	memcpy(pay, &b, sizeof(b));
	memcpy(ops + b.ops_len, tsb, b.ts_len);
	err = put_sample(w, PLW_EV_PY_BATCH, pid, tid, ev[0].ts, cpu, pay,
			 sizeof(b) + b.ops_len + b.ts_len);
	if (err)
		return err;
	/* counted as its events, besides the one batch put_sample counted */
	w->events += b.nr - 1;
	w->events_by_type[PLW_EV_PY_ENTRY] += nent;
	w->events_by_type[PLW_EV_PY_RETURN] += b.nr - nent;
	note_ts(w, prev);
	*taken = b.nr;
	return 0;
}

int plw_writer_tp_sample(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const void *raw, uint32_t len)
{
	uint32_t rawsz = ((4 + len + 7) & ~7u) - 4;
	size_t size = SAMPLE_HDR + rawsz, i;
	unsigned char *p = NULL;
	uint16_t type;
	uint64_t id;
	int err;

	if (len < 8)
		return werr(w, -EINVAL, "tracepoint sample of %u bytes", len);
	memcpy(&type, raw, 2);
	for (i = 0; i < w->nr_tps && w->tps[i].id != type; i++)
		;
	if (i == w->nr_tps)
		return werr(w, -ENOENT, "tracepoint id %u has no attr", type);
	if (size > PLW_MAX_RECORD)
		return werr(w, -E2BIG, "tracepoint sample of %u bytes is too big", len);
	if ((err = reserve(w, size, &p)))
		return err;
	id = PLW_ATTR_ID0 + PLW_NR_ATTRS + i;
	put_sample_head(p, size, id, pid, tid, ts, cpu, rawsz);
	memcpy(p + 44, raw, len);
	memset(p + 44 + len, 0, rawsz - len);
	w->chunk_len += size;
	w->events++;
	note_ts(w, ts);
	return 0;
}

/* builds fixed + strings payload; data_loc fields at DL_OFF[i] */
static int put_strings_event(struct plw_writer *w, unsigned ev, uint32_t pid,
			     uint32_t tid, uint64_t ts, uint32_t cpu,
			     void *fixed, uint32_t fixed_len,
			     const size_t *dl_off, const char *const *strs, int n)
{
	unsigned char buf[PLW_MAX_RECORD];
	uint32_t len = fixed_len;

	for (int i = 0; i < n; i++) {
		const char *s = strs[i] ? strs[i] : "";
		size_t sl = strnlen(s, STR_MAX);
		plw_data_loc dl = PLW_DATA_LOC(8 + len, sl + 1);

		if (len + sl + 1 > sizeof(buf) - SAMPLE_HDR - 16)
			return werr(w, -E2BIG, "strings too long");
		memcpy((char *)fixed + dl_off[i], &dl, 4);
		memcpy(buf + len, s, sl);
		buf[len + sl] = 0;
		len += sl + 1;
	}
	memcpy(buf, fixed, fixed_len);
	return plw_writer_event(w, ev, pid, tid, ts, cpu, buf, len);
}

int plw_writer_loc(struct plw_writer *w, uint32_t pid, uint32_t tid,
		   uint64_t ts, uint32_t cpu, uint32_t loc, uint32_t line,
		   const char *func, const char *file)
{
	struct plw_py_loc l = { .loc = loc, .line = line };
	static const size_t offs[] = { offsetof(struct plw_py_loc, func),
				       offsetof(struct plw_py_loc, file) };
	const char *strs[] = { func, file };

	return put_strings_event(w, PLW_EV_PY_LOC, pid, tid, ts, cpu, &l,
				 sizeof(l), offs, strs, 2);
}

int plw_writer_meta(struct plw_writer *w, uint64_t ts, const char *key,
		    const char *value)
{
	struct plw_meta_ev m = { 0 };
	static const size_t offs[] = { offsetof(struct plw_meta_ev, key),
				       offsetof(struct plw_meta_ev, value) };
	const char *strs[] = { key, value };

	return put_strings_event(w, PLW_EV_META, 0, 0, ts, 0, &m, sizeof(m),
				 offs, strs, 2);
}

int plw_writer_import(struct plw_writer *w, uint32_t pid, uint32_t tid,
		      uint64_t ts, uint32_t cpu, bool done, const char *module,
		      int32_t found)
{
	struct plw_py_import im = { .found = done ? found : 0 };
	static const size_t offs[] = { offsetof(struct plw_py_import, module) };
	const char *strs[] = { module };

	return put_strings_event(w, done ? PLW_EV_PY_IMPORT_DONE : PLW_EV_PY_IMPORT_START,
				 pid, tid, ts, cpu, &im, sizeof(im), offs, strs, 1);
}

int plw_writer_exception(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const char *type)
{
	struct plw_exception x = { 0 };
	static const size_t offs[] = { offsetof(struct plw_exception, type) };
	const char *strs[] = { type };

	return put_strings_event(w, PLW_EV_EXCEPTION, pid, tid, ts, cpu, &x, sizeof(x),
				 offs, strs, 1);
}

int plw_writer_stack_def(struct plw_writer *w, uint32_t pid, uint64_t ts,
			 uint32_t id, uint32_t kind, uint32_t nr, const char *frames)
{
	struct plw_stack_def d = { .id = id, .kind = kind, .nr = nr };
	static const size_t offs[] = { offsetof(struct plw_stack_def, frames) };
	const char *strs[] = { frames };

	return put_strings_event(w, PLW_EV_STACK_DEF, pid, pid, ts, 0, &d, sizeof(d),
				 offs, strs, 1);
}

int plw_writer_net_label(struct plw_writer *w, uint32_t pid, uint32_t tid,
			 uint64_t ts, uint32_t cpu, const struct plw_net_label *l,
			 const char *method, const char *target, const char *host,
			 const char *traceparent)
{
	struct plw_net_label x = *l;
	static const size_t offs[] = { offsetof(struct plw_net_label, method),
				       offsetof(struct plw_net_label, target),
				       offsetof(struct plw_net_label, host),
				       offsetof(struct plw_net_label, traceparent) };
	const char *strs[] = { method, target, host, traceparent };

	return put_strings_event(w, PLW_EV_NET_LABEL, pid, tid, ts, cpu, &x, sizeof(x),
				 offs, strs, 4);
}

int plw_writer_meta_all(struct plw_writer *w, uint64_t ts,
			const struct plw_meta *m)
{
	char num[32];
	int err = 0;

	if (m->hostname && (err = plw_writer_meta(w, ts, "hostname", m->hostname)))
		return err;
	if (m->osrelease && (err = plw_writer_meta(w, ts, "osrelease", m->osrelease)))
		return err;
	if (m->arch && (err = plw_writer_meta(w, ts, "arch", m->arch)))
		return err;
	if (m->cmdline && (err = plw_writer_meta(w, ts, "cmdline", m->cmdline)))
		return err;
	if (m->machine_id && (err = plw_writer_meta(w, ts, "machine_id", m->machine_id)))
		return err;
	if (m->boot_id && (err = plw_writer_meta(w, ts, "boot_id", m->boot_id)))
		return err;
#define NUM(field) \
	if (m->field) { \
		snprintf(num, sizeof(num), "%llu", (unsigned long long)m->field); \
		if ((err = plw_writer_meta(w, ts, #field, num))) \
			return err; \
	}
	NUM(nr_cpus_online)
	NUM(nr_cpus_avail)
	NUM(tod_ns)
	NUM(mono_ns)
#undef NUM
	return 0;
}

static void put_trailer(unsigned char *p, uint32_t pid, uint32_t tid,
			uint64_t ts, uint32_t cpu)
{
	uint32_t v[2] = { pid, tid };
	uint64_t id = PLW_ATTR_ID0;

	memcpy(p, v, 8);
	memcpy(p + 8, &ts, 8);
	v[0] = cpu;
	v[1] = 0;
	memcpy(p + 16, v, 8);
	memcpy(p + 24, &id, 8);
}

int plw_writer_comm(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint64_t ts, const char *comm, bool exec)
{
	size_t cl = strnlen(comm ? comm : "", PLW_COMM_MAX - 1);
	size_t cpad = (cl + 1 + 7) & ~(size_t)7;
	size_t size = 8 + 8 + cpad + TRAILER;
	uint32_t v[2] = { pid, tid };
	unsigned char *p = NULL;
	int err;

	if ((err = reserve(w, size, &p)))
		return err;
	put_hdr(p, PERF_RECORD_COMM, exec ? PERF_RECORD_MISC_COMM_EXEC : 0, size);
	memcpy(p + 8, v, 8);
	memset(p + 16, 0, cpad);
	if (cl)
		memcpy(p + 16, comm, cl);
	put_trailer(p + 16 + cpad, pid, tid, ts, 0);
	w->chunk_len += size;
	note_ts(w, ts);
	return 0;
}

static int put_task(struct plw_writer *w, uint32_t type, uint32_t pid,
		    uint32_t tid, uint32_t ppid, uint32_t ptid, uint64_t ts)
{
	size_t size = 8 + 16 + 8 + TRAILER;
	uint32_t v[4] = { pid, ppid, tid, ptid };
	unsigned char *p = NULL;
	int err;

	if ((err = reserve(w, size, &p)))
		return err;
	put_hdr(p, type, 0, size);
	memcpy(p + 8, v, 16);
	memcpy(p + 24, &ts, 8);
	put_trailer(p + 32, pid, tid, ts, 0);
	w->chunk_len += size;
	note_ts(w, ts);
	return 0;
}

int plw_writer_fork(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint32_t ppid, uint32_t ptid, uint64_t ts)
{
	return put_task(w, PERF_RECORD_FORK, pid, tid, ppid, ptid, ts);
}

int plw_writer_exit(struct plw_writer *w, uint32_t pid, uint32_t tid,
		    uint32_t ppid, uint32_t ptid, uint64_t ts)
{
	return put_task(w, PERF_RECORD_EXIT, pid, tid, ppid, ptid, ts);
}

int plw_writer_lost(struct plw_writer *w, uint32_t cpu, uint64_t ts,
		    uint64_t lost)
{
	size_t size = 8 + 8 + TRAILER;
	unsigned char *p = NULL;
	int err;

	if ((err = reserve(w, size, &p)))
		return err;
	put_hdr(p, PERF_RECORD_LOST_SAMPLES, 0, size);
	memcpy(p + 8, &lost, 8);
	put_trailer(p + 16, 0, 0, ts, cpu);
	w->chunk_len += size;
	w->lost_total += lost;
	note_ts(w, ts);
	return 0;
}

uint64_t plw_writer_bytes(const struct plw_writer *w)
{
	return w->off;
}

uint64_t plw_writer_events(const struct plw_writer *w)
{
	return w->events;
}

/* ------------------------------------------------------------- finish */

struct feat {
	unsigned bit;
	struct plw_buf b;
};

static int build_features(struct plw_writer *w, const struct plw_meta *m,
			  struct feat *f, int *nr)
{
	char ver[32];
	int n = 0, err = 0;
	struct plw_meta pm = *m;

#define FEAT(bit_) (f[n].bit = (bit_), &f[n++].b)
	if ((err = plw_tracing_data(FEAT(PLW_HDR_TRACING_DATA), w->tps, w->nr_tps)))
		goto out;
	if (m->hostname && (err = plw_buf_perf_str(FEAT(PLW_HDR_HOSTNAME), m->hostname)))
		goto out;
	if (m->osrelease && (err = plw_buf_perf_str(FEAT(PLW_HDR_OSRELEASE), m->osrelease)))
		goto out;
	snprintf(ver, sizeof(ver), "pylow %d", PLW_FORMAT_VERSION);
	if ((err = plw_buf_perf_str(FEAT(PLW_HDR_VERSION), ver)))
		goto out;
	if (m->arch && (err = plw_buf_perf_str(FEAT(PLW_HDR_ARCH), m->arch)))
		goto out;
	if (m->nr_cpus_online || m->nr_cpus_avail) {
		struct plw_buf *b = FEAT(PLW_HDR_NRCPUS);

		if ((err = plw_buf_u32(b, m->nr_cpus_avail ? m->nr_cpus_avail : m->nr_cpus_online)) ||
		    (err = plw_buf_u32(b, m->nr_cpus_online ? m->nr_cpus_online : m->nr_cpus_avail)))
			goto out;
	}
	if (m->cmdline) {
		struct plw_buf *b = FEAT(PLW_HDR_CMDLINE);

		if ((err = plw_buf_u32(b, 1)) || (err = plw_buf_perf_str(b, m->cmdline)))
			goto out;
	}
	{
		struct plw_buf *b = FEAT(PLW_HDR_EVENT_DESC);

		if ((err = plw_buf_u32(b, PLW_NR_ATTRS + w->nr_tps)) ||
		    (err = plw_buf_u32(b, PLW_ATTR_SIZE)))
			goto out;
		for (unsigned i = 0; i < PLW_NR_ATTRS + w->nr_tps; i++) {
			struct perf_event_attr a;
			char name[256];

			attr_of(w, i, &a);
			if (i < PLW_NR_ATTRS)
				snprintf(name, sizeof(name), "pylow:%s", plw_ev_name(i + 1));
			else
				snprintf(name, sizeof(name), "%.100s:%.140s", w->tps[i - PLW_NR_ATTRS].system,
					 w->tps[i - PLW_NR_ATTRS].name);
			if ((err = plw_buf_add(b, &a, PLW_ATTR_SIZE)) || (err = plw_buf_u32(b, 1)) ||
			    (err = plw_buf_perf_str(b, name)) || (err = plw_buf_u64(b, PLW_ATTR_ID0 + i)))
				goto out;
		}
	}
	if ((err = plw_buf_u64(FEAT(PLW_HDR_CLOCKID), 1)))
		goto out;
	{
		struct plw_buf *b = FEAT(PLW_HDR_COMPRESSED);
		uint32_t ratio = w->comp_total ? w->raw_total / w->comp_total : 1;

		if ((err = plw_buf_u32(b, 0)) || (err = plw_buf_u32(b, 1)) ||
		    (err = plw_buf_u32(b, w->level)) || (err = plw_buf_u32(b, ratio ? ratio : 1)) ||
		    (err = plw_buf_u32(b, w->chunk_bytes)))
			goto out;
	}
	if (m->tod_ns || m->mono_ns) {
		struct plw_buf *b = FEAT(PLW_HDR_CLOCK_DATA);

		if ((err = plw_buf_u32(b, 1)) || (err = plw_buf_u32(b, CLOCK_MONOTONIC)) ||
		    (err = plw_buf_u64(b, m->tod_ns)) || (err = plw_buf_u64(b, m->mono_ns)))
			goto out;
	}
	/* private section: fill what the caller left empty from our own view */
	struct plw_loc *locs = NULL;
	bool counts_empty = true;

	for (int i = 0; i < PLW_EV_MAX; i++)
		if (m->events_by_type[i])
			counts_empty = false;
	if (counts_empty)
		memcpy(pm.events_by_type, w->events_by_type, sizeof(pm.events_by_type));
	if (!pm.start_ns && !pm.end_ns) {
		pm.start_ns = w->first_ts;
		pm.end_ns = w->last_ts;
	}
	if (!pm.lost_total)
		pm.lost_total = w->lost_total;
	if (!pm.nr_locs && w->nr_locs) {
		locs = calloc(w->nr_locs, sizeof(*locs));
		if (!locs) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < w->nr_locs; i++)
			locs[i] = (struct plw_loc){ w->locs[i].id, w->locs[i].line, w->locs[i].pid,
						    w->locs[i].func, w->locs[i].file };
		pm.locs = locs;
		pm.nr_locs = w->nr_locs;
	}
	err = plw_priv_write(FEAT(PLW_FEAT_PYLOW), &pm);
	free(locs);
#undef FEAT
out:
	*nr = n;
	return err;
}

static int fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return err;
}

int plw_writer_finish(struct plw_writer *w, const struct plw_meta *meta)
{
	static const struct plw_meta empty;
	struct feat f[16] = { 0 };
	struct plw_file_header h;
	uint64_t pos;
	int nr = 0, err;

	if (w->finished)
		return werr(w, -EINVAL, "writer already finished");
	if ((err = plw_writer_flush(w)))
		return err;
	if ((err = build_features(w, meta ? meta : &empty, f, &nr))) {
		werr(w, err, "cannot build the feature sections");
		goto out;
	}
	header_init(&h, PLW_NR_ATTRS + w->nr_tps);
	h.data.size = w->off - w->data_offset;
	pos = w->off + 16 * (uint64_t)nr;
	for (int i = 0; i < nr; i++) {
		struct plw_file_section s = { pos, f[i].b.len };

		if ((err = pwrite_all(w->fd, &s, sizeof(s), w->off + 16 * i)) ||
		    (err = pwrite_all(w->fd, f[i].b.p, f[i].b.len, pos))) {
			werr(w, err, "cannot write features to %s", w->partial);
			goto out;
		}
		pos += f[i].b.len;
		h.adds_features[f[i].bit / 64] |= 1ULL << (f[i].bit % 64);
	}
	if ((err = pwrite_all(w->fd, &h, sizeof(h), 0))) {
		werr(w, err, "cannot write the header of %s", w->partial);
		goto out;
	}
	if (fsync(w->fd) < 0) {
		err = werr(w, -errno, "cannot fsync %s", w->partial);
		goto out;
	}
	if (w->keep_old) {
		char *old;

		if (asprintf(&old, "%s.old", w->path) < 0) {
			err = -ENOMEM;
			goto out;
		}
		if (rename(w->path, old) < 0 && errno != ENOENT) {
			err = werr(w, -errno, "cannot rename %s to %s", w->path, old);
			free(old);
			goto out;
		}
		free(old);
	}
	if (rename(w->partial, w->path) < 0) {
		err = werr(w, -errno, "cannot rename %s to %s", w->partial, w->path);
		goto out;
	}
	w->finished = true;
	if ((err = fsync_dir(w->path)))
		werr(w, err, "cannot fsync the directory of %s", w->path);
out:
	if (err && !w->finished && ftruncate(w->fd, w->off) < 0) {
		/* the reader treats bytes after the last chunk as damage */
	}
	for (int i = 0; i < nr; i++)
		plw_buf_free(&f[i].b);
	return err;
}

void plw_writer_free(struct plw_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	for (size_t i = 0; i < w->nr_locs; i++) {
		free(w->locs[i].func);
		free(w->locs[i].file);
	}
	free(w->locs);
	for (size_t i = 0; i < w->nr_tps; i++) {
		free((char *)w->tps[i].system);
		free((char *)w->tps[i].name);
		free((char *)w->tps[i].format);
	}
	free(w->tps);
	ZSTD_freeCCtx(w->cctx);
	free(w->chunk);
	free(w->zbuf);
	free(w->path);
	free(w->partial);
	free(w);
}
