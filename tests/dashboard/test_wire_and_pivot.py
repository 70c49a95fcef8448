"""The display message format and the pivot gauge logic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.pivot import PivotMonitor, PivotSettings
from live.display_wire import (
    FootView,
    decode_display,
    dequantise_grid,
    encode_display,
    quantise_grid,
)


def test_quantise_round_trip_within_one_step() -> None:
    kpa = np.array([[np.nan, 0.0, 10.0], [200.0, 399.0, 1000.0]])
    codes = quantise_grid(kpa, 400.0)
    assert codes[0, 0] == 0 and codes[0, 1] == 1 and codes[1, 2] == 255
    back = dequantise_grid(codes, 400.0)
    assert math.isnan(back[0, 0])
    step = 400.0 / 254
    assert np.allclose(back[0, 1:], kpa[0, 1:], atol=step / 2 + 1e-6)
    assert np.allclose(back[1, :2], kpa[1, :2], atol=step / 2 + 1e-6)
    assert back[1, 2] == pytest.approx(400.0)


def test_display_message_round_trip() -> None:
    rng = np.random.default_rng(0)
    views = [
        FootView(
            foot=foot,
            grid_kpa=rng.uniform(0, 300, (7, 5)),
            shear_kpa=rng.normal(size=(k, 3)).astype(np.float32),
            cop_xy_mm=rng.normal(size=(m, 2)).astype(np.float32),
            t_s=1.5 + i,
            t_sample_ms=1e12 + i,
            t_recv_ms=1e12 + 3 + i,
            force_n=700.0 + i,
            peak_kpa=250.0,
            has_data=True,
            stance=bool(i),
        )
        for i, (foot, k, m) in enumerate((("left", 5, 3), ("right", 0, 0)))
    ]
    msg = decode_display(encode_display(42, 1234.5, 400.0, views))
    assert msg["msg_seq"] == 42 and msg["t_send_ms"] == 1234.5 and msg["kpa_max"] == 400.0
    for view, got in zip(views, msg["feet"], strict=True):
        assert got["foot"] == view.foot and got["stance"] == view.stance and got["has_data"]
        assert np.allclose(got["grid_kpa"], view.grid_kpa, atol=1.0)
        assert np.array_equal(got["shear_kpa"], view.shear_kpa)
        assert np.array_equal(got["cop_xy_mm"], view.cop_xy_mm)
        assert got["t_sample_ms"] == view.t_sample_ms and got["t_recv_ms"] == view.t_recv_ms
    with pytest.raises(ValueError):
        decode_display(b"XXXX" + bytes(40))


def _step(foot: str, t: float, pivot: float) -> dict:
    return {
        "foot": foot,
        "heel_strike_s": t,
        "pivot": {"kind": "shear", "free_moment_peak_nmm": pivot},
    }


def test_pivot_alert_needs_n_consecutive_steps_above_own_baseline() -> None:
    mon = PivotMonitor(PivotSettings(skip_s=2.0, baseline_s=10.0, factor=1.3, consecutive_steps=4))
    # acclimatisation (ignored even if high), then a baseline of ~100 for the left foot
    gauge, alert = mon.update(_step("left", 0.5, 500.0))
    assert alert is None and gauge["baseline"] is None
    for i, v in enumerate([95, 105, 100, 98, 102]):
        gauge, alert = mon.update(_step("left", 2.0 + i, v))
        assert alert is None and not gauge["baseline_ready"]
    assert gauge["baseline"] == pytest.approx(100.0)
    # after the window: 3 steps above, then one below resets the streak
    for t, v in [(12.0, 140), (13.0, 150), (14.0, 160), (15.0, 110)]:
        gauge, alert = mon.update(_step("left", t, v))
        assert alert is None
    assert gauge["streak"] == 0 and gauge["ratio"] == pytest.approx(1.1)
    alerts = []
    for i in range(6):
        gauge, alert = mon.update(_step("left", 16.0 + i, 140 + i))
        alerts.append(alert)
    assert [a is not None for a in alerts] == [False, False, False, True, False, False]
    assert alerts[3]["foot"] == "left" and alerts[3]["steps"] == 4 and gauge["alert"]
    # the right foot has its own baseline: no baseline steps -> never ready, never alerts
    gauge, alert = mon.update(_step("right", 30.0, 1000.0))
    assert alert is None and not gauge["baseline_ready"]
    # back below threshold clears the alert
    gauge, _ = mon.update(_step("left", 40.0, 100.0))
    assert not gauge["alert"] and gauge["streak"] == 0


def test_pivot_settings_validated() -> None:
    with pytest.raises(ValueError):
        PivotSettings(factor=0.9)
    with pytest.raises(ValueError):
        PivotSettings(consecutive_steps=0)
