"""A small Chrome DevTools Protocol client on the Python standard library
only: start headless Chromium, connect to a page over its WebSocket
(RFC 6455, client side: masked frames, no extensions) and call methods.

Enough for tests that drive a page with Runtime.evaluate; not a general
WebSocket client (no ping/pong handling beyond answering pings)."""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-crash-reporter", "--disable-breakpad",
    "--remote-debugging-port=0",
]


class WebSocket:
    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        # No Origin header: Chromium refuses DevTools connections from
        # origins it was not told about, but allows clients without one.
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" %
               (u.path, u.hostname, u.port, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("WebSocket handshake: closed")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError("WebSocket handshake: %r" % head[:200])

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("WebSocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text, opcode=1):
        data = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def recv(self):
        """The next text message (fragments joined)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 8:
                raise ConnectionError("WebSocket closed by the browser")
            if opcode == 9:
                self.send(data, opcode=10)
                continue
            if opcode in (0, 1, 2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Browser:
    """Headless Chromium with one page open at 'url'."""

    def __init__(self, url, chromium="/usr/bin/chromium", timeout=60):
        self.dir = tempfile.mkdtemp(prefix="mv-chromium-")
        self.log = open(os.path.join(self.dir, "stderr.log"), "wb")
        # Its own session, so that the renderers it forks can be ended
        # with it and nothing else.
        self.proc = subprocess.Popen(
            [chromium] + CHROMIUM_FLAGS +
            ["--user-data-dir=" + os.path.join(self.dir, "profile"), url],
            stdout=subprocess.DEVNULL, stderr=self.log,
            start_new_session=True)
        self.ws = None
        self.next_id = 0
        try:
            port = self._port(timeout)
            self.ws = WebSocket(self._page_ws(port, timeout), timeout)
        except Exception:
            self.close()
            raise

    def _port(self, timeout):
        path = os.path.join(self.dir, "profile", "DevToolsActivePort")
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited: " + self.stderr())
            try:
                with open(path) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].isdigit():
                    return int(lines[0])
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("no DevToolsActivePort: " + self.stderr())

    def _page_ws(self, port, timeout):
        end = time.time() + timeout
        while time.time() < end:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
                for t in json.load(r):
                    if t.get("type") == "page":
                        return t["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError("chromium has no page target")

    def stderr(self):
        self.log.flush()
        with open(os.path.join(self.dir, "stderr.log"), "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError("%s: %r" % (method, msg["error"]))
                return msg["result"]
            # Events (no "id") are not needed: skip them.

    def eval(self, expr):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expr,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("JS: %r" % r["exceptionDetails"])
        return r["result"].get("value")

    def wait(self, expr, seconds=15):
        """Poll until 'expr' is truthy; its last value."""
        end = time.time() + seconds
        v = self.eval(expr)
        while not v and time.time() < end:
            time.sleep(0.05)
            v = self.eval(expr)
        return v

    def close(self):
        if self.ws is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Renderers left behind are in the browser's own session.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
