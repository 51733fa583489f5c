"""A long-running target for stop-path tests: calls tick() every 5 ms.

usage: /usr/bin/python3.11 ticker.py [max_seconds=120] [TICKS_FILE]
Runs until killed or max_seconds.  Every 20 ticks it writes the tick count to
TICKS_FILE (if given), so a test can wait for progress instead of sleeping."""
import os
import sys
import time

import _gate


def tick(i):
    return sum(range(i % 50))


def main():
    _gate.announce()
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    ticks_file = sys.argv[2] if len(sys.argv) > 2 else None
    end = time.monotonic() + limit
    i = 0
    while time.monotonic() < end:
        tick(i)
        i += 1
        if ticks_file and i % 20 == 0:
            with open(ticks_file + ".tmp", "w") as f:
                f.write("%d\n" % i)
            os.replace(ticks_file + ".tmp", ticks_file)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
