"""What the Analyzer publishes for the live page: per-frame reductions, the stance flag,
each step's own hot cells, and the one pivot-alert policy (``pivot_rising``) with its gauge.

Simulated insoles (the continuous gait model, fatigue drift for the alert); the frame
reductions are checked against the plain NumPy references in :mod:`analysis.reference`.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.analyzer import Analyzer, PivotAlertPolicy
from analysis.contact_events import ContactParams
from analysis.hotspots import InterpolationGrid
from analysis.reference import contact_events_ref, frame_reduce_ref
from hardware.layout import REGIONS, load_layout
from hardware.sim import GaitParams, make_pair
from tests.dashboard.conftest import frames_of


@pytest.fixture(scope="module")
def layouts():
    return {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}


def _run(layouts, seconds: float, gait: GaitParams, policy: PivotAlertPolicy | None = None):
    """Feed both feet in uneven batches (1-17 frames); collect every output."""
    analyzer = Analyzer(layouts, rate_hint_hz=200.0, keep_steps=500, pivot_alert=policy)
    pair = make_pair("plantar-ref", gait=gait, seed=5)
    rng = np.random.default_rng(0)
    outs, frames = [], []
    for _ in range(int(seconds * 200 / 9)):
        for insole in pair:
            fr = frames_of(insole, int(rng.integers(1, 18)))
            if len(fr):
                frames.append(fr)
                outs.append(analyzer.feed(fr))
    return analyzer, frames, outs


def test_reductions_match_reference_and_stance_follows_the_events(layouts) -> None:
    _, frames, outs = _run(layouts, 12.0, GaitParams())
    lay = layouts["left"]
    left = [(fr, out) for fr, out in zip(frames, outs, strict=True) if fr.foot == "left"]
    t = np.concatenate([fr.t_s for fr, _ in left])
    p = np.concatenate([fr.pressure_kpa for fr, _ in left])
    force = np.concatenate([out.frames.force_n for _, out in left])
    cop = np.concatenate([out.frames.cop_xy_mm for _, out in left])
    stance = np.concatenate([out.frames.stance for _, out in left])
    assert all(out.frames.foot == "left" for _, out in left)
    ref_force, ref_cop, _, _ = frame_reduce_ref(
        p, lay.sensel_area_mm2, lay.sensel_xy_mm, lay.sensel_region, len(REGIONS)
    )
    # float32 pressures in the ring: agree to float32 precision
    np.testing.assert_allclose(force, ref_force, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(cop, ref_cop, rtol=1e-6, atol=1e-3)
    # each stance run starts after (at most 100 ms after) a reference heel strike and ends
    # after its toe-off: the flag is the detector's phase, whatever the batch sizes
    rows = contact_events_ref(t, ref_force)
    kinds, times = rows[:, 0], rows[:, 1]
    hs, to = times[kinds == 1], times[kinds == 2]
    edges = np.flatnonzero(np.diff(stance.astype(np.int8)))
    starts, ends = edges[stance[edges + 1]] + 1, edges[~stance[edges + 1]] + 1
    assert len(starts) >= 8
    for a in starts:
        k = np.searchsorted(hs, t[a], side="right") - 1
        assert k >= 0 and 0 <= t[a] - hs[k] < 0.1
    params = ContactParams()
    for b in ends:
        if t[-1] - t[b] < params.bridge_s:
            # the data ends in this dip: its toe-off is decided by neither (bridge_s after
            # it); the flag shows swing from the frame the force fell below the level
            floor = np.median(force[~stance])  # the unloaded baseline, about
            assert force[b] < floor + params.contact_level_n and hs[-1] > to[-1]
            continue
        k = np.searchsorted(to, t[b], side="right") - 1
        assert k >= 0 and 0 <= t[b] - to[k] < 0.1
    assert np.median(force[stance]) > 10 * max(np.median(force[~stance]), 1.0)


def test_each_step_carries_the_hot_cells_of_its_own_peak_map(layouts) -> None:
    _, _, outs = _run(layouts, 8.0, GaitParams())
    grids = {f: InterpolationGrid.from_layout(lay) for f, lay in layouts.items()}
    pairs = [(s, c) for out in outs for s, c in zip(out.steps, out.hot_cells, strict=True)]
    assert len(pairs) >= 8
    with_spots = [(s, c) for s, c in pairs if s["hotspots"]]
    assert with_spots, "no step with a hot spot in 8 s of running"
    for step, cells in pairs:
        assert bool(cells) == bool(step["hotspots"])
        if cells:
            grid = grids[step["foot"]]
            ys, xs = np.unravel_index(cells, grid.inside.shape)
            # the record keeps the 3 strongest spots; the cells are all of them
            spots_mm2 = sum(h["area_mm2"] for h in step["hotspots"])
            assert len(cells) * grid.cell_mm**2 >= spots_mm2 - 1e-6
            assert grid.inside[ys, xs].all()


def test_pivot_rising_after_fatigue_with_its_gauge(layouts) -> None:
    # windows long enough that the calibrated step-to-step spread of the pivot (CV ~0.2,
    # as real free moments) does not cross 1.3x by chance before the drift
    policy = PivotAlertPolicy(
        acclimatisation_steps=4, baseline_steps=40, recent_steps=20, factor=1.3, repeat_s=60.0
    )
    gait = GaitParams(fatigue_onset_s=24.0, fatigue_ramp_s=4.0, fatigue_pivot_gain=3.0)
    analyzer, _, outs = _run(layouts, 45.0, gait, policy)
    alerts = [a for out in outs for a in out.alerts]
    assert [a["kind"] for a in alerts] == ["pivot_rising"]  # once: repeat_s is 60 s
    assert alerts[0]["t_s"] > 24.0 and alerts[0]["ratio"] > 1.3
    gauge = analyzer.pivot_gauge()
    for foot in ("left", "right"):
        g = gauge[foot]
        assert g["baseline_ready"] and g["baseline_steps"] == 40
        assert g["alert"] and g["recent_ratio"] > 1.3 and g["threshold"] == 1.3
        assert g["unit"] == "N·mm" and g["kind"] == "shear"
        assert 0 < len(g["history_ratio"]) <= 40


def test_no_alert_and_gauge_collecting_before_the_baseline(layouts) -> None:
    analyzer, _, outs = _run(layouts, 6.0, GaitParams(), PivotAlertPolicy())
    assert not any(out.alerts for out in outs)
    g = analyzer.pivot_gauge()["left"]
    assert not g["baseline_ready"] and g["baseline"] is None and not g["alert"]
    metrics = analyzer.live_metrics()
    assert 140 < metrics["cadence_spm"] < 220
    assert 150 < metrics["contact_time_ms"]["left"] < 400


def test_pivot_alert_policy_validated() -> None:
    with pytest.raises(ValueError):
        PivotAlertPolicy(factor=0.9)
    with pytest.raises(ValueError):
        PivotAlertPolicy(recent_steps=0)


def test_cadence_is_whole_again_after_an_insole_returns(layouts) -> None:
    """The right insole is lost for 4 s (its frames never reach the Analyzer): the left
    foot's steps over that time have no right heel strike within their stride, so they
    carry no step time, and cadence after the return is the runner's, not halved."""
    analyzer = Analyzer(layouts, rate_hint_hz=200.0, keep_steps=500)
    pair = make_pair("plantar-ref", gait=GaitParams(), seed=5)
    n_block = 10
    for i in range(int(16.0 * 200 / n_block)):
        t0_s = i * n_block / 200.0
        for insole in pair:
            fr = frames_of(insole, n_block)
            if insole is pair[1] and 5.0 <= t0_s < 9.0:
                continue  # the right insole is away
            analyzer.feed(fr)
    steps = analyzer.steps
    step_times = np.array([s["step_time_s"] for s in steps if s["step_time_s"] is not None])
    stride_times = np.array([s["stride_time_s"] for s in steps if s["stride_time_s"]])
    typical_stride_s = float(np.median(stride_times))
    # every step time is one step: about half a stride, never several steps
    assert step_times.size > 20 and step_times.max() < 0.75 * typical_stride_s
    lost = [s for s in steps if s["foot"] == "left" and 5.5 < s["heel_strike_s"] < 9.0]
    assert lost and all(s["step_time_s"] is None for s in lost)
    expected_spm = 120.0 / typical_stride_s
    cadence = analyzer.live_metrics()["cadence_spm"]
    assert abs(cadence - expected_spm) < 0.05 * expected_spm, (cadence, expected_spm)
