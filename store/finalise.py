"""Finalising: compact a session's Arrow IPC streams into Parquet and check them.

Runs on :meth:`Recorder.stop` and, after a crash, from :mod:`store.recovery`. It streams
batch by batch (memory is bounded by one Parquet row group, never the whole session),
writes each ``<stream>.parquet`` through a temporary file and a rename, checks that
the Parquet row counts equal the rows read from the streams, accounts for sequence gaps
(gaps seen by the bridge and frames refused by a full queue, both recorded as events),
records a summary in ``session.json`` and the catalog, and only then removes the
streams. Running it again after an interruption redoes the same work.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from store import schema as sch
from store.arrow_numpy import to_numpy, to_strings
from store.errors import StoreError
from store.retime import SessionRetime
from store.session import (
    PARQUET_SUFFIX,
    REFUSED_FILE,
    RESERVE_FILE,
    STATUS_FINALISED,
    STATUS_RECORDING,
    STATUS_RECOVERED,
    STREAM_SUFFIX,
    fsync_dir,
    read_session_json,
    try_lock,
    write_json_atomic,
)
from store.streams import StreamReadResult, read_stream

log = logging.getLogger("plantar.store.finalise")

#: Bytes of one Parquet row group (before compression); bounds finalise's memory.
ROW_GROUP_BYTES = 8 * 1024 * 1024
PARQUET_COMPRESSION = "zstd"


@dataclass
class FootSummary:
    """What one foot's frame stream held."""

    frames: int = 0
    first_t_s: float = math.nan
    last_t_s: float = math.nan
    first_seq: int = -1
    last_seq: int = -1
    gap_frames: int = 0  # sequence numbers missing inside the recording
    out_of_order: int = 0  # seq not strictly increasing (should be 0)
    lost_at_end_s: float = 0.0  # estimated from a partial batch at the end of the stream

    @property
    def rate_hz(self) -> float:
        """Mean sampling rate from the time stamps (NaN with fewer than two frames)."""
        span = self.last_t_s - self.first_t_s
        return (self.frames - 1) / span if self.frames > 1 and span > 0 else math.nan

    @property
    def duration_s(self) -> float:
        """Span of the foot's samples including the last sample period, s."""
        if self.frames == 0:
            return 0.0
        rate = self.rate_hz
        return (self.last_t_s - self.first_t_s) + (1.0 / rate if rate == rate else 0.0)


@dataclass
class FinaliseReport:
    """Result of finalising one session."""

    session_id: str
    status: str
    duration_s: float = 0.0
    feet: dict[str, FootSummary] = field(default_factory=dict)
    events: int = 0
    gap_frames: int = 0
    gap_s: float = 0.0
    reported_gap_frames: int = 0  # announced by "gap" events from the bridge
    dropped_frames: int = 0  # "queue_overflow" events, and refused.json after a failure
    unaccounted_gap_frames: int = 0
    lost_at_end_s: float = 0.0
    complete: bool = True  # every stream ended with its end-of-stream marker
    files: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        """Frames of both feet together."""
        return sum(f.frames for f in self.feet.values())

    def message(self) -> str:
        """One line for the user, e.g. ``recovered session X: 5,412.3 s, 0.4 s lost at the end``."""
        verb = "recovered" if self.status == STATUS_RECOVERED else "finalised"
        text = f"{verb} session {self.session_id}: {self.duration_s:,.1f} s"
        if self.status == STATUS_RECOVERED:
            text += f", {self.lost_at_end_s:,.1f} s lost at the end"
        if self.gap_frames:
            text += f", {self.gap_frames} frames missing in gaps ({self.gap_s:.1f} s)"
        return text

    def to_summary(self) -> dict[str, Any]:
        """The JSON summary stored in ``session.json``."""
        data = asdict(self)
        data["frames"] = self.frames
        data["feet"] = {
            foot: {**asdict(s), "rate_hz": _num(s.rate_hz), "duration_s": s.duration_s}
            for foot, s in self.feet.items()
        }
        for foot in data["feet"].values():
            for key in ("first_t_s", "last_t_s"):
                foot[key] = _num(foot[key])
        return data


def _num(x: float) -> float | None:
    return None if x != x else x


def _update_foot(summary: FootSummary, batch: pa.RecordBatch) -> None:
    seq = to_numpy(batch.column("seq"))
    t_s = to_numpy(batch.column("t_s"))
    if len(seq) == 0:
        return
    if summary.frames == 0:
        summary.first_t_s = float(t_s[0])
        summary.first_seq = int(seq[0])
        prev = None
    else:
        prev = summary.last_seq
    full = np.concatenate(([prev], seq)) if prev is not None else seq
    steps = np.diff(full)
    summary.gap_frames += int(np.sum(steps[steps > 1] - 1))
    summary.out_of_order += int(np.sum(steps < 1))
    summary.frames += len(seq)
    summary.last_seq = int(seq[-1])
    summary.last_t_s = float(t_s[-1])


def _update_events(report: FinaliseReport, batch: pa.RecordBatch) -> None:
    kinds = np.asarray(to_strings(batch.column("kind")), dtype=object)
    values = to_numpy(batch.column("value"))  # null values: NaN
    for kind, attr in (
        (sch.EVENT_GAP, "reported_gap_frames"),
        (sch.EVENT_QUEUE_OVERFLOW, "dropped_frames"),
    ):
        total = np.nansum(values[kinds == kind])
        setattr(report, attr, getattr(report, attr) + int(total))
    report.events += batch.num_rows


def _with_units_metadata(schema: pa.Schema) -> pa.Schema:
    """Add a file-level ``plantar.units`` JSON map (for readers that drop field metadata)."""
    units = {f.name: sch.field_unit(f) for f in schema if sch.field_unit(f)}
    meta = dict(schema.metadata or {})
    meta[b"plantar.units"] = json.dumps(units, sort_keys=True).encode()
    return schema.with_metadata(meta)


def compact_stream(
    stream_path: Path, parquet_path: Path, on_batch: Any = None, transform: Any = None
) -> StreamReadResult:
    """Copy the whole batches of ``stream_path`` into ``parquet_path`` (atomically).

    ``on_batch(batch)`` is called for every batch read. ``transform(batches)``, if given,
    maps the iterator of batches read to the batches written (same rows). Returns what
    was read; the Parquet file is written only when the stream had a schema.
    """
    result = StreamReadResult()
    tmp = parquet_path.with_name(parquet_path.name + ".tmp")
    writer: pq.ParquetWriter | None = None
    buffered: list[pa.RecordBatch] = []
    buffered_bytes = 0
    try:
        batches = read_stream(stream_path, result)
        for batch in batches if transform is None else transform(batches):
            if writer is None:
                writer = pq.ParquetWriter(
                    tmp, _with_units_metadata(batch.schema), compression=PARQUET_COMPRESSION
                )
            if on_batch is not None:
                on_batch(batch)
            buffered.append(batch)
            buffered_bytes += batch.nbytes
            if buffered_bytes >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(buffered))
                buffered, buffered_bytes = [], 0
        if writer is None and result.schema is not None:
            writer = pq.ParquetWriter(
                tmp, _with_units_metadata(result.schema), compression=PARQUET_COMPRESSION
            )
        if writer is not None:
            if buffered:
                writer.write_table(pa.Table.from_batches(buffered))
            writer.close()
            writer = None
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            written = pq.ParquetFile(tmp).metadata.num_rows
            if written != result.rows:
                raise StoreError(
                    f"finalising {stream_path}: wrote {written} rows to Parquet but read "
                    f"{result.rows}; the raw stream is kept, run again"
                )
            os.replace(tmp, parquet_path)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return result


def finalise_session(
    directory: Path,
    *,
    recovered: bool = False,
    catalog: Any = None,
    lock_held: bool = False,
) -> FinaliseReport:
    """Compact, check and close the session in ``directory``.

    Parameters
    ----------
    directory : Path
        The session directory.
    recovered : bool
        The session was interrupted (status becomes ``recovered`` instead of
        ``finalised``).
    catalog : Catalog or None or False
        Catalog to update (None: the default one; False: none).
    lock_held : bool
        The caller (the recorder) holds the session lock; otherwise it is taken here and
        a session still locked by a live recorder raises :class:`StoreError`.
    """
    if not lock_held:
        with try_lock(directory) as got:
            if not got:
                raise StoreError(f"session {directory.name} is still being recorded")
            return _finalise(directory, recovered, catalog)
    return _finalise(directory, recovered, catalog)


def _finalise(directory: Path, recovered: bool, catalog: Any) -> FinaliseReport:
    from store.catalog import open_catalog

    info = read_session_json(directory)
    session_id = str(info.get("id", directory.name))
    status = STATUS_RECOVERED if recovered else STATUS_FINALISED
    report = FinaliseReport(session_id=session_id, status=status)
    # the feet before the events: events are re-timed with their foot's frames
    streams = sorted(directory.glob(f"*{STREAM_SUFFIX}"), key=lambda p: (p.stem == "events", p))
    retime = SessionRetime()
    if info.get("status") != STATUS_RECORDING and info.get("summary"):
        # already finalised (session.json is written only once every Parquet file is
        # complete); a crash may have left some streams undeleted: delete them now
        for leftover in [*streams, directory / REFUSED_FILE, directory / RESERVE_FILE]:
            leftover.unlink(missing_ok=True)
        report.status = str(info["status"])
        report.duration_s = float(info["summary"].get("duration_s", 0.0))
        return report
    for stream_path in streams:
        name = stream_path.stem
        parquet_path = directory / f"{name}{PARQUET_SUFFIX}"
        if name in ("left", "right"):
            foot = report.feet.setdefault(name, FootSummary())
            result = compact_stream(
                stream_path,
                parquet_path,
                lambda b, s=foot: _update_foot(s, b),
                transform=retime.frames(name),  # the settled clock fit, also for recovery
            )
            if not result.complete and result.rows and result.trailing_bytes:
                bytes_per_row = result.bytes_read / result.rows
                rate = foot.rate_hz
                if rate == rate:
                    foot.lost_at_end_s = result.trailing_bytes / bytes_per_row / rate
        elif name == "events":
            result = compact_stream(
                stream_path,
                parquet_path,
                lambda b: _update_events(report, b),
                transform=retime.events,
            )
        else:
            result = compact_stream(stream_path, parquet_path)
        report.complete &= result.complete
        if parquet_path.exists():
            report.files.append(parquet_path.name)
    report.files = sorted(set(report.files) | {p.name for p in directory.glob("*.parquet")})
    report.dropped_frames += _refused_frames(directory)
    _summarise(report)
    info["status"] = status
    info["summary"] = report.to_summary()
    info.setdefault("meta", {}).setdefault("started_at", "")
    write_json_atomic(directory / "session.json", info)
    for leftover in [*streams, directory / REFUSED_FILE, directory / RESERVE_FILE]:
        leftover.unlink(missing_ok=True)
    fsync_dir(directory)
    db = open_catalog(catalog)
    if db is not None:
        try:
            db.upsert_from_disk(directory)
        except Exception as err:  # the catalog is an index; session.json is the truth
            log.warning("catalog not updated for %s: %s", session_id, err)
    return report


def _refused_frames(directory: Path) -> int:
    """Frames a failed recorder refused after its last event (:data:`REFUSED_FILE`)."""
    try:
        with open(directory / REFUSED_FILE, encoding="utf-8") as f:
            feet = json.load(f).get("feet") or {}
        return sum(int(foot.get("frames") or 0) for foot in feet.values())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, AttributeError, TypeError) as err:
        log.warning(
            "%s: %s unreadable (%s); refused frames not counted", directory, REFUSED_FILE, err
        )
        return 0


def _summarise(report: FinaliseReport) -> None:
    feet = report.feet.values()
    report.duration_s = max((f.duration_s for f in feet), default=0.0)
    report.gap_frames = sum(f.gap_frames for f in feet)
    report.gap_s = sum(f.gap_frames / f.rate_hz for f in feet if f.rate_hz == f.rate_hz)
    report.lost_at_end_s = max((f.lost_at_end_s for f in feet), default=0.0)
    accounted = report.reported_gap_frames + report.dropped_frames
    report.unaccounted_gap_frames = max(report.gap_frames - accounted, 0)
    if report.unaccounted_gap_frames:
        log.warning(
            "session %s: %d frames missing in sequence gaps that no event accounts for",
            report.session_id,
            report.unaccounted_gap_frames,
        )
