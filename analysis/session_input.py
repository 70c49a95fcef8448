"""Load what ``plantar analyze`` analyses: a stored session (by id) or a recording file
of another system (Moticon, pedar, gaitpdb, through the store's importers).

Uses only the store's public pieces (``find_session``, ``read_session_json``,
``batch_to_frames``, the importers); analysis never writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from base.errors import ConfigError
from base.frames import FootFrames
from hardware.layout import Layout, load_layout


@dataclass
class AnalysisInput:
    """Frames, layouts and extras of one recording."""

    feet: dict[str, FootFrames]
    layouts: dict[str, Layout]
    yaw_rate_dps: dict[str, np.ndarray] = field(default_factory=dict)
    speed_mps: float | None = None
    source: str = ""


def _layout(layout_id: str, foot: str, eu_size: float | None, where: str) -> Layout:
    if not layout_id:
        raise ConfigError(f"{where}: field 'feet.{foot}.layout_id' is empty; cannot analyse")
    return load_layout(layout_id, foot=foot, eu_size=eu_size)


def load_input(target: str) -> AnalysisInput:
    """A session id (or unique prefix) in the session store, or a path to a file to read."""
    path = Path(target).expanduser()
    if path.is_file():
        return _from_file(path)
    return _from_session(target)


def _from_file(path: Path) -> AnalysisInput:
    from store.importers import read_recording

    rec = read_recording(path)
    layouts = {
        foot: _layout(fl.layout_id, foot, fl.eu_size, str(path)) for foot, fl in rec.layouts.items()
    }
    yaw = {
        ch.foot: np.asarray(ch.values["gyro_z_dps"], dtype=np.float64)
        for ch in rec.channels
        if ch.group == "imu" and "gyro_z_dps" in ch.values
    }
    return AnalysisInput(rec.feet, layouts, yaw, None, f"file:{path}")


def _from_session(session: str) -> AnalysisInput:
    from store.export import find_session

    return load_session_dir(find_session(session))


def load_session_dir(directory: Path) -> AnalysisInput:
    """The frames, layouts and IMU yaw rate of one finalised session directory.

    Raises
    ------
    base.errors.ConfigError
        No finalised frame files (the session still needs recovery), or unknown layout.
    """
    import pyarrow.parquet as pq

    from store.schema import batch_to_frames
    from store.session import read_session_json

    meta: dict[str, Any] = read_session_json(directory).get("meta") or {}
    feet, layouts, yaw = {}, {}, {}
    for foot, info in (meta.get("feet") or {}).items():
        frames_path = directory / f"{foot}.parquet"
        if not frames_path.exists():
            continue
        table = pq.read_table(frames_path)
        if table.num_rows == 0:
            continue
        feet[foot] = batch_to_frames(table, foot)
        layouts[foot] = _layout(
            info.get("layout_id", ""), foot, info.get("eu_size"), str(directory / "session.json")
        )
        imu = directory / f"imu-{foot}.parquet"
        if imu.exists():
            imu_table = pq.read_table(imu)
            if "gyro_z_dps" in imu_table.column_names and imu_table.num_rows == len(feet[foot]):
                yaw[foot] = imu_table.column("gyro_z_dps").to_numpy(zero_copy_only=False)
    if not feet:
        raise ConfigError(
            f"session {directory.name}: no finalised frame files (left.parquet/right.parquet); "
            "run `plantar sessions` to recover it first"
        )
    kmh = meta.get("treadmill_speed_kmh")
    return AnalysisInput(
        feet, layouts, yaw, kmh / 3.6 if kmh else None, f"session:{directory.name}"
    )
