"""PhysioNet "Gait in Parkinson's Disease" (gaitpdb) ``.txt``: 8 force sensors per foot.

Tab-separated, no header, 19 columns: time (s); left sensors L1-L8 (N); right sensors
R1-R8 (N); total force left and right (N). Forces become pressures over the sensor
areas of the ``gaitpdb-8`` layout: ``pressure_kpa = force_n / area_mm2 * 1000``
(1 N/mm² = 1 MPa = 1000 kPa). The totals are kept as the channel group ``force``
(``total_force_n``, N).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from store.errors import ImportFormatError
from store.importers import ChannelGroup, ImportedRecording, make_foot_frames, read_text
from store.session import FootLayout

LAYOUT_ID = "gaitpdb-8"
N_SENSELS = 8
N_COLUMNS = 1 + 2 * N_SENSELS + 2
KPA_PER_N_PER_MM2 = 1000.0


def sniff(head: str) -> bool:
    """True when the first line is 19 tab-separated numbers."""
    first = head.strip().splitlines()[0] if head.strip() else ""
    fields = first.split("\t")
    if len(fields) != N_COLUMNS:
        return False
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def sensel_area_mm2() -> np.ndarray:
    """Area of each of the 8 sensors (mm²) from the ``gaitpdb-8`` layout."""
    from hardware.layout import load_layout

    return np.asarray(load_layout(LAYOUT_ID).sensel_area_mm2, dtype=np.float64)


def read_gaitpdb(path: Path) -> ImportedRecording:
    """Parse a gaitpdb file and convert the forces (N) to pressures (kPa)."""
    return parse_gaitpdb(path, read_text(path))


def header_lines(lines: list[str]) -> int:
    """Lines before the first sample (none: gaitpdb files have no header)."""
    return 0


def parse_gaitpdb(path: Path, text: str, line_offset: int = 0) -> ImportedRecording:
    """Parse gaitpdb ``text`` (the file, or a run of its lines after ``line_offset``)."""
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1 + line_offset):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) != N_COLUMNS:
            raise ImportFormatError(
                f"{path} line {lineno}: {len(fields)} columns, expected {N_COLUMNS} (time, "
                f"L1-L8, R1-R8, totals); file cut short or not a gaitpdb file"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError as err:
            raise ImportFormatError(f"{path} line {lineno}: {err}") from err
    if not rows:
        raise ImportFormatError(f"{path}: no samples")
    data = np.array(rows, dtype=np.float64)
    t_s = data[:, 0]
    seq = np.arange(len(t_s), dtype=np.int64)
    area = sensel_area_mm2()
    feet, channels = {}, []
    for k, foot in enumerate(("left", "right")):
        force_n = data[:, 1 + k * N_SENSELS : 1 + (k + 1) * N_SENSELS]
        feet[foot] = make_foot_frames(foot, t_s, force_n / area * KPA_PER_N_PER_MM2, seq)
        total = data[:, 1 + 2 * N_SENSELS + k].astype(np.float32)
        channels.append(
            ChannelGroup("force", foot, seq, t_s, {"total_force_n": total}, {"total_force_n": "N"})
        )
    return ImportedRecording(
        fmt="gaitpdb",
        path=path,
        feet=feet,
        layouts={f: FootLayout(LAYOUT_ID, None) for f in feet},
        channels=channels,
        extra={
            "force_to_pressure": "kPa = N / sensel_area_mm2 * 1000 (gaitpdb-8 layout areas)",
            "sensel_area_mm2": area.tolist(),
        },
    )
