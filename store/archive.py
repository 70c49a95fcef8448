"""Archive finalised sessions as a partitioned (hive-style) Parquet dataset.

``archive_sessions(DIR)`` writes every finalised (or recovered) session under ::

    DIR/athlete=<athlete>/date=<YYYY-MM-DD>/session=<id>/
        left.parquet, right.parquet   frames, copied byte for byte from the store
        events.parquet                events (when the session has any)
        <group>-<foot>.parquet        extra channel groups (imports: imu, force)
        sessions.parquet              one row: the catalog metadata of the session
        steps.parquet                 one row per detected step with its pivot at toe-off
        _archive.json                 what was archived (source checksums); readers skip it

so that DuckDB here and Spark or Dask at lab scale read ``DIR`` as one dataset, with
``athlete``, ``date`` and ``session`` as partition columns (they are not repeated inside
the files). Partition values are percent-encoded outside ``[A-Za-z0-9._-]`` (as Hive and
Spark escape path names); an empty athlete is ``__HIVE_DEFAULT_PARTITION__`` (null).

The archive is idempotent: a session whose ``_archive.json`` lists the same source
checksums is skipped; a session whose content changed (re-finalised, metadata edited) is
rewritten in a hidden temporary directory and swapped in, and an old copy under another
athlete or date is removed. Source files are copied, never moved or modified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from base import paths
from store.catalog import row_from_session_json
from store.errors import StoreError, describe_os_error
from store.session import (
    PARQUET_SUFFIX,
    SESSION_FILE,
    STATUS_FINALISED,
    STATUS_RECOVERED,
    list_session_dirs,
    read_session_json,
    utc_now_iso,
)

#: Version of the archive layout (bump when the tables or the layout change).
ARCHIVE_FORMAT = 1
MANIFEST_FILE = "_archive.json"
SESSIONS_TABLE = "sessions.parquet"
STEPS_TABLE = "steps.parquet"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_SAFE = frozenset(string.ascii_letters + string.digits + "._-")


def _f(name: str, type_: pa.DataType, unit: str = "") -> pa.Field:
    return pa.field(name, type_, metadata={b"unit": unit.encode()} if unit else None)


STEPS_SCHEMA = pa.schema(
    [
        _f("foot", pa.string()),
        _f("heel_strike_s", pa.float64(), "s"),
        _f("toe_off_s", pa.float64(), "s"),
        _f("contact_time_s", pa.float64(), "s"),
        _f("step_time_s", pa.float64(), "s"),
        _f("stride_time_s", pa.float64(), "s"),
        _f("peak_force_n", pa.float64(), "N"),
        _f("strike_index", pa.float64(), "%"),
        _f("pivot", pa.float64()),  # unit in pivot_unit (per row: it depends on pivot_kind)
        _f("pivot_kind", pa.string()),
        _f("pivot_metric", pa.string()),
        _f("pivot_unit", pa.string()),
    ],
    metadata={b"plantar.archive_table": b"steps"},
)


@dataclass
class ArchiveReport:
    """What one archive run did (session ids)."""

    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    not_finalised: list[str] = field(default_factory=list)
    steps_errors: dict[str, str] = field(default_factory=dict)
    destination: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "destination": self.destination,
            "archived": self.archived,
            "skipped": self.skipped,
            "not_finalised": self.not_finalised,
            "steps_errors": self.steps_errors,
        }


def partition_value(value: str | None) -> str:
    """Hive-style path value: percent-encode outside ``[A-Za-z0-9._-]``; empty → null."""
    if not value:
        return NULL_PARTITION
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def session_date(info: dict[str, Any], session_id: str) -> str:
    """UTC date of the session start (``meta.started_at``, else the id), ``YYYY-MM-DD``."""
    started = (info.get("meta") or {}).get("started_at") or ""
    try:
        when = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC)
        return when.date().isoformat()
    except ValueError:
        pass
    try:
        return dt.datetime.strptime(session_id[:8], "%Y%m%d").date().isoformat()
    except ValueError:
        return NULL_PARTITION


def partition_path(dest: Path, athlete: str, date: str, session_id: str) -> Path:
    """``dest/athlete=<a>/date=<d>/session=<id>``."""
    return (
        Path(dest)
        / f"athlete={partition_value(athlete)}"
        / f"date={date}"
        / f"session={partition_value(session_id)}"
    )


def _source_files(directory: Path) -> list[Path]:
    """The finalised files of a session that go into the archive (no streams, no lock)."""
    return sorted(p for p in directory.glob(f"*{PARQUET_SUFFIX}") if p.is_file())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def source_checksums(directory: Path) -> dict[str, str]:
    """sha256 of ``session.json`` and of every Parquet file of the session."""
    files = [directory / SESSION_FILE, *_source_files(directory)]
    return {p.name: _sha256(p) for p in files}


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        with open(directory / MANIFEST_FILE, encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
        return data
    except (OSError, ValueError):
        return None


def _existing_copies(dest: Path, session_id: str) -> list[Path]:
    name = f"session={partition_value(session_id)}"
    return sorted(p for p in dest.glob(f"athlete=*/date=*/{name}") if p.is_dir())


# -- tables ----------------------------------------------------------------------------


def sessions_table(directory: Path, info: dict[str, Any]) -> pa.Table:
    """One-row table of the session's catalog metadata (without the partition keys)."""
    row, tags = row_from_session_json(directory)
    meta = info.get("meta") or {}
    types: dict[str, tuple[pa.DataType, str]] = {
        "eu_size_left": (pa.float64(), ""),
        "eu_size_right": (pa.float64(), ""),
        "treadmill_speed_kmh": (pa.float64(), "km/h"),
        "treadmill_incline_pct": (pa.float64(), "%"),
        "duration_s": (pa.float64(), "s"),
        "gap_s": (pa.float64(), "s"),
        "lost_at_end_s": (pa.float64(), "s"),
        "frames_left": (pa.int64(), ""),
        "frames_right": (pa.int64(), ""),
        "gap_frames": (pa.int64(), ""),
        "dropped_frames": (pa.int64(), ""),
    }
    fields, values = [], []
    for name, value in row.items():
        if name in ("id", "athlete", "path"):
            continue  # id and athlete are partition columns; the path is local to one Pi
        type_, unit = types.get(name, (pa.string(), ""))
        fields.append(_f(name, type_, unit))
        values.append(value)
    extra = [
        (_f("athlete_name", pa.string()), meta.get("athlete") or ""),
        (_f("tags", pa.list_(pa.string())), sorted(set(tags))),
        (_f("extra_json", pa.string()), json.dumps(meta.get("extra") or {}, sort_keys=True)),
        (_f("source_host", pa.string()), socket.gethostname()),
        (_f("source_path", pa.string()), str(directory)),
    ]
    for f, v in extra:
        fields.append(f)
        values.append(v)
    schema = pa.schema(fields, metadata={b"plantar.archive_table": b"sessions"})
    return pa.Table.from_pylist([dict(zip(schema.names, values, strict=True))], schema=schema)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def steps_table(steps: list[dict[str, Any]]) -> pa.Table:
    """Per-step table (foot, timing, pivot value and kind) from the caller's step rows.

    The pivot's value, kind, metric and unit are those its record carries
    (``analysis.records.PivotValue``): the archive states no unit of its own.
    """
    rows = []
    for st in steps:
        piv = st.get("pivot") or {}
        rows.append(
            {
                "foot": st["foot"],
                "heel_strike_s": _num(st.get("heel_strike_s")),
                "toe_off_s": _num(st.get("toe_off_s")),
                "contact_time_s": _num(st.get("contact_time_s")),
                "step_time_s": _num(st.get("step_time_s")),
                "stride_time_s": _num(st.get("stride_time_s")),
                "peak_force_n": _num(st.get("peak_force_n")),
                "strike_index": _num(st.get("strike_index")),
                "pivot": _num(piv.get("value")),
                "pivot_kind": piv.get("kind") or "",
                "pivot_metric": piv.get("metric") or "",
                "pivot_unit": piv.get("unit") or "",
            }
        )
    return pa.Table.from_pylist(rows, schema=STEPS_SCHEMA)


# -- archiving -------------------------------------------------------------------------


#: The caller's step analysis: a finalised session directory -> its step rows (dicts with
#: foot, timing, peak force, strike index and a ``pivot`` record; see :func:`steps_table`).
StepsOf = Callable[[Path], list[dict[str, Any]]]


def _write_session(
    directory: Path,
    info: dict[str, Any],
    target: Path,
    checksums: dict[str, str],
    steps_of: StepsOf | None,
) -> str | None:
    """Write one session into ``target`` (a fresh directory); return a steps error or None."""
    target.mkdir(parents=True)
    for src in _source_files(directory):
        shutil.copy2(src, target / src.name)
    pq.write_table(sessions_table(directory, info), target / SESSIONS_TABLE)
    error = None
    if steps_of is not None:
        try:
            step_rows = steps_of(directory)
        except Exception as err:  # one bad layout must not stop the archive
            error = f"{type(err).__name__}: {err}"
            step_rows = []
        pq.write_table(steps_table(step_rows), target / STEPS_TABLE)
    manifest = {
        "archive_format": ARCHIVE_FORMAT,
        "session": directory.name,
        "archived_at": utc_now_iso(),
        "source_host": socket.gethostname(),
        "source_path": str(directory),
        "with_steps": steps_of is not None,
        "steps_error": error,
        "checksums": checksums,
    }
    with open(target / MANIFEST_FILE, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    return error


def archive_sessions(
    dest: Path,
    *,
    athlete: str | None = None,
    root: Path | None = None,
    steps_of: StepsOf | None = None,
) -> ArchiveReport:
    """Archive every finalised session under ``root`` (default: the sessions directory)
    into the partitioned dataset ``dest``; only ``athlete``'s when given.

    ``steps_of`` is the caller's step analysis (the store computes no metric): each
    session's rows go into ``steps.parquet``; None writes no steps table.

    Raises
    ------
    StoreError
        ``dest`` cannot be created or written (disk full, read-only ...).
    """
    dest = Path(dest).expanduser()
    report = ArchiveReport(destination=str(dest))
    root = root or paths.sessions_dir()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for directory in list_session_dirs(root):
            try:
                info = read_session_json(directory)
            except (OSError, ValueError):
                report.not_finalised.append(directory.name)
                continue
            meta = info.get("meta") or {}
            if athlete is not None and (meta.get("athlete") or "") != athlete:
                continue
            session_id = str(info.get("id") or directory.name)
            if info.get("status") not in (STATUS_FINALISED, STATUS_RECOVERED):
                report.not_finalised.append(session_id)
                continue
            final = partition_path(
                dest, meta.get("athlete") or "", session_date(info, session_id), session_id
            )
            checksums = source_checksums(directory)
            existing = _existing_copies(dest, session_id)
            manifest = _read_manifest(final) if final in existing else None
            if (
                manifest is not None
                and manifest.get("archive_format") == ARCHIVE_FORMAT
                and manifest.get("checksums") == checksums
                and bool(manifest.get("with_steps")) == (steps_of is not None)
                and len(existing) == 1
            ):
                report.skipped.append(session_id)
                continue
            tmp = dest / f".tmp-{session_id}-{os.getpid()}"
            if tmp.exists():
                shutil.rmtree(tmp)
            error = _write_session(directory, info, tmp, checksums, steps_of)
            if error:
                report.steps_errors[session_id] = error
            old = []
            for k, copy in enumerate(existing):
                aside = dest / f".old-{session_id}-{os.getpid()}-{k}"
                os.replace(copy, aside)
                old.append(aside)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            for aside in old:
                shutil.rmtree(aside, ignore_errors=True)
            for copy in existing:  # drop partitions left empty by a move
                for parent in (copy.parent, copy.parent.parent):
                    if parent != final.parent and parent != final.parent.parent:
                        try:
                            parent.rmdir()
                        except OSError:
                            break
            report.archived.append(session_id)
    except OSError as err:
        raise StoreError(
            f"archive stopped: {describe_os_error(err)} at {err.filename or dest}"
        ) from err
    return report
