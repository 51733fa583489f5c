// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * net.bpf.c - the `net` event group of `pylow record`, from tracepoints and
 * syscalls only (no kprobes or fentry needed):
 *
 *   NET_CONN      connect / accept / listen of a target thread at the
 *                 syscall's exit (tp_btf/sys_exit): the socket is looked up
 *                 in the thread's fd table (connect's and listen's first
 *                 argument, accept's return) and its addresses, ports and
 *                 cookie read from it (BTF CO-RE).  CLOSE: a close() of a
 *                 target's stream socket that drops the file's last
 *                 reference (seen at sys_enter, emitted at sys_exit), with
 *                 the bytes moved over the socket's life (TCP: the socket's
 *                 own counters; Unix: what the data hooks counted).
 *                 The socket cookie is made at the first TCP state change
 *                 (tp_btf/inet_sock_set_state: SYN_SENT for a connect, the
 *                 child's SYN_RECV for an accept, LISTEN) or at the first
 *                 data (below); a Unix socket's CONNECT/ACCEPT may carry
 *                 conn 0 when it had no data yet.
 *   NET_DATA      (ring buffer only, labels on) the first PLW_NET_HEAD_MAX
 *                 bytes moved by each read/write/send/recv/readv/writev/
 *                 sendmsg/recvmsg of a target's stream socket: when the
 *                 socket layer reports the bytes moved (tp_btf/
 *                 sock_send_length, sock_recv_length, inside the call), the
 *                 syscall's number and buffer (first iovec segment) are read
 *                 from the thread's saved user registers (bpf_task_pt_regs:
 *                 also right for a call that blocked before the recording
 *                 began) and its head copied.  The recorder parses them into NET_LABEL events
 *                 (record/labels.c) and drops the bytes.
 *   TLS           uprobes on libssl's SSL_write/SSL_read(_ex): the
 *                 plaintext's head, flagged PLW_LABEL_TLS.  The SSL object
 *                 is tied to its socket by the socket I/O that runs inside
 *                 the SSL call on the same thread (ssl_conn); that
 *                 ciphertext itself is not copied.
 *
 * The ring buffer, `targets` and counters are pylow.bpf.c's
 * (share_maps() in record/attach.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "format/events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_UNIX		1
#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define EINPROGRESS	115

/* set by the recorder */
const volatile __u8 labels = 1;		/* copy payload heads */
const volatile __s32 nr_connect = -1, nr_accept = -1, nr_accept4 = -1, nr_listen = -1;

#include "shared.bpf.h"

struct conn_rec {
	struct plw_rb_hdr hdr;
	struct plw_net_conn c;
};

/* bytes moved over each socket's life, by cookie */
struct bytes {
	__u64 tx, rx;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bytes);
} sock_bytes SEC(".maps");

/* an SSL call in progress on a thread (ts 0: none) */
struct ssl_call {
	__u64 ts;			/* entry */
	__u64 ssl;
	__u64 buf;
	__u64 outp;			/* _ex: size_t * of the bytes moved; 0 otherwise */
	__u32 dir;
	__u32 pad;
};

/* task storage: every socket read and write of a target asks (on_length),
 * and a hash lookup by pid_tgid was ~40 ns of that */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* streams the recorder gave up on (no protocol it knows): no more copies;
 * key: cookie ^ dir << 63 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} muted SEC(".maps");

/* SSL object -> socket cookie, learnt from the kernel I/O inside an SSL call */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} ssl_conn SEC(".maps");

struct data_rec {
	struct plw_rb_hdr hdr;
	struct plw_rb_net_data d;
	__u8 slack[PLW_NET_HEAD_MAX];	/* room for the verifier's bound */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_rec);
} scratch SEC(".maps");

/* ------------------------------------------------------------ sockets */

#define S_IFMT		00170000
#define S_IFSOCK	0140000

/* the stream socket of fd FD of the current thread, or NULL */
static __always_inline struct sock *fd_sock(int fd, bool *last)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **arr, *f = NULL;
	struct socket *sock;
	struct sock *sk;
	unsigned int max;

	if (fd < 0 || !fdt)
		return NULL;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	if (last) {
		/* file_ref_t (6.13+) counts from 0 for one reference */
		if (bpf_core_field_exists(f->f_ref))
			*last = BPF_CORE_READ(f, f_ref.refcnt.counter) == 0;
		else
			*last = true;
	}
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return NULL;
	return sk;
}

/* family, ports, addresses and cookie of SK (read, not trusted) into C */
static __always_inline void read_conn(struct plw_net_conn *c, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	c->family = family;
	c->conn = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (family == AF_INET || family == AF_INET6) {
		c->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		c->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(c->laddr, &l, 4);
		__builtin_memcpy(c->raddr, &r, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&c->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&c->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* bytes moved over the socket's life: what the data hooks counted (exact
 * for a socket whose whole life was recorded), else TCP's own counters
 * (which count a retransmission again, and the FIN) */
static __always_inline void read_bytes(struct plw_net_conn *c, struct sock *sk)
{
	struct bytes *b = c->conn ? bpf_map_lookup_elem(&sock_bytes, &c->conn) : NULL;

	if (b) {
		c->bytes_tx = b->tx;
		c->bytes_rx = b->rx;
		bpf_map_delete_elem(&sock_bytes, &c->conn);
	} else if ((c->family == AF_INET || c->family == AF_INET6) &&
		   BPF_CORE_READ(sk, sk_protocol) == 6 /* IPPROTO_TCP */) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;

		c->bytes_tx = BPF_CORE_READ(tp, bytes_sent);
		c->bytes_rx = BPF_CORE_READ(tp, bytes_received);
	}
}

/* a close() or a send in progress, noted at sys_enter */
struct sys_args {
	__s64 nr;			/* -1: none */
	__s64 fd;
	__u64 ts;			/* sends: the call's entry */
	struct plw_net_conn close;	/* the socket, if this drops its last reference */
	__u32 close_valid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sys_args);
} args_map SEC(".maps");

/* set by the recorder */
const volatile __s32 nr_read = -1, nr_write = -1, nr_readv = -1, nr_writev = -1;
const volatile __s32 nr_sendto = -1, nr_recvfrom = -1, nr_sendmsg = -1, nr_recvmsg = -1;
const volatile __s32 nr_close = -1;

/* a SEND label carries the time its call began (the receiver may have the
 * data before the sender's call returns), at most this much earlier than
 * the record (the recorder's hold-back keeps the file in time order) */
#define SEND_BACKDATE_MAX	(25 * 1000000ull)

static __always_inline bool send_nr(long nr)
{
	return nr == nr_write || nr == nr_writev || nr == nr_sendto || nr == nr_sendmsg;
}

static __always_inline __u64 backdate(__u64 start, __u64 now)
{
	if (!start || start > now)
		return now;
	return now - start > SEND_BACKDATE_MAX ? now - SEND_BACKDATE_MAX : start;
}

static __always_inline bool data_nr(long nr)
{
	return nr == nr_read || nr == nr_write || nr == nr_readv || nr == nr_writev ||
	       nr == nr_sendto || nr == nr_recvfrom || nr == nr_sendmsg || nr == nr_recvmsg;
}

/* close(): is it the socket's last reference?  Known only before the call */
SEC("tp_btf/sys_enter")
int BPF_PROG(net_sys_enter, struct pt_regs *regs, long id)
{
	struct sys_args *a;
	bool close = id == nr_close;

	if (!close && !(labels && send_nr(id)))
		return 0;
	if (!target_running(bpf_get_current_pid_tgid() >> 32))
		return 0;
	a = bpf_task_storage_get(&args_map, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!a)
		return 0;
	a->nr = id;
	a->ts = bpf_ktime_get_ns();
	a->fd = (int)plw_sys_arg1(regs);
	a->close_valid = 0;
	if (close) {
		bool last = false;
		struct sock *sk = fd_sock(a->fd, &last);

		if (sk && last) {
			__builtin_memset(&a->close, 0, sizeof(a->close));
			a->close.op = PLW_NET_CLOSE;
			a->close.fd = a->fd;
			read_conn(&a->close, sk);
			read_bytes(&a->close, sk);
			a->close_valid = 1;
		}
	}
	return 0;
}

static __always_inline void emit_conn(struct plw_net_conn *c)
{
	struct conn_rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

	if (!r) {
		count(PLW_CNT_LOST);
		return;
	}
	fill_hdr(&r->hdr, bpf_get_current_pid_tgid(), bpf_ktime_get_ns(), PLW_EV_NET_CONN,
		 sizeof(r->c));
	r->c = *c;
	bpf_ringbuf_submit(r, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(net_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = plw_sys_nr(regs);
	struct plw_net_conn c = {};
	struct sys_args *a;
	struct sock *sk;
	__u32 op;
	__s32 fd;

	if (nr == nr_close || (labels && send_nr(nr))) {
		a = bpf_task_storage_get(&args_map, bpf_get_current_task_btf(), NULL, 0);
		if (!a || a->nr != nr)
			return 0;
		a->nr = -1;
		if (nr == nr_close && a->close_valid && ret == 0 && running)
			emit_conn(&a->close);
		a->close_valid = 0;
		return 0;
	}
	if (nr == nr_connect)
		op = PLW_NET_CONNECT;
	else if (nr == nr_accept || nr == nr_accept4)
		op = PLW_NET_ACCEPT;
	else if (nr == nr_listen)
		op = PLW_NET_LISTEN;
	else
		return 0;
	if (!target_running(bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (op == PLW_NET_ACCEPT) {
		if (ret < 0)
			return 0;
		fd = ret;
	} else {
		/* a non-blocking connect: the local port is bound before the SYN */
		if (ret != 0 && !(op == PLW_NET_CONNECT && ret == -EINPROGRESS))
			return 0;
		fd = (__s32)plw_sys_arg1(regs);
	}
	sk = fd_sock(fd, NULL);
	if (!sk)
		return 0;
	c.op = op;
	c.fd = fd;
	read_conn(&c, sk);
	emit_conn(&c);
	return 0;
}

/* make the cookie of every TCP socket as it connects, listens or is born
 * from a listener (softirq for the latter: no target to filter on; the
 * cookie is one atomic number per socket), so that sys_exit reads it */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(net_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate == 2 /* TCP_SYN_SENT */ || newstate == 3 /* TCP_SYN_RECV */ ||
	    newstate == 10 /* TCP_LISTEN */ ||
	    (newstate == 1 /* TCP_ESTABLISHED */ && oldstate == 3))
		bpf_get_socket_cookie((void *)sk);
	return 0;
}

/* ----------------------------------------------------------------- data */

/* copies the first bytes of BASE (user memory, LEN moved, SEGLEN in the
 * first segment) into a NET_DATA record */
static __always_inline void emit_data(__u64 pid_tgid, __u64 ts, __u64 conn, __s32 fd,
				      __u32 dir, __u32 flags, __u64 base, __u64 len, __u64 seglen)
{
	struct data_rec *r;
	__u32 zero = 0;
	__u64 n = len;

	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return;
	if (n > seglen)
		n = seglen;
	if (n > PLW_NET_HEAD_MAX)
		n = PLW_NET_HEAD_MAX;
	n &= 2 * PLW_NET_HEAD_MAX - 1;
	if (n && bpf_probe_read_user(r->d.data, n, (const void *)base))
		n = 0;
	fill_hdr(&r->hdr, pid_tgid, ts, PLW_RB_NET_DATA,
		 offsetof(struct plw_rb_net_data, data) + n);
	r->d.conn = conn;
	r->d.len = len > 0xffffffffu ? 0xffffffffu : len;
	r->d.caplen = n;
	r->d.dir = dir;
	r->d.flags = flags;
	r->d.fd = fd;
	if (bpf_ringbuf_output(&rb, r, sizeof(struct plw_rb_hdr) +
			       offsetof(struct plw_rb_net_data, data) + n, 0))
		count(PLW_CNT_LOST);
}

struct iovec_u {
	__u64 base;
	__u64 len;
};

/* user msghdr: the iovec pointer is at offset 16 on 64-bit */
struct msghdr_u {
	__u64 name;
	__s32 namelen;
	__s32 pad;
	__u64 iov;
	__u64 iovlen;
};

static __always_inline int on_length(struct sock *sk, int ret, __u32 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bytes *b, nb = {};
	struct ssl_call *sc;
	struct pt_regs *regs;
	__u64 cookie, base = 0, seglen = 0, a1, a2;
	long nr;
	__s32 fd;

	if (ret <= 0 || !sk || !target_running(pid_tgid >> 32))
		return 0;
	if (sk->sk_type != SOCK_STREAM)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	b = bpf_map_lookup_elem(&sock_bytes, &cookie);
	if (!b) {
		bpf_map_update_elem(&sock_bytes, &cookie, &nb, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&sock_bytes, &cookie);
	}
	if (b) {
		if (dir == PLW_DIR_SEND)
			__sync_fetch_and_add(&b->tx, ret);
		else
			__sync_fetch_and_add(&b->rx, ret);
	}
	/* inside SSL_read/SSL_write: ciphertext; remember whose socket it is */
	sc = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), NULL, 0);
	if (sc && sc->ts) {
		bpf_map_update_elem(&ssl_conn, &sc->ssl, &cookie, BPF_ANY);
		return 0;
	}
	if (!labels)
		return 0;
	{
		__u64 key = cookie ^ ((__u64)dir << 63);

		if (bpf_map_lookup_elem(&muted, &key))
			return 0;
	}
	/* the syscall this runs in, from the thread's saved user registers
	 * (also for a call that began before the recording did) */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	nr = plw_sys_nr(regs);
	if (!data_nr(nr))
		return 0;	/* sendfile, splice, io_uring, sendmmsg...: not copied */
	fd = (__s32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	a1 = PT_REGS_PARM2_CORE_SYSCALL(regs);
	a2 = PT_REGS_PARM3_CORE_SYSCALL(regs);
	if (nr == nr_read || nr == nr_write || nr == nr_sendto || nr == nr_recvfrom) {
		base = a1;
		seglen = a2;
	} else {
		struct iovec_u v = {};
		__u64 iov = a1;

		if (nr == nr_sendmsg || nr == nr_recvmsg) {
			struct msghdr_u m = {};

			if (bpf_probe_read_user(&m, sizeof(m), (const void *)a1) || !m.iovlen)
				return 0;
			iov = m.iov;
		} else if (!a2) {
			return 0;
		}
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)iov))
			return 0;
		base = v.base;
		seglen = v.len;
	}
	if (base) {
		__u64 now = bpf_ktime_get_ns(), ts = now;

		if (dir == PLW_DIR_SEND) {
			struct sys_args *a = bpf_task_storage_get(&args_map, bpf_get_current_task_btf(),
								  NULL, 0);

			if (a && a->nr == nr)
				ts = backdate(a->ts, now);
		}
		emit_data(pid_tgid, ts, cookie, fd, dir, 0, base, ret, seglen);
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(net_send_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, PLW_DIR_SEND);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(net_recv_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, PLW_DIR_RECV);
}

/* ------------------------------------------------------------------ TLS */

static __always_inline int ssl_entry(__u64 ssl, __u64 buf, __u64 outp, __u32 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c;

	if (!target_running(pid_tgid >> 32))
		return 0;
	c = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	c->ssl = ssl;
	c->buf = buf;
	c->outp = outp;
	c->dir = dir;
	c->ts = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int ssl_exit(long ret, bool ex)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), NULL, 0);
	__u64 n = 0, *cookie;

	if (!c || !c->ts)
		return 0;
	if (ex) {
		if (ret == 1 && c->outp)
			bpf_probe_read_user(&n, sizeof(n), (const void *)c->outp);
	} else if (ret > 0) {
		n = ret;
	}
	if (n && running && labels) {
		/* no socket I/O seen inside an SSL call of this object yet (a
		 * memory BIO, as asyncio's): its address keys its stream */
		__u64 now = bpf_ktime_get_ns();

		cookie = bpf_map_lookup_elem(&ssl_conn, &c->ssl);
		emit_data(pid_tgid, c->dir == PLW_DIR_SEND ? backdate(c->ts, now) : now,
			  cookie ? *cookie : c->ssl, -1, c->dir,
			  cookie ? PLW_LABEL_TLS : PLW_LABEL_TLS | PLW_NET_DATA_SSL_KEY, c->buf, n, n);
	}
	c->ts = 0;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_entry, void *ssl, const void *buf, int num)
{
	return ssl_entry((__u64)ssl, (__u64)buf, 0, PLW_DIR_SEND);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_entry, void *ssl, void *buf, int num)
{
	return ssl_entry((__u64)ssl, (__u64)buf, 0, PLW_DIR_RECV);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written)
{
	return ssl_entry((__u64)ssl, (__u64)buf, (__u64)written, PLW_DIR_SEND);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_entry((__u64)ssl, (__u64)buf, (__u64)readbytes, PLW_DIR_RECV);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_ret, long ret)
{
	return ssl_exit((int)ret, false);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_ex_ret, long ret)
{
	return ssl_exit((int)ret, true);
}
