"""Start `mailvet serve` on a free loopback port for a test, call it with
curl (a real client), and stop it with SIGTERM by PID."""
import json
import os
import re
import signal
import subprocess
import time


class Server:
    def __init__(self, mailvet, args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [mailvet, "serve", "--listen", "127.0.0.1:0"] + args,
            stderr=subprocess.PIPE, env=e)
        line = self.proc.stderr.readline().decode()
        m = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("server did not start: " + line +
                               self.proc.stderr.read().decode())
        self.url = m.group(1)
        self.port = int(m.group(2))
        self.pid = self.proc.pid

    def curl(self, path, *args, data=None, timeout=30):
        """(status, headers text, body bytes) of one request."""
        cmd = ["curl", "-sS", "-D", "-", "--max-time", str(timeout)]
        cmd += list(args)
        if data is not None:
            cmd += ["--data-binary", "@-"]
        cmd.append(self.url + path)
        p = subprocess.run(cmd, input=data, capture_output=True)
        if p.returncode != 0:
            return 0, "", p.stderr
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):
            head, _, body = body.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        return status, head.decode("latin-1"), body

    def json(self, path, *args, data=None):
        status, head, body = self.curl(path, *args, data=data)
        try:
            return status, head, json.loads(body)
        except ValueError:
            return status, head, body

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=20):
        """SIGTERM by PID; the exit status (None if it did not exit)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        self.stderr = self.proc.stderr.read().decode()
        return rc


class Checker:
    def __init__(self):
        self.failures = []

    def expect(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAIL:", what, flush=True)

    def done(self):
        if self.failures:
            print("%d failure(s)" % len(self.failures))
            return 1
        print("ok")
        return 0


def wait_until(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
