"""Known page faults, block reads, irqs, TLB flushes and thread times under
known Python functions (pylow record -e python,syscalls,sched,faults,io,irq,tlb).

usage: /usr/bin/python3.11 kgroups_probe.py GT.json PART [DATAFILE]
  PART faults:  touch_pages()  writes one byte to each of N_PAGES fresh pages
                of an anonymous mmap (MADV_NOHUGEPAGE: one fault per page)
  PART io:      direct_reads() K_READS preads of 4 KiB with O_DIRECT from
                DATAFILE (written and fsynced beforehand, so no flush is
                needed): one block read request each
  PART irq:     udp_send() sends N_DGRAMS datagrams over loopback: the NET_RX
                softirq delivering each runs in the sender's context
  PART tlb:     unmap_loop() (main thread, CPU 0) maps, touches and unmaps
                pages N_UNMAP times while spin() hashes outside the GIL on
                CPU 1: each munmap shoots down CPU 1's TLB with an IPI
  PART threads: nap200() sleeps 200 ms in one thread while spin200() spins
                200 ms in Python in another
Writes {"part": PART, ...counts..., "tids": {func: tid}}."""
import hashlib
import mmap
import os
import socket
import sys
import threading
import time

import _gate

N_PAGES = 2000
K_READS = 16
N_DGRAMS = 50
N_UNMAP = 40


def touch_pages():
    m = mmap.mmap(-1, N_PAGES * mmap.PAGESIZE)
    m.madvise(mmap.MADV_NOHUGEPAGE)
    for i in range(N_PAGES):
        m[i * mmap.PAGESIZE] = 1
    m.close()


def direct_reads(path):
    buf = mmap.mmap(-1, 4096)	# page-aligned, as O_DIRECT wants
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        for i in range(K_READS):
            if os.preadv(fd, [buf], i * 65536) != 4096:
                sys.exit("short O_DIRECT read")
    finally:
        os.close(fd)


def udp_send(tx, addr):
    for _ in range(N_DGRAMS):
        tx.sendto(b"x" * 64, addr)


def spin(stop):
    os.sched_setaffinity(0, {1})
    while not stop.is_set():
        hashlib.pbkdf2_hmac("sha256", b"x", b"y", 20000)	# outside the GIL


def unmap_loop():
    for _ in range(N_UNMAP):
        m = mmap.mmap(-1, 4 * mmap.PAGESIZE)
        for i in range(4):
            m[i * mmap.PAGESIZE] = 1
        m.close()
        time.sleep(0.002)


def nap200():
    time.sleep(0.200)


def spin200():
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 0.200:
        n += 1


def main():
    _gate.announce()
    _gate.gate()
    part = sys.argv[2]
    gt = {"part": part, "pid": os.getpid(), "tids": {}}
    if part == "faults":
        touch_pages()
        gt["n_pages"] = N_PAGES
    elif part == "io":
        direct_reads(sys.argv[3])
        gt["k_reads"] = K_READS
    elif part == "irq":
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_send(tx, rx.getsockname())
        got = 0
        rx.settimeout(5)
        while got < N_DGRAMS:
            rx.recv(100)
            got += 1
        gt["n_dgrams"] = N_DGRAMS
    elif part == "tlb":
        os.sched_setaffinity(0, {0})
        stop = threading.Event()
        t = threading.Thread(target=spin, args=(stop,))
        t.start()
        time.sleep(0.05)	# the spinner is on CPU 1
        unmap_loop()
        stop.set()
        t.join()
        gt["n_unmap"] = N_UNMAP
        gt["tids"]["spin"] = t.native_id
        gt["tids"]["unmap_loop"] = threading.get_native_id()
    elif part == "threads":
        ts = {"nap200": threading.Thread(target=nap200),
              "spin200": threading.Thread(target=spin200)}
        for t in ts.values():
            t.start()
        for name, t in ts.items():
            t.join()
            gt["tids"][name] = t.native_id
    else:
        sys.exit("unknown part " + part)
    _gate.write_gt(gt)


if __name__ == "__main__":
    main()
