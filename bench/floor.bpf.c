// SPDX-License-Identifier: MIT
/*
 * floor.bpf.c - the cheapest possible observer of the probes `pylow record`
 * attaches at its default settings (`pylow record --python=usdt -- CMD`:
 * groups python, syscalls, sched, net).  One program per pylow program, on
 * the same probe, doing only what every observer must: decide whether the
 * event belongs to a target (tgid in a hash map, like pylow's `targets`)
 * and bump a per-CPU counter.  No argument is read, nothing is submitted to
 * user space.  Like pylow it follows the targets' children: a fork of a
 * target adds the child's tgid, the exit of a target's last thread removes
 * it.  `pylow record` cannot be cheaper than this on the same probes; bench/
 * divides pylow's extra cost per event by this program set's.
 *
 * The python-only floor (`floor --python-only`, bench row `floor-py`) loads
 * and attaches only floor_entry, floor_return and floor_hold: the floor
 * bench/ used before the kernel groups were part of pylow's defaults.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "floor.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* tgids to observe (filled by user space, then by floor_fork); value unused */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
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

static __always_inline bool is_target(__u32 tgid)
{
	return all_pids || bpf_map_lookup_elem(&pids, &tgid) != NULL;
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counts, &idx);

	if (c)
		(*c)++;
}

/* the common case: the event happens on the current thread */
static __always_inline int bump(__u32 idx)
{
	if (is_target(bpf_get_current_pid_tgid() >> 32))
		count(idx);
	return 0;
}

/* ------------------------------------------------ python (USDT, uprobe) */

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

/* gc__start and gc__done (pylow: py_gc_start, py_gc_done) */
SEC("usdt")
int BPF_USDT(floor_gc)
{
	return bump(FLOOR_GC);
}

/* import__find__load__start and __done (pylow: py_import_start, _done) */
SEC("usdt")
int BPF_USDT(floor_import)
{
	return bump(FLOOR_IMPORT);
}

/* ------------------------------------------- processes (pylow.bpf.c) */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!is_target(ptgid))
		return 0;
	if (ctgid != ptgid)
		bpf_map_update_elem(&pids, &ctgid, &one, BPF_ANY);
	count(FLOOR_FORK);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return bump(FLOOR_EXEC);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!is_target(tgid))
		return 0;
	if (group_dead)
		bpf_map_delete_elem(&pids, &tgid);
	count(FLOOR_EXIT);
	return 0;
}

SEC("tp_btf/task_rename")
int BPF_PROG(floor_comm, struct task_struct *task, const char *comm)
{
	if (is_target(task->tgid))
		count(FLOOR_COMM);
	return 0;
}

/* ------------------------------------ syscalls, sched (kernel.bpf.c) */

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	return bump(FLOOR_SYS_ENTER);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return bump(FLOOR_SYS_EXIT);
}

/* a switch concerns a target when the thread leaving or the one coming
 * is one of its threads (pylow: off-CPU interval begins or ends) */
SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if ((prev->pid && is_target(prev->tgid)) || (next->pid && is_target(next->tgid)))
		count(FLOOR_SWITCH);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(floor_wakeup, struct task_struct *p)
{
	if (is_target(p->tgid))
		count(FLOOR_WAKEUP);
	return 0;
}

/* ------------------------------------------------------ net (net.bpf.c) */

/* pylow's net group has its own programs on sys_enter and sys_exit, next
 * to the syscalls group's: so has the floor */
SEC("tp_btf/sys_enter")
int BPF_PROG(floor_net_enter, struct pt_regs *regs, long id)
{
	return bump(FLOOR_NET_ENTER);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_net_exit, struct pt_regs *regs, long ret)
{
	return bump(FLOOR_NET_EXIT);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sk_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return bump(FLOOR_SK_STATE);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_sk_send, struct sock *sk, int ret, int flags)
{
	return bump(FLOOR_SK_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_sk_recv, struct sock *sk, int ret, int flags)
{
	return bump(FLOOR_SK_RECV);
}

/* libssl SSL_write, SSL_read, SSL_write_ex, SSL_read_ex: entries and returns */
SEC("uprobe")
int floor_ssl(void *ctx)
{
	return bump(FLOOR_SSL);
}

SEC("uretprobe")
int floor_ssl_ret(void *ctx)
{
	return bump(FLOOR_SSL_RET);
}
