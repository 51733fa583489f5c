// SPDX-License-Identifier: MIT
/*
 * net.c - the `net` event group (bpf/net.bpf.c): load it on pylow.bpf.c's
 * ring buffer, targets and counters, attach the socket hooks and the libssl
 * uprobes, and turn its ring buffer records into file events: NET_CONN as
 * they come (CLOSE gets the fd its CONNECT/ACCEPT had), NET_DATA through the
 * label parser (labels.c) into NET_LABEL events; the payload bytes go no
 * further.  Returns 0 or -errno and never prints (record.c talks to the user).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rec.h"
#include "labels.h"
#include "bpf/pylow.skel.h"
#include "bpf/net.skel.h"

#define MAX_LINKS	48
#define MAX_SSL_LIBS	8
#define FD_SLOTS	4096		/* conn -> fd, open addressing */

struct fd_ent {
	uint64_t conn;			/* 0: free */
	struct plw_net_conn c;		/* its CONNECT / ACCEPT / LISTEN */
};

struct net {
	struct net_bpf *skel;
	bool labels;
	int nr_links;
	struct bpf_link *links[MAX_LINKS];
	char ssl_libs[MAX_SSL_LIBS][PATH_MAX];
	int nr_ssl_libs;
	struct lbl *lbl;
	/* the same parser, fed as records are drained (net_scout), to mute a
	 * stream as soon as BPF copied its first calls */
	struct lbl *scout;
	struct fd_ent fds[FD_SLOTS];
	size_t nr_fds;
	/* the record being handled (for the label callback) */
	struct plw_writer *w;
	const struct plw_rb_hdr *h;
	int32_t fd;
	bool ssl_key;			/* the record's conn is an SSL object */
	uint64_t nr_labels;
	uint64_t nr_muted;		/* streams given up on */
	uint64_t nr_data;		/* NET_DATA records BPF copied */
	/* keys told to BPF's `muted` lately: the records BPF copied before
	 * it knew (up to the sink's hold-back of them) do not tell it again,
	 * a map update each (W2: ~7,000 per run) */
	uint64_t told[64];
	uint8_t told_n[64];		/* told again every 256th record: BPF's
					 * `muted` is an LRU and may forget */
};

/* ------------------------------------------------------------ conn -> fd */

static size_t fd_slot(uint64_t conn)
{
	return (conn * 0x9e3779b97f4a7c15ull >> 32) % FD_SLOTS;
}

static struct fd_ent *fd_find(struct net *n, uint64_t conn)
{
	if (!conn)
		return NULL;
	for (size_t i = fd_slot(conn), k = 0; k < FD_SLOTS; i = (i + 1) % FD_SLOTS, k++) {
		if (n->fds[i].conn == conn)
			return &n->fds[i];
		if (!n->fds[i].conn)
			return NULL;
	}
	return NULL;
}

static void fd_del(struct net *n, uint64_t conn)
{
	struct fd_ent *e = fd_find(n, conn);
	size_t i, j;

	if (!e)
		return;
	/* backward-shift deletion */
	i = e - n->fds;
	n->fds[i].conn = 0;
	n->nr_fds--;
	for (j = (i + 1) % FD_SLOTS; n->fds[j].conn; j = (j + 1) % FD_SLOTS) {
		size_t home = fd_slot(n->fds[j].conn);

		/* J's entry may move into the hole at I if its home is not in (I, J] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			n->fds[i] = n->fds[j];
			n->fds[j].conn = 0;
			i = j;
		}
	}
}

static void fd_put(struct net *n, const struct plw_net_conn *c)
{
	struct fd_ent *e;

	if (!c->conn)
		return;
	if ((e = fd_find(n, c->conn))) {
		e->c = *c;
		return;
	}
	if (n->nr_fds >= FD_SLOTS * 3 / 4)
		return;		/* full: TLS labels of further sockets get fd -1 */
	for (size_t i = fd_slot(c->conn);; i = (i + 1) % FD_SLOTS)
		if (!n->fds[i].conn) {
			n->fds[i] = (struct fd_ent){ c->conn, *c };
			n->nr_fds++;
			return;
		}
}

static int32_t fd_of(struct net *n, uint64_t conn)
{
	struct fd_ent *e = conn ? fd_find(n, conn) : NULL;

	return e ? e->c.fd : -1;
}

/* ------------------------------------------------------------ records */

static int on_label(const struct lbl_out *o, void *ctx)
{
	struct net *n = ctx;
	struct plw_net_label l = {
		.conn = n->ssl_key ? 0 : o->conn,
		.fd = n->fd >= 0 ? n->fd : n->ssl_key ? -1 : fd_of(n, o->conn),
		.dir = o->dir,
		.proto = o->proto,
		.status = o->status,
		.flags = o->flags,
	};

	n->nr_labels++;
	return plw_writer_net_label(n->w, n->h->pid, n->h->tid, n->h->ts, n->h->cpu, &l,
				    o->method, o->target, o->host, o->traceparent);
}

/* the fixed part of a NET_DATA record into *D, its caplen cut to what the
 * record holds; returns the captured bytes, NULL if the record is too short */
static const unsigned char *net_data_of(const struct plw_rb_hdr *h, const void *payload,
					struct plw_rb_net_data *d)
{
	const size_t hdr = offsetof(struct plw_rb_net_data, data);

	if (h->size < hdr)
		return NULL;
	memcpy(d, payload, hdr);
	if (d->caplen > h->size - hdr)
		d->caplen = h->size - hdr;
	return (const unsigned char *)payload + hdr;
}

/* tells BPF to stop copying the stream of CONN in DIR */
static void mute(struct net *n, uint64_t conn, unsigned dir)
{
	uint64_t key = conn ^ ((uint64_t)dir << 63);
	unsigned slot = (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 58);	/* of 64 */
	uint64_t *t = &n->told[slot];
	uint8_t one = 1;

	if (*t != key || !++n->told_n[slot]) {
		bpf_map_update_elem(bpf_map__fd(n->skel->maps.muted), &key, &one, BPF_ANY);
		if (*t != key)
			n->nr_muted++;
		*t = key;
	}
}

static int scout_emit(const struct lbl_out *o, void *ctx)
{
	return 0;
}

void net_scout(struct net *n, const struct plw_rb_hdr *h, const void *payload)
{
	const unsigned char *data;
	struct plw_rb_net_data d;
	struct plw_net_conn c;

	if (!n || !n->scout)
		return;
	if (h->type == PLW_EV_NET_CONN) {
		if (h->size >= sizeof(c)) {
			memcpy(&c, payload, sizeof(c));
			if (c.op == PLW_NET_CLOSE && c.conn)
				lbl_close(n->scout, c.conn);
		}
		return;
	}
	if (h->type != PLW_RB_NET_DATA || !(data = net_data_of(h, payload, &d)))
		return;
	n->nr_data++;
	/* TLS plaintext is never muted: its labels are the point */
	if ((d.flags & PLW_LABEL_TLS) || !d.conn)
		return;
	if (!lbl_feed(n->scout, d.conn, d.dir, 0, data, d.caplen, d.len, scout_emit, NULL) &&
	    lbl_ignored(n->scout, d.conn, d.dir, 0))
		mute(n, d.conn, d.dir);
}

void net_stats(const struct net *n, uint64_t *data, uint64_t *muted, uint64_t *labels)
{
	*data = n ? n->nr_data : 0;
	*muted = n ? n->nr_muted : 0;
	*labels = n ? n->nr_labels : 0;
}

int net_record(struct net *n, struct plw_writer *w, const struct plw_rb_hdr *h,
	       const void *payload)
{
	if (h->type == PLW_EV_NET_CONN) {
		struct plw_net_conn c;

		if (h->size < sizeof(c))
			return 0;
		memcpy(&c, payload, sizeof(c));
		if (n && c.op == PLW_NET_CLOSE) {
			struct fd_ent *e = c.conn ? fd_find(n, c.conn) : NULL;
			static const uint8_t zero[16];

			/* a TCP socket closed after the peer's FIN may have lost
			 * its local port already: its CONNECT/ACCEPT knew them */
			if (e && c.family == e->c.family) {
				if (c.fd < 0)
					c.fd = e->c.fd;
				if (!c.lport && !memcmp(c.laddr, zero, 16)) {
					c.lport = e->c.lport;
					memcpy(c.laddr, e->c.laddr, 16);
				}
				if (!c.rport && !memcmp(c.raddr, zero, 16)) {
					c.rport = e->c.rport;
					memcpy(c.raddr, e->c.raddr, 16);
				}
				if (!c.lport)
					c.lport = e->c.lport;
			}
			fd_del(n, c.conn);
			if (n->lbl)
				lbl_close(n->lbl, c.conn);
		} else if (n) {
			fd_put(n, &c);
		}
		return plw_writer_event(w, PLW_EV_NET_CONN, h->pid, h->tid, h->ts, h->cpu,
					&c, sizeof(c));
	}
	if (h->type == PLW_RB_NET_DATA && n && n->lbl) {
		const unsigned char *data;
		struct plw_rb_net_data d;
		int err;

		if (!(data = net_data_of(h, payload, &d)))
			return 0;
		n->w = w;
		n->h = h;
		n->fd = d.fd;
		n->ssl_key = d.flags & PLW_NET_DATA_SSL_KEY;
		err = lbl_feed(n->lbl, d.conn, d.dir, d.flags & PLW_LABEL_TLS,
			       data, d.caplen, d.len, on_label, n);
		/* a stream of no known protocol: BPF stops copying it (the
		 * scout has usually said so already) */
		if (!err && !(d.flags & PLW_LABEL_TLS) && d.conn &&
		    lbl_ignored(n->lbl, d.conn, d.dir, 0))
			mute(n, d.conn, d.dir);
		return err;
	}
	return 0;
}

/* ------------------------------------------------------------ BPF */

int net_load(struct net **out, struct pylow_bpf *py, bool on, bool labels)
{
	struct net *n = calloc(1, sizeof(*n));
	int err;

	*out = n;
	if (!n)
		return -ENOMEM;
	n->labels = labels;
	if (!on)
		return 0;
	if (labels && ((err = lbl_new(&n->lbl, 0)) || (err = lbl_new(&n->scout, 0))))
		return err;
	n->skel = net_bpf__open();
	if (!n->skel)
		return -errno;
	if ((err = share_maps(n->skel->obj, py)))
		return err;
	n->skel->rodata->labels = labels;
	n->skel->rodata->nr_connect = SYS_connect;
	n->skel->rodata->nr_listen = SYS_listen;
	n->skel->rodata->nr_accept4 = SYS_accept4;
	n->skel->rodata->nr_close = SYS_close;
	n->skel->rodata->nr_read = SYS_read;
	n->skel->rodata->nr_write = SYS_write;
	n->skel->rodata->nr_readv = SYS_readv;
	n->skel->rodata->nr_writev = SYS_writev;
	n->skel->rodata->nr_sendto = SYS_sendto;
	n->skel->rodata->nr_recvfrom = SYS_recvfrom;
	n->skel->rodata->nr_sendmsg = SYS_sendmsg;
	n->skel->rodata->nr_recvmsg = SYS_recvmsg;
#ifdef SYS_accept
	n->skel->rodata->nr_accept = SYS_accept;
#endif
	return net_bpf__load(n->skel);
}

/* libssl of the targets (their maps) and the system's, by real path */
static void add_ssl_lib(struct net *n, const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return;
	for (int i = 0; i < n->nr_ssl_libs; i++)
		if (!strcmp(n->ssl_libs[i], real))
			return;
	if (n->nr_ssl_libs < MAX_SSL_LIBS)
		snprintf(n->ssl_libs[n->nr_ssl_libs++], PATH_MAX, "%s", real);
}

static void find_ssl_libs(struct net *n, const int *pids, int nr)
{
	static const char *const sys[] = {
		"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3",
		"/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libssl.so.1.1", "/usr/lib64/libssl.so.1.1",
	};

	for (int i = 0; i < nr; i++) {
		char maps[64], line[PATH_MAX + 128];
		FILE *f;

		snprintf(maps, sizeof(maps), "/proc/%d/maps", pids[i]);
		if (!(f = fopen(maps, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *p = strchr(line, '/'), *b;

			if (!p)
				continue;
			p[strcspn(p, "\n")] = 0;
			b = strrchr(p, '/');
			if (strncmp(b + 1, "libssl.so", 9))
				continue;
			/* through the process's root: containers */
			char root[PATH_MAX + 32];

			snprintf(root, sizeof(root), "/proc/%d/root%s", pids[i], p);
			add_ssl_lib(n, root);
		}
		fclose(f);
	}
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		add_ssl_lib(n, sys[i]);
}

static int add_link(struct net *n, struct manifest *m, const char *name, struct bpf_link *l)
{
	int e = l ? 0 : -errno;

	if (l && n->nr_links < MAX_LINKS)
		n->links[n->nr_links++] = l;
	manifest_add(m, "net", name, !!l, l ? NULL : strerror(-e));
	return e;
}

int net_attach(struct net *n, struct manifest *m, const int *pids, int nr, char *err, size_t len)
{
	struct { const char *name; struct bpf_program *p; } tab[] = {
		{ "tp_btf:sys_enter(close)", n->skel ? n->skel->progs.net_sys_enter : NULL },
		{ "tp_btf:sys_exit(connect,accept,listen,close)", n->skel ? n->skel->progs.net_sys_exit : NULL },
		{ "tp_btf:inet_sock_set_state", n->skel ? n->skel->progs.net_set_state : NULL },
		{ "tp_btf:sock_send_length", n->skel ? n->skel->progs.net_send_length : NULL },
		{ "tp_btf:sock_recv_length", n->skel ? n->skel->progs.net_recv_length : NULL },
	};
	static const struct { const char *func; bool ret, ex, write; } ssl[] = {
		{ "SSL_write", false, false, true }, { "SSL_write", true, false, true },
		{ "SSL_read", false, false, false }, { "SSL_read", true, false, false },
		{ "SSL_write_ex", false, true, true }, { "SSL_write_ex", true, true, true },
		{ "SSL_read_ex", false, true, false }, { "SSL_read_ex", true, true, false },
	};

	if (!n->skel) {
		manifest_add(m, "net", "sockets", false, "group not selected (-e)");
		return 0;
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int e = add_link(n, m, tab[i].name, bpf_program__attach(tab[i].p));

		if (e) {
			snprintf(err, len, "cannot attach %s (group net): %s; leave out -e net",
				 tab[i].name, strerror(-e));
			return e;
		}
	}
	if (!n->labels) {
		manifest_add(m, "net", "uprobe:libssl", false, "--labels=off");
		return 0;
	}
	/* TLS: best effort, a missing libssl or symbol is only noted */
	find_ssl_libs(n, pids, nr);
	if (!n->nr_ssl_libs)
		manifest_add(m, "net", "uprobe:libssl", false, "no libssl found");
	for (int k = 0; k < n->nr_ssl_libs; k++) {
		for (size_t i = 0; i < sizeof(ssl) / sizeof(ssl[0]); i++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = ssl[i].func, .retprobe = ssl[i].ret);
			struct bpf_program *p;
			char name[PATH_MAX + 64];

			if (ssl[i].ret)
				p = ssl[i].ex ? n->skel->progs.ssl_ex_ret : n->skel->progs.ssl_ret;
			else if (ssl[i].ex)
				p = ssl[i].write ? n->skel->progs.ssl_write_ex_entry :
						   n->skel->progs.ssl_read_ex_entry;
			else
				p = ssl[i].write ? n->skel->progs.ssl_write_entry :
						   n->skel->progs.ssl_read_entry;
			snprintf(name, sizeof(name), "%s:%s:%s", ssl[i].ret ? "uretprobe" : "uprobe",
				 n->ssl_libs[k], ssl[i].func);
			add_link(n, m, name, bpf_program__attach_uprobe_opts(p, -1, n->ssl_libs[k], 0, &o));
		}
	}
	return 0;
}

void net_set_running(struct net *n, int on)
{
	if (n && n->skel)
		n->skel->bss->running = on;
}

void net_detach(struct net *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nr_links; i++)
		bpf_link__destroy(n->links[i]);
	n->nr_links = 0;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	net_detach(n);
	net_bpf__destroy(n->skel);
	lbl_free(n->lbl);
	lbl_free(n->scout);
	free(n);
}
