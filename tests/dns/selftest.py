#!/usr/bin/env python3
"""selftest.py: check the DNS test servers answer what README.md says.

    selftest.py [ENV_FILE]       (default: $MAILVET_DNS_ENV)

Needs the servers of start-servers.sh (the ctest fixture `dns`).  Checks
every named case of the zone through Unbound, a few straight at NSD, the
negative TTL, the bulk domains, the query log count, slow.mvtest's
SERVFAIL and its timing, the blackhole, and every faultdns mode over UDP
and TCP.  Prints one line per check and a closing "N passed, N failed".
Standard library only.
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dnswire as W  # noqa: E402
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "count_queries", os.path.join(HERE, "count-queries.py"))
count_queries = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(count_queries)

PASSED = 0
FAILED = 0


def check(cond, what, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok    %s" % what)
    else:
        FAILED += 1
        print("FAIL  %s%s" % (what, (": " + detail) if detail else ""))
    return cond


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


# --------------------------------------------------------------------------
# raw exchanges (no retries, no ID filtering: the fault checks need both)

def udp_exchange(port, msg, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, ("127.0.0.1", port))
        try:
            buf, _ = s.recvfrom(65535)
            return buf
        except socket.timeout:
            return None
    finally:
        s.close()


def tcp_exchange(port, msg, timeout):
    """Returns bytes (the message), b"" when the server closed without an
    answer, None on timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        buf = b""
        need = 2
        while len(buf) < need:
            try:
                chunk = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return b""
            if not chunk:
                return b""
            buf += chunk
            if len(buf) >= 2:
                need = 2 + struct.unpack("!H", buf[:2])[0]
        return buf[2:need]
    finally:
        s.close()


def query(port, name, qtype, tcp=False, timeout=5.0, rd=True):
    qid = random.randrange(65536)
    msg = W.build_query(qid, name, qtype, rd=rd)
    t0 = time.monotonic()
    buf = (tcp_exchange if tcp else udp_exchange)(port, msg, timeout)
    elapsed = time.monotonic() - t0
    return qid, buf, elapsed


def resolve(port, name, qtype, **kw):
    """Parsed reply (dict) or None on timeout/garbage."""
    qid, buf, elapsed = query(port, name, qtype, **kw)
    if not buf:
        return None
    try:
        m = W.parse_message(buf)
    except W.DNSParseError:
        return None
    m["elapsed"] = elapsed
    return m


def rdata_set(m, qtype):
    return {r["data"] for r in m["answer"] if r["type"] == qtype}


# --------------------------------------------------------------------------

# (name, type, rcode, expected answer data of that type)
UNBOUND_CASES = [
    ("mx.mvtest", "MX", "NOERROR",
     {"10 mx1.mx.mvtest.", "20 mx2.mx.mvtest.", "30 mx3.mx.mvtest."}),
    ("mx1.mx.mvtest", "A", "NOERROR", {"198.51.99.1"}),
    ("mx2.mx.mvtest", "A", "NOERROR", set()),
    ("mx2.mx.mvtest", "AAAA", "NOERROR", {"2a00:5a5a::2"}),
    ("mx3.mx.mvtest", "A", "NOERROR", {"198.51.99.3"}),
    ("nullmx.mvtest", "MX", "NOERROR", {"0 ."}),
    ("aonly.mvtest", "MX", "NOERROR", set()),
    ("aonly.mvtest", "A", "NOERROR", {"198.51.99.10"}),
    ("aonly.mvtest", "AAAA", "NOERROR", set()),
    ("aaaaonly.mvtest", "MX", "NOERROR", set()),
    ("aaaaonly.mvtest", "A", "NOERROR", set()),
    ("aaaaonly.mvtest", "AAAA", "NOERROR", {"2a00:5a5a::10"}),
    ("nomail.mvtest", "MX", "NOERROR", set()),
    ("nomail.mvtest", "A", "NOERROR", set()),
    ("nomail.mvtest", "AAAA", "NOERROR", set()),
    ("spfreject.mvtest", "MX", "NOERROR", set()),
    ("spfreject.mvtest", "A", "NOERROR", {"198.51.99.11"}),
    ("spfreject.mvtest", "TXT", "NOERROR", {'"v=spf1 -all"'}),
    ("nxhost.mvtest", "MX", "NOERROR", {"10 nonexistent.nxhost.mvtest."}),
    ("nonexistent.nxhost.mvtest", "A", "NXDOMAIN", set()),
    ("nonexistent.nxhost.mvtest", "AAAA", "NXDOMAIN", set()),
    ("nodatahost.mvtest", "MX", "NOERROR", {"10 host.nodatahost.mvtest."}),
    ("host.nodatahost.mvtest", "A", "NOERROR", set()),
    ("host.nodatahost.mvtest", "AAAA", "NOERROR", set()),
    ("privmx.mvtest", "MX", "NOERROR", {"10 mx.privmx.mvtest."}),
    ("mx.privmx.mvtest", "A", "NOERROR", {"10.1.2.3", "192.168.1.1"}),
    ("loopmx.mvtest", "MX", "NOERROR", {"10 mx.loopmx.mvtest."}),
    ("mx.loopmx.mvtest", "A", "NOERROR", {"127.0.0.1"}),
    ("mx.loopmx.mvtest", "AAAA", "NOERROR", {"::1"}),
    ("linkmx.mvtest", "MX", "NOERROR", {"10 mx.linkmx.mvtest."}),
    ("mx.linkmx.mvtest", "A", "NOERROR", {"169.254.1.1"}),
    ("mixedmx.mvtest", "MX", "NOERROR",
     {"10 mx1.mixedmx.mvtest.", "20 mx2.mixedmx.mvtest."}),
    ("mx1.mixedmx.mvtest", "A", "NOERROR", {"10.0.0.1"}),
    ("mx2.mixedmx.mvtest", "A", "NOERROR", {"198.51.99.20"}),
    ("cname.mvtest", "MX", "NOERROR",
     {"10 mx1.mx.mvtest.", "20 mx2.mx.mvtest.", "30 mx3.mx.mvtest."}),
    ("cname.mvtest", "CNAME", "NOERROR", {"cname2.mvtest."}),
    ("cnamemx.mvtest", "MX", "NOERROR", {"10 alias.cnamemx.mvtest."}),
    ("alias.cnamemx.mvtest", "A", "NOERROR", {"198.51.99.1"}),
    ("xn--mnchen-3ya.mvtest", "MX", "NOERROR",
     {"10 mx.xn--mnchen-3ya.mvtest."}),
    ("mx.xn--mnchen-3ya.mvtest", "A", "NOERROR", {"198.51.99.30"}),
    ("lowttl.mvtest", "MX", "NOERROR", {"10 mx.lowttl.mvtest."}),
    ("mx.lowttl.mvtest", "A", "NOERROR", {"198.51.99.40"}),
    ("hittl.mvtest", "MX", "NOERROR", {"10 mx.hittl.mvtest."}),
    ("mx.hittl.mvtest", "A", "NOERROR", {"198.51.99.41"}),
    ("partialmx.mvtest", "MX", "NOERROR",
     {"10 nonexistent.partialmx.mvtest.", "20 mx.partialmx.mvtest."}),
    ("nonexistent.partialmx.mvtest", "A", "NXDOMAIN", set()),
    ("mx.partialmx.mvtest", "A", "NOERROR", {"198.51.99.50"}),
    ("slowhost.mvtest", "MX", "NOERROR", {"10 mx.slow.mvtest."}),
    ("nullmxmixed.mvtest", "MX", "NOERROR",
     {"0 .", "10 mx.nullmxmixed.mvtest."}),
    ("cnameloop.mvtest", "A", "SERVFAIL", set()),
    ("cnamenx.mvtest", "A", "NXDOMAIN", set()),
    ("mx.ulamx.mvtest", "AAAA", "NOERROR", {"fd12:3456:789a::1"}),
    ("mx.linkmx6.mvtest", "AAAA", "NOERROR", {"fe80::1"}),
    ("nonexistent.mvtest", "MX", "NXDOMAIN", set()),
    ("gmail.com", "MX", "REFUSED", set()),
]

MANYMX = {"%d mx%02d.manymx.mvtest." % (p, i + 1) for i, p in
          enumerate([10, 10, 20, 20, 20, 30, 40, 40, 50, 60, 70, 80])}


def check_unbound(ub):
    for name, qtype, rcode, data in UNBOUND_CASES:
        m = resolve(ub, name, qtype)
        what = "unbound %s %s -> %s %s" % (name, qtype, rcode,
                                           sorted(data) or "(no data)")
        if m is None:
            check(False, what, "no parsable reply")
            continue
        got = rdata_set(m, qtype)
        check(W.rcode_name(m["rcode"]) == rcode and got == data, what,
              "got %s %s" % (W.rcode_name(m["rcode"]), sorted(got)))

    m = resolve(ub, "manymx.mvtest", "MX")
    check(m is not None and rdata_set(m, "MX") == MANYMX,
          "unbound manymx.mvtest MX -> 12 records, best 10 (mx01, mx02)")

    m = resolve(ub, "cname.mvtest", "MX")
    chain = [(r["name"], r["type"], r["data"]) for r in m["answer"]
             if r["type"] == "CNAME"] if m else []
    check(chain == [("cname.mvtest.", "CNAME", "cname2.mvtest."),
                    ("cname2.mvtest.", "CNAME", "mx.mvtest.")],
          "unbound cname.mvtest MX: chain cname -> cname2 -> mx.mvtest",
          repr(chain))
    m = resolve(ub, "alias.cnamemx.mvtest", "A")
    check(m is not None and any(r["type"] == "CNAME" and
                                r["data"] == "mx1.mx.mvtest."
                                for r in m["answer"]),
          "unbound alias.cnamemx.mvtest A: via CNAME mx1.mx.mvtest.")

    m = resolve(ub, "lowttl.mvtest", "MX")
    check(m is not None and all(r["ttl"] <= 1 for r in m["answer"]),
          "unbound lowttl.mvtest MX: TTL <= 1")
    m = resolve(ub, "hittl.mvtest", "MX")
    check(m is not None and all(86000 <= r["ttl"] <= 86400
                                for r in m["answer"]),
          "unbound hittl.mvtest MX: TTL ~ 86400")
    m = resolve(ub, "nomail.mvtest", "MX")
    soa = [r for r in m["authority"] if r["type"] == "SOA"] if m else []
    check(len(soa) == 1 and soa[0]["ttl"] <= 60,
          "unbound nomail.mvtest MX: NODATA with SOA, negative TTL <= 60",
          repr(soa))


def check_nsd(nsd):
    m = resolve(nsd, "mvtest", "SOA", rd=False)
    check(m is not None and m["aa"] and
          rdata_set(m, "SOA") == {"ns.mvtest. hostmaster.mvtest. "
                                  "2024010101 3600 900 604800 60"},
          "nsd mvtest. SOA: authoritative, minimum 60")
    for name, qtype, rcode in (("nomail.mvtest", "MX", "NOERROR"),
                               ("nonexistent.nxhost.mvtest", "A", "NXDOMAIN")):
        m = resolve(nsd, name, qtype, rd=False)
        soa = [r for r in m["authority"] if r["type"] == "SOA"] if m else []
        check(m is not None and m["aa"] and
              W.rcode_name(m["rcode"]) == rcode and not m["answer"] and
              len(soa) == 1 and soa[0]["ttl"] == 60,
              "nsd %s %s -> %s, SOA TTL 60 (negative TTL)"
              % (name, qtype, rcode))
    m = resolve(nsd, "x.slow.mvtest", "A", rd=False)
    check(m is not None and not m["aa"] and any(
        r["type"] == "NS" for r in m["authority"]),
        "nsd x.slow.mvtest A -> referral to slow.mvtest.")


def check_bulk(env, ub):
    bulk = int(env.get("BULK", "0"))
    if bulk < 1:
        print("skip  bulk domains: BULK=0")
        return
    for i in sorted({1, bulk}):
        d = "d%05d.bulk.mvtest" % i
        m = resolve(ub, d, "MX")
        check(m is not None and rdata_set(m, "MX") ==
              {"10 mx1.%s." % d, "20 mx2.%s." % d},
              "unbound %s MX -> 10 mx1, 20 mx2" % d)
        m = resolve(ub, "mx1." + d, "A")
        check(m is not None and len(rdata_set(m, "A")) == 1,
              "unbound mx1.%s A -> one address" % d)
    m = resolve(ub, "d%05d.bulk.mvtest" % (bulk + 1), "MX")
    check(m is not None and W.rcode_name(m["rcode"]) == "NXDOMAIN",
          "unbound d%05d.bulk.mvtest MX -> NXDOMAIN (past --bulk)" % (bulk + 1))


def check_log_count(env, ub):
    log = env["UNBOUND_LOG"]
    mark = os.path.getsize(log)
    # Names unique to this run (other tests may query the bulk domains at
    # the same time): they do not exist, which does not matter here.
    tag = "st%dx%d" % (os.getpid(), random.randrange(1000000))
    names = ["%s-%03d.bulk.mvtest." % (tag, i) for i in range(100)]
    for n in names:
        resolve(ub, n, "MX")
    for n in names[:10]:
        resolve(ub, n, "A")
    time.sleep(0.2)
    per = count_queries.count(log, mark, "MX", names=names)
    check(sum(per.values()) == 100 and len(per) == 100,
          "unbound log: 100 MX queries for 100 names counted as 100",
          "counted %d" % sum(per.values()))
    per = count_queries.count(log, mark, "A", names=names)
    check(sum(per.values()) == 10, "unbound log: 10 A queries counted as 10",
          "counted %d" % sum(per.values()))


def check_slow(env, ub):
    # A fresh name, so that no cached SERVFAIL answers it at once.
    name = "st%d.slow.mvtest" % random.randrange(10 ** 9)
    # Make Unbound forget that the blackhole is dead, for the full wait.
    ctl = shutil.which("unbound-control") or "/usr/sbin/unbound-control"
    try:
        subprocess.run([ctl, "-c", env["UNBOUND_CONF"], "flush_infra", "all"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        time.sleep(1.2)  # infra-host-ttl is 1 s
    m = resolve(ub, name, "MX", timeout=20)
    ok = m is not None and W.rcode_name(m["rcode"]) == "SERVFAIL"
    check(ok and m["elapsed"] <= 8.0,
          "unbound %s MX -> SERVFAIL within 8 s" % name,
          "reply %s after %s s" % (
              W.rcode_name(m["rcode"]) if m else None,
              "%.2f" % m["elapsed"] if m else ">20"))
    if ok:
        print("      (took %.2f s)" % m["elapsed"])
    _, buf, el = query(int(env["BLACKHOLE_PORT"]), "x.slow.mvtest", "MX",
                       timeout=1.0)
    check(buf is None, "blackhole: no UDP answer within 1 s")
    _, buf, el = query(int(env["BLACKHOLE_PORT"]), "x.slow.mvtest", "MX",
                       tcp=True, timeout=1.0)
    check(buf is None, "blackhole: no TCP answer within 1 s (connection open)")


def check_fault(env):
    fp = int(env["FAULT_PORT"])

    def mode(label, qtype="MX", tcp=False, timeout=2.0):
        return query(fp, label + ".fault.test", qtype, tcp=tcp,
                     timeout=timeout)

    def parsed(buf):
        try:
            return W.parse_message(buf)
        except W.DNSParseError:
            return None

    for tcp in (False, True):
        tr = "tcp" if tcp else "udp"
        qid, buf, _ = mode("ok", tcp=tcp)
        m = parsed(buf) if buf else None
        check(m is not None and m["id"] == qid and
              rdata_set(m, "MX") == {"10 mx.ok.fault.test."},
              "fault ok MX (%s) -> MX 10 mx.ok.fault.test." % tr)
        for rc in ("servfail", "refused", "formerr", "notimp"):
            qid, buf, _ = mode(rc, tcp=tcp)
            m = parsed(buf) if buf else None
            check(m is not None and m["id"] == qid and
                  W.rcode_name(m["rcode"]) == rc.upper(),
                  "fault %s (%s) -> %s" % (rc, tr, rc.upper()))
        qid, buf, _ = mode("nxdomain", tcp=tcp)
        m = parsed(buf) if buf else None
        check(m is not None and W.rcode_name(m["rcode"]) == "NXDOMAIN" and
              [r["type"] for r in m["authority"]] == ["SOA"],
              "fault nxdomain (%s) -> NXDOMAIN + SOA" % tr)
        qid, buf, _ = mode("wrongid", tcp=tcp)
        m = parsed(buf) if buf else None
        check(m is not None and m["id"] != qid,
              "fault wrongid (%s) -> reply with another ID" % tr)
        qid, buf, _ = mode("garbage", tcp=tcp)
        check(buf is not None and len(buf) == 7,
              "fault garbage (%s) -> 7 bytes" % tr)
        qid, buf, _ = mode("badcount", tcp=tcp)
        ok = buf is not None and len(buf) >= 12
        if ok:
            h = W.parse_header(buf)
            ok = h["id"] == qid and h["ancount"] == 5 and parsed(buf) is None
        check(ok, "fault badcount (%s) -> ANCOUNT 5, no records" % tr)
        qid, buf, el = mode("late", tcp=tcp, timeout=10.0)
        m = parsed(buf) if buf else None
        check(m is not None and m["id"] == qid and 2.8 <= el <= 8.0 and
              rdata_set(m, "MX") == {"10 mx.late.fault.test."},
              "fault late (%s) -> the answer after ~3 s" % tr,
              "after %.2f s" % el)
        qid, buf, _ = mode("drop", tcp=tcp, timeout=1.0)
        check(buf is None, "fault drop (%s) -> no answer" % tr)

    qid, buf, _ = mode("trunc")
    m = parsed(buf) if buf else None
    check(m is not None and m["tc"] and not m["answer"],
          "fault trunc (udp) -> TC=1, no records")
    qid, buf, _ = mode("trunc", tcp=True)
    m = parsed(buf) if buf else None
    check(m is not None and not m["tc"] and
          rdata_set(m, "MX") == {"10 mx.trunc.fault.test."},
          "fault trunc (tcp) -> MX 10 mx.trunc.fault.test.")
    qid, buf, _ = query(fp, "mx.trunc.fault.test", "A", tcp=True)
    m = parsed(buf) if buf else None
    check(m is not None and rdata_set(m, "A") == {"198.51.99.99"},
          "fault mx.trunc A (tcp) -> 198.51.99.99")
    qid, buf, _ = mode("truncfail")
    m = parsed(buf) if buf else None
    check(m is not None and m["tc"] and not m["answer"],
          "fault truncfail (udp) -> TC=1")
    qid, buf, _ = mode("truncfail", tcp=True)
    check(buf == b"", "fault truncfail (tcp) -> closed without answer")
    qid, buf, _ = query(fp, "mx.ok.fault.test", "A")
    m = parsed(buf) if buf else None
    check(m is not None and rdata_set(m, "A") == {"198.51.99.99"},
          "fault mx.ok.fault.test A -> 198.51.99.99")
    qid, buf, _ = query(fp, "mx.ok.fault.test", "AAAA")
    m = parsed(buf) if buf else None
    check(m is not None and W.rcode_name(m["rcode"]) == "NOERROR" and
          not m["answer"], "fault mx.ok.fault.test AAAA -> NODATA")
    qid, buf, _ = query(fp, "whatever.fault.test", "MX")
    m = parsed(buf) if buf else None
    check(m is not None and W.rcode_name(m["rcode"]) == "REFUSED",
          "fault (no mode label) -> REFUSED")
    # garbage in, server still answers
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for pkt in (b"", b"\x01", os.urandom(12), os.urandom(300),
                b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"):
        s.sendto(pkt, ("127.0.0.1", fp))
    s.close()
    qid, buf, _ = mode("ok")
    check(buf is not None, "fault server survives garbage input")


def main(argv):
    path = argv[0] if argv else os.environ.get("MAILVET_DNS_ENV")
    if not path:
        print("usage: selftest.py ENV_FILE (or set MAILVET_DNS_ENV)")
        return 2
    env = read_env(path)
    ub, nsd = int(env["UNBOUND_PORT"]), int(env["NSD_PORT"])
    check_unbound(ub)
    check_nsd(nsd)
    check_bulk(env, ub)
    check_log_count(env, ub)
    check_fault(env)
    check_slow(env, ub)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
