#!/bin/sh
# run.sh BIN SECONDS - run the reader fuzzer for SECONDS.
# The corpus lives next to BIN (BIN.corpus/), seeded from the .plw files
# plwgen writes from tests/golden/gen/*.txt (finished and cut) and from
# tests/fuzz/seeds/*.  Exits non-zero on a crash (artifacts in BIN.artifacts/).
set -eu
BIN=${1:?usage: run.sh BIN SECONDS}
SECONDS_=${2:?usage: run.sh BIN SECONDS}
here=$(cd "$(dirname "$0")/../.." && pwd)
bindir=$(cd "$(dirname "$BIN")" && pwd)
corpus=$bindir/$(basename "$BIN").corpus
artifacts=$bindir/$(basename "$BIN").artifacts
mkdir -p "$corpus" "$artifacts"

# plwgen from the same build dir (BUILD/fuzz/fuzz_reader -> BUILD/tests/plwgen)
plwgen=${PLWGEN:-$bindir/../tests/plwgen}
if [ ! -x "$plwgen" ]; then
	build=$(dirname "$bindir")
	make -s -C "$here" O="$build" NO_BPF=1 "$build/tests/plwgen" >/dev/null 2>&1 || true
fi
if [ -x "$plwgen" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for t in "$here"/tests/golden/gen/*.txt; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .txt)
		# small chunks so that seeds hold several chunks
		PLWGEN_CHUNK=4096 "$plwgen" "$t" "$tmp/$name.plw" >/dev/null 2>&1 &&
			cp "$tmp/$name.plw" "$corpus/seed-$name.plw" || true
		{ cat "$t"; echo cut; } | PLWGEN_CHUNK=4096 "$plwgen" - "$tmp/$name-cut.plw" >/dev/null 2>&1 &&
			cp "$tmp/$name-cut.plw.partial" "$corpus/seed-$name-cut.plw" || true
	done
fi
for s in "$here"/tests/fuzz/seeds/*; do
	[ -f "$s" ] && cp "$s" "$corpus/" || true
done

echo "fuzz: $BIN for ${SECONDS_}s, corpus $corpus ($(ls "$corpus" | wc -l) files)"
"$BIN" -max_total_time="$SECONDS_" -rss_limit_mb=2048 -timeout=20 \
	-artifact_prefix="$artifacts/" "$corpus"
