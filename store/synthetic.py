"""Deterministic synthetic frames for the store's tests and benchmark.

``synthetic_frames(foot, start_seq, n)`` always returns the same values for the same
sequence numbers, so a test can regenerate what a (killed) recorder was sent and compare
bit for bit. The pressure is a smooth travelling load (heel to toe once per stride) plus
a little seeded noise, so that it compresses like real data rather than like noise.
"""

from __future__ import annotations

import numpy as np

from base.frames import FootFrames

STRIDE_S = 0.75


def synthetic_frames(
    foot: str,
    start_seq: int,
    n: int,
    *,
    n_sensels: int = 64,
    n_shear: int = 5,
    sampling_rate_hz: float = 200.0,
    device_id: int | None = None,
) -> FootFrames:
    """``n`` frames of ``foot`` from sequence number ``start_seq`` (deterministic)."""
    seq = np.arange(start_seq, start_seq + n, dtype=np.int64)
    t_s = seq / sampling_rate_hz
    phase = (t_s / STRIDE_S + (0.5 if foot == "right" else 0.0)) % 1.0
    position = np.linspace(0.0, 1.0, n_sensels)
    load = np.clip(1.0 - np.abs(position[None, :] - phase[:, None] * 1.6) * 4.0, 0.0, None)
    rng = np.random.default_rng([start_seq, n, n_sensels, 1 if foot == "right" else 0])
    pressure = (250.0 * load + rng.normal(0.0, 0.5, (n, n_sensels)) * (load > 0)).astype(np.float32)
    shear = np.round(rng.normal(0.0, 5.0, (n, n_shear, 3)), 2).astype(np.float32)
    return FootFrames(
        foot=foot,
        device_id=(1 if foot == "left" else 2) if device_id is None else device_id,
        seq=seq,
        t_device_us=np.round(t_s * 1e6).astype(np.int64) + 1_000_000,
        t_s=t_s,
        pressure_kpa=pressure,
        shear_kpa=shear,
    )
