"""Checks of the network layer for tests/integration/run.sh, from
`pylow report timeline --json` (its net_conn / net_label events) against the
ground truth the tests/py/net_*.py scripts wrote.

usage: netcheck.py CHECK ARGS...   (exit 0: pass; 1: mismatch, explained)
  http GT TIMELINE     tests/py/net_http.py: exactly N SEND http_req labels on
                       the client thread with the traceparents, methods and
                       paths (no query) in order, N RECV on the server thread,
                       N responses each way with the statuses; listen,
                       connect, accept, close with the right ports, fds and
                       conns; labels on the conns of their sockets; TLS
                       labels flagged (and plain ones not) as GT says
  redis GT TIMELINE    tests/py/net_redis.py: the commands and first keys,
                       in order, on the client's connection
  pg GT TIMELINE       tests/py/net_pg.py: the (keyword, table) of each Q and
                       P message, sent by the client and received by the
                       server thread, on their fds; Unix socket lifecycle
  attach SGT CGT TL    net_server.py recorded with -p on [::1], its client not:
                       requests after the attach on a connection accepted
                       before it, and on a new one, labelled in order with
                       their traceparents and statuses; one ACCEPT (IPv6,
                       the client's port), both connections closed
  nolabels TIMELINE    no net_label at all, and net_conn events present"""
import json
import sys


def load(p):
    with open(p) as f:
        return json.load(f)


def events(tl, kind):
    return [e for e in load(tl)["events"] if e["event"] == kind]


def expect(ok, what, errs):
    if not ok:
        errs.append(what)


def check_http(gt, tl):
    g, errs = load(gt), []
    labels, conns = events(tl, "net_label"), events(tl, "net_conn")
    n, tls = len(g["traceparents"]), g["tls"]
    host = "127.0.0.1:%d" % g["port"]

    def sel(tid, d, proto):
        return [e for e in labels if e["tid"] == tid and e["dir"] == d and e["proto"] == proto]

    creq = sel(g["client_tid"], "send", "http_req")
    sreq = sel(g["server_tid"], "recv", "http_req")
    sresp = sel(g["server_tid"], "send", "http_resp")
    cresp = sel(g["client_tid"], "recv", "http_resp")
    print("labels: client sent %d requests, received %d responses; server received %d, sent %d; "
          "%d labels in all" % (len(creq), len(cresp), len(sreq), len(sresp), len(labels)))
    expect(len(labels) == 4 * n, "%d labels in all, want %d" % (len(labels), 4 * n), errs)
    for name, got in (("client requests", creq), ("server requests", sreq)):
        expect([e["traceparent"] for e in got] == g["traceparents"], name + ": traceparents differ", errs)
        expect([e["target"] for e in got] == g["paths"], name + ": paths differ", errs)
        expect([e["method"] for e in got] == g["methods"], name + ": methods differ", errs)
        expect(all(e["host"] == host for e in got), name + ": host is not " + host, errs)
    for name, got in (("server responses", sresp), ("client responses", cresp)):
        expect([e["status"] for e in got] == g["statuses"], name + ": statuses differ", errs)
    expect(all(e["tls"] == tls for e in labels), "labels not all tls=%s" % tls, errs)
    # the order on each side: request, then its response
    for side, reqs, resps in (("client", creq, cresp), ("server", sreq, sresp)):
        expect(all(a["ts"] < b["ts"] for a, b in zip(reqs, resps)), side + ": a response before its request", errs)
    # lifecycle
    by = {}
    for e in conns:
        by.setdefault(e["op"], []).append(e)
    lis = [e for e in by.get("listen", []) if e["lport"] == g["port"]]
    con = [e for e in by.get("connect", []) if e["rport"] == g["port"]]
    acc = [e for e in by.get("accept", []) if e["lport"] == g["port"]]
    print("conns: %s" % ", ".join("%s %d" % (k, len(v)) for k, v in sorted(by.items())))
    expect(len(lis) == 1 and len(con) == 1 and len(acc) == 1, "want one listen, connect, accept on the port", errs)
    if len(con) == 1 and len(acc) == 1:
        c, a = con[0], acc[0]
        expect(c["lport"] == g["client_port"] and a["rport"] == g["client_port"], "client port wrong", errs)
        expect(c["fd"] == g["client_fd"] and a["fd"] == g["server_fd"], "fds wrong: connect %d accept %d, want %d %d"
               % (c["fd"], a["fd"], g["client_fd"], g["server_fd"]), errs)
        expect(c["tid"] == g["client_tid"] and a["tid"] == g["server_tid"], "connect/accept threads wrong", errs)
        expect(c["local"] == "127.0.0.1:%d" % g["client_port"] and c["peer"] == host, "connect addresses wrong", errs)
        expect(c["conn"] and a["conn"] and c["conn"] != a["conn"], "conns not set or equal", errs)
        expect(all(e["conn"] == c["conn"] and e["fd"] == g["client_fd"] for e in creq + cresp),
               "client labels not on the client's conn and fd", errs)
        expect(all(e["conn"] == a["conn"] and e["fd"] == g["server_fd"] for e in sreq + sresp),
               "server labels not on the server's conn and fd", errs)
        cc = [e for e in by.get("close", []) if e["conn"] == c["conn"]]
        ac = [e for e in by.get("close", []) if e["conn"] == a["conn"]]
        expect(len(cc) == 1 and len(ac) == 1, "want one close of each end", errs)
        if len(cc) == 1 and len(ac) == 1:
            print("bytes: client sent %d received %d; server sent %d received %d"
                  % (cc[0]["bytes_tx"], cc[0]["bytes_rx"], ac[0]["bytes_tx"], ac[0]["bytes_rx"]))
            expect(cc[0]["bytes_tx"] == ac[0]["bytes_rx"] > 0 and cc[0]["bytes_rx"] == ac[0]["bytes_tx"] > 0,
                   "bytes of the two ends do not match", errs)
            expect(cc[0]["lport"] == g["client_port"] and ac[0]["lport"] == g["port"] and
                   cc[0]["fd"] == g["client_fd"] and ac[0]["fd"] == g["server_fd"], "close ports or fds wrong", errs)
            expect(cc[0]["ts"] > max(e["ts"] for e in creq + cresp), "client closed before its last label", errs)
    return errs


def check_redis(gt, tl):
    g, errs = load(gt), []
    all_ = [e for e in events(tl, "net_label") if e["proto"] == "redis"]
    labels = [e for e in all_ if e["method"]]
    replies = [e for e in all_ if not e["method"]]
    got = [[e["method"], e["target"]] for e in labels]
    print("redis labels: %s; %d replies" % (" ".join("%s:%s" % tuple(x) for x in got), len(replies)))
    expect(got == g["commands"], "commands differ from %s" % g["commands"], errs)
    # one reply label per command, received on the same conn, each after its command
    expect(len(replies) == len(labels), "%d replies, want %d" % (len(replies), len(labels)), errs)
    expect(all(r["dir"] == "recv" and not r["target"] and r["conn"] == c["conn"] and r["ts"] >= c["ts"]
               for c, r in zip(labels, replies)), "replies not after their commands on the conn", errs)
    expect(all(e["dir"] == "send" and e["fd"] == g["fd"] for e in labels), "not SEND on the client's fd", errs)
    expect(len({e["conn"] for e in labels}) == 1, "not one conn", errs)
    conn = [e for e in events(tl, "net_conn") if e["op"] == "connect"]
    expect(len(conn) == 1 and labels and conn[0]["conn"] == labels[0]["conn"], "connect's conn differs", errs)
    return errs


def check_pg(gt, tl):
    g, errs = load(gt), []
    all_ = [e for e in events(tl, "net_label") if e["proto"] == "pg"]
    labels = [e for e in all_ if e["method"]]
    sent = [e for e in labels if e["dir"] == "send" and e["tid"] == g["client_tid"]]
    got = [e for e in labels if e["dir"] == "recv" and e["tid"] == g["server_tid"]]
    # ReadyForQuery: after the startup and after each query, on both ends
    ready_c = [e for e in all_ if not e["method"] and e["dir"] == "recv" and e["tid"] == g["client_tid"]]
    ready_s = [e for e in all_ if not e["method"] and e["dir"] == "send" and e["tid"] == g["server_tid"]]
    print("pg replies (ReadyForQuery): client received %d, server sent %d" % (len(ready_c), len(ready_s)))
    # the server thread reads the startup message 4 bytes first (its length):
    # PostgreSQL is recognised on its side only at the first query, after
    # its answer to the startup; the client wrote the startup in one piece
    expect(len(ready_c) == 1 + len(g["queries"]) and len(ready_s) == len(g["queries"]),
           "want %d ReadyForQuery received, %d sent" % (1 + len(g["queries"]), len(g["queries"])), errs)
    expect(all(q["ts"] <= r["ts"] for q, r in zip(sent, ready_c[1:])), "a query's answer before it", errs)
    print("pg labels: sent %s; received %s" % (" ".join("%s:%s" % (e["method"], e["target"]) for e in sent),
                                              " ".join("%s:%s" % (e["method"], e["target"]) for e in got)))
    expect(len(labels) == 2 * len(g["queries"]), "%d pg labels, want %d" % (len(labels), 2 * len(g["queries"])), errs)
    expect([[e["method"], e["target"]] for e in sent] == g["queries"], "client's queries differ", errs)
    expect([[e["method"], e["target"]] for e in got] == g["queries"], "server's queries differ", errs)
    expect(all(e["fd"] == g["client_fd"] for e in sent) and all(e["fd"] == g["server_fd"] for e in got),
           "fds wrong", errs)
    conns = events(tl, "net_conn")
    ops = {(e["op"], e["fd"], e["family"]) for e in conns}
    expect(("connect", g["client_fd"], "unix") in ops and ("accept", g["server_fd"], "unix") in ops and
           ("listen", 3, "unix") in ops, "unix listen/connect/accept missing: %s" % sorted(ops), errs)
    cl = [e for e in conns if e["op"] == "close" and e["family"] == "unix" and e["fd"] in (g["client_fd"], g["server_fd"])]
    expect(len(cl) == 2, "want two closes of the connection's ends", errs)
    if len(cl) == 2:
        a, b = cl
        print("bytes: %d/%d and %d/%d" % (a["bytes_tx"], a["bytes_rx"], b["bytes_tx"], b["bytes_rx"]))
        expect(a["bytes_tx"] == b["bytes_rx"] > 0 and a["bytes_rx"] == b["bytes_tx"] > 0, "bytes do not match", errs)
        expect({a["conn"], b["conn"]} == {sent[0]["conn"] if sent else -1, got[0]["conn"] if got else -1},
               "close conns differ from the labels' conns", errs)
    return errs


def check_attach(sgt, cgt, tl):
    s, c, errs = load(sgt), load(cgt), []
    labels, conns = events(tl, "net_label"), events(tl, "net_conn")
    reqs = [e for e in labels if e["proto"] == "http_req" and e["dir"] == "recv"]
    resps = [e for e in labels if e["proto"] == "http_resp" and e["dir"] == "send"]
    n, m = c["n"], c["m"]
    print("attach: %d requests received, %d responses sent (want %d each)" % (len(reqs), len(resps), n + m))
    expect(len(labels) == 2 * (n + m), "%d labels, want %d" % (len(labels), 2 * (n + m)), errs)
    expect([e["traceparent"] for e in reqs] == c["traceparents"], "traceparents differ", errs)
    expect([e["status"] for e in resps] == c["statuses"], "statuses differ", errs)
    expect(all(e["target"].startswith("/conn") and "?" not in e["target"] for e in reqs), "paths wrong", errs)
    acc = [e for e in conns if e["op"] == "accept"]
    expect(len(acc) == 1, "%d accepts, want 1 (the first connection was accepted before the attach)" % len(acc), errs)
    if len(acc) == 1:
        a = acc[0]
        print("accept: %s %s <- %s fd %d" % (a["family"], a["local"], a["peer"], a["fd"]))
        expect(a["family"] == "ipv6" and a["peer"] == "[::1]:%d" % c["ports"][1] and
               a["local"] == "[::1]:%d" % s["port"], "accept addresses wrong", errs)
        expect(all(e["conn"] == a["conn"] for e in reqs[n:] + resps[n:]), "second connection's labels not on its conn", errs)
        expect(all(e["conn"] != a["conn"] and e["conn"] == reqs[0]["conn"] for e in reqs[:n] + resps[:n]),
               "first connection's labels not on one other conn", errs)
    fds = [x["fd"] for x in s["served"][1:]]
    expect([e["fd"] for e in reqs] == fds, "label fds differ from the server's", errs)
    closes = {e["conn"] for e in conns if e["op"] == "close"}
    expect(reqs and {reqs[0]["conn"], reqs[-1]["conn"]} <= closes, "connections not closed", errs)
    return errs


def check_nolabels(tl):
    errs = []
    n, c = len(events(tl, "net_label")), len(events(tl, "net_conn"))
    print("labels off: %d net_label, %d net_conn" % (n, c))
    expect(n == 0, "%d labels recorded with --labels=off" % n, errs)
    expect(c >= 4, "no socket lifecycle events", errs)
    return errs


def main():
    what = sys.argv[1]
    if what == "http":
        errs = check_http(sys.argv[2], sys.argv[3])
    elif what == "redis":
        errs = check_redis(sys.argv[2], sys.argv[3])
    elif what == "pg":
        errs = check_pg(sys.argv[2], sys.argv[3])
    elif what == "attach":
        errs = check_attach(sys.argv[2], sys.argv[3], sys.argv[4])
    elif what == "nolabels":
        errs = check_nolabels(sys.argv[2])
    else:
        sys.exit("netcheck: unknown check " + what)
    for e in errs:
        print("MISMATCH: " + e)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
