// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * probes.bpf.c - generic probes of `pylow record -e`, like perf's and
 * bpftrace's:
 *
 *   usdt:BINARY:PROVIDER:NAME    on_usdt       PLW_EV_PROBE, args bpf_usdt_arg()
 *   uprobe:BINARY:SYMBOL         on_uprobe     PLW_EV_PROBE, args PT_REGS_PARM1..6
 *   uretprobe:BINARY:SYMBOL      on_uretprobe  PLW_EV_PROBE, args[0] = return value
 *   tracepoint:SYSTEM:NAME       on_tp         PLW_RB_RAW_TP: the raw trace entry
 *
 * With --stacks (stacks.bpf.h) each hit is followed by its stacks: the user
 * stack for usdt/uprobe/uretprobe, kernel and user for tracepoints.
 *
 * Each program is attached once per probe, with the probe's number as its
 * BPF cookie (for usdt: the USDT cookie, libbpf keeps the BPF cookie).
 * Only target processes are recorded (the shared `targets` map).  The ring
 * buffer, targets and counters are pylow.bpf.c's (share_maps() in record/attach.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "format/events.h"
#include "probes.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define RAW_MAX		PLW_TP_RAW_MAX

const volatile struct tp_cfg tp_cfg[PLW_TPS_MAX] = {};

#include "shared.bpf.h"

struct raw_buf {
	struct plw_rb_hdr hdr;
	__u8 raw[RAW_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct raw_buf);
} scratch SEC(".maps");

#include "stacks.bpf.h"

struct hit_rec {
	struct plw_rb_hdr hdr;
	struct plw_probe_hit hit;
};

static __always_inline struct hit_rec *hit_begin(__u32 probe, __u32 nr_args)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct hit_rec *r;

	if (!target_running(pid_tgid >> 32))
		return NULL;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(PLW_CNT_LOST);
		return NULL;
	}
	r->hdr.ts = bpf_ktime_get_ns();
	r->hdr.pid = pid_tgid >> 32;
	r->hdr.tid = (__u32)pid_tgid;
	r->hdr.type = PLW_EV_PROBE;
	r->hdr.cpu = bpf_get_smp_processor_id();
	r->hdr.size = sizeof(r->hit);
	r->hit.probe = probe;
	r->hit.nr_args = nr_args;
	r->hit.pad = 0;
	return r;
}

/* submits R, then its stacks (record --stacks: the user stack) */
static __always_inline void hit_end(void *ctx, struct hit_rec *r)
{
	__u64 ts = r->hdr.ts;
	__u32 pid = r->hdr.pid, tid = r->hdr.tid;
	__s32 ks, us;

	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	plw_stack_capture_user(ctx, &ks, &us);
	plw_stack_emit(&rb, ts, pid, tid, ks, us);
}

SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	int n = bpf_usdt_arg_cnt(ctx);
	struct hit_rec *r;
	long v;

	if (n < 0)
		n = 0;
	if (n > PLW_PROBE_ARGS_MAX)
		n = PLW_PROBE_ARGS_MAX;
	r = hit_begin((__u32)bpf_usdt_cookie(ctx), n);
	if (!r)
		return 0;
	for (int i = 0; i < PLW_PROBE_ARGS_MAX; i++) {
		v = 0;
		if (i < n)
			bpf_usdt_arg(ctx, i, &v);
		r->hit.args[i] = (__u64)v;
	}
	hit_end(ctx, r);
	return 0;
}

SEC("uprobe")
int on_uprobe(struct pt_regs *ctx)
{
	struct hit_rec *r = hit_begin((__u32)bpf_get_attach_cookie(ctx), PLW_PROBE_ARGS_MAX);

	if (!r)
		return 0;
	r->hit.args[0] = PT_REGS_PARM1(ctx);
	r->hit.args[1] = PT_REGS_PARM2(ctx);
	r->hit.args[2] = PT_REGS_PARM3(ctx);
	r->hit.args[3] = PT_REGS_PARM4(ctx);
	r->hit.args[4] = PT_REGS_PARM5(ctx);
#if defined(PT_REGS_PARM6)
	r->hit.args[5] = PT_REGS_PARM6(ctx);
#elif defined(__TARGET_ARCH_x86)
	r->hit.args[5] = ctx->r9;	/* libbpf < 1.2 has no PT_REGS_PARM6 */
#else
	r->hit.args[5] = 0;
#endif
	hit_end(ctx, r);
	return 0;
}

SEC("uretprobe")
int on_uretprobe(struct pt_regs *ctx)
{
	struct hit_rec *r = hit_begin((__u32)bpf_get_attach_cookie(ctx), 1);

	if (!r)
		return 0;
	r->hit.args[0] = PT_REGS_RC(ctx);
	for (int i = 1; i < PLW_PROBE_ARGS_MAX; i++)
		r->hit.args[i] = 0;
	hit_end(ctx, r);
	return 0;
}

/* the raw trace entry (common header + fields + dynamic strings), as perf
 * records it; the recorder writes it as a sample of the tracepoint's attr */
SEC("tracepoint")
int on_tp(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 zero = 0, i = (__u32)bpf_get_attach_cookie(ctx), size, end;
	struct raw_buf *b;

	if (!target_running(pid_tgid >> 32) || i >= PLW_TPS_MAX)
		return 0;
	b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	size = tp_cfg[i].size;
	if (size < 8 || size > RAW_MAX)
		return 0;
	if (bpf_probe_read_kernel(b->raw, size, ctx))
		return 0;
	/* dynamic strings follow the fixed part: copy up to the last one's end */
	end = size;
	for (int k = 0; k < PLW_TP_DL_MAX; k++) {
		__u32 off = tp_cfg[i].dl_off[k], dl, e;

		if (k >= tp_cfg[i].nr_dl || off > RAW_MAX - 4)
			break;
		if (bpf_probe_read_kernel(&dl, 4, (__u8 *)ctx + off))
			break;
		e = (dl & 0xffff) + (dl >> 16) + (tp_cfg[i].dl_rel[k] ? off + 4 : 0);
		if (e > end)
			end = e;
	}
	if (end > RAW_MAX)
		end = RAW_MAX;
	barrier_var(end);
	if (end > RAW_MAX)
		return 0;
	if (end > size && bpf_probe_read_kernel(b->raw, end, ctx))
		return 0;
	/* the kernel puts a pt_regs pointer over the common header of what a
	 * BPF program sees: write it back as perf would record it */
	struct plw_common *c = (struct plw_common *)b->raw;

	c->common_type = tp_cfg[i].id;
	c->common_flags = 0;
	c->common_preempt_count = 0;
	c->common_pid = (__s32)pid_tgid;
	b->hdr.ts = bpf_ktime_get_ns();
	b->hdr.pid = pid_tgid >> 32;
	b->hdr.tid = (__u32)pid_tgid;
	b->hdr.type = PLW_RB_RAW_TP;
	b->hdr.cpu = bpf_get_smp_processor_id();
	b->hdr.size = end;
	if (bpf_ringbuf_output(&rb, b, sizeof(b->hdr) + end, 0)) {
		count(PLW_CNT_LOST);
	} else {
		__s32 ks, us;

		plw_stack_capture(ctx, &ks, &us);
		plw_stack_emit(&rb, b->hdr.ts, b->hdr.pid, b->hdr.tid, ks, us);
	}
	return 0;
}
