/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the agent's shared-memory ring: creation (agent side), the loc
 * id counter shared by agent processes, and the consumer (recorder side).
 * See ring.h for the layout and the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ring.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = PLW_AGENT_RING_MIN;

	while (p < v && p < (1ull << 40))
		p <<= 1;
	return p;
}

uint64_t plw_agent_ring_size(uint64_t size)
{
	size = pow2_at_least(size ? size : PLW_AGENT_RING_DEFAULT);
	/* slot lengths under the commit word's three flag bits */
	return size > PLW_AGENT_RING_MAX ? PLW_AGENT_RING_MAX : size;
}

static int spare_path(char *p, size_t len, const char *dir, uint64_t size, unsigned k,
		      bool tmp)
{
	int n = snprintf(p, len, tmp ? "%s/.spare.%llu.%u.tmp" : "%s/spare.%llu.%u", dir,
			 (unsigned long long)size, k);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int plw_agent_spare_grow(const char *dir, uint64_t size, unsigned k, uint64_t step,
			 int *ready)
{
	char path[4096], tmp[4096];
	struct stat st;
	uint64_t want;
	int fd, err = 0;

	*ready = 0;
	size = plw_agent_ring_size(size);
	want = PLW_AGENT_RING_HDR_SIZE + size;
	if ((err = spare_path(path, sizeof(path), dir, size, k, false)) ||
	    (err = spare_path(tmp, sizeof(tmp), dir, size, k, true)))
		return err;
	if (!access(path, F_OK)) {
		*ready = 1;
		return 0;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size < want) {
		uint64_t n = want - (uint64_t)st.st_size;

		if (n > step)
			n = step;
		/* tmpfs allocates (zeroed) pages and extends the size */
		if (fallocate(fd, 0, st.st_size, (off_t)n) < 0) {
			err = -errno;
			goto out;
		}
		st.st_size += n;
	}
	if ((uint64_t)st.st_size >= want) {
		if (rename(tmp, path) < 0)
			err = -errno;
		else
			*ready = 1;
	}
out:
	close(fd);
	return err;
}

/* claims a spare ring of SIZE into TMP: its fd, or -1 when there is none */
static int spare_claim(const char *dir, uint64_t size, const char *tmp)
{
	char path[4096];
	struct stat st;

	for (unsigned k = 0; k < PLW_AGENT_SPARES; k++) {
		int fd;

		if (spare_path(path, sizeof(path), dir, size, k, false) || rename(path, tmp) < 0)
			continue;
		fd = open(tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size == PLW_AGENT_RING_HDR_SIZE + size)
			return fd;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	return -1;
}

int plw_agent_ring_create(struct plw_agent_ring **out, const char *dir,
			  uint64_t size, uint32_t py_version, uint32_t source,
			  const char *exe)
{
	struct plw_agent_ring *r;
	struct plw_agent_ring_hdr *h;
	char tmp[4096], path[4096];
	uint64_t start = mono_ns();
	uint32_t pid = (uint32_t)getpid();
	void *map;
	int err, n;
	bool spare;

	*out = NULL;
	size = plw_agent_ring_size(size);
	n = snprintf(path, sizeof(path), "%s/ring.%u.%llu", dir, pid,
		     (unsigned long long)start);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s/.ring.%u.%llu.tmp", dir, pid,
		 (unsigned long long)start);

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->path = strdup(path);
	if (!r->path) {
		err = -ENOMEM;
		goto fail;
	}
	/* a spare the recorder allocated, else a new sparse file */
	r->fd = spare_claim(dir, size, tmp);
	spare = r->fd >= 0;
	if (!spare)
		r->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->fd < 0) {
		err = -errno;
		goto fail;
	}
	r->map_len = PLW_AGENT_RING_HDR_SIZE + size;
	if ((!spare && ftruncate(r->fd, (off_t)r->map_len) < 0) ||
	    flock(r->fd, LOCK_SH | LOCK_NB) < 0) {
		err = -errno;
		goto fail_unlink;
	}
	/* a spare's pages exist: mapping them all now costs page tables only */
	map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | (spare ? MAP_POPULATE : 0), r->fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto fail_unlink;
	}
	r->hdr = h = map;
	r->data = (unsigned char *)map + PLW_AGENT_RING_HDR_SIZE;
	r->size = size;
	r->mask = size - 1;
	h->version = PLW_AGENT_RING_VERSION;
	h->hdr_size = PLW_AGENT_RING_HDR_SIZE;
	h->size = size;
	h->pid = pid;
	h->ppid = (uint32_t)getppid();
	h->start_ns = start;
	h->py_version = py_version;
	h->source = source;
	if (exe)
		snprintf(h->exe, sizeof(h->exe), "%s", exe);
	__atomic_store_n(&h->magic, PLW_AGENT_RING_MAGIC, __ATOMIC_RELEASE);
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto fail_unlink;
	}
	*out = r;
	return 0;

fail_unlink:
	unlink(tmp);
fail:
	plw_agent_ring_free(r);
	return err;
}

void plw_agent_ring_forget(struct plw_agent_ring *r)
{
	if (!r)
		return;
	/* only our copy of the fd: the parent keeps its flock */
	if (r->hdr)
		munmap(r->hdr, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r);
}

void plw_agent_ring_free(struct plw_agent_ring *r)
{
	plw_agent_ring_forget(r);
}

uint32_t plw_agent_locs_next(struct plw_agent_locs **locsp, const char *dir)
{
	struct plw_agent_locs *l = *locsp;
	uint32_t id;

	if (!l) {
		char path[4096];
		struct stat st;
		void *map;
		int fd;

		if (snprintf(path, sizeof(path), "%s/locs", dir) >= (int)sizeof(path))
			return 0;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return 0;
		/* racing creators both extend a 0-byte file with zeros: safe */
		if (fstat(fd, &st) < 0 ||
		    (st.st_size < 4096 && ftruncate(fd, 4096) < 0)) {
			close(fd);
			return 0;
		}
		map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (map == MAP_FAILED)
			return 0;
		l = map;
		__atomic_store_n(&l->magic, PLW_AGENT_LOCS_MAGIC, __ATOMIC_RELAXED);
		*locsp = l;
	}
	id = __atomic_add_fetch(&l->next, 1, __ATOMIC_RELAXED);
	if (!id || id >= PLW_AGENT_LOC_BIT)
		return 0;
	return id | PLW_AGENT_LOC_BIT;
}

/* ---------------------------------------------------------------- consumer */

struct plw_agent_reader {
	struct plw_agent_ring_hdr *hdr;
	unsigned char *data;
	uint64_t size, mask;
	size_t map_len;
	int fd;
	int broken;
};

int plw_agent_reader_open(struct plw_agent_reader **out, const char *path)
{
	struct plw_agent_reader *r;
	struct plw_agent_ring_hdr h;
	struct stat st;
	void *map;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		err = -errno;
		goto fail;
	}
	if (fstat(r->fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_size < PLW_AGENT_RING_HDR_SIZE) {
		err = -EAGAIN;
		goto fail;
	}
	if (pread(r->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		err = -EAGAIN;
		goto fail;
	}
	if (h.magic != PLW_AGENT_RING_MAGIC) {
		err = h.magic ? -EPROTO : -EAGAIN;
		goto fail;
	}
	if (h.version != PLW_AGENT_RING_VERSION || h.hdr_size != PLW_AGENT_RING_HDR_SIZE ||
	    h.size < PLW_AGENT_RING_MIN || (h.size & (h.size - 1)) || h.size > PLW_AGENT_RING_MAX ||
	    (uint64_t)st.st_size < PLW_AGENT_RING_HDR_SIZE + h.size) {
		err = -EPROTO;
		goto fail;
	}
	r->map_len = PLW_AGENT_RING_HDR_SIZE + h.size;
	map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	r->hdr = map;
	r->data = (unsigned char *)map + PLW_AGENT_RING_HDR_SIZE;
	r->size = h.size;
	r->mask = h.size - 1;
	*out = r;
	return 0;
fail:
	plw_agent_reader_close(r);
	return err;
}

void plw_agent_reader_close(struct plw_agent_reader *r)
{
	if (!r)
		return;
	if (r->hdr)
		munmap(r->hdr, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

#define TAIL_PUBLISH_BYTES	(1u << 20)	/* give room back at least this often */

long plw_agent_reader_drain(struct plw_agent_reader *r, plw_agent_rec_cb cb, void *ctx)
{
	struct plw_agent_ring_hdr *h = r->hdr;
	uint64_t tail, head, published;
	long n = 0;
	int ret = 0;

	if (r->broken)
		return -EPROTO;
	tail = published = __atomic_load_n(&h->tail, __ATOMIC_RELAXED);
	head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	while (tail < head) {
		uint64_t off = tail & r->mask;
		unsigned char *slot = r->data + off;
		uint32_t w = __atomic_load_n((uint32_t *)slot, __ATOMIC_ACQUIRE);
		uint32_t len = w & ~PLW_AGENT_SLOT_FLAGS;

		if (!w)
			break;		/* reserved, not committed yet */
		if (len < PLW_AGENT_SLOT_HDR || (len & 7) || len > r->size - off ||
		    len > head - tail ||
		    ((w & PLW_AGENT_SLOT_PAD) && (w & (PLW_AGENT_SLOT_CALL | PLW_AGENT_SLOT_RET))) ||
		    ((w & PLW_AGENT_SLOT_CALL) && len != sizeof(struct plw_agent_call)) ||
		    (w & PLW_AGENT_SLOT_FLAGS) == PLW_AGENT_SLOT_RET) {
			r->broken = 1;
			ret = -EPROTO;
			break;
		}
		if (!(w & PLW_AGENT_SLOT_PAD)) {
			/* a full record as it is, or a compact call slot as the
			 * record BPF would have written */
			const struct plw_agent_call *c = (const void *)slot;
			struct plw_rb_hdr call_h;
			struct plw_py_call call;
			const struct plw_rb_hdr *rh = (const void *)(slot + PLW_AGENT_SLOT_HDR);
			const void *payload = rh + 1;

			if (w & PLW_AGENT_SLOT_CALL) {
				call_h = (struct plw_rb_hdr){
					.ts = c->ts, .pid = h->pid, .tid = c->tid,
					.type = w & PLW_AGENT_SLOT_RET ? PLW_EV_PY_RETURN : PLW_EV_PY_ENTRY,
					.cpu = c->cpu, .size = sizeof(call),
				};
				call.loc = c->loc;
				rh = &call_h;
				payload = &call;
			} else if (len < PLW_AGENT_SLOT_HDR + sizeof(*rh) ||
				   rh->size > len - PLW_AGENT_SLOT_HDR - sizeof(*rh)) {
				r->broken = 1;
				ret = -EPROTO;
				break;
			}
			ret = cb(ctx, rh, payload);
			if (ret < 0)
				break;
			ret = 0;
			n++;
		}
		memset(slot, 0, len);
		tail += len;
		if (tail - published >= TAIL_PUBLISH_BYTES) {
			__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
			published = tail;
		}
	}
	if (tail != published)
		__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	return ret < 0 ? ret : n;
}

uint64_t plw_agent_reader_dropped(const struct plw_agent_reader *r)
{
	return __atomic_load_n(&r->hdr->dropped, __ATOMIC_RELAXED);
}

uint64_t plw_agent_reader_locs(const struct plw_agent_reader *r)
{
	return __atomic_load_n(&r->hdr->locs, __ATOMIC_RELAXED);
}

const struct plw_agent_ring_hdr *plw_agent_reader_hdr(const struct plw_agent_reader *r)
{
	return r->hdr;
}

int plw_agent_reader_writer_gone(struct plw_agent_reader *r)
{
	if (flock(r->fd, LOCK_EX | LOCK_NB) == 0) {
		flock(r->fd, LOCK_UN);
		return 1;
	}
	return errno == EWOULDBLOCK ? 0 : -errno;
}
