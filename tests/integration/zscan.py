"""Decompresses every zstd frame of a file (a .plw holds one frame per
COMPRESSED record) and writes the concatenated output to stdout.

usage: /usr/bin/python3.11 zscan.py FILE > raw
Frames are found by their magic (28 b5 2f fd) and fed to `zstd -d -c`
(which stops at the end of the first frame and ignores trailing bytes);
a magic that is not a frame start is skipped.  stderr says how many
frames were decompressed."""
import subprocess
import sys

MAGIC = b"\x28\xb5\x2f\xfd"


def main():
    data = open(sys.argv[1], "rb").read()
    out = sys.stdout.buffer
    pos = n = 0
    while True:
        at = data.find(MAGIC, pos)
        if at < 0:
            break
        # a COMPRESSED record is at most 64 KiB: the frame is inside that
        r = subprocess.run(["zstd", "-q", "-d", "-c"], input=data[at:at + 65536],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.stdout:
            out.write(r.stdout)
            n += 1
        pos = at + 4
    print("zscan: %d frames" % n, file=sys.stderr)


if __name__ == "__main__":
    main()
