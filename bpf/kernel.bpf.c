// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kernel.bpf.c - the kernel event groups of `pylow record -e`:
 *
 *   syscalls  raw_syscalls sys_enter/sys_exit of target threads, paired per
 *             thread in BPF: one PLW_EV_SYSCALL per completed call
 *   sched     sched_switch/sched_wakeup: one PLW_EV_OFFCPU per off-CPU
 *             interval of a target thread, with its reason and the part
 *             spent waiting on a runqueue
 *
 * With --stacks (want_stacks, stacks.bpf.h) each SYSCALL is followed by the
 * thread's stacks at the syscall's exit, each OFFCPU by those at switch-out.
 *
 * The ring buffer, the `targets` map and its generation, the counters and
 * the per-CPU stages are pylow.bpf.c's: the recorder passes their fds
 * (share_maps()) before loading this object.  Records are made at the END
 * of the interval (syscall exit, switch-in) so that the file stays in time
 * order; the payload carries the duration.  Syscalls are staged per CPU
 * with the thread's Python calls when staging is on and --stacks is not
 * (stage.bpf.h), and on_switch empties the stages.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "format/events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NR_SYSCALLS_MAX		1024

/* set by the recorder: syscalls whose args[0] is a file descriptor */
const volatile __u8 fd_arg[NR_SYSCALLS_MAX] = {};

#include "shared.bpf.h"
#include "stage.bpf.h"

#include "stacks.bpf.h"

struct sys_start {
	__u64 ts;
	__u32 nr;
	__s32 fd;
};

/* the syscall in progress of a thread (ts 0: none); task storage: no
 * hashing on the syscall path, freed with the task */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sys_start);
} sys_in SEC(".maps");

struct off_start {
	__u64 out_ts;
	__u64 wake_ts;			/* 0: not woken yet */
	__u32 reason;
	__u32 pid;
	__s32 kstack, ustack;		/* --stacks: taken at switch-out */
};

/* the off-CPU interval in progress of a thread (out_ts 0: none) */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct off_start);
} off_in SEC(".maps");

struct sys_rec {
	struct plw_rb_hdr hdr;
	struct plw_syscall sc;
};

struct off_rec {
	struct plw_rb_hdr hdr;
	struct plw_offcpu off;
};

/* ------------------------------------------------------------ syscalls */

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_start *s;

	if (!target_running(pid_tgid >> 32))
		return 0;
	s = bpf_task_storage_get(&sys_in, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	s->nr = (__u32)id;
	s->fd = -1;
	if (id >= 0 && id < NR_SYSCALLS_MAX && fd_arg[id])
		s->fd = (__s32)plw_sys_arg1(regs);
	s->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct sys_start *s;
	struct sys_rec *r;
	__s32 ks, us;
	__u64 now;

	s = bpf_task_storage_get(&sys_in, bpf_get_current_task_btf(), NULL, 0);
	if (!s || !s->ts)
		return 0;
	now = bpf_ktime_get_ns();
	/* staged with the thread's Python calls (no stacks: they follow it) */
	if (running && stage_on && !want_stacks &&
	    stage_add_sys(pid_tgid, now, s->nr, s->fd, ret, now - s->ts)) {
		s->ts = 0;
		return 0;
	}
	if (running) {
		plw_stack_capture(ctx, &ks, &us);
		r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
		if (!r) {
			count(PLW_CNT_LOST);
		} else {
			plw_hdr(&r->hdr, pid_tgid >> 32, tid, now, PLW_EV_SYSCALL, sizeof(r->sc));
			r->sc.nr = s->nr;
			r->sc.fd = s->fd;
			r->sc.ret = ret;
			r->sc.dur_ns = now - s->ts;
			r->sc.pad = 0;
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
			plw_stack_emit(&rb, now, pid_tgid >> 32, tid, ks, us);
		}
	}
	s->ts = 0;
	return 0;
}

/* ---------------------------------------------------------------- sched */

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 prev_tgid = prev->tgid, prev_tid = prev->pid;
	__u32 next_tid = next->pid;
	struct off_start *o;
	__u64 now = bpf_ktime_get_ns();

	/* a thread that leaves its CPU leaves nothing staged behind (instead
	 * of pylow.bpf.c's stage_switch, which the recorder then detaches) */
	if (stage_on)
		stage_drain();
	if (prev_tid && target_running(prev_tgid)) {
		o = bpf_task_storage_get(&off_in, prev, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (o) {
			o->pid = prev_tgid;
			o->wake_ts = 0;
			o->reason = preempt || prev_state == 0 ? PLW_OFFCPU_PREEMPTED : PLW_OFFCPU_BLOCKED;
			o->out_ts = now;
			plw_stack_capture(ctx, &o->kstack, &o->ustack);
		}
	}
	if (!next_tid)
		return 0;
	o = bpf_task_storage_get(&off_in, next, NULL, 0);
	if (!o || !o->out_ts)
		return 0;
	if (running) {
		struct off_rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

		if (!r) {
			count(PLW_CNT_LOST);
		} else {
			__u64 dur = now - o->out_ts;

			plw_hdr(&r->hdr, o->pid, next_tid, now, PLW_EV_OFFCPU, sizeof(r->off));
			r->off.dur_ns = dur;
			if (o->reason == PLW_OFFCPU_PREEMPTED)
				r->off.runq_ns = dur;
			else
				r->off.runq_ns = o->wake_ts && o->wake_ts <= now ? now - o->wake_ts : 0;
			r->off.reason = o->reason;
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
			plw_stack_emit(&rb, now, o->pid, next_tid, o->kstack, o->ustack);
		}
	}
	o->out_ts = 0;
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	struct off_start *o = bpf_task_storage_get(&off_in, p, NULL, 0);

	if (o && o->out_ts && o->reason == PLW_OFFCPU_BLOCKED && !o->wake_ts)
		o->wake_ts = bpf_ktime_get_ns();
	return 0;
}
