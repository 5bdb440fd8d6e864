#!/usr/bin/env python3
"""The status page in headless Chromium: three emulated boards held mid-write, a screenshot, the DOM's rows
against /api/status; then the boards finish and the rows, results and records are compared again."""
import html.parser
import base64
import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

DRIVER, OUT = sys.argv[1], sys.argv[2]
BOARDS = 3


def fail(msg):
    print("page-test: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    fail("no chromium (Debian: apt-get install chromium): this test needs a real browser")


LINES = queue.Queue()


def pump(stream):
    """The driver's stdout, line by line, into LINES (None at its end)."""
    for line in stream:
        LINES.put(line.strip())
    LINES.put(None)


def read_line(proc, want, timeout):
    """The driver's next line starting with want (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            line = LINES.get(timeout=max(0.1, end - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            fail("the driver ended early (waiting for %s, exit %s)" % (want, proc.poll()))
        print("driver: " + line)
        if line.startswith(want):
            return line
    fail("no %s from the driver within %d s" % (want, timeout))


class Rows(html.parser.HTMLParser):
    """<tr class="row" data-port data-serial data-state> of #ports, with their cells' text by class."""

    def __init__(self):
        super().__init__()
        self.rows, self.records, self.counts = [], 0, {}
        self.cell = None
        self.count = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "row":
            self.rows.append({"port": a.get("data-port"), "serial": a.get("data-serial"),
                              "state": a.get("data-state"), "cells": {}})
        elif tag == "tr" and a.get("class") == "record":
            self.records += 1
        elif tag == "td" and self.rows and a.get("class"):
            self.cell = [c for c in a["class"].split() if c not in ("num", "res-ok", "res-bad")][0]
            self.rows[-1]["cells"][self.cell] = ""
            if "data-percent" in a:
                self.rows[-1]["percent"] = int(a["data-percent"])
        elif tag == "span" and "data-count" in a:
            self.count = a["data-count"]

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.cell and self.rows:
            self.rows[-1]["cells"][self.cell] += data
        if self.count is not None and data.strip():
            self.counts[self.count] = data.strip()
            self.count = None


class DevTools:
    """Chromium's DevTools protocol over a minimal WebSocket client (stdlib only: no pip installs)."""

    def __init__(self, profile):
        self.proc = subprocess.Popen([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--user-data-dir=" + profile, "--window-size=1400,700",
                                      "--remote-debugging-port=0", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(profile, "DevToolsActivePort")
        end = time.monotonic() + 60
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.monotonic() > end or self.proc.poll() is not None:
                fail("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
            page = [t for t in json.load(r) if t["type"] == "page"][0]
        path = page["webSocketDebuggerUrl"].split(str(port), 1)[1]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            fail("DevTools WebSocket handshake: %r" % head)
        self.next_id = 0

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                fail("DevTools connection closed")
            buf += chunk
        return buf

    def _recv_msg(self):
        data = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            data += self._recv_exact(n)
            if b0 & 0x80:
                return data

    def call(self, method, **params):
        self.next_id += 1
        msg = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        n = len(msg)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else struct.pack(">BH", 0x80 | 126, n))
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(msg)))
        while True:
            reply = json.loads(self._recv_msg())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail("DevTools %s: %s" % (method, reply["error"]))
                return reply["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r["result"].get("value")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def page_rows(dt, until):
    """The DOM, once the page got a server-sent event whose rows satisfy until (bounded)."""
    end = time.monotonic() + 30
    while True:
        live = dt.eval("document.getElementById('conn').className") == "live"
        r = Rows()
        r.feed(dt.eval("document.documentElement.outerHTML"))
        if live and until(r):
            return r
        if time.monotonic() > end:
            fail("the page did not show the expected rows by server-sent events (live=%s): %s" % (live, r.rows))
        time.sleep(0.2)


def api(url):
    with urllib.request.urlopen(url + "api/status", timeout=10) as resp:
        if resp.status != 200:
            fail("/api/status: HTTP %d" % resp.status)
        return json.load(resp)


def compare(dom, status, when):
    want = [(r["port"], r["serial"], r["state"]) for r in status["rows"]]
    got = [(r["port"], r["serial"], r["state"]) for r in dom.rows]
    print("%s: DOM %s\n%s: API %s" % (when, got, when, want))
    if got != want:
        fail("%s: the page's rows differ from /api/status" % when)
    if len(got) != BOARDS:
        fail("%s: %d rows, expected one per board (%d)" % (when, len(got), BOARDS))


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="page-", dir=OUT)
    profile = os.path.join(work, "chromium-profile")
    proc = subprocess.Popen([DRIVER, work], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    dt = None
    threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
    try:
        port = int(read_line(proc, "PORT", 30).split()[1])
        url = "http://127.0.0.1:%d/" % port
        read_line(proc, "READY", 120)  # every board held mid-write

        shot = os.path.join(OUT, "status-page.png")
        if os.path.exists(shot):
            os.unlink(shot)
        dt = DevTools(profile)
        dt.call("Page.enable")
        dt.call("Page.navigate", url=url)
        dom = page_rows(dt, lambda r: len(r.rows) == BOARDS and all(0 < x.get("percent", -1) < 100 for x in r.rows))
        png = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
        with open(shot, "wb") as f:
            f.write(png)
        if len(png) < 2000 or png[:8] != b"\x89PNG\r\n\x1a\n":
            fail("the screenshot %s is not a PNG with content (%d bytes)" % (shot, len(png)))
        print("screenshot: %s (%d bytes)" % (shot, len(png)))

        dom = page_rows(dt, lambda r: len(r.rows) == BOARDS)
        status = api(url)
        compare(dom, status, "mid-write")
        for r, a in zip(dom.rows, status["rows"]):
            if a["state"] != "flashing" or a["phase"] != "write" or not 0 < a["percent"] < 100:
                fail("row %s is not mid-write in /api/status: %s" % (a["port"], a))
            if not 0 < r.get("percent", -1) < 100 or not r["cells"].get("bytes"):
                fail("row %s shows no progress in the page: %s" % (r["port"], r))
            if not a["serial"].startswith("e2e0000"):
                fail("row %s: serial %r" % (a["port"], a["serial"]))
        if dom.counts.get("in progress") != str(BOARDS):
            fail("counts in the page: %s" % dom.counts)

        proc.stdin.write("go\n")
        proc.stdin.flush()
        done = read_line(proc, "FINISHED", 120)
        if "ok=%d" % BOARDS not in done:
            fail("the line did not flash every board: " + done)
        dom = page_rows(dt, lambda r: r.records == BOARDS and all(x["state"] == "done" for x in r.rows))
        status = api(url)
        compare(dom, status, "finished")
        for r in dom.rows:
            if r["state"] != "done" or not r["cells"].get("last", "").startswith("ok"):
                fail("row %s after the line: %s" % (r["port"], r))
        if dom.records != BOARDS or len(status["records"]) != BOARDS:
            fail("latest records: %d in the page, %d in /api/status, expected %d"
                 % (dom.records, len(status["records"]), BOARDS))
        if dom.counts.get("done") != str(BOARDS):
            fail("counts in the page: %s" % dom.counts)

        req = urllib.request.Request(url + "api/status", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            fail("POST /api/status was accepted")
        except urllib.error.HTTPError as e:
            if e.code != 405:
                fail("POST /api/status: HTTP %d, expected 405" % e.code)
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        if proc.wait(timeout=60) != 0:
            fail("the driver exited %d" % proc.returncode)
    finally:
        if dt:
            dt.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("page-test: ok")


main()
