// SPDX-License-Identifier: MIT
/*
 * fuzz_reader.c - libFuzzer entry over the file reader, its chunk decoder and
 * the report model: open from memory (with and without salvage), read every
 * event, look up every location seen, read the metadata; in the salvage pass
 * feed every event to a report model building trees (kernel leaves
 * included), and walk each finished tree (bottleneck, compact clone).
 * Built by `make fuzz`; run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/plw.h"
#include "report/model.h"

static volatile uint64_t sink;

static const struct plw_loc *resolve(void *ctx, uint32_t input, uint32_t loc)
{
	return plw_reader_loc(ctx, loc);
}

static uint64_t walk(const struct plw_node *n, int depth)
{
	uint64_t h = 0;

	for (; n && depth < PLW_TREE_DEPTH_MAX + 8; n = n->next) {
		h += n->count + n->dur_ns + n->self_ns + n->flags;
		if (n->site && n->site->name)
			h += strlen(n->site->name);
		h += walk(n->child, depth + 1);
	}
	return h;
}

static bool on_root(void *ctx, struct plw_tree *tree)
{
	const struct plw_node *b = plw_tree_bottleneck(tree->root);
	struct plw_node *c = plw_node_clone(tree->root);

	sink += walk(tree->root, 0) + (b ? b->self_ns : 0);
	if (c)
		sink += walk(c, 0);
	free(c);
	return false;
}

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	struct plw_reader *r = NULL;
	struct plw_event ev;
	const struct plw_meta *m;
	uint64_t until = 0;
	int n = 0;

	struct plw_model *model = NULL;

	if (plw_reader_open_mem(&r, data, size, flags) == 0) {
		if (flags & PLW_READ_SALVAGE) {
			struct plw_model_opts o = {
				.trees = true, .kernel_leaves = true, .on_root = on_root,
				.resolve = resolve, .ctx = r,
			};

			if (plw_model_new(&model, &o))
				model = NULL;
		}
		m = plw_reader_meta(r);
		while (n++ < 1000000 && plw_reader_next(r, &ev) == 1) {
			const struct plw_loc *l;

			if (model)
				plw_model_feed(model, 0, &ev);

			sink += ev.type + ev.ts + ev.len;
			if (ev.payload && ev.len)
				sink += ((const uint8_t *)ev.payload)[ev.len - 1];
			switch (ev.type) {
			case PLW_EV_PY_ENTRY:
			case PLW_EV_PY_RETURN:
				if ((l = plw_reader_loc(r, ev.u.py.loc)))
					sink += strlen(l->func) + strlen(l->file);
				break;
			case PLW_EV_PY_LOC:
				sink += strlen(ev.u.loc.func) + strlen(ev.u.loc.file);
				break;
			case PLW_EV_META:
				sink += strlen(ev.u.meta.key) + strlen(ev.u.meta.value);
				break;
			case PLW_EV_PY_IMPORT_START:
			case PLW_EV_PY_IMPORT_DONE:
				sink += strlen(ev.u.import.module);
				break;
			case PLW_REC_COMM:
				sink += strlen(ev.u.comm.comm);
				break;
			}
		}
		if (model) {
			plw_model_finish(model, 0);
			sink += plw_model_stats(model)->roots;
			plw_model_free(model);
		}
		m = plw_reader_meta(r);
		sink += m->nr_locs + m->nr_tasks + m->start_ns;
		for (size_t i = 0; i < m->nr_locs; i++)
			sink += (m->locs[i].func ? strlen(m->locs[i].func) : 0) +
				(m->locs[i].file ? strlen(m->locs[i].file) : 0);
		for (size_t i = 0; i < m->nr_tasks; i++)
			sink += strlen(m->tasks[i].comm) + (m->tasks[i].exe ? strlen(m->tasks[i].exe) : 0);
		for (size_t i = 0; i < m->nr_probes; i++)
			sink += m->probes[i].name ? strlen(m->probes[i].name) : 0;
		if (m->hostname)
			sink += strlen(m->hostname);
		if (m->cmdline)
			sink += strlen(m->cmdline);
		for (uint32_t id = 0; id < 64; id++)
			sink += plw_reader_loc(r, id) != NULL;
		const char *d = plw_reader_damage(r, &until);
		if (d)
			sink += strlen(d) + until;
	}
	sink += strlen(plw_reader_error(r));
	plw_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, PLW_READ_SALVAGE);
	return 0;
}
