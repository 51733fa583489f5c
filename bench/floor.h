/* SPDX-License-Identifier: MIT */
/* floor.h - the floor's counters (floor.bpf.c counts, floor.c prints) */
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

enum {
	FLOOR_ENTRY,		/* python:function__entry */
	FLOOR_RETURN,		/* python:function__return */
	FLOOR_OTHER,		/* the line semaphore holder (never runs) */
	FLOOR_GC,		/* python:gc__start, gc__done */
	FLOOR_IMPORT,		/* python:import__find__load__start, __done */
	FLOOR_FORK,		/* sched_process_fork */
	FLOOR_EXEC,		/* sched_process_exec */
	FLOOR_EXIT,		/* sched_process_exit */
	FLOOR_COMM,		/* task_rename */
	FLOOR_SYS_ENTER,	/* sys_enter (syscalls group) */
	FLOOR_SYS_EXIT,		/* sys_exit (syscalls group) */
	FLOOR_SWITCH,		/* sched_switch */
	FLOOR_WAKEUP,		/* sched_wakeup */
	FLOOR_NET_ENTER,	/* sys_enter (net group) */
	FLOOR_NET_EXIT,		/* sys_exit (net group) */
	FLOOR_SK_STATE,		/* inet_sock_set_state */
	FLOOR_SK_SEND,		/* sock_send_length */
	FLOOR_SK_RECV,		/* sock_recv_length */
	FLOOR_SSL,		/* libssl SSL_write/read(_ex) entries */
	FLOOR_SSL_RET,		/* their returns */
	FLOOR_NCNT
};

#endif
