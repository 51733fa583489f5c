/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * shared.bpf.h - what every BPF object of pylow shares with the others: the
 * ring buffer the recorder drains, the `targets` map (tgids being recorded,
 * kept by pylow.bpf.c's process tracepoints), the per-CPU counters, and the
 * `running` switch the recorder sets once everything is attached.
 *
 * pylow.bpf.c owns the maps; each other object (kernel, kgroups, native,
 * net, probes) is loaded after it with bpf_map__reuse_fd() on these three,
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

/* atomic: the timer and sched_switch programs (pylow.bpf.c's stage
 * flush) may interrupt a program in the middle of this on its CPU */
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

/* recording, and TGID is one of the targets */
static __always_inline bool target_running(__u32 tgid)
{
	return running && tgid && bpf_map_lookup_elem(&targets, &tgid) != NULL;
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

#endif /* PYLOW_SHARED_BPF_H */
