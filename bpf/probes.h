/* SPDX-License-Identifier: MIT */
/*
 * probes.h - what bpf/probes.bpf.c and record/probes.c share.
 */
#ifndef PYLOW_PROBES_H
#define PYLOW_PROBES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PLW_TP_DL_MAX	4	/* __data_loc fields followed per tracepoint */
#define PLW_TP_RAW_MAX	2048	/* longest trace entry copied (power of two) */

/* per tracepoint (the BPF cookie of on_tp): what to copy of its entry */
struct tp_cfg {
	__u32 size;			/* fixed part: end of the last field */
	__u32 nr_dl;
	__u32 id;			/* the tracepoint's id (common_type) */
	__u32 pad;
	__u16 dl_off[PLW_TP_DL_MAX];	/* offsets of its __data_loc/__rel_loc fields */
	__u16 dl_rel[PLW_TP_DL_MAX];	/* 1: __rel_loc (offset counts from the field's end) */
};

#endif /* PYLOW_PROBES_H */
