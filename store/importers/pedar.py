"""novel pedar ASCII export (``.asc``): 99 sensors per foot, pressure in kPa.

About ten header lines (file name, sensor type, total time, frame period, scanning
rate, the unit line ``pressure values in kPa``, the mask definition), then a
``time[secs]`` header row and whitespace-separated rows: time, left sensors 1-99, right
sensors 1-99 (pedar numbers its sensors heel to toe). Layout ``pedar-99``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from store.errors import ImportFormatError
from store.importers import (
    ImportedRecording,
    header_through,
    make_foot_frames,
    parse_table,
    read_text,
)
from store.session import FootLayout

LAYOUT_ID = "pedar-99"
N_SENSELS = 99
UNITS_TO_KPA = {"kpa": 1.0, "n/cm²": 10.0, "n/cm2": 10.0}


def sniff(head: str) -> bool:
    """True for the first lines of a pedar ASCII export."""
    lines = head.splitlines()
    return any(line.startswith("pressure values in") for line in lines) and any(
        line.startswith("time[secs]") for line in lines
    )


def read_pedar(path: Path) -> ImportedRecording:
    """Parse a pedar ASCII export."""
    return parse_pedar(path, read_text(path))


#: Lines up to and including the column header (for the streamed import).
header_lines = header_through("time[secs]")


def parse_pedar(path: Path, text: str, line_offset: int = 0) -> ImportedRecording:
    """Parse pedar ``text``: the header, then the file's rows from line ``line_offset`` + 1
    after it (the whole file when 0)."""
    lines = text.splitlines()
    header_row = next((i for i, line in enumerate(lines) if line.startswith("time[secs]")), None)
    if header_row is None:
        raise ImportFormatError(f"{path}: no 'time[secs]' header row; is this a pedar .asc?")
    head = "\n".join(lines[:header_row])
    m = re.search(r"pressure values in\s+(\S+)", head)
    unit = m.group(1) if m else ""
    if unit.lower() not in UNITS_TO_KPA:
        raise ImportFormatError(f"{path}: pressure unit {unit!r} unknown (expected kPa)")
    to_kpa = UNITS_TO_KPA[unit.lower()]
    n_columns = len(lines[header_row].split())
    n_per_foot = (n_columns - 1) // 2
    if n_columns != 1 + 2 * N_SENSELS:
        raise ImportFormatError(
            f"{path}: the header row has {n_columns} columns, expected time and "
            f"{N_SENSELS} sensors per foot ({1 + 2 * N_SENSELS}); found {n_per_foot} per foot"
        )
    data = parse_table(path, lines[header_row + 1 :], header_row + 2 + line_offset, n_columns)
    t_s = data[:, 0]
    feet = {
        "left": make_foot_frames("left", t_s, data[:, 1 : 1 + N_SENSELS] * to_kpa),
        "right": make_foot_frames("right", t_s, data[:, 1 + N_SENSELS :] * to_kpa),
    }
    info: dict[str, Any] = {}
    for key, pattern in (
        ("file_name", r"file name:\s*(\S+)"),
        ("sensor_type", r"sensor type:\s*(\S+)"),
        ("scanning_rate_hz", r"scanning rate \[Hz\]:\s*([\d.]+)"),
    ):
        found = re.search(pattern, head)
        if found:
            info[key] = found.group(1)
    return ImportedRecording(
        fmt="pedar",
        path=path,
        feet=feet,
        layouts={f: FootLayout(LAYOUT_ID, None) for f in feet},
        started_at=_started_at(head),
        extra={"pedar_header": info, "pressure_unit_in_file": unit},
    )


def _started_at(head: str) -> str:
    m = re.search(r"date/time\s+(\d\d\.\d\d\.\d\d)\s+(\d\d\.\d\d)", head)
    if not m:
        return ""
    try:
        return dt.datetime.strptime(" ".join(m.groups()), "%d.%m.%y %H.%M").isoformat()
    except ValueError:
        return ""
