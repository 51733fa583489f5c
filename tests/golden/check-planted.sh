#!/usr/bin/env bash
# tests/golden/check-planted.sh - the statistical reports against ground truth
# planted by tests/golden/gen/mk_ana.py, over several random seeds:
#   diff    exactly slow_fn regressed, validate_schema new, legacy_check
#           removed, no noise function listed (seeds 1..5, or $SEEDS)
#   anomaly exactly the 3 planted calls of query
#   nplus1  load_page -> get_user, 15 per call
#   slow    handle_request -> call_llm -> read_socket, 5 times, cause read_socket
#
#   PYLOW=build/pylow PLWGEN=build/tests/plwgen tests/golden/check-planted.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${PYLOW:?set PYLOW to the pylow binary}"
: "${PLWGEN:?set PLWGEN to the plwgen binary}"
PY=${PYTHON:-/usr/bin/python3.11}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pylow-planted.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
for seed in ${SEEDS:-1 2 3 4 5}; do
	d="$tmp/$seed"
	mkdir -p "$d"
	"$PY" "$here/gen/mk_ana.py" "$d" "$seed"
	for t in "$d"/ana-*.txt; do
		"$PLWGEN" "$t" "${t%.txt}.plw"
	done
	"$PYLOW" report diff --json "$d/ana-diff-before.plw" "$d/ana-diff-after.plw" > "$d/diff.json"
	"$PYLOW" report anomaly --json "$d/ana-anomaly.plw" > "$d/anomaly.json"
	"$PYLOW" report nplus1 --json "$d/ana-nplus1.plw" > "$d/nplus1.json"
	"$PYLOW" report slow --json "$d/ana-slow.plw" > "$d/slow.json"
	if ! "$PY" - "$d" "$seed" <<'PYEOF'
import json, sys
d, seed = sys.argv[1], sys.argv[2]
t = json.load(open(f"{d}/ana-truth.json"))
ok = True
def check(what, got, want):
    global ok
    if got != want:
        print(f"seed {seed}: {what}: got {got}, want {want}")
        ok = False
diff = json.load(open(f"{d}/diff.json"))
for k in ("regressions", "improvements", "new", "removed"):
    check(f"diff {k}", sorted(e["name"] for e in diff[k] if e["kind"] == "function"),
          sorted(t["diff"][k]))
an = json.load(open(f"{d}/anomaly.json"))
check("anomaly query", sorted(a["start_ns"] for a in an["anomalies"] if a["name"] == "query"),
      sorted(t["anomaly"]["query"]))
np = json.load(open(f"{d}/nplus1.json"))["candidates"]
check("nplus1", [(c["parent"], c["child"], c["count"]) for c in np],
      [(t["nplus1"]["parent"], t["nplus1"]["child"], t["nplus1"]["count"])])
sl = json.load(open(f"{d}/slow.json"))["paths"]
check("slow", [(p["path"], p["count"], p["root_cause"]["name"]) for p in sl],
      [(t["slow"]["path"], t["slow"]["count"], t["slow"]["root_cause"])])
sys.exit(0 if ok else 1)
PYEOF
	then
		fail=$((fail + 1))
	else
		echo "seed $seed: ok"
	fi
done
[ $fail -eq 0 ] && echo "planted: all seeds ok"
[ $fail -eq 0 ]
