"""Open the sample report in headless Chromium: every image loads, no console errors, and
no request leaves the file (DevTools protocol over websocket-client)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import envejind_eval as ee

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed "
        "(.ci/run installs it); the browser test cannot run",
    ),
]


class DevTools:
    """A minimal Chrome DevTools protocol client for one page."""

    def __init__(self, user_data: Path) -> None:
        websocket = pytest.importorskip("websocket", reason="websocket-client is not installed")
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={user_data}",
                "--remote-debugging-port=0",
                "--window-size=1280,1800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = user_data / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params: object) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {method}")
            self.events.append(json.loads(self.ws.recv()))

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from envejind_eval.report.build import build_report

    out = tmp_path_factory.mktemp("browser") / "report"
    build_report(ee.sample_path() / "canonical", out, quiet=True, n_boot=0)
    return out


def test_report_loads_cleanly_in_chromium(report: Path, tmp_path: Path) -> None:
    html = report / "index.html"
    dt = DevTools(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.send(f"{domain}.enable")
        dt.send("Page.navigate", url=html.as_uri())
        dt.wait_for("Page.loadEventFired")
        images = dt.send(
            "Runtime.evaluate",
            expression="JSON.stringify(Array.from(document.images).map("
            "i => [i.complete, i.naturalWidth, i.naturalHeight]))",
            returnByValue=True,
        )["result"]["value"]
        toc = dt.send(
            "Runtime.evaluate",
            expression="document.querySelectorAll('nav.toc a').length",
            returnByValue=True,
        )["result"]["value"]
        shot = dt.send("Page.captureScreenshot", format="png")
        time.sleep(0.5)
        dt.send("Runtime.evaluate", expression="1")  # drain pending events
    finally:
        dt.close()
    import base64

    (tmp_path / "screenshot.png").write_bytes(base64.b64decode(shot["data"]))
    imgs = json.loads(images)
    assert imgs, "the sample report has figures"
    broken = [k for k, (done, w, h) in enumerate(imgs) if not (done and w > 0 and h > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert toc >= 5
    errors = [
        e
        for e in dt.events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert not errors, f"console errors: {errors[:3]}"
    urls = [
        e["params"]["request"]["url"]
        for e in dt.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    external = [u for u in urls if not u.startswith(("file:", "data:", "about:"))]
    assert not external, f"external requests: {external}"
