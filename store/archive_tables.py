"""The tables and paths of the archive: per-step and per-session Parquet, hive partitions.

The per-step table is the lab's everyday data; its schema is versioned
(:data:`STEPS_SCHEMA_VERSION`, in the file's ``plantar.schema_version`` metadata) and
documented in docs/storage.md; every numeric column carries its unit in the field
metadata (``unit``), except ``pivot`` whose unit depends on its kind (``pivot_unit``).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path
from typing import Any

import pyarrow as pa

from store.catalog import row_from_session_json

#: Version of the per-step table: 2 added ``forefoot_peak_kpa``.
STEPS_SCHEMA_VERSION = 2
#: Version of the per-session table.
SESSIONS_SCHEMA_VERSION = 1
SESSIONS_TABLE = "sessions.parquet"
STEPS_TABLE = "steps.parquet"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: Characters Hive and Spark escape in partition paths (``escapePathName``); everything
#: else, non-ASCII letters too, stays as it is (Spark decodes an escape as one byte).
_ESCAPED = frozenset("\"#%'*/:=?\\{[]^\x7f") | frozenset(map(chr, range(32)))


def _f(name: str, type_: pa.DataType, unit: str = "") -> pa.Field:
    return pa.field(name, type_, metadata={b"unit": unit.encode()} if unit else None)


def _table_metadata(table: str, version: int) -> dict[bytes, bytes]:
    return {b"plantar.archive_table": table.encode(), b"plantar.schema_version": b"%d" % version}


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
        _f("forefoot_peak_kpa", pa.float64(), "kPa"),
        _f("pivot", pa.float64()),  # unit in pivot_unit (per row: it depends on pivot_kind)
        _f("pivot_kind", pa.string()),
        _f("pivot_metric", pa.string()),
        _f("pivot_unit", pa.string()),
    ],
    metadata=_table_metadata("steps", STEPS_SCHEMA_VERSION),
)


def partition_value(value: str | None) -> str:
    """Hive-style path value: ``%XX`` for the characters Hive and Spark escape; empty → null."""
    if not value:
        return NULL_PARTITION
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


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


def partition_dir(athlete: str, date: str, session_id: str) -> str:
    """``athlete=<a>/date=<d>/session=<id>`` (relative to the archive's base)."""
    return f"athlete={partition_value(athlete)}/date={date}/session={partition_value(session_id)}"


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
    schema = pa.schema(fields, metadata=_table_metadata("sessions", SESSIONS_SCHEMA_VERSION))
    return pa.Table.from_pylist([dict(zip(schema.names, values, strict=True))], schema=schema)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def steps_table(steps: list[dict[str, Any]]) -> pa.Table:
    """Per-step table (foot, timing, forefoot peak, pivot value and kind) from the
    caller's step rows.

    The pivot's value, kind, metric and unit are those its record carries
    (``analysis.records.PivotValue``): the archive states no unit of its own.
    """
    rows = []
    for st in steps:
        piv = st.get("pivot") or {}
        rows.append(
            {
                "foot": st["foot"],
                **{
                    name: _num(st.get(name))
                    for name in STEPS_SCHEMA.names[1:9]  # the numeric columns with a unit
                },
                "pivot": _num(piv.get("value")),
                "pivot_kind": piv.get("kind") or "",
                "pivot_metric": piv.get("metric") or "",
                "pivot_unit": piv.get("unit") or "",
            }
        )
    return pa.Table.from_pylist(rows, schema=STEPS_SCHEMA)
