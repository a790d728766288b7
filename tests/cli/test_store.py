#!/usr/bin/env python3
"""End-to-end tests of `mailvet store` and `mailvet check --store`:
add / remove / show / list / stats / export / import, malformed import
rows reported with file and line, the default path under
$XDG_DATA_HOME, suppression in check (suppressed_<source>, scopes,
domain-wide), --record, and two processes importing into one file
(also when both start on a file that does not exist yet).

usage: test_store.py PATH/TO/mailvet [STORE]   (STORE: a postgresql://
URI to run against PostgreSQL; default a SQLite file per test.  With a
URI each test that wants a store of its own gets a new database on that
server, made with psql)
"""
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse

MAILVET = sys.argv[1]
PG = sys.argv[2] if len(sys.argv) > 2 else None
failures = []
TMP = tempfile.mkdtemp(prefix="mv-store-")
RUN = "r%d" % os.getpid()
ENV = dict(os.environ, XDG_DATA_HOME=os.path.join(TMP, "xdg"))


def run(args, stdin=b"", env=ENV):
    p = subprocess.run([MAILVET] + args, input=stdin, capture_output=True,
                       env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


_n = [0]


def fresh():
    """A store of its own for one test."""
    _n[0] += 1
    if PG:
        name = "mv_%s_%d" % (RUN, _n[0])
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG,
                        "-c", 'CREATE DATABASE "%s"' % name], check=True)
        return urllib.parse.urlsplit(PG)._replace(path="/" + name).geturl()
    return os.path.join(TMP, "s%d.db" % _n[0])


def a(local, domain="acme-widgets.com"):
    return "%s.%s@%s" % (local, RUN, domain)


def test_help():
    rc, out, _ = run(["store", "--help"])
    expect(rc == 0 and "import FILE" in out and "--store PATH|URI" in out,
           "store --help")
    rc, out, _ = run(["--help"])
    expect("store COMMAND" in out, "main help names store")
    rc, _, _ = run(["store"])
    expect(rc == 2, "store without a command is a usage error")
    rc, _, err = run(["store", "frob"])
    expect(rc == 2 and "unknown command" in err, "store frob")
    rc, _, _ = run(["store", "show"])
    expect(rc == 2, "show needs an address")


def test_add_show_remove():
    s = fresh()
    x = a("Bob.Smith+news", "GoogleMail.com")
    key = "bobsmith%s@gmail.com" % ("." + RUN).replace(".", "")
    rc, out, err = run(["store", "--store", s, "add", x, "--reason",
                        "complaint"])
    expect(rc == 0 and out.startswith("added "), "add: %s %s" % (out, err))
    key = out.split()[1]
    rc, out, _ = run(["store", "--store", s, "show", "--json", x])
    e = json.loads(out) if rc == 0 else {}
    expect(e.get("state") == "suppressed" and e.get("source") == "manual"
           and e.get("reason") == "complaint" and e.get("address") == x
           and e.get("key") == key, "show after add: %r" % e)
    rc, out, _ = run(["store", "--store", s, "remove", x, "--by", "alice"])
    expect(rc == 0, "remove")
    rc, out, _ = run(["store", "--store", s, "show", "--json", x])
    e = json.loads(out) if rc == 0 else {}
    expect(e.get("state") == "removed" and e.get("removed_by") == "alice",
           "removed stays in history: %r" % e)
    rc, _, _ = run(["store", "--store", s, "remove", x])
    expect(rc == 1, "removing again: not suppressed")
    rc, _, _ = run(["store", "--store", s, "show", a("nobody")])
    expect(rc == 1, "show of an unknown address exits 1")
    rc, _, err = run(["store", "--store", s, "add", "not an address"])
    expect(rc == 2 and "not an address" in err, "add rejects non-address")


def test_import_reports_bad_rows():
    s = fresh()
    src = os.path.join(TMP, "bounces.csv")
    rows = ("address,status,diagnostic,timestamp\r\n"
            "%s,550,\"user unknown, sorry\",2024-05-01T10:00:00Z\r\n"
            "not-an-address,550\r\n"
            "%s,250\r\n"
            "\"unterminated,550\r\n"
            "%s,4.2.2,,2024-05-01\r\n"
            "%s,4.2.2,,2024-05-02\r\n"
            "%s,452 4.2.2,\"mailbox\nfull\",2024-05-03T00:00:00+02:00\r\n"
            "%s,5.1.1,,yesterday\r\n"
            "%s,450\r\n" % (a("hard"), a("ok"), a("soft"), a("soft"),
                            a("soft"), a("when"), a("once")))
    with open(src, "w") as f:
        f.write(rows)
    rc, _, err = run(["store", "--store", s, "import", src])
    expect(rc == 1, "import with bad rows exits 1, got %d" % rc)
    for line in (3, 4, 5, 10):  # the quoted diagnostic spans 8-9
        expect("%s:%d:" % (src, line) in err,
               "bad row at line %d reported: %s" % (line, err))
    expect("5 recorded, 4 skipped" in err, "import counts: " + err)
    rc, out, _ = run(["store", "--store", s, "list", "--json"])
    keys = {json.loads(l)["key"]: json.loads(l) for l in out.splitlines()}
    expect(a("hard").lower() in keys and a("soft").lower() in keys,
           "hard and 3 soft suppressed: %r" % list(keys))
    expect(a("once").lower() not in keys, "one soft bounce does not")
    soft = keys.get(a("soft").lower(), {})
    expect(soft.get("diagnostic") == "mailbox full"
           and soft.get("status") == "452 4.2.2", "soft fields %r" % soft)
    rc, out, _ = run(["store", "--store", s, "list", "--all"])
    expect("pending" in out and a("once").lower() in out, "list --all")


def test_export_and_stats():
    s = fresh()
    run(["store", "--store", s, "add", a("e1"), a("e2"), "@" + RUN + ".org"])
    run(["store", "--store", s, "remove", a("e2")])
    rc, out, _ = run(["store", "--store", s, "export"])
    rows = list(csv.DictReader(io.StringIO(out)))
    mine = [r for r in rows if RUN in r["key"]]
    expect(rc == 0 and len(mine) == 3, "export csv: %r" % mine)
    expect({r["state"] for r in mine} == {"suppressed", "removed"},
           "export states")
    rc, out, _ = run(["store", "--store", s, "export", "--format", "jsonl"])
    objs = [json.loads(l) for l in out.splitlines()]
    expect(len([o for o in objs if RUN in o["key"]]) == 3, "export jsonl")
    rc, out, _ = run(["store", "--store", s, "export", "--format", "xml"])
    expect(rc == 2, "export --format xml is a usage error")
    rc, out, _ = run(["store", "--store", s, "stats"])
    expect(rc == 0 and "domains:" in out and "removed:" in out, "stats")


def test_default_path():
    if PG:
        return
    rc, out, err = run(["store", "add", a("dflt")])
    path = os.path.join(TMP, "xdg", "mailvet", "store.db")
    expect(rc == 0 and os.path.exists(path), "default path %s: %s" %
           (path, err))
    rc, out, _ = run(["check", "--offline", "--store", "default", a("dflt")])
    expect(rc == 1 and "suppressed_manual" in out, "check --store default")
    db = sqlite3.connect(path)
    expect(db.execute("PRAGMA journal_mode").fetchone()[0] == "wal",
           "the store is in WAL mode")
    expect(db.execute("PRAGMA user_version").fetchone()[0] >= 1,
           "schema version recorded")


def test_check_suppresses():
    s = fresh()
    run(["store", "--store", s, "add", a("man")])
    run(["store", "--store", s, "add", "--scope", "brand-a", a("scoped")])
    run(["store", "--store", s, "add", "@dead-%s.org" % RUN])
    src = os.path.join(TMP, "hb.csv")
    with open(src, "w") as f:
        f.write("address,status\n%s,5.1.1\n" % a("hb"))
    run(["store", "--store", s, "import", src])
    rc, out, _ = run(["check", "--offline", "--json", "--store", s,
                      a("man"), a("hb"), a("fine"),
                      "Someone@DEAD-%s.org" % RUN, a("scoped")])
    res = [json.loads(l) for l in out.splitlines()]
    want = [["suppressed_manual"], ["suppressed_hard_bounce"], [],
            ["suppressed_manual"], []]
    expect([r["reasons"] for r in res] == want,
           "check reasons %r" % [r["reasons"] for r in res])
    expect(all("store" in r["stages"] for r in res), "store stage ran")
    rc, out, _ = run(["check", "--offline", "--store", s, "--scope",
                      "brand-a", a("scoped")])
    expect(rc == 1 and "suppressed_manual" in out, "scoped suppression")
    rc, _, err = run(["check", "--offline", "--record", a("x")])
    expect(rc == 2 and "need --store" in err, "--record needs --store")


def test_record():
    s = fresh()
    rc, out, err = run(["check", "--offline", "--store", s, "--record",
                        "someone-%s@foo.test" % RUN, "a..b@x.com", a("ok")])
    expect("1 verdict(s) recorded" in err, "record: " + err)
    rc, out, _ = run(["check", "--offline", "--store", s, "--json",
                      "--record", "someone-%s@foo.test" % RUN])
    rc, out, _ = run(["store", "--store", s, "show", "--json",
                      "someone-%s@foo.test" % RUN])
    e = json.loads(out) if rc == 0 else {}
    expect(e.get("source") == "validation" and
           e.get("reason") == "reserved_domain", "recorded entry %r" % e)
    rc, out, _ = run(["store", "--store", s, "show", a("ok")])
    expect(rc == 1, "deliverable not recorded")


def test_clean_uses_the_store():
    s = fresh()
    run(["store", "--store", s, "add", a("gone")])
    src = os.path.join(TMP, "list.csv")
    with open(src, "w") as f:
        f.write("email,name\n%s,Gone\n%s,Fine\nsomeone-%s@foo.test,Res\n"
                % (a("gone"), a("fine"), RUN))
    kept, rej = os.path.join(TMP, "kept.csv"), os.path.join(TMP, "rej.csv")
    rc, _, err = run(["clean", "--offline", "--quiet", "--store", s,
                      "--record", src, "--out", kept, "--rejects", rej])
    expect(rc == 0, "clean --store exit 0: %d %s" % (rc, err))
    with open(kept) as f:
        k = f.read()
    with open(rej) as f:
        r = f.read()
    expect(a("fine") in k and a("gone") not in k, "kept: %r" % k)
    expect("suppressed_manual" in r, "suppressed row rejected: %r" % r)
    rc, out, _ = run(["store", "--store", s, "show", "--json",
                      "someone-%s@foo.test" % RUN])
    expect(rc == 0 and json.loads(out).get("source") == "validation",
           "clean --record wrote the permanent verdict")
    rc, _, err = run(["clean", "--offline", "--scope", "x", src])
    expect(rc == 2 and "need --store" in err, "clean --scope needs --store")


def test_concurrent_imports():
    """Two processes import into one file at once: nothing lost."""
    if PG:
        s = PG
    else:
        s = fresh()
    n = 20000
    files = []
    for k in range(2):
        p = os.path.join(TMP, "c%d.csv" % k)
        with open(p, "w") as f:
            f.write("address,status\n")
            for i in range(n):
                f.write("c%d-%d.%s@conc.example.net,550\n" % (k, i, RUN))
        files.append(p)
    procs = [subprocess.Popen([MAILVET, "store", "--store", s, "import", p],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=ENV) for p in files]
    outs = [p.communicate() for p in procs]
    for p, (o, e) in zip(procs, outs):
        expect(p.returncode == 0, "concurrent import: %s" % e.decode())
    rc, out, _ = run(["store", "--store", s, "export"])
    got = sum(1 for line in out.splitlines() if RUN + "@conc" in line)
    expect(got == 2 * n, "both imports complete: %d of %d" % (got, 2 * n))


def test_concurrent_first_imports():
    """Two imports start at once on a store that does not exist yet: the
    first writes race to make the file (WAL on, schema) and may be told
    "busy"; both must retry and finish, every row present.  Several
    rounds, since the race is narrow."""
    rounds = 3 if PG else 40
    n = 50
    for r in range(rounds):
        s = fresh()
        files = []
        for k in range(2):
            p = os.path.join(TMP, "f%d-%d.csv" % (r, k))
            with open(p, "w") as f:
                f.write("address,status\n")
                for i in range(n):
                    f.write("f%d-%d-%d.%s@first.example.net,550\n" %
                            (r, k, i, RUN))
            files.append(p)
        procs = [subprocess.Popen([MAILVET, "store", "--store", s, "import",
                                   p], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=ENV)
                 for p in files]
        outs = [p.communicate() for p in procs]
        for p, (o, e) in zip(procs, outs):
            expect(p.returncode == 0,
                   "first imports, round %d: %s" % (r, e.decode()))
        rc, out, _ = run(["store", "--store", s, "export"])
        got = sum(1 for line in out.splitlines() if RUN + "@first" in line)
        expect(got == 2 * n, "first imports, round %d: %d of %d rows" %
               (r, got, 2 * n))


DSN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "dsn")


def test_ingest_dsn():
    s = fresh()
    files = [os.path.join(DSN, f) for f in
             ("rfc3464.eml", "qmail.eml", "exim.eml", "not-a-bounce.eml")]
    rc, _, err = run(["store", "--store", s, "ingest-dsn"] + files)
    expect(rc == 1 and "4 recorded, 1 skipped" in err and
           "not-a-bounce.eml: not a bounce" in err, "ingest-dsn: " + err)
    rc, out, _ = run(["store", "--store", s, "list", "--all", "--json"])
    got = {json.loads(l)["key"]: json.loads(l) for l in out.splitlines()}
    gone = got.get("gone.user@acme-widgets.com", {})
    expect(gone.get("state") == "suppressed" and gone.get("status") == "5.1.1"
           and "User unknown" in gone.get("diagnostic", "")
           and gone.get("last_seen") == "2024-05-01T10:00:00Z",
           "RFC 3464 hard bounce: %r" % gone)
    expect(got.get("full.box@acme-widgets.com", {}).get("state") == "pending",
           "RFC 3464 4.2.2 failed: one soft bounce, pending")
    expect("slow@acme-widgets.com" not in got, "Action: delayed ignored")
    expect(got.get("no.such.person@example-shop.net", {}).get("status") ==
           "5.1.1", "qmail bounce")
    expect(got.get("closed.account@example-shop.net", {}).get("status") ==
           "550", "exim bounce")
    expect("bob@example-shop.net" not in got, "ordinary mail ignored")
    # mbox, from a file and from stdin: the non-bounce is named by line
    for args, stdin, name in (
            ([os.path.join(DSN, "bounces.mbox")], b"", "bounces.mbox"),
            (["-"], open(os.path.join(DSN, "bounces.mbox"), "rb").read(),
             "stdin")):
        rc, _, err = run(["store", "--store", fresh(), "ingest-dsn"] + args,
                         stdin=stdin)
        expect(rc == 1 and "3 recorded, 1 skipped" in err and
               "%s:51: not a bounce" % name in err, "mbox %s: %s" %
               (name, err))
    # Maildir
    md = os.path.join(TMP, "Maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for sub, f in (("new", "qmail.eml"), ("cur", "exim.eml")):
        with open(os.path.join(DSN, f), "rb") as src, \
                open(os.path.join(md, sub, f + ":2,S"), "wb") as dst:
            dst.write(src.read())
    rc, _, err = run(["store", "--store", fresh(), "ingest-dsn", md])
    expect(rc == 0 and "2 recorded, 0 skipped" in err, "Maildir: " + err)


for t in [test_help, test_ingest_dsn, test_add_show_remove, test_import_reports_bad_rows,
          test_export_and_stats, test_default_path, test_check_suppresses,
          test_record, test_concurrent_imports,
          test_concurrent_first_imports]:
    t()
subprocess.run(["rm", "-rf", TMP])
if failures:
    print("%d failure(s)" % len(failures), file=sys.stderr)
    sys.exit(1)
print("all store CLI tests passed")
