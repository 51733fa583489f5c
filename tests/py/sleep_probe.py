"""Functions that take a known wall time.

usage: /usr/bin/python3.11 sleep_probe.py GT.json
sleep_80ms() sleeps 80 ms, sleep_200ms() 200 ms; each is called K times.
Writes {"calls": {...}, "expect_ns": {func: ns}, "measured_ns": {func: [...]}}
(measured_ns: the durations this script saw itself with perf_counter_ns)."""
import os
import time

import _gate

K80 = 5
K200 = 3


def sleep_80ms():
    time.sleep(0.080)


def sleep_200ms():
    time.sleep(0.200)


def timed(fn, out):
    t0 = time.perf_counter_ns()
    fn()
    out.append(time.perf_counter_ns() - t0)


def main():
    _gate.announce()
    _gate.gate()
    m80, m200 = [], []
    for _ in range(K80):
        timed(sleep_80ms, m80)
    for _ in range(K200):
        timed(sleep_200ms, m200)
    _gate.write_gt({"script": os.path.basename(__file__), "pid": os.getpid(),
                    "calls": {"sleep_80ms": K80, "sleep_200ms": K200},
                    "expect_ns": {"sleep_80ms": 80_000_000, "sleep_200ms": 200_000_000},
                    "measured_ns": {"sleep_80ms": m80, "sleep_200ms": m200}})


if __name__ == "__main__":
    main()
