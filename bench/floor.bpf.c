// SPDX-License-Identifier: MIT
/*
 * floor.bpf.c - the cheapest possible observer of CPython's USDT probes:
 * python:function__entry / function__return, attached with pid -1 like
 * pylow, filtered by tgid in a hash map like pylow, and counting into a
 * per-CPU array.  No argument is read, nothing is submitted to user space.
 * `pylow record` cannot be cheaper than this on the same probes; bench/
 * divides pylow's extra cost per event by this program's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

enum { FLOOR_ENTRY = 0, FLOOR_RETURN = 1, FLOOR_OTHER = 2, FLOOR_NCNT = 4 };

/* tgids to observe (filled by user space); value unused */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOOR_NCNT);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* 0: filter on tgid in `pids`; 1: count every process */
const volatile int all_pids = 0;

static __always_inline int bump(__u32 idx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!all_pids && !bpf_map_lookup_elem(&pids, &tgid))
		return 0;
	__u64 *c = bpf_map_lookup_elem(&counts, &idx);
	if (c)
		(*c)++;
	return 0;
}

SEC("usdt")
int BPF_USDT(floor_entry)
{
	return bump(FLOOR_ENTRY);
}

SEC("usdt")
int BPF_USDT(floor_return)
{
	return bump(FLOOR_RETURN);
}

/* attached at an address that never runs (Py_FatalError's entry) only so
 * that the kernel raises the `line` semaphore; counts if it ever runs */
SEC("uprobe")
int floor_hold(void *ctx)
{
	return bump(FLOOR_OTHER);
}
