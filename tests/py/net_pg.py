"""Network target: a PostgreSQL client and a PostgreSQL-speaking server
thread (protocol 3: startup, simple query 'Q', extended Parse/Bind/Execute/
Sync) on a Unix socket, as libpq talks by default.  The client writes with
sendall and sendmsg, the server reads with recv and recvmsg.  Literals and
a bound parameter hold a secret.
usage: /usr/bin/python3.11 net_pg.py GT_JSON DIR
Ground truth: the (keyword, table) of each query in order, fds, threads."""
import os
import socket
import struct
import sys
import threading

import _gate

SECRET = os.urandom(16).hex()
QUERIES = [
    ("Q", "SELECT sku, n FROM stock WHERE sku = '%s'" % SECRET, ("SELECT", "stock")),
    ("P", "INSERT INTO orders (sku, note) VALUES ($1, $2)", ("INSERT", "orders")),
    ("Q", "/* restock */ UPDATE stock SET n = n + 1 WHERE sku = '%s'" % SECRET, ("UPDATE", "stock")),
]


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def read_msg(c, typed=True):
    hdr = b""
    n = 5 if typed else 4
    while len(hdr) < n:
        hdr += c.recv(n - len(hdr))
    ln = struct.unpack("!I", hdr[-4:])[0] - 4
    body = b""
    while len(body) < ln:
        body += c.recv(ln - len(body))
    return hdr[:1] if typed else b"", body


server_side = {}


def serve(srv):
    c, _ = srv.accept()
    server_side["tid"] = threading.get_native_id()
    server_side["fd"] = c.fileno()
    read_msg(c, typed=False)                       # StartupMessage
    c.sendall(msg(b"R", struct.pack("!I", 0)) + msg(b"Z", b"I"))
    while True:
        if server_side.get("use_recvmsg"):
            data, _, _, _ = c.recvmsg(65536)       # one whole message (the client's sendmsg)
            t = data[:1]
        else:
            t, _ = read_msg(c)
        if t == b"X":
            break
        # a simple query, or a Parse...Sync batch (one sendmsg): one reply
        c.sendall(msg(b"C", b"OK\0") + msg(b"Z", b"I"))
        server_side["use_recvmsg"] = True
    c.close()


def main():
    _gate.announce()
    path = os.path.join(sys.argv[2], ".s.PGSQL.5432")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    t = threading.Thread(target=serve, args=(srv,))
    t.start()
    _gate.gate()
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)
    params = b"user\0shop\0database\0shop\0password\0" + SECRET.encode() + b"\0\0"
    c.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    read_msg(c), read_msg(c)
    for kind, sql, _ in QUERIES:
        if kind == "Q":
            c.sendmsg([msg(b"Q", sql.encode() + b"\0")])
            read_msg(c), read_msg(c)
        else:
            p = msg(b"P", b"s1\0" + sql.encode() + b"\0" + struct.pack("!H", 0))
            v = SECRET.encode()
            b = msg(b"B", b"\0s1\0" + struct.pack("!HHI", 0, 1, len(v)) + v + struct.pack("!H", 0))
            e = msg(b"E", b"\0" + struct.pack("!I", 0))
            c.sendmsg([p + b + e + msg(b"S", b"")])
            read_msg(c), read_msg(c)
    client_fd = c.fileno()
    c.sendmsg([msg(b"X", b"")])
    t.join()
    c.close()
    srv.close()
    _gate.write_gt({"script": "net_pg.py", "queries": [list(q[2]) for q in QUERIES],
                    "client_fd": client_fd, "client_tid": threading.get_native_id(),
                    "server_fd": server_side["fd"], "server_tid": server_side["tid"],
                    "secrets": [SECRET]})


if __name__ == "__main__":
    main()
