"""Calibration curves: ADC counts of each pressure sensel to kPa.

Model, per sensel ``s``::

    u = max(counts - offset_counts[s], 0)
    pressure_kpa = gain_kpa_per_count[s] * (u + c2[s] * u**2 + c3[s] * u**3)

Calibrations are data files (JSON, format ``plantar-calibration/1``) in
``hardware/calibrations/``: scalar defaults for every sensel and optional per-sensel
arrays that override them. On load the curve must be finite, have a positive gain and be
monotonic non-decreasing over ``0..adc_max_counts``. The format is described in
``docs/layouts.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from hardware.datafile import FieldReader, readonly_array, resolve_data_file

CALIBRATION_FORMAT = "plantar-calibration/1"
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibrations"
PARAMETERS: tuple[str, ...] = ("offset_counts", "gain_kpa_per_count", "c2", "c3")
_BISECTION_STEPS = 48


def _polynomial(u: np.ndarray, c2: np.ndarray, c3: np.ndarray) -> np.ndarray:
    return u + c2 * u * u + c3 * u * u * u


@dataclass(frozen=True, eq=False)
class Calibration:
    """Per-sensel calibration curves; arrays are (n,) float64 and read-only."""

    id: str
    adc_max_counts: int
    offset_counts: np.ndarray
    gain_kpa_per_count: np.ndarray
    c2: np.ndarray
    c3: np.ndarray

    def __post_init__(self) -> None:
        n = np.shape(self.gain_kpa_per_count)[0]
        for name in PARAMETERS:
            arr = readonly_array(getattr(self, name), np.float64)
            if arr.shape != (n,):
                raise ValueError("calibration arrays must all have the same length")
            object.__setattr__(self, name, arr)

    @property
    def n_sensels(self) -> int:
        """Number of sensels the calibration is for."""
        return int(self.gain_kpa_per_count.shape[0])

    def to_kpa(self, counts: np.ndarray) -> np.ndarray:
        """Pressure in kPa (float32) for ADC counts of shape (..., n).

        Counts are clipped to ``0..adc_max_counts`` first. Integer counts of a calibration
        whose sensels share one curve (the shipped ones) are looked up in a table of that
        curve (the same values, without the per-frame polynomial).
        """
        raw = np.asarray(counts)
        table = self._shared_table_f32
        if table is not None and raw.dtype.kind in "ui":
            return table[np.clip(raw, 0, self.adc_max_counts)]
        c = np.clip(raw.astype(np.float64), 0.0, self.adc_max_counts)
        u = np.maximum(c - self.offset_counts, 0.0)
        return (self.gain_kpa_per_count * _polynomial(u, self.c2, self.c3)).astype(np.float32)

    def to_counts(self, pressure_kpa: np.ndarray) -> np.ndarray:
        """ADC counts (uint16) for pressures in kPa of shape (..., n): the inverse of
        :meth:`to_kpa`, rounded to the nearest count and clipped to ``0..adc_max_counts``.
        Pressures at or below 0 give the offset (the unloaded reading)."""
        p = np.asarray(pressure_kpa, dtype=np.float64)
        if p.shape[-1:] != (self.n_sensels,):
            raise ValueError(f"last axis must have {self.n_sensels} sensels, got shape {p.shape}")
        p = np.nan_to_num(p, nan=0.0)
        table = self._shared_table
        if table is not None:  # one curve for all sensels: nearest entry of its table
            hi = np.clip(np.searchsorted(table, p), 1, len(table) - 1)
            lower_is_nearer = (p - table[hi - 1]) <= (table[hi] - p)
            counts = (hi - lower_is_nearer).astype(np.float64)
        else:  # per-sensel curves: vectorised bisection on u, then round
            target = p / self.gain_kpa_per_count
            lo = np.zeros(p.shape)
            hi_u = np.array(np.broadcast_to(self.adc_max_counts - self.offset_counts, p.shape))
            for _ in range(_BISECTION_STEPS):
                mid = 0.5 * (lo + hi_u)
                below = _polynomial(mid, self.c2, self.c3) < target
                lo = np.where(below, mid, lo)
                hi_u = np.where(below, hi_u, mid)
            counts = np.rint(0.5 * (lo + hi_u) + self.offset_counts)
        counts = np.maximum(counts, np.rint(self.offset_counts))
        return np.clip(counts, 0, self.adc_max_counts).astype(np.uint16)

    @cached_property
    def _shared_table_f32(self) -> np.ndarray | None:
        """:attr:`_shared_table` as float32, what :meth:`to_kpa` returns."""
        table = self._shared_table
        return None if table is None else table.astype(np.float32)

    @cached_property
    def _shared_table(self) -> np.ndarray | None:
        """kPa at every count 0..adc_max_counts when all sensels share one curve."""
        params = [getattr(self, name) for name in PARAMETERS]
        if any(np.any(arr != arr[0]) for arr in params):
            return None
        counts = np.arange(self.adc_max_counts + 1, dtype=np.float64)
        u = np.maximum(counts - self.offset_counts[0], 0.0)
        return self.gain_kpa_per_count[0] * _polynomial(u, self.c2[0], self.c3[0])


def available_calibrations() -> list[str]:
    """Ids of the calibrations shipped in ``hardware/calibrations/``."""
    return sorted(p.stem for p in CALIBRATION_DIR.glob("*.json"))


def load_calibration(name_or_path: str | Path, n_sensels: int) -> Calibration:
    """Load a shipped calibration by id or a calibration file by path, for ``n_sensels``.

    Raises
    ------
    base.errors.ConfigError
        Unknown id or an invalid file (one line naming the file and the field).
    """
    if n_sensels < 1:
        raise ValueError(f"n_sensels must be >= 1, got {n_sensels}")
    available = available_calibrations()
    path = resolve_data_file(name_or_path, CALIBRATION_DIR, available, "calibration")
    hint = "fix the file or use one of: " + ", ".join(available)
    return _parse_calibration(FieldReader("calibration", path, hint), int(n_sensels))


def _parse_calibration(r: FieldReader, n: int) -> Calibration:
    data = r.load()
    fmt = r.get(data, "format")
    if fmt != CALIBRATION_FORMAT:
        raise r.field_error("format", f"must be {CALIBRATION_FORMAT!r} (got {fmt!r})")
    cal_id = r.string(data, "id")
    if "adc_max_counts" in data:
        adc_max = r.integer(data, "adc_max_counts", minimum=1, maximum=65535)
        if "adc_bits" in data:
            bits = r.integer(data, "adc_bits", minimum=1, maximum=16)
            if adc_max > 2**bits - 1:
                raise r.field_error(
                    "adc_max_counts", f"must be <= 2**adc_bits - 1 = {2**bits - 1} (got {adc_max})"
                )
    elif "adc_bits" in data:
        adc_max = 2 ** r.integer(data, "adc_bits", minimum=1, maximum=16) - 1
    else:
        raise r.field_error("adc_max_counts", "is missing (give adc_max_counts or adc_bits)")

    defaults = r.obj(data, "default")
    per_sensel = r.get(data, "per_sensel", default={})
    if not isinstance(per_sensel, dict):
        raise r.field_error("per_sensel", "must be a JSON object")
    for prefix, section in (("default.", defaults), ("per_sensel.", per_sensel)):
        for key in section:
            if key not in PARAMETERS:
                raise r.field_error(prefix + key, f"is not one of {', '.join(PARAMETERS)}")

    params: dict[str, np.ndarray] = {}
    fields: dict[str, str] = {}
    for key in PARAMETERS:
        positive = key == "gain_kpa_per_count"
        minimum = 0.0 if key == "offset_counts" else None
        if key in per_sensel:
            values = r.numbers(
                per_sensel, key, "per_sensel.", length=n, positive=positive, minimum=minimum
            )
            field = f"per_sensel.{key}"
        else:
            default = None if positive else 0.0
            value = r.number(
                defaults,
                key,
                "default.",
                positive=positive,
                minimum=minimum,
                default=... if default is None else default,
            )
            values = np.full(n, value)
            field = f"default.{key}"
        if key == "offset_counts" and np.any(values > adc_max):
            i = int(np.argmax(values > adc_max))
            name = f"{field}[{i}]" if field.startswith("per_sensel") else field
            raise r.field_error(name, f"must be <= adc_max_counts {adc_max} (got {values[i]:g})")
        params[key] = values
        fields[key] = field

    _check_monotonic(r, params, fields, adc_max)
    return Calibration(id=cal_id, adc_max_counts=adc_max, **params)


def _check_monotonic(
    r: FieldReader, params: dict[str, np.ndarray], fields: dict[str, str], adc_max: int
) -> None:
    """Reject curves whose slope 1 + 2*c2*u + 3*c3*u**2 turns negative for u in [0, u_max]."""
    c2, c3 = params["c2"], params["c3"]
    u_max = adc_max - params["offset_counts"]
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(c3 != 0, -c2 / (3.0 * np.where(c3 != 0, c3, 1.0)), 0.0)
    worst = np.inf * np.ones_like(c2)
    worst_u = np.zeros_like(c2)
    for u in (np.zeros_like(c2), u_max, np.clip(vertex, 0.0, u_max)):
        slope = 1.0 + 2.0 * c2 * u + 3.0 * c3 * u * u
        better = slope < worst
        worst = np.where(better, slope, worst)
        worst_u = np.where(better, u, worst_u)
    bad = np.flatnonzero(worst < 0)
    if bad.size:
        i = int(bad[0])
        key = "c3" if params["c3"][i] != 0 else "c2"
        name = fields[key] + (f"[{i}]" if fields[key].startswith("per_sensel") else "")
        counts = worst_u[i] + params["offset_counts"][i]
        raise r.field_error(
            name,
            f"makes the curve decrease near {counts:.0f} counts; it must be non-decreasing "
            f"over 0..{adc_max} counts",
        )
