#!/usr/bin/env python3
"""selftest.py: check the SMTP test servers do what README.md says.

    selftest.py [SMTP_ENV [DNS_ENV]]   (default: $MAILVET_SMTP_ENV,
                                         $MAILVET_DNS_ENV)

Needs the servers of tests/smtp/start-servers.sh and of
tests/dns/start-servers.sh (the ctest fixtures `smtp` and `dns`).
Checks every record of the SMTP names through Unbound, every Postfix
listener (users, 550 5.1.1, 452/552, catch-all, greylisting before and
after the delay, the two kinds of 421, the EHLO keywords, STARTTLS, the
default error limits of `strict`, the log lines the benchmark counts),
how Postfix runs (as user postfix, its own queue, no outbound transport),
and every fault scenario, the dead addresses and the fault server's log.
Slow checks run in parallel threads; each group prints when done, then
"N passed, N failed".  About 12 s, most of it `strict`'s error sleeps.
Standard library only.
"""

import os
import pwd
import random
import re
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "dns"))
import dnsq  # noqa: E402
import dnswire as W  # noqa: E402
import smtphosts as H  # noqa: E402
import smtpnet  # noqa: E402
from smtpclient import (Checks, Client, fixture_envs,  # noqa: E402
                        fresh_sender, log_mark, log_since, timed)

SMTP, DNS = {}, {}
PORT = 0
HELO = "selftest-%d.mailvet.test" % os.getpid()


def ip(name):
    return SMTP["SMTP_IP_" + name.upper()]


def dom(name):
    return H.postfix_domain(name)


def connect(name, **kw):
    return Client(ip(name), PORT, **kw)


def reply_has(reply, code, enhanced=None, text=None):
    c, lines = reply
    if c != code or not lines:
        return False
    last = lines[-1]
    if enhanced and last[4:4 + len(enhanced) + 1] != enhanced + " ":
        return False
    return text is None or text in " ".join(lines)


def show(reply):
    c, lines = reply
    return "%r %s" % (c, " | ".join(l[:120] for l in lines[:3]))


def wait_for_lines(path, mark, pred, want, timeout=3.0):
    """Lines since MARK matching PRED, once there are WANT (or after
    TIMEOUT: the logs are written asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [l for l in log_since(path, mark) if pred(l)]
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


# --------------------------------------------------------------- DNS
def g_zone(check):
    ub = int(DNS["UNBOUND_PORT"])
    want = {}
    for owner, _, rtype, rdata in H.zone_records():
        want.setdefault((owner + ".mvtest", rtype), set()).add(rdata)
    for (name, rtype), data in want.items():
        qid = random.randrange(65536)
        buf = dnsq.query_udp("127.0.0.1", ub, W.build_query(qid, name, rtype),
                             qid, 3.0, [])
        m = W.parse_message(buf) if buf else None
        got = {r["data"] for r in m["answer"] if r["type"] == rtype} if m else None
        check(got == data, "unbound %s %s -> %s" % (name, rtype, sorted(data)),
              "got %s" % (sorted(got) if got is not None else "no reply"))


# --------------------------------------------------------------- Postfix
def rcpt_checks(check, c, name, cases):
    """cases: (local part, code, enhanced)."""
    for local, code, enh in cases:
        r = c.cmd("RCPT TO:<%s@%s>" % (local, dom(name)))
        check(reply_has(r, code, enh), "%s: RCPT %s -> %d %s"
              % (name, local, code, enh or ""), show(r))


def g_ok(check):
    with connect("ok") as c:
        r = c.reply()
        check(reply_has(r, 220, text="mx.ok.smtp.mvtest"),
              "ok: banner 220 mx.ok.smtp.mvtest", show(r))
        ext = c.ehlo(HELO) or set()
        for kw in ("PIPELINING", "SMTPUTF8", "STARTTLS", "ENHANCEDSTATUSCODES"):
            check(kw in ext, "ok: EHLO advertises " + kw, repr(sorted(ext)))
        check(reply_has(c.cmd("MAIL FROM:<>"), 250), "ok: MAIL FROM:<> -> 250")
        rcpt_checks(check, c, "ok", [
            ("alice", 250, "2.1.5"), ("bob", 250, "2.1.5"),
            ("carol", 250, "2.1.5"), ("nobody", 550, "5.1.1"),
            ("Alice", 250, "2.1.5"),
            ("full", 452, "4.2.2"), ("fullperm", 552, "5.2.2")])
        r = c.cmd("RCPT TO:<someone@example.com>")
        check(reply_has(r, 554, "5.7.1", "Relay access denied"),
              "ok: RCPT to a foreign domain -> 554 5.7.1 relay denied", show(r))
        check(reply_has(c.cmd("RSET"), 250), "ok: RSET -> 250")
        r = c.cmd("MAIL FROM:<> SMTPUTF8")
        check(reply_has(r, 250), "ok: MAIL FROM:<> SMTPUTF8 -> 250", show(r))
        rcpt_checks(check, c, "ok", [("jörg", 250, "2.1.5"),
                                     ("jürgen", 550, "5.1.1")])
        c.cmd("RSET")
        # PIPELINING: three commands in one write, three replies in order.
        c.sock.sendall(("MAIL FROM:<>\r\nRCPT TO:<bob@{0}>\r\n"
                        "RCPT TO:<nobody@{0}>\r\n").format(dom("ok")).encode())
        codes = [c.reply()[0] for _ in range(3)]
        check(codes == [250, 250, 550], "ok: pipelined MAIL+2 RCPT -> "
              "250, 250, 550", repr(codes))
        c.cmd("RSET")
        # Transactions that never deliver must not run into Postfix's
        # in-flow control (1 s at the first accepted RCPT): see
        # in_flow_delay in gen-postfix.py.
        slowest = 0.0
        for _ in range(12):
            c.cmd("MAIL FROM:<>")
            slowest = max(slowest, timed(c.cmd, "RCPT TO:<alice@%s>"
                                         % dom("ok"))[1])
            c.cmd("RSET")
        check(slowest < 0.9, "ok: 12 transactions, no flow-control pause",
              "slowest first RCPT %.2f s" % slowest)
        check(reply_has(c.cmd("QUIT"), 221), "ok: QUIT -> 221")
    with connect("ok") as c:
        c.reply()
        c.ehlo(HELO)
        try:
            ver = c.starttls()
            ext = c.ehlo(HELO) or set()
            check("STARTTLS" not in ext and "PIPELINING" in ext,
                  "ok: STARTTLS -> TLS (%s), EHLO again" % ver, repr(ext))
            c.cmd("MAIL FROM:<>")
            rcpt_checks(check, c, "ok", [("alice", 250, "2.1.5"),
                                         ("nobody", 550, "5.1.1")])
        except (ssl.SSLError, OSError) as e:
            check(False, "ok: STARTTLS handshake", repr(e))


def g_postfix_others(check):
    with connect("catchall") as c:
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<>")
        rcpt_checks(check, c, "catchall", [
            ("x%08x" % random.getrandbits(32), 250, "2.1.5"),
            ("postmaster", 250, "2.1.5")])

    with connect("busy") as c:
        r = c.reply()
        check(reply_has(r, 421, "4.3.2"),
              "busy: 421 4.3.2 instead of the banner", show(r))
        try:
            c.send("EHLO " + HELO)
            eof = c.line() is None
        except OSError:
            eof = True
        check(eof, "busy: then the connection is closed")

    with connect("noutf8") as c:
        r = c.reply()
        check(reply_has(r, 220, text="mx.noutf8.smtp.mvtest"),
              "noutf8: banner 220", show(r))
        ext = c.ehlo(HELO) or set()
        check("PIPELINING" in ext and "SMTPUTF8" not in ext and
              "STARTTLS" not in ext,
              "noutf8: EHLO without SMTPUTF8 and STARTTLS", repr(sorted(ext)))
        c.cmd("MAIL FROM:<>")
        rcpt_checks(check, c, "noutf8", [("alice", 250, "2.1.5"),
                                         ("nobody", 550, "5.1.1")])
        # Not advertised, but Postfix does not check: the prober has to
        # decide from the EHLO reply alone.
        rcpt_checks(check, c, "noutf8", [("jörg", 250, "2.1.5")])

    check(smtpnet_refused(SMTP["SMTP_IP_MULTIMX_DEAD"]),
          "multimx: MX 10 (%s) refuses connections" % SMTP["SMTP_IP_MULTIMX_DEAD"])
    with connect("multimx") as c:
        r = c.reply()
        check(reply_has(r, 220, text="mx2.multimx.smtp.mvtest"),
              "multimx: MX 20 banner 220 mx2.multimx.smtp.mvtest", show(r))
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<>")
        rcpt_checks(check, c, "multimx", [("alice", 250, "2.1.5"),
                                          ("nobody", 550, "5.1.1")])


def g_bench(check):
    log = SMTP["POSTFIX_LOG"]
    mark = log_mark(log)
    names = [n for n, _, _ in H.POSTFIX if n.startswith("bench")]
    for name in names:
        with connect(name) as c:
            r = c.reply()
            ok = reply_has(r, 220, text="mx.%s.smtp.mvtest" % name)
            c.ehlo(HELO)
            c.cmd("MAIL FROM:<>")
            got = [c.cmd("RCPT TO:<%s@%s>" % (u, dom(name)))[0]
                   for u in ("u0000", "u0001", "u0498", "u0499", "u0500")]
            c.cmd("QUIT")
        check(ok and got == [250, 550, 250, 550, 550],
              "%s: u0000 250, u0001 550, u0498 250, u0499 550, u0500 550"
              % name, "%s %r" % (show(r), got))
    pat = re.compile(r" postfix/(bench\d\d)/smtpd\[\d+\]: connect from ")
    lines = wait_for_lines(log, mark, pat.search, len(names))
    per = {}
    for l in lines:
        n = pat.search(l).group(1)
        per[n] = per.get(n, 0) + 1
    check(per == {n: 1 for n in names},
          "postfix log: one 'postfix/benchNN/smtpd[...]: connect from' line "
          "per bench connection", repr(per))


def g_postfix_process(check):
    pid = int(open(SMTP["POSTFIX_PIDFILE"]).read().split()[0])
    check(os.path.realpath("/proc/%d/cwd" % pid) ==
          os.path.realpath(SMTP["POSTFIX_QUEUE_DIR"]),
          "postfix: master works in the fixture's queue, not /var/spool/postfix")
    check(status_field(pid, "Uid") == "0", "postfix: master runs as root")
    # A daemon master has just forked is root until it drops privileges:
    # look again when one is.
    for _ in range(20):
        users = daemon_users(pid)
        if users == {"postfix"}:
            break
        time.sleep(0.1)
    check(users == {"postfix"}, "postfix: its daemons run as user postfix",
          repr(users))
    conf = open(os.path.join(SMTP["POSTFIX_CONF_DIR"], "main.cf")).read()
    for key in ("default_transport", "relay_transport", "local_transport"):
        check(re.search(r"^%s = error:" % key, conf, re.M),
              "postfix: %s = error:..." % key)
    check(re.search(r"^smtp_dns_support_level = disabled", conf, re.M),
          "postfix: smtp_dns_support_level = disabled")
    master = open(os.path.join(SMTP["POSTFIX_CONF_DIR"], "master.cf")).read()
    agents = re.findall(r"^\S+\s+unix\s.*\s(smtp|lmtp|local|virtual|pipe)\s*$",
                        master, re.M)
    check(not agents, "postfix: no delivery agents in master.cf", repr(agents))


def daemon_users(master):
    kids = [int(p) for p in os.listdir("/proc")
            if p.isdigit() and ppid(int(p)) == master]
    uids = [status_field(k, "Uid") for k in kids]
    return {pwd.getpwuid(int(u)).pw_name for u in uids if u}


def status_field(pid, key):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return line.split()[1]
    except OSError:
        pass
    return None


def ppid(pid):
    try:
        return int(open("/proc/%d/stat" % pid).read().rpartition(")")[2]
                   .split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def g_greylist(check):
    delay = int(SMTP["GREYLIST_DELAY"])
    sender = fresh_sender("selftest")
    with connect("greylist") as c:
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<%s>" % sender)
        t0 = time.monotonic()
        for local in ("alice", "nobody"):
            r = c.cmd("RCPT TO:<%s@%s>" % (local, dom("greylist")))
            m = re.search(r"retry in (\d+) seconds", " ".join(r[1]))
            check(reply_has(r, 450, "4.2.0", "Greylisted") and m and
                  0 < int(m.group(1)) <= delay,
                  "greylist: first RCPT %s -> 450 4.2.0 Greylisted, retry in "
                  "N <= %d seconds" % (local, delay), show(r))
        t1 = time.monotonic()  # the last triplet was seen by now
        c.cmd("QUIT")
    with connect("greylist") as c:     # too early: still greylisted
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<%s>" % sender)
        r = c.cmd("RCPT TO:<alice@%s>" % dom("greylist"))
        early = time.monotonic() - t0 < delay - 0.5
        check(not early or reply_has(r, 450, "4.2.0"),
              "greylist: a retry before the delay -> 450 again", show(r))
        c.cmd("QUIT")
    # postgrey counts whole seconds from each triplet's first sight: wait
    # out the delay from the last one, plus a second for the rounding
    time.sleep(max(0.0, t1 + delay + 1.1 - time.monotonic()))
    with connect("greylist") as c:
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<%s>" % sender)
        rcpt_checks(check, c, "greylist", [("alice", 250, "2.1.5"),
                                           ("nobody", 550, "5.1.1")])
        c.cmd("QUIT")
    check(any("action=greylist" in l
              for l in open(SMTP["POSTGREY_LOG"], errors="replace")),
          "postgrey log: action=greylist lines")


def g_ratelimit(check):
    # A source address of our own: anvil counts per client address, so
    # no other test's connections count against ours, nor ours against
    # theirs.
    src = "127.78.%d.%d" % (random.randrange(256), random.randrange(1, 255))
    got = []
    for _ in range(H.RATE_LIMIT + 1):
        with connect("ratelimit", source=src) as c:
            got.append(c.reply())
    check(all(reply_has(r, 220) for r in got[:H.RATE_LIMIT]),
          "ratelimit: connections 1-%d from %s -> 220" % (H.RATE_LIMIT, src),
          " / ".join(show(r) for r in got))
    check(reply_has(got[-1], 421, "4.7.0", "too many connections"),
          "ratelimit: connection %d -> 421 4.7.0 instead of the banner"
          % (H.RATE_LIMIT + 1), show(got[-1]))


def g_strict(check):
    # Postfix's defaults: after 10 errors each reply waits 1 s
    # (smtpd_error_sleep_time); at 20 errors "421 ... too many errors".
    with connect("strict", timeout=10) as c:
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<>")
        times, codes = [], []
        for i in range(21):
            r, dt = timed(c.cmd, "RCPT TO:<n%d@%s>" % (i, dom("strict")))
            times.append(dt)
            codes.append(r[0])
    check(codes[:20] == [550] * 20 and max(times[:9]) < 0.7,
          "strict: unknown recipients 1-10 -> 550 at once",
          "%r %r" % (codes, ["%.2f" % t for t in times]))
    check(min(times[10:20]) >= 0.95, "strict: from the 11th error on, each "
          "reply waits ~1 s", repr(["%.2f" % t for t in times]))
    check(codes[20] == 421, "strict: the 21st -> 421 too many errors",
          repr(codes[20]))


# --------------------------------------------------------------- faults
def smtpnet_refused(addr):
    return smtpnet.refused(addr, PORT)


def fault(name, **kw):
    return Client(ip(name), PORT, **kw)


def normal_dialogue(check, c, name):
    ext = c.ehlo(HELO) or set()
    check({"PIPELINING", "SMTPUTF8"} <= ext, "%s: EHLO 250" % name,
          repr(sorted(ext)))
    check(reply_has(c.cmd("MAIL FROM:<>"), 250), "%s: MAIL -> 250" % name)
    for local, code in (("alice", 250), ("nobody", 550)):
        r = c.cmd("RCPT TO:<%s@%s>" % (local, H.fault_domain(name)))
        check(reply_has(r, code), "%s: RCPT %s -> %d" % (name, local, code),
              show(r))


def g_slowbanner(check):
    with fault("slowbanner", timeout=10) as c:
        r, dt = timed(c.reply)
        slow = float(SMTP["SMTP_SLOW_BANNER"])
        check(reply_has(r, 220) and slow - 0.2 <= dt < slow + 2,
              "slowbanner: 220 after %.1f s (%.0f s expected)" % (dt, slow),
              show(r))
        normal_dialogue(check, c, "slowbanner")
        check(reply_has(c.cmd("DATA"), 500), "slowbanner: DATA -> 500")
        check(reply_has(c.cmd("RSET"), 250), "slowbanner: RSET -> 250")
        check(reply_has(c.cmd("QUIT"), 221), "slowbanner: QUIT -> 221")


def g_nobanner(check):
    with fault("nobanner", timeout=2) as c:
        try:
            data = c.sock.recv(100)
            check(False, "nobanner: nothing within 2 s", repr(data))
        except socket.timeout:
            check(True, "nobanner: connected, not a byte within 2 s")


def g_faults(check):
    log = SMTP["FAULTSMTP_LOG"]
    mark = log_mark(log)
    banner_re = re.compile(rb"^\d{3}[ -]")

    with fault("garbage", timeout=3) as c:
        data = c.sock.recv(4096)
        check(data and not banner_re.match(data),
              "garbage: the banner is not SMTP", repr(data[:40]))
        c.send("EHLO " + HELO)
        data = c.sock.recv(4096)
        check(data and not banner_re.match(data),
              "garbage: nor is the answer to EHLO", repr(data[:40]))

    with fault("longline", timeout=5) as c:
        got, crlf, want = b"", False, 20 << 20
        first = c.sock.recv(4)
        total = len(first)
        while total < want:
            chunk = c.sock.recv(1 << 20)
            if not chunk:
                break
            crlf = crlf or b"\n" in chunk
            total += len(chunk)
        rss = faultsmtp_rss_mb()
        check(first == b"220 " and total >= want and not crlf,
              "longline: '220 ' then 20 MB read without a line end",
              "%r %d %r" % (first, total, crlf))
        check(rss is not None and rss < 100,
              "longline: the server streams (RSS %s MB)" % rss)

    with fault("manylines", timeout=10) as c:
        c.reply()
        c.send("EHLO " + HELO)
        code, lines = c.reply(max_lines=200000)
        check(code == 250 and len(lines) > 100000,
              "manylines: EHLO -> one 250 reply of %d lines" % len(lines))
        check(reply_has(c.cmd("QUIT"), 221), "manylines: then QUIT -> 221")

    with fault("hangup") as c:
        c.reply()
        c.ehlo(HELO)
        c.cmd("MAIL FROM:<>")
        r = c.cmd("RCPT TO:<alice@%s>" % H.fault_domain("hangup"))
        check(r == (None, []), "hangup: RCPT -> connection closed, no reply",
              show(r))

    with fault("banner5xx") as c:
        r = c.reply()
        check(reply_has(r, 554, "5.7.1", "No SMTP service here"),
              "banner5xx: 554 5.7.1 No SMTP service here", show(r))
        check(reply_has(c.cmd("EHLO " + HELO), 503), "banner5xx: EHLO -> 503")
        check(reply_has(c.cmd("QUIT"), 221), "banner5xx: QUIT -> 221")

    with fault("noehlo") as c:
        c.reply()
        check(reply_has(c.cmd("EHLO " + HELO), 502), "noehlo: EHLO -> 502")
        check(reply_has(c.cmd("HELO " + HELO), 250), "noehlo: HELO -> 250")
        check(reply_has(c.cmd("MAIL FROM:<>"), 250), "noehlo: MAIL -> 250")

    for name, code, enh, text in (
            ("mailfrom5xx", 550, "5.7.1", "Client blocked"),
            ("tempmail", 451, "4.3.0", "Try again later")):
        with fault(name) as c:
            c.reply()
            c.ehlo(HELO)
            r = c.cmd("MAIL FROM:<>")
            check(reply_has(r, code, enh, text), "%s: MAIL -> %d %s %s"
                  % (name, code, enh, text), show(r))

    with fault("tlsfail") as c:
        c.reply()
        ext = c.ehlo(HELO) or set()
        check("STARTTLS" in ext, "tlsfail: EHLO advertises STARTTLS")
        r = c.cmd("STARTTLS")
        check(reply_has(r, 220, "2.0.0", "Ready to start TLS"),
              "tlsfail: STARTTLS -> 220 2.0.0 Ready to start TLS", show(r))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.wrap_socket(c.sock).close()
            check(False, "tlsfail: then the TLS handshake fails")
        except (ssl.SSLError, OSError) as e:
            check(True, "tlsfail: then the TLS handshake fails (%s)"
                  % e.__class__.__name__)

    for name, _ in H.DEAD:
        check(smtpnet_refused(ip(name)), "%s: %s refuses connections"
              % (name, ip(name)))

    closed = {"garbage", "longline", "manylines", "hangup", "banner5xx",
              "noehlo", "mailfrom5xx", "tempmail", "tlsfail"}
    lines = wait_for_lines(log, mark, lambda l: " close " in l, len(closed))
    seen = {l.split()[1] for l in lines}
    check(closed <= seen,
          "faultsmtp log: a close line per connection", repr(sorted(seen)))
    helo = [l for l in log_since(log, mark) if " C: EHLO " + HELO in l]
    check(len(helo) >= 7, "faultsmtp log: the lines received (C: EHLO ...)",
          "%d" % len(helo))

    for bad in ("10.255.0.25", "0.0.0.0"):
        p = subprocess.run([sys.executable, os.path.join(HERE, "faultsmtp.py"),
                            "--port", "0", "--listen", "slowbanner=" + bad],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode != 0 and "refusing" in p.stderr,
              "faultsmtp refuses to listen on %s" % bad, p.stderr.strip())


def faultsmtp_rss_mb():
    try:
        pid = int(open(SMTP["FAULTSMTP_PIDFILE"]).read().split()[0])
        kb = status_field(pid, "VmRSS")
        return int(kb) // 1024 if kb else None
    except (OSError, ValueError):
        return None


def main(argv):
    global PORT
    smtp, dns = fixture_envs(
        argv, "usage: selftest.py [SMTP_ENV [DNS_ENV]] (or set "
              "MAILVET_SMTP_ENV and MAILVET_DNS_ENV)")
    SMTP.update(smtp)
    DNS.update(dns)
    PORT = int(SMTP["SMTP_PORT"])
    t0 = time.monotonic()
    checks = Checks()
    checks.run_groups([g_zone, g_ok, g_postfix_others, g_bench,
                       g_postfix_process, g_greylist, g_ratelimit, g_strict,
                       g_slowbanner, g_nobanner, g_faults])
    print("(%.1f s)" % (time.monotonic() - t0))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
