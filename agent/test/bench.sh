#!/bin/sh
# bench.sh [-n REPS] [PYTHON...] - agent cost per event on w1_cpu.py.
# For each Python: best of REPS native runs and best of REPS agent runs
# (consumer draining the ring concurrently, default ring size), then
#   ns/event = (ELAPSED traced - ELAPSED native) / (2 * expected_calls)
# ELAPSED is the workload's own timing of its call-heavy part.  Also checks
# that the ring held every event (dropped=0).  W1_ARGS overrides "20 300000".
# On a loaded machine wall time is noisy; the second figure uses the Python
# process's on-CPU time (perf stat task-clock, whole process) instead:
#   cpu ns/event = (task-clock traced - task-clock native) / events
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/agent"
w1=${W1:-/work/shared/workloads/w1_cpu.py}
args=${W1_ARGS:-20 300000}
reps=3
if [ "${1:-}" = "-n" ]; then reps=$2; shift 2; fi
if [ $# -eq 0 ]; then
	set -- /root/.pyenv/versions/3.8.18/bin/python3.8 /root/.pyenv/versions/3.11.7/bin/python3.11 \
		/usr/bin/python3.11 /root/.pyenv/versions/3.12.1/bin/python3.12 /root/.pyenv/versions/3.13.0/bin/python3.13
fi
"$here/../build.sh" -o "$out" "$@" >/dev/null || exit 1
${CC:-gcc} -O2 -g -D_GNU_SOURCE -I"$root" -o "$out/consume" "$here/consume.c" "$root/agent/ring.c" || exit 1
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

for py in "$@"; do
	nat=""; tr=""; calls=""; drops=""; recs=""; cn=""; ct=""
	i=0
	while [ $i -lt "$reps" ]; do
		r=$(env -u PYTHONPATH perf stat -x, -e task-clock -o "$tmp/ps" "$py" "$w1" $args)
		cn=$(printf '%s\n%s\n' "$cn" "$(awk -F, '/task-clock/ {print $1}' "$tmp/ps")" | awk 'NF' | sort -g | head -1)
		e=$(echo "$r" | awk '/^ELAPSED_S/ {print $2}')
		calls=$(echo "$r" | awk '/expected_calls/ {print $NF}')
		nat=$(printf '%s\n%s\n' "$nat" "$e" | awk 'NF' | sort -g | head -1)
		d="$tmp/d$i"; rm -rf "$d"; mkdir -p "$d"
		"$out/consume" -q "$d" > "$tmp/c" &
		cp=$!
		r=$(PYTHONPATH="$out" PYLOW_AGENT_DIR="$d" perf stat -x, -e task-clock -o "$tmp/ps" "$py" "$w1" $args)
		ct=$(printf '%s\n%s\n' "$ct" "$(awk -F, '/task-clock/ {print $1}' "$tmp/ps")" | awk 'NF' | sort -g | head -1)
		touch "$d/stop"; wait $cp
		e=$(echo "$r" | awk '/^ELAPSED_S/ {print $2}')
		tr=$(printf '%s\n%s\n' "$tr" "$e" | awk 'NF' | sort -g | head -1)
		drops="$drops $(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' "$tmp/c" | paste -sd+ | bc)"
		recs="$recs $(sed -n 's/.*records=\([0-9]*\).*/\1/p' "$tmp/c" | paste -sd+ | bc)"
		rm -rf "$d"
		i=$((i + 1))
	done
	awk -v py="$py" -v cn="$cn" -v ct="$ct" -v n="$nat" -v t="$tr" -v c="$calls" -v d="$drops" -v rc="$recs" 'BEGIN {
		ev = 2 * c
		printf "%-45s native %.3f s  agent %.3f s  events %d  %.1f ns/event (wall)  %.1f ns/event (cpu)  dropped:%s  records:%s\n",
			py, n, t, ev, (t - n) * 1e9 / ev, (ct - cn) * 1e6 / ev, d, rc }'
done
