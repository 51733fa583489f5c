/* SPDX-License-Identifier: MIT */
/*
 * merge.c - k-way merge by timestamp over N readers.
 *
 * One pending event per input in a binary min-heap keyed by (ts, input);
 * the input whose event was handed out last is advanced lazily, at the next
 * call, so that the event's payload stays valid until then.  One input: a
 * pass-through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

struct merge_input {
	struct plw_reader *r;
	const char *path;
	int64_t offset;
	const struct plw_merge_clock *clk;
	size_t nr_clk;
	struct plw_event ev;		/* pending */
	bool done;
};

struct plw_merge {
	struct merge_input *in;
	size_t n;
	uint32_t *heap;			/* input indexes with a pending event */
	size_t heap_len;
	long advance;			/* input to advance before the next pop; -1: none */
	bool primed;
	char err[512];
};

static void set_err(struct plw_merge *m, const char *path, const char *what, int err)
{
	snprintf(m->err, sizeof(m->err), "%s: %s", path, what ? what : strerror(-err));
}

int plw_merge_open(struct plw_merge **mp, const char *const *paths, size_t n, unsigned flags)
{
	struct plw_merge *m = calloc(1, sizeof(*m));

	*mp = m;
	if (!m)
		return -ENOMEM;
	m->advance = -1;
	if (!n) {
		snprintf(m->err, sizeof(m->err), "no input files");
		return -EINVAL;
	}
	m->in = calloc(n, sizeof(*m->in));
	m->heap = calloc(n, sizeof(*m->heap));
	if (!m->in || !m->heap) {
		snprintf(m->err, sizeof(m->err), "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int err = plw_reader_open(&m->in[i].r, paths[i], flags);

		m->in[i].path = paths[i];
		m->n = i + 1;
		if (err) {
			const char *what = m->in[i].r ? plw_reader_error(m->in[i].r) : NULL;

			if (what && *what && !strstr(what, paths[i]))
				set_err(m, paths[i], what, err);
			else if (what && *what)
				snprintf(m->err, sizeof(m->err), "%s", what);
			else
				set_err(m, paths[i], NULL, err);
			return err < 0 ? err : -EINVAL;
		}
	}
	return 0;
}

size_t plw_merge_inputs(const struct plw_merge *m)
{
	return m->n;
}

struct plw_reader *plw_merge_reader(const struct plw_merge *m, size_t input)
{
	return input < m->n ? m->in[input].r : NULL;
}

void plw_merge_set_offset(struct plw_merge *m, size_t input, int64_t offset_ns)
{
	if (input < m->n)
		m->in[input].offset = offset_ns;
}

int64_t plw_merge_clock_map(const struct plw_merge_clock *p, size_t n, uint64_t ts)
{
	size_t lo = 0, hi = n;

	if (!n)
		return (int64_t)ts;
	if (ts <= p[0].mono_ns)
		return (int64_t)ts + p[0].off_ns;
	if (ts >= p[n - 1].mono_ns)
		return (int64_t)ts + p[n - 1].off_ns;
	/* the last reference at or before TS */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (p[mid].mono_ns <= ts)
			lo = mid;
		else
			hi = mid;
	}
	const struct plw_merge_clock *a = &p[lo], *b = &p[lo + 1];
	__int128 d = (__int128)(b->off_ns - a->off_ns) * (int64_t)(ts - a->mono_ns);

	return (int64_t)ts + a->off_ns + (int64_t)(d / (int64_t)(b->mono_ns - a->mono_ns));
}

void plw_merge_set_clock(struct plw_merge *m, size_t input, const struct plw_merge_clock *pts,
			 size_t n)
{
	if (input < m->n) {
		m->in[input].clk = n ? pts : NULL;
		m->in[input].nr_clk = n;
	}
}

static inline uint64_t map_ts(const struct merge_input *in, uint64_t ts)
{
	int64_t t = in->clk ? plw_merge_clock_map(in->clk, in->nr_clk, ts) : (int64_t)ts;

	return (uint64_t)(t + in->offset);
}

uint64_t plw_merge_map(const struct plw_merge *m, size_t input, uint64_t ts)
{
	return input < m->n ? map_ts(&m->in[input], ts) : ts;
}

static inline bool before(const struct plw_merge *m, uint32_t a, uint32_t b)
{
	uint64_t ta = m->in[a].ev.ts, tb = m->in[b].ev.ts;

	return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct plw_merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < m->heap_len && before(m, m->heap[l], m->heap[min]))
			min = l;
		if (r < m->heap_len && before(m, m->heap[r], m->heap[min]))
			min = r;
		if (min == i)
			return;
		uint32_t t = m->heap[i];

		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

static void sift_up(struct plw_merge *m, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;

		if (!before(m, m->heap[i], m->heap[p]))
			return;
		uint32_t t = m->heap[i];

		m->heap[i] = m->heap[p];
		m->heap[p] = t;
		i = p;
	}
}

static int read_err(struct plw_merge *m, uint32_t i, int ret);

struct plw_reader *plw_merge_single(const struct plw_merge *m)
{
	return m->n == 1 && !m->in[0].offset && !m->in[0].clk && !m->in[0].done ? m->in[0].r
										      : NULL;
}

int plw_merge_read_error(struct plw_merge *m, uint32_t input, int ret)
{
	return input < m->n ? read_err(m, input, ret) : ret;
}

static int read_err(struct plw_merge *m, uint32_t i, int ret)
{
	struct merge_input *in = &m->in[i];
	const char *what = plw_reader_error(in->r);

	if (what && *what && strstr(what, in->path))
		snprintf(m->err, sizeof(m->err), "%s", what);
	else
		set_err(m, in->path, what && *what ? what : NULL, ret);
	return ret;
}

/* Reads the next event of input I; 1, 0 (end) or -errno. */
static int fill(struct plw_merge *m, uint32_t i)
{
	struct merge_input *in = &m->in[i];
	int ret = plw_reader_next(in->r, &in->ev);

	if (ret < 0)
		return read_err(m, i, ret);
	if (ret == 0) {
		in->done = true;
		return 0;
	}
	if (in->offset || in->clk)
		in->ev.ts = map_ts(in, in->ev.ts);
	return 1;
}

int plw_merge_next(struct plw_merge *m, struct plw_merge_event *ev)
{
	int ret;

	if (m->n == 1) {
		/* fast path: no heap */
		struct merge_input *in = &m->in[0];

		if (in->done)
			return 0;
		ret = plw_reader_next(in->r, &ev->ev);
		if (ret <= 0) {
			if (ret < 0)
				return read_err(m, 0, ret);
			in->done = true;
			return 0;
		}
		if (in->offset || in->clk)
			ev->ev.ts = map_ts(in, ev->ev.ts);
		ev->input = 0;
		return 1;
	}
	if (!m->primed) {
		m->primed = true;
		for (uint32_t i = 0; i < m->n; i++) {
			ret = fill(m, i);
			if (ret < 0)
				return ret;
			if (ret) {
				m->heap[m->heap_len++] = i;
				sift_up(m, m->heap_len - 1);
			}
		}
	} else if (m->advance >= 0) {
		uint32_t i = (uint32_t)m->advance;

		m->advance = -1;
		ret = fill(m, i);
		if (ret < 0)
			return ret;
		if (ret) {
			/* input I is still at the top: sift its new event down */
			sift_down(m, 0);
		} else {
			m->heap[0] = m->heap[--m->heap_len];
			sift_down(m, 0);
		}
	}
	if (!m->heap_len)
		return 0;
	uint32_t i = m->heap[0];

	ev->ev = m->in[i].ev;
	ev->input = i;
	m->advance = i;
	return 1;
}

const struct plw_loc *plw_merge_loc(const struct plw_merge *m, uint32_t input, uint32_t id)
{
	return input < m->n ? plw_reader_loc(m->in[input].r, id) : NULL;
}

const char *plw_merge_error(const struct plw_merge *m)
{
	return m && m->err[0] ? m->err : "unknown error";
}

void plw_merge_free(struct plw_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		plw_reader_free(m->in[i].r);
	free(m->in);
	free(m->heap);
	free(m);
}
