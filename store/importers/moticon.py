"""Moticon OpenGo text export (``.txt``): 16 pressure cells and a 6-axis IMU per foot.

Pressure is in N/cm² and is converted to kPa (1 N/cm² = 10 kPa). An empty field is a
missing sample and stays NaN (one foot often starts later than the other). The IMU is
kept as the per-foot channel group ``imu`` (``accel_{x,y,z}_g`` in g,
``gyro_{x,y,z}_dps`` in deg/s), total force and normalised centre of pressure as the
group ``force`` (``total_force_n`` in N, ``cop_{x,y}_norm`` in -0.5..0.5). The step
columns become reference events (codes 11/15 left heel strike/toe-off, 21/25 right);
the manually set events of a live export (``Left Events`` with a label) become
``marker`` events.

Insole size: the header line ``# Size: N`` is Moticon's insole size. The ``moticon-16``
layout is scaled to it (positions with foot length, areas with its square) through the
session's ``eu_size``: size ``N`` is a foot length of ``MOTICON_LENGTH_AT_SIZE0_MM +
N * MOTICON_LENGTH_PER_SIZE_MM`` (EU 46.3 for size 7, EU 39.1 for size 3, inside the EU
46-47 and 38-39 Moticon sells those sizes for). The two constants are the effective area
factor of Moticon's own total force column (``force = sum pressure x area``, exact to
0.1 %) in the exports of a size-3 and a size-7 pair, so sizes in between are
interpolated and others extrapolated on the same line. A file without a readable size
keeps the layout's own size and says so in ``extra["moticon_size"]``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from hardware.layout import eu_from_foot_length
from store import schema as sch
from store.errors import ImportFormatError
from store.importers import (
    ChannelGroup,
    ImportedRecording,
    header_through,
    make_foot_frames,
    parse_float,
    read_text,
)
from store.session import FootLayout

LAYOUT_ID = "moticon-16"
N_SENSELS = 16
KPA_PER_N_PER_CM2 = 10.0
PRESSURE_UNITS_TO_KPA = {"N/cm²": KPA_PER_N_PER_CM2, "N/cm2": KPA_PER_N_PER_CM2, "kPa": 1.0}

#: Moticon step codes → (foot, event kind).
STEP_CODES: dict[int, tuple[str, str]] = {
    11: ("left", sch.EVENT_HEEL_STRIKE),
    15: ("left", sch.EVENT_TOE_OFF),
    21: ("right", sch.EVENT_HEEL_STRIKE),
    25: ("right", sch.EVENT_TOE_OFF),
}

#: Per-foot channel columns kept: file column name (without foot and unit) → (group, column, unit).
CHANNELS: dict[str, tuple[str, str, str]] = {
    "acceleration X": ("imu", "accel_x_g", "g"),
    "acceleration Y": ("imu", "accel_y_g", "g"),
    "acceleration Z": ("imu", "accel_z_g", "g"),
    "angular X": ("imu", "gyro_x_dps", "deg/s"),
    "angular Y": ("imu", "gyro_y_dps", "deg/s"),
    "angular Z": ("imu", "gyro_z_dps", "deg/s"),
    "total force": ("force", "total_force_n", "N"),
    "center of pressure X": ("force", "cop_x_norm", "1"),
    "center of pressure Y": ("force", "cop_y_norm", "1"),
}

#: Foot length (mm) of Moticon insole size N = _AT_SIZE0 + N * _PER_SIZE (see module doc).
MOTICON_LENGTH_AT_SIZE0_MM = 209.96
MOTICON_LENGTH_PER_SIZE_MM = 11.918
#: Moticon insole sizes accepted (OpenGo sells sizes 1-10; a little margin each side).
MOTICON_SIZE_RANGE = (0.0, 12.0)

_COLUMN = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")


def sniff(head: str) -> bool:
    """True for the first lines of a Moticon text export."""
    return any(line.startswith("# time\t") and "pressure 1[" in line for line in head.splitlines())


def _split_column(text: str) -> tuple[str, str]:
    m = _COLUMN.match(text.strip())
    return (m["name"], m["unit"]) if m else (text.strip(), "")


def _header(lines: list[str], path: Path) -> tuple[dict[str, str], list[str], int]:
    info: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.startswith("# time"):
            return info, line[2:].rstrip("\r\n").split("\t"), i + 1
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].partition(":")
            info[key.strip()] = value.strip()
        elif line.strip() and not line.startswith("#"):
            break
    raise ImportFormatError(
        f"{path}: no '# time' column header line; is this a Moticon OpenGo text export?"
    )


def _started_at(info: dict[str, str]) -> str:
    text = info.get("Start time", "")
    try:
        return dt.datetime.strptime(text, "%d.%m.%Y %H:%M:%S.%f").isoformat(timespec="milliseconds")
    except ValueError:
        return ""


def eu_size_for_moticon_size(size: float) -> float:
    """EU shoe size whose foot length matches Moticon insole size ``size``."""
    return eu_from_foot_length(MOTICON_LENGTH_AT_SIZE0_MM + size * MOTICON_LENGTH_PER_SIZE_MM)


def _eu_size(info: dict[str, str]) -> float | None:
    try:
        size = float(info.get("Size", "").strip())
    except ValueError:
        return None
    lo, hi = MOTICON_SIZE_RANGE
    return eu_size_for_moticon_size(size) if lo <= size <= hi else None


def read_moticon(path: Path) -> ImportedRecording:
    """Parse a Moticon OpenGo text export (see the module docstring for units)."""
    return parse_moticon(path, read_text(path))


#: Lines up to and including the column header (for the streamed import).
header_lines = header_through("# time")


def parse_moticon(path: Path, text: str, line_offset: int = 0) -> ImportedRecording:
    """Parse Moticon ``text``: the header, then the file's rows from line ``line_offset`` + 1
    after it (the whole file when 0)."""
    lines = text.splitlines()
    info, columns, first_row = _header(lines, path)
    names = [_split_column(c) for c in columns]
    index = {name: i for i, (name, _) in enumerate(names)}
    for foot in ("left", "right"):
        for k in range(1, N_SENSELS + 1):
            if f"{foot} pressure {k}" not in index:
                raise ImportFormatError(
                    f"{path}: no column '{foot} pressure {k}'; a Moticon OpenGo export has "
                    f"{N_SENSELS} pressure columns per foot"
                )
    unit = names[index["left pressure 1"]][1]
    if unit not in PRESSURE_UNITS_TO_KPA:
        raise ImportFormatError(f"{path}: pressure unit {unit!r} unknown (expected N/cm²)")
    to_kpa = PRESSURE_UNITS_TO_KPA[unit]
    label_cols = {i for i, (name, _) in enumerate(names) if name.lower().endswith("label")}

    numeric_rows: list[list[float]] = []
    labels: list[dict[int, str]] = []
    for lineno, line in enumerate(lines[first_row:], start=first_row + 1 + line_offset):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != len(columns):
            raise ImportFormatError(
                f"{path} line {lineno}: {len(fields)} fields, expected {len(columns)} "
                "(file cut short or columns changed)"
            )
        try:
            numeric_rows.append(
                [np.nan if i in label_cols else parse_float(f) for i, f in enumerate(fields)]
            )
        except ValueError as err:
            raise ImportFormatError(f"{path} line {lineno}: {err}") from err
        labels.append({i: fields[i].strip() for i in label_cols if fields[i].strip()})
    if not numeric_rows:
        raise ImportFormatError(f"{path}: no samples after the column header")
    data = np.array(numeric_rows, dtype=np.float64)
    t_s = data[:, index["time"]]
    seq = np.arange(len(t_s), dtype=np.int64)

    feet, channels = {}, []
    for foot in ("left", "right"):
        cols = [index[f"{foot} pressure {k}"] for k in range(1, N_SENSELS + 1)]
        feet[foot] = make_foot_frames(foot, t_s, data[:, cols] * to_kpa, seq)
        groups: dict[str, ChannelGroup] = {}
        for source, (group, column, ch_unit) in CHANNELS.items():
            i = index.get(f"{foot} {source}")
            if i is None:
                continue
            g = groups.setdefault(group, ChannelGroup(group, foot, seq, t_s, {}, {}))
            g.values[column] = data[:, i].astype(np.float32)
            g.units[column] = ch_unit
        channels.extend(groups.values())

    try:
        events = _events(data, labels, names, seq, t_s)
    except ImportFormatError as err:
        raise ImportFormatError(f"{path}: {err}") from None
    kept = {f"{f} pressure {k}" for f in ("left", "right") for k in range(1, N_SENSELS + 1)}
    kept |= {f"{f} {c}" for f in ("left", "right") for c in CHANNELS} | {"time"}
    kept |= {name for name, _ in names if "step" in name.lower() or "event" in name.lower()}
    eu_size = _eu_size(info)
    extra: dict[str, Any] = {
        "moticon_header": info,
        "moticon_size": (
            f"insole size {info['Size']} -> EU {eu_size:.2f}"
            if eu_size is not None
            else f"insole size {info.get('Size', '')!r} not understood: layout kept at its own size"
        ),
        "pressure_unit_in_file": unit,
        "columns_not_imported": [
            c for c, (n, _) in zip(columns, names, strict=True) if n not in kept
        ],
    }
    return ImportedRecording(
        fmt="moticon",
        path=path,
        feet=feet,
        layouts={f: FootLayout(LAYOUT_ID, eu_size) for f in feet},
        events=events,
        channels=channels,
        started_at=_started_at(info),
        notes=info.get("Notes", ""),
        extra=extra,
    )


def _events(
    data: np.ndarray,
    labels: list[dict[int, str]],
    names: list[tuple[str, str]],
    seq: np.ndarray,
    t_s: np.ndarray,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i, (name, _) in enumerate(names):
        lower = name.lower()
        if lower.endswith("steps"):
            for row in np.flatnonzero(~np.isnan(data[:, i])):
                code = int(np.rint(_event_code(name, row, data[row, i])))
                foot, kind = STEP_CODES.get(code, (lower.split()[0], sch.EVENT_MARKER))
                events.append(
                    {
                        "t_s": float(t_s[row]),
                        "foot": foot,
                        "kind": kind,
                        "value": float(code),
                        "seq": int(seq[row]),
                        "detail": f"reference: moticon step code {code}",
                    }
                )
        elif lower.endswith("events") and not lower.endswith("label"):
            foot = lower.split()[0]
            label_col = next(
                (j for j, (n, _) in enumerate(names) if n.lower() == f"{lower} label"), None
            )
            for row in np.flatnonzero(~np.isnan(data[:, i])):
                label = labels[row].get(label_col, "") if label_col is not None else ""
                events.append(
                    {
                        "t_s": float(t_s[row]),
                        "foot": foot if foot in ("left", "right") else None,
                        "kind": sch.EVENT_MARKER,
                        "value": _event_code(name, row, data[row, i]),
                        "seq": int(seq[row]),
                        "detail": f"reference: moticon manual event {label}".strip(),
                    }
                )
    events.sort(key=lambda e: (e["t_s"], e["foot"] or ""))
    return events


#: Largest Moticon step or event code taken (codes are small integers such as 11 or 25).
MAX_EVENT_CODE = 1_000_000


def _event_code(column: str, row: int, value: float) -> float:
    """An event code checked: a one-line error for an infinite or absurd one."""
    if not abs(value) <= MAX_EVENT_CODE:
        raise ImportFormatError(
            f"column {column!r}, sample {row + 1}: event code {value:g} is not a Moticon "
            "event code (the file is corrupt); fix or remove that value"
        )
    return float(value)
