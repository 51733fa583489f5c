#!/usr/bin/env bash
# tests/golden/run.sh - golden tests for `pylow report`.
#
# Each case NAME is:
#   tests/golden/NAME.cmd   one line: the arguments after `pylow report`;
#                           files are named as SCRIPT.plw (or SCRIPT.plw.partial
#                           for scripts that end with 'cut'), where
#                           tests/golden/gen/SCRIPT.txt is a plwgen script
#   tests/golden/NAME.out   expected stdout, then "--- stderr" and stderr if
#                           any, then "--- exit N" if N is not 0
# Every gen/*.txt is turned into a file in a temp dir with $PLWGEN, and the
# commands run there (so file names in the output are stable).  plwgen output
# is deterministic: nothing is normalised.
#
#   PYLOW=build/pylow PLWGEN=build/tests/plwgen tests/golden/run.sh [NAME...]
#   UPDATE=1 ... tests/golden/run.sh     rewrite the .out files (review the diff!)
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${PYLOW:?set PYLOW to the pylow binary}"
: "${PLWGEN:?set PLWGEN to the plwgen binary}"
PYLOW=$(realpath "$PYLOW")
PLWGEN=$(realpath "$PLWGEN")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pylow-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for g in "$here"/gen/*.txt; do
	name=$(basename "$g" .txt)
	if ! (cd "$tmp" && "$PLWGEN" "$g" "$name.plw" 2>"$tmp/$name.gen.err"); then
		echo "golden: plwgen failed on gen/$name.txt:" >&2
		cat "$tmp/$name.gen.err" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# truncated.plw: basic.plw cut inside its last chunk, as a disk-full or a
# copy interrupted would leave it
size=$(stat -c %s "$tmp/basic.plw")
head -c $((size * 3 / 4)) "$tmp/basic.plw" > "$tmp/truncated.plw"
# partial-truncated.plw: an unfinished recording whose last chunk is torn
size=$(stat -c %s "$tmp/cut.plw.partial")
head -c $((size - 16)) "$tmp/cut.plw.partial" > "$tmp/partial-truncated.plw"

pass=0
fail=0
failed=()
if [ $# -gt 0 ]; then
	cases=("$@")
else
	cases=()
	for c in "$here"/*.cmd; do
		cases+=("$(basename "$c" .cmd)")
	done
fi
for name in "${cases[@]}"; do
	read -r -a args < "$here/$name.cmd"
	out="$tmp/$name.actual"
	(
		cd "$tmp" || exit 1
		"$PYLOW" report "${args[@]}" >"$name.stdout" 2>"$name.stderr"
		rc=$?
		cat "$name.stdout"
		if [ -s "$name.stderr" ]; then
			echo "--- stderr"
			cat "$name.stderr"
		fi
		[ $rc -ne 0 ] && echo "--- exit $rc"
		exit 0
	) >"$out"
	if [ "${UPDATE:-0}" = 1 ]; then
		cp "$out" "$here/$name.out"
	fi
	if diff -u "$here/$name.out" "$out" >"$tmp/$name.diff" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "FAIL $name: pylow report ${args[*]}"
		head -40 "$tmp/$name.diff"
	fi
done
[ $fail -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
