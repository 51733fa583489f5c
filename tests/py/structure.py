"""Known call structure in one run: counts, threads, asyncio coroutines,
generators, a forked child, an exec'd child, an exception unwinding frames.

usage: PYTHON structure.py GT.json        (any CPython 3.6+)
Writes {"script": "structure.py", "pid": pid,
        "calls": {file: {func: n}}          entries in the main process,
        "edges": [[file, parent, child, n]] calls of CHILD directly under PARENT
                                            in the main process,
        "threads": {tid: {"name": t, "calls": {func: n}}},
        "procs": {pid: {"role": r, "calls": {func: n}}}}   (fork and exec children)
A generator or coroutine counts one entry per start and per resume (what both
the USDT probes and the agent record)."""
import asyncio
import os
import subprocess
import sys
import threading

import _gate
import known_calls as kc

THREADS = {"worker-a": 31, "worker-b": 47}
N_GEN = 5
N_CO = 4
M_FORK = 11
M_SUB = 23


def st_work(i):
    return i * i


def st_thread(n, out, name):
    if hasattr(threading, "get_native_id"):
        out[name] = threading.get_native_id()
    else:   # 3.6, 3.7: gettid(2) on x86-64 Linux
        import ctypes
        out[name] = ctypes.CDLL(None, use_errno=True).syscall(186)
    for i in range(n):
        st_work(i)


def st_gen(n):
    for i in range(n):
        yield i


def st_use_gen():
    return sum(st_gen(N_GEN))


async def st_co_inner(i):
    await asyncio.sleep(0)     # suspends exactly once: start + one resume
    return i


async def st_co_outer(i):
    return await st_co_inner(i)


async def st_co_main():
    return await asyncio.gather(*[st_co_outer(i) for i in range(N_CO)])


def st_ex3():
    raise KeyError("unwinds three frames")


def st_ex2():
    st_ex3()


def st_ex1():
    st_ex2()


def st_fork_work(i):
    return i * 3


def st_sub_work(i):
    return i + 7


def sub_main():
    for i in range(M_SUB):
        st_sub_work(i)


def main():
    _gate.announce()
    _gate.gate()
    me = os.path.basename(__file__)
    kcf = os.path.basename(kc.__file__)
    # the foundation's known calls (known_calls.py's main() without its gate)
    for i in range(kc.N_A):
        kc.kc_a(i)
    kc.kc_fib(kc.FIB_N)
    c = kc.KCounter()
    for i in range(kc.N_METHOD):
        c.kc_method(i)
    sq = kc.__dict__.get("sq") or (lambda v: v * v)  # noqa: E731  (not counted: this file)
    kc.kc_outer()
    for _ in range(3):
        try:
            kc.kc_raises()
        except ValueError:
            pass
    sq(0)
    # threads
    tids = {}
    ts = [threading.Thread(target=st_thread, name=n, args=(k, tids, n)) for n, k in THREADS.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # generator, coroutines, exception
    st_use_gen()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(st_co_main())
    loop.close()
    try:
        st_ex1()
    except KeyError:
        pass
    # fork, then exec
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        for i in range(M_FORK):
            st_fork_work(i)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        sys.exit("fork child failed: %d" % status)
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sub"])
    if p.wait():
        sys.exit("exec'd child failed")
    calls = {
        kcf: {"kc_a": kc.N_A, "kc_b": kc.N_A * kc.K_B, "kc_fib": kc.fib_calls(kc.FIB_N),
              "kc_method": kc.N_METHOD, "kc_outer": 1, "kc_inner": kc.N_INNER, "kc_raises": 3},
        me: {"st_use_gen": 1, "st_gen": N_GEN + 1, "st_co_main": 2, "st_co_outer": 2 * N_CO,
             "st_co_inner": 2 * N_CO, "st_ex1": 1, "st_ex2": 1, "st_ex3": 1,
             "st_thread": len(THREADS), "st_work": sum(THREADS.values())},
    }
    edges = [
        [kcf, "kc_a", "kc_b", kc.N_A * kc.K_B],
        [kcf, "kc_fib", "kc_fib", kc.fib_calls(kc.FIB_N) - 1],
        [me, "st_use_gen", "st_gen", N_GEN + 1],
        [me, "st_co_outer", "st_co_inner", 2 * N_CO],
        [me, "st_ex1", "st_ex2", 1],
        [me, "st_ex2", "st_ex3", 1],
        [me, "st_thread", "st_work", sum(THREADS.values())],
    ]
    _gate.write_gt({
        "script": me, "pid": os.getpid(), "calls": calls, "edges": edges,
        "threads": {str(tids[n]): {"name": n, "calls": {"st_work": k, "st_thread": 1}}
                    for n, k in THREADS.items() if tids.get(n)},
        "procs": {str(pid): {"role": "fork", "calls": {"st_fork_work": M_FORK}},
                  str(p.pid): {"role": "exec", "calls": {"st_sub_work": M_SUB, "sub_main": 1}}},
    })


if __name__ == "__main__":
    if sys.argv[1:] == ["--sub"]:
        sub_main()
    else:
        main()
