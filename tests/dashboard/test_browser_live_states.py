"""The live page's shared session and link states in headless Chromium, on one server.

One ``plantar serve --left serial://... --right serial://... --athlete ...`` reads two
simulated insoles, each its own device process on a pseudo-terminal
(:mod:`hardware.sim.pty_process`) whose faults come from its stdin, as a USB insole is
unplugged. The tests run in order on that one server (CI time):

* two browser contexts share one session state: a shoe typed in one shows in the other
  within 1 s; both press Record at once and one session is recorded, with those tags;
* the right insole is unplugged: within 2 s its foot shows lost, its numbers are blank and
  the recording warns of a gap; plugged back, it shows streaming within 3 s;
* the server stops: within 3 s the page shows it has lost the server; started again on
  the same address, the page reconnects by itself and says so.

Deadlines of the bars are measured; every wait has a generous timeout of its own, so a
busy machine fails with a measurement rather than a hang.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hardware.sim.pty_process import spawn
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import ARTIFACTS
from tests.dashboard.page_layout import LAYOUT_PROBE, layout_problems
from tests.dashboard.serve_process import start_serve

pytestmark = pytest.mark.slow

WAIT_MS = 60000
ATHLETE = "Runner Seven"


@dataclass
class LiveServer:
    proc: subprocess.Popen[str]
    url: str
    tmp: Path
    insoles: dict[str, subprocess.Popen[str]]

    @property
    def home(self) -> Path:
        return self.tmp / "home"

    def send(self, foot: str, command: str) -> None:
        stdin = self.insoles[foot].stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def wait_line(self, foot: str, prefix: str, timeout_s: float = 60.0) -> None:
        stdout = self.insoles[foot].stdout
        assert stdout is not None
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            line = stdout.readline()
            if line.startswith(prefix):
                return
            if not line:
                break
        raise AssertionError(f"the {foot} insole never printed {prefix!r}")


def _start_serve(tmp: Path, port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """``plantar serve`` on the two pty insoles under ``tmp``; (process, its URL)."""
    return start_serve(
        tmp,
        [
            "--port", str(port),
            "--left", f"serial://{tmp / 'plantar-left'}",
            "--right", f"serial://{tmp / 'plantar-right'}",
            "--athlete", ATHLETE, "--shoe", "Old Shoe", "--speed-kmh", "11",
        ],
    )  # fmt: skip


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("live-states")
    insoles = {
        foot: spawn(tmp / f"plantar-{foot}", "--foot", foot, "--seed", "5")
        for foot in ("left", "right")
    }
    live = None
    try:
        proc, url = _start_serve(tmp)
        live = LiveServer(proc, url, tmp, insoles)
        yield live
    finally:
        if live is not None:
            _stop(live.proc)
        for insole in insoles.values():
            insole.kill()
            insole.wait()


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser: Any, url: str, errors: list[str]) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.plantar && window.plantar.messages > 5", timeout=WAIT_MS)
    return page


def _shown_within(page: Any, condition_js: str, since: float, bar_s: float, what: str) -> None:
    """Wait (generously) until the page shows ``condition_js``; assert it took < ``bar_s``."""
    page.wait_for_function(condition_js, timeout=WAIT_MS)
    took_s = time.monotonic() - since
    print(f"{what} after {took_s:.2f} s")
    assert took_s < bar_s, f"{what} after {took_s:.2f} s (bar: {bar_s:g} s)"


def _sessions(home: Path) -> list[Path]:
    root = home / "sessions"
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if (p / "session.json").exists())


def test_two_screens_share_one_session_and_record_once(server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    laptop, tablet = _open(browser, server.url, errors), _open(browser, server.url, errors)
    # the runner given on the command line is on both screens
    for page in (laptop, tablet):
        page.wait_for_function(
            f"document.getElementById('runner').textContent.includes({ATHLETE!r})",
            timeout=WAIT_MS,
        )
    laptop.click("#session-box summary")
    laptop.fill("#in-shoe", "Cloud X")
    t_typed = time.monotonic()
    shown = "document.getElementById('runner').textContent.includes('Cloud X')"
    _shown_within(tablet, shown, t_typed, 1.0, "the tag on the other screen")
    assert tablet.evaluate("window.plantar.session.shoe") == "Cloud X"

    before = len(_sessions(server.home))
    # both screens press Record at once: both requests are in flight together
    for page in (laptop, tablet):
        page.evaluate("document.getElementById('btn-start').click()")
    for page in (laptop, tablet):
        page.wait_for_function("window.plantar.recording.state === 'recording'", timeout=WAIT_MS)
    assert "Runner Seven" in tablet.inner_text("#rec-status")
    assert "error" not in laptop.inner_text("#rec-status") + tablet.inner_text("#rec-status")
    session_id = laptop.evaluate("window.plantar.recording.session_id")
    assert tablet.evaluate("window.plantar.recording.session_id") == session_id
    tablet.click("#btn-stop")
    for page in (laptop, tablet):
        page.wait_for_function("window.plantar.recording.state === 'stopped'", timeout=WAIT_MS)
    sessions = _sessions(server.home)
    assert len(sessions) == before + 1
    meta = json.loads((sessions[-1] / "session.json").read_text())["meta"]
    assert sessions[-1].name == session_id
    assert meta["athlete"] == ATHLETE and meta["shoe"] == "Cloud X"
    assert meta["treadmill_speed_kmh"] == 11
    assert not errors, errors


LOST_JS = """() => ({
  lost: !document.getElementById('lost-right').hidden,
  text: document.querySelector('#lost-right .lost-text').textContent,
  cadence: document.getElementById('m-cadence').textContent,
  contact: document.getElementById('m-contact-right').textContent,
  contactLeft: document.getElementById('m-contact-left').textContent,
  warning: document.getElementById('rec-warning').hidden ? null
    : document.getElementById('rec-warning').textContent,
  link: document.querySelector('#link-right .link-text').textContent,
})"""


def test_unplugged_insole_shows_lost_then_streaming(server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    page = _open(browser, server.url, errors)
    # both feet stream and the numbers are there before the fault
    page.wait_for_function(
        "document.getElementById('m-contact-right').textContent !== '–'"
        " && window.plantar.links.right && window.plantar.links.right.state === 'streaming'",
        timeout=WAIT_MS,
    )
    page.click("#btn-start")
    page.wait_for_function("window.plantar.recording.state === 'recording'", timeout=WAIT_MS)

    server.send("right", "unplug 6")
    lost = "!document.getElementById('lost-right').hidden"
    lost += " && !document.getElementById('rec-warning').hidden"
    _shown_within(page, lost, time.monotonic(), 2.0, "the lost insole")
    state = page.evaluate(LOST_JS)
    assert "RIGHT INSOLE LOST" in state["text"]
    assert state["cadence"] == "–" and state["contact"] == "–"
    assert state["contactLeft"] != "–"  # the other foot's numbers stay
    assert "RECORDING GAP" in state["warning"] and "RIGHT" in state["warning"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-insole-lost.png"))
    assert not layout_problems(page.evaluate(LAYOUT_PROBE))  # the lost state stays in its box
    box = page.evaluate(
        "[...['panel-right', 'lost-right']].map((id) => {"
        " const r = document.getElementById(id).getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    panel, hatch = box
    assert panel[0] <= hatch[0] and hatch[2] <= panel[2] and hatch[3] <= panel[3]
    # the lost time counts up while it is away
    page.wait_for_function(
        "parseInt(document.querySelector('#lost-right .lost-text').textContent.split('·')[1]) >= 2",
        timeout=WAIT_MS,
    )

    server.wait_line("right", "replugged")
    back = "document.getElementById('lost-right').hidden"
    back += " && window.plantar.links.right.state === 'streaming'"
    _shown_within(page, back, time.monotonic(), 3.0, "the insole streaming again")
    assert "RIGHT INSOLE BACK" in page.inner_text("#announce")
    assert page.evaluate("document.getElementById('rec-warning').hidden")
    assert "1 gap" in page.inner_text("#rec-status")
    page.click("#btn-stop")
    page.wait_for_function("window.plantar.recording.state === 'stopped'", timeout=WAIT_MS)
    assert not errors, errors


def test_stopped_server_dims_the_page(server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    page = _open(browser, server.url, errors)
    assert page.evaluate("document.getElementById('offline').hidden")
    server.proc.send_signal(signal.SIGTERM)
    offline = "!document.getElementById('offline').hidden"
    _shown_within(page, offline, time.monotonic(), 3.0, "the lost server")
    assert "SERVER CONNECTION LOST" in page.inner_text("#offline")
    assert page.evaluate("document.body.classList.contains('offline-state')")
    page.screenshot(path=str(ARTIFACTS / "live-server-lost.png"))
    # generous for a busy machine; a page too slow to read its socket once held the exit
    # for good (now cut after dashboard.server.GRACEFUL_SHUTDOWN_S, test_stop_with_stalled_client)
    server.proc.communicate(timeout=180)
    assert server.proc.returncode == 0
    # the server comes back on its address: the page reconnects by itself and says so
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    server.proc, _ = _start_serve(server.tmp, port)
    page.wait_for_function(
        "document.getElementById('offline').hidden && window.plantar.messages > 0"
        " && document.getElementById('announce').textContent.includes('RECONNECTED')",
        timeout=WAIT_MS,
    )
    n = page.evaluate("window.plantar.messages")
    page.wait_for_function(f"window.plantar.messages > {n + 5}", timeout=WAIT_MS)  # live again
    assert not page.evaluate("document.body.classList.contains('offline-state')")
    errors = [e for e in errors if "WebSocket" not in e]
    assert not errors, errors
