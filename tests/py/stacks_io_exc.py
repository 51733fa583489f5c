"""Known block reads and raises under known Python functions, for
pylow record -e python,io,exceptions --stacks (Debian's python3.11, USDT).

usage: /usr/bin/python3.11 stacks_io_exc.py GT.json [DATA]
  direct_reads(DATA)  K_READS O_DIRECT preadv of 4096 bytes at 64 KB steps
                      of DATA (a file on a block device, written and synced
                      by the test): K_READS block reads, each created by
                      this thread inside preadv (skipped without DATA)
  raise_k()           raises StacksProbeError K_RAISE times (caught)
Then sleeps LINGER s (the recorder symbolises user stacks from the live
process's maps).  Writes {"k_reads", "k_raise"}."""
import mmap
import os
import sys
import time

import _gate

K_READS = 6
K_RAISE = 9
LINGER = 0.4


class StacksProbeError(Exception):
    pass


def direct_reads(path):
    buf = mmap.mmap(-1, 4096)	# page-aligned, as O_DIRECT wants
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        for i in range(K_READS):
            if os.preadv(fd, [buf], i * 65536) != 4096:
                sys.exit("short O_DIRECT read")
    finally:
        os.close(fd)


def raise_k():
    for i in range(K_RAISE):
        try:
            raise StacksProbeError(i)
        except StacksProbeError:
            pass


def main():
    _gate.announce()
    _gate.gate()
    data = sys.argv[2] if len(sys.argv) > 2 else None
    if data:
        direct_reads(data)
    raise_k()
    _gate.write_gt({"k_reads": K_READS if data else 0, "k_raise": K_RAISE})
    time.sleep(LINGER)


if __name__ == "__main__":
    main()
