"""Network target for `record -p`: a stdlib HTTP/1.1 server on [::1] that
serves exactly CONNS connections (keep-alive, one after the other), then
writes its ground truth and exits.
usage: /usr/bin/python3.11 net_server.py GT_JSON CONNS
Prints 'PID <pid>' and 'PORT <port>'."""
import http.server
import os
import socket
import sys
import threading

import _gate

served = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        served.append({"fd": self.connection.fileno(), "tid": threading.get_native_id(),
                       "peer_port": self.client_address[1],
                       "traceparent": self.headers.get("traceparent", "")})
        body = b"hello"
        self.send_response(200 if len(served) % 3 else 202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server6(http.server.HTTPServer):
    address_family = socket.AF_INET6


def main():
    _gate.announce()
    srv = Server6(("::1", 0), Handler)
    print("PORT", srv.server_address[1], flush=True)
    for _ in range(int(sys.argv[2])):
        srv.handle_request()
    srv.server_close()
    _gate.write_gt({"script": "net_server.py", "port": srv.server_address[1], "pid": os.getpid(),
                    "served": served})


if __name__ == "__main__":
    main()
