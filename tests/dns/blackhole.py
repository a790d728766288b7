#!/usr/bin/env python3
"""blackhole.py: a DNS "server" that reads every query and never answers.

    blackhole.py --port P [--address 127.0.0.1] [--pidfile F] [--port-file F]

UDP: datagrams are read and dropped.  TCP: connections are accepted, their
bytes read and discarded, and they are kept open (never answered) until
the peer closes them; at most 256 are kept, the oldest closed beyond that.
Each datagram / TCP message is logged to stderr as
  <unix time> <udp|tcp> <peer> id=<id> <TYPE> <qname> -> no answer
so a test can count how often a resolver retried.  Loopback addresses
only; --port 0 picks a free port (written to --port-file).  The pidfile is
written once both sockets are bound and removed on SIGTERM/SIGINT.
Standard library only.
"""

import argparse
import collections
import os
import selectors
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as W  # noqa: E402
from faultdns import bind_pair, check_loopback, write_atomic  # noqa: E402

MAX_TCP = 256


def describe(buf):
    try:
        h, labels, qtype, _, _, _ = W.parse_question(buf)
        return "id=%d %s %s" % (h["id"], W.type_name(qtype),
                                W.labels_to_text(labels))
    except W.DNSParseError as e:
        return "unparsable %d bytes (%s)" % (len(buf), e)


def log(line):
    try:
        sys.stderr.write("%.3f %s\n" % (time.time(), line))
        sys.stderr.flush()
    except Exception:
        pass


def main(argv):
    ap = argparse.ArgumentParser(description="DNS blackhole (never answers)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--pidfile")
    ap.add_argument("--port-file")
    args = ap.parse_args(argv)
    check_loopback(args.address)
    udp, tcp = bind_pair(args.address, args.port)
    port = udp.getsockname()[1]
    udp.setblocking(False)
    tcp.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    conns = collections.OrderedDict()  # sock -> [peer, buffer]

    written = []

    def cleanup(*_):
        for p in written:
            try:
                os.unlink(p)
            except OSError:
                pass
        log("blackhole: stopping")
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
        written.append(args.port_file)
    if args.pidfile:
        write_atomic(args.pidfile, "%d\n" % os.getpid())
        written.append(args.pidfile)
    log("blackhole: listening on %s:%d (udp+tcp), pid %d"
        % (args.address, port, os.getpid()))

    def drop_conn(c):
        try:
            sel.unregister(c)
        except (KeyError, ValueError):
            pass
        conns.pop(c, None)
        c.close()

    while True:
        for key, _ in sel.select():
            kind = key.data
            try:
                if kind == "udp":
                    while True:
                        try:
                            buf, addr = udp.recvfrom(65535)
                        except BlockingIOError:
                            break
                        log("udp %s:%d %s -> no answer"
                            % (addr[0], addr[1], describe(buf)))
                elif kind == "listen":
                    try:
                        c, addr = tcp.accept()
                    except BlockingIOError:
                        continue
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "conn")
                    conns[c] = ["%s:%d" % addr, b""]
                    if len(conns) > MAX_TCP:
                        drop_conn(next(iter(conns)))
                else:
                    c = key.fileobj
                    st = conns.get(c)
                    try:
                        chunk = c.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk or st is None:
                        drop_conn(c)
                        continue
                    st[1] += chunk
                    while len(st[1]) >= 2:
                        (n,) = struct.unpack("!H", st[1][:2])
                        if len(st[1]) < 2 + n:
                            break
                        msg, st[1] = st[1][2:2 + n], st[1][2 + n:]
                        log("tcp %s %s -> no answer" % (st[0], describe(msg)))
                    if len(st[1]) > 70000:
                        st[1] = b""
            except Exception as e:  # never die on input
                log("blackhole: ignored error %r" % (e,))


if __name__ == "__main__":
    main(sys.argv[1:])
