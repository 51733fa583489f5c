// SPDX-License-Identifier: MIT
/*
 * tracing.c - the HEADER_TRACING_DATA feature: tracepoint format text for
 * pylow's events, so that perf/libtraceevent print them by field name.
 * Offsets below follow format/events.h (checked by static asserts).
 */
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

_Static_assert(offsetof(struct plw_py_loc, func) == 8, "py_loc.func");
_Static_assert(offsetof(struct plw_py_loc, file) == 12, "py_loc.file");
_Static_assert(offsetof(struct plw_py_gc_done, collected) == 0, "gc_done");
_Static_assert(offsetof(struct plw_py_import, module) == 8, "import.module");
_Static_assert(offsetof(struct plw_syscall, ret) == 8 && offsetof(struct plw_syscall, dur_ns) == 16, "syscall");
_Static_assert(offsetof(struct plw_offcpu, reason) == 16, "offcpu");

static const char *const ev_names[PLW_EV_MAX] = {
	[PLW_EV_PY_ENTRY] = "py_entry",
	[PLW_EV_PY_RETURN] = "py_return",
	[PLW_EV_PY_LOC] = "py_loc",
	[PLW_EV_PY_GC_START] = "py_gc_start",
	[PLW_EV_PY_GC_DONE] = "py_gc_done",
	[PLW_EV_PY_IMPORT_START] = "py_import_start",
	[PLW_EV_PY_IMPORT_DONE] = "py_import_done",
	[PLW_EV_META] = "meta",
	[PLW_EV_SYSCALL] = "syscall",
	[PLW_EV_OFFCPU] = "offcpu",
	[PLW_EV_FAULT] = "fault",
	[PLW_EV_IO] = "io",
	[PLW_EV_MEM] = "mem",
	[PLW_EV_GIL] = "gil",
	[PLW_EV_EXCEPTION] = "exception",
	[PLW_EV_IRQ] = "irq",
	[PLW_EV_TLB] = "tlb",
	[PLW_EV_PROBE] = "probe",
	[PLW_EV_STACK] = "stack",
	[PLW_EV_STACK_DEF] = "stack_def",
	[PLW_EV_NET_CONN] = "net_conn",
	[PLW_EV_NET_LABEL] = "net_label",
	[PLW_EV_PY_BATCH] = "py_batch",
};

/* fields after the common header; offsets count from the start of raw */
static const char *const ev_fields[PLW_EV_MAX] = {
	[PLW_EV_PY_ENTRY] =
		"\tfield:unsigned int loc;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"loc=%u\", REC->loc\n",
	[PLW_EV_PY_RETURN] =
		"\tfield:unsigned int loc;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"loc=%u\", REC->loc\n",
	[PLW_EV_PY_LOC] =
		"\tfield:unsigned int loc;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int line;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] func;\toffset:16;\tsize:4;\tsigned:1;\n"
		"\tfield:__data_loc char[] file;\toffset:20;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"loc=%u line=%u func=%s file=%s\", REC->loc, REC->line, "
		"__get_str(func), __get_str(file)\n",
	[PLW_EV_PY_GC_START] =
		"\tfield:int generation;\toffset:8;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"generation=%d\", REC->generation\n",
	[PLW_EV_PY_GC_DONE] =
		"\tfield:long long collected;\toffset:8;\tsize:8;\tsigned:1;\n"
		"\tfield:unsigned int pad;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"collected=%lld\", REC->collected\n",
	[PLW_EV_PY_IMPORT_START] =
		"\tfield:int found;\toffset:8;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned int pad;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] module;\toffset:16;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"module=%s\", __get_str(module)\n",
	[PLW_EV_PY_IMPORT_DONE] =
		"\tfield:int found;\toffset:8;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned int pad;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] module;\toffset:16;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"module=%s found=%d\", __get_str(module), REC->found\n",
	[PLW_EV_META] =
		"\tfield:__data_loc char[] key;\toffset:8;\tsize:4;\tsigned:1;\n"
		"\tfield:__data_loc char[] value;\toffset:12;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned int pad;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"%s=%s\", __get_str(key), __get_str(value)\n",
	[PLW_EV_SYSCALL] =
		"\tfield:unsigned int nr;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:int fd;\toffset:12;\tsize:4;\tsigned:1;\n"
		"\tfield:long long ret;\toffset:16;\tsize:8;\tsigned:1;\n"
		"\tfield:unsigned long long dur_ns;\toffset:24;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:32;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"nr=%u fd=%d ret=%lld dur_ns=%llu\", REC->nr, REC->fd, REC->ret, REC->dur_ns\n",
	[PLW_EV_OFFCPU] =
		"\tfield:unsigned long long dur_ns;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long runq_ns;\toffset:16;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int reason;\toffset:24;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"dur_ns=%llu runq_ns=%llu reason=%s\", REC->dur_ns, REC->runq_ns, "
		"__print_symbolic(REC->reason, { 0, \"preempted\" }, { 1, \"blocked\" })\n",	[PLW_EV_FAULT] =
		"\tfield:unsigned long long addr;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int error_code;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"addr=0x%llx error_code=0x%x\", REC->addr, REC->error_code\n",
	[PLW_EV_IO] =
		"\tfield:unsigned long long dur_ns;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long sector;\toffset:16;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int bytes;\toffset:24;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int dev;\toffset:28;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int op;\toffset:32;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"dur_ns=%llu sector=%llu bytes=%u dev=%u:%u op=%s%s\", REC->dur_ns, REC->sector, REC->bytes, REC->dev >> 20, REC->dev & 0xfffff, __print_symbolic(REC->op & 0xff, { 0, \"read\" }, { 1, \"write\" }, { 2, \"flush\" }, { 3, \"discard\" }, { 4, \"other\" }), (REC->op & 0x100) ? \" sync\" : \"\"\n",
	[PLW_EV_MEM] =
		"\tfield:unsigned long long addr;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long size;\toffset:16;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long old_addr;\toffset:24;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int op;\toffset:32;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"op=%s addr=0x%llx size=%llu old_addr=0x%llx\", __print_symbolic(REC->op, { 0, \"malloc\" }, { 1, \"calloc\" }, { 2, \"realloc\" }, { 3, \"free\" }, { 4, \"aligned\" }), REC->addr, REC->size, REC->old_addr\n",
	[PLW_EV_GIL] =
		"\tfield:unsigned long long wait_ns;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"wait_ns=%llu\", REC->wait_ns\n",
	[PLW_EV_EXCEPTION] =
		"\tfield:unsigned int flags;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] type;\toffset:12;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"type=%s\", __get_str(type)\n",
	[PLW_EV_IRQ] =
		"\tfield:unsigned long long dur_ns;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int vec;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int kind;\toffset:20;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:24;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"kind=%s vec=%u dur_ns=%llu\", __print_symbolic(REC->kind, { 0, \"hard\" }, { 1, \"soft\" }), REC->vec, REC->dur_ns\n",
	[PLW_EV_TLB] =
		"\tfield:unsigned int reason;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int pages;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"reason=%s pages=%d\", __print_symbolic(REC->reason, { 0, \"flush on task switch\" }, { 1, \"remote shootdown\" }, { 2, \"local shootdown\" }, { 3, \"local mm shootdown\" }, { 4, \"remote ipi send\" }), REC->pages\n",
	[PLW_EV_PROBE] =
		"\tfield:unsigned int probe;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int nr_args;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned long long arg0;\toffset:16;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long arg1;\toffset:24;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long arg2;\toffset:32;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long arg3;\toffset:40;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long arg4;\toffset:48;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long arg5;\toffset:56;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:64;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"probe=%u arg0=0x%llx arg1=0x%llx arg2=0x%llx arg3=0x%llx arg4=0x%llx arg5=0x%llx\", REC->probe, REC->arg0, REC->arg1, REC->arg2, REC->arg3, REC->arg4, REC->arg5\n",
	[PLW_EV_STACK] =
		"\tfield:int kstack;\toffset:8;\tsize:4;\tsigned:1;\n"
		"\tfield:int ustack;\toffset:12;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned int pad;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"kstack=%d ustack=%d\", REC->kstack, REC->ustack\n",
	[PLW_EV_STACK_DEF] =
		"\tfield:unsigned int id;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int kind;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int nr;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] frames;\toffset:20;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"id=%u kind=%s nr=%u\", REC->id, __print_symbolic(REC->kind, { 0, \"kernel\" }, { 1, \"user\" }), REC->nr\n",
	[PLW_EV_NET_CONN] =
		"\tfield:unsigned int op;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:int fd;\toffset:12;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned short family;\toffset:16;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned short lport;\toffset:18;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned short rport;\toffset:20;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned short pad0;\toffset:22;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned char laddr[16];\toffset:24;\tsize:16;\tsigned:0;\n"
		"\tfield:unsigned char raddr[16];\toffset:40;\tsize:16;\tsigned:0;\n"
		"\tfield:unsigned long long conn;\toffset:56;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long bytes_tx;\toffset:64;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned long long bytes_rx;\toffset:72;\tsize:8;\tsigned:0;\n"
		"\tfield:unsigned int pad;\toffset:80;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"op=%s fd=%d family=%u lport=%u rport=%u conn=%llu tx=%llu rx=%llu\", __print_symbolic(REC->op, { 0, \"connect\" }, { 1, \"accept\" }, { 2, \"close\" }, { 3, \"listen\" }), REC->fd, REC->family, REC->lport, REC->rport, REC->conn, REC->bytes_tx, REC->bytes_rx\n",
	[PLW_EV_NET_LABEL] =
		"\tfield:unsigned long long conn;\toffset:8;\tsize:8;\tsigned:0;\n"
		"\tfield:int fd;\toffset:16;\tsize:4;\tsigned:1;\n"
		"\tfield:unsigned short dir;\toffset:20;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned short proto;\toffset:22;\tsize:2;\tsigned:0;\n"
		"\tfield:unsigned int status;\toffset:24;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int flags;\toffset:28;\tsize:4;\tsigned:0;\n"
		"\tfield:__data_loc char[] method;\toffset:32;\tsize:4;\tsigned:1;\n"
		"\tfield:__data_loc char[] target;\toffset:36;\tsize:4;\tsigned:1;\n"
		"\tfield:__data_loc char[] host;\toffset:40;\tsize:4;\tsigned:1;\n"
		"\tfield:__data_loc char[] traceparent;\toffset:44;\tsize:4;\tsigned:1;\n"
		"\nprint fmt: \"conn=%llu dir=%s proto=%s method=%s target=%s host=%s status=%u traceparent=%s\", REC->conn, __print_symbolic(REC->dir, { 0, \"send\" }, { 1, \"recv\" }), __print_symbolic(REC->proto, { 1, \"http_req\" }, { 2, \"http_resp\" }, { 3, \"redis\" }, { 4, \"pg\" }), __get_str(method), __get_str(target), __get_str(host), REC->status, __get_str(traceparent)\n",
	[PLW_EV_PY_BATCH] =
		"\tfield:unsigned int nr;\toffset:8;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int ops_len;\toffset:12;\tsize:4;\tsigned:0;\n"
		"\tfield:unsigned int ts_len;\toffset:16;\tsize:4;\tsigned:0;\n"
		"\nprint fmt: \"nr=%u ops_len=%u ts_len=%u\", REC->nr, REC->ops_len, REC->ts_len\n",
};

static const char common_fields[] =
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

static const char header_page[] =
	"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
	"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n"
	"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
	"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

static const char header_event[] =
	"# compressed entry header\n"
	"\ttype_len    :    5 bits\n"
	"\ttime_delta  :   27 bits\n"
	"\tarray       :   32 bits\n\n"
	"\tpadding     : type == 29\n"
	"\ttime_extend : type == 30\n"
	"\ttime_stamp : type == 31\n"
	"\tdata max type_len  == 28\n";

/* distinct systems of TPS (none of them "pylow") */
static uint32_t nr_systems(const struct plw_tp_attr *tps, size_t nr)
{
	uint32_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		size_t k;

		for (k = 0; k < i && strcmp(tps[k].system, tps[i].system); k++)
			;
		n += k == i;
	}
	return n;
}

const char *plw_ev_name(unsigned ev)
{
	return ev > 0 && ev < PLW_EV_MAX ? ev_names[ev] : NULL;
}

int plw_tracing_data(struct plw_buf *b, const struct plw_tp_attr *tps, size_t nr_tps)
{
	static const unsigned char magic[] = { 0x17, 0x08, 0x44 };
	unsigned char u8;
	char fmt[4096];
	int err, n;

	if ((err = plw_buf_add(b, magic, 3)) ||
	    (err = plw_buf_add(b, "tracing", 7)) ||
	    (err = plw_buf_add(b, "0.6", 4)))
		return err;
	u8 = 0;		/* file_bigendian: pylow writes native little-endian only */
	{
		union { uint16_t s; uint8_t c[2]; } e = { .s = 1 };
		u8 = e.c[0] ? 0 : 1;
	}
	if ((err = plw_buf_add(b, &u8, 1)))
		return err;
	u8 = sizeof(long);
	if ((err = plw_buf_add(b, &u8, 1)) || (err = plw_buf_u32(b, 4096)))
		return err;
	if ((err = plw_buf_add(b, "header_page", 12)) ||
	    (err = plw_buf_u64(b, sizeof(header_page) - 1)) ||
	    (err = plw_buf_add(b, header_page, sizeof(header_page) - 1)) ||
	    (err = plw_buf_add(b, "header_event", 13)) ||
	    (err = plw_buf_u64(b, sizeof(header_event) - 1)) ||
	    (err = plw_buf_add(b, header_event, sizeof(header_event) - 1)) ||
	    (err = plw_buf_u32(b, 0)) ||		/* ftrace formats */
	    (err = plw_buf_u32(b, 1 + nr_systems(tps, nr_tps))) ||	/* systems */
	    (err = plw_buf_add(b, "pylow", 6)) ||
	    (err = plw_buf_u32(b, PLW_EV_MAX - 1)))
		return err;
	for (unsigned ev = 1; ev < PLW_EV_MAX; ev++) {
		n = snprintf(fmt, sizeof(fmt), "name: %s\nID: %u\nformat:\n%s%s",
			     ev_names[ev], PLW_TP_ID_BASE + ev, common_fields,
			     ev_fields[ev]);
		if (n < 0 || (size_t)n >= sizeof(fmt))
			return -EOVERFLOW;
		if ((err = plw_buf_u64(b, n)) || (err = plw_buf_add(b, fmt, n)))
			return err;
	}
	/* the kernel tracepoints, grouped by system in order of first appearance */
	for (size_t i = 0; i < nr_tps; i++) {
		uint32_t cnt = 0;
		size_t k;

		for (k = 0; k < i && strcmp(tps[k].system, tps[i].system); k++)
			;
		if (k < i)
			continue;	/* system already written */
		for (k = i; k < nr_tps; k++)
			cnt += !strcmp(tps[k].system, tps[i].system);
		if ((err = plw_buf_add(b, tps[i].system, strlen(tps[i].system) + 1)) ||
		    (err = plw_buf_u32(b, cnt)))
			return err;
		for (k = i; k < nr_tps; k++) {
			if (strcmp(tps[k].system, tps[i].system))
				continue;
			if ((err = plw_buf_u64(b, strlen(tps[k].format))) ||
			    (err = plw_buf_add(b, tps[k].format, strlen(tps[k].format))))
				return err;
		}
	}
	if ((err = plw_buf_u32(b, 0)) ||	/* kallsyms */
	    (err = plw_buf_u32(b, 0)) ||	/* printk formats */
	    (err = plw_buf_u64(b, 0)))		/* saved cmdlines */
		return err;
	return 0;
}
