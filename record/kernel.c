// SPDX-License-Identifier: MIT
/*
 * kernel.c - event groups of `pylow record -e` and the kernel layer's BPF
 * object (bpf/kernel.bpf.c): load it on pylow.bpf.c's ring buffer, targets
 * map and counters, attach the groups asked for, write the probe manifest.
 * Returns 0 or -errno and never prints (record.c talks to the user).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rec.h"
#include "bpf/pylow.skel.h"
#include "bpf/kernel.skel.h"
#include "syscall_names.h"

static const struct {
	const char *name;
	unsigned bit;			/* 0: not supported yet */
	const char *what;
} groups[] = {
	{ "python", KGROUP_PYTHON, "Python calls and returns (CPython USDT)" },
	{ "syscalls", KGROUP_SYSCALLS, "system calls of target threads, with duration, fd, bytes" },
	{ "sched", KGROUP_SCHED, "off-CPU intervals (blocked, preempted) and runqueue waits" },
	{ "net", KGROUP_NET, "sockets: connect, accept, listen, close; protocol labels" },
	{ "faults", 0, NULL }, { "io", 0, NULL }, { "mem", 0, NULL },
	{ "gil", 0, NULL }, { "exceptions", 0, NULL }, { "irq", 0, NULL },
	{ "tlb", 0, NULL }, { "probe", 0, NULL },
};

const char *kern_syscall_names(void)
{
	return plw_syscall_names;
}

int kern_parse_groups(const char *arg, unsigned *mask, char *err, size_t len)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (!strcmp(tok, groups[i].name))
				break;
		if (i == sizeof(groups) / sizeof(groups[0])) {
			snprintf(err, len, "unknown event group '%s'; groups: python, syscalls, sched, net", tok);
			free(copy);
			return -EINVAL;
		}
		if (!groups[i].bit) {
			snprintf(err, len, "event group '%s' is not supported yet; supported: python, syscalls, sched, net",
				 tok);
			free(copy);
			return -EOPNOTSUPP;
		}
		*mask |= groups[i].bit;
	}
	free(copy);
	if (!*mask) {
		snprintf(err, len, "empty -e: give groups, e.g. -e python,syscalls");
		return -EINVAL;
	}
	return 0;
}

struct kern {
	struct kernel_bpf *skel;
	unsigned mask;
	struct bpf_link *links[4];
};

/* syscalls whose first argument is a file descriptor */
static const char *const fd_calls[] = {
	"read", "write", "close", "fstat", "lseek", "ioctl", "pread64", "pwrite64",
	"readv", "writev", "connect", "accept", "accept4", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "bind", "listen",
	"getsockname", "getpeername", "setsockopt", "getsockopt", "fcntl", "flock",
	"fsync", "fdatasync", "ftruncate", "getdents64", "fchdir", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "epoll_ctl", "preadv", "pwritev", "preadv2",
	"pwritev2", "fadvise64", "sync_file_range", "fallocate", "splice", "tee",
	"copy_file_range", "sendfile",
};

static int syscall_nr(const char *name)
{
	const char *p = plw_syscall_names;
	size_t n = strlen(name);

	for (int nr = 0; *p; nr++) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && !memcmp(p, name, n))
			return nr;
		if (!c)
			break;
		p = c + 1;
	}
	return -1;
}

int kern_load(struct kern **out, struct pylow_bpf *py, unsigned mask)
{
	struct kern *k = calloc(1, sizeof(*k));
	int err;

	*out = k;
	if (!k)
		return -ENOMEM;
	k->mask = mask;
	if (!(mask & (KGROUP_SYSCALLS | KGROUP_SCHED)))
		return 0;
	k->skel = kernel_bpf__open();
	if (!k->skel)
		return -errno;
	if ((err = bpf_map__reuse_fd(k->skel->maps.rb, bpf_map__fd(py->maps.rb))) ||
	    (err = bpf_map__reuse_fd(k->skel->maps.targets, bpf_map__fd(py->maps.targets))) ||
	    (err = bpf_map__reuse_fd(k->skel->maps.counters, bpf_map__fd(py->maps.counters))))
		return err;
	for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]); i++) {
		int nr = syscall_nr(fd_calls[i]);

		if (nr >= 0 && nr < (int)sizeof(k->skel->rodata->fd_arg))
			((volatile __u8 *)k->skel->rodata->fd_arg)[nr] = 1;
	}
	bpf_program__set_autoload(k->skel->progs.on_sys_enter, !!(mask & KGROUP_SYSCALLS));
	bpf_program__set_autoload(k->skel->progs.on_sys_exit, !!(mask & KGROUP_SYSCALLS));
	bpf_program__set_autoload(k->skel->progs.on_switch, !!(mask & KGROUP_SCHED));
	bpf_program__set_autoload(k->skel->progs.on_wakeup, !!(mask & KGROUP_SCHED));
	return kernel_bpf__load(k->skel);
}

int kern_attach(struct kern *k, struct manifest *m, char *err, size_t len)
{
	struct { unsigned bit; const char *group, *name; struct bpf_program *p; } tab[4];
	int n = 0;

	if (!(k->mask & KGROUP_PYTHON))
		manifest_add(m, "python", "usdt", false, "group not selected (-e)");
	if (!k->skel) {
		if (!(k->mask & KGROUP_SYSCALLS))
			manifest_add(m, "syscalls", "tp_btf:sys_enter,sys_exit", false, "group not selected (-e)");
		if (!(k->mask & KGROUP_SCHED))
			manifest_add(m, "sched", "tp_btf:sched_switch,sched_wakeup", false, "group not selected (-e)");
		return 0;
	}
	tab[n++] = (typeof(tab[0])){ KGROUP_SYSCALLS, "syscalls", "tp_btf:sys_enter", k->skel->progs.on_sys_enter };
	tab[n++] = (typeof(tab[0])){ KGROUP_SYSCALLS, "syscalls", "tp_btf:sys_exit", k->skel->progs.on_sys_exit };
	tab[n++] = (typeof(tab[0])){ KGROUP_SCHED, "sched", "tp_btf:sched_switch", k->skel->progs.on_switch };
	tab[n++] = (typeof(tab[0])){ KGROUP_SCHED, "sched", "tp_btf:sched_wakeup", k->skel->progs.on_wakeup };
	for (int i = 0; i < n; i++) {
		if (!(k->mask & tab[i].bit)) {
			manifest_add(m, tab[i].group, tab[i].name, false, "group not selected (-e)");
			continue;
		}
		k->links[i] = bpf_program__attach(tab[i].p);
		if (!k->links[i]) {
			int e = -errno;

			manifest_add(m, tab[i].group, tab[i].name, false, strerror(-e));
			snprintf(err, len, "cannot attach %s (group %s): %s", tab[i].name,
				 tab[i].group, strerror(-e));
			return e;
		}
		manifest_add(m, tab[i].group, tab[i].name, true, NULL);
	}
	return 0;
}

void kern_set_running(struct kern *k, int on)
{
	if (k && k->skel)
		k->skel->bss->running = on;
}

void kern_detach(struct kern *k)
{
	if (!k)
		return;
	for (int i = 0; i < 4; i++) {
		bpf_link__destroy(k->links[i]);
		k->links[i] = NULL;
	}
}

void kern_free(struct kern *k)
{
	if (!k)
		return;
	kern_detach(k);
	kernel_bpf__destroy(k->skel);
	free(k);
}
