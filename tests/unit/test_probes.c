// SPDX-License-Identifier: MIT
/*
 * test_probes.c - report/probes.c: probe short names, the per-input tables
 * (probe.N, tracepoint.ID, STACK_DEF) and tracepoint decoding with
 * libtraceevent from a file's own tracing data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "format/plw.h"
#include "report/probes.h"

static void test_short_names(void **state)
{
	static const char *const cases[][2] = {
		{ "uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:getppid", "uprobe libc:getppid" },
		{ "uretprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:umask", "uretprobe libc:umask" },
		{ "usdt:/usr/bin/python3.11:python:gc__start", "usdt python3.11:python:gc__start" },
		{ "usdt:/opt/lib/libpython3.12.so.1.0:python:function__entry",
		  "usdt libpython3.12:python:function__entry" },
		{ "tracepoint:sched:sched_process_fork", "tracepoint sched:sched_process_fork" },
		{ "uprobe:/srv/app:handle", "uprobe app:handle" },
		{ "weird", "weird" },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		plw_probe_short_name(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
}

static void test_tables(void **state)
{
	struct plw_native *n = NULL;
	struct plw_event ev = { .type = PLW_EV_STACK_DEF };
	char buf[32];
	uint32_t kind = 9;

	assert_int_equal(plw_native_new(&n), 0);
	assert_int_equal(plw_native_meta(n, 1, "probe.3", "uretprobe:/lib/libc.so.6:umask"), 0);
	assert_int_equal(plw_native_meta(n, 1, "probe.3", "uprobe:/other:x"), 0);	/* first wins */
	assert_int_equal(plw_native_meta(n, 1, "tracepoint.366", "sched:sched_process_fork"), 0);
	assert_int_equal(plw_native_meta(n, 1, "probe.x", "ignored"), 0);
	assert_int_equal(plw_native_meta(n, 0, "hostname", "h"), 0);
	assert_string_equal(plw_native_probe_name(n, 1, 3, buf, sizeof(buf)), "uretprobe libc:umask");
	assert_string_equal(plw_native_probe_kind(n, 1, 3), "uretprobe");
	assert_string_equal(plw_native_probe_name(n, 0, 3, buf, sizeof(buf)), "probe 3");
	assert_null(plw_native_probe_kind(n, 0, 3));
	assert_string_equal(plw_native_tp_name(n, 1, 366), "tracepoint sched:sched_process_fork");
	assert_null(plw_native_tp_name(n, 1, 367));
	assert_null(plw_native_tp_name(n, 5, 366));

	ev.u.stack_def.id = 700;
	ev.u.stack_def.kind = PLW_STACK_USER;
	ev.u.stack_def.frames = "read+0x12 (libc.so.6)\nmain+0x4 (app)";
	assert_int_equal(plw_native_stack_def(n, 2, &ev), 0);
	assert_string_equal(plw_native_stack(n, 2, 700, &kind), "read+0x12 (libc.so.6)\nmain+0x4 (app)");
	assert_int_equal(kind, PLW_STACK_USER);
	assert_null(plw_native_stack(n, 2, 699, NULL));
	assert_null(plw_native_stack(n, 1, 700, NULL));
	assert_null(plw_native_stack(n, 2, 1u << 30, NULL));
	plw_native_free(n);
}

static const char fork_format[] =
	"name: sched_process_fork\nID: 366\nformat:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
	"\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n"
	"\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;\n"
	"\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n\n"
	"print fmt: \"comm=%s pid=%d child_comm=%s child_pid=%d\", __get_str(parent_comm), "
	"REC->parent_pid, __get_str(child_comm), REC->child_pid\n";

static const char openat_format[] =
	"name: sys_enter_openat\nID: 700\nformat:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
	"\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
	"\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n\n"
	"print fmt: \"dfd: 0x%08lx, filename: 0x%08lx\", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename))\n";

/* a file with two kernel tracepoints: the decoder reads its tracing data */
static void test_decode(void **state)
{
	struct plw_tp_attr tps[] = {
		{ "sched", "sched_process_fork", 366, fork_format },
		{ "syscalls", "sys_enter_openat", 700, openat_format },
	};
	struct plw_writer_opts o = { .keep_old = false, .tps = tps, .nr_tps = 2 };
	char dir[] = "/tmp/plwprobes.XXXXXX", path[64], out[512];
	struct plw_writer *w = NULL;
	struct plw_reader *r = NULL;
	struct plw_tpdec *d = NULL;
	unsigned char raw[40] = { 0 };
	uint32_t v;
	int64_t neg = -100;
	const void *td;
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.plw", dir);
	assert_int_equal(plw_writer_open(&w, path, &o), 0);
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	assert_int_equal(plw_reader_open(&r, path, 0), 0);
	td = plw_reader_tracing_data(r, &len);
	assert_non_null(td);
	assert_int_equal(plw_tpdec_new(&d, td, len), 0);

	v = 366;
	memcpy(raw, &v, 2);
	v = 24 | 8 << 16;
	memcpy(raw + 8, &v, 4);
	v = 700;
	memcpy(raw + 12, &v, 4);
	v = 32 | 6 << 16;
	memcpy(raw + 16, &v, 4);
	v = 702;
	memcpy(raw + 20, &v, 4);
	memcpy(raw + 24, "python3", 8);
	memcpy(raw + 32, "child", 6);
	assert_string_equal(plw_tpdec_fields(d, raw, sizeof(raw), out, sizeof(out)),
			    "parent_comm=python3 parent_pid=700 child_comm=child child_pid=702");
	/* a string past the entry is cut, not read */
	v = 36 | 64 << 16;
	memcpy(raw + 16, &v, 4);
	assert_string_equal(plw_tpdec_fields(d, raw, sizeof(raw), out, sizeof(out)),
			    "parent_comm=python3 parent_pid=700 child_comm= child_pid=702");

	memset(raw, 0, sizeof(raw));
	v = 700;
	memcpy(raw, &v, 2);
	v = 257;
	memcpy(raw + 8, &v, 4);
	memcpy(raw + 16, &neg, 8);
	v = 0x1000;
	memcpy(raw + 24, &v, 4);
	v = 0x80000;
	memcpy(raw + 32, &v, 4);
	plw_tpdec_fields(d, raw, sizeof(raw), out, sizeof(out));
	assert_string_equal(out, "__syscall_nr=257 dfd=0xffffffffffffff9c filename=0x1000 flags=524288");
	/* unknown id, short entry: nothing */
	v = 12;
	memcpy(raw, &v, 2);
	assert_string_equal(plw_tpdec_fields(d, raw, sizeof(raw), out, sizeof(out)), "");
	assert_string_equal(plw_tpdec_fields(d, raw, 4, out, sizeof(out)), "");
	/* damaged tracing data is refused */
	{
		struct plw_tpdec *d2 = NULL;

		assert_int_equal(plw_tpdec_new(&d2, td, 20), -EINVAL);
		assert_null(d2);
	}
	plw_tpdec_free(d);
	plw_reader_free(r);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_names),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
