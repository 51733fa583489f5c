// SPDX-License-Identifier: MIT
/*
 * stacks.c - symbolise the native stacks of `pylow record --stacks` on the
 * recording host (bpf/stacks.bpf.h captures them into a stack-trace map).
 *
 * The first time a STACK record names a stack id, the frames are read from
 * the map and named: kernel frames from /proc/kallsyms, user frames with
 * libdwfl on the live process (dwfl_linux_proc_report: the ELF symbol tables,
 * .dynsym or .symtab, of every mapped module; debuginfo when installed).  The
 * result goes into the file as a STACK_DEF, so that reports need neither the
 * binaries nor debug info.  File stack ids are our own: a user stack id of
 * the map means different code in different processes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <elfutils/libdwfl.h>

#include "rec.h"

#define DEPTH		64		/* PLW_STACK_DEPTH of stacks.bpf.h */
#define PROCS_MAX	64		/* Dwfl sessions kept (one per process) */
#define FRAMES_MAX	4000		/* bytes of frame text per stack */

struct ksym {
	uint64_t addr;
	const char *name;
	const char *mod;		/* "kernel.kallsyms" or a module name */
};

struct proc {
	uint32_t pid;
	Dwfl *dwfl;
	uint64_t used;
	uint64_t refreshed;		/* mono ns of the last read of its maps */
};

#define REFRESH_NS	(20 * 1000000ull)	/* maps re-read at most this often */

struct idmap {
	uint64_t key;			/* 0: empty */
	uint32_t id;
};

struct stacks {
	int map_fd;
	/* kallsyms, sorted by address */
	struct ksym *ksyms;
	size_t nr_ksyms;
	char *kstr;
	bool ktried;
	struct proc procs[PROCS_MAX];
	uint64_t tick;
	/* (map id, kind, pid) -> file id */
	struct idmap *ids;
	size_t cap, nr;
	uint32_t next_id;
};

static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

int stacks_new(struct stacks **out, int map_fd)
{
	struct stacks *s = calloc(1, sizeof(*s));

	*out = s;
	if (!s)
		return -ENOMEM;
	s->map_fd = map_fd;
	return 0;
}

void stacks_free(struct stacks *s)
{
	if (!s)
		return;
	for (int i = 0; i < PROCS_MAX; i++)
		if (s->procs[i].dwfl)
			dwfl_end(s->procs[i].dwfl);
	free(s->ksyms);
	free(s->kstr);
	free(s->ids);
	free(s);
}

/* ------------------------------------------------------------ kernel */

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int load_kallsyms(struct stacks *s)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char *buf = NULL, line[512];
	size_t len = 0, cap = 0, n = 0, ncap = 0;
	struct { uint64_t addr; size_t name, mod; } *tmp = NULL;

	s->ktried = true;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256], mod[128] = "";
		int k = sscanf(line, "%llx %c %255s [%127[^]]]", &addr, &type, name, mod);

		if (k < 3 || !addr || (type != 't' && type != 'T' && type != 'w' && type != 'W'))
			continue;
		size_t need = strlen(name) + 1 + strlen(mod) + 1;

		if (len + need > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			while (len + need > cap)
				cap *= 2;
			char *b = realloc(buf, cap);

			if (!b)
				goto nomem;
			buf = b;
		}
		if (n == ncap) {
			ncap = ncap ? ncap * 2 : 65536;
			void *t = realloc(tmp, ncap * sizeof(*tmp));

			if (!t)
				goto nomem;
			tmp = t;
		}
		tmp[n].addr = addr;
		tmp[n].name = len;
		strcpy(buf + len, name);
		len += strlen(name) + 1;
		tmp[n].mod = len;
		strcpy(buf + len, mod[0] ? mod : "kernel.kallsyms");
		len += strlen(buf + len) + 1;
		n++;
	}
	fclose(f);
	f = NULL;
	s->ksyms = calloc(n ? n : 1, sizeof(*s->ksyms));
	if (!s->ksyms)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		s->ksyms[i] = (struct ksym){ tmp[i].addr, buf + tmp[i].name, buf + tmp[i].mod };
	s->nr_ksyms = n;
	s->kstr = buf;
	free(tmp);
	qsort(s->ksyms, n, sizeof(*s->ksyms), ksym_cmp);
	return 0;
nomem:
	if (f)
		fclose(f);
	free(buf);
	free(tmp);
	return -ENOMEM;
}

static void kframe(struct stacks *s, uint64_t ip, char *out, size_t len)
{
	size_t lo = 0, hi = s->nr_ksyms;

	if (!s->ktried)
		load_kallsyms(s);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->ksyms[mid].addr <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo) {
		snprintf(out, len, "0x%" PRIx64 " ([kernel.kallsyms])", ip);
		return;
	}
	const struct ksym *k = &s->ksyms[lo - 1];

	snprintf(out, len, "%s+0x%" PRIx64 " ([%s])", k->name, ip - k->addr, k->mod);
}

/* ------------------------------------------------------------ user */

/* PID's Dwfl; REFRESH: re-read its maps (at most every REFRESH_NS), adding
 * to the modules known (a process that has exited since keeps those of its
 * last reading); RESET: read them anew (an exec) */
static Dwfl *proc_dwfl(struct stacks *s, uint32_t pid, bool refresh, bool reset)
{
	struct proc *p = NULL, *lru = &s->procs[0];
	bool add;

	for (int i = 0; i < PROCS_MAX; i++) {
		if (s->procs[i].dwfl && s->procs[i].pid == pid) {
			p = &s->procs[i];
			break;
		}
		if (!s->procs[i].dwfl || s->procs[i].used < lru->used)
			lru = &s->procs[i];
	}
	if (p && !reset && (!refresh || mono_ns() - p->refreshed < REFRESH_NS)) {
		p->used = ++s->tick;
		return p->dwfl;
	}
	add = p && !reset;
	if (!p) {
		p = lru;
		if (p->dwfl)
			dwfl_end(p->dwfl);
		p->dwfl = dwfl_begin(&dwfl_cbs);
		if (!p->dwfl)
			return NULL;
	}
	/* (re)reads /proc/PID/maps: libraries loaded since */
	if (add)
		dwfl_report_begin_add(p->dwfl);
	else
		dwfl_report_begin(p->dwfl);
	p->pid = pid;
	p->used = ++s->tick;
	p->refreshed = mono_ns();
	if (dwfl_linux_proc_report(p->dwfl, pid) != 0) {
		dwfl_report_end(p->dwfl, NULL, NULL);
		return p->dwfl;
	}
	dwfl_report_end(p->dwfl, NULL, NULL);
	return p->dwfl;
}

static void uframe(struct stacks *s, uint32_t pid, uint64_t ip, char *out, size_t len)
{
	Dwfl *d = proc_dwfl(s, pid, false, false);
	Dwfl_Module *m = d ? dwfl_addrmodule(d, ip) : NULL;
	const char *name = NULL, *mod = NULL, *base;
	GElf_Off off = 0;
	GElf_Sym sym;

	/* a library loaded since the maps were read; not for the garbage a
	 * frame-pointer walk finds in code built without frame pointers */
	if (d && !m && ip >= 0x10000 && (d = proc_dwfl(s, pid, true, false)))
		m = dwfl_addrmodule(d, ip);
	if (m) {
		mod = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		name = dwfl_module_addrinfo(m, ip, &off, &sym, NULL, NULL, NULL);
		/* code only: a frame-pointer walk without frame pointers lands on
		 * data too (PyCFunction_Type+0x0 is not a frame) */
		if (name && GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
		    GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
			name = NULL;
	}
	base = mod ? strrchr(mod, '/') : NULL;
	base = base ? base + 1 : mod ? mod : "[unknown]";
	if (name)
		snprintf(out, len, "%s+0x%" PRIx64 " (%s)", name, (uint64_t)off, base);
	else
		snprintf(out, len, "0x%" PRIx64 " (%s)", ip, base);
}

/* ------------------------------------------------------------ ids */

static struct idmap *id_slot(struct stacks *s, uint64_t key)
{
	size_t i = (key * 0x9e3779b97f4a7c15ull) >> 20;

	for (i &= s->cap - 1;; i = (i + 1) & (s->cap - 1))
		if (!s->ids[i].key || s->ids[i].key == key)
			return &s->ids[i];
}

static int id_grow(struct stacks *s)
{
	struct idmap *old = s->ids;
	size_t oldcap = s->cap;

	s->cap = s->cap ? s->cap * 2 : 1024;
	s->ids = calloc(s->cap, sizeof(*s->ids));
	if (!s->ids) {
		s->ids = old;
		s->cap = oldcap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key)
			*id_slot(s, old[i].key) = old[i];
	free(old);
	return 0;
}

/* file id of map stack MID of KIND (user: of PID); defines it first */
static int one(struct stacks *s, uint32_t pid, int32_t mid, uint32_t kind, int32_t *out,
	       stacks_def_cb def, void *ctx)
{
	uint64_t key = (uint64_t)(uint32_t)mid | (uint64_t)(kind == PLW_STACK_USER ? pid : 0) << 32 |
		       (uint64_t)kind << 62 | 1ull << 63;
	uint64_t ips[DEPTH] = { 0 };
	char text[FRAMES_MAX], frame[512];
	size_t tl = 0;
	uint32_t nr = 0;
	struct idmap *slot;
	int err;

	*out = -1;
	if (mid < 0)
		return 0;
	if (s->nr * 2 >= s->cap && (err = id_grow(s)))
		return err;
	slot = id_slot(s, key);
	if (slot->key) {
		*out = slot->id;
		return 0;
	}
	if (bpf_map_lookup_elem(s->map_fd, &mid, ips))
		return 0;		/* gone: not captured */
	text[0] = 0;
	for (int i = 0, top = 1; i < DEPTH && ips[i]; i++) {
		size_t fl;

		if (kind == PLW_STACK_KERNEL) {
			kframe(s, ips[i], frame, sizeof(frame));
			/* the BPF program and the tracepoint machinery that ran it */
			if (top && (!strncmp(frame, "0x", 2) || !strncmp(frame, "bpf_", 4) ||
				    !strncmp(frame, "__bpf_", 6) || !strncmp(frame, "__traceiter_", 12) ||
				    !strncmp(frame, "trace_call_bpf", 14) || !strncmp(frame, "perf_trace_", 11) ||
				    strstr(frame, "([bpf])")))
				continue;
			top = 0;
		} else {
			uframe(s, pid, ips[i], frame, sizeof(frame));
		}
		fl = strlen(frame);
		if (tl + fl + 2 > sizeof(text))
			break;
		if (tl)
			text[tl++] = '\n';
		memcpy(text + tl, frame, fl + 1);
		tl += fl;
		nr++;
	}
	slot->key = key;
	slot->id = s->next_id++;
	s->nr++;
	*out = slot->id;
	return def(ctx, pid, slot->id, kind, nr, text);
}

void stacks_note_exec(struct stacks *s, uint32_t pid)
{
	if (s)
		proc_dwfl(s, pid, true, true);
}

int stacks_map(struct stacks *s, uint32_t pid, struct plw_stack *st, stacks_def_cb def,
	       void *ctx)
{
	int err;

	if ((err = one(s, pid, st->kstack, PLW_STACK_KERNEL, &st->kstack, def, ctx)))
		return err;
	return one(s, pid, st->ustack, PLW_STACK_USER, &st->ustack, def, ctx);
}
