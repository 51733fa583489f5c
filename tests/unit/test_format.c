// SPDX-License-Identifier: MIT
/*
 * test_format.c - format/ unit tests: writer/reader round trips, chunking,
 * truncation and corruption salvage, other-endian refusal, bytes per event,
 * and (when perf is installed) that `perf script` reads our files.
 * Runs as any user in a mkdtemp directory that it removes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/perf_event.h>

#include "format/plw.h"

static char dir[64];

static char *path_of(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static int setup_dir(void **state)
{
	strcpy(dir, "/tmp/plwtest.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(n ? n : 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, n, f), (size_t)n);
	fclose(f);
	*size = n;
	return p;
}

static struct plw_writer *wopen(const char *name, size_t chunk, int level)
{
	struct plw_writer_opts o = { .zstd_level = level, .chunk_bytes = chunk, .keep_old = true };
	struct plw_writer *w = NULL;
	int err = plw_writer_open(&w, path_of(name), &o);

	if (err)
		fail_msg("open: %s", plw_writer_error(w));
	return w;
}

static void wfinish(struct plw_writer *w, const struct plw_meta *m)
{
	int err = plw_writer_finish(w, m);

	if (err)
		fail_msg("finish: %s", plw_writer_error(w));
	plw_writer_free(w);
}

static void call(struct plw_writer *w, int type, uint32_t tid, uint64_t ts, uint32_t loc)
{
	struct plw_py_call c = { loc };

	assert_int_equal(plw_writer_event(w, type, 7, tid, ts, 1, &c, sizeof(c)), 0);
}

/* --------------------------------------------------------- round trip */

static void test_roundtrip(void **state)
{
	struct plw_writer *w = wopen("rt.plw", 0, 0);
	struct plw_py_gc_start gs = { 2 };
	struct plw_py_gc_done gd = { .collected = -5000000000LL };
	struct plw_task tasks[2] = { { .pid = 7, .tid = 7, .ppid = 1, .start_ns = 1, .end_ns = 99,
				       .comm = "python3", .exe = "/usr/bin/python3.11",
				       .cmdline = "python3 x.py", .python = "3.11.2", .source = "usdt" },
				     { .pid = 7, .tid = 8, .ppid = 7, .comm = "worker" } };
	struct plw_probe probes[2] = { { "python", "usdt:x:python:function__entry", true, NULL },
				       { "python", "usdt:x:python:line", false, "no semaphore" } };
	struct plw_loss losses[1] = { { 3, 40, 50, 11 } };
	struct plw_meta m = {
		.hostname = "host1", .osrelease = "6.1.0", .arch = "x86_64",
		.cmdline = "pylow record -o rt.plw", .nr_cpus_online = 4, .nr_cpus_avail = 8,
		.tod_ns = 1700000000000000000ULL, .mono_ns = 1000,
		.tasks = tasks, .nr_tasks = 2, .probes = probes, .nr_probes = 2,
		.losses = losses, .nr_losses = 1,
	};
	struct plw_reader *r = NULL;
	struct plw_event ev;
	const struct plw_meta *rm;

	assert_int_equal(plw_writer_meta_all(w, 5, &m), 0);
	assert_int_equal(plw_writer_comm(w, 7, 7, 10, "python3", true), 0);
	assert_int_equal(plw_writer_loc(w, 7, 7, 11, 1, 17, 3, "fib", "/x.py"), 0);
	call(w, PLW_EV_PY_ENTRY, 7, 12, 17);
	call(w, PLW_EV_PY_RETURN, 7, 13, 17);
	assert_int_equal(plw_writer_event(w, PLW_EV_PY_GC_START, 7, 7, 14, 1, &gs, sizeof(gs)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_PY_GC_DONE, 7, 7, 15, 1, &gd, sizeof(gd)), 0);
	assert_int_equal(plw_writer_import(w, 7, 7, 16, 1, false, "json", 0), 0);
	assert_int_equal(plw_writer_import(w, 7, 7, 17, 1, true, "json", 1), 0);
	assert_int_equal(plw_writer_fork(w, 7, 8, 7, 7, 18), 0);
	assert_int_equal(plw_writer_comm(w, 7, 8, 19, "worker", false), 0);
	assert_int_equal(plw_writer_exit(w, 7, 8, 7, 7, 20), 0);
	assert_int_equal(plw_writer_lost(w, 3, 21, 11), 0);
	assert_int_equal(plw_writer_events(w), 8 + 7);
	wfinish(w, &m);

	assert_int_equal(plw_reader_open(&r, path_of("rt.plw"), 0), 0);
	rm = plw_reader_meta(r);
	assert_true(rm->finished);
	assert_string_equal(rm->hostname, "host1");
	assert_string_equal(rm->osrelease, "6.1.0");
	assert_string_equal(rm->arch, "x86_64");
	assert_string_equal(rm->cmdline, "pylow record -o rt.plw");
	assert_int_equal(rm->nr_cpus_online, 4);
	assert_int_equal(rm->nr_cpus_avail, 8);
	assert_int_equal(rm->tod_ns, 1700000000000000000ULL);
	assert_int_equal(rm->mono_ns, 1000);
	assert_int_equal(rm->start_ns, 5);
	assert_int_equal(rm->end_ns, 21);
	assert_int_equal(rm->lost_total, 11);
	assert_int_equal(rm->events_by_type[PLW_EV_META], 8);
	assert_int_equal(rm->events_by_type[PLW_EV_PY_ENTRY], 1);
	assert_int_equal(rm->nr_locs, 1);
	assert_string_equal(rm->locs[0].func, "fib");
	assert_int_equal(rm->nr_tasks, 2);
	assert_string_equal(rm->tasks[0].comm, "python3");
	assert_string_equal(rm->tasks[0].python, "3.11.2");
	assert_null(rm->tasks[1].exe);
	assert_string_equal(rm->tasks[1].comm, "worker");
	assert_int_equal(rm->nr_probes, 2);
	assert_true(rm->probes[0].attached);
	assert_string_equal(rm->probes[1].reason, "no semaphore");
	assert_int_equal(rm->nr_losses, 1);
	assert_int_equal(rm->losses[0].lost, 11);
	/* locations from the private section, before reading any event */
	assert_non_null(plw_reader_loc(r, 17));
	assert_string_equal(plw_reader_loc(r, 17)->file, "/x.py");
	assert_null(plw_reader_loc(r, 18));

	static const char *keys[] = { "hostname", "osrelease", "arch", "cmdline",
				      "nr_cpus_online", "nr_cpus_avail", "tod_ns", "mono_ns" };
	for (int i = 0; i < 8; i++) {
		assert_int_equal(plw_reader_next(r, &ev), 1);
		assert_int_equal(ev.type, PLW_EV_META);
		assert_int_equal(ev.ts, 5);
		assert_string_equal(ev.u.meta.key, keys[i]);
	}
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_REC_COMM);
	assert_string_equal(ev.u.comm.comm, "python3");
	assert_true(ev.u.comm.exec);
	assert_int_equal(ev.pid, 7);
	assert_int_equal(ev.ts, 10);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_LOC);
	assert_int_equal(ev.u.loc.id, 17);
	assert_int_equal(ev.u.loc.line, 3);
	assert_string_equal(ev.u.loc.func, "fib");
	assert_string_equal(ev.u.loc.file, "/x.py");
	assert_int_equal(ev.cpu, 1);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_ENTRY);
	assert_int_equal(ev.u.py.loc, 17);
	assert_int_equal(ev.ts, 12);
	assert_int_equal(ev.pid, 7);
	assert_int_equal(ev.tid, 7);
	assert_int_equal(ev.len, 4);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_RETURN);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_GC_START);
	assert_int_equal(ev.u.gc.value, 2);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_GC_DONE);
	assert_int_equal(ev.u.gc.value, -5000000000LL);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_IMPORT_START);
	assert_string_equal(ev.u.import.module, "json");
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_EV_PY_IMPORT_DONE);
	assert_string_equal(ev.u.import.module, "json");
	assert_int_equal(ev.u.import.found, 1);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_REC_FORK);
	assert_int_equal(ev.pid, 7);
	assert_int_equal(ev.tid, 8);
	assert_int_equal(ev.u.fork.ppid, 7);
	assert_int_equal(ev.u.fork.ptid, 7);
	assert_int_equal(ev.ts, 18);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_REC_COMM);
	assert_false(ev.u.comm.exec);
	assert_string_equal(ev.u.comm.comm, "worker");
	assert_int_equal(ev.tid, 8);
	assert_int_equal(ev.ts, 19);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_REC_EXIT);
	assert_int_equal(ev.tid, 8);
	assert_int_equal(ev.ts, 20);
	assert_int_equal(plw_reader_next(r, &ev), 1);
	assert_int_equal(ev.type, PLW_REC_LOST);
	assert_int_equal(ev.u.lost.lost, 11);
	assert_int_equal(ev.cpu, 3);
	assert_int_equal(ev.ts, 21);
	assert_int_equal(plw_reader_next(r, &ev), 0);
	assert_int_equal(plw_reader_next(r, &ev), 0);
	assert_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);

	/* a second finish of the same path keeps the first as .old */
	w = wopen("rt.plw", 0, 0);
	wfinish(w, NULL);
	struct stat st;
	assert_int_equal(stat(path_of("rt.plw.old"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(path_of("rt.plw.partial"), &st), -1);
	assert_int_equal(plw_reader_open(&r, path_of("rt.plw"), 0), 0);
	assert_int_equal(plw_reader_next(r, &ev), 0);
	assert_true(plw_reader_meta(r)->finished);
	plw_reader_free(r);
}

/* --------------------------------------------------------- chunks */

/* writes N py events (+ a loc per 1000), flush every FLUSH events; returns
 * the ts of every event in *TSS */
static uint64_t *write_stream(const char *name, size_t n, size_t chunk, size_t flush,
			      bool finish, int level)
{
	struct plw_writer *w = wopen(name, chunk, level);
	uint64_t *tss = malloc(n * sizeof(*tss)), ts = 1000000;
	unsigned seed = 1;

	for (size_t i = 0; i < n; i++) {
		ts += 100 + rand_r(&seed) % 1900;
		tss[i] = ts;
		if (i % 1000 == 0) {
			char f[32];

			snprintf(f, sizeof(f), "func%zu", i / 1000);
			assert_int_equal(plw_writer_loc(w, 7, 7, ts, 1, i / 1000 + 1, i, f, "/a/b.py"), 0);
		} else {
			call(w, i % 2 ? PLW_EV_PY_ENTRY : PLW_EV_PY_RETURN, 7, ts, i / 1000 + 1);
		}
		if (flush && (i + 1) % flush == 0)
			assert_int_equal(plw_writer_flush(w), 0);
	}
	if (finish) {
		wfinish(w, NULL);
	} else {
		assert_int_equal(plw_writer_flush(w), 0);
		plw_writer_free(w);
	}
	return tss;
}

static void test_chunks(void **state)
{
	size_t n = 200000, got = 0, locs = 0;
	uint64_t *tss = write_stream("chunks.plw", n, 8192, 777, true, 3);
	struct plw_reader *r = NULL;
	struct plw_event ev;
	int ret;

	assert_int_equal(plw_reader_open(&r, path_of("chunks.plw"), 0), 0);
	while ((ret = plw_reader_next(r, &ev)) == 1) {
		assert_int_equal(ev.ts, tss[got]);
		if (ev.type == PLW_EV_PY_LOC) {
			assert_int_equal(ev.u.loc.id, got / 1000 + 1);
			locs++;
		} else {
			assert_int_equal(ev.type, got % 2 ? PLW_EV_PY_ENTRY : PLW_EV_PY_RETURN);
			/* location known from the in-stream PY_LOC */
			const struct plw_loc *l = plw_reader_loc(r, ev.u.py.loc);
			assert_non_null(l);
			assert_int_equal(l->line, (ev.u.py.loc - 1) * 1000);
		}
		got++;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(got, n);
	assert_int_equal(locs, n / 1000);
	assert_int_equal(plw_reader_meta(r)->nr_locs, n / 1000);
	assert_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);
	free(tss);
}

/* --------------------------------------------------------- loc interning */

static void test_locs(void **state)
{
	struct plw_writer *w = wopen("locs.plw", 4096, 0);
	struct plw_reader *r = NULL;
	struct plw_event ev;
	char func[300], file[300];
	size_t seen = 0;

	/* sparse ids, long strings (truncation at 4095 not hit), unicode */
	for (uint32_t i = 0; i < 500; i++) {
		snprintf(func, sizeof(func), "f%u_\xc3\xa9", i * 37);
		snprintf(file, sizeof(file), "/very/long/%0200u.py", i);
		assert_int_equal(plw_writer_loc(w, 9, 9, i, 0, i * 37 + 1, i, func, file), 0);
	}
	/* duplicate definition: first one wins */
	assert_int_equal(plw_writer_loc(w, 9, 9, 600, 0, 1, 99, "other", "/o.py"), 0);
	/* a big id: hashed instead of indexed */
	assert_int_equal(plw_writer_loc(w, 9, 9, 601, 0, 1u << 30, 1, "big", "/b.py"), 0);
	assert_int_equal(plw_writer_flush(w), 0);
	plw_writer_free(w);	/* not finished: locations come from the stream */

	assert_int_equal(plw_reader_open(&r, path_of("locs.plw.partial"), 0), 0);
	assert_false(plw_reader_meta(r)->finished);
	while (plw_reader_next(r, &ev) == 1) {
		assert_int_equal(ev.type, PLW_EV_PY_LOC);
		seen++;
	}
	assert_int_equal(seen, 502);
	for (uint32_t i = 0; i < 500; i++) {
		const struct plw_loc *l = plw_reader_loc(r, i * 37 + 1);

		snprintf(func, sizeof(func), "f%u_\xc3\xa9", i * 37);
		assert_non_null(l);
		assert_string_equal(l->func, func);
		assert_int_equal(l->line, i);
		assert_int_equal(l->pid, 9);
	}
	assert_int_equal(plw_reader_loc(r, 1)->line, 0);
	assert_null(plw_reader_loc(r, 2));
	assert_non_null(plw_reader_loc(r, 1u << 30));
	assert_string_equal(plw_reader_loc(r, 1u << 30)->func, "big");
	assert_null(plw_reader_loc(r, (1u << 30) + 1));
	assert_int_equal(plw_reader_meta(r)->nr_locs, 501);
	assert_non_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);
}

/* --------------------------------------------------------- truncation */

struct chunkinfo {
	size_t off, end;	/* file offsets of a COMPRESSED record */
};

static size_t chunks_of(const unsigned char *p, size_t size, struct chunkinfo *c, size_t max)
{
	uint64_t doff, dsize;
	size_t n = 0, pos;

	memcpy(&doff, p + 40, 8);
	memcpy(&dsize, p + 48, 8);
	if (!dsize)
		dsize = size - doff;
	for (pos = doff; pos < doff + dsize && n < max;) {
		uint16_t sz;

		memcpy(&sz, p + pos + 6, 2);
		c[n].off = pos;
		c[n].end = pos + sz;
		n++;
		pos += sz;
	}
	return n;
}

/* events per chunk by decoding each chunk prefix; cum[i] = events in chunks < i */
static void count_all(const void *buf, size_t size, unsigned flags, size_t *n, int *ret,
		      uint64_t *last_ts)
{
	struct plw_reader *r = NULL;
	struct plw_event ev;

	*n = 0;
	*last_ts = 0;
	*ret = plw_reader_open_mem(&r, buf, size, flags);
	if (*ret == 0) {
		while ((*ret = plw_reader_next(r, &ev)) == 1) {
			(*n)++;
			*last_ts = ev.ts;
		}
	}
	if (getenv("PLW_TEST_V") && *ret)
		print_message("count_all: %d %s\n", *ret, plw_reader_error(r));
	plw_reader_free(r);
}

static void test_truncation(void **state)
{
	size_t n = 20000, size, nch;
	uint64_t *tss = write_stream("trunc.plw", n, 16384, 1500, true, 3);
	unsigned char *p = read_file(path_of("trunc.plw"), &size);
	struct chunkinfo ch[256];
	size_t cum[257];

	nch = chunks_of(p, size, ch, 256);
	assert_true(nch > 10);
	/* events per chunk: read the full file and attribute by cut offsets */
	cum[0] = 0;
	for (size_t i = 0; i < nch; i++) {
		/* the file cut at ch[i].end, salvaged, holds chunks 0..i */
		struct plw_reader *r = NULL;
		struct plw_event ev;
		size_t k = 0;
		uint64_t until = 0;
		const char *d;

		assert_int_equal(plw_reader_open_mem(&r, p, ch[i].end, PLW_READ_SALVAGE), 0);
		while (plw_reader_next(r, &ev) == 1)
			k++;
		if (plw_reader_error(r)[0] != 'n')
			print_message("%s\n", plw_reader_error(r));
		cum[i + 1] = k;
		assert_true(k > cum[i]);
		d = plw_reader_damage(r, &until);
		if (i + 1 < nch) {
			assert_non_null(d);
			assert_non_null(strstr(d, "cut short at offset"));
			assert_int_equal(until, tss[k - 1]);
		}
		plw_reader_free(r);
	}
	assert_int_equal(cum[nch], n);

	for (size_t i = 0; i < nch; i++) {
		size_t cuts[3] = { ch[i].off, ch[i].off + 5, (ch[i].off + ch[i].end) / 2 };

		for (int c = 0; c < 3; c++) {
			size_t got;
			int ret;
			uint64_t last;

			count_all(p, cuts[c], PLW_READ_SALVAGE, &got, &ret, &last);
			assert_int_equal(ret, 0);
			assert_int_equal(got, cum[i]);
			if (got)
				assert_int_equal(last, tss[got - 1]);
			/* without salvage: an error after the whole chunks */
			count_all(p, cuts[c], 0, &got, &ret, &last);
			assert_int_equal(ret, -EBADMSG);
			assert_int_equal(got, cum[i]);
		}
	}

	/* a killed recorder: header with data.size 0, no features */
	{
		uint64_t zero = 0;
		unsigned char *q = malloc(size);
		struct plw_reader *r = NULL;
		const char *d;
		uint64_t until;

		memcpy(q, p, size);
		memcpy(q + 48, &zero, 8);
		memset(q + 72, 0, 32);
		for (size_t i = 1; i < nch; i++) {
			size_t got;
			int ret;
			uint64_t last;

			/* no salvage flag needed: a partial file ends where it ends */
			count_all(q, (ch[i].off + ch[i].end) / 2, 0, &got, &ret, &last);
			assert_int_equal(ret, 0);
			assert_int_equal(got, cum[i]);
			count_all(q, ch[i].off, 0, &got, &ret, &last);
			assert_int_equal(ret, 0);
			assert_int_equal(got, cum[i]);
		}
		assert_int_equal(plw_reader_open_mem(&r, q, (ch[3].off + ch[3].end) / 2, 0), 0);
		assert_false(plw_reader_meta(r)->finished);
		while (plw_reader_next(r, NULL ? NULL : &(struct plw_event){ 0 }) == 1)
			;
		d = plw_reader_damage(r, &until);
		assert_non_null(d);
		assert_non_null(strstr(d, "recording not finished: cut short at offset"));
		assert_int_equal(until, tss[cum[3] - 1]);
		print_message("damage: %s\n", d);
		plw_reader_free(r);
		free(q);
	}
	free(p);
	free(tss);
}

/* the writer's own partial file, and in-stream META describing it */
static void test_partial_meta(void **state)
{
	struct plw_writer *w = wopen("part.plw", 4096, 0);
	struct plw_meta m = { .hostname = "h", .osrelease = "r", .arch = "a", .cmdline = "c d",
			      .nr_cpus_online = 3, .nr_cpus_avail = 5, .tod_ns = 77, .mono_ns = 66 };
	struct plw_reader *r = NULL;
	const struct plw_meta *rm;
	struct plw_event ev;
	size_t k = 0;

	assert_int_equal(plw_writer_meta_all(w, 1, &m), 0);
	assert_int_equal(plw_writer_comm(w, 5, 5, 2, "py", true), 0);
	for (int i = 0; i < 3000; i++)
		call(w, PLW_EV_PY_ENTRY, 5, 10 + i, 1);
	plw_writer_free(w);	/* killed: flushes nothing more */
	assert_int_equal(plw_reader_open(&r, path_of("part.plw.partial"), 0), 0);
	rm = plw_reader_meta(r);
	assert_false(rm->finished);
	assert_string_equal(rm->hostname, "h");
	assert_string_equal(rm->cmdline, "c d");
	assert_int_equal(rm->nr_cpus_avail, 5);
	assert_int_equal(rm->tod_ns, 77);
	assert_int_equal(rm->mono_ns, 66);
	while (plw_reader_next(r, &ev) == 1)
		k++;
	/* whole chunks only: 4096-byte chunks of 56-byte events */
	assert_true(k >= 9 && k < 3009);
	assert_int_equal(rm->nr_tasks, 1);
	assert_string_equal(rm->tasks[0].comm, "py");
	assert_int_equal(rm->start_ns, 1);
	assert_non_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);

	/* a stale partial is replaced by the next writer */
	w = wopen("part.plw", 0, 0);
	wfinish(w, NULL);
}

/* chunks that compress above 64 KiB are split into several records */
static void test_split(void **state)
{
	struct plw_writer *w = wopen("split.plw", 1 << 20, 3);
	struct plw_reader *r = NULL;
	struct plw_event ev;
	unsigned seed = 3;
	size_t n = 60000, k = 0, nch, size;
	struct chunkinfo ch[4096];
	unsigned char *p;
	char val[200];

	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < 64; j++)
			val[j] = 'A' + rand_r(&seed) % 60;
		val[64] = 0;
		assert_int_equal(plw_writer_meta(w, i * (rand_r(&seed) | 1), "k", val), 0);
	}
	wfinish(w, NULL);
	p = read_file(path_of("split.plw"), &size);
	nch = chunks_of(p, size, ch, 4096);
	/* 60000 * 128 bytes = 7.3 MiB in 1 MiB chunks, each too big compressed */
	assert_true(nch > 2 * 8);
	for (size_t i = 0; i < nch; i++)
		assert_true(ch[i].end - ch[i].off <= 65535);
	free(p);
	assert_int_equal(plw_reader_open(&r, path_of("split.plw"), 0), 0);
	while (plw_reader_next(r, &ev) == 1) {
		assert_int_equal(ev.type, PLW_EV_META);
		assert_int_equal(strlen(ev.u.meta.value), 64);
		k++;
	}
	assert_int_equal(k, n);
	assert_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);
	print_message("split: %zu events in %zu compressed records\n", n, nch);
}

/* --------------------------------------------------------- corruption */

static void test_corruption(void **state)
{
	size_t n = 5000, size, nch;
	uint64_t *tss = write_stream("corrupt.plw", n, 8192, 0, true, 3);
	unsigned char *p = read_file(path_of("corrupt.plw"), &size);
	unsigned char *q = malloc(size);
	struct chunkinfo ch[256];
	unsigned seed = 42;

	nch = chunks_of(p, size, ch, 256);
	assert_true(nch > 5);
	/* flip bytes all over the file: never a crash, either an error or events */
	for (int i = 0; i < 3000; i++) {
		size_t got;
		int ret;
		uint64_t last;

		memcpy(q, p, size);
		for (int k = 0; k < 1 + i % 3; k++)
			q[rand_r(&seed) % size] ^= 1 + rand_r(&seed) % 255;
		count_all(q, size, 0, &got, &ret, &last);
		assert_true(ret == 0 || ret < 0);
		count_all(q, size, PLW_READ_SALVAGE, &got, &ret, &last);
		assert_true(got <= n + 10);
	}
	/* a damaged middle chunk: salvage skips exactly that chunk */
	{
		size_t mid = nch / 2, before = 0, total, got;
		int ret;
		uint64_t last;
		struct plw_reader *r = NULL;
		struct plw_event ev;

		count_all(p, ch[mid].off, PLW_READ_SALVAGE, &before, &ret, &last);
		count_all(p, ch[mid].end, PLW_READ_SALVAGE, &total, &ret, &last);
		memcpy(q, p, size);
		memset(q + ch[mid].off + 20, 0xAA, 16);
		count_all(q, size, 0, &got, &ret, &last);
		assert_int_equal(ret, -EBADMSG);
		assert_int_equal(got, before);
		count_all(q, size, PLW_READ_SALVAGE, &got, &ret, &last);
		assert_int_equal(ret, 0);
		assert_int_equal(got, n - (total - before));
		assert_int_equal(plw_reader_open_mem(&r, q, size, 0), 0);
		while ((ret = plw_reader_next(r, &ev)) == 1)
			;
		assert_int_equal(ret, -EBADMSG);
		assert_non_null(strstr(plw_reader_error(r), "file offset"));
		print_message("error: %s\n", plw_reader_error(r));
		plw_reader_free(r);
		/* damaged outer header: resync to the next chunk */
		memcpy(q, p, size);
		memset(q + ch[mid].off, 0xFF, 8);
		count_all(q, size, PLW_READ_SALVAGE, &got, &ret, &last);
		assert_int_equal(ret, 0);
		assert_int_equal(got, n - (total - before));
	}
	/* other-endian and garbage */
	{
		struct plw_reader *r = NULL;
		uint64_t sw = __builtin_bswap64(0x32454c4946524550ULL);

		memcpy(q, p, size);
		memcpy(q, &sw, 8);
		assert_int_equal(plw_reader_open_mem(&r, q, size, 0), -EPROTONOSUPPORT);
		assert_non_null(strstr(plw_reader_error(r), "other-endian"));
		plw_reader_free(r);
		assert_int_equal(plw_reader_open_mem(&r, q, 50, 0), -EBADMSG);
		plw_reader_free(r);
		memcpy(q, "NOTPERF!", 8);
		assert_int_equal(plw_reader_open_mem(&r, q, size, 0), -EBADMSG);
		assert_non_null(strstr(plw_reader_error(r), "bad magic"));
		plw_reader_free(r);
		assert_int_equal(plw_reader_open(&r, path_of("nonexistent"), 0), -ENOENT);
		assert_non_null(strstr(plw_reader_error(r), "nonexistent"));
		plw_reader_free(r);
	}
	/* a newer private section version is refused */
	{
		struct plw_reader *r = NULL;
		size_t at = 0;

		memcpy(q, p, size);
		for (size_t i = size - 12; i > 0; i--)
			if (!memcmp(q + i, "PYLOWMD", 8)) {
				at = i;
				break;
			}
		assert_true(at > 0);
		q[at + 8] = 99;
		assert_int_equal(plw_reader_open_mem(&r, q, size, 0), -EPROTONOSUPPORT);
		assert_non_null(strstr(plw_reader_error(r), "newer"));
		plw_reader_free(r);
	}
	/* a finished file cut inside its feature sections: every event is
	 * still read, the damage names the feature section (salvage), and
	 * without salvage the error says the same */
	{
		struct plw_reader *r = NULL;
		struct plw_event ev;
		uint64_t all = 0, got = 0;
		int ret;

		assert_int_equal(plw_reader_open_mem(&r, p, size, 0), 0);
		while ((ret = plw_reader_next(r, &ev)) > 0)
			all++;
		assert_int_equal(ret, 0);
		plw_reader_free(r);
		assert_int_equal(plw_reader_open_mem(&r, p, size - 10, PLW_READ_SALVAGE), 0);
		while ((ret = plw_reader_next(r, &ev)) > 0)
			got++;
		assert_int_equal(ret, 0);
		assert_true(got == all);
		assert_false(plw_reader_meta(r)->finished);
		assert_true(plw_reader_meta(r)->truncated);
		assert_non_null(plw_reader_damage(r, NULL));
		assert_non_null(strstr(plw_reader_damage(r, NULL), "feature"));
		plw_reader_free(r);
		assert_int_equal(plw_reader_open_mem(&r, p, size - 10, 0), 0);
		while ((ret = plw_reader_next(r, &ev)) > 0)
			;
		assert_int_equal(ret, -EBADMSG);
		assert_non_null(strstr(plw_reader_error(r), "feature"));
		plw_reader_free(r);
	}
	free(q);
	free(p);
	free(tss);
}

/* --------------------------------------------------------- write errors */

static void test_write_error(void **state)
{
	struct rlimit old, lim;
	struct plw_writer *w;
	int err = 0;
	size_t i;

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	w = wopen("full.plw", 4096, 1);
	for (i = 0; i < 10000000 && !err; i++) {
		struct plw_py_call c = { (uint32_t)i * 2654435761u };	/* incompressible-ish */

		err = plw_writer_event(w, PLW_EV_PY_ENTRY, (uint32_t)i, (uint32_t)(i * 7919),
				       i * 1234567, i % 64, &c, sizeof(c));
	}
	assert_int_equal(err, -EFBIG);
	assert_non_null(strstr(plw_writer_error(w), "cannot write"));
	print_message("write error: %s\n", plw_writer_error(w));
	plw_writer_free(w);
	setrlimit(RLIMIT_FSIZE, &old);
	/* what reached the disk reads back, no damage but the missing end */
	{
		struct plw_reader *r = NULL;
		struct plw_event ev;
		size_t k = 0;
		int ret;

		assert_int_equal(plw_reader_open(&r, path_of("full.plw.partial"), 0), 0);
		while ((ret = plw_reader_next(r, &ev)) == 1)
			assert_int_equal(ev.ts, k++ * 1234567);
		assert_int_equal(ret, 0);
		assert_true(k > 1000);
		print_message("read back %zu events written before the error\n", k);
		plw_reader_free(r);
	}
}

/* --------------------------------------------------------- bytes/event */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* realistic: one thread, entry/return of a small set of locations, call
 * depth random walk, 100..2000 ns between events */
static void realistic(const char *name, size_t n, int level, size_t chunk,
		      double *bpe, double *mbps, double *rd_eps)
{
	struct plw_writer *w = wopen(name, chunk, level);
	unsigned seed = 7;
	uint32_t stack[64];
	int depth = 0;
	uint64_t ts = 5000000000ULL;
	double t0 = now(), t1;
	struct stat st;

	for (uint32_t l = 1; l <= 40; l++)
		assert_int_equal(plw_writer_loc(w, 1234, 1234, ts, 2, l, l * 10, "f", "/app/m.py"), 0);
	for (size_t i = 0; i < n; i++) {
		ts += 100 + rand_r(&seed) % 1900;
		if (depth < 2 || (depth < 60 && rand_r(&seed) % 2)) {
			uint32_t loc = 1 + (rand_r(&seed) % 8 == 0 ? rand_r(&seed) % 40 : rand_r(&seed) % 6);

			stack[depth++] = loc;
			call(w, PLW_EV_PY_ENTRY, 1234, ts, loc);
		} else {
			call(w, PLW_EV_PY_RETURN, 1234, ts, stack[--depth]);
		}
	}
	assert_int_equal(plw_writer_flush(w), 0);
	t1 = now();
	wfinish(w, NULL);
	assert_int_equal(stat(path_of(name), &st), 0);
	*bpe = (double)st.st_size / n;
	*mbps = n * 56.0 / (t1 - t0) / 1e6;
	{
		struct plw_reader *r = NULL;
		struct plw_event ev;
		size_t k = 0;
		double t2 = now();

		assert_int_equal(plw_reader_open(&r, path_of(name), 0), 0);
		while (plw_reader_next(r, &ev) == 1)
			k++;
		*rd_eps = k / (now() - t2);
		assert_int_equal(k, n + 40);
		plw_reader_free(r);
	}
	unlink(path_of(name));
}

static void test_bytes_per_event(void **state)
{
	/* PLW_BENCH_EVENTS=N: more events and the slow levels too */
	static const struct { int level; size_t chunk; bool slow; } cfg[] = {
		{ 1, 256 << 10 }, { 3, 256 << 10 }, { 3, 1 << 20 }, { 3, 4 << 20 },
		{ 5, 256 << 10 }, { 7, 256 << 10 }, { 12, 1 << 20, true }, { 19, 256 << 10, true },
	};
	const char *env = getenv("PLW_BENCH_EVENTS");
	size_t n = env ? strtoul(env, NULL, 0) : 300000;

	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		double bpe, mbps, eps;

		if (cfg[i].slow && !env)
			continue;
		realistic("bpe.plw", n, cfg[i].level, cfg[i].chunk, &bpe, &mbps, &eps);
		print_message("bytes/event: level %2d chunk %4zu KiB: %.2f B/event, write %.0f MB/s (raw), read %.1f M events/s\n",
			      cfg[i].level, cfg[i].chunk >> 10, bpe, mbps, eps / 1e6);
		if (cfg[i].level == 3 && cfg[i].chunk == (256 << 10))
			assert_true(bpe < 8.0);
	}
}

/* --------------------------------------------------------- perf script */

static int run(const char *cmd, char **out, char **err)
{
	char o[256], e[256], full[1024];
	size_t n;
	int st;

	snprintf(o, sizeof(o), "%s/out.txt", dir);
	snprintf(e, sizeof(e), "%s/err.txt", dir);
	snprintf(full, sizeof(full), "%s >%s 2>%s", cmd, o, e);
	st = system(full);
	*out = read_file(o, &n);
	*out = realloc(*out, n + 1);
	(*out)[n] = 0;
	*err = read_file(e, &n);
	*err = realloc(*err, n + 1);
	(*err)[n] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t count_lines(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char *line = strndup(l, len);

		if (strstr(line, needle))
			n++;
		free(line);
	}
	return n;
}

static void test_perf_script(void **state)
{
	char cmd[512], *out, *err;
	struct plw_writer *w;
	struct plw_meta m = { .hostname = "h", .osrelease = "6.1", .arch = "x86_64",
			      .cmdline = "pylow record", .nr_cpus_online = 2, .nr_cpus_avail = 2,
			      .tod_ns = 1700000000000000000ULL, .mono_ns = 1000000000 };
	struct plw_py_gc_start gs = { 1 };
	size_t n = 0, big = 300000;
	uint64_t ts = 1000000000;

	if (system("perf --version >/dev/null 2>&1") != 0)
		skip();
	/* big chunks: perf must not lose anything ("Destination buffer is too small") */
	w = wopen("perf.plw", 4 << 20, 3);
	assert_int_equal(plw_writer_meta_all(w, ts, &m), 0);
	n += 8;
	assert_int_equal(plw_writer_comm(w, 7, 7, ts, "python3", true), 0);
	assert_int_equal(plw_writer_loc(w, 7, 7, ts, 0, 17, 3, "fib", "/x.py"), 0);
	n++;
	for (size_t i = 0; i < big; i++) {
		call(w, i % 2 ? PLW_EV_PY_RETURN : PLW_EV_PY_ENTRY, 7, ts += 500, 17);
		n++;
	}
	assert_int_equal(plw_writer_event(w, PLW_EV_PY_GC_START, 7, 7, ts += 10, 0, &gs, sizeof(gs)), 0);
	assert_int_equal(plw_writer_import(w, 7, 7, ts += 10, 0, true, "json", 1), 0);
	n += 2;
	assert_int_equal(plw_writer_fork(w, 7, 8, 7, 7, ts += 10), 0);
	assert_int_equal(plw_writer_exit(w, 7, 8, 7, 7, ts += 10), 0);
	wfinish(w, &m);

	snprintf(cmd, sizeof(cmd), "perf script -i %s/perf.plw", dir);
	assert_int_equal(run(cmd, &out, &err), 0);
	if (strstr(err, "Warning") || strstr(err, "failed") || strstr(err, "too small"))
		fail_msg("perf script stderr: %s", err);
	assert_int_equal(count_lines(out, " pylow:"), n);
	assert_int_equal(count_lines(out, "pylow:py_entry: loc=17"), big / 2);
	assert_int_equal(count_lines(out, "pylow:py_return: loc=17"), big / 2);
	assert_int_equal(count_lines(out, "pylow:py_loc: loc=17 line=3 func=fib file=/x.py"), 1);
	assert_int_equal(count_lines(out, "pylow:meta: hostname=h"), 1);
	assert_int_equal(count_lines(out, "pylow:py_gc_start: generation=1"), 1);
	assert_int_equal(count_lines(out, "pylow:py_import_done: module=json found=1"), 1);
	assert_int_equal(count_lines(out, "python3     7"), n - 8);
	free(out);
	free(err);

	snprintf(cmd, sizeof(cmd), "perf script -i %s/perf.plw --show-task-events -F +tod | tail -3", dir);
	assert_int_equal(run(cmd, &out, &err), 0);
	assert_non_null(strstr(out, "PERF_RECORD_FORK(7:8):(7:7)"));
	assert_non_null(strstr(out, "PERF_RECORD_EXIT(7:8):(7:7)"));
	assert_non_null(strstr(out, "2023-11-14"));
	free(out);
	free(err);

	snprintf(cmd, sizeof(cmd), "perf report -i %s/perf.plw --header-only", dir);
	assert_int_equal(run(cmd, &out, &err), 0);
	assert_non_null(strstr(out, "hostname : h"));
	assert_non_null(strstr(out, "name = pylow:py_entry"));
	assert_non_null(strstr(out, "compressed : Zstd"));
	free(out);
	free(err);
}

/* every kernel/net event kind: writer -> reader field by field, and perf
 * script prints each by its field names */
static void test_kernel_events(void **state)
{
	struct plw_meta m = { .hostname = "h", .osrelease = "6.1", .arch = "x86_64",
			      .cmdline = "pylow record", .nr_cpus_online = 2, .nr_cpus_avail = 2 };
	struct plw_fault fa = { .addr = 0x7f0012345000ULL, .error_code = PLW_FAULT_WRITE | PLW_FAULT_USER };
	struct plw_io io = { .dur_ns = 8000000, .sector = 4096, .bytes = 65536,
			     .dev = (8u << 20) | 1, .op = PLW_IO_READ | PLW_IO_SYNC };
	struct plw_mem me = { .addr = 0x5500, .size = 1 << 20, .op = PLW_MEM_MALLOC };
	struct plw_gil gi = { .wait_ns = 123456 };
	struct plw_irq ir = { .dur_ns = 7000, .vec = 3, .kind = PLW_IRQ_SOFT };
	struct plw_tlb tl = { .reason = PLW_TLB_REMOTE_SHOOTDOWN, .pages = 4 };
	struct plw_probe_hit pr = { .probe = 2, .nr_args = 2, .args = { 42, 0xfeed } };
	struct plw_stack st = { .kstack = 5, .ustack = -1 };
	struct plw_net_conn nc = { .op = PLW_NET_CONNECT, .fd = 9, .family = 2, .lport = 40000,
				   .rport = 6379, .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 },
				   .conn = 77, .bytes_tx = 5, .bytes_rx = 6 };
	struct plw_net_label nl = { .conn = 77, .fd = 9, .dir = PLW_DIR_SEND,
				    .proto = PLW_PROTO_HTTP_REQ, .status = 0, .flags = PLW_LABEL_TLS };
	struct plw_reader *r = NULL;
	struct plw_event ev;
	struct plw_writer *w = wopen("kern.plw", 0, 3);
	uint64_t ts = 1000;
	char cmd[512], *out, *err;
	int seen = 0;

	assert_int_equal(plw_writer_meta_all(w, ts, &m), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_FAULT, 7, 8, ++ts, 0, &fa, sizeof(fa)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_IO, 7, 8, ++ts, 0, &io, sizeof(io)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_MEM, 7, 8, ++ts, 0, &me, sizeof(me)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_GIL, 7, 8, ++ts, 0, &gi, sizeof(gi)), 0);
	assert_int_equal(plw_writer_exception(w, 7, 8, ++ts, 0, "ValueError"), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_IRQ, 7, 8, ++ts, 0, &ir, sizeof(ir)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_TLB, 7, 8, ++ts, 0, &tl, sizeof(tl)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_PROBE, 7, 8, ++ts, 0, &pr, sizeof(pr)), 0);
	assert_int_equal(plw_writer_stack_def(w, 7, ++ts, 5, PLW_STACK_KERNEL, 2,
					      "do_sys_poll+0x1 (kernel)\nentry_SYSCALL_64+0x2 (kernel)"), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_STACK, 7, 8, ++ts, 0, &st, sizeof(st)), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_NET_CONN, 7, 8, ++ts, 0, &nc, sizeof(nc)), 0);
	assert_int_equal(plw_writer_net_label(w, 7, 8, ++ts, 0, &nl, "GET", "/v1/chat", "api.example",
					      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), 0);
	/* a payload shorter than its struct is refused */
	assert_int_equal(plw_writer_event(w, PLW_EV_NET_CONN, 7, 8, ++ts, 0, &nc, 20), -EINVAL);
	wfinish(w, &m);

	assert_int_equal(plw_reader_open(&r, path_of("kern.plw"), 0), 0);
	while (plw_reader_next(r, &ev) == 1) {
		switch (ev.type) {
		case PLW_EV_FAULT:
			assert_true(ev.u.fault.addr == fa.addr);
			assert_int_equal(ev.u.fault.error_code, 6);
			seen |= 1 << 0; break;
		case PLW_EV_IO:
			assert_true(ev.u.io.dur_ns == 8000000 && ev.u.io.sector == 4096);
			assert_int_equal(ev.u.io.bytes, 65536);
			assert_int_equal(ev.u.io.op, PLW_IO_READ | PLW_IO_SYNC);
			seen |= 1 << 1; break;
		case PLW_EV_MEM:
			assert_true(ev.u.mem.addr == 0x5500 && ev.u.mem.size == 1 << 20);
			seen |= 1 << 2; break;
		case PLW_EV_GIL:
			assert_true(ev.u.gil.wait_ns == 123456);
			seen |= 1 << 3; break;
		case PLW_EV_EXCEPTION:
			assert_string_equal(ev.u.exc.type, "ValueError");
			seen |= 1 << 4; break;
		case PLW_EV_IRQ:
			assert_true(ev.u.irq.dur_ns == 7000 && ev.u.irq.vec == 3 && ev.u.irq.kind == PLW_IRQ_SOFT);
			seen |= 1 << 5; break;
		case PLW_EV_TLB:
			assert_int_equal(ev.u.tlb.reason, PLW_TLB_REMOTE_SHOOTDOWN);
			assert_int_equal(ev.u.tlb.pages, 4);
			seen |= 1 << 6; break;
		case PLW_EV_PROBE:
			assert_int_equal(ev.u.probe.probe, 2);
			assert_int_equal(ev.u.probe.nr_args, 2);
			assert_true(ev.u.probe.args[0] == 42 && ev.u.probe.args[1] == 0xfeed);
			seen |= 1 << 7; break;
		case PLW_EV_STACK_DEF:
			assert_int_equal(ev.u.stack_def.id, 5);
			assert_int_equal(ev.u.stack_def.nr, 2);
			assert_non_null(strstr(ev.u.stack_def.frames, "\nentry_SYSCALL_64+0x2"));
			seen |= 1 << 8; break;
		case PLW_EV_STACK:
			assert_int_equal(ev.u.stack.kstack, 5);
			assert_int_equal(ev.u.stack.ustack, -1);
			seen |= 1 << 9; break;
		case PLW_EV_NET_CONN:
			assert_int_equal(ev.u.conn.rport, 6379);
			assert_int_equal(ev.u.conn.raddr[3], 2);
			assert_true(ev.u.conn.conn == 77 && ev.u.conn.bytes_rx == 6);
			seen |= 1 << 10; break;
		case PLW_EV_NET_LABEL:
			assert_true(ev.u.label.conn == 77);
			assert_int_equal(ev.u.label.proto, PLW_PROTO_HTTP_REQ);
			assert_int_equal(ev.u.label.flags, PLW_LABEL_TLS);
			assert_string_equal(ev.u.label.method, "GET");
			assert_string_equal(ev.u.label.target, "/v1/chat");
			assert_string_equal(ev.u.label.host, "api.example");
			assert_string_equal(ev.u.label.traceparent,
					    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
			seen |= 1 << 11; break;
		}
	}
	plw_reader_free(r);
	assert_int_equal(seen, (1 << 12) - 1);

	if (system("perf --version >/dev/null 2>&1") != 0)
		return;
	snprintf(cmd, sizeof(cmd), "perf script -i %s/kern.plw", dir);
	assert_int_equal(run(cmd, &out, &err), 0);
	if (strstr(err, "Warning") || strstr(err, "failed"))
		fail_msg("perf script stderr: %s", err);
	assert_non_null(strstr(out, "pylow:fault: addr=0x7f0012345000 error_code=0x6"));
	assert_non_null(strstr(out, "pylow:io: dur_ns=8000000 sector=4096 bytes=65536 dev=8:1 op=read sync"));
	assert_non_null(strstr(out, "pylow:mem: op=malloc addr=0x5500 size=1048576"));
	assert_non_null(strstr(out, "pylow:gil: wait_ns=123456"));
	assert_non_null(strstr(out, "pylow:exception: type=ValueError"));
	assert_non_null(strstr(out, "pylow:irq: kind=soft vec=3 dur_ns=7000"));
	assert_non_null(strstr(out, "pylow:tlb: reason=remote shootdown pages=4"));
	assert_non_null(strstr(out, "pylow:probe: probe=2 arg0=0x2a arg1=0xfeed"));
	assert_non_null(strstr(out, "pylow:stack: kstack=5 ustack=-1"));
	assert_non_null(strstr(out, "pylow:stack_def: id=5 kind=kernel nr=2"));
	assert_non_null(strstr(out, "pylow:net_conn: op=connect fd=9 family=2 lport=40000 rport=6379 conn=77 tx=5 rx=6"));
	assert_non_null(strstr(out, "pylow:net_label: conn=77 dir=send proto=http_req method=GET "
				    "target=/v1/chat host=api.example status=0 traceparent=00-0af7"));
	free(out);
	free(err);
}

/* kernel tracepoints recorded as perf does (record -e tracepoint:SYS:NAME):
 * an extra attr after pylow's, the format in the tracing data, samples read
 * back as PLW_REC_OTHER with the tracepoint's id, perf script names fields */
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

static void test_tracepoints(void **state)
{
	struct plw_tp_attr tp = { "sched", "sched_process_fork", 366, fork_format };
	struct plw_writer_opts o = { .keep_old = false, .tps = &tp, .nr_tps = 1 };
	struct plw_meta m = { .hostname = "h", .osrelease = "6.1", .arch = "x86_64" };
	struct plw_writer *w = NULL;
	struct plw_reader *r = NULL;
	struct plw_event ev;
	unsigned char raw[40] = { 0 };
	uint32_t v;
	size_t tlen = 0;
	const char *td;
	char cmd[512], *out, *err;
	int entries = 0, others = 0;

	/* common header, then parent_comm@24, parent_pid, child_comm@32, child_pid */
	v = 366;
	memcpy(raw, &v, 2);
	v = 700;
	memcpy(raw + 4, &v, 4);
	v = 24 | 8 << 16;
	memcpy(raw + 8, &v, 4);
	v = 700;
	memcpy(raw + 12, &v, 4);
	v = 32 | 8 << 16;
	memcpy(raw + 16, &v, 4);
	v = 702;
	memcpy(raw + 20, &v, 4);
	memcpy(raw + 24, "python3", 8);
	memcpy(raw + 32, "python3", 8);

	assert_int_equal(plw_writer_open(&w, path_of("tp.plw"), &o), 0);
	call(w, PLW_EV_PY_ENTRY, 700, 1000, 1);
	assert_int_equal(plw_writer_tp_sample(w, 700, 700, 1100, 0, raw, sizeof(raw)), 0);
	raw[0] = 99;	/* an id without an attr */
	assert_int_equal(plw_writer_tp_sample(w, 700, 700, 1150, 0, raw, sizeof(raw)), -ENOENT);
	raw[0] = 366 & 0xff;
	call(w, PLW_EV_PY_RETURN, 700, 1200, 1);
	wfinish(w, &m);

	assert_int_equal(plw_reader_open(&r, path_of("tp.plw"), 0), 0);
	td = plw_reader_tracing_data(r, &tlen);
	assert_non_null(td);
	assert_non_null(memmem(td, tlen, "name: sched_process_fork\nID: 366", 32));
	assert_non_null(memmem(td, tlen, "sched\0", 6));
	while (plw_reader_next(r, &ev) > 0) {
		if (ev.type == PLW_EV_PY_ENTRY || ev.type == PLW_EV_PY_RETURN) {
			assert_int_equal(ev.u.py.loc, 1);	/* still pylow's own events */
			entries++;
		} else if (ev.type == PLW_REC_OTHER) {
			assert_int_equal(ev.u.other.attr_type, PERF_TYPE_TRACEPOINT);
			assert_int_equal(ev.u.other.attr_config, 366);
			assert_true(ev.len >= sizeof(raw));
			assert_memory_equal(ev.payload, raw, sizeof(raw));
			assert_int_equal(ev.ts, 1100);
			assert_int_equal(ev.tid, 700);
			others++;
		}
	}
	plw_reader_free(r);
	assert_int_equal(entries, 2);
	assert_int_equal(others, 1);

	if (system("perf --version >/dev/null 2>&1") != 0)
		return;
	snprintf(cmd, sizeof(cmd), "perf script -i %s/tp.plw", dir);
	assert_int_equal(run(cmd, &out, &err), 0);
	if (strstr(err, "Warning") || strstr(err, "failed"))
		fail_msg("perf script stderr: %s", err);
	assert_non_null(strstr(out, "sched:sched_process_fork: comm=python3 pid=700 child_comm=python3 child_pid=702"));
	assert_non_null(strstr(out, "pylow:py_entry: loc=1"));
	free(out);
	free(err);
}

/* perf's own files: uncompressed and -z */
static void test_perf_files(void **state)
{
	char cmd[512], *out, *err;

	if (system("perf --version >/dev/null 2>&1") != 0)
		skip();
	for (int z = 0; z < 2; z++) {
		struct plw_reader *r = NULL;
		struct plw_event ev;
		size_t samples = 0, comm = 0, other = 0;
		int ret;
		char f[256];

		snprintf(f, sizeof(f), "%s/perf%d.data", dir, z);
		snprintf(cmd, sizeof(cmd), "perf record -q %s -e task-clock -c 100000 -o %s -- sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'",
			 z ? "-z" : "", f);
		if (run(cmd, &out, &err) != 0) {
			print_message("perf record unavailable here: %s\n", err);
			free(out);
			free(err);
			skip();
		}
		free(out);
		free(err);
		snprintf(cmd, sizeof(cmd), "perf script -i %s -F event | grep -c task-clock", f);
		run(cmd, &out, &err);
		samples = strtoul(out, NULL, 10);
		free(out);
		free(err);
		assert_int_equal(plw_reader_open(&r, f, 0), 0);
		while ((ret = plw_reader_next(r, &ev)) == 1) {
			if (ev.type == PLW_REC_OTHER) {
				assert_int_equal(ev.u.other.attr_type, PERF_TYPE_SOFTWARE);
				other++;
			} else if (ev.type == PLW_REC_COMM) {
				comm++;
			}
		}
		if (ret)
			fail_msg("%s: %s", f, plw_reader_error(r));
		assert_int_equal(other, samples);
		assert_true(comm >= 1);
		print_message("perf record%s: %zu samples, %zu comm read back\n", z ? " -z" : "",
			      other, comm);
		plw_reader_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_locs),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_partial_meta),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_bytes_per_event),
		cmocka_unit_test(test_perf_script),
		cmocka_unit_test(test_perf_files),
		cmocka_unit_test(test_kernel_events),
		cmocka_unit_test(test_tracepoints),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
