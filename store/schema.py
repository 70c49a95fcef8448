"""Arrow schemas of the session files, with units in the field metadata.

Every stream of a session is a table with one row per sample (or per event):

* ``left`` / ``right``: the frames of one insole (:func:`frames_schema`);
* ``events``: gaps, reconnects, steps, alerts, queue overflows, reference events
  (:func:`events_schema`);
* ``<group>-<foot>``: extra per-foot channel groups such as an IMU
  (:func:`channels_schema`), one float32 column per channel.

Units live in each field's metadata under ``b"unit"`` and survive the trip from Arrow
IPC to Parquet, so any Parquet reader sees them. Column names carry the unit too
(``pressure_kpa``, ``t_device_us``), following the project's naming rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from base.frames import FootFrames
from store.arrow_numpy import fixed_list_column, numpy_column, string_column, to_numpy

FORMAT_VERSION = "1"

#: Metadata keys (schema level). Values are UTF-8 strings; ``plantar.session`` is JSON.
KEY_FORMAT = b"plantar.format_version"
KEY_STREAM = b"plantar.stream"
KEY_FOOT = b"plantar.foot"
KEY_LAYOUT = b"plantar.layout_id"
KEY_EU_SIZE = b"plantar.eu_size"
KEY_N_SENSELS = b"plantar.n_sensels"
KEY_N_SHEAR = b"plantar.n_shear"
KEY_SESSION = b"plantar.session"
KEY_GROUP = b"plantar.channel_group"

#: Event kinds written by Plantar itself. Other stages may add their own strings.
EVENT_GAP = "gap"  # the bridge saw a sequence gap; value = frames lost
EVENT_RECONNECT = "reconnect"
EVENT_STEP = "step"
EVENT_ALERT = "alert"
EVENT_QUEUE_OVERFLOW = "queue_overflow"  # frames the recorder could not queue; value = count
EVENT_RECORDING_ERROR = "recording_error"
EVENT_HEEL_STRIKE = "heel_strike"  # reference events from imported files
EVENT_TOE_OFF = "toe_off"
EVENT_MARKER = "marker"


def _field(name: str, type_: pa.DataType, unit: str | None, nullable: bool = False) -> pa.Field:
    meta = {b"unit": unit.encode()} if unit else None
    return pa.field(name, type_, nullable=nullable, metadata=meta)


def frames_schema(
    *,
    foot: str,
    n_sensels: int,
    n_shear: int,
    layout_id: str = "",
    eu_size: float | None = None,
    session: Mapping[str, Any] | None = None,
) -> pa.Schema:
    """Schema of one insole's frame stream.

    Columns: ``seq`` (int64), ``t_s`` (float64, s, session timebase), ``t_device_us``
    (int64, µs, device clock), ``t_host_s`` (float64, s since the Unix epoch, host arrival
    time of the batch), ``t_arrival_s`` (float64, s, session timebase: arrival of the chunk
    that completed the frame, the clock fit's input; NaN for imports), ``device_id``
    (int32), ``pressure_kpa``
    (fixed_size_list<float32>[n_sensels], kPa), ``shear_kpa``
    (fixed_size_list<float32>[n_shear*3], kPa, per site tx, ty, n; absent when the insole
    has no shear sites).
    """
    fields = [
        _field("seq", pa.int64(), None),
        _field("t_s", pa.float64(), "s"),
        _field("t_device_us", pa.int64(), "us"),
        _field("t_host_s", pa.float64(), "s"),
        _field("t_arrival_s", pa.float64(), "s"),
        _field("device_id", pa.int32(), None),
        _field("pressure_kpa", pa.list_(pa.float32(), n_sensels), "kPa"),
    ]
    if n_shear > 0:  # Arrow has no zero-width fixed-size list: pressure-only insoles omit it
        fields.append(_field("shear_kpa", pa.list_(pa.float32(), n_shear * 3), "kPa"))
    meta = {
        KEY_FORMAT: FORMAT_VERSION.encode(),
        KEY_STREAM: b"frames",
        KEY_FOOT: foot.encode(),
        KEY_LAYOUT: layout_id.encode(),
        KEY_EU_SIZE: ("" if eu_size is None else repr(float(eu_size))).encode(),
        KEY_N_SENSELS: str(n_sensels).encode(),
        KEY_N_SHEAR: str(n_shear).encode(),
        KEY_SESSION: json.dumps(dict(session or {}), sort_keys=True).encode(),
    }
    return pa.schema(fields, metadata=meta)


def events_schema(session: Mapping[str, Any] | None = None) -> pa.Schema:
    """Schema of the event stream: t_s (s), foot, kind, value, seq and detail."""
    fields = [
        _field("t_s", pa.float64(), "s"),
        _field("foot", pa.string(), None, nullable=True),
        _field("kind", pa.string(), None),
        _field("value", pa.float64(), None, nullable=True),
        _field("seq", pa.int64(), None, nullable=True),
        _field("detail", pa.string(), None),
    ]
    meta = {
        KEY_FORMAT: FORMAT_VERSION.encode(),
        KEY_STREAM: b"events",
        KEY_SESSION: json.dumps(dict(session or {}), sort_keys=True).encode(),
    }
    return pa.schema(fields, metadata=meta)


def channels_schema(
    *, group: str, foot: str, units: Mapping[str, str], session: Mapping[str, Any] | None = None
) -> pa.Schema:
    """Schema of an extra per-foot channel group: ``seq``, ``t_s`` and one float32 per channel."""
    fields = [_field("seq", pa.int64(), None), _field("t_s", pa.float64(), "s")]
    fields += [_field(name, pa.float32(), unit) for name, unit in units.items()]
    meta = {
        KEY_FORMAT: FORMAT_VERSION.encode(),
        KEY_STREAM: b"channels",
        KEY_GROUP: group.encode(),
        KEY_FOOT: foot.encode(),
        KEY_SESSION: json.dumps(dict(session or {}), sort_keys=True).encode(),
    }
    return pa.schema(fields, metadata=meta)


def _fixed_list(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    return fixed_list_column(values, width, np.float32)


def frames_to_batch(
    frames: FootFrames, t_host_s: np.ndarray | float, schema: pa.Schema
) -> pa.RecordBatch:
    """Convert a :class:`FootFrames` batch to a record batch of ``schema``."""
    n = len(frames)
    host = np.broadcast_to(np.asarray(t_host_s, dtype=np.float64), (n,))
    arrival = np.full(n, np.nan) if frames.t_arrival_s is None else frames.t_arrival_s
    columns = [
        numpy_column(frames.seq, np.int64),
        numpy_column(frames.t_s, np.float64),
        numpy_column(frames.t_device_us, np.int64),
        numpy_column(host, np.float64),
        numpy_column(arrival, np.float64),
        numpy_column(np.full(n, frames.device_id), np.int32),
        _fixed_list(frames.pressure_kpa, frames.n_sensels),
    ]
    if "shear_kpa" in schema.names:
        columns.append(_fixed_list(frames.shear_kpa, frames.n_shear * 3))
    return pa.record_batch(columns, schema=schema)


def batch_to_frames(batch: pa.RecordBatch | pa.Table, foot: str) -> FootFrames:
    """Convert rows of a frames table back to :class:`FootFrames` (zero-copy where possible).

    Slices (``table.slice(i, n)``, ``batch.slice(i, n)``) give their own rows: the list
    columns are read with ``flatten()``, which honours the slice offset (``.values`` is
    the whole child array of the parent).
    """
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else None
    if batch is None:
        raise ValueError("empty table")
    n = batch.num_rows
    pressure = batch.column("pressure_kpa")
    n_sensels = pressure.type.list_size
    if "shear_kpa" in batch.schema.names:
        shear_col = batch.column("shear_kpa")
        n_shear = shear_col.type.list_size // 3
        shear = to_numpy(shear_col.flatten()).reshape(n, n_shear, 3)
    else:
        shear = np.zeros((n, 0, 3), dtype=np.float32)
    device = to_numpy(batch.column("device_id"))
    return FootFrames(
        foot=foot,
        device_id=int(device[0]) if n else 0,
        seq=to_numpy(batch.column("seq")),
        t_device_us=to_numpy(batch.column("t_device_us")),
        t_s=to_numpy(batch.column("t_s")),
        t_arrival_s=(
            to_numpy(batch.column("t_arrival_s")) if "t_arrival_s" in batch.schema.names else None
        ),
        pressure_kpa=to_numpy(pressure.flatten()).reshape(n, n_sensels),
        shear_kpa=shear,
    )


def read_frame_rows(
    path: str | Path, start: int, stop: int, foot: str, columns: list[str] | None = None
) -> FootFrames:
    """Rows ``start:stop`` of a finalised ``<foot>.parquet`` file, reading only the row groups
    that hold them (a 2 h session is ~1 GB of pressure; one step is a few hundred rows).

    ``columns`` defaults to all; ``seq``, ``t_device_us``, ``t_s``, ``device_id`` and
    ``pressure_kpa`` are always read. Raises ``ValueError`` for an empty or out-of-range span.
    """
    pf = pq.ParquetFile(path)
    n_rows = pf.metadata.num_rows
    if not 0 <= start < stop <= n_rows:
        raise ValueError(f"rows {start}:{stop} outside 0:{n_rows} of {path}")
    groups, first_row, offset = [], None, 0
    for g in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(g).num_rows
        if offset < stop and offset + rows > start:
            groups.append(g)
            first_row = offset if first_row is None else first_row
        offset += rows
    needed = ["seq", "t_device_us", "t_s", "device_id", "pressure_kpa"]
    wanted = None if columns is None else list(dict.fromkeys(needed + list(columns)))
    table = pf.read_row_groups(groups, columns=wanted)
    assert first_row is not None
    return batch_to_frames(table.slice(start - first_row, stop - start), foot)


def events_to_batch(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Convert event dicts (keys as in :func:`events_schema`) to a record batch."""

    def numbers(key: str, dtype: Any) -> pa.Array:
        present = [r.get(key) is not None for r in rows]
        values = [r[key] if ok else 0 for r, ok in zip(rows, present, strict=True)]
        return numpy_column(np.asarray(values, dtype=dtype), dtype, valid=np.asarray(present))

    columns = [
        numpy_column(np.asarray([float(r["t_s"]) for r in rows]), np.float64),
        string_column([r.get("foot") for r in rows]),
        string_column([str(r["kind"]) for r in rows]),
        numbers("value", np.float64),
        numbers("seq", np.int64),
        string_column([str(r.get("detail", "")) for r in rows]),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def channels_to_batch(
    seq: np.ndarray, t_s: np.ndarray, values: Mapping[str, np.ndarray], schema: pa.Schema
) -> pa.RecordBatch:
    """Convert a channel group's arrays (one (n,) array per channel) to a record batch."""
    columns = [numpy_column(seq, np.int64), numpy_column(t_s, np.float64)]
    for name in schema.names[2:]:
        columns.append(numpy_column(values[name], np.float32))
    return pa.record_batch(columns, schema=schema)


def field_unit(field: pa.Field) -> str:
    """Return the unit of ``field`` from its metadata ("" when it has none)."""
    meta = field.metadata or {}
    return meta.get(b"unit", b"").decode()


def schema_meta(schema: pa.Schema, key: bytes) -> str:
    """Return a schema-level metadata value as text ("" when absent)."""
    return (schema.metadata or {}).get(key, b"").decode()
