"""``plantar run`` when the insoles are switched on after the Pi (the service at boot).

Real parts: the ``plantar run`` process (config file, bridge, recorder, dashboard) and
two simulated insoles, each behind a real pseudo-terminal in a process of its own
(:mod:`hardware.sim.pty_process`). The ``serial://`` URLs name paths
that do not exist yet, as ``/dev/serial/by-id/...`` does not until the insole is plugged
in and on; the device processes create them (a symlink to their pty) a few seconds later.

* the dashboard is served while waiting and ``/api/status`` shows each insole as
  ``waiting`` with the URL looked for; a recording cannot be started yet, and none is;
* once the insoles appear, the recording starts by itself (``recording.autostart``) and
  ``--duration`` ends the run with exit 0 and frames recorded;
* the log says once that it waits and once that the insoles connected (not every retry);
* SIGTERM (``systemctl stop``) while waiting exits 0 and leaves no session;
* ``--no-wait-for-insoles`` still fails at once (exit 3), a malformed URL exits 2;
* headless Chromium shows the waiting insole over the foot, in plain words.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hardware.sim.pty_process import spawn
from tests.chromium import CHROMIUM, open_page

pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")

REPO = Path(__file__).resolve().parents[2]
#: Seconds between connection attempts in these runs (the service uses 5).
RETRY_S = 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, left_url: str, right_url: str, port: int) -> Path:
    path = tmp / "plantar.toml"
    path.write_text(
        f"""
[insoles.left]
url = "{left_url}"
layout = "plantar-ref"
[insoles.right]
url = "{right_url}"
layout = "plantar-ref"
[athlete]
name = "wait test runner"
[dashboard]
host = "127.0.0.1"
port = {port}
[recording]
autostart = true
"""
    )
    return path


class Run:
    """``plantar run --config CFG ...`` in a subprocess; stderr (logfmt) goes to a file."""

    def __init__(self, tmp: Path, config: Path, port: int, *extra: str) -> None:
        self.home = tmp / "home"
        self.port = port
        self.log = tmp / "run.log"
        env = dict(os.environ, PLANTAR_HOME=str(self.home), PYTHONPATH=str(REPO))
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantar.cli", "run", "--config", str(config), *extra],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def post(self, path: str) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=b"{}",
            method="POST",
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def wait_status(self, ok: Any, timeout_s: float, what: str) -> dict[str, Any]:
        """Poll ``/api/status`` until ``ok(status)``; the process must stay up."""
        t_end = time.monotonic() + timeout_s
        status: dict[str, Any] = {}
        while time.monotonic() < t_end:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                status = self.get("/api/status")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = {}
            if status and ok(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"{what} not seen in {timeout_s} s: {status}\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text()[-4000:]

    def sessions(self) -> list[Path]:
        root = self.home / "sessions"
        return sorted(d for d in root.iterdir() if d.is_dir()) if root.exists() else []

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Device:
    """A simulated insole that appears at ``link`` when started (switched on)."""

    def __init__(self, link: Path, foot: str, seed: int) -> None:
        self.proc = spawn(link, "--foot", foot, "--seed", str(seed))

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.proc.kill()
                self.proc.wait()


def _waiting(foot: str) -> Any:
    return lambda st: (
        st["links"][foot]["state"] == "waiting"
        and "not found" in (st["links"][foot].get("detail") or "")
    )


def test_run_serves_while_waiting_and_records_once_the_insoles_appear(tmp_path: Path) -> None:
    left, right = tmp_path / "plantar-left", tmp_path / "plantar-right"
    port = _free_port()
    cfg = _config(tmp_path, f"serial://{left}", f"serial://{right}", port)
    run = Run(
        tmp_path, cfg, port, "--duration", "20", "--retry-interval", str(RETRY_S), "--verbose"
    )
    devices: list[Device] = []
    try:
        # the page is up while both insoles are off: each shows as waiting, with its URL
        st = run.wait_status(
            lambda s: _waiting("left")(s) and _waiting("right")(s), 90, "both insoles waiting"
        )
        assert st["links"]["left"]["url"] == f"serial://{left}"
        assert st["links"]["right"]["url"] == f"serial://{right}"
        assert st["recording"]["state"] == "idle" and st["recording"]["waiting"] is True
        code, body = run.post("/api/recording/start")
        assert code == 409 and "switch them on" in body["detail"]
        assert run.sessions() == []  # nothing recorded before the insoles stream

        time.sleep(2.0)  # the runner switches the insoles on a little later
        assert run.sessions() == []
        t_on = time.monotonic()
        devices = [Device(left, "left", 1), Device(right, "right", 2)]

        st = run.wait_status(
            lambda s: (
                s["recording"]["state"] == "recording"
                and all(s["links"][f]["state"] == "streaming" for f in ("left", "right"))
            ),
            20,
            "recording of both streaming insoles",
        )
        assert time.monotonic() - t_on < 10  # found within a few retries
        assert st["links"]["left"].get("detail") is None  # the waiting reason is gone
        assert "waiting" not in st["recording"]
        assert run.proc.wait(timeout=60) == 0, run.log_text()
    finally:
        run.kill()
        for d in devices:
            d.stop()

    summary = json.loads(run.proc.stdout.read().strip().splitlines()[-1])  # type: ignore[union-attr]
    assert summary["session_id"] and summary["error"] is None
    assert summary["frames_recorded_per_foot"]["left"] > 200
    assert summary["frames_recorded_per_foot"]["right"] > 200
    sessions = run.sessions()
    assert [s.name for s in sessions] == [summary["session_id"]]
    info = json.loads((sessions[0] / "session.json").read_text())
    assert info["status"] == "finalised"

    log = run.log.read_text()
    # a record when waiting starts and when what is missing changes (the other insole's
    # reason is known, one insole answers), one when they connect; never one per retry
    lines = log.splitlines()
    waiting = [ln for ln in lines if "event=waiting" in ln]
    retries = [ln for ln in lines if "still waiting for insoles" in ln]  # debug records
    assert 1 <= len(waiting) <= 3, waiting
    assert len(retries) >= 3, "expected several retries while the insoles were off"
    # the first record names both insoles and where they are looked for
    assert "waiting for insoles: left: serial port" in waiting[0]
    assert "retrying every 0.5 s" in waiting[0]
    assert f"url_left=serial://{left}" in waiting[0] and f"url_right=serial://{right}" in waiting[0]
    connected = [ln for ln in log.splitlines() if "event=connected" in ln]
    assert len(connected) == 1 and "of waiting" in connected[0]
    first = {
        key: next(i for i, ln in enumerate(lines) if key in ln)
        for key in ("event=dashboard", "event=connected", "event=recording ")
    }
    assert first["event=dashboard"] < first["event=connected"]  # served while waiting
    assert first["event=connected"] < first["event=recording "]  # recording after connect


def test_sigterm_while_waiting_exits_cleanly_without_a_session(tmp_path: Path) -> None:
    port = _free_port()
    cfg = _config(tmp_path, f"serial://{tmp_path}/off-left", f"serial://{tmp_path}/off-right", port)
    run = Run(tmp_path, cfg, port, "--retry-interval", str(RETRY_S))
    try:
        run.wait_status(_waiting("left"), 90, "left insole waiting")
        time.sleep(1.5)  # a few retries
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=20) == 0, run.log_text()
    finally:
        run.kill()
    assert run.sessions() == []
    log = run.log.read_text()
    stop = [ln for ln in log.splitlines() if "event=stop" in ln]
    assert len(stop) == 1 and "session (none), 0 frames recorded" in stop[0]
    assert "level=error" not in log


def test_no_wait_fails_fast_and_config_errors_fail_at_once(tmp_path: Path) -> None:
    env = dict(os.environ, PLANTAR_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    env.pop("JOURNAL_STREAM", None)

    def plantar_run(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plantar.cli", "run", "--config", str(config), *extra],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    absent = tmp_path / "absent"
    cfg = _config(tmp_path, f"serial://{absent}-left", f"serial://{absent}-right", _free_port())
    done = plantar_run(cfg, "--no-wait-for-insoles", "--duration", "30")
    assert done.returncode == 3, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("plantar: error: serial port") and "not found" in last

    # a malformed URL is a configuration error: exit 2 at once, even when waiting
    bad = _config(tmp_path, f"serial://{absent}?baud=fast", f"serial://{absent}-r", _free_port())
    t0 = time.monotonic()
    done = plantar_run(bad, "--duration", "30")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "baud, info_timeout and read_ms must be numbers" in done.stderr.strip().splitlines()[-1]
    assert time.monotonic() - t0 < 30  # did not serve until --duration

    # a configuration error found only when connecting (a file that is no byte capture)
    # is not waited out either
    junk = tmp_path / "left.plantar-bytes"
    junk.write_bytes(b"not a capture")
    bad = _config(tmp_path, f"replay://{junk}", f"serial://{absent}-r", _free_port())
    t0 = time.monotonic()
    done = plantar_run(bad, "--duration", "30")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "not a Plantar byte capture" in done.stderr.strip().splitlines()[-1]
    assert time.monotonic() - t0 < 30

    done = plantar_run(cfg, "--retry-interval", "0")
    assert done.returncode == 2 and "--retry-interval" in done.stderr


def test_live_page_shows_the_waiting_insole(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    left = tmp_path / "plantar-left"
    port = _free_port()
    cfg = _config(tmp_path, f"serial://{left}", f"serial://{tmp_path}/plantar-right", port)
    run = Run(tmp_path, cfg, port, "--retry-interval", str(RETRY_S), "--duration", "60")
    try:
        run.wait_status(_waiting("left"), 90, "left insole waiting")
        with sync_api.sync_playwright() as pw:
            browser, page, errors = open_page(pw)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#waiting-left:not([hidden])", timeout=15000)
            text = page.inner_text("#waiting-left")
            assert "Waiting for the left insole" in text
            assert "Switch it on and check it is charged" in text
            assert f"serial://{left}" in text
            assert page.is_visible("#waiting-right")
            rec = page.inner_text("#rec-status")
            assert "waiting for the insoles" in rec and "recording starts" in rec
            assert page.is_disabled("#btn-start")
            page.screenshot(path=str(_artifact("live-page-waiting.png")))

            # the left insole is switched on: its box says so, the right one still waits
            device = Device(left, "left", 1)
            try:
                page.wait_for_selector("#waiting-left.ready", timeout=15000)
                assert "LEFT insole found" in page.inner_text("#waiting-left")
                assert "Waiting for the right insole" in page.inner_text("#waiting-left")
                assert "Switch it on" in page.inner_text("#waiting-right")
            finally:
                device.stop()
            assert errors == []
            browser.close()
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=20) == 0, run.log_text()
    finally:
        run.kill()
    assert run.sessions() == []


def _artifact(name: str) -> Path:
    from tests.dashboard.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
