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
#include <unistd.h>

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
	{ "faults", KGROUP_FAULTS, "user page faults of target threads (exceptions:page_fault_user)" },
	{ "io", KGROUP_IO, "block requests of target threads, issue to completion" },
	{ "mem", KGROUP_MEM, "libc malloc/calloc/realloc/free (uprobes; costly)" },
	{ "gil", KGROUP_GIL, "time threads wait to take the GIL (CPython take_gil)" },
	{ "exceptions", KGROUP_EXCEPTIONS, "Python exceptions raised: type, Python frame" },
	{ "irq", KGROUP_IRQ, "hard and soft irq time taken from target threads" },
	{ "tlb", KGROUP_TLB, "TLB flushes on target threads, by reason" },
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
		int e;

		/* generic probes: usdt:..., uprobe:..., uretprobe:..., tracepoint:... */
		if (probes_is_spec(tok)) {
			if ((e = probes_spec_add(tok, err, len))) {
				free(copy);
				return e;
			}
			*mask |= KGROUP_PROBES;
			continue;
		}
		for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (!strcmp(tok, groups[i].name))
				break;
		if (i == sizeof(groups) / sizeof(groups[0])) {
			snprintf(err, len, "unknown event group '%s'; groups: python, syscalls, sched, net, faults, io, "
				 "mem, gil, exceptions, irq, tlb; "
				 "probes: usdt:BIN:PROVIDER:NAME, uprobe:BIN:SYMBOL, uretprobe:BIN:SYMBOL, "
				 "tracepoint:SYSTEM:NAME", tok);
			free(copy);
			return -EINVAL;
		}
		if (!groups[i].bit) {
			snprintf(err, len, "event group '%s' is not supported yet",
				 tok);
			free(copy);
			return -EOPNOTSUPP;
		}
		if ((groups[i].bit & KGROUP_KG) && kg_check(groups[i].bit, err, len)) {
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
	struct kgroups *kg;		/* faults, io, irq, tlb (kgroups.c) */
	struct probes *probes;		/* record/probes.c */
	struct stacks *stacks;		/* record/stacks.c */
	int stacks_fd;			/* --stacks: the one stack map, or -1 */
	int targets_fd;
};

static bool want_stacks;

void kern_want_stacks(void)
{
	want_stacks = true;
}

int kern_stacks_fd(const struct kern *k)
{
	return k ? k->stacks_fd : -1;
}

void kern_writer_opts(struct plw_writer_opts *o)
{
	probes_writer_opts(o);
}

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
	k->stacks_fd = -1;
	k->targets_fd = bpf_map__fd(py->maps.targets);
	/* --stacks: one stack-trace map that every BPF object reuses (its ids
	 * are the stacks' names in the ring buffer's STACK records) */
	if (want_stacks) {
		k->stacks_fd = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "stacks", sizeof(__u32),
					      PLW_STACK_BYTES, PLW_STACKS_ENTRIES, NULL);
		if (k->stacks_fd < 0)
			return -errno;
	}
	if ((err = kg_load(&k->kg, py, mask, k->stacks_fd)))
		return err;
	if (!(mask & (KGROUP_SYSCALLS | KGROUP_SCHED)))
		return probes_load(&k->probes, py, k->stacks_fd);
	k->skel = kernel_bpf__open();
	if (!k->skel)
		return -errno;
	if ((err = share_maps(k->skel->obj, py)) ||
	    (err = PLW_STACKS_SHARE(k->skel, k->stacks_fd)))
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
	if ((err = kernel_bpf__load(k->skel)))
		return err;
	/* syscalls go into pylow.bpf.c's stages too (stage.bpf.h) */
	k->skel->bss->stage_on = py->bss->stage_on;
	return probes_load(&k->probes, py, k->stacks_fd);
}

bool kern_drains_stages(const struct kern *k)
{
	return k && k->skel && k->skel->bss->stage_on && k->links[2];
}

int kern_attach(struct kern *k, struct manifest *m, char *err, size_t len)
{
	struct { unsigned bit; const char *group, *name; struct bpf_program *p; } tab[4];
	int n = 0, e;

	if (!(k->mask & KGROUP_PYTHON))
		manifest_add(m, "python", "usdt", false, "group not selected (-e)");
	if ((e = kg_attach(k->kg, m, err, len)))
		return e;
	e = probes_attach(k->probes, k->targets_fd, m, err, len);
	if (e)
		return e;
	if (!k->skel) {
		if (!(k->mask & KGROUP_SYSCALLS))
			manifest_add(m, "syscalls", "tp_btf:sys_enter,sys_exit", false, "group not selected (-e)");
		if (!(k->mask & KGROUP_SCHED))
			manifest_add(m, "sched", "tp_btf:sched_switch,sched_wakeup", false, "group not selected (-e)");
		return 0;
	}
	tab[n++] = (typeof(tab[0])){ KGROUP_SYSCALLS, "syscalls", "tp_btf:sys_enter", k->skel->progs.on_sys_enter };
	tab[n++] = (typeof(tab[0])){ KGROUP_SYSCALLS, "syscalls", "tp_btf:sys_exit", k->skel->progs.on_sys_exit };
	tab[n++] = (typeof(tab[0])){ KGROUP_SCHED, "sched", "tp_btf:sched_switch", k->skel->progs.on_switch };	/* [2]: kern_drains_stages */
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
	if (!k)
		return;
	kg_set_running(k->kg, on);
	probes_set_running(k->probes, on);
	if (k->skel)
		k->skel->bss->running = on;
}

int kern_write_meta(struct kern *k, struct plw_writer *w, uint64_t ts)
{
	return k && k->probes ? probes_write_meta(w, ts) : 0;
}

int kern_setup_sink(struct kern *k, struct sink *s)
{
	int err;

	if (!k || k->stacks_fd < 0)
		return 0;
	if ((err = stacks_new(&k->stacks, k->stacks_fd)))
		return err;
	sink_set_stacks(s, k->stacks);
	return 0;
}

void kern_detach(struct kern *k)
{
	if (!k)
		return;
	kg_detach(k->kg);
	probes_detach(k->probes);
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
	kg_free(k->kg);
	probes_free(k->probes);
	stacks_free(k->stacks);
	kernel_bpf__destroy(k->skel);
	if (k->stacks_fd >= 0)
		close(k->stacks_fd);
	free(k);
}
