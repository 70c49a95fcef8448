"""The live page in a real browser (headless Debian Chromium via Playwright) during a demo.

One ``plantar demo`` subprocess (simulated insoles on ptys → serial bridge → analysis,
recorder, dashboard) with fast fatigue settings, so the pivot alert comes within seconds.
The test reads canvas pixels to check that the heat map follows stance and swing and
that the two feet differ, waits for the alert, saves a screenshot under
``test-artifacts/`` and finally checks the demo's one-line JSON summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_S = 24
# The Analyzer's pivot alert: 3 steps discarded, baseline of the next 15 (~6 s at ~170
# steps/min, counted from when the bridge connects, which on a busy machine is a few
# seconds after the simulator starts), fatigue from 12 s of simulator time, x4 pivot by
# 16 s, alert when the median of 6 steps > 1.3x.
DEMO_ARGS = [
    "--fatigue-onset-s",
    "12",
    "--fatigue-ramp-s",
    "4",
    "--fatigue-gain",
    "3",
    "--pivot-acclimatisation-steps",
    "3",
    "--pivot-baseline-steps",
    "15",
    "--pivot-recent-steps",
    "6",
]

# JS run in the page: a signature of the heat map of each foot canvas (how many pixels
# show a pressure colour above ~60 kPa) and the force of the frame the canvas shows.
PROBE = """() => {
  const out = {};
  for (const foot of ["left", "right"]) {
    const cv = document.getElementById(`foot-${foot}`);
    const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    let hot = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      const colour = g > 100 || r > 150;  // the scale above ~60 kPa
      const saturated = Math.max(r, g, b) - Math.min(r, g, b) > 80;  // not grey/white lines
      const magenta = r > 200 && b > 200 && g < 120;  // hot-spot outline
      if (colour && saturated && !magenta) hot++;
    }
    const f = window.plantar.drawn[foot];
    out[foot] = {hot, stance: f ? f.stance : null, force: f ? f.forceN : -1,
                 pixels: cv.width * cv.height};
  }
  out.messages = window.plantar.messages;
  return out;
}"""


def _start_demo(home: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PLANTAR_HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plantar.cli",
            "demo",
            "--duration",
            str(DEMO_S),
            "--no-browser",
            "--port",
            "0",
            *DEMO_ARGS,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end:
        line = proc.stderr.readline()
        if "Plantar demo:" in line:
            return proc, line.split("Plantar demo:", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"demo did not print its URL: {proc.stderr.read()}")


def test_live_page_in_headless_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    proc, url = _start_demo(tmp_path / "home")
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function("window.plantar && window.plantar.messages > 5", timeout=20000)

            # sample the canvases over ~3 strides
            samples = []
            for _ in range(120):
                samples.append(page.evaluate(PROBE))
                page.wait_for_timeout(25)
            left_stance = [s["left"]["hot"] for s in samples if s["left"]["force"] > 800]
            left_swing = [s["left"]["hot"] for s in samples if s["left"]["force"] < 5]
            assert left_stance and left_swing, "no stance or no swing seen in 3 s"
            assert min(left_stance) > 200  # a loaded foot shows pressure colours
            assert max(left_swing) < 0.1 * min(left_stance)
            # left in stance while right swings: the two maps differ
            split = [s for s in samples if s["left"]["force"] > 800 and s["right"]["force"] < 5]
            assert split, "never saw left stance with right swing"
            assert all(s["left"]["hot"] > 5 * (s["right"]["hot"] + 10) for s in split)
            assert samples[-1]["messages"] - samples[0]["messages"] > 30  # live updates

            # the pivot alert (fatigue drift in the simulator) shows as a banner
            page.wait_for_selector("#alert:not([hidden])", timeout=25000)
            text = page.inner_text("#alert")
            assert "PIVOT" in text
            assert page.evaluate("window.plantar.alertActive")
            latency = page.inner_text("#latency")
            assert "latency" in latency and "ms" in latency
            lat = page.evaluate("window.plantar.latency")
            assert lat is not None and 0 <= lat["p50_ms"] < 500
            page.screenshot(path=str(ARTIFACTS / "live-page-alert.png"))
            assert not errors, errors
            browser.close()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1, out  # one JSON line on stdout
    summary = json.loads(lines[0])
    assert summary["session_id"]
    assert summary["steps"]["left"] > 15 and summary["steps"]["right"] > 15
    assert summary["frames_recorded"] > 2 * 200 * (DEMO_S - 8)
    assert summary["frames_lost"] < 0.02 * summary["frames_recorded"]
    assert sum(summary["frames_dropped_recorder"].values()) == 0
    assert summary["alerts"] == ["pivot_rising"]  # one policy, published and recorded once
    session_dir = tmp_path / "home" / "sessions" / summary["session_id"]
    assert (session_dir / "session.json").exists()
    # the one alert policy's alert is in the recording once, as the page got it
    import pyarrow.parquet as pq

    events = pq.read_table(session_dir / "events.parquet").to_pylist()
    recorded = [json.loads(e["detail"])["kind"] for e in events if e["kind"] == "alert"]
    assert recorded == ["pivot_rising"]
