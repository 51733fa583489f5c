"""Fork and thread storms for bounded-memory tests.

usage: /usr/bin/python3.11 storm.py GT_JSON [FORKS=500] [THREADS=1000]
FORKS short-lived forked children each call child_work() once and _exit;
then THREADS threads (at most 100 alive at a time) each call thread_work()
once.  Ground truth: {"calls": {"child_work": FORKS, "thread_work": THREADS}}."""
import os
import sys
import threading

import _gate


def child_work(i):
    return i * 3


def thread_work(i):
    return i * 5


def main():
    _gate.announce()
    _gate.gate()
    forks = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    nthreads = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    live = []
    for i in range(forks):
        pid = os.fork()
        if pid == 0:
            child_work(i)
            os._exit(0)
        live.append(pid)
        if len(live) >= 50:
            os.waitpid(live.pop(0), 0)
    for pid in live:
        os.waitpid(pid, 0)
    done = 0
    while done < nthreads:
        batch = [threading.Thread(target=thread_work, args=(done + k,))
                 for k in range(min(100, nthreads - done))]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        done += len(batch)
    _gate.write_gt({"script": "storm.py",
                    "calls": {"child_work": forks, "thread_work": nthreads}})


if __name__ == "__main__":
    main()
