#!/usr/bin/env python3
"""count-queries.py: count client queries in Unbound's query log.

    count-queries.py [--from-byte N] [--type MX] [--suffix bulk.mvtest.]
                     [--name NAME]... [--by-name] LOG
    count-queries.py --size LOG          # print LOG's size (a mark)

Unbound (log-queries: yes) writes one line per query it receives:
    [1700000000] unbound[1234:0] info: 127.0.0.1 d00001.bulk.mvtest. MX IN
Only those lines count (not SERVFAIL reasons or notices).  Names are
compared case-insensitively, with the trailing dot optional.  To count
what one test sent: take `--size LOG` before, then `--from-byte` that
number after.  Note that start-servers.sh itself asks `mx.mvtest. MX`
once (its readiness check).  Prints one number (or NAME COUNT lines with
--by-name).  Standard library only.
"""

import argparse
import os
import re
import sys

LINE = re.compile(r"\] unbound\[\d+:\d+\] info: (\S+) (\S+) (\S+) (\S+)$")


def iter_queries(path, from_byte=0):
    """Yield (client, name, type, class) for each logged query."""
    with open(path, "rb") as f:
        f.seek(from_byte)
        for raw in f:
            m = LINE.search(raw.decode("utf-8", "replace").rstrip("\n"))
            if m:
                yield m.group(1), m.group(2), m.group(3), m.group(4)


def norm(name):
    name = name.lower()
    return name if name.endswith(".") else name + "."


def count(path, from_byte=0, qtype=None, suffix=None, names=None):
    suffix = norm(suffix) if suffix else None
    names = {norm(n) for n in names} if names else None
    per = {}
    for _, name, t, _ in iter_queries(path, from_byte):
        n = norm(name)
        if qtype and t.upper() != qtype.upper():
            continue
        if suffix and not (n == suffix or n.endswith("." + suffix)):
            continue
        if names is not None and n not in names:
            continue
        per[n] = per.get(n, 0) + 1
    return per


def main(argv):
    ap = argparse.ArgumentParser(description="count queries in Unbound's log")
    ap.add_argument("log")
    ap.add_argument("--size", action="store_true",
                    help="print the log's size in bytes and exit")
    ap.add_argument("--from-byte", type=int, default=0)
    ap.add_argument("--type")
    ap.add_argument("--suffix")
    ap.add_argument("--name", action="append")
    ap.add_argument("--by-name", action="store_true")
    args = ap.parse_args(argv)
    if args.size:
        print(os.path.getsize(args.log))
        return 0
    per = count(args.log, args.from_byte, args.type, args.suffix, args.name)
    if args.by_name:
        for n in sorted(per):
            print(n, per[n])
    else:
        print(sum(per.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
