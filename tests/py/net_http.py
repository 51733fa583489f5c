"""Network target: a stdlib HTTP server (a thread of this process) and an
http.client client doing N requests over one keep-alive connection, each
with a known W3C traceparent, a secret in the query string, in a header and
in the body.  With --tls CERT KEY both ends speak TLS (libssl).
usage: /usr/bin/python3.11 net_http.py GT_JSON N [--tls CERT KEY]
Ground truth: ports, fds, thread ids, traceparents, paths, statuses, secrets."""
import http.client
import http.server
import os
import ssl
import sys
import threading

import _gate

SECRET = os.urandom(16).hex()
server_side = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        self.reply(201)

    def reply(self, status):
        server_side["tid"] = threading.get_native_id()
        server_side["fd"] = self.connection.fileno()
        body = ("ok %s %s" % (self.path, SECRET)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", SECRET)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    _gate.announce()
    n = int(sys.argv[2])
    tls = len(sys.argv) > 3 and sys.argv[3] == "--tls"
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(sys.argv[4], sys.argv[5])
        srv.socket = sctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    t.start()
    _gate.gate()
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
    else:
        c = http.client.HTTPConnection("127.0.0.1", port)
    tps, paths, methods, statuses = [], [], [], []
    for i in range(n):
        tp = "00-%s-%s-01" % (os.urandom(16).hex(), os.urandom(8).hex())
        path = "/api/item/%d" % i
        headers = {"traceparent": tp, "Authorization": "Bearer " + SECRET}
        if i % 2:
            c.request("POST", path + "?token=" + SECRET, body=("{\"s\": \"%s\"}" % SECRET).encode(),
                      headers=headers)
            methods.append("POST")
        else:
            c.request("GET", path + "?token=" + SECRET, headers=headers)
            methods.append("GET")
        r = c.getresponse()
        r.read()
        tps.append(tp)
        paths.append(path)
        statuses.append(r.status)
    client_fd = c.sock.fileno()
    client_port = c.sock.getsockname()[1]
    c.close()
    srv.shutdown()
    srv.server_close()
    t.join()
    _gate.write_gt({"script": "net_http.py", "port": port, "client_port": client_port,
                    "client_fd": client_fd, "client_tid": threading.get_native_id(),
                    "server_fd": server_side["fd"], "server_tid": server_side["tid"],
                    "pid": os.getpid(), "traceparents": tps, "paths": paths,
                    "methods": methods, "statuses": statuses, "tls": tls,
                    "secrets": [SECRET]})


if __name__ == "__main__":
    main()
