"""stitch_svc.py PORTFILE [NEXT_URL] - a stdlib HTTP service for the
multi-host report tests (tests/integration/run.sh t_net_stitch_local).

Listens on 127.0.0.1 (a free port, written to PORTFILE), answers GET with
200.  With NEXT_URL it calls that service first, propagating traceparent as
OpenTelemetry does: same trace id, its own new span id as the parent id; a
request without traceparent is forwarded without one.
"""
import http.server
import os
import socketserver
import sys
import time
import urllib.request


def work():
    time.sleep(0.003)


def call_next(url, tp):
    headers = {}
    if tp:
        trace = tp.split('-')[1]
        headers['traceparent'] = '00-%s-%s-01' % (trace, os.urandom(8).hex())
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
        return r.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        work()
        body = call_next(NEXT, self.headers.get('traceparent')) if NEXT else b'ok'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


NEXT = sys.argv[2] if len(sys.argv) > 2 else None
srv = Server(('127.0.0.1', 0), Handler)
tmp = sys.argv[1] + '.tmp'
with open(tmp, 'w') as f:
    f.write('%d\n' % srv.server_address[1])
os.rename(tmp, sys.argv[1])
srv.serve_forever()
