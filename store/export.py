"""Export a session as one flat table: CSV or Parquet, one row per sample per foot.

Columns: ``foot``, ``seq``, ``t_s``, ``t_device_us``, ``t_host_s``, ``device_id``, one
column per sensel ``p001_kpa`` …, per shear site ``s1_tx_kpa``, ``s1_ty_kpa``,
``s1_n_kpa`` …, then the foot's extra channel groups by name (``accel_x_g``,
``gyro_z_dps``, ``total_force_n`` …). Units are in every column name (and in the
Parquet field metadata). A missing sample is an empty CSV field (a Parquet null),
never 0. Events go to a sibling file ``<name>-events.csv`` / ``.parquet``.

The export streams batch by batch through the frames; extra channel groups (a few
float32 columns) are read whole per foot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from base import paths
from store import schema as sch
from store.arrow_numpy import to_numpy
from store.errors import SessionNotFoundError, StoreError, describe_os_error
from store.session import (
    PARQUET_SUFFIX,
    STATUS_RECORDING,
    list_session_dirs,
    read_session_json,
)

EXPORT_FORMATS = ("parquet", "csv")
BATCH_ROWS = 8192


def find_session(session: str, root: Path | None = None) -> Path:
    """Directory of the session whose id is ``session`` or starts with it (unique)."""
    dirs = list_session_dirs(root or paths.sessions_dir())
    exact = [d for d in dirs if d.name == session]
    matches = exact or [d for d in dirs if d.name.startswith(session)]
    if not matches:
        raise SessionNotFoundError(f"no session {session!r}; list them with `plantar sessions`")
    if len(matches) > 1:
        names = ", ".join(d.name for d in matches[:5])
        raise SessionNotFoundError(f"session {session!r} is ambiguous ({names}); give more of it")
    return matches[0]


def _flat_field(name: str, type_: pa.DataType, unit: str) -> pa.Field:
    return pa.field(name, type_, metadata={b"unit": unit.encode()} if unit else None)


def _column_names(n_sensels: int, n_shear: int) -> list[str]:
    names = [f"p{i + 1:03d}_kpa" for i in range(n_sensels)]
    for k in range(n_shear):
        names += [f"s{k + 1}_tx_kpa", f"s{k + 1}_ty_kpa", f"s{k + 1}_n_kpa"]
    return names


def _with_nulls(values: np.ndarray) -> pa.Array:
    """float array with NaN as null (missing stays missing)."""
    mask = np.isnan(values)
    return pa.array(values, mask=mask if mask.any() else None)


def _foot_files(directory: Path) -> dict[str, Path]:
    return {
        foot: directory / f"{foot}{PARQUET_SUFFIX}"
        for foot in ("left", "right")
        if (directory / f"{foot}{PARQUET_SUFFIX}").exists()
    }


def _channel_tables(directory: Path, foot: str) -> list[pa.Table]:
    tables = []
    for path in sorted(directory.glob(f"*-{foot}{PARQUET_SUFFIX}")):
        tables.append(pq.read_table(path))
    return tables


def flat_schema(directory: Path) -> pa.Schema:
    """Schema of the flat export of the session in ``directory`` (widest foot wins)."""
    n_sensels = n_shear = 0
    channel_fields: dict[str, pa.Field] = {}
    for foot, path in _foot_files(directory).items():
        s = pq.read_schema(path)
        n_sensels = max(n_sensels, int(sch.schema_meta(s, sch.KEY_N_SENSELS) or 0))
        n_shear = max(n_shear, int(sch.schema_meta(s, sch.KEY_N_SHEAR) or 0))
        for ch in sorted(directory.glob(f"*-{foot}{PARQUET_SUFFIX}")):
            for field in list(pq.read_schema(ch))[2:]:
                channel_fields.setdefault(field.name, field)
    fields = [
        pa.field("foot", pa.string()),
        pa.field("seq", pa.int64()),
        _flat_field("t_s", pa.float64(), "s"),
        _flat_field("t_device_us", pa.int64(), "us"),
        _flat_field("t_host_s", pa.float64(), "s"),
        pa.field("device_id", pa.int32()),
    ]
    fields += [_flat_field(n, pa.float32(), "kPa") for n in _column_names(n_sensels, n_shear)]
    fields += [
        _flat_field(f.name, pa.float32(), sch.field_unit(f)) for f in channel_fields.values()
    ]
    return pa.schema(fields)


def iter_flat_batches(directory: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Yield the flat rows of every foot of the session, batch by batch."""
    names = schema.names
    for foot, path in _foot_files(directory).items():
        channels = _channel_tables(directory, foot)
        channel_seq = [to_numpy(t.column("seq")) for t in channels]
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            n = batch.num_rows
            seq = to_numpy(batch.column("seq"))
            cols: dict[str, pa.Array] = {
                "foot": pa.array([foot] * n, pa.string()),
                "seq": batch.column("seq"),
                "t_s": batch.column("t_s"),
                "t_device_us": batch.column("t_device_us"),
                "t_host_s": _with_nulls(to_numpy(batch.column("t_host_s"))),
                "device_id": batch.column("device_id"),
            }
            pressure = batch.column("pressure_kpa")
            p = to_numpy(pressure.values).reshape(n, -1)
            data = [p]
            if "shear_kpa" in batch.schema.names:
                s = to_numpy(batch.column("shear_kpa").values)
                data.append(s.reshape(n, -1))
            flat = np.concatenate(data, axis=1) if len(data) > 1 else p
            n_shear = (flat.shape[1] - p.shape[1]) // 3
            for j, name in enumerate(_column_names(p.shape[1], n_shear)):
                cols[name] = _with_nulls(np.ascontiguousarray(flat[:, j]))
            for table, tseq in zip(channels, channel_seq, strict=True):
                idx = np.searchsorted(tseq, seq)
                idx_c = np.clip(idx, 0, max(len(tseq) - 1, 0))
                found = (idx < len(tseq)) & (tseq[idx_c] == seq) if len(tseq) else idx < 0
                for name in table.column_names[2:]:
                    values = np.full(n, np.nan, dtype=np.float32)
                    if len(tseq):
                        col = to_numpy(table.column(name))
                        values[found] = col[idx_c[found]]
                    cols[name] = _with_nulls(values)
            arrays = [
                cols[name] if name in cols else pa.nulls(n, schema.field(name).type)
                for name in names
            ]
            yield pa.record_batch(arrays, schema=schema)


def export_session(
    session: str, fmt: str, out: Path, *, root: Path | None = None
) -> dict[str, Any]:
    """Export ``session`` (id or unique prefix) as ``fmt`` to ``out``; return a summary."""
    if fmt not in EXPORT_FORMATS:
        raise StoreError(f"unknown export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")
    directory = find_session(session, root)
    info = read_session_json(directory)
    if info.get("status") == STATUS_RECORDING:
        raise StoreError(
            f"session {directory.name} is still recording (or was interrupted: "
            "run `plantar sessions` to recover it) and cannot be exported yet"
        )
    schema = flat_schema(directory)
    out = Path(out)
    events_out = out.with_name(f"{out.stem}-events{out.suffix or '.' + fmt}")
    rows = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            options = pacsv.WriteOptions(quoting_style="needed")
            with pacsv.CSVWriter(out, schema, write_options=options) as writer:
                for batch in iter_flat_batches(directory, schema):
                    writer.write_batch(batch)
                    rows += batch.num_rows
        else:
            with pq.ParquetWriter(out, schema, compression="zstd") as writer:
                for batch in iter_flat_batches(directory, schema):
                    writer.write_batch(batch)
                    rows += batch.num_rows
        events_path = directory / f"events{PARQUET_SUFFIX}"
        if events_path.exists():
            events = pq.read_table(events_path)
            if fmt == "csv":
                pacsv.write_csv(events, events_out, write_options=options)
            else:
                pq.write_table(events, events_out)
        else:
            events_out = None
    except OSError as err:
        raise StoreError(
            f"export stopped: {describe_os_error(err)} at {err.filename or out}"
        ) from err
    return {
        "session": directory.name,
        "format": fmt,
        "rows": rows,
        "path": str(out),
        "events_path": str(events_out) if events_out else None,
    }
