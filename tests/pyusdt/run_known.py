"""usage: python3.12 run_known.py GT.json [FORK_CALLS] - known_calls.py with
pyusdt probes on (PYTHONPATH: this directory with _pyusdt built in it, and
tests/py).  With FORK_CALLS, a forked child then calls child_work() that many
times (the library's probes are in the child's memory too)."""
import os
import sys

import pyusdt

pyusdt.enable()

import known_calls  # noqa: E402

known_calls.main()


def child_work(i):
    return i * 2


if len(sys.argv) > 2:
    pid = os.fork()
    if pid == 0:
        for i in range(int(sys.argv[2])):
            child_work(i)
        os._exit(0)
    os.waitpid(pid, 0)
