"""Three named threads, each calling work() a different, known number of times.

usage: /usr/bin/python3.11 threads.py GT.json
Writes {"threads": {tid: {"name": n, "calls": {"work": count}}}} with native
thread ids (what BPF sees as tid)."""
import os
import threading

import _gate

COUNTS = {"worker-a": 101, "worker-b": 202, "worker-c": 303}


def work(i):
    return i * i


def run(n, out, name):
    out[name] = threading.get_native_id()
    for i in range(n):
        work(i)


def main():
    _gate.announce()
    _gate.gate()
    tids = {}
    ts = [threading.Thread(target=run, name=name, args=(n, tids, name))
          for name, n in COUNTS.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    _gate.write_gt({"script": os.path.basename(__file__), "pid": os.getpid(),
                    "threads": {str(tids[name]): {"name": name, "calls": {"work": n}}
                                for name, n in COUNTS.items()}})


if __name__ == "__main__":
    main()
