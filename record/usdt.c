/* SPDX-License-Identifier: MIT */
/* usdt.c - SystemTap SDT notes (.note.stapsdt), dynamic section, version. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

#define NT_STAPSDT 3

static int parse_notes(Elf *e, struct usdt_file *f)
{
	Elf_Scn *scn = NULL, *probes = NULL;
	GElf_Shdr sh, probes_sh = { 0 };
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx))
		return -ENOEXEC;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".probes")) {
			probes = scn;
			probes_sh = sh;
		}
	}
	scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;
		Elf_Data *d;
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".note.stapsdt"))
			continue;
		f->has_note = true;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			const char *desc = (const char *)d->d_buf + doff;
			const char *prov, *pname;
			struct usdt_probe *p;
			uint64_t a[3];

			if (nh.n_type != NT_STAPSDT || nh.n_descsz < 24 + 2)
				continue;
			memcpy(a, desc, sizeof(a));
			prov = desc + 24;
			pname = prov + strnlen(prov, nh.n_descsz - 24) + 1;
			if (pname >= desc + nh.n_descsz)
				continue;
			p = realloc(f->probes, (f->nr + 1) * sizeof(*p));
			if (!p)
				return -ENOMEM;
			f->probes = p;
			p = &f->probes[f->nr++];
			memset(p, 0, sizeof(*p));
			snprintf(p->provider, sizeof(p->provider), "%s", prov);
			snprintf(p->name, sizeof(p->name), "%.*s", (int)(desc + nh.n_descsz - pname), pname);
			p->pc = a[0];
			p->sema_addr = a[2];
			if (a[2] && probes && a[2] >= probes_sh.sh_addr &&
			    a[2] < probes_sh.sh_addr + probes_sh.sh_size)
				p->sema_off = a[2] - probes_sh.sh_addr + probes_sh.sh_offset;
		}
	}
	return 0;
}

static int parse_dynamic(Elf *e, struct usdt_file *f)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		for (size_t i = 0; i < sh.sh_size / (sh.sh_entsize ? sh.sh_entsize : 16); i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(d, i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
				continue;
			s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag == DT_NEEDED && !strncmp(s, "libpython", 9))
				snprintf(f->needed_libpython, sizeof(f->needed_libpython), "%s", s);
			else if (dyn.d_tag != DT_NEEDED && !f->runpath[0])
				snprintf(f->runpath, sizeof(f->runpath), "%s", s);
		}
	}
	return 0;
}

int usdt_file_load(const char *path, struct usdt_file **out)
{
	struct usdt_file *f;
	GElf_Ehdr eh;
	Elf *e = NULL;
	int fd, err;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
		err = -ENOEXEC;
		goto out;
	}
	f->shared = eh.e_type == ET_DYN;
	if ((err = parse_notes(e, f)) || (err = parse_dynamic(e, f)))
		goto out;
	*out = f;
	f = NULL;
out:
	if (e)
		elf_end(e);
	close(fd);
	usdt_file_free(f);
	return err;
}

void usdt_file_free(struct usdt_file *f)
{
	if (!f)
		return;
	free(f->probes);
	free(f);
}

const struct usdt_probe *usdt_file_probe(const struct usdt_file *f,
					 const char *provider, const char *name)
{
	for (size_t i = 0; f && i < f->nr; i++)
		if (!strcmp(f->probes[i].provider, provider) && !strcmp(f->probes[i].name, name))
			return &f->probes[i];
	return NULL;
}

static int try_dir(const char *dir, size_t dlen, const char *origin,
		   const char *name, char *out, size_t len)
{
	char buf[PATH_MAX];

	if (dlen >= 7 && !strncmp(dir, "$ORIGIN", 7))
		snprintf(buf, sizeof(buf), "%s%.*s/%s", origin, (int)(dlen - 7), dir + 7, name);
	else
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)dlen, dir, name);
	if (access(buf, R_OK))
		return -ENOENT;
	if (!realpath(buf, out))
		return -errno;
	(void)len;
	return 0;
}

int usdt_find_needed(const struct usdt_file *f, char *out, size_t len)
{
	static const char *const sys[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/usr/local/lib", "/usr/lib", "/lib", "/lib64",
		"/usr/lib64",
	};
	char origin[PATH_MAX], *slash;
	const char *p;

	if (len < PATH_MAX)
		return -EINVAL;
	out[0] = 0;
	if (!f->needed_libpython[0])
		return -ENOENT;
	snprintf(origin, sizeof(origin), "%s", f->path);
	slash = strrchr(origin, '/');
	if (slash)
		*slash = 0;
	for (p = f->runpath; *p;) {
		size_t n = strcspn(p, ":");

		if (n && !try_dir(p, n, origin, f->needed_libpython, out, len))
			return 0;
		p += n + (p[n] == ':');
	}
	for (const char *env = getenv("LD_LIBRARY_PATH"); env && *env;) {
		size_t n = strcspn(env, ":");

		if (n && !try_dir(env, n, origin, f->needed_libpython, out, len))
			return 0;
		env += n + (env[n] == ':');
	}
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (!try_dir(sys[i], strlen(sys[i]), origin, f->needed_libpython, out, len))
			return 0;
	return -ENOENT;
}

/* "3.11" from ".../python3.11" or ".../libpython3.11.so.1.0" */
static int version_from_name(const char *path, char *out, size_t len)
{
	const char *b = strrchr(path, '/');
	int maj, min;

	b = b ? b + 1 : path;
	if (!strncmp(b, "lib", 3))
		b += 3;
	if (sscanf(b, "python%d.%d", &maj, &min) != 2)
		return -ENOENT;
	snprintf(out, len, "%d.%d", maj, min);
	return 0;
}

int usdt_python_version(const char *path, char *out, size_t len)
{
	char mm[16], pat[20];
	struct stat st;
	const char *m, *p, *end;
	int fd, err = 0;
	void *map;

	out[0] = 0;
	if (version_from_name(path, mm, sizeof(mm)))
		return -ENOENT;
	snprintf(out, len, "%s", mm);
	/* PY_VERSION ("3.11.2") is a NUL-terminated string of its own */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || st.st_size < 16) {
		close(fd);
		return 0;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 0;
	snprintf(pat, sizeof(pat), "%c%s.", 0, mm);
	m = map;
	end = m + st.st_size;
	for (p = m; p < end;) {
		const char *q = memmem(p, end - p, pat, strlen(mm) + 2);
		const char *d;

		if (!q)
			break;
		d = q + strlen(mm) + 2;
		while (d < end && *d >= '0' && *d <= '9')
			d++;
		if (d < end && d > q + strlen(mm) + 2 && !*d && d - q - 1 < 24) {
			snprintf(out, len, "%.*s", (int)(d - q - 1), q + 1);
			break;
		}
		p = q + 1;
	}
	munmap(map, st.st_size);
	return err;
}
