#!/bin/sh
# build.sh [-o OUTDIR] PYTHON... - build _pylow_agent for each PYTHON into
# OUTDIR/<major.minor>/ (default OUTDIR: build/agent, from the repo root) and
# put sitecustomize.py in OUTDIR.  With no PYTHON: every pyenv 3.x under
# /root/.pyenv/versions plus /usr/bin/python3.11 if its headers are there.
# One build per minor version (the first PYTHON given for it wins): the
# extension ABI is stable within a minor version, so Debian's python3.11 and
# pyenv's 3.11.7 share one .so.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$root/build/agent"
if [ "${1:-}" = "-o" ]; then out=$2; shift 2; fi
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2 -g}

if [ $# -eq 0 ]; then
	set --
	for p in /root/.pyenv/versions/3.*/bin/python3.[0-9] /root/.pyenv/versions/3.*/bin/python3.[0-9][0-9]; do
		[ -x "$p" ] && set -- "$@" "$p"
	done
	[ -x /usr/bin/python3.11 ] && [ -r /usr/include/python3.11/Python.h ] && set -- "$@" /usr/bin/python3.11
fi

mkdir -p "$out"
cp "$here/sitecustomize.py" "$out/sitecustomize.py"
status=0
for py in "$@"; do
	info=$("$py" -c 'import sys, sysconfig; print("%d.%d" % sys.version_info[:2]); print(sysconfig.get_paths()["include"]); print(sysconfig.get_config_var("EXT_SUFFIX") or ".so")') || {
		echo "build.sh: $py does not run; skipped" >&2; status=1; continue; }
	ver=$(echo "$info" | sed -n 1p)
	inc=$(echo "$info" | sed -n 2p)
	suffix=$(echo "$info" | sed -n 3p)
	dir="$out/$ver"
	so="$dir/_pylow_agent$suffix"
	if [ -n "${seen:-}" ] && echo " $seen " | grep -q " $ver "; then continue; fi
	seen="${seen:-} $ver"
	if [ ! -r "$inc/Python.h" ]; then
		echo "build.sh: no Python.h in $inc for $py (install its -dev package); skipped" >&2
		status=1; continue
	fi
	mkdir -p "$dir"
	# 3.11's hook reads the head of the interpreter's frame (frame311.h)
	if [ "$ver" = 3.11 ] && ! $CC -fsyntax-only -std=gnu11 -I"$root" -I"$inc" \
		"$here/frame311_check.c"; then
		echo "build.sh: agent/frame311.h does not match $inc/internal/pycore_frame.h ($py); skipped" >&2
		status=1; continue
	fi
	if $CC $CFLAGS -std=gnu11 -fPIC -shared -fvisibility=hidden -Wall -Wextra \
		-Wno-unused-parameter -Wno-missing-field-initializers -Wno-cast-function-type \
		-D_GNU_SOURCE -I"$root" -I"$inc" \
		-o "$so.tmp" "$here/pylow_agent.c" "$here/ring.c" -lpthread -lm; then
		mv "$so.tmp" "$so"
		echo "  AGENT    $so ($py)"
	else
		rm -f "$so.tmp"
		echo "build.sh: build failed for $py" >&2
		status=1
	fi
done
exit $status
