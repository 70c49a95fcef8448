"""C3D files: the force platform's analog channels, through the ``c3d`` library.

Reads ``FORCE_PLATFORM`` type 2 and 4 plates (six channels: forces and moments about the
transducer origin; type 4 through ``CAL_MATRIX``), removes each channel's offset (its
median over unloaded samples: the plate zeroed on the flight phases), and computes, in
the plate's frame (axes from ``CORNERS``, transducer origin ``ORIGIN`` from the plate
centre), the centre of pressure on the surface and the free moment about the vertical
axis. With ``M`` the moments about the origin and ``F`` the force on the plate::

    px = (oz * Fx - My) / Fz        py = (Mx + oz * Fy) / Fz        (oz = ORIGIN z)
    Tz = Mz - px * Fy + py * Fx

then the CoP is moved to the lab frame and the vertical reaction force, CoP and free
moment are handed to :mod:`store.importers.force_plate` (the lab's vertical axis is the
plate normal; its medio-lateral axis is the plate's short side). Only the first plate is
read.

References: C3D.org, "The C3D File Format User Guide" (force platform parameters);
the ``c3d`` package (py-c3d, pure Python, MIT).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from base.errors import PlantarError
from store.errors import ImportFormatError, StoreError
from store.importers import MAX_WHOLE_FILE_BYTES, ImportedRecording
from store.importers.force_plate import PlateSignals, plate_recording

UNLOADED_QUANTILE = 30.0  # % of samples with the smallest |Fz| taken as unloaded


def sniff(head: str) -> bool:
    """True for a C3D file (parameter-section pointer, then the 0x50 key byte)."""
    return len(head) > 1 and head[1] == "P" and ord(head[0]) < 32


def _param(group: Any, name: str, path: Path) -> Any:
    param = group.get(name)
    if param is None:
        raise ImportFormatError(f"{path}: C3D has no FORCE_PLATFORM:{name}; cannot read the plate")
    return param


#: ANALOG:UNITS spellings of a moment and their factor to N·mm.
MOMENT_UNITS_TO_NMM = {"nmm": 1.0, "n.mm": 1.0, "n*mm": 1.0, "n·mm": 1.0, "nm": 1e3, "n.m": 1e3}


def _moment_to_nmm(units: list[str], chans: np.ndarray, path: Path) -> float:
    """Factor from the plate's moment channels' unit (ANALOG:UNITS) to N·mm; N·mm when the
    file names no unit (the usual C3D convention with POINT:UNITS mm)."""
    named = {units[c].strip().lower().replace(" ", "") for c in chans[3:6] if c < len(units)}
    named.discard("")
    if not named:
        return 1.0
    if len(named) > 1 or next(iter(named)) not in MOMENT_UNITS_TO_NMM:
        raise ImportFormatError(
            f"{path}: force-plate moment channels in unit {sorted(named)}; "
            f"supported: {', '.join(sorted(MOMENT_UNITS_TO_NMM))}"
        )
    return MOMENT_UNITS_TO_NMM[next(iter(named))]


def _read(path: Path) -> tuple[np.ndarray, float, dict[str, np.ndarray], int]:
    import c3d

    try:
        size = path.stat().st_size
        if size > MAX_WHOLE_FILE_BYTES:
            raise ImportFormatError(
                f"{path}: {size / 1e6:,.0f} MB, more than the {MAX_WHOLE_FILE_BYTES / 1e6:,.0f} "
                "MB a force-plate C3D is read whole; export a shorter trial"
            )
        with open(path, "rb") as handle:
            reader = c3d.Reader(handle)
            plate = reader.get("FORCE_PLATFORM")
            if plate is None:
                raise ImportFormatError(f"{path}: C3D has no FORCE_PLATFORM group")
            kind = int(_param(plate, "TYPE", path).int16_array.ravel()[0])
            params = {
                "corners": _param(plate, "CORNERS", path).float_array[0],
                "origin": _param(plate, "ORIGIN", path).float_array[0],
                "channel": _param(plate, "CHANNEL", path).int16_array[0],
            }
            if kind == 4:
                params["cal"] = _param(plate, "CAL_MATRIX", path).float_array[0]
            analog_group = reader.get("ANALOG")
            units = analog_group.get("UNITS") if analog_group is not None else None
            params["units"] = list(units.string_array) if units is not None else []
            rate = float(reader.analog_rate)
            expected = int(reader.last_frame) - int(reader.first_frame) + 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a cut file is reported below instead
                frames = [a.T for _, _, a in reader.read_frames()]
    except OSError as err:
        raise StoreError(f"{path}: cannot read ({err.strerror})") from err
    except PlantarError:
        raise
    except Exception as err:  # the c3d library on a damaged file fails in many ways
        why = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise ImportFormatError(f"{path}: not a readable C3D file ({why})") from err
    if not frames:
        raise ImportFormatError(f"{path}: C3D holds no analog frames; nothing imported")
    if len(frames) < expected:
        raise ImportFormatError(
            f"{path}: C3D cut short: {len(frames)} of {expected} frames; nothing imported"
        )
    analog = np.concatenate(frames, axis=0)
    if kind not in (2, 4):
        raise ImportFormatError(f"{path}: force platform type {kind} is not supported (2 or 4)")
    return analog, rate, params, kind


def read_c3d(path: Path) -> ImportedRecording:
    """Parse the first force platform of a C3D file into per-foot force-plate channels."""
    analog, rate, p, kind = _read(path)
    chans = np.asarray(p["channel"], dtype=np.int64).ravel()[:6] - 1
    if chans.min() < 0 or chans.max() >= analog.shape[1]:
        raise ImportFormatError(f"{path}: FORCE_PLATFORM:CHANNEL names a missing analog channel")
    raw = analog[:, chans].astype(np.float64)
    if kind == 2:  # calibrated channels: moments in the file's own unit, we keep N·mm
        raw[:, 3:] *= _moment_to_nmm(p["units"], chans, path)
    # CAL_MATRIX is stored by column: row i of the matrix is column i in the file.
    wrench = raw @ p["cal"].T if kind == 4 else raw
    unloaded = np.abs(wrench[:, 2]) <= np.percentile(np.abs(wrench[:, 2]), UNLOADED_QUANTILE)
    wrench = wrench - np.median(wrench[unloaded], axis=0)
    fx, fy, fz, mx, my, mz = wrench.T
    oz = float(p["origin"][2])
    with np.errstate(divide="ignore", invalid="ignore"):
        px = (oz * fx - my) / fz
        py = (mx + oz * fy) / fz
        free_moment = mz - px * fy + py * fx
    corners = np.asarray(p["corners"], dtype=np.float64)
    x_axis = corners[0] - corners[1]
    y_axis = corners[0] - corners[3]
    x_axis /= np.linalg.norm(x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    local = np.column_stack([px - p["origin"][0], py - p["origin"][1]])
    with np.errstate(invalid="ignore"):
        lab = corners.mean(axis=0) + local @ np.vstack([x_axis, y_axis])
    vertical = int(np.argmax(np.abs(z_axis)))
    up = float(z_axis[vertical])  # lab vertical component of the plate normal
    short_is_x = np.linalg.norm(corners[0] - corners[1]) < np.linalg.norm(corners[0] - corners[3])
    ml = int(np.argmax(np.abs(x_axis if short_is_x else y_axis)))
    ap = int(np.argmax(np.abs(y_axis if short_is_x else x_axis)))
    vertical_force = up * fz
    if np.nanpercentile(vertical_force, 1) < -np.nanpercentile(vertical_force, 99):
        up = -up  # the plate reports the action on it, not the reaction
        vertical_force = -vertical_force
    t_s = np.arange(len(wrench)) / rate
    plate = PlateSignals(
        t_s=t_s,
        vertical_force_n=vertical_force,
        cop_ml_mm=lab[:, ml],
        cop_ap_mm=lab[:, ap],
        free_moment_nmm=up * free_moment,
    )
    extra = {
        "sampling_rate_hz": rate,
        "force_platform_type": kind,
        "offsets": "channel medians over the unloaded samples removed",
    }
    return plate_recording("c3d", path, plate, extra)
