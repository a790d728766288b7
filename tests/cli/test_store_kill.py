#!/usr/bin/env python3
"""Reliability: SIGKILL `mailvet store import` at random points of a
100,000-row import, many times.  After each kill, every row the import
acknowledged ("committed through line N" on stderr, written only after
the commit returned) must be in the store, and the SQLite file must pass
PRAGMA integrity_check.  The import is then started again, as a person
would.  Ends with one import run to completion.  Seeded, so a failure
can be replayed: MV_KILL_SEED=... test_store_kill.py MAILVET.

usage: test_store_kill.py PATH/TO/mailvet [ROUNDS]
"""
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

MAILVET = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 25
ROWS = 100000
seed = int(os.environ.get("MV_KILL_SEED", time.time()))
rng = random.Random(seed)
tmp = tempfile.mkdtemp(prefix="mv-kill-")
src = os.path.join(tmp, "bounces.csv")
db = os.path.join(tmp, "store.db")
ACK = re.compile(rb"committed through line (\d+)")

with open(src, "w") as f:
    f.write("address,status,diagnostic\n")
    for i in range(ROWS):
        f.write("k%d@kill.example.net,550 5.1.1,user unknown\n" % i)


def check(acked_line):
    """Every row on lines 2..acked_line is stored; the file is sound."""
    con = sqlite3.connect(db)
    ok = con.execute("PRAGMA integrity_check").fetchall()
    # killed before the schema was made: an empty store
    made = con.execute("SELECT count(*) FROM sqlite_master WHERE "
                       "name = 'entries'").fetchone()[0]
    keys = {r[0] for r in con.execute(
        "SELECT key FROM entries WHERE suppressed = 1")} if made else set()
    con.close()
    if ok != [("ok",)]:
        return "integrity_check: %r" % ok
    missing = [i for i in range(acked_line - 1)
               if "k%d@kill.example.net" % i not in keys]
    if missing:
        return "%d acknowledged rows missing, first k%d" % (len(missing),
                                                            missing[0])
    return None


def main():
    acked = 0  # the highest line any run on this store acknowledged
    kills = 0
    most = 0
    started = time.monotonic()
    for r in range(ROUNDS):
        if r % 3 == 0:  # a fresh store, then two kill-and-restarts on it
            for ext in ("", "-wal", "-shm"):
                if os.path.exists(db + ext):
                    os.unlink(db + ext)
            acked = 0
        p = subprocess.Popen([MAILVET, "store", "--store", db, "import",
                              "-v", src], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.02, 0.9))
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate()
        if p.returncode == -signal.SIGKILL:
            kills += 1
        for m in ACK.finditer(err):
            acked = max(acked, int(m.group(1)))
        if p.returncode == -signal.SIGKILL:
            most = max(most, acked)
        why = check(acked)
        if why:
            print("FAIL round %d (seed %d): %s" % (r, seed, why),
                  file=sys.stderr)
            return 1
    p = subprocess.run([MAILVET, "store", "--store", db, "import", src],
                       capture_output=True)
    why = check(ROWS + 1) if p.returncode == 0 else p.stderr.decode()
    if why:
        print("FAIL final import (seed %d): %s" % (seed, why),
              file=sys.stderr)
        return 1
    print("%d rounds, %d killed mid-import, up to %d lines acknowledged "
          "before a kill, all present, integrity ok (%.1f s, seed %d)" %
          (ROUNDS, kills, most, time.monotonic() - started, seed))
    return 0


rc = main()
subprocess.run(["rm", "-rf", tmp])
sys.exit(rc)
