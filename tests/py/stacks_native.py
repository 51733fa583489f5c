"""Known page faults and allocations under known Python functions, for
pylow record -e python,faults,mem --stacks (Debian's python3.11, USDT).

usage: /usr/bin/python3.11 stacks_native.py GT.json
  touch_n(mv)   writes one byte to each of N_PAGES fresh pages of an
                anonymous mmap made by the caller, through a memoryview
                (memory_ass_sub in python3.11 does the store): N_PAGES user
                page faults at known addresses, faulting in python3.11
  alloc_k()     K_ALLOC bytearrays of ALLOC_SIZE bytes: K_ALLOC mallocs of
                ALLOC_SIZE + 1 bytes (> 512: past pymalloc, straight to libc)
Then sleeps LINGER s: the recorder symbolises user stacks from the live
process's maps, and reads its ring buffer every 100 ms.
Writes {"n_pages", "base", "k_alloc", "alloc_malloc_size"}."""
import ctypes
import mmap
import time

import _gate

N_PAGES = 48
K_ALLOC = 6
ALLOC_SIZE = 2 * 1024 * 1024
LINGER = 0.4
PAGE = mmap.PAGESIZE


def touch_n(mv):
    for i in range(N_PAGES):
        mv[i * PAGE] = 1


def alloc_k():
    bufs = []
    for _ in range(K_ALLOC):
        bufs.append(bytearray(ALLOC_SIZE))
    return len(bufs)


def main():
    _gate.announce()
    _gate.gate()
    m = mmap.mmap(-1, N_PAGES * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    mv = memoryview(m)
    touch_n(mv)
    alloc_k()
    mv.release()
    _gate.write_gt({"n_pages": N_PAGES, "base": base, "k_alloc": K_ALLOC,
                    "alloc_malloc_size": ALLOC_SIZE + 1})
    time.sleep(LINGER)


if __name__ == "__main__":
    main()
