// SPDX-License-Identifier: MIT
/*
 * probes.c - generic probes and native stacks on the report side (probes.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event-parse.h>

#include "probes.h"

#define STACKS_MAX	(1u << 20)	/* file stack ids kept per input */
#define NAMES_MAX	4096		/* probes / tracepoints named per input */

struct named {
	uint32_t key;			/* probe number, or tracepoint id */
	char *name;			/* short name */
	char *kind;			/* probes: "uprobe", ... */
};

struct nat_input {
	struct named *probes, *tps;
	uint32_t nr_probes, nr_tps;
	struct { char *frames; uint32_t kind; } *stacks;	/* by id */
	uint32_t cap_stacks;
};

struct plw_native {
	struct nat_input *in;
	uint32_t nr_in;
};

int plw_native_new(struct plw_native **n)
{
	*n = calloc(1, sizeof(**n));
	return *n ? 0 : -ENOMEM;
}

void plw_native_free(struct plw_native *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nr_in; i++) {
		struct nat_input *in = &n->in[i];

		for (uint32_t k = 0; k < in->nr_probes; k++) {
			free(in->probes[k].name);
			free(in->probes[k].kind);
		}
		for (uint32_t k = 0; k < in->nr_tps; k++)
			free(in->tps[k].name);
		for (uint32_t k = 0; k < in->cap_stacks; k++)
			free(in->stacks[k].frames);
		free(in->probes);
		free(in->tps);
		free(in->stacks);
	}
	free(n->in);
	free(n);
}

static struct nat_input *get_in(struct plw_native *n, uint32_t input)
{
	if (input >= n->nr_in) {
		struct nat_input *a = realloc(n->in, (input + 1) * sizeof(*a));

		if (!a)
			return NULL;
		memset(a + n->nr_in, 0, (input + 1 - n->nr_in) * sizeof(*a));
		n->in = a;
		n->nr_in = input + 1;
	}
	return &n->in[input];
}

void plw_probe_short_name(const char *spec, char *out, size_t len)
{
	char buf[1024], *kind, *rest, *sym, *bin, *base, *so;

	snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
	kind = buf;
	rest = strchr(buf, ':');
	if (!rest) {
		snprintf(out, len, "%s", buf);
		return;
	}
	*rest++ = 0;
	if (!strcmp(kind, "tracepoint")) {
		snprintf(out, len, "tracepoint %s", rest);
		return;
	}
	sym = strrchr(rest, ':');
	if (!sym) {
		snprintf(out, len, "%s %s", kind, rest);
		return;
	}
	*sym++ = 0;
	if (!strcmp(kind, "usdt")) {
		/* usdt:BIN:PROVIDER:NAME: PROVIDER:NAME stays */
		char *prov = strrchr(rest, ':');

		if (prov) {
			*prov++ = 0;
			sym[-1] = ':';
			sym = prov;
		}
	}
	bin = rest;
	base = strrchr(bin, '/');
	base = base ? base + 1 : bin;
	so = strstr(base, ".so");
	if (so && so != base)
		*so = 0;
	snprintf(out, len, "%s %s:%s", kind, base, sym);
}

static int put_named(struct named **tab, uint32_t *nr, uint32_t key, const char *name,
		     const char *kind)
{
	for (uint32_t i = 0; i < *nr; i++)
		if ((*tab)[i].key == key)
			return 0;	/* the first one of a file wins */
	if (*nr >= NAMES_MAX)
		return 0;
	struct named *a = realloc(*tab, (*nr + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	*tab = a;
	a[*nr] = (struct named){ key, strdup(name), kind ? strdup(kind) : NULL };
	if (!a[*nr].name || (kind && !a[*nr].kind)) {
		free(a[*nr].name);
		free(a[*nr].kind);
		return -ENOMEM;
	}
	(*nr)++;
	return 0;
}

int plw_native_meta(struct plw_native *n, uint32_t input, const char *key, const char *value)
{
	struct nat_input *in = NULL;
	char name[512], kind[32], *end;
	unsigned long k;

	if (!key || !value)
		return 0;
	if (!strncmp(key, "probe.", 6)) {
		k = strtoul(key + 6, &end, 10);
		if (*end || end == key + 6)
			return 0;
		if (!(in = get_in(n, input)))
			return -ENOMEM;
		plw_probe_short_name(value, name, sizeof(name));
		snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(value, ":"), value);
		return put_named(&in->probes, &in->nr_probes, (uint32_t)k, name, kind);
	}
	if (!strncmp(key, "tracepoint.", 11)) {
		k = strtoul(key + 11, &end, 10);
		if (*end || end == key + 11)
			return 0;
		if (!(in = get_in(n, input)))
			return -ENOMEM;
		snprintf(name, sizeof(name), "tracepoint %s", value);
		return put_named(&in->tps, &in->nr_tps, (uint32_t)k, name, NULL);
	}
	return 0;
}

int plw_native_stack_def(struct plw_native *n, uint32_t input, const struct plw_event *ev)
{
	struct nat_input *in = get_in(n, input);
	uint32_t id = ev->u.stack_def.id;

	if (!in)
		return -ENOMEM;
	if (id >= STACKS_MAX)
		return 0;
	if (id >= in->cap_stacks) {
		uint32_t cap = in->cap_stacks ? in->cap_stacks : 256;

		while (cap <= id)
			cap *= 2;
		void *a = realloc(in->stacks, cap * sizeof(*in->stacks));

		if (!a)
			return -ENOMEM;
		in->stacks = a;
		memset(in->stacks + in->cap_stacks, 0, (cap - in->cap_stacks) * sizeof(*in->stacks));
		in->cap_stacks = cap;
	}
	if (in->stacks[id].frames)
		return 0;
	in->stacks[id].frames = strdup(ev->u.stack_def.frames ? ev->u.stack_def.frames : "");
	in->stacks[id].kind = ev->u.stack_def.kind;
	return in->stacks[id].frames ? 0 : -ENOMEM;
}

const char *plw_native_stack(const struct plw_native *n, uint32_t input, uint32_t id,
			     uint32_t *kind)
{
	if (!n || input >= n->nr_in || id >= n->in[input].cap_stacks)
		return NULL;
	if (kind)
		*kind = n->in[input].stacks[id].kind;
	return n->in[input].stacks[id].frames;
}

static const struct named *find(const struct named *tab, uint32_t nr, uint32_t key)
{
	for (uint32_t i = 0; i < nr; i++)
		if (tab[i].key == key)
			return &tab[i];
	return NULL;
}

const char *plw_native_probe_name(const struct plw_native *n, uint32_t input, uint32_t probe,
				  char *buf, size_t len)
{
	const struct named *p = n && input < n->nr_in ?
		find(n->in[input].probes, n->in[input].nr_probes, probe) : NULL;

	if (p)
		return p->name;
	snprintf(buf, len, "probe %u", probe);
	return buf;
}

const char *plw_native_probe_kind(const struct plw_native *n, uint32_t input, uint32_t probe)
{
	const struct named *p = n && input < n->nr_in ?
		find(n->in[input].probes, n->in[input].nr_probes, probe) : NULL;

	return p ? p->kind : NULL;
}

const char *plw_native_tp_name(const struct plw_native *n, uint32_t input, uint32_t id)
{
	const struct named *p = n && input < n->nr_in ?
		find(n->in[input].tps, n->in[input].nr_tps, id) : NULL;

	return p ? p->name : NULL;
}

/* ------------------------------------------------------------ decoding */

struct plw_tpdec {
	struct tep_handle *tep;
};

struct cur {
	const unsigned char *p;
	size_t left;
};

static int take(struct cur *c, void *out, size_t n)
{
	if (c->left < n)
		return -EINVAL;
	if (out)
		memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static const char *take_str(struct cur *c)
{
	const char *s = (const char *)c->p;
	size_t n = strnlen(s, c->left);

	if (n == c->left)
		return NULL;
	c->p += n + 1;
	c->left -= n + 1;
	return s;
}

int plw_tpdec_new(struct plw_tpdec **out, const void *data, size_t len)
{
	struct cur c = { data, len };
	struct plw_tpdec *d;
	unsigned char magic[3], u8[2];
	uint32_t n, page;
	uint64_t sz;
	const char *s;

	*out = NULL;
	if (!data || len < 10)
		return -EINVAL;
	if (take(&c, magic, 3) || memcmp(magic, "\x17\x08\x44", 3) || take(&c, NULL, 7) ||
	    !take_str(&c) || take(&c, u8, 2) || take(&c, &page, 4))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->tep = tep_alloc())) {
		free(d);
		return -ENOMEM;
	}
	tep_set_long_size(d->tep, u8[1]);
	tep_set_file_bigendian(d->tep, u8[0] ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
	/* header_page, header_event */
	for (int i = 0; i < 2; i++)
		if (!take_str(&c) || take(&c, &sz, 8) || sz > c.left || take(&c, NULL, sz))
			goto bad;
	if (take(&c, &n, 4))
		goto bad;
	for (uint32_t i = 0; i < n; i++)		/* ftrace formats */
		if (take(&c, &sz, 8) || sz > c.left || take(&c, NULL, sz))
			goto bad;
	if (take(&c, &n, 4))
		goto bad;
	for (uint32_t i = 0; i < n; i++) {		/* systems */
		uint32_t cnt;

		if (!(s = take_str(&c)) || take(&c, &cnt, 4))
			goto bad;
		for (uint32_t k = 0; k < cnt; k++) {
			const char *fmt = (const char *)c.p;

			if (take(&c, &sz, 8) || sz > c.left)
				goto bad;
			fmt = (const char *)c.p;
			take(&c, NULL, sz);
			/* pylow's own events are decoded by the reader */
			if (strcmp(s, "pylow"))
				tep_parse_event(d->tep, fmt, sz, s);
		}
	}
	*out = d;
	return 0;
bad:
	plw_tpdec_free(d);
	return -EINVAL;
}

void plw_tpdec_free(struct plw_tpdec *d)
{
	if (!d)
		return;
	tep_free(d->tep);
	free(d);
}

const char *plw_tpdec_fields(struct plw_tpdec *d, const void *raw, size_t len, char *out,
			     size_t outlen)
{
	struct tep_event *ev;
	uint16_t type;
	size_t n = 0;

	out[0] = 0;
	if (!d || len < 8)
		return out;
	memcpy(&type, raw, 2);
	ev = tep_find_event(d->tep, type);
	if (!ev)
		return out;
	for (struct tep_format_field *f = ev->format.fields; f && n < outlen; f = f->next) {
		const unsigned char *p = raw;
		char val[256];

		if ((size_t)f->offset + f->size > len)
			break;
		if (f->flags & TEP_FIELD_IS_DYNAMIC) {
			uint32_t dl, off, l;

			memcpy(&dl, p + f->offset, 4);
			off = dl & 0xffff;
			l = dl >> 16;
			if (f->flags & TEP_FIELD_IS_RELATIVE)
				off += f->offset + f->size;
			if (off + l > len)
				l = 0;
			snprintf(val, sizeof(val), "%.*s", (int)strnlen((const char *)p + off, l),
				 (const char *)p + off);
		} else if (f->flags & TEP_FIELD_IS_STRING) {
			snprintf(val, sizeof(val), "%.*s",
				 (int)strnlen((const char *)p + f->offset, f->size),
				 (const char *)p + f->offset);
		} else if (f->flags & TEP_FIELD_IS_ARRAY) {
			size_t k = 0;

			val[0] = 0;
			for (int i = 0; i < f->size && k + 3 < sizeof(val); i++)
				k += snprintf(val + k, sizeof(val) - k, "%02x", p[f->offset + i]);
		} else {
			unsigned long long v = 0;

			if (tep_read_number_field(f, p, &v))
				continue;
			if (f->flags & TEP_FIELD_IS_SIGNED) {
				long long sv = f->size == 1 ? (int8_t)v : f->size == 2 ? (int16_t)v :
					       f->size == 4 ? (int32_t)v : (long long)v;

				snprintf(val, sizeof(val), "%lld", sv);
			} else if ((f->flags & (TEP_FIELD_IS_POINTER | TEP_FIELD_IS_LONG)) ||
				   v > 0xffffffffull) {
				snprintf(val, sizeof(val), "0x%llx", v);
			} else {
				snprintf(val, sizeof(val), "%llu", v);
			}
		}
		n += snprintf(out + n, outlen - n, "%s%s=%s", n ? " " : "", f->name, val);
	}
	if (n >= outlen)
		out[outlen - 1] = 0;
	return out;
}
