"""Recursion deeper than a frame evaluation hook's C stack allows: the main
thread recurses DEEP levels (recursion limit raised), a thread started with
a 256 KiB stack 3000.  Natively 3.11+ runs Python-to-Python calls on no C
stack of their own; the agent's 3.11 frame hook must not crash where the
program alone would not (tests/integration/run.sh t_agent_deep_stack).
usage: deep_stack.py DEEP; prints "deep_main <n> deep_thread <n>"."""
import sys
import threading


def deep_main(n):
    return 0 if n == 0 else 1 + deep_main(n - 1)


def deep_thread(n):
    return 0 if n == 0 else 1 + deep_thread(n - 1)


def main():
    deep = int(sys.argv[1])
    sys.setrecursionlimit(deep + 1000)
    got = {}
    threading.stack_size(256 * 1024)
    t = threading.Thread(target=lambda: got.setdefault("t", deep_thread(3000)))
    t.start()
    t.join()
    print("deep_main %d deep_thread %d" % (deep_main(deep), got.get("t", -1)))


main()
