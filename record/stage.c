/* SPDX-License-Identifier: MIT */
/*
 * stage.c - the timer that empties the per-CPU stages of Python calls and
 * syscalls (bpf/stage.bpf.h, format/events.h "PLW_RB_PY_STAGE"): a
 * cpu-clock perf event on every online CPU runs stage_tick every
 * PLW_STAGE_TICK_NS, stage_switch runs at every context switch (an idle CPU
 * may get no tick) unless kernel.bpf.c's on_switch does it, and what the
 * stages still hold once every program is detached is read from the map.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rec.h"

struct stage_ticks {
	int nr;				/* possible CPUs */
	int *fds;			/* -1: offline */
	struct bpf_link **links;
	struct bpf_link *on_switch;	/* stage_switch on sched_switch */
};

int stage_ticks_open(struct stage_ticks **out)
{
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = PLW_STAGE_TICK_NS,	/* cpu-clock counts ns */
	};
	struct stage_ticks *t;
	int nr = libbpf_num_possible_cpus(), online = 0, err = 0;

	*out = NULL;
	if (nr <= 0)
		return nr < 0 ? nr : -ENODEV;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->fds = malloc(nr * sizeof(*t->fds))) ||
	    !(t->links = calloc(nr, sizeof(*t->links)))) {
		stage_ticks_free(t);
		return -ENOMEM;
	}
	t->nr = nr;
	for (int cpu = 0; cpu < nr; cpu++)
		t->fds[cpu] = -1;
	for (int cpu = 0; cpu < nr; cpu++) {
		t->fds[cpu] = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (t->fds[cpu] >= 0) {
			online++;
		} else if (errno != ENODEV) {	/* ENODEV: CPU offline */
			err = -errno;
			break;
		}
	}
	if (!err && !online)
		err = -ENODEV;
	if (err) {
		stage_ticks_free(t);
		return err;
	}
	*out = t;
	return 0;
}

int stage_ticks_attach(struct stage_ticks *t, struct bpf_program *tick,
		       struct bpf_program *on_switch)
{
	t->on_switch = bpf_program__attach(on_switch);
	if (!t->on_switch) {
		int err = -errno;

		return err ? err : -EINVAL;
	}
	for (int cpu = 0; cpu < t->nr; cpu++) {
		if (t->fds[cpu] < 0)
			continue;
		t->links[cpu] = bpf_program__attach_perf_event(tick, t->fds[cpu]);
		if (!t->links[cpu]) {
			int err = -errno;

			stage_ticks_detach(t);
			return err ? err : -EINVAL;
		}
	}
	return 0;
}

void stage_ticks_switch_off(struct stage_ticks *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->on_switch);
	t->on_switch = NULL;
}

void stage_ticks_detach(struct stage_ticks *t)
{
	if (!t)
		return;
	stage_ticks_switch_off(t);
	if (!t->fds)
		return;
	for (int cpu = 0; cpu < t->nr; cpu++) {
		if (t->links && t->links[cpu])
			bpf_link__destroy(t->links[cpu]);	/* closes the perf event too */
		else if (t->fds[cpu] >= 0)
			close(t->fds[cpu]);
		if (t->links)
			t->links[cpu] = NULL;
		t->fds[cpu] = -1;
	}
}

void stage_ticks_free(struct stage_ticks *t)
{
	if (!t)
		return;
	stage_ticks_detach(t);
	free(t->links);
	free(t->fds);
	free(t);
}

int stage_collect(int map_fd, struct sink *s)
{
	int nr = libbpf_num_possible_cpus(), err = 0;
	size_t vsz = (sizeof(struct plw_py_stage) + 7) & ~7ul;
	unsigned char *vals;
	uint32_t zero = 0;

	if (nr <= 0)
		return nr < 0 ? nr : -ENODEV;
	vals = calloc(nr, vsz);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &zero, vals)) {
		err = -errno;
		free(vals);
		return err;
	}
	for (int cpu = 0; cpu < nr && !err; cpu++) {
		struct plw_py_stage *st = (void *)(vals + cpu * vsz);

		/* busy: a flush was under way (it reaches the ring buffer) */
		if (!st->st.nr || st->busy)
			continue;
		/* the whole array: the sink takes nr events of it, at most all */
		st->hdr.size = sizeof(st->st) + sizeof(st->ev);
		err = sink_feed(s, &st->hdr, &st->st);
		if (err == -ENOSPC)	/* added; the batch is full */
			err = 0;
	}
	free(vals);
	return err;
}
