// SPDX-License-Identifier: MIT
/*
 * test_agent_ring.c - the agent ring's spare files (agent/ring.h): the
 * recorder grows a spare step by step and renames it into place once whole;
 * an agent creating its ring claims it (the file's pages are then already
 * allocated, which is the point) and the spare is gone; a spare of another
 * size is left alone; without a spare the ring is made as before (sparse).
 * Runs in a directory of /dev/shm (tmpfs: fallocate allocates pages there).
 *
 * And the records themselves: compact call slots (plw_agent_ring_call) mixed
 * with full records, through many wraps of a small ring, come out of
 * plw_agent_reader_drain() as the records BPF would have submitted, in
 * order; a commit word that no producer writes is damage.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/ring.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/dev/shm/plwring.XXXXXX");
	if (!mkdtemp(dir)) {
		strcpy(dir, "/tmp/plwring.XXXXXX");
		return mkdtemp(dir) ? 0 : -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* the one file of DIR whose name starts with PREFIX, its stat; 0 if none */
static int find(const char *prefix, struct stat *st, char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[512];

		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(p, st), 0);
		if (name)
			snprintf(name, len, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void test_spare(void **state)
{
	const uint64_t size = 4u << 20, whole = PLW_AGENT_RING_HDR_SIZE + (4u << 20);
	struct plw_agent_ring *r = NULL;
	struct stat st;
	char name[256];
	int ready = -1, steps = 0;

	(void)state;
	assert_int_equal(plw_agent_ring_size(size), size);
	/* 1 MiB a step: 5 steps for 4 MiB + the header page */
	do {
		assert_int_equal(plw_agent_spare_grow(dir, size, 0, 1u << 20, &ready), 0);
		steps++;
		if (!ready) {
			assert_int_equal(find(".spare.", &st, NULL, 0), 1);
			assert_int_equal((uint64_t)st.st_size, steps * (1ull << 20));
			assert_int_equal(find("spare.", &st, NULL, 0), 0);
		}
	} while (!ready && steps < 10);
	assert_int_equal(steps, 5);
	assert_int_equal(find("spare.", &st, name, sizeof(name)), 1);
	assert_string_equal(name, "spare.4194304.0");
	assert_int_equal((uint64_t)st.st_size, whole);
	assert_true((uint64_t)st.st_blocks * 512 >= whole);	/* allocated */
	assert_int_equal(find(".spare.", &st, NULL, 0), 0);
	/* once there, a call only says so */
	assert_int_equal(plw_agent_spare_grow(dir, size, 0, 1u << 20, &ready), 0);
	assert_int_equal(ready, 1);

	/* a ring of another size does not take it, and is sparse */
	assert_int_equal(plw_agent_ring_create(&r, dir, 1u << 20, 0x030c0000, PLW_AGENT_SRC_MONITORING,
					       "py"), 0);
	assert_int_equal(find("ring.", &st, NULL, 0), 1);
	assert_int_equal((uint64_t)st.st_size, PLW_AGENT_RING_HDR_SIZE + (1u << 20));
	assert_true((uint64_t)st.st_blocks * 512 < (1u << 20) / 2);
	assert_int_equal(find("spare.", &st, NULL, 0), 1);
	plw_agent_ring_free(r);
	assert_int_equal(find("ring.", &st, name, sizeof(name)), 1);
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/%s", dir, name);
		assert_int_equal(unlink(p), 0);
	}

	/* a ring of its size claims it: pages already there, a valid ring */
	assert_int_equal(plw_agent_ring_create(&r, dir, size, 0x030c0000, PLW_AGENT_SRC_MONITORING,
					       "py"), 0);
	assert_int_equal(find("spare.", &st, NULL, 0), 0);
	assert_int_equal(find("ring.", &st, NULL, 0), 1);
	assert_int_equal((uint64_t)st.st_size, whole);
	assert_true((uint64_t)st.st_blocks * 512 >= whole);
	assert_int_equal(r->hdr->magic, PLW_AGENT_RING_MAGIC);
	assert_int_equal(r->hdr->size, size);
	{
		void *p = plw_agent_ring_reserve(r, 32);

		assert_non_null(p);
		plw_agent_ring_commit(r, p);
		assert_int_equal(r->hdr->head, 40);
	}
	plw_agent_ring_free(r);
}

/* what the reader hands over, and what the test expects next */
struct seen {
	uint64_t n, bad;
	uint64_t next;		/* sequence number of the expected record */
};

/* record K of the test stream: every 7th a full record of 8 + K % 40 bytes
 * of payload, the others calls */
static bool is_full(uint64_t k)
{
	return k % 7 == 3;
}

static int on_rec(void *ctx, const struct plw_rb_hdr *h, const void *payload)
{
	struct seen *s = ctx;
	uint64_t k = s->next++;

	s->n++;
	if (h->ts != 1000 + k * 3 || h->pid != 4242) {
		s->bad++;
		return 0;
	}
	if (is_full(k)) {
		const unsigned char *p = payload;

		if (h->type != PLW_EV_META || h->size != 8 + k % 40 || h->tid != 7 || h->cpu != 1)
			s->bad++;
		for (uint32_t i = 0; i < h->size; i++)
			if (p[i] != (unsigned char)(k + i))
				s->bad++;
		return 0;
	}
	if (h->type != (k & 1 ? PLW_EV_PY_RETURN : PLW_EV_PY_ENTRY) ||
	    h->size != sizeof(struct plw_py_call) || h->tid != (uint32_t)(100 + k % 5) ||
	    h->cpu != (uint16_t)(k % 3) ||
	    ((const struct plw_py_call *)payload)->loc != (PLW_AGENT_LOC_BIT | (uint32_t)k))
		s->bad++;
	return 0;
}

static void write_rec(struct plw_agent_ring *r, uint64_t k)
{
	if (is_full(k)) {
		uint32_t size = 8 + k % 40;
		struct plw_rb_hdr *h = plw_agent_ring_reserve(r, sizeof(*h) + size);
		unsigned char *p;

		assert_non_null(h);
		*h = (struct plw_rb_hdr){ .ts = 1000 + k * 3, .pid = 4242, .tid = 7,
					  .type = PLW_EV_META, .cpu = 1, .size = size };
		p = (unsigned char *)(h + 1);
		for (uint32_t i = 0; i < size; i++)
			p[i] = (unsigned char)(k + i);
		plw_agent_ring_commit(r, h);
		return;
	}
	assert_true(plw_agent_ring_call(r, 1000 + k * 3, 100 + k % 5, k % 3,
					PLW_AGENT_LOC_BIT | (uint32_t)k, k & 1));
}

/* removes DIR's files whose names start with PREFIX */
static void rm_prefix(const char *prefix)
{
	char name[256], p[512];
	struct stat st;

	while (find(prefix, &st, name, sizeof(name))) {
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		assert_int_equal(unlink(p), 0);
	}
}

static void test_records(void **state)
{
	struct plw_agent_ring *r;
	struct plw_agent_reader *rd;
	struct seen s = { 0 };
	char name[256], p[512];
	struct stat st;
	uint64_t k = 0, calls = 0;

	(void)state;
	rm_prefix("ring.");
	assert_int_equal(plw_agent_ring_create(&r, dir, PLW_AGENT_RING_MIN, 0x030c0000,
					       PLW_AGENT_SRC_MONITORING, "py"), 0);
	r->hdr->pid = 4242;
	assert_int_equal(find("ring.", &st, name, sizeof(name)), 1);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(plw_agent_reader_open(&rd, p), 0);
	/* 40 rounds of about 3/4 of the ring: it wraps at every place */
	for (int round = 0; round < 40; round++) {
		uint64_t end = k + 1500 + round * 7;
		long n;

		for (; k < end; k++) {
			write_rec(r, k);
			calls += !is_full(k);
		}
		n = plw_agent_reader_drain(rd, on_rec, &s);
		assert_true(n > 0);
		assert_int_equal(s.next, k);
	}
	assert_int_equal(s.n, k);
	assert_int_equal(s.bad, 0);
	assert_int_equal(plw_agent_reader_dropped(rd), 0);
	/* a compact slot takes 24 bytes: one more call moves head by 24 */
	{
		uint64_t head = r->hdr->head;

		/* (room to the end for it, or a filler comes first) */
		if (PLW_AGENT_RING_MIN - (head & (PLW_AGENT_RING_MIN - 1)) >= 24) {
			write_rec(r, is_full(k) ? ++k : k);
			assert_int_equal(r->hdr->head, head + 24);
		}
	}
	assert_true(calls > 50000);
	plw_agent_reader_close(rd);
	plw_agent_ring_free(r);
}

/* a commit word no producer writes: a return flag without the call flag,
 * or a call slot of another length */
static void test_records_damaged(void **state)
{
	static const uint32_t bad[] = {
		24 | PLW_AGENT_SLOT_RET,
		32 | PLW_AGENT_SLOT_CALL,
		24 | PLW_AGENT_SLOT_CALL | PLW_AGENT_SLOT_PAD,
	};

	(void)state;
	rm_prefix("ring.");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct plw_agent_ring *r;
		struct plw_agent_reader *rd;
		struct seen s = { 0 };
		char name[256], p[512];
		struct stat st;

		assert_int_equal(plw_agent_ring_create(&r, dir, PLW_AGENT_RING_MIN, 0x030c0000,
						       PLW_AGENT_SRC_MONITORING, "py"), 0);
		assert_true(plw_agent_ring_call(r, 5, 6, 0, PLW_AGENT_LOC_BIT | 1, false));
		*(uint32_t *)(r->data) = bad[i];
		assert_int_equal(find("ring.", &st, name, sizeof(name)), 1);
		snprintf(p, sizeof(p), "%s/%s", dir, name);
		assert_int_equal(plw_agent_reader_open(&rd, p), 0);
		assert_int_equal(plw_agent_reader_drain(rd, on_rec, &s), -EPROTO);
		assert_int_equal(s.n, 0);
		plw_agent_reader_close(rd);
		plw_agent_ring_free(r);
		assert_int_equal(unlink(p), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spare),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_records_damaged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
