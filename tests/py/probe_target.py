"""Known hits of generic probes and known native stacks (pylow record -e
uprobe:libc:umask,uretprobe:libc:umask,tracepoint:syscalls:sys_enter_getppid,
tracepoint:sched:sched_process_fork --stacks).

usage: /usr/bin/python3.11 probe_target.py GT.json
  set_masks()   N_UMASK os.umask(m) calls (libc umask(m) each), m alternating
                0o022 / 0o077: a uprobe sees arg0 = m, a uretprobe the old mask
  ppids()       N_GETPPID os.getppid() calls: one getppid syscall each
  spawn()       N_FORK os.fork() + waitpid: one sched_process_fork each
  nap()         N_NAP time.sleep(0.1): 100 ms blocked off CPU in clock_nanosleep
  collect()     gc.collect(g) for g in GENS (automatic collection disabled):
                the usdt probe python:gc__start sees arg0 = g
The process then lives 0.5 s more so that the recorder symbolises its user
stacks while it runs.  Writes {"masks": [[m, old]...], "ppid", "n_getppid",
"children": [pids], "n_nap", "gens"}."""
import gc
import json
import os
import sys
import time

N_UMASK = 11
N_GETPPID = 13
N_FORK = 3
N_NAP = 3
GENS = [2, 0, 1, 2]


def set_masks(n):
    seq = []
    for i in range(n):
        m = 0o022 if i % 2 == 0 else 0o077
        seq.append([m, os.umask(m)])
    return seq


def ppids(n):
    return [os.getppid() for _ in range(n)]


def spawn(k):
    pids = []
    for _ in range(k):
        p = os.fork()
        if p == 0:
            os._exit(0)
        os.waitpid(p, 0)
        pids.append(p)
    return pids


def nap():
    time.sleep(0.1)


def collect():
    for g in GENS:
        gc.collect(g)


def main():
    gc.disable()
    collect()
    masks = set_masks(N_UMASK)
    pp = ppids(N_GETPPID)
    children = spawn(N_FORK)
    for _ in range(N_NAP):
        nap()
    with open(sys.argv[1], "w") as f:
        json.dump({"masks": masks, "ppid": pp[0], "n_getppid": N_GETPPID,
                   "children": children, "n_nap": N_NAP, "gens": GENS,
                   "py": os.path.basename(os.path.realpath(sys.executable))}, f)
    time.sleep(0.5)


main()
