"""Privacy target: moves a secret through a file, a pipe and a TCP socket on
127.0.0.1, and passes it as a function argument; none of it may appear in a
recording.  usage: /usr/bin/python3.11 secret.py GT_JSON DIR
The secret is env PYLOW_SECRET (so the environment is covered too) plus a
random 32-hex string made here; both go to GT_JSON."""
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
        for _ in range(3):
            handle(s)
    _gate.write_gt({"script": "secret.py", "secrets": [secret, env]})


if __name__ == "__main__":
    main()
