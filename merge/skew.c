/* SPDX-License-Identifier: MIT */
/*
 * skew.c - host clock offsets from the causality of matched exchanges.
 * See skew.h.  W[u][v] is an upper bound on offset(v) - offset(u).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "skew.h"

#define INF	(INT64_MAX / 4)

static inline int64_t add(int64_t a, int64_t b)
{
	if (a >= INF || b >= INF)
		return INF;
	int64_t s = a + b;

	return s > INF ? INF : s < -INF ? -INF : s;
}

static inline int64_t mid(int64_t lo, int64_t hi)
{
	return lo + (hi - lo) / 2;
}

/* shortest paths over all pairs; true when there is no negative cycle */
static bool closure(int64_t *d, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		for (uint32_t i = 0; i < n; i++) {
			int64_t ik = d[i * n + k];

			if (ik >= INF)
				continue;
			for (uint32_t j = 0; j < n; j++) {
				int64_t s = add(ik, d[k * n + j]);

				if (s < d[i * n + j])
					d[i * n + j] = s;
			}
		}
	for (uint32_t i = 0; i < n; i++)
		if (d[i * n + i] < 0)
			return false;
	return true;
}

/* adds the edge A -> B of weight W to the closed matrix D */
static void add_edge(int64_t *d, uint32_t n, uint32_t a, uint32_t b, int64_t w)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t ia = add(d[i * n + a], w);

		if (ia >= INF)
			continue;
		for (uint32_t j = 0; j < n; j++) {
			int64_t s = add(ia, d[b * n + j]);

			if (s < d[i * n + j])
				d[i * n + j] = s;
		}
	}
}

/* offsets along a spanning tree from REF over the pairs, most exchanges
 * first; used when the constraints as a whole have no solution */
static void tree_fallback(uint32_t n, uint32_t ref, const int64_t *w, const uint64_t *cnt,
			  struct plw_skew_host *out)
{
	bool *in = calloc(n, sizeof(*in));

	if (!in)
		return;
	in[ref] = true;
	for (;;) {
		uint32_t bu = 0, bv = 0;
		uint64_t best = 0;

		for (uint32_t u = 0; u < n; u++) {
			if (!in[u])
				continue;
			for (uint32_t v = 0; v < n; v++)
				if (!in[v] && cnt[u * n + v] > best) {
					best = cnt[u * n + v];
					bu = u;
					bv = v;
				}
		}
		if (!best)
			break;
		int64_t hi = w[bu * n + bv], lo = -w[bv * n + bu];

		if (lo > hi) {
			int64_t t = lo;

			lo = hi;
			hi = t;
		}
		in[bv] = true;
		out[bv].bounded = true;
		out[bv].offset_ns = out[bu].offset_ns + mid(lo, hi);
		out[bv].lo_ns = add(out[bu].lo_ns, lo);
		out[bv].hi_ns = add(out[bu].hi_ns, hi);
	}
	free(in);
}

int plw_skew_solve(uint32_t n, uint32_t ref, const struct plw_skew_exchange *ex, size_t nr,
		   struct plw_skew_host *out)
{
	int ret = 0;

	if (!n || ref >= n || n > PLW_SKEW_HOSTS_MAX || (nr && !ex))
		return -EINVAL;
	for (size_t i = 0; i < nr; i++)
		if (ex[i].client >= n || ex[i].server >= n || ex[i].client == ex[i].server)
			return -EINVAL;

	int64_t *w = malloc((size_t)n * n * sizeof(*w));
	int64_t *d = malloc((size_t)n * n * sizeof(*d));
	uint64_t *cnt = calloc((size_t)n * n, sizeof(*cnt));

	if (!w || !d || !cnt) {
		free(w);
		free(d);
		free(cnt);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n * n; i++)
		w[i] = i % (n + 1) ? INF : 0;
	memset(out, 0, n * sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		out[i].lo_ns = PLW_SKEW_UNBOUNDED_LO;
		out[i].hi_ns = PLW_SKEW_UNBOUNDED_HI;
	}
	out[ref].lo_ns = out[ref].hi_ns = 0;
	out[ref].bounded = true;

	for (size_t i = 0; i < nr; i++) {
		uint32_t c = ex[i].client, s = ex[i].server;
		int64_t up = ex[i].s_recv - ex[i].c_send;	/* off(s) - off(c) <= */
		int64_t down = ex[i].c_recv - ex[i].s_send;	/* off(c) - off(s) <= */

		if (up < w[c * n + s])
			w[c * n + s] = up;
		if (down < w[s * n + c])
			w[s * n + c] = down;
		cnt[c * n + s]++;
		cnt[s * n + c]++;
		out[c].matched++;
		out[s].matched++;
	}
	/* a pair whose bounds cross: narrowed to the middle */
	for (uint32_t u = 0; u < n; u++)
		for (uint32_t v = u + 1; v < n; v++) {
			int64_t hi = w[u * n + v], lo = -w[v * n + u];

			if (!cnt[u * n + v] || lo <= hi)
				continue;
			int64_t m = mid(hi, lo);

			w[u * n + v] = m;
			w[v * n + u] = -m;
			out[u].inconsistent = out[v].inconsistent = true;
			ret = 1;
		}
	memcpy(d, w, (size_t)n * n * sizeof(*d));
	if (!closure(d, n)) {
		for (uint32_t i = 0; i < n; i++)
			if (out[i].matched)
				out[i].inconsistent = true;
		tree_fallback(n, ref, w, cnt, out);
		ret = 1;
		goto done;
	}
	for (uint32_t v = 0; v < n; v++) {
		if (v == ref || d[ref * n + v] >= INF || d[v * n + ref] >= INF)
			continue;
		out[v].bounded = true;
		out[v].hi_ns = d[ref * n + v];
		out[v].lo_ns = -d[v * n + ref];
	}
	/* a feasible point: host by host, the middle of what is left */
	for (uint32_t v = 0; v < n; v++) {
		if (v == ref || !out[v].bounded)
			continue;
		int64_t x = mid(-d[v * n + ref], d[ref * n + v]);

		out[v].offset_ns = x;
		add_edge(d, n, ref, v, x);
		add_edge(d, n, v, ref, -x);
	}
	/* hosts exchanging among themselves but not with the reference: the
	 * first of each such group keeps its clock (offset 0), the others are
	 * placed relative to it; their intervals stay open */
	for (uint32_t u = 0; u < n; u++) {
		if (out[u].bounded || !out[u].matched || cnt[u * n + u])
			continue;
		for (uint32_t v = u + 1; v < n; v++) {
			if (out[v].bounded || d[u * n + v] >= INF || d[v * n + u] >= INF ||
			    cnt[v * n + v])
				continue;
			int64_t x = mid(-d[v * n + u], d[u * n + v]);

			out[v].offset_ns = x;
			cnt[v * n + v] = 1;	/* placed (the diagonal is free) */
			add_edge(d, n, u, v, x);
			add_edge(d, n, v, u, -x);
		}
	}
done:
	free(w);
	free(d);
	free(cnt);
	return ret;
}
