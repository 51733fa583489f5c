"""pylow demo load generator: N GET requests, C at a time, bounded in time.

usage: loadgen.py [--requests 24] [--concurrency 3] [--timeout 20] PORT
Prints one summary line; exits non-zero if any request failed."""
import argparse
import http.client
import sys
import threading
import time

PATHS = ["/orders/42", "/ask/summary", "/users/7", "/ask/recommend"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "fail": 0, "lat": []}

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= a.requests or time.monotonic() > deadline:
                    return
                state["next"] += 1
            t0 = time.monotonic()
            try:
                left = max(0.5, deadline - t0)
                c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=left)
                c.request("GET", PATHS[i % len(PATHS)])
                r = c.getresponse()
                r.read()
                c.close()
                good = r.status == 200
            except OSError:
                good = False
            with lock:
                state["ok" if good else "fail"] += 1
                state["lat"].append(time.monotonic() - t0)

    ts = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat = sorted(state["lat"]) or [0.0]
    print("loadgen: %d ok, %d failed, latency min %.0f ms, median %.0f ms, max %.0f ms"
          % (state["ok"], state["fail"], lat[0] * 1e3, lat[len(lat) // 2] * 1e3, lat[-1] * 1e3))
    return 0 if state["fail"] == 0 and state["ok"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
