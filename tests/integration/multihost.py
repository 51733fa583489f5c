"""Checks for tests/integration/multihost.sh: the ground truth that
tests/py/multihost/svc.py logged (GTDIR/HOST.jsonl, one span per line)
against `pylow report flow/stitch/hosts --json` over the hosts' files.

usage: multihost.py CHECK ARGS...   (exit 0: pass; 1: mismatch, explained)
  gt GTDIR M [--no-traceparent] [--tls]
        the ground truth itself: M requests, each with exactly the spans of
        svc.py's tree, OpenTelemetry parent links, one trace id per request
        (none with --no-traceparent), client and server ends of every
        exchange on the same TCP connection, server inside client in time
  info INFO HOST            report info names HOST as the file's host
  order DIR                 DIR/perf-HOST.out (perf script -F tid,time,event,
        trace --ns of each host's file; one machine, one monotonic clock):
        no HTTP request or response received before it was sent
  labels GTDIR HOST SCRIPT  the NET_LABEL events of HOST's file (SCRIPT:
        `perf script -F tid,event,trace` of it) are exactly those of HOST's
        spans in the ground truth: per HTTP client span SEND http_req
        (method, path, Host, traceparent as sent) and RECV http_resp
        (status) on the span's thread, per server span RECV http_req and
        SEND http_resp, per Redis command SEND redis (command, key); Redis
        replies, if labelled, are not counted.  Its NET_CONN connect and
        accept events are exactly one per connection of the ground truth
        (by local and peer port)
  tree GTDIR FLOW [--link traceparent|tcp] [--missing HOST [--alone H=FLOW]] [--tls]
        every HTTP exchange of the ground truth is a client leaf on the
        caller's host (label: method and path) with the server's request
        span (on the callee's host, same label) as its child, linked by
        --link, trace/span ids as sent; each request's nodes form one tree;
        api's Redis GET/SET are leaves under api's span.  --missing HOST:
        HOST's file was left out: no node of HOST, the calls into HOST end
        unlinked (link null), everything else as without --missing; with
        --alone H=FLOW (report flow of H's file alone), H's calls here are
        exactly those (unjoined spans' calls stay in their thread's tree).
        HTTP statuses as sent; the flow's "links" counts exact.  --tls:
        notes the TLS client leaf (its labels come through libssl only)
  causal GTDIR FLOW         on the merged timeline every linked server span
        lies within its client leaf, and the server's start and end relative
        to the client's are those of the ground truth (client sent -> server
        has the head; server sent its head -> client has it): each within
        15 ms, the median per pair of hosts within 2 ms
  stitch GTDIR STITCH [--missing HOST]
        every trace id of the ground truth is one request of report
        stitch, its "hosts" and its tree's nodes those of the trace's
        spans.  --missing: HOST's file was left out: a trace's requests
        together have its other hosts, no request mixes traces
  selftest GTDIR DIR        builds from the ground truth a perf script
        output and a flow JSON that satisfy labels, tree and causal, checks
        that they pass, and that each of a list of planted faults fails
  hosts HOSTS H=OFF,... TOL offset_ns of each host H is OFF (ns, the
        amount H's wall clock is ahead) within TOL relative to the others;
        offset_lo_ns <= offset_ns <= offset_hi_ns; reference host at 0
Flow nodes are found under "roots" and "children"; a node's host is its
own "host" or the nearest ancestor's."""
import json
import os
import re
import sys
from collections import defaultdict

HOP = [  # (caller, callee, proto, method, path format)
    ("client", "front", "http", "GET", "/order/%d"),
    ("front", "api", "http", "POST", "/v1/price/%d"),
    ("api", "cache", "redis", "GET", "item:%d"),
    ("api", "cache", "redis", "SET", "item:%d"),
    ("api", "stock", "http", "GET", "/stock/%d"),
    ("api", "stock", "http", "GET", "/reserve/%d"),
]
MS = 1000000
# the ground truth's times are Python's, taken just after the calls pylow
# stamps: a thread scheduled late on this shared machine (2 CPUs) delays a
# few of them by ms; a systematic error of one host shows in the median
JITTER = 15 * MS
SYSTEMATIC = 2 * MS


class Fail(Exception):
    pass


def load_gt(gtdir):
    spans = []
    for f in sorted(os.listdir(gtdir)):
        if f.endswith(".jsonl"):
            with open(os.path.join(gtdir, f)) as fh:
                spans += [json.loads(line) for line in fh if line.strip()]
    return spans


def req_no(path):
    m = re.search(r"(\d+)$", path)
    return int(m.group(1)) if m else None


def exchanges(spans, m):
    """[(n, hop, client span, server span or None)] in HOP order per n."""
    cl = defaultdict(list)
    sv = defaultdict(list)
    for s in spans:
        key = (req_no(s["path"]), s["host"], s["method"], re.sub(r"\d+$", "%d", s["path"]))
        (cl if s["kind"] == "client" else sv)[key].append(s)
    out, errs = [], []
    for n in range(m):
        for caller, callee, proto, method, pf in HOP:
            c = cl.get((n, caller, method, pf), [])
            s = sv.get((n, callee, method, pf), [])
            if len(c) != 1:
                errs.append("request %d: %d client spans %s %s on %s, want 1" % (n, len(c), method, pf % n, caller))
                continue
            if proto == "http" and len(s) != 1:
                errs.append("request %d: %d server spans %s %s on %s, want 1" % (n, len(s), method, pf % n, callee))
                continue
            out.append((n, (caller, callee, proto, method, pf % n), c[0], s[0] if s else None))
    return out, errs


def cmd_gt(args):
    gtdir, m = args[0], int(args[1])
    notp, tls = "--no-traceparent" in args, "--tls" in args
    spans = load_gt(gtdir)
    ex, errs = exchanges(spans, m)
    want = m * (len(HOP) + sum(1 for h in HOP if h[2] == "http"))
    if len(spans) != want:
        errs.append("%d spans logged, want %d" % (len(spans), want))
    by_span = {s["span_id"]: s for s in spans}
    traces = set()
    for n, (caller, callee, proto, method, path), c, s in ex:
        what = "request %d %s %s %s->%s" % (n, method, path, caller, callee)
        if notp:
            if c["trace_id"] or (s and (s["trace_id"] or s["traceparent"])) or c.get("traceparent"):
                errs.append("%s: a traceparent was sent" % what)
        else:
            traces.add(c["trace_id"])
            if s and (s["trace_id"] != c["trace_id"] or s["parent_id"] != c["span_id"]):
                errs.append("%s: server's traceparent %s/%s is not the client span's %s/%s"
                            % (what, s["trace_id"], s["parent_id"], c["trace_id"], c["span_id"]))
            if caller != "client":
                p = by_span.get(c["parent_id"])
                if not p or p["kind"] != "server" or p["host"] != caller or p["trace_id"] != c["trace_id"]:
                    errs.append("%s: client span's parent is not %s's server span" % (what, caller))
        if s:
            if (s["laddr"], s["raddr"]) != (c["raddr"], c["laddr"]):
                errs.append("%s: client %s->%s, server %s<-%s: not one connection"
                            % (what, c["laddr"], c["raddr"], s["laddr"], s["raddr"]))
            if not (c["t0"] <= s["t0"] <= s["tw"] <= c["t1"]):
                errs.append("%s: server span not inside the client span" % what)
            if s["status"] != c["status"]:
                errs.append("%s: status %s sent, %s received" % (what, s["status"], c["status"]))
            if s["tls"] != c["tls"] or s["tls"] != (tls and caller == "client"):
                errs.append("%s: tls %s/%s" % (what, c["tls"], s["tls"]))
    if not notp and len(traces) != m:
        errs.append("%d distinct trace ids for %d requests" % (len(traces), m))
    hosts = sorted({s["host"] for s in spans})
    if hosts != ["api", "client", "front", "stock"]:
        errs.append("hosts in the ground truth: %s (the UTS namespaces did not work?)" % hosts)
    split = sum(1 for x in spans if x.get("split"))
    if split != len([n for n in range(m) if n % 4 == 1]):
        errs.append("%d requests sent in pieces, want every 4th" % split)
    return errs, ["ground truth: %d requests (%d with the head in 3 writes), %d spans on %s, %d exchanges, %s"
                  % (m, split, len(spans), ",".join(hosts), len(ex),
                     "no traceparent" if notp else "%d trace ids" % len(traces))]


def cmd_info(args):
    doc = json.load(open(args[0]))
    hosts = [f.get("host") for f in doc.get("files", [])]
    if hosts != [args[1]]:
        return ["files' hosts %s, want [%s]" % (hosts, args[1])], []
    return [], ["%s: host %s" % (os.path.basename(doc["files"][0].get("file", "")), hosts[0])]


def tp(trace_id, span):
    return "00-%s-%s-01" % (trace_id, span) if trace_id and span else ""


def port(a):
    return a.rsplit(":", 1)[1]


def cmd_labels(args):
    gtdir, host, script = args
    want, conns = [], []
    for s in load_gt(gtdir):
        if s["host"] != host:
            continue
        t = s["tid"]
        if s["kind"] == "server":
            want.append((t, "recv", "http_req", s["method"], s["path"], s["host_header"], "0",
                         tp(s["trace_id"], s["parent_id"]) if s["traceparent"] else ""))
            want.append((t, "send", "http_resp", "", "", "", str(s["status"]), ""))
            conns.append(("accept", port(s["laddr"]), port(s["raddr"])))
        elif s["proto"] == "http":
            want.append((t, "send", "http_req", s["method"], s["path"], s["host_header"], "0",
                         tp(s["trace_id"], s["span_id"]) if s["traceparent"] else ""))
            want.append((t, "recv", "http_resp", "", "", "", str(s["status"]), ""))
            conns.append(("connect", port(s["laddr"]), port(s["raddr"])))
        else:
            want.append((t, "send", "redis", s["method"], s["path"], "", "0", ""))
            conns.append(("connect", port(s["laddr"]), port(s["raddr"])))
    conns = sorted(set(conns))
    got, gconns, replies = [], [], 0
    line_re = re.compile(r"^\s*(\d+)\s+(?:[\d.]+:\s+)?pylow:(net_label|net_conn):\s(.*)$")
    with open(script) as f:
        for line in f:
            m = line_re.match(line)
            if not m:
                continue
            fl = dict(re.findall(r"(\w+)=(\S*)", m.group(3)))
            if m.group(2) == "net_conn":
                if fl.get("op") in ("connect", "accept"):
                    gconns.append((fl["op"], fl.get("lport"), fl.get("rport")))
                continue
            if fl.get("proto") == "redis" and fl.get("dir") == "recv":
                replies += 1
                continue
            got.append((int(m.group(1)), fl.get("dir"), fl.get("proto"), fl.get("method"), fl.get("target"),
                        fl.get("host"), fl.get("status"), fl.get("traceparent")))
    errs = []
    for what, w, g in (("label", want, got), ("connection", conns, sorted(gconns))):
        miss = list(w)
        extra = []
        for x in g:
            if x in miss:
                miss.remove(x)
            else:
                extra.append(x)
        for x in miss[:8]:
            errs.append("%s: %s missing: %s" % (host, what, " ".join(map(str, x))))
        for x in extra[:8]:
            errs.append("%s: %s not in the ground truth: %s" % (host, what, " ".join(map(str, x))))
        if len(miss) > 8 or len(extra) > 8:
            errs.append("%s: %d %ss missing, %d unexpected in all" % (host, len(miss), what, len(extra)))
    return errs, ["%s: %d labels (want %d), %d connects/accepts (want %d), %d Redis replies labelled"
                  % (host, len(got), len(want), len(gconns), len(conns), replies)]


def script_labels(path):
    """[(time ns, tid, fields)] of the NET_LABEL lines of a perf script
    output with tid,time (--ns)"""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*(\d+)\s+(\d+)\.(\d{9}):\s+pylow:net_label:\s(.*)$", line)
            if m:
                out.append((int(m.group(2)) * 10**9 + int(m.group(3)), int(m.group(1)),
                            dict(re.findall(r"(\w+)=(\S*)", m.group(4)))))
    return out


def cmd_order(args):
    """order DIR: perf-HOST.out of every recorded host of one machine (one
    monotonic clock): for every HTTP exchange, the server's RECV of the
    request is not before the client's SEND of it, the client's RECV of
    the response not before the server's SEND of it"""
    d = args[0]
    lab = {}
    for f in sorted(os.listdir(d)):
        m = re.match(r"perf-(\w+)\.out$", f)
        if m:
            lab[m.group(1)] = script_labels(os.path.join(d, f))
    send, recv = {}, {}	 # target -> (host, time, tid, index)
    for h, ls in lab.items():
        for i, (t, tid, fl) in enumerate(ls):
            if fl.get("proto") != "http_req":
                continue
            (send if fl.get("dir") == "send" else recv)[fl.get("target")] = (h, t, tid, i)

    def reply(h, i, tid, dr):
        for t, tt, fl in lab[h][i + 1:]:
            if tt == tid and fl.get("proto") == "http_resp" and fl.get("dir") == dr:
                return t
        return None
    errs, notes = [], []
    worst = defaultdict(lambda: [None, None])
    for target, (ch, ct, ctid, ci) in sorted(send.items()):
        if target not in recv:
            continue
        sh, st, stid, si = recv[target]
        cr, ss = reply(ch, ci, ctid, "recv"), reply(sh, si, stid, "send")
        if cr is None or ss is None:
            errs.append("%s %s->%s: no response label" % (target, ch, sh))
            continue
        w = worst[(ch, sh)]
        w[0] = st - ct if w[0] is None else min(w[0], st - ct)
        w[1] = cr - ss if w[1] is None else min(w[1], cr - ss)
        if st < ct:
            errs.append("%s %s->%s: the server's RECV of the request %.3f ms before the client's SEND"
                        % (target, ch, sh, (ct - st) / MS))
        if cr < ss:
            errs.append("%s %s->%s: the client's RECV of the response %.3f ms before the server's SEND"
                        % (target, ch, sh, (ss - cr) / MS))
    for (a, b), (x, y) in sorted(worst.items()):
        notes.append("%s->%s: least request send->receive %+.3f ms, response %+.3f ms (one clock)"
                     % (a, b, x / MS, y / MS))
    if not worst:
        errs.append("no HTTP exchange found in %s" % d)
    return errs, notes


# ---------------------------------------------------------------- flow trees

class Node:
    __slots__ = ("j", "host", "parent", "root", "children")

    def __init__(self, j, host, parent, root):
        self.j, self.host, self.parent, self.root = j, host, parent, root
        self.children = []

    def text(self):
        return " ".join(str(self.j.get(k) or "") for k in ("label", "name"))

    def get(self, k, dflt=None):
        return self.j.get(k, dflt)


def flow_nodes(doc):
    out = []
    stack = []
    for r in reversed(doc.get("roots", [])):
        stack.append((r, None, None))
    while stack:
        j, parent, root = stack.pop()
        if not isinstance(j, dict):
            continue
        host = j.get("host") or (parent.host if parent else None)
        n = Node(j, host, parent, None)
        n.root = root or n
        if parent:
            parent.children.append(n)
        out.append(n)
        for c in reversed(j.get("children") or []):
            stack.append((c, n, n.root))
    return out


def label_re(method, path):
    return re.compile(r"\b%s\b\S*\s+\S*%s(?![\w])" % (re.escape(method), re.escape(path)))


def find(nodes, host, method, path):
    r = label_re(method, path)
    return [n for n in nodes if n.host == host and (n.get("label") or (n.get("trace_id") is not None)
                                                    or n.get("kind") not in (None, "python"))
            and r.search(n.text())]


def describe(n):
    keys = ("host", "kind", "name", "label", "link", "trace_id", "span_id", "parent_span_id", "peer", "count")
    return "{%s}" % ", ".join("%s: %r" % (k, n.get(k)) for k in keys if n.get(k) is not None)


def span_time(n):
    """(start, end) of a node on the merged timeline."""
    for k in ("start_merged_ns", "start_wall_ns", "start_tod_ns", "start_ns"):
        if n.get(k) is not None:
            return n.get(k), n.get(k) + (n.get("dur_ns") or 0), k
    return None, None, None


def match_tree(gtdir, flow, link, missing, tls):
    spans = load_gt(gtdir)
    m = 1 + max(req_no(s["path"]) for s in spans)
    ex, errs = exchanges(spans, m)
    nodes = flow_nodes(json.load(open(flow)))
    errs = list(errs)
    notes = []
    pairs = []	 # (n, hop, client node, server node, gt client, gt server)
    roots = defaultdict(set)
    linked = 0
    if missing and any(n.host == missing for n in nodes):
        errs.append("nodes of host %s although its file was left out" % missing)
    hosts = sorted({n.host for n in nodes if n.host})
    notes.append("flow: %d nodes, %d roots, hosts %s" % (len(nodes), len({n.root for n in nodes}), hosts))
    for n, (caller, callee, proto, method, path), c, s in ex:
        what = "request %d: %s %s %s->%s" % (n, method, path, caller, callee)
        if caller == missing:
            continue
        leaves = find(nodes, caller, method, path)
        if len(leaves) != 1:
            errs.append("%s: %d client nodes on %s, want 1%s" % (what, len(leaves), caller,
                        "".join("\n      " + describe(x) for x in leaves[:3])))
            continue
        x = leaves[0]
        roots[n].add(x.root)
        if x.get("count", 1) != 1:
            errs.append("%s: client node holds %s calls" % (what, x.get("count")))
        if link == "traceparent" and proto == "http":
            if x.get("trace_id") != c["trace_id"] or x.get("span_id") != c["span_id"]:
                errs.append("%s: client node trace_id/span_id %s/%s, sent %s/%s"
                            % (what, x.get("trace_id"), x.get("span_id"), c["trace_id"], c["span_id"]))
        if tls and caller == "client" and n == 0:
            notes.append("TLS client leaf: %s" % describe(x))
        if proto == "http" and x.get("status") != c["status"]:
            errs.append("%s: client leaf status %s, received %s" % (what, x.get("status"), c["status"]))
        if proto == "redis":
            # under api's request span (its Python frames in between)
            r = label_re("POST", "/v1/price/%d" % n)
            up = x.parent
            while up and not (up.host == "api" and r.search(up.text())):
                up = up.parent
            if not up:
                errs.append("%s: the Redis leaf is not under api's request span POST /v1/price/%d" % (what, n))
            continue
        ys = find(nodes, callee, method, path)
        kids = [y for y in ys if y.parent is x]
        if callee == missing:
            if ys:
                errs.append("%s: %d nodes on missing host %s" % (what, len(ys), callee))
            foreign = [k for k in x.children if k.host != caller]
            if x.get("link") is not None:
                errs.append("%s: the call into the missing host says link %r" % (what, x.get("link")))
            if foreign:
                errs.append("%s: the call into the missing host is linked to %s" % (what, describe(foreign[0])))
            notes.append("%s: unlinked leaf %s" % (what, describe(x))) if n == 0 else None
            continue
        if len(ys) != 1:
            errs.append("%s: %d server nodes on %s, want 1%s" % (what, len(ys), callee,
                        "".join("\n      " + describe(y) for y in ys[:3])))
            continue
        y = ys[0]
        if not kids:
            up, depth = y.parent, 1
            while up and up is not x:
                up, depth = up.parent, depth + 1
            errs.append("%s: %s's span is %s, not a child of %s's leaf %s"
                        % (what, callee, "%d levels below it" % depth if up else "elsewhere (%s)" % describe(y.parent) if y.parent else "a root",
                           caller, describe(x)))
            continue
        linked += 1
        got = y.get("link") or x.get("link")
        if got != link:
            errs.append("%s: linked by %r, want %r" % (what, got, link))
        if link == "traceparent":
            if y.get("trace_id") != s["trace_id"] or y.get("parent_span_id") != s["parent_id"]:
                errs.append("%s: server span trace_id/parent_span_id %s/%s, received %s/%s"
                            % (what, y.get("trace_id"), y.get("parent_span_id"), s["trace_id"], s["parent_id"]))
        if y.get("status") != s["status"]:
            errs.append("%s: server span status %s, sent %s" % (what, y.get("status"), s["status"]))
        pairs.append((n, (caller, callee, proto, method, path), x, y, c, s))
    links = json.load(open(flow)).get("links")
    if link and links is not None:
        joined = sum(1 for _, h, _, _ in ex if h[2] == "http" and missing not in (h[0], h[1]))
        unjoined = sum(1 for _, h, _, _ in ex if h[0] != missing and h[1] in ("cache", missing))
        want = {"traceparent": joined if link == "traceparent" else 0,
                "tcp": joined if link == "tcp" else 0, "unjoined": unjoined}
        got = {k: links.get(k) for k in want}
        notes.append("links: %s" % got)
        if got != want:
            errs.append("links %s, want %s" % (got, want))
    for n, rs in sorted(roots.items()):
        if missing is None and len(rs) != 1:
            errs.append("request %d: its nodes are in %d trees, want 1" % (n, len(rs)))
    notes.append("%d exchanges linked across hosts%s" % (linked, ", by " + link if link else ""))
    return errs, notes, pairs


def call_counts(flow, host):
    """{(kind, name, file, line): summed count} over HOST's nodes of FLOW
    (all of them when the flow has no hosts: one file)"""
    out = defaultdict(int)
    for n in flow_nodes(json.load(open(flow))):
        if n.host in (host, None) and n.get("kind") != "span":
            out[(n.get("kind"), n.get("name"), n.get("file"), n.get("line"))] += n.get("count") or 0
    return out


def cmd_tree(args):
    gtdir, flow = args[0], args[1]
    opt, rest = {}, list(args[2:])
    while rest:
        a = rest.pop(0)
        opt[a] = True if a == "--tls" else rest.pop(0)
    errs, notes, _ = match_tree(gtdir, flow, opt.get("--link"), opt.get("--missing"), "--tls" in opt)
    if opt.get("--alone"):
        # the missing host's callee keeps every call, as in its file alone
        host, alone = opt["--alone"].split("=", 1)
        a, b = call_counts(alone, host), call_counts(flow, host)
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if not a:
            errs.append("%s: no calls in its file alone" % host)
        for k in diff[:8]:
            errs.append("%s: %s %s (%s:%s) x%d in its file alone, x%d here"
                        % (host, k[0], k[1], k[2], k[3], a.get(k, 0), b.get(k, 0)))
        notes.append("%s: %d calls in %d nodes as in its file alone%s"
                     % (host, sum(a.values()), len(a), "" if not diff else ", %d differ" % len(diff)))
    return errs, notes


def cmd_causal(args):
    gtdir, flow = args[0], args[1]
    # the structure is tree's business; here: the times of what is linked
    _, notes, pairs = match_tree(gtdir, flow, None, None, False)
    errs = [] if pairs else ["no exchange linked across hosts"]
    worst = 0
    key = None
    dev = defaultdict(list)
    for n, hop, x, y, c, s in pairs:
        xs, xe, key = span_time(x)
        ys, ye, _ = span_time(y)
        what = "request %d: %s %s %s->%s" % (n, hop[3], hop[4], hop[0], hop[1])
        if xs is None or ys is None:
            errs.append("%s: no start time on the nodes" % what)
            continue
        if ys < xs or ye > xe:
            errs.append("%s: server span [%d, %d] not within the client leaf [%d, %d] (%s)"
                        % (what, ys, ye, xs, xe, key))
        # pylow's times are the calls' returns, the ground truth's just
        # after them (svc.py: client ts..th, server tr..th)
        d0 = (ys - xs) - (s["tr"] - c["ts"])
        d1 = (xe - ye) - (c["th"] - s["th"])
        dev[hop[:2]] += [d0, -d1]
        worst = max(worst, abs(d0), abs(d1))
        if abs(d0) > JITTER or abs(d1) > JITTER:
            errs.append("%s: server start/end %+.3f/%+.3f ms from the client's, ground truth %+.3f/%+.3f ms"
                        % (what, (ys - xs) / MS, (ye - xe) / MS, (s["tr"] - c["ts"]) / MS, (s["th"] - c["th"]) / MS))
    # a host put a few ms off shows in every exchange with it, one thread
    # scheduled late only in its own
    for (a, b), v in sorted(dev.items()):
        med = sorted(v)[len(v) // 2]
        notes.append("%s->%s: %d times, median deviation from the ground truth %+.3f ms"
                     % (a, b, len(v), med / MS))
        if abs(med) > SYSTEMATIC:
            errs.append("%s->%s: %s's times are %+.3f ms off (median over %d), want within %.0f ms"
                        % (a, b, b, med / MS, len(v), SYSTEMATIC / MS))
    notes.append("causal: %d linked exchanges by %s, largest single deviation %.3f ms (within %.0f ms)"
                 % (len(pairs), key, worst / MS, JITTER / MS))
    return errs, notes


def cmd_stitch(args):
    gtdir, st = args[0], args[1]
    missing = args[3] if len(args) > 3 and args[2] == "--missing" else None
    spans = [x for x in load_gt(gtdir) if x["host"] != missing]
    doc = json.load(open(st))
    reqs = doc.get("requests") or doc.get("traces") or []
    errs, notes = [], []
    by_trace = defaultdict(list)
    for r in reqs:
        by_trace[r.get("trace_id")].append(r)
    want = defaultdict(set)
    for s in spans:
        if s.get("trace_id"):
            want[s["trace_id"]].add(s["host"])
    if missing:
        # the trees break at the missing host: each trace's requests
        # together hold its other hosts' spans, none of another trace's
        for r in reqs:
            ts = set()
            st = [r.get("root")]
            while st:
                x = st.pop()
                if isinstance(x, dict):
                    if x.get("trace_id"):
                        ts.add(x["trace_id"])
                    st += x.get("children") or []
            if len(ts) > 1:
                errs.append("request %s holds spans of %d traces" % (r.get("trace_id"), len(ts)))
        for t, hosts in sorted(want.items()):
            got = set()
            for r in by_trace.get(t, []):
                got |= set(r.get("hosts") or [])
            if got != hosts:
                errs.append("trace %s: hosts %s over %d requests, want %s"
                            % (t, sorted(got), len(by_trace.get(t, [])), sorted(hosts)))
        notes.append("stitch without %s: %d requests for %d trace ids" % (missing, len(reqs), len(want)))
        return errs, notes
    for t, hosts in sorted(want.items()):
        rs = by_trace.get(t, [])
        if len(rs) != 1:
            errs.append("trace %s: %d requests in stitch, want 1" % (t, len(rs)))
            continue
        got = set()
        stack = [rs[0].get("root")] + list(rs[0].get("spans") or [])
        while stack:
            sp = stack.pop()
            if isinstance(sp, dict):
                got.add(sp.get("host"))
                stack += sp.get("children") or []
        if not hosts <= got:
            errs.append("trace %s: hosts %s in stitch's tree, want %s" % (t, sorted(h for h in got if h), sorted(hosts)))
        if set(rs[0].get("hosts") or []) != hosts:
            errs.append("trace %s: stitch's hosts %s, want %s" % (t, rs[0].get("hosts"), sorted(hosts)))
    notes.append("stitch: %d requests, %d known trace ids" % (len(reqs), len(want)))
    return errs, notes


def cmd_hosts(args):
    doc = json.load(open(args[0]))
    want = {k: int(v) for k, v in (p.split("=") for p in args[1].split(","))}
    tol = int(args[2])
    hs = {h.get("host"): h for h in doc.get("hosts", [])}
    errs, notes = [], []
    if set(hs) != set(want):
        return ["hosts %s, want %s" % (sorted(hs), sorted(want))], []
    refs = [h for h, v in hs.items() if v.get("offset_ns") == 0]
    if doc.get("reference") not in refs:
        errs.append("reference host %r not at offset 0" % doc.get("reference"))
    if doc.get("consistent") is not True:
        errs.append("the causality constraints are not consistent (\"consistent\": %r)" % doc.get("consistent"))
    base = min(want)  # any host: compare differences
    for h, v in sorted(hs.items()):
        off = v.get("offset_ns")
        lo, hi = v.get("offset_lo_ns"), v.get("offset_hi_ns")
        rel = off - hs[base]["offset_ns"]
        exp = want[h] - want[base]
        notes.append("%s: offset %+.3f ms [%+.3f, %+.3f] matched %s; relative to %s %+.3f ms, want %+.3f"
                     % (h, off / MS, (lo if lo is not None else 0) / MS, (hi if hi is not None else 0) / MS,
                        v.get("matched"), base, rel / MS, exp / MS))
        if abs(rel - exp) > tol:
            errs.append("%s: offset relative to %s %+.3f ms, want %+.3f ms (+-%.1f)"
                        % (h, base, rel / MS, exp / MS, tol / MS))
        if lo is None or hi is None or not lo <= off <= hi:
            errs.append("%s: offset %s outside its interval [%s, %s]" % (h, off, lo, hi))
        if not v.get("matched") or v.get("bounded") is not True or v.get("inconsistent"):
            errs.append("%s: matched %s, bounded %s, inconsistent %s" % (h, v.get("matched"), v.get("bounded"),
                                                                        v.get("inconsistent")))
    return errs, notes


# ---------------------------------------------------------------- self test

def ideal(gtdir, link="traceparent"):
    """(perf script text per host, flow JSON) as the contract describes them."""
    spans = load_gt(gtdir)
    m = 1 + max(req_no(x["path"]) for x in spans)
    ex, _ = exchanges(spans, m)
    script = defaultdict(list)
    seen = set()
    for x in spans:
        t = x["tid"]
        conn = (x["host"], x["laddr"], x["raddr"])
        if conn in seen:	# keep-alive: one connect/accept per connection
            x = dict(x, laddr="", raddr="")
        seen.add(conn)
        tpv = tp(x["trace_id"], x["parent_id"] if x["kind"] == "server" else x["span_id"]) \
            if x.get("traceparent") else ""
        if x["kind"] == "server" and x["laddr"]:
            script[x["host"]].append("%d pylow:net_conn: op=accept fd=4 family=2 lport=%s rport=%s conn=1 tx=0 rx=0"
                                     % (t, port(x["laddr"]), port(x["raddr"])))
        if x["kind"] == "server":
            script[x["host"]].append("%d pylow:net_label: conn=1 dir=recv proto=http_req method=%s target=%s host=%s "
                                     "status=0 traceparent=%s" % (t, x["method"], x["path"], x["host_header"], tpv))
            script[x["host"]].append("%d pylow:net_label: conn=1 dir=send proto=http_resp method= target= host= "
                                     "status=%d traceparent=" % (t, x["status"]))
        else:
            if x["laddr"]:
                script[x["host"]].append("%d pylow:net_conn: op=connect fd=4 family=2 lport=%s rport=%s conn=1 "
                                         "tx=0 rx=0" % (t, port(x["laddr"]), port(x["raddr"])))
            if x["proto"] == "redis":
                script[x["host"]].append("%d pylow:net_label: conn=1 dir=send proto=redis method=%s target=%s host= "
                                         "status=0 traceparent=" % (t, x["method"], x["path"]))
                continue
            script[x["host"]].append("%d pylow:net_label: conn=1 dir=send proto=http_req method=%s target=%s host=%s "
                                     "status=0 traceparent=%s" % (t, x["method"], x["path"], x["host_header"], tpv))
            script[x["host"]].append("%d pylow:net_label: conn=1 dir=recv proto=http_resp method= target= host= "
                                     "status=%d traceparent=" % (t, x["status"]))
    node = {}
    roots = []
    for n, (caller, callee, proto, method, path), c, sv in ex:
        leaf = {"host": caller, "kind": proto, "name": "", "label": "%s %s%s" % (
            method, c.get("host_header", "") if proto == "http" else "", path),
            "trace_id": c["trace_id"], "span_id": c["span_id"], "start_ns": c["t0"],
            "dur_ns": c["t1"] - c["t0"], "count": 1, "children": []}
        if sv:	# as pylow stamps them, reordered where Python saw them late
            leaf["start_ns"] = min(c["ts"], sv["tr"])
            leaf["dur_ns"] = max(c["th"], sv["th"]) - leaf["start_ns"]
        if proto == "http":
            leaf["status"] = c["status"]
        if proto == "redis":
            leaf["label"] = "redis %s %s" % (method, path)
        parent = node.get((n, caller))
        (parent["children"] if parent else roots).append(leaf)
        if sv:
            span = {"host": callee, "kind": "request", "name": "", "label": "%s %s" % (method, path),
                    "trace_id": sv["trace_id"], "parent_span_id": sv["parent_id"], "link": link,
                    "start_ns": sv["tr"], "dur_ns": sv["th"] - sv["tr"], "count": 1, "children": [],
                    "status": sv["status"]}
            leaf["children"].append(span)
            node.setdefault((n, callee), span)
    joined = sum(1 for _, h, _, _ in ex if h[2] == "http")
    return script, {"roots": roots, "links": {"traceparent": joined if link == "traceparent" else 0,
                                              "tcp": joined if link == "tcp" else 0,
                                              "unjoined": len(ex) - joined}}


def cmd_selftest(args):
    import copy
    gtdir, out = args
    errs, notes = [], []

    def run(what, fn, argv, want_ok):
        e, _ = fn(argv)
        if bool(e) == want_ok:
            errs.append("%s: %s" % (what, "passed although planted" if not want_ok else "failed: %s" % e[:3]))
        return e

    def write(name, obj):
        p = os.path.join(out, name)
        with open(p, "w") as f:
            if isinstance(obj, str):
                f.write(obj)
            else:
                json.dump(obj, f)
        return p

    script, flow = ideal(gtdir)
    for h, lines in script.items():
        run("labels %s (ideal)" % h, cmd_labels, [gtdir, h, write("ps-%s" % h, "\n".join(lines) + "\n")], True)
    lines = list(script["api"])
    i = next(k for k, x in enumerate(lines) if "proto=redis" in x)
    del lines[i]
    run("labels: a Redis label dropped", cmd_labels, [gtdir, "api", write("ps-x", "\n".join(lines))], False)
    lines = [x.replace("traceparent=00-", "traceparent=00-f", 1) if "dir=send proto=http_req" in x else x
             for x in script["front"]]
    run("labels: a traceparent altered", cmd_labels, [gtdir, "front", write("ps-x", "\n".join(lines))], False)
    lines = [x.replace("op=accept", "op=connect") for x in script["stock"]]
    run("labels: accepts as connects", cmd_labels, [gtdir, "stock", write("ps-x", "\n".join(lines))], False)

    good = write("flow.json", flow)
    run("tree (ideal)", cmd_tree, [gtdir, good, "--link", "traceparent"], True)
    run("causal (ideal)", cmd_causal, [gtdir, good], True)
    run("tree: wrong link rule", cmd_tree, [gtdir, good, "--link", "tcp"], False)
    run("tree: --missing api with api's nodes", cmd_tree, [gtdir, good, "--missing", "api"], False)

    def mutate(what, fn, check=("tree", cmd_tree, ["--link", "traceparent"])):
        f = copy.deepcopy(flow)
        fn(f)
        run("%s: %s" % (check[0], what), check[1], [gtdir, write("flow-x.json", f)] + check[2], False)

    def walk(f):
        st = list(f["roots"])
        while st:
            x = st.pop()
            yield x
            st += x["children"]

    def swap(f):	# api's spans of requests 0 and 1 change places
        a = [x for x in walk(f) if x["host"] == "front" and x.get("label", "").startswith("POST")][:2]
        a[0]["children"], a[1]["children"] = a[1]["children"], a[0]["children"]
    mutate("api spans of two requests swapped", swap)

    def drop_redis(f):
        for x in walk(f):
            x["children"] = [c for c in x["children"] if not c["label"].startswith("redis SET")][:]
            if x["children"] and x["host"] == "api" and x["label"].startswith("POST"):
                x["children"] = x["children"][1:] if x["children"][0]["label"].startswith("redis") else x["children"]
    mutate("Redis leaves dropped", drop_redis)

    def detach(f):	# stock's span of one request becomes a root
        for x in walk(f):
            if x["host"] == "api" and x["label"].startswith("GET") and x["children"]:
                f["roots"].append(x["children"].pop())
                return
    mutate("one stock span detached", detach)

    def wrong_parent(f):
        for x in walk(f):
            if x["host"] == "stock":
                x["parent_span_id"] = "0" * 16
                return
    mutate("a server span's parent_span_id wrong", wrong_parent)

    def status(f):
        for x in walk(f):
            if x["host"] == "stock" and x.get("status") == 409:
                x["status"] = 200
                return
    mutate("a 409 reported as 200", status)

    def count(f):
        f["links"]["unjoined"] += 1
    mutate("links count off by one", count)

    def dup(f):
        f["roots"].append(copy.deepcopy(f["roots"][0]))
    mutate("a request's tree twice", dup)

    def shift(f):	# api's nodes 3 s late
        for x in walk(f):
            if x["host"] == "api":
                x["start_ns"] += 3000000000
    mutate("api 3 s late", shift, ("causal", cmd_causal, []))

    def skew(f):	# stock 8 ms early: still inside the call? not with the ground truth's gaps
        for x in walk(f):
            if x["host"] == "stock":
                x["start_ns"] -= 8 * MS
    mutate("stock 8 ms early", skew, ("causal", cmd_causal, []))
    notes.append("selftest: %d host scripts and a flow of %d roots pass; planted faults %s"
                 % (len(script), len(flow["roots"]), "all caught" if not errs else "NOT all caught"))
    return errs, notes


def main():
    cmds = {"gt": cmd_gt, "info": cmd_info, "labels": cmd_labels, "order": cmd_order, "tree": cmd_tree, "causal": cmd_causal,
            "stitch": cmd_stitch, "hosts": cmd_hosts, "selftest": cmd_selftest}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    try:
        errs, notes = cmds[sys.argv[1]](sys.argv[2:])
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("cannot check: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
    for n in notes:
        print(n)
    for e in errs[:30]:
        print("MISMATCH:", e)
    if len(errs) > 30:
        print("... %d more mismatches" % (len(errs) - 30))
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
