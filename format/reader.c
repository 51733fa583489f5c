// SPDX-License-Identifier: MIT
/*
 * reader.c - read pylow files and perf's own perf.data files (FORMAT.md).
 *
 * Every size, offset and count taken from the file is checked before use.
 * pylow's events are decoded by fixed offsets (no libtraceevent); other
 * samples come back as PLW_REC_OTHER.  perf -z files (one zstd stream across
 * COMPRESSED records) use the same persistent ZSTD_DStream, carrying a
 * partial record over to the next COMPRESSED record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "internal.h"

#define MAX_ATTRS	64
#define MAX_IDS		4096		/* per attr */
#define MAX_DBUF	(64u << 20)	/* decompression buffer */
#define MAX_PRIV	(256u << 20)
#define MAX_LOC_DIRECT	(1u << 20)	/* ids below: array indexed by id */
#define MAX_LOC_HASHED	(1u << 22)	/* ids above: hash table, this many at most */
#define MAX_TASKS	(1u << 22)
#define PEEK_EVENTS	256		/* unfinished files: records scanned for META at open */

struct rattr {
	uint32_t type;
	uint64_t config, sample_type, read_format;
	bool sample_id_all;
};

struct idmap {
	uint64_t id;
	uint32_t attr;
};

/* the rest of one PY_BATCH: its next event (the head) and the columns after it */
struct prun {
	uint64_t ts, seq;		/* head's time; order of arrival (ties) */
	uint32_t pid, tid, cpu;
	uint32_t loc, ret;		/* head */
	uint32_t left;			/* events after the head */
	const unsigned char *op, *op_end, *tp, *tp_end;
	uint64_t off;			/* chunk of the batch, for damage reports */
	unsigned char *buf;
	size_t cap;
};

struct plw_reader {
	const unsigned char *base;
	size_t size;
	void *map;
	unsigned flags;
	struct plw_file_header h;
	bool is_pylow, finished, truncated, has_priv, have_features;
	uint32_t nr_pl;			/* pylow's own attrs (the first ones); then kernel tracepoints */
	const unsigned char *tdata;	/* HEADER_TRACING_DATA */
	size_t tdata_len;
	/* attrs */
	struct rattr attrs[MAX_ATTRS];
	uint32_t nr_attrs;
	struct idmap *ids;
	size_t nr_ids;
	uint64_t sample_type;		/* of attr 0: all attrs agree (perf requires it) */
	uint32_t trailer;		/* sample_id_all trailer size */
	/* data cursor */
	uint64_t pos, end;		/* file offsets of the outer records */
	uint64_t chunk_off;		/* file offset of the current COMPRESSED record */
	uint64_t dropped;		/* mapped pages below this offset were dropped */
	unsigned char *dbuf;
	size_t dcap, dpos, dlen, mmap_len;
	ZSTD_DStream *zd;
	bool in_frame;			/* zstd frame not finished (perf -z) */
	bool done, peeking;
	/* damage */
	char damage[400];
	char trunc_why[200];		/* finished file cut short: what is missing */
	uint64_t trunc_off;
	uint64_t damage_count, complete_until, max_ts;
	/* meta */
	struct plw_meta_store st;
	struct plw_loc *loc_tab;	/* indexed by id */
	uint32_t loc_cap;
	struct plw_loc *loc_hash;	/* open addressing, for ids >= MAX_LOC_DIRECT */
	uint32_t hash_cap, hash_nr;
	size_t cap_locs_list, cap_tasks;
	char comm[PLW_COMM_MAX + 1];
	/* PY_BATCH runs being handed out, merged by time with the records
	 * that follow them (a min-heap on runs[0..nr_runs); slots past it keep
	 * their buffers for reuse), and the record read ahead to compare */
	struct prun *runs;
	uint32_t nr_runs, cap_runs;
	uint64_t run_seq;
	struct plw_event ahead;
	bool have_ahead, recs_done;
	uint32_t run_loc;		/* payload of the event handed out from a run */
	char err[384];
};

static int rerr(struct plw_reader *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *plw_reader_error(const struct plw_reader *r)
{
	return r && r->err[0] ? r->err : "no error";
}

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint16_t rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* [off, off+len) inside the file? */
static bool in_file(const struct plw_reader *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

/* ------------------------------------------------------------ meta */

static const char *store_str(struct plw_reader *r, const char *s, size_t n)
{
	return plw_store_strndup(&r->st, s, n);
}

static inline uint32_t loc_slot(uint32_t id, uint32_t cap)
{
	return (id * 2654435761u) & (cap - 1);
}

/* slot for ID in the hash table: the entry, or the empty slot to fill */
static struct plw_loc *hash_find(const struct plw_reader *r, uint32_t id)
{
	if (!r->hash_cap)
		return NULL;
	for (uint32_t i = loc_slot(id, r->hash_cap);; i = (i + 1) & (r->hash_cap - 1)) {
		struct plw_loc *l = &r->loc_hash[i];

		if (!l->func || l->id == id)
			return l;
	}
}

static struct plw_loc *loc_slot_for(struct plw_reader *r, uint32_t id)
{
	if (id < MAX_LOC_DIRECT) {
		if (id >= r->loc_cap) {
			uint32_t cap = r->loc_cap ? r->loc_cap : 1024;
			struct plw_loc *t;

			while (cap <= id)
				cap *= 2;
			t = realloc(r->loc_tab, (size_t)cap * sizeof(*t));
			if (!t)
				return NULL;
			memset(t + r->loc_cap, 0, (size_t)(cap - r->loc_cap) * sizeof(*t));
			r->loc_tab = t;
			r->loc_cap = cap;
		}
		return &r->loc_tab[id];
	}
	if (r->hash_nr + 1 > r->hash_cap / 2) {
		uint32_t cap = r->hash_cap ? r->hash_cap * 2 : 256;
		struct plw_loc *old = r->loc_hash, *t;
		uint32_t old_cap = r->hash_cap;

		if (r->hash_nr >= MAX_LOC_HASHED)
			return NULL;
		t = calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		r->loc_hash = t;
		r->hash_cap = cap;
		for (uint32_t i = 0; i < old_cap; i++)
			if (old[i].func)
				*hash_find(r, old[i].id) = old[i];
		free(old);
	}
	return hash_find(r, id);
}

static int loc_define(struct plw_reader *r, uint32_t id, uint32_t line,
		      uint32_t pid, const char *func, size_t flen,
		      const char *file, size_t filen, bool from_priv)
{
	struct plw_loc *l = loc_slot_for(r, id);

	if (!l)
		return id < MAX_LOC_DIRECT ? -ENOMEM : 0;	/* documented cap */
	if (l->func)
		return 0;		/* first definition wins */
	l->id = id;
	l->line = line;
	l->pid = pid;
	l->func = store_str(r, func, flen);
	l->file = store_str(r, file, filen);
	if (!l->func || !l->file) {
		l->func = NULL;
		return -ENOMEM;
	}
	if (id >= MAX_LOC_DIRECT)
		r->hash_nr++;
	if (!from_priv && !r->has_priv && !r->peeking) {
		struct plw_meta *m = &r->st.m;

		if (m->nr_locs == r->cap_locs_list) {
			size_t cap = r->cap_locs_list ? r->cap_locs_list * 2 : 256;
			struct plw_loc *a = realloc(m->locs, cap * sizeof(*a));

			if (!a)
				return -ENOMEM;
			m->locs = a;
			r->cap_locs_list = cap;
		}
		m->locs[m->nr_locs++] = *l;
	}
	return 0;
}

const struct plw_loc *plw_reader_loc(const struct plw_reader *r, uint32_t id)
{
	const struct plw_loc *l;

	if (id < r->loc_cap)
		return r->loc_tab[id].func ? &r->loc_tab[id] : NULL;
	if (id < MAX_LOC_DIRECT)
		return NULL;
	l = hash_find(r, id);
	return l && l->func ? l : NULL;
}

static struct plw_task *task_get(struct plw_reader *r, uint32_t pid, uint32_t tid)
{
	struct plw_meta *m = &r->st.m;

	for (size_t i = m->nr_tasks; i-- > 0;)
		if (m->tasks[i].tid == tid && m->tasks[i].pid == pid)
			return &m->tasks[i];
	if (m->nr_tasks >= MAX_TASKS)
		return NULL;
	if (m->nr_tasks == r->cap_tasks) {
		size_t cap = r->cap_tasks ? r->cap_tasks * 2 : 64;
		struct plw_task *a = realloc(m->tasks, cap * sizeof(*a));

		if (!a)
			return NULL;
		m->tasks = a;
		r->cap_tasks = cap;
	}
	memset(&m->tasks[m->nr_tasks], 0, sizeof(m->tasks[0]));
	m->tasks[m->nr_tasks].pid = pid;
	m->tasks[m->nr_tasks].tid = tid;
	return &m->tasks[m->nr_tasks++];
}

/* in-stream META, used when the feature sections do not say it */
static void meta_kv(struct plw_reader *r, const char *k, const char *v)
{
	struct plw_meta *m = &r->st.m;
	const char **slot = NULL;
	uint64_t *num = NULL;
	uint32_t *num32 = NULL;

	if (!strcmp(k, "hostname")) slot = &m->hostname;
	else if (!strcmp(k, "osrelease")) slot = &m->osrelease;
	else if (!strcmp(k, "arch")) slot = &m->arch;
	else if (!strcmp(k, "cmdline")) slot = &m->cmdline;
	else if (!strcmp(k, "machine_id")) slot = &m->machine_id;
	else if (!strcmp(k, "boot_id")) slot = &m->boot_id;
	else if (!strcmp(k, "tod_ns")) num = &m->tod_ns;
	else if (!strcmp(k, "mono_ns")) num = &m->mono_ns;
	else if (!strcmp(k, "nr_cpus_online")) num32 = &m->nr_cpus_online;
	else if (!strcmp(k, "nr_cpus_avail")) num32 = &m->nr_cpus_avail;
	if (slot && !*slot)
		*slot = store_str(r, v, strlen(v));
	if ((num && !*num) || (num32 && !*num32)) {
		char *end;
		unsigned long long x = strtoull(v, &end, 10);

		if (end != v && !*end) {
			if (num)
				*num = x;
			else
				*num32 = x;
		}
	}
}

const void *plw_reader_tracing_data(const struct plw_reader *r, size_t *len)
{
	*len = r->tdata ? r->tdata_len : 0;
	return r->tdata;
}

const struct plw_meta *plw_reader_meta(const struct plw_reader *r)
{
	return &r->st.m;
}

/* ------------------------------------------------------------ open */

static int parse_features(struct plw_reader *r)
{
	struct plw_meta *m = &r->st.m;
	uint64_t table = r->h.data.offset + r->h.data.size;
	unsigned nr = 0, k = 0;

	for (int i = 0; i < 4; i++)
		nr += __builtin_popcountll(r->h.adds_features[i]);
	if (!nr)
		return 0;
	if (!in_file(r, table, (uint64_t)nr * 16)) {
		r->truncated = true;	/* reported when the data runs out */
		r->trunc_off = table;
		snprintf(r->trunc_why, sizeof(r->trunc_why),
			 "feature table of %u entries at offset %llu is past the end of the file (%zu bytes)",
			 nr, (unsigned long long)table, r->size);
		return 0;
	}
	r->have_features = true;
	for (unsigned bit = 0; bit < 256; bit++) {
		const unsigned char *p;
		uint64_t off, size;

		if (!(r->h.adds_features[bit / 64] >> (bit % 64) & 1))
			continue;
		off = rd64(r->base + table + 16 * k);
		size = rd64(r->base + table + 16 * k + 8);
		k++;
		if (!in_file(r, off, size)) {
			/*
			 * A finished file cut short inside its feature sections:
			 * keep what was parsed, read the data as for a file cut
			 * short (in-stream META/LOC/COMM), report it at the end.
			 */
			r->truncated = true;
			r->trunc_off = off;
			snprintf(r->trunc_why, sizeof(r->trunc_why),
				 "feature %u section at offset %llu (size %llu) is outside the file (%zu bytes)",
				 bit, (unsigned long long)off, (unsigned long long)size, r->size);
			return 0;
		}
		p = r->base + off;
		switch (bit) {
		case PLW_HDR_HOSTNAME:
		case PLW_HDR_OSRELEASE:
		case PLW_HDR_ARCH:
		case PLW_HDR_CMDLINE: {
			uint32_t n, len, at = 0, cnt = 1;
			char joined[4096];
			size_t jl = 0;

			if (bit == PLW_HDR_CMDLINE) {
				if (size < 4)
					break;
				cnt = rd32(p);
				at = 4;
			}
			joined[0] = 0;
			for (n = 0; n < cnt && n < 1024; n++) {
				if (size - at < 4)
					break;
				len = rd32(p + at);
				at += 4;
				if (len > size - at)
					break;
				size_t sl = strnlen((const char *)p + at, len);

				if (jl + sl + 2 < sizeof(joined)) {
					if (jl)
						joined[jl++] = ' ';
					memcpy(joined + jl, p + at, sl);
					jl += sl;
					joined[jl] = 0;
				}
				at += len;
			}
			const char *s = store_str(r, joined, jl);

			if (!s)
				return -ENOMEM;
			if (bit == PLW_HDR_HOSTNAME) m->hostname = s;
			else if (bit == PLW_HDR_OSRELEASE) m->osrelease = s;
			else if (bit == PLW_HDR_ARCH) m->arch = s;
			else m->cmdline = s;
			break;
		}
		case PLW_HDR_NRCPUS:
			if (size >= 8) {
				m->nr_cpus_avail = rd32(p);
				m->nr_cpus_online = rd32(p + 4);
			}
			break;
		case PLW_HDR_CLOCK_DATA:
			if (size >= 24 && rd32(p) >= 1) {
				m->tod_ns = rd64(p + 8);
				m->mono_ns = rd64(p + 16);
			}
			break;
		case PLW_HDR_TRACING_DATA:
			r->tdata = p;
			r->tdata_len = size;
			break;
		case PLW_HDR_COMPRESSED:
			if (size >= 20)
				r->mmap_len = rd32(p + 16);
			break;
		case PLW_FEAT_PYLOW: {
			char e[200];
			int err;

			if (size > MAX_PRIV)
				return rerr(r, -EFBIG, "pylow section of %llu bytes is over the %u MiB cap",
					    (unsigned long long)size, MAX_PRIV >> 20);
			err = plw_priv_parse(&r->st, p, size, e, sizeof(e));
			if (err)
				return rerr(r, err, "%s (section at offset %llu)", e,
					    (unsigned long long)off);
			r->has_priv = true;
			r->cap_tasks = m->nr_tasks;
			for (size_t i = 0; i < m->nr_locs; i++) {
				const struct plw_loc *l = &m->locs[i];

				err = loc_define(r, l->id, l->line, l->pid, l->func ? l->func : "",
						 l->func ? strlen(l->func) : 0, l->file ? l->file : "",
						 l->file ? strlen(l->file) : 0, true);
				if (err)
					return rerr(r, err, "out of memory for the location table");
			}
			break;
		}
		default:
			break;
		}
	}
	return 0;
}

static int parse_attrs(struct plw_reader *r)
{
	const struct plw_file_header *h = &r->h;
	uint64_t n;

	if (h->attr_size < 16 + 64 || h->attr_size > 4096)
		return rerr(r, -EBADMSG, "bad attr_size %llu in the header", (unsigned long long)h->attr_size);
	if (!in_file(r, h->attrs.offset, h->attrs.size))
		return rerr(r, -EBADMSG, "attrs section (offset %llu, size %llu) is outside the file",
			    (unsigned long long)h->attrs.offset, (unsigned long long)h->attrs.size);
	n = h->attrs.size / h->attr_size;
	if (!n || n > MAX_ATTRS)
		return rerr(r, -EBADMSG, "%llu attrs (want 1..%d)", (unsigned long long)n, MAX_ATTRS);
	r->nr_attrs = n;
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *a = r->base + h->attrs.offset + i * h->attr_size;
		uint32_t asize = rd32(a + 4);
		uint64_t ioff, isize, flags;
		struct idmap *t;

		if (asize && (asize < 64 || asize > h->attr_size - 16))
			return rerr(r, -EBADMSG, "attr %u: size %u does not fit attr_size %llu",
				    i, asize, (unsigned long long)h->attr_size);
		r->attrs[i].type = rd32(a);
		r->attrs[i].config = rd64(a + 8);
		r->attrs[i].sample_type = rd64(a + 24);
		r->attrs[i].read_format = rd64(a + 32);
		flags = rd64(a + 40);
		r->attrs[i].sample_id_all = flags >> 18 & 1;
		ioff = rd64(a + h->attr_size - 16);
		isize = rd64(a + h->attr_size - 8);
		if (!in_file(r, ioff, isize) || isize / 8 > MAX_IDS)
			return rerr(r, -EBADMSG, "attr %u: ids section (offset %llu, size %llu) is invalid",
				    i, (unsigned long long)ioff, (unsigned long long)isize);
		if (isize / 8 == 0)
			continue;
		t = realloc(r->ids, (r->nr_ids + isize / 8) * sizeof(*t));
		if (!t)
			return -ENOMEM;
		r->ids = t;
		for (uint64_t j = 0; j < isize / 8; j++)
			r->ids[r->nr_ids++] = (struct idmap){ rd64(r->base + ioff + 8 * j), i };
	}
	r->sample_type = r->attrs[0].sample_type;
	if (r->attrs[0].sample_id_all) {
		uint64_t st = r->sample_type;

		r->trailer = 8 * (!!(st & PERF_SAMPLE_TID) + !!(st & PERF_SAMPLE_TIME) +
				  !!(st & PERF_SAMPLE_ID) + !!(st & PERF_SAMPLE_STREAM_ID) +
				  !!(st & PERF_SAMPLE_CPU) + !!(st & PERF_SAMPLE_IDENTIFIER));
	}
	/* pylow's attrs come first (config 60000 + ev, in order); a file may
	 * add kernel tracepoints after them (record -e tracepoint:...) */
	r->is_pylow = r->nr_ids == n;
	for (uint32_t i = 0; r->is_pylow && i < n; i++) {
		if (r->attrs[i].sample_type != PLW_SAMPLE_TYPE ||
		    r->ids[i].id != PLW_ATTR_ID0 + i || r->ids[i].attr != i ||
		    r->attrs[i].type != PERF_TYPE_TRACEPOINT)
			r->is_pylow = false;
		else if (r->nr_pl == i && i < PLW_NR_ATTRS && r->attrs[i].config == PLW_TP_ID_BASE + i + 1)
			r->nr_pl = i + 1;
	}
	if (r->nr_pl < 8)
		r->is_pylow = false;
	return 0;
}

static void cursor_reset(struct plw_reader *r)
{
	r->pos = r->h.data.offset;
	r->dropped = 0;
	r->dpos = r->dlen = 0;
	r->in_frame = false;
	r->done = false;
	r->damage[0] = 0;
	r->damage_count = 0;
	r->complete_until = r->max_ts = 0;
	r->nr_runs = 0;
	r->have_ahead = r->recs_done = false;
	ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
}

static int open_common(struct plw_reader *r)
{
	uint64_t magic;
	int err;

	if (r->size < sizeof(r->h))
		return rerr(r, -EBADMSG, "file of %zu bytes is too short for a perf.data header", r->size);
	memcpy(&magic, r->base, 8);
	if (magic == PLW_PERF_MAGIC_SWAPPED)
		return rerr(r, -EPROTONOSUPPORT, "other-endian perf.data file (written on a machine of the other byte order): not supported");
	if (!memcmp(r->base, "PERFFILE", 8))
		return rerr(r, -EPROTONOSUPPORT, "old perf.data version 1 file: not supported");
	if (magic != PLW_PERF_MAGIC)
		return rerr(r, -EBADMSG, "not a perf.data/pylow file (bad magic)");
	memcpy(&r->h, r->base, sizeof(r->h));
	if (r->h.size < sizeof(r->h))
		return rerr(r, -EBADMSG, "bad header size %llu", (unsigned long long)r->h.size);
	if ((err = parse_attrs(r)))
		return err;
	if (r->h.data.offset > r->size)
		return rerr(r, -EBADMSG, "data offset %llu is beyond the end of the file (%zu bytes)",
			    (unsigned long long)r->h.data.offset, r->size);
	for (int i = 0; i < 4; i++)
		if (r->h.adds_features[i])
			r->finished = true;	/* features: finished (maybe without data) */
	if (r->h.data.size)
		r->finished = true;
	if (!r->finished) {
		r->end = r->size;
	} else if (!in_file(r, r->h.data.offset, r->h.data.size)) {
		r->truncated = true;
		r->end = r->size;
	} else {
		r->end = r->h.data.offset + r->h.data.size;
		if ((err = parse_features(r)))
			return err;
	}
	r->st.m.finished = r->finished && !r->truncated;
	r->st.m.truncated = r->finished && r->truncated;
	if (!r->mmap_len)
		r->mmap_len = r->is_pylow ? PLW_CHUNK_MAX : 528384;
	if (r->mmap_len > MAX_DBUF / 2)
		r->mmap_len = MAX_DBUF / 2;
	r->zd = ZSTD_createDStream();
	if (!r->zd)
		return -ENOMEM;
	cursor_reset(r);
	if (!r->finished || r->truncated) {
		/* describe the file from the first in-stream META records */
		struct plw_event ev;
		int n = 0, ret;

		r->peeking = true;
		while (n++ < PEEK_EVENTS && (ret = plw_reader_next(r, &ev)) > 0)
			if (ev.type != PLW_EV_META && ev.type != PLW_REC_COMM &&
			    ev.type != PLW_EV_PY_LOC)
				break;
		r->peeking = false;
		cursor_reset(r);
		r->err[0] = 0;
	}
	return 0;
}

int plw_reader_open_mem(struct plw_reader **rp, const void *buf, size_t size,
			unsigned flags)
{
	struct plw_reader *r = calloc(1, sizeof(*r));
	int err;

	*rp = r;
	if (!r)
		return -ENOMEM;
	r->base = buf;
	r->size = size;
	r->flags = flags;
	err = open_common(r);
	if (err && !r->err[0])
		rerr(r, err, "cannot open the file: %s", strerror(-err));
	return err;
}

int plw_reader_open(struct plw_reader **rp, const char *path, unsigned flags)
{
	struct plw_reader *r;
	struct stat st;
	int fd, err;

	*rp = r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->flags = flags;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		return rerr(r, err, "cannot open %s: %s%s", path, strerror(-err),
			    err == -ENOENT ? " (try 'pylow record' first)" : "");
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rerr(r, -EINVAL, "%s is not a regular file", path);
	}
	r->size = st.st_size;
	if (r->size) {
		r->map = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (r->map == MAP_FAILED) {
			err = -errno;
			r->map = NULL;
			close(fd);
			return rerr(r, err, "cannot map %s: %s", path, strerror(-err));
		}
		madvise(r->map, r->size, MADV_SEQUENTIAL);
		r->base = r->map;
	}
	close(fd);
	err = open_common(r);
	if (err) {
		char msg[sizeof(r->err)];

		snprintf(msg, sizeof(msg), "%.120s: %.250s", path, r->err[0] ? r->err : strerror(-err));
		memcpy(r->err, msg, sizeof(msg));
	}
	return err;
}

void plw_reader_free(struct plw_reader *r)
{
	if (r && r->runs) {
		for (uint32_t i = 0; i < r->cap_runs; i++)
			free(r->runs[i].buf);
		free(r->runs);
	}
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->size);
	ZSTD_freeDStream(r->zd);
	free(r->dbuf);
	free(r->ids);
	free(r->loc_tab);
	free(r->loc_hash);
	plw_store_free(&r->st);
	free(r);
}

/* ------------------------------------------------------------ damage */

const char *plw_reader_damage(const struct plw_reader *r, uint64_t *until)
{
	if (!r->damage[0])
		return NULL;
	if (until)
		*until = r->complete_until;
	return r->damage;
}

/*
 * Damage at file offset OFF.  FATAL: the stream cannot go on.  Returns 0 when
 * the caller should carry on (salvage, skipping), 1 when it should stop
 * quietly (end), -EBADMSG when the caller must fail.
 */
static int damage(struct plw_reader *r, uint64_t off, bool cut, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!(r->flags & PLW_READ_SALVAGE) && !(cut && !r->finished)) {
		rerr(r, -EBADMSG, "%s at file offset %llu", what, (unsigned long long)off);
		r->done = true;
		return -EBADMSG;
	}
	if (!r->damage_count++) {
		r->complete_until = r->max_ts;
		if (cut)
			snprintf(r->damage, sizeof(r->damage),
				 "%scut short at offset %llu (%s); complete until %llu",
				 r->finished ? "" : "recording not finished: ",
				 (unsigned long long)off, what, (unsigned long long)r->max_ts);
		else
			snprintf(r->damage, sizeof(r->damage),
				 "damaged at offset %llu (%s); complete until %llu",
				 (unsigned long long)off, what, (unsigned long long)r->max_ts);
	}
	return cut ? 1 : 0;
}

/* ------------------------------------------------------------ records */

static int find_attr(const struct plw_reader *r, uint64_t id)
{
	if (r->nr_ids == 0 && r->nr_attrs == 1)
		return 0;
	for (size_t i = 0; i < r->nr_ids; i++)
		if (r->ids[i].id == id)
			return r->ids[i].attr;
	return -1;
}

/* "" for an invalid __data_loc */
static const char *dl_str(const unsigned char *raw, uint32_t raw_size, uint32_t dl,
			  size_t *len)
{
	uint32_t off = PLW_DATA_LOC_OFF(dl), n = PLW_DATA_LOC_LEN(dl);

	if (!n || off < 8 || off > raw_size || n > raw_size - off || raw[off + n - 1]) {
		*len = 0;
		return "";
	}
	*len = n - 1;
	return (const char *)raw + off;
}

static int pylow_payload(struct plw_reader *r, struct plw_event *ev, unsigned type,
			 const unsigned char *raw, uint32_t raw_size)
{
	const unsigned char *p = raw + 8;
	uint32_t len = raw_size - 8;
	size_t a, b;

	ev->type = type;
	ev->payload = p;
	ev->len = len;
	switch (type) {
	case PLW_EV_PY_ENTRY:
	case PLW_EV_PY_RETURN:
		if (len < 4)
			return -EBADMSG;
		ev->u.py.loc = rd32(p);
		break;
	case PLW_EV_PY_LOC: {
		const char *f, *file;
		int err;

		if (len < 16)
			return -EBADMSG;
		ev->u.loc.id = rd32(p);
		ev->u.loc.line = rd32(p + 4);
		ev->u.loc.pid = ev->pid;
		ev->u.loc.func = f = dl_str(raw, raw_size, rd32(p + 8), &a);
		ev->u.loc.file = file = dl_str(raw, raw_size, rd32(p + 12), &b);
		if (!r->peeking && !plw_reader_loc(r, ev->u.loc.id)) {
			if ((err = loc_define(r, ev->u.loc.id, ev->u.loc.line, ev->pid,
					      f, a, file, b, false)))
				return err;
		}
		break;
	}
	case PLW_EV_PY_BATCH: {
		uint64_t cols;

		if (len < sizeof(struct plw_py_batch))
			return -EBADMSG;
		cols = (uint64_t)rd32(p + 4) + rd32(p + 8);
		if (cols > len - sizeof(struct plw_py_batch) || rd32(p) > cols)
			return -EBADMSG;
		break;
	}
	case PLW_EV_PY_GC_START:
		if (len < 4)
			return -EBADMSG;
		ev->u.gc.value = (int32_t)rd32(p);
		break;
	case PLW_EV_PY_GC_DONE:
		if (len < 8)
			return -EBADMSG;
		ev->u.gc.value = (int64_t)rd64(p);
		break;
	case PLW_EV_PY_IMPORT_START:
	case PLW_EV_PY_IMPORT_DONE:
		if (len < 12)
			return -EBADMSG;
		ev->u.import.found = (int32_t)rd32(p);
		ev->u.import.module = dl_str(raw, raw_size, rd32(p + 8), &a);
		break;
	case PLW_EV_META:
		if (len < 12)
			return -EBADMSG;
		ev->u.meta.key = dl_str(raw, raw_size, rd32(p), &a);
		ev->u.meta.value = dl_str(raw, raw_size, rd32(p + 4), &b);
		meta_kv(r, ev->u.meta.key, ev->u.meta.value);
		break;
	case PLW_EV_SYSCALL:
		if (len < 24)
			return -EBADMSG;
		ev->u.sys.nr = rd32(p);
		ev->u.sys.fd = (int32_t)rd32(p + 4);
		ev->u.sys.ret = (int64_t)rd64(p + 8);
		ev->u.sys.dur_ns = rd64(p + 16);
		break;
	case PLW_EV_OFFCPU:
		if (len < 20)
			return -EBADMSG;
		ev->u.off.dur_ns = rd64(p);
		ev->u.off.runq_ns = rd64(p + 8);
		ev->u.off.reason = rd32(p + 16);
		break;
	case PLW_EV_FAULT:
		if (len < 12)
			return -EBADMSG;
		ev->u.fault.addr = rd64(p);
		ev->u.fault.error_code = rd32(p + 8);
		break;
	case PLW_EV_IO:
		if (len < 28)
			return -EBADMSG;
		ev->u.io.dur_ns = rd64(p);
		ev->u.io.sector = rd64(p + 8);
		ev->u.io.bytes = rd32(p + 16);
		ev->u.io.dev = rd32(p + 20);
		ev->u.io.op = rd32(p + 24);
		break;
	case PLW_EV_MEM:
		if (len < 28)
			return -EBADMSG;
		ev->u.mem.addr = rd64(p);
		ev->u.mem.size = rd64(p + 8);
		ev->u.mem.old_addr = rd64(p + 16);
		ev->u.mem.op = rd32(p + 24);
		break;
	case PLW_EV_GIL:
		if (len < 8)
			return -EBADMSG;
		ev->u.gil.wait_ns = rd64(p);
		break;
	case PLW_EV_EXCEPTION:
		if (len < 8)
			return -EBADMSG;
		ev->u.exc.type = dl_str(raw, raw_size, rd32(p + 4), &a);
		break;
	case PLW_EV_IRQ:
		if (len < 16)
			return -EBADMSG;
		ev->u.irq.dur_ns = rd64(p);
		ev->u.irq.vec = rd32(p + 8);
		ev->u.irq.kind = rd32(p + 12);
		break;
	case PLW_EV_TLB:
		if (len < 8)
			return -EBADMSG;
		ev->u.tlb.reason = rd32(p);
		ev->u.tlb.pages = rd32(p + 4);
		break;
	case PLW_EV_PROBE:
		if (len < 56)
			return -EBADMSG;
		ev->u.probe.probe = rd32(p);
		ev->u.probe.nr_args = rd32(p + 4);
		if (ev->u.probe.nr_args > PLW_PROBE_ARGS_MAX)
			ev->u.probe.nr_args = PLW_PROBE_ARGS_MAX;
		for (int i = 0; i < PLW_PROBE_ARGS_MAX; i++)
			ev->u.probe.args[i] = rd64(p + 8 + 8 * i);
		break;
	case PLW_EV_STACK:
		if (len < 8)
			return -EBADMSG;
		ev->u.stack.kstack = (int32_t)rd32(p);
		ev->u.stack.ustack = (int32_t)rd32(p + 4);
		break;
	case PLW_EV_STACK_DEF:
		if (len < 16)
			return -EBADMSG;
		ev->u.stack_def.id = rd32(p);
		ev->u.stack_def.kind = rd32(p + 4);
		ev->u.stack_def.nr = rd32(p + 8);
		ev->u.stack_def.frames = dl_str(raw, raw_size, rd32(p + 12), &a);
		break;
	case PLW_EV_NET_CONN:
		if (len < sizeof(struct plw_net_conn))
			return -EBADMSG;
		memcpy(&ev->u.conn, p, sizeof(struct plw_net_conn));
		break;
	case PLW_EV_NET_LABEL:
		if (len < sizeof(struct plw_net_label))
			return -EBADMSG;
		ev->u.label.conn = rd64(p);
		ev->u.label.fd = (int32_t)rd32(p + 8);
		ev->u.label.dir = (uint16_t)(rd32(p + 12) & 0xffff);
		ev->u.label.proto = (uint16_t)(rd32(p + 12) >> 16);
		ev->u.label.status = rd32(p + 16);
		ev->u.label.flags = rd32(p + 20);
		ev->u.label.method = dl_str(raw, raw_size, rd32(p + 24), &a);
		ev->u.label.target = dl_str(raw, raw_size, rd32(p + 28), &a);
		ev->u.label.host = dl_str(raw, raw_size, rd32(p + 32), &a);
		ev->u.label.traceparent = dl_str(raw, raw_size, rd32(p + 36), &a);
		break;
	}
	return 0;
}

/* generic sample parser (perf's files, or anything off the fast path) */
static int parse_sample(struct plw_reader *r, const unsigned char *rec, size_t size,
			struct plw_event *ev)
{
	const unsigned char *p = rec + 8, *e = rec + size;
	uint64_t st = r->sample_type, id = 0;
	const unsigned char *raw = NULL;
	uint32_t raw_size = 0;
	int ai;

#define NEED(n) do { if ((size_t)(e - p) < (n)) return -EBADMSG; } while (0)
	if (st & PERF_SAMPLE_IDENTIFIER) { NEED(8); id = rd64(p); p += 8; }
	if (st & PERF_SAMPLE_IP) { NEED(8); p += 8; }
	if (st & PERF_SAMPLE_TID) { NEED(8); ev->pid = rd32(p); ev->tid = rd32(p + 4); p += 8; }
	if (st & PERF_SAMPLE_TIME) { NEED(8); ev->ts = rd64(p); p += 8; }
	if (st & PERF_SAMPLE_ADDR) { NEED(8); p += 8; }
	if (st & PERF_SAMPLE_ID) { NEED(8); if (!(st & PERF_SAMPLE_IDENTIFIER)) id = rd64(p); p += 8; }
	if (st & PERF_SAMPLE_STREAM_ID) { NEED(8); p += 8; }
	if (st & PERF_SAMPLE_CPU) { NEED(8); ev->cpu = rd32(p); p += 8; }
	if (st & PERF_SAMPLE_PERIOD) { NEED(8); p += 8; }
	ai = r->nr_attrs == 1 || !(st & (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_ID)) ? 0 : find_attr(r, id);
	if (ai < 0)
		return -ENOENT;
	if (st & PERF_SAMPLE_READ) {
		uint64_t rf = r->attrs[ai].read_format, n = 1, per;

		per = 1 + !!(rf & PERF_FORMAT_ID) + !!(rf & (1u << 4) /* LOST */);
		if (rf & PERF_FORMAT_GROUP) {
			NEED(8);
			n = rd64(p);
			p += 8;
		}
		uint64_t words = !!(rf & PERF_FORMAT_TOTAL_TIME_ENABLED) +
				 !!(rf & PERF_FORMAT_TOTAL_TIME_RUNNING);
		if (n > 4096)
			return -EBADMSG;
		words += n * per;
		NEED(words * 8);
		p += words * 8;
	}
	if (st & PERF_SAMPLE_CALLCHAIN) {
		uint64_t n;

		NEED(8);
		n = rd64(p);
		p += 8;
		if (n > (uint64_t)(e - p) / 8)
			return -EBADMSG;
		p += n * 8;
	}
	if (st & PERF_SAMPLE_RAW) {
		NEED(4);
		raw_size = rd32(p);
		p += 4;
		NEED(raw_size);
		raw = p;
	}
#undef NEED
	if (r->is_pylow && raw && raw_size >= 8 && (uint32_t)ai < r->nr_pl)
		return pylow_payload(r, ev, ai + 1, raw, raw_size);
	ev->type = PLW_REC_OTHER;
	ev->u.other.attr_type = r->attrs[ai].type;
	ev->u.other.attr_config = r->attrs[ai].config;
	ev->payload = raw;
	ev->len = raw_size;
	return 0;
}

/* sample_id_all trailer of a non-sample record of SIZE bytes, body ending at BODY */
static void trailer(const struct plw_reader *r, const unsigned char *rec, size_t size,
		    struct plw_event *ev)
{
	const unsigned char *p = rec + size - r->trailer;
	uint64_t st = r->sample_type;

	if (!r->trailer)
		return;
	if (st & PERF_SAMPLE_TID) p += 8;
	if (st & PERF_SAMPLE_TIME) { ev->ts = rd64(p); p += 8; }
	if (st & PERF_SAMPLE_ID) p += 8;
	if (st & PERF_SAMPLE_STREAM_ID) p += 8;
	if (st & PERF_SAMPLE_CPU) ev->cpu = rd32(p);
}

/* Decodes one record. 1 = event, 0 = skipped, -EBADMSG = malformed. */
static int decode(struct plw_reader *r, const unsigned char *rec, size_t size,
		  struct plw_event *ev)
{
	uint16_t type = rd16(rec);
	int err;

	ev->cpu = 0;
	ev->pid = ev->tid = 0;
	ev->ts = 0;
	ev->payload = NULL;
	ev->len = 0;
	switch (type) {
	case PERF_RECORD_SAMPLE:
		if (r->is_pylow && size >= 52 && rd64(rec + 8) - PLW_ATTR_ID0 < r->nr_pl) {
			uint64_t idx = rd64(rec + 8) - PLW_ATTR_ID0;
			uint32_t raw_size = rd32(rec + 40);

			if (idx >= PLW_NR_ATTRS || raw_size < 8 || raw_size > size - 44)
				return -EBADMSG;
			ev->pid = rd32(rec + 16);
			ev->tid = rd32(rec + 20);
			ev->ts = rd64(rec + 24);
			ev->cpu = rd32(rec + 32);
			err = pylow_payload(r, ev, idx + 1, rec + 44, raw_size);
		} else {
			err = parse_sample(r, rec, size, ev);
		}
		if (err)
			return err == -ENOMEM ? err : -EBADMSG;
		return 1;
	case PERF_RECORD_COMM: {
		size_t body = size >= 16 + r->trailer ? size - r->trailer : 0;
		size_t n;

		if (body < 17)
			return -EBADMSG;
		ev->type = PLW_REC_COMM;
		ev->pid = rd32(rec + 8);
		ev->tid = rd32(rec + 12);
		n = strnlen((const char *)rec + 16, body - 16);
		if (n > PLW_COMM_MAX)
			n = PLW_COMM_MAX;
		memcpy(r->comm, rec + 16, n);
		r->comm[n] = 0;
		ev->u.comm.comm = r->comm;
		ev->u.comm.exec = rd16(rec + 4) & PERF_RECORD_MISC_COMM_EXEC;
		trailer(r, rec, size, ev);
		if (!r->has_priv && !r->peeking) {
			struct plw_task *t = task_get(r, ev->pid, ev->tid);

			if (t)
				memcpy(t->comm, r->comm, n < sizeof(t->comm) ? n + 1 : sizeof(t->comm));
			if (t && n >= sizeof(t->comm))
				t->comm[sizeof(t->comm) - 1] = 0;
		}
		return 1;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (size < 32 + r->trailer)
			return -EBADMSG;
		ev->type = type == PERF_RECORD_FORK ? PLW_REC_FORK : PLW_REC_EXIT;
		ev->pid = rd32(rec + 8);
		ev->u.fork.ppid = rd32(rec + 12);
		ev->tid = rd32(rec + 16);
		ev->u.fork.ptid = rd32(rec + 20);
		trailer(r, rec, size, ev);
		ev->ts = rd64(rec + 24);
		if (!r->has_priv && !r->peeking) {
			struct plw_task *t = task_get(r, ev->pid, ev->tid);

			if (t && type == PERF_RECORD_FORK) {
				t->ppid = ev->u.fork.ppid;
				t->start_ns = ev->ts;
			} else if (t) {
				t->end_ns = ev->ts;
			}
		}
		return 1;
	case PERF_RECORD_LOST_SAMPLES:
		if (size < 16 + r->trailer)
			return -EBADMSG;
		ev->type = PLW_REC_LOST;
		ev->u.lost.lost = rd64(rec + 8);
		trailer(r, rec, size, ev);
		if (!r->has_priv && !r->peeking)
			r->st.m.lost_total += ev->u.lost.lost;
		return 1;
	case PERF_RECORD_LOST:
		if (size < 24 + r->trailer)
			return -EBADMSG;
		ev->type = PLW_REC_LOST;
		ev->u.lost.lost = rd64(rec + 16);
		trailer(r, rec, size, ev);
		if (!r->has_priv && !r->peeking)
			r->st.m.lost_total += ev->u.lost.lost;
		return 1;
	default:
		return 0;
	}
}

/* Decompresses the COMPRESSED record at r->pos (SIZE bytes) after the
 * leftover. 0 = ok, <0 = chunk damaged (message in WHY). */
static int inflate(struct plw_reader *r, size_t size, char *why, size_t whylen)
{
	size_t left = r->dlen - r->dpos, room = r->mmap_len, need;
	ZSTD_inBuffer in = { r->base + r->pos + 8, size - 8, 0 };
	ZSTD_outBuffer out;

	if (r->is_pylow) {
		/* pylow frames carry their size: allocate no more than that */
		unsigned long long cs = ZSTD_getFrameContentSize(in.src, in.size);

		if (cs != ZSTD_CONTENTSIZE_UNKNOWN && cs != ZSTD_CONTENTSIZE_ERROR && cs < room)
			room = cs;
	}
	need = left + room;

	if (need > r->dcap) {
		unsigned char *b = malloc(need);

		if (!b) {
			snprintf(why, whylen, "out of memory for a %zu byte chunk", need);
			return -ENOMEM;
		}
		if (left)
			memcpy(b, r->dbuf + r->dpos, left);
		free(r->dbuf);
		r->dbuf = b;
		r->dcap = need;
	} else if (left) {
		memmove(r->dbuf, r->dbuf + r->dpos, left);
	}
	r->dpos = 0;
	r->dlen = left;
	out = (ZSTD_outBuffer){ r->dbuf, need, left };
	while (in.pos < in.size) {
		size_t ret = ZSTD_decompressStream(r->zd, &out, &in);

		if (ZSTD_isError(ret)) {
			snprintf(why, whylen, "zstd: %s", ZSTD_getErrorName(ret));
			goto bad;
		}
		r->in_frame = ret != 0;
		if (out.pos == out.size && in.pos < in.size) {
			snprintf(why, whylen, "chunk decompresses to more than %s %zu",
				 room < r->mmap_len ? "its frame size" : "mmap_len", room);
			goto bad;
		}
	}
	if (r->is_pylow && r->in_frame) {
		/* pylow chunks are whole frames: the rest of the frame is missing */
		snprintf(why, whylen, "incomplete zstd frame");
		goto bad;
	}
	r->dlen = out.pos;
	return 0;
bad:
	ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
	r->in_frame = false;
	r->dpos = r->dlen = 0;
	return -EBADMSG;
}

/*
 * Pages of the mapping behind the read position count in our RSS once
 * touched (they stay mapped): drop them every DROP_STEP bytes, so peak RSS
 * does not grow with the file.  Only the mapping is dropped; the kernel keeps
 * the page cache, and a later access (rewind, a pointer still held) faults
 * the page in again.
 */
#define DROP_STEP	(4u << 20)

static inline void drop_behind(struct plw_reader *r)
{
	if (r->map && r->pos - r->dropped >= DROP_STEP && r->pos > r->dropped) {
		uint64_t to = r->pos & ~(uint64_t)(DROP_STEP - 1);

		if (to > r->dropped) {
			madvise((unsigned char *)r->map + r->dropped, to - r->dropped,
				MADV_DONTNEED);
			r->dropped = to;
		}
	}
}

/* salvage: next plausible COMPRESSED record after FROM, or the end */
static uint64_t resync(const struct plw_reader *r, uint64_t from)
{
	for (uint64_t o = from; o + 12 <= r->end; o++) {
		const unsigned char *p = r->base + o;
		uint16_t sz = rd16(p + 6);

		if (rd32(p) == PLW_PERF_RECORD_COMPRESSED && sz > 12 && o + sz <= r->end &&
		    rd32(p + 8) == ZSTD_MAGICNUMBER)
			return o;
	}
	return r->end;
}

/*
 * What the reader learns from each event it hands out: the newest time (for
 * damage reports) and, when the file has no private section to tell it (cut
 * short, or perf's own), the span and the counts by kind.
 */
static inline void note_event(struct plw_reader *r, const struct plw_event *ev)
{
	struct plw_meta *m = &r->st.m;

	if (ev->ts > r->max_ts)
		r->max_ts = ev->ts;
	if (r->has_priv || r->peeking)
		return;
	if (ev->ts && (!m->start_ns || ev->ts < m->start_ns))
		m->start_ns = ev->ts;
	if (ev->ts > m->end_ns)
		m->end_ns = ev->ts;
	if (ev->type < PLW_EV_MAX)
		m->events_by_type[ev->type]++;
}

/* the next record in file order (PY_BATCH samples as such) */
static int next_record(struct plw_reader *r, struct plw_event *ev)
{
	for (;;) {
		/* fast path: a pylow PY_ENTRY/PY_RETURN sample (56 bytes: header,
		 * id, pid/tid, time, cpu, raw size 12, common, loc) */
		if (r->is_pylow && r->dlen - r->dpos >= 56 && r->dpos < r->dlen) {
			const unsigned char *rec = r->dbuf + r->dpos;
			uint64_t hdr = rd64(rec), idx = rd64(rec + 8) - PLW_ATTR_ID0;

			if ((hdr & 0xffff0000ffffffffull) == (56ull << 48 | PERF_RECORD_SAMPLE) &&
			    idx < 2 && rd32(rec + 40) == 12) {
				r->dpos += 56;
				ev->type = idx + 1;	/* PLW_EV_PY_ENTRY, PLW_EV_PY_RETURN */
				ev->pid = rd32(rec + 16);
				ev->tid = rd32(rec + 20);
				ev->ts = rd64(rec + 24);
				ev->cpu = rd32(rec + 32);
				ev->payload = rec + 52;
				ev->len = 4;
				ev->u.py.loc = rd32(rec + 52);
				note_event(r, ev);
				return 1;
			}
		}
		/* records inside the current decompressed chunk */
		if (r->dpos < r->dlen) {
			size_t avail = r->dlen - r->dpos;
			const unsigned char *rec = r->dbuf + r->dpos;
			uint16_t size = avail >= 8 ? rd16(rec + 6) : 0;
			int ret;

			if (avail < 8 || size > avail) {
				if (!r->is_pylow && size >= 8)
					goto outer;	/* perf -z: continues in the next record */
				if (!r->is_pylow && avail < 8)
					goto outer;
				ret = damage(r, r->chunk_off, false,
					     "chunk ends inside a record (%zu bytes left)", avail);
				r->dpos = r->dlen = 0;
				if (ret < 0)
					return ret;
				continue;
			}
			if (size < 8) {
				ret = damage(r, r->chunk_off, false,
					     "record of size %u at +%zu inside the chunk", size, r->dpos);
				r->dpos = r->dlen = 0;
				if (ret < 0)
					return ret;
				continue;
			}
			r->dpos += size;
			ret = decode(r, rec, size, ev);
			if (ret == 0)
				continue;
			if (ret < 0) {
				if (ret == -ENOMEM)
					return rerr(r, ret, "out of memory");
				ret = damage(r, r->chunk_off, false,
					     "malformed record (type %u, size %u) inside the chunk",
					     rd16(rec), size);
				if (ret < 0)
					return ret;
				continue;
			}
			note_event(r, ev);
			return 1;
		}
outer:
		if (r->done)
			return 0;
		if (r->pos >= r->end) {
			r->done = true;
			if (r->dpos < r->dlen || (r->in_frame && r->is_pylow)) {
				if (damage(r, r->pos, true, "stream ends inside a record") < 0)
					return -EBADMSG;
			} else if (!r->finished) {
				damage(r, r->pos, true, "no more whole chunks");
			} else if (r->truncated) {
				if (damage(r, r->trunc_why[0] ? r->trunc_off : r->pos, true, "%s",
					   r->trunc_why[0] ? r->trunc_why :
					   "file is shorter than its header says") < 0)
					return -EBADMSG;
			}
			return 0;
		}
		{
			uint64_t avail = r->end - r->pos;
			const unsigned char *rec = r->base + r->pos;
			uint16_t type, size;
			int ret;

			size = avail >= 8 ? rd16(rec + 6) : 0;
			if ((avail < 8 || size > avail) && (!r->finished || r->truncated)) {
				r->done = true;
				ret = damage(r, r->pos, true, "last record incomplete");
				return ret < 0 ? ret : 0;
			}
			type = avail >= 8 ? rd16(rec) : 0;
			if (size < 8 || size > avail ||
			    (r->is_pylow && type != PLW_PERF_RECORD_COMPRESSED) ||
			    type == 0 || type > 200) {
				uint64_t next;

				ret = damage(r, r->pos, false, "bad record header (type %u, size %u)",
					     type, size);
				if (ret < 0)
					return ret;
				next = r->is_pylow ? resync(r, r->pos + 1) : r->end;
				r->pos = next;
				ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
				r->dpos = r->dlen = 0;
				continue;
			}
			if (type == PLW_PERF_RECORD_COMPRESSED) {
				char why[160];

				r->chunk_off = r->pos;
				ret = inflate(r, size, why, sizeof(why));
				r->pos += size;
				drop_behind(r);
				if (ret == -ENOMEM)
					return rerr(r, ret, "%s", why);
				if (ret < 0) {
					ret = damage(r, r->chunk_off, false, "bad chunk: %s", why);
					if (ret < 0)
						return ret;
				}
				continue;
			}
			r->pos += size;
			ret = decode(r, rec, size, ev);
			if (ret == 0)
				continue;
			if (ret < 0) {
				if (ret == -ENOMEM)
					return rerr(r, ret, "out of memory");
				ret = damage(r, r->pos - size, false, "malformed record (type %u, size %u)",
					     type, size);
				if (ret < 0)
					return ret;
				continue;
			}
			if (ev->ts > r->max_ts)
				r->max_ts = ev->ts;
			return 1;
		}
	}
}

/* ------------------------------------------------------------ PY_BATCH */

static inline bool run_before(const struct prun *a, const struct prun *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static void run_sift_down(struct plw_reader *r, uint32_t i)
{
	struct prun *h = r->runs, t;

	for (;;) {
		uint32_t c = 2 * i + 1, m = i;

		if (c < r->nr_runs && run_before(&h[c], &h[m]))
			m = c;
		if (c + 1 < r->nr_runs && run_before(&h[c + 1], &h[m]))
			m = c + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* decodes the head of U from its columns; false: malformed */
static inline bool run_step(struct prun *u, uint64_t base)
{
	uint64_t op, d;

	if (!plw_varint_get(&u->op, u->op_end, &op) ||
	    !plw_varint_get(&u->tp, u->tp_end, &d) || op >> 33)
		return false;
	u->loc = PLW_BATCH_OP_LOC(op);
	u->ret = op & 1;
	u->ts = base + d;
	return true;
}

/* a PY_BATCH record (validated by pylow_payload) becomes a run */
static int run_add(struct plw_reader *r, const struct plw_event *ev)
{
	const unsigned char *p = ev->payload;
	uint32_t nr = rd32(p), ops = rd32(p + 4), tsl = rd32(p + 8);
	struct prun *u;

	if (!nr)
		return 0;
	if (r->nr_runs == r->cap_runs) {
		uint32_t cap = r->cap_runs ? 2 * r->cap_runs : 8;
		struct prun *a = realloc(r->runs, cap * sizeof(*a));

		if (!a)
			return rerr(r, -ENOMEM, "out of memory");
		memset(a + r->cap_runs, 0, (cap - r->cap_runs) * sizeof(*a));
		r->runs = a;
		r->cap_runs = cap;
	}
	u = &r->runs[r->nr_runs];
	if (u->cap < (size_t)ops + tsl) {
		unsigned char *b = realloc(u->buf, ops + tsl);

		if (!b)
			return rerr(r, -ENOMEM, "out of memory");
		u->buf = b;
		u->cap = ops + tsl;
	}
	memcpy(u->buf, p + sizeof(struct plw_py_batch), (size_t)ops + tsl);
	u->op = u->buf;
	u->op_end = u->tp = u->buf + ops;
	u->tp_end = u->tp + tsl;
	u->pid = ev->pid;
	u->tid = ev->tid;
	u->cpu = ev->cpu;
	u->left = nr - 1;
	u->seq = r->run_seq++;
	u->off = r->chunk_off;
	if (!run_step(u, ev->ts)) {
		int ret = damage(r, u->off, false, "malformed py_batch of thread %u", ev->tid);

		return ret < 0 ? ret : 0;
	}
	/* sift up */
	for (uint32_t i = r->nr_runs++; i;) {
		uint32_t up = (i - 1) / 2;
		struct prun t;

		if (!run_before(&r->runs[i], &r->runs[up]))
			break;
		t = r->runs[i];
		r->runs[i] = r->runs[up];
		r->runs[up] = t;
		i = up;
	}
	return 0;
}

/* hands out the earliest run's head and advances that run */
static int run_pop(struct plw_reader *r, struct plw_event *ev)
{
	struct prun *u = &r->runs[0];
	int ret = 1;

	ev->type = u->ret ? PLW_EV_PY_RETURN : PLW_EV_PY_ENTRY;
	ev->cpu = u->cpu;
	ev->pid = u->pid;
	ev->tid = u->tid;
	ev->ts = u->ts;
	ev->u.py.loc = r->run_loc = u->loc;
	ev->payload = &r->run_loc;
	ev->len = 4;
	note_event(r, ev);
	if (u->left && run_step(u, u->ts)) {
		u->left--;
		run_sift_down(r, 0);
		return 1;
	}
	if (u->left || u->op != u->op_end || u->tp != u->tp_end) {
		int d = damage(r, u->off, false, "malformed py_batch of thread %u", u->tid);

		if (d < 0)
			ret = d;
	}
	/* the run is done: the last active slot takes its place, its buffer
	 * stays for the next run */
	struct prun t = r->runs[0];

	r->runs[0] = r->runs[--r->nr_runs];
	r->runs[r->nr_runs] = t;
	run_sift_down(r, 0);
	return ret;
}

/* Records in file order, with each PY_BATCH's events handed out one by one,
 * in time order with the records around them: a batch sample sits at its
 * first event's time and the file is in time order, so a record read ahead
 * is due once every run's head is later. */
int plw_reader_next(struct plw_reader *r, struct plw_event *ev)
{
	int ret;

	for (;;) {
		if (!r->nr_runs && !r->have_ahead) {
			/* nothing to merge with (every file without batches) */
			if (r->recs_done)
				return 0;
			if ((ret = next_record(r, ev)) <= 0) {
				r->recs_done = !ret;
				return ret;
			}
			if (ev->type != PLW_EV_PY_BATCH)
				return 1;
			if ((ret = run_add(r, ev)) < 0)
				return ret;
			continue;
		}
		if (!r->have_ahead && !r->recs_done) {
			if ((ret = next_record(r, &r->ahead)) < 0)
				return ret;
			r->recs_done = !ret;
			r->have_ahead = ret;
		}
		if (r->nr_runs && (!r->have_ahead || r->runs[0].ts < r->ahead.ts))
			return run_pop(r, ev);
		if (!r->have_ahead)
			return 0;
		r->have_ahead = false;
		/* a batch joins the runs only when due: the runs pending at
		 * once are those that overlap in time (about one per thread),
		 * however many batches follow each other in the file */
		if (r->ahead.type != PLW_EV_PY_BATCH) {
			*ev = r->ahead;
			return 1;
		}
		if ((ret = run_add(r, &r->ahead)) < 0)
			return ret;
	}
}
