"""Open a page in headless Chromium and report what a reader would see: console errors,
uncaught exceptions, failed loads, the result of a JavaScript probe, and a screenshot.

Standard library only: Chromium's DevTools protocol over `--remote-debugging-pipe`
(JSON messages separated by NUL bytes on file descriptors 3 and 4). Used by the report
tests and to make docs/report-first-screen.png:

    python -m suite.analysis.report.browser report/index.html docs/report-first-screen.png
    python -m suite.analysis.report.browser --find     exit 0 iff Chromium is on PATH
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class BrowserError(RuntimeError):
    pass


class Pipe:
    def __init__(self, proc: subprocess.Popen, wfd: int, rfd: int) -> None:
        self.proc, self.wfd, self.rfd = proc, wfd, rfd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        deadline = time.monotonic() + timeout
        while True:
            m = self.read(deadline)
            if m is None:
                raise BrowserError(f"no answer to {method} within {timeout}s")
            if m.get("id") == want:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self, deadline: float) -> dict | None:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.rfd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (it exited: "
                                   f"{self.proc.poll()})")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            m = self.read(deadline)
            if m is None:
                return
            self.events.append(m)

    def wait_event(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method for e in self.events):
            return True
        while True:
            m = self.read(deadline)
            if m is None:
                return False
            self.events.append(m)
            if m.get("method") == method:
                return True


def _high(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


def errors_from(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append("exception: " + (d.get("exception", {}).get("description")
                                        or d.get("text", "")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            en = p["entry"]
            out.append(f"log ({en.get('source')}): {en.get('text')} {en.get('url', '')}".strip())
    return out


def inspect(page: Path | str, screenshot: Path | None = None, width: int = 1280,
            height: int = 2000, probe: str | None = None, timeout: float = 60,
            chromium: str | None = None) -> dict:
    """Load `page` (a file path or URL); return {"errors", "probe", "screenshot"}.

    `probe` is a JavaScript expression evaluated after load; its value must be JSON-able.
    """
    exe = chromium or find_chromium()
    if not exe:
        raise BrowserError("Chromium not found (Debian: apt-get install chromium)")
    url = page if isinstance(page, str) and "://" in page else Path(page).resolve().as_uri()
    p2c_r, p2c_w = os.pipe()
    c2p_r, c2p_w = os.pipe()
    p2c_r, c2p_w = _high(p2c_r), _high(c2p_w)

    def child() -> None:
        os.dup2(p2c_r, 3)
        os.dup2(c2p_w, 4)

    with tempfile.TemporaryDirectory(prefix="suite-chromium-") as profile:
        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, pass_fds=(3, 4), preexec_fn=child)
        os.close(p2c_r)
        os.close(c2p_w)
        pipe = Pipe(proc, p2c_w, c2p_r)
        try:
            return _drive(pipe, url, screenshot, width, height, probe, timeout)
        finally:
            try:
                pipe.send("Browser.close", timeout=5)
            except (BrowserError, OSError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            os.close(p2c_w)
            os.close(c2p_r)
            if proc.stderr:
                proc.stderr.close()


def _drive(pipe: Pipe, url: str, screenshot: Path | None, width: int, height: int,
           probe: str | None, timeout: float) -> dict:
    t = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
    s = pipe.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})
    sid = s["sessionId"]
    for m in ("Runtime.enable", "Log.enable", "Page.enable"):
        pipe.send(m, session=sid)
    pipe.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                     "deviceScaleFactor": 1,
                                                     "mobile": False}, session=sid)
    pipe.events.clear()
    nav = pipe.send("Page.navigate", {"url": url}, session=sid, timeout=timeout)
    if nav.get("errorText"):
        raise BrowserError(f"cannot open {url}: {nav['errorText']}")
    if not pipe.wait_event("Page.loadEventFired", timeout):
        raise BrowserError(f"{url} did not finish loading within {timeout}s")
    pipe.drain(0.5)
    out: dict = {"errors": errors_from(pipe.events), "probe": None, "screenshot": None}
    if probe:
        r = pipe.send("Runtime.evaluate", {"expression": probe, "returnByValue": True,
                                           "awaitPromise": True}, session=sid)
        if "exceptionDetails" in r:
            out["errors"].append("probe: " + r["exceptionDetails"].get("text", ""))
        out["probe"] = r.get("result", {}).get("value")
    if screenshot:
        shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=sid,
                         timeout=timeout)
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        out["screenshot"] = str(screenshot)
    return out


def main(argv: list[str] | None = None) -> int:
    args = (argv if argv is not None else sys.argv[1:])
    if args == ["--find"]:  # `make chromium`: exit 0 iff Chromium is on PATH
        exe = find_chromium()
        print(f"chromium: {exe}" if exe else "chromium: not on PATH")
        return 0 if exe else 1
    if len(args) not in (1, 2):
        print("usage: python -m suite.analysis.report.browser PAGE [SCREENSHOT.png] | --find",
              file=sys.stderr)
        return 2
    res = inspect(Path(args[0]), Path(args[1]) if len(args) == 2 else None)
    for e in res["errors"]:
        print(f"error: {e}")
    if res["screenshot"]:
        print(f"wrote {res['screenshot']}")
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
