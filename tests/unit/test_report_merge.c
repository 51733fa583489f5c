/* SPDX-License-Identifier: MIT */
/* test_report_merge.c - merge/: k-way merge by time over files written with
 * the format library, offsets, errors naming the file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "merge/merge.h"

static char dir[64];

static void write_file(const char *name, uint32_t pid, const uint64_t *ts, size_t n)
{
	char path[128];
	struct plw_writer *w;
	struct plw_meta meta = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(plw_writer_open(&w, path, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		struct plw_py_call c = { .loc = (uint32_t)i };

		assert_int_equal(plw_writer_event(w, PLW_EV_PY_ENTRY, pid, pid, ts[i], 0, &c,
						  sizeof(c)), 0);
	}
	assert_int_equal(plw_writer_finish(w, &meta), 0);
	plw_writer_free(w);
}

static int setup(void **state)
{
	static const uint64_t a[] = { 10, 20, 30, 30, 70 };
	static const uint64_t b[] = { 5, 25, 30, 100 };
	static const uint64_t c[] = { 1 };

	snprintf(dir, sizeof(dir), "%s", "/tmp/plwmerge.XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("a.plw", 1, a, 5);
	write_file("b.plw", 2, b, 4);
	write_file("c.plw", 3, c, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static struct plw_merge *open_paths(const char *const *names, size_t n, int expect)
{
	char paths[4][128];
	const char *p[4];
	struct plw_merge *m = NULL;

	for (size_t i = 0; i < n; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, names[i]);
		p[i] = paths[i];
	}
	assert_int_equal(plw_merge_open(&m, p, n, 0), expect);
	return m;
}

/* only PY_ENTRY events (files also hold their writer's own records) */
static int next_entry(struct plw_merge *m, struct plw_merge_event *ev)
{
	int ret;

	while ((ret = plw_merge_next(m, ev)) > 0 && ev->ev.type != PLW_EV_PY_ENTRY)
		;
	return ret;
}

static void test_order(void **state)
{
	const char *names[] = { "a.plw", "b.plw", "c.plw" };
	struct plw_merge *m = open_paths(names, 3, 0);
	struct plw_merge_event ev;
	/* (ts, input, loc): ties broken by input, then file order */
	static const uint64_t want[][3] = {
		{ 1, 2, 0 }, { 5, 1, 0 }, { 10, 0, 0 }, { 20, 0, 1 }, { 25, 1, 1 },
		{ 30, 0, 2 }, { 30, 0, 3 }, { 30, 1, 2 }, { 70, 0, 4 }, { 100, 1, 3 },
	};

	assert_int_equal(plw_merge_inputs(m), 3);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(next_entry(m, &ev), 1);
		assert_int_equal(ev.ev.ts, want[i][0]);
		assert_int_equal(ev.input, want[i][1]);
		assert_int_equal(ev.ev.u.py.loc, want[i][2]);
		assert_int_equal(ev.ev.pid, want[i][1] + 1);
	}
	assert_int_equal(next_entry(m, &ev), 0);
	assert_int_equal(plw_merge_next(m, &ev), 0);
	plw_merge_free(m);
}

static void test_offset(void **state)
{
	const char *names[] = { "a.plw", "b.plw" };
	struct plw_merge *m = open_paths(names, 2, 0);
	struct plw_merge_event ev;
	static const uint64_t want[][2] = {
		{ 10, 0 }, { 15, 1 }, { 20, 0 }, { 30, 0 }, { 30, 0 }, { 35, 1 }, { 40, 1 },
		{ 70, 0 }, { 110, 1 },
	};

	plw_merge_set_offset(m, 1, 10);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(next_entry(m, &ev), 1);
		assert_int_equal(ev.ev.ts, want[i][0]);
		assert_int_equal(ev.input, want[i][1]);
	}
	assert_int_equal(next_entry(m, &ev), 0);
	plw_merge_free(m);
}

static void test_clock(void **state)
{
	/* references: at 0 the wall clock read 1000, at 100 it read 1110
	 * (the clock ran 10% fast in between), then no more */
	static const struct plw_merge_clock ref[] = { { 0, 1000 }, { 100, 1010 } };
	const char *names[] = { "a.plw", "b.plw" };
	struct plw_merge *m = open_paths(names, 2, 0);
	struct plw_merge_event ev;
	static const uint64_t want[][2] = {
		{ 10, 0 }, { 20, 0 }, { 30, 0 }, { 30, 0 }, { 70, 0 },
		/* b: 5 -> 1005 + 0.5, 25 -> 1027 (1025 + 2.5), 30 -> 1033, 100 -> 1110 */
		{ 1005, 1 }, { 1027, 1 }, { 1033, 1 }, { 1110, 1 },
	};

	assert_int_equal(plw_merge_clock_map(NULL, 0, 42), 42);
	assert_int_equal(plw_merge_clock_map(ref, 2, 0), 1000);
	assert_int_equal(plw_merge_clock_map(ref, 2, 50), 1055);
	assert_int_equal(plw_merge_clock_map(ref, 2, 100), 1110);
	assert_int_equal(plw_merge_clock_map(ref, 2, 200), 1210);	/* nearest: the last */
	assert_int_equal(plw_merge_clock_map(ref, 1, 200), 1200);
	plw_merge_set_clock(m, 1, ref, 2);
	assert_int_equal(plw_merge_map(m, 1, 50), 1055);
	plw_merge_set_offset(m, 1, -1);
	assert_int_equal(plw_merge_map(m, 1, 50), 1054);
	plw_merge_set_offset(m, 1, 0);
	assert_null(plw_merge_single(m));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(next_entry(m, &ev), 1);
		assert_int_equal(ev.ev.ts, want[i][0]);
		assert_int_equal(ev.input, want[i][1]);
	}
	assert_int_equal(next_entry(m, &ev), 0);
	plw_merge_free(m);
}

static void test_single(void **state)
{
	const char *names[] = { "b.plw" };
	struct plw_merge *m = open_paths(names, 1, 0);
	struct plw_merge_event ev;
	int n = 0;

	plw_merge_set_offset(m, 0, -5);
	while (next_entry(m, &ev) > 0) {
		assert_int_equal(ev.input, 0);
		n++;
	}
	assert_int_equal(n, 4);
	assert_int_equal(plw_merge_next(m, &ev), 0);
	plw_merge_free(m);
}

static void test_errors_name_the_file(void **state)
{
	const char *names[] = { "a.plw", "missing.plw" };
	struct plw_merge *m = open_paths(names, 2, -ENOENT);

	assert_non_null(m);
	assert_non_null(strstr(plw_merge_error(m), "missing.plw"));
	assert_int_equal(plw_merge_inputs(m), 2);	/* the failing one is the last */
	plw_merge_free(m);

	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/junk.plw", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a perf.data file, not at all\n", f);
	fclose(f);
	m = NULL;
	assert_true(plw_merge_open(&m, (const char *const[]){ path }, 1, 0) < 0);
	assert_non_null(strstr(plw_merge_error(m), "junk.plw"));
	plw_merge_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_offset),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_errors_name_the_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
