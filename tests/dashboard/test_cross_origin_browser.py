"""Localhost is not a trust boundary: in a real browser, a page from another origin cannot
start, stop or read anything, and a rebound host name (DNS rebinding) gets nothing.

The dashboard runs on a real uvicorn socket with a session control that counts the calls
reaching it. An attacker page, served from a second local HTTP server (another origin),
tries what any web page can: an auto-submitted HTML form, ``no-cors`` fetches, a readable
fetch, and both websockets. Chromium's ``--host-resolver-rules`` maps ``evil.example`` to
127.0.0.1, so a page at ``http://evil.example:<dashboard port>/`` is what a rebinding
attack looks like from the server's side. The dashboard page itself (same origin) is the
control case: its write gets through.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
import urllib.request
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.server import DashboardServer, bind_socket
from live.hub import LiveHub
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import FakeControl

pytestmark = pytest.mark.slow

ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" action="{target}/api/recording/start" target="sink"></form>
<script>
window.results = {{}};
window.pending = 0;
function done(name, value) {{ window.results[name] = value; window.pending -= 1; }}
function attempt(name, promise) {{
  window.pending += 1;
  promise.then((r) => done(name, typeof r === "string" ? r : "sent"),
               (e) => done(name, "error: " + e));
}}
document.getElementById("f").submit();
attempt("form-stop",
  fetch("{target}/api/recording/stop", {{method: "POST", mode: "no-cors"}}));
attempt("text-start", fetch("{target}/api/recording/start", {{
  method: "POST", mode: "no-cors", headers: {{"content-type": "text/plain"}}, body: "{{}}"}}));
attempt("json-start", fetch("{target}/api/recording/start", {{
  method: "POST", headers: {{"content-type": "application/json"}}, body: "{{}}"}}));
attempt("read-sessions", fetch("{target}/api/sessions").then((r) => r.text()));
for (const path of ["/ws/live", "/ws/events"]) {{
  attempt("ws" + path, new Promise((resolve) => {{
    const ws = new WebSocket("{ws_target}" + path);
    ws.onopen = () => resolve("opened");
    ws.onmessage = () => resolve("message");
    ws.onclose = () => resolve("closed");
  }}));
}}
</script></body></html>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def dashboard(layouts, tmp_path: Path):
    control = FakeControl()
    app = create_app(LiveHub(layouts), control, sessions_root=tmp_path / "sessions")
    sock = bind_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = DashboardServer(app, sock, url, None)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    _wait_until_up(url)
    yield url, server.port, control
    server.stop()
    thread.join(timeout=60)


def _wait_until_up(url: str, timeout_s: float = 120.0) -> None:
    import time

    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=10) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"dashboard at {url} did not come up in {timeout_s} s")


@pytest.fixture
def attacker(tmp_path: Path, dashboard):
    url, _, _ = dashboard
    site = tmp_path / "attacker"
    site.mkdir()
    page = ATTACK.format(target=url, ws_target=url.replace("http://", "ws://"))
    (site / "attack.html").write_text(page)
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/attack.html"
    httpd.shutdown()
    thread.join(timeout=60)


def test_another_origin_cannot_start_stop_or_read(dashboard, attacker) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    url, port, control = dashboard
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page()
            page.goto(attacker)
            page.wait_for_function(
                "window.pending === 0 && Object.keys(window.results).length === 6",
                timeout=120000,
            )
            results = page.evaluate("window.results")
            assert results["ws/ws/live"] == "closed" and results["ws/ws/events"] == "closed"
            assert results["read-sessions"].startswith("error")  # no CORS: nothing to read
            assert results["json-start"].startswith("error")  # preflight refused
            assert control.calls == [], (control.calls, results)

            # DNS rebinding: the attacker's name now resolves here, same port
            rebound = f"http://evil.example:{port}"
            response = page.goto(rebound + "/")
            assert response is not None and response.status == 403
            status = page.evaluate(
                "async (u) => (await fetch(u + '/api/sessions')).status", rebound
            )
            assert status == 403
            assert control.calls == []

            # control case: the dashboard page itself can write (same origin, JSON)
            page.goto(url + "/")
            status = page.evaluate(
                """async () => (await fetch('/api/recording/start', {method: 'POST',
                   headers: {'content-type': 'application/json'}, body: '{}'})).status"""
            )
            assert status == 200
            assert control.calls == ["start"]
        finally:
            browser.close()
