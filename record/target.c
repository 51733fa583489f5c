/* SPDX-License-Identifier: MIT */
/* target.c - what /proc says about the processes to record. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

static int read_file(const char *path, char *out, size_t len, size_t *got);

bool target_exists(int pid)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d", pid);
	return pid > 0 && access(p, F_OK) == 0;
}

bool target_alive(int pid)
{
	char p[64], buf[512], *s;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if (read_file(p, buf, sizeof(buf), &n))
		return false;
	s = strrchr(buf, ')');
	return s && s[1] == ' ' && s[2] != 'Z' && s[2] != 'X';
}

int target_exe(int pid, char *out, size_t len)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/exe", pid);
	n = readlink(p, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = 0;
	/* a deleted file still maps: strip the suffix, the path is for messages */
	if (n > 10 && !strcmp(out + n - 10, " (deleted)"))
		out[n - 10] = 0;
	return 0;
}

int target_libpython(int pid, char *out, size_t len)
{
	char p[64], line[PATH_MAX + 256];
	FILE *f;

	out[0] = 0;
	snprintf(p, sizeof(p), "/proc/%d/maps", pid);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/'), *b;

		if (!path)
			continue;
		path[strcspn(path, "\n")] = 0;
		b = strrchr(path, '/') + 1;
		if (strncmp(b, "libpython", 9) || !strstr(b, ".so"))
			continue;
		snprintf(out, len, "%s", path);
		break;
	}
	fclose(f);
	return 0;
}

static int read_file(const char *path, char *out, size_t len, size_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = 0;
	*got = n;
	return 0;
}

int target_cmdline(int pid, char *out, size_t len)
{
	char p[64];
	size_t n;
	int err;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
	if ((err = read_file(p, out, len, &n)))
		return err;
	while (n && !out[n - 1])
		n--;
	for (size_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = ' ';
	out[n] = 0;
	return 0;
}

int target_comm(int pid, int tid, char *out, size_t len)
{
	char p[64];
	size_t n;
	int err;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/comm", pid, tid);
	if ((err = read_file(p, out, len, &n)))
		return err;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

int target_ppid(int pid)
{
	char p[64], buf[1024], *s;
	size_t n;
	int ppid;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if (read_file(p, buf, sizeof(buf), &n))
		return 0;
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

int target_threads(int pid, int (*cb)(int pid, int tid, void *ctx), void *ctx)
{
	char p[64];
	struct dirent *de;
	DIR *d;
	int err = 0;

	snprintf(p, sizeof(p), "/proc/%d/task", pid);
	d = opendir(p);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if ((err = cb(pid, atoi(de->d_name), ctx)))
			break;
	}
	closedir(d);
	return err;
}

int target_uid(int pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d", pid);
	if (stat(p, &st))
		return -errno;
	return st.st_uid;
}

/* the interpreter of a "#!/path/python3.11 args" script (no `env`) */
static int shebang(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX + 3];
	size_t n;
	int err;

	if ((err = read_file(path, buf, sizeof(buf), &n)))
		return err;
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return -ENOEXEC;
	char *s = buf + 2;
	while (*s == ' ' || *s == '\t')
		s++;
	s[strcspn(s, " \t\n")] = 0;
	if (*s != '/')
		return -ENOEXEC;
	if (!realpath(s, out))
		return -errno;
	(void)len;
	return 0;
}

int target_resolve_cmd(const char *cmd, char *out, size_t len)
{
	char buf[PATH_MAX], interp[PATH_MAX];
	const char *path;

	if (len < PATH_MAX)
		return -EINVAL;
	if (strchr(cmd, '/')) {
		if (!realpath(cmd, out))
			return -errno;
	} else {
		path = getenv("PATH");
		if (!path)
			path = "/usr/local/bin:/usr/bin:/bin";
		out[0] = 0;
		while (*path) {
			size_t n = strcspn(path, ":");

			snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1), n ? path : ".", cmd);
			if (!access(buf, X_OK) && realpath(buf, out))
				break;
			out[0] = 0;
			path += n + (path[n] == ':');
		}
		if (!out[0])
			return -ENOENT;
	}
	/* "#!/usr/bin/env python3" is left alone: which Python it runs is
	 * decided by PATH at run time; the caller says so */
	if (!shebang(out, interp, sizeof(interp)) && strcmp(strrchr(interp, '/'), "/env"))
		snprintf(out, len, "%s", interp);
	return 0;
}
