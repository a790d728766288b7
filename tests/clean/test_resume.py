#!/usr/bin/env python3
"""Interruption and --resume of `mailvet clean` (offline).

A generated CSV (quoted fields, embedded newlines, duplicates, malformed
rows) is cleaned once without interruption.  Then the same run is killed
with SIGKILL at random moments, resumed with --resume, killed again, ...
until it finishes; then once more with SIGINT.  The kept and rejected
files and the report's counts must equal the uninterrupted run's, byte
for byte: no row lost, none written twice, the dedupe set restored.

Checkpoints every 20 ms here (MAILVET_CHECKPOINT_MS) instead of 2 s, so
the kills land between many checkpoints.  Each attempt checks with a
different number of threads (1 to 4): rows are checked in batches on
those threads, out of order, and still written, checkpointed and
resumed exactly in input order.

usage: test_resume.py PATH/TO/mailvet [SEED]
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

MAILVET = sys.argv[1]
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 20240601
ROWS = 200000
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def make_input(path, rng):
    doms = ["gmail.com", "acme-widgets.com", "mailinator.com", "gmial.com",
            "foo.test", "example-corp.de", "yahoo.com"]
    out = [b"email,name,note\r\n"]
    for i in range(ROWS):
        k = rng.randrange(100)
        user = "user%d" % rng.randrange(ROWS // 2)  # many duplicates
        addr = "%s@%s" % (user, rng.choice(doms))
        if k < 2:
            out.append(b'%s,"open quote,x\r\n' % addr.encode())
        elif k < 4:
            out.append(b"%s,too,many,fields\r\n" % addr.encode())
        elif k < 8:
            out.append(b'%s,"Name, %d","two\r\nlines ""q"""\r\n'
                       % (addr.encode(), i))
        elif k < 10:
            out.append(b"bad..%s,N%d,x\r\n" % (addr.encode(), i))
        else:
            out.append(b"%s,N%d,%d\r\n" % (addr.encode(), i, k))
    with open(path, "wb") as f:
        f.write(b"".join(out))


def args(d, resume, threads=2):
    a = [MAILVET, "clean", "--offline", "-q", "--threads", str(threads),
         os.path.join(d, "in.csv"),
         "--out", os.path.join(d, "kept.csv"),
         "--rejects", os.path.join(d, "rej.csv"),
         "--report", os.path.join(d, "report.json")]
    return a + (["--resume"] if resume else [])


def interrupted_run(d, rng, sig, kills):
    env = dict(os.environ, MAILVET_CHECKPOINT_MS="20")
    resume, n = False, 0
    for attempt in range(200):
        p = subprocess.Popen(args(d, resume, 1 + attempt % 4), env=env,
                             stderr=subprocess.PIPE)
        if n < kills:
            time.sleep(rng.uniform(0.01, 0.25))
            p.send_signal(sig)
        _, err = p.communicate()
        if p.returncode == 0:
            return n
        if p.returncode == 2 and b"no checkpoint" in err:
            resume = False  # killed before its first checkpoint
        elif p.returncode in (-sig, 128 + sig):
            resume = True
        else:
            expect(False, "attempt %d: exit %d: %r" % (attempt, p.returncode,
                                                      err))
            return n
        n += 1
    expect(False, "never finished")
    return n


def counts(path):
    with open(path) as f:
        r = json.load(f)
    return {k: r[k] for k in ("rows", "kept", "dropped", "malformed",
                              "duplicates", "verdicts", "dropped_by_reason",
                              "unique_domains", "top_domains")}


def read(p):
    with open(p, "rb") as f:
        return f.read()


def main():
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as ref, \
            tempfile.TemporaryDirectory() as d:
        make_input(os.path.join(ref, "in.csv"), rng)
        rc = subprocess.run(args(ref, False)).returncode
        expect(rc == 0, "uninterrupted run: exit %d" % rc)
        os.link(os.path.join(ref, "in.csv"), os.path.join(d, "in.csv"))
        for sig, kills in ((signal.SIGKILL, 8), (signal.SIGINT, 3)):
            n = interrupted_run(d, rng, sig, kills)
            print("%s: %d interruptions" % (signal.Signals(sig).name, n))
            for f in ("kept.csv", "rej.csv"):
                expect(read(os.path.join(d, f)) == read(os.path.join(ref, f)),
                       "%s after %s x%d differs" % (f, sig, n))
            expect(counts(os.path.join(d, "report.json")) ==
                   counts(os.path.join(ref, "report.json")),
                   "report counts after %s" % sig)
            left = [f for f in os.listdir(d) if ".mv" in f]
            expect(left == [], "checkpoint files removed: %r" % left)
        rc = subprocess.run(args(d, True), capture_output=True)
        expect(rc.returncode == 2 and b"no checkpoint" in rc.stderr,
               "--resume after a finished run")
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
