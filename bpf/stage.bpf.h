/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * stage.bpf.h - events staged per CPU and sent to user space in batches
 * (format/events.h "PLW_RB_PY_STAGE"): Python calls and returns
 * (pylow.bpf.c) and completed syscalls (kernel.bpf.c).  A ring buffer
 * record per event costs its program a reserve and a submit, a quarter of
 * py_entry's time and ~45 ns of each syscall's exit (W2).
 *
 * pylow.bpf.c owns stage_map; kernel.bpf.c reuses its fd (share_maps() in
 * record/attach.c).  The recorder sets `stage_on` in each object once the
 * timer program (pylow.bpf.c's stage_tick) runs on every CPU; whatever
 * still waits in a stage at the end is read from the map.  `busy` makes a
 * stage one program's at a time: uprobe programs may be preempted (6.x runs
 * them with migration, not preemption, disabled) and the timer program
 * interrupts them; whoever finds it busy writes its event directly, or
 * flushes at the next tick.  Needs shared.bpf.h.
 */
#ifndef PYLOW_STAGE_BPF_H
#define PYLOW_STAGE_BPF_H

volatile __u32 stage_on = 0;		/* set once the timer runs on every CPU */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct plw_py_stage);
} stage_map SEC(".maps");

static __always_inline bool stage_take(struct plw_py_stage *s)
{
	return __sync_lock_test_and_set(&s->busy, 1) == 0;
}

static __always_inline void stage_give(struct plw_py_stage *s)
{
	/* BPF runs in program order on this CPU, the only one that looks */
	asm volatile("" ::: "memory");
	s->busy = 0;
}

/* writes the staged events as one record (its owner: busy taken) */
static __always_inline void stage_flush(struct plw_py_stage *s)
{
	__u32 nr = s->st.nr;

	if (!nr)
		return;
	if (nr > PLW_STAGE_MAX)
		nr = PLW_STAGE_MAX;
	s->st.nr = nr;
	s->hdr.size = sizeof(s->st) + nr * sizeof(s->ev[0]);
	if (bpf_ringbuf_output(&rb, &s->hdr, sizeof(s->hdr) + sizeof(s->st) +
			       nr * sizeof(s->ev[0]), BPF_RB_NO_WAKEUP))
		count_n(PLW_CNT_LOST, nr > s->st.nsys ? nr - s->st.nsys : 0);
	s->st.nr = 0;
	s->st.nsys = 0;
}

/* this CPU's stage, taken, with room for SLOTS more slots of PID_TGID's
 * process (what it held of another process, or for too long, went out);
 * NULL if busy.  *N: the first free slot */
static __always_inline struct plw_py_stage *stage_open(__u64 pid_tgid, __u64 ts, __u32 slots,
							__u32 *n)
{
	__u32 zero = 0;
	struct plw_py_stage *s = bpf_map_lookup_elem(&stage_map, &zero);

	if (!s || !stage_take(s))
		return NULL;
	*n = s->st.nr;
	if (*n && (s->hdr.pid != pid_tgid >> 32 || ts - s->hdr.ts > PLW_STAGE_NS ||
		   *n + slots > PLW_STAGE_MAX)) {
		stage_flush(s);
		*n = 0;
	}
	if (!*n) {
		fill_hdr(&s->hdr, pid_tgid & 0xffffffff00000000ull, ts, PLW_RB_PY_STAGE, 0);
		s->st.nsys = 0;
	}
	return s;
}

/* N slots are used now; a full stage goes out */
static __always_inline void stage_close(struct plw_py_stage *s, __u32 n)
{
	s->st.nr = n;
	if (n >= PLW_STAGE_MAX)
		stage_flush(s);
	stage_give(s);
}

/* stages one Python call or return; false: write it directly */
static __always_inline bool stage_add_py(__u64 pid_tgid, __u64 ts, bool ret, __u32 id)
{
	struct plw_rb_py_ev *e;
	struct plw_py_stage *s;
	__u32 n;

	if (id & (PLW_STAGE_RET | PLW_STAGE_SYS))
		return false;
	s = stage_open(pid_tgid, ts, 1, &n);
	if (!s)
		return false;
	e = &s->ev[n & (PLW_STAGE_MAX - 1)];
	e->ts = ts;
	e->tid = (__u32)pid_tgid;
	e->op = id | (ret ? PLW_STAGE_RET : 0);
	stage_close(s, n + 1);
	return true;
}

/* stages a completed syscall (two slots); false: write it directly */
static __always_inline bool stage_add_sys(__u64 pid_tgid, __u64 ts, __u32 nr, __s32 fd,
					  __s64 ret, __u64 dur)
{
	struct plw_rb_py_ev *e;
	struct plw_py_stage *s;
	__u32 n;

	if (nr > PLW_STAGE_SYS_NR_MAX || fd < -1 || fd >= PLW_STAGE_SYS_FD_MAX)
		return false;
	s = stage_open(pid_tgid, ts, 2, &n);
	if (!s)
		return false;
	e = &s->ev[n & (PLW_STAGE_MAX - 1)];
	e->ts = ts;
	e->tid = (__u32)pid_tgid;
	e->op = PLW_STAGE_SYS | nr | (__u32)(fd + 1) << PLW_STAGE_SYS_FD_SHIFT;
	e = &s->ev[(n + 1) & (PLW_STAGE_MAX - 1)];
	e->ts = dur;
	e->tid = (__u32)ret;
	e->op = (__u32)((__u64)ret >> 32);
	s->st.nsys++;
	stage_close(s, n + 2);
	return true;
}

/* what waits in this CPU's stage goes out, unless a program has it */
static __always_inline void stage_drain(void)
{
	__u32 zero = 0;
	struct plw_py_stage *s = bpf_map_lookup_elem(&stage_map, &zero);

	if (s && s->st.nr && stage_take(s)) {
		stage_flush(s);
		stage_give(s);
	}
}

#endif /* PYLOW_STAGE_BPF_H */
