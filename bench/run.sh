#!/usr/bin/env bash
# bench/run.sh - `make bench`: pylow next to perf, bpftrace, BCC's uflow and a
# count-only BPF floor on the same workloads; results under bench/results/.
# Needs root.  Environment: PYLOW (pylow binary), ROUNDS (5), PEER_ROUNDS,
# W1_ARGS, W2_ARGS, LONG_ARGS, HALF_ARGS, TRACERS, SKIP_REPORT, WORKLOADS,
# BENCH_NO_INSTALL=1 (do not apt-get).  See bench/README.md.
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
B="$BENCH/build"
say() { printf 'bench: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "needs root (BPF, uprobes, perf probe)"; exit 1
fi

# --- peers, from Debian's packages; a peer that cannot be installed is skipped later
install_peers() {
	local want=()
	command -v bpftrace >/dev/null || want+=(bpftrace)
	[ -x /usr/sbin/uflow ] || command -v uflow-bpfcc >/dev/null || want+=(bpfcc-tools)
	command -v perf >/dev/null || want+=(linux-perf)
	[ -x /usr/bin/time ] || want+=(time)
	# BCC compiles its programs against kernel headers; a kernel without
	# /lib/modules/$(uname -r)/build or kheaders gets Debian's nearest ones
	if [ ! -e "/lib/modules/$(uname -r)/build" ] && [ ! -e /sys/kernel/kheaders.tar.xz ] &&
	   ! ls -d /usr/src/linux-headers-*-common >/dev/null 2>&1; then
		want+=(linux-headers-amd64)
	fi
	[ ${#want[@]} = 0 ] && return 0
	[ "${BENCH_NO_INSTALL:-0}" = 1 ] && { say "not installing ${want[*]} (BENCH_NO_INSTALL=1)"; return 0; }
	say "installing ${want[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed"
	local p
	for p in "${want[@]}"; do
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 ||
			say "could not install $p; its runs will be skipped"
	done
}
install_peers

# a merged header tree (common + arch) that BCC accepts as BCC_KERNEL_SOURCE
if [ -z "${BCC_KERNEL_SOURCE:-}" ] && [ ! -e "/lib/modules/$(uname -r)/build" ] &&
   [ ! -e /sys/kernel/kheaders.tar.xz ] && [ ! -e "$B/kheaders/include/linux/kconfig.h" ]; then
	common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -1)
	arch=${common%-common}-amd64
	if [ -n "$common" ] && [ -d "$arch" ]; then
		say "BCC: no headers for $(uname -r); using $(basename "$arch") via BCC_KERNEL_SOURCE"
		rm -rf "$B/kheaders" && mkdir -p "$B/kheaders" &&
			cp -as "$common/." "$B/kheaders/" && cp -asf "$arch/." "$B/kheaders/" ||
			say "could not build the BCC header tree"
	fi
fi

mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
ulimit -l unlimited 2>/dev/null || true

make -s -C "$BENCH" B="$B" >&2 || { say "building the floor failed"; exit 1; }

if [ -z "${PYLOW:-}" ]; then
	for c in "$REPO/build/pylow" "$REPO"/build-*/pylow; do
		[ -x "$c" ] && { PYLOW=$c; break; }
	done
fi
[ -n "${PYLOW:-}" ] && PYLOW=$(realpath "$PYLOW")
if [ -z "${WORKLOADS:-}" ]; then
	for d in "$REPO/../shared/workloads" /work/shared/workloads; do
		[ -f "$d/w1_cpu.py" ] && { WORKLOADS=$(cd "$d" && pwd); break; }
	done
fi

export PYLOW="${PYLOW:-}" WORKLOADS="${WORKLOADS:-}" FLOOR="$B/floor"
exec /usr/bin/python3.11 "$BENCH/bench.py"
