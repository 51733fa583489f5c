"""Client of net_server.py (not recorded): one request on a keep-alive
connection, then 'READY' and a wait for the gate file (the recorder attaches
to the server meanwhile), then N more requests on that same connection and
M on a new one, each with a known traceparent.
usage: /usr/bin/python3.11 net_client.py GT_JSON PORT N M"""
import http.client
import os
import sys

import _gate


def main():
    port, n, m = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    c = http.client.HTTPConnection("::1", port)
    c.request("GET", "/before")
    c.getresponse().read()
    print("READY", flush=True)
    _gate.gate()
    tps, statuses, ports = [], [], []
    for k, count in ((0, n), (1, m)):
        if k:
            c.close()
            c = http.client.HTTPConnection("::1", port)
        for i in range(count):
            tp = "00-%s-%s-01" % (os.urandom(16).hex(), os.urandom(8).hex())
            c.request("GET", "/conn%d/%d?x=1" % (k, i), headers={"traceparent": tp})
            r = c.getresponse()
            r.read()
            tps.append(tp)
            statuses.append(r.status)
        ports.append(c.sock.getsockname()[1])
    c.close()
    _gate.write_gt({"script": "net_client.py", "traceparents": tps, "statuses": statuses,
                    "ports": ports, "n": n, "m": m})


if __name__ == "__main__":
    main()
