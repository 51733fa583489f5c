#!/usr/bin/env python3
# mk_net.py - writes the multi-host plwgen scripts net-*.txt (report flow /
# stitch / hosts across files).  Run from tests/golden/gen: ./mk_net.py
#
# Three services on three hosts, two requests (trace ids 4bf9...01, ...02)
# over keep-alive connections:
#   svc-a 10.0.0.1  handle_checkout -> load_session -> [redis GET session:42]
#                                   -> call_b -> GET svc-b:8000/price
#   svc-b 10.0.0.2  GET /price -> do_GET -> get_price -> POST svc-c:8000/stock
#   svc-c 10.0.0.3  POST /stock -> do_POST -> query_stock -> [sql SELECT stock]
# Redis and Postgres (10.0.0.9) are not recorded.  Each host has its own
# monotonic clock (different boot times); true time T maps to
# mono = T + BASE[h] and tod = EPOCH + T (+ SHIFT[h]).
#
# Variants:  net-{a,b,c}       traceparent everywhere, clocks right
#            netshift-b        svc-b's wall clock 5 s ahead (+ one more
#                              clock_ref pair mid-recording)
#            notp-{a,b,c}      no traceparent: joined by TCP connection
#            boot-{a,b}        svc-a and svc-b both named "box" (two machines,
#                              told apart by their boot ids)
import os

MS = 1000000
EPOCH = 1700000000 * 1000000000
BASE = {"a": 1000 * MS, "b": 7000 * MS, "c": 3000 * MS}
PID = {"a": 100, "b": 200, "c": 300}
TID = {"a": 100, "b": 201, "c": 301}
LOCS = {
    "a": [(1, 10, "handle_checkout", "a.py"), (2, 20, "load_session", "a.py"),
          (3, 30, "call_b", "a.py")],
    "b": [(1, 5, "handle", "socketserver.py"), (2, 40, "do_GET", "b.py"),
          (3, 50, "get_price", "b.py")],
    "c": [(1, 5, "handle", "socketserver.py"), (2, 40, "do_POST", "c.py"),
          (3, 60, "query_stock", "c.py")],
}
IP = {"a": "10.0.0.1", "b": "10.0.0.2", "c": "10.0.0.3"}


def tp(k, span, on):
    if not on:
        return "-"
    return "00-4bf92f3577b34da6a3ce929d0e0e47%02d-%s-01" % (k + 1, span)


def events(h, with_tp):
    """(true time ns, line with {ts}) for host h"""
    ev = []
    p, t = PID[h], TID[h]
    ms = lambda x: int(x * MS)
    if h == "a":
        ev.append((ms(50), "conn {ts} %d %d connect 5 10.0.0.1:40000 10.0.0.9:6379 501 0 0" % (p, t)))
        ev.append((ms(50.1), "conn {ts} %d %d connect 6 10.0.0.1:40001 10.0.0.2:8000 502 0 0" % (p, t)))
    if h == "b":
        ev.append((ms(10), "conn {ts} %d %d listen 3 0.0.0.0:8000 0.0.0.0:0 901 0 0" % (p, p)))
        ev.append((ms(50.2), "conn {ts} %d %d accept 4 10.0.0.2:8000 10.0.0.1:40001 902 0 0" % (p, p)))
        ev.append((ms(50.3), "entry {ts} %d %d 1" % (p, t)))
        ev.append((ms(50.5), "conn {ts} %d %d connect 5 10.0.0.2:40100 10.0.0.3:8000 903 0 0" % (p, t)))
        ev.append((ms(2000), "return {ts} %d %d 1" % (p, t)))
    if h == "c":
        ev.append((ms(10), "conn {ts} %d %d listen 3 0.0.0.0:8000 0.0.0.0:0 1901 0 0" % (p, p)))
        ev.append((ms(50.7), "conn {ts} %d %d accept 4 10.0.0.3:8000 10.0.0.2:40100 1903 0 0" % (p, p)))
        ev.append((ms(50.8), "entry {ts} %d %d 1" % (p, t)))
        ev.append((ms(50.9), "conn {ts} %d %d connect 5 10.0.0.3:40200 10.0.0.9:5432 1904 0 0" % (p, t)))
        ev.append((ms(2000), "return {ts} %d %d 1" % (p, t)))
    for k in range(2):
        S = 100 + k * 1000
        T = lambda x: ms(S + x)
        pre = "label {ts} %d %d " % (p, t)
        if h == "a":
            ev += [
                (T(0), "entry {ts} %d %d 1" % (p, t)),
                (T(1), "entry {ts} %d %d 2" % (p, t)),
                (T(1.1), pre + "501 5 send redis 0 0 GET session:42 - -"),
                (T(3), pre + "501 5 recv redis 0 0 - - - -"),
                (T(3.2), "return {ts} %d %d 2" % (p, t)),
                (T(4), "entry {ts} %d %d 3" % (p, t)),
                (T(4.5), pre + "502 6 send http_req 0 0 GET /price svc-b:8000 " + tp(k, "00f067aa0ba902b7", with_tp)),
                (T(10.6), pre + "502 6 recv http_resp 200 0 - - - -"),
                (T(11), "return {ts} %d %d 3" % (p, t)),
                (T(12), "return {ts} %d %d 1" % (p, t)),
            ]
        if h == "b":
            ev += [
                (T(5.0), pre + "902 4 recv http_req 0 0 GET /price svc-b:8000 " + tp(k, "00f067aa0ba902b7", with_tp)),
                (T(5.1), "entry {ts} %d %d 2" % (p, t)),
                (T(5.2), "entry {ts} %d %d 3" % (p, t)),
                (T(6.0), pre + "903 5 send http_req 0 0 POST /stock svc-c:8000 " + tp(k, "b7ad6b7169203331", with_tp)),
                (T(9.5), pre + "903 5 recv http_resp 200 0 - - - -"),
                (T(9.6), "return {ts} %d %d 3" % (p, t)),
                (T(10.0), pre + "902 4 send http_resp 200 0 - - - -"),
                (T(10.1), "return {ts} %d %d 2" % (p, t)),
            ]
        if h == "c":
            ev += [
                (T(6.4), pre + "1903 4 recv http_req 0 0 POST /stock svc-c:8000 " + tp(k, "b7ad6b7169203331", with_tp)),
                (T(6.5), "entry {ts} %d %d 2" % (p, t)),
                (T(6.6), "entry {ts} %d %d 3" % (p, t)),
                (T(6.7), pre + "1904 5 send pg 0 0 SELECT stock - -"),
                (T(8.7), pre + "1904 5 recv pg 0 0 - - - -"),
                (T(8.8), "return {ts} %d %d 3" % (p, t)),
                (T(9.0), pre + "1903 4 send http_resp 200 0 - - - -"),
                (T(9.1), "return {ts} %d %d 2" % (p, t)),
            ]
    return sorted(ev, key=lambda e: e[0])


def write(name, h, with_tp, shift=0, mid_ref=False, comment="", hostname=None, boot=None):
    base = BASE[h]
    lines = ["# %s: host svc-%s of the mk_net.py scenario%s (generated by mk_net.py)" % (name, h, comment)]
    lines.append("exec %d %d %d python3.11" % (base + 1 * MS, PID[h], PID[h]))
    lines.append("meta hostname %s" % (hostname or "svc-" + h))
    if boot:
        lines.append("meta boot_id %s" % boot)
    lines.append("meta tod_ns %d" % (EPOCH + 1 * MS + shift))
    lines.append("meta mono_ns %d" % (base + 1 * MS))
    for l in LOCS[h]:
        lines.append("loc %d %d %s %s" % l)
    done_ref = False
    for T, line in events(h, with_tp):
        if mid_ref and not done_ref and T >= 500 * MS:
            lines.append("meta clock_ref %d %d" % (base + 500 * MS, EPOCH + 500 * MS + shift))
            done_ref = True
        lines.append(line.format(ts=base + T))
    lines.append("meta clock_ref %d %d" % (base + 2001 * MS, EPOCH + 2001 * MS + shift))
    with open(name + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


os.chdir(os.path.dirname(os.path.abspath(__file__)))
for h in "abc":
    write("net-" + h, h, True)
    write("notp-" + h, h, False, comment=", without traceparent")
write("netshift-b", "b", True, shift=5000 * MS, mid_ref=True,
      comment=", its wall clock 5 s ahead")
write("boot-a", "a", True, hostname="box", boot="1111aaaa-0000-4000-8000-000000000001",
      comment=", named box")
write("boot-b", "b", True, shift=2000 * MS, hostname="box",
      boot="2222bbbb-0000-4000-8000-000000000002", comment=", named box, clock 2 s ahead")
