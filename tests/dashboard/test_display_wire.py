"""The display message format (live/display_wire.py; the page decodes it in live.js)."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
