#!/usr/bin/env bash
# tests/integration/multihost.sh - several hosts on one machine: network
# namespaces made here (veth pairs to a bridge, 10.77.0.0/24), each host its
# own UTS hostname, real services (tests/py/multihost/svc.py: stdlib HTTP
# servers that propagate traceparent as OpenTelemetry does, Debian's
# redis-server), one `pylow record -p` per recorded host, then `pylow report
# flow/stitch/hosts` over the files, checked against the ground truth the
# services logged (tests/integration/multihost.py).  Needs root, BTF, Debian's
# /usr/bin/python3.11 (USDT), iproute2, redis-server and openssl.
#
#   PYLOW=build/pylow tests/integration/multihost.sh [CASE...]  ('make test-multihost')
#
#   host    address     runs                         recorded
#   client  10.77.0.1   load generator (svc.py load)  client.plw
#   front   10.77.0.2   svc.py front :8080 (:8443)    front.plw
#   api     10.77.0.3   svc.py api   :8080            api.plw
#   stock   10.77.0.4   svc.py stock :8080            stock.plw
#   cache   10.77.0.5   redis-server :6390            (not Python)
#
# A scenario (plain, shift, notp, tls) starts everything, records one load
# run and stops everything; its files stay in $T/scen-NAME for the cases that
# use it.  Every namespace is named mh<runner pid>-HOST and deleted by the
# EXIT trap; the runner fails if one is left.  Same conventions as run.sh:
# SKIP without root (a failure under CI=true), KEEP=1 keeps the temp dir, the
# last line is always "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
SVC=$top/tests/py/multihost/svc.py
PYLOW=${PYLOW:-$top/build/pylow}
case $PYLOW in /*) ;; *) PYLOW=$PWD/$PYLOW ;; esac
PY=${PYLOW_TEST_PYTHON:-/usr/bin/python3.11}
CHECK="$PY $here/multihost.py"
REDIS=${PYLOW_TEST_REDIS:-/usr/bin/redis-server}
M=${MH_REQUESTS:-8}			# requests per scenario
SHIFT_NS=3000000000			# case shift: api's wall clock 3 s ahead
NSP=mh$$				# namespace prefix of this run

RUNNER=multihost
. "$here/lib.sh"
need_bpf_python "BPF and network namespaces (run as root: sudo make test-multihost)"
for tool in ip nsenter unshare openssl "$REDIS"; do
	command -v "$tool" >/dev/null || skip "$tool missing (apt-get install iproute2 util-linux openssl redis-server)"
done
ip netns add "$NSP-probe" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
ip netns del "$NSP-probe"

T=$(mktemp -d /tmp/pylow-mhtest.XXXXXX)
export PYLOW_ITEST_TAG=$T		# every process we start carries it

# redis-server rewrites its argv and environ area (its process title), so
# its pid is also kept in $T/redis.pids
kill_ours() {
	local p left
	left=$(ours)
	if [ -s "$T/redis.pids" ]; then
		for p in $(cat "$T/redis.pids"); do
			grep -qs redis-server "/proc/$p/cmdline" && left="$left $p"
		done
	fi
	[ -n "$left" ] || return 0
	for p in $left; do kill -9 "$p" 2>/dev/null; done
	echo "$left" | wc -w
}
our_netns() { ip netns list | awk -v p="$NSP-" 'index($1, p) == 1 { print $1 }'; }
net_down() {
	local ns
	for ns in $(our_netns); do ip netns del "$ns" 2>/dev/null; done
}
cpid=''			# the running case's subshell
cleanup() {
	local n
	[ -z "$cpid" ] || kill "$cpid" 2>/dev/null
	n=$(kill_ours)
	[ -z "$n" ] || echo "multihost: killed $n leftover process(es)"
	net_down
	[ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the hosts
HOSTS=(client front api stock cache)
declare -A IP=([client]=10.77.0.1 [front]=10.77.0.2 [api]=10.77.0.3 [stock]=10.77.0.4 [cache]=10.77.0.5)
RECORDED=(client front api stock)

# net_up: a bridge in namespace NSP-sw, one namespace per host with a veth
# (eth0 inside) on the bridge, and lo up
net_up() {
	local h sw=$NSP-sw
	ip netns add "$sw" || return 1
	ip -n "$sw" link add br0 type bridge || return 1
	ip -n "$sw" link set br0 up || return 1
	for h in "${HOSTS[@]}"; do
		ip netns add "$NSP-$h" || return 1
		ip -n "$sw" link add "v-$h" type veth peer name eth0 netns "$NSP-$h" || return 1
		ip -n "$sw" link set "v-$h" master br0 up || return 1
		ip -n "$NSP-$h" addr add "${IP[$h]}/24" dev eth0 || return 1
		ip -n "$NSP-$h" link set eth0 up || return 1
		ip -n "$NSP-$h" link set lo up || return 1
	done
}
# on HOST CMD...: CMD in HOST's network namespace and in a new UTS namespace
# whose hostname is HOST (so uname, and pylow record's META hostname, say
# HOST).  nsenter, not 'ip netns exec': that remounts /sys, and with it the
# tracefs under /sys/kernel/tracing the recorder needs.  Runs in the
# background; every step execs, so $! is CMD's pid.
on() {
	local h=$1; shift
	( exec nsenter --net="/run/netns/$NSP-$h" unshare --uts \
		sh -c 'hostname "$0" && exec "$@"' "$h" "$@" ) &
}

# --- helpers used inside cases (each case runs in a subshell: fail exits it)
fail() { echo "    FAIL: $*"; exit 1; }
note() { echo "    $*"; }
wait_for() {	# wait_for SECONDS WHAT CMD...: poll CMD every 20 ms
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		[ $SECONDS -lt $end ] || fail "timed out after ${secs}s waiting for $what"
		sleep 0.02
	done
}
show() { [ -s "$1" ] && sed 's/^/      | /' "$1" | tail -n 20; return 0; }
stopped() {	# stopped PID SECONDS: wait for a background child; status in $rc
	local pid=$1 secs=$2
	local end=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $end ] || { kill -9 "$pid" 2>/dev/null; fail "pid $pid still running after ${secs}s"; }
		sleep 0.02
	done
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
}
report() {	# report DIR OUT ARGS...: pylow report ARGS > OUT; fails the case on error
	local d=$1 out=$2; shift 2
	local r=0
	timeout -k 5 120 "$PYLOW" report "$@" >"$out" 2>"$d/report.err" || r=$?
	[ $r = 0 ] || { show "$d/report.err"; fail "pylow report $* exited $r"; }
}
# check WHAT CHECKER-ARGS...: multihost.py CHECKER-ARGS; on a mismatch the
# case goes on (so that one run shows every check's result) and fails at
# its end (settle, run by the runner); must_check fails at once
failed_checks=()
check() {
	local what=$1; shift
	local out
	out=$($CHECK "$@") || { echo "$out" | sed 's/^/    /'; echo "    FAIL: $what"; failed_checks+=("$what"); return 0; }
	echo "$out" | sed 's/^/    /'
}
must_check() {
	local what=$1; shift
	local out
	out=$($CHECK "$@") || { echo "$out" | sed 's/^/    /'; fail "$what"; }
	echo "$out" | sed 's/^/    /'
}
settle() { [ ${#failed_checks[@]} = 0 ] || fail "${#failed_checks[@]} check(s) failed (above)"; }

# started DIR NAME: the service's stdout says READY (or it died: fail)
started() {
	local d=$1 n=$2 pid
	pid=$(cat "$d/$n.pid")
	ready() {
		kill -0 "$pid" 2>/dev/null || { show "$d/$n.err"; fail "$n exited before it was ready"; }
		grep -qs '^READY' "$d/$n.out"
	}
	wait_for 20 "$n to listen" ready
}
# service DIR HOST ARGS...: svc.py ARGS on HOST in the background, pid in DIR/HOST.pid
service() {
	local d=$1 h=$2; shift 2
	on "$h" "$PY" "$SVC" "$@" >"$d/$h.out" 2>"$d/$h.err"
	echo $! >"$d/$h.pid"
}
# recorder DIR HOST PID [ENV...]: pylow record -p PID on HOST into DIR/HOST.plw;
# returns once it says its probes are attached
recorder() {
	local d=$1 h=$2 pid=$3; shift 3
	on "$h" env "$@" "$PYLOW" record -p "$pid" --python=usdt -o "$d/$h.plw" \
		>"$d/rec-$h.out" 2>"$d/rec-$h.err"
	local r=$!
	echo $r >"$d/rec-$h.pid"
	is_attached() {
		kill -0 "$r" 2>/dev/null || { show "$d/rec-$h.err"; fail "pylow record on $h exited before attaching"; }
		grep -qsi 'attached' "$d/rec-$h.err"
	}
	wait_for 60 "pylow record on $h to say it attached" is_attached
}

# scenario NAME [--shift HOST] [--no-traceparent] [--tls]: records one load
# run of M requests into $T/scen-NAME/{client,front,api,stock}.plw, ground
# truth in $T/scen-NAME/gt/HOST.jsonl; once per run (later calls reuse it)
scenario() {
	local name=$1; shift
	local d=$T/scen-$name shift_host='' svcopt=() gtopt=() scheme=http fport=8080 h
	[ -e "$d/done" ] && return 0
	[ -e "$d/failed" ] && fail "scenario $name failed before"
	while [ $# -gt 0 ]; do
		case $1 in
		--shift) shift_host=$2; shift ;;
		--no-traceparent) svcopt+=(--no-traceparent); gtopt+=(--no-traceparent) ;;
		--tls) scheme=https fport=8443; gtopt+=(--tls) ;;
		esac
		shift
	done
	rm -rf "$d"; mkdir -p "$d/gt"
	touch "$d/failed"	# until done
	if [ $scheme = https ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=front \
			-addext "subjectAltName=IP:${IP[front]}" \
			-keyout "$d/key.pem" -out "$d/cert.pem" >"$d/openssl.err" 2>&1 \
			|| { show "$d/openssl.err"; fail "openssl could not make a self-signed certificate"; }
		svcopt+=(--cafile "$d/cert.pem")
	fi
	on cache "$REDIS" --bind "${IP[cache]}" --port 6390 --save '' --appendonly no \
		--protected-mode no --dir "$d" >"$d/cache.out" 2>"$d/cache.err"
	local rpid=$!
	echo $rpid >>"$T/redis.pids"
	redis_up() {
		kill -0 "$rpid" 2>/dev/null || { show "$d/cache.out"; fail "redis-server exited"; }
		grep -qs 'Ready to accept connections' "$d/cache.out"
	}
	wait_for 20 "redis-server to listen" redis_up
	service "$d" stock stock "$d/gt/stock.jsonl" --listen "${IP[stock]}:8080" "${svcopt[@]}"
	service "$d" api api "$d/gt/api.jsonl" --listen "${IP[api]}:8080" \
		--stock "http://${IP[stock]}:8080" --redis "${IP[cache]}:6390" "${svcopt[@]}"
	local ftls=()
	[ $scheme = https ] && ftls=(--tls "$d/cert.pem" "$d/key.pem")
	service "$d" front front "$d/gt/front.jsonl" --listen "${IP[front]}:$fport" \
		--api "http://${IP[api]}:8080" "${ftls[@]}" "${svcopt[@]}"
	for h in stock api front; do started "$d" "$h"; done
	PYLOW_GATE=$d/gate service "$d" client load "$d/gt/client.jsonl" \
		--target "$scheme://${IP[front]}:$fport" --n "$M" --concurrency 2 "${svcopt[@]}"
	local lpid
	lpid=$(cat "$d/client.pid")
	wait_for 20 "the load generator to start" grep -qs '^PID ' "$d/client.out"
	for h in "${RECORDED[@]}"; do
		local env=()
		[ "$h" = "$shift_host" ] && env=("PYLOW_TOD_SHIFT_NS=$SHIFT_NS")
		recorder "$d" "$h" "$(cat "$d/$h.pid")" PYLOW_ITEST_HOST="$h" "${env[@]}"
	done
	touch "$d/gate"
	stopped "$lpid" 120
	[ $rc = 0 ] || { show "$d/client.err"; fail "the load generator exited $rc"; }
	# the client's recorder stops with its target; the servers' on SIGINT
	for h in front api stock; do kill -INT "$(cat "$d/rec-$h.pid")"; done
	for h in "${RECORDED[@]}"; do
		stopped "$(cat "$d/rec-$h.pid")" 60
		[ $rc = 0 ] || { show "$d/rec-$h.err"; fail "pylow record on $h exited $rc"; }
		[ -s "$d/$h.plw" ] && [ ! -e "$d/$h.plw.partial" ] || { show "$d/rec-$h.err"; fail "no complete recording $h.plw"; }
	done
	for h in front api stock; do kill "$(cat "$d/$h.pid")" 2>/dev/null; done
	kill "$rpid" 2>/dev/null
	for h in front api stock; do stopped "$(cat "$d/$h.pid")" 20; done
	stopped "$rpid" 20
	# the ground truth itself must be complete and consistent first
	must_check "scenario $name: the services' ground truth is inconsistent" \
		gt "$d/gt" "$M" "${gtopt[@]}"
	rm -f "$d/failed"
	touch "$d/done"
}
files() {	# files SCENARIO [HOST...]: the recordings of SCENARIO (default: all)
	local s=$1 h; shift
	[ $# -gt 0 ] || set -- "${RECORDED[@]}"
	for h in "$@"; do echo "$T/scen-$s/$h.plw"; done
}

# ---------------------------------------------------------------- the cases

# the recordings are the hosts': hostname in each file is the host's
t_host_identity() {
	local d=$1 h
	scenario plain
	for h in "${RECORDED[@]}"; do
		report "$d" "$d/info-$h.json" info --json "$(files plain "$h")"
		check "$h.plw does not name host $h" info "$d/info-$h.json" "$h"
	done
}

# labels SCENARIO: every recorded host's NET_LABEL and NET_CONN events (as
# perf script prints them) are exactly those of its spans in the ground
# truth, and on this one clock no message is received before it was sent
labels() {
	local s=$1 h r
	command -v perf >/dev/null || fail "perf not installed (apt-get install linux-perf)"
	for h in "${RECORDED[@]}"; do
		r=0
		timeout -k 5 120 perf script --ns -F tid,time,event,trace -i "$(files "$s" "$h")" \
			>"$d/perf-$h.out" 2>"$d/perf-$h.err" || r=$?
		[ $r = 0 ] || { show "$d/perf-$h.err"; fail "perf script of $h.plw exited $r"; }
		check "$h.plw: network events differ from the ground truth" labels "$T/scen-$s/gt" "$h" "$d/perf-$h.out"
	done
	# all hosts share this machine's monotonic clock: the labels' own times
	# must already be causal (stitch's clock offsets rely on it)
	check "$s: a message received before it was sent" order "$d"
}

# the checks themselves: an ideal perf script and flow built from the ground
# truth pass; planted faults (a label dropped or altered, spans of two
# requests swapped, a span detached, a wrong parent id, a tree twice, a host
# 3 s late, a host 8 ms early) each fail
t_checker() {
	local d=$1
	scenario plain
	check "multihost.py lets a planted fault pass (or fails the ideal)" selftest "$T/scen-plain/gt" "$d"
}

# every host's HTTP and Redis labels and connections, exactly
t_labels() {
	local d=$1
	scenario plain
	labels plain
}

# (a) every known trace id: one tree over client, front, api and stock,
# parent and child links right, HTTP and Redis labels present
t_trees() {
	local d=$1
	scenario plain
	# shellcheck disable=SC2046
	report "$d" "$d/flow.json" flow --all --json $(files plain)
	check "flow across hosts differs from the ground truth" tree "$T/scen-plain/gt" "$d/flow.json" --link traceparent
	check "flow across hosts is not causal" causal "$T/scen-plain/gt" "$d/flow.json"
	# shellcheck disable=SC2046
	report "$d" "$d/stitch.json" stitch --json $(files plain)
	check "stitch differs from the ground truth" stitch "$T/scen-plain/gt" "$d/stitch.json"
	# shellcheck disable=SC2046
	report "$d" "$d/hosts.json" hosts --json $(files plain)
	check "hosts: offsets of one clock not ~0" hosts "$d/hosts.json" "client=0,front=0,api=0,stock=0" 5000000
}

# (b) api's wall clock 3 s ahead in its file: the merged flow stays causal
# and hosts reports the 3 s within a few ms
t_clock_shift() {
	local d=$1
	scenario shift --shift api
	# shellcheck disable=SC2046
	report "$d" "$d/hosts.json" hosts --json $(files shift)
	check "hosts does not report api's 3 s offset" hosts "$d/hosts.json" "client=0,front=0,api=$SHIFT_NS,stock=0" 5000000
	# shellcheck disable=SC2046
	report "$d" "$d/flow.json" flow --all --json $(files shift)
	check "flow across hosts differs from the ground truth" tree "$T/scen-shift/gt" "$d/flow.json" --link traceparent
	check "flow with a shifted host is not causal" causal "$T/scen-shift/gt" "$d/flow.json"
}

# (c) api's file left out: front's calls to api end unlinked, stock (api's
# peer) keeps all its calls (as in its file alone) and report stitch its
# spans, the rest of each tree is intact
t_missing_host() {
	local d=$1
	scenario plain
	# shellcheck disable=SC2046
	report "$d" "$d/stock.json" flow --all --json "$(files plain stock)"
	# shellcheck disable=SC2046
	report "$d" "$d/flow.json" flow --all --json $(files plain client front stock)
	check "flow without api.plw is wrong" tree "$T/scen-plain/gt" "$d/flow.json" --link traceparent \
		--missing api --alone stock="$d/stock.json"
	# shellcheck disable=SC2046
	report "$d" "$d/stitch.json" stitch --json $(files plain client front stock)
	check "stitch without api.plw is wrong" stitch "$T/scen-plain/gt" "$d/stitch.json" --missing api
	# the text says where each tree breaks: at front's call into api
	# shellcheck disable=SC2046
	report "$d" "$d/flow.txt" flow --all $(files plain client front stock)
	local k
	k=$(grep -c "\[POST ${IP[api]}:8080/v1/price/[0-9]*\].*(no recording of ${IP[api]}:8080)" "$d/flow.txt")
	note "front's calls to api marked '(no recording of ${IP[api]}:8080)': $k of $M"
	[ "$k" = "$M" ] || fail "the text flow marks $k calls into api as unrecorded, want $M"
}

# (d) no traceparent anywhere: the TCP fallback links the same trees
t_tcp_fallback() {
	local d=$1
	scenario notp --no-traceparent
	labels notp
	# shellcheck disable=SC2046
	report "$d" "$d/flow.json" flow --all --json $(files notp)
	check "flow without traceparent differs from the ground truth" tree "$T/scen-notp/gt" "$d/flow.json" --link tcp
	check "flow without traceparent is not causal" causal "$T/scen-notp/gt" "$d/flow.json"
	# shellcheck disable=SC2046
	report "$d" "$d/hosts.json" hosts --json $(files notp)
	check "hosts (tcp joins): offsets of one clock not ~0" hosts "$d/hosts.json" "client=0,front=0,api=0,stock=0" 5000000
}

# (e) client -> front over TLS (self-signed certificate): labelled like
# plain HTTP (through libssl), the trees linked as in (a)
t_tls() {
	local d=$1
	scenario tls --tls
	labels tls
	# shellcheck disable=SC2046
	report "$d" "$d/flow.json" flow --all --json $(files tls)
	check "TLS labels or trees differ from the ground truth" tree "$T/scen-tls/gt" "$d/flow.json" --link traceparent --tls
	check "flow with TLS is not causal" causal "$T/scen-tls/gt" "$d/flow.json"
	# shellcheck disable=SC2046
	report "$d" "$d/hosts.json" hosts --json $(files tls)
	check "hosts (TLS): offsets of one clock not ~0" hosts "$d/hosts.json" "client=0,front=0,api=0,stock=0" 5000000
}

CASES=(host_identity checker labels trees clock_shift missing_host tcp_fallback tls)
[ $# -gt 0 ] && CASES=("$@")

echo "multihost: $PYLOW, $PY ($("$PY" --version 2>&1)), $("$REDIS" --version | cut -d' ' -f1-3), kernel $(uname -r), temp $T"
before=$(our_netns)
[ -z "$before" ] || { echo "multihost: namespaces $NSP-* exist already" >&2; echo "0 passed, 1 failed"; exit 1; }
if ! net_up 2>"$T/net.err"; then
	sed 's/^/      | /' "$T/net.err"
	echo "multihost: cannot build the test network"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "multihost: hosts $(for h in "${HOSTS[@]}"; do printf '%s=%s ' "$h" "${IP[$h]}"; done)in namespaces $NSP-*"
passed=0 failed=0 failures=()
for c in "${CASES[@]}"; do
	declare -F "t_$c" >/dev/null || { echo "multihost: no case '$c'" >&2; failed=$((failed + 1)); failures+=("$c"); continue; }
	d=$T/$c
	mkdir -p "$d"
	echo "--- $c"
	t0=$(date +%s.%N)
	# in the background, so that a signal to the runner is handled at once
	( trap 'kill_ours >/dev/null' EXIT; "t_$c" "$d" && settle ) &
	cpid=$!
	r=0
	wait "$cpid" || r=$?
	cpid=
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
n=$(kill_ours)
[ -z "$n" ] || echo "multihost: killed $n leftover process(es)"
net_down
left=$(our_netns)
if [ -n "$left" ]; then
	echo "multihost: namespaces left behind: $left"
	failed=$((failed + 1)); failures+=(teardown)
fi
[ $failed = 0 ] || echo "failed: ${failures[*]}"
[ "${KEEP:-0}" = 1 ] && echo "multihost: keeping $T"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
