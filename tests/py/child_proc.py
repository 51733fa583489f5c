"""A parent with a forked child and an exec'd Python child, known counts each.

usage: /usr/bin/python3.11 child_proc.py GT.json
The os.fork() child calls fork_work() M_FORK times and _exits; the subprocess
(/usr/bin/python3.11 child_proc.py --sub) calls sub_work() M_SUB times; the
parent calls parent_work() M_PARENT times.
Writes {"procs": {pid: {"role": r, "calls": {func: n}}}}."""
import os
import subprocess
import sys

import _gate

M_FORK = 11
M_SUB = 23
M_PARENT = 5


def fork_work(i):
    return i * 3


def sub_work(i):
    return i + 7


def parent_work(i):
    return i - 1


def sub_main():
    for i in range(M_SUB):
        sub_work(i)


def main():
    _gate.announce()
    _gate.gate()
    for i in range(M_PARENT):
        parent_work(i)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        for i in range(M_FORK):
            fork_work(i)
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    if st != 0:
        sys.exit("fork child failed: %d" % st)
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sub"])
    if p.wait() != 0:
        sys.exit("subprocess child failed")
    _gate.write_gt({"script": os.path.basename(__file__), "pid": os.getpid(),
                    "procs": {
                        str(os.getpid()): {"role": "parent", "calls": {"parent_work": M_PARENT}},
                        str(pid): {"role": "fork", "calls": {"fork_work": M_FORK}},
                        str(p.pid): {"role": "subprocess", "calls": {"sub_work": M_SUB}},
                    }})


if __name__ == "__main__":
    if sys.argv[1:] == ["--sub"]:
        sub_main()
    else:
        main()
