"""Treadmill force plates: one plate under both feet, split into per-foot sessions.

A force plate has no sensels. An imported force-plate session stores, per foot, frames
with one pressure column that is NaN throughout (not measured: the session store needs
at least one column; layout id :data:`LAYOUT_ID`, which is not a pressure layout, so no
hot spot, region peak or strike index can be computed from it) and the plate's own
measurements as the channel group ``force``:

* ``total_force_n``: vertical ground reaction force (N) while this foot is on the plate
  (from the middle of the flight before its stance to the middle of the flight after),
  0 N while the other foot is;
* ``cop_ml_mm`` / ``cop_ap_mm``: centre of pressure, medio-lateral and antero-posterior,
  in the plate's frame (mm); NaN where the force is below :data:`COP_MIN_FORCE_N` (the
  CoP of a near-zero force is noise);
* ``free_moment_nmm``: the free moment about the vertical axis (N·mm), NaN where the CoP
  is; it is a measured reference for the pivot (kind ``force_plate``), not a proxy.

Splitting the feet
------------------
One force signal carries both feet; in running they never share the plate. Stances are
the runs of ``Fy > STANCE_CORE_FRAC x`` the 99th percentile of ``Fy`` lasting at least
:data:`STANCE_MIN_S` (a single-sample spike is not a stance); the boundary between two
stances is the force minimum of the flight between them. Stances alternate feet, so
only the phase is chosen: of the odd and even stances, the group whose median
medio-lateral CoP is larger is the right foot (in the Fukuchi et al. 2017 lab frame, Z
points to the runner's right: the C3D markers ``R.*`` sit at larger Z than ``L.*``, and
the stance foot's markers are the low ones). ``extra["foot_split"]`` reports how many
neighbouring stance pairs agree with that ordering; below :data:`MIN_ALTERNATION` the
file is refused (walking, with double support, cannot be split this way).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from store.errors import ImportFormatError
from store.importers import ChannelGroup, ImportedRecording, make_foot_frames
from store.session import FORCE_PLATE_LAYOUT_ID, FootLayout

LAYOUT_ID = FORCE_PLATE_LAYOUT_ID
STANCE_CORE_FRAC = 0.2
STANCE_MIN_S = 0.05
COP_MIN_FORCE_N = 20.0
MIN_ALTERNATION = 0.8
FORCE_COLUMNS: dict[str, str] = {
    "total_force_n": "N",
    "cop_ml_mm": "mm",
    "cop_ap_mm": "mm",
    "free_moment_nmm": "N·mm",
}


@dataclass
class PlateSignals:
    """One plate's signals in the lab frame, one row per sample."""

    t_s: np.ndarray
    vertical_force_n: np.ndarray
    cop_ml_mm: np.ndarray
    cop_ap_mm: np.ndarray
    free_moment_nmm: np.ndarray


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def stance_windows(t_s: np.ndarray, force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample windows ``[lo, hi)`` of each stance, bounded by the flight minima around it.

    Returns ``(windows, cores)``: both ``(k, 2)`` int arrays; ``cores`` are the parts
    above the core level, ``windows`` reach to the force minimum between two stances.
    """
    force = np.nan_to_num(force_n, nan=0.0)
    level = STANCE_CORE_FRAC * float(np.percentile(force, 99))
    starts, ends = _runs(force > level)
    dt = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
    keep = (ends - starts) * dt >= STANCE_MIN_S
    cores = np.column_stack([starts[keep], ends[keep]]).astype(np.int64)
    windows = np.empty_like(cores)
    for k, (_lo, hi) in enumerate(cores):
        windows[k, 0] = 0 if k == 0 else windows[k - 1, 1]
        if k + 1 < len(cores):
            nxt = cores[k + 1, 0]
            windows[k, 1] = hi + int(np.argmin(force[hi:nxt])) if nxt > hi else hi
        else:
            windows[k, 1] = len(force)
    return windows, cores


def split_feet(plate: PlateSignals, path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Which samples belong to which foot (boolean masks) and how well feet alternate."""
    windows, cores = stance_windows(plate.t_s, plate.vertical_force_n)
    if len(cores) < 4:
        raise ImportFormatError(
            f"{path}: found {len(cores)} stances on the plate; a force-plate import needs "
            "running with at least 4 stances"
        )
    ml = np.array([np.nanmedian(plate.cop_ml_mm[lo:hi]) for lo, hi in cores])
    even_right = np.nanmedian(ml[0::2]) > np.nanmedian(ml[1::2])
    right = (np.arange(len(cores)) % 2 == 0) == even_right
    sign = np.where(right, 1.0, -1.0)
    pairs = np.sign(np.diff(ml)) == -np.sign(sign[:-1])
    agreement = float(np.mean(pairs)) if len(pairs) else 0.0
    if agreement < MIN_ALTERNATION:
        raise ImportFormatError(
            f"{path}: stances do not alternate between a left and a right CoP ({agreement:.0%} "
            "of neighbouring stances do); a force-plate import needs running, one foot at a time"
        )
    masks = {foot: np.zeros(len(plate.t_s), dtype=bool) for foot in ("left", "right")}
    for (lo, hi), is_right in zip(windows, right, strict=True):
        masks["right" if is_right else "left"][lo:hi] = True
    info = {
        "method": "alternating stances; the larger median medio-lateral CoP is the right foot",
        "stances": {"left": int((~right).sum()), "right": int(right.sum())},
        "alternation_agreement": round(agreement, 4),
    }
    return masks, info


def plate_recording(
    fmt: str, path: Path, plate: PlateSignals, extra: dict[str, Any]
) -> ImportedRecording:
    """An :class:`ImportedRecording` of the two feet of ``plate`` (see the module doc)."""
    masks, info = split_feet(plate, path)
    n = len(plate.t_s)
    seq = np.arange(n, dtype=np.int64)
    feet, channels = {}, []
    for foot, mask in masks.items():
        feet[foot] = make_foot_frames(foot, plate.t_s, np.full((n, 1), np.nan), seq)
        force = np.where(mask, np.nan_to_num(plate.vertical_force_n, nan=0.0), 0.0)
        defined = mask & (plate.vertical_force_n >= COP_MIN_FORCE_N)
        values = {
            "total_force_n": force,
            "cop_ml_mm": np.where(defined, plate.cop_ml_mm, np.nan),
            "cop_ap_mm": np.where(defined, plate.cop_ap_mm, np.nan),
            "free_moment_nmm": np.where(defined, plate.free_moment_nmm, np.nan),
        }
        channels.append(
            ChannelGroup(
                "force",
                foot,
                seq,
                plate.t_s,
                {k: v.astype(np.float32) for k, v in values.items()},
                dict(FORCE_COLUMNS),
            )
        )
    return ImportedRecording(
        fmt=fmt,
        path=path,
        feet=feet,
        layouts={f: FootLayout(LAYOUT_ID, None) for f in feet},
        channels=channels,
        extra={**extra, "foot_split": info},
    )
