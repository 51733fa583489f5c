// SPDX-License-Identifier: MIT
/*
 * test_batch.c - PY_BATCH (format/FORMAT.md "Python batches"): a known,
 * random stream of several threads' calls and returns with kernel events
 * between them is written as the recorder writes it (each thread's Python
 * events of a flush window as batches at their first event) and must read
 * back event for event, in the same order, with the same times; batches
 * split at the record limit and at a time going backwards; a malformed
 * batch is damage, not a crash; `perf script` reads the file and its
 * batches hold every event.
 */
#include <errno.h>
#include <malloc.h>
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

#include "format/plw.h"

static char dir[64];

static int setup_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/plwbatch.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* the ground truth: one event of the stream */
struct gev {
	uint16_t type;		/* PY_ENTRY, PY_RETURN, SYSCALL, PY_LOC */
	uint32_t tid;
	uint64_t ts;
	uint32_t loc;		/* or the syscall's nr */
};

#define NTHR	5

/* N events in time order: calls/returns of NTHR threads (proper nesting per
 * thread), syscalls between them, a PY_LOC before each location's first use.
 * Equal times only between two Python events of one thread (their order is
 * then the batch's own) and between a PY_LOC and the entry it defines. */
static struct gev *make_stream(size_t n, unsigned seed)
{
	struct gev *g = calloc(n + 64, sizeof(*g));
	uint32_t stack[NTHR][128], depth[NTHR] = { 0 };
	bool defined[8192] = { false };
	uint64_t ts = 1000000000ull;
	size_t k = 0;
	int prev_thr = -1;
	bool prev_py = false;

	while (k < n) {
		int t = rand_r(&seed) % 4 ? (prev_thr < 0 ? 0 : prev_thr) : rand_r(&seed) % NTHR;
		uint32_t tid = 100 + t;
		unsigned r = rand_r(&seed) % 100;
		uint64_t gap;

		switch (rand_r(&seed) % 8) {
		case 0: gap = 0; break;
		case 1: gap = 1 + rand_r(&seed) % 100; break;
		case 2: gap = (uint64_t)rand_r(&seed) * 97; break;	/* up to ~2e11 */
		default: gap = 100 + rand_r(&seed) % 3000;
		}
		if (r < 8) {
			/* a syscall of thread t */
			if (!gap)
				gap = 1;
			ts += gap;
			g[k++] = (struct gev){ PLW_EV_SYSCALL, tid, ts, (uint32_t)(rand_r(&seed) % 300) };
			prev_thr = t;
			prev_py = false;
			continue;
		}
		if (!gap && !(prev_py && prev_thr == t))
			gap = 1;
		ts += gap;
		if (depth[t] && (depth[t] >= 120 || r < 50)) {
			g[k++] = (struct gev){ PLW_EV_PY_RETURN, tid, ts, stack[t][--depth[t]] };
		} else {
			/* small ids (1-byte ops), some big, some the agent's
			 * (top bit set) */
			unsigned kind = rand_r(&seed) % 10;
			uint32_t loc = kind < 7 ? 1 + (uint32_t)rand_r(&seed) % 60 :
				       kind < 9 ? 1000 + (uint32_t)rand_r(&seed) % 3000 :
				       0x80000000u | (1 + (uint32_t)rand_r(&seed) % 50);
			unsigned di = (loc & 0xfff) | (loc >> 31) << 12;

			if (!defined[di]) {
				/* a record and a batched event at one time: the
				 * reader hands out the record first (a PY_LOC
				 * shares its entry's time, nothing else does) */
				if (!gap)
					ts += 1;
				defined[di] = true;
				g[k++] = (struct gev){ PLW_EV_PY_LOC, tid, ts, loc };
			}
			g[k++] = (struct gev){ PLW_EV_PY_ENTRY, tid, ts, loc };
			stack[t][depth[t]++] = loc;
		}
		prev_thr = t;
		prev_py = true;
	}
	return g;
}

static bool is_py(const struct gev *e)
{
	return e->type == PLW_EV_PY_ENTRY || e->type == PLW_EV_PY_RETURN;
}

static void write_one(struct plw_writer *w, const struct gev *e)
{
	if (e->type == PLW_EV_SYSCALL) {
		struct plw_syscall sc = { .nr = e->loc, .fd = -1, .ret = 0, .dur_ns = 5 };

		assert_int_equal(plw_writer_event(w, PLW_EV_SYSCALL, 7, e->tid, e->ts, 1,
						  &sc, sizeof(sc)), 0);
	} else {
		assert_int_equal(plw_writer_loc(w, 7, e->tid, e->ts, 1, e->loc, 3, "f", "/m.py"), 0);
	}
}

/* writes G[0..N) as record/sink.c does, flush window by flush window:
 * each thread's Python events of a window as batches, a batch at the place
 * of its first event; returns the number of batch samples */
static size_t write_windows(struct plw_writer *w, const struct gev *g, size_t n,
			    unsigned seed)
{
	struct plw_py_ev *ev = malloc(n * sizeof(*ev));
	size_t a = 0, batches = 0;

	while (a < n) {
		size_t b = a + 1 + rand_r(&seed) % 20000, first[NTHR], cnt[NTHR] = { 0 },
		       seen[NTHR] = { 0 }, done[NTHR] = { 0 }, tot = 0;

		if (b > n)
			b = n;
		for (size_t i = a; i < b; i++)
			if (is_py(&g[i]))
				cnt[g[i].tid - 100]++;
		for (int t = 0; t < NTHR; t++) {
			first[t] = tot;
			tot += cnt[t];
			cnt[t] = 0;
		}
		for (size_t i = a; i < b; i++)
			if (is_py(&g[i])) {
				int t = g[i].tid - 100;

				ev[first[t] + cnt[t]++] = (struct plw_py_ev){
					g[i].ts, g[i].loc, g[i].type == PLW_EV_PY_RETURN };
			}
		for (size_t i = a; i < b; i++) {
			int t = g[i].tid - 100;
			size_t taken;

			if (!is_py(&g[i])) {
				write_one(w, &g[i]);
				continue;
			}
			if (seen[t]++ != done[t])
				continue;
			assert_int_equal(plw_writer_py_batch(w, 7, g[i].tid, 1, ev + first[t] + done[t],
							     cnt[t] - done[t], &taken), 0);
			assert_true(taken >= 1 && taken <= cnt[t] - done[t]);
			done[t] += taken;
			batches++;
		}
		for (int t = 0; t < NTHR; t++)
			assert_int_equal(done[t], cnt[t]);
		a = b;
	}
	free(ev);
	return batches;
}

static void check_read(const char *path, const struct gev *g, size_t n, size_t batches)
{
	struct plw_reader *r = NULL;
	const struct plw_meta *m;
	struct plw_event ev;
	size_t k = 0, entries = 0, returns = 0;
	int ret;

	assert_int_equal(plw_reader_open(&r, path, 0), 0);
	while ((ret = plw_reader_next(r, &ev)) == 1) {
		if (ev.type == PLW_EV_META || ev.type >= PLW_REC_COMM)
			continue;
		if (k >= n)
			fail_msg("more events than written (%s)", path);
		if (ev.type != g[k].type || ev.tid != g[k].tid || ev.ts != g[k].ts || ev.pid != 7)
			fail_msg("event %zu: read type %u tid %u ts %llu, wrote type %u tid %u ts %llu",
				 k, ev.type, ev.tid, (unsigned long long)ev.ts, g[k].type, g[k].tid,
				 (unsigned long long)g[k].ts);
		switch (ev.type) {
		case PLW_EV_PY_ENTRY:
		case PLW_EV_PY_RETURN:
			assert_int_equal(ev.u.py.loc, g[k].loc);
			assert_int_equal(ev.len, 4);
			assert_memory_equal(ev.payload, &g[k].loc, 4);
			entries += ev.type == PLW_EV_PY_ENTRY;
			returns += ev.type == PLW_EV_PY_RETURN;
			break;
		case PLW_EV_SYSCALL:
			assert_int_equal(ev.u.sys.nr, g[k].loc);
			break;
		case PLW_EV_PY_LOC:
			assert_int_equal(ev.u.loc.id, g[k].loc);
			assert_non_null(plw_reader_loc(r, g[k].loc));
			break;
		}
		k++;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(k, n);
	m = plw_reader_meta(r);
	assert_int_equal(m->events_by_type[PLW_EV_PY_ENTRY], entries);
	assert_int_equal(m->events_by_type[PLW_EV_PY_RETURN], returns);
	assert_int_equal(m->events_by_type[PLW_EV_PY_BATCH], batches);
	assert_null(plw_reader_damage(r, NULL));
	plw_reader_free(r);
}

static void roundtrip(const char *name, size_t n, size_t chunk, unsigned seed)
{
	struct plw_writer_opts o = { .chunk_bytes = chunk };
	struct plw_writer *w = NULL;
	struct gev *g = make_stream(n, seed);
	size_t batches, py = 0;

	for (size_t i = 0; i < n; i++)
		py += is_py(&g[i]);
	assert_int_equal(plw_writer_open(&w, path_of(name), &o), 0);
	batches = write_windows(w, g, n, seed);
	assert_int_equal(plw_writer_events(w), n);
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	/* batches are few: windows of up to 20000 events, 5 threads */
	assert_true(batches > 0 && batches < py / 50);
	check_read(path_of(name), g, n, batches);
	free(g);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip("b256k.plw", 400000, 256 << 10, 1);
	/* small chunks: batches end at the chunk's room, not the record limit */
	roundtrip("b8k.plw", 100000, 8 << 10, 2);
	roundtrip("b4m.plw", 300000, 4 << 20, 3);
}

/* a batch ends before a time that goes backwards, and at the record limit */
static void test_limits(void **state)
{
	struct plw_writer *w = NULL;
	struct plw_reader *r = NULL;
	struct plw_event e;
	struct plw_py_ev ev[3] = { { 1000, 5, 0 }, { 2000, 5, 1 }, { 1500, 6, 0 } };
	size_t taken, n = 100000, got = 0;
	struct plw_py_ev *many = calloc(n, sizeof(*many));

	(void)state;
	assert_int_equal(plw_writer_open(&w, path_of("lim.plw"), NULL), 0);
	assert_int_equal(plw_writer_py_batch(w, 7, 7, 0, ev, 3, &taken), 0);
	assert_int_equal(taken, 2);
	assert_int_equal(plw_writer_py_batch(w, 7, 7, 0, ev, 0, &taken), 0);
	assert_int_equal(taken, 0);
	/* 100000 events with 5-byte ops and 5-byte deltas: 10 bytes each, so
	 * a record (65535 bytes) holds at most ~6500 of them */
	for (size_t i = 0; i < n; i++)
		many[i] = (struct plw_py_ev){ 3000 + i * (1ull << 29), 1u << 30, i & 1 };
	for (size_t done = 0; done < n; done += taken) {
		assert_int_equal(plw_writer_py_batch(w, 7, 8, 0, many + done, n - done, &taken), 0);
		assert_true(taken >= 1 && taken <= 6600);
	}
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	assert_int_equal(plw_reader_open(&r, path_of("lim.plw"), 0), 0);
	while (plw_reader_next(r, &e) == 1) {
		if (e.type != PLW_EV_PY_ENTRY && e.type != PLW_EV_PY_RETURN)
			continue;
		if (e.tid == 8) {
			assert_int_equal(e.ts, many[got].ts);
			assert_int_equal(e.u.py.loc, 1u << 30);
			got++;
		}
	}
	assert_int_equal(got, n);
	plw_reader_free(r);
	free(many);
}

/* batches that follow each other in the file (one thread, nothing else:
 * the agent's stream) join the reader's runs only when due, so its memory
 * does not grow with their number */
static void test_memory(void **state)
{
	struct plw_writer_opts o = { .chunk_bytes = 256 << 10 };
	struct plw_writer *w = NULL;
	struct plw_reader *r = NULL;
	struct plw_event e;
	size_t n = 4000000, batches = 0, got = 0, base = 0, peak = 0;
	struct plw_py_ev *ev = malloc(n * sizeof(*ev));
	uint64_t ts = 1000;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		ts += 40 + i % 50;
		ev[i] = (struct plw_py_ev){ ts, 3 + i % 4, i & 1 };
	}
	assert_int_equal(plw_writer_open(&w, path_of("mem.plw"), &o), 0);
	for (size_t done = 0, taken; done < n; done += taken, batches++)
		assert_int_equal(plw_writer_py_batch(w, 7, 7, 0, ev + done, n - done, &taken), 0);
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	assert_true(batches > 100);
	assert_int_equal(plw_reader_open(&r, path_of("mem.plw"), 0), 0);
	base = peak = mallinfo2().uordblks + mallinfo2().hblkhd;
	while (plw_reader_next(r, &e) == 1) {
		struct mallinfo2 mi;

		if (e.type != PLW_EV_PY_ENTRY && e.type != PLW_EV_PY_RETURN)
			continue;
		assert_int_equal(e.ts, ev[got].ts);
		mi = mallinfo2();
		if (++got % 20000 == 0 && mi.uordblks + mi.hblkhd > peak)
			peak = mi.uordblks + mi.hblkhd;
	}
	assert_int_equal(got, n);
	print_message("%zu batches; reader heap grew by %zu KiB while reading\n", batches,
		      (peak - base) >> 10);
	/* the chunk buffer and a few runs; 123 runs at once would be ~8 MiB */
	assert_true(peak < base + (3u << 20));
	plw_reader_free(r);
	free(ev);
}

/* a batch whose columns do not match its count is damage */
static void test_malformed(void **state)
{
	struct {
		struct plw_py_batch b;
		unsigned char cols[8];
	} bad = { { 5, 4, 4 }, { 10, 11, 0x80, 0x80, 0, 1, 0x80, 0x80 } };
	struct plw_writer *w = NULL;
	struct plw_reader *r = NULL;
	struct plw_event e;
	uint64_t until;
	int ret, n = 0;

	(void)state;
	assert_int_equal(plw_writer_open(&w, path_of("bad.plw"), NULL), 0);
	assert_int_equal(plw_writer_event(w, PLW_EV_PY_BATCH, 7, 7, 100, 0, &bad, sizeof(bad)), 0);
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	/* strict: the first two events, then an error */
	assert_int_equal(plw_reader_open(&r, path_of("bad.plw"), 0), 0);
	while ((ret = plw_reader_next(r, &e)) == 1)
		n += e.type == PLW_EV_PY_ENTRY || e.type == PLW_EV_PY_RETURN;
	assert_int_equal(ret, -EBADMSG);
	assert_non_null(strstr(plw_reader_error(r), "malformed py_batch"));
	plw_reader_free(r);
	/* salvage: what is intact, and the damage said */
	n = 0;
	assert_int_equal(plw_reader_open(&r, path_of("bad.plw"), PLW_READ_SALVAGE), 0);
	while ((ret = plw_reader_next(r, &e)) == 1)
		n += e.type == PLW_EV_PY_ENTRY || e.type == PLW_EV_PY_RETURN;
	assert_int_equal(ret, 0);
	assert_int_equal(n, 2);
	assert_non_null(plw_reader_damage(r, &until));
	plw_reader_free(r);
}

/* perf script reads a batched file; the batches' nr add up to every event */
static void test_perf_script(void **state)
{
	struct plw_writer_opts o = { .chunk_bytes = 4 << 20 };
	struct plw_writer *w = NULL;
	struct gev *g;
	size_t n = 200000, py = 0, batches, sum = 0, lines = 0;
	char cmd[512], line[512];
	FILE *p;

	(void)state;
	if (system("perf --version >/dev/null 2>&1") != 0)
		skip();
	g = make_stream(n, 9);
	for (size_t i = 0; i < n; i++)
		py += is_py(&g[i]);
	assert_int_equal(plw_writer_open(&w, path_of("perf.plw"), &o), 0);
	batches = write_windows(w, g, n, 9);
	assert_int_equal(plw_writer_finish(w, NULL), 0);
	plw_writer_free(w);
	snprintf(cmd, sizeof(cmd), "perf script -i %s 2>%s/perf.err", path_of("perf.plw"), dir);
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p)) {
		const char *s = strstr(line, "pylow:py_batch: nr=");

		if (s) {
			sum += strtoul(s + 19, NULL, 10);
			lines++;
		}
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(lines, batches);
	assert_int_equal(sum, py);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_perf_script),
	};

	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
