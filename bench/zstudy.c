// SPDX-License-Identifier: MIT
/*
 * zstudy.c - where the bytes of a pylow recording go (bench/README.md,
 * "Bytes per event").  Decompresses the first MAXRAW_MB of FILE's chunks,
 * recompresses them with several zstd settings (size, compression and
 * decompression ns/event), then compresses each field of the 56-byte
 * PY_ENTRY/PY_RETURN samples as its own column (zstd 19) to show each
 * field's entropy, and the time field as u32 deltas.
 *
 *   cc -O2 -o bench/build/zstudy bench/zstudy.c -lzstd
 *   taskset -c 1 bench/build/zstudy FILE.plw [MAXRAW_MB (default 32)]
 *
 * Assumes a finished little-endian pylow file (no checks: a study tool).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint16_t rsize(const unsigned char *p)
{
	uint16_t s;

	memcpy(&s, p + 6, 2);
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: zstudy FILE.plw [MAXRAW_MB]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size_t fsz = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(fsz);
	if (fread(b, 1, fsz, f) != fsz)
		return 1;
	uint64_t doff, dsize;
	memcpy(&doff, b + 40, 8);
	memcpy(&dsize, b + 48, 8);
	size_t maxraw = (size_t)(argc > 2 ? atoi(argv[2]) : 32) << 20;
	unsigned char *raw = malloc(maxraw + (8 << 20));
	size_t rl = 0, zin = 0, nev = 0;

	for (size_t p = doff; p < doff + dsize && rl < maxraw; p += rsize(b + p)) {
		uint32_t t;

		memcpy(&t, b + p, 4);
		if ((t & 0xffff) != 81)
			continue;
		size_t r = ZSTD_decompress(raw + rl, 8 << 20, b + p + 8, rsize(b + p) - 8);
		if (ZSTD_isError(r))
			return fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(r)), 1;
		rl += r;
		zin += rsize(b + p);
	}
	for (size_t p = 0; p < rl; p += rsize(raw + p))
		nev += raw[p] == 9;	/* PERF_RECORD_SAMPLE */
	printf("%zu raw bytes, %zu samples, %.2f B/sample in the file\n", rl, nev, (double)zin / nev);

	static const struct { int level, strat, slog; } cf[] = {
		{ 1, 0, 0 }, { 3, 0, 0 }, { 3, 4, 1 }, { 3, 4, 2 }, { 3, 5, 3 }, { 7, 0, 0 },
		{ 12, 0, 0 }, { 19, 0, 0 },
	};
	static const size_t chunks[] = { 256 << 10, 1 << 20 };
	size_t cap = ZSTD_compressBound(4 << 20);
	unsigned char *out = malloc(cap), *dec = malloc(4 << 20);

	for (int ci = 0; ci < 2; ci++)
		for (unsigned k = 0; k < sizeof(cf) / sizeof(cf[0]); k++) {
			if (cf[k].level >= 12 && ci)
				continue;
			ZSTD_CCtx *c = ZSTD_createCCtx();
			ZSTD_DCtx *d = ZSTD_createDCtx();
			size_t tot = 0;
			double tc = 0, td = 0;

			ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, cf[k].level);
			ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
			if (cf[k].strat)
				ZSTD_CCtx_setParameter(c, ZSTD_c_strategy, cf[k].strat);
			if (cf[k].slog)
				ZSTD_CCtx_setParameter(c, ZSTD_c_searchLog, cf[k].slog);
			for (size_t p = 0, q; p < rl; p = q) {
				for (q = p; q < rl && q + rsize(raw + q) - p <= chunks[ci]; q += rsize(raw + q))
					;
				double t0 = now();
				size_t z = ZSTD_compress2(c, out, cap, raw + p, q - p);
				double t1 = now();
				size_t r = ZSTD_decompressDCtx(d, dec, 4 << 20, out, z);
				double t2 = now();

				if (ZSTD_isError(z) || r != q - p)
					return fprintf(stderr, "round trip failed\n"), 1;
				tot += z + 8;
				tc += t1 - t0;
				td += t2 - t1;
			}
			printf("chunk %4zu KiB level %2d strategy %d searchLog %d: %.3f B/sample, compress %4.0f ns/sample, decompress %4.1f ns/sample\n",
			       chunks[ci] >> 10, cf[k].level, cf[k].strat, cf[k].slog, (double)tot / nev,
			       tc * 1e9 / nev, td * 1e9 / nev);
			ZSTD_freeCCtx(c);
			ZSTD_freeDCtx(d);
		}

	static const char *names[] = { "header", "id", "pid/tid", "time", "cpu+res", "raw size", "common", "loc" };
	static const int offs[] = { 0, 8, 16, 24, 32, 40, 44, 52 }, lens[] = { 8, 8, 8, 8, 8, 4, 8, 4 };
	unsigned char *col = malloc(nev * 8 + 16), *zc = malloc(ZSTD_compressBound(nev * 8 + 16));
	size_t totc = 0, n56 = 0;

	for (int fi = 0; fi < 8; fi++) {
		size_t cl = 0;

		for (size_t p = 0; p < rl; p += rsize(raw + p))
			if (raw[p] == 9 && rsize(raw + p) == 56) {
				memcpy(col + cl, raw + p + offs[fi], lens[fi]);
				cl += lens[fi];
			}
		n56 = cl / lens[fi];
		size_t z = ZSTD_compress(zc, ZSTD_compressBound(cl), col, cl, 19);
		totc += z;
		printf("column %-8s %.3f B/event (zstd 19)\n", names[fi], (double)z / n56);
	}
	printf("all columns %.3f B/event\n", (double)totc / n56);
	{
		size_t cl = 0;
		uint64_t prev = 0;

		for (size_t p = 0; p < rl; p += rsize(raw + p))
			if (raw[p] == 9 && rsize(raw + p) == 56) {
				uint64_t t, dl;
				uint32_t d32;

				memcpy(&t, raw + p + 24, 8);
				dl = t - prev;
				prev = t;
				d32 = dl > 0xffffffffu ? 0xffffffffu : (uint32_t)dl;
				memcpy(col + cl, &d32, 4);
				cl += 4;
			}
		size_t z = ZSTD_compress(zc, ZSTD_compressBound(cl), col, cl, 19);
		printf("time as u32 deltas %.3f B/event (zstd 19)\n", (double)z / n56);
	}
	return 0;
}
