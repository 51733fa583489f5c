"""stitch_client.py URL N - N requests with known traceparents (trace ids
printed, one per line: "TRACE <32 hex>"), then N without one."""
import sys
import time
import urllib.request


def request(url, tp):
    headers = {'traceparent': tp} if tp else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
        return r.read()


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        trace = '5717c4%026x' % (i + 1)
        print('TRACE', trace, flush=True)
        request(url, '00-%s-%016x-01' % (trace, 0xa0 + i))
        time.sleep(0.02)
    for i in range(n):
        request(url, None)
        time.sleep(0.02)


main()
