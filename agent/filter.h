/* SPDX-License-Identifier: MIT */
/*
 * filter.h - `pylow record -F FUNC / -f GLOB` in the in-process agent, with
 * exactly the semantics of bpf/pylow.bpf.c's loc_passes():
 *
 *   -F   the function name (cut to PLW_FUNC_MAX - 1 bytes) equals one FUNC
 *        (cut the same way); repeatable, any one matches.
 *   -f   GLOB ('*' any run of bytes, '/' included; '?' one byte; nothing
 *        else is special) matches the file name (cut to PLW_FILE_MAX - 1
 *        bytes) when GLOB has a '/', else the file name's last component;
 *        repeatable, any one matches; the single-backtrack matcher gives up
 *        (no match) after GLOB_STEPS steps like the BPF loop.
 *   both: both must match.
 *
 * The recorder passes them in the environment (record/record.c agent_env):
 * PYLOW_AGENT_FUNC_<i> and PYLOW_AGENT_FILE_<i>, i from 0, contiguous, at
 * most PLW_AGENT_MAX_FILTERS each.  The agent decides once per code object
 * (pylow_agent.c loc_define) and caches "filtered out" in co_extra.
 *
 * Pure C, no Python headers: unit-tested in tests/unit/test_agent_filter.c.
 */
#ifndef PYLOW_AGENT_FILTER_H
#define PYLOW_AGENT_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/events.h"

#define PLW_AGENT_MAX_FILTERS	16	/* MAX_FUNC_FILTERS, MAX_FILE_FILTERS in the BPF */
#define PLW_AGENT_GLOB_STEPS	(1 << 16)

struct plw_agent_filter {
	int nr_funcs, nr_globs;
	char funcs[PLW_AGENT_MAX_FILTERS][PLW_FUNC_MAX];
	char globs[PLW_AGENT_MAX_FILTERS][PLW_FILE_MAX];
	bool glob_path[PLW_AGENT_MAX_FILTERS];	/* the GLOB has a '/' */
};

static inline void plw_agent_filter_cut(char *dst, size_t max, const char *s, size_t n)
{
	if (n > max - 1)
		n = max - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static inline int plw_agent_filter_add_func(struct plw_agent_filter *f, const char *s)
{
	if (f->nr_funcs == PLW_AGENT_MAX_FILTERS)
		return -1;
	plw_agent_filter_cut(f->funcs[f->nr_funcs++], PLW_FUNC_MAX, s, strlen(s));
	return 0;
}

static inline int plw_agent_filter_add_glob(struct plw_agent_filter *f, const char *s)
{
	if (f->nr_globs == PLW_AGENT_MAX_FILTERS)
		return -1;
	/* the BPF decides path vs basename on the whole GLOB, then cuts it */
	f->glob_path[f->nr_globs] = strchr(s, '/') != NULL;
	plw_agent_filter_cut(f->globs[f->nr_globs++], PLW_FILE_MAX, s, strlen(s));
	return 0;
}

/* reads PYLOW_AGENT_FUNC_<i> / PYLOW_AGENT_FILE_<i> through GETENV */
static inline void plw_agent_filter_from_env(struct plw_agent_filter *f,
					     const char *(*get)(const char *))
{
	char name[32];
	const char *v;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < PLW_AGENT_MAX_FILTERS; i++) {
		snprintf(name, sizeof(name), "PYLOW_AGENT_FUNC_%d", i);
		if (!(v = get(name)))
			break;
		plw_agent_filter_add_func(f, v);
	}
	for (int i = 0; i < PLW_AGENT_MAX_FILTERS; i++) {
		snprintf(name, sizeof(name), "PYLOW_AGENT_FILE_%d", i);
		if (!(v = get(name)))
			break;
		plw_agent_filter_add_glob(f, v);
	}
}

static inline bool plw_agent_filter_active(const struct plw_agent_filter *f)
{
	return f->nr_funcs || f->nr_globs;
}

/* bpf/pylow.bpf.c glob_step(), as one loop */
static inline bool plw_agent_glob(const char *pat, const char *name)
{
	int32_t star_p = -1, star_n = 0;
	uint32_t p = 0, n = 0;

	for (uint32_t step = 0; step < PLW_AGENT_GLOB_STEPS; step++) {
		char pc, nc;

		if (p >= PLW_FILE_MAX || n >= PLW_FILE_MAX)
			return false;
		pc = pat[p];
		nc = name[n];
		if (!pc && !nc)
			return true;
		if (pc == '*') {
			star_p = (int32_t)p;
			star_n = (int32_t)n;
			p++;
			continue;
		}
		if (nc && (pc == '?' || pc == nc)) {
			p++;
			n++;
			continue;
		}
		if (star_p >= 0 && name[star_n]) {
			star_n++;
			p = (uint32_t)star_p + 1;
			n = (uint32_t)star_n;
			continue;
		}
		return false;
	}
	return false;
}

/* FUNC and FILE: FLEN / FILELEN bytes, not necessarily NUL-terminated */
static inline bool plw_agent_filter_passes(const struct plw_agent_filter *f,
					   const char *func, size_t funclen,
					   const char *file, size_t filelen)
{
	if (f->nr_funcs) {
		char fn[PLW_FUNC_MAX];
		bool ok = false;

		plw_agent_filter_cut(fn, sizeof(fn), func, funclen);
		for (int i = 0; i < f->nr_funcs && !ok; i++)
			ok = !strcmp(fn, f->funcs[i]);
		if (!ok)
			return false;
	}
	if (f->nr_globs) {
		char fl[PLW_FILE_MAX];
		const char *base;
		bool ok = false;

		plw_agent_filter_cut(fl, sizeof(fl), file, filelen);
		base = strrchr(fl, '/');
		base = base ? base + 1 : fl;
		for (int i = 0; i < f->nr_globs && !ok; i++)
			ok = plw_agent_glob(f->globs[i], f->glob_path[i] ? fl : base);
		if (!ok)
			return false;
	}
	return true;
}

#endif
