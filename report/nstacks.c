// SPDX-License-Identifier: MIT
/*
 * nstacks.c - the native (user) stacks of a report's rows (record
 * --stacks): the faults and malloc reports count, per Python stack or
 * frame, the user stacks that followed its events (the model's on_stack,
 * right after the event's on_leaf), and print the top NSTK_TEXT in text
 * (NSTK_FRAMES frames each) and all of them in JSON:
 *
 *	"native_stacks":[{"count",("bytes",)"user":[frames]}]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

int nstks_add(struct nstks *s, uint32_t input, uint32_t u1, uint64_t bytes)
{
	struct nstk *n = NULL;

	if (!u1)
		return 0;
	for (uint32_t i = 0; i < s->n && !n; i++)
		if (s->v[i].input == input && s->v[i].u1 == u1)
			n = &s->v[i];
	if (!n) {
		if (s->n == s->cap) {
			uint32_t cap = s->cap ? s->cap * 2 : 4;
			struct nstk *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			s->v = v;
			s->cap = cap;
		}
		n = &s->v[s->n++];
		*n = (struct nstk){ .input = input, .u1 = u1 };
	}
	n->count++;
	n->bytes += bytes;
	return 0;
}

/* most bytes, then most events first */
static int cmp_nstk(const void *a, const void *b)
{
	const struct nstk *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->u1 > y->u1) - (x->u1 < y->u1);
}

void nstks_out(const struct nstks *sc, const struct plw_model *m, struct jw *j, FILE *f,
	       const char *indent, bool bytes)
{
	struct nstks *s = (struct nstks *)sc;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_nstk);
	if (j) {
		jw_key(j, "native_stacks");
		jw_arr(j);
	}
	for (uint32_t i = 0; i < s->n && (j || i < NSTK_TEXT); i++) {
		const char *fr = plw_model_stack(m, s->v[i].input, s->v[i].u1 - 1, NULL);
		char b[32];
		int n = 0;

		if (j) {
			jw_obj(j);
			jw_key(j, "count");
			jw_u64(j, s->v[i].count);
			if (bytes) {
				jw_key(j, "bytes");
				jw_u64(j, s->v[i].bytes);
			}
			jw_key(j, "user");
			jw_arr(j);
		} else {
			fprintf(f, "%snative stack ×%" PRIu64, indent, s->v[i].count);
			if (bytes) {
				human_size(s->v[i].bytes, b, sizeof(b));
				fprintf(f, "  %s", b);
			}
			fputs(":\n", f);
		}
		while (fr && *fr) {
			size_t l = strcspn(fr, "\n");
			char fb[512];

			snprintf(fb, sizeof(fb), "%.*s", (int)l, fr);
			if (j) {
				jw_str(j, fb);
			} else if (n < NSTK_FRAMES) {
				fprintf(f, "%s  %s ", indent, n ? "    " : "user");
				fputs_safe(fb, f);
				putc('\n', f);
			} else if (n == NSTK_FRAMES) {
				fprintf(f, "%s       ...\n", indent);
			}
			n++;
			fr += l + (fr[l] == '\n');
		}
		if (j) {
			jw_arr_end(j);
			jw_obj_end(j);
		}
	}
	if (j)
		jw_arr_end(j);
	else if (s->n > NSTK_TEXT)
		fprintf(f, "%s(%u more native stacks; --json lists them all)\n", indent,
			s->n - NSTK_TEXT);
}

void nstks_free(struct nstks *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
