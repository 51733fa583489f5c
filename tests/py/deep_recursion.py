"""A deep call stack: dr_down() recursing DEPTH levels, REPS times.

usage: /usr/bin/python3.11 deep_recursion.py GT.json
Reports must keep the nesting (a tree DEPTH+1 nodes deep) and stay valid
JSON however deep the tree is."""
import os

import _gate

DEPTH = 150
REPS = 3


def dr_down(n):
    if n == 0:
        return 0
    return 1 + dr_down(n - 1)


def main():
    _gate.announce()
    _gate.gate()
    for _ in range(REPS):
        dr_down(DEPTH)
    _gate.write_gt({"script": os.path.basename(__file__), "pid": os.getpid(),
                    "calls": {"dr_down": REPS * (DEPTH + 1)}, "depth": DEPTH + 1})


if __name__ == "__main__":
    main()
