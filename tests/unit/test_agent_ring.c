// SPDX-License-Identifier: MIT
/*
 * test_agent_ring.c - the agent ring's spare files (agent/ring.h): the
 * recorder grows a spare step by step and renames it into place once whole;
 * an agent creating its ring claims it (the file's pages are then already
 * allocated, which is the point) and the spare is gone; a spare of another
 * size is left alone; without a spare the ring is made as before (sparse).
 * Runs in a directory of /dev/shm (tmpfs: fallocate allocates pages there).
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spare),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
