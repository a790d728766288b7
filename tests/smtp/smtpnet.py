#!/usr/bin/env python3
"""smtpnet.py: the socket chores of start-servers.sh (and selftest.py).

    smtpnet.py pick-port [--not P ...] ADDRESS...
        a random TCP port in 20000-32767 that is free on the wildcard
        address (so on every address) and on each ADDRESS given
    smtpnet.py wait-listen --timeout S [--pidfile F] ADDRESS:PORT...
        until every ADDRESS:PORT is a listening TCP socket (read from
        /proc/net/tcp: no connection is made, so no rate limit counts it)
    smtpnet.py wait-banner --timeout S ADDRESS:PORT
        until a connection there reads a "220 " banner (then QUIT)
    smtpnet.py wait-connect --timeout S [--pidfile F] ADDRESS:PORT
        until a TCP connection there succeeds
    (--pidfile F: give up at once when F names a process that is gone)
    smtpnet.py refused ADDRESS:PORT...
        exit 0 when a connection to each is refused (nothing listens)

Ports below 32768 stay out of Linux's ephemeral range, so they do not
collide with outgoing sockets.  Standard library only.
"""

import random
import socket
import sys
import time


def split_hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def port_free(port, addresses):
    """Binds each address in turn (the wildcard first): one that is in
    use anywhere fails."""
    for a in ["0.0.0.0"] + list(addresses):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((a, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_port(addresses, avoid=()):
    rng = random.SystemRandom()
    for _ in range(2000):
        p = rng.randrange(20000, 32768)
        if p not in avoid and port_free(p, addresses):
            return p
    raise SystemExit("smtpnet: no free port in 20000-32767")


def listening():
    """{(address, port)} of the IPv4 TCP sockets in LISTEN state."""
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] != "0A":
                continue
            hexaddr, hexport = fields[1].split(":")
            octets = bytes.fromhex(hexaddr)[::-1]   # little-endian u32
            out.add((socket.inet_ntoa(octets), int(hexport, 16)))
    return out


def read_banner(host, port, timeout):
    """The first reply line (bytes), or None."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            f = s.makefile("rb")
            line = f.readline(1024)
            if line.startswith(b"220"):
                try:
                    s.sendall(b"QUIT\r\n")
                    f.readline(1024)
                except OSError:
                    pass
            return line
    except OSError:
        return None


def can_connect(host, port, timeout=1.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def died(pidfile):
    """True when PIDFILE names a process that no longer runs (or is a
    zombie); False while there is no pidfile yet."""
    try:
        with open(pidfile) as f:
            pid = int(f.readline().strip() or 0)
    except (OSError, ValueError):
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def wait(cond, timeout, pidfile=None):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline or (pidfile and died(pidfile)):
            return False
        time.sleep(0.1)


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    timeout, pidfile = 10.0, None
    while args[:1] in (["--timeout"], ["--pidfile"]):
        if args[0] == "--timeout":
            timeout = float(args[1])
        else:
            pidfile = args[1]
        args = args[2:]
    if cmd == "pick-port":
        avoid = []
        while args[:1] == ["--not"]:
            avoid.append(int(args[1]))
            args = args[2:]
        print(pick_port(args, avoid))
        return 0
    targets = [split_hostport(a) for a in args]
    if cmd == "wait-listen":
        ok = wait(lambda: set(targets) <= listening(), timeout, pidfile)
    elif cmd == "wait-banner":
        ok = wait(lambda: (read_banner(*targets[0], timeout=2) or b"")
                  .startswith(b"220 "), timeout)
    elif cmd == "wait-connect":
        ok = wait(lambda: can_connect(*targets[0]), timeout, pidfile)
    elif cmd == "refused":
        bad = ["%s:%d" % t for t in targets if not refused(*t)]
        if bad:
            print("smtpnet: not refused: " + " ".join(bad), file=sys.stderr)
        ok = not bad
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
