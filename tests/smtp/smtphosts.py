"""The SMTP test hosts: which domain's MX is at which loopback address,
and what answers there.  One table for gen-zone.py (the DNS records),
gen-postfix.py (Postfix's listeners and users), faultsmtp.py (the fault
scenarios), start-servers.sh (DIR/env) and selftest.py.  README.md beside
this file has the same table for people; keep the two in step.

Every server listens on the same port (SMTP_PORT in DIR/env) on its own
address in 127.77.0.0/24: the prober has one port setting and picks the
server by the MX host's address.  Standard library only.

    smtphosts.py --env                SMTP_IP_<NAME>=<address> lines for DIR/env
    smtphosts.py --addresses          every address a server listens on
    smtphosts.py --postfix-addresses  ... Postfix's only
    smtphosts.py --fault-addresses    ... faultsmtp.py's only
    smtphosts.py --dead               the addresses where nothing may listen
    smtphosts.py --tls-names          DNS:mx....,DNS:... for the certificate
(one a line, but --tls-names)
"""

import sys

NET = "127.77.0."

# Postfix listeners: name -> (last octet, behaviour).  The domain is
# NAME.smtp.mvtest, its one MX host mx.NAME.smtp.mvtest.
POSTFIX = [
    ("ok", 11, "the ok users; unknown -> 550 5.1.1; full -> 452, "
               "fullperm -> 552; PIPELINING, SMTPUTF8, STARTTLS"),
    ("catchall", 12, "accepts every recipient"),
    ("greylist", 13, "450 4.2.0 on the first try of a triplet, then as ok"),
    ("busy", 14, "421 instead of the banner, then hangs up"),
    ("ratelimit", 15, "3 connections a minute per client, then 421"),
    ("noutf8", 16, "the ok users, no SMTPUTF8, no STARTTLS"),
    ("strict", 17, "the ok users with Postfix's default error limits"),
    # multimx: MX 10 -> MULTIMX_DEAD (nothing listens), MX 20 -> here.
    ("multimx", 19, "the ok users (multimx's MX 20)"),
] + [("bench%02d" % i, 100 + i, "u0000-u0499, even numbers exist")
     for i in range(1, 21)]

MULTIMX_DEAD = 18

# The fault server's scenarios: name -> last octet.  The domain is
# NAME.fault.smtp.mvtest, its MX host mx.NAME.fault.smtp.mvtest.
FAULT = [
    ("slowbanner", 51), ("nobanner", 52), ("garbage", 53), ("longline", 54),
    ("manylines", 55), ("hangup", 56), ("banner5xx", 57),
    ("mailfrom5xx", 58), ("tlsfail", 59), ("tempmail", 60),
    ("noehlo", 69),  # 502 to EHLO: the client must fall back to HELO
]

# Fault domains whose MX address has nothing listening (refused): dead1-8,
# eight unrelated hosts, so that a prober that declares port 25 blocked
# after a few of them has later ones to do it on.
DEAD = [("dead%d" % i, 60 + i) for i in range(1, 9)]

# private.smtp.mvtest's MX host: a private address, never connected to.
PRIVATE_ADDR = "10.255.0.25"

# The users of the "ok" kind of domain (ok, noutf8, strict, multimx,
# greylist, busy, ratelimit).  "jörg" needs SMTPUTF8.
OK_USERS = ["alice", "bob", "carol", "jörg"]
# ok.smtp.mvtest only: recipient -> the reply check_recipient_access gives.
OK_FULL = {
    "full": "452 4.2.2 Mailbox full",
    "fullperm": "552 5.2.2 Mailbox full, over quota",
}
BENCH_USERS = 500          # u0000 ... u0499; the even ones exist
RATE_LIMIT = 3             # connections per client per ANVIL_SECONDS
ANVIL_SECONDS = 60


def addr(octet):
    return NET + str(octet)


def postfix_domain(name):
    return "%s.smtp.mvtest" % name


def fault_domain(name):
    return "%s.fault.smtp.mvtest" % name


def mx_host(name):
    """The host name of Postfix listener NAME (multimx: its MX 20)."""
    prefix = "mx2." if name == "multimx" else "mx."
    return prefix + postfix_domain(name)


def domain_users(name):
    """The existing local parts of a Postfix domain (None: catch-all)."""
    if name == "catchall":
        return None
    if name.startswith("bench"):
        return ["u%04d" % i for i in range(0, BENCH_USERS, 2)]
    users = list(OK_USERS)
    if name == "ok":
        users += sorted(OK_FULL)
    return users


def zone_records():
    """(owner relative to mvtest., TTL or None, type, rdata) tuples."""
    out = []

    def mx(domain, pref, host, ip):
        out.append((domain[:-len(".mvtest")], None, "MX",
                    "%d %s." % (pref, host)))
        out.append((host[:-len(".mvtest")], None, "A", ip))

    for name, octet, _ in POSTFIX:
        pref = 20 if name == "multimx" else 10
        mx(postfix_domain(name), pref, mx_host(name), addr(octet))
    d = postfix_domain("multimx")
    mx(d, 10, "mx1." + d, addr(MULTIMX_DEAD))
    d = postfix_domain("private")
    mx(d, 10, "mx." + d, PRIVATE_ADDR)
    for name, octet in FAULT + DEAD:
        d = fault_domain(name)
        mx(d, 10, "mx." + d, addr(octet))
    return out


def env_lines():
    lines = ["SMTP_IP_%s=%s" % (n.upper(), addr(o)) for n, o, _ in POSTFIX]
    lines.append("SMTP_IP_MULTIMX_DEAD=%s" % addr(MULTIMX_DEAD))
    lines += ["SMTP_IP_%s=%s" % (n.upper(), addr(o)) for n, o in FAULT + DEAD]
    lines.append("SMTP_IP_PRIVATE=%s" % PRIVATE_ADDR)
    return lines


def postfix_addresses():
    return [addr(o) for _, o, _ in POSTFIX]


def fault_addresses():
    return [addr(o) for _, o in FAULT]


def listen_addresses():
    return postfix_addresses() + fault_addresses()


def tls_names():
    hosts = ["mx.smtp.mvtest"] + [mx_host(n) for n, _, _ in POSTFIX]
    return ",".join("DNS:" + h for h in hosts)


def dead_addresses():
    return [addr(MULTIMX_DEAD)] + [addr(o) for _, o in DEAD]


def main(argv):
    actions = {
        "--env": env_lines,
        "--addresses": listen_addresses,
        "--postfix-addresses": postfix_addresses,
        "--fault-addresses": fault_addresses,
        "--dead": dead_addresses,
        "--tls-names": lambda: [tls_names()],
    }
    if len(argv) != 1 or argv[0] not in actions:
        sys.stderr.write(__doc__)
        return 2
    print("\n".join(actions[argv[0]]()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
