#!/usr/bin/env python3
"""A 1,000,000-row `mailvet clean` against the loopback resolver of the
DNS fixture (tests/dns): tests/bench/gen_list --csv rows whose domains
are rewritten to the fixture's dNNNNN.bulk.mvtest (MAILVET_DNS_BULK of
them; 300 in ctest).  Checks the counts, that one lookup per domain was
made (at most 5 queries a domain: MX, then A and AAAA of two hosts),
that no row came back unknown, and that peak RSS stays bounded.  Then
the first 50,000 rows again with 1 and with 3 checker threads: the
outputs must be the same bytes (rows wait for their domains in
batches, answered in any order, and are written in input order).

usage: test_bulk_dns.py PATH/TO/mailvet PATH/TO/gen_list [ROWS]
Environment: MAILVET_DNS_ENV (set by vl_dns_test).
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

MAILVET, GEN = sys.argv[1], sys.argv[2]
ROWS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
RSS_LIMIT_MB = 400


def env_file():
    env = {}
    with open(os.environ["MAILVET_DNS_ENV"]) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    return env


def same_with_threads(d, env, src):
    """The first 50,000 rows with 1 and 3 threads: identical outputs."""
    head = os.path.join(d, "head.csv")
    with open(src, "rb") as f, open(head, "wb") as g:
        for i, line in enumerate(f):
            if i > 50000:
                break
            g.write(line)
    outs = []
    for threads in ("1", "3"):
        k, r = os.path.join(d, "k" + threads), os.path.join(d, "r" + threads)
        p = subprocess.run([MAILVET, "clean", "-q", "--threads", threads,
                            "--resolver", "127.0.0.1:" + env["UNBOUND_PORT"],
                            head, "--out", k, "--rejects", r],
                           capture_output=True)
        if p.returncode != 0:
            return ["--threads %s: exit %d" % (threads, p.returncode)]
        outs.append((open(k, "rb").read(), open(r, "rb").read()))
    return [] if outs[0] == outs[1] else ["outputs differ with 1 and 3 threads"]


def main():
    env = env_file()
    # bulk domains past 300 belong to the DNS stage's query-count test
    bulk = min(int(env.get("BULK", "300")), 300)
    at = re.compile(rb"@[^,\"\r\n]*")
    failures = []
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.csv")
        raw = subprocess.run([GEN, "--csv", str(ROWS)], check=True,
                             capture_output=True).stdout.split(b"\n")
        with open(src, "wb") as f:
            f.write(raw[0] + b"\n")
            for i, line in enumerate(raw[1:]):
                if line:
                    dom = b"@d%05d.bulk.mvtest" % (i * 7919 % bulk + 1)
                    f.write(at.sub(lambda m: dom, line, count=1) + b"\n")
        rep = os.path.join(d, "r.json")
        t = time.monotonic()
        p = subprocess.run([MAILVET, "clean", "-q", "--resolver",
                            "127.0.0.1:" + env["UNBOUND_PORT"], src,
                            "--out", os.path.join(d, "k.csv"),
                            "--rejects", os.path.join(d, "rej.csv"),
                            "--report", rep], capture_output=True)
        secs = time.monotonic() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if p.returncode != 0:
            failures.append("exit %d: %r" % (p.returncode, p.stderr[-500:]))
        else:
            r = json.load(open(rep))
            print("rows %d kept %d dropped %d dup %d queries %d domains %d "
                  "%.1f s %.0f MB" % (r["rows"], r["kept"], r["dropped"],
                                      r["duplicates"], r["dns_queries"],
                                      r["unique_domains"], secs, rss))
            if r["rows"] != ROWS or r["kept"] + r["dropped"] != ROWS:
                failures.append("row counts %r" % r)
            if r["verdicts"]["unknown"] != 0:
                failures.append("unknown rows: %r" % r["verdicts"])
            if not 0 < r["dns_queries"] <= 5 * bulk:
                failures.append("DNS queries: %d" % r["dns_queries"])
            if r["unique_domains"] > bulk:
                failures.append("domains: %d" % r["unique_domains"])
            if rss > RSS_LIMIT_MB:
                failures.append("peak RSS %.0f MB > %d" % (rss, RSS_LIMIT_MB))
        failures += same_with_threads(d, env, src)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
