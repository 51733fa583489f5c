#!/usr/bin/env bash
# bench/merge32.sh - memory and time of merging many recordings: N files
# (default 32) of EVENTS events each (default 1,000,000), one host each
# (own hostname, own monotonic clock, a clock reference every 10 s of
# recording, a request every 1000 events), written with plwgen, then
#   pylow report flow --top 3   and   pylow report hosts
# over all of them under /usr/bin/time: wall time and peak RSS.
#
#   PYLOW=build/pylow PLWGEN=build/tests/plwgen bench/merge32.sh [N [EVENTS]]
set -eu
: "${PYLOW:?set PYLOW}" "${PLWGEN:?set PLWGEN}"
n=${1:-32}
events=${2:-1000000}
dir=${TMPDIR:-/tmp}/pylow-merge32
mkdir -p "$dir"
for i in $(seq 0 $((n - 1))); do
	f="$dir/h$i.plw"
	[ -s "$f" ] && continue
	python3 - "$i" "$events" <<'PY' | "$PLWGEN" - "$f"
import sys
i, events = int(sys.argv[1]), int(sys.argv[2])
base = (i + 1) * 1000000000
out = sys.stdout
w = out.write
w("exec %d %d %d python3\n" % (base, 1000 + i, 1000 + i))
w("meta hostname node%02d\nmeta tod_ns %d\nmeta mono_ns %d\n" % (i, 1700000000000000000 + i * 1000, base))
for k, f in enumerate(["handle", "parse", "query", "render"], 1):
    w("loc %d %d %s app.py\n" % (k, k * 10, f))
pid = 1000 + i
lines = []
ts = base
k = 0
# one request per 1000 events: handle -> (parse, query x 248, render)
while k < events:
    tid = pid + (k // 1000) % 4
    lines.append("entry %d %d %d 1" % (ts, pid, tid)); ts += 1000; k += 1
    lines.append("label %d %d %d 7 7 send http_req 0 0 GET /x node99:80 -" % (ts, pid, tid)); ts += 1000; k += 1
    for j in range(248):
        if k + 2 > events:
            break
        loc = 2 if j == 0 else 4 if j == 247 else 3
        lines.append("entry %d %d %d %d" % (ts, pid, tid, loc)); ts += 2000
        lines.append("return %d %d %d %d" % (ts, pid, tid, loc)); ts += 500
        k += 2
    lines.append("label %d %d %d 7 7 recv http_resp 200 0 - - - -" % (ts, pid, tid)); ts += 1000; k += 1
    lines.append("return %d %d %d 1" % (ts, pid, tid)); ts += 1000; k += 1
    if (k // 1000) % 100 == 0:
        lines.append("meta clock_ref %d %d" % (ts, ts - base + 1700000000000000000 + i * 1000))
    if len(lines) > 100000:
        w("\n".join(lines) + "\n"); lines = []
w("\n".join(lines) + "\n")
PY
done
files=$(for i in $(seq 0 $((n - 1))); do echo "$dir/h$i.plw"; done)
echo "$n files of $events events: $(du -shc $files | tail -1 | cut -f1) on disk"
for cmd in "flow --top 3" "hosts"; do
	/usr/bin/time -f "report $cmd: %e s, peak RSS %M KB" "$PYLOW" report $cmd $files >/dev/null
done
