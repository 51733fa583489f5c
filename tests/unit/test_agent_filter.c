/* SPDX-License-Identifier: MIT */
/*
 * test_agent_filter.c - the agent's -F/-f filters (agent/filter.h), which
 * must decide exactly like bpf/pylow.bpf.c's loc_passes(): exact names,
 * globs with '*' (across '/') and '?', path vs last component by the '/' in
 * the GLOB, cuts at PLW_FUNC_MAX / PLW_FILE_MAX, both kinds ANDed, the
 * environment the recorder sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/filter.h"

static bool passes(const struct plw_agent_filter *f, const char *func, const char *file)
{
	return plw_agent_filter_passes(f, func, strlen(func), file, strlen(file));
}

static void test_glob(void **state)
{
	assert_true(plw_agent_glob("", ""));
	assert_false(plw_agent_glob("", "a"));
	assert_true(plw_agent_glob("*", ""));
	assert_true(plw_agent_glob("*", "a/b/c"));
	assert_true(plw_agent_glob("a?c", "abc"));
	assert_false(plw_agent_glob("a?c", "ac"));
	assert_true(plw_agent_glob("*.py", "x.py"));
	assert_false(plw_agent_glob("*.py", "x.pyc"));
	assert_true(plw_agent_glob("/srv/*/app.py", "/srv/a/b/app.py"));	/* '*' crosses '/' */
	assert_true(plw_agent_glob("*a*b*c", "xxaxxbxxbxc"));
	assert_false(plw_agent_glob("*a*b*c", "xxaxxcxxb"));
	assert_true(plw_agent_glob("a**b", "ab"));
	assert_false(plw_agent_glob("[a]", "a"));		/* no classes */
	assert_true(plw_agent_glob("[a]", "[a]"));
}

static void test_func(void **state)
{
	struct plw_agent_filter f = { 0 };

	assert_false(plw_agent_filter_active(&f));
	assert_true(passes(&f, "anything", "/x.py"));
	plw_agent_filter_add_func(&f, "handle");
	plw_agent_filter_add_func(&f, "<lambda>");
	assert_true(plw_agent_filter_active(&f));
	assert_true(passes(&f, "handle", "/x.py"));
	assert_true(passes(&f, "<lambda>", "/x.py"));
	assert_false(passes(&f, "handler", "/x.py"));
	assert_false(passes(&f, "handl", "/x.py"));
	assert_false(passes(&f, "Handle", "/x.py"));
	/* a name not NUL-terminated at its length */
	assert_true(plw_agent_filter_passes(&f, "handlerXYZ", 6, "/x.py", 5));
}

static void test_file(void **state)
{
	struct plw_agent_filter f = { 0 };

	plw_agent_filter_add_glob(&f, "app*.py");		/* last component */
	assert_true(passes(&f, "f", "/srv/app_main.py"));
	assert_true(passes(&f, "f", "app.py"));
	assert_false(passes(&f, "f", "/srv/app/x.py"));	/* directory: not the basename */
	memset(&f, 0, sizeof(f));
	plw_agent_filter_add_glob(&f, "*tests*");
	assert_false(passes(&f, "f", "/work/tests/py/k.py"));
	assert_true(passes(&f, "f", "/work/x/mytests.py"));
	memset(&f, 0, sizeof(f));
	plw_agent_filter_add_glob(&f, "*/myapp/*");		/* whole name */
	assert_true(passes(&f, "f", "/srv/myapp/a/b.py"));
	assert_false(passes(&f, "f", "/srv/myapp.py"));
	memset(&f, 0, sizeof(f));
	plw_agent_filter_add_glob(&f, "py/k.py");		/* '/': anchored at the start */
	assert_false(passes(&f, "f", "/work/py/k.py"));
	assert_true(passes(&f, "f", "py/k.py"));
	plw_agent_filter_add_glob(&f, "k.py");			/* any one of several */
	assert_true(passes(&f, "f", "/work/py/k.py"));
}

static void test_both(void **state)
{
	struct plw_agent_filter f = { 0 };

	plw_agent_filter_add_func(&f, "kc_a");
	plw_agent_filter_add_func(&f, "write_gt");
	plw_agent_filter_add_glob(&f, "*calls.py");
	assert_true(passes(&f, "kc_a", "/t/known_calls.py"));
	assert_false(passes(&f, "write_gt", "/t/_gate.py"));
	assert_false(passes(&f, "kc_b", "/t/known_calls.py"));
}

static void test_cuts(void **state)
{
	struct plw_agent_filter f = { 0 };
	char name[PLW_FUNC_MAX + 40], file[PLW_FILE_MAX + 40];

	/* the BPF reads at most MAX - 1 bytes: a longer name is compared cut */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	name[PLW_FUNC_MAX - 1] = 0;
	plw_agent_filter_add_func(&f, name);
	name[PLW_FUNC_MAX - 1] = 'n';
	assert_true(passes(&f, name, "/x.py"));
	memset(&f, 0, sizeof(f));
	/* a file name past PLW_FILE_MAX - 1: '*.py' no longer sees the end */
	file[0] = '/';
	memset(file + 1, 'd', sizeof(file) - 5);
	strcpy(file + sizeof(file) - 4, ".py");
	plw_agent_filter_add_glob(&f, "/*.py");
	assert_false(passes(&f, "f", file));
	plw_agent_filter_add_glob(&f, "/d*d");
	assert_true(passes(&f, "f", file));
}

static const char *env_vals[][2] = {
	{ "PYLOW_AGENT_FUNC_0", "a" }, { "PYLOW_AGENT_FUNC_1", "b" },
	{ "PYLOW_AGENT_FUNC_3", "not read: _2 is missing" },
	{ "PYLOW_AGENT_FILE_0", "*/srv/*" },
};

static const char *fake_getenv(const char *k)
{
	for (size_t i = 0; i < sizeof(env_vals) / sizeof(env_vals[0]); i++)
		if (!strcmp(env_vals[i][0], k))
			return env_vals[i][1];
	return NULL;
}

static const char *no_env(const char *k)
{
	return NULL;
}

static void test_env(void **state)
{
	struct plw_agent_filter f;

	plw_agent_filter_from_env(&f, fake_getenv);
	assert_int_equal(f.nr_funcs, 2);
	assert_string_equal(f.funcs[1], "b");
	assert_int_equal(f.nr_globs, 1);
	assert_true(f.glob_path[0]);
	assert_true(passes(&f, "a", "/x/srv/y.py"));
	assert_false(passes(&f, "a", "/x/y.py"));
	plw_agent_filter_from_env(&f, no_env);
	assert_false(plw_agent_filter_active(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_func),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_both),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
