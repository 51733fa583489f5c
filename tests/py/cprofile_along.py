"""The application profiles itself with cProfile while pylow's agent records:
cprof_f() runs 100 times under cProfile.Profile and 100 times after it.
Prints "cprofile <n>", the calls cProfile saw (100 when cProfile works).
tests/integration/run.sh t_agent_cprofile: pylow must see all 200 on 3.11+
(sys.monitoring / the frame evaluation hook), and cProfile its 100."""
import cProfile
import pstats


def cprof_f(x):
    return x + 1


def cprof_work():
    for i in range(100):
        cprof_f(i)


pr = cProfile.Profile()
pr.enable()
cprof_work()
pr.disable()
cprof_work()
n = sum(v[1] for k, v in pstats.Stats(pr).stats.items() if k[2] == "cprof_f")
print("cprofile %d" % n)
