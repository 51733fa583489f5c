// SPDX-License-Identifier: MIT
/*
 * plwgen - write a pylow file (.plw) from a text script, through the
 * format/ writer API, so that report tests need neither root nor BPF.
 *
 * Usage: plwgen SCRIPT OUT.plw      (SCRIPT "-" = stdin)
 *
 * One command per line; '#' starts a comment line; fields are separated by
 * blanks; the last field of a command may contain blanks (it takes the rest
 * of the line).  TS is an integer in ns (CLOCK_MONOTONIC), or "+N" = N ns
 * after the previous TS.  Events are written in script order.
 *
 *   meta KEY VALUE            in-stream META event at the current TS; keys
 *                             hostname osrelease arch cmdline nr_cpus_online
 *                             nr_cpus_avail tod_ns mono_ns also go into the
 *                             feature sections at finish
 *   cpu N                     cpu of the following events (default 0)
 *   loc ID LINE FUNC FILE     declare a code location; its PY_LOC event is
 *                             written just before the first entry/return
 *                             using it (same ts/pid/tid)
 *   locat TS PID TID ID LINE FUNC FILE   write a PY_LOC event now
 *   entry TS PID TID LOCID    PY_ENTRY          return TS PID TID LOCID
 *   gc_start TS PID TID GEN   gc_done TS PID TID COLLECTED
 *   import_start TS PID TID MODULE   import_done TS PID TID FOUND MODULE
 *   comm PID TID NAME         COMM at the current TS
 *   exec TS PID TID NAME      COMM with the exec flag
 *   fork TS PPID PTID PID TID
 *   exit TS PID TID [PPID PTID]
 *   syscall TS PID TID NR FD RET DUR   SYSCALL: TS is the syscall's exit (it
 *                             began at TS - DUR); FD -1 = none; RET may be
 *                             negative.  Name it with a meta syscall_names line
 *   offcpu TS PID TID DUR RUNQ blocked|preempted   OFFCPU: TS is the
 *                             switch-in (switched out at TS - DUR)
 *   fault TS PID TID ADDR ERRCODE            FAULT (numbers may be 0x...)
 *   io TS PID TID DUR SECTOR BYTES DEV OP [sync] [error]
 *                             IO: OP read|write|flush|discard|other; TS is
 *                             the completion; DEV a kernel dev_t number
 *   mem TS PID TID OP ADDR SIZE [OLD]        MEM: OP malloc|calloc|realloc|
 *                             free|aligned
 *   gil TS PID TID WAIT       GIL taken at TS after WAIT ns
 *   exception TS PID TID TYPE EXCEPTION raised
 *   irq TS PID TID DUR hard|soft VEC         IRQ ending at TS
 *   tlb TS PID TID REASON PAGES              TLB (REASON a number 0-4)
 *   hit TS PID TID PROBE [ARG...]            PROBE hit (up to 6 args)
 *   stack TS PID TID KSTACK USTACK           STACK (-1: none)
 *   stackdef TS PID ID kernel|user FRAMES    STACK_DEF: FRAMES separated by
 *                             ';' in the script ('\n' in the file)
 *   conn TS PID TID OP FD LOCAL PEER CONN TX RX   NET_CONN: OP connect|accept|
 *                             close|listen; LOCAL/PEER "1.2.3.4:80",
 *                             "[::1]:80" or "unix"
 *   label TS PID TID CONN FD DIR PROTO STATUS FLAGS METHOD TARGET HOST TP
 *                             NET_LABEL: DIR send|recv; PROTO http_req|
 *                             http_resp|redis|pg; "-" = empty string
 *   tracepoint SYSTEM NAME ID FORMAT   a kernel tracepoint recorded as perf does
 *                             (record -e tracepoint:SYSTEM:NAME): an extra
 *                             attr, and FORMAT (a tracefs format file, path
 *                             relative to the script) in the tracing data;
 *                             read before anything else is written
 *   tp TS PID TID ID HEX      a sample of tracepoint ID: HEX is the entry
 *                             after its 8-byte common header (filled in)
 *   lost TS CPU N             LOST_SAMPLES
 *   task PID TID PPID START END COMM    private section task table
 *   probe GROUP NAME ok | probe GROUP NAME fail REASON   probe manifest
 *   loss CPU START END N      private section loss window
 *   flush                     end the current compressed chunk
 *   cut                       stop here without finishing: OUT.plw.partial
 *                             is left as a killed recorder leaves it
 *
 * Options in the environment: PLWGEN_CHUNK=bytes, PLWGEN_LEVEL=n.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "format/plw.h"

#define MAX_TOK 16

struct gloc {
	uint32_t id, line;
	char *func, *file;
	bool written;
};

static struct gloc *locs;
static size_t nr_locs;
static const char *script;
static int lineno;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "plwgen: %s:%d: ", script, lineno);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("bad number for %s", what);
	return v;
}

static int64_t snum(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end)
		die("bad number for %s", what);
	return v;
}

static uint64_t cur_ts;

static uint64_t ts_of(const char *s)
{
	if (s[0] == '+')
		cur_ts += num(s + 1, "relative ts");
	else
		cur_ts = num(s, "ts");
	return cur_ts;
}

/* splits LINE into at most N tokens, the last taking the rest */
static int split(char *line, char **tok, int n)
{
	int k = 0;
	char *p = line;

	while (k < n) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		tok[k++] = p;
		if (k == n)
			break;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
	return k;
}

static struct gloc *find_loc(uint32_t id)
{
	for (size_t i = 0; i < nr_locs; i++)
		if (locs[i].id == id)
			return &locs[i];
	return NULL;
}

static void check(int err, struct plw_writer *w)
{
	if (err < 0) {
		fprintf(stderr, "plwgen: %s:%d: %s\n", script, lineno, plw_writer_error(w));
		exit(1);
	}
}

static uint32_t pick(const char *v, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	fprintf(stderr, "plwgen: %s:%d: bad %s '%s'\n", script, lineno, what, v);
	exit(1);
}

/* "1.2.3.4:80", "[::1]:80" or "unix" */
static void addr_of(const char *v, uint16_t *family, uint8_t *addr, uint16_t *port)
{
	char buf[128];
	const char *c;

	if (!strcmp(v, "unix")) {
		*family = AF_UNIX;
		return;
	}
	if (v[0] == '[') {
		c = strstr(v, "]:");
		if (!c || (size_t)(c - v - 1) >= sizeof(buf))
			die("bad address '%s'", v);
		memcpy(buf, v + 1, c - v - 1);
		buf[c - v - 1] = 0;
		if (inet_pton(AF_INET6, buf, addr) != 1)
			die("bad address '%s'", v);
		*family = AF_INET6;
		*port = (uint16_t)num(c + 2, "port");
		return;
	}
	c = strrchr(v, ':');
	if (!c || (size_t)(c - v) >= sizeof(buf))
		die("bad address '%s'", v);
	memcpy(buf, v, c - v);
	buf[c - v] = 0;
	if (inet_pton(AF_INET, buf, addr) != 1)
		die("bad address '%s'", v);
	*family = AF_INET;
	*port = (uint16_t)num(c + 1, "port");
}

static const char *dash(const char *v)
{
	return strcmp(v, "-") ? v : "";
}

int main(int argc, char **argv)
{
	struct plw_writer_opts opts = { .keep_old = false };
	struct plw_meta meta = { 0 };
	struct plw_task *tasks = NULL;
	struct plw_probe *probes = NULL;
	struct plw_loss *losses = NULL;
	struct plw_writer *w;
	uint32_t cpu = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *in;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: plwgen SCRIPT OUT.plw\n");
		return 2;
	}
	script = argv[1];
	in = strcmp(script, "-") ? fopen(script, "r") : stdin;
	if (!in) {
		fprintf(stderr, "plwgen: cannot open %s: %s\n", script, strerror(errno));
		return 1;
	}
	/* tracepoint lines first: the attrs are written at open */
	static struct plw_tp_attr tps[PLW_TPS_MAX];
	size_t nr_tps = 0;

	if (in != stdin) {
		FILE *pre = fopen(script, "r");

		while (pre && getline(&line, &cap, pre) > 0) {
			char *t[MAX_TOK], *nl, dir[4096], path[8192];
			FILE *ff;
			size_t fl;

			if ((nl = strchr(line, '\n')))
				*nl = 0;
			if (strncmp(line, "tracepoint ", 11))
				continue;
			if (split(line + 11, t, 4) != 4 || nr_tps == PLW_TPS_MAX)
				die("tracepoint: give SYSTEM NAME ID FORMAT%s", "");
			snprintf(dir, sizeof(dir), "%s", script);
			*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = 0;
			snprintf(path, sizeof(path), "%s%s%s", t[3][0] == '/' ? "" : dir,
				 t[3][0] == '/' || !dir[0] ? "" : "/", t[3]);
			ff = fopen(path, "r");
			if (!ff)
				die("tracepoint: cannot open %s", path);
			char *fmt = calloc(1, 65536);

			fl = fread(fmt, 1, 65535, ff);
			fmt[fl] = 0;
			fclose(ff);
			tps[nr_tps++] = (struct plw_tp_attr){ strdup(t[0]), strdup(t[1]),
							      num(t[2], "id"), fmt };
		}
		if (pre)
			fclose(pre);
		opts.tps = tps;
		opts.nr_tps = nr_tps;
	}
	if (getenv("PLWGEN_CHUNK"))
		opts.chunk_bytes = strtoul(getenv("PLWGEN_CHUNK"), NULL, 0);
	if (getenv("PLWGEN_LEVEL"))
		opts.zstd_level = atoi(getenv("PLWGEN_LEVEL"));
	err = plw_writer_open(&w, argv[2], &opts);
	if (err) {
		fprintf(stderr, "plwgen: %s\n", plw_writer_error(w));
		return 1;
	}
	while (getline(&line, &cap, in) > 0) {
		char *t[MAX_TOK], *nl;
		int n;

		lineno++;
		if ((nl = strchr(line, '\n')))
			*nl = 0;
		if ((nl = strchr(line, '\r')))
			*nl = 0;
		n = split(line, t, 2);
		if (!n || t[0][0] == '#')
			continue;
		char *cmd = t[0], *rest = n > 1 ? t[1] : (char *)"";
#define ARGS(k) do { if (split(rest, t, (k)) != (k)) die("%s: wrong number of fields", cmd); } while (0)
		if (!strcmp(cmd, "meta")) {
			char *v;

			ARGS(2);
			v = strdup(t[1]);
			check(plw_writer_meta(w, cur_ts, t[0], v), w);
			if (!strcmp(t[0], "hostname")) meta.hostname = v;
			else if (!strcmp(t[0], "osrelease")) meta.osrelease = v;
			else if (!strcmp(t[0], "arch")) meta.arch = v;
			else if (!strcmp(t[0], "cmdline")) meta.cmdline = v;
			else if (!strcmp(t[0], "nr_cpus_online")) meta.nr_cpus_online = num(v, "value");
			else if (!strcmp(t[0], "nr_cpus_avail")) meta.nr_cpus_avail = num(v, "value");
			else if (!strcmp(t[0], "tod_ns")) meta.tod_ns = num(v, "value");
			else if (!strcmp(t[0], "mono_ns")) meta.mono_ns = num(v, "value");
		} else if (!strcmp(cmd, "cpu")) {
			ARGS(1);
			cpu = num(t[0], "cpu");
		} else if (!strcmp(cmd, "loc")) {
			ARGS(4);
			if (find_loc(num(t[0], "id")))
				die("loc %s defined twice", t[0]);
			locs = realloc(locs, (nr_locs + 1) * sizeof(*locs));
			locs[nr_locs++] = (struct gloc){ num(t[0], "id"), num(t[1], "line"),
							 strdup(t[2]), strdup(t[3]), false };
		} else if (!strcmp(cmd, "locat")) {
			ARGS(7);
			check(plw_writer_loc(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]), cpu,
					     num(t[3], "id"), num(t[4], "line"), t[5], t[6]), w);
		} else if (!strcmp(cmd, "entry") || !strcmp(cmd, "return")) {
			struct plw_py_call c;
			struct gloc *l;
			uint64_t ts;
			uint32_t pid, tid;

			ARGS(4);
			ts = ts_of(t[0]);
			pid = num(t[1], "pid");
			tid = num(t[2], "tid");
			c.loc = num(t[3], "loc");
			if ((l = find_loc(c.loc)) && !l->written) {
				check(plw_writer_loc(w, pid, tid, ts, cpu, l->id, l->line,
						     l->func, l->file), w);
				l->written = true;
			}
			check(plw_writer_event(w, cmd[0] == 'e' ? PLW_EV_PY_ENTRY : PLW_EV_PY_RETURN,
					       pid, tid, ts, cpu, &c, sizeof(c)), w);
		} else if (!strcmp(cmd, "syscall")) {
			struct plw_syscall sc = { 0 };

			ARGS(7);
			sc.nr = num(t[3], "nr");
			sc.fd = (int32_t)snum(t[4], "fd");
			sc.ret = snum(t[5], "ret");
			sc.dur_ns = num(t[6], "dur");
			check(plw_writer_event(w, PLW_EV_SYSCALL, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &sc, sizeof(sc)), w);
		} else if (!strcmp(cmd, "offcpu")) {
			struct plw_offcpu oc = { 0 };

			ARGS(6);
			oc.dur_ns = num(t[3], "dur");
			oc.runq_ns = num(t[4], "runq");
			if (!strcmp(t[5], "blocked"))
				oc.reason = PLW_OFFCPU_BLOCKED;
			else if (!strcmp(t[5], "preempted"))
				oc.reason = PLW_OFFCPU_PREEMPTED;
			else
				die("offcpu reason '%s': blocked or preempted", t[5]);
			check(plw_writer_event(w, PLW_EV_OFFCPU, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &oc, sizeof(oc)), w);
		} else if (!strcmp(cmd, "fault")) {
			struct plw_fault f = { 0 };

			ARGS(5);
			f.addr = num(t[3], "addr");
			f.error_code = num(t[4], "error code");
			check(plw_writer_event(w, PLW_EV_FAULT, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &f, sizeof(f)), w);
		} else if (!strcmp(cmd, "io")) {
			static const char *const ops[] = { "read", "write", "flush", "discard", "other" };
			struct plw_io io = { 0 };

			n = split(rest, t, 11);
			if (n < 8)
				die("%s: wrong number of fields", cmd);
			io.dur_ns = num(t[3], "dur");
			io.sector = num(t[4], "sector");
			io.bytes = num(t[5], "bytes");
			io.dev = num(t[6], "dev");
			io.op = pick(t[7], ops, 5, "io op");
			for (int i = 8; i < n; i++)
				if (!strcmp(t[i], "sync"))
					io.op |= PLW_IO_SYNC;
				else if (!strcmp(t[i], "error"))
					io.op |= PLW_IO_ERROR;
				else
					die("bad io flag '%s'", t[i]);
			check(plw_writer_event(w, PLW_EV_IO, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &io, sizeof(io)), w);
		} else if (!strcmp(cmd, "mem")) {
			static const char *const ops[] = { "malloc", "calloc", "realloc", "free", "aligned" };
			struct plw_mem me = { 0 };

			n = split(rest, t, 8);
			if (n != 6 && n != 7)
				die("%s: wrong number of fields", cmd);
			me.op = pick(t[3], ops, 5, "mem op");
			me.addr = num(t[4], "addr");
			me.size = num(t[5], "size");
			me.old_addr = n == 7 ? num(t[6], "old") : 0;
			check(plw_writer_event(w, PLW_EV_MEM, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &me, sizeof(me)), w);
		} else if (!strcmp(cmd, "gil")) {
			struct plw_gil g = { 0 };

			ARGS(4);
			g.wait_ns = num(t[3], "wait");
			check(plw_writer_event(w, PLW_EV_GIL, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &g, sizeof(g)), w);
		} else if (!strcmp(cmd, "exception")) {
			ARGS(4);
			check(plw_writer_exception(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]),
						   cpu, t[3]), w);
		} else if (!strcmp(cmd, "irq")) {
			static const char *const kinds[] = { "hard", "soft" };
			struct plw_irq q = { 0 };

			ARGS(6);
			q.dur_ns = num(t[3], "dur");
			q.kind = pick(t[4], kinds, 2, "irq kind");
			q.vec = num(t[5], "vec");
			check(plw_writer_event(w, PLW_EV_IRQ, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &q, sizeof(q)), w);
		} else if (!strcmp(cmd, "tlb")) {
			struct plw_tlb tl = { 0 };

			ARGS(5);
			tl.reason = num(t[3], "reason");
			tl.pages = (uint32_t)snum(t[4], "pages");
			check(plw_writer_event(w, PLW_EV_TLB, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &tl, sizeof(tl)), w);
		} else if (!strcmp(cmd, "hit")) {
			struct plw_probe_hit h = { 0 };

			n = split(rest, t, 4 + PLW_PROBE_ARGS_MAX + 1);
			if (n < 4 || n > 4 + PLW_PROBE_ARGS_MAX)
				die("%s: wrong number of fields", cmd);
			h.probe = num(t[3], "probe");
			h.nr_args = n - 4;
			for (int i = 4; i < n; i++)
				h.args[i - 4] = (uint64_t)snum(t[i], "arg");
			check(plw_writer_event(w, PLW_EV_PROBE, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &h, sizeof(h)), w);
		} else if (!strcmp(cmd, "tracepoint")) {
			;	/* read before the writer was opened */
		} else if (!strcmp(cmd, "tp")) {
			unsigned char raw[4096];
			struct plw_common c = { 0 };
			size_t hl;

			ARGS(5);
			hl = strlen(t[4]);
			if (hl % 2 || hl / 2 + 8 > sizeof(raw))
				die("tp: HEX must be an even number of hex digits%s", "");
			c.common_type = (uint16_t)num(t[3], "id");
			c.common_pid = (int32_t)num(t[2], "tid");
			memcpy(raw, &c, 8);
			for (size_t i = 0; i < hl / 2; i++) {
				unsigned v;

				if (sscanf(t[4] + 2 * i, "%2x", &v) != 1)
					die("tp: bad hex '%s'", t[4]);
				raw[8 + i] = (unsigned char)v;
			}
			check(plw_writer_tp_sample(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]), cpu,
						   raw, 8 + hl / 2), w);
		} else if (!strcmp(cmd, "stack")) {
			struct plw_stack st = { 0 };

			ARGS(5);
			st.kstack = (int32_t)snum(t[3], "kstack");
			st.ustack = (int32_t)snum(t[4], "ustack");
			check(plw_writer_event(w, PLW_EV_STACK, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &st, sizeof(st)), w);
		} else if (!strcmp(cmd, "stackdef")) {
			static const char *const kinds[] = { "kernel", "user" };
			uint32_t nr = 1;

			ARGS(5);
			for (char *c = t[4]; *c; c++)
				if (*c == ';') {
					*c = '\n';
					nr++;
				}
			check(plw_writer_stack_def(w, num(t[1], "pid"), ts_of(t[0]), num(t[2], "id"),
						   pick(t[3], kinds, 2, "stack kind"), nr, t[4]), w);
		} else if (!strcmp(cmd, "conn")) {
			static const char *const ops[] = { "connect", "accept", "close", "listen" };
			struct plw_net_conn c = { 0 };

			ARGS(10);
			c.op = pick(t[3], ops, 4, "conn op");
			c.fd = (int32_t)snum(t[4], "fd");
			addr_of(t[5], &c.family, c.laddr, &c.lport);
			addr_of(t[6], &c.family, c.raddr, &c.rport);
			c.conn = num(t[7], "conn");
			c.bytes_tx = num(t[8], "tx");
			c.bytes_rx = num(t[9], "rx");
			check(plw_writer_event(w, PLW_EV_NET_CONN, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &c, sizeof(c)), w);
		} else if (!strcmp(cmd, "label")) {
			static const char *const dirs[] = { "send", "recv" };
			static const char *const protos[] = { "-", "http_req", "http_resp", "redis", "pg" };
			struct plw_net_label l = { 0 };

			ARGS(13);
			l.conn = num(t[3], "conn");
			l.fd = (int32_t)snum(t[4], "fd");
			l.dir = pick(t[5], dirs, 2, "direction");
			l.proto = pick(t[6], protos, 5, "protocol");
			l.status = num(t[7], "status");
			l.flags = num(t[8], "flags");
			check(plw_writer_net_label(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]),
						   cpu, &l, dash(t[9]), dash(t[10]), dash(t[11]),
						   dash(t[12])), w);
		} else if (!strcmp(cmd, "gc_start")) {
			struct plw_py_gc_start g;

			ARGS(4);
			g.generation = (int32_t)num(t[3], "gen");
			check(plw_writer_event(w, PLW_EV_PY_GC_START, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &g, sizeof(g)), w);
		} else if (!strcmp(cmd, "gc_done")) {
			struct plw_py_gc_done g = { 0 };

			ARGS(4);
			g.collected = (int64_t)num(t[3], "collected");
			check(plw_writer_event(w, PLW_EV_PY_GC_DONE, num(t[1], "pid"), num(t[2], "tid"),
					       ts_of(t[0]), cpu, &g, sizeof(g)), w);
		} else if (!strcmp(cmd, "import_start")) {
			ARGS(4);
			check(plw_writer_import(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]),
						cpu, false, t[3], 0), w);
		} else if (!strcmp(cmd, "import_done")) {
			ARGS(5);
			check(plw_writer_import(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]),
						cpu, true, t[4], (int32_t)num(t[3], "found")), w);
		} else if (!strcmp(cmd, "comm")) {
			ARGS(3);
			check(plw_writer_comm(w, num(t[0], "pid"), num(t[1], "tid"), cur_ts, t[2],
					      false), w);
		} else if (!strcmp(cmd, "exec")) {
			ARGS(4);
			check(plw_writer_comm(w, num(t[1], "pid"), num(t[2], "tid"), ts_of(t[0]), t[3],
					      true), w);
		} else if (!strcmp(cmd, "fork")) {
			ARGS(5);
			check(plw_writer_fork(w, num(t[3], "pid"), num(t[4], "tid"), num(t[1], "ppid"),
					      num(t[2], "ptid"), ts_of(t[0])), w);
		} else if (!strcmp(cmd, "exit")) {
			n = split(rest, t, 5);
			if (n != 3 && n != 5)
				die("%s: wrong number of fields", cmd);
			check(plw_writer_exit(w, num(t[1], "pid"), num(t[2], "tid"),
					      n == 5 ? num(t[3], "ppid") : 0,
					      n == 5 ? num(t[4], "ptid") : 0, ts_of(t[0])), w);
		} else if (!strcmp(cmd, "lost")) {
			ARGS(3);
			check(plw_writer_lost(w, num(t[1], "cpu"), ts_of(t[0]), num(t[2], "n")), w);
		} else if (!strcmp(cmd, "task")) {
			struct plw_task k = { 0 };

			ARGS(6);
			k.pid = num(t[0], "pid");
			k.tid = num(t[1], "tid");
			k.ppid = num(t[2], "ppid");
			k.start_ns = num(t[3], "start");
			k.end_ns = num(t[4], "end");
			snprintf(k.comm, sizeof(k.comm), "%s", t[5]);
			tasks = realloc(tasks, (meta.nr_tasks + 1) * sizeof(*tasks));
			tasks[meta.nr_tasks++] = k;
		} else if (!strcmp(cmd, "probe")) {
			struct plw_probe p = { 0 };

			n = split(rest, t, 4);
			if (n < 3 || (strcmp(t[2], "ok") && strcmp(t[2], "fail")))
				die("%s: want GROUP NAME ok|fail [REASON]", cmd);
			p.group = strdup(t[0]);
			p.name = strdup(t[1]);
			p.attached = !strcmp(t[2], "ok");
			p.reason = p.attached ? NULL : strdup(n > 3 ? t[3] : "unknown");
			probes = realloc(probes, (meta.nr_probes + 1) * sizeof(*probes));
			probes[meta.nr_probes++] = p;
		} else if (!strcmp(cmd, "loss")) {
			ARGS(4);
			losses = realloc(losses, (meta.nr_losses + 1) * sizeof(*losses));
			losses[meta.nr_losses++] = (struct plw_loss){ num(t[0], "cpu"),
				num(t[1], "start"), num(t[2], "end"), num(t[3], "n") };
		} else if (!strcmp(cmd, "flush")) {
			check(plw_writer_flush(w), w);
		} else if (!strcmp(cmd, "cut")) {
			check(plw_writer_flush(w), w);
			plw_writer_free(w);
			return 0;
		} else {
			die("unknown command '%s'", cmd);
		}
	}
	meta.tasks = tasks;
	meta.probes = probes;
	meta.losses = losses;
	check(plw_writer_finish(w, &meta), w);
	plw_writer_free(w);
	return 0;
}
