"""Pairing two virtual BLE insoles through the page, in headless Chromium.

``plantar demo --transport ble`` runs two simulated insoles as GATT peripherals on bumble's
virtual controller, unpaired. The test opens ``/pair``, scans, identifies (pressing the
simulated left insole with the page's demo button, as a hand would), saves, and checks
that the saved configuration names the right device for each foot and that both insoles
stream into the recording. Bad input at the command line is one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plantar.config import load_config
from tests.chromium import CHROMIUM, open_page
from tests.dashboard.conftest import ARTIFACTS
from tests.store.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180
STEP_MS = 90_000  # generous: the suite must pass with both cores busy


def _start_demo(home: Path, config: Path) -> tuple[subprocess.Popen, str, str]:
    env = dict(os.environ, PLANTAR_HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "demo", "--transport", "ble",
         "--config", str(config), "--duration", "600", "--no-browser", "--port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    t_end = time.monotonic() + START_TIMEOUT_S
    url = None
    while time.monotonic() < t_end:
        line = proc.stderr.readline()
        if "Plantar demo:" in line:
            url = line.split("Plantar demo:", 1)[1].strip()
        elif url and "simulated BLE insoles" in line:
            return proc, url, line
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"demo did not start: {proc.stderr.read()}")


@pytest.mark.slow
def test_pair_two_ble_insoles_through_the_page(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    config = tmp_path / "plantar.toml"
    proc, url, insoles_line = _start_demo(tmp_path / "home", config)
    assert "Plantar-L (D0:00:00:00:00:01)" in insoles_line, insoles_line
    try:
        with sync_api.sync_playwright() as pw:
            browser, page, errors = open_page(pw)
            page.goto(url)
            page.click("#link-pair")  # the live page links to the pairing page
            page.wait_for_url("**/pair")
            page.click("#btn-scan")
            page.wait_for_selector("#insoles tbody tr:nth-child(2)", timeout=STEP_MS)
            rows = page.inner_text("#insoles tbody")
            assert "Plantar-L" in rows and "Plantar-R" in rows
            assert "dBm" in rows and "plantar-ref" in rows and "87 %" in rows
            page.click("#btn-identify")
            page.wait_for_selector("#message[data-state=press]", timeout=STEP_MS)
            assert "LEFT" in page.inner_text("#message")
            page.click("button[data-sim=Plantar-L]")
            page.wait_for_selector("#message[data-state=identified]", timeout=STEP_MS)
            assert "Left: Plantar-L" in page.inner_text("#message")
            page.click("button[data-sim=Plantar-L]")  # release
            page.click("#btn-save")
            page.wait_for_selector("#message[data-state=streaming]", timeout=STEP_MS)
            page.screenshot(path=str(ARTIFACTS / "pairing-page.png"))
            assert not errors, errors
            browser.close()
        cfg = load_config(config, env={})
        assert cfg.insoles["left"].url == "ble://D0:00:00:00:00:01?radio=virtual"
        assert cfg.insoles["right"].url == "ble://D0:00:00:00:00:02?radio=virtual"
        time.sleep(2.0)  # a little more recording
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["session_id"]  # the stream started, and the recording with it
    assert summary["frames_recorded_per_foot"]["left"] > 200
    assert summary["frames_recorded_per_foot"]["right"] > 200


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--config", "{tmp}/file/plantar.toml"], "cannot save the paired insoles"),
        (["--config", "{tmp}/plantar.toml", "--transport", "serial"], "--config is for"),
    ],
)
def test_demo_config_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "file").write_text("a file, not a directory")
    argv = ["demo", "--transport", "ble", "--no-browser", "--duration", "1"]
    argv += [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = run_cli(*argv, env={"PLANTAR_HOME": str(tmp_path / "home")})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error: ") and expected in lines[0]
    sessions = tmp_path / "home" / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())  # nothing recorded
