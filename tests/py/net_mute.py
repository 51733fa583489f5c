"""A stream of no known protocol (a 4-byte binary length, then the body, as
W2's echo) over an AF_UNIX socketpair served by a thread: 70 requests (the
label parser gives a stream up after 64 calls it cannot place), a 40 ms
pause, then a burst of BURST requests.  Each request is 3 socket calls one
way (a send; a recv of the length and one of the body) and 3 back.
tests/integration/run.sh t_net_mute_early: pylow must stop copying the
stream within the pause, not a 50 ms hold-back into the burst.
usage: net_mute.py BURST"""
import socket
import struct
import sys
import threading
import time


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def serve(s):
    try:
        while True:
            (n,) = struct.unpack("!I", recv_exact(s, 4))
            s.sendall(struct.pack("!I", n) + recv_exact(s, n))
    except EOFError:
        pass


def ask(s, i):
    m = b"GET /item/%d HTTP/1.0" % i
    s.sendall(struct.pack("!I", len(m)) + m)
    (n,) = struct.unpack("!I", recv_exact(s, 4))
    return recv_exact(s, n)


def main():
    a, b = socket.socketpair()
    t = threading.Thread(target=serve, args=(b,))
    t.start()
    for i in range(70):
        ask(a, i)
    time.sleep(0.04)
    for i in range(int(sys.argv[1])):
        ask(a, i)
    a.close()
    t.join()
    print("done")


main()
