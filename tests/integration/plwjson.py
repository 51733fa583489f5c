"""Checks for tests/integration/run.sh: compare `pylow report ... --json`
output with the ground truth that tests/py/*.py scripts wrote themselves.

usage: plwjson.py CHECK ARGS...   (exit 0: pass; 1: mismatch, explained on stdout)
  calls GT REPORT FIELD           per-function sums of FIELD ("calls" for graph,
                                  "count" for flow) over nodes of GT's script
                                  equal GT["calls"] exactly
  procs GT FLOW INFO              every pid of GT["procs"] is in INFO, and its
                                  functions' flow counts are exact
  threads GT FLOW                 per-thread counts of GT["threads"] are exact
  durations GT GRAPH FLOW TOL     mean and per-node durations of GT["expect_ns"]
                                  functions within TOL (0.10 = 10 %)
  total REPORT FIELD              prints the sum of FIELD over function nodes
  sum REPORT FIELD NAME           prints the sum of FIELD over nodes named NAME
Nodes are found under "roots" and "children"; pid/tid are inherited from the
nearest ancestor that has them."""
import json
import sys
from collections import defaultdict


def load(p):
    with open(p) as f:
        return json.load(f)


def nodes(doc):
    """Yields (node, pid, tid) for every node of a tree report."""
    stack = [(r, None, None) for r in reversed(doc.get("roots", []))]
    while stack:
        n, pid, tid = stack.pop()
        if not isinstance(n, dict):
            continue
        pid = n.get("pid", pid)
        tid = n.get("tid", tid)
        yield n, pid, tid
        for c in reversed(n.get("children") or []):
            stack.append((c, pid, tid))


def is_func(n):
    return n.get("kind") in (None, "py", "python", "function", "call", "func")


def of_script(n, script):
    f = n.get("file") or ""
    return f == script or f.endswith("/" + script)


def sums(doc, field, script=None, key=lambda n, pid, tid: n.get("name")):
    out = defaultdict(int)
    for n, pid, tid in nodes(doc):
        if not is_func(n) or (script and not of_script(n, script)):
            continue
        out[key(n, pid, tid)] += int(n.get(field, 0) or 0)
    return out


def compare(want, got, what):
    bad = []
    for k, v in sorted(want.items()):
        g = got.get(k, 0)
        if g != v:
            bad.append("%s %s: want %d, got %d" % (what, k, v, g))
    for b in bad:
        print(b)
    return not bad


def process_pids(info):
    """pids listed in `report info --json` (tolerates a few spellings)."""
    procs = info.get("processes") or info.get("procs") or []
    pids = set()
    if isinstance(procs, dict):
        procs = [dict(v, pid=int(k)) if isinstance(v, dict) else {"pid": int(k)}
                 for k, v in procs.items()]
    for p in procs:
        if isinstance(p, dict) and "pid" in p:
            pids.add(int(p["pid"]))
        elif isinstance(p, int):
            pids.add(p)
    return pids


def c_calls(gt, rep, field):
    gt, rep = load(gt), load(rep)
    got = sums(rep, field, gt["script"])
    ok = compare(gt["calls"], got, "calls of")
    if ok:
        print("exact: " + ", ".join("%s=%d" % kv for kv in sorted(gt["calls"].items())))
    return ok


def c_procs(gt, flow, info):
    gt, flow, info = load(gt), load(flow), load(info)
    pids = process_pids(info)
    ok = True
    by_pid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (pid, n.get("name")))
    for pid, p in sorted(gt["procs"].items()):
        if int(pid) not in pids:
            print("%s pid %s missing from info processes %s" % (p["role"], pid, sorted(pids)))
            ok = False
        got = {name: c for (ppid, name), c in by_pid.items() if ppid == int(pid)}
        if compare(p["calls"], got, "%s pid %s: calls of" % (p["role"], pid)):
            print("%s pid %s: exact %s" % (p["role"], pid, p["calls"]))
        else:
            ok = False
    return ok


def c_threads(gt, flow):
    gt, flow = load(gt), load(flow)
    by_tid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (tid, n.get("name")))
    ok = True
    for tid, t in sorted(gt["threads"].items()):
        got = {name: c for (ttid, name), c in by_tid.items() if ttid == int(tid)}
        if compare(t["calls"], got, "thread %s (%s): calls of" % (tid, t["name"])):
            print("thread %s (%s): exact %s" % (tid, t["name"], t["calls"]))
        else:
            ok = False
    return ok


def c_durations(gt, graph, flow, tol):
    gt, graph, flow, tol = load(gt), load(graph), load(flow), float(tol)
    ok = True
    for name, want in sorted(gt["expect_ns"].items()):
        calls = total = 0
        for n, _, _ in nodes(graph):
            if n.get("name") == name and of_script(n, gt["script"]):
                calls += n.get("calls", 0)
                total += n.get("total_ns", 0)
        if calls != gt["calls"][name]:
            print("graph %s: want %d calls, got %d" % (name, gt["calls"][name], calls))
            ok = False
            continue
        mean = total / calls
        if abs(mean - want) > tol * want:
            print("graph %s: mean %.1f ms, want %.1f ms +-%d%%" % (name, mean / 1e6, want / 1e6, tol * 100))
            ok = False
        per = []
        for n, _, _ in nodes(flow):
            if n.get("name") == name and of_script(n, gt["script"]):
                c = n.get("count", 1) or 1
                d = n.get("dur_ns", 0) / c
                per.append(d)
                if abs(d - want) > tol * want:
                    print("flow %s: node at %s lasts %.1f ms per call, want %.1f ms +-%d%%"
                          % (name, n.get("start_ns"), d / 1e6, want / 1e6, tol * 100))
                    ok = False
        if not per:
            print("flow %s: no nodes" % name)
            ok = False
        print("%s: graph mean %.2f ms over %d calls; flow per call %s ms (script measured %s ms)"
              % (name, mean / 1e6, calls, " ".join("%.2f" % (d / 1e6) for d in per),
                 " ".join("%.2f" % (d / 1e6) for d in gt["measured_ns"][name])))
    return ok


def c_total(rep, field):
    print(sum(int(n.get(field, 0) or 0) for n, _, _ in nodes(load(rep)) if is_func(n)))
    return True


def c_sum(rep, field, name):
    print(sum(int(n.get(field, 0) or 0) for n, _, _ in nodes(load(rep)) if n.get("name") == name))
    return True


CHECKS = {"calls": c_calls, "procs": c_procs, "threads": c_threads,
          "durations": c_durations, "total": c_total, "sum": c_sum}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in CHECKS:
        sys.exit(__doc__)
    try:
        return 0 if CHECKS[sys.argv[1]](*sys.argv[2:]) else 1
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("plwjson %s: %s: %s" % (sys.argv[1], type(e).__name__, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
