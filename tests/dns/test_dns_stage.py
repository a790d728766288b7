#!/usr/bin/env python3
"""Integration tests of the DNS stage against real servers on loopback:
NSD (authoritative for mvtest.) behind Unbound (recursive), the
blackhole (never answers) and the scripted fault server, all started by
the `dns/start` ctest fixture (tests/dns/start-servers.sh), whose
addresses are in the file named by $MAILVET_DNS_ENV.

Every case runs `mailvet check --json` through the real resolver and
asserts the verdict, the reasons and the chosen MX.  Also: one MX query
per domain however many addresses share it (counted in Unbound's query
log), a timeout is never undeliverable, the deadline, and --explain.

usage: test_dns_stage.py PATH/TO/mailvet
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import importlib.util  # noqa: E402

MAILVET = sys.argv[1]
ENV = {}
with open(os.environ["MAILVET_DNS_ENV"]) as f:
    for line in f:
        if "=" in line:
            k, v = line.strip().split("=", 1)
            ENV[k] = v
UNBOUND = "127.0.0.1:%s" % ENV["UNBOUND_PORT"]
FAULT = "127.0.0.1:%s" % ENV["FAULT_PORT"]
BLACKHOLE = "127.0.0.1:%s" % ENV["BLACKHOLE_PORT"]
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


RANK = {"deliverable": 0, "risky": 1, "unknown": 2, "undeliverable": 3}


def verdict_sans_tld(o):
    """The verdict without 'unknown_tld': mvtest. is no real TLD, and
    that risky flag would hide what the DNS stage decided."""
    if "unknown_tld" not in o["reasons"]:
        return o["verdict"]
    p = subprocess.run([MAILVET, "check", "--offline", "--json",
                        o["input"].replace(".mvtest", ".com")],
                       capture_output=True, text=True)
    offline = json.loads(p.stdout)["verdict"]
    dns = {"null_mx": 3, "no_such_domain": 3, "no_mail_host": 3,
           "mx_unresolvable": 3, "mx_private_address": 1}
    worst = max([RANK[offline]] + [dns.get(r, 2 if r.startswith("dns_") or
                                            r == "deadline" else 0)
                                   for r in o["reasons"]])
    return [k for k, v in RANK.items() if v == worst][0]


def check(addrs, *opts, resolver=UNBOUND):
    """Run one mailvet over 'addrs' on stdin; return (rc, objects)."""
    args = [MAILVET, "check", "--json", "--resolver", resolver] + list(opts)
    p = subprocess.run(args + ["-"], input="\n".join(addrs) + "\n",
                       capture_output=True, text=True, timeout=120)
    if p.returncode == 2:
        print(p.stderr, file=sys.stderr)
    objs = [json.loads(l) for l in p.stdout.splitlines()]
    expect(len(objs) == len(addrs), "one object per address")
    return p.returncode, objs


def count(log_from, qtype, names):
    """Queries of 'qtype' for any of 'names' logged since 'log_from'.
    Other tests share the servers, so only our own names count."""
    spec = importlib.util.spec_from_file_location(
        "cq", os.path.join(HERE, "count-queries.py"))
    cq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cq)
    n = 0
    for _client, name, t, _cls in cq.iter_queries(ENV["UNBOUND_LOG"],
                                                  log_from):
        if t == qtype and name.lower().rstrip(".") in names:
            n += 1
    return n


# (address, verdict, reasons that must be present, chosen MX or None)
CASES = [
    ("a@mx.mvtest", "deliverable", [], "mx1.mx.mvtest"),
    ("a@nullmx.mvtest", "undeliverable", ["null_mx"], None),
    ("a@aonly.mvtest", "deliverable", ["implicit_mx"], "aonly.mvtest"),
    ("a@aaaaonly.mvtest", "deliverable", ["implicit_mx"], "aaaaonly.mvtest"),
    ("a@nomail.mvtest", "undeliverable", ["no_mail_host"], None),
    ("a@spfreject.mvtest", "undeliverable", ["no_mail_host"], None),
    ("a@nosuchdomain.mvtest", "undeliverable", ["no_such_domain"], None),
    ("a@nxhost.mvtest", "undeliverable", ["mx_unresolvable"], None),
    ("a@nodatahost.mvtest", "undeliverable", ["mx_unresolvable"], None),
    ("a@partialmx.mvtest", "deliverable", [], "mx.partialmx.mvtest"),
    ("a@privmx.mvtest", "risky", ["mx_private_address"], "mx.privmx.mvtest"),
    ("a@loopmx.mvtest", "risky", ["mx_private_address"], "mx.loopmx.mvtest"),
    ("a@linkmx.mvtest", "risky", ["mx_private_address"], "mx.linkmx.mvtest"),
    ("a@ulamx.mvtest", "risky", ["mx_private_address"], "mx.ulamx.mvtest"),
    ("a@linkmx6.mvtest", "risky", ["mx_private_address"], None),
    ("a@mixedmx.mvtest", "deliverable", [], "mx2.mixedmx.mvtest"),
    ("a@cname.mvtest", "deliverable", [], "mx1.mx.mvtest"),
    ("a@cnamemx.mvtest", "deliverable", [], "alias.cnamemx.mvtest"),
    ("a@m\u00fcnchen.mvtest", "deliverable", [], "mx.xn--mnchen-3ya.mvtest"),
    ("a@nullmxmixed.mvtest", "deliverable", [],
     "mx.nullmxmixed.mvtest"),
    ("a@slowhost.mvtest", "unknown", [], None),
]


def test_outcomes():
    addrs = [c[0] for c in CASES]
    rc, objs = check(addrs, "--dns-timeout", "400", "--dns-tries", "1",
                     "--no-spoof-check")
    expect(rc == 1, "exit 1: some undeliverable (got %d)" % rc)
    for (addr, verdict, reasons, mx), o in zip(CASES, objs):
        got_mx = o["mx"]["host"] if o.get("mx") else None
        got = verdict_sans_tld(o)
        expect(got == verdict,
               "%s: verdict %s, want %s (%r)" % (addr, got, verdict,
                                                 o["reasons"]))
        for r in reasons:
            expect(r in o["reasons"], "%s: reason %s missing: %r"
                   % (addr, r, o["reasons"]))
        if mx is not None:
            expect(got_mx == mx, "%s: mx %s, want %s" % (addr, got_mx, mx))
        expect("dns" in o["stages"], "%s: dns stage ran" % addr)
    by = {c[0]: o for c, o in zip(CASES, objs)}
    hosts = [h["host"] for h in by["a@mx.mvtest"]["mx_hosts"]]
    expect(hosts == ["mx1.mx.mvtest", "mx2.mx.mvtest", "mx3.mx.mvtest"],
           "MX list in preference order: %r" % hosts)
    prefs = [h["preference"] for h in by["a@mx.mvtest"]["mx_hosts"]]
    expect(prefs == [10, 20, 30], "preferences %r" % prefs)


def test_many_mx_sorted():
    _, (o,) = check(["a@manymx.mvtest"])
    prefs = [h["preference"] for h in o["mx_hosts"]]
    expect(len(prefs) == 12 and prefs == sorted(prefs),
           "12 MX hosts in preference order: %r" % prefs)


def test_timeouts_are_never_undeliverable():
    t0 = time.monotonic()
    rc, objs = check(["a@slow.mvtest", "b@slowhost.mvtest",
                      "c@x.slow.mvtest"],
                     "--dns-timeout", "300", "--dns-tries", "1")
    took = time.monotonic() - t0
    expect(rc == 3, "exit 3: unknown only (got %d)" % rc)
    for o in objs:
        expect(o["verdict"] == "unknown", "%s: %s %r" % (
            o["input"], o["verdict"], o["reasons"]))
        expect(any(r.startswith("dns_") for r in o["reasons"]),
               "%s: a dns_ reason: %r" % (o["input"], o["reasons"]))
    expect(took < 20, "timeouts bounded: %.1fs" % took)
    # A resolver that never answers at all
    rc, objs = check(["a@mx.mvtest"], "--dns-timeout", "200",
                     "--dns-tries", "1", resolver=BLACKHOLE)
    expect(objs[0]["verdict"] == "unknown" and
           "dns_timeout" in objs[0]["reasons"],
           "blackhole resolver: %r" % objs[0]["reasons"])


def test_deadline():
    t0 = time.monotonic()
    # Straight at the blackhole: only the deadline can answer in time.
    _, objs = check(["a@mx.mvtest"], "--dns-timeout", "5000",
                    "--deadline", "300", resolver=BLACKHOLE)
    took = time.monotonic() - t0
    expect(objs[0]["verdict"] == "unknown" and
           "deadline" in objs[0]["reasons"],
           "deadline reason: %r" % objs[0]["reasons"])
    expect(took < 3, "answered near the deadline, not the timeout: %.1fs"
           % took)


FAULT_CASES = [
    ("a@servfail.fault.mvtest", "dns_servfail"),
    ("a@refused.fault.mvtest", "dns_refused"),
    ("a@wrongid.fault.mvtest", "dns_timeout"),
    ("a@garbage.fault.mvtest", "dns_timeout"),
    ("a@badcount.fault.mvtest", "dns_malformed"),
    ("a@truncfail.fault.mvtest", None),
    ("a@late.fault.mvtest", "dns_timeout"),
]


def test_fault_server():
    # One process per case: c-ares fails every query pending on a server
    # whose TCP connection broke (truncfail), which would blur the rest.
    objs = []
    for addr, _ in FAULT_CASES:
        objs += check([addr], "--dns-timeout", "500", "--dns-tries", "1",
                      resolver=FAULT)[1]
    for (addr, reason), o in zip(FAULT_CASES, objs):
        expect(o["verdict"] == "unknown",
               "%s: %s %r (a fault is never a verdict)" % (
                   addr, o["verdict"], o["reasons"]))
        if reason:
            expect(reason in o["reasons"], "%s: want %s, got %r" % (
                addr, reason, o["reasons"]))
    # Truncated over UDP, whole over TCP: c-ares retries on TCP.
    _, objs = check(["a@trunc.fault.mvtest", "b@ok.fault.mvtest",
                     "c@nxdomain.fault.mvtest"], resolver=FAULT)
    expect(objs[0]["mx"] and objs[0]["mx"]["host"] == "mx.trunc.fault.mvtest",
           "TC=1 answer retried over TCP: %r" % objs[0])
    expect(objs[1]["mx"] and objs[1]["mx"]["host"] == "mx.ok.fault.mvtest",
           "ok: %r" % objs[1])
    expect("no_such_domain" in objs[2]["reasons"],
           "NXDOMAIN from the fault server: %r" % objs[2]["reasons"])


def test_one_query_per_domain():
    mark = os.path.getsize(ENV["UNBOUND_LOG"])
    # d00301..d00400: no other test sends these to Unbound (selftest
    # asks for the first and last (401st) bulk domain, test_resolver for
    # 1-40, the clean and serve tests stay within 1-300)
    domains = {"d%05d.bulk.mvtest" % (301 + i) for i in range(100)}
    addrs = ["user%d@d%05d.bulk.mvtest" % (i, i % 100 + 301)
             for i in range(10000)]
    rc, objs = check(addrs)
    expect(rc == 0, "bulk run exit 0 (got %d)" % rc)
    bad = [o for o in objs if o["reasons"] != ["unknown_tld"] or
           o["mx"]["host"] != "mx1." + o["domain_ascii"]]
    expect(not bad, "bulk: all deliverable, %d not: %r" % (
        len(bad), bad[:1]))
    time.sleep(0.5)  # let Unbound flush its log
    n = count(mark, "MX", domains)
    expect(n == 100, "exactly 100 MX queries for 100 domains, got %d" % n)
    expect(not objs[0]["dns_cached"], "the first lookup is not cached")


def test_explain():
    p = subprocess.run([MAILVET, "check", "--explain", "--resolver",
                        UNBOUND, "a@mx.mvtest"], capture_output=True,
                       text=True)
    expect("MX    mx.mvtest" in p.stdout and "NOERROR" in p.stdout and
           "mx1.mx.mvtest" in p.stdout, "human --explain: %r" % p.stdout)
    _, (o,) = check(["a@nxhost.mvtest"], "--explain")
    kinds = [(q["name"], q["type"], q["outcome"]) for q in o["dns"]]
    expect(("nxhost.mvtest", "MX", "NOERROR") in kinds and
           ("nonexistent.nxhost.mvtest", "A", "NXDOMAIN") in kinds,
           "JSON --explain evidence: %r" % kinds)
    expect(all("ttl" in q for q in o["dns"]), "TTLs in the evidence")


for name, fn in list(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
