"""Bounds every imported recording must keep before it is stored (issue 16).

A parsed file is checked foot by foot, after unit conversion: time stamps finite, within
:data:`MAX_TIME_S` and strictly increasing, no faster than
:data:`base.frames.MAX_SAMPLING_RATE_HZ`; pressures within
±:data:`base.frames.MAX_PRESSURE_KPA`. A violation is a one-line
:class:`~store.errors.ImportFormatError` naming the foot, the sample and what to check.
A NaN pressure is a missing sample (an empty field): it is kept and counted in the
session's ``extra.missing_pressure_samples``, never stored silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from base.frames import MAX_PRESSURE_KPA, MAX_SAMPLING_RATE_HZ, FootFrames
from store.errors import ImportFormatError

if TYPE_CHECKING:
    from store.importers import ImportedRecording

#: Largest time stamp taken, s (about three years): larger means a wrong unit or garbage.
MAX_TIME_S = 1e8


def check_recording(recording: ImportedRecording) -> None:
    """Raise :class:`ImportFormatError` if ``recording`` breaks a bound; count NaN pressures."""
    missing = 0
    for foot, frames in recording.feet.items():
        where = f"{recording.path}: {foot} foot"
        check_times(where, frames.t_s)
        missing += check_pressures(where, frames)
    for ch in recording.channels:
        check_times(f"{recording.path}: {ch.group} channels of the {ch.foot} foot", ch.t_s)
    if missing:
        recording.extra["missing_pressure_samples"] = missing


def check_times(where: str, t_s: np.ndarray) -> None:
    """Time stamps finite, bounded, strictly increasing and no faster than the maximum rate."""
    t_s = np.asarray(t_s, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(t_s) | (np.abs(t_s) > MAX_TIME_S))
    if len(bad):
        k = int(bad[0])
        raise ImportFormatError(
            f"{where}: time of sample {k + 1} is {float(t_s[k]):g} s; the time column is empty, "
            "corrupt or in another unit (fix the file or pass the right --format)"
        )
    if len(t_s) < 2:
        return
    step_s = np.diff(t_s)
    back = np.flatnonzero(step_s <= 0)
    if len(back):
        k = int(back[0])
        raise ImportFormatError(
            f"{where}: time does not increase at sample {k + 2} ({float(t_s[k + 1]):g} s after "
            f"{float(t_s[k]):g} s); sort the file by time or fix its time column"
        )
    rate_hz = 1.0 / float(np.median(step_s))
    if rate_hz > MAX_SAMPLING_RATE_HZ:
        raise ImportFormatError(
            f"{where}: samples {float(np.median(step_s)):.3g} s apart ({rate_hz:,.0f} Hz), "
            f"faster than any insole ({MAX_SAMPLING_RATE_HZ:,.0f} Hz); the time column is "
            "probably not in seconds"
        )


def check_pressures(where: str, frames: FootFrames) -> int:
    """Pressures within ±MAX_PRESSURE_KPA; returns the number of NaN (missing) samples."""
    p = frames.pressure_kpa
    finite = np.isfinite(p)
    bad = np.flatnonzero((~finite & ~np.isnan(p)) | (finite & (np.abs(p) > MAX_PRESSURE_KPA)))
    if len(bad):
        row, sensel = np.unravel_index(int(bad[0]), p.shape)
        raise ImportFormatError(
            f"{where}: pressure {float(p[row, sensel]):g} kPa at sample {row + 1}, sensel "
            f"{sensel + 1}, beyond ±{MAX_PRESSURE_KPA:,.0f} kPa; the file is corrupt or its "
            "unit is wrong"
        )
    return int(np.isnan(p).sum())
