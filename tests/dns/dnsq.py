#!/usr/bin/env python3
"""dnsq.py: a one-shot DNS query, for scripts where dig may be missing.

    dnsq.py -p PORT [-s 127.0.0.1] [--tcp] [--timeout 2] [--no-rd]
            [--edns] [--rcode-only] NAME [TYPE]

Prints a dig-like summary:
    ;; NOERROR id=4242 flags=qr aa rd ra udp 0.9 ms
    ;; ANSWER
    mx.mvtest.  3600 IN MX 10 mx1.mx.mvtest.
    ...
--rcode-only prints just the rcode word (NOERROR, NXDOMAIN, ...).
Replies whose ID does not match are reported and ignored (the wait goes
on).  Exit status: 0 a reply was parsed; 1 timeout; 2 an unparsable reply
(connection closed, garbage, bad counts).  Standard library only.
"""

import argparse
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as W  # noqa: E402


def flags_text(m):
    return " ".join(f for f in ("qr", "aa", "tc", "rd", "ra") if m[f])


def query_udp(server, port, msg, qid, timeout, note):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((server, port))
        s.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                buf = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                note.append(";; ICMP port unreachable (nothing listens)")
                return None
            if len(buf) >= 2 and struct.unpack("!H", buf[:2])[0] != qid:
                note.append(";; ignored a reply with id=%d (%d bytes)"
                            % (struct.unpack("!H", buf[:2])[0], len(buf)))
                continue
            return buf
    finally:
        s.close()


def query_tcp(server, port, msg, timeout, note):
    deadline = time.monotonic() + timeout
    try:
        s = socket.create_connection((server, port), timeout=timeout)
    except (socket.timeout, OSError) as e:
        note.append(";; TCP connect failed: %s" % e)
        return None
    try:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        buf = b""
        need = 2
        while len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                chunk = s.recv(65535)
            except socket.timeout:
                return None
            except OSError as e:
                note.append(";; TCP error: %s" % e)
                return b""
            if not chunk:
                note.append(";; TCP connection closed by the server")
                return b""
            buf += chunk
            if len(buf) >= 2:
                need = 2 + struct.unpack("!H", buf[:2])[0]
        return buf[2:need]
    finally:
        s.close()


def main(argv):
    ap = argparse.ArgumentParser(description="one-shot DNS query")
    ap.add_argument("-s", "--server", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--no-rd", action="store_true")
    ap.add_argument("--edns", action="store_true",
                    help="send an OPT RR (UDP size 1232)")
    ap.add_argument("--rcode-only", action="store_true")
    ap.add_argument("name")
    ap.add_argument("type", nargs="?", default="A")
    args = ap.parse_args(argv)

    qid = random.randrange(0, 65536)
    msg = W.build_query(qid, args.name, args.type, rd=not args.no_rd,
                        edns_size=1232 if args.edns else None)
    note = []
    t0 = time.monotonic()
    if args.tcp:
        buf = query_tcp(args.server, args.port, msg, args.timeout, note)
    else:
        buf = query_udp(args.server, args.port, msg, qid, args.timeout, note)
    ms = (time.monotonic() - t0) * 1000
    for n in note:
        print(n)
    if buf is None:
        print("TIMEOUT" if args.rcode_only else
              ";; TIMEOUT after %.0f ms" % ms)
        return 1
    try:
        m = W.parse_message(buf)
    except W.DNSParseError as e:
        print("UNPARSABLE" if args.rcode_only else
              ";; UNPARSABLE reply, %d bytes (%s): %s"
              % (len(buf), e, buf.hex()))
        return 2
    if args.rcode_only:
        print(W.rcode_name(m["rcode"]))
        return 0
    print(";; %s id=%d flags=%s %s %.1f ms%s"
          % (W.rcode_name(m["rcode"]), m["id"], flags_text(m),
             "tcp" if args.tcp else "udp", ms,
             "" if m["id"] == qid else " (ID MISMATCH: sent %d)" % qid))
    for sect in ("answer", "authority", "additional"):
        if m[sect]:
            print(";; " + sect.upper())
            for r in m[sect]:
                print("%s\t%d\tIN\t%s\t%s"
                      % (r["name"], r["ttl"], r["type"], r["data"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
