"""Shared helpers for the traced test scripts (tests/py/).

Every script prints 'PID <pid>' on stdout first, then, if env PYLOW_GATE is
set, waits (up to 120 s) for that file to exist before doing its counted work,
so that a test can attach `pylow record -p PID` before the work starts.
Ground truth goes to the JSON path given as argv[1] (or env PYLOW_GT)."""
import json
import os
import sys
import time


def announce():
    print("PID", os.getpid(), flush=True)


def gate():
    g = os.environ.get("PYLOW_GATE")
    if not g:
        return
    deadline = time.monotonic() + 120
    while not os.path.exists(g):
        if time.monotonic() > deadline:
            sys.exit("gate %s never appeared" % g)
        time.sleep(0.005)


def gt_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.environ.get("PYLOW_GT")


def write_gt(obj):
    p = gt_path()
    if not p:
        return
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, p)
