"""Creates and calls N distinct code objects (generated function defs, exec'd
in batches of 1000).  usage: /usr/bin/python3.11 many_code.py GT_JSON [N=300000]
Ground truth: {"defined": N}.  The functions are kept alive."""
import sys

import _gate


def main():
    _gate.announce()
    _gate.gate()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
    keep = []
    for base in range(0, n, 1000):
        src = "".join("def g%d(x):\n    return x + %d\n" % (i, i)
                      for i in range(base, min(base + 1000, n)))
        ns = {}
        exec(compile(src, "gen_%d.py" % base, "exec"), ns)
        for i in range(base, min(base + 1000, n)):
            f = ns["g%d" % i]
            f(i)
            keep.append(f)
    _gate.write_gt({"script": "many_code.py", "defined": n})


if __name__ == "__main__":
    main()
