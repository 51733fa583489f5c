#!/bin/sh
# run.sh [PYTHON...] - exact call counts from the agent's rings, per Python.
# Builds the agent (agent/build.sh) and the test consumer into build/agent,
# then for each Python runs calls.py under the agent with the consumer
# draining concurrently and compares per-function entry/return counts, the
# forked child's own ring, zero drops and zero contract errors, and that a
# hidden sitecustomize further down sys.path still runs.
# A PYTHON given as profile@PATH runs with PYLOW_AGENT_HOOK=profile (3.11:
# the profile hook instead of the frame evaluation hook); with no PYTHON,
# Debian's 3.11 runs that way too.
# Exit 0 all passed, 1 a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/agent"

if [ $# -eq 0 ]; then
	for p in /root/.pyenv/versions/3.*/bin/python3.[0-9] /root/.pyenv/versions/3.*/bin/python3.[0-9][0-9] /usr/bin/python3.11; do
		[ -x "$p" ] && set -- "$@" "$p"
	done
	[ -x /usr/bin/python3.11 ] && set -- "$@" profile@/usr/bin/python3.11
fi
pys=""
for spec in "$@"; do pys="$pys ${spec#*@}"; done
# shellcheck disable=SC2086
"$here/../build.sh" -o "$out" $pys >/dev/null || { echo "FAIL: agent build"; exit 1; }
${CC:-gcc} -O2 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I"$root" \
	-o "$out/consume" "$here/consume.c" "$root/agent/ring.c" || { echo "FAIL: consumer build"; exit 1; }

tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/chain"
printf '%s\n' 'import sys; sys.stderr.write("CHAINED\n")' > "$tmp/chain/sitecustomize.py"

# function entries returns, in the parent
expect_parent="f 1000 1000
g 7 7
fib 1973 1973
gen 6 6
co 4 4
__await__ 6 6
th_body 1 1
h 50 50
ex1 1 1
ex2 1 1
ex3 1 1"

fails=0
for spec in "$@"; do
	py=${spec#*@}
	hook=""
	[ "$spec" != "$py" ] && hook=${spec%%@*}
	d="$tmp/run"
	rm -rf "$d"; mkdir -p "$d"
	"$out/consume" "$d" > "$tmp/out" 2> "$tmp/cerr" &
	cpid=$!
	PYLOW_AGENT_HOOK=$hook PYTHONPATH="$out:$tmp/chain" PYLOW_AGENT_DIR="$d" "$py" "$here/calls.py" > "$tmp/pyout" 2> "$tmp/pyerr"
	rc=$?
	touch "$d/stop"
	wait $cpid
	why=""
	[ $rc -eq 0 ] || why="$why python exit $rc: $(head -c 300 "$tmp/pyerr");"
	grep -q CHAINED "$tmp/pyerr" || why="$why hidden sitecustomize did not run;"
	grep -v CHAINED "$tmp/pyerr" | grep -q . && why="$why stderr: $(grep -v CHAINED "$tmp/pyerr" | head -2 | tr '\n' ' ');"
	grep -q "^clock ok" "$tmp/pyout" || why="$why $(grep '^clock' "$tmp/pyout" || echo 'no clock check');"
	parent=$(awk '/^parent/ {print $2}' "$tmp/pyout")
	child=$(awk '/^parent/ {print $4}' "$tmp/pyout")
	got=$(awk -v p="$parent" '$1 == "call" && $2 == p { e[$3] += $4; r[$3] += $5 }
		END { for (n in e) print n, e[n], r[n] }' "$tmp/out")
	while read -r fn en re; do
		line=$(echo "$got" | awk -v n="$fn" '$1 == n')
		[ "$line" = "$fn $en $re" ] || why="$why $fn: want $en/$re got '${line:-none}';"
	done <<-EOT
	$expect_parent
	EOT
	echo "$got" | awk '$1 == "k"' | grep -q . && why="$why k() recorded in the parent;"
	kc=$(awk -v p="$child" '$1 == "call" && $2 == p && $3 == "k" { e += $4; r += $5 } END { print e + 0, r + 0 }' "$tmp/out")
	[ "$kc" = "11 11" ] || why="$why child k: want 11 11 got $kc;"
	grep -q "^ring $child ppid=$parent " "$tmp/out" || why="$why no ring for child $child of $parent;"
	nr=$(grep -c '^ring ' "$tmp/out")
	[ "$nr" -eq 2 ] || why="$why $nr rings (want 2);"
	bad=$(grep '^ring ' "$tmp/out" | grep -v 'dropped=0 errors=0')
	[ -z "$bad" ] || why="$why $bad;"
	[ -s "$tmp/cerr" ] && why="$why consumer: $(head -1 "$tmp/cerr");"
	src=$(awk -v p="$parent" '$1 == "ring" && $2 == p {print $8}' "$tmp/out")
	ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
	case $ver in
	3.1[2-9].*) want=monitoring ;;
	3.11.*) want=eval_frame ;;
	*) want=profile ;;
	esac
	[ "$hook" = profile ] && want=profile
	[ "$src" = "source=$want" ] || why="$why $src (want source=$want);"
	if [ -z "$why" ]; then
		echo "ok    $py ($ver, $src${hook:+, PYLOW_AGENT_HOOK=$hook}): exact counts, child ring, no drops, $(grep '^clock' "$tmp/pyout" | cut -d' ' -f3-4)"
	else
		echo "FAIL  $py ($ver):$why"
		fails=$((fails + 1))
	fi
done
[ $fails -eq 0 ] || { echo "$fails Python(s) failed"; exit 1; }
exit 0
