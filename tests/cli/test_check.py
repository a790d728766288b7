#!/usr/bin/env python3
"""End-to-end tests of `mailvet check`: exit statuses, help and version,
JSON Lines output (fields, order, one object per input line), hostile
input on stdin (invalid UTF-8, NUL, CRLF, a 10 MB line) in bounded
memory, and table-file errors.

usage: test_check.py PATH/TO/mailvet
"""
import json
import os
import resource
import subprocess
import sys
import tempfile

MAILVET = sys.argv[1]
FIELDS = {"input", "verdict", "reasons", "address", "domain_ascii",
          "domain_unicode", "canonical", "suggestion", "smtputf8", "stages"}
failures = []


def run(args, stdin=b""):
    p = subprocess.run([MAILVET] + args, input=stdin, capture_output=True)
    return p.returncode, p.stdout, p.stderr


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def test_help_and_version():
    rc, out, _ = run(["--version"])
    expect(rc == 0 and out.startswith(b"mailvet 0."), "--version")
    rc, out, _ = run(["--help"])
    expect(rc == 0 and b"check ADDRESS" in out, "--help")
    rc, out, _ = run(["check", "--help"])
    expect(rc == 0 and b"--json" in out and b"Exit status" in out,
           "check --help")
    rc, _, err = run([])
    expect(rc == 2 and b"usage" in err, "no command is a usage error")
    rc, _, _ = run(["check"])
    expect(rc == 2, "check without addresses is a usage error")
    rc, _, _ = run(["check", "--no-such-option", "a@b.com"])
    expect(rc == 2, "unknown option is a usage error")
    rc, _, _ = run(["frobnicate"])
    expect(rc == 2, "unknown command")


def test_exit_statuses():
    cases = [
        (["jane@acme-widgets.com"], 0),
        (["info@acme-widgets.com"], 0),                 # risky
        (["jane@acme-widgets.com", "a..b@acme.com"], 1),
        (["x@foo.test"], 1),                           # reserved
    ]
    for args, want in cases:
        rc, _, _ = run(["check", "--offline"] + args)
        expect(rc == want, "exit %d for %r, got %d" % (want, args, rc))


def test_offline_is_quiet_and_skips_dns():
    _, out, err = run(["check", "--offline", "--json", "a@acme.io"])
    expect(err == b"", "no note with --offline")
    expect("dns" not in json.loads(out)["stages"], "--offline skips DNS")
    rc, _, err = run(["check", "--resolver", "", "a@acme.io"])
    expect(rc == 2 and b"--resolver" in err, "empty --resolver refused")
    rc, _, err = run(["check", "--dns-timeout", "x", "a@acme.io"])
    expect(rc == 2 and b"not a number" in err, "bad number refused")


def test_json_lines_in_order():
    lines = [b"jane@acme-widgets.com", b"a..b@acme.com\r",
             b"bad\xff\xfeutf8@acme.com", b"nul\x00byte@acme.com",
             b"", b"  spaced@acme.com  \r", b"J\xc3\xb6rg@M\xc3\xbcnchen.de"]
    rc, out, err = run(["check", "--offline", "--json", "-"],
                       b"\n".join(lines) + b"\n")
    expect(rc == 1, "json run exit 1 (some undeliverable): %d" % rc)
    objs = [json.loads(l) for l in out.decode("utf-8").splitlines()]
    expect(len(objs) == len(lines), "one object per input line")
    for o in objs:
        expect(FIELDS <= set(o), "fields present in %r" % o)
    verdicts = [o["verdict"] for o in objs]
    expect(verdicts == ["deliverable", "undeliverable", "undeliverable",
                        "undeliverable", "undeliverable", "deliverable",
                        "deliverable"], "verdicts in order: %r" % verdicts)
    expect(objs[1]["input"] == "a..b@acme.com", "CR of CRLF dropped")
    expect(objs[1]["reasons"] == ["syntax_consecutive_dots"], "reason")
    expect("\ufffd" in objs[2]["input"], "invalid UTF-8 shown as U+FFFD")
    expect(objs[2]["reasons"] == ["syntax_invalid_utf8"], "utf8 reason")
    expect(objs[3]["reasons"] == ["syntax_control_char"], "NUL rejected")
    expect(objs[4]["reasons"] == ["syntax_empty"], "empty line")
    expect(objs[5]["address"] == "spaced@acme.com", "trimmed")
    expect(objs[6]["domain_ascii"] == "xn--mnchen-3ya.de" and
           objs[6]["smtputf8"] is True, "IDN + SMTPUTF8")


def test_huge_line_bounded_memory():
    big = b"x" * (10 * 1024 * 1024)
    with tempfile.TemporaryFile() as f:
        f.write(b"first@acme.io\n" + big + b"@acme.io\nlast@acme.io\n")
        f.seek(0)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        p = subprocess.run([MAILVET, "check", "--offline", "--json", "-"],
                           stdin=f, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    objs = [json.loads(l) for l in p.stdout.decode().splitlines()]
    expect(len(objs) == 3, "three objects for three lines")
    expect(objs[1]["verdict"] == "undeliverable", "huge line undeliverable")
    expect(objs[1].get("input_truncated") is True, "huge input cut")
    expect(len(objs[1]["input"]) <= 1024, "echo bounded")
    expect(objs[2]["input"] == "last@acme.io", "the rest still runs")
    # The context holds ~160k table entries (~30 MB); a 10 MB line must
    # not add its size on top.
    rss_kb = max(before, after)
    expect(rss_kb < 80 * 1024, "peak RSS %d KiB < 80 MiB" % rss_kb)


def test_human_output():
    rc, out, _ = run(["check", "--offline", "dave@gmial.com",
                      "tab\tin@acme.io"])
    rows = out.decode().splitlines()
    expect(len(rows) == 2, "one row per address")
    expect(rows[0].startswith("risky ") and
           "(did you mean dave@gmail.com?)" in rows[0], "typo row")
    expect("tab\\x09in@acme.io" in rows[1] and "syntax_control_char" in
           rows[1], "control characters escaped in human output")


def test_table_file_errors():
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("fine.example\nBAD ENTRY WITH SPACES\n")
    try:
        rc, _, err = run(["check", "--offline", "--role-file", f.name,
                          "a@b.io"])
        expect(rc == 2 and (f.name + ":2:").encode() in err,
               "table file error names file and line: %r" % err)
    finally:
        os.unlink(f.name)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("# our own traps\ntrap-domain.io\n")
    try:
        _, out, _ = run(["check", "--offline", "--json",
                         "--disposable-file", f.name, "x@trap-domain.io"])
        expect(json.loads(out)["reasons"] == ["disposable"],
               "--disposable-file extends the table")
    finally:
        os.unlink(f.name)


for name, fn in list(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
