// SPDX-License-Identifier: MIT
/*
 * native.c - the native event groups of `pylow record -e` (bpf/native.bpf.c):
 *
 *   mem         uprobes on the target's libc allocator functions, attached
 *               per target PROCESS (perf event with the pid: the kernel puts
 *               breakpoints in that process's address space only, so the
 *               rest of the machine never traps on malloc).  Threads share
 *               the address space: covered.  A target exec'ing stays covered
 *               (the event follows the task into its new address space) when
 *               it was fork()ed, as the launched command is; other targets
 *               that exec are probed again once the new image has mapped
 *               its libc.  A child process is probed when the recorder has
 *               seen it in the targets map for MEM_SETTLE_NS (native_poll,
 *               every ~100 ms): its allocations before that are not
 *               recorded.  Attaching takes ~10-20 ms, up to ~600 ms seen
 *               on a loaded VM (the kernel visits every process mapping
 *               libc for each of the 13 probes), so a child living less
 *               than that may not be covered at all.
 *   gil         uprobe + uretprobe on CPython's take_gil(), pid -1 (every
 *               process running that Python file; the BPF side keeps the
 *               targets' events only).  take_gil is static: found in .symtab
 *               when the file has one (pyenv, source builds: 3.6-3.13), else
 *               (stripped Debian/Ubuntu builds) as a direct call made by both
 *               exported PyEval_RestoreThread and PyEval_AcquireThread in
 *               their first 64 bytes, checked to be a function start in
 *               .eh_frame_hdr (Debian 3.11.2: 0x4f92c0).  Every GIL take goes
 *               through take_gil: after a blocking call (Py_END_ALLOW_THREADS,
 *               PyGILState_Ensure, a new thread) and after a forced switch
 *               (the eval loop's drop request, every 5 ms of contention).
 *               A wait is a take_gil call during which the thread slept (its
 *               nvcsw grew: it blocked on the GIL's condition variable or
 *               mutex); wait_ns is entry to return (plus ~1 trap of uprobe
 *               overhead).  Not counted: takes of a free GIL (no sleep: also
 *               when the GIL was taken but got free while the thread was
 *               preempted before it could sleep: runqueue time, which
 *               -e sched shows; on a loaded 2-CPU VM the two spinning
 *               threads' recorded waits were 63-97 % of their overlap), the
 *               dropping thread's wait for the handoff in drop_gil
 *               (FORCE_SWITCHING: it then waits in take_gil, which counts),
 *               a thread exiting inside take_gil at finalisation, a take_gil
 *               inlined into a caller in some other build (the call
 *               heuristic then finds nothing and the manifest says so).
 *               Pythons without either way (stripped, not x86-64) get no gil
 *               probes, said in the manifest and on stderr.
 *   exceptions  uprobe on _PyErr_SetObject (3.8+: type is argument 2;
 *               exported up to 3.12, a local .symtab symbol in 3.13) or
 *               PyErr_SetObject (3.6, 3.7: type is argument 1), pid -1.  A
 *               Python `raise X` (do_raise) and C code setting an error
 *               (PyErr_SetString, PyErr_Format, PyErr_SetNone, ...) all go
 *               through it; propagation through frames and a bare `raise`
 *               (re-raise: _PyErr_Restore) do not.  C code that replaces an
 *               error raises twice (int('x') on 3.11: two ValueErrors).
 *
 * Returns 0 or -errno and never prints (record.c talks to the user).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rec.h"
#include "bpf/pylow.skel.h"
#include "bpf/native.skel.h"

#define MAX_MEM_PIDS	1024
#define MAX_PY_FILES	16
#define SEEN_MAX	64
#define MEM_LINKS	16

struct mem_pid {
	int pid;
	int nr;
	bool pending;			/* to (re)attach when its libc is mapped */
	int tries;
	uint64_t seen_ns;		/* first seen, or exec'd */
	struct bpf_link *links[MEM_LINKS];
};

/* polls (~100 ms each) a process may take to map its libc after exec */
#define MEM_TRIES	20
/* a new or exec'd process is probed this long after it was seen: one just
 * exec'd may still be mapping its libc (the dynamic loader maps the file,
 * then its segments over it), and probes attached in between were seen to
 * never fire (kernel 6.18) */
#define MEM_SETTLE_NS	50000000ull

struct py_file {
	char path[PATH_MAX];
	int nr;
	struct bpf_link *links[4];
};

struct native {
	struct native_bpf *skel;
	unsigned mask;
	struct mem_pid *mem;		/* MAX_MEM_PIDS */
	int nr_mem;
	int mem_failed;			/* processes whose libc could not be probed */
	char libcs[4][PATH_MAX + 32];	/* libc files named in the manifest */
	int nr_libcs;
	struct py_file py[MAX_PY_FILES];
	int nr_py;
	char (*seen)[PATH_MAX];		/* files looked at: a ring of SEEN_MAX */
	int nr_seen;
};

/* ------------------------------------------------------------ ELF */

struct elf_file {
	int fd;
	Elf *e;
};

static int elf_open(struct elf_file *f, const char *path)
{
	GElf_Ehdr eh;

	elf_version(EV_CURRENT);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	f->e = elf_begin(f->fd, ELF_C_READ, NULL);
	if (!f->e || elf_kind(f->e) != ELF_K_ELF || !gelf_getehdr(f->e, &eh)) {
		if (f->e)
			elf_end(f->e);
		close(f->fd);
		return -ENOEXEC;
	}
	return 0;
}

static void elf_close(struct elf_file *f)
{
	elf_end(f->e);
	close(f->fd);
}

/* virtual address of function NAME in .dynsym (or .symtab when SYMTAB); 0 if none */
static uint64_t elf_sym(struct elf_file *f, const char *name, bool symtab)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(f->e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != (symtab ? SHT_SYMTAB : SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    !s.st_value || s.st_shndx == SHN_UNDEF)
				continue;
			n = elf_strptr(f->e, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name))
				return s.st_value;
		}
	}
	return 0;
}

/* file offset of virtual address VA (through the PT_LOAD segments); 0 if none */
static uint64_t elf_offset(struct elf_file *f, uint64_t va)
{
	size_t n;

	if (elf_getphdrnum(f->e, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(f->e, i, &ph) && ph.p_type == PT_LOAD &&
		    va >= ph.p_vaddr && va < ph.p_vaddr + ph.p_filesz)
			return va - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static int elf_read(struct elf_file *f, uint64_t va, void *buf, size_t len)
{
	uint64_t off = elf_offset(f, va);

	if (!off || pread(f->fd, buf, len, off) != (ssize_t)len)
		return -EIO;
	return 0;
}

/* true when VA starts an FDE in .eh_frame_hdr's search table (the usual
 * encodings only: pcrel|sdata4 pointer, udata4 count, datarel|sdata4 table) */
static bool elf_fde_start(struct elf_file *f, uint64_t va)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr;

	if (elf_getshdrstrndx(f->e, &shstr))
		return false;
	while ((scn = elf_nextscn(f->e, scn))) {
		const char *n;
		Elf_Data *d;
		const unsigned char *p;
		uint32_t count;

		if (!gelf_getshdr(scn, &sh) || !(n = elf_strptr(f->e, shstr, sh.sh_name)) ||
		    strcmp(n, ".eh_frame_hdr"))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || d->d_size < 12)
			return false;
		p = d->d_buf;
		if (p[0] != 1 || p[1] != 0x1b || p[2] != 0x03 || p[3] != 0x3b)
			return false;
		memcpy(&count, p + 8, 4);
		if (12 + (uint64_t)count * 8 > d->d_size)
			return false;
		/* binary search of the sorted initial locations */
		uint32_t lo = 0, hi = count;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			int32_t rel;
			uint64_t loc;

			memcpy(&rel, p + 12 + (uint64_t)mid * 8, 4);
			loc = sh.sh_addr + (int64_t)rel;
			if (loc == va)
				return true;
			if (loc < va)
				lo = mid + 1;
			else
				hi = mid;
		}
		return false;
	}
	return false;
}

/* targets of the direct calls (e8 rel32) in the first LEN bytes at VA */
static int call_targets(struct elf_file *f, uint64_t va, uint64_t *out, int max)
{
	unsigned char b[64];
	int n = 0;

	if (elf_read(f, va, b, sizeof(b)))
		return 0;
	for (size_t i = 0; i + 5 <= sizeof(b) && n < max; i++) {
		int32_t rel;

		if (b[i] != 0xe8)
			continue;
		memcpy(&rel, b + i + 1, 4);
		out[n++] = va + i + 5 + (int64_t)rel;
	}
	return n;
}

/*
 * take_gil's virtual address in a Python file: .symtab, else the first call
 * that both PyEval_RestoreThread and PyEval_AcquireThread make (3.x:
 * `take_gil(tstate)` comes right after the NULL check in both), accepted
 * only if it starts a function in .eh_frame_hdr.  *HOW says which.
 */
static uint64_t find_take_gil(struct elf_file *f, const char **how)
{
	uint64_t va = elf_sym(f, "take_gil", true), a[12], b[12];
	uint64_t ra = elf_sym(f, "PyEval_RestoreThread", false);
	uint64_t aa = elf_sym(f, "PyEval_AcquireThread", false);
	int na, nb;

	if (va) {
		*how = "symtab";
		return va;
	}
#if defined(__x86_64__)
	if (!ra || !aa)
		return 0;
	na = call_targets(f, ra, a, 12);
	nb = call_targets(f, aa, b, 12);
	for (int i = 0; i < na; i++)
		for (int k = 0; k < nb; k++)
			if (a[i] == b[k] && elf_fde_start(f, a[i])) {
				*how = "call in PyEval_RestoreThread and PyEval_AcquireThread";
				return a[i];
			}
#else
	(void)ra; (void)aa; (void)a; (void)b; (void)na; (void)nb;
#endif
	return 0;
}

/* ------------------------------------------------------------ load */

int native_load(struct native **out, struct pylow_bpf *py, unsigned mask, int stacks_fd)
{
	struct native *n = calloc(1, sizeof(*n));
	int err;

	*out = n;
	if (!n)
		return -ENOMEM;
	n->mask = mask & (KGROUP_MEM | KGROUP_GIL | KGROUP_EXCEPTIONS);
	if (!n->mask)
		return 0;
	n->mem = calloc(MAX_MEM_PIDS, sizeof(*n->mem));
	if (!n->mem)
		return -ENOMEM;
	n->skel = native_bpf__open();
	if (!n->skel)
		return -errno;
	if ((err = share_maps(n->skel->obj, py)) ||
	    (err = PLW_STACKS_SHARE(n->skel, stacks_fd)))
		return err;
	return native_bpf__load(n->skel);
}

void native_set_running(struct native *n, int on)
{
	if (n && n->skel)
		n->skel->bss->running = on;
}

/* ------------------------------------------------------------ mem */

static const struct {
	const char *sym;
	bool ret;			/* uretprobe mem_ret too */
	int prog;			/* index in progs() */
} mem_funcs[] = {
	{ "malloc", true, 0 }, { "calloc", true, 1 }, { "realloc", true, 2 },
	{ "free", false, 3 }, { "aligned_alloc", true, 4 }, { "memalign", true, 4 },
	{ "posix_memalign", true, 5 },
};

static struct bpf_program *mem_prog(struct native *n, int i)
{
	struct bpf_program *p[] = {
		n->skel->progs.mem_malloc, n->skel->progs.mem_calloc, n->skel->progs.mem_realloc,
		n->skel->progs.mem_free, n->skel->progs.mem_memalign,
		n->skel->progs.mem_posix_memalign,
	};

	return p[i];
}

/* the libc mapped by PID, as a path the recorder can open (through
 * /proc/PID/root: the target may live in another mount namespace) */
static int find_libc(int pid, char *out, size_t len)
{
	char maps[64], line[PATH_MAX + 256];
	FILE *f;
	int err = -ENOENT;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/'), *base;

		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		base = strrchr(path, '/') + 1;
		if (strncmp(base, "libc.so", 7) && strncmp(base, "libc-2.", 7))
			continue;
		snprintf(out, len, "/proc/%d/root%s", pid, path);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

/* attaches the allocator probes of MP->pid (MP has no links) */
static int attach_slot(struct native *n, struct mem_pid *mp, struct manifest *m, char *err,
		       size_t len)
{
	char libc[PATH_MAX + 32], name[2 * PATH_MAX + 256];
	struct elf_file f;
	uint64_t done[8];
	int nd = 0, e, pid = mp->pid;

	if ((e = find_libc(pid, libc, sizeof(libc)))) {
		snprintf(err, len, "mem: process %d maps no libc.so (%s): its allocations are not recorded",
			 pid, strerror(-e));
		return e;
	}
	if ((e = elf_open(&f, libc))) {
		snprintf(err, len, "mem: cannot read %s: %s", libc, strerror(-e));
		return e;
	}
	for (size_t i = 0; i < sizeof(mem_funcs) / sizeof(mem_funcs[0]); i++) {
		uint64_t va = elf_sym(&f, mem_funcs[i].sym, false), off;
		bool dup = false;
		LIBBPF_OPTS(bpf_uprobe_opts, o);

		if (!va)
			continue;	/* e.g. no aligned_alloc in an old libc */
		for (int k = 0; k < nd; k++)
			dup |= done[k] == va;
		if (dup)
			continue;	/* an alias (aligned_alloc = memalign): once */
		done[nd++] = va;
		off = elf_offset(&f, va);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(mem_prog(n, mem_funcs[i].prog),
								     pid, libc, off, &o);
		if (!l) {
			e = -errno;
			snprintf(err, len, "mem: cannot attach uprobe %s:%s (process %d): %s", libc,
				 mem_funcs[i].sym, pid, strerror(-e));
			goto fail;
		}
		mp->links[mp->nr++] = l;
		if (!mem_funcs[i].ret)
			continue;
		o.retprobe = true;
		l = bpf_program__attach_uprobe_opts(n->skel->progs.mem_ret, pid, libc, off, &o);
		if (!l) {
			e = -errno;
			snprintf(err, len, "mem: cannot attach uretprobe %s:%s (process %d): %s", libc,
				 mem_funcs[i].sym, pid, strerror(-e));
			goto fail;
		}
		mp->links[mp->nr++] = l;
	}
	elf_close(&f);
	mp->pending = false;
	/* one manifest line per libc file */
	{
		const char *real = strstr(libc, "/root/") ? strstr(libc, "/root/") + 5 : libc;

		for (int i = 0; i < n->nr_libcs; i++)
			if (!strcmp(n->libcs[i], real))
				return 0;
		if (n->nr_libcs < 4)
			snprintf(n->libcs[n->nr_libcs++], sizeof(n->libcs[0]), "%s", real);
		snprintf(name, sizeof(name), "uprobe:%s:malloc,calloc,realloc,free,posix_memalign,"
			 "aligned_alloc,memalign (per target process)", real);
		manifest_add(m, "mem", name, true, NULL);
	}
	return 0;
fail:
	elf_close(&f);
	for (int i = 0; i < mp->nr; i++)
		bpf_link__destroy(mp->links[i]);
	mp->nr = 0;
	return e;
}

static struct mem_pid *mem_slot(struct native *n, int pid, bool create)
{
	for (int i = 0; i < n->nr_mem; i++)
		if (n->mem[i].pid == pid)
			return &n->mem[i];
	if (!create || n->nr_mem == MAX_MEM_PIDS)
		return NULL;
	n->mem[n->nr_mem] = (struct mem_pid){ .pid = pid, .pending = true, .seen_ns = mono_ns() };
	return &n->mem[n->nr_mem++];
}

int native_attach_mem(struct native *n, int pid, struct manifest *m, char *err, size_t len)
{
	struct mem_pid *mp;
	int e;

	if (!n || !(n->mask & KGROUP_MEM))
		return 0;
	if ((mp = mem_slot(n, pid, false)))
		return 0;
	if (!(mp = mem_slot(n, pid, true))) {
		snprintf(err, len, "mem: more than %d processes: process %d not probed", MAX_MEM_PIDS, pid);
		n->mem_failed++;
		return -ENOSPC;
	}
	mp->tries++;
	e = attach_slot(n, mp, m, err, len);
	if (e && (e != -ENOENT || mp->tries >= MEM_TRIES)) {
		mp->pending = false;	/* gone, or never maps a libc: not retried */
		n->mem_failed++;
	}
	return e;
}

static void *destroy_links(void *arg)
{
	struct bpf_link **l = arg;

	for (int i = 0; l[i]; i++)
		bpf_link__destroy(l[i]);
	free(l);
	return NULL;
}

void native_on_exec(struct native *n, int pid)
{
	struct mem_pid *mp;
	struct bpf_link **l;
	pthread_t th;

	if (!n || !(n->mask & KGROUP_MEM) || !(mp = mem_slot(n, pid, false)))
		return;
	/* probes attached before the exec do not reliably follow a vfork'd
	 * child into its new image: attach again once it has mapped its libc
	 * (the old links go in the background: removing a uprobe waits) */
	if (mp->nr && (l = calloc(mp->nr + 1, sizeof(*l)))) {
		memcpy(l, mp->links, mp->nr * sizeof(*l));
		if (pthread_create(&th, NULL, destroy_links, l))
			destroy_links(l);
		else
			pthread_detach(th);
		mp->nr = 0;
	}
	mp->pending = true;
	mp->tries = 0;
	mp->seen_ns = mono_ns();
}

int native_poll(struct native *n, struct manifest *m)
{
	uint32_t key, next;
	int fd, added = 0;
	char why[2 * PATH_MAX + 256];

	if (!n || !(n->mask & KGROUP_MEM) || !n->skel)
		return 0;
	/* processes exec'd, or not done mapping their libc */
	for (int i = 0; i < n->nr_mem; i++) {
		struct mem_pid *mp = &n->mem[i];
		int e;

		if (!mp->pending || mono_ns() - mp->seen_ns < MEM_SETTLE_NS)
			continue;
		mp->tries++;
		e = attach_slot(n, mp, m, why, sizeof(why));
		if (!e)
			added++;
		else if (e != -ENOENT || mp->tries >= MEM_TRIES)
			mp->pending = false;
	}
	/* new target processes (children) */
	fd = bpf_map__fd(n->skel->maps.targets);
	for (int r = bpf_map_get_next_key(fd, NULL, &next); !r;
	     r = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		/* probed at a later poll (MEM_SETTLE_NS) */
		if (!mem_slot(n, key, false))
			mem_slot(n, key, true);
	}
	return added;
}

/* ------------------------------------------------------------ Python */

/* the file of a Python's interpreter core: EXE, or the libpython it needs */
static int core_file(const char *exe, char *out, size_t len)
{
	struct usdt_file *u;
	int err = usdt_file_load(exe, &u);

	if (err)
		return err;
	if (u->needed_libpython[0])
		err = usdt_find_needed(u, out, len);
	else
		snprintf(out, len, "%s", exe);
	usdt_file_free(u);
	return err;
}

int native_attach_python(struct native *n, const char *exe, const char *lib,
			 struct manifest *m, char *err, size_t len)
{
	char path[PATH_MAX], name[PATH_MAX + 256];
	struct elf_file f;
	struct py_file *pf;
	uint64_t va, exc;
	int cookie = 2, e;
	const char *how = NULL;

	err[0] = 0;
	if (!n || !(n->mask & (KGROUP_GIL | KGROUP_EXCEPTIONS)))
		return 0;
	if (lib && lib[0])
		snprintf(path, sizeof(path), "%s", lib);
	else if (core_file(exe, path, sizeof(path)))
		return 0;	/* not an ELF file: a script, a shim */
	for (int i = 0; i < n->nr_seen && i < SEEN_MAX; i++)
		if (!strcmp(n->seen[i], path))
			return 0;
	if (!n->seen && !(n->seen = calloc(SEEN_MAX, sizeof(*n->seen))))
		return -ENOMEM;
	snprintf(n->seen[n->nr_seen++ % SEEN_MAX], PATH_MAX, "%s", path);
	for (int i = 0; i < n->nr_py; i++)
		if (!strcmp(n->py[i].path, path))
			return 0;
	if (n->nr_py == MAX_PY_FILES) {
		snprintf(err, len, "gil, exceptions: more than %d Python files: %s not probed",
			 MAX_PY_FILES, path);
		return -ENOSPC;
	}
	if ((e = elf_open(&f, path)))
		return 0;
	exc = elf_sym(&f, "_PyErr_SetObject", false);
	if (!exc)	/* 3.13 hides it: a local symbol in .symtab */
		exc = elf_sym(&f, "_PyErr_SetObject", true);
	if (!exc) {
		exc = elf_sym(&f, "PyErr_SetObject", false);
		cookie = 1;
	}
	if (!exc) {
		elf_close(&f);
		return 0;	/* not a Python */
	}
	pf = &n->py[n->nr_py++];
	snprintf(pf->path, sizeof(pf->path), "%s", path);
	if (n->mask & KGROUP_EXCEPTIONS) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(n->skel->progs.exc_raise, -1, path,
								     elf_offset(&f, exc), &o);

		snprintf(name, sizeof(name), "uprobe:%s:%s", path,
			 cookie == 2 ? "_PyErr_SetObject" : "PyErr_SetObject");
		if (!l) {
			e = -errno;
			manifest_add(m, "exceptions", name, false, strerror(-e));
			snprintf(err, len, "exceptions: cannot attach %s: %s", name, strerror(-e));
		} else {
			pf->links[pf->nr++] = l;
			manifest_add(m, "exceptions", name, true, NULL);
		}
	}
	if (n->mask & KGROUP_GIL) {
		va = find_take_gil(&f, &how);
		if (!va) {
			snprintf(name, sizeof(name), "uprobe:%s:take_gil", path);
			manifest_add(m, "gil", name, false,
				     "take_gil not found (no .symtab, and no common call in "
				     "PyEval_RestoreThread/PyEval_AcquireThread)");
			snprintf(err, len, "gil: take_gil not found in %s (stripped, unknown layout): "
				 "GIL waits of this Python are not recorded", path);
		} else {
			LIBBPF_OPTS(bpf_uprobe_opts, o);
			uint64_t off = elf_offset(&f, va);
			struct bpf_link *l = bpf_program__attach_uprobe_opts(n->skel->progs.gil_take, -1,
									     path, off, &o);
			struct bpf_link *r = NULL;

			snprintf(name, sizeof(name), "uprobe,uretprobe:%s:take_gil@0x%llx (%s)", path,
				 (unsigned long long)va, how);
			if (l) {
				o.retprobe = true;
				r = bpf_program__attach_uprobe_opts(n->skel->progs.gil_taken, -1, path, off,
								    &o);
			}
			if (!l || !r) {
				e = -errno;
				bpf_link__destroy(l);
				manifest_add(m, "gil", name, false, strerror(-e));
				snprintf(err, len, "gil: cannot attach %s: %s", name, strerror(-e));
			} else {
				pf->links[pf->nr++] = l;
				pf->links[pf->nr++] = r;
				manifest_add(m, "gil", name, true, NULL);
			}
		}
	}
	elf_close(&f);
	return err[0] ? -ENOENT : 0;
}

/* ------------------------------------------------------------ manifest, teardown */

void native_manifest(struct native *n, unsigned mask, struct manifest *m)
{
	if (!(mask & KGROUP_MEM))
		manifest_add(m, "mem", "uprobe:libc:malloc,calloc,realloc,free,...", false,
			     "group not selected (-e)");
	else if (n && !n->nr_libcs)
		manifest_add(m, "mem", "uprobe:libc:malloc,calloc,realloc,free,...", false,
			     "no target process mapping a libc.so could be probed");
	if (!(mask & KGROUP_GIL))
		manifest_add(m, "gil", "uprobe:python:take_gil", false, "group not selected (-e)");
	if (!(mask & KGROUP_EXCEPTIONS))
		manifest_add(m, "exceptions", "uprobe:python:_PyErr_SetObject", false,
			     "group not selected (-e)");
	if (n && (mask & (KGROUP_GIL | KGROUP_EXCEPTIONS)) && !n->nr_py)
		manifest_add(m, (mask & KGROUP_GIL) ? "gil" : "exceptions", "uprobe:python", false,
			     "no Python interpreter file found among the targets");
}

static void *detach_mem(void *arg)
{
	struct mem_pid *mp = arg;

	for (int i = 0; i < mp->nr; i++)
		bpf_link__destroy(mp->links[i]);
	mp->nr = 0;
	return NULL;
}

/* removing a uprobe link waits for the kernel to synchronise: detach the
 * processes in parallel, 16 at a time */
void native_detach(struct native *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nr_mem; i += 16) {
		pthread_t th[16];
		bool ok[16] = { 0 };

		for (int k = 0; k < 16 && i + k < n->nr_mem; k++)
			ok[k] = !pthread_create(&th[k], NULL, detach_mem, &n->mem[i + k]);
		for (int k = 0; k < 16 && i + k < n->nr_mem; k++) {
			if (ok[k])
				pthread_join(th[k], NULL);
			else
				detach_mem(&n->mem[i + k]);
		}
	}
	for (int i = 0; i < n->nr_py; i++) {
		for (int k = 0; k < n->py[i].nr; k++)
			bpf_link__destroy(n->py[i].links[k]);
		n->py[i].nr = 0;
	}
}

void native_free(struct native *n)
{
	if (!n)
		return;
	native_detach(n);
	native_bpf__destroy(n->skel);
	free(n->seen);
	free(n->mem);
	free(n);
}
