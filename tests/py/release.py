"""Two 'releases' of one service, for the analyses test (issue 7).

usage: release.py VERSION   (VERSION is 1 or 2)

Ground truth planted here, checked by tests/integration/run.sh (t_analyses):
  diff v1 -> v2: slow_fn is 12 ms slower (10 -> 22 ms); legacy_check exists only
    in v1 (removed); validate_schema only in v2 (new); parse, compute and render
    are the same in both (noise only).
  anomaly: exactly ANOMALY_AT calls of query() (of QUERIES) take 100 ms, the
    others 20 ms (a base well above timer jitter on a loaded machine, where
    a 2 ms sleep was seen to take 4 ms).
  nplus1: each load_page() calls get_user() exactly USERS_PER_PAGE times.
  slow: REQUESTS handle_request() calls, each in its own thread (so each is a
    root of the flow: its callers are in threading.py, which the test filters
    out); exactly SLOW_REQ of them go handle_request -> call_llm ->
    read_socket (60 ms), the others answer from read_cache (1 ms).
Every function sleeps, so durations are dominated by the sleeps, not the tracer.
"""
import sys
import threading
import time

ROUNDS = 30
QUERIES = 40
ANOMALY_AT = (7, 19, 33)
PAGES = 5
USERS_PER_PAGE = 12
REQUESTS = 20
SLOW_REQ = (5, 11, 17)


def parse():
    time.sleep(0.020)


def compute():
    time.sleep(0.020)


def render():
    time.sleep(0.020)


def slow_fn(version):
    time.sleep(0.010 if version == 1 else 0.022)


def legacy_check():
    time.sleep(0.001)


def validate_schema():
    time.sleep(0.001)


def query(i):
    time.sleep(0.100 if i in ANOMALY_AT else 0.020)


def get_user(i):
    time.sleep(0.0005)


def load_page():
    for i in range(USERS_PER_PAGE):
        get_user(i)


def read_socket():
    time.sleep(0.060)


def call_llm():
    read_socket()


def read_cache():
    time.sleep(0.001)


def auth():
    time.sleep(0.002)


def handle_request(i):
    auth()
    if i in SLOW_REQ:
        call_llm()
    else:
        read_cache()


version = int(sys.argv[1])
for _ in range(ROUNDS):
    parse()
    compute()
    render()
    slow_fn(version)
    if version == 1:
        legacy_check()
    else:
        validate_schema()
for i in range(QUERIES):
    query(i)
for _ in range(PAGES):
    load_page()
for i in range(REQUESTS):
    t = threading.Thread(target=handle_request, args=(i,))
    t.start()
    t.join()
