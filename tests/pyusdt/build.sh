#!/bin/sh
# build.sh OUTDIR PYTHON - builds _pyusdt for PYTHON (3.12+) into OUTDIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1 py=$2
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
suf=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
mkdir -p "$out"
${CC:-gcc} -O2 -g -fPIC -shared -Wall -I"$inc" -o "$out/_pyusdt$suf" "$here/_pyusdt.c"
cp "$here/pyusdt.py" "$here/run_known.py" "$out/"
