"""Shared helpers of the dashboard tests: simulated frames without the bridge, an app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from analysis.analyzer import Analyzer
from base.frames import FootFrames
from hardware.layout import Layout, load_layout
from hardware.sim import GaitParams, SimulatedInsole, make_pair
from live.hub import LiveHub

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def layouts() -> dict[str, Layout]:
    return {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}


def frames_of(insole: SimulatedInsole, n: int) -> FootFrames:
    """The next ``n`` samples of a simulated insole as FootFrames (delivered ones only)."""
    b = insole.samples(n)
    keep = ~b.lost
    return FootFrames(
        foot=insole.foot,
        device_id=1,
        seq=b.seq[keep].astype(np.int64),
        t_device_us=b.t_device_us[keep].astype(np.int64),
        t_s=b.t_true_s[keep],
        pressure_kpa=b.measured_pressure_kpa[keep],
        shear_kpa=b.measured_shear_kpa[keep],
    )


def publish(hub: LiveHub, analyzer: Analyzer, frames: FootFrames) -> None:
    """Hand a batch to the hub as the live pipeline does: with the Analyzer's reductions."""
    out = analyzer.feed(frames)
    if out.frames is not None:  # None for an empty batch (all its frames lost)
        hub.publish_frames(frames, out.frames)


@pytest.fixture
def analyzer(layouts: dict[str, Layout]) -> Analyzer:
    return Analyzer(layouts, rate_hint_hz=200.0, keep_steps=100)


@pytest.fixture
def pair() -> tuple[SimulatedInsole, SimulatedInsole]:
    return make_pair("plantar-ref", gait=GaitParams(), seed=3)


@pytest.fixture
def sessions_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PLANTAR_HOME", str(tmp_path / "home"))
    root = tmp_path / "home" / "sessions"
    root.mkdir(parents=True)
    yield root


class FakeControl:
    """Session control that accepts everything and counts the calls that reached it (the
    real one records to disk)."""

    def __init__(self) -> None:
        self.meta: dict = {}
        self.recording = False
        self.calls: list[str] = []

    def start_recording(self, meta: dict) -> dict:
        from live.control import ControlError

        self.calls.append("start")
        if self.recording:
            raise ControlError("already recording")
        self.meta.update(meta)
        self.recording = True
        return {"state": "recording"}

    def stop_recording(self) -> dict:
        from live.control import ControlError

        self.calls.append("stop")
        if not self.recording:
            raise ControlError("not recording")
        self.recording = False
        return {"state": "stopped"}

    def update_meta(self, meta: dict) -> dict:
        self.calls.append("update")
        self.meta.update(meta)
        return {"meta": self.meta}

    def add_marker(self, label: str) -> dict:
        self.calls.append("marker")
        return {"label": label}

    def session_info(self) -> dict:
        return {
            "meta": self.meta,
            "recording": {"state": "recording" if self.recording else "idle"},
        }
