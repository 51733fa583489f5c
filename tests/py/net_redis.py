"""Network target: a Redis client speaking RESP (as redis-py writes it: one
sendall per command, pipelines in one write) to the real redis-server on
127.0.0.1:PORT; values hold a secret.
usage: /usr/bin/python3.11 net_redis.py GT_JSON PORT
Ground truth: the commands and first keys in order, the secret."""
import os
import socket
import sys

import _gate

SECRET = os.urandom(16).hex()


def pack(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def reply(f):
    line = f.readline()
    t = line[:1]
    if t == b"$":
        n = int(line[1:])
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        return [reply(f) for _ in range(int(line[1:]))]
    if t == b"-":
        raise RuntimeError(line)
    return line[1:-2]


def main():
    _gate.announce()
    _gate.gate()
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    f = s.makefile("rb")
    done = []

    def run(*cmds):
        s.sendall(b"".join(pack(*c) for c in cmds))
        out = [reply(f) for _ in cmds]
        done.extend([c[0].upper(), c[1] if len(c) > 1 else ""] for c in cmds)
        return out

    run(("SET", "session_id", SECRET))
    assert run(("GET", "session_id")) == [SECRET.encode()]
    run(("SET", "big:blob", "x" * 6000 + SECRET))
    run(("INCR", "hits"), ("HSET", "user:1", "token", SECRET), ("LPUSH", "queue", SECRET))
    run(("PING",))
    run(("DEL", "session_id", "big:blob", "hits", "user:1", "queue"))
    fd = s.fileno()
    s.close()
    _gate.write_gt({"script": "net_redis.py", "commands": done, "fd": fd, "secrets": [SECRET]})


if __name__ == "__main__":
    main()
