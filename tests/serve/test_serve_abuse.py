#!/usr/bin/env python3
"""Abuse of `mailvet serve`: 10,000 malformed requests (bad JSON, bodies
over the limit, invalid UTF-8 in bodies and queries, garbage request
lines, headers over the limit) and slowloris connections.  Afterwards
the server still answers correctly, its RSS has not grown materially,
the slow connections were closed, and SIGTERM exits 0.

usage: test_serve_abuse.py PATH/TO/mailvet
"""
import json
import socket
import sys
import threading
import time

from mvserve import Checker, Server, wait_until

MAILVET = sys.argv[1]
t = Checker()
expect = t.expect
TOTAL = 10000


def read_response(sock):
    """Status of one response on a keep-alive socket (0: closed)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, True
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
        if k.strip().lower() == b"connection" and b"close" in v.lower():
            close = True
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, close


def post(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
            body)


MALFORMED = [
    (post(b"/v1/check", b"{not json"), 400),
    (post(b"/v1/check", b'{"email": "\xff\xfe@x.com"}'), 400),
    (post(b"/v1/check", b'{"email": ["a"]}'), 400),
    (post(b"/v1/check", b'{"email": "a@b.com"' + b" " * 100), 400),
    (post(b"/v1/check", b"[" * 5000), 400),
    (post(b"/v1/check/batch", b'{"emails": 1}',
          b"Authorization: Bearer k\r\n"), 400),
    (b"GET /v1/check?email=%ff%fe%00%c0%80@x.com HTTP/1.1\r\nHost: x\r\n\r\n",
     200),
    (b"GET /v1/check?email=\xff\xfe@x.com HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"PATCH /v1/check HTTP/1.1\r\nHost: x\r\n\r\n", 405),
]
# Each of these ends its connection.
CLOSING = [
    b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
    + b"x" * 70000,
    b"POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    + (b"8000\r\n" + b"y" * 0x8000 + b"\r\n") * 3 + b"0\r\n\r\n",
    b"GET /v1/check HTTP/1.1\r\nHost: x\r\nX-Big: " + b"z" * 40000 +
    b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00garbage not http\r\n\r\n",
    b"GET /" + b"a" * 30000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
]


def worker(port, n, counts, lock):
    i = 0
    sock = None
    while i < n:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.settimeout(10)
        if i % 50 == 49:
            req, want = CLOSING[(i // 50) % len(CLOSING)], None
        else:
            req, want = MALFORMED[i % len(MALFORMED)]
        try:
            sock.sendall(req)
            status, close = read_response(sock)
        except OSError:
            status, close = 0, True
        with lock:
            key = "closing" if want is None else "ok" if status == want \
                else "bad %s->%s" % (req[:30], status)
            counts[key] = counts.get(key, 0) + 1
        i += 1
        if close or want is None or status == 0:
            sock.close()
            sock = None
    if sock:
        sock.close()


def hammer(s, total):
    counts, lock = {}, threading.Lock()
    threads = [threading.Thread(target=worker,
                                args=(s.port, total // 4, counts, lock))
               for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return counts


def slowloris(port, n):
    socks = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nX-a: ")
        socks.append(c)
    return socks


def closed(sock):
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def main():
    s = Server(MAILVET, ["--offline", "--rate-limit", "0",
                         "--client-timeout", "2", "--max-body", "65536"],
               env={"MAILVET_API_KEYS": "k"})
    hammer(s, 2000)  # warm up: allocator arenas, pools
    rss0 = s.rss_kb()
    loris = slowloris(s.port, 100)
    t0 = time.time()
    counts = hammer(s, TOTAL)
    bad = {k: v for k, v in counts.items() if k not in ("ok", "closing")}
    expect(not bad, "every malformed request got its status: %r" % bad)
    expect(sum(counts.values()) == TOTAL, "all %d sent (%r)" % (TOTAL,
                                                                 counts))
    print("%d malformed requests in %.1fs" % (TOTAL, time.time() - t0))
    st, _, r = s.json("/v1/check?email=dave@gmial.com")
    expect(st == 200 and r["suggestion"] == "dave@gmail.com",
           "still answers correctly")
    expect(wait_until(lambda: all(closed(c) for c in loris), 8),
           "slowloris connections closed by the idle timeout")
    for c in loris:
        c.close()
    rss1 = s.rss_kb()
    print("RSS before %d kB, after %d kB" % (rss0, rss1))
    expect(rss1 - rss0 < 8192, "RSS grew %d kB" % (rss1 - rss0))
    st, _, body = s.curl("/metrics")
    expect(st == 200 and b'code="400"' in body, "metrics after abuse")
    expect(s.stop() == 0, "SIGTERM: exit 0")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
