#!/usr/bin/env python3
"""Write the authoritative test zone `mvtest.` (NSD zone-file syntax).

    gen-zone.py [--bulk N] [-o FILE]

Every name below is relied on by the DNS-stage integration tests; the
README.md beside this file has the table of names -> records -> expected
outcome.  Keep the two in step.

Hosts that should count as public use globally routable addresses
(198.51.97-99.0/24, 2a00:5a5a::/32), not the documentation ranges, which
mailvet rightly flags as mx_private_address; the cases about special
ranges use them (10/8, 192.168/16, 127/8, ::1, 169.254/16, fe80::/10,
fc00::/7).  The tests only resolve these names; nothing connects.

The SMTP-probe fixture's names (*.smtp.mvtest., *.fault.smtp.mvtest.)
come from tests/smtp/smtphosts.py: MX hosts at loopback addresses in
127.77.0.0/24 where the test Postfix and fault server listen (these ARE
connected to, with --smtp-allow-loopback), and one private address
that never is; tests/smtp/README.md has the table.

--bulk N adds d00001.bulk.mvtest. ... dNNNNN.bulk.mvtest., each with
MX 10 mx1.dNNNNN.bulk.mvtest. and MX 20 mx2.dNNNNN.bulk.mvtest., each
host with one A record (no AAAA: AAAA queries are NOERROR/NODATA).
Standard library only.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "smtp"))
import smtphosts  # noqa: E402

ORIGIN = "mvtest."
DEFAULT_TTL = 3600
# RFC 2308: the negative-caching TTL is min(SOA TTL, SOA MINIMUM) = 60 s.
NEG_TTL = 60
SERIAL = 2024010101

# (owner relative to the origin, TTL or None for $TTL, type, rdata)
RECORDS = [
    # --- zone apex ----------------------------------------------------
    ("@", DEFAULT_TTL, "SOA",
     "ns.mvtest. hostmaster.mvtest. (%d 3600 900 604800 %d)" % (SERIAL, NEG_TTL)),
    ("@", None, "NS", "ns.mvtest."),
    # ns.mvtest. is only there to make the zone well-formed; resolvers
    # reach NSD through Unbound's stub-zone (127.0.0.1@port), never
    # through this address (port 53, where nothing of ours listens).
    ("ns", None, "A", "127.0.0.1"),

    # --- MX found ------------------------------------------------------
    ("mx", None, "MX", "10 mx1.mx.mvtest."),
    ("mx", None, "MX", "20 mx2.mx.mvtest."),
    ("mx", None, "MX", "30 mx3.mx.mvtest."),
    ("mx1.mx", None, "A", "198.51.99.1"),
    ("mx2.mx", None, "AAAA", "2a00:5a5a::2"),
    ("mx3.mx", None, "A", "198.51.99.3"),

    # --- null MX (RFC 7505) --------------------------------------------
    ("nullmx", None, "MX", "0 ."),

    # --- implicit MX (RFC 5321 5.1) ------------------------------------
    ("aonly", None, "A", "198.51.99.10"),
    ("aaaaonly", None, "AAAA", "2a00:5a5a::10"),

    # --- no mail host: the name exists, NODATA for MX, A, AAAA ---------
    ("nomail", None, "TXT", '"mailvet test: this domain has no MX, A or AAAA"'),

    # --- implicit MX, but SPF says the domain sends no mail ------------
    ("spfreject", None, "A", "198.51.99.11"),
    ("spfreject", None, "TXT", '"v=spf1 -all"'),

    # --- MX host unresolvable ------------------------------------------
    # nonexistent.nxhost.mvtest. does not exist: NXDOMAIN for A and AAAA.
    ("nxhost", None, "MX", "10 nonexistent.nxhost.mvtest."),
    # host.nodatahost.mvtest. exists (TXT only): NODATA for A and AAAA.
    ("nodatahost", None, "MX", "10 host.nodatahost.mvtest."),
    ("host.nodatahost", None, "TXT", '"mailvet test: no address here"'),

    # --- MX hosts with special-purpose addresses -----------------------
    ("privmx", None, "MX", "10 mx.privmx.mvtest."),
    ("mx.privmx", None, "A", "10.1.2.3"),
    ("mx.privmx", None, "A", "192.168.1.1"),
    ("loopmx", None, "MX", "10 mx.loopmx.mvtest."),
    ("mx.loopmx", None, "A", "127.0.0.1"),
    ("mx.loopmx", None, "AAAA", "::1"),
    ("linkmx", None, "MX", "10 mx.linkmx.mvtest."),
    ("mx.linkmx", None, "A", "169.254.1.1"),
    ("mixedmx", None, "MX", "10 mx1.mixedmx.mvtest."),
    ("mixedmx", None, "MX", "20 mx2.mixedmx.mvtest."),
    ("mx1.mixedmx", None, "A", "10.0.0.1"),
    ("mx2.mixedmx", None, "A", "198.51.99.20"),

    # --- CNAMEs ----------------------------------------------------------
    # A chain at the domain itself: cname -> cname2 -> mx.mvtest.
    ("cname", None, "CNAME", "cname2.mvtest."),
    ("cname2", None, "CNAME", "mx.mvtest."),
    # An MX target that is an alias (RFC 2181 10.3 says it must not be).
    ("cnamemx", None, "MX", "10 alias.cnamemx.mvtest."),
    ("alias.cnamemx", None, "CNAME", "mx1.mx.mvtest."),

    # --- IDN: münchen.mvtest in A-label form ------------------------------
    ("xn--mnchen-3ya", None, "MX", "10 mx.xn--mnchen-3ya.mvtest."),
    ("mx.xn--mnchen-3ya", None, "A", "198.51.99.30"),

    # --- TTL floor / ceiling ---------------------------------------------
    ("lowttl", 1, "MX", "10 mx.lowttl.mvtest."),
    ("mx.lowttl", 1, "A", "198.51.99.40"),
    ("hittl", 86400, "MX", "10 mx.hittl.mvtest."),
    ("mx.hittl", 86400, "A", "198.51.99.41"),

    # --- slow.mvtest.: delegated to the blackhole ---------------------------
    # Unbound's stub-zone "slow.mvtest." sends every query for it (and
    # below) to the blackhole port, which never answers.  This delegation
    # only makes NSD's own view consistent (a referral, not NXDOMAIN) when
    # NSD is asked directly; its glue is never used by Unbound.
    ("slow", None, "NS", "ns.slow.mvtest."),
    ("ns.slow", None, "A", "127.0.0.1"),

    # --- extras (not in the original brief; documented in README) -------------
    # MX whose first host does not exist, second one fine.
    ("partialmx", None, "MX", "10 nonexistent.partialmx.mvtest."),
    ("partialmx", None, "MX", "20 mx.partialmx.mvtest."),
    ("mx.partialmx", None, "A", "198.51.99.50"),
    # MX found, but its host lives under slow.mvtest.: the address
    # lookups time out (temporary).
    ("slowhost", None, "MX", "10 mx.slow.mvtest."),
    # A null MX mixed with a real MX (invalid per RFC 7505 3).
    ("nullmxmixed", None, "MX", "0 ."),
    ("nullmxmixed", None, "MX", "10 mx.nullmxmixed.mvtest."),
    ("mx.nullmxmixed", None, "A", "198.51.99.51"),
    # A CNAME loop and a dangling CNAME.
    ("cnameloop", None, "CNAME", "cnameloop2.mvtest."),
    ("cnameloop2", None, "CNAME", "cnameloop.mvtest."),
    ("cnamenx", None, "CNAME", "nonexistent.cnamenx-target.mvtest."),
    # IPv6-only special ranges: ULA (fc00::/7) and link-local (fe80::/10).
    ("ulamx", None, "MX", "10 mx.ulamx.mvtest."),
    ("mx.ulamx", None, "AAAA", "fd12:3456:789a::1"),
    ("linkmx6", None, "MX", "10 mx.linkmx6.mvtest."),
    ("mx.linkmx6", None, "AAAA", "fe80::1"),
]

# manymx.mvtest.: 12 MX records, ties at 10, 20 and 40.  mx01 and mx02
# share the best preference (10).
MANYMX_PREFS = [10, 10, 20, 20, 20, 30, 40, 40, 50, 60, 70, 80]


def manymx_records():
    out = []
    for i, pref in enumerate(MANYMX_PREFS, start=1):
        host = "mx%02d.manymx" % i
        out.append(("manymx", None, "MX", "%d %s.mvtest." % (pref, host)))
        out.append((host, None, "A", "198.51.99.%d" % (100 + i)))
    return out


def bulk_addr(i, which):
    """mx1 hosts in 198.51.98.0/24, mx2 hosts in 198.51.97.0/24: globally
    routable addresses (not documentation ranges, which mailvet flags as
    mx_private_address), only ever resolved, never connected to.  The
    last octet cycles 1..254, so addresses repeat across domains."""
    base = "198.51.98" if which == 1 else "198.51.97"
    return "%s.%d" % (base, 1 + (i - 1) % 254)


def write_zone(out, bulk):
    w = out.write
    w("; mvtest. -- generated by tests/dns/gen-zone.py; do not edit.\n")
    w("; Negative-caching TTL (RFC 2308: min(SOA TTL, SOA MINIMUM)) = %d s.\n"
      % NEG_TTL)
    w("$ORIGIN %s\n" % ORIGIN)
    w("$TTL %d\n" % DEFAULT_TTL)
    for owner, ttl, rtype, rdata in (RECORDS + manymx_records() +
                                     smtphosts.zone_records()):
        ttl_s = "" if ttl is None else str(ttl)
        w("%-28s %-6s IN %-5s %s\n" % (owner, ttl_s, rtype, rdata))
    if bulk:
        w("; --bulk %d\n" % bulk)
        for i in range(1, bulk + 1):
            d = "d%05d.bulk" % i
            w("%s IN MX 10 mx1.%s.mvtest.\n" % (d, d))
            w("%s IN MX 20 mx2.%s.mvtest.\n" % (d, d))
            w("mx1.%s IN A %s\n" % (d, bulk_addr(i, 1)))
            w("mx2.%s IN A %s\n" % (d, bulk_addr(i, 2)))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bulk", type=int, default=0, metavar="N",
                    help="add N domains dNNNNN.bulk.mvtest. (max 99999)")
    ap.add_argument("-o", "--output", default="-",
                    help="zone file to write (default: stdout)")
    args = ap.parse_args(argv)
    if not 0 <= args.bulk <= 99999:
        ap.error("--bulk must be between 0 and 99999")
    if args.output == "-":
        write_zone(sys.stdout, args.bulk)
    else:
        tmp = args.output + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            write_zone(f, args.bulk)
        os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
