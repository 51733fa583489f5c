"""Known kernel events under known Python functions (pylow record -e
python,syscalls,sched).

usage: /usr/bin/python3.11 kernel_probe.py GT.json
  do_preads()   exactly N_PREAD os.pread() calls (one pread64 each) on a file
  nap80()       time.sleep(0.080): 80 ms blocked off CPU
  wait_lock()   blocks on a threading.Lock that another thread holds for
                LOCK_HOLD_S: that long blocked off CPU (in a futex wait)
  spin()        run by two threads at once, hashing outside the GIL: when the
                process is pinned to one CPU (taskset -c 0) they preempt each
                other and wait on the runqueue
Writes {"n_pread": N, "fd": FD, "nap_ns": [measured], "lock_ns": [measured
wait in wait_lock], "spin_threads": 2}."""
import hashlib
import json
import os
import tempfile
import threading
import time

import _gate

N_PREAD = 37
SPIN_S = 0.6
LOCK_HOLD_S = 0.120


def do_preads(fd):
    for _ in range(N_PREAD):
        os.pread(fd, 4096, 0)


def nap80():
    time.sleep(0.080)


def wait_lock(lock):
    lock.acquire()
    lock.release()


def hold(lock, held):
    with lock:
        held.set()
        time.sleep(LOCK_HOLD_S)


def lock_wait():
    lock, held = threading.Lock(), threading.Event()
    h = threading.Thread(target=hold, args=(lock, held))
    h.start()
    held.wait()
    t0 = time.perf_counter_ns()
    wait_lock(lock)
    waited = time.perf_counter_ns() - t0
    h.join()
    return waited


def spin(buf, until):
    while time.monotonic() < until:
        hashlib.sha256(buf).digest()	# releases the GIL for big buffers


def contend():
    buf = b"x" * (1 << 20)
    until = time.monotonic() + SPIN_S
    ts = [threading.Thread(target=spin, args=(buf, until)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    _gate.announce()
    _gate.gate()
    with tempfile.TemporaryFile() as f:
        f.write(b"y" * 8192)
        f.flush()
        fd = f.fileno()
        do_preads(fd)
    t0 = time.perf_counter_ns()
    nap80()
    nap_ns = time.perf_counter_ns() - t0
    lock_ns = lock_wait()
    contend()
    with open(_gate.gt_path(), "w") as g:
        json.dump({"n_pread": N_PREAD, "fd": fd, "nap_ns": nap_ns, "lock_ns": lock_ns,
                   "spin_threads": 2}, g)


if __name__ == "__main__":
    main()
