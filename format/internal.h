/* SPDX-License-Identifier: MIT */
/*
 * internal.h - definitions shared by the format/ sources only (see FORMAT.md).
 */
#ifndef PYLOW_FORMAT_INTERNAL_H
#define PYLOW_FORMAT_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <linux/perf_event.h>

#include "plw.h"

/* perf user-space record types (tools/perf/util/event.h) */
#define PLW_PERF_RECORD_FINISHED_ROUND	68
#define PLW_PERF_RECORD_COMPRESSED	81

/* perf feature bits (tools/perf/util/header.h) */
enum {
	PLW_HDR_TRACING_DATA = 1,
	PLW_HDR_HOSTNAME = 3,
	PLW_HDR_OSRELEASE = 4,
	PLW_HDR_VERSION = 5,
	PLW_HDR_ARCH = 6,
	PLW_HDR_NRCPUS = 7,
	PLW_HDR_CMDLINE = 11,
	PLW_HDR_EVENT_DESC = 12,
	PLW_HDR_CLOCKID = 23,
	PLW_HDR_COMPRESSED = 27,
	PLW_HDR_CLOCK_DATA = 29,
};

#define PLW_PERF_MAGIC		0x32454c4946524550ULL	/* "PERFILE2" */
#define PLW_PERF_MAGIC_SWAPPED	0x50455246494c4532ULL
#define PLW_ATTR_SIZE		128	/* perf_event_attr as written (VER7) */
#define PLW_ATTR_ENTRY		(PLW_ATTR_SIZE + 16)
#define PLW_NR_ATTRS		(PLW_EV_MAX - 1)
#define PLW_ATTR_ID0		1000
#define PLW_SAMPLE_TYPE		(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | \
				 PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW)
#define PLW_MAX_RECORD		65535
#define PLW_CHUNK_DEFAULT	(256 * 1024)
#define PLW_CHUNK_MAX		(4u << 20)
#define PLW_PRIV_MAGIC		"PYLOWMD"	/* + NUL: 8 bytes */

/* LEB128 varints of PY_BATCH's columns (at most 10 bytes for a u64) */
#define PLW_VARINT_MAX		10
static inline size_t plw_varint_put(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* decodes one varint from [*P, END); false if it runs past END or is too long */
static inline bool plw_varint_get(const unsigned char **p, const unsigned char *end,
				  uint64_t *v)
{
	const unsigned char *q = *p;
	uint64_t x = 0;
	unsigned shift = 0;

	/* most ops and time deltas take one or two bytes */
	if (end - q >= 2) {
		if (!(q[0] & 0x80)) {
			*v = q[0];
			*p = q + 1;
			return true;
		}
		if (!(q[1] & 0x80)) {
			*v = (q[0] & 0x7f) | (uint64_t)q[1] << 7;
			*p = q + 2;
			return true;
		}
	}
	while (q < end && shift < 64) {
		unsigned char b = *q++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*v = x;
			return true;
		}
		shift += 7;
	}
	return false;
}

/* private section tags */
enum {
	PLW_TAG_COUNTS = 1,
	PLW_TAG_STR = 2,
	PLW_TAG_LOC = 3,
	PLW_TAG_TASK = 4,
	PLW_TAG_PROBE = 5,
	PLW_TAG_LOSS = 6,
};

struct plw_file_section {
	uint64_t offset, size;
};

struct plw_file_header {
	uint64_t magic;
	uint64_t size;
	uint64_t attr_size;
	struct plw_file_section attrs;
	struct plw_file_section data;
	struct plw_file_section event_types;
	uint64_t adds_features[4];
};
_Static_assert(sizeof(struct plw_file_header) == 104, "perf file header");

/* growable byte buffer */
struct plw_buf {
	char *p;
	size_t len, cap;
};
int plw_buf_reserve(struct plw_buf *b, size_t more);
int plw_buf_add(struct plw_buf *b, const void *p, size_t n);
int plw_buf_u32(struct plw_buf *b, uint32_t v);
int plw_buf_u64(struct plw_buf *b, uint64_t v);
/* perf string: u32 len (multiple of 64, incl. NUL) + NUL-padded bytes */
int plw_buf_perf_str(struct plw_buf *b, const char *s);
/* private-section string: u32 n + n bytes; NULL as 0xffffffff */
int plw_buf_pstr(struct plw_buf *b, const char *s);
void plw_buf_free(struct plw_buf *b);

/* tracing.c */
const char *plw_ev_name(unsigned ev);		/* "py_entry", NULL if unknown */
/* HEADER_TRACING_DATA payload: system "pylow", then the systems of TPS */
int plw_tracing_data(struct plw_buf *b, const struct plw_tp_attr *tps, size_t nr_tps);

/* meta.c: private section */
int plw_priv_write(struct plw_buf *b, const struct plw_meta *m);

/* Parsed metadata that owns its strings (reader side). */
struct plw_meta_store {
	struct plw_meta m;
	struct plw_buf strs;		/* not used for pointers (may move) */
	char **owned;			/* malloc'ed strings */
	size_t nr_owned, cap_owned;
	size_t cap_tasks, cap_probes, cap_losses;
};
/* Parses a private section; returns 0 or -errno with ERR (128 bytes) set. */
int plw_priv_parse(struct plw_meta_store *st, const unsigned char *p,
		   size_t len, char *err, size_t errlen);
/* strdup into the store (freed with it); NULL on ENOMEM */
char *plw_store_strndup(struct plw_meta_store *st, const char *s, size_t n);
void plw_store_free(struct plw_meta_store *st);

#endif /* PYLOW_FORMAT_INTERNAL_H */
