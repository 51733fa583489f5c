# tests/integration/lib.sh - what the root test runners (run.sh, multihost.sh)
# share; sourced after they set RUNNER (the name in their messages).
#
#   skip REASON        SKIP and exit 0; under CI=true a failure (exit 1)
#   ours               pids whose environment carries PYLOW_ITEST_TAG=$T
#                      (every process a runner starts), bash builtins only so
#                      that no process of the scan itself can match
#   need_bpf_python WHY  the checks both runners make before starting: root
#                      (needed for WHY), BTF, the pylow binary, the probed
#                      Python, a BPF build

skip() {
	if [ "${CI:-}" = true ]; then
		echo "$RUNNER: FAIL: cannot run under CI: $*" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "$RUNNER: SKIP: $*"
	echo "0 passed, 0 failed"
	exit 0
}

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

# the checks both runners make before starting; WHY_ROOT says what root is for
need_bpf_python() {
	[ "$(id -u)" = 0 ] || skip "needs root for $1"
	[ -r /sys/kernel/btf/vmlinux ] || skip "this kernel has no BTF (/sys/kernel/btf/vmlinux)"
	[ -x "$PYLOW" ] || { echo "$RUNNER: $PYLOW not found; build with 'make'" >&2; echo "0 passed, 1 failed"; exit 1; }
	[ -x "$PY" ] || skip "$PY missing (apt-get install python3.11)"
	readelf -n "$PY" 2>/dev/null | grep -q stapsdt || skip "$PY has no USDT probes (.note.stapsdt)"
	if "$PYLOW" record --help 2>&1 | grep -q NO_BPF; then
		skip "$PYLOW was built with NO_BPF=1 (report only)"
	fi
}
