"""Known native events under known Python functions (pylow record -e
python,mem,gil,exceptions; Debian's python3.11 through USDT).

usage: /usr/bin/python3.11 native_probe.py GT.json
  alloc_k()     K_ALLOC bytearrays of ALLOC_SIZE bytes, dropped by the caller:
                CPython 3.11 asks malloc for ALLOC_SIZE + 1 bytes each
                (bytearray keeps a NUL after the data; > 512 bytes bypasses
                pymalloc), and frees them afterwards
  leak_k()      K_LEAK bytearrays of LEAK_SIZE bytes kept in a global list,
                never freed: the script ends with os._exit(0), so that the
                interpreter's finalisation does not free them either
  raise_k()     raises NativeProbeError K_RAISE times (caught each time)
  solo_spin()   pure-Python loop with no other thread alive: no GIL waits
  spin()        the same loop run by two threads at once: they wait for each
                other's GIL (CPython forces a switch every 5 ms)
Writes {"k_alloc", "alloc_malloc_size", "k_leak", "leak_malloc_size",
"k_raise", "spin_ns": [per thread], "overlap_ns", "solo_ns"}."""
import os
import threading
import time

import _gate

K_ALLOC = 7
ALLOC_SIZE = 3 * 1024 * 1024
K_LEAK = 5
LEAK_SIZE = 2 * 1024 * 1024
K_RAISE = 13
SPIN_N = 2_500_000

kept = []


class NativeProbeError(Exception):
    pass


def alloc_k():
    bufs = []
    for _ in range(K_ALLOC):
        bufs.append(bytearray(ALLOC_SIZE))
    return bufs


def leak_k():
    for _ in range(K_LEAK):
        kept.append(bytearray(LEAK_SIZE))


def raise_k():
    n = 0
    for i in range(K_RAISE):
        try:
            raise NativeProbeError(i)
        except NativeProbeError:
            n += 1
    return n


def solo_spin():
    x = 0
    for i in range(SPIN_N):
        x += i
    return x


def spin(out, i):
    t0 = time.monotonic_ns()
    x = 0
    for k in range(SPIN_N):
        x += k
    out[i] = (t0, time.monotonic_ns())


def main():
    _gate.announce()
    _gate.gate()
    bufs = alloc_k()
    del bufs
    leak_k()
    raise_k()
    t0 = time.monotonic_ns()
    solo_spin()
    solo_ns = time.monotonic_ns() - t0
    out = [None, None]
    ts = [threading.Thread(target=spin, args=(out, i)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    overlap = min(e for _, e in out) - max(s for s, _ in out)
    _gate.write_gt({"k_alloc": K_ALLOC, "alloc_malloc_size": ALLOC_SIZE + 1,
                    "k_leak": K_LEAK, "leak_malloc_size": LEAK_SIZE + 1,
                    "k_raise": K_RAISE, "spin_ns": [e - s for s, e in out],
                    "overlap_ns": max(overlap, 0), "solo_ns": solo_ns})
    os._exit(0)


if __name__ == "__main__":
    main()
