/* SPDX-License-Identifier: MIT */
/*
 * consume.c - a stand-alone consumer of agent rings, for tests and
 * measurements (what the recorder does, minus the file).
 *
 *   consume DIR         drain every DIR/ring.* until DIR/stop exists and
 *                       every ring's writer is gone, then print per process
 *                       and function: entries and returns, and a summary
 *
 * Output lines (one per process and function, then one per ring):
 *   call <pid> <func> <entries> <returns>
 *   ring <pid> ppid=<ppid> records=<n> locs=<n> dropped=<n> errors=<n> source=<s>
 * "errors" counts records that break the contract: an event whose loc was
 * not defined earlier in the same ring, a pid other than the ring's, a bad
 * size or type, a timestamp going back within a thread.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/ring.h"

struct loc {
	uint32_t id;
	char *func;
	uint64_t entries, returns;
};

struct tid_ts {
	uint32_t tid;
	uint64_t ts;
};

struct ring {
	char *name;
	struct plw_agent_reader *rd;
	int gone;
	uint64_t records, errors;
	struct loc *locs;		/* open addressing on id */
	size_t cap, n;
	struct tid_ts *tids;
	size_t ntids;
};

static struct ring *rings;
static size_t nrings;

static struct loc *loc_slot(struct ring *r, uint32_t id)
{
	size_t i;

	if (!r->cap)
		return NULL;
	for (i = (id * 2654435761u) & (r->cap - 1);; i = (i + 1) & (r->cap - 1))
		if (r->locs[i].id == id || !r->locs[i].id)
			return &r->locs[i];
}

static int loc_add(struct ring *r, uint32_t id, const char *func)
{
	struct loc *l;

	if ((r->n + 1) * 2 > r->cap) {
		struct loc *old = r->locs;
		size_t oc = r->cap, i;

		r->cap = oc ? oc * 2 : 1024;
		r->locs = calloc(r->cap, sizeof(*r->locs));
		if (!r->locs)
			return -ENOMEM;
		for (i = 0; i < oc; i++)
			if (old[i].id)
				*loc_slot(r, old[i].id) = old[i];
		free(old);
	}
	l = loc_slot(r, id);
	if (l->id)
		return -EEXIST;
	l->id = id;
	l->func = strdup(func);
	r->n++;
	return 0;
}

static const char *dl_str(const unsigned char *p, uint32_t len, plw_data_loc dl)
{
	uint32_t off = PLW_DATA_LOC_OFF(dl), n = PLW_DATA_LOC_LEN(dl);

	if (off < 8 || !n || off - 8 + n > len || p[off - 8 + n - 1])
		return NULL;
	return (const char *)p + off - 8;
}

static int on_rec(void *ctx, const struct plw_rb_hdr *h, const void *payload)
{
	struct ring *r = ctx;
	const struct plw_agent_ring_hdr *rh = plw_agent_reader_hdr(r->rd);
	struct loc *l;
	size_t i;

	r->records++;
	if (h->pid != rh->pid || !h->tid) {
		r->errors++;
		return 0;
	}
	for (i = 0; i < r->ntids && r->tids[i].tid != h->tid; i++)
		;
	if (i == r->ntids) {
		r->tids = realloc(r->tids, (r->ntids + 1) * sizeof(*r->tids));
		r->tids[r->ntids++] = (struct tid_ts){ h->tid, 0 };
	}
	if (h->ts < r->tids[i].ts)
		r->errors++;
	r->tids[i].ts = h->ts;

	switch (h->type) {
	case PLW_EV_PY_LOC: {
		struct plw_py_loc pl;
		const char *func, *file;

		if (h->size < sizeof(pl)) {
			r->errors++;
			break;
		}
		memcpy(&pl, payload, sizeof(pl));
		func = dl_str(payload, h->size, pl.func);
		file = dl_str(payload, h->size, pl.file);
		if (!func || !file || !(pl.loc & PLW_AGENT_LOC_BIT) ||
		    loc_add(r, pl.loc, func))
			r->errors++;
		break;
	}
	case PLW_EV_PY_ENTRY:
	case PLW_EV_PY_RETURN: {
		struct plw_py_call c;

		if (h->size != sizeof(c)) {
			r->errors++;
			break;
		}
		memcpy(&c, payload, sizeof(c));
		l = loc_slot(r, c.loc);
		if (!l || !l->id) {
			r->errors++;
			break;
		}
		if (h->type == PLW_EV_PY_ENTRY)
			l->entries++;
		else
			l->returns++;
		break;
	}
	default:
		r->errors++;
	}
	return 0;
}

static int scan(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	size_t i;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct plw_agent_reader *rd;

		if (strncmp(e->d_name, "ring.", 5))
			continue;
		for (i = 0; i < nrings && strcmp(rings[i].name, e->d_name); i++)
			;
		if (i < nrings)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (plw_agent_reader_open(&rd, path))
			continue;	/* retried at the next scan */
		rings = realloc(rings, (nrings + 1) * sizeof(*rings));
		memset(&rings[nrings], 0, sizeof(*rings));
		rings[nrings].name = strdup(e->d_name);
		rings[nrings].rd = rd;
		nrings++;
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir;
	char stop[4096];
	size_t i, j;
	int quiet_calls = 0;

	if (argc > 1 && !strcmp(argv[1], "-q")) {
		quiet_calls = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: consume [-q] DIR  (stops once DIR/stop exists and all writers are gone)\n");
		return 2;
	}
	dir = argv[1];
	snprintf(stop, sizeof(stop), "%s/stop", dir);
	for (;;) {
		int stopping = access(stop, F_OK) == 0;
		long got = 0, n;
		int alive = 0;

		if (scan(dir)) {
			fprintf(stderr, "consume: cannot read %s: %s\n", dir, strerror(errno));
			return 1;
		}
		for (i = 0; i < nrings; i++) {
			struct ring *r = &rings[i];

			if (r->gone)
				continue;
			/* writer state first: a record committed before the
			 * writer went away is drained below */
			if (stopping && plw_agent_reader_writer_gone(r->rd) == 1)
				r->gone = 1;
			n = plw_agent_reader_drain(r->rd, on_rec, r);
			if (n < 0) {
				fprintf(stderr, "consume: %s: %s\n", r->name, strerror((int)-n));
				r->errors++;
				r->gone = 1;
				continue;
			}
			got += n;
			if (!r->gone)
				alive = 1;
		}
		if (stopping && !alive) {
			/* a ring created at the last moment */
			size_t before = nrings;

			scan(dir);
			if (nrings == before)
				break;
			continue;
		}
		if (!got) {
			struct timespec ts = { 0, 1000000 };	/* 1 ms */

			nanosleep(&ts, NULL);
		}
	}
	for (i = 0; i < nrings; i++) {
		struct ring *r = &rings[i];
		const struct plw_agent_ring_hdr *h = plw_agent_reader_hdr(r->rd);

		for (j = 0; !quiet_calls && j < r->cap; j++)
			if (r->locs[j].id)
				printf("call %u %s %llu %llu\n", h->pid, r->locs[j].func,
				       (unsigned long long)r->locs[j].entries,
				       (unsigned long long)r->locs[j].returns);
		printf("ring %u ppid=%u records=%llu locs=%llu dropped=%llu errors=%llu source=%s closed=%u\n",
		       h->pid, h->ppid, (unsigned long long)r->records,
		       (unsigned long long)plw_agent_reader_locs(r->rd),
		       (unsigned long long)plw_agent_reader_dropped(r->rd),
		       (unsigned long long)r->errors,
		       h->source == PLW_AGENT_SRC_MONITORING ? "monitoring" :
		       h->source == PLW_AGENT_SRC_EVALFRAME ? "eval_frame" : "profile",
		       h->closed);
	}
	return 0;
}
