// SPDX-License-Identifier: MIT
/*
 * meta.c - byte buffers and pylow's private feature section (FORMAT.md,
 * "Private section"): serialisation at finish, bounds-checked parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_ITEMS	(1u << 22)	/* tasks, probes, losses each */

int plw_buf_reserve(struct plw_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int plw_buf_add(struct plw_buf *b, const void *p, size_t n)
{
	int err = plw_buf_reserve(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int plw_buf_u32(struct plw_buf *b, uint32_t v)
{
	return plw_buf_add(b, &v, 4);
}

int plw_buf_u64(struct plw_buf *b, uint64_t v)
{
	return plw_buf_add(b, &v, 8);
}

int plw_buf_perf_str(struct plw_buf *b, const char *s)
{
	size_t n = strlen(s ? s : "") + 1, padded = (n + 63) / 64 * 64;
	int err;

	if (padded > UINT32_MAX)
		return -EOVERFLOW;
	if ((err = plw_buf_u32(b, padded)) || (err = plw_buf_reserve(b, padded)))
		return err;
	memset(b->p + b->len, 0, padded);
	memcpy(b->p + b->len, s ? s : "", n - 1);
	b->len += padded;
	return 0;
}

int plw_buf_pstr(struct plw_buf *b, const char *s)
{
	size_t n;
	int err;

	if (!s)
		return plw_buf_u32(b, UINT32_MAX);
	n = strlen(s);
	if (n >= UINT32_MAX)
		return -EOVERFLOW;
	if ((err = plw_buf_u32(b, n)))
		return err;
	return plw_buf_add(b, s, n);
}

void plw_buf_free(struct plw_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- write */

static int tlv_begin(struct plw_buf *b, uint32_t tag, size_t *at)
{
	int err;

	if ((err = plw_buf_u32(b, tag)) || (err = plw_buf_u32(b, 0)))
		return err;
	*at = b->len;
	return 0;
}

static int tlv_end(struct plw_buf *b, size_t at)
{
	size_t n = b->len - at;

	if (n > UINT32_MAX)
		return -EOVERFLOW;
	uint32_t v = n;
	memcpy(b->p + at - 4, &v, 4);
	return 0;
}

static int tlv_str(struct plw_buf *b, const char *key, const char *value)
{
	size_t at;
	int err;

	if (!value)
		return 0;
	if ((err = tlv_begin(b, PLW_TAG_STR, &at)) ||
	    (err = plw_buf_pstr(b, key)) || (err = plw_buf_pstr(b, value)))
		return err;
	return tlv_end(b, at);
}

int plw_priv_write(struct plw_buf *b, const struct plw_meta *m)
{
	size_t at;
	int err;

	if ((err = plw_buf_add(b, PLW_PRIV_MAGIC, 8)) ||
	    (err = plw_buf_u32(b, PLW_FORMAT_VERSION)))
		return err;
	if ((err = tlv_begin(b, PLW_TAG_COUNTS, &at)) ||
	    (err = plw_buf_u64(b, m->start_ns)) || (err = plw_buf_u64(b, m->end_ns)) ||
	    (err = plw_buf_u64(b, m->tod_ns)) || (err = plw_buf_u64(b, m->mono_ns)) ||
	    (err = plw_buf_u64(b, m->lost_total)) ||
	    (err = plw_buf_u32(b, m->nr_cpus_online)) ||
	    (err = plw_buf_u32(b, m->nr_cpus_avail)) ||
	    (err = plw_buf_u32(b, PLW_EV_MAX)) ||
	    (err = plw_buf_add(b, m->events_by_type, sizeof(m->events_by_type))) ||
	    (err = tlv_end(b, at)))
		return err;
	if ((err = tlv_str(b, "hostname", m->hostname)) ||
	    (err = tlv_str(b, "osrelease", m->osrelease)) ||
	    (err = tlv_str(b, "arch", m->arch)) ||
	    (err = tlv_str(b, "cmdline", m->cmdline)) ||
	    (err = tlv_str(b, "machine_id", m->machine_id)) ||
	    (err = tlv_str(b, "boot_id", m->boot_id)))
		return err;
	for (size_t i = 0; i < m->nr_locs; i++) {
		const struct plw_loc *l = &m->locs[i];

		if ((err = tlv_begin(b, PLW_TAG_LOC, &at)) ||
		    (err = plw_buf_u32(b, l->id)) || (err = plw_buf_u32(b, l->line)) ||
		    (err = plw_buf_u32(b, l->pid)) || (err = plw_buf_pstr(b, l->func)) ||
		    (err = plw_buf_pstr(b, l->file)) || (err = tlv_end(b, at)))
			return err;
	}
	for (size_t i = 0; i < m->nr_tasks; i++) {
		const struct plw_task *t = &m->tasks[i];
		char comm[sizeof(t->comm) + 1];

		memcpy(comm, t->comm, sizeof(t->comm));
		comm[sizeof(t->comm)] = 0;
		if ((err = tlv_begin(b, PLW_TAG_TASK, &at)) ||
		    (err = plw_buf_u32(b, t->pid)) || (err = plw_buf_u32(b, t->tid)) ||
		    (err = plw_buf_u32(b, t->ppid)) ||
		    (err = plw_buf_u64(b, t->start_ns)) || (err = plw_buf_u64(b, t->end_ns)) ||
		    (err = plw_buf_pstr(b, comm)) || (err = plw_buf_pstr(b, t->exe)) ||
		    (err = plw_buf_pstr(b, t->cmdline)) || (err = plw_buf_pstr(b, t->python)) ||
		    (err = plw_buf_pstr(b, t->source)) || (err = tlv_end(b, at)))
			return err;
	}
	for (size_t i = 0; i < m->nr_probes; i++) {
		const struct plw_probe *p = &m->probes[i];

		if ((err = tlv_begin(b, PLW_TAG_PROBE, &at)) ||
		    (err = plw_buf_u32(b, p->attached)) ||
		    (err = plw_buf_pstr(b, p->group)) || (err = plw_buf_pstr(b, p->name)) ||
		    (err = plw_buf_pstr(b, p->reason)) || (err = tlv_end(b, at)))
			return err;
	}
	for (size_t i = 0; i < m->nr_losses; i++) {
		const struct plw_loss *l = &m->losses[i];

		if ((err = tlv_begin(b, PLW_TAG_LOSS, &at)) ||
		    (err = plw_buf_u32(b, l->cpu)) || (err = plw_buf_u64(b, l->start_ns)) ||
		    (err = plw_buf_u64(b, l->end_ns)) || (err = plw_buf_u64(b, l->lost)) ||
		    (err = tlv_end(b, at)))
			return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- parse */

char *plw_store_strndup(struct plw_meta_store *st, const char *s, size_t n)
{
	char *p;

	if (st->nr_owned == st->cap_owned) {
		size_t cap = st->cap_owned ? st->cap_owned * 2 : 64;
		char **o = realloc(st->owned, cap * sizeof(*o));

		if (!o)
			return NULL;
		st->owned = o;
		st->cap_owned = cap;
	}
	p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	st->owned[st->nr_owned++] = p;
	return p;
}

void plw_store_free(struct plw_meta_store *st)
{
	for (size_t i = 0; i < st->nr_owned; i++)
		free(st->owned[i]);
	free(st->owned);
	free(st->m.locs);
	free(st->m.tasks);
	free(st->m.probes);
	free(st->m.losses);
	plw_buf_free(&st->strs);
	memset(st, 0, sizeof(*st));
}

struct cur {
	const unsigned char *p;
	size_t len, pos;
	int err;
};

static uint32_t get32(struct cur *c)
{
	uint32_t v = 0;

	if (c->len - c->pos < 4) {
		c->err = -EBADMSG;
		c->pos = c->len;
		return 0;
	}
	memcpy(&v, c->p + c->pos, 4);
	c->pos += 4;
	return v;
}

static uint64_t get64(struct cur *c)
{
	uint64_t v = 0;

	if (c->len - c->pos < 8) {
		c->err = -EBADMSG;
		c->pos = c->len;
		return 0;
	}
	memcpy(&v, c->p + c->pos, 8);
	c->pos += 8;
	return v;
}

static const char *getstr(struct cur *c, struct plw_meta_store *st)
{
	uint32_t n = get32(c);
	const char *s;

	if (c->err || n == UINT32_MAX)
		return NULL;
	if (n > c->len - c->pos) {
		c->err = -EBADMSG;
		return NULL;
	}
	s = plw_store_strndup(st, (const char *)c->p + c->pos, n);
	if (!s)
		c->err = -ENOMEM;
	c->pos += n;
	return s;
}

static void *grow(void *arr, size_t *cap, size_t nr, size_t elem)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return arr;
	if (nr >= MAX_ITEMS)
		return NULL;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(arr, ncap * elem);
	if (!p)
		return NULL;
	*cap = ncap;
	return p;
}

int plw_priv_parse(struct plw_meta_store *st, const unsigned char *p,
		   size_t len, char *err, size_t errlen)
{
	struct plw_meta *m = &st->m;
	struct cur c = { p, len, 0, 0 };
	size_t cap_locs = m->nr_locs;
	uint32_t version;

	if (len < 12 || memcmp(p, PLW_PRIV_MAGIC, 8)) {
		snprintf(err, errlen, "pylow section: bad magic");
		return -EBADMSG;
	}
	c.pos = 8;
	version = get32(&c);
	if (version > PLW_FORMAT_VERSION) {
		snprintf(err, errlen, "pylow section version %u is newer than this pylow (%u): upgrade pylow",
			 version, PLW_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	while (c.pos < c.len && !c.err) {
		uint32_t tag = get32(&c), tlen = get32(&c);
		size_t start = c.pos;
		struct cur t;

		if (c.err || tlen > c.len - c.pos) {
			snprintf(err, errlen, "pylow section: record at +%zu overruns the section", start);
			return -EBADMSG;
		}
		t = (struct cur){ c.p + start, tlen, 0, 0 };
		c.pos += tlen;
		switch (tag) {
		case PLW_TAG_COUNTS: {
			uint32_t n;

			m->start_ns = get64(&t);
			m->end_ns = get64(&t);
			m->tod_ns = get64(&t);
			m->mono_ns = get64(&t);
			m->lost_total = get64(&t);
			m->nr_cpus_online = get32(&t);
			m->nr_cpus_avail = get32(&t);
			n = get32(&t);
			for (uint32_t i = 0; i < n && !t.err; i++) {
				uint64_t v = get64(&t);

				if (i < PLW_EV_MAX)
					m->events_by_type[i] = v;
			}
			break;
		}
		case PLW_TAG_STR: {
			const char *k = getstr(&t, st), *v = getstr(&t, st);

			if (t.err || !k)
				break;
			if (!strcmp(k, "hostname"))
				m->hostname = v;
			else if (!strcmp(k, "osrelease"))
				m->osrelease = v;
			else if (!strcmp(k, "arch"))
				m->arch = v;
			else if (!strcmp(k, "cmdline"))
				m->cmdline = v;
			else if (!strcmp(k, "machine_id"))
				m->machine_id = v;
			else if (!strcmp(k, "boot_id"))
				m->boot_id = v;
			break;
		}
		case PLW_TAG_LOC: {
			struct plw_loc l = { 0 };
			void *a;

			l.id = get32(&t);
			l.line = get32(&t);
			l.pid = get32(&t);
			l.func = getstr(&t, st);
			l.file = getstr(&t, st);
			if (t.err)
				break;
			if (!(a = grow(m->locs, &cap_locs, m->nr_locs, sizeof(l)))) {
				t.err = -ENOMEM;
				break;
			}
			m->locs = a;
			m->locs[m->nr_locs++] = l;
			break;
		}
		case PLW_TAG_TASK: {
			struct plw_task k = { 0 };
			const char *comm;
			void *a;

			k.pid = get32(&t);
			k.tid = get32(&t);
			k.ppid = get32(&t);
			k.start_ns = get64(&t);
			k.end_ns = get64(&t);
			comm = getstr(&t, st);
			if (comm)
				snprintf(k.comm, sizeof(k.comm), "%s", comm);
			k.exe = getstr(&t, st);
			k.cmdline = getstr(&t, st);
			k.python = getstr(&t, st);
			k.source = getstr(&t, st);
			if (t.err)
				break;
			if (!(a = grow(m->tasks, &st->cap_tasks, m->nr_tasks, sizeof(k)))) {
				t.err = -ENOMEM;
				break;
			}
			m->tasks = a;
			m->tasks[m->nr_tasks++] = k;
			break;
		}
		case PLW_TAG_PROBE: {
			struct plw_probe pr = { 0 };
			void *a;

			pr.attached = get32(&t) != 0;
			pr.group = getstr(&t, st);
			pr.name = getstr(&t, st);
			pr.reason = getstr(&t, st);
			if (t.err)
				break;
			if (!(a = grow(m->probes, &st->cap_probes, m->nr_probes, sizeof(pr)))) {
				t.err = -ENOMEM;
				break;
			}
			m->probes = a;
			m->probes[m->nr_probes++] = pr;
			break;
		}
		case PLW_TAG_LOSS: {
			struct plw_loss l = { 0 };
			void *a;

			l.cpu = get32(&t);
			l.start_ns = get64(&t);
			l.end_ns = get64(&t);
			l.lost = get64(&t);
			if (t.err)
				break;
			if (!(a = grow(m->losses, &st->cap_losses, m->nr_losses, sizeof(l)))) {
				t.err = -ENOMEM;
				break;
			}
			m->losses = a;
			m->losses[m->nr_losses++] = l;
			break;
		}
		default:
			break;		/* unknown tag: skipped */
		}
		if (t.err) {
			snprintf(err, errlen, "pylow section: %s in record (tag %u) at +%zu",
				 t.err == -ENOMEM ? "out of memory or too many items" : "truncated field",
				 tag, start);
			return t.err;
		}
	}
	return 0;
}
