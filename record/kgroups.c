// SPDX-License-Identifier: MIT
/*
 * kgroups.c - the event groups faults, io, irq and tlb (bpf/kgroups.bpf.c):
 * which tracepoints each needs, whether this kernel has them, loading the
 * object on pylow.bpf.c's ring buffer, targets map and counters, attaching
 * the groups asked for and the probe manifest lines.  kernel.c calls it.
 * Returns 0 or -errno and never prints (record.c talks to the user).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "rec.h"
#include "bpf/pylow.skel.h"
#include "bpf/kgroups.skel.h"

/* one tracepoint of a group; OPTIONAL ones may be missing (a fallback is
 * used and the manifest says so) */
struct kg_tp {
	unsigned bit;
	const char *group;
	const char *tp;			/* BTF tracepoint name (btf_trace_TP) */
	const char *sys;		/* tracefs system, for messages */
	bool optional;
	const char *fallback;		/* why it does not matter when missing */
};

static const struct kg_tp tps[] = {
	{ KGROUP_FAULTS, "faults", "page_fault_user", "exceptions", false, NULL },
	{ KGROUP_IO, "io", "block_io_start", "block", true,
	  "not on this kernel (before 6.5): requests are owned by the thread issuing them (block_rq_issue)" },
	{ KGROUP_IO, "io", "block_rq_issue", "block", false, NULL },
	{ KGROUP_IO, "io", "block_rq_complete", "block", false, NULL },
	{ KGROUP_IRQ, "irq", "irq_handler_entry", "irq", false, NULL },
	{ KGROUP_IRQ, "irq", "irq_handler_exit", "irq", false, NULL },
	{ KGROUP_IRQ, "irq", "softirq_entry", "irq", false, NULL },
	{ KGROUP_IRQ, "irq", "softirq_exit", "irq", false, NULL },
	{ KGROUP_TLB, "tlb", "sched_switch", "sched", false, NULL },
	{ KGROUP_TLB, "tlb", "tlb_flush", "tlb", false, NULL },
};
#define NR_TPS	(sizeof(tps) / sizeof(tps[0]))

struct kgroups {
	struct kgroups_bpf *skel;
	unsigned mask;
	bool missing[NR_TPS];		/* not on this kernel */
	struct bpf_link *links[NR_TPS];
};

/* testing hook: PYLOW_TEST_HIDE_TP=NAME[,NAME] pretends those tracepoints
 * do not exist (the integration tests check the error and manifest paths) */
static bool hidden(const char *tp)
{
	const char *h = getenv("PYLOW_TEST_HIDE_TP");
	size_t n = strlen(tp);

	for (const char *p = h; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && !memcmp(p, tp, n))
			return true;
		p = c ? c + 1 : p + l;
	}
	return false;
}

/* marks in MISSING the tracepoints this kernel lacks */
static int find_missing(bool *missing)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char name[128];

	if (!btf)
		return errno ? -errno : -ENOENT;
	for (size_t i = 0; i < NR_TPS; i++) {
		snprintf(name, sizeof(name), "btf_trace_%s", tps[i].tp);
		missing[i] = hidden(tps[i].tp) ||
			     btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) < 0;
	}
	btf__free(btf);
	return 0;
}

int kg_check(unsigned mask, char *why, size_t len)
{
	bool missing[NR_TPS];
	int err = find_missing(missing);

	if (err) {
		snprintf(why, len, "cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s",
			 strerror(-err));
		return err;
	}
	for (size_t i = 0; i < NR_TPS; i++) {
		if (!(mask & tps[i].bit) || !missing[i] || tps[i].optional)
			continue;
		snprintf(why, len, "event group '%s' cannot be recorded on this kernel: it has no "
			 "tracepoint %s:%s%s; leave the group out of -e", tps[i].group, tps[i].sys,
			 tps[i].tp, tps[i].bit == KGROUP_FAULTS ? " (x86 only)" : "");
		return -EOPNOTSUPP;
	}
	return 0;
}

static struct bpf_program *prog_of(struct kgroups_bpf *s, size_t i)
{
	struct bpf_program *p[NR_TPS] = {
		s->progs.on_fault, s->progs.on_io_start, s->progs.on_rq_issue,
		s->progs.on_rq_complete, s->progs.on_hardirq_entry, s->progs.on_hardirq_exit,
		s->progs.on_softirq_entry, s->progs.on_softirq_exit, s->progs.on_tlb_switch,
		s->progs.on_tlb_flush,
	};

	return p[i];
}

int kg_load(struct kgroups **out, struct pylow_bpf *py, unsigned mask, int stacks_fd)
{
	struct kgroups *k = calloc(1, sizeof(*k));
	int err;

	*out = k;
	if (!k)
		return -ENOMEM;
	k->mask = mask & KGROUP_KG;
	if (!k->mask)
		return 0;
	if ((err = find_missing(k->missing)))
		return err;
	k->skel = kgroups_bpf__open();
	if (!k->skel)
		return -errno;
	if ((err = share_maps(k->skel->obj, py)) ||
	    (err = PLW_STACKS_SHARE(k->skel, stacks_fd)))
		return err;
	for (size_t i = 0; i < NR_TPS; i++) {
		bool on = (k->mask & tps[i].bit) && !k->missing[i];

		if ((k->mask & tps[i].bit) && k->missing[i] && !tps[i].optional)
			return -EOPNOTSUPP;	/* kg_check said so at -e */
		bpf_program__set_autoload(prog_of(k->skel, i), on);
	}
	k->skel->rodata->own_at_issue = k->missing[1];	/* no block_io_start */
	return kgroups_bpf__load(k->skel);
}

int kg_attach(struct kgroups *k, struct manifest *m, char *err, size_t len)
{
	if (!k)
		return 0;
	for (size_t i = 0; i < NR_TPS; i++) {
		char name[96];

		snprintf(name, sizeof(name), "tp_btf:%s", tps[i].tp);
		if (!(k->mask & tps[i].bit)) {
			manifest_add(m, tps[i].group, name, false, "group not selected (-e)");
			continue;
		}
		if (k->missing[i]) {
			manifest_add(m, tps[i].group, name, false,
				     tps[i].fallback ? tps[i].fallback : "not on this kernel");
			continue;
		}
		k->links[i] = bpf_program__attach(prog_of(k->skel, i));
		if (!k->links[i]) {
			int e = -errno;

			manifest_add(m, tps[i].group, name, false, strerror(-e));
			snprintf(err, len, "cannot attach %s (group %s): %s", name, tps[i].group,
				 strerror(-e));
			return e;
		}
		manifest_add(m, tps[i].group, name, true, NULL);
	}
	return 0;
}

void kg_set_running(struct kgroups *k, int on)
{
	if (k && k->skel)
		k->skel->bss->running = on;
}

void kg_detach(struct kgroups *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < NR_TPS; i++) {
		bpf_link__destroy(k->links[i]);
		k->links[i] = NULL;
	}
}

void kg_free(struct kgroups *k)
{
	if (!k)
		return;
	kg_detach(k);
	kgroups_bpf__destroy(k->skel);
	free(k);
}

int kg_write_irq_names(struct plw_writer *w, uint64_t ts)
{
	DIR *d = opendir("/sys/kernel/irq");
	struct dirent *e;
	int err = 0;

	if (!d)
		return 0;	/* no names: reports show the numbers */
	while (!err && (e = readdir(d))) {
		char path[300], key[32], names[256];
		FILE *f;
		size_t n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/irq/%s/actions", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		n = fread(names, 1, sizeof(names) - 1, f);
		fclose(f);
		while (n && (names[n - 1] == '\n' || names[n - 1] == ' '))
			n--;
		names[n] = 0;
		if (!n)
			continue;
		snprintf(key, sizeof(key), "irq.%.20s", e->d_name);
		err = plw_writer_meta(w, ts, key, names);
	}
	closedir(d);
	return err;
}
