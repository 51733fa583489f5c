#!/usr/bin/env bash
# Installs what pylow needs to build and test on Debian 12, and mounts tracefs.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
pkgs=(make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev libdw-dev
      libzstd-dev libtraceevent-dev libtracefs-dev libcmocka-dev zlib1g-dev
      linux-perf python3.11 python3.11-dev systemtap-sdt-dev zstd
      iproute2 util-linux redis-server openssl)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
if [ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/debug/tracing ] && [ -d /sys/kernel/debug ]; then
	mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi
exit 0
