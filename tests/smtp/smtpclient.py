"""What the SMTP fixture's Python tests share: the env files, a raw SMTP
client (no smtplib: the tests need the bytes, the timings and the
failures exactly as they come), and the ok/FAIL check lines ending in
"N passed, N failed".  Standard library only.
"""

import os
import random
import re
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def fixture_envs(argv, usage):
    """(smtp env, dns env) from argv[0:2] or MAILVET_SMTP_ENV and
    MAILVET_DNS_ENV; exits with USAGE when one is missing."""
    paths = list(argv[:2])
    for i, var in enumerate(("MAILVET_SMTP_ENV", "MAILVET_DNS_ENV")):
        if len(paths) <= i:
            paths.append(os.environ.get(var, ""))
    if not all(paths) or not all(os.path.exists(p) for p in paths):
        sys.exit(usage)
    return read_env(paths[0]), read_env(paths[1])


class Checks:
    """ok/FAIL lines; thread-safe; a group buffers its lines so that
    groups run in parallel print one after the other."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def check(self, cond, what, detail="", out=None):
        with self.lock:
            if cond:
                self.passed += 1
                line = "ok    %s" % what
            else:
                self.failed += 1
                line = "FAIL  %s%s" % (what, (": " + detail) if detail else "")
        if out is None:
            print(line, flush=True)
        else:
            out.append(line)
        return cond

    def run_groups(self, groups, workers=8):
        """Run each fn(check) in a thread; print each group's lines in
        the order given once it is done."""
        results = [[] for _ in groups]
        threads = []
        for i, fn in enumerate(groups):
            def body(i=i, fn=fn):
                def check(cond, what, detail=""):
                    return self.check(cond, what, detail, results[i])
                try:
                    fn(check)
                except Exception as e:      # a crash is a failure, not a hang
                    check(False, "%s raised" % fn.__name__, repr(e))
            threads.append(threading.Thread(target=body, daemon=True))
        for t in threads:
            t.start()
        for i, t in enumerate(threads):
            t.join()
            for line in results[i]:
                print(line, flush=True)

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


class Client:
    """One SMTP connection.  reply() gives (code, [lines]) with the CRLF
    stripped, or (None, lines) at EOF before a complete reply; socket
    timeouts raise.  source: a local address to connect from (anvil and
    postgrey key on it)."""

    def __init__(self, host, port, timeout=5.0, source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.host = host

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def line(self, cap=1 << 20):
        """One line (bytes, no CRLF) or None at EOF."""
        while b"\n" not in self.buf:
            if len(self.buf) > cap or not self._fill():
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self, max_lines=1000):
        lines = []
        while len(lines) < max_lines:
            raw = self.line()
            if raw is None:
                return None, lines
            text = raw.decode("utf-8", "replace")
            lines.append(text)
            if len(raw) < 4 or raw[3:4] != b"-":
                code = text[:3]
                return (int(code) if code.isdigit() else None), lines
        return None, lines

    def send(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.sock.sendall(line + b"\r\n")

    def cmd(self, line):
        self.send(line)
        return self.reply()

    def ehlo(self, name="selftest.mailvet.test"):
        """The EHLO keywords (upper case) or None when EHLO failed."""
        code, lines = self.cmd("EHLO " + name)
        if code != 250:
            return None
        return {l[4:].split(" ")[0].upper() for l in lines[1:]}

    def starttls(self):
        """STARTTLS then a TLS handshake (no certificate check: the
        fixture's is self-signed).  Returns the TLS version."""
        code, lines = self.cmd("STARTTLS")
        if code != 220:
            raise ssl.SSLError("STARTTLS answered %r" % lines)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=None)
        self.buf = b""
        return self.sock.version()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fresh_sender(tag):
    """A sender postgrey has not seen: it normalises senders (digit runs
    become '#', +extensions go), so the uniqueness is in letters."""
    letters = "".join(random.choice("abcdefghijklmnopqrstuvwxyz")
                      for _ in range(16))
    return "%s-%s@mailvet.test" % (tag, letters)


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


def log_mark(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, mark):
    """The lines added to a log since byte offset MARK."""
    with open(path, "rb") as f:
        f.seek(mark)
        return f.read().decode("utf-8", "replace").splitlines()


# --------------------------------------------------------------- verdicts
RANK = ["deliverable", "risky", "unknown", "undeliverable"]
# The probe's reasons, should validate.h not list them yet.
SMTP_CLASSES = {
    "smtp_mailbox_unknown": "undeliverable",
    "smtputf8_unsupported": "undeliverable",
    "mailbox_full": "risky", "catch_all": "risky",
}
_classes = {}


def reason_classes():
    """reason name -> verdict class, from VL_REASON_MAP in validate.h."""
    if not _classes:
        path = os.path.join(HERE, os.pardir, os.pardir, "libvalidate",
                            "include", "validate.h")
        _classes.update(SMTP_CLASSES)
        with open(path) as f:
            for name, cls in re.findall(r'X\(\s*\w+\s*,\s*"([a-z0-9_]+)"'
                                        r'\s*,[\s\\]*(\w+)\s*\)', f.read()):
                _classes[name] = cls.lower()
    return _classes


def probe_verdict(o):
    """A mailvet result's verdict without unknown_tld: the test zone
    mvtest. is no real TLD, and that risky flag would hide what the
    other stages decided.  The worst class of the other reasons."""
    reasons = o.get("reasons", [])
    if "unknown_tld" not in reasons:
        return o.get("verdict")
    classes = reason_classes()
    worst = 0
    for r in reasons:
        if r != "unknown_tld":
            cls = classes.get(r, "unknown" if r.startswith("smtp") else
                              "deliverable")
            worst = max(worst, RANK.index(cls))
    return RANK[worst]
