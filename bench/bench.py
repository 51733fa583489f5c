#!/usr/bin/python3.11
"""bench.py - pylow next to the tools a user would pick instead (driven by bench/run.sh).

Recording: paired runs (native, traced, native, traced, ...) of each workload under
each tracer; per pair the time ratio traced/native and the extra ns per expected
event; medians and ranges over the rounds.  Report: events/s and peak RSS of
`pylow report flow|graph|slow` and of `perf script` on one long pylow recording,
and peak RSS on a half-length recording (RSS must not grow with length).

Everything is configured by environment variables (see bench/README.md); the
harness itself is only idle while a workload runs (it waits in waitpid).
"""
import atexit
import datetime
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import struct
import statistics
import subprocess
import sys
import time

E = os.environ
BENCH = os.path.dirname(os.path.abspath(__file__))
PY = E.get("BENCH_PYTHON", "/usr/bin/python3.11")
PYLOW = E.get("PYLOW", "")
FLOOR = E.get("FLOOR", os.path.join(BENCH, "build", "floor"))
WORK = E.get("BENCH_WORK", os.path.join(BENCH, "build", "work"))
RESULTS = E.get("BENCH_RESULTS", os.path.join(BENCH, "results"))
WORKLOADS = E.get("WORKLOADS", "")
ROUNDS = int(E.get("ROUNDS", "5"))
PEER_ROUNDS = int(E.get("PEER_ROUNDS", str(min(ROUNDS, 3))))  # bpftrace*, uflow*
# W2's pairs are short (~0.4 s native) and its native time varies +-15 % (a thread
# ping-pong on 2 CPUs): more pairs for its medians
W2_ROUNDS = int(E.get("W2_ROUNDS", str(max(ROUNDS, 30))))
W1_ARGS = E.get("W1_ARGS", "2 100000").split()
W2_ARGS = E.get("W2_ARGS", "2000 5000").split()
LONG_ARGS = E.get("LONG_ARGS", "40 0").split()
# the report side's recordings are made whole: W1 "40 0" is a call storm
# (~30 M events/s from the agent on 3.11+) that outruns the recorder (~10 M/s
# here) and would fill a default 64 MiB agent ring in ~0.1 s, losing
# (counted) most of what the report side needs (10 M events at least)
REPORT_REC_ARGS = E.get("REPORT_REC_ARGS", "--buffer-size 512").split()
HALF_ARGS = E.get("HALF_ARGS", "20 0").split()
REPORT_CPU = E.get("REPORT_CPU", "1")
REPORT_TIMEOUT = int(E.get("REPORT_TIMEOUT", "60"))
KHEADERS = E.get("BCC_KERNEL_SOURCE", os.path.join(BENCH, "build", "kheaders"))
TRACERS = E.get("TRACERS", "floor-py,floor,pylow,perf,perf+line,bpftrace,bpftrace+line,uflow,uflow+line").split(",")
SKIP = dict(x.split("=", 1) for x in E.get("BENCH_SKIPS", "").split(";") if "=" in x)
QUIET_WAIT = int(E.get("QUIET_WAIT", "15"))
PAIR_WAIT = int(E.get("PAIR_WAIT", "5"))
SKIP_REPORT = E.get("SKIP_REPORT", "0") == "1"
# `pylow record --python=agent` on W1, per Python (paired with native runs of the same Python)
AGENT_PYTHONS = [p for p in E.get("AGENT_PYTHONS", ":".join([
    "/usr/bin/python3.11", "/root/.pyenv/versions/3.8.18/bin/python3.8",
    "/root/.pyenv/versions/3.11.7/bin/python3.11",
    "/root/.pyenv/versions/3.12.1/bin/python3.12",
    "/root/.pyenv/versions/3.13.0/bin/python3.13"])).split(":") if p]
AGENT_ROUNDS = int(E.get("AGENT_ROUNDS", str(ROUNDS)))
AGENT_WORKLOADS = E.get("AGENT_WORKLOADS", "W1,W2,W2py").split(",")   # agent rows on these
ONLY = E.get("BENCH_ONLY", "")          # "agent": only the agent rows; "report": only the report side
# W2's files go to a tmpfs: on ext4, W2's 2,000 creates scan past the inodes deleted in
# the last ~30 s (ext4 find_inode_bit -> recently_deleted), so back-to-back runs made its
# sys time grow 0.45 -> 1.7 s and the native/traced pairs unrankable (bench/README.md)
BENCH_TMPDIR = E.get("BENCH_TMPDIR", "/dev/shm")
# idle CPUs stay out of deep idle states for the whole run (PM QoS: the
# latency the CPUs may take to wake, held at 0 while /dev/cpu_dma_latency is
# open).  On this VM (cpuidle haltpoll) a wake from idle is slow: W2's native
# time was 0.40 s, 0.37 s while any process merely woke every 1 ms (so a tracer
# whose recorder polls often got a discount), 0.22 s with this (bench/README.md)
BENCH_PM_QOS = E.get("BENCH_PM_QOS", "1") == "1"
_pm_qos_fd = None


def pm_qos_hold():
    global _pm_qos_fd
    if not BENCH_PM_QOS:
        return "off (BENCH_PM_QOS=0)"
    try:
        _pm_qos_fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
        os.write(_pm_qos_fd, struct.pack("i", 0))
        return "0 us (/dev/cpu_dma_latency held)"
    except OSError as e:
        return "not set: %s" % e

PERF_EVENTS = ["sdt_python:function__entry", "sdt_python:function__return"]
BT_PROG = r"""
usdt:%(py)s:python:function__entry /pid == %(pid)s/ { printf("%%llu %%d > %%s %%s %%d\n", nsecs, tid, str(arg1), str(arg0), arg2); }
usdt:%(py)s:python:function__return /pid == %(pid)s/ { printf("%%llu %%d < %%s %%s %%d\n", nsecs, tid, str(arg1), str(arg0), arg2); }
"""


class Skip(Exception):
    pass


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, timeout=600, env=None, **kw):
    """run cmd; return (rc, stdout+stderr text)"""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env=env, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def elapsed_of(text):
    m = re.findall(r"^ELAPSED_S ([0-9.]+)", text, re.M)
    if not m:
        raise RuntimeError("no ELAPSED_S in output:\n" + text[-2000:])
    return float(m[-1])


def wl_cmd(name, args):
    return [PY, os.path.join(WORKLOADS, name)] + list(args)


def fsize(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return None


def rm(p):
    try:
        os.unlink(p)
    except OSError:
        pass


class Holder:
    """floor -H: holds python:line's semaphore system-wide while alive"""

    def __enter__(self):
        ready = os.path.join(WORK, "holder.ready")
        rm(ready)
        self.p = subprocess.Popen([FLOOR, "-x", PY, "-H", "-r", ready])
        for _ in range(500):
            if os.path.exists(ready):
                return self
            if self.p.poll() is not None:
                raise Skip("floor -H exited with %d" % self.p.returncode)
            time.sleep(0.01)
        raise Skip("floor -H did not get ready")

    def __exit__(self, *a):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(30)


def gated(cmd):
    """start cmd with PYLOW_GATE set; returns (Popen, gate path)"""
    gate = os.path.join(WORK, "gate")
    rm(gate)
    env = dict(E, PYLOW_GATE=gate)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    return p, gate


# --- tracers: each returns a dict with elapsed, captured, entries, returns, lost, bytes

def t_native(cmd, tag):
    rc, out = run(cmd)
    if rc:
        raise RuntimeError("native run failed:\n" + out[-2000:])
    return {"elapsed": elapsed_of(out)}


def floor_cmd(tracer, cmd):
    """floor: the probes of pylow's defaults; floor-py: function entry/return only"""
    return [FLOOR, "-x", PY] + (["--python-only"] if tracer == "floor-py" else []) + ["--"] + cmd


def floor_line(out):
    """the floor's 'FLOOR entry=N return=N other=N KEY=N ...' line as a dict"""
    m = re.search(r"^FLOOR (entry=\d+ return=\d+.*)$", out, re.M)
    if not m:
        return None
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def t_floor(cmd, tag, tracer="floor"):
    rc, out = run(floor_cmd(tracer, cmd))
    c = floor_line(out)
    if rc or not c:
        raise RuntimeError("%s failed (rc %d):\n%s" % (tracer, rc, out[-2000:]))
    en, re_ = c["entry"], c["return"]
    return {"elapsed": elapsed_of(out), "entries": en, "returns": re_, "captured": en + re_,
            "lost": 0, "floor_counts": c}


INFO_TIMEOUT = int(E.get("INFO_TIMEOUT", "60"))


def pylow_summary(out):
    """pylow record's closing line: 'pylow: N events, X KiB, Y bytes/event, lost L, ...'"""
    m = re.search(r"pylow: (\d+) events, .*?lost (\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def pylow_counts(path, record_out=""):
    """(entries, returns, lost, text) of a pylow recording.  Entries and
    returns come from `pylow report info` (bounded by INFO_TIMEOUT), lost
    from the recorder's summary, else from info.  When perf is installed,
    `perf script` (pylow files are perf.data files) must see the same number
    of Python events: py_entry/py_return samples plus the `nr` of each
    py_batch sample; a difference is an error."""
    total, lost = pylow_summary(record_out)
    try:
        rc, out = run([PYLOW, "report", "info", path], timeout=INFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError("pylow report info took more than %d s" % INFO_TIMEOUT)
    if rc:
        raise RuntimeError("pylow report info failed:\n" + out[-2000:])
    text = out

    def num(pat):
        m = re.search(pat, out, re.M)
        return int(m.group(1)) if m else None
    en, ret = num(r"\bpy_entry (\d+)"), num(r"\bpy_return (\d+)")
    if lost is None:
        lost = num(r"^lost:\s+(\d+)")
    if shutil.which("perf") and en is not None and ret is not None:
        p = subprocess.Popen(["perf", "script", "-i", path, "-F", "event,trace"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        seen = batches = 0
        for line in p.stdout:
            if b"py_batch:" in line:
                m = re.search(rb"\bnr=(\d+)", line)
                seen += int(m.group(1)) if m else 0
                batches += 1
            elif b"py_entry:" in line or b"py_return:" in line:
                seen += 1
        if p.wait() == 0:
            if seen != en + ret:
                raise RuntimeError("perf script sees %d Python events, pylow report info %d"
                                   % (seen, en + ret))
            text += "\nperf script: %d Python events, %d py_batch samples" % (seen, batches)
    return en, ret, lost, text


def t_pylow(cmd, tag, mode="usdt", extra=()):
    if not PYLOW or not os.access(PYLOW, os.X_OK):
        raise Skip("no pylow binary (PYLOW=%r)" % PYLOW)
    f = os.path.join(WORK, "pylow-%s.plw" % tag)
    rm(f)
    rc, out = run([PYLOW, "record", "--python=" + mode] + list(extra) + ["-o", f, "--"] + cmd)
    if rc:
        raise RuntimeError("pylow record failed (rc %d):\n%s" % (rc, out[-3000:]))
    en, ret, lost, info = pylow_counts(f, out)
    if en is None or ret is None:
        raise RuntimeError("cannot read counts from pylow report info:\n" + info[-3000:])
    r = {"elapsed": elapsed_of(out), "entries": en, "returns": ret, "captured": en + ret,
         "lost": lost, "bytes": fsize(f), "record_output": out[-600:]}
    rm(f)
    return r


_perf_probes_added = []


def perf_setup():
    if not shutil.which("perf"):
        raise Skip("perf not installed (linux-perf)")
    rc, out = run(["perf", "probe", "-l"])
    have = out
    run(["perf", "buildid-cache", "--add", PY])
    for ev in PERF_EVENTS:
        if ev in have:
            continue
        rc, out = run(["perf", "probe", "-x", PY, "-a", ev])
        if rc:
            raise Skip("perf probe %s failed: %s" % (ev, out.strip().splitlines()[-1:]))
        _perf_probes_added.append(ev)


def perf_cleanup():
    for ev in _perf_probes_added:
        run(["perf", "probe", "-d", ev])


def perf_stats(f):
    rc, out = run(["perf", "report", "-i", f, "--stats"])
    en = ret = 0
    cur = None
    lost_recs = 0
    for line in out.splitlines():
        m = re.match(r"^(\S+) stats:", line)
        if m:
            cur = m.group(1)
            continue
        m = re.match(r"^\s*SAMPLE events:\s+(\d+)", line)
        if m and cur:
            if cur.endswith("function__entry"):
                en = int(m.group(1))
            elif cur.endswith("function__return"):
                ret = int(m.group(1))
        m = re.match(r"^\s*LOST(?:_SAMPLES)? events:\s+(\d+)", line)
        if m and cur is None:
            lost_recs += int(m.group(1))
    lost = 0
    if lost_recs:
        # the number of samples each LOST record stands for
        rc, out2 = run(["perf", "script", "-i", f, "--show-lost-events", "-F", "event"])
        for m in re.finditer(r"LOST\D*?(\d+)", out2):
            lost += int(m.group(1))
    return en, ret, lost


def t_perf(cmd, tag, hold=False):
    perf_setup()
    f = os.path.join(WORK, "perf-%s.data" % tag)
    rm(f)
    pc = ["perf", "record", "-q", "-z", "-o", f]
    for ev in PERF_EVENTS:
        pc += ["-e", ev]
    pc += ["--"] + cmd
    if hold:
        with Holder():
            rc, out = run(pc)
    else:
        rc, out = run(pc)
    if rc:
        raise RuntimeError("perf record failed (rc %d):\n%s" % (rc, out[-2000:]))
    en, ret, lost = perf_stats(f)
    r = {"elapsed": elapsed_of(out), "entries": en, "returns": ret, "captured": en + ret,
         "lost": lost, "bytes": fsize(f)}
    rm(f)
    return r


def t_bpftrace(cmd, tag, hold=False):
    if not shutil.which("bpftrace"):
        raise Skip("bpftrace not installed")
    f = os.path.join(WORK, "bpftrace-%s.txt" % tag)
    prog = os.path.join(WORK, "flow.bt")
    with open(prog, "w") as fp:
        fp.write(BT_PROG % {"py": PY, "pid": "cpid"})
    rm(f)
    bc = ["bpftrace", "-o", f, "-c", " ".join(shlex.quote(c) for c in cmd), prog]
    if hold:
        with Holder():
            rc, out = run(bc)
    else:
        rc, out = run(bc)
    if rc:
        raise RuntimeError("bpftrace failed (rc %d):\n%s" % (rc, out[-2000:]))
    en = ret = lost = 0
    with open(f, "rb") as fp:
        for line in fp:
            if b" > " in line:
                en += 1
            elif b" < " in line:
                ret += 1
            else:
                m = re.search(rb"Lost (\d+) events", line)
                if m:
                    lost += int(m.group(1))
    for m in re.finditer(r"Lost (\d+) events", out):
        lost += int(m.group(1))
    r = {"elapsed": elapsed_of(out), "entries": en, "returns": ret, "captured": en + ret,
         "lost": lost, "bytes": fsize(f)}
    rm(f)
    return r


def t_uflow(cmd, tag, hold=False):
    uflow = shutil.which("uflow-bpfcc") or shutil.which("uflow") or \
        ("/usr/sbin/uflow" if os.path.exists("/usr/sbin/uflow") else None)
    if not uflow:
        raise Skip("BCC's uflow not installed (bpfcc-tools)")
    env = dict(E)
    if os.path.isdir(KHEADERS):
        env["BCC_KERNEL_SOURCE"] = KHEADERS
    f = os.path.join(WORK, "uflow-%s.txt" % tag)
    rm(f)
    holder = Holder() if hold else None
    if holder:
        holder.__enter__()
    p = u = None
    err = ""
    try:
        p, gate = gated(cmd)
        with open(f, "wb") as fo:
            u = subprocess.Popen([uflow, "-l", "python", str(p.pid)], stdout=fo,
                                 stderr=subprocess.PIPE, env=env)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 120:
                if u.poll() is not None:
                    break
                with open(f, "rb") as fi:
                    if b"Tracing method calls" in fi.read(200):
                        break
                time.sleep(0.05)
            if u.poll() is not None:
                err = u.stderr.read().decode("utf-8", "replace")
                lines = [l for l in err.strip().splitlines() if l.strip()]
                why = next((l for l in lines if "kernel headers" in l), lines[-1] if lines else "?")
                raise Skip("uflow exited before attaching: " + why.strip())
            open(gate, "w").close()
            out = p.communicate(timeout=600)[0].decode("utf-8", "replace")
            # uflow prints from Python, slower than events arrive: let it drain
            # until its output stops growing, then stop it
            last, t0 = -1, time.monotonic()
            while time.monotonic() - t0 < 120:
                sz = fsize(f)
                if sz == last:
                    break
                last = sz
                time.sleep(0.5)
            u.send_signal(signal.SIGINT)
            try:
                err = u.communicate(timeout=20)[1].decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                u.kill()
                err = u.communicate()[1].decode("utf-8", "replace")
    finally:
        for q in (u, p):
            if q is not None and q.poll() is None:
                q.kill()
                q.wait()
        if holder:
            holder.__exit__()
    en = ret = lost = 0
    with open(f, "rb") as fp:
        for line in fp:
            if b"-> " in line:
                en += 1
            elif b"<- " in line:
                ret += 1
    for m in re.finditer(r"Possibly lost (\d+) samples", err):
        lost += int(m.group(1))
    r = {"elapsed": elapsed_of(out), "entries": en, "returns": ret, "captured": en + ret,
         "lost": lost, "bytes": fsize(f), "note": "attached to a pid (PYLOW_GATE)"}
    rm(f)
    return r


TRACER_FNS = {
    "floor-py": (lambda c, t: t_floor(c, t, "floor-py"),
                 "count-only BPF on function__entry/return only, line semaphore held, tgid filter"),
    "floor": (t_floor, "count-only BPF on every probe of pylow's defaults (python, syscalls, "
              "sched, net), line semaphore held, tgid filter, children followed"),
    "pylow": (t_pylow, "pylow record --python=usdt, default settings"),
    "pylow+agent": (lambda c, t: t_pylow(c, t, "agent"), "pylow record --python=agent (in-process agent, shared-memory rings)"),
    "perf": (lambda c, t: t_perf(c, t), "perf record -z on the sdt_python probes (no line semaphore)"),
    "perf+line": (lambda c, t: t_perf(c, t, True), "perf record -z, line semaphore held by floor -H"),
    "bpftrace": (lambda c, t: t_bpftrace(c, t), "bpftrace printf of each event to a file (no line semaphore)"),
    "bpftrace+line": (lambda c, t: t_bpftrace(c, t, True), "bpftrace printf to a file, line semaphore held by floor -H"),
    "uflow": (lambda c, t: t_uflow(c, t), "BCC uflow -l python PID > file (no line semaphore)"),
    "uflow+line": (lambda c, t: t_uflow(c, t, True), "BCC uflow, line semaphore held by floor -H"),
}


def foreign_uprobes():
    """BPF programs that other processes attached to uprobes in PY right now: they
    trap in our 'native' runs too (noise we cannot remove, only report)."""
    if not shutil.which("bpftool"):
        return None
    rc, out = run(["bpftool", "perf", "show"])
    real = os.path.realpath(PY)
    return sum(1 for l in out.splitlines() if "uprobe" in l and (PY in l or real in l))


def med_range(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def extra_ns(ps, events=None):
    """each pair's (traced - native) in ns per event: per EVENTS, else per
    the events the pair captured"""
    return [(p["elapsed"] - p["native"]) * 1e9 / (events or p["captured"]) for p in ps]


def boot_ci(xs, ys=None, n=2000, seed=1):
    """95% bootstrap interval of median(xs), or of median(xs) / median(ys)
    (the pairs of each resampled on their own): [lo, hi], or None"""
    xs = [x for x in xs if x is not None]
    ys = [y for y in ys if y is not None] if ys is not None else None
    if len(xs) < 3 or (ys is not None and len(ys) < 3):
        return None
    rng = random.Random(seed)
    est = []
    for _ in range(n):
        mx = statistics.median(rng.choice(xs) for _ in xs)
        if ys is None:
            est.append(mx)
            continue
        my = statistics.median(rng.choice(ys) for _ in ys)
        if my > 0:
            est.append(mx / my)
    if len(est) < n // 2:
        return None
    est.sort()
    return [est[int(0.025 * len(est))], est[int(0.975 * len(est)) - 1]]


def verdict(x, ci, target):
    """MET only when the whole 95% interval is within the target"""
    if x is None:
        return "not measured"
    if x > target:
        return "MISSED"
    if not ci:
        return "MET at the median (no interval: too few pairs, or the reference's median is <= 0)"
    if ci[1] > target:
        return "MET at the median, not beyond the noise (95%% CI reaches %.3g)" % ci[1]
    return "MET"


def bench_workload(name, script, args, expected_calls, rounds):
    cmd = wl_cmd(script, args)
    log("== %s: %s" % (name, " ".join(cmd)))
    res = {"workload": name, "cmd": " ".join(cmd), "rounds": rounds, "tracers": {}}
    pairs = {t: [] for t in TRACERS}
    skipped = {}
    foreign = []
    for r in range(rounds):
        # other recorders' uprobes on python3.11 trap in our native runs too:
        # give them a little time to finish before each round
        t0 = time.monotonic()
        while (foreign_uprobes() or 0) and time.monotonic() - t0 < QUIET_WAIT:
            time.sleep(2)
        foreign.append(foreign_uprobes())
        for t in TRACERS:
            if t in skipped or t not in TRACER_FNS:
                continue
            if t in SKIP:
                skipped[t] = SKIP[t]
                continue
            if t.startswith(("bpftrace", "uflow")) and r >= PEER_ROUNDS:
                continue
            # wait (briefly) for a machine without other recorders on python3.11
            t0 = time.monotonic()
            while (foreign_uprobes() or 0) and time.monotonic() - t0 < PAIR_WAIT:
                time.sleep(1)
            fb = foreign_uprobes() or 0
            try:
                nat = t_native(cmd, "%s-%d" % (t, r))
                tr = TRACER_FNS[t][0](cmd, "%s-%s-%d" % (name, t.replace("+", "_"), r))
            except Skip as e:
                skipped[t] = str(e)
                log("   %-14s skipped: %s" % (t, e))
                continue
            except Exception as e:  # a peer failing must not stop the bench
                skipped[t] = "failed: %s" % str(e).strip().splitlines()[0][:300]
                log("   %-14s FAILED: %s" % (t, str(e)[-1500:]))
                continue
            tr["native"] = nat["elapsed"]
            tr["foreign_uprobes"] = max(fb, foreign_uprobes() or 0)
            tr["round"] = r
            pairs[t].append(tr)
            log("   round %d %-14s native %.3fs traced %.3fs captured %s lost %s" %
                (r + 1, t, nat["elapsed"], tr["elapsed"], tr.get("captured"), tr.get("lost")))
    # expected events: W1 from its docstring formula; W2 from the floor's counts
    fl_pairs = pairs.get("floor") or pairs.get("floor-py")
    if expected_calls is not None:
        expected = 2 * expected_calls
        res["expected_source"] = "workload formula: 2 * calls (entry + return)"
    elif fl_pairs:
        expected = int(statistics.median(p["captured"] for p in fl_pairs))
        res["expected_source"] = "median entry+return count of the floor (it sees every event)"
    else:
        expected = None
        res["expected_source"] = "unknown (floor did not run)"
    res["events_expected"] = expected
    res["foreign_uprobe_attachments_seen"] = foreign
    # a pair is clean when no other process had uprobes on python3.11 around it
    # and its native run is not far off the fastest native run of this workload
    allnat = [p["native"] for ps in pairs.values() for p in ps]
    nmin = min(allnat) if allnat else 0
    for ps in pairs.values():
        for p in ps:
            p["clean"] = not p["foreign_uprobes"] and p["native"] <= 3 * nmin + 0.02
    res["native_min_s"] = nmin
    for t in TRACERS:
        if t in skipped and not pairs.get(t):
            res["tracers"][t] = {"skipped": skipped[t], "what": TRACER_FNS.get(t, ("", "?"))[1]}
            continue
        allps = pairs.get(t) or []
        if not allps:
            continue
        clean = [p for p in allps if p["clean"]]
        ps = clean if len(clean) >= 2 else allps
        d = {"what": TRACER_FNS[t][1], "rounds": ps, "all_rounds": allps,
             "pairs_used": "%d clean of %d" % (len(clean), len(allps)) if ps is clean
             else "all %d (only %d clean)" % (len(allps), len(clean))}
        d["native_s"] = med_range([p["native"] for p in ps])
        d["traced_s"] = med_range([p["elapsed"] for p in ps])
        d["time_ratio"] = med_range([p["elapsed"] / p["native"] for p in ps])
        if expected:
            d["extra_ns_per_event"] = med_range(extra_ns(ps, expected))
        d["extra_ns_per_captured"] = med_range(extra_ns([p for p in ps if p.get("captured")]))
        d["captured"] = med_range([p.get("captured") for p in ps])
        d["entries"] = med_range([p.get("entries") for p in ps])
        d["returns"] = med_range([p.get("returns") for p in ps])
        d["lost"] = med_range([p.get("lost") for p in ps])
        d["lost_max"] = max([p.get("lost") or 0 for p in ps])
        d["bytes_per_event"] = med_range([p["bytes"] / p["captured"] for p in ps
                                          if p.get("bytes") and p.get("captured")])
        if expected and d["captured"]:
            d["captured_vs_expected"] = d["captured"]["median"] / expected
        if t in skipped:
            d["partial"] = skipped[t]
        fcs = [p["floor_counts"] for p in ps if p.get("floor_counts")]
        if fcs:
            # what the floor's programs counted, per probe (median per run)
            d["floor_counts"] = {k: statistics.median(c.get(k, 0) for c in fcs) for k in fcs[0]}
        res["tracers"][t] = d
    # cost_vs_floor: over the floor on pylow's default probes (the fair floor
    # for pylow); cost_vs_floor_py: over the python-only floor (the peers
    # observe only function__entry/return, and the numbers before the floor
    # observed the kernel groups were this)
    for ref, key in (("floor", "cost_vs_floor"), ("floor-py", "cost_vs_floor_py")):
        fl = res["tracers"].get(ref, {}).get("extra_ns_per_event")
        if not fl or fl["median"] <= 0:
            continue
        fx = extra_ns(res["tracers"][ref]["rounds"], expected)
        for t, d in res["tracers"].items():
            if d.get("extra_ns_per_event"):
                d[key] = d["extra_ns_per_event"]["median"] / fl["median"]
                d[key + "_ci95"] = boot_ci(extra_ns(d["rounds"], expected), fx)
                # paired per round: tracer's extra / floor's extra in the same round
                fr = {p["round"]: p for p in res["tracers"][ref]["all_rounds"]}
                per = []
                for p in d["rounds"]:
                    f = fr.get(p["round"])
                    if f and (f["clean"] or not p["clean"]):
                        fe = f["elapsed"] - f["native"]
                        if fe > 0:
                            per.append((p["elapsed"] - p["native"]) / fe)
                d[key + "_per_round"] = med_range(per)
    return res


def bench_agent():
    """W1 and W2 under `pylow record --python=agent`, paired with native runs
    of the same Python: extra ns per event end to end (recorded, drained,
    compressed, written), lost, captured/expected.  W1's events are known
    from its formula; W2's are what the agent captured in each pair (no
    floor sees the agent's events)."""
    reps, n = int(W1_ARGS[0]), int(W1_ARGS[1])
    rows = []
    # W2 at default settings records its syscalls, switches and sockets
    # through BPF too: those rows judge lost events; "W2py" (-e python) is
    # the agent's own cost per event
    for wl, script, args, expected, extra in (
            ("W1", "w1_cpu.py", W1_ARGS, 2 * (reps * 242785 + 2 * n), []),
            ("W2", "w2_io.py", W2_ARGS, None, []),
            ("W2py", "w2_io.py", W2_ARGS, None, ["-e", "python"])):
        if wl not in AGENT_WORKLOADS:
            continue
        for py in AGENT_PYTHONS:
            if not os.access(py, os.X_OK):
                rows.append({"workload": wl, "python": py, "skipped": "not installed"})
                continue
            cmd = [py, os.path.join(WORKLOADS, script)] + args
            log("== %s agent: %s" % (wl, " ".join(cmd)))
            ps = []
            for r in range(max(AGENT_ROUNDS, W2_ROUNDS) if wl == "W2py" else AGENT_ROUNDS):
                try:
                    nat = t_native(cmd, "agent-%d" % r)
                    tr = t_pylow(cmd, "%s-agent-%d" % (wl.lower(), r), "agent", extra)
                except Exception as e:
                    rows.append({"workload": wl, "python": py, "skipped": "failed: %s" % str(e)[-300:]})
                    log("   FAILED: %s" % str(e)[-1500:])
                    ps = None
                    break
                tr["native"] = nat["elapsed"]
                ps.append(tr)
                log("   round %d native %.3fs traced %.3fs captured %s lost %s" %
                    (r + 1, nat["elapsed"], tr["elapsed"], tr.get("captured"), tr.get("lost")))
            if not ps:
                continue

            def exp(p):
                return expected or p["captured"]
            rows.append({
                "workload": wl, "python": py, "cmd": " ".join(cmd), "record_args": extra,
                "events_expected": expected or med_range([p["captured"] for p in ps])["median"],
                "rounds": ps,
                "native_s": med_range([p["native"] for p in ps]),
                "traced_s": med_range([p["elapsed"] for p in ps]),
                "time_ratio": med_range([p["elapsed"] / p["native"] for p in ps]),
                "extra_ns_per_event": med_range(extra_ns(ps, expected)),
                "extra_ns_per_event_ci95": boot_ci(extra_ns(ps, expected)),
                "pairs": len(ps),
                "captured_vs_expected": med_range([p["captured"] / exp(p) for p in ps]),
                "lost_max": max(p.get("lost") or 0 for p in ps),
                "bytes_per_event": med_range([p["bytes"] / p["captured"] for p in ps if p.get("captured")]),
            })
    return rows


def agent_table(rows):
    lines = ["", "Recording W1 and W2 with --python=agent (paired with native runs of the same Python; W2: per Python"
             " event captured; W2 includes the kernel groups' BPF cost, W2py is W2 with -e python: the agent alone)",
             "%-51s %-6s %-22s %-26s %-14s %-18s %-10s %-8s %s" % (
                 "workload python", "pairs", "time ratio [range]", "extra ns/event [range]", "95% CI",
                 "captured/expected", "lost(max)", "B/event", "native s")]
    for r in rows:
        name = "%s %s" % (r.get("workload", "W1"), r["python"])
        if "skipped" in r:
            lines.append("%-51s skipped: %s" % (name, r["skipped"]))
            continue
        ci = r.get("extra_ns_per_event_ci95")
        lines.append("%-51s %-6s %-22s %-26s %-14s %-18s %-10s %-8s %s" % (
            name, r.get("pairs", "-"), fmt(r["time_ratio"]), fmt(r["extra_ns_per_event"], "%.0f"),
            "%.0f..%.0f" % tuple(ci) if ci else "-",
            fmt(r["captured_vs_expected"]["median"], "%.3f"), r["lost_max"],
            fmt(r["bytes_per_event"] and r["bytes_per_event"]["median"]),
            fmt(r["native_s"]["median"], "%.3f")))
    return "\n".join(lines)


def agent_targets(rows):
    out = []
    for r in rows:
        if "skipped" in r:
            continue
        m = re.search(r"python(\d+)\.(\d+)$", r["python"])
        minor = int(m.group(2)) if m else 0
        tgt = 50 if minor >= 12 else 150
        x = r["extra_ns_per_event"]["median"]
        ci = r.get("extra_ns_per_event_ci95")
        lost = "lost max %d (target 0): %s" % (r["lost_max"], "MET" if r["lost_max"] == 0 else "MISSED")
        if r.get("workload") == "W2":
            out.append("W2 agent %s (default groups): %s; %.0f ns per Python event includes the kernel "
                       "groups' BPF (judged in the USDT rows), not the agent's" % (r["python"], lost, x))
            continue
        out.append("%s agent %s: %.0f ns/event (95%% CI %s) (target <= %d): %s; %s" % (
            r.get("workload", "W1"), r["python"], x, "%.0f..%.0f" % tuple(ci) if ci else "-", tgt,
            verdict(x, ci, tgt), lost))
    return out


def timed(cmd, outfile=os.devnull):
    """run cmd pinned to one CPU under /usr/bin/time -v;
    (rc, wall s, max RSS kB, text, user+sys CPU s)"""
    tv = os.path.join(WORK, "time.txt")
    full = ["/usr/bin/time", "-v", "-o", tv, "timeout", str(REPORT_TIMEOUT)]
    if shutil.which("taskset"):
        full += ["taskset", "-c", REPORT_CPU]
    full += cmd
    t0 = time.monotonic()
    with open(outfile, "wb") as fo:
        p = subprocess.run(full, stdout=fo, stderr=subprocess.PIPE, timeout=1200)
    wall = time.monotonic() - t0
    txt = open(tv).read() if os.path.exists(tv) else ""
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt)
    m2 = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", txt)
    if m2:
        wall = int(m2.group(1) or 0) * 3600 + int(m2.group(2)) * 60 + float(m2.group(3))
    mu = re.search(r"User time \(seconds\): ([\d.]+)", txt)
    ms = re.search(r"System time \(seconds\): ([\d.]+)", txt)
    cpu = float(mu.group(1)) + float(ms.group(1)) if mu and ms else None
    return p.returncode, wall, int(m.group(1)) if m else None, p.stderr.decode("utf-8", "replace"), cpu


def report_subcommands():
    rc, out = run([PYLOW, "report", "--help"])
    return out


def bench_report():
    res = {"recordings": {}, "readers": {}}
    if not PYLOW or not os.access(PYLOW, os.X_OK):
        res["skipped"] = "no pylow binary"
        return res
    recs = {}
    # the default file (Python calls in py_batch samples), and the same
    # workload recorded with --no-batch (one perf sample per call), on which
    # perf script prints every call as pylow's readers see them
    for tag, args, opt in (("long", LONG_ARGS, []), ("half", HALF_ARGS, []),
                           ("long-nobatch", LONG_ARGS, ["--no-batch"]),
                           ("half-nobatch", HALF_ARGS, ["--no-batch"])):
        f = os.path.join(WORK, "report-%s.plw" % tag)
        rm(f)
        cmd = [PYLOW, "record"] + REPORT_REC_ARGS + opt + ["-o", f, "--"] + wl_cmd("w1_cpu.py", args)
        log("== report side: recording %s: %s" % (tag, " ".join(cmd)))
        rc, out = run(cmd, timeout=1200)
        if rc:
            res["skipped"] = "pylow record failed: " + out[-1000:]
            return res
        en, ret, lost, info = pylow_counts(f, out)
        total, _ = pylow_summary(out)
        events = total or ((en or 0) + (ret or 0))
        recs[tag] = (f, events)
        res["recordings"][tag] = {"cmd": " ".join(cmd), "events": events, "entries": en,
                                  "returns": ret, "lost": lost, "bytes": fsize(f),
                                  "bytes_per_event": fsize(f) / events if events else None}
        log("   %s: %d events, %d bytes" % (tag, events, fsize(f)))
    helptext = report_subcommands()
    readers = [("pylow report flow", [PYLOW, "report", "flow"], ""),
               ("pylow report graph", [PYLOW, "report", "graph"], ""),
               ("pylow report slow", [PYLOW, "report", "slow"], ""),
               ("perf script", ["perf", "script", "-i"], ""),
               ("nobatch: pylow graph", [PYLOW, "report", "graph"], "-nobatch"),
               ("nobatch: perf script", ["perf", "script", "-i"], "-nobatch")]
    for name, base, variant in readers:
        if name == "pylow report slow" and not re.search(r"^\s*slow\b", helptext, re.M):
            res["readers"][name] = {"skipped": "`pylow report slow` does not exist in this build"}
            continue
        if name.startswith("perf script") and not shutil.which("perf"):
            res["readers"][name] = {"skipped": "perf not installed"}
            continue
        d = {}
        for tag in ("half", "long"):
            f, events = recs[tag + variant]
            if tag == "long" and d["half"]["rc"] == 124:
                d["long"] = {"events": events, "wall_s": None, "events_per_s": None,
                             "peak_rss_kb": None, "rc": None,
                             "skipped": "the half-length recording already timed out"}
                continue
            rc, wall, rss, err, cpu = timed(base + [f])
            if rc == 124:
                d["error_" + tag] = "timed out after %d s (REPORT_TIMEOUT)" % REPORT_TIMEOUT
            elif rc > 128:
                d["error_" + tag] = "killed by signal %d%s" % (rc - 128, " (SIGSEGV)" if rc == 139 else "")
            elif rc:
                d["error_" + tag] = "exit %d: %s" % (rc, err.strip()[-500:])
            d[tag] = {"events": events, "wall_s": wall, "cpu_s": cpu,
                      "events_per_s": events / wall if wall and rc == 0 else None,
                      "events_per_cpu_s": events / cpu if cpu and rc == 0 else None,
                      "peak_rss_kb": rss, "rc": rc}
            if rc == 124:
                d[tag]["events_per_s_upper_bound"] = events / wall
            log("   %-20s %-4s %.2fs %.1f M events/s, CPU %.2fs %.1f M events/CPU-s, peak RSS %s kB%s" %
                (name, tag, wall, events / wall / 1e6 if wall else 0, cpu or 0,
                 events / cpu / 1e6 if cpu else 0, rss, " (rc %d)" % rc if rc else ""))
        if d["long"].get("rc") == 0 and d["half"].get("rc") == 0 and \
                d["long"]["peak_rss_kb"] and d["half"]["peak_rss_kb"]:
            d["rss_long_over_half"] = d["long"]["peak_rss_kb"] / d["half"]["peak_rss_kb"]
        res["readers"][name] = d
    for tag in recs:
        if E.get("KEEP_LONG") != "1":
            rm(recs[tag][0])
    return res


def bpf_progs():
    rc, out = run(["bpftool", "prog", "show", "-j"])
    try:
        return {p["id"]: p for p in json.loads(out)}
    except ValueError:
        return {}


def own_prog_ids(pid):
    """ids of the BPF programs process PID holds open (from /proc/PID/fdinfo):
    other engineers' recorders may load programs of the same names meanwhile"""
    ids = set()
    try:
        fds = os.listdir("/proc/%d/fdinfo" % pid)
    except OSError:
        return ids
    for fd in fds:
        try:
            for ln in open("/proc/%d/fdinfo/%s" % (pid, fd)):
                if ln.startswith("prog_id:"):
                    ids.add(int(ln.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def proc_cpu(pid):
    """user+sys seconds of one process (not its children)"""
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def diag_one(tracer, cmd):
    """one extra run with kernel.bpf_stats_enabled=1: time inside the tracer's BPF
    programs per event, and the recorder's own CPU time per event (sampled)"""
    if not shutil.which("bpftool"):
        raise Skip("bpftool missing")
    f = os.path.join(WORK, "diag.plw")
    rm(f)
    isfloor = tracer.startswith("floor")
    # pylow as in its bench rows (t_pylow): USDT through BPF, not the agent
    full = floor_cmd(tracer, cmd) if isfloor else \
        ([PYLOW, "record", "--python=usdt", "-o", f, "--"] + cmd)
    before = set(bpf_progs())
    sysctl = "/proc/sys/kernel/bpf_stats_enabled"
    old = open(sysctl).read().strip()
    open(sysctl, "w").write("1")
    progs, cpu = {}, None
    try:
        p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        while p.poll() is None:
            own = own_prog_ids(p.pid)
            for i, pr in bpf_progs().items():
                if i not in before and pr.get("run_cnt") and (i in own or i in progs) and \
                        pr.get("name", "").startswith("floor_") == isfloor:
                    progs[i] = pr
            c = proc_cpu(p.pid)
            cpu = c if c is not None else cpu
            time.sleep(0.2)
        out = p.stdout.read().decode("utf-8", "replace")
    finally:
        open(sysctl, "w").write(old)
    if p.returncode:
        raise RuntimeError("%s exited %d: %s" % (full[0], p.returncode, out[-500:]))
    if isfloor:
        c = floor_line(out)
        events = c["entry"] + c["return"]
    else:
        en, ret, lost, info = pylow_counts(f, out)
        events = (en or 0) + (ret or 0)
        rm(f)
    d = {"events": events, "elapsed": elapsed_of(out), "recorder_cpu_s": cpu, "progs": {}}
    tot = 0
    for i, pr in progs.items():
        nm = pr.get("name", str(i))
        d["progs"][nm] = {"run_cnt": pr["run_cnt"], "avg_ns": pr["run_time_ns"] / pr["run_cnt"]}
        tot += pr["run_time_ns"]
    d["bpf_ns_per_event"] = tot / events if events else None
    d["recorder_cpu_ns_per_event"] = cpu * 1e9 / events if cpu is not None and events else None
    return d


def bench_diag(script, args):
    """where pylow's cost goes, next to the floor's"""
    res = {}
    cmd = wl_cmd(script, args)
    for t in ("floor-py", "floor", "pylow"):
        if t == "pylow" and (not PYLOW or not os.access(PYLOW, os.X_OK)):
            res[t] = {"skipped": "no pylow binary"}
            continue
        try:
            res[t] = diag_one(t, cmd)
            log("== diag %s: %s" % (t, json.dumps(res[t])))
        except Skip as e:
            res[t] = {"skipped": str(e)}
        except Exception as e:
            res[t] = {"skipped": "failed: " + str(e)[-500:]}
    return res


def fmt(x, spec="%.2f"):
    if x is None:
        return "-"
    if isinstance(x, dict):
        return (spec % x["median"]) + " [" + (spec % x["min"]) + ".." + (spec % x["max"]) + "]"
    return spec % x


def table(res):
    cfg = res.get("config", {})
    lines = ["Settings: workloads' TMPDIR %s; PM QoS cpu latency %s" % (cfg.get("tmpdir") or "(default)",
                                                                   cfg.get("pm_qos", "?"))]
    for w in res["recording"]:
        lines.append("")
        lines.append("Recording %s: %s   (rounds: %d paired; expected events %s: %s)" %
                     (w["workload"], w["cmd"].split("/")[-1], w.get("rounds", ROUNDS), fmt(w["events_expected"], "%d"),
                      w["expected_source"]))
        nall = sum(len(d.get("all_rounds", [])) for d in w["tracers"].values())
        ndirty = sum(1 for d in w["tracers"].values() for p in d.get("all_rounds", []) if not p["clean"])
        if ndirty:
            lines.append("NOTE: %d of %d pairs were disturbed (other processes' uprobes on %s, or a "
                         "native run > 3x the fastest %.3f s); medians use the clean pairs where a "
                         "tracer has >= 2 (column 'pairs')" % (ndirty, nall, PY, w["native_min_s"]))
        lines.append("%-14s %-22s %-26s %-11s %-13s %-14s %-20s %-12s %-10s %-9s %s" %
                     ("tracer", "time ratio [range]", "extra ns/event [range]", "cost/floor", "(95% CI)",
                      "cost/floor-py", "captured/expected", "lost(max)", "B/event", "native s", "pairs"))
        for t, d in w["tracers"].items():
            if "skipped" in d:
                lines.append("%-14s skipped: %s" % (t, d["skipped"]))
                continue
            cap = d.get("captured")
            ci = d.get("cost_vs_floor_ci95")
            lines.append("%-14s %-22s %-26s %-11s %-13s %-14s %-20s %-12s %-10s %-9s %s" % (
                t, fmt(d["time_ratio"]), fmt(d.get("extra_ns_per_event"), "%.0f"),
                fmt(d.get("cost_vs_floor"), "%.3f"), "%.2f..%.2f" % tuple(ci) if ci and t != "floor" else "",
                fmt(d.get("cost_vs_floor_py"), "%.3f"),
                ("%d (%.3f)" % (cap["median"], d["captured_vs_expected"])) if cap and d.get("captured_vs_expected") else fmt(cap and cap["median"], "%d"),
                fmt(d.get("lost_max"), "%d"), fmt(d.get("bytes_per_event") and d["bytes_per_event"]["median"], "%.2f"),
                fmt(d["native_s"]["median"], "%.3f"), d["pairs_used"]))
        for t, d in w["tracers"].items():
            if d.get("floor_counts"):
                lines.append("%s counted (median per run): %s" % (t, " ".join(
                    "%s=%d" % (k, v) for k, v in d["floor_counts"].items() if k != "links")))
    for key, wl in (("diag", "W1"), ("diag_w2", "W2")):
        if key not in res:
            continue
        lines.append("")
        lines.append("Where the time goes (%s, one run each, kernel.bpf_stats_enabled=1; per Python event):" % wl)
        for t, d in res[key].items():
            if "skipped" in d:
                lines.append("  %-8s skipped: %s" % (t, d["skipped"]))
                continue
            lines.append("  %-8s %d events; in BPF programs %s ns/event; recorder process CPU %s ns/event; %s" % (
                t, d["events"], fmt(d.get("bpf_ns_per_event"), "%.0f"),
                fmt(d.get("recorder_cpu_ns_per_event"), "%.0f"),
                ", ".join("%s %.0f ns x %d" % (k, v["avg_ns"], v["run_cnt"]) for k, v in d["progs"].items())))
    rep = res.get("report", {})
    lines.append("")
    lines.append("Report (pinned to CPU %s):" % REPORT_CPU)
    if rep.get("skipped"):
        lines.append("  skipped: " + rep["skipped"])
    for tag, r in rep.get("recordings", {}).items():
        lines.append("  recording %-4s %d events, lost %s, %.2f bytes/event  (%s)" %
                     (tag, r["events"], r["lost"], r["bytes_per_event"] or 0, r["cmd"].split("--")[-1].strip()))
    lines.append("  %-20s %-14s %-16s %-16s %-16s %s" % ("reader", "M events/s", "M ev/CPU-s", "peak RSS long", "peak RSS half", "RSS long/half"))
    for name, d in rep.get("readers", {}).items():
        if "skipped" in d:
            lines.append("  %-20s skipped: %s" % (name, d["skipped"]))
            continue
        if d["long"].get("events_per_s") is None:
            h = d["half"]
            hr = h.get("events_per_s") or h.get("events_per_s_upper_bound")
            lines.append("  %-20s long: %s; half (%d events): %s, peak RSS %s kB" % (
                name, d.get("error_long") or d["long"].get("skipped", "?"), h["events"],
                (fmt(hr / 1e6, "%.3f") + " M events/s" + (" (upper bound: timed out)" if h.get("rc") == 124 else ""))
                if hr else d.get("error_half", "?"), h["peak_rss_kb"]))
            continue
        lines.append("  %-20s %-14s %-16s %-16s %-16s %s%s" % (
            name, fmt(d["long"]["events_per_s"] and d["long"]["events_per_s"] / 1e6),
            fmt(d["long"].get("events_per_cpu_s") and d["long"]["events_per_cpu_s"] / 1e6),
            "%s kB" % d["long"]["peak_rss_kb"], "%s kB" % d["half"]["peak_rss_kb"],
            fmt(d.get("rss_long_over_half")),
            ("  ERROR " + d["error_long"][:200]) if d.get("error_long") else ""))
    return "\n".join(lines)


def targets(res):
    out = []
    for w in res["recording"]:
        p = w["tracers"].get("pylow", {})
        if "skipped" in p or not p:
            out.append("%s: pylow not measured (%s)" % (w["workload"], p.get("skipped", "?")))
            continue
        c = p.get("cost_vs_floor")
        ci = p.get("cost_vs_floor_ci95")
        out.append("%s: pylow cost/floor %s (95%% CI %s) (target <= 1.10): %s; lost max %s (target 0): %s; "
                   "bytes/event %s (target <= 1.5): %s" % (
                       w["workload"], fmt(c, "%.3f"), "%.3f..%.3f" % tuple(ci) if ci else "-",
                       verdict(c, ci, 1.10),
                       p.get("lost_max"), "MET" if p.get("lost_max") == 0 else "MISSED",
                       fmt(p.get("bytes_per_event") and p["bytes_per_event"]["median"]),
                       "MET" if p.get("bytes_per_event") and p["bytes_per_event"]["median"] <= 1.5 else "MISSED"))
    for name, d in res.get("report", {}).get("readers", {}).items():
        if name.startswith("pylow") and "long" in d:
            eps = d["long"]["events_per_s"] or d["half"]["events_per_s"] or \
                d["half"].get("events_per_s_upper_bound") or 0
            cps = d["long"].get("events_per_cpu_s")
            rr = d.get("rss_long_over_half")
            out.append("%s: %.1f M events/s wall, %s M events/CPU-s (target >= 20 on one core): %s; "
                       "RSS long/half %s (target ~1.0): %s" % (
                name, eps / 1e6, fmt(cps and cps / 1e6, "%.1f"),
                "MET" if (cps or eps) >= 20e6 else "MISSED", fmt(rr),
                "MET" if rr is not None and rr <= 1.15 else "MISSED"))
    return out


def on_term(sig, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, on_term)
    if not WORKLOADS or not os.path.exists(os.path.join(WORKLOADS, "w1_cpu.py")):
        sys.exit("bench.py: set WORKLOADS to the directory holding w1_cpu.py and w2_io.py")
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    pm_qos = pm_qos_hold()
    log("== PM QoS cpu latency: %s" % pm_qos)
    if BENCH_TMPDIR:
        tmp = os.path.join(BENCH_TMPDIR, "pylow-bench-%d" % os.getpid())
        os.makedirs(tmp, exist_ok=True)
        os.environ["TMPDIR"] = tmp      # every workload (and peer) inherits it
        atexit.register(shutil.rmtree, tmp, True)
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "python": PY,
                    "pylow": PYLOW, "load_before": os.getloadavg()},
           "config": {"rounds": ROUNDS, "w2_rounds": W2_ROUNDS, "peer_rounds": PEER_ROUNDS, "w1_args": W1_ARGS,
                      "w2_args": W2_ARGS, "long_args": LONG_ARGS, "half_args": HALF_ARGS,
                      "tracers": TRACERS, "tmpdir": E.get("TMPDIR", ""), "pm_qos": pm_qos},
           "recording": []}
    if PYLOW and os.access(PYLOW, os.X_OK):
        res["host"]["pylow_version"] = run([PYLOW, "--version"])[1].strip()
    try:
        reps, n = int(W1_ARGS[0]), int(W1_ARGS[1])
        if ONLY == "report":
            res["report"] = bench_report()
        elif ONLY != "agent":
            # name: script, args, expected calls (None: the floor counts), pairs, diag key
            spec = {"W1": ("w1_cpu.py", W1_ARGS, reps * 242785 + 2 * n, ROUNDS, "diag"),
                    "W2": ("w2_io.py", W2_ARGS, None, W2_ROUNDS, "diag_w2")}
            names = [ONLY] if ONLY in spec else list(spec)
            for name in names:
                script, args, calls, rounds, _ = spec[name]
                res["recording"].append(bench_workload(name, script, args, calls, rounds))
            for name in names:
                script, args, _, _, key = spec[name]
                res[key] = bench_diag(script, args)
            res["report"] = {"skipped": "BENCH_ONLY=%s" % ONLY} if ONLY in spec else \
                {"skipped": "SKIP_REPORT=1"} if SKIP_REPORT else bench_report()
        else:
            res["report"] = {"skipped": "BENCH_ONLY=agent"}
        res["agent"] = bench_agent() if ONLY in ("", "agent") else []
    finally:
        perf_cleanup()
    res["host"]["load_after"] = os.getloadavg()
    res["targets"] = targets(res) + agent_targets(res["agent"])
    t = table(res) + "\n" + agent_table(res["agent"])
    print(t)
    print("")
    print("Targets:")
    for l in res["targets"]:
        print("  " + l)
    res["table"] = t
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    # latest.json is the last full run; a partial one (BENCH_ONLY) writes only its own file
    for name in ("bench-%s.json" % stamp,) + (("latest.json",) if not ONLY else ()):
        p = os.path.join(RESULTS, name)
        with open(p + ".tmp", "w") as fp:
            json.dump(res, fp, indent=1, sort_keys=False)
        os.replace(p + ".tmp", p)
    print("\nwrote %s/bench-%s.json%s" % (RESULTS, stamp, "" if ONLY else " and latest.json"))


if __name__ == "__main__":
    main()
