#!/usr/bin/env python3
"""faultdns.py: a scripted DNS fault server for the DNS-stage tests.

    faultdns.py --port P [--address 127.0.0.1] [--pidfile F] [--port-file F]
                [--log F] [--late-seconds 3]

Listens on UDP and TCP on the same port of a loopback address (127.0.0.0/8
only).  --port 0 picks a free port; --port-file then tells which.  The
pidfile is written once both sockets are bound; both files are removed on
SIGTERM/SIGINT.

The behaviour is chosen by the LEFTMOST label of the query name that is a
mode name below, under any suffix: `servfail.fault.test.`, or
`mx.ok.fault.test.` (first label `mx` is no mode, so `ok` applies: this is
how the MX host names handed out by `ok`/`trunc`/`late` resolve too).
Mode names are matched case-insensitively; the question is echoed exactly
as received (0x20 case preserved).

  ok         MX query -> MX 10 mx.<qname>; A -> A 198.51.99.99;
             any other type (AAAA included) -> NOERROR/NODATA with SOA
  servfail   SERVFAIL
  refused    REFUSED
  nxdomain   NXDOMAIN, SOA of the parent zone in the authority section
  trunc      UDP: TC=1, no records.  TCP: the `ok` answer
  truncfail  UDP: TC=1, no records.  TCP: the connection is closed after
             the query is read, without an answer
  wrongid    the `ok` answer with a wrong message ID (ID xor 0x5555),
             then nothing
  garbage    7 random bytes (TCP: with the 2-byte length prefix)
  badcount   NOERROR header claiming ANCOUNT=5 with no answer records
  late       the `ok` answer after --late-seconds (default 3)
  (extras)
  drop       never answers (TCP: keeps the connection open)
  nodata     NOERROR, no answer, SOA in authority
  formerr    FORMERR
  notimp     NOTIMP
  a name with no mode label -> REFUSED

Every query is logged, one line each, to stderr (and to --log F):
  <unix time> <udp|tcp> <peer> id=<id> <TYPE> <qname> mode=<mode> -> <action>
Malformed input is logged and dropped (UDP) or closes the connection
(TCP); the server never dies on input.  Standard library only.
"""

import argparse
import ipaddress
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire as W  # noqa: E402

MODES = ("ok", "servfail", "refused", "nxdomain", "trunc", "truncfail",
         "wrongid", "garbage", "badcount", "late", "drop", "nodata",
         "formerr", "notimp")
OK_A = "198.51.99.99"
TTL = 60

_log_lock = threading.Lock()
_log_file = None


def log(line):
    line = "%.3f %s\n" % (time.time(), line)
    with _log_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except Exception:
            pass
        if _log_file is not None:
            try:
                _log_file.write(line)
                _log_file.flush()
            except Exception:
                pass


def pick_mode(labels):
    """Index and name of the leftmost label that is a mode, or (None, None)."""
    for i, raw in enumerate(labels):
        try:
            text = raw.decode("ascii").lower()
        except UnicodeDecodeError:
            continue
        if text in MODES:
            return i, text
    return None, None


def wire_labels(labels):
    out = bytearray()
    for l in labels:
        out.append(len(l))
        out += l
    out.append(0)
    return bytes(out)


class Reply:
    """What to do with one query."""

    def __init__(self, data=None, delay=0.0, close=False, note=""):
        self.data = data      # bytes to send, or None for no answer
        self.delay = delay    # seconds before sending
        self.close = close    # TCP: close the connection (after data, if any)
        self.note = note      # for the log


def make_response(qid, flags_in, raw_q, rcode, answers=(), authority=(),
                  aa=True, tc=False, edns=False, ancount=None):
    flags = W.QR | (flags_in & W.RD) | W.RA | (rcode & 0xF)
    if aa:
        flags |= W.AA
    if tc:
        flags |= W.TC
    an = len(answers) if ancount is None else ancount
    ar = 1 if edns else 0
    hdr = struct.pack("!HHHHHH", qid, flags, 1, an, len(authority), ar)
    body = raw_q + b"".join(answers) + b"".join(authority)
    if edns:
        body += W.opt_rr(1232)
    return hdr + body


def soa_rr(zone_labels):
    zone = wire_labels(zone_labels)
    zone_text = W.labels_to_text(zone_labels)
    prefix = "" if zone_text == "." else zone_text
    rdata = W.rdata_soa("ns." + prefix if prefix else "ns.",
                        "hostmaster." + prefix if prefix else "hostmaster.",
                        1, 3600, 900, 604800, TTL)
    return W.rr(zone, W.TYPES["SOA"], TTL, rdata)


def ok_records(labels, qtype):
    """Answer records of the `ok` behaviour (empty list = NODATA)."""
    owner = b"\xc0\x0c"  # pointer to the question name
    if qtype == W.TYPES["MX"]:
        mx_host = W.labels_to_text([b"mx"] + list(labels))
        return [W.rr(owner, qtype, TTL, W.rdata_mx(10, mx_host))]
    if qtype == W.TYPES["A"]:
        return [W.rr(owner, qtype, TTL, W.rdata_a(OK_A))]
    return []


def handle(buf, transport, peer, late_seconds):
    """Decide the reply to one query message (bytes)."""
    try:
        h, labels, qtype, qclass, raw_q, q_end = W.parse_question(buf)
    except W.DNSParseError as e:
        # Answer FORMERR when at least the header is there, else drop.
        if len(buf) >= 12:
            qid, flags = struct.unpack("!HH", bytes(buf[:4]))
            if not flags & W.QR:
                hdr = struct.pack("!HHHHHH", qid,
                                  W.QR | (flags & W.RD) | W.RA | 1,
                                  0, 0, 0, 0)
                log("%s %s malformed query (%s) -> FORMERR"
                    % (transport, peer, e))
                return Reply(hdr)
        log("%s %s malformed input, %d bytes (%s) -> dropped"
            % (transport, peer, len(buf), e))
        return Reply(None)

    qid, flags = h["id"], h["flags"]
    qname = W.labels_to_text(labels)
    tname = W.type_name(qtype)
    prefix = "%s %s id=%d %s %s" % (transport, peer, qid, tname, qname)

    if h["qr"]:
        log("%s -> dropped (QR set: not a query)" % prefix)
        return Reply(None)
    if h["opcode"] != 0:
        log("%s opcode=%d -> NOTIMP" % (prefix, h["opcode"]))
        return Reply(make_response(qid, flags, raw_q, W.RCODES["NOTIMP"]))
    if h["qdcount"] != 1:
        log("%s qdcount=%d -> FORMERR" % (prefix, h["qdcount"]))
        return Reply(make_response(qid, flags, raw_q, W.RCODES["FORMERR"]))

    edns = W.has_opt(buf, q_end, h)
    idx, mode = pick_mode(labels)
    zone = labels[idx + 1:] if idx is not None else labels[1:]
    prefix += " mode=%s" % (mode or "none")

    def resp(rcode, answers=(), authority=(), **kw):
        return make_response(qid, flags, raw_q, rcode, answers, authority,
                             edns=edns, **kw)

    def ok_reply():
        ans = ok_records(labels, qtype)
        if ans:
            return resp(0, ans), "NOERROR %d answer(s)" % len(ans)
        return resp(0, (), [soa_rr(zone)]), "NOERROR NODATA"

    udp = transport == "udp"
    if mode is None:
        r = Reply(resp(W.RCODES["REFUSED"], aa=False),
                  note="REFUSED (no mode label)")
    elif mode == "ok":
        data, note = ok_reply()
        r = Reply(data, note=note)
    elif mode in ("servfail", "refused", "formerr", "notimp"):
        r = Reply(resp(W.RCODES[mode.upper()], aa=False), note=mode.upper())
    elif mode == "nxdomain":
        r = Reply(resp(W.RCODES["NXDOMAIN"], (), [soa_rr(zone)]),
                  note="NXDOMAIN + SOA")
    elif mode == "nodata":
        r = Reply(resp(0, (), [soa_rr(zone)]), note="NOERROR NODATA")
    elif mode in ("trunc", "truncfail"):
        if udp:
            r = Reply(resp(0, tc=True), note="TC=1, no records")
        elif mode == "trunc":
            data, note = ok_reply()
            r = Reply(data, note=note + " (tcp)")
        else:
            r = Reply(None, close=True, note="close without answer")
    elif mode == "wrongid":
        data, note = ok_reply()
        bad = (qid ^ 0x5555) & 0xFFFF
        data = struct.pack("!H", bad) + data[2:]
        r = Reply(data, note="%s with id=%d" % (note, bad))
    elif mode == "garbage":
        r = Reply(os.urandom(7), note="7 random bytes")
    elif mode == "badcount":
        r = Reply(resp(0, ancount=5), note="ANCOUNT=5, no records")
    elif mode == "late":
        data, note = ok_reply()
        r = Reply(data, delay=late_seconds,
                  note="%s after %gs" % (note, late_seconds))
    elif mode == "drop":
        r = Reply(None, note="no answer")
    else:  # pragma: no cover
        r = Reply(resp(W.RCODES["SERVFAIL"]), note="internal: unknown mode")
    log("%s -> %s" % (prefix, r.note))
    return r


# --------------------------------------------------------------------------
# transports

class Server:
    def __init__(self, address, port, late_seconds):
        self.late = late_seconds
        self.udp, self.tcp = bind_pair(address, port)
        self.port = self.udp.getsockname()[1]
        self.stop = threading.Event()

    def serve_udp(self):
        while not self.stop.is_set():
            try:
                buf, addr = self.udp.recvfrom(65535)
            except OSError:
                if self.stop.is_set():
                    return
                continue
            peer = "%s:%d" % addr
            try:
                r = handle(buf, "udp", peer, self.late)
            except Exception as e:  # never die on input
                log("udp %s internal error %r -> dropped" % (peer, e))
                continue
            if r.data is None:
                continue
            if r.delay > 0:
                t = threading.Timer(r.delay, self._udp_send, (r.data, addr))
                t.daemon = True
                t.start()
            else:
                self._udp_send(r.data, addr)

    def _udp_send(self, data, addr):
        try:
            self.udp.sendto(data, addr)
        except OSError as e:
            log("udp send to %s:%d failed: %s" % (addr[0], addr[1], e))

    def serve_tcp(self):
        while not self.stop.is_set():
            try:
                conn, addr = self.tcp.accept()
            except OSError:
                if self.stop.is_set():
                    return
                continue
            t = threading.Thread(target=self._tcp_conn, args=(conn, addr),
                                 daemon=True)
            t.start()

    def _tcp_conn(self, conn, addr):
        peer = "%s:%d" % addr
        conn.settimeout(60)
        lock = threading.Lock()
        timers = []
        try:
            while True:
                hdr = _recv_exact(conn, 2)
                if hdr is None:
                    return
                (n,) = struct.unpack("!H", hdr)
                buf = _recv_exact(conn, n) if n else b""
                if buf is None:
                    log("tcp %s connection closed mid-message" % peer)
                    return
                try:
                    r = handle(buf, "tcp", peer, self.late)
                except Exception as e:
                    log("tcp %s internal error %r -> close" % (peer, e))
                    return
                if r.data is not None:
                    frame = struct.pack("!H", len(r.data)) + r.data
                    if r.delay > 0:
                        t = threading.Timer(r.delay, _tcp_send,
                                            (conn, lock, frame, peer))
                        t.daemon = True
                        t.start()
                        timers.append(t)
                    else:
                        _tcp_send(conn, lock, frame, peer)
                if r.close:
                    return
        except (OSError, socket.timeout):
            return
        finally:
            # Delayed answers still pending keep the socket open until sent.
            for t in timers:
                t.join()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def _tcp_send(conn, lock, frame, peer):
    with lock:
        try:
            conn.sendall(frame)
        except OSError as e:
            log("tcp send to %s failed: %s" % (peer, e))


def _recv_exact(conn, n):
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def check_loopback(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        sys.exit("faultdns: --address must be an IP address")
    if not ip.is_loopback:
        sys.exit("faultdns: refusing to listen on non-loopback %s" % address)


def bind_pair(address, port, tries=50):
    """Bind UDP and TCP on the same port (port 0: a free one)."""
    last = None
    for _ in range(tries if port == 0 else 1):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((address, port))
            p = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((address, p))
                t.listen(64)
                return u, t
            except OSError as e:
                last = e
                t.close()
                u.close()
        except OSError as e:
            last = e
            u.close()
    raise SystemExit("bind %s:%d failed: %s" % (address, port, last))


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    global _log_file
    ap = argparse.ArgumentParser(
        description="Scripted DNS fault server (see the module docstring).")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--pidfile")
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--late-seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    check_loopback(args.address)
    if args.log:
        _log_file = open(args.log, "a")

    srv = Server(args.address, args.port, args.late_seconds)
    written = []

    def cleanup(*_):
        srv.stop.set()
        for p in written:
            try:
                os.unlink(p)
            except OSError:
                pass
        log("faultdns: stopping")
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)

    for target in (srv.serve_udp, srv.serve_tcp):
        threading.Thread(target=target, daemon=True).start()
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % srv.port)
        written.append(args.port_file)
    if args.pidfile:
        write_atomic(args.pidfile, "%d\n" % os.getpid())
        written.append(args.pidfile)
    log("faultdns: listening on %s:%d (udp+tcp), pid %d"
        % (args.address, srv.port, os.getpid()))
    while True:
        signal.pause()


if __name__ == "__main__":
    main(sys.argv[1:])
