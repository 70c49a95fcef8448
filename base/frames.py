"""The unit of data every stage hands on: a batch of calibrated frames of one foot.

The bridge turns decoded wire frames (raw counts, device clock) into
:class:`FootFrames` (kPa, host session time); the recorder, the importers and the
analysis all take and give these batches, one row per sample, never one Python object
per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOOT_NAMES: tuple[str, str] = ("left", "right")
#: No insole or plate samples faster than this, Hz: a faster rate read from time stamps
#: means a wrong time unit or a broken clock (rejected at import, clamped in analysis).
MAX_SAMPLING_RATE_HZ = 2000.0
#: No sensor reads more than this, kPa (10 MPa; insoles saturate near 1 MPa): a larger
#: value is a wrong unit or a corrupt file.
MAX_PRESSURE_KPA = 10_000.0


@dataclass(frozen=True, eq=False)
class FootFrames:
    """A batch of ``n`` consecutive samples from one insole.

    Attributes
    ----------
    foot : str
        ``"left"`` or ``"right"``.
    device_id : int
        The insole's device id from the wire protocol (0 for imported recordings).
    seq : ndarray of int64, shape (n,)
        Unwrapped sequence numbers (strictly increasing; gaps are lost samples).
    t_device_us : ndarray of int64, shape (n,)
        Device timestamps in µs on the device's own clock.
    t_s : ndarray of float64, shape (n,)
        Sample times in seconds on the session timebase (both feet share it after
        clock alignment; 0 is the session start).
    pressure_kpa : ndarray of float32, shape (n, n_sensels)
        Calibrated pressure per sensel in kPa. NaN marks a missing sample (imported
        data with holes), never 0.
    shear_kpa : ndarray of float32, shape (n, n_shear, 3)
        Per shear site: tangential (tx, ty) and normal (n) stress in kPa, in the
        layout's axes. ``n_shear`` is 0 for pressure-only insoles.
    t_arrival_s : ndarray of float64, shape (n,), or None
        When the chunk that completed each sample arrived at the host, on the session
        timebase (s, host monotonic clock). The bridge fills it; the device clock fit is
        made from it and ``t_device_us``, so the store can re-time a session after the
        fact. None for imported recordings and synthetic frames.
    """

    foot: str
    device_id: int
    seq: np.ndarray
    t_device_us: np.ndarray
    t_s: np.ndarray
    pressure_kpa: np.ndarray
    shear_kpa: np.ndarray
    t_arrival_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.seq)
        if self.foot not in FOOT_NAMES:
            raise ValueError(f"foot must be 'left' or 'right', got {self.foot!r}")
        for name in ("t_device_us", "t_s", "pressure_kpa", "shear_kpa"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"FootFrames.{name} has {len(getattr(self, name))} rows, seq {n}")
        if self.t_arrival_s is not None and len(self.t_arrival_s) != n:
            raise ValueError(f"FootFrames.t_arrival_s has {len(self.t_arrival_s)} rows, seq {n}")
        if self.pressure_kpa.ndim != 2 or self.shear_kpa.ndim != 3:
            raise ValueError("pressure_kpa must be 2-D and shear_kpa 3-D (n, n_shear, 3)")

    def __len__(self) -> int:
        return len(self.seq)

    def rows(self, start: int, stop: int) -> FootFrames:
        """Frames ``start`` to ``stop`` (views, no copy), like a slice of every array."""
        return FootFrames(
            foot=self.foot,
            device_id=self.device_id,
            seq=self.seq[start:stop],
            t_device_us=self.t_device_us[start:stop],
            t_s=self.t_s[start:stop],
            pressure_kpa=self.pressure_kpa[start:stop],
            shear_kpa=self.shear_kpa[start:stop],
            t_arrival_s=None if self.t_arrival_s is None else self.t_arrival_s[start:stop],
        )

    @property
    def n_sensels(self) -> int:
        """Number of pressure sensels per frame."""
        return int(self.pressure_kpa.shape[1])

    @property
    def n_shear(self) -> int:
        """Number of shear sites per frame."""
        return int(self.shear_kpa.shape[1])
