"""Functions with exact, self-computed call counts.

usage: /usr/bin/python3.11 known_calls.py GT.json
Writes {"script": <this file's basename>, "pid": pid, "calls": {func: count}}.
Every counted function has a name unique in this file (kc_*, <lambda>), so a
report's per-name sums over nodes of this file must equal the counts exactly."""
import os

import _gate

K_B = 7          # kc_b() calls per kc_a()
N_A = 13         # kc_a() calls
FIB_N = 15       # kc_fib(15) -> calls(n) = 2*fib(n+1) - 1
N_METHOD = 21
N_LAMBDA = 17
N_INNER = 5


def kc_b(x):
    return x + 1


def kc_a(i):
    s = 0
    for j in range(K_B):
        s += kc_b(j)
    return s


def kc_fib(n):
    if n < 2:
        return n
    return kc_fib(n - 1) + kc_fib(n - 2)


def fib_calls(n):
    # count of kc_fib invocations for kc_fib(n), computed without tracing
    # the recursion through a probe: c(0)=c(1)=1, c(n)=1+c(n-1)+c(n-2)
    c = [1, 1]
    for k in range(2, n + 1):
        c.append(1 + c[k - 1] + c[k - 2])
    return c[n]


class KCounter:
    def __init__(self):
        self.n = 0

    def kc_method(self, d):
        self.n += d
        return self.n


def kc_outer():
    def kc_inner(v):
        return v * 2
    return sum(kc_inner(v) for v in range(N_INNER))


def kc_raises():
    raise ValueError("counted")


def main():
    _gate.announce()
    _gate.gate()
    for i in range(N_A):
        kc_a(i)
    kc_fib(FIB_N)
    c = KCounter()
    for i in range(N_METHOD):
        c.kc_method(i)
    sq = lambda v: v * v  # noqa: E731
    t = 0
    for i in range(N_LAMBDA):
        t += sq(i)
    kc_outer()
    for _ in range(3):
        try:
            kc_raises()
        except ValueError:
            pass
    calls = {
        "kc_a": N_A,
        "kc_b": N_A * K_B,
        "kc_fib": fib_calls(FIB_N),
        "kc_method": N_METHOD,
        "<lambda>": N_LAMBDA,
        "kc_outer": 1,
        "kc_inner": N_INNER,
        "kc_raises": 3,
    }
    _gate.write_gt({"script": os.path.basename(__file__), "pid": os.getpid(),
                    "calls": calls})


if __name__ == "__main__":
    main()
