// SPDX-License-Identifier: MIT
/*
 * probes.c - generic probes of `pylow record -e` (bpf/probes.bpf.c):
 *
 *   usdt:BINARY:PROVIDER:NAME  uprobe:BINARY:SYMBOL  uretprobe:BINARY:SYMBOL
 *   tracepoint:SYSTEM:NAME
 *
 * BINARY is an absolute path or a short name ("libc", "python3.11")
 * resolved through the targets' /proc/PID/maps, then the ld cache, then
 * PATH.  Tracepoints are looked up in tracefs when the option is parsed
 * (the file's attrs are written before anything is attached); their format
 * is parsed with libtraceevent to know how many bytes of an entry to copy.
 * Returns 0 or -errno with a one-line message; never prints.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tracefs.h>
#include <event-parse.h>

#include "rec.h"
#include "bpf/pylow.skel.h"
#include "bpf/probes.h"
#include "bpf/probes.skel.h"

#define PROBES_MAX	64

enum pkind { P_USDT, P_UPROBE, P_URETPROBE, P_TP };
static const char *const kind_names[] = { "usdt", "uprobe", "uretprobe", "tracepoint" };

struct spec {
	enum pkind kind;
	char *arg;		/* as given after "KIND:" */
	char *bin;		/* usdt/uprobe: BINARY as given; tp: SYSTEM */
	char *a, *b;		/* usdt: PROVIDER, NAME; uprobe: SYMBOL; tp: NAME */
	char path[PATH_MAX];	/* resolved binary */
	int tp;			/* index into tps */
	struct bpf_link *link;
};

/* what -e asked for (the command line is parsed once per run) */
static struct spec specs[PROBES_MAX];
static int nr_specs;
static struct plw_tp_attr tps[PLW_TPS_MAX];
static struct tp_info { uint32_t size, nr_dl; uint16_t dl_off[PLW_TP_DL_MAX], dl_rel[PLW_TP_DL_MAX]; } tpi[PLW_TPS_MAX];
static int nr_tps;

struct probes {
	struct probes_bpf *skel;
};

bool probes_is_spec(const char *tok)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		size_t n = strlen(kind_names[i]);

		if (!strncmp(tok, kind_names[i], n) && tok[n] == ':')
			return true;
	}
	return false;
}

/* the tracepoint's format from tracefs, parsed by libtraceevent */
static int tp_lookup(struct spec *s, char *err, size_t len)
{
	struct tep_handle *tep = NULL;
	struct tep_event *ev = NULL;
	struct tep_format_field **fields = NULL;
	struct tp_info *ti = &tpi[nr_tps];
	char *fmt;
	int size = 0, ret = 0;

	if (nr_tps == PLW_TPS_MAX) {
		snprintf(err, len, "too many tracepoints (at most %d)", PLW_TPS_MAX);
		return -E2BIG;
	}
	fmt = tracefs_event_file_read(NULL, s->bin, s->a, "format", &size);
	if (!fmt || size <= 0) {
		int e = errno ? errno : ENOENT;

		free(fmt);
		if (access("/sys/kernel/tracing/events", F_OK) && access("/sys/kernel/debug/tracing/events", F_OK))
			snprintf(err, len, "tracepoint %s:%s: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)",
				 s->bin, s->a);
		else
			snprintf(err, len, "no tracepoint %s:%s on this kernel (list them with 'perf list tracepoint' or in /sys/kernel/tracing/available_events)",
				 s->bin, s->a);
		return e == EACCES || e == EPERM ? -e : -ENOENT;
	}
	tep = tep_alloc();
	if (!tep) {
		free(fmt);
		return -ENOMEM;
	}
	if (tep_parse_format(tep, &ev, fmt, size, s->bin) || !ev) {
		snprintf(err, len, "tracepoint %s:%s: libtraceevent cannot parse its format", s->bin, s->a);
		ret = -EINVAL;
		goto out;
	}
	fields = tep_event_fields(ev);
	memset(ti, 0, sizeof(*ti));
	ti->size = 8;
	for (int i = 0; fields && fields[i]; i++) {
		struct tep_format_field *f = fields[i];

		if ((uint32_t)(f->offset + f->size) > ti->size)
			ti->size = f->offset + f->size;
		if ((f->flags & TEP_FIELD_IS_DYNAMIC) && ti->nr_dl < PLW_TP_DL_MAX) {
			ti->dl_off[ti->nr_dl] = f->offset;
			ti->dl_rel[ti->nr_dl] = !!(f->flags & TEP_FIELD_IS_RELATIVE);
			ti->nr_dl++;
		}
	}
	if (ti->size > PLW_TP_RAW_MAX) {
		snprintf(err, len, "tracepoint %s:%s: its entries (%u bytes) are longer than the %d bytes pylow copies",
			 s->bin, s->a, ti->size, PLW_TP_RAW_MAX);
		ret = -E2BIG;
		goto out;
	}
	tps[nr_tps] = (struct plw_tp_attr){
		.system = s->bin, .name = s->a, .id = ev->id, .format = fmt,
	};
	fmt = NULL;
	s->tp = nr_tps++;
out:
	free(fields);
	free(fmt);
	tep_free(tep);
	return ret;
}

int probes_spec_add(const char *tok, char *err, size_t len)
{
	struct spec *s;
	char *p, *q;
	size_t i;

	if (nr_specs == PROBES_MAX) {
		snprintf(err, len, "too many probes (at most %d)", PROBES_MAX);
		return -E2BIG;
	}
	s = &specs[nr_specs];
	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strncmp(tok, kind_names[i], strlen(kind_names[i])) && tok[strlen(kind_names[i])] == ':')
			break;
	if (i == sizeof(kind_names) / sizeof(kind_names[0]))
		return -EINVAL;
	s->kind = i;
	s->arg = strdup(tok + strlen(kind_names[i]) + 1);
	if (!s->arg)
		return -ENOMEM;
	/* BINARY may be a path: the fields are taken from the right */
	p = strrchr(s->arg, ':');
	if (s->kind == P_USDT) {
		q = p ? p : NULL;
		if (q) {
			*q = 0;
			p = strrchr(s->arg, ':');
			*q = ':';
		}
		if (!p || !q || p == s->arg || q == p + 1 || !q[1]) {
			snprintf(err, len, "bad probe '%s': give usdt:BINARY:PROVIDER:NAME, e.g. usdt:/usr/bin/python3.11:python:gc__start",
				 tok);
			goto bad;
		}
		*p = 0;
		*q = 0;
		s->bin = s->arg;
		s->a = p + 1;
		s->b = q + 1;
	} else {
		if (!p || p == s->arg || !p[1]) {
			if (s->kind == P_TP)
				snprintf(err, len, "bad probe '%s': give tracepoint:SYSTEM:NAME, e.g. tracepoint:sched:sched_process_fork",
					 tok);
			else
				snprintf(err, len, "bad probe '%s': give %s:BINARY:SYMBOL, e.g. %s:libc:getppid",
					 tok, kind_names[s->kind], kind_names[s->kind]);
			goto bad;
		}
		*p = 0;
		s->bin = s->arg;
		s->a = p + 1;
	}
	if (s->kind == P_TP) {
		int err2 = tp_lookup(s, err, len);

		if (err2) {
			free(s->arg);
			return err2;
		}
	}
	nr_specs++;
	return 0;
bad:
	free(s->arg);
	return -EINVAL;
}

void probes_writer_opts(struct plw_writer_opts *o)
{
	o->tps = tps;
	o->nr_tps = nr_tps;
}

int probes_count(void)
{
	return nr_specs;
}

/* ------------------------------------------------------------ binaries */

/* NAME matches the file FILE (a basename): exactly, or NAME followed by
 * '.', '-' or a digit ("libc" -> libc.so.6, "libpython3.11" -> ...) */
static bool name_matches(const char *name, const char *file)
{
	size_t n = strlen(name);

	if (strncmp(file, name, n))
		return false;
	return !file[n] || file[n] == '.' || file[n] == '-';
}

static int from_maps(int pid, const char *name, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 256];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/'), *base;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = 0;
		if (strstr(file, " (deleted)"))
			continue;
		base = strrchr(file, '/') + 1;
		if (name_matches(name, base)) {
			/* through /proc/PID/root: the target may be in a container */
			snprintf(out, len, "/proc/%d/root%s", pid, file);
			if (access(out, R_OK))
				snprintf(out, len, "%s", file);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static int from_ldcache(const char *name, char *out, size_t len)
{
	char line[PATH_MAX + 256];
	FILE *f = popen("/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char lib[256], *arrow = strstr(line, "=> ");

		if (ret && arrow && sscanf(line, " %255s", lib) == 1 && name_matches(name, lib)
#if defined(__x86_64__)
		    && strstr(line, "x86-64")
#endif
		   ) {
			arrow += 3;
			arrow[strcspn(arrow, "\n")] = 0;
			snprintf(out, len, "%s", arrow);
			ret = 0;
		}
	}
	pclose(f);
	return ret;
}

static bool is_elf(const char *path)
{
	unsigned char m[4];
	FILE *f = fopen(path, "re");
	bool ok = f && fread(m, 1, 4, f) == 4 && !memcmp(m, "\x7f" "ELF", 4);

	if (f)
		fclose(f);
	return ok;
}

/* the first ELF file NAME in PATH (skips shims: pyenv's are shell scripts) */
static int from_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
	int ret = -ENOENT;

	if (!copy)
		return -ENOMEM;
	for (char *dir = strtok_r(copy, ":", &save); dir && ret; dir = strtok_r(NULL, ":", &save)) {
		char f[PATH_MAX];

		snprintf(f, sizeof(f), "%s/%s", dir, name);
		if (!access(f, X_OK) && is_elf(f) && realpath(f, out))
			ret = 0;
	}
	(void)len;
	free(copy);
	return ret;
}

static int first_target(int targets_fd)
{
	uint32_t key, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(targets_fd, prev, &next)) {
		if (target_alive(next))
			return next;
		key = next;
		prev = &key;
	}
	return 0;
}

static int resolve_bin(struct spec *s, int pid, char *err, size_t len)
{
	char tmp[PATH_MAX];

	if (strchr(s->bin, '/')) {
		if (!realpath(s->bin, s->path) || !is_elf(s->path)) {
			int e = s->path[0] && !access(s->path, R_OK) ? -ENOEXEC : -errno;

			snprintf(err, len, "%s:%s:...: cannot use %s: %s; give an existing ELF binary or library",
				 kind_names[s->kind], s->bin, s->bin, e == -ENOEXEC ? "not an ELF file" : strerror(-e));
			return e;
		}
		return 0;
	}
	if (pid > 0 && !from_maps(pid, s->bin, tmp, sizeof(tmp)) && realpath(tmp, s->path))
		return 0;
	if (!from_ldcache(s->bin, tmp, sizeof(tmp)) && realpath(tmp, s->path))
		return 0;
	if (!from_path(s->bin, s->path, sizeof(s->path)))
		return 0;
	snprintf(err, len, "%s:%s:...: no binary or library '%s' (not mapped by the target, not in the ld cache, not in PATH); give its absolute path",
		 kind_names[s->kind], s->bin, s->bin);
	return -ENOENT;
}

/* ------------------------------------------------------------ load/attach */

int probes_load(struct probes **out, struct pylow_bpf *py, int stacks_fd)
{
	struct probes *p;
	int err;

	*out = NULL;
	if (!nr_specs)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*out = p;
	p->skel = probes_bpf__open();
	if (!p->skel)
		return -errno;
	if ((err = share_maps(p->skel->obj, py)) ||
	    (err = PLW_STACKS_SHARE(p->skel, stacks_fd)))
		return err;
	for (int i = 0; i < nr_tps; i++) {
		volatile struct tp_cfg *c = &p->skel->rodata->tp_cfg[i];

		c->size = tpi[i].size;
		c->id = tps[i].id;
		c->nr_dl = tpi[i].nr_dl;
		for (int k = 0; k < PLW_TP_DL_MAX; k++) {
			c->dl_off[k] = tpi[i].dl_off[k];
			c->dl_rel[k] = tpi[i].dl_rel[k];
		}
	}
	return probes_bpf__load(p->skel);
}

/* restores "BIN:A:B" split in place by probes_spec_add */
static const char *spec_text(const struct spec *s, bool resolved, char *buf, size_t len)
{
	const char *bin = resolved && s->path[0] ? s->path : s->bin;

	if (s->kind == P_USDT)
		snprintf(buf, len, "usdt:%s:%s:%s", bin, s->a, s->b);
	else
		snprintf(buf, len, "%s:%s:%s", kind_names[s->kind], bin, s->a);
	return buf;
}

static int attach_one(struct probes *p, struct spec *s, int n, int pid, char *err, size_t len)
{
	struct probes_bpf *k = p->skel;
	int e;

	if (s->kind != P_TP && (e = resolve_bin(s, pid, err, len)))
		return e;
	switch (s->kind) {
	case P_USDT: {
		LIBBPF_OPTS(bpf_usdt_opts, o, .usdt_cookie = n);

		s->link = bpf_program__attach_usdt(k->progs.on_usdt, -1, s->path, s->a, s->b, &o);
		break;
	}
	case P_UPROBE:
	case P_URETPROBE: {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = s->a, .bpf_cookie = n,
			    .retprobe = s->kind == P_URETPROBE);

		s->link = bpf_program__attach_uprobe_opts(s->kind == P_URETPROBE ? k->progs.on_uretprobe
							  : k->progs.on_uprobe, -1, s->path, 0, &o);
		break;
	}
	case P_TP: {
		LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = s->tp);

		s->link = bpf_program__attach_tracepoint_opts(k->progs.on_tp, s->bin, s->a, &o);
		break;
	}
	}
	if (s->link)
		return 0;
	e = -errno;
	if (s->kind == P_USDT && e == -ENOENT)
		snprintf(err, len, "usdt:%s:%s:%s: no USDT probe %s:%s in %s (list them with 'readelf -n %s')",
			 s->bin, s->a, s->b, s->a, s->b, s->path, s->path);
	else if ((s->kind == P_UPROBE || s->kind == P_URETPROBE) && e == -ENOENT)
		snprintf(err, len, "%s:%s:%s: no function '%s' in %s (list its symbols with 'nm -D %s')",
			 kind_names[s->kind], s->bin, s->a, s->a, s->path, s->path);
	else {
		char spec[PATH_MAX + 300];

		snprintf(err, len, "cannot attach %s: %s", spec_text(s, true, spec, sizeof(spec)),
			 strerror(-e));
	}
	return e;
}

int probes_attach(struct probes *p, int targets_fd, struct manifest *m, char *err, size_t len)
{
	int pid = first_target(targets_fd);
	char name[PATH_MAX + 300];

	if (!p)
		return 0;
	for (int i = 0; i < nr_specs; i++) {
		int e = attach_one(p, &specs[i], i, pid, err, len);

		spec_text(&specs[i], true, name, sizeof(name));
		if (e) {
			manifest_add(m, "probe", name, false, err);
			return e;
		}
		manifest_add(m, "probe", name, true, NULL);
	}
	return 0;
}

int probes_write_meta(struct plw_writer *w, uint64_t ts)
{
	char key[32], val[PATH_MAX + 300];
	int err;

	for (int i = 0; i < nr_specs; i++) {
		snprintf(key, sizeof(key), "probe.%d", i);
		if ((err = plw_writer_meta(w, ts, key, spec_text(&specs[i], true, val, sizeof(val)))))
			return err;
	}
	for (int i = 0; i < nr_tps; i++) {
		snprintf(key, sizeof(key), "tracepoint.%u", tps[i].id);
		snprintf(val, sizeof(val), "%s:%s", tps[i].system, tps[i].name);
		if ((err = plw_writer_meta(w, ts, key, val)))
			return err;
	}
	return 0;
}

void probes_set_running(struct probes *p, int on)
{
	if (p && p->skel)
		p->skel->bss->running = on;
}

void probes_detach(struct probes *p)
{
	if (!p)
		return;
	for (int i = 0; i < nr_specs; i++) {
		bpf_link__destroy(specs[i].link);
		specs[i].link = NULL;
	}
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	probes_detach(p);
	probes_bpf__destroy(p->skel);
	free(p);
}
