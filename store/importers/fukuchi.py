"""Fukuchi et al. (2017) treadmill running force files (``*forces.txt``), one plate.

A header row ``Time Fx Fy Fz COPx COPy COPz Ty`` then tab-separated rows. ``Time`` is the
frame number (from 1) at :data:`SAMPLING_RATE_HZ`, not seconds; ``Fy`` is vertical (N),
``Fx`` antero-posterior and ``Fz`` medio-lateral (N); the CoP is in mm in the treadmill's
frame (``COPz`` medio-lateral, ``COPx`` antero-posterior); ``Ty`` is the free moment
about the vertical axis (N·mm). The feet are split as :mod:`store.importers.force_plate`
describes.

Reference: Fukuchi, R. K., Fukuchi, C. A., & Duarte, M. (2017). A public dataset of
running biomechanics and the effects of running speed on lower extremity kinematics and
kinetics. PeerJ 5:e3298. https://doi.org/10.7717/peerj.3298
"""

from __future__ import annotations

from pathlib import Path

from store.errors import ImportFormatError
from store.importers import ImportedRecording, parse_table, read_text
from store.importers.force_plate import PlateSignals, plate_recording

SAMPLING_RATE_HZ = 300.0
HEADER = ("Time", "Fx", "Fy", "Fz", "COPx", "COPy", "COPz", "Ty")


def sniff(head: str) -> bool:
    """True when the first line is the Fukuchi force-file header."""
    first = head.strip().splitlines()[0] if head.strip() else ""
    return tuple(first.split()) == HEADER


def read_fukuchi(path: Path) -> ImportedRecording:
    """Parse a ``*forces.txt`` file into per-foot force-plate channels."""
    lines = read_text(path).splitlines()
    if not lines or not sniff(lines[0]):
        raise ImportFormatError(
            f"{path}: first line is not '{' '.join(HEADER)}'; is this a Fukuchi *forces.txt?"
        )
    data = parse_table(path, lines[1:], 2, len(HEADER))
    col = {name: data[:, i] for i, name in enumerate(HEADER)}
    plate = PlateSignals(
        t_s=(col["Time"] - col["Time"][0]) / SAMPLING_RATE_HZ,
        vertical_force_n=col["Fy"],
        cop_ml_mm=col["COPz"],
        cop_ap_mm=col["COPx"],
        free_moment_nmm=col["Ty"],
    )
    extra = {
        "sampling_rate_hz": SAMPLING_RATE_HZ,
        "columns": "Fy vertical N; COPz medio-lateral mm; COPx antero-posterior mm; Ty N·mm",
        "reference": "Fukuchi, Fukuchi & Duarte 2017, PeerJ 5:e3298, doi:10.7717/peerj.3298",
    }
    return plate_recording("fukuchi", path, plate, extra)
