#!/usr/bin/env python3
"""End-to-end tests of `mailvet clean`, offline.

Golden files: each folder in tests/clean/golden/ holds input.csv, args
(extra options on one line; STDIN reads the input from stdin) and the
expected kept.csv and rejects.csv, compared byte for byte.  After a
deliberate change, `test_clean.py MAILVET --regen` rewrites the expected
files (review the diff before committing).

Other checks: every good row of a file full of malformed rows survives,
usage and I/O errors exit 2, the JSON and HTML reports, --help.

usage: test_clean.py PATH/TO/mailvet [--regen]
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

MAILVET = sys.argv[1]
REGEN = "--regen" in sys.argv[2:]
HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(args, stdin=b""):
    p = subprocess.run([MAILVET, "clean", "--offline"] + args, input=stdin,
                       capture_output=True)
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path, "rb") as f:
        return f.read()


def golden_case(name, tmp):
    d = os.path.join(GOLDEN, name)
    args = shlex.split(read(os.path.join(d, "args")).decode())
    src = os.path.join(d, "input.csv")
    kept, rej = os.path.join(tmp, "kept"), os.path.join(tmp, "rej")
    stdin = b""
    if "STDIN" in args:
        args.remove("STDIN")
        stdin, src = read(src), "-"
    rc, _, err = run(args + ["-q", "--out", kept, "--rejects", rej, src],
                     stdin)
    expect(rc == 0, "%s: exit %d: %s" % (name, rc, err))
    for got, want in ((kept, "kept.csv"), (rej, "rejects.csv")):
        want = os.path.join(d, want)
        if REGEN:
            with open(want, "wb") as f:
                f.write(read(got))
            continue
        expect(read(got) == read(want),
               "%s: %s differs:\n%r\n!=\n%r" % (name, os.path.basename(want),
                                                read(got), read(want)))


def test_golden(tmp):
    for name in sorted(os.listdir(GOLDEN)):
        golden_case(name, tmp)


def test_every_good_row_survives(tmp):
    """Each malformed kind between good rows: every good row is kept."""
    bad = [b'x@gmail.com,"open quote,1', b'x@gmail.com,too,many,fields',
           b'x@gmail.com', b'\xff\xfe@gmail.com,bad utf8,1',
           b'x@gmail.com,"quote","then"text', b'"x@gmail.com,2,3',
           b'x@gmail.com,"' + b"a" * (1 << 21) + b'",1']
    lines, good = [b"email,name,n"], []
    for i, b in enumerate(bad * 3):
        g = b"good%d@acme-widgets.com,G%d,%d" % (i, i, i)
        good.append(g)
        lines += [b, g]
    src = os.path.join(tmp, "bad.csv")
    with open(src, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    kept, rej = os.path.join(tmp, "k"), os.path.join(tmp, "r")
    rc, _, err = run(["-q", "--out", kept, "--rejects", rej, src])
    expect(rc == 0, "malformed file: exit %d %s" % (rc, err))
    got = read(kept).split(b"\n")
    expect(got[1:-1] == good, "every good row kept, in order: %r" % got[:5])
    nrej = read(rej).count(b",malformed,")
    expect(nrej >= len(bad) * 3 - 3, "malformed rows in rejects: %d" % nrej)


def test_threads_keep_order(tmp):
    """Rows are checked in batches on several threads and may finish in
    any order: the outputs must not depend on the number of threads.
    The file mixes duplicates, malformed and multi-line rows, and two
    rows large enough to close a batch early (by bytes, not rows)."""
    import random
    rng = random.Random(7)
    doms = ["gmail.com", "acme-widgets.com", "mailinator.com", "gmial.com",
            "example-corp.de", "b\xc3\xbccher.example.com"]
    lines = [b"email,name,note"]
    for i in range(30000):
        addr = b"u%d@%s" % (rng.randrange(8000), rng.choice(doms).encode())
        k = rng.randrange(100)
        if k < 2:
            lines.append(addr + b',"open,x')
        elif k < 5:
            lines.append(addr + b',"two\nlines",%d' % i)
        elif k < 7:
            lines.append(b"bad..%s,x,%d" % (addr, i))
        elif i in (12000, 12001):
            lines.append(addr + b',"' + b"x" * 700000 + b'",big')
        else:
            lines.append(addr + b",N%d,%d" % (i, k))
    src = os.path.join(tmp, "threads.csv")
    with open(src, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    want = None
    for threads in ("1", "2", "3", "8"):
        outs = []
        for extra in ([], ["--annotate", "--format", "jsonl"]):
            kept, rej = os.path.join(tmp, "tk"), os.path.join(tmp, "tr")
            rc, _, err = run(["-q", "--threads", threads, "--out", kept,
                              "--rejects", rej, src] + extra)
            expect(rc == 0, "--threads %s: exit %d %s" % (threads, rc, err))
            outs += [read(kept), read(rej)]
        if want is None:
            want = outs
            expect(want[0].count(b"\n") > 5000, "threads: rows kept")
        expect(outs == want, "--threads %s: outputs differ" % threads)
    rc, _, err = run(["--threads", "x", src])
    expect(rc == 2 and b"--threads" in err, "--threads x")


def test_errors(tmp):
    src = os.path.join(tmp, "in.csv")
    with open(src, "wb") as f:
        f.write(b"name,phone\nAnn,123\n")
    rc, _, err = run([src])
    expect(rc == 2 and b"no email column" in err, "no email column: %d" % rc)
    rc, _, err = run(["--column", "nope", src])
    expect(rc == 2 and b"no such column" in err, "--column unknown")
    rc, _, err = run(["--column", "9", src])
    expect(rc == 2, "--column index past the end")
    rc, _, err = run(["--format", "xml", src])
    expect(rc == 2 and b"--format" in err, "--format xml")
    rc, _, err = run(["--drop", "nonsense", src])
    expect(rc == 2 and b"nonsense" in err, "--drop unknown name")
    rc, _, err = run([os.path.join(tmp, "missing.csv")])
    expect(rc == 2 and b"missing.csv" in err, "missing input")
    rc, _, err = run(["--out", "/nonexistent/dir/k.csv", src])
    expect(rc == 2, "unwritable --out")
    rc, _, _ = run([])
    expect(rc == 2, "no input is a usage error")
    rc, _, err = run(["--resume", "-"])
    expect(rc == 2 and b"--resume" in err, "--resume needs files")
    p = subprocess.run([MAILVET, "clean", "--help"], capture_output=True)
    for flag in (b"--out", b"--rejects", b"--column", b"--delimiter",
                 b"--no-header", b"--annotate", b"--format", b"--drop",
                 b"--keep", b"--dedupe", b"--no-dedupe", b"--report",
                 b"--report-html", b"--offline", b"--resolver", b"--quiet",
                 b"--resume", b"--threads", b"Exit status"):
        expect(p.returncode == 0 and flag in p.stdout, "--help: %s" % flag)


def test_reports(tmp):
    src = os.path.join(GOLDEN, "quoted", "input.csv")
    rj, rh = os.path.join(tmp, "r.json"), os.path.join(tmp, "r.html")
    rc, out, err = run(["--report", rj, "--report-html", rh, src])
    expect(rc == 0, "report run: %d" % rc)
    r = json.loads(read(rj))
    expect(r["rows"] == 5 and r["kept"] == 3 and r["dropped"] == 2,
           "report counts: %r" % r)
    expect(r["dropped_by_reason"] == {"syntax_consecutive_dots": 1,
                                      "disposable": 1},
           "dropped_by_reason: %r" % r["dropped_by_reason"])
    expect(r["verdicts"]["undeliverable"] == 1, "verdicts")
    expect(r["unique_domains"] == 3, "unique domains")
    expect(r["top_domains"][0] == {"domain": "acme-widgets.com", "rows": 2,
                                   "dropped": 0}, "top domain")
    expect(r["offline"] is True and r["dns_queries"] == 0, "offline")
    expect(abs(r["bounce_rate"]["before"] - (1 + 0.05) / 5) < 1e-4,
           "bounce before: %r" % r["bounce_rate"])
    expect(r["bounce_rate"]["after"] == 0, "bounce after")
    h = read(rh)
    expect(h.startswith(b"<!DOCTYPE html>") and b"<svg" in h and
           b"acme-widgets.com" in h, "html report")
    expect(b"src=" not in h and b"href=" not in h and b"<script" not in h,
           "html report is self-contained")
    expect(b"3 kept" in err and b"bounce rate" in err and
           b"not checked" in err, "summary on stderr: %r" % err)
    expect(out.count(b"\n") == 5, "kept rows (with header and a "
                                  "two-line row) on stdout")
    rc, _, err = run(["-q", src])
    expect(err == b"", "--quiet: nothing on stderr")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_golden, test_every_good_row_survives,
                  test_threads_keep_order, test_errors, test_reports):
            t(tmp)
    if failures:
        print("%d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
