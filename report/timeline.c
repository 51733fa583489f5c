/* SPDX-License-Identifier: MIT */
/*
 * timeline.c - `pylow report timeline`: every entry and return in time
 * order, indented by the thread's depth.  Streams: no trees are built.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "report_int.h"
#include "probes.h"

struct timeline {
	const struct report_opts *o;
	struct source *src;
	struct jw j;
	uint64_t base;			/* first event: time 0 */
	bool has_base;
	uint64_t lines;
	struct plw_model *m;
	/* per input: tracepoint decoder from its tracing data (tried once) */
	struct plw_tpdec **dec;
	bool *dec_tried;
	size_t nr_dec;
};

static const struct plw_loc *tl_resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return source_resolve(((struct timeline *)ctx)->src, input, loc);
}

static bool wanted(const struct timeline *t, const struct plw_call_info *ci)
{
	return (!t->o->has_pid || ci->pid == t->o->pid) && (!t->o->has_tid || ci->tid == t->o->tid);
}

/* Line formatting by hand: printf is most of the cost of a timeline. */
struct line {
	char buf[1024];
	size_t len;
};

static void put(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* V right-aligned in WIDTH */
static void put_u64(struct line *l, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (width-- > n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = ' ';
	while (n-- > 0 && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[n];
}

/* NS as milliseconds with 3 decimals (rounded to the microsecond), the
 * integer part right-aligned in WIDTH - 4 */
static void put_ms(struct line *l, uint64_t ns, int width)
{
	uint64_t us = (ns + 500) / 1000;

	put_u64(l, us / 1000, width - 4);
	if (l->len + 4 < sizeof(l->buf)) {
		l->buf[l->len++] = '.';
		l->buf[l->len++] = (char)('0' + us % 1000 / 100);
		l->buf[l->len++] = (char)('0' + us % 100 / 10);
		l->buf[l->len++] = (char)('0' + us % 10);
	}
}

static void put_safe(struct line *l, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : "");
	     *p && l->len < sizeof(l->buf) - 1; p++)
		l->buf[l->len++] = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
}

static void prefix(struct timeline *t, struct line *l, const struct plw_call_info *ci)
{
	uint64_t rel = ci->ts > t->base ? ci->ts - t->base : 0;

	l->len = 0;
	put(l, "[");
	put_ms(l, rel, 12);
	put(l, "ms]");
	if (t->src->n > 1)
		put_u64(l, ci->input, 3);
	put_u64(l, ci->pid, 8);
	put_u64(l, ci->tid, 8);
	put(l, "  ");
	for (uint32_t i = 0; i < ci->depth && l->len < 512; i++)
		put(l, "  ");
}

static void emit(struct timeline *t, struct line *l)
{
	l->buf[l->len++] = '\n';
	fwrite(l->buf, 1, l->len, t->o->out);
}

static void json_common(struct timeline *t, const struct plw_call_info *ci, const char *what)
{
	struct jw *j = &t->j;

	jw_obj(j);
	jw_key(j, "event");
	jw_str(j, what);
	jw_key(j, "t_ns");
	jw_u64(j, ci->ts > t->base ? ci->ts - t->base : 0);
	jw_key(j, "ts");
	jw_u64(j, ci->ts);
	jw_key(j, "input");
	jw_u64(j, ci->input);
	jw_key(j, "pid");
	jw_u64(j, ci->pid);
	jw_key(j, "tid");
	jw_u64(j, ci->tid);
	jw_key(j, "depth");
	jw_u64(j, ci->depth);
	jw_key(j, "name");
	jw_str(j, ci->site->name);
	jw_key(j, "file");
	jw_str(j, ci->site->file);
	jw_key(j, "line");
	jw_u64(j, ci->site->line);
	jw_key(j, "kind");
	jw_str(j, plw_kind_name(ci->site->kind));
}

static void tl_enter(void *ctx, const struct plw_call_info *ci)
{
	struct timeline *t = ctx;
	char where[512];

	if (!wanted(t, ci))
		return;
	t->lines++;
	if (t->o->json) {
		json_common(t, ci, "entry");
		jw_obj_end(&t->j);
		return;
	}
	struct line l;

	prefix(t, &l, ci);
	put(&l, "→ ");
	put_safe(&l, ci->site->name);
	put(&l, "()");
	where_text(ci->site, where, sizeof(where));
	if (where[0]) {
		put(&l, "  ");
		put_safe(&l, where);
	}
	emit(t, &l);
}

static void tl_exit(void *ctx, const struct plw_call_info *ci)
{
	struct timeline *t = ctx;
	char fl[64];
	bool slow = t->o->threshold_ns && ci->dur_ns > t->o->threshold_ns;

	if (!wanted(t, ci))
		return;
	t->lines++;
	if (t->o->json) {
		json_common(t, ci, "return");
		jw_key(&t->j, "start_ns");
		jw_u64(&t->j, ci->start_ns);
		jw_key(&t->j, "dur_ns");
		jw_u64(&t->j, ci->dur_ns);
		jw_key(&t->j, "slow");
		jw_bool(&t->j, slow);
		jw_key(&t->j, "flags");
		jw_flags(&t->j, ci->flags);
		jw_obj_end(&t->j);
		return;
	}
	struct line l;

	prefix(t, &l, ci);
	put(&l, "← ");
	put_safe(&l, ci->site->name);
	put(&l, "()  [");
	put_ms(&l, ci->dur_ns, 0);
	put(&l, "ms]");
	if (slow)
		put(&l, "  ⚠ SLOW");
	put(&l, flags_text(ci->flags, fl, sizeof(fl)));
	emit(t, &l);
}

/* the fields of a FAULT, IO, IRQ or TLB leaf */
static void tl_kevent_json(struct jw *j, const struct plw_leaf_info *li)
{
	switch (li->kind) {
	case PLW_KIND_FAULT:
		jw_key(j, "addr"); jw_u64(j, li->addr);
		jw_key(j, "error_code"); jw_u64(j, li->error_code);
		jw_key(j, "write"); jw_bool(j, li->error_code & PLW_FAULT_WRITE);
		break;
	case PLW_KIND_IO:
		jw_key(j, "op"); jw_str(j, plw_io_op_name(li->io_op));
		jw_key(j, "sync"); jw_bool(j, li->io_op & PLW_IO_SYNC);
		jw_key(j, "error"); jw_bool(j, li->io_op & PLW_IO_ERROR);
		jw_key(j, "bytes"); jw_u64(j, li->bytes);
		jw_key(j, "sector"); jw_u64(j, li->sector);
		jw_key(j, "dev_major"); jw_u64(j, li->dev >> 20);
		jw_key(j, "dev_minor"); jw_u64(j, li->dev & 0xfffff);
		break;
	case PLW_KIND_IRQ:
		jw_key(j, "irq"); jw_str(j, li->irq_kind == PLW_IRQ_SOFT ? "soft" : "hard");
		jw_key(j, "vec"); jw_u64(j, li->vec);
		break;
	case PLW_KIND_TLB:
		jw_key(j, "reason"); jw_u64(j, li->tlb_reason);
		jw_key(j, "pages");
		if (li->pages == 0xffffffffu)
			jw_str(j, "all");
		else
			jw_u64(j, li->pages);
		break;
	default:
		break;
	}
}

static void tl_kevent_text(struct line *l, const struct plw_leaf_info *li)
{
	char b[96];

	switch (li->kind) {
	case PLW_KIND_FAULT:
		snprintf(b, sizeof(b), "  at 0x%llx%s", (unsigned long long)li->addr,
			 li->error_code & PLW_FAULT_WRITE ? " (write)" : "");
		break;
	case PLW_KIND_IO:
		snprintf(b, sizeof(b), "  dev %u:%u sector %llu%s%s", li->dev >> 20, li->dev & 0xfffff,
			 (unsigned long long)li->sector, li->io_op & PLW_IO_SYNC ? " sync" : "",
			 li->io_op & PLW_IO_ERROR ? " ERROR" : "");
		break;
	case PLW_KIND_TLB:
		if (li->pages == 0xffffffffu)
			snprintf(b, sizeof(b), "  all pages");
		else
			snprintf(b, sizeof(b), "  %u page%s", li->pages, li->pages == 1 ? "" : "s");
		break;
	default:
		return;
	}
	put(l, b);
}

static struct plw_tpdec *decoder(struct timeline *t, uint32_t input)
{
	if (input >= t->nr_dec) {
		size_t n = input + 1;
		struct plw_tpdec **d = realloc(t->dec, n * sizeof(*d));
		bool *tr;

		if (!d)
			return NULL;
		t->dec = d;
		tr = realloc(t->dec_tried, n * sizeof(*tr));
		if (!tr)
			return NULL;
		t->dec_tried = tr;
		memset(t->dec + t->nr_dec, 0, (n - t->nr_dec) * sizeof(*d));
		memset(t->dec_tried + t->nr_dec, 0, (n - t->nr_dec) * sizeof(*tr));
		t->nr_dec = n;
	}
	if (!t->dec_tried[input]) {
		struct plw_reader *r = plw_merge_reader(t->src->m, input);
		size_t len = 0;
		const void *td = r ? plw_reader_tracing_data(r, &len) : NULL;

		t->dec_tried[input] = true;
		if (td)
			plw_tpdec_new(&t->dec[input], td, len);
	}
	return t->dec[input];
}

static void arg_text(uint64_t v, char *out, size_t len)
{
	if (v < 65536)
		snprintf(out, len, "%llu", (unsigned long long)v);
	else
		snprintf(out, len, "0x%llx", (unsigned long long)v);
}

/* what a probe hit or tracepoint sample carries: "ret=3" or "arg0=.. ",
 * or the tracepoint's fields by name */
static const char *probe_text(struct timeline *t, const struct plw_call_info *ci,
			      const struct plw_leaf_info *li, char *out, size_t len)
{
	const struct plw_event *ev = li->ev;
	size_t n = 0;

	out[0] = 0;
	if (!ev)
		return out;
	if (ev->type != PLW_EV_PROBE)
		return plw_tpdec_fields(decoder(t, ci->input), ev->payload, ev->len, out, len);
	const char *kind = plw_model_probe_kind(t->m, ci->input, ev->u.probe.probe);

	if (kind && !strcmp(kind, "uretprobe")) {
		snprintf(out, len, "ret=%lld", (long long)ev->u.probe.args[0]);
		return out;
	}
	for (uint32_t i = 0; i < ev->u.probe.nr_args && i < PLW_PROBE_ARGS_MAX && n < len; i++) {
		char a[32];

		arg_text(ev->u.probe.args[i], a, sizeof(a));
		n += snprintf(out + n, len - n, "%sarg%u=%s", i ? " " : "", i, a);
	}
	return out;
}

/* one line per native frame, under the event (record --stacks) */
static void stack_lines(struct timeline *t, const struct plw_call_info *at, uint32_t id1,
			const char *what)
{
	const char *fr = id1 ? plw_model_stack(t->m, at->input, id1 - 1, NULL) : NULL;

	while (fr && *fr) {
		size_t n = strcspn(fr, "\n");
		struct line l;
		char f[512];

		snprintf(f, sizeof(f), "%.*s", (int)n, fr);
		prefix(t, &l, at);
		put(&l, "  │ ");
		put(&l, what);
		put(&l, " ");
		put_safe(&l, f);
		emit(t, &l);
		t->lines++;
		fr += n + (fr[n] == '\n');
	}
}

static void stack_json(struct timeline *t, uint32_t input, uint32_t id1, const char *key)
{
	const char *fr = id1 ? plw_model_stack(t->m, input, id1 - 1, NULL) : NULL;

	if (!fr)
		return;
	jw_key(&t->j, key);
	jw_arr(&t->j);
	while (*fr) {
		size_t n = strcspn(fr, "\n");
		char f[512];

		snprintf(f, sizeof(f), "%.*s", (int)n, fr);
		jw_str(&t->j, f);
		fr += n + (fr[n] == '\n');
	}
	jw_arr_end(&t->j);
}

/* the stacks of a syscall, after it */
static void tl_stack(void *ctx, const struct plw_call_info *ci, uint32_t kstack1, uint32_t ustack1)
{
	struct timeline *t = ctx;
	struct plw_call_info at = *ci;

	if (!wanted(t, ci))
		return;
	at.ts = ci->start_ns;
	if (t->o->json) {
		t->lines++;
		json_common(t, &at, "stack");
		stack_json(t, ci->input, kstack1, "kernel_stack");
		stack_json(t, ci->input, ustack1, "user_stack");
		jw_obj_end(&t->j);
		return;
	}
	stack_lines(t, &at, kstack1, "kernel");
	stack_lines(t, &at, ustack1, "user  ");
}

/* a kernel event (syscall, off-CPU, fault, io, irq, tlb), at its start, one
 * level under the frame it happened in */
static void tl_leaf(void *ctx, const struct plw_call_info *ci, const struct plw_leaf_info *li)
{
	struct timeline *t = ctx;
	struct plw_node n = {
		.site = ci->site, .count = 1, .dur_ns = ci->dur_ns, .bytes = li->bytes,
		.fd1 = li->fd >= 0 ? (uint32_t)li->fd + 1 : 0,
	};
	struct plw_call_info at = *ci;
	char lab[256];

	if (!wanted(t, ci))
		return;
	t->lines++;
	at.ts = ci->start_ns;
	if (li->kind == PLW_KIND_PROBE) {
		char txt[1024];

		probe_text(t, ci, li, txt, sizeof(txt));
		if (t->o->json) {
			json_common(t, &at, li->ev && li->ev->type == PLW_EV_PROBE ? "probe" : "tracepoint");
			if (li->ev && li->ev->type == PLW_EV_PROBE) {
				jw_key(&t->j, "probe");
				jw_u64(&t->j, li->ev->u.probe.probe);
				jw_key(&t->j, "args");
				jw_arr(&t->j);
				for (uint32_t i = 0; i < li->ev->u.probe.nr_args && i < PLW_PROBE_ARGS_MAX; i++)
					jw_u64(&t->j, li->ev->u.probe.args[i]);
				jw_arr_end(&t->j);
			}
			jw_key(&t->j, "text");
			jw_str(&t->j, txt);
			jw_obj_end(&t->j);
			return;
		}
		struct line l;

		prefix(t, &l, &at);
		put(&l, "· ");
		put_safe(&l, ci->site->name);
		if (txt[0]) {
			put(&l, " ");
			put_safe(&l, txt);
		}
		emit(t, &l);
		return;
	}
	if (t->o->json) {
		json_common(t, &at, plw_kind_name(li->kind));
		jw_key(&t->j, "start_ns");
		jw_u64(&t->j, ci->start_ns);
		jw_key(&t->j, "dur_ns");
		jw_u64(&t->j, ci->dur_ns);
		if (li->kind == PLW_KIND_SYSCALL) {
			jw_key(&t->j, "nr");
			jw_u64(&t->j, li->nr);
			jw_key(&t->j, "fd");
			if (li->fd >= 0)
				jw_u64(&t->j, li->fd);
			else
				jw_null(&t->j);
			jw_key(&t->j, "ret");
			jw_i64(&t->j, li->ret);
			jw_key(&t->j, "bytes");
			jw_u64(&t->j, li->bytes);
		} else if (li->kind == PLW_KIND_OFFCPU) {
			jw_key(&t->j, "runq_ns");
			jw_u64(&t->j, li->runq_ns);
			stack_json(t, ci->input, li->kstack1, "kernel_stack");
			stack_json(t, ci->input, li->ustack1, "user_stack");
		} else if (li->kind == PLW_KIND_MEM) {
			jw_key(&t->j, "op");
			jw_str(&t->j, ci->site->name);
			jw_key(&t->j, "addr");
			jw_u64(&t->j, li->ev->u.mem.addr);
			jw_key(&t->j, "size");
			jw_u64(&t->j, li->ev->u.mem.size);
			jw_key(&t->j, "old_addr");
			jw_u64(&t->j, li->ev->u.mem.old_addr);
		} else if (li->kind == PLW_KIND_EXCEPTION) {
			jw_key(&t->j, "type");
			jw_str(&t->j, ci->site->name);
		} else {
			tl_kevent_json(&t->j, li);
		}
		jw_obj_end(&t->j);
		return;
	}
	struct line l;

	prefix(t, &l, &at);
	put(&l, "· ");
	kernel_label(&n, lab, sizeof(lab));
	put_safe(&l, lab);
	if (li->kind != PLW_KIND_FAULT && li->kind != PLW_KIND_TLB &&	/* counted, not timed */
	    li->kind != PLW_KIND_MEM && li->kind != PLW_KIND_EXCEPTION) {
		put(&l, "  [");
		put_ms(&l, ci->dur_ns, 0);
		put(&l, "ms]");
	}
	if (li->kind == PLW_KIND_SYSCALL && li->ret < 0) {
		char e[32];

		snprintf(e, sizeof(e), "  = %lld", (long long)li->ret);
		put(&l, e);
	}
	if (li->kind == PLW_KIND_OFFCPU && li->reason == PLW_OFFCPU_BLOCKED && li->runq_ns) {
		put(&l, "  runqueue ");
		put_ms(&l, li->runq_ns, 0);
		put(&l, "ms");
	}
	tl_kevent_text(&l, li);
	emit(t, &l);
	stack_lines(t, &at, li->kstack1, "kernel");
	stack_lines(t, &at, li->ustack1, "user  ");
}

/* a LOST record, where it happened: which calls nearby are incomplete */
static void tl_lost(struct timeline *t, uint32_t input, const struct plw_event *ev)
{
	uint64_t rel = ev->ts > t->base ? ev->ts - t->base : 0;

	t->lines++;
	if (t->o->json) {
		struct jw *j = &t->j;

		jw_obj(j);
		jw_key(j, "event");
		jw_str(j, "lost");
		jw_key(j, "t_ns");
		jw_u64(j, rel);
		jw_key(j, "ts");
		jw_u64(j, ev->ts);
		jw_key(j, "input");
		jw_u64(j, input);
		jw_key(j, "cpu");
		jw_u64(j, ev->cpu);
		jw_key(j, "lost");
		jw_u64(j, ev->u.lost.lost);
		jw_obj_end(j);
		return;
	}
	struct line l;

	l.len = 0;
	put(&l, "[");
	put_ms(&l, rel, 12);
	put(&l, "ms]");
	if (t->src->n > 1)
		put_u64(&l, input, 3);
	put(&l, "  ⚠ LOST ");
	put_u64(&l, ev->u.lost.lost, 0);
	put(&l, " events on cpu ");
	put_u64(&l, ev->cpu, 0);
	emit(t, &l);
}

/* "127.0.0.1:80", "[::1]:80", "unix" */
static void net_addr(unsigned family, const uint8_t *a, unsigned port, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (family == AF_INET) {
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, port);
	} else if (family == AF_INET6) {
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, port);
	} else {
		snprintf(out, len, "%s", family == AF_UNIX ? "unix" : "?");
	}
}

static const char *const net_ops[] = { "connect", "accept", "close", "listen" };
static const char *const net_protos[] = { "?", "http_req", "http_resp", "redis", "pg" };

/* a NET_CONN or NET_LABEL event, one line (no frame: they are not leaves here) */
static void tl_net(struct timeline *t, uint32_t input, const struct plw_event *ev)
{
	uint64_t rel = ev->ts > t->base ? ev->ts - t->base : 0;
	bool conn = ev->type == PLW_EV_NET_CONN;
	char la[80], ra[80];

	if ((t->o->has_pid && ev->pid != t->o->pid) || (t->o->has_tid && ev->tid != t->o->tid))
		return;
	t->lines++;
	if (conn) {
		const struct plw_net_conn *c = &ev->u.conn;

		net_addr(c->family, c->laddr, c->lport, la, sizeof(la));
		net_addr(c->family, c->raddr, c->rport, ra, sizeof(ra));
	}
	if (t->o->json) {
		struct jw *j = &t->j;

		jw_obj(j);
		jw_key(j, "event");
		jw_str(j, conn ? "net_conn" : "net_label");
		jw_key(j, "t_ns");
		jw_u64(j, rel);
		jw_key(j, "ts");
		jw_u64(j, ev->ts);
		jw_key(j, "input");
		jw_u64(j, input);
		jw_key(j, "pid");
		jw_u64(j, ev->pid);
		jw_key(j, "tid");
		jw_u64(j, ev->tid);
		if (conn) {
			const struct plw_net_conn *c = &ev->u.conn;

			jw_key(j, "op");
			jw_str(j, c->op < 4 ? net_ops[c->op] : "?");
			jw_key(j, "fd");
			jw_i64(j, c->fd);
			jw_key(j, "family");
			jw_str(j, c->family == AF_INET ? "ipv4" : c->family == AF_INET6 ? "ipv6" :
				  c->family == AF_UNIX ? "unix" : "?");
			jw_key(j, "local");
			jw_str(j, la);
			jw_key(j, "peer");
			jw_str(j, ra);
			jw_key(j, "lport");
			jw_u64(j, c->lport);
			jw_key(j, "rport");
			jw_u64(j, c->rport);
			jw_key(j, "conn");
			jw_u64(j, c->conn);
			jw_key(j, "bytes_tx");
			jw_u64(j, c->bytes_tx);
			jw_key(j, "bytes_rx");
			jw_u64(j, c->bytes_rx);
		} else {
			jw_key(j, "dir");
			jw_str(j, ev->u.label.dir == PLW_DIR_SEND ? "send" : "recv");
			jw_key(j, "proto");
			jw_str(j, ev->u.label.proto < 5 ? net_protos[ev->u.label.proto] : "?");
			jw_key(j, "tls");
			jw_bool(j, ev->u.label.flags & PLW_LABEL_TLS);
			jw_key(j, "fd");
			jw_i64(j, ev->u.label.fd);
			jw_key(j, "conn");
			jw_u64(j, ev->u.label.conn);
			jw_key(j, "method");
			jw_str(j, ev->u.label.method);
			jw_key(j, "target");
			jw_str(j, ev->u.label.target);
			jw_key(j, "host");
			jw_str(j, ev->u.label.host);
			jw_key(j, "status");
			jw_u64(j, ev->u.label.status);
			jw_key(j, "traceparent");
			jw_str(j, ev->u.label.traceparent);
		}
		jw_obj_end(j);
		return;
	}
	struct line l;
	char num[48];

	l.len = 0;
	put(&l, "[");
	put_ms(&l, rel, 12);
	put(&l, "ms]");
	if (t->src->n > 1)
		put_u64(&l, input, 3);
	put_u64(&l, ev->pid, 8);
	put_u64(&l, ev->tid, 8);
	put(&l, "  ⇄ ");
	if (conn) {
		const struct plw_net_conn *c = &ev->u.conn;

		put(&l, c->op < 4 ? net_ops[c->op] : "?");
		snprintf(num, sizeof(num), " fd=%d ", c->fd);
		put(&l, num);
		put(&l, la);
		if (c->op != PLW_NET_LISTEN && c->family != AF_UNIX && c->rport) {
			put(&l, c->op == PLW_NET_ACCEPT ? " ← " : " → ");
			put(&l, ra);
		}
		if (c->op == PLW_NET_CLOSE) {
			snprintf(num, sizeof(num), "  sent %" PRIu64 " B, received %" PRIu64 " B",
				 (uint64_t)c->bytes_tx, (uint64_t)c->bytes_rx);
			put(&l, num);
		}
	} else {
		const char *proto = ev->u.label.proto == PLW_PROTO_REDIS ? "redis" :
				    ev->u.label.proto == PLW_PROTO_PG ? "sql" :
				    ev->u.label.flags & PLW_LABEL_TLS ? "https" : "http";

		put(&l, proto);
		put(&l, ev->u.label.dir == PLW_DIR_SEND ? " send " : " recv ");
		if (ev->u.label.proto == PLW_PROTO_HTTP_RESP) {
			put_u64(&l, ev->u.label.status, 0);
		} else {
			put_safe(&l, ev->u.label.method);
			put(&l, " ");
			if (ev->u.label.proto == PLW_PROTO_HTTP_REQ)
				put_safe(&l, ev->u.label.host);
			put_safe(&l, ev->u.label.target);
		}
		if (ev->u.label.traceparent[0]) {
			put(&l, "  traceparent=");
			put_safe(&l, ev->u.label.traceparent);
		}
		snprintf(num, sizeof(num), "  fd=%d", ev->u.label.fd);
		put(&l, num);
	}
	emit(t, &l);
}

int report_timeline(const struct report_opts *o, struct report_result *res)
{
	struct source src;
	struct timeline t = { .o = o, .src = &src };
	struct plw_model *m = NULL;
	struct plw_merge_event ev;
	int err = source_open(&src, o, res), ret;

	if (err)
		return err;
	struct plw_model_opts mo = {
		.on_enter = tl_enter, .on_exit = tl_exit, .on_leaf = tl_leaf, .kernel_leaves = true, .resolve = tl_resolve, .ctx = &t,
		.on_stack = tl_stack,
	};
	if (plw_model_new(&m, &mo)) {
		res_err(res, -ENOMEM, "out of memory");
		err = -ENOMEM;
		goto out;
	}
	t.m = m;
	if (o->json) {
		jw_init(&t.j, o->out);
		jw_obj(&t.j);
		jw_key(&t.j, "files");
		jw_arr(&t.j);
		for (size_t i = 0; i < o->nr_paths; i++)
			jw_str(&t.j, o->paths[i]);
		jw_arr_end(&t.j);
		jw_key(&t.j, "threshold_ns");
		jw_u64(&t.j, o->threshold_ns);
		jw_key(&t.j, "events");
		jw_arr(&t.j);
	}
	while ((ret = source_next(&src, &ev, res)) > 0) {
		if (!t.has_base) {
			t.base = ev.ev.ts;
			t.has_base = true;
		}
		if (ev.ev.type == PLW_REC_LOST)
			tl_lost(&t, ev.input, &ev.ev);
		else if (ev.ev.type == PLW_EV_NET_CONN || ev.ev.type == PLW_EV_NET_LABEL)
			tl_net(&t, ev.input, &ev.ev);
		ret = plw_model_feed(m, ev.input, &ev.ev);
		if (ret) {
			res_err(res, ret, "out of memory");
			break;
		}
	}
	if (ret < 0) {
		err = ret;
		if (o->json) {
			/* close the document so that it stays valid JSON */
			jw_arr_end(&t.j);
			jw_key(&t.j, "error");
			jw_str(&t.j, res->msg);
			jw_obj_end(&t.j);
			res->err = 0;	/* already reported */
			res->msg[0] = 0;
		}
		goto out;
	}
	plw_model_finish(m, 0);
	source_damage(&src, res);
	const struct plw_model_stats *st = plw_model_stats(m);

	if (o->json) {
		jw_arr_end(&t.j);
		jw_key(&t.j, "lost");
		jw_u64(&t.j, st->lost);
		jw_key(&t.j, "damage");
		jw_arr(&t.j);
		for (size_t i = 0; i < res->nr_warn; i++)
			jw_str(&t.j, res->warn[i]);
		jw_arr_end(&t.j);
		jw_obj_end(&t.j);
	} else if (!st->calls && !st->returns) {
		fprintf(o->out, "no Python calls in %s (%" PRIu64 " events, none from Python)\n",
			o->nr_paths == 1 ? o->paths[0] : "these files", st->events);
	} else if (!t.lines) {
		fprintf(o->out, "no Python calls match the filters\n");
	} else if (st->lost) {
		fprintf(o->out, "%" PRIu64 " events were lost while recording: calls open then are marked [incomplete]\n",
			st->lost);
	}
out:
	for (size_t i = 0; i < t.nr_dec; i++)
		plw_tpdec_free(t.dec[i]);
	free(t.dec);
	free(t.dec_tried);
	plw_model_free(m);
	source_close(&src);
	return err;
}
