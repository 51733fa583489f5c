"""Privacy target: moves a secret through a file, a pipe and a TCP socket on
127.0.0.1, through HTTP (query string, a header other than the labelled
ones, the body, the response) and a Redis exchange (a RESP value, to a
RESP-speaking server thread), and passes it as a function argument; none of
it may appear in a recording (protocol labels on: only method, path, Host,
traceparent, status, command and key are kept).  usage: /usr/bin/python3.11 secret.py GT_JSON DIR
The secret is env PYLOW_SECRET (so the environment is covered too) plus a
random 32-hex string made here; both go to GT_JSON."""
import http.client
import http.server
import os
import socket
import sys
import threading

import _gate


def handle(token):
    return len(token) + token.count("a")


def via_file(path, token):
    with open(path, "w") as f:
        f.write(token)
    with open(path) as f:
        return f.read()


def via_pipe(token):
    r, w = os.pipe()
    os.write(w, token.encode())
    os.close(w)
    got = os.read(r, 100).decode()
    os.close(r)
    return got


def serve(srv, out):
    c, _ = srv.accept()
    out.append(c.recv(100).decode())
    c.sendall(out[-1].encode())
    c.close()


def via_tcp(token):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []
    t = threading.Thread(target=serve, args=(srv, got))
    t.start()
    c = socket.create_connection(srv.getsockname())
    c.sendall(token.encode())
    back = c.recv(100).decode()
    c.close()
    t.join()
    srv.close()
    return back


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Secret", self.headers["X-Secret"])
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def via_http(token):
    srv = http.server.HTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.handle_request)
    t.start()
    c = http.client.HTTPConnection("127.0.0.1", srv.server_address[1])
    c.request("POST", "/echo?token=" + token, body=token.encode(), headers={"X-Secret": token})
    r = c.getresponse()
    back = r.read().decode()
    assert r.getheader("X-Secret") == token
    c.close()
    t.join()
    srv.server_close()
    return back


def redis_server(srv, out):
    c, _ = srv.accept()
    f = c.makefile("rb")
    assert f.readline() == b"*3\r\n"
    args = []
    for _ in range(3):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:-2])
    out.append(args[2].decode())
    c.sendall(b"+OK\r\n")
    c.close()


def via_redis(token):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []
    t = threading.Thread(target=redis_server, args=(srv, got))
    t.start()
    c = socket.create_connection(srv.getsockname())
    v = token.encode()
    c.sendall(b"*3\r\n$3\r\nSET\r\n$7\r\nsession\r\n$%d\r\n%s\r\n" % (len(v), v))
    assert c.recv(100) == b"+OK\r\n"
    c.close()
    t.join()
    srv.close()
    return got[0]


def main():
    _gate.announce()
    _gate.gate()
    secret = os.urandom(16).hex()
    env = os.environ.get("PYLOW_SECRET", "")
    for s in (secret, env):
        if not s:
            continue
        assert via_file(os.path.join(sys.argv[2], "secret.txt"), s) == s
        assert via_pipe(s) == s
        assert via_tcp(s) == s
        assert via_http(s) == s
        assert via_redis(s) == s
        for _ in range(3):
            handle(s)
    _gate.write_gt({"script": "secret.py", "secrets": [secret, env],
                    "calls": {"handle": 3 * sum(1 for s in (secret, env) if s)}})


if __name__ == "__main__":
    main()
