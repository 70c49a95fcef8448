"""Absurd time stamps cannot make the analysis allocate gigabytes (issue 16, item 2).

A session recorded with t = i·1e-7 s (a 10 MHz "rate") is analysed by ``plantar
analyze`` in a child process; the peak RSS of that child, read with
``resource.getrusage(RUSAGE_CHILDREN)`` in a wrapper whose only child it is, stays under
300 MB, and the command answers or fails in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.analyzer import check_time_steps, window_rate_hz
from base.errors import ConfigError
from base.frames import MAX_SAMPLING_RATE_HZ, FootFrames
from tests.store.conftest import run_cli_peak_rss

RSS_LIMIT_MB = 300
N_ROWS = 3000


def _frames(foot: str, n: int, step_s: float) -> FootFrames:
    t_s = np.arange(n) * step_s
    phase = (np.arange(n) % 200) / 200.0
    pressure = np.where(phase[:, None] < 0.6, 150.0, 0.0) * np.ones((1, 8))
    return FootFrames(
        foot=foot,
        device_id=1,
        seq=np.arange(n, dtype=np.int64),
        t_device_us=np.round(t_s * 1e6).astype(np.int64),
        t_s=t_s,
        pressure_kpa=pressure.astype(np.float32),
        shear_kpa=np.zeros((n, 0, 3), dtype=np.float32),
    )


def test_window_rate_is_clamped_to_the_maximum_and_the_declared_rate() -> None:
    feet = {"left": _frames("left", 100, 1e-7)}
    assert window_rate_hz(feet) == MAX_SAMPLING_RATE_HZ
    assert window_rate_hz(feet, declared_rate_hz=100.0) == 100.0
    assert window_rate_hz({"left": _frames("left", 100, 0.005)}) == pytest.approx(200.0)


def test_a_median_time_step_faster_than_the_maximum_rate_is_one_line() -> None:
    check_time_steps({"left": _frames("left", 100, 1.0 / MAX_SAMPLING_RATE_HZ)})
    with pytest.raises(ConfigError, match="faster than any insole") as err:
        check_time_steps({"left": _frames("left", 100, 1e-7)})
    assert "\n" not in str(err.value)


def test_analyze_of_a_session_with_t_of_i_times_1e_7_s_stays_under_300_mb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from store.recorder import Recorder
    from store.session import FootLayout, SessionMeta

    home = tmp_path / "home"
    monkeypatch.setenv("PLANTAR_HOME", str(home))
    feet = {f: FootLayout("gaitpdb-8", None) for f in ("left", "right")}
    rec = Recorder(SessionMeta(feet=feet))
    with rec:
        for foot in feet:
            rec.write_frames(_frames(foot, N_ROWS, 1e-7))
    assert rec.report is not None and rec.report.frames == 2 * N_ROWS
    out, rss_mb = run_cli_peak_rss(
        "analyze", rec.session_id, "--json", env={"PLANTAR_HOME": str(home)}
    )
    stdout, stderr = out.stdout, out.stderr
    assert rss_mb < RSS_LIMIT_MB, f"peak RSS {rss_mb:.0f} MB"
    assert "Traceback" not in stderr
    if out.returncode == 0:
        doc = json.loads(stdout)
        assert "summary" in doc
    else:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("plantar: error: "), stderr
