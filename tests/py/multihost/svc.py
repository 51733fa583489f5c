"""The services of tests/integration/multihost.sh: one script, one role per
host, stdlib only (run with Debian's /usr/bin/python3.11, which has USDT).

    svc.py front  --listen IP:PORT --api URL           GT [--tls CERT KEY]
    svc.py api    --listen IP:PORT --stock URL --redis IP:PORT GT
    svc.py stock  --listen IP:PORT                     GT
    svc.py load   --target URL --n M [--concurrency C] GT [--cafile CERT]
    every role: [--no-traceparent] [--cafile CERT] (trust CERT for https URLs)

One request of the load generator, n = 0..M-1, makes this tree:

    client  GET /order/n                    (load generator, client span;
                                             n % 4 == 1: the head in 3 writes)
    front   GET /order/n                    server span
      front POST /v1/price/n                client span (new connection)
      api   POST /v1/price/n                server span
        api   redis GET item:n              one Redis connection per request
        api   redis SET item:n
        api   GET /stock/n                  two requests on one keep-alive
        stock GET /stock/n                  connection to stock
        api   GET /reserve/n?qty=1          (label: path without the query)
        stock GET /reserve/n                status 409 when n % 4 == 3

traceparent is propagated as OpenTelemetry does: a server span's parent is the
inbound traceparent's parent-id; every outbound HTTP request is a new client
span (new span id, same trace id) whose parent is the server span, and its id
is what the request's traceparent carries.  --no-traceparent: no header is
sent anywhere (the TCP fallback).

Ground truth: every role prints 'PID <pid>' first and 'READY' once it
listens (load: waits for the PYLOW_GATE file, see tests/py/_gate.py), and
appends one JSON line per span to GT: server spans {"kind":"server",...} and
client spans {"kind":"client","proto":"http"|"redis",...} with host
(uname), pid, tid, trace_id, span_id, parent_id, method, path, host header,
status, laddr/raddr ("ip:port" as the socket saw them) and times
(time.time_ns): client t0 before connect/send, ts once the request is
sent, th once the response's head is read, t1 after its body; server t0
once the request line is read, tr once the whole head is, tw before the
response is written, th once its head is written, t1 after its body.  The
client has the response once it is written, maybe before the server's
write returns: so t0 <= server t0 and server tw <= t1.  pylow's client
leaf runs from the request's send to the response head's receipt (ts..th),
its server span from the request head's receipt to the response head's
send (tr..th).
"""
import argparse
import http.client
import http.server
import json
import os
import secrets
import socket
import socketserver
import ssl
import sys
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import _gate  # noqa: E402

HOST = os.uname().nodename
OPT = None
GT_LOCK = threading.Lock()


def gt(rec):
    rec.setdefault("host", HOST)
    rec.setdefault("pid", os.getpid())
    rec.setdefault("tid", threading.get_native_id())
    line = json.dumps(rec, sort_keys=True) + "\n"
    with GT_LOCK:
        with open(OPT.gt, "a") as f:
            f.write(line)


def addr(a):
    return "%s:%d" % (a[0], a[1])


def new_span():
    return secrets.token_hex(8)


def parse_traceparent(v):
    """(trace_id, parent_id) of a valid W3C traceparent, else (None, None)."""
    p = (v or "").strip().split("-")
    if len(p) == 4 and p[0] == "00" and len(p[1]) == 32 and len(p[2]) == 16 and len(p[3]) == 2:
        try:
            int(p[1], 16), int(p[2], 16), int(p[3], 16)
        except ValueError:
            return None, None
        return p[1], p[2]
    return None, None


# ---------------------------------------------------------------- HTTP client

class Upstream:
    """One HTTP(S) peer; conn() opens a new connection."""

    def __init__(self, url):
        u = urlsplit(url)
        self.tls = u.scheme == "https"
        self.host = u.hostname
        self.port = u.port or (443 if self.tls else 80)
        self.hostport = "%s:%d" % (self.host, self.port)

    def conn(self):
        if self.tls:
            ctx = ssl.create_default_context(cafile=OPT.cafile)
            c = http.client.HTTPSConnection(self.host, self.port, timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        return c


def http_call(up, conn, method, path, trace_id, parent, body=None, split=False):
    """One client span: a request on conn (connected on first use).  split:
    the request head goes out in three writes 3 ms apart (the server's
    buffered reader then reads it in pieces too)."""
    span = new_span()
    headers = {"Host": up.hostport}
    if trace_id and not OPT.no_traceparent:
        headers["traceparent"] = "00-%s-%s-01" % (trace_id, span)
    if body is not None:
        headers["Content-Type"] = "application/json"
    t0 = time.time_ns()
    if conn.sock is None:
        conn.connect()
    if split:
        head = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join(
            "%s: %s\r\n" % kv for kv in headers.items()))
        head = head.encode()
        for a, b in ((0, 9), (9, 40), (40, len(head))):
            if a:
                time.sleep(0.003)
            conn.sock.sendall(head[a:b])
        ts = time.time_ns()
        r = http.client.HTTPResponse(conn.sock, method=method)
        r.begin()
    else:
        conn.request(method, path, body=body, headers=headers)
        ts = time.time_ns()
        r = conn.getresponse()
    th = time.time_ns()
    data = r.read()
    t1 = time.time_ns()
    s = conn.sock
    gt({"kind": "client", "proto": "http", "trace_id": trace_id, "span_id": span,
        "parent_id": parent, "method": method, "path": path.split("?")[0],
        "host_header": up.hostport, "status": r.status, "tls": up.tls,
        "traceparent": "traceparent" in headers, "split": split,
        "laddr": addr(s.getsockname()), "raddr": addr(s.getpeername()),
        "t0": t0, "ts": ts, "th": th, "t1": t1})
    return r.status, data


# ---------------------------------------------------------------- Redis client

class Redis:
    """A minimal RESP client: commands as arrays of bulk strings."""

    def __init__(self, hostport):
        h, p = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((h, int(p)), timeout=10)
        self.f = self.sock.makefile("rb")

    def reply(self):
        line = self.f.readline()
        if not line:
            raise IOError("redis closed the connection")
        t, v = line[:1], line[1:-2]
        if t in (b"+", b"-"):
            if t == b"-":
                raise IOError("redis error: %s" % v.decode())
            return v.decode()
        if t == b":":
            return int(v)
        if t == b"$":
            n = int(v)
            if n < 0:
                return None
            d = self.f.read(n + 2)
            return d[:-2]
        raise IOError("unexpected redis reply %r" % line)

    def call(self, trace_id, parent, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        t0 = time.time_ns()
        self.sock.sendall(b"".join(out))
        v = self.reply()
        t1 = time.time_ns()
        gt({"kind": "client", "proto": "redis", "trace_id": trace_id, "span_id": new_span(),
            "parent_id": parent, "method": str(args[0]).upper(), "path": str(args[1]),
            "laddr": addr(self.sock.getsockname()), "raddr": addr(self.sock.getpeername()),
            "t0": t0, "t1": t1})
        return v

    def close(self):
        self.f.close()
        self.sock.close()


# ---------------------------------------------------------------- the servers

def front_order(h, n, trace_id, span):
    time.sleep(0.002)
    c = OPT.api_up.conn()
    try:
        st, data = http_call(OPT.api_up, c, "POST", "/v1/price/%d" % n, trace_id, span,
                             body=json.dumps({"item": n}).encode())
    finally:
        c.close()
    return (200 if st == 200 else 502), data


def api_price(h, n, trace_id, span):
    r = Redis(OPT.redis)
    try:
        cached = r.call(trace_id, span, "GET", "item:%d" % n)
        r.call(trace_id, span, "SET", "item:%d" % n, "price-%d" % (100 + n))
    finally:
        r.close()
    c = OPT.stock_up.conn()
    try:
        st1, _ = http_call(OPT.stock_up, c, "GET", "/stock/%d" % n, trace_id, span)
        st2, _ = http_call(OPT.stock_up, c, "GET", "/reserve/%d?qty=1" % n, trace_id, span)
    finally:
        c.close()
    body = {"item": n, "cached": cached is not None, "stock": st1, "reserve": st2}
    return 200, json.dumps(body).encode()


def stock_get(h, n, trace_id, span):
    time.sleep(0.010)
    return 200, b'{"in_stock": true}'


def stock_reserve(h, n, trace_id, span):
    time.sleep(0.005)
    if n % 4 == 3:
        return 409, b'{"reserved": false}'
    return 200, b'{"reserved": true}'


ROUTES = {
    ("front", "GET", "order"): front_order,
    ("api", "POST", "price"): api_price,
    ("stock", "GET", "stock"): stock_get,
    ("stock", "GET", "reserve"): stock_reserve,
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as a real service

    def log_message(self, *a):
        pass

    def parse_request(self):
        self.t0 = time.time_ns()    # the request line has been read
        ok = super().parse_request()
        self.tr = time.time_ns()    # and the rest of the head
        return ok

    def serve(self):
        if self.headers.get("Content-Length"):
            self.rfile.read(int(self.headers["Content-Length"]))
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        trace_id, parent = parse_traceparent(self.headers.get("traceparent"))
        span = new_span()
        fn = ROUTES.get((OPT.role, self.command, parts[-2] if len(parts) >= 2 else ""))
        if fn is None:
            st, body = 404, b"{}"
        else:
            st, body = fn(self, int(parts[-1]), trace_id, span)
        tw = time.time_ns()
        self.send_response(st)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        th = time.time_ns()         # the response's head is written
        self.wfile.write(body)
        self.wfile.flush()
        t1 = time.time_ns()
        s = self.connection
        gt({"kind": "server", "trace_id": trace_id, "span_id": span, "parent_id": parent,
            "method": self.command, "path": path, "host_header": self.headers.get("Host"),
            "status": st, "tls": isinstance(s, ssl.SSLSocket),
            "traceparent": self.headers.get("traceparent") is not None,
            "laddr": addr(s.getsockname()), "raddr": addr(s.getpeername()),
            "t0": self.t0, "tr": self.tr, "tw": tw, "th": th, "t1": t1})

    do_GET = serve
    do_POST = serve


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve():
    ip, port = OPT.listen.rsplit(":", 1)
    srv = Server((ip, int(port)), Handler)
    if OPT.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(OPT.tls[0], OPT.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("READY", flush=True)
    srv.serve_forever(poll_interval=0.05)


# ---------------------------------------------------------------- load

def load():
    _gate.gate()
    up = Upstream(OPT.target)
    todo = list(range(OPT.n))
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                n = todo.pop(0)
            # the load generator's own root span, and its client span below it
            trace_id = None if OPT.no_traceparent else secrets.token_hex(16)
            root = new_span()
            c = up.conn()
            try:
                st, _ = http_call(up, c, "GET", "/order/%d" % n, trace_id, root, split=n % 4 == 1)
                if st != 200:
                    errors.append("request %d: status %d" % (n, st))
            except Exception as e:  # noqa: BLE001 -- reported, the test fails
                errors.append("request %d: %r" % (n, e))
            finally:
                c.close()

    ts = [threading.Thread(target=worker, name="load-%d" % i) for i in range(OPT.concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for e in errors:
        print("load:", e, file=sys.stderr)
    print("DONE", flush=True)
    sys.exit(1 if errors else 0)


def main():
    global OPT
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["front", "api", "stock", "load"])
    ap.add_argument("gt")
    ap.add_argument("--listen")
    ap.add_argument("--api")
    ap.add_argument("--stock")
    ap.add_argument("--redis")
    ap.add_argument("--target")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--cafile")
    ap.add_argument("--no-traceparent", action="store_true")
    OPT = ap.parse_args()
    OPT.api_up = Upstream(OPT.api) if OPT.api else None
    OPT.stock_up = Upstream(OPT.stock) if OPT.stock else None
    _gate.announce()
    if OPT.role == "load":
        load()
    else:
        serve()


if __name__ == "__main__":
    main()
