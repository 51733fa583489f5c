"""pylow demo service: a small stdlib HTTP service whose requests have a shape
worth looking at (auth, a slow backend call, rendering).

usage: /usr/bin/python3.11 demo/service.py [--port N] [--port-file PATH]
Listens on 127.0.0.1 (port 0 = any free port; the port actually bound is
printed and written to --port-file).  GET /health answers at once; any other
GET path is a request that goes through handle_request()."""
import argparse
import hashlib
import json
import os
import random
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = {"alice": "s3cret", "bob": "hunter2", "carol": "pa55"}


def check_password(user, password):
    # a little CPU: key stretching, as a real service would do
    h = hashlib.pbkdf2_hmac("sha256", password.encode(), user.encode(), 2000)
    return h.hex()


def load_session(user):
    time.sleep(0.01 + random.random() * 0.01)   # a session store round trip
    return {"user": user, "roles": ["reader"]}


def authenticate_user(user):
    check_password(user, USERS.get(user, "x"))
    return load_session(user)


def call_backend(path):
    time.sleep(0.05 + random.random() * 0.05)   # a database query
    return [{"id": i, "path": path} for i in range(20)]


def call_llm_chain(prompt):
    # two model calls in a row, 100-300 ms in all
    parts = []
    for step in ("plan", "answer"):
        time.sleep(0.05 + random.random() * 0.10)
        parts.append("%s:%s" % (step, prompt))
    return " ".join(parts)


def format_row(row, session):
    # CPU work per row: what a template or serializer would do
    digest = 0
    for ch in "%s:%d:%s" % (session["user"], row["id"], row["path"]):
        digest = (digest * 31 + ord(ch)) & 0xFFFFFFFF
    return {"id": row["id"], "digest": digest}


def render_response(session, rows, text):
    body = {"user": session["user"], "text": text,
            "rows": [format_row(r, session) for r in rows]}
    return json.dumps(body).encode()


def handle_request(path):
    user = random.choice(list(USERS))
    session = authenticate_user(user)
    rows = call_backend(path)
    text = call_llm_chain(path) if "ask" in path else ""
    return render_response(session, rows, text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            body = handle_request(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    print("demo service pid %d listening on 127.0.0.1:%d" % (os.getpid(), port), flush=True)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    try:
        # a short poll interval keeps each accept-loop wait far shorter
        # than a request, so requests are the slow roots in a recording
        srv.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
