"""Telling left from right by a press (analysis.press_detect) on a running simulated pair
and on real walking recordings that nobody pressed."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.press_detect import PRESS_RISE_KPA, PressDetector
from base.errors import ConfigError
from hardware.layout import load_layout
from hardware.sim import GaitParams, make_pair
from tests.store.conftest import shared_file

RATE_HZ = 200
BATCH = 20  # 0.1 s


def _feed(detector: PressDetector, insoles: dict[str, object], seconds: float) -> list:
    """Feed ``seconds`` of both running insoles in 0.1 s batches; the verdict after each."""
    verdicts = []
    for _ in range(round(seconds * RATE_HZ / BATCH)):
        for key, insole in insoles.items():
            block = insole.samples(BATCH)  # type: ignore[attr-defined]
            keep = ~block.lost
            detector.feed(key, block.t_true_s[keep], block.measured_pressure_kpa[keep])
        verdicts.append(detector.verdict())
    return verdicts


@pytest.fixture
def running() -> tuple[PressDetector, dict[str, object]]:
    left, right = make_pair("plantar-ref", gait=GaitParams(), seed=5)
    insoles = {"A": left, "B": right}
    detector = PressDetector({k: i.layout.forefoot_mask() for k, i in insoles.items()})
    return detector, insoles


def test_a_pressed_insole_is_found_while_both_feet_run(running) -> None:
    detector, insoles = running
    before = _feed(detector, insoles, 4.0)
    assert before[-1].ready and not any(v.pressed for v in before)  # running is no press
    insoles["A"].press()  # type: ignore[attr-defined]
    during = _feed(detector, insoles, 2.5)
    assert during[-1].single == "A"
    assert during[-1].rise_kpa["A"] > PRESS_RISE_KPA
    assert during[-1].rise_kpa["B"] < 0.25 * PRESS_RISE_KPA
    # held through 80 % of the window: not within the first half second of the press
    assert not during[4].pressed


def test_both_pressed_is_no_single_insole(running) -> None:
    detector, insoles = running
    _feed(detector, insoles, 1.5)
    insoles["A"].press()  # type: ignore[attr-defined]
    insoles["B"].press(100.0)  # type: ignore[attr-defined]
    verdict = _feed(detector, insoles, 2.5)[-1]
    assert set(verdict.pressed) == {"A", "B"} and verdict.single is None


def test_a_light_touch_on_the_other_insole_spoils_the_test(running) -> None:
    detector, insoles = running
    _feed(detector, insoles, 1.5)
    insoles["A"].press()  # type: ignore[attr-defined]
    insoles["B"].press(0.7 * PRESS_RISE_KPA)  # type: ignore[attr-defined]
    verdict = _feed(detector, insoles, 2.5)[-1]
    assert verdict.pressed == ("A",) and set(verdict.moved) == {"A", "B"}
    assert verdict.single is None


def test_a_short_knock_is_no_press(running) -> None:
    detector, insoles = running
    _feed(detector, insoles, 1.5)
    insoles["A"].press(400.0)  # type: ignore[attr-defined]
    knock = _feed(detector, insoles, 0.5)
    insoles["A"].release()  # type: ignore[attr-defined]
    after = _feed(detector, insoles, 2.0)
    assert not any(v.pressed for v in knock + after)


def test_press_loads_the_forefoot_only() -> None:
    left, _ = make_pair("plantar-ref", seed=1)
    layout = load_layout("plantar-ref", foot="left")
    forefoot = layout.forefoot_mask()
    assert 0 < forefoot.sum() < layout.n_sensels
    left.skip_to(0.5)  # mid-swing of the first stride: only the press loads the insole
    left.press(120.0)
    block = left.samples(1)
    pressure = block.measured_pressure_kpa[0]
    assert np.all(pressure[forefoot][~np.isin(np.flatnonzero(forefoot), left.dead_sensels)] > 90)
    assert pressure[~forefoot].max() < 30
    with pytest.raises(ConfigError, match=r"0\.\.1000"):
        left.press(-5.0)


@pytest.mark.parametrize(
    "relative",
    ["moticon/230927_102114.txt", "moticon/walk_with_events.txt", "pedar/pressure_example.asc"],
)
def test_walking_and_standing_never_identify_an_insole(relative: str) -> None:
    """Real recordings (walking, and standing still at the end of the first): fed as the
    two insoles of a pairing test, no moment names one of them as pressed."""
    from store.importers import read_recording

    recording = read_recording(shared_file(relative))
    masks = {}
    for foot, foot_layout in recording.layouts.items():
        layout = load_layout(foot_layout.layout_id, foot=foot, eu_size=foot_layout.eu_size)
        masks[foot] = layout.forefoot_mask()
    detector = PressDetector(masks)
    feet = recording.feet
    t0 = max(float(f.t_s[0]) for f in feet.values())
    t_end = min(float(f.t_s[-1]) for f in feet.values())
    ready = 0
    for t in np.arange(t0, t_end, 0.1):
        for foot, frames in feet.items():
            sel = (frames.t_s >= t) & (frames.t_s < t + 0.1)
            detector.feed(foot, frames.t_s[sel], frames.pressure_kpa[sel])
        verdict = detector.verdict()
        ready += verdict.ready
        assert verdict.single is None, (t, verdict.rise_kpa)
    assert ready > 0.8 * (t_end - t0) / 0.1 - 30  # the test ran over the recording


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        PressDetector({"a": np.ones(3, bool)}, rise_kpa=0.0)
