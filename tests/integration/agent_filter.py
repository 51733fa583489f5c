"""Checks for the -F/-f filter cases of run.sh (t_agent_filter_*).

  agent_filter.py counts TIMELINE.json GT.json KEEP FILTERED EXTRA
      KEEP: comma-separated names of known_calls.py that must be recorded
      with exactly the ground truth's entries and returns ("*": all of the
      ground truth, plus EXTRA, "name=count,..."); every other Python event
      of the recording must be absent.  FILTERED: the recorder's "N
      filtered", at least 2 x the calls of the counted functions left out.
  agent_filter.py same A.json B.json
      the two timelines have the same Python entry/return counts per
      (event, function, file basename)."""
import collections
import json
import os
import sys


def py_counts(path):
    with open(path) as f:
        doc = json.load(f)
    c = collections.Counter()
    for e in doc["events"]:
        if e.get("kind") == "python" and e.get("event") in ("entry", "return"):
            c[(e["event"], e["name"], os.path.basename(e.get("file") or ""))] += 1
    return c


def counts(tl, gtp, keep, filtered, extra):
    with open(gtp) as f:
        gt = json.load(f)["calls"]
    want = {}
    if keep == "*":
        want = dict(gt)
        for kv in filter(None, extra.split(",")):
            k, v = kv.split("=")
            want[k] = int(v)
    elif keep:
        want = {k: gt[k] for k in keep.split(",")}
    got = py_counts(tl)
    bad = []
    for name, n in sorted(want.items()):
        for ev in ("entry", "return"):
            g = got.get((ev, name, "known_calls.py"), 0)
            if g != n:
                bad.append("%s %s: %d, want %d" % (ev, name, g, n))
    for (ev, name, base), n in sorted(got.items()):
        if base != "known_calls.py" or name not in want:
            bad.append("%s %s (%s): %d events, want none (filtered out)" % (ev, name, base, n))
    left_out = sum(v for k, v in gt.items() if k not in want)
    if int(filtered) < 2 * left_out:
        bad.append("%s filtered, want at least %d (2 x %d calls left out)"
                   % (filtered, 2 * left_out, left_out))
    print("kept %s; %d events; %s filtered (>= %d)"
          % (",".join("%s=%d" % kv for kv in sorted(want.items())) or "nothing",
             sum(got.values()), filtered, 2 * left_out))
    for b in bad:
        print("MISMATCH", b)
    return 1 if bad else 0


def same(a, b):
    ca, cb = py_counts(a), py_counts(b)
    bad = 0
    for k in sorted(set(ca) | set(cb)):
        if ca.get(k, 0) != cb.get(k, 0):
            print("MISMATCH %s %s (%s): %d vs %d" % (k + (ca.get(k, 0), cb.get(k, 0))))
            bad = 1
    print("same Python events: %d kinds, %d events" % (len(ca), sum(ca.values()))
          if not bad else "differ")
    return bad


def main():
    if sys.argv[1] == "counts":
        return counts(*sys.argv[2:7])
    if sys.argv[1] == "same":
        return same(sys.argv[2], sys.argv[3])
    sys.exit("usage: agent_filter.py counts|same ...")


if __name__ == "__main__":
    sys.exit(main())
