/* SPDX-License-Identifier: MIT */
/*
 * info.c - `pylow report info`: what a recording holds.  One section per
 * file; reads each file's whole stream to count events (so that a file cut
 * short is described by what it really holds).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

static const char *const ev_names[] = {
	[PLW_EV_PY_ENTRY] = "py_entry",		[PLW_EV_PY_RETURN] = "py_return",
	[PLW_EV_PY_LOC] = "py_loc",		[PLW_EV_PY_GC_START] = "py_gc_start",
	[PLW_EV_PY_GC_DONE] = "py_gc_done",	[PLW_EV_PY_IMPORT_START] = "py_import_start",
	[PLW_EV_PY_IMPORT_DONE] = "py_import_done", [PLW_EV_META] = "meta",
	[PLW_EV_SYSCALL] = "syscall",		[PLW_EV_OFFCPU] = "offcpu",
	[PLW_EV_FAULT] = "fault",		[PLW_EV_IO] = "io",
	[PLW_EV_MEM] = "mem",			[PLW_EV_GIL] = "gil",
	[PLW_EV_EXCEPTION] = "exception",	[PLW_EV_IRQ] = "irq",
	[PLW_EV_TLB] = "tlb",			[PLW_EV_PROBE] = "probe",
	[PLW_EV_STACK] = "stack",		[PLW_EV_STACK_DEF] = "stack_def",
	[PLW_EV_NET_CONN] = "net_conn",		[PLW_EV_NET_LABEL] = "net_label",
};
static const char *const rec_names[] = { "comm", "fork", "exit", "lost", "other" };
#define NR_KINDS	(PLW_EV_MAX + 5)

static const char *kind_name(unsigned k)
{
	if (k > 0 && k < PLW_EV_MAX)
		return ev_names[k];
	if (k >= PLW_EV_MAX && k < NR_KINDS)
		return rec_names[k - PLW_EV_MAX];
	return "unknown";
}

static unsigned kind_index(uint16_t type)
{
	if (type > 0 && type < PLW_EV_MAX)
		return type;
	if (type >= PLW_REC_COMM && type <= PLW_REC_OTHER)
		return PLW_EV_MAX + (type - PLW_REC_COMM);
	return 0;
}

/* threads seen in the stream */
struct seen {
	uint32_t pid, tid;
	uint64_t events, calls;
	uint64_t first, last;
	char comm[16];
};

struct tally {
	uint64_t by_kind[NR_KINDS];
	uint64_t events, first, last;
	/* events earlier than the timed event before them: 0 for a file
	 * pylow wrote (its recorder sorts), not for perf record's */
	uint64_t unordered, prev_ts;
	struct seen *th;
	size_t nr_th, cap_th;
	size_t last_th;
};

static struct seen *seen_get(struct tally *t, uint32_t pid, uint32_t tid)
{
	if (t->last_th < t->nr_th && t->th[t->last_th].tid == tid && t->th[t->last_th].pid == pid)
		return &t->th[t->last_th];
	for (size_t i = 0; i < t->nr_th; i++) {
		if (t->th[i].tid == tid && t->th[i].pid == pid) {
			t->last_th = i;
			return &t->th[i];
		}
	}
	if (t->nr_th == t->cap_th) {
		size_t ncap = t->cap_th ? t->cap_th * 2 : 16;
		struct seen *n = realloc(t->th, ncap * sizeof(*n));

		if (!n)
			return NULL;
		t->th = n;
		t->cap_th = ncap;
	}
	struct seen *s = &t->th[t->nr_th];

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->tid = tid;
	t->last_th = t->nr_th++;
	return s;
}

static int tally_event(struct tally *t, const struct plw_event *ev)
{
	t->by_kind[kind_index(ev->type)]++;
	t->events++;
	/* perf's synthesized records (at startup) carry time 0: not in the span */
	if (ev->ts && (!t->first || ev->ts < t->first))
		t->first = ev->ts;
	if (ev->ts > t->last)
		t->last = ev->ts;
	if (ev->ts) {
		if (ev->ts < t->prev_ts)
			t->unordered++;
		t->prev_ts = ev->ts;
	}
	if (ev->type == PLW_REC_LOST || ev->type == PLW_EV_META || ev->type == PLW_EV_PY_LOC ||
	    ev->type == PLW_REC_OTHER)
		return 0;
	struct seen *s = seen_get(t, ev->pid, ev->tid);

	if (!s)
		return -ENOMEM;
	if (!s->events++)
		s->first = ev->ts;
	s->last = ev->ts;
	if (ev->type == PLW_EV_PY_ENTRY)
		s->calls++;
	if (ev->type == PLW_REC_COMM && ev->u.comm.comm)
		snprintf(s->comm, sizeof(s->comm), "%s", ev->u.comm.comm);
	return 0;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if ((x->tid == x->pid) != (y->tid == y->pid))
		return x->tid == x->pid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static const struct plw_task *find_task(const struct plw_meta *meta, uint32_t pid, uint32_t tid)
{
	for (size_t i = 0; i < meta->nr_tasks; i++)
		if (meta->tasks[i].pid == pid && meta->tasks[i].tid == tid)
			return &meta->tasks[i];
	return NULL;
}

/* every (pid, tid) from the meta tasks and the stream, sorted */
static int collect_threads(struct tally *t, const struct plw_meta *meta)
{
	for (size_t i = 0; i < meta->nr_tasks; i++) {
		struct seen *s = seen_get(t, meta->tasks[i].pid, meta->tasks[i].tid);

		if (!s)
			return -ENOMEM;
	}
	if (t->nr_th)
		qsort(t->th, t->nr_th, sizeof(*t->th), cmp_seen);
	t->last_th = 0;
	return 0;
}

static uint64_t wall(const struct plw_meta *meta, uint64_t ts)
{
	return meta->tod_ns + (ts - meta->mono_ns);
}

static const char *s_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

static void text_info(FILE *out, const char *path, const struct plw_meta *meta,
		      struct tally *t, const struct plw_model_stats *st, const char *damage,
		      uint64_t until)
{
	char buf[64], buf2[64];
	uint64_t first = t->first ? t->first : meta->start_ns;
	uint64_t last = t->last ? t->last : meta->end_ns;

	fprintf(out, "file:       ");
	fputs_safe(path, out);
	fputc('\n', out);
	fprintf(out, "host:       ");
	fputs_safe(s_or(meta->hostname, "(unknown)"), out);
	if (meta->osrelease)
		fprintf(out, "  Linux %s", meta->osrelease);
	if (meta->arch)
		fprintf(out, "  %s", meta->arch);
	if (meta->nr_cpus_online || meta->nr_cpus_avail)
		fprintf(out, "  %u cpus online, %u available", meta->nr_cpus_online,
			meta->nr_cpus_avail);
	fputc('\n', out);
	if (meta->machine_id || meta->boot_id) {
		fprintf(out, "host id:    machine ");
		fputs_safe(s_or(meta->machine_id, "?"), out);
		fprintf(out, "  boot ");
		fputs_safe(s_or(meta->boot_id, "?"), out);
		fputc('\n', out);
	}
	if (meta->cmdline) {
		fprintf(out, "recorder:   ");
		fputs_safe(meta->cmdline, out);
		fputc('\n', out);
	}
	fprintf(out, "finished:   %s\n", meta->finished ? "yes" : meta->truncated ?
		"no: finished, but the file was cut short afterwards (a copy?); read up to its last whole chunk" :
		"no: the recorder did not finish (killed?); read up to its last whole chunk");
	if (first && meta->tod_ns) {
		fprintf(out, "recorded:   %s → %s\n", wall_text(wall(meta, first), buf, sizeof(buf)),
			wall_text(wall(meta, last), buf2, sizeof(buf2)));
	} else if (!meta->tod_ns) {
		fprintf(out, "recorded:   (no wall-clock reference in the file)\n");
	}
	fprintf(out, "duration:   %.3f s\n", last > first ? (last - first) / 1e9 : 0.0);
	if (damage) {
		fprintf(out, "damage:     %s", damage);
		if (until && until >= first)
			fprintf(out, " (intact for the first %.3f s)", (until - first) / 1e9);
		fputc('\n', out);
	} else {
		fprintf(out, "damage:     none\n");
	}
	fprintf(out, "events:     %" PRIu64, t->events);
	const char *sep = "  (";

	for (unsigned k = 1; k < NR_KINDS; k++) {
		if (!t->by_kind[k])
			continue;
		fprintf(out, "%s%s %" PRIu64, sep, kind_name(k), t->by_kind[k]);
		sep = ", ";
	}
	fputs(*sep == ',' ? ")\n" : "\n", out);
	fprintf(out, "calls:      %" PRIu64 " entries, %" PRIu64 " returns; %" PRIu64
		" cut at start, %" PRIu64 " cut at end, %" PRIu64 " incomplete\n",
		st->calls, st->returns, st->cut_start, st->cut_end, st->incomplete);
	uint64_t lost = meta->lost_total > st->lost ? meta->lost_total : st->lost;

	if (t->unordered)
		fprintf(out, "order:      %" PRIu64 " events earlier than the event before them "
			"(not in time order)\n", t->unordered);
	fprintf(out, "lost:       %" PRIu64 " events\n", lost);
	for (size_t i = 0; i < meta->nr_losses; i++) {
		const struct plw_loss *l = &meta->losses[i];

		fprintf(out, "  cpu %u: %" PRIu64 " lost between +%.3f s and +%.3f s\n", l->cpu,
			l->lost, l->start_ns > first ? (l->start_ns - first) / 1e9 : 0.0,
			l->end_ns > first ? (l->end_ns - first) / 1e9 : 0.0);
	}
	fprintf(out, "threads:    %zu\n", t->nr_th);
	for (size_t i = 0; i < t->nr_th; i++) {
		const struct seen *s = &t->th[i];
		const struct plw_task *task = find_task(meta, s->pid, s->tid);
		const char *comm = task && task->comm[0] ? task->comm : s->comm;

		if (s->pid == s->tid || i == 0 || t->th[i - 1].pid != s->pid) {
			const struct plw_task *p = find_task(meta, s->pid, s->pid);

			const char *pcomm = p && p->comm[0] ? p->comm : s->pid == s->tid ? comm : "";

			fprintf(out, "  pid %u", s->pid);
			if (pcomm[0]) {
				fputs("  ", out);
				fputs_safe(pcomm, out);
			}
			if (p && p->python)
				fprintf(out, "  python %s", p->python);
			if (p && p->source && p->source[0])
				fprintf(out, " (%s)", p->source);
			if (p && p->exe) {
				fputs("  exe ", out);
				fputs_safe(p->exe, out);
			}
			if (p && p->cmdline) {
				fputs("  cmdline: ", out);
				fputs_safe(p->cmdline, out);
			}
			fputc('\n', out);
		}
		fprintf(out, "    tid %u", s->tid);
		if (comm[0]) {
			fputs("  ", out);
			fputs_safe(comm, out);
		}
		fprintf(out, "  %" PRIu64 " events, %" PRIu64 " calls\n", s->events, s->calls);
	}
	if (meta->nr_probes) {
		fprintf(out, "probes:\n");
		for (size_t i = 0; i < meta->nr_probes; i++) {
			const struct plw_probe *p = &meta->probes[i];

			fprintf(out, "  %s %s %s", p->attached ? "✓" : "✗", s_or(p->group, "?"),
				s_or(p->name, "?"));
			if (!p->attached)
				fprintf(out, "  (%s)", s_or(p->reason, "not attached"));
			fputc('\n', out);
		}
	}
	if (!t->by_kind[PLW_EV_PY_ENTRY] && !t->by_kind[PLW_EV_PY_RETURN])
		fprintf(out, "note:       no Python events in this file%s\n",
			t->by_kind[PLW_EV_MAX + 4] ? " (a perf recording without pylow events?)" : "");
}

static void json_info(struct jw *j, const char *path, const struct plw_meta *meta,
		      struct tally *t, const struct plw_model_stats *st, const char *damage,
		      uint64_t until)
{
	uint64_t first = t->first ? t->first : meta->start_ns;
	uint64_t last = t->last ? t->last : meta->end_ns;

	jw_obj(j);
	jw_key(j, "file");
	jw_str(j, path);
	jw_key(j, "host");
	jw_str(j, s_or(meta->hostname, ""));
	jw_key(j, "machine_id");
	jw_str(j, s_or(meta->machine_id, ""));
	jw_key(j, "boot_id");
	jw_str(j, s_or(meta->boot_id, ""));
	jw_key(j, "kernel");
	jw_str(j, s_or(meta->osrelease, ""));
	jw_key(j, "arch");
	jw_str(j, s_or(meta->arch, ""));
	jw_key(j, "cpus_online");
	jw_u64(j, meta->nr_cpus_online);
	jw_key(j, "cpus_available");
	jw_u64(j, meta->nr_cpus_avail);
	jw_key(j, "recorder_cmdline");
	jw_str(j, s_or(meta->cmdline, ""));
	jw_key(j, "finished");
	jw_bool(j, meta->finished);
	jw_key(j, "first_ns");
	jw_u64(j, first);
	jw_key(j, "last_ns");
	jw_u64(j, last);
	jw_key(j, "duration_ns");
	jw_u64(j, last > first ? last - first : 0);
	if (meta->tod_ns) {
		jw_key(j, "wall_start_ns");
		jw_u64(j, wall(meta, first));
		jw_key(j, "wall_end_ns");
		jw_u64(j, wall(meta, last));
	}
	jw_key(j, "damage");
	if (damage) {
		jw_obj(j);
		jw_key(j, "what");
		jw_str(j, damage);
		jw_key(j, "complete_until_ns");
		jw_u64(j, until);
		jw_obj_end(j);
	} else {
		jw_null(j);
	}
	jw_key(j, "events");
	jw_u64(j, t->events);
	jw_key(j, "events_by_kind");
	jw_obj(j);
	for (unsigned k = 1; k < NR_KINDS; k++) {
		if (!t->by_kind[k])
			continue;
		jw_key(j, kind_name(k));
		jw_u64(j, t->by_kind[k]);
	}
	jw_obj_end(j);
	jw_key(j, "calls");
	jw_obj(j);
	jw_key(j, "entries");
	jw_u64(j, st->calls);
	jw_key(j, "returns");
	jw_u64(j, st->returns);
	jw_key(j, "cut_start");
	jw_u64(j, st->cut_start);
	jw_key(j, "cut_end");
	jw_u64(j, st->cut_end);
	jw_key(j, "incomplete");
	jw_u64(j, st->incomplete);
	jw_obj_end(j);
	jw_key(j, "unordered_events");
	jw_u64(j, t->unordered);
	jw_key(j, "lost");
	jw_obj(j);
	jw_key(j, "total");
	jw_u64(j, meta->lost_total > st->lost ? meta->lost_total : st->lost);
	jw_key(j, "windows");
	jw_arr(j);
	for (size_t i = 0; i < meta->nr_losses; i++) {
		jw_obj(j);
		jw_key(j, "cpu");
		jw_u64(j, meta->losses[i].cpu);
		jw_key(j, "start_ns");
		jw_u64(j, meta->losses[i].start_ns);
		jw_key(j, "end_ns");
		jw_u64(j, meta->losses[i].end_ns);
		jw_key(j, "lost");
		jw_u64(j, meta->losses[i].lost);
		jw_obj_end(j);
	}
	jw_arr_end(j);
	jw_obj_end(j);
	jw_key(j, "threads");
	jw_arr(j);
	for (size_t i = 0; i < t->nr_th; i++) {
		const struct seen *s = &t->th[i];
		const struct plw_task *task = find_task(meta, s->pid, s->tid);

		jw_obj(j);
		jw_key(j, "pid");
		jw_u64(j, s->pid);
		jw_key(j, "tid");
		jw_u64(j, s->tid);
		jw_key(j, "comm");
		jw_str(j, task && task->comm[0] ? task->comm : s->comm);
		jw_key(j, "exe");
		jw_str(j, task ? s_or(task->exe, "") : "");
		jw_key(j, "cmdline");
		jw_str(j, task ? s_or(task->cmdline, "") : "");
		jw_key(j, "python");
		jw_str(j, task ? s_or(task->python, "") : "");
		jw_key(j, "source");
		jw_str(j, task ? s_or(task->source, "") : "");
		jw_key(j, "events");
		jw_u64(j, s->events);
		jw_key(j, "calls");
		jw_u64(j, s->calls);
		jw_obj_end(j);
	}
	jw_arr_end(j);
	jw_key(j, "probes");
	jw_arr(j);
	for (size_t i = 0; i < meta->nr_probes; i++) {
		const struct plw_probe *p = &meta->probes[i];

		jw_obj(j);
		jw_key(j, "group");
		jw_str(j, s_or(p->group, ""));
		jw_key(j, "name");
		jw_str(j, s_or(p->name, ""));
		jw_key(j, "attached");
		jw_bool(j, p->attached);
		if (!p->attached) {
			jw_key(j, "reason");
			jw_str(j, s_or(p->reason, ""));
		}
		jw_obj_end(j);
	}
	jw_arr_end(j);
	jw_obj_end(j);
}

/* One file: read it all, then describe it. */
static int info_one(const struct report_opts *o, const char *path, struct jw *j,
		    struct report_result *res)
{
	struct report_opts one = *o;
	struct source src;
	struct tally t = { 0 };
	struct plw_model *m = NULL;
	struct plw_model_opts mo = { 0 };
	struct plw_merge_event ev;
	int err, ret;

	one.paths = &path;
	one.nr_paths = 1;
	err = source_open(&src, &one, res);
	if (err)
		return err;
	mo.resolve = source_resolve;
	mo.ctx = &src;
	if (plw_model_new(&m, &mo)) {
		err = -ENOMEM;
		res_err(res, err, "out of memory");
		goto out;
	}
	while ((ret = source_next(&src, &ev, res)) > 0) {
		if (tally_event(&t, &ev.ev) || plw_model_feed(m, 0, &ev.ev)) {
			ret = -ENOMEM;
			res_err(res, ret, "out of memory");
			break;
		}
	}
	if (ret < 0) {
		err = ret;
		goto out;
	}
	plw_model_finish(m, 0);
	source_damage(&src, res);

	uint64_t until = 0;
	struct plw_reader *r = plw_merge_reader(src.m, 0);
	const char *damage = plw_reader_damage(r, &until);
	const struct plw_meta *meta = plw_reader_meta(r);

	if (collect_threads(&t, meta)) {
		err = -ENOMEM;
		res_err(res, err, "out of memory");
		goto out;
	}
	if (o->json)
		json_info(j, path, meta, &t, plw_model_stats(m), damage, until);
	else
		text_info(o->out, path, meta, &t, plw_model_stats(m), damage, until);
out:
	free(t.th);
	plw_model_free(m);
	source_close(&src);
	return err;
}

int report_info(const struct report_opts *o, struct report_result *res)
{
	struct jw j;
	int err = 0;

	/* open them all first: a missing file fails before any output */
	for (size_t i = 0; i < o->nr_paths; i++) {
		struct report_opts one = *o;
		struct source src;

		one.paths = &o->paths[i];
		one.nr_paths = 1;
		err = source_open(&src, &one, res);
		if (err)
			return err;
		source_close(&src);
	}
	jw_init(&j, o->out);
	if (o->json) {
		jw_obj(&j);
		jw_key(&j, "files");
		jw_arr(&j);
	}
	for (size_t i = 0; i < o->nr_paths && !err; i++) {
		if (i && !o->json)
			fputc('\n', o->out);
		err = info_one(o, o->paths[i], &j, res);
	}
	if (o->json) {
		jw_arr_end(&j);
		if (err) {
			jw_key(&j, "error");
			jw_str(&j, res->msg);
			res->msg[0] = 0;
		}
		jw_obj_end(&j);
	}
	return err;
}
