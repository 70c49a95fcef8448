"""Gait events against real annotations (Moticon) and simulator ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.analyzer import analyze_recording
from analysis.events import EVENT_HEEL_STRIKE, EVENT_TOE_OFF, detect_events
from analysis.frame_kernels import frame_reduce_kernel
from hardware.layout import load_layout
from tests.analysis.conftest import match_truth

MOTICON_CODES = {
    ("left", "heel_strike"): 11,
    ("left", "toe_off"): 15,
    ("right", "heel_strike"): 21,
    ("right", "toe_off"): 25,
}


def _force(fr, layout):
    n = len(fr)
    force = np.empty(n)
    frame_reduce_kernel(
        fr.pressure_kpa,
        layout.sensel_area_mm2,
        layout.sensel_xy_mm,
        layout.sensel_region,
        force,
        np.empty((n, 2)),
        np.empty((n, 7)),
        np.empty((n, 7)),
    )
    return force


@pytest.mark.parametrize("foot,kind", list(MOTICON_CODES))
def test_moticon_events_match_annotations(moticon, foot, kind):
    layout = load_layout("moticon-16", foot=foot)
    fr = moticon.feet[foot]
    kinds, times = detect_events(fr.t_s, _force(fr, layout))
    detected = times[kinds == (EVENT_HEEL_STRIKE if kind == "heel_strike" else EVENT_TOE_OFF)]
    code = MOTICON_CODES[(foot, kind)]
    annotated = np.array(
        [e["t_s"] for e in moticon.events if e["value"] == code and e["foot"] == foot]
    )
    assert annotated.size >= 5
    errors = np.array([detected[np.argmin(np.abs(detected - a))] - a for a in annotated])
    matched = np.abs(errors) <= 0.05
    assert matched.mean() >= 0.95, errors
    assert np.median(np.abs(errors[matched])) <= 0.020, errors


def _contact_time_at_level_s(contact_time_s: float, gait) -> float:  # type: ignore[no-untyped-def]
    """Contact time of the continuous model's vertical force above the detector's
    contact level (the 20 N force-plate convention), from the model itself."""
    from analysis.contact_events import ContactParams
    from hardware.sim.gait_model import vertical_force_bw

    tau = np.linspace(0.0, 1.0, 20001)
    force_n = vertical_force_bw(tau, contact_time_s, gait) * gait.body_weight_n
    above = tau[force_n > ContactParams().contact_level_n]
    return float((above[-1] - above[0]) * contact_time_s)


def test_sim_contact_time_within_5_ms(sim60, sim60_analysis):
    from hardware.sim.gait_model import GaitParams

    gait = GaitParams()  # the gait of the sim60 fixture
    errors = []
    for foot in ("left", "right"):
        steps = [s for s in sim60_analysis["steps"] if s["foot"] == foot]
        pairs = match_truth(steps, sim60.truth[foot])
        assert len(pairs) >= 0.95 * len(sim60.truth[foot]) - 2
        errors += [
            s["contact_time_s"] - _contact_time_at_level_s(g.contact_time_s, gait) for s, g in pairs
        ]
    errors = np.array(errors)
    assert np.median(np.abs(errors)) <= 0.005, np.median(np.abs(errors))
    assert abs(errors.mean()) <= 0.005


def test_gap_and_dead_sensel_neither_create_nor_lose_steps(sim60):
    foot = "left"
    fr, layout = sim60.feet[foot], sim60.layouts[foot]
    kinds, times = detect_events(fr.t_s, _force(fr, layout))
    hs = times[kinds == EVENT_HEEL_STRIKE]
    p = fr.pressure_kpa.copy()
    hot = int(np.argmax(p.max(axis=0)))
    p[:, hot] = 0.0  # the most loaded sensel dies
    force = _force_replace(fr, layout, p)
    keep = np.ones(len(fr), dtype=bool)
    for start_s in (10.03, 20.21, 30.37, 40.55):  # 200 ms gaps at different gait phases
        keep &= ~((fr.t_s >= start_s) & (fr.t_s < start_s + 0.2))
    kinds2, times2 = detect_events(fr.t_s[keep], force[keep])
    hs2 = times2[kinds2 == EVENT_HEEL_STRIKE]
    assert len(hs2) == len(hs)
    assert np.max(np.abs(hs2 - hs)) < 0.2


def _force_replace(fr, layout, p):
    from dataclasses import replace

    return _force(replace(fr, pressure_kpa=p), layout)


def test_analyze_moticon_reports_proxy_pivot_and_steps(moticon):
    layouts = {f: load_layout("moticon-16", foot=f) for f in moticon.feet}
    yaw = {
        ch.foot: ch.values["gyro_z_dps"].astype(float)
        for ch in moticon.channels
        if ch.group == "imu"
    }
    result = analyze_recording(moticon.feet, layouts, yaw_rate_dps=yaw)
    steps = result["steps"]
    assert len(steps) >= 12
    assert all(s["pivot"]["kind"] == "proxy" for s in steps)
    assert all("proxy" in s["pivot"]["label"] for s in steps)
    assert any(s["pivot"]["yaw_rate_peak_late_dps"] for s in steps)
    # walking cadence of this file: ~7 strides in ~9 s
    assert 80.0 < result["summary"]["cadence_spm"] < 120.0
