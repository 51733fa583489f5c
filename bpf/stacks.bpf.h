/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * stacks.bpf.h - native stacks on kernel events (`pylow record --stacks`),
 * for any BPF program of pylow:
 *
 *	__s32 k, u;
 *
 *	plw_stack_capture(ctx, &k, &u);		// in the context of the thread
 *	... submit the event (ts, pid, tid) ...
 *	plw_stack_emit(&rb, ts, pid, tid, k, u);	// right after it
 *
 * Stacks go into the `stacks` stack-trace map (ids; the same stack has the
 * same id); the recorder reads and symbolises a stack the first time it sees
 * its id and writes PLW_EV_STACK_DEF before the PLW_EV_STACK (record/stacks.c).
 * record/kernel.c creates the one map of a recording; every object
 * (kernel, kgroups, native, probes) reuses its fd and sets `want_stacks`
 * (rodata) before load (PLW_STACKS_SHARE in record/rec.h), so a stack id
 * names the same stack whichever program captured it.  User stacks are walked by
 * frame pointers (the kernel's unwinder): code built without them gives the
 * innermost frame (the syscall's libc wrapper) and what follows by luck.
 */
#ifndef PYLOW_STACKS_BPF_H
#define PYLOW_STACKS_BPF_H

#define PLW_STACK_DEPTH		64	/* frames kept per stack */

const volatile __u8 want_stacks = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PLW_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 1);		/* set by the recorder with --stacks */
} stacks SEC(".maps");

struct plw_stack_rec {
	struct plw_rb_hdr hdr;
	struct plw_stack st;
};

/* the current thread's kernel and user stacks (-1: not captured) */
static __always_inline void plw_stack_capture(void *ctx, __s32 *kstack, __s32 *ustack)
{
	long k = -1, u = -1;

	if (want_stacks) {
		k = bpf_get_stackid(ctx, &stacks, 0);
		u = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	}
	*kstack = k < 0 ? -1 : (__s32)k;
	*ustack = u < 0 ? -1 : (__s32)u;
}

/* the current thread's user stack only (uprobes: their kernel stack is the
 * breakpoint trap's) */
static __always_inline void plw_stack_capture_user(void *ctx, __s32 *kstack, __s32 *ustack)
{
	long u = -1;

	if (want_stacks)
		u = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	*kstack = -1;
	*ustack = u < 0 ? -1 : (__s32)u;
}

/* PLW_EV_STACK for the event of (TS, PID, TID) just submitted to RINGBUF */
static __always_inline void plw_stack_emit(void *ringbuf, __u64 ts, __u32 pid, __u32 tid,
					   __s32 kstack, __s32 ustack)
{
	struct plw_stack_rec *r;

	if (!want_stacks || (kstack < 0 && ustack < 0))
		return;
	r = bpf_ringbuf_reserve(ringbuf, sizeof(*r), 0);
	if (!r)
		return;
	r->hdr.ts = ts;
	r->hdr.pid = pid;
	r->hdr.tid = tid;
	r->hdr.type = PLW_EV_STACK;
	r->hdr.cpu = bpf_get_smp_processor_id();
	r->hdr.size = sizeof(r->st);
	r->st.kstack = kstack;
	r->st.ustack = ustack;
	r->st.pad = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#endif /* PYLOW_STACKS_BPF_H */
