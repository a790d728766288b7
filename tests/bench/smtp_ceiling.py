#!/usr/bin/env python3
"""smtp_ceiling.py: how many RCPT checks a second the SMTP fixture's
Postfix answers, to a client that does nothing else: the ceiling that
run-smtp compares mailvet with (as run-dns compares with dnsperf).

    smtp_ceiling.py SMTP_ENV ADDRESSES_FILE [--conns-per-domain K]
                    [--batch B]

Reads the addresses (one a line), groups them by domain, and for each
domain opens K connections (default 1) to its Postfix listener (the
address SMTP_IP_<DOMAIN'S FIRST LABEL> in SMTP_ENV: no DNS), all at once,
one thread each: EHLO, MAIL FROM:<>, then the recipients pipelined B at a
time (default 50, RSET and MAIL again between batches), QUIT.  Prints
one line: "rcpt=N accepted=A rejected=R other=O conns=C secs=S".
Standard library only.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "smtp"))
from smtpclient import Client, read_env  # noqa: E402


def worker(host, port, rcpts, batch, out, lock):
    counts = {"accepted": 0, "rejected": 0, "other": 0}
    with Client(host, port, timeout=60) as c:
        c.reply()
        c.ehlo("ceiling.mailvet.test")
        for i in range(0, len(rcpts), batch):
            chunk = rcpts[i:i + batch]
            lines = ["RSET"] if i else []
            lines += ["MAIL FROM:<>"] + ["RCPT TO:<%s>" % r for r in chunk]
            c.sock.sendall(("\r\n".join(lines) + "\r\n").encode())
            for _ in lines[:-len(chunk)]:
                c.reply()
            for _ in chunk:
                code = c.reply()[0] or 0
                key = ("accepted" if code // 100 == 2 else
                       "rejected" if code // 100 == 5 else "other")
                counts[key] += 1
        c.cmd("QUIT")
    with lock:
        for k, v in counts.items():
            out[k] += v


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    env = read_env(argv[0])
    opts = dict(zip(argv[2::2], argv[3::2]))
    per, batch = int(opts.get("--conns-per-domain", 1)), int(
        opts.get("--batch", 50))
    by_domain = {}
    for line in open(argv[1], encoding="utf-8"):
        a = line.strip()
        if "@" in a:
            by_domain.setdefault(a.rsplit("@", 1)[1], []).append(a)
    port = int(env["SMTP_PORT"])
    out = {"accepted": 0, "rejected": 0, "other": 0}
    lock = threading.Lock()
    threads = []
    for dom, rcpts in by_domain.items():
        host = env["SMTP_IP_" + dom.split(".")[0].upper()]
        for k in range(per):
            threads.append(threading.Thread(target=worker, args=(
                host, port, rcpts[k::per], batch, out, lock)))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    print("rcpt=%d accepted=%d rejected=%d other=%d conns=%d secs=%.3f"
          % (sum(out.values()), out["accepted"], out["rejected"],
             out["other"], len(threads), secs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
