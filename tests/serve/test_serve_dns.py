#!/usr/bin/env python3
"""`mailvet serve` with the DNS stage, against the DNS fixture
(tests/dns/README.md): a network check answered asynchronously, the
cache, concurrent requests, and the per-request deadline (a resolver
that never answers -> unknown, reason deadline, in about --deadline-ms).

usage: test_serve_dns.py PATH/TO/mailvet   (MAILVET_DNS_ENV set by ctest)
"""
import json
import os
import subprocess
import sys
import time

from mvserve import Checker, Server, wait_until

MAILVET = sys.argv[1]
t = Checker()
expect = t.expect


def load_env():
    env = {}
    with open(os.environ["MAILVET_DNS_ENV"]) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v.strip("'\"")
    return env


def test_network(port):
    s = Server(MAILVET, ["--resolver", "127.0.0.1:%s" % port,
                         "--rate-limit", "0"],
               env={"MAILVET_API_KEYS": "k"})
    st, _, r = s.json("/v1/check?email=a@mx.mvtest")
    expect(st == 200 and r["mx"]["host"] == "mx1.mx.mvtest" and
           "dns" in r["stages"], "network check: %r" % (r,))
    st, _, r = s.json("/v1/check", data=b'{"email": "b@mx.mvtest"}')
    expect(st == 200 and r.get("dns_cached") is True, "second is cached")
    st, _, r = s.json("/v1/check?email=a@nullmx.mvtest")
    expect(r["verdict"] == "undeliverable" and "null_mx" in r["reasons"],
           "null MX")
    # The bulk domains belong to the tests that count queries
    # (tests/dns/README.md): use named cases and names of our own.
    doms = ["u@%s.mvtest" % d for d in ("aonly", "mixedmx", "cnamemx",
                                        "manymx", "partialmx")]
    st, _, r = s.json("/v1/check/batch", "-H", "Authorization: Bearer k",
                      data=json.dumps({"emails": doms}).encode())
    expect(st == 200 and all(x["mx"] for x in r["results"]),
           "batch over DNS")
    # 40 concurrent clients at once on 2 HTTP threads: none waits on DNS.
    procs = [subprocess.Popen(["curl", "-s", s.url + "/v1/check?email=x@"
                               "sv%d-%d.mvtest" % (os.getpid(), i)],
                              stdout=subprocess.PIPE) for i in range(40)]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    expect(all("no_such_domain" in o["reasons"] for o in outs),
           "40 concurrent network checks")
    _, _, body = s.curl("/metrics")
    expect(b'mailvet_dns_queries_total{type="MX"} 0' not in body,
           "metrics count DNS queries")
    expect(s.stop() == 0, "exit 0")


def test_deadline(port):
    s = Server(MAILVET, ["--resolver", "127.0.0.1:%s" % port,
                         "--deadline-ms", "400", "--rate-limit", "0"])
    t0 = time.time()
    st, _, r = s.json("/v1/check?email=a@never.mvtest")
    took = time.time() - t0
    expect(st == 200 and r["verdict"] == "unknown" and
           "deadline" in r["reasons"], "deadline -> unknown (%r)" % (r,))
    expect(0.35 < took < 1.5, "answered at the deadline (%.2fs)" % took)
    # The HTTP threads are free meanwhile: offline answers are quick.
    t0 = time.time()
    st, _, r = s.json("/v1/check?email=bad..x@gmail.com")
    expect(st == 200 and time.time() - t0 < 0.3, "syntax answer at once")
    # SIGTERM while a check is in flight: it finishes, then exit 0.
    p = subprocess.Popen(["curl", "-s", s.url + "/v1/check?email=b@n2.mvtest"],
                         stdout=subprocess.PIPE)
    def in_flight():
        body = s.curl("/metrics")[2].decode()
        line = [x for x in body.splitlines()
                if x.startswith("mailvet_http_requests_in_flight ")]
        return line and int(line[0].split()[1]) >= 2  # it and /metrics
    expect(wait_until(in_flight, 5), "the check is in flight")
    rc = s.stop()
    out = p.communicate()[0]
    expect(rc == 0, "exit 0 with a check in flight (%r)" % rc)
    expect(b'"deadline"' in out, "the in-flight request was answered")


def main():
    env = load_env()
    test_network(env["UNBOUND_PORT"])
    test_deadline(env["BLACKHOLE_PORT"])
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
