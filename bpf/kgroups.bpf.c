// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kgroups.bpf.c - the event groups faults, io, irq and tlb of
 * `pylow record -e` (record/kgroups.c loads it):
 *
 *   faults  exceptions:page_fault_user of target threads: one PLW_EV_FAULT
 *           per fault (address, error code)
 *   io      block requests: the thread that creates a request
 *           (block_io_start; block_rq_issue on kernels without it) owns it;
 *           issue (block_rq_issue) to completion (block_rq_complete) is one
 *           PLW_EV_IO, stamped at the completion, for that thread
 *   irq     hard irqs (irq_handler_entry/exit) and softirqs (softirq_entry/
 *           exit) that ran while a target thread was current: one PLW_EV_IRQ
 *           per handler run; a hard irq nested in a softirq is taken out of
 *           the softirq's time
 *   tlb     tlb:tlb_flush while a target thread is current (a remote
 *           shootdown: the thread the IPI interrupted; a task-switch flush:
 *           the thread switched in); task switches that flush nothing
 *           (pages 0) are not flushes and are skipped
 *
 * With --stacks (stacks.bpf.h; the stack map is kernel.c's, fd reused):
 * faults carry the kernel and user stacks at the fault (the user stack
 * starts at the faulting instruction); io the kernel and user stacks of
 * the thread creating the request (kept in io_in, emitted after the
 * PLW_EV_IO at completion); irq and tlb none (interrupt context: the
 * interrupted code is not what caused them).
 *
 * As in kernel.bpf.c, the ring buffer, `targets` and the counters are
 * pylow.bpf.c's (share_maps() in record/attach.c), and programs of groups
 * not selected are not loaded (autoload off), so they cost nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "format/events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* set by the recorder: no block_io_start on this kernel, requests are
 * owned by the thread issuing them */
const volatile bool own_at_issue = false;

#include "shared.bpf.h"

#include "stacks.bpf.h"

/* reserves a record of payload SIZE for PID/TID stamped TS, or NULL (lost) */
static __always_inline void *reserve(__u32 size, __u32 pid, __u32 tid, __u64 ts, __u16 type)
{
	struct plw_rb_hdr *h = bpf_ringbuf_reserve(&rb, sizeof(*h) + size, 0);

	if (!h) {
		count(PLW_CNT_LOST);
		return NULL;
	}
	plw_hdr(h, pid, tid, ts, type, size);
	return h;
}

static __always_inline void submit(void *r)
{
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* --------------------------------------------------------------- faults */

struct fault_rec {
	struct plw_rb_hdr hdr;
	struct plw_fault f;
};

SEC("tp_btf/page_fault_user")
int BPF_PROG(on_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 ts;
	struct fault_rec *r;
	__s32 ks, us;

	if (!target_running(pid_tgid >> 32))
		return 0;
	plw_stack_capture(ctx, &ks, &us);
	ts = bpf_ktime_get_ns();
	r = reserve(sizeof(r->f), pid_tgid >> 32, (__u32)pid_tgid, ts, PLW_EV_FAULT);
	if (!r)
		return 0;
	r->f.addr = address;
	r->f.error_code = (__u32)error_code;
	submit(r);
	plw_stack_emit(&rb, ts, pid_tgid >> 32, (__u32)pid_tgid, ks, us);
	return 0;
}

/* ------------------------------------------------------------------- io */

struct io_start {
	__u64 issue_ts;			/* 0: not issued yet */
	__u64 sector;
	__u32 pid, tid;
	__u32 bytes, dev, op;
	__s32 kstack, ustack;		/* --stacks: of the creating thread */
};

/* requests of target threads in flight, by address; LRU: a request whose
 * completion is never seen (a driver that fails it early) ages out */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct io_start);
} io_in SEC(".maps");

struct io_rec {
	struct plw_rb_hdr hdr;
	struct plw_io io;
};

static __always_inline __u32 rq_op(struct request *rq)
{
	__u32 flags = BPF_CORE_READ(rq, cmd_flags);
	__u32 op;

	switch (flags & 0xff) {		/* REQ_OP_MASK */
	case 0: op = PLW_IO_READ; break;
	case 1: op = PLW_IO_WRITE; break;
	case 2: op = PLW_IO_FLUSH; break;
	case 3: op = PLW_IO_DISCARD; break;
	default: op = PLW_IO_OTHER; break;
	}
	if (flags & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)))
		op |= PLW_IO_SYNC;
	return op;
}

static __always_inline void io_own(void *ctx, struct request *rq)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 key = (__u64)rq;
	struct io_start s = {};

	if (!target_running(pid_tgid >> 32))
		return;
	s.pid = pid_tgid >> 32;
	s.tid = (__u32)pid_tgid;
	plw_stack_capture(ctx, &s.kstack, &s.ustack);
	bpf_map_update_elem(&io_in, &key, &s, BPF_ANY);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(on_io_start, struct request *rq)
{
	io_own(ctx, rq);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(on_rq_issue, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct io_start *s = bpf_map_lookup_elem(&io_in, &key);
	struct gendisk *disk;

	if (!s) {
		/* kernels without block_io_start: the issuing thread owns it */
		if (!own_at_issue)
			return 0;
		io_own(ctx, rq);
		s = bpf_map_lookup_elem(&io_in, &key);
		if (!s)
			return 0;
	}
	s->issue_ts = bpf_ktime_get_ns();
	s->sector = BPF_CORE_READ(rq, __sector);
	s->bytes = BPF_CORE_READ(rq, __data_len);
	s->op = rq_op(rq);
	disk = BPF_CORE_READ(rq, q, disk);
	s->dev = disk ? ((__u32)BPF_CORE_READ(disk, major) << 20 |
			 (__u32)BPF_CORE_READ(disk, first_minor)) : 0;
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(on_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	struct io_start *s = bpf_map_lookup_elem(&io_in, &key);
	struct io_rec *r;
	__u64 now;

	if (!s)
		return 0;
	/* completed in parts: one event, at the last part */
	if (nr_bytes < BPF_CORE_READ(rq, __data_len))
		return 0;
	if (s->issue_ts && running) {
		now = bpf_ktime_get_ns();
		r = reserve(sizeof(r->io), s->pid, s->tid, now, PLW_EV_IO);
		if (r) {
			r->io.dur_ns = now - s->issue_ts;
			r->io.sector = s->sector;
			r->io.bytes = s->bytes;
			r->io.dev = s->dev;
			r->io.op = s->op | (error ? PLW_IO_ERROR : 0);
			submit(r);
			plw_stack_emit(&rb, now, s->pid, s->tid, s->kstack, s->ustack);
		}
	}
	bpf_map_delete_elem(&io_in, &key);
	return 0;
}

/* ------------------------------------------------------------------ irq */

struct irq_start {
	__u64 ts;			/* 0: none in progress on a target */
	__u64 nested_ns;		/* soft: hard irq time inside it */
	__u32 pid, tid, vec;
};

/* per CPU: [0] the hard irq, [1] the softirq in progress */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct irq_start);
} irq_in SEC(".maps");

struct irq_rec {
	struct plw_rb_hdr hdr;
	struct plw_irq irq;
};

static __always_inline void irq_enter(__u32 kind, __u32 vec)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct irq_start *s = bpf_map_lookup_elem(&irq_in, &kind);

	if (!s)
		return;
	s->ts = 0;
	if (!target_running(pid_tgid >> 32))
		return;
	s->pid = pid_tgid >> 32;
	s->tid = (__u32)pid_tgid;
	s->vec = vec;
	s->nested_ns = 0;
	s->ts = bpf_ktime_get_ns();
}

static __always_inline void irq_exit(__u32 kind, __u32 vec)
{
	struct irq_start *s = bpf_map_lookup_elem(&irq_in, &kind);
	__u32 soft = PLW_IRQ_SOFT;
	struct irq_start *o;
	struct irq_rec *r;
	__u64 now, dur;

	if (!s || !s->ts || s->vec != vec)
		return;
	now = bpf_ktime_get_ns();
	dur = now - s->ts;
	s->ts = 0;
	if (kind == PLW_IRQ_HARD) {
		o = bpf_map_lookup_elem(&irq_in, &soft);
		if (o && o->ts)
			o->nested_ns += dur;
	} else {
		dur = dur > s->nested_ns ? dur - s->nested_ns : 0;
	}
	r = reserve(sizeof(r->irq), s->pid, s->tid, now, PLW_EV_IRQ);
	if (!r)
		return;
	r->irq.dur_ns = dur;
	r->irq.vec = vec;
	r->irq.kind = kind;
	r->irq.pad = 0;
	submit(r);
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(on_hardirq_entry, int irq, struct irqaction *action)
{
	irq_enter(PLW_IRQ_HARD, (__u32)irq);
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(on_hardirq_exit, int irq, struct irqaction *action, int ret)
{
	irq_exit(PLW_IRQ_HARD, (__u32)irq);
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(on_softirq_entry, unsigned int vec)
{
	irq_enter(PLW_IRQ_SOFT, vec);
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(on_softirq_exit, unsigned int vec)
{
	irq_exit(PLW_IRQ_SOFT, vec);
	return 0;
}

/* ------------------------------------------------------------------ tlb */

/* per CPU: the task being switched in (tlb flushes on task switch run
 * before the switch, with the previous task still current) */
struct next_task {
	__u32 pid, tid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct next_task);
} tlb_next SEC(".maps");

struct tlb_rec {
	struct plw_rb_hdr hdr;
	struct plw_tlb tlb;
};

SEC("tp_btf/sched_switch")
int BPF_PROG(on_tlb_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 zero = 0;
	struct next_task *n = bpf_map_lookup_elem(&tlb_next, &zero);

	if (n) {
		n->pid = next->tgid;
		n->tid = next->pid;
	}
	return 0;
}

SEC("tp_btf/tlb_flush")
int BPF_PROG(on_tlb_flush, int reason, unsigned long pages)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32, tid = (__u32)pid_tgid, zero = 0;
	struct tlb_rec *r;

	if (reason == PLW_TLB_TASK_SWITCH) {
		struct next_task *n = bpf_map_lookup_elem(&tlb_next, &zero);

		if (!pages || !n)
			return 0;	/* nothing flushed */
		pid = n->pid;
		tid = n->tid;
	}
	if (!target_running(pid))
		return 0;
	r = reserve(sizeof(r->tlb), pid, tid, bpf_ktime_get_ns(), PLW_EV_TLB);
	if (!r)
		return 0;
	r->tlb.reason = (__u32)reason;
	r->tlb.pages = pages > 0xfffffffeul ? 0xffffffffu : (__u32)pages;
	r->tlb.pad = 0;
	submit(r);
	return 0;
}
