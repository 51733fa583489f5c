/* SPDX-License-Identifier: MIT */
/* common.c - input source, JSON writer and formatting helpers for reports. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"
#include "report_int.h"

void res_err(struct report_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	res->err = err;
	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- source */

static const char *o_path(const struct source *s, size_t i)
{
	return i < s->n ? s->paths[i] : "?";
}

int source_open(struct source *s, const struct report_opts *o, struct report_result *res)
{
	memset(s, 0, sizeof(*s));
	s->paths = o->paths;
	int err = plw_merge_open(&s->m, o->paths, o->nr_paths, o->strict ? 0 : PLW_READ_SALVAGE);

	if (err) {
		size_t bad = s->m ? plw_merge_inputs(s->m) : 0;

		if ((err == -ENOENT || err == -EACCES || err == -EPERM || err == -EISDIR ||
		     err == -ENOTDIR || err == -ELOOP) && bad > 0 && bad <= o->nr_paths)
			res_err(res, err, "cannot open %s: %s", o->paths[bad - 1], strerror(-err));
		else
			res_err(res, err, "%s", s->m ? plw_merge_error(s->m) : strerror(-err));
		plw_merge_free(s->m);
		s->m = NULL;
		return err;
	}
	s->n = plw_merge_inputs(s->m);
	if (s->n > 1 && rnet_hosts_differ(s)) {
		s->net = calloc(1, sizeof(*s->net));
		err = s->net ? rnet_prepare(s->net, o, s, res) : -ENOMEM;
		if (err) {
			if (!s->net)
				res_err(res, err, "out of memory");
			source_close(s);
			return err;
		}
	}
	return 0;
}

int source_next(struct source *s, struct plw_merge_event *ev, struct report_result *res)
{
	int ret = plw_merge_next(s->m, ev);

	if (ret < 0) {
		res_err(res, ret, "%s", plw_merge_error(s->m));
		return ret;
	}
	if (ret) {
		uint64_t ts = ev->ev.ts;

		if (!s->events++ || ts < s->first_ts)
			s->first_ts = ts;
		if (ts > s->last_ts)
			s->last_ts = ts;
	}
	return ret;
}

void source_damage(struct source *s, struct report_result *res)
{
	for (size_t i = 0; i < s->n && res->nr_warn < REPORT_MAX_WARN; i++) {
		uint64_t until = 0;
		const char *d = plw_reader_damage(plw_merge_reader(s->m, i), &until);

		if (d && strstr(d, o_path(s, i)))
			snprintf(res->warn[res->nr_warn++], sizeof(res->warn[0]), "%s", d);
		else if (d)
			snprintf(res->warn[res->nr_warn++], sizeof(res->warn[0]), "%s: %s",
				 o_path(s, i), d);
	}
}

void source_close(struct source *s)
{
	if (s->net) {
		rnet_free(s->net);
		free(s->net);
		s->net = NULL;
	}
	plw_merge_free(s->m);
	s->m = NULL;
}

const struct plw_loc *source_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	struct source *s = ctx;

	return plw_merge_loc(s->m, input, loc);
}

const char *source_name(const struct source *s, const struct report_opts *o, uint32_t input)
{
	return input < o->nr_paths ? o->paths[input] : "?";
}

int source_model_pass(struct source *s, const struct plw_model_opts *mo, struct plw_model **m,
		      const int *cb_err, struct report_result *res)
{
	int err;

	if (plw_model_new(m, mo)) {
		res_err(res, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	if ((err = source_run_model(s, *m, res)))
		return err;
	if (*cb_err) {
		res_err(res, *cb_err, "out of memory");
		return *cb_err;
	}
	source_damage(s, res);
	return 0;
}

int source_run_model(struct source *s, struct plw_model *m, struct report_result *res)
{
	struct plw_merge_event ev;
	struct plw_reader *r = plw_merge_single(s->m);
	int ret;

	if (r) {
		/* one file: straight from the reader, no merge step per event */
		uint64_t events = s->events, first = s->first_ts, last = s->last_ts;

		ev.input = 0;
		while ((ret = plw_reader_next(r, &ev.ev)) > 0) {
			uint64_t ts = ev.ev.ts;

			if (!events++ || ts < first)
				first = ts;
			if (ts > last)
				last = ts;
			ret = plw_model_feed(m, 0, &ev.ev);
			if (ret) {
				s->events = events, s->first_ts = first, s->last_ts = last;
				res_err(res, ret, "out of memory building call trees");
				return ret;
			}
		}
		s->events = events, s->first_ts = first, s->last_ts = last;
		if (ret < 0) {
			plw_merge_read_error(s->m, 0, ret);
			res_err(res, ret, "%s", plw_merge_error(s->m));
			return ret;
		}
		return plw_model_finish(m, 0);
	}
	while ((ret = source_next(s, &ev, res)) > 0) {
		ret = plw_model_feed(m, ev.input, &ev.ev);
		if (ret) {
			res_err(res, ret, "out of memory building call trees");
			return ret;
		}
	}
	if (ret < 0)
		return ret;
	return plw_model_finish(m, 0);
}

/* ------------------------------------------------------------------ json */

void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	putc('"', f);
	for (; *p; p++) {
		unsigned char c = *p;

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(f, "\\u%04x", c);
			} else if (c < 0x80) {
				putc(c, f);
			} else {
				/* pass valid UTF-8 through, escape invalid bytes as U+FFFD */
				int n = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
				int k;

				if (c >= 0xf5)
					n = -1;
				for (k = 1; n > 0 && k <= n; k++)
					if ((p[k] & 0xc0) != 0x80)
						break;
				if (n < 0 || k <= n) {
					fputs("\\ufffd", f);
				} else {
					fwrite(p, 1, n + 1, f);
					p += n;
				}
			}
		}
	}
	putc('"', f);
}

void jw_init(struct jw *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static bool jw_comma(const struct jw *j)
{
	return j->comma[j->depth / 64] >> (j->depth % 64) & 1;
}

static void jw_set_comma(struct jw *j, bool v)
{
	uint64_t bit = 1ULL << (j->depth % 64);

	if (v)
		j->comma[j->depth / 64] |= bit;
	else
		j->comma[j->depth / 64] &= ~bit;
}

static void jw_sep(struct jw *j)
{
	if (j->key) {
		j->key = false;
		return;
	}
	if (j->depth > 0 && jw_comma(j))
		putc(',', j->f);
	jw_set_comma(j, true);
}

static void jw_open(struct jw *j, char c)
{
	jw_sep(j);
	putc(c, j->f);
	if (j->depth < JW_MAX_DEPTH - 1)
		j->depth++;
	jw_set_comma(j, false);
}

static void jw_close(struct jw *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	putc(c, j->f);
	if (j->depth == 0)
		putc('\n', j->f);
}

void jw_obj(struct jw *j) { jw_open(j, '{'); }
void jw_obj_end(struct jw *j) { jw_close(j, '}'); }
void jw_arr(struct jw *j) { jw_open(j, '['); }
void jw_arr_end(struct jw *j) { jw_close(j, ']'); }

void jw_strs(struct jw *j, const char *key, const char *const *s, size_t n)
{
	jw_key(j, key);
	jw_arr(j);
	for (size_t i = 0; i < n; i++)
		jw_str(j, s[i]);
	jw_arr_end(j);
}

void jw_node_site(struct jw *j, const struct plw_node *n)
{
	jw_key(j, "name");
	jw_str(j, n->site->name);
	jw_key(j, "file");
	jw_str(j, n->site->file);
	jw_key(j, "line");
	jw_u64(j, n->site->line);
	jw_key(j, "kind");
	jw_str(j, plw_kind_name(n->site->kind));
	jw_key(j, "input");
	jw_u64(j, n->input);
}

void jw_damage(struct jw *j, const struct report_result *res)
{
	jw_key(j, "damage");
	jw_arr(j);
	for (size_t i = 0; i < res->nr_warn; i++)
		jw_str(j, res->warn[i]);
	jw_arr_end(j);
}

void jw_key(struct jw *j, const char *key)
{
	jw_sep(j);
	json_string(j->f, key);
	putc(':', j->f);
	j->key = true;
}

void jw_str(struct jw *j, const char *s)
{
	jw_sep(j);
	json_string(j->f, s);
}

void jw_u64(struct jw *j, uint64_t v)
{
	jw_sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void jw_i64(struct jw *j, int64_t v)
{
	jw_sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void jw_bool(struct jw *j, bool v)
{
	jw_sep(j);
	fputs(v ? "true" : "false", j->f);
}

void jw_null(struct jw *j)
{
	jw_sep(j);
	fputs("null", j->f);
}

static const struct {
	uint32_t flag;
	const char *json, *text;
} flag_names[] = {
	{ PLW_NODE_CUT_START, "cut_start", "[cut at start]" },
	{ PLW_NODE_CUT_END, "cut_end", "[cut at end]" },
	{ PLW_NODE_INCOMPLETE, "incomplete", "[incomplete]" },
};

void jw_flags(struct jw *j, uint32_t flags)
{
	jw_arr(j);
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if (flags & flag_names[i].flag)
			jw_str(j, flag_names[i].json);
	jw_arr_end(j);
}

const char *flags_text(uint32_t flags, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		if ((flags & flag_names[i].flag) && off < len)
			off += snprintf(buf + off, len - off, "  %s", flag_names[i].text);
	return buf;
}

const char *wall_text(uint64_t wall_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(wall_ns / 1000000000ULL);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%06u UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ns % 1000000000ULL / 1000));
	return buf;
}

const char *where_text(const struct plw_site *s, char *buf, size_t len)
{
	if (!s->file || !s->file[0])
		buf[0] = 0;
	else
		snprintf(buf, len, "%s:%u", s->file, s->line);
	return buf;
}

void fputs_safe(const char *s, FILE *f)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		putc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}
