"""The one reader of stored sessions: analysis, the archive, review and replay read here.

A finalised (or recovered) session directory holds ``session.json`` and one
``<foot>.parquet`` of frames per foot, optionally ``imu-<foot>.parquet`` (see
``docs/storage.md``). :func:`read_session` reads it whole into a :class:`SessionRecording`
(frames, layouts, yaw rate, treadmill speed); :class:`FootReader` reads one foot in
bounded batches (replay). :func:`load_recording` also takes a recording file of another
system (Moticon, pedar, gaitpdb) through :mod:`store.importers`. Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from base import paths
from base.errors import ConfigError
from base.frames import FOOT_NAMES, FootFrames
from base.units import kmh_to_mps
from hardware.layout import Layout, load_layout
from store.arrow_numpy import to_numpy
from store.errors import SessionNotFoundError, StoreError
from store.export import find_session
from store.schema import EVENT_MARKER, batch_to_frames
from store.session import (
    FORCE_PLATE_LAYOUT_ID,
    PARQUET_SUFFIX,
    SESSION_FILE,
    STREAM_SUFFIX,
    read_session_json,
)

#: Sampling rate assumed when neither the summary nor the frames tell it (Hz).
FALLBACK_RATE_HZ = 100


@dataclass
class SessionRecording:
    """Frames, layouts and extras of one recording, as the analysis takes them."""

    feet: dict[str, FootFrames]
    layouts: dict[str, Layout]
    yaw_rate_dps: dict[str, np.ndarray] = field(default_factory=dict)
    speed_mps: float | None = None
    source: str = ""
    #: The runner's markers ("hot spot felt now"): ``{"t_s", "label"}``, in time order.
    markers: list[dict[str, Any]] = field(default_factory=list)


def foot_layout(layout_id: str, foot: str, eu_size: float | None, where: str) -> Layout:
    """The layout a session names for ``foot``; an empty id is a one-line ConfigError."""
    if not layout_id:
        raise ConfigError(f"{where}: field 'feet.{foot}.layout_id' is empty; cannot analyse")
    return load_layout(layout_id, foot=foot, eu_size=eu_size)


def speed_mps(meta: dict[str, Any]) -> float | None:
    """Treadmill speed of a session's metadata in m/s (None when not given)."""
    kmh = meta.get("treadmill_speed_kmh")
    return kmh_to_mps(kmh) if kmh else None


def locate_session(target: str | Path, root: Path | None = None) -> Path:
    """A session directory, or the session whose id is (or uniquely starts with) ``target``.

    Raises
    ------
    SessionNotFoundError
        Neither a session directory nor a known id (one line, says what to give).
    """
    path = Path(target).expanduser()
    if (path / SESSION_FILE).is_file():
        return path
    if not path.is_absolute() and len(path.parts) == 1:
        return find_session(str(target), root)
    sessions = root or paths.sessions_dir(create=False)
    raise SessionNotFoundError(
        f"session {target} not found (give a session directory or a session id under {sessions})"
    )


def read_session(directory: Path) -> SessionRecording:
    """The frames, layouts and IMU yaw rate of one finalised session directory.

    Raises
    ------
    base.errors.ConfigError
        No finalised frame files (the session still needs recovery), unknown layout, or a
        force-plate session (no pressure frames: ``analysis.force_plate_steps`` reads it).
    """
    meta: dict[str, Any] = read_session_json(directory).get("meta") or {}
    feet, layouts, yaw = {}, {}, {}
    for foot, info in (meta.get("feet") or {}).items():
        frames_path = directory / f"{foot}{PARQUET_SUFFIX}"
        if not frames_path.exists():
            continue
        table = pq.read_table(frames_path)
        if table.num_rows == 0:
            continue
        feet[foot] = batch_to_frames(table, foot)
        info = info or {}
        if info.get("layout_id") == FORCE_PLATE_LAYOUT_ID:
            raise ConfigError(
                f"session {directory.name} is a force-plate recording (no pressure map): "
                f"`plantar analyze {directory.name}` gives its steps and measured free moment, "
                "and the review page, `plantar report` and `plantar compare` read it too"
            )
        layouts[foot] = foot_layout(
            info.get("layout_id", ""), foot, info.get("eu_size"), str(directory / SESSION_FILE)
        )
        imu = directory / f"imu-{foot}{PARQUET_SUFFIX}"
        if imu.exists():
            imu_table = pq.read_table(imu)
            if "gyro_z_dps" in imu_table.column_names and imu_table.num_rows == len(feet[foot]):
                yaw[foot] = to_numpy(imu_table.column("gyro_z_dps"))
    if not feet:
        raise ConfigError(
            f"session {directory.name}: no finalised frame files (left.parquet/right.parquet); "
            "run `plantar sessions` to recover it first"
        )
    return SessionRecording(
        feet,
        layouts,
        yaw,
        speed_mps(meta),
        f"session:{directory.name}",
        markers=read_markers(directory),
    )


def read_markers(directory: Path) -> list[dict[str, Any]]:
    """The ``marker`` events of a finalised session (``events.parquet``), in time order."""
    path = directory / f"events{PARQUET_SUFFIX}"
    if not path.exists():
        return []
    table = pq.read_table(path, columns=["t_s", "kind", "detail"])
    markers = []
    for row in table.to_pylist():
        if row["kind"] != EVENT_MARKER:
            continue
        try:
            detail = json.loads(row["detail"] or "{}")
        except ValueError:
            detail = {}
        label = detail.get("label") if isinstance(detail, dict) else None
        markers.append({"t_s": row["t_s"], "label": str(label or "marker")})
    return sorted(markers, key=lambda m: m["t_s"])


def load_recording(target: str) -> SessionRecording:
    """A recording file of another system (through the importers), else a stored session."""
    path = Path(target).expanduser()
    if not path.is_file():
        return read_session(locate_session(target))
    from store.importers import read_recording

    rec = read_recording(path)
    layouts = {
        foot: foot_layout(fl.layout_id, foot, fl.eu_size, str(path))
        for foot, fl in rec.layouts.items()
    }
    yaw = {
        ch.foot: np.asarray(ch.values["gyro_z_dps"], dtype=np.float64)
        for ch in rec.channels
        if ch.group == "imu" and "gyro_z_dps" in ch.values
    }
    return SessionRecording(rec.feet, layouts, yaw, None, f"file:{path}")


class FootReader:
    """One foot of a finalised session, read in bounded batches (never the whole file).

    Parameters
    ----------
    directory : the session directory.
    foot : ``"left"`` or ``"right"``; None when the session holds exactly one foot.

    Raises
    ------
    ConfigError
        ``foot`` is None and the session holds both feet (or none).
    StoreError
        The foot is missing or not finalised, its file or layout is unusable.
    """

    def __init__(self, directory: Path, foot: str | None = None) -> None:
        self.directory = directory
        try:
            doc = read_session_json(directory)
        except (OSError, ValueError) as exc:
            raise StoreError(f"session {directory}: {SESSION_FILE} unreadable ({exc})") from None
        if foot is None:
            present = [f for f in FOOT_NAMES if (directory / f"{f}{PARQUET_SUFFIX}").is_file()]
            if len(present) != 1:
                raise ConfigError(
                    f"session {directory} holds {len(present)} finalised feet: say which foot "
                    "to read (foot=left or foot=right)"
                )
            foot = present[0]
        self.foot = foot
        path = directory / f"{foot}{PARQUET_SUFFIX}"
        if not path.is_file():
            if (directory / f"{foot}{STREAM_SUFFIX}").is_file():
                raise StoreError(
                    f"session {directory} is not finalised (no {path.name}): finalise or "
                    "recover it first"
                )
            raise StoreError(f"session {directory} has no {foot} foot ({path.name})")
        try:
            self._parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types
            raise StoreError(f"session {directory}: {path.name} unreadable ({exc})") from None
        schema = self._parquet.schema_arrow
        if "pressure_kpa" not in schema.names:
            raise StoreError(f"session {directory}: {path.name} has no pressure_kpa")
        self.n_sensels = int(schema.field("pressure_kpa").type.list_size)
        self.n_shear = (
            int(schema.field("shear_kpa").type.list_size) // 3 if "shear_kpa" in schema.names else 0
        )
        meta_feet = (doc.get("meta") or {}).get("feet") or {}
        self.layout_id: str = (meta_feet.get(foot) or {}).get("layout_id") or (
            (schema.metadata or {}).get(b"plantar.layout_id", b"").decode()
        )
        try:
            self.layout = load_layout(self.layout_id, foot)
        except ConfigError as exc:
            raise StoreError(
                f"session {directory}: layout {self.layout_id!r} of the {foot} foot cannot be "
                f"used ({exc})"
            ) from None
        if self.layout.n_sensels != self.n_sensels:
            raise StoreError(
                f"session {directory}: {path.name} has {self.n_sensels} sensels but layout "
                f"{self.layout_id!r} has {self.layout.n_sensels}"
            )
        first = next(self.batches(64), None)
        self.device_id = first.device_id if first is not None else 0
        summary_feet = (doc.get("summary") or {}).get("feet") or {}
        self.rate_hz = self._rate_hz((summary_feet.get(foot) or {}).get("rate_hz"), first)

    @staticmethod
    def _rate_hz(rate: float | None, first: FootFrames | None) -> int:
        """The summary's rate, else the median frame interval of the first rows, in Hz."""
        if not rate and first is not None and len(first) > 1:
            t = first.t_device_us.astype(np.float64)
            q = first.seq.astype(np.float64)
            ok = np.diff(q) > 0
            if ok.any():
                rate = 1e6 / float(np.median(np.diff(t)[ok] / np.diff(q)[ok]))
        if rate and np.isfinite(rate) and rate > 0:
            return round(float(rate))
        return FALLBACK_RATE_HZ

    def batches(self, batch_rows: int = 512) -> Iterator[FootFrames]:
        """The foot's rows in order, ``batch_rows`` at a time (empty batches skipped)."""
        for batch in self._parquet.iter_batches(batch_size=batch_rows):
            if batch.num_rows:
                yield batch_to_frames(batch, self.foot)
