#!/usr/bin/env bash
# demo/run.sh - record the bundled demo service for 5 s under load, then report.
#
#   PYLOW=build/pylow demo/run.sh        (as root; 'make demo' does this)
#
# Starts demo/service.py with Debian's /usr/bin/python3.11 (it has CPython's
# USDT probes), attaches `pylow record -p PID --duration 5`, drives requests
# through it with demo/loadgen.py while it records, then prints
# `pylow report info` and `pylow report flow --top 3`.  Leaves nothing running.
# KEEP=1 keeps the recording (its path is printed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PYLOW=${PYLOW:-$here/../build/pylow}
PY=${DEMO_PYTHON:-/usr/bin/python3.11}
DURATION=${DEMO_DURATION:-5}

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$PYLOW" ] || die "$PYLOW not found; build it first with 'make' (or run 'make demo')"
[ -x "$PY" ] || die "$PY not found; install Debian's python3.11 package (apt-get install python3.11)"
[ "$(id -u)" = 0 ] || die "recording needs root (BPF and uprobes); run as root: sudo make demo"

tmp=$(mktemp -d /tmp/pylow-demo.XXXXXX)
svc_pid='' rec_pid='' load_pid=''
cleanup() {
	local rc=$?
	for p in $load_pid $rec_pid $svc_pid; do
		kill "$p" 2>/dev/null || true
	done
	for p in $load_pid $rec_pid $svc_pid; do
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "demo: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 50 ms
wait_for() {
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		[ $SECONDS -lt $end ] || die "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

echo "== starting the demo service ($PY demo/service.py)"
"$PY" "$here/service.py" --port-file "$tmp/port" >"$tmp/service.log" 2>&1 &
svc_pid=$!
wait_for 20 "the service to listen" test -s "$tmp/port"
port=$(cat "$tmp/port")
answers() {
	"$PY" -c 'import sys,urllib.request as u; u.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=1).read()' "$port" 2>/dev/null
}
wait_for 20 "the service to answer on port $port" answers
echo "   pid $svc_pid, http://127.0.0.1:$port/"

echo "== $PYLOW record -p $svc_pid -o demo.plw --duration $DURATION"
"$PYLOW" record -p "$svc_pid" -o "$tmp/demo.plw" --duration "$DURATION" 2>"$tmp/record.err" &
rec_pid=$!
attached() {
	kill -0 "$rec_pid" 2>/dev/null || { cat "$tmp/record.err" >&2; die "pylow record exited early"; }
	grep -qsi attached "$tmp/record.err"
}
wait_for 30 "pylow record to attach" attached

echo "== load: demo/loadgen.py, 3 at a time, while recording"
# no new request after DURATION-1 s, so that the requests end inside the recording
"$PY" "$here/loadgen.py" --requests 40 --concurrency 3 --timeout $((DURATION > 2 ? DURATION - 1 : 1)) "$port" &
load_pid=$!
wait "$load_pid" || echo "demo: warning: some requests failed" >&2
load_pid=

rc=0
wait "$rec_pid" || rc=$?
rec_pid=
sed 's/^/   record: /' "$tmp/record.err"
[ $rc = 0 ] || die "pylow record exited with status $rc"
[ -s "$tmp/demo.plw" ] || die "no recording written"

echo
echo "== $PYLOW report info demo.plw    (one thread per request: the list is shortened here)"
"$PYLOW" report info "$tmp/demo.plw" >"$tmp/info.txt"
awk '/^    tid / { if (++n > 3) next } !/^    tid / && n > 3 && !done { printf "    … %d more threads\n", n - 3; done = 1 } { print }
     END { if (n > 3 && !done) printf "    … %d more threads\n", n - 3 }' "$tmp/info.txt"
echo
echo "== $PYLOW report flow --top 3 --min-ms 1 demo.plw    (the 3 slowest requests; calls under 1 ms summed)"
"$PYLOW" report flow --top 3 --min-ms 1 "$tmp/demo.plw"
echo
if [ "${KEEP:-0}" = 1 ]; then
	echo "== done. The recording is $tmp/demo.plw; try: $PYLOW report timeline|graph $tmp/demo.plw"
else
	echo "== done. KEEP=1 demo/run.sh keeps the recording, for: pylow report timeline|graph FILE"
fi
