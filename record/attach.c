/* SPDX-License-Identifier: MIT */
/* attach.c - CPython USDT probes -> BPF programs (libbpf, pid -1). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "rec.h"
#include "bpf/pylow.skel.h"

int manifest_add(struct manifest *m, const char *group, const char *name,
		 bool attached, const char *reason)
{
	if (m->nr == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct plw_probe *p = realloc(m->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	m->p[m->nr] = (struct plw_probe){
		.group = strdup(group), .name = strdup(name), .attached = attached,
		.reason = reason ? strdup(reason) : NULL,
	};
	m->nr++;
	return 0;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->nr; i++) {
		free((char *)m->p[i].group);
		free((char *)m->p[i].name);
		free((char *)m->p[i].reason);
	}
	free(m->p);
	memset(m, 0, sizeof(*m));
}

static bool has_python_probes(const char *path)
{
	struct usdt_file *f;
	bool ok;

	if (usdt_file_load(path, &f))
		return false;
	ok = usdt_file_probe(f, "python", "function__entry") != NULL;
	usdt_file_free(f);
	return ok;
}

int py_find_probes(const char *exe, const char *lib, char *probed, size_t len)
{
	if (exe && exe[0] && has_python_probes(exe)) {
		snprintf(probed, len, "%s", exe);
		return 0;
	}
	if (lib && lib[0] && has_python_probes(lib)) {
		snprintf(probed, len, "%s", lib);
		return 0;
	}
	return -ENOENT;
}

static const struct {
	const char *probe;
	size_t prog_off;		/* offset of the program in skel->progs */
} py_probes[] = {
	{ "function__entry", offsetof(struct pylow_bpf, progs.py_entry) },
	{ "function__return", offsetof(struct pylow_bpf, progs.py_return) },
	{ "gc__start", offsetof(struct pylow_bpf, progs.py_gc_start) },
	{ "gc__done", offsetof(struct pylow_bpf, progs.py_gc_done) },
	{ "import__find__load__start", offsetof(struct pylow_bpf, progs.py_import_start) },
	{ "import__find__load__done", offsetof(struct pylow_bpf, progs.py_import_done) },
};

int py_attach(struct pylow_bpf *skel, const char *path, struct py_attach *pa,
	      struct manifest *m)
{
	struct usdt_file *f = NULL;
	char name[PATH_MAX + 128], why[256];
	int n = 0, err, must_err = 0;

	memset(pa, 0, sizeof(*pa));
	snprintf(pa->path, sizeof(pa->path), "%s", path);
	usdt_python_version(path, pa->version, sizeof(pa->version));
	if ((err = usdt_file_load(path, &f)))
		return err;
	for (size_t i = 0; i < sizeof(py_probes) / sizeof(py_probes[0]); i++) {
		struct bpf_program *prog = *(struct bpf_program **)((char *)skel + py_probes[i].prog_off);
		struct bpf_link *l;

		snprintf(name, sizeof(name), "usdt:%s:python:%s", path, py_probes[i].probe);
		if (!usdt_file_probe(f, "python", py_probes[i].probe)) {
			manifest_add(m, "python", name, false, "probe not in this binary");
			continue;
		}
		l = bpf_program__attach_usdt(prog, -1, path, "python", py_probes[i].probe, NULL);
		if (!l) {
			err = -errno;
			snprintf(why, sizeof(why), "attach failed: %s", strerror(-err));
			manifest_add(m, "python", name, false, why);
			/* without entry and return there is no call tree */
			if (i < 2 && !must_err)
				must_err = err;
			continue;
		}
		pa->links[pa->nr_links++] = l;
		manifest_add(m, "python", name, true, NULL);
		n++;
	}

	/* 3.11 only fires function__entry for Python-to-Python calls while the
	 * `line` semaphore is held: hold it with a uprobe that never runs */
	snprintf(name, sizeof(name), "semaphore:%s:python:line (held via Py_FatalError)", path);
	const struct usdt_probe *line = usdt_file_probe(f, "python", "line");
	if (strncmp(pa->version, "3.11", 4) || (pa->version[4] && pa->version[4] != '.')) {
		manifest_add(m, "python", name, false, "not needed: only CPython 3.11 needs it");
	} else if (!line || !line->sema_off) {
		manifest_add(m, "python", name, false,
			     "no `line` probe semaphore: Python-to-Python calls may be missing");
	} else {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "Py_FatalError",
			    .ref_ctr_offset = line->sema_off);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(skel->progs.hold_sem, -1,
								     path, 0, &uo);
		if (!l) {
			err = -errno;
			snprintf(why, sizeof(why),
				 "attach failed: %s: Python-to-Python calls will be missing",
				 strerror(-err));
			manifest_add(m, "python", name, false, why);
		} else {
			pa->links[pa->nr_links++] = l;
			pa->line_sem = true;
			manifest_add(m, "python", name, true, NULL);
		}
	}
	usdt_file_free(f);
	if (must_err || !n) {
		py_detach(pa);
		return must_err ? must_err : err ? err : -ENOENT;
	}
	return n;
}

static void *destroy_link(void *l)
{
	bpf_link__destroy(l);
	return NULL;
}

/* each uprobe removal waits for the kernel to synchronize: in parallel */
void py_detach(struct py_attach *pa)
{
	pthread_t th[16];
	bool started[16] = { 0 };

	for (int i = 0; i < pa->nr_links; i++)
		started[i] = !pthread_create(&th[i], NULL, destroy_link, pa->links[i]);
	for (int i = 0; i < pa->nr_links; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			bpf_link__destroy(pa->links[i]);
	}
	pa->nr_links = 0;
}

/* ------------------------------------------------------------- pyusdt */

static bool has_pyusdt_probes(const char *path)
{
	struct usdt_file *f;
	bool ok;

	if (usdt_file_load(path, &f))
		return false;
	ok = usdt_file_probe(f, "pyusdt", "PY_START") && usdt_file_probe(f, "pyusdt", "PY_RETURN");
	usdt_file_free(f);
	return ok;
}

int pyusdt_find(int pid, char *out, size_t len)
{
	char maps[64], line[PATH_MAX + 256], last[PATH_MAX] = "";
	FILE *fp;
	int err = -ENOENT;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	fp = fopen(maps, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char *path = strchr(line, '/');
		char perms[8] = "";

		if (!path || sscanf(line, "%*s %7s", perms) != 1 || perms[2] != 'x')
			continue;
		path[strcspn(path, "\n")] = 0;
		if (!strcmp(path, last) || strstr(path, " (deleted)"))
			continue;
		snprintf(last, sizeof(last), "%s", path);
		/* /proc/PID/root: the file as the process sees it (containers) */
		char p[PATH_MAX + 64];

		snprintf(p, sizeof(p), "/proc/%d/root%s", pid, path);
		if (has_pyusdt_probes(p)) {
			snprintf(out, len, "%s", p);
			err = 0;
			break;
		}
	}
	fclose(fp);
	return err;
}

static const struct {
	const char *probe;
	bool entry;
} pyusdt_probes[] = {
	{ "PY_START", true }, { "PY_RESUME", true }, { "PY_RETURN", false }, { "PY_YIELD", false },
};

int pyusdt_attach(struct pylow_bpf *skel, const char *path, struct py_attach *pa,
		  struct manifest *m)
{
	struct usdt_file *f = NULL;
	char name[PATH_MAX + 128], why[256];
	int n = 0, err = 0;

	memset(pa, 0, sizeof(*pa));
	snprintf(pa->path, sizeof(pa->path), "%s", path);
	snprintf(pa->version, sizeof(pa->version), "pyusdt");
	pa->pyusdt = true;
	if ((err = usdt_file_load(path, &f)))
		return err;
	for (size_t i = 0; i < sizeof(pyusdt_probes) / sizeof(pyusdt_probes[0]); i++) {
		struct bpf_program *prog = pyusdt_probes[i].entry ? skel->progs.pyusdt_entry
								    : skel->progs.pyusdt_return;
		struct bpf_link *l;

		snprintf(name, sizeof(name), "usdt:%s:pyusdt:%s", path, pyusdt_probes[i].probe);
		if (!usdt_file_probe(f, "pyusdt", pyusdt_probes[i].probe)) {
			manifest_add(m, "python", name, false, "probe not in this library");
			continue;
		}
		l = bpf_program__attach_usdt(prog, -1, path, "pyusdt", pyusdt_probes[i].probe, NULL);
		if (!l) {
			err = -errno;
			snprintf(why, sizeof(why), "attach failed: %s", strerror(-err));
			manifest_add(m, "python", name, false, why);
			continue;
		}
		pa->links[pa->nr_links++] = l;
		manifest_add(m, "python", name, true, NULL);
		n++;
	}
	usdt_file_free(f);
	if (!n)
		return err ? err : -ENOENT;
	return n;
}

int share_maps(struct bpf_object *obj, struct pylow_bpf *py)
{
	/* shared.bpf.h's (the first NR_REQUIRED), in every object;
	 * stage.bpf.h's, where included */
	static const char *const names[] = { "rb", "targets", "targets_gen", "counters",
					     "stage_map" };
	const size_t nr_required = 4;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);
		struct bpf_map *src = bpf_object__find_map_by_name(py->obj, names[i]);
		int err;

		if (!m && i >= nr_required)
			continue;
		if (!m || !src)
			return -ENOENT;
		if ((err = bpf_map__reuse_fd(m, bpf_map__fd(src))))
			return err;
	}
	return 0;
}
