#!/usr/bin/env bash
# tests/integration/run.sh - end-to-end tests of `pylow record` + `pylow report`
# against real CPython processes, through BPF.  Needs root, a kernel with BTF
# and Debian's /usr/bin/python3.11 (which has CPython's USDT probes).
#
#   PYLOW=build/pylow tests/integration/run.sh [CASE...]     ('make test-integration')
#
# Each case is a function t_NAME run in a subshell with its own directory under
# one temp dir; the ground truth comes from the traced scripts themselves
# (tests/py/).  Without root (or BTF, or the probed Python) the runner prints
# SKIP and exits 0 -- except under CI=true, where that is a failure.
# KEEP=1 keeps the temp dir.  The last line is always "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PYDIR=$top/tests/py
PYLOW=${PYLOW:-$top/build/pylow}
case $PYLOW in /*) ;; *) PYLOW=$PWD/$PYLOW ;; esac
PY=${PYLOW_TEST_PYTHON:-/usr/bin/python3.11}
# a CPython built without --with-dtrace (pyenv's, like the Docker images')
NOPROBE_PY=${PYLOW_TEST_NOPROBE_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
HELPER="$PY $here/plwjson.py"
REC_TIMEOUT=${REC_TIMEOUT:-60}

skip() {
	if [ "${CI:-}" = true ]; then
		echo "integration: FAIL: cannot run under CI: $*" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "integration: SKIP: $*"
	echo "0 passed, 0 failed"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root for BPF and uprobes (run as root: sudo make test-integration)"
[ -r /sys/kernel/btf/vmlinux ] || skip "this kernel has no BTF (/sys/kernel/btf/vmlinux)"
[ -x "$PYLOW" ] || { echo "integration: $PYLOW not found; build with 'make'" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x "$PY" ] || skip "$PY missing (apt-get install python3.11)"
readelf -n "$PY" 2>/dev/null | grep -q stapsdt || skip "$PY has no USDT probes (.note.stapsdt)"
if "$PYLOW" record --help 2>&1 | grep -q NO_BPF; then
	skip "$PYLOW was built with NO_BPF=1 (report only)"
fi

T=$(mktemp -d /tmp/pylow-itest.XXXXXX)
# every process the tests start carries this in its environment, so cleanup
# can find (and kill, by pid) exactly those, including grandchildren
export PYLOW_ITEST_TAG=$T

# pids whose environment carries our tag; bash builtins only, so that no
# process of the scan itself can match
ours() {
	local e p x v
	for e in /proc/[0-9]*/environ; do
		p=${e#/proc/}; p=${p%/environ}
		{ mapfile -d '' -t v <"$e"; } 2>/dev/null || continue
		for x in "${v[@]}"; do
			[ "$x" = "PYLOW_ITEST_TAG=$T" ] && { echo "$p"; break; }
		done
	done
}
kill_ours() {
	local p left
	left=$(ours)
	[ -n "$left" ] || return 0
	for p in $left; do kill -9 "$p" 2>/dev/null; done
	echo "$left" | wc -w
}
reap() {
	local n
	n=$(kill_ours)
	[ -z "$n" ] || echo "integration: killed $n leftover process(es)"
}
cleanup() {
	reap
	[ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- helpers used inside cases (each case runs in a subshell: fail exits it)
fail() { echo "    FAIL: $*"; exit 1; }
note() { echo "    $*"; }
# wait_for SECONDS WHAT CMD...: poll CMD every 20 ms until it succeeds
wait_for() {
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		[ $SECONDS -lt $end ] || fail "timed out after ${secs}s waiting for $what"
		sleep 0.02
	done
}
# show_err FILE: a recorder's stderr, indented, when a case fails
show() { [ -s "$1" ] && sed 's/^/      | /' "$1" | tail -n 20; return 0; }
# rec DIR ARGS...: pylow ARGS with a timeout, stderr in DIR/rec.err, status in $rc
rec() {
	local d=$1; shift
	rc=0
	timeout -k 5 "$REC_TIMEOUT" "$PYLOW" "$@" >"$d/rec.out" 2>"$d/rec.err" || rc=$?
	[ $rc != 124 ] && [ $rc != 137 ] || { show "$d/rec.err"; fail "pylow $* timed out after ${REC_TIMEOUT}s"; }
}
# report DIR OUT ARGS...: pylow report ARGS > OUT; fails the case on error
report() {
	local d=$1 out=$2; shift 2
	local r=0
	timeout -k 5 60 "$PYLOW" report "$@" >"$out" 2>"$d/report.err" || r=$?
	[ $r = 0 ] || { show "$d/report.err"; fail "pylow report $* exited $r"; }
}
# finished DIR FILE: FILE written completely (no FILE.partial left)
finished() {
	[ -s "$2" ] || { show "$1/rec.err"; fail "no recording $2"; }
	[ ! -e "$2.partial" ] || fail "$2.partial left behind"
}
check() {	# check WHAT HELPER-ARGS...
	local what=$1; shift
	local out
	out=$($HELPER "$@") || { echo "$out" | sed 's/^/    /'; fail "$what"; }
	echo "$out" | sed 's/^/    /'
}
# start_target DIR ARGS...: runs $PY ARGS in the background with a gate;
# sets tpid; waits until it has printed its pid
start_target() {
	local d=$1; shift
	PYLOW_GATE=$d/gate "${PY_TARGET:-$PY}" "$@" >"$d/target.out" 2>"$d/target.err" &
	tpid=$!
	wait_for 20 "the target to start" grep -qs '^PID ' "$d/target.out"
}
# attach DIR ARGS...: pylow record ARGS in the background (stderr in DIR/rec.err);
# sets rpid; returns once the recorder says its probes are attached
attach() {
	local d=$1; shift
	"$PYLOW" record "$@" >"$d/rec.out" 2>"$d/rec.err" &
	rpid=$!
	is_attached() {
		kill -0 "$rpid" 2>/dev/null || { show "$d/rec.err"; fail "pylow record exited before attaching"; }
		grep -qsi 'attached' "$d/rec.err"
	}
	wait_for 30 "pylow record to say it attached" is_attached
}
# stopped PID SECONDS: wait for a background child to exit; status in $rc
stopped() {
	local pid=$1 secs=$2
	local end=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $end ] || { kill -9 "$pid" 2>/dev/null; fail "pid $pid still running after ${secs}s"; }
		sleep 0.02
	done
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
}
# no_output DIR FILE: neither FILE nor FILE.partial exists
no_output() {
	[ ! -e "$2" ] || fail "$2 was written although the recording was refused"
	[ ! -e "$2.partial" ] || fail "$2.partial left behind although the recording was refused"
}

# ---------------------------------------------------------------- the cases

# launch mode: exact per-function entry counts from graph (and flow)
t_launch_counts() {
	local d=$1
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/known_calls.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	[ -s "$d/gt.json" ] || fail "the target wrote no ground truth"
	report "$d" "$d/graph.json" graph --json "$d/x.plw"
	check "graph calls differ from the ground truth" calls "$d/gt.json" "$d/graph.json" calls
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	check "flow counts differ from the ground truth" calls "$d/gt.json" "$d/flow.json" count
	# the text reports run on a real recording too
	local r
	for r in "info" "flow --top 3" "timeline" "graph"; do
		# shellcheck disable=SC2086
		report "$d" "$d/text.out" $r "$d/x.plw"
		[ -s "$d/text.out" ] || fail "report $r printed nothing"
		[ ! -s "$d/report.err" ] || { show "$d/report.err"; fail "report $r wrote to stderr"; }
	done
}

# attach mode: attach before the counted work starts, recorder stops when the target exits
t_attach_counts() {
	local d=$1
	start_target "$d" "$PYDIR/known_calls.py" "$d/gt.json"
	attach "$d" -p "$tpid" -o "$d/x.plw"
	touch "$d/gate"
	stopped "$tpid" 60
	[ $rc = 0 ] || fail "target exited $rc"
	stopped "$rpid" 30
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc after its target exited"; }
	finished "$d" "$d/x.plw"
	report "$d" "$d/graph.json" graph --json "$d/x.plw"
	check "graph calls differ from the ground truth" calls "$d/gt.json" "$d/graph.json" calls
}

# durations: 80 ms and 200 ms functions within 10 %
t_sleep_durations() {
	local d=$1
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/sleep_probe.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	report "$d" "$d/graph.json" graph --json "$d/x.plw"
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	check "durations off" durations "$d/gt.json" "$d/graph.json" "$d/flow.json" 0.10
}

# children: a fork()ed child and an exec'd Python subprocess are followed
t_children() {
	local d=$1
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/child_proc.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	[ -s "$d/gt.json" ] || fail "the target wrote no ground truth"
	report "$d" "$d/info.json" info --json "$d/x.plw"
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	check "children not recorded exactly" procs "$d/gt.json" "$d/flow.json" "$d/info.json"
}

# threads: per-thread counts
t_threads() {
	local d=$1
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/threads.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	check "per-thread counts differ" threads "$d/gt.json" "$d/flow.json"
}

# a deep stack (150 levels): nesting kept, every JSON report stays valid JSON
t_deep_stack() {
	local d=$1
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/deep_recursion.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	report "$d" "$d/graph.json" graph --json "$d/x.plw"
	check "graph --json: wrong counts or not valid JSON" calls "$d/gt.json" "$d/graph.json" calls
	check "graph --json: nesting lost" depth "$d/gt.json" "$d/graph.json"
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	check "flow --all --json: wrong counts or not valid JSON" calls "$d/gt.json" "$d/flow.json" count
	check "flow --all --json: nesting lost" depth "$d/gt.json" "$d/flow.json"
	report "$d" "$d/top.json" flow --top 3 --json "$d/x.plw"
	check "flow --top 3 --json: not valid JSON or nesting lost" depth "$d/gt.json" "$d/top.json"
}

# perf script reads the file cleanly and sees as many entries as pylow
t_perf_script() {
	local d=$1
	command -v perf >/dev/null || fail "perf not installed (apt-get install linux-perf)"
	rec "$d" record -q -o "$d/x.plw" -- "$PY" "$PYDIR/known_calls.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	local r=0
	timeout -k 5 120 perf script -i "$d/x.plw" >"$d/perf.out" 2>"$d/perf.err" || r=$?
	[ $r = 0 ] || { show "$d/perf.err"; fail "perf script exited $r"; }
	[ ! -s "$d/perf.err" ] || { show "$d/perf.err"; fail "perf script wrote to stderr"; }
	local perf_n pylow_n
	perf_n=$(grep -c 'pylow:py_entry' "$d/perf.out")
	report "$d" "$d/info.json" info --json "$d/x.plw"
	pylow_n=$($HELPER entries "$d/info.json")
	note "perf script: $perf_n pylow:py_entry lines; pylow report info: $pylow_n py_entry events"
	[ "$perf_n" -gt 0 ] || fail "perf script shows no pylow:py_entry events"
	[ "$perf_n" = "$pylow_n" ] || fail "perf script sees $perf_n entries, pylow reports $pylow_n"
}

# --python=usdt of a Python without USDT probes is refused plainly, nothing written
t_refuse_noprobe_python() {
	local d=$1
	[ -x "$NOPROBE_PY" ] || { note "skipped: no probe-less Python at $NOPROBE_PY (set PYLOW_TEST_NOPROBE_PYTHON)"; return 0; }
	readelf -n "$NOPROBE_PY" 2>/dev/null | grep -q stapsdt && fail "$NOPROBE_PY unexpectedly has probes"
	rec "$d" record --python=usdt -o "$d/x.plw" -- "$NOPROBE_PY" -c pass
	[ $rc != 0 ] || fail "record --python=usdt of a probe-less Python exited 0"
	show "$d/rec.err"
	grep -qF "$(dirname "$(dirname "$NOPROBE_PY")")" "$d/rec.err" || fail "stderr does not name the binary"
	grep -qiE 'stapsdt|usdt' "$d/rec.err" || fail "stderr does not say USDT probes (.note.stapsdt) are missing"
	grep -qi 'agent' "$d/rec.err" || fail "stderr does not say the agent would work"
	no_output "$d" "$d/x.plw"
}

# -p of a running probe-less Python: refused, saying what would work
t_refuse_noprobe_attach() {
	local d=$1
	[ -x "$NOPROBE_PY" ] || { note "skipped: no probe-less Python at $NOPROBE_PY"; return 0; }
	"$NOPROBE_PY" -c 'import time; time.sleep(60)' &
	local spid=$!
	rec "$d" record -p "$spid" -o "$d/x.plw"
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	[ $rc != 0 ] || fail "record -p <probe-less python> exited 0"
	show "$d/rec.err"
	grep -qF "$spid" "$d/rec.err" || fail "stderr does not name pid $spid"
	grep -q 'pylow record -- CMD' "$d/rec.err" || fail "stderr does not suggest launching it under pylow record"
	grep -q 'pyusdt' "$d/rec.err" || fail "stderr does not mention pyusdt"
	grep -q 'PEP 768' "$d/rec.err" && fail "stderr mentions PEP 768 for a Python < 3.14"
	no_output "$d" "$d/x.plw"
}

# -p of a probe-less Python that loaded a pyusdt library (tests/pyusdt/, built
# for pyenv's 3.12): attached through pyusdt's probes, exact counts
PYUSDT_PY=${PYLOW_TEST_PYUSDT_PYTHON:-$(echo /root/.pyenv/versions/3.12.*/bin/python3.12)}
t_pyusdt_attach() {
	local d=$1
	[ -x "$PYUSDT_PY" ] || { note "skipped: no Python 3.12 at $PYUSDT_PY"; return 0; }
	"$top/tests/pyusdt/build.sh" "$d/lib" "$PYUSDT_PY" >"$d/build.out" 2>&1 || { show "$d/build.out"; fail "cannot build tests/pyusdt (apt-get install systemtap-sdt-dev)"; }
	PYTHONPATH=$d/lib:$PYDIR PY_TARGET=$PYUSDT_PY start_target "$d" "$d/lib/run_known.py" "$d/gt.json"
	attach "$d" -p "$tpid" -o "$d/x.plw"
	grep -q 'pyusdt' "$d/rec.err" || { show "$d/rec.err"; fail "recorder does not say it attached pyusdt"; }
	touch "$d/gate"
	stopped "$tpid" 60
	[ $rc = 0 ] || fail "target exited $rc"
	stopped "$rpid" 30
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc after its target exited"; }
	finished "$d" "$d/x.plw"
	report "$d" "$d/graph.json" graph --json "$d/x.plw"
	check "graph calls differ from the ground truth" calls "$d/gt.json" "$d/graph.json" calls
	report "$d" "$d/info.json" info --json "$d/x.plw"
	grep -q '"source":"pyusdt"' "$d/info.json" || fail "report info does not say the process was fed by pyusdt"
	grep -q 'pyusdt:PY_START","attached":true' "$d/info.json" || fail "manifest lacks pyusdt:PY_START attached"
}

# the agent: missing install refused (names 'make agent'); -I warned about
t_agent_missing_and_isolated() {
	local d=$1
	PYLOW_AGENT_PATH=$d/none rec "$d" record -o "$d/x.plw" -- "$PY" -c pass
	[ $rc != 0 ] || fail "record with no agent installed exited 0"
	show "$d/rec.err"
	grep -q 'make agent' "$d/rec.err" || fail "stderr does not say 'make agent'"
	no_output "$d" "$d/x.plw"
	rec "$d" record -o "$d/x.plw" -- "$PY" -I -c pass
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record of python -I exited $rc"; }
	grep -q 'does not load the agent' "$d/rec.err" || { show "$d/rec.err"; fail "no warning about -I"; }
	# -p with --python=agent: refused (launch only)
	rec "$d" record --python=agent -p $$ -o "$d/y.plw"
	[ $rc = 2 ] || fail "record --python=agent -p exited $rc, want 2"
	grep -q 'launched commands only' "$d/rec.err" || { show "$d/rec.err"; fail "no reason given for --python=agent -p"; }
}

# structure PYTHON MODE SOURCE: tests/py/structure.py recorded with --python=MODE:
# exact counts (its own and known_calls.py's), parent->child edges, threads,
# asyncio, generators, exception unwinding, fork and exec children, sources
structure() {
	local d=$1 py=$2 mode=$3 src=$4
	[ -x "$py" ] || { note "skipped: $py not installed"; return 0; }
	rec "$d" record -q --python="$mode" -o "$d/x.plw" -- "$py" "$PYDIR/structure.py" "$d/gt.json"
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc"; }
	finished "$d" "$d/x.plw"
	[ -s "$d/gt.json" ] || { show "$d/rec.err"; fail "the target wrote no ground truth"; }
	report "$d" "$d/flow.json" flow --all --json "$d/x.plw"
	report "$d" "$d/info.json" info --json "$d/x.plw"
	check "$py ($mode): structure differs from the ground truth" structure "$d/gt.json" "$d/flow.json" "$d/info.json" "$src"
	check "$py ($mode): events lost or file damaged" finished "$d/info.json"
}
PYENV=/root/.pyenv/versions
t_structure_agent_3_6() { structure "$1" "$(echo $PYENV/3.6.*/bin/python3.6)" agent agent; }
t_structure_agent_3_7() { structure "$1" "$(echo $PYENV/3.7.*/bin/python3.7)" agent agent; }
t_structure_agent_3_8() { structure "$1" "$(echo $PYENV/3.8.*/bin/python3.8)" agent agent; }
t_structure_agent_3_9() { structure "$1" "$(echo $PYENV/3.9.*/bin/python3.9)" agent agent; }
t_structure_agent_3_10() { structure "$1" "$(echo $PYENV/3.10.*/bin/python3.10)" agent agent; }
t_structure_agent_3_11() { structure "$1" "$(echo $PYENV/3.11.*/bin/python3.11)" agent agent; }
t_structure_agent_3_12() { structure "$1" "$(echo $PYENV/3.12.*/bin/python3.12)" agent agent; }
t_structure_agent_3_13() { structure "$1" "$(echo $PYENV/3.13.*/bin/python3.13)" agent agent; }
# auto = agent for a launched command, also through the pyenv shim on PATH
t_structure_auto_shim() {
	command -v python3 >/dev/null || { note "skipped: no python3 on PATH"; return 0; }
	structure "$1" "$(command -v python3)" auto agent
}
# Debian's 3.11 both ways: exact each, and the same counts
t_structure_debian_usdt_vs_agent() {
	local d=$1
	mkdir -p "$d/usdt" "$d/agent"
	( structure "$d/usdt" "$PY" usdt usdt ) || exit 1
	( structure "$d/agent" "$PY" agent agent ) || exit 1
	check "usdt and agent counts differ" same "$d/usdt/flow.json" "$d/agent/flow.json" structure.py known_calls.py
}

# -p of a pid that does not exist
t_refuse_missing_pid() {
	local d=$1 pid=999999
	while [ -e /proc/$pid ]; do pid=$((pid + 1)); done
	rec "$d" record -p "$pid" -o "$d/x.plw"
	[ $rc != 0 ] || fail "record -p $pid (no such process) exited 0"
	show "$d/rec.err"
	grep -qF "$pid" "$d/rec.err" || fail "stderr does not name pid $pid"
	no_output "$d" "$d/x.plw"
}

# -p of a process that is not Python
t_refuse_non_python() {
	local d=$1
	sleep 120 &
	local spid=$!
	rec "$d" record -p "$spid" -o "$d/x.plw"
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
	[ $rc != 0 ] || fail "record -p <sleep> exited 0"
	show "$d/rec.err"
	grep -qF "$spid" "$d/rec.err" || fail "stderr does not name pid $spid"
	grep -qiE 'python|usdt|stapsdt|probe' "$d/rec.err" || fail "stderr does not say why"
	no_output "$d" "$d/x.plw"
}

# stop_by_signal DIR SIG: record a ticking target, stop the recorder with SIG
stop_by_signal() {
	local d=$1 sig=$2
	start_target "$d" "$PYDIR/ticker.py" 120 "$d/ticks"
	attach "$d" -p "$tpid" -o "$d/x.plw"
	progressed() { [ -s "$d/ticks" ] && [ "$(cat "$d/ticks")" -ge 100 ]; }
	rm -f "$d/ticks"
	wait_for 20 "the target to tick while recorded" progressed
	kill -"$sig" "$rpid"
	stopped "$rpid" 20
	kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record exited $rc on SIG$sig"; }
	finished "$d" "$d/x.plw"
	check_intact "$d" "$d/x.plw"
}
# check_intact DIR FILE: report info reads FILE without a warning, says it
# finished undamaged, and tick() calls were recorded
check_intact() {
	local d=$1 f=$2
	report "$d" "$d/info.txt" info "$f"
	[ ! -s "$d/report.err" ] || { show "$d/report.err"; fail "report info warned about $f"; }
	report "$d" "$d/info.json" info --json "$f"
	check "report info says $f is damaged" finished "$d/info.json"
	report "$d" "$d/graph.json" graph --json "$f"
	local n
	n=$($HELPER sum "$d/graph.json" calls tick)
	note "$(basename "$f"): $n tick() calls"
	[ "$n" -gt 0 ] || fail "no tick() calls recorded"
}
t_stop_sigint() { stop_by_signal "$1" INT; }
t_stop_sigterm() { stop_by_signal "$1" TERM; }
t_stop_sighup() { stop_by_signal "$1" HUP; }

t_stop_duration() {
	local d=$1
	start_target "$d" "$PYDIR/ticker.py" 120
	local t0=$SECONDS
	rec "$d" record -p "$tpid" -o "$d/x.plw" --duration 1
	kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
	[ $rc = 0 ] || { show "$d/rec.err"; fail "record --duration 1 exited $rc"; }
	note "record --duration 1 took $((SECONDS - t0))s"
	[ $((SECONDS - t0)) -le 15 ] || fail "record --duration 1 took $((SECONDS - t0))s"
	finished "$d" "$d/x.plw"
	check_intact "$d" "$d/x.plw"
}

t_stop_sigkill() {
	local d=$1
	start_target "$d" "$PYDIR/ticker.py" 120 "$d/ticks"
	attach "$d" -p "$tpid" -o "$d/x.plw"
	progressed() { [ -s "$d/ticks" ] && [ "$(cat "$d/ticks")" -ge 100 ]; }
	rm -f "$d/ticks"
	wait_for 20 "the target to tick while recorded" progressed
	# the recorder flushes a chunk about every second: wait until the
	# .partial file holds some calls, so that there is something to salvage
	flushed() {
		"$PYLOW" report info --json "$d/x.plw.partial" >"$d/info0.json" 2>/dev/null || return 1
		[ "$($HELPER entries "$d/info0.json")" -gt 0 ]
	}
	wait_for 20 "x.plw.partial to hold calls" flushed
	kill -9 "$rpid"
	stopped "$rpid" 20 2>/dev/null	# no "Killed" job notice
	kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
	[ ! -e "$d/x.plw" ] || fail "x.plw exists after kill -9 (want only x.plw.partial)"
	[ -s "$d/x.plw.partial" ] || fail "no x.plw.partial after kill -9"
	report "$d" "$d/info.txt" info "$d/x.plw.partial"
	grep -qiE 'cut short' "$d/info.txt" || { sed 's/^/      | /' "$d/info.txt"; fail "report info does not say the recording was cut short"; }
	report "$d" "$d/info.json" info --json "$d/x.plw.partial"
	check "report info --json does not mark the file as cut short" cut "$d/info.json"
	report "$d" "$d/graph.json" graph --json "$d/x.plw.partial"
	local n
	n=$($HELPER sum "$d/graph.json" calls tick)
	note "x.plw.partial: $n tick() calls readable"
	[ "$n" -gt 0 ] || fail "no tick() calls readable from x.plw.partial"
}

CASES=(launch_counts attach_counts sleep_durations children threads deep_stack perf_script
       refuse_noprobe_python refuse_noprobe_attach refuse_missing_pid refuse_non_python
       structure_agent_3_6 structure_agent_3_7 structure_agent_3_8 structure_agent_3_9
       structure_agent_3_10 structure_agent_3_11 structure_agent_3_12 structure_agent_3_13
       structure_auto_shim structure_debian_usdt_vs_agent pyusdt_attach
       agent_missing_and_isolated
       stop_sigint stop_sigterm stop_sighup stop_duration stop_sigkill)
[ $# -gt 0 ] && CASES=("$@")

echo "integration: $PYLOW, target $PY ($("$PY" --version 2>&1)), kernel $(uname -r), temp $T"
passed=0 failed=0 failures=()
for c in "${CASES[@]}"; do
	declare -F "t_$c" >/dev/null || { echo "integration: no case '$c'" >&2; failed=$((failed + 1)); failures+=("$c"); continue; }
	d=$T/$c
	mkdir -p "$d"
	echo "--- $c"
	t0=$(date +%s.%N)
	( trap 'kill_ours >/dev/null' EXIT; "t_$c" "$d" )
	r=$?
	dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ $r = 0 ]; then
		echo "ok   $c (${dt}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $c (${dt}s)"
		failed=$((failed + 1))
		failures+=("$c")
	fi
done
reap
[ $failed = 0 ] || echo "failed: ${failures[*]}"
[ "${KEEP:-0}" = 1 ] && echo "integration: keeping $T"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
