#!/usr/bin/env python3
"""faultsmtp.py: a scripted SMTP fault server for the SMTP-probe tests.

    faultsmtp.py --port P [--listen NAME=ADDRESS ...] [--log FILE]
                 [--pidfile FILE] [--slow-seconds 3] [--hold-seconds 60]
                 [--longline-bytes 100000000] [--manylines 100000]

One process, one listener per scenario, all on port P, each on its own
loopback address (127.0.0.0/8 only: anything else is refused); the
scenario is the one of the address the client connected to.  Without
--listen, the scenarios and addresses of smtphosts.py (FAULT).  The
pidfile is written once every listener is bound, and removed on
SIGTERM/SIGINT.

The normal dialogue: banner `220`, EHLO (PIPELINING, ENHANCEDSTATUSCODES,
8BITMIME, SMTPUTF8) or HELO, MAIL 250, RCPT 250 for the users alice, bob,
carol and jörg and `550 5.1.1` for anyone else (so that a catch-all probe
finds the domain is not catch-all), RSET, NOOP, QUIT 221, and `500` to
DATA: this server never takes a message.  Scenarios:

  slowbanner   the banner after --slow-seconds (3), then normal
  nobanner     never sends a byte; closes after --hold-seconds (60)
  garbage      binary garbage and non-SMTP lines as the banner, and as the
               answer to every line
  longline     "220 " and then --longline-bytes (100 MB) without a CRLF,
               streamed (never buffered), until the client closes
  manylines    normal, but EHLO is answered by --manylines (100,000)
               "250-" lines before the last one
  hangup       normal until RCPT, then closes without a reply
  banner5xx    "554 5.7.1 No SMTP service here"; then 503 to everything
               but QUIT (RFC 5321 3.1)
  mailfrom5xx  normal, but "550 5.7.1 Client blocked" to MAIL
  tlsfail      advertises STARTTLS, answers "220 2.0.0 Ready to start
               TLS", then sends garbage instead of a TLS handshake and
               closes
  tempmail     normal, but "451 4.3.0 Try again later" to MAIL

Every connection is idle-limited (--hold-seconds).  Each line received
is logged, one line each, to stderr (and to --log FILE):

  <unix time> <scenario> #<conn> <peer> connect
  <unix time> <scenario> #<conn> <peer> C: <line as received, escaped>
  <unix time> <scenario> #<conn> <peer> S: <reply line>   (multi-line
                                                 replies: first and count)
  <unix time> <scenario> #<conn> <peer> close <why>

so a test can count the connections of a scenario (`connect`) and check
that no DATA ever came (`C: DATA`).  Lines over 4096 bytes from a client
are logged as such and end the connection.  Standard library only.
"""

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtphosts as H  # noqa: E402

SCENARIOS = [name for name, _ in H.FAULT]
USERS = {u.lower() for u in H.OK_USERS}
MAX_LINE = 4096
CHUNK = 64 * 1024
GARBAGE = (b"\x00\x01\xfe\xff\x1b[31mHTTP/1.1 400 Bad Request\r\n"
           b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n"
           b"hello? \xc3\x28\xa0\xa1 this is not SMTP\r\n")

_log_file = None
_conn_ids = iter(range(1, 1 << 62))


def log(line):
    line = "%.3f %s\n" % (time.time(), line)
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


def escape(raw, cap=1000):
    """Bytes as one printable log line: UTF-8 kept, the rest escaped."""
    text = raw[:cap].decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else "\\x%02x" % ord(c)
                   if ord(c) < 256 else "\\u%04x" % ord(c) for c in text)
    if len(raw) > cap:
        text += "... (%d bytes)" % len(raw)
    return text


class Closed(Exception):
    pass


class Session:
    def __init__(self, scenario, reader, writer, opts):
        self.scenario = scenario
        self.reader = reader
        self.writer = writer
        self.opts = opts
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.tag = "%s #%d %s:%d" % (scenario, next(_conn_ids),
                                     peer[0], peer[1])
        self.host = "mx.%s" % H.fault_domain(scenario)
        self.mail = False

    def log(self, what):
        log("%s %s" % (self.tag, what))

    async def send(self, *lines):
        """One reply (several lines: a multi-line reply)."""
        self.log("S: %s" % lines[0] if len(lines) == 1 else
                 "S: %s ... (%d lines)" % (lines[0], len(lines)))
        self.writer.write("".join(l + "\r\n" for l in lines).encode())
        await self.drain()

    async def drain(self):
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise Closed("write failed: %s" % e.__class__.__name__)

    async def recv(self):
        """The next line without CRLF; Closed at EOF, idle or overlong."""
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"),
                                         self.opts.hold_seconds)
        except asyncio.TimeoutError:
            raise Closed("idle %gs" % self.opts.hold_seconds)
        except asyncio.IncompleteReadError as e:
            if e.partial:
                self.log("C: %s (no CRLF before EOF)" % escape(e.partial))
            raise Closed("client closed")
        except asyncio.LimitOverrunError:
            raise Closed("client line over %d bytes" % MAX_LINE)
        except (ConnectionError, OSError) as e:
            raise Closed("read failed: %s" % e.__class__.__name__)
        line = raw.rstrip(b"\r\n")
        self.log("C: %s" % escape(line))
        return line

    # -- the normal dialogue, with per-scenario hooks -------------------
    async def ehlo(self, arg):
        if self.scenario == "noehlo":
            await self.send("502 5.5.2 Error: command not recognized")
            return
        ext = ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"]
        if self.scenario == "tlsfail":
            ext.insert(1, "STARTTLS")
        if self.scenario == "manylines":
            await self.send_many_lines()
            return
        await self.send("250-" + self.host,
                        *["250-" + e for e in ext[:-1]], "250 " + ext[-1])

    async def send_many_lines(self):
        n = self.opts.manylines
        self.log("S: 250-%s ... (%d lines, streamed)" % (self.host, n + 1))
        self.writer.write(("250-%s\r\n" % self.host).encode())
        batch = []
        for i in range(1, n + 1):
            batch.append("250-X-FILLER-%06d the reply goes on and on\r\n" % i)
            if len(batch) == 1000 or i == n:
                self.writer.write("".join(batch).encode())
                batch = []
                await self.drain()
        await self.send("250 SMTPUTF8")

    async def mail_cmd(self, arg):
        if self.scenario == "mailfrom5xx":
            await self.send("550 5.7.1 Client blocked")
        elif self.scenario == "tempmail":
            await self.send("451 4.3.0 Try again later")
        else:
            self.mail = True
            await self.send("250 2.1.0 Ok")

    async def rcpt_cmd(self, arg):
        if self.scenario == "hangup":
            raise Closed("hung up at RCPT, as scripted")
        if not self.mail:
            await self.send("503 5.5.1 Error: need MAIL command")
            return
        addr = arg.split(b">", 1)[0].split(b"<", 1)[-1]
        local = addr.rsplit(b"@", 1)[0].decode("utf-8", "replace").lower()
        if local in USERS:
            await self.send("250 2.1.5 Ok")
        else:
            await self.send("550 5.1.1 <%s>: Recipient address rejected: "
                            "User unknown" % escape(addr, 300))

    async def starttls(self, arg):
        if self.scenario != "tlsfail":
            await self.send("502 5.5.1 Error: command not implemented")
            return
        await self.send("220 2.0.0 Ready to start TLS")
        try:
            hello = await asyncio.wait_for(self.reader.read(4096), 5)
            self.log("C: (%d bytes, TLS ClientHello?) %s"
                     % (len(hello), hello[:16].hex()))
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        self.log("S: (garbage instead of a TLS handshake)")
        self.writer.write(b"this is not a TLS ServerHello\r\n" + GARBAGE)
        await self.drain()
        raise Closed("TLS handshake refused, as scripted")

    async def dialogue(self):
        while True:
            line = await self.recv()
            verb, _, arg = line.partition(b" ")
            verb = verb.upper()
            if verb in (b"EHLO", b"HELO"):
                self.mail = False
                if verb == b"EHLO":
                    await self.ehlo(arg)
                else:
                    await self.send("250 " + self.host)
            elif verb == b"MAIL":
                await self.mail_cmd(arg)
            elif verb == b"RCPT":
                await self.rcpt_cmd(arg)
            elif verb == b"RSET":
                self.mail = False
                await self.send("250 2.0.0 Ok")
            elif verb == b"NOOP":
                await self.send("250 2.0.0 Ok")
            elif verb == b"QUIT":
                await self.send("221 2.0.0 Bye")
                raise Closed("QUIT")
            elif verb in (b"DATA", b"BDAT"):
                await self.send("500 5.5.1 DATA is never accepted by this "
                                "test server")
            elif verb == b"STARTTLS":
                await self.starttls(arg)
            else:
                await self.send("502 5.5.2 Error: command not recognized")

    # -- scenarios ---------------------------------------------------------
    async def run(self):
        s = self.scenario
        if s == "nobanner":
            try:
                await asyncio.wait_for(self.swallow(),
                                       self.opts.hold_seconds)
            except asyncio.TimeoutError:
                raise Closed("held %gs without a byte, as scripted"
                             % self.opts.hold_seconds)
        if s == "garbage":
            return await self.garbage()
        if s == "longline":
            return await self.longline()
        if s == "banner5xx":
            await self.send("554 5.7.1 No SMTP service here")
            while True:
                verb = (await self.recv()).partition(b" ")[0].upper()
                if verb == b"QUIT":
                    await self.send("221 2.0.0 Bye")
                    raise Closed("QUIT")
                await self.send("503 5.5.1 No SMTP service here")
        if s == "slowbanner":
            await asyncio.sleep(self.opts.slow_seconds)
        await self.send("220 %s ESMTP mailvet fault server (%s)"
                        % (self.host, s))
        await self.dialogue()

    async def swallow(self):
        while True:
            await self.recv()              # logs what the client says

    async def garbage(self):
        self.log("S: (garbage banner, %d bytes)" % len(GARBAGE))
        self.writer.write(GARBAGE)
        await self.drain()
        while True:
            await self.recv()
            self.log("S: (garbage)")
            self.writer.write(GARBAGE[::-1])
            await self.drain()

    async def longline(self):
        total = self.opts.longline_bytes
        self.log("S: 220 (then %d bytes without CRLF, streamed)" % total)

        async def reader():                # log what comes; notice EOF
            try:
                while True:
                    await self.recv()
            except Closed as e:
                return str(e)

        read_task = asyncio.ensure_future(reader())
        try:
            self.writer.write(b"220 ")
            chunk = b"x" * CHUNK
            sent = 0
            while sent < total and not read_task.done():
                n = min(CHUNK, total - sent)
                self.writer.write(chunk[:n])
                await self.drain()
                sent += n
            why = "sent %d bytes" % sent
            if read_task.done():
                why += ", client gone (%s)" % read_task.result()
            raise Closed(why)
        finally:
            read_task.cancel()


async def handle(scenario, opts, reader, writer):
    sess = Session(scenario, reader, writer, opts)
    sess.log("connect")
    why = "?"
    try:
        await sess.run()
    except Closed as e:
        why = str(e)
    except Exception as e:  # never die on a client
        why = "internal error %r" % e
    finally:
        sess.log("close %s" % why)
        try:
            writer.close()
        except Exception:
            pass


def parse_listen(specs):
    out = []
    for spec in specs:
        name, sep, address = spec.partition("=")
        if not sep or name not in SCENARIOS:
            sys.exit("faultsmtp: --listen NAME=ADDRESS, NAME one of %s"
                     % " ".join(SCENARIOS))
        out.append((name, address))
    return out


def check_loopback(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        sys.exit("faultsmtp: not an IP address: %s" % address)
    if not ip.is_loopback:
        sys.exit("faultsmtp: refusing to listen on non-loopback %s" % address)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


async def serve(args, listeners):
    servers = []
    for name, address in listeners:
        def cb(r, w, name=name):
            return handle(name, args, r, w)
        servers.append(await asyncio.start_server(
            cb, address, args.port, limit=MAX_LINE, reuse_address=True,
            backlog=128))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.pidfile:
        write_atomic(args.pidfile, "%d\n" % os.getpid())
    log("faultsmtp: listening on port %d: %s; pid %d"
        % (args.port, " ".join("%s=%s" % l for l in listeners), os.getpid()))
    await stop.wait()
    log("faultsmtp: stopping")
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    for s in servers:
        s.close()


def main(argv):
    global _log_file
    ap = argparse.ArgumentParser(
        description="Scripted SMTP fault server (see the module docstring).")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--listen", action="append", default=[],
                    metavar="NAME=ADDRESS")
    ap.add_argument("--log")
    ap.add_argument("--pidfile")
    ap.add_argument("--slow-seconds", type=float, default=3.0)
    ap.add_argument("--hold-seconds", type=float, default=60.0)
    ap.add_argument("--longline-bytes", type=int, default=100_000_000)
    ap.add_argument("--manylines", type=int, default=100_000)
    args = ap.parse_args(argv)
    listeners = (parse_listen(args.listen) if args.listen else
                 [(name, H.addr(octet)) for name, octet in H.FAULT])
    for _, address in listeners:
        check_loopback(address)
    if args.log:
        _log_file = open(args.log, "a", encoding="utf-8")
    try:
        asyncio.run(serve(args, listeners))
    except OSError as e:
        sys.exit("faultsmtp: %s" % e)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
