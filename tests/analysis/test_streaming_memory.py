"""The live analyzer keeps a bounded window of step records, with the same results.

A 2-hour run is ~20,000 steps; keeping every record grew the live process by ~0.6 MB
per minute. The bounded analyzer must raise the same alerts and emit the same steps as
the unbounded one, while holding at most ``keep_steps`` records.
"""

from __future__ import annotations

import numpy as np

from analysis.analyzer import Analyzer
from base.frames import FootFrames
from tests.analysis.conftest import sim_run


def _feed(analyzer: Analyzer, feet: dict[str, FootFrames], batch: int = 40) -> tuple[list, list]:
    steps, alerts = [], []
    n = min(len(f) for f in feet.values())
    for i in range(0, n, batch):
        for f in feet.values():
            out = analyzer.feed(f.rows(i, min(i + batch, n)))
            steps += out.steps
            alerts += out.alerts
    return steps, alerts


def test_bounded_window_gives_the_same_steps_and_alerts() -> None:
    run = sim_run(150.0, seed=7, fatigue_onset_s=50.0, fatigue_ramp_s=30.0, fatigue_pivot_gain=2.0)
    full = Analyzer(run.layouts, rate_hint_hz=200.0)
    bounded = Analyzer(run.layouts, rate_hint_hz=200.0, keep_steps=25)
    steps_full, alerts_full = _feed(full, run.feet)
    steps_bounded, alerts_bounded = _feed(bounded, run.feet)
    assert len(steps_full) > 200
    assert [s["heel_strike_s"] for s in steps_full] == [s["heel_strike_s"] for s in steps_bounded]
    assert alerts_full, "the fatigue run should raise the pivot alert"
    assert alerts_full == alerts_bounded
    assert len(bounded.steps) == 25 and len(full.steps) == len(steps_full)
    assert bounded.steps == steps_full[-25:]
    assert np.isfinite([s["contact_time_s"] for s in bounded.steps]).all()
