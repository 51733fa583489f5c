/* SPDX-License-Identifier: MIT */
/*
 * merge.h - one time-ordered event stream from one or more recordings.
 *
 * Every report reads through a merger, whether it was given one file or many:
 * a k-way merge by timestamp over the files' streams, with memory bounded by
 * the number of files (one pending event each).  Each event says which input
 * (host) it came from.  Clocks are applied here: each input's times can be
 * mapped to its wall clock (plw_merge_set_clock) and shifted by an offset
 * (the host's clock error, merge/skew.h); a single file has neither.
 *
 * Memory is bounded by the number of inputs, whatever the length of the
 * recordings: one pending event per input, and each reader's window (up to
 * 4 MiB of the file mapped, dropped behind the read position, and one
 * decompressed chunk, 256 KiB by default): about 5 MiB per input.  32 files
 * of 1,000,000 events each merge through `report flow` in 6.6 s at 165 MB
 * peak RSS on a 2-vCPU VM (bench/merge32.sh; README.md "Several hosts").
 */
#ifndef PYLOW_MERGE_H
#define PYLOW_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "../format/plw.h"

struct plw_merge;

struct plw_merge_event {
	struct plw_event ev;	/* ev.ts already corrected by the input's offset */
	uint32_t input;		/* index of the file it came from */
};

/* Opens every path with plw_reader_open(FLAGS).  Even on failure *M is set
 * (unless out of memory): plw_merge_error(*M) names the file and the cause;
 * free it with plw_merge_free. */
int plw_merge_open(struct plw_merge **m, const char *const *paths, size_t n,
		   unsigned flags);
size_t plw_merge_inputs(const struct plw_merge *m);
struct plw_reader *plw_merge_reader(const struct plw_merge *m, size_t input);
/* Adds OFFSET_NS to every timestamp of INPUT from now on. */
void plw_merge_set_offset(struct plw_merge *m, size_t input, int64_t offset_ns);

/* A clock reference of an input: at its time MONO_NS (the file's clock) the
 * wall clock read MONO_NS + OFF_NS. */
struct plw_merge_clock {
	uint64_t mono_ns;
	int64_t off_ns;
};
/* Puts INPUT on its wall clock: its times are mapped through the N
 * references PTS (sorted by mono_ns; the caller keeps them alive),
 * piecewise-linearly between references and with the nearest one outside
 * them (monotone as long as the clocks drift by less than they advance),
 * before OFFSET_NS is added.  N = 0: no mapping. */
void plw_merge_set_clock(struct plw_merge *m, size_t input, const struct plw_merge_clock *pts,
			 size_t n);
/* INPUT's time TS mapped as plw_merge_next maps it (clock, then offset). */
uint64_t plw_merge_map(const struct plw_merge *m, size_t input, uint64_t ts);
/* The same mapping through PTS alone (N = 0: TS as is). */
int64_t plw_merge_clock_map(const struct plw_merge_clock *pts, size_t n, uint64_t ts);

/* The only input's reader when events can be read from it directly (one
 * input, no clock offset, not started through plw_merge_next), else NULL.
 * After a negative return of plw_reader_next() on it, call
 * plw_merge_read_error(M, 0, RET): it sets plw_merge_error() and returns RET. */
struct plw_reader *plw_merge_single(const struct plw_merge *m);
int plw_merge_read_error(struct plw_merge *m, uint32_t input, int ret);

/* 1 with *EV filled, 0 at the end of all inputs, -errno on error. */
int plw_merge_next(struct plw_merge *m, struct plw_merge_event *ev);

/* Code location of INPUT by id (ids are per file). */
const struct plw_loc *plw_merge_loc(const struct plw_merge *m, uint32_t input,
				    uint32_t id);
const char *plw_merge_error(const struct plw_merge *m);
void plw_merge_free(struct plw_merge *m);

#endif /* PYLOW_MERGE_H */
