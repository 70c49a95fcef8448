"""Time-range selection and the averaged per-step curves: a range limits every metric to
its steps (the whole range reproduces the session), and the curves agree with the
analysis' step records."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def review(experiment: dict):  # type: ignore[no-untyped-def]
    from review.cache import get_review

    return get_review(experiment["root"] / experiment["ids"]["A"])


def test_whole_range_reproduces_the_session(review) -> None:  # type: ignore[no-untyped-def]
    from review.figures import duration_of
    from review.time_range import restrict

    whole = restrict(review, 0.0, duration_of(review))
    assert whole.data["summary"]["steps"] == review.data["summary"]["steps"]
    assert whole.data["summary"]["cadence_spm"] == review.data["summary"]["cadence_spm"]
    for foot in review.data["feet"]:
        key = f"{foot}/map/peak_pressure"
        np.testing.assert_allclose(whole.arrays[key], review.arrays[key], rtol=1e-5)


def test_a_range_limits_every_metric(review) -> None:  # type: ignore[no-untyped-def]
    from base.errors import PlantarError
    from review.time_range import restrict

    t = np.sort(np.array(review.data["series"]["t_s"], dtype=float))
    mid = float(t[len(t) // 2 - 1] + t[len(t) // 2]) / 2  # between two steps, not on one
    first, second = restrict(review, 0.0, mid), restrict(review, mid + 1e-6, 1e6)
    n = review.data["summary"]["steps"]
    assert first.data["summary"]["steps"] + second.data["summary"]["steps"] == n
    assert max(first.data["series"]["t_s"]) <= mid < min(second.data["series"]["t_s"])
    for foot in review.data["feet"]:
        n_first = first.arrays[f"{foot}/step_peak_kpa"].shape[0]
        assert n_first == first.data["feet"][foot]["steps"] > 0
        assert first.arrays[f"{foot}/curve/force_n"].shape[0] == n_first
        assert not np.allclose(
            first.arrays[f"{foot}/map/peak_pressure"],
            second.arrays[f"{foot}/map/peak_pressure"],
            equal_nan=True,
        )
    assert all(g["t0_s"] <= mid for g in first.data["quality"]["gaps"])
    with pytest.raises(PlantarError):
        restrict(review, 10.0, 5.0)


def test_step_curves_agree_with_step_records(review) -> None:  # type: ignore[no-untyped-def]
    from review.figures import step_curves

    for foot in review.data["feet"]:
        curves = review.arrays[f"{foot}/curve/force_n"]
        peaks = np.array(
            [s["peak_force_n"] for s in review.data["steps"] if s["foot"] == foot], dtype=float
        )
        ok = np.isfinite(curves).all(axis=1) & np.isfinite(peaks)
        assert ok.sum() > 100
        # 41 stance-phase points can only miss the peak a little (never exceed it)
        ratio = np.nanmax(curves[ok], axis=1) / peaks[ok]
        assert np.all(ratio <= 1.0 + 1e-3) and np.median(ratio) > 0.97
        fore = review.arrays[f"{foot}/curve/forefoot_kpa"]
        assert np.nanmax(fore) > 100.0  # kPa under the forefoot at push-off
    svg = step_curves(review)
    assert svg.count("% of stance") == 3 and "±1 SD" in svg
