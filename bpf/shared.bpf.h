/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * shared.bpf.h - what every BPF object of pylow shares with the others: the
 * ring buffer the recorder drains, the `targets` map (tgids being recorded,
 * kept by pylow.bpf.c's process tracepoints) and its generation, the
 * per-CPU counters, and the `running` switch the recorder sets once
 * everything is attached.
 *
 * pylow.bpf.c owns the maps; each other object (kernel, kgroups, native,
 * net, probes) is loaded after it with its maps made pylow.bpf.c's
 * (share_maps() in record/attach.c: rb, targets, targets_gen, counters),
 * so the definitions must stay identical: hence one header.
 */
#ifndef PYLOW_SHARED_BPF_H
#define PYLOW_SHARED_BPF_H

/* set by the recorder once every probe is attached, cleared before it
 * detaches: events start and stop at one instant for all programs */
volatile __u32 running = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);		/* tgid */
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);	/* resized by the recorder before load */
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PLW_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* atomic: the timer and sched_switch programs (stage.bpf.h's flush) may
 * interrupt a program in the middle of this on its CPU */
static __always_inline void count_n(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		__sync_fetch_and_add(c, n);
}

static __always_inline void count(__u32 which)
{
	count_n(which, 1);
}

/* bumped (atomically) after every change of `targets` made while
 * recording: a target's fork adds its child, its exit removes it; the
 * recorder adds its pids before anything runs.  Shared like `targets` */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} targets_gen SEC(".maps");

static __always_inline void targets_changed(void)
{
	__u32 zero = 0, *g = bpf_map_lookup_elem(&targets_gen, &zero);

	if (g) {
		/* a fetching add: fully ordered after the map change (an
		 * add whose result is unused may be relaxed, as on arm64) */
		__u32 old = __sync_fetch_and_add(g, 1);

		barrier_var(old);
	}
}

static __always_inline __u32 targets_gen_now(void)
{
	__u32 zero = 0, *g = bpf_map_lookup_elem(&targets_gen, &zero);

	return g ? *(volatile __u32 *)g : 0;
}

/* each object's per-CPU memo of its last `targets` lookup: the tgid, the
 * generation it was made at and the answer, in ONE 64-bit word (a program
 * preempted on its CPU by another may not leave half of an entry):
 * tgid << 32 | (gen << 1 & 0xfffffffe) | is-a-target */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} target_memo SEC(".maps");

/* recording, and TGID is one of the targets.  The kernel tracepoints run
 * this for every syscall and switch of the machine; a hash lookup was
 * ~55 ns of it (W2), the memo answers repeats of the same tgid */
static __always_inline bool target_running(__u32 tgid)
{
	__u32 zero = 0;
	__u64 *m, key;
	bool yes;

	if (!running || !tgid)
		return false;
	key = (__u64)tgid << 32 | ((__u64)targets_gen_now() << 1 & 0xfffffffeull);
	m = bpf_map_lookup_elem(&target_memo, &zero);
	if (m) {
		__u64 v = *(volatile __u64 *)m;

		if ((v & ~1ull) == key)
			return v & 1;
	}
	yes = bpf_map_lookup_elem(&targets, &tgid) != NULL;
	if (m)
		*(volatile __u64 *)m = key | yes;
	return yes;
}

/* a ring buffer record's header: TYPE, SIZE bytes of payload after it */
static __always_inline void plw_hdr(struct plw_rb_hdr *h, __u32 pid, __u32 tid, __u64 ts,
				    __u16 type, __u32 size)
{
	h->ts = ts;
	h->pid = pid;
	h->tid = tid;
	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->size = size;
}

/* the same for the current thread (bpf_get_current_pid_tgid()) */
static __always_inline void fill_hdr(struct plw_rb_hdr *h, __u64 pid_tgid, __u64 ts,
				     __u16 type, __u32 size)
{
	plw_hdr(h, pid_tgid >> 32, (__u32)pid_tgid, ts, type, size);
}

/*
 * A syscall's number and first argument from its saved user registers, for
 * the BTF pointers tp_btf programs get (and bpf_task_pt_regs returns): a
 * direct load, not a bpf_probe_read_kernel() call (measured on W2's sys_enter,
 * which runs for every syscall of the machine)
 */
static __always_inline long plw_sys_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
	return -1;
#endif
}

static __always_inline long plw_sys_arg1(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->di;
#elif defined(__TARGET_ARCH_arm64)
	return regs->orig_x0;
#else
	return PT_REGS_PARM1_CORE_SYSCALL(regs);
#endif
}

#endif /* PYLOW_SHARED_BPF_H */
