/* SPDX-License-Identifier: MIT */
/*
 * ring.h - the in-process agent's shared-memory ring (agent -> recorder).
 *
 * One ring per Python process: a file <dir>/ring.<pid>.<start_ns> that the
 * agent creates and maps MAP_SHARED, and the recorder maps too.  Layout:
 *
 *   [0, 4096)        struct plw_agent_ring_hdr (head, tail, dropped on
 *                    cache lines of their own)
 *   [4096, +size)    data: slots, 8-byte aligned, size a power of two
 *
 * A slot is a u32 commit word (slot bytes, 8-aligned, | PLW_AGENT_SLOT_PAD
 * for the filler before a wrap), a u32 pad, then for real records exactly
 * what BPF submits: struct plw_rb_hdr + payload (format/events.h).
 *
 * Python calls and returns, nearly every record, take a compact slot of
 * 24 bytes instead of 40 (struct plw_agent_call): the commit word says
 * PLW_AGENT_SLOT_CALL (| PLW_AGENT_SLOT_RET for a return), the pid is the
 * ring's, and the reader rebuilds the struct plw_rb_hdr + struct
 * plw_py_call that BPF would have submitted.
 *
 * Producers (any thread, any number) reserve with a CAS on head, write the
 * record, then publish the commit word with a release store.  The consumer
 * reads commit words with acquire loads from tail, stops at a zero word
 * (reserved, not yet committed), zeroes what it consumed and moves tail
 * forward with a release store; a producer that finds no room drops the
 * record and counts it in `dropped`.  The ring never blocks a producer.
 *
 * Writer liveness: the agent holds a shared flock on the ring file while it
 * may write (the fd is O_CLOEXEC and a forked child closes its copy), so
 * once an exclusive non-blocking flock succeeds no process writes any more.
 *
 * Pure C, no Python headers; functions return 0 or -errno and never print.
 */
#ifndef PYLOW_AGENT_RING_H
#define PYLOW_AGENT_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "format/events.h"

#define PLW_AGENT_RING_MAGIC	0x474e495257414c50ull	/* "PLWARING" little-endian */
#define PLW_AGENT_RING_VERSION	2
#define PLW_AGENT_RING_HDR_SIZE	4096
#define PLW_AGENT_RING_MIN	(64u << 10)
#define PLW_AGENT_RING_DEFAULT	(64u << 20)
#define PLW_AGENT_RING_MAX	(512ull << 20)	/* slot lengths stay under the flags */
#define PLW_AGENT_SLOT_PAD	0x80000000u	/* commit word: filler, skip */
#define PLW_AGENT_SLOT_CALL	0x40000000u	/* commit word: struct plw_agent_call */
#define PLW_AGENT_SLOT_RET	0x20000000u	/* with SLOT_CALL: a PY_RETURN */
#define PLW_AGENT_SLOT_FLAGS	0xe0000000u
#define PLW_AGENT_SLOT_HDR	8

/* a compact slot: one PY_ENTRY or PY_RETURN of the ring's process */
struct plw_agent_call {
	uint32_t commit;		/* sizeof(*this) | PLW_AGENT_SLOT_CALL [| _RET] */
	uint16_t cpu;
	uint16_t pad;
	uint64_t ts;			/* CLOCK_MONOTONIC ns */
	uint32_t tid;
	uint32_t loc;			/* with PLW_AGENT_LOC_BIT */
};
_Static_assert(sizeof(struct plw_agent_call) == 24, "compact slot");

/* plw_agent_ring_hdr.source */
#define PLW_AGENT_SRC_PROFILE		1	/* PyEval_SetProfile C hook (3.6-3.10) */
#define PLW_AGENT_SRC_MONITORING	2	/* sys.monitoring C callbacks (3.12+) */
#define PLW_AGENT_SRC_EVALFRAME		3	/* PEP 523 frame evaluation hook (3.11) */

/* The loc ids the agent allocates have this bit set; BPF's never do (they
 * count up from 1).  The rest comes from one counter shared by every agent
 * process of a recording: <dir>/locs, see struct plw_agent_locs. */
#define PLW_AGENT_LOC_BIT	0x80000000u

struct plw_agent_ring_hdr {
	uint64_t magic;			/* written last by the creator */
	uint32_t version;
	uint32_t hdr_size;		/* offset of the data */
	uint64_t size;			/* data bytes, a power of two */
	uint32_t pid;			/* process that created the ring */
	uint32_t ppid;
	uint64_t start_ns;		/* CLOCK_MONOTONIC at creation */
	uint32_t py_version;		/* PY_VERSION_HEX of the interpreter */
	uint32_t source;		/* PLW_AGENT_SRC_* */
	uint32_t closed;		/* 1: the interpreter finished cleanly */
	uint32_t reserved0;
	char exe[64];			/* sys.executable, truncated */
	uint8_t pad0[256 - 112];
	/* consumer-written and producer-written words on lines of their own */
	uint64_t head __attribute__((aligned(64)));	/* producers: next free byte (monotonic) */
	uint64_t tail __attribute__((aligned(64)));	/* consumer: next byte to read (monotonic) */
	uint64_t dropped __attribute__((aligned(64)));	/* records not written: ring full */
	uint64_t locs;			/* PY_LOC records written */
	uint64_t filtered;		/* events left out by -F/-f (agent/filter.h) */
};

_Static_assert(sizeof(struct plw_agent_ring_hdr) <= PLW_AGENT_RING_HDR_SIZE, "ring header");
_Static_assert(offsetof(struct plw_agent_ring_hdr, exe) + 64 <= 256, "ring header fields");

/* <dir>/locs: the loc id counter shared by all agent processes */
#define PLW_AGENT_LOCS_MAGIC	0x53434f4c57414c50ull	/* "PLWALOCS" */
struct plw_agent_locs {
	uint64_t magic;
	uint32_t next;			/* last id handed out, without the agent bit */
	uint32_t pad;
};

/* ---------------------------------------------------------------- producer */

struct plw_agent_ring {
	struct plw_agent_ring_hdr *hdr;
	unsigned char *data;
	uint64_t size, mask;
	uint64_t tail_cache;		/* producer: last tail seen (relaxed) */
	size_t map_len;
	int fd;
	char *path;
};

/*
 * Creates DIR/ring.<pid>.<start_ns> (through a hidden temporary name, so
 * that a consumer never sees it half made) with SIZE data bytes (rounded up
 * to a power of two, at least PLW_AGENT_RING_MIN), maps it and takes the
 * shared writer flock.
 */
int plw_agent_ring_create(struct plw_agent_ring **r, const char *dir,
			  uint64_t size, uint32_t py_version, uint32_t source,
			  const char *exe);

/* Data bytes of a ring asked to hold SIZE (what plw_agent_ring_create uses). */
uint64_t plw_agent_ring_size(uint64_t size);

/*
 * Spare rings.  Writing a fresh tmpfs ring faults in (allocates and zeroes)
 * a page every 100 events, ~30 ns per event in this VM until the ring
 * wraps.  So the recorder prepares DIR/spare.<size>.<k> (k <
 * PLW_AGENT_SPARES): files of PLW_AGENT_RING_HDR_SIZE + size zero bytes whose
 * pages it allocated (fallocate) on its own CPU.  plw_agent_ring_create()
 * claims one by renaming it (atomic: one claimant) and maps it populated,
 * which only builds page tables; without a spare of its size it makes its
 * own ring, unpopulated, as before.
 *
 * plw_agent_spare_grow() allocates up to STEP more bytes of spare K of
 * SIZE (rounded like the rings) through DIR/.spare.<size>.<k>.tmp and
 * renames it into place once whole; *READY tells whether spare K exists
 * (now or already).  Called from the recorder's loop, so that no call
 * takes long.  0 or -errno.
 */
#define PLW_AGENT_SPARES	1
int plw_agent_spare_grow(const char *dir, uint64_t size, unsigned k, uint64_t step,
			 int *ready);

/* Unmaps and closes; the file stays for the consumer.  NULL is fine. */
void plw_agent_ring_free(struct plw_agent_ring *r);

/* In a forked child: forget the parent's ring without touching it (unmap,
 * close our copy of the fd so the parent's flock is the only one left). */
void plw_agent_ring_forget(struct plw_agent_ring *r);

/* Reserves a slot of NEED bytes (8-aligned, header included) and returns
 * it, its commit word still 0; NULL when the ring is full (counted). */
static inline unsigned char *plw_agent_ring_slot(struct plw_agent_ring *r, uint64_t need)
{
	struct plw_agent_ring_hdr *h = r->hdr;
	uint64_t head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	uint64_t off, total, tail;

	for (;;) {
		off = head & r->mask;
		total = need;
		if (off + need > r->size)	/* filler to the end, record at 0 */
			total += r->size - off;
		tail = __atomic_load_n(&r->tail_cache, __ATOMIC_RELAXED);
		if (head + total - tail > r->size) {
			tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			__atomic_store_n(&r->tail_cache, tail, __ATOMIC_RELAXED);
			if (head + total - tail > r->size) {
				__atomic_fetch_add(&h->dropped, 1, __ATOMIC_RELAXED);
				return NULL;
			}
		}
		if (__atomic_compare_exchange_n(&h->head, &head, head + total, 1,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
	}
	if (total != need)
		__atomic_store_n((uint32_t *)(r->data + off),
				 (uint32_t)(r->size - off) | PLW_AGENT_SLOT_PAD,
				 __ATOMIC_RELEASE);
	return r->data + ((head + total - need) & r->mask);
}

/*
 * Reserves room for a record of LEN bytes (struct plw_rb_hdr + payload).
 * Returns where to write it, or NULL when the ring is full (counted in
 * dropped).  Must be followed by plw_agent_ring_commit(r, ptr).
 */
static inline void *plw_agent_ring_reserve(struct plw_agent_ring *r, uint32_t len)
{
	uint64_t need = (PLW_AGENT_SLOT_HDR + (uint64_t)len + 7) & ~7ull;
	unsigned char *slot = plw_agent_ring_slot(r, need);

	if (!slot)
		return NULL;
	/* the commit word holds the slot length until the record is ready */
	*(uint32_t *)(slot + 4) = (uint32_t)need;
	return slot + PLW_AGENT_SLOT_HDR;
}

static inline void plw_agent_ring_commit(struct plw_agent_ring *r, void *rec)
{
	unsigned char *slot = (unsigned char *)rec - PLW_AGENT_SLOT_HDR;

	__atomic_store_n((uint32_t *)slot, *(uint32_t *)(slot + 4), __ATOMIC_RELEASE);
}

/* One PY_ENTRY (RET 0) or PY_RETURN of this process in a compact slot;
 * false when the ring is full (counted in dropped). */
static inline bool plw_agent_ring_call(struct plw_agent_ring *r, uint64_t ts, uint32_t tid,
				       uint16_t cpu, uint32_t loc, bool ret)
{
	struct plw_agent_call *c = (void *)plw_agent_ring_slot(r, sizeof(*c));

	if (!c)
		return false;
	c->cpu = cpu;
	c->pad = 0;
	c->ts = ts;
	c->tid = tid;
	c->loc = loc;
	__atomic_store_n(&c->commit, (uint32_t)sizeof(*c) | PLW_AGENT_SLOT_CALL |
			 (ret ? PLW_AGENT_SLOT_RET : 0), __ATOMIC_RELEASE);
	return true;
}

/* Next loc id from DIR/locs (created on first use), 0 when exhausted or on
 * error.  *LOCS is the mapping, kept by the caller (NULL at first). */
uint32_t plw_agent_locs_next(struct plw_agent_locs **locs, const char *dir);

/* ---------------------------------------------------------------- consumer */

struct plw_agent_reader;

/* Called per record; return 0 to go on, < 0 to stop: that record stays in
 * the ring and comes again at the next drain (e.g. "batch full"). */
typedef int (*plw_agent_rec_cb)(void *ctx, const struct plw_rb_hdr *h,
				const void *payload);

/*
 * Maps ring file PATH for reading.  -EAGAIN if it is not ready yet (never
 * happens for names matching ring.*: they appear ready), -EPROTO if it is
 * not a ring of this version.
 */
int plw_agent_reader_open(struct plw_agent_reader **r, const char *path);
void plw_agent_reader_close(struct plw_agent_reader *r);

/*
 * Hands every committed record to CB in ring order, frees their space.
 * Returns the number of records handed over, the callback's negative value,
 * or -EPROTO on a damaged ring (then nothing more can be read).  Stops at
 * the first reserved-but-uncommitted slot.
 */
long plw_agent_reader_drain(struct plw_agent_reader *r, plw_agent_rec_cb cb, void *ctx);

/* Header fields as the producer left them (counters read atomically). */
uint64_t plw_agent_reader_dropped(const struct plw_agent_reader *r);
uint64_t plw_agent_reader_locs(const struct plw_agent_reader *r);
const struct plw_agent_ring_hdr *plw_agent_reader_hdr(const struct plw_agent_reader *r);

/*
 * 1 if no process can write the ring any more (every writer exited, exec'd
 * or stopped the agent: drain once more, then close it), 0 if a writer is
 * alive, or -errno.
 */
int plw_agent_reader_writer_gone(struct plw_agent_reader *r);

#endif /* PYLOW_AGENT_RING_H */
