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
                                  functions within TOL (0.10 = 10 %) of the
                                  script's own measurement and of the nominal
  depth GT REPORT                 GT's function nests GT["depth"] levels deep
  finished INFO                   every file finished, no damage
  cut INFO                        every file unfinished, damage says "cut short"
  entries INFO                    prints the number of py_entry events
  total REPORT FIELD              prints the sum of FIELD over function nodes
  structure GT FLOW INFO [SRC]    tests/py/structure.py: per-file counts in the
                                  main pid, parent->child edges, per-thread
                                  and fork/exec child counts, all exact and
                                  complete; every process of GT fed by SRC
  same FLOW1 FLOW2 SCRIPT...      per-function counts of SCRIPTs equal in both
  sum REPORT FIELD NAME           prints the sum of FIELD over nodes named NAME
  lost INFO TIMELINE FLOW         events were lost; info's total equals the sum
                                  of its per-CPU windows and of the timeline's
                                  LOST events; some flow node is flagged
  counted GT GRAPH INFO           each GT["calls"] count is exact, or short by
                                  no more than the events info says were lost
Nodes are found under "roots" and "children"; pid/tid are inherited from the
nearest ancestor that has them."""
import json
import sys
from collections import defaultdict


def load(p):
    # a call tree as deep as the traced recursion nests JSON as deep
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
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


def sums(doc, field, script=None, key=lambda n, pid, tid: n.get("name"), flagged=None):
    """Sums FIELD by KEY over function nodes (of SCRIPT).  Calls whose entry
    was not recorded (flag cut_start) are not entries and are not counted;
    nodes with any flag are appended to FLAGGED (a list) if given."""
    out = defaultdict(int)
    for n, pid, tid in nodes(doc):
        if not is_func(n) or (script and not of_script(n, script)):
            continue
        flags = n.get("flags") or []
        if flags and flagged is not None:
            flagged.append((key(n, pid, tid), flags))
        if "cut_start" in flags:
            continue
        out[key(n, pid, tid)] += int(n.get(field, 0) or 0)
    return out


def complete(flagged, names):
    """The counted functions' calls are complete: entry and return recorded
    and matched (no cut_start, cut_end, incomplete flags)."""
    bad = defaultdict(lambda: defaultdict(int))
    for k, flags in flagged:
        name = k[-1] if isinstance(k, tuple) else k
        if name in names:
            for fl in flags:
                bad[k][fl] += 1
    for k, fl in sorted(bad.items(), key=str):
        print("%s: nodes flagged %s (calls not matched entry to return)" % (k, dict(fl)))
    return not bad


def compare(want, got, what):
    bad = []
    for k, v in sorted(want.items()):
        g = got.get(k, 0)
        if g != v:
            bad.append("%s %s: want %d, got %d" % (what, k, v, g))
    for b in bad:
        print(b)
    return not bad


def info_files(info):
    files = info.get("files")
    if not isinstance(files, list) or not files:
        raise ValueError("info JSON has no files[]: %s" % info.get("error", info))
    return files


def process_pids(info):
    """pids of every thread listed in `report info --json`."""
    return {int(t["pid"]) for f in info_files(info) for t in f.get("threads", [])}


def c_calls(gt, rep, field):
    gt, rep = load(gt), load(rep)
    flagged = []
    got = sums(rep, field, gt["script"], flagged=flagged)
    ok = compare(gt["calls"], got, "calls of")
    ok = complete(flagged, gt["calls"]) and ok
    if ok:
        print("exact: " + ", ".join("%s=%d" % kv for kv in sorted(gt["calls"].items())))
    return ok


def c_procs(gt, flow, info):
    gt, flow, info = load(gt), load(flow), load(info)
    pids = process_pids(info)
    flagged = []
    by_pid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (pid, n.get("name")),
                  flagged=flagged)
    ok = complete(flagged, {f for p in gt["procs"].values() for f in p["calls"]})
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
    flagged = []
    by_tid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (tid, n.get("name")),
                  flagged=flagged)
    ok = complete(flagged, {f for t in gt["threads"].values() for f in t["calls"]})
    for tid, t in sorted(gt["threads"].items()):
        got = {name: c for (ttid, name), c in by_tid.items() if ttid == int(tid)}
        if compare(t["calls"], got, "thread %s (%s): calls of" % (tid, t["name"])):
            print("thread %s (%s): exact %s" % (tid, t["name"], t["calls"]))
        else:
            ok = False
    return ok


def c_durations(gt, graph, flow, tol):
    """pylow's per-call durations are within TOL of what the script measured
    around the same calls (perf_counter_ns), and of the nominal sleep unless
    the machine itself overslept by more than TOL."""
    gt, graph, flow, tol = load(gt), load(graph), load(flow), float(tol)
    ok = True

    def near(d, want):
        return abs(d - want) <= tol * want

    for name, nominal in sorted(gt["expect_ns"].items()):
        measured = gt["measured_ns"][name]
        ref = sum(measured) / len(measured)
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
        per = []
        for n, _, _ in nodes(flow):
            if n.get("name") == name and of_script(n, gt["script"]):
                per.append(n.get("dur_ns", 0) / (n.get("count", 1) or 1))
        if not per:
            print("flow %s: no nodes" % name)
            ok = False
        print("%s: pylow graph mean %.2f ms over %d calls, flow per call %s ms; "
              "the script measured mean %.2f ms; nominal %.0f ms"
              % (name, mean / 1e6, calls, " ".join("%.2f" % (d / 1e6) for d in per),
                 ref / 1e6, nominal / 1e6))
        for what, d in [("graph mean", mean)] + [("flow node", d) for d in per]:
            if not near(d, ref):
                print("  %s %s: %.2f ms, not within %d%% of the measured %.2f ms"
                      % (name, what, d / 1e6, tol * 100, ref / 1e6))
                ok = False
            if near(ref, nominal) and not near(d, nominal):
                print("  %s %s: %.2f ms, not within %d%% of %.0f ms"
                      % (name, what, d / 1e6, tol * 100, nominal / 1e6))
                ok = False
        if not near(ref, nominal):
            print("  (this machine overslept: measured %.2f ms for a %.0f ms sleep; "
                  "compared with the measurement only)" % (ref / 1e6, nominal / 1e6))
    return ok


def c_finished(info):
    """the recording finished cleanly: finished, no damage"""
    ok = True
    for f in info_files(load(info)):
        if f.get("finished") is not True:
            print("%s: finished is %r" % (f.get("file"), f.get("finished")))
            ok = False
        if f.get("damage"):
            print("%s: damage %r" % (f.get("file"), f.get("damage")))
            ok = False
        print("%s: finished=%r damage=%r events=%s lost=%s" % (
            f.get("file"), f.get("finished"), f.get("damage"), f.get("events"),
            (f.get("lost") or {}).get("total")))
    return ok


def c_cut(info):
    """the recording is marked unfinished and says where it is intact"""
    ok = True
    for f in info_files(load(info)):
        d = f.get("damage") or {}
        if f.get("finished") is not False:
            print("%s: finished is %r, want false" % (f.get("file"), f.get("finished")))
            ok = False
        if "cut short" not in (d.get("what") or ""):
            print("%s: damage does not say 'cut short': %r" % (f.get("file"), d))
            ok = False
        print("%s: finished=%r damage=%r events=%s" % (f.get("file"), f.get("finished"),
                                                       d.get("what"), f.get("events")))
    return ok


def c_entries(info, kind="py_entry"):
    """prints the recording's count of KIND events (py_entry, py_return, ...)"""
    print(sum(int((f.get("events_by_kind") or {}).get(kind, 0)) for f in info_files(load(info))))
    return True


def c_depth(gt, rep):
    """the tree keeps GT["depth"] nested levels of the recursing function"""
    gt, rep = load(gt), load(rep)
    name = next(iter(gt["calls"]))
    best = 0
    stack = [(r, 0) for r in rep.get("roots", [])]
    while stack:
        n, d = stack.pop()
        d = d + 1 if n.get("name") == name else 0
        best = max(best, d)
        stack.extend((c, d) for c in n.get("children") or [])
    print("%s nested %d deep (want %d)" % (name, best, gt["depth"]))
    return best == gt["depth"]


def c_total(rep, field):
    print(sum(int(n.get(field, 0) or 0) for n, _, _ in nodes(load(rep)) if is_func(n)))
    return True


def c_sum(rep, field, name):
    print(sum(int(n.get(field, 0) or 0) for n, _, _ in nodes(load(rep)) if n.get("name") == name))
    return True


def c_timeline_calls(timeline, name):
    """prints the entries and returns of NAME in a timeline report (every
    call, however deep: the trees fold what is deeper than their limit)"""
    ev = [e for e in load(timeline)["events"] if e.get("name") == name]
    print(sum(e["event"] == "entry" for e in ev), sum(e["event"] == "return" for e in ev))
    return True


def c_lost(info, timeline, flow):
    ok = True
    f = info_files(load(info))[0]
    lost = f.get("lost") or {}
    total = int(lost.get("total") or 0)
    wins = sum(int(w.get("lost", 0)) for w in lost.get("windows") or [])
    tl = sum(int(e.get("lost", 0)) for e in load(timeline).get("events", [])
             if e.get("event") == "lost")
    flagged = sum(1 for n, _, _ in nodes(load(flow)) if n.get("flags"))
    print("info lost %d (%d windows on cpus %s, summing to %d); timeline LOST "
          "records sum to %d; %d flow nodes flagged" % (
              total, len(lost.get("windows") or []),
              sorted({w.get("cpu") for w in lost.get("windows") or []}), wins, tl, flagged))
    if total <= 0:
        print("no events were lost: the test could not provoke losses")
        ok = False
    if wins != total or tl != total:
        print("loss totals disagree")
        ok = False
    if total and not flagged:
        print("events were lost but no flow is flagged incomplete")
        ok = False
    return ok


def c_counted(gt, graph, info):
    gt = load(gt)
    got = sums(load(graph), "calls", gt.get("script"))
    lost = sum(int((f.get("lost") or {}).get("total") or 0) for f in info_files(load(info)))
    ok = True
    for name, want in sorted(gt["calls"].items()):
        have = got.get(name, 0)
        print("%s: %d calls recorded, %d made, %d events lost" % (name, have, want, lost))
        if have > want or (have < want and want - have > lost):
            ok = False
    return ok


def c_structure(gt, flow, info, src=None):
    gt, flow, info = load(gt), load(flow), load(info)
    main = int(gt["pid"])
    ok = True
    # every call of the script's functions complete (entry and return matched)
    names = {f for c in gt["calls"].values() for f in c}
    names |= {f for p in gt["procs"].values() for f in p["calls"]}
    for fname in gt["calls"]:
        flagged = []
        sums(flow, "count", fname, flagged=flagged)
        ok = complete([(k, fl) for k, fl in flagged], names) and ok
    for fname, want in sorted(gt["calls"].items()):
        got = sums(flow, "count", fname, key=lambda n, pid, tid: (pid, n.get("name")))
        got = {name: c for (pid, name), c in got.items() if pid == main}
        ok = compare(want, got, "%s: calls of" % fname) and ok
    # parent -> child edges (direct children), main pid
    edges = defaultdict(int)
    stack = [(r, None, None) for r in flow.get("roots", [])]
    while stack:
        n, parent, pid = stack.pop()
        pid = n.get("pid", pid)
        if parent is not None and pid == main and is_func(n) and \
                "cut_start" not in (n.get("flags") or []):
            edges[(n.get("file") or "", parent, n.get("name"))] += int(n.get("count", 0) or 0)
        for c in n.get("children") or []:
            stack.append((c, n.get("name") if is_func(n) else None, pid))
    for fname, par, child, want in gt["edges"]:
        got = sum(v for (f, p, c), v in edges.items()
                  if p == par and c == child and of_script({"file": f}, fname))
        if got != want:
            print("edge %s -> %s: want %d, got %d" % (par, child, want, got))
            ok = False
    if ok:
        print("tree: %d functions, %d edges exact" % (sum(len(c) for c in gt["calls"].values()),
                                                       len(gt["edges"])))
    # threads and child processes
    by_tid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (tid, n.get("name")))
    for tid, t in sorted(gt["threads"].items()):
        got = {name: c for (ttid, name), c in by_tid.items() if ttid == int(tid)}
        if compare(t["calls"], got, "thread %s (%s): calls of" % (tid, t["name"])):
            print("thread %s (%s): exact %s" % (tid, t["name"], t["calls"]))
        else:
            ok = False
    pids = process_pids(info)
    by_pid = sums(flow, "count", gt["script"], key=lambda n, pid, tid: (pid, n.get("name")))
    for pid, p in sorted(gt["procs"].items()):
        if int(pid) not in pids:
            print("%s pid %s missing from info processes" % (p["role"], pid))
            ok = False
        got = {name: c for (ppid, name), c in by_pid.items() if ppid == int(pid)}
        if compare(p["calls"], got, "%s pid %s: calls of" % (p["role"], pid)):
            print("%s child pid %s: exact %s" % (p["role"], pid, p["calls"]))
        else:
            ok = False
    if src:
        srcs = {}
        for f in info_files(info):
            for t in f.get("threads", []):
                srcs[int(t["pid"])] = t.get("source")
        for pid in [main] + [int(p) for p in gt["procs"]]:
            if srcs.get(pid) != src:
                print("pid %d: source %r, want %r" % (pid, srcs.get(pid), src))
                ok = False
        if ok:
            print("source of every Python process: %s" % src)
    return ok


def c_same(a, b, *scripts):
    """per-function counts of SCRIPTS equal in flow reports A and B"""
    a, b = load(a), load(b)
    ok = True
    for sc in scripts:
        x, y = sums(a, "count", sc), sums(b, "count", sc)
        if x != y or not x:
            print("%s: counts differ: %s vs %s" % (sc, dict(x), dict(y)))
            ok = False
        else:
            print("%s: same counts for %d functions" % (sc, len(x)))
    return ok


CHECKS = {"lost": c_lost, "counted": c_counted, "structure": c_structure, "same": c_same, "calls": c_calls, "procs": c_procs, "threads": c_threads,
          "durations": c_durations, "total": c_total, "sum": c_sum,
          "finished": c_finished, "cut": c_cut, "entries": c_entries, "depth": c_depth,
          "timeline_calls": c_timeline_calls}


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
