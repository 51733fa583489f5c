"""A call-heavy target for reliability tests: calls leaf() as fast as it can.

usage: /usr/bin/python3.11 busy.py [max_seconds=60] [PROGRESS_FILE]
Prints 'PID <pid>', waits for the gate (env PYLOW_GATE), then loops calling
leaf() until max_seconds.  Every 10000 calls it rewrites PROGRESS_FILE with the
call count, so a test can see that the target keeps running.  At the end it
prints 'DONE <calls> <checksum>' (the checksum does not depend on tracing)."""
import os
import sys
import time

import _gate


def leaf(i):
    return i * 7 % 13


def main():
    _gate.announce()
    _gate.gate()
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    progress = sys.argv[2] if len(sys.argv) > 2 else None
    end = time.monotonic() + limit
    i = acc = 0
    while time.monotonic() < end:
        for _ in range(10000):
            acc = (acc + leaf(i)) % 1000003
            i += 1
        if progress:
            with open(progress + ".tmp", "w") as f:
                f.write("%d\n" % i)
            os.replace(progress + ".tmp", progress)
    # the checksum of the first N calls, recomputed without calls: a traced
    # run must give the same answer as the loop above
    chk = 0
    for k in range(i):
        chk = (chk + k * 7 % 13) % 1000003
    print("DONE", i, "ok" if chk == acc else "MISMATCH", flush=True)


if __name__ == "__main__":
    main()
