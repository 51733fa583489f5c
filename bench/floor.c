// SPDX-License-Identifier: MIT
/*
 * floor - the bench's cheapest possible observer of the probes that
 * `pylow record --python=usdt -- CMD` attaches at its default settings.
 *
 *   floor [-x PYTHON] [-a] [-P] -- CMD [ARGS]   launch CMD (like `pylow record -- CMD`)
 *   floor [-x PYTHON] [-a] [-P] -p PID [-g GATE] observe PID; touch GATE once attached
 *   floor [-x PYTHON] -H [-r READY] [-- CMD]    only hold the `line` semaphore
 *                                               (for perf / bpftrace runs); until CMD
 *                                               exits, or SIGINT/SIGTERM without CMD
 *
 * Attaches, like pylow's default groups (python, syscalls, sched, net):
 *   python   usdt python:function__entry, function__return, gc__start,
 *            gc__done, import__find__load__start, import__find__load__done
 *            of PYTHON, pid -1; the `line` semaphore held by a uprobe on
 *            Py_FatalError's entry carrying the semaphore's ref_ctr_offset
 *            (CPython 3.11 fires function__entry for Python-to-Python calls
 *            only then); tp_btf sched_process_fork, sched_process_exec,
 *            sched_process_exit, task_rename (targets' children followed)
 *   syscalls tp_btf sys_enter, sys_exit
 *   sched    tp_btf sched_switch, sched_wakeup
 *   net      tp_btf sys_enter, sys_exit (a second program each, as pylow's
 *            net group has), inet_sock_set_state, sock_send_length,
 *            sock_recv_length; uprobe + uretprobe on SSL_write, SSL_read,
 *            SSL_write_ex, SSL_read_ex of each libssl pylow would probe
 * Every program filters by tgid in a BPF hash map (as pylow does) and counts
 * per CPU.  -P (--python-only): only function__entry, function__return and
 * the semaphore holder (the floor before the kernel groups were pylow's
 * defaults).  -a counts every process instead of filtering.  Prints
 *   FLOOR entry=N return=N other=N [KEY=N ...] links=N
 * on stderr at the end (FLOOR_VERBOSE=1: each attachment as it is made).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <limits.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floor.h"
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
	fprintf(stderr, "usage: floor [-x PYTHON] [-a] [-P|--python-only] -- CMD [ARGS]\n"
			"       floor [-x PYTHON] [-a] [-P|--python-only] -p PID [-g GATE]\n"
			"       floor [-x PYTHON] -H [-r READY] [-- CMD [ARGS]]\n");
	exit(2);
}

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------ links */

#define MAX_LINKS	96
#define MAX_SSL_LIBS	8

static struct bpf_link *links[MAX_LINKS];
static int nr_links;

static int keep(struct bpf_link *l, const char *what)
{
	if (!l)
		return -errno;
	if (nr_links < MAX_LINKS)
		links[nr_links++] = l;
	if (getenv("FLOOR_VERBOSE"))
		fprintf(stderr, "floor: attached %s\n", what);
	return 0;
}

/* libssl of the targets (their maps) and the system's, by real path: the
 * ones record/net.c's find_ssl_libs() probes */
static char ssl_libs[MAX_SSL_LIBS][PATH_MAX];
static int nr_ssl_libs;

static void add_ssl_lib(const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return;
	for (int i = 0; i < nr_ssl_libs; i++)
		if (!strcmp(ssl_libs[i], real))
			return;
	if (nr_ssl_libs < MAX_SSL_LIBS)
		snprintf(ssl_libs[nr_ssl_libs++], PATH_MAX, "%s", real);
}

static void find_ssl_libs(pid_t pid)
{
	static const char *const sys[] = {
		"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3",
		"/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libssl.so.1.1", "/usr/lib64/libssl.so.1.1",
	};
	char maps[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	if (pid > 0 && (f = fopen(maps, "r"))) {
		while (fgets(line, sizeof(line), f)) {
			char *p = strchr(line, '/'), root[PATH_MAX + 32];

			if (!p)
				continue;
			p[strcspn(p, "\n")] = 0;
			if (strncmp(strrchr(p, '/') + 1, "libssl.so", 9))
				continue;
			snprintf(root, sizeof(root), "/proc/%d/root%s", (int)pid, p);
			add_ssl_lib(root);
		}
		fclose(f);
	}
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		add_ssl_lib(sys[i]);
}

/* everything but the python-only programs: pylow's default kernel groups */
static int attach_full(struct floor_bpf *skel, const char *py, pid_t pid)
{
	static const char *const usdt_gc[] = { "gc__start", "gc__done" };
	static const char *const usdt_imp[] = { "import__find__load__start",
						"import__find__load__done" };
	static const char *const ssl_funcs[] = { "SSL_write", "SSL_read", "SSL_write_ex",
						 "SSL_read_ex" };
	struct { const char *what; struct bpf_program *p; bool net; } tps[] = {
		{ "tp_btf:sched_process_fork", skel->progs.floor_fork, false },
		{ "tp_btf:sched_process_exec", skel->progs.floor_exec, false },
		{ "tp_btf:sched_process_exit", skel->progs.floor_exit, false },
		{ "tp_btf:task_rename", skel->progs.floor_comm, false },
		{ "tp_btf:sys_enter (syscalls)", skel->progs.floor_sys_enter, false },
		{ "tp_btf:sys_exit (syscalls)", skel->progs.floor_sys_exit, false },
		{ "tp_btf:sched_switch", skel->progs.floor_switch, false },
		{ "tp_btf:sched_wakeup", skel->progs.floor_wakeup, false },
		{ "tp_btf:sys_enter (net)", skel->progs.floor_net_enter, true },
		{ "tp_btf:sys_exit (net)", skel->progs.floor_net_exit, true },
		{ "tp_btf:inet_sock_set_state", skel->progs.floor_sk_state, true },
		{ "tp_btf:sock_send_length", skel->progs.floor_sk_send, true },
		{ "tp_btf:sock_recv_length", skel->progs.floor_sk_recv, true },
	};
	char what[PATH_MAX + 64];
	int e;

	/* python's other USDT probes: pylow notes a missing one and goes on */
	for (int i = 0; i < 4; i++) {
		const char *name = i < 2 ? usdt_gc[i] : usdt_imp[i - 2];
		struct bpf_program *p = i < 2 ? skel->progs.floor_gc : skel->progs.floor_import;

		snprintf(what, sizeof(what), "usdt:%s:python:%s", py, name);
		if (keep(bpf_program__attach_usdt(p, -1, py, "python", name, NULL), what))
			fprintf(stderr, "floor: note: no %s\n", what);
	}
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		if (!(e = keep(bpf_program__attach(tps[i].p), tps[i].what)))
			continue;
		fprintf(stderr, "floor: cannot attach %s: %s\n", tps[i].what, strerror(-e));
		/* pylow: the net group is on by default, a failure only warns */
		if (!tps[i].net)
			return e;
		fprintf(stderr, "floor: warning: no net probes (as pylow: no network events)\n");
		return 0;
	}
	/* TLS: best effort, as pylow */
	find_ssl_libs(pid);
	for (int k = 0; k < nr_ssl_libs; k++) {
		for (size_t i = 0; i < sizeof(ssl_funcs) / sizeof(ssl_funcs[0]); i++) {
			for (int ret = 0; ret < 2; ret++) {
				LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = ssl_funcs[i], .retprobe = ret);

				snprintf(what, sizeof(what), "%s:%s:%s", ret ? "uretprobe" : "uprobe",
					 ssl_libs[k], ssl_funcs[i]);
				keep(bpf_program__attach_uprobe_opts(ret ? skel->progs.floor_ssl_ret :
								      skel->progs.floor_ssl, -1,
								      ssl_libs[k], 0, &o), what);
			}
		}
	}
	return 0;
}

static const char *const cnt_names[FLOOR_NCNT] = {
	[FLOOR_ENTRY] = "entry", [FLOOR_RETURN] = "return", [FLOOR_OTHER] = "other",
	[FLOOR_GC] = "gc", [FLOOR_IMPORT] = "import", [FLOOR_FORK] = "fork",
	[FLOOR_EXEC] = "exec", [FLOOR_EXIT] = "exit", [FLOOR_COMM] = "comm",
	[FLOOR_SYS_ENTER] = "sys_enter", [FLOOR_SYS_EXIT] = "sys_exit",
	[FLOOR_SWITCH] = "switch", [FLOOR_WAKEUP] = "wakeup",
	[FLOOR_NET_ENTER] = "net_sys_enter", [FLOOR_NET_EXIT] = "net_sys_exit",
	[FLOOR_SK_STATE] = "sock_state", [FLOOR_SK_SEND] = "sock_send",
	[FLOOR_SK_RECV] = "sock_recv", [FLOOR_SSL] = "ssl", [FLOOR_SSL_RET] = "ssl_ret",
};

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "python-only", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *py = "/usr/bin/python3.11", *gate = NULL, *ready = NULL;
	int all = 0, hold_only = 0, py_only = 0, opt;
	pid_t pid = 0;

	while ((opt = getopt_long(argc, argv, "+x:ap:g:Hr:Ph", lopts, NULL)) != -1) {
		switch (opt) {
		case 'x': py = optarg; break;
		case 'a': all = 1; break;
		case 'p': pid = atoi(optarg); break;
		case 'g': gate = optarg; break;
		case 'H': hold_only = 1; break;
		case 'r': ready = optarg; break;
		case 'P': py_only = 1; break;
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
	/* the python-only floor and the semaphore holder load only their programs */
	if (py_only || hold_only) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, skel->obj)
			if (p != skel->progs.floor_entry && p != skel->progs.floor_return &&
			    p != skel->progs.floor_hold)
				bpf_program__set_autoload(p, false);
	}
	if (floor_bpf__load(skel))
		return fprintf(stderr, "floor: load: %s\n", strerror(errno)), 1;
	if (pid && !hold_only) {
		__u32 k = pid;
		__u8 v = 1;
		bpf_map_update_elem(bpf_map__fd(skel->maps.pids), &k, &v, BPF_ANY);
	}

	LIBBPF_OPTS(bpf_uprobe_opts, hopts, .func_name = "Py_FatalError",
		    .ref_ctr_offset = (size_t)line_sem);
	if (keep(bpf_program__attach_uprobe_opts(skel->progs.floor_hold, -1, py, 0, &hopts),
		 "semaphore python:line (uprobe on Py_FatalError)"))
		return fprintf(stderr, "floor: hold line semaphore: %s\n", strerror(errno)), 1;
	if (!hold_only) {
		if (keep(bpf_program__attach_usdt(skel->progs.floor_entry, -1, py, "python",
						  "function__entry", NULL), "usdt python:function__entry") ||
		    keep(bpf_program__attach_usdt(skel->progs.floor_return, -1, py, "python",
						  "function__return", NULL), "usdt python:function__return"))
			return fprintf(stderr, "floor: attach usdt: %s\n", strerror(errno)), 1;
		if (!py_only && attach_full(skel, py, pid))
			return 1;
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

	__u64 tot[FLOOR_NCNT] = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals = calloc(ncpu, sizeof(*vals));
	for (__u32 i = 0; i < FLOOR_NCNT && vals; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts), &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			tot[i] += vals[c];
	}
	if (!hold_only) {
		/* the prefix `FLOOR entry=N return=N` is what bench.py parses */
		fprintf(stderr, "FLOOR entry=%llu return=%llu other=%llu",
			(unsigned long long)tot[FLOOR_ENTRY], (unsigned long long)tot[FLOOR_RETURN],
			(unsigned long long)tot[FLOOR_OTHER]);
		for (int i = FLOOR_OTHER + 1; i < FLOOR_NCNT && !py_only; i++)
			fprintf(stderr, " %s=%llu", cnt_names[i], (unsigned long long)tot[i]);
		fprintf(stderr, " links=%d%s\n", nr_links, py_only ? " mode=python-only" : "");
	}
	for (int i = 0; i < nr_links; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(skel);
	free(vals);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 0;
}
