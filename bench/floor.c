// SPDX-License-Identifier: MIT
/*
 * floor - the bench's cheapest possible observer of CPython's USDT calls.
 *
 *   floor [-x PYTHON] [-a] -- CMD [ARGS]   launch CMD (like `pylow record -- CMD`)
 *   floor [-x PYTHON] [-a] -p PID [-g GATE] observe PID; touch GATE once attached
 *   floor [-x PYTHON] -H [-r READY] [-- CMD] only hold the `line` semaphore
 *                                          (for perf / bpftrace runs); until CMD
 *                                          exits, or SIGINT/SIGTERM without CMD
 *
 * Attaches python:function__entry and function__return with pid -1 and
 * filters by tgid in a BPF hash map (as pylow does), holds the `line`
 * semaphore with a uprobe on Py_FatalError's entry carrying the semaphore's
 * ref_ctr_offset (CPython 3.11 fires function__entry for Python-to-Python
 * calls only then), counts per CPU, prints
 *   FLOOR entry=N return=N other=N
 * on stderr at the end.  -a counts every process instead of filtering.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floor.skel.h"

static volatile sig_atomic_t stop;
static void on_sig(int sig) { stop = 1; }

static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG || (lvl == LIBBPF_INFO && !getenv("FLOOR_VERBOSE")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* file offset of provider:name's semaphore in an ELF file, or -1 */
static long sema_offset(const char *path, const char *provider, const char *name)
{
	long off = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	if (!e || elf_getshdrstrndx(e, &shstrndx))
		goto out;
	unsigned long long sem = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while (!sem && (scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		const char *sname = elf_strptr(e, shstrndx, sh.sh_name);
		if (!sname || strcmp(sname, ".note.stapsdt"))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t pos = 0, noff, doff;
		GElf_Nhdr nh;
		while (d && (pos = gelf_getnote(d, pos, &nh, &noff, &doff)) > 0) {
			if (nh.n_type != 3 || nh.n_descsz < 3 * 8 + 4)
				continue;
			const char *desc = (const char *)d->d_buf + doff;
			const char *prov = desc + 24;
			const char *pname = prov + strnlen(prov, nh.n_descsz - 24) + 1;
			if (!strcmp(prov, provider) && !strcmp(pname, name)) {
				memcpy(&sem, desc + 16, 8);
				break;
			}
		}
	}
	if (!sem)
		goto out;
	scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS && sh.sh_addr <= sem &&
		    sem < sh.sh_addr + sh.sh_size) {
			off = (long)(sem - sh.sh_addr + sh.sh_offset);
			break;
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return off;
}

static void usage(void)
{
	fprintf(stderr, "usage: floor [-x PYTHON] [-a] -- CMD [ARGS]\n"
			"       floor [-x PYTHON] [-a] -p PID [-g GATE]\n"
			"       floor [-x PYTHON] -H [-r READY] [-- CMD [ARGS]]\n");
	exit(2);
}

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const char *py = "/usr/bin/python3.11", *gate = NULL, *ready = NULL;
	int all = 0, hold_only = 0, opt;
	pid_t pid = 0;

	while ((opt = getopt(argc, argv, "+x:ap:g:Hr:h")) != -1) {
		switch (opt) {
		case 'x': py = optarg; break;
		case 'a': all = 1; break;
		case 'p': pid = atoi(optarg); break;
		case 'g': gate = optarg; break;
		case 'H': hold_only = 1; break;
		case 'r': ready = optarg; break;
		default: usage();
		}
	}
	char **cmd = argv + optind;
	if (!hold_only && !pid && !*cmd)
		usage();
	libbpf_set_print(libbpf_quiet);

	long line_sem = sema_offset(py, "python", "line");
	if (line_sem < 0) {
		fprintf(stderr, "floor: %s has no python:line probe with a semaphore "
				"(not a --with-dtrace CPython 3.11?)\n", py);
		return 1;
	}

	/* launch mode: the child waits on a pipe until the probes are attached */
	int go[2] = { -1, -1 };
	if (!pid && *cmd) {
		if (pipe2(go, O_CLOEXEC))
			return perror("pipe"), 1;
		pid = fork();
		if (pid < 0)
			return perror("fork"), 1;
		if (pid == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(127);
			execvp(cmd[0], cmd);
			fprintf(stderr, "floor: exec %s: %s\n", cmd[0], strerror(errno));
			_exit(127);
		}
		close(go[0]);
	}

	struct floor_bpf *skel = floor_bpf__open();
	if (!skel)
		return fprintf(stderr, "floor: open: %s\n", strerror(errno)), 1;
	skel->rodata->all_pids = all;
	if (floor_bpf__load(skel))
		return fprintf(stderr, "floor: load: %s\n", strerror(errno)), 1;
	if (pid && !hold_only) {
		__u32 k = pid;
		__u8 v = 1;
		bpf_map_update_elem(bpf_map__fd(skel->maps.pids), &k, &v, BPF_ANY);
	}

	LIBBPF_OPTS(bpf_uprobe_opts, hopts, .func_name = "Py_FatalError",
		    .ref_ctr_offset = (size_t)line_sem);
	struct bpf_link *hold = bpf_program__attach_uprobe_opts(skel->progs.floor_hold, -1, py, 0,
								 &hopts);
	if (!hold)
		return fprintf(stderr, "floor: hold line semaphore: %s\n", strerror(errno)), 1;
	struct bpf_link *le = NULL, *lr = NULL;
	if (!hold_only) {
		le = bpf_program__attach_usdt(skel->progs.floor_entry, -1, py, "python",
					      "function__entry", NULL);
		lr = bpf_program__attach_usdt(skel->progs.floor_return, -1, py, "python",
					      "function__return", NULL);
		if (!le || !lr)
			return fprintf(stderr, "floor: attach usdt: %s\n", strerror(errno)), 1;
	}

	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	if (ready)
		touch(ready);
	int status = 0;
	if (go[1] >= 0) {
		if (write(go[1], "g", 1) != 1)
			return perror("release"), 1;
		close(go[1]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else if (hold_only && *cmd) {
		pid_t c = fork();
		if (c == 0) {
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			execvp(cmd[0], cmd);
			_exit(127);
		}
		while (waitpid(c, &status, 0) < 0 && errno == EINTR)
			;
	} else if (pid) {
		if (gate)
			touch(gate);
		while (!stop && kill(pid, 0) == 0)
			usleep(10000);
	} else {
		while (!stop)
			pause();
	}

	__u64 tot[3] = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu, sizeof(*vals));
	for (__u32 i = 0; i < 3 && vals; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts), &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			tot[i] += vals[c];
	}
	if (!hold_only)
		fprintf(stderr, "FLOOR entry=%llu return=%llu other=%llu\n",
			(unsigned long long)tot[0], (unsigned long long)tot[1],
			(unsigned long long)tot[2]);
	bpf_link__destroy(le);
	bpf_link__destroy(lr);
	bpf_link__destroy(hold);
	floor_bpf__destroy(skel);
	free(vals);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 0;
}
