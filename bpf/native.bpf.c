// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * native.bpf.c - the native event groups of `pylow record -e` (uprobes; the
 * user side is record/native.c):
 *
 *   mem         libc malloc, calloc, realloc, free, posix_memalign,
 *               aligned_alloc/memalign: one PLW_EV_MEM per call, stamped at
 *               its return (free: at its entry).  A call made inside
 *               another allocator call of the same thread (glibc's
 *               realloc(NULL, n) runs malloc, realloc(p, 0) runs free,
 *               memalign with a small alignment runs malloc) is not counted
 *               again: the outer call is the event.
 *   gil         CPython's take_gil(): entry and return.  A PLW_EV_GIL when the
 *               thread slept inside it (its voluntary context switch count
 *               grew: it waited on the GIL's condition variable or mutex);
 *               wait_ns is entry to return.  Takes that did not sleep (the
 *               GIL was free) are not events.
 *   exceptions  _PyErr_SetObject(tstate, type, value) (3.8+) or
 *               PyErr_SetObject(type, value) (older): the bpf cookie is the
 *               1-based argument holding the type.  One PLW_EV_EXCEPTION with
 *               the type's tp_name per raise.
 *
 * With --stacks (stacks.bpf.h; the stack map is kernel.c's, fd reused) each
 * event is followed by the user stack of its thread at the call: mem at the
 * allocator's entry (kept in mem_in until its return), gil at take_gil's
 * entry, exceptions at the raise.  No kernel stacks (a uprobe's is the
 * breakpoint trap's).
 *
 * The ring buffer, the `targets` map and the counters are pylow.bpf.c's
 * (share_maps() in record/attach.c), as in kernel.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "format/events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#include "shared.bpf.h"

/* internal op: posix_memalign returns an int and writes the pointer */
#define OP_POSIX_MEMALIGN	100

/* the allocator call in progress of a thread */
struct mem_in {
	__u64 size;
	__u64 old;
	__u64 memptr;			/* posix_memalign's void ** */
	__u32 op;
	__u32 depth;			/* nesting: only the outermost call is an event */
	__s32 ustack;			/* --stacks: at the outermost call's entry */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);		/* tid */
	__type(value, struct mem_in);
} mem_in SEC(".maps");

struct gil_in {
	__u64 ts;
	__u64 nvcsw;
	__s32 ustack;			/* --stacks: at take_gil's entry */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);		/* tid */
	__type(value, struct gil_in);
} gil_in SEC(".maps");

struct mem_rec {
	struct plw_rb_hdr hdr;
	struct plw_mem mem;
};

struct gil_rec {
	struct plw_rb_hdr hdr;
	struct plw_gil gil;
};

#define EXC_NAME_MAX	128
struct exc_rec {
	struct plw_rb_hdr hdr;
	struct plw_exception exc;
	char name[EXC_NAME_MAX];
};

#include "stacks.bpf.h"

/* ------------------------------------------------------------------ mem */

static __always_inline int mem_enter(void *ctx, __u32 op, __u64 size, __u64 old, __u64 memptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct mem_in *s, zero = {};

	if (!target_running(pid_tgid >> 32))
		return 0;
	s = bpf_map_lookup_elem(&mem_in, &tid);
	if (!s) {
		bpf_map_update_elem(&mem_in, &tid, &zero, BPF_ANY);
		s = bpf_map_lookup_elem(&mem_in, &tid);
		if (!s)
			return 0;
	}
	if (s->depth == 0) {
		__s32 ks;

		plw_stack_capture_user(ctx, &ks, &s->ustack);
		s->op = op;
		s->size = size;
		s->old = old;
		s->memptr = memptr;
	}
	if (s->depth < 8)
		s->depth++;
	return 0;
}

/* the event, then its user stack USTACK (-1: none) */
static __always_inline void mem_submit(__u64 pid_tgid, __u32 op, __u64 addr, __u64 size,
				       __u64 old, __s32 ustack)
{
	struct mem_rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	__u64 ts = bpf_ktime_get_ns();

	if (!r) {
		count(PLW_CNT_LOST);
		return;
	}
	fill_hdr(&r->hdr, pid_tgid, ts, PLW_EV_MEM, sizeof(r->mem));
	r->mem.addr = addr;
	r->mem.size = size;
	r->mem.old_addr = old;
	r->mem.op = op;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	plw_stack_emit(&rb, ts, pid_tgid >> 32, (__u32)pid_tgid, -1, ustack);
}

SEC("uprobe")
int BPF_KPROBE(mem_malloc, __u64 size)
{
	return mem_enter(ctx, PLW_MEM_MALLOC, size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_calloc, __u64 nmemb, __u64 size)
{
	return mem_enter(ctx, PLW_MEM_CALLOC, nmemb * size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_realloc, __u64 ptr, __u64 size)
{
	return mem_enter(ctx, PLW_MEM_REALLOC, size, ptr, 0);
}

/* aligned_alloc(alignment, size), memalign(alignment, size) */
SEC("uprobe")
int BPF_KPROBE(mem_memalign, __u64 align, __u64 size)
{
	return mem_enter(ctx, PLW_MEM_ALIGNED, size, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(mem_posix_memalign, __u64 memptr, __u64 align, __u64 size)
{
	return mem_enter(ctx, OP_POSIX_MEMALIGN, size, 0, memptr);
}

/* the return of every allocator above */
SEC("uretprobe")
int BPF_KRETPROBE(mem_ret, __u64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct mem_in *s = bpf_map_lookup_elem(&mem_in, &tid);
	__u64 addr = ret;
	__u32 op;

	if (!s || !s->depth)
		return 0;	/* entered before the recording started */
	if (--s->depth)
		return 0;	/* a call inside another allocator call */
	if (!target_running(pid_tgid >> 32))
		return 0;
	op = s->op;
	if (op == OP_POSIX_MEMALIGN) {
		op = PLW_MEM_ALIGNED;
		addr = 0;
		if ((int)ret == 0)
			bpf_probe_read_user(&addr, sizeof(addr), (void *)s->memptr);
	}
	mem_submit(pid_tgid, op, addr, s->size, s->old, s->ustack);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mem_free, __u64 ptr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct mem_in *s;
	__s32 ks, us;

	if (!ptr || !target_running(pid_tgid >> 32))
		return 0;
	s = bpf_map_lookup_elem(&mem_in, &tid);
	if (s && s->depth)
		return 0;	/* realloc(p, 0) freeing p: the realloc is the event */
	plw_stack_capture_user(ctx, &ks, &us);
	mem_submit(pid_tgid, PLW_MEM_FREE, ptr, 0, 0, us);
	return 0;
}

/* ------------------------------------------------------------------ gil */

SEC("uprobe")
int BPF_KPROBE(gil_take)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gil_in g = {};
	__s32 ks;

	if (!target_running(pid_tgid >> 32))
		return 0;
	plw_stack_capture_user(ctx, &ks, &g.ustack);
	g.nvcsw = BPF_CORE_READ(task, nvcsw);
	g.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&gil_in, &tid, &g, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(gil_taken)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct gil_in *g = bpf_map_lookup_elem(&gil_in, &tid);
	struct gil_rec *r;
	__u64 now, nv;

	if (!g || !g->ts)
		return 0;
	now = bpf_ktime_get_ns();
	nv = BPF_CORE_READ(task, nvcsw);
	if (nv != g->nvcsw && target_running(pid_tgid >> 32)) {
		r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
		if (!r) {
			count(PLW_CNT_LOST);
		} else {
			fill_hdr(&r->hdr, pid_tgid, now, PLW_EV_GIL, sizeof(r->gil));
			r->gil.wait_ns = now - g->ts;
			r->gil.pad = 0;
			bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
			plw_stack_emit(&rb, now, pid_tgid >> 32, (__u32)pid_tgid, -1, g->ustack);
		}
	}
	g->ts = 0;
	return 0;
}

/* ----------------------------------------------------------- exceptions */

SEC("uprobe")
int BPF_KPROBE(exc_raise, __u64 a1, __u64 a2)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 type = bpf_get_attach_cookie(ctx) == 1 ? a1 : a2;
	__u64 name_ptr = 0;
	struct exc_rec *r;
	__s32 ks, us;
	__u64 ts;
	long n;

	if (!type || !target_running(pid_tgid >> 32))
		return 0;
	plw_stack_capture_user(ctx, &ks, &us);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count(PLW_CNT_LOST);
		return 0;
	}
	/* PyTypeObject: ob_refcnt, ob_type, ob_size, tp_name */
	if (bpf_probe_read_user(&name_ptr, sizeof(name_ptr), (void *)(type + 24)) || !name_ptr ||
	    (n = bpf_probe_read_user_str(r->name, sizeof(r->name), (void *)name_ptr)) <= 0) {
		r->name[0] = '?';
		r->name[1] = 0;
		n = 2;
	}
	ts = bpf_ktime_get_ns();
	fill_hdr(&r->hdr, pid_tgid, ts, PLW_EV_EXCEPTION,
		 sizeof(r->exc) + sizeof(r->name));
	r->exc.flags = 0;
	r->exc.type = PLW_DATA_LOC(sizeof(struct plw_common) + sizeof(r->exc), n);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	plw_stack_emit(&rb, ts, pid_tgid >> 32, (__u32)pid_tgid, -1, us);
	return 0;
}
