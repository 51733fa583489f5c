// SPDX-License-Identifier: MIT
/*
 * fuzz_reader.c - libFuzzer entry over the file reader: open from memory
 * (with and without salvage), read every event, look up every location seen,
 * read the metadata.  Built by `make fuzz`; run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/plw.h"

static volatile uint64_t sink;

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	struct plw_reader *r = NULL;
	struct plw_event ev;
	const struct plw_meta *m;
	uint64_t until = 0;
	int n = 0;

	if (plw_reader_open_mem(&r, data, size, flags) == 0) {
		m = plw_reader_meta(r);
		while (n++ < 1000000 && plw_reader_next(r, &ev) == 1) {
			const struct plw_loc *l;

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
