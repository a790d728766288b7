#!/usr/bin/env python3
"""The store routes of `mailvet serve --store` (offline), with curl:
POST /v1/bounces, GET and DELETE /v1/store/{address}, their keys and
errors, and what they do to /v1/check; a store locked by another
process gives 503, never a wrong answer.

usage: test_serve_store.py PATH/TO/mailvet
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

from mvserve import Checker, Server

MAILVET = sys.argv[1]
t = Checker()
expect = t.expect
KEY = ["-H", "Authorization: Bearer k1"]


def bounce(s, body, *args):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return s.json("/v1/bounces", *(list(args) or KEY), data=data)


def verdict(s, addr):
    st, _, r = s.json("/v1/check", data=json.dumps({"email": addr}).encode())
    return (r["verdict"], r["reasons"]) if st == 200 else (st, r)


def test_auth(s):
    for path, args in [("/v1/bounces", ["-d", "{}"]),
                       ("/v1/store/a@b.com", ["-X", "GET"]),
                       ("/v1/store/a@b.com", ["-X", "DELETE"])]:
        st, _, r = s.json(path, *args)
        expect(st == 401 and r["error"] == "unauthorized",
               "%s %s without a key: 401 (%s)" % (args, path, st))
        st, _, r = s.json(path, *args, "-H", "Authorization: Bearer bad")
        expect(st == 403 and r["error"] == "forbidden",
               "%s %s with a bad key: 403 (%s)" % (args, path, st))
    st, head, _ = s.json("/v1/store/a@b.com", "-X", "POST", *KEY)
    expect(st == 405 and "GET, HEAD, DELETE" in head, "POST /v1/store: 405")
    st, _, _ = s.json("/v1/bounces", "-X", "GET", *KEY)
    expect(st == 405, "GET /v1/bounces: 405")


def test_hard(s):
    addr = "Jane.Doe+news@GoogleMail.com"
    expect(verdict(s, "janedoe@gmail.com")[0] == "deliverable",
           "not yet stored: deliverable")
    st, _, r = bounce(s, {"address": addr, "status": "550 5.1.1",
                          "diagnostic": "user unknown"})
    expect(st == 200 and r["key"] == "janedoe@gmail.com" and
           r["state"] == "suppressed" and r["source"] == "hard_bounce" and
           r["diagnostic"] == "user unknown" and r["address"] == addr,
           "hard bounce: suppressed at once (%s %r)" % (st, r))
    v = verdict(s, "janedoe@gmail.com")
    expect(v[0] == "undeliverable" and "suppressed_hard_bounce" in v[1],
           "check after a hard bounce: %r" % (v,))
    # GET by another spelling of the same key, and percent-encoded.
    for path in ["/v1/store/jane.doe@gmail.com",
                 "/v1/store/jane.doe%2Bx%40googlemail.com"]:
        st, _, r = s.json(path, *KEY)
        expect(st == 200 and r.get("key") == "janedoe@gmail.com" and
               r["count"] == 1, "GET %s (%s %r)" % (path, st, r))
    st, head, _ = s.curl("/v1/store/janedoe@gmail.com", "-I", *KEY)
    expect(st == 200 and "application/json" in head, "HEAD /v1/store")
    # Take it back out: kept, with who and when; deliverable again.
    st, _, r = s.json("/v1/store/janedoe@gmail.com", "-X", "DELETE", *KEY)
    expect(st == 200 and r["state"] == "removed" and
           r["removed_by"] == "api" and r["removed_at"] != "-",
           "DELETE: removed by api (%s %r)" % (st, r))
    expect(verdict(s, "janedoe@gmail.com")[0] == "deliverable",
           "check after DELETE: deliverable")
    st, _, r = s.json("/v1/store/janedoe@gmail.com", *KEY)
    expect(st == 200 and r["state"] == "removed", "GET a removed entry")
    st, _, r = s.json("/v1/store/janedoe@gmail.com", "-X", "DELETE", *KEY)
    expect(st == 404 and r["error"] == "not_found", "DELETE twice: 404")
    # A new hard bounce brings it back.
    st, _, r = bounce(s, {"address": addr, "status": "5.1.1"})
    expect(st == 200 and r["state"] == "suppressed" and r["count"] == 2,
           "hard bounce after removal: suppressed again")


def test_soft(s):
    addr = "full-mailbox@acme-widgets.com"
    for i in range(1, 4):
        st, _, r = bounce(s, {"address": addr, "status": 452,
                              "diagnostic": "mailbox full"})
        want = "suppressed" if i == 3 else "pending"
        expect(st == 200 and r["state"] == want and
               r["soft_bounces"] == i, "soft bounce %d: %s (%s %r)" %
               (i, want, st, r))
        v = verdict(s, addr)
        if i < 3:
            expect(v[0] != "undeliverable" and not any(
                x.startswith("suppressed_") for x in v[1]),
                "%d soft bounce(s) do not suppress: %r" % (i, v))
        else:
            expect(v[0] == "undeliverable" and
                   "suppressed_soft_bounce" in v[1],
                   "3 soft bounces suppress: %r" % (v,))
    # Old soft bounces fall outside the 30-day window.
    for ts in ["2020-01-01T00:00:00Z", "2020-03-01T00:00:00Z",
               1590000000]:
        st, _, r = bounce(s, {"address": "old@example.org",
                              "status": "4.2.2", "timestamp": ts})
        expect(st == 200 and r["state"] == "pending",
               "soft bounces months apart: pending (%r)" % (r,))
    expect(r["first_seen"] == "2020-01-01T00:00:00Z", "timestamp kept")


def test_domain_and_404(s):
    st, _, r = bounce(s, {"address": "@dead-domain.example", "status": "550"})
    expect(st == 200 and r["key"] == "@dead-domain.example",
           "a bounce for @domain")
    st, _, r = s.json("/v1/store/anyone@dead-domain.example", *KEY)
    expect(st == 200 and r.get("key") == "@dead-domain.example",
           "GET an address covered by @domain: that entry")
    st, _, r = s.json("/v1/store/nobody@nowhere.example", *KEY)
    expect(st == 404 and r["error"] == "not_found", "GET absent: 404")
    st, _, r = s.json("/v1/store/nobody@nowhere.example", "-X", "DELETE",
                      *KEY)
    expect(st == 404 and r["error"] == "not_found", "DELETE absent: 404")
    st, _, r = s.json("/v1/store/not-an-address", *KEY)
    expect(st == 400 and r["error"] == "bad_address", "GET non-address: 400")


def test_bad_bodies(s):
    cases = [
        (b"not json", "bad_json"),
        (b'["a@b.com"]', "bad_json"),
        (b'{"status": "550"}', "bad_address_field"),
        (b'{"address": 5, "status": "550"}', "bad_address_field"),
        (b'{"address": "nope", "status": "550"}', "bad_address_field"),
        (b'{"address": "a@b.com"}', "bad_status_field"),
        (b'{"address": "a@b.com", "status": "250"}', "bad_status_field"),
        (b'{"address": "a@b.com", "status": "hello"}', "bad_status_field"),
        (b'{"address": "a@b.com", "status": "550", "diagnostic": 1}',
         "bad_diagnostic_field"),
        (b'{"address": "a@b.com", "status": "550", "timestamp": "May 1"}',
         "bad_timestamp_field"),
        (b'{"address": "a@b.com", "status": "550", "timestamp": true}',
         "bad_timestamp_field"),
    ]
    for body, code in cases:
        st, _, r = bounce(s, body)
        expect(st == 400 and isinstance(r, dict) and r["error"] == code,
               "%r -> 400 %s (got %s %r)" % (body, code, st, r))
    st, _, r = bounce(s, b'{"address": "' + b"a" * 5000 + b'@b.com"}')
    expect(st == 413 and r["error"] == "body_too_large", "bounce body 413")
    st, _, r = s.json("/v1/store/a@b.com", *KEY)
    expect(st == 404, "nothing recorded by the bad bodies")


def test_cli_sees_it(db):
    p = subprocess.run([MAILVET, "store", "--store", db, "show", "--json",
                        "janedoe@gmail.com"], capture_output=True)
    ok = p.returncode == 0 and json.loads(p.stdout)["count"] == 2
    expect(ok, "mailvet store show reads what serve wrote (%r)" % p.stdout)


def test_locked(db):
    """Another process holds the write lock: 503, then fine again."""
    s = Server(MAILVET, ["--offline", "--rate-limit", "0", "--store", db,
                         "--deadline-ms", "300"],
               env={"MAILVET_API_KEYS": "k1"})
    con = sqlite3.connect(db, isolation_level=None, timeout=5)
    con.execute("BEGIN EXCLUSIVE")
    try:
        st, head, r = bounce(s, {"address": "lock@example.org",
                                 "status": "550"})
        expect(st == 503 and r["error"] == "store_unavailable" and
               "Retry-After:" in head, "locked store: 503 (%s %r)" % (st, r))
    finally:
        con.execute("ROLLBACK")
        con.close()
    st, _, r = bounce(s, {"address": "lock@example.org", "status": "550"})
    expect(st == 200 and r["count"] == 1, "unlocked: recorded once")
    expect(s.stop() == 0, "exit 0 (locked test)")


def test_scope(tmp):
    db = os.path.join(tmp, "scoped.db")
    s = Server(MAILVET, ["--offline", "--rate-limit", "0", "--store", db,
                         "--scope", "brand-a"],
               env={"MAILVET_API_KEYS": "k1"})
    st, _, r = bounce(s, {"address": "a@scoped-shop.com", "status": "550"})
    expect(st == 200 and r["scope"] == "brand-a", "bounce in the scope")
    expect(verdict(s, "a@scoped-shop.com")[0] == "undeliverable",
           "suppressed in its scope")
    expect(s.stop() == 0, "exit 0 (scope)")
    s = Server(MAILVET, ["--offline", "--rate-limit", "0", "--store", db],
               env={"MAILVET_API_KEYS": "k1"})
    expect(verdict(s, "a@scoped-shop.com")[0] == "deliverable",
           "not suppressed without the scope")
    st, _, _ = s.json("/v1/store/a@scoped-shop.com", *KEY)
    expect(st == 404, "GET without the scope: 404")
    expect(s.stop() == 0, "exit 0 (no scope)")
    p = subprocess.run([MAILVET, "serve", "--offline", "--store", db,
                        "--scope", "bad scope!"], capture_output=True)
    expect(p.returncode == 2, "a bad --scope: usage error")
    p = subprocess.run([MAILVET, "serve", "--offline", "--scope", "x"],
                       capture_output=True)
    expect(p.returncode == 2, "--scope without --store: usage error")


def test_default_store(tmp):
    s = Server(MAILVET, ["--offline", "--rate-limit", "0", "--store",
                         "default", "--soft-threshold", "2"],
               env={"MAILVET_API_KEYS": "k1", "XDG_DATA_HOME": tmp})
    st, _, _ = bounce(s, {"address": "d@default.example", "status": "550"})
    expect(st == 200, "--store default: recorded")
    states = [bounce(s, {"address": "two@acme-widgets.com",
                         "status": "421"})[2]["state"] for _ in range(2)]
    expect(states == ["pending", "suppressed"],
           "--soft-threshold 2: the second soft bounce suppresses (%r)" %
           states)
    expect(s.stop() == 0, "exit 0 (default store)")
    expect(os.path.exists(os.path.join(tmp, "mailvet", "store.db")),
           "--store default is $XDG_DATA_HOME/mailvet/store.db")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "store.db")
        s = Server(MAILVET, ["--offline", "--rate-limit", "0", "--store", db,
                             "--max-body", "4096"],
                   env={"MAILVET_API_KEYS": "k1"})
        try:
            test_auth(s)
            test_hard(s)
            test_soft(s)
            test_domain_and_404(s)
            test_bad_bodies(s)
            test_cli_sees_it(db)
            st, _, body = s.curl("/metrics")
            expect(b'route="store",code="200"' in body, "store metrics")
            n = [int(l.split()[1]) for l in body.decode().splitlines()
                 if l.startswith("mailvet_store_entries ")]
            expect(len(n) == 1 and n[0] >= 1, "store size in /metrics")
        finally:
            rc = s.stop()
        expect(rc == 0, "SIGTERM: exit 0 (got %r)" % rc)
        test_locked(db)
        test_scope(tmp)
        test_default_store(tmp)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
