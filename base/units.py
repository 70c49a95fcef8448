"""Unit conversions used across the packages, each written once."""

from __future__ import annotations

#: km/h per m/s (treadmill speeds are entered in km/h, the models run in m/s).
KMH_PER_MPS = 3.6


def kmh_to_mps(speed_kmh: float) -> float:
    """A speed in km/h as m/s."""
    return speed_kmh / KMH_PER_MPS


def mps_to_kmh(speed_mps: float) -> float:
    """A speed in m/s as km/h."""
    return speed_mps * KMH_PER_MPS
