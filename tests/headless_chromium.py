"""Headless Chromium driven over the DevTools protocol through a pipe: the browser test's client.

Why the DevTools protocol over ``--remote-debugging-pipe`` (and not the alternatives):

* ``--enable-logging=stderr`` + ``--dump-dom`` prints console messages as ``CONSOLE(...)`` lines
  without a reliable level, misses exceptions thrown in promises (a vega spec that fails to compile
  rejects vega-embed's promise), and gives no screenshot of the whole page in the same run.
* The protocol reports every console call with its level (``Runtime.consoleAPICalled``), every
  uncaught exception, promise rejections included (``Runtime.exceptionThrown``), and the browser's
  own errors such as a blocked or missing file (``Log.entryAdded``); it evaluates JavaScript in
  the page (the chart check) and captures a full-page PNG (``Page.captureScreenshot``).
* The pipe (file descriptors 3 and 4, messages separated by NUL bytes) needs no port, no
  websocket package and nothing beyond the standard library; playwright would add a large package
  and its own browser download for what these few calls do.

The browser runs with the network off: every request goes to a proxy at 127.0.0.1:9, where
nothing listens, so a page that needs the network shows a console error. Pages load as
``file://`` URLs.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", "--disable-extensions", "--mute-audio",
         "--hide-scrollbars", "--disable-dev-shm-usage", "--window-size=1280,900")

# Every chart of tmvlib.report.charts is a <div class="tmv-chart" id="tmv-chart-N">; vega-embed
# draws an <svg> (renderer 'svg') or a <canvas> into it. Sizes are read from the element's own
# width/height so that a chart inside a collapsed section still counts as drawn.
CHARTS_JS = """(() => Array.from(document.querySelectorAll('.tmv-chart')).map((div, i) => {
  const g = div.querySelector('svg, canvas');
  let w = 0, h = 0, parts = 0;
  if (g && g.tagName.toLowerCase() === 'svg') {
    const r = g.getBoundingClientRect();
    w = Math.max(r.width, g.width.baseVal.value); h = Math.max(r.height, g.height.baseVal.value);
    parts = g.querySelectorAll('path, rect, line, text, circle, symbol, image').length;
  } else if (g) { w = g.width; h = g.height; parts = 1; }
  return {id: div.id || ('chart #' + (i + 1)), width: w, height: h, parts: parts,
          text: g ? '' : div.textContent.trim().slice(0, 200)};
}))()"""


def find_chromium() -> str | None:
    """``TMV_CHROMIUM`` if set, else the first Chromium/Chrome executable on PATH."""
    if os.environ.get("TMV_CHROMIUM"):
        return shutil.which(os.environ["TMV_CHROMIUM"])
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


@dataclass
class PageReport:
    url: str
    errors: list[str] = field(default_factory=list)    # console errors, exceptions, browser errors
    warnings: list[str] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def broken_charts(self) -> list[str]:
        """``id (why)`` for every chart container without a drawn, non-empty svg/canvas."""
        out = []
        for chart in self.charts:
            if chart["width"] <= 0 or chart["height"] <= 0 or chart["parts"] == 0:
                why = chart["text"] or f"{chart['width']:g}x{chart['height']:g} px, nothing drawn"
                out.append(f"{chart['id']} ({why})")
        return out

    @property
    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.errors]
                + [f"chart not rendered: {c}" for c in self.broken_charts])


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser; ``check(url)`` loads a page and reports what went wrong on it."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="tmv-chromium-")
        self.log_path = Path(self.profile) / "chromium.log"
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4. Copies above fd 10 first,
        # so that moving them to 3 and 4 in the child cannot overwrite one with the other.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)

        def to_fds_3_and_4():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={self.profile}",
                 "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(3, 4),
                preexec_fn=to_fds_3_and_4)  # noqa: PLW1509 (no threads start the browser)
        for fd in (to_browser_r, from_browser_w, high_r, high_w):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable", session=self.session)
        except Exception:
            self.close()
            raise

    # -- protocol -----------------------------------------------------------------------------
    def _read(self, deadline: float) -> dict | None:
        while b"\0" not in self._buffer:
            wait = max(0.0, deadline - time.time())
            ready, _, _ = select.select([self._from_browser], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (code {self.process.poll()}); "
                                   f"its log: {self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.time() + (timeout or self.timeout)
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise BrowserError(f"no answer to {method} within {timeout or self.timeout:g} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _wait_for_event(self, method: str, deadline: float) -> bool:
        while True:
            if any(e.get("method") == method for e in self._events):
                return True
            event = self._read(deadline)
            if event is None:
                return False
            self._events.append(event)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating in the page failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- pages --------------------------------------------------------------------------------
    def check(self, url: str, screenshot: Path | None = None,
              chart_wait: float = 15.0) -> PageReport:
        """Load ``url``; wait for its load event and for its charts (up to ``chart_wait`` s);
        collect console errors, uncaught exceptions and browser errors; optionally save a
        full-page PNG."""
        started = time.time()
        report = PageReport(url)
        self._events.clear()
        navigated = self.call("Page.navigate", {"url": url}, session=self.session)
        if navigated.get("errorText"):
            report.errors.append(f"navigation failed: {navigated['errorText']}")
            return report
        if not self._wait_for_event("Page.loadEventFired", time.time() + self.timeout):
            report.errors.append(f"page did not finish loading within {self.timeout:g} s")
        # Charts draw asynchronously (a chart waits up to 10 s for the shared bundle).
        deadline = time.time() + chart_wait
        while True:
            report.charts = self.evaluate(CHARTS_JS) or []
            if not PageReport(url, charts=report.charts).broken_charts or time.time() > deadline:
                break
            time.sleep(0.1)
        self.call("Runtime.evaluate", {"expression": "1"}, session=self.session)  # flush events
        for event in self._events:
            self._collect(event, report)
        if screenshot is not None:
            size = self.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            shot = self.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                         "scale": 1}}, session=self.session, timeout=60)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        report.seconds = time.time() - started
        return report

    @staticmethod
    def _collect(event: dict, report: PageReport) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", a.get("type", ""))))
                            for a in params.get("args", []))
            if params.get("type") in ("error", "assert"):
                report.errors.append(f"console.{params['type']}: {text}")
            elif params.get("type") == "warning":
                report.warnings.append(text)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            head = details.get("text") or "Uncaught"  # "Uncaught", "Uncaught (in promise)"
            text = (details.get("exception", {}).get("description") or "").split("\n")[0]
            text = text if text.startswith(head) else f"{head} {text}".strip()
            if details.get("url"):
                text += f" ({details['url']}:{details.get('lineNumber', 0) + 1})"
            report.errors.append(text)
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            text = entry.get("text", "") + (f" ({entry['url']})" if entry.get("url") else "")
            if entry.get("level") == "error":
                report.errors.append(f"browser: {text}")
            elif entry.get("level") == "warning":
                report.warnings.append(text)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.write(self._to_browser, json.dumps(
                    {"id": self._next_id + 1, "method": "Browser.close"}).encode() + b"\0")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
