#!/usr/bin/env python3
"""End-to-end tests of `mailvet serve` (offline): every endpoint and
every error, with curl; then a clean exit on SIGTERM.

usage: test_serve.py PATH/TO/mailvet
"""
import json
import os
import sys
import tempfile

from mvserve import Checker, Server

MAILVET = sys.argv[1]
t = Checker()
expect = t.expect
FIELDS = {"input", "verdict", "reasons", "address", "domain_ascii",
          "domain_unicode", "canonical", "suggestion", "smtputf8", "stages"}


def test_check(s):
    st, head, r = s.json("/v1/check?email=dave@gmial.com")
    expect(st == 200 and "application/json" in head, "GET /v1/check 200")
    expect(isinstance(r, dict) and FIELDS <= set(r), "result fields")
    expect(r["verdict"] == "risky" and "possible_typo" in r["reasons"] and
           r["suggestion"] == "dave@gmail.com", "typo verdict + suggestion")
    # The same object as `mailvet check --json`.
    import subprocess
    cli = subprocess.run([MAILVET, "check", "--offline", "--json",
                          "dave@gmial.com"], capture_output=True).stdout
    expect(json.loads(cli) == r, "same JSON as mailvet check --json")
    st, _, r = s.json("/v1/check", data=b'{"email": "niaj..x@gmail.com"}')
    expect(st == 200 and r["verdict"] == "undeliverable" and
           r["reasons"] == ["syntax_consecutive_dots"], "POST /v1/check")
    st, _, r = s.json("/v1/check", data=b'{"email": "a@mailinator.com",'
                      b' "smtp": false, "extra": 1}')
    expect(st == 200 and "disposable" in r["reasons"], "disposable")
    st, _, r = s.json("/v1/check?email=j%C3%B6rg%40m%C3%BCnchen.de")
    expect(st == 200 and r["domain_ascii"] == "xn--mnchen-3ya.de",
           "URL-encoded UTF-8 query")
    st, _, r = s.json("/v1/check?email=a%FF%00b@x.com")
    expect(st == 200 and r["verdict"] == "undeliverable", "bad bytes: "
           "a verdict, not an error")
    st, head, _ = s.curl("/v1/check?email=a@b.com", "-I")
    expect(st == 200, "HEAD /v1/check")


def test_errors(s):
    cases = [
        ("/v1/check", [], None, 400, "bad_email_field"),
        ("/v1/check", [], b"not json", 400, "bad_json"),
        ("/v1/check", [], b'{"email": 5}', 400, "bad_email_field"),
        ("/v1/check", [], b'["a@b.com"]', 400, "bad_json"),
        ("/v1/check", [], b'{"email": "a\xff@b.com"}', 400, "bad_json"),
        ("/v1/check", [], b'{"email": "a\\u0000@b.com"}', 400, "bad_json"),
        ("/v1/check", [], b'{"email":"a@b.com","email":"c@d.com"}', 400,
         "bad_json"),
        ("/v1/check", [], b'{"email": "a@b.com", "smtp": "yes"}', 400,
         "bad_smtp_field"),
        ("/v1/check", [], b'{"email": "a@b.com", "smtp": true}', 501,
         "smtp_not_configured"),
        ("/v1/check?email=a@b.com&smtp=true", [], None, 501,
         "smtp_not_configured"),
        ("/v1/check", [], b"x" * 5000, 413, "body_too_large"),
        ("/v1/check", ["-H", "Transfer-Encoding: chunked"], b"x" * 5000,
         413, "body_too_large"),
        ("/v1/check", ["-X", "DELETE"], None, 405, "method_not_allowed"),
        ("/v1/nothing", [], None, 404, "not_found"),
        ("/v1/check/batch", [], b'{"emails":["a@b.com"]}', 401,
         "unauthorized"),
        ("/v1/check/batch", ["-H", "Authorization: Bearer nope"],
         b'{"emails":["a@b.com"]}', 403, "forbidden"),
        ("/v1/check/batch", ["-H", "Authorization: Bearer k1"],
         b'{"emails":[]}', 400, "bad_emails_field"),
        ("/v1/check/batch", ["-H", "Authorization: Bearer k1"],
         b'{"emails":["a@b.com", 3]}', 400, "bad_emails_field"),
        ("/v1/check/batch", ["-X", "GET"], None, 405, "method_not_allowed"),
        ("/v1/bounces", ["-H", "Authorization: Bearer k2"],
         b'{"address":"a@b.com"}', 501, "store_not_configured"),
        ("/v1/bounces", [], b'{"address":"a@b.com"}', 401, "unauthorized"),
        ("/v1/store/a@b.com", ["-H", "Authorization: Bearer k1"], None, 501,
         "store_not_configured"),
        ("/v1/store/a@b.com", ["-X", "DELETE", "-H",
                               "Authorization: Bearer k1"], None, 501,
         "store_not_configured"),
        ("/v1/store/a@b.com", ["-X", "PUT", "-H",
                               "Authorization: Bearer k1"], None, 405,
         "method_not_allowed"),
    ]
    for path, args, data, want, code in cases:
        if data is None and "-X" not in args:
            args = args + ["-X", "GET"]
        st, head, r = s.json(path, *args, data=data)
        ok = st == want and isinstance(r, dict) and r.get("error") == code
        expect(ok, "%s %s -> %d %s (got %s %r)" % (path, args, want, code,
                                                   st, r))
        if want == 405:
            expect("Allow:" in head, "405 has Allow")
        if want == 401:
            expect("WWW-Authenticate: Bearer" in head, "401 challenge")


def test_batch(s):
    emails = ["a%d@gmial.com" % i for i in range(999)] + ["x@y..z"]
    body = json.dumps({"emails": emails}).encode()
    st, _, r = s.json("/v1/check/batch", "-H", "Authorization: Bearer k2",
                      data=body)
    expect(st == 200 and len(r["results"]) == 1000, "batch of 1000")
    expect([x["input"] for x in r["results"]] == emails, "batch order")
    expect(r["results"][-1]["verdict"] == "undeliverable", "batch verdict")
    # Batch of 1001: 413.
    body = json.dumps({"emails": ["a@b.com"] * 1001}).encode()
    st, _, r = s.json("/v1/check/batch", "-H", "Authorization: Bearer k1",
                      data=body)
    expect(st == 413 and r["error"] == "batch_too_large", "batch > 1000")


def test_misc(s):
    st, _, r = s.json("/healthz")
    expect(st == 200 and r["status"] == "ok" and r["offline"] is True,
           "healthz")
    st, _, r = s.json("/v1/openapi.json")
    expect(st == 200 and r.get("openapi", "").startswith("3.") and
           "/v1/check/batch" in r["paths"], "openapi")
    st, head, body = s.curl("/")
    expect(st == 200 and "text/html" in head and b"<form" in body, "demo")
    st, head, body = s.curl("/metrics")
    text = body.decode()
    expect(st == 200 and "text/plain" in head, "metrics 200")
    for name in ["mailvet_http_requests_total{route=\"check\",code=\"200\"}",
                 "mailvet_http_request_duration_seconds_bucket{le=\"+Inf\"}",
                 "mailvet_verdicts_total{verdict=\"risky\"}",
                 "mailvet_dns_cache_hits_total", "mailvet_dns_queries_total",
                 "mailvet_http_requests_total{route=\"batch\",code=\"401\"}"]:
        expect(name in text, "metrics has " + name)
    # CORS: preflight and the header on answers.
    st, head, _ = s.curl("/v1/check", "-X", "OPTIONS", "-H",
                         "Origin: https://shop.example", "-H",
                         "Access-Control-Request-Method: POST")
    expect(st == 204 and "Access-Control-Allow-Origin: https://shop.example"
           in head and "Access-Control-Allow-Methods" in head, "preflight")
    st, head, _ = s.curl("/v1/check?email=a@b.com", "-H",
                         "Origin: https://shop.example")
    expect("Access-Control-Allow-Origin: https://shop.example" in head,
           "CORS header")
    st, head, _ = s.curl("/v1/check?email=a@b.com", "-H",
                         "Origin: https://evil.example")
    expect("Access-Control-Allow-Origin" not in head, "no CORS for others")
    # Headers over the per-connection buffer: refused, server fine.
    st, _, _ = s.curl("/healthz", "-H", "X-Big: " + "a" * 40000)
    expect(st in (413, 414, 431) or st == 0, "huge header refused")


def test_rate_and_keys(mailvet):
    with tempfile.NamedTemporaryFile("w", suffix=".keys") as f:
        f.write("# keys\nfilekey\n")
        f.flush()
        s = Server(mailvet, ["--offline", "--rate-limit", "1",
                             "--rate-burst", "3", "--check-requires-key",
                             "--api-key-file", f.name])
        st, _, r = s.json("/v1/check?email=a@b.com")
        expect(st == 401, "check keyed by configuration")
        codes = [s.json("/v1/check?email=a@b.com", "-H",
                        "Authorization: Bearer filekey")[0]
                 for _ in range(5)]
        expect(codes[:3] == [200] * 3 and 429 in codes[3:], "rate limit "
               "-> 429 (%s)" % codes)
        st, head, r = s.json("/v1/check?email=a@b.com", "-H",
                             "Authorization: Bearer filekey")
        expect(st == 429 and r["error"] == "rate_limited" and
               "Retry-After:" in head, "429 body and Retry-After")
        st, _, _ = s.json("/healthz")
        expect(st == 200, "healthz is not rate limited")
        expect(s.stop() == 0, "keyed server exits 0")
    # Keys have no names: "alice s3cret" must not make "alice" a key.
    import subprocess
    with tempfile.NamedTemporaryFile("w", suffix=".keys") as f:
        f.write("  padded  \nalice s3cret\n")
        f.flush()
        p = subprocess.run([mailvet, "serve", "--offline", "--listen",
                            "127.0.0.1:0", "--api-key-file", f.name],
                           capture_output=True, timeout=10)
        expect(p.returncode == 2 and b":2: one key per line" in p.stderr,
               "a key-file line with two words is refused (%r)" %
               p.stderr)


def main():
    s = Server(MAILVET, ["--offline", "--max-body", "4096",
                         "--rate-limit", "0", "--cors-origin",
                         "https://shop.example"],
               env={"MAILVET_API_KEYS": "k1, k2"})
    try:
        test_check(s)
        test_errors(s)
        test_misc(s)
        s.proc.send_signal(0)
    finally:
        rc = s.stop()
    expect(rc == 0, "SIGTERM: exit 0 (got %r)" % rc)
    s = Server(MAILVET, ["--offline", "--rate-limit", "0"],
               env={"MAILVET_API_KEYS": "k1,k2"})
    test_batch(s)
    expect(s.stop() == 0, "exit 0 after a batch")
    test_rate_and_keys(MAILVET)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
