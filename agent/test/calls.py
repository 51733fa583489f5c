"""Known call counts for agent/test/run.sh (Python 3.6+).

Per function (entries = returns): f 1000, g 7, fib 1973 (fib(15)),
gen 6 (start + 5 resumes / 5 yields + end), co 4, __await__ 6,
h 50 and th_body 1 (in a thread), ex1 ex2 ex3 1 each (an exception unwinding
through 3 frames), k 11 only in a forked child (which gets its own ring).
Prints "parent <pid> child <pid>" and "clock ok p90 <ns>" (agent timestamps
against CLOCK_MONOTONIC).
"""
import os
import sys
import threading


def f(x):
    return x + 1


def g(x):
    return x * 2


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen():
    for i in range(5):
        yield i


class Aw(object):
    def __await__(self):
        yield
        return 1


async def co():
    s = 0
    for _ in range(3):
        s += await Aw()
    return s


def h(x):
    return x


def th_body():
    for i in range(50):
        h(i)


def ex3():
    raise ValueError("down")


def ex2():
    ex3()


def ex1():
    ex2()


def k(x):
    return x


def main():
    # fork first: 3.12+ warns about fork() in a process that has had threads
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        for i in range(11):
            k(i)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    for i in range(1000):
        f(i)
    for i in range(7):
        g(i)
    assert fib(15) == 610
    assert list(gen()) == [0, 1, 2, 3, 4]
    c = co()
    try:
        while True:
            c.send(None)
    except StopIteration as e:
        assert e.value == 3
    t = threading.Thread(target=th_body)
    t.start()
    t.join()
    try:
        ex1()
    except ValueError:
        pass
    print("parent %d child %d" % (os.getpid(), pid))
    clock_check()


def clock_check():
    """The agent's timestamps: never backwards, near CLOCK_MONOTONIC."""
    agent = sys.modules.get("_pylow_agent")
    if agent is None:
        print("clock: no agent")
        return
    prev, diffs = 0, []
    for _ in range(5000):
        a, m = agent._clock()
        if a < prev:
            print("clock: went back %d ns" % (prev - a))
            return
        prev = a
        diffs.append(abs(m - a))
    diffs.sort()
    p90 = diffs[len(diffs) * 9 // 10]
    print("clock %s p90 %d ns" % ("ok" if p90 < 2000 else "off", p90))


main()
