"""The binary display message sent on ``/ws/live`` (one per display tick, both feet).

Little-endian, no padding between fields, decoded by ``static/live.js``::

    header (24 bytes)
      magic            4s   b"PLD1"
      msg_seq          u32  display message counter of this server
      t_send_ms        f64  server wall clock (Unix epoch, ms) when the message was built
      n_feet           u8
      reserved         3 bytes
      kpa_max          f32  full scale of the grid codes (kPa)
    per foot
      foot             u8   0 left, 1 right
      flags            u8   bit 0: has data; bit 1: in stance; bit 2: held (grid is the
                            last stance's peak map, shown through swing)
      ny, nx           u16, u16  grid shape (rows = y anterior, columns = x)
      n_shear, n_cop   u16, u16
      reserved         2 bytes
      t_s              f64  session time of the newest frame (s)
      t_sample_ms      f64  that frame's sensor timestamp on the server wall clock (ms)
      t_recv_ms        f64  when the bridge received it, server wall clock (ms)
      force_n          f32  vertical force of the newest frame (N)
      peak_kpa         f32  highest sensel pressure of the newest frame (kPa)
      grid             u8[ny*nx]  0 = outside the outline / no value,
                                  1..255 = kPa * 254 / kpa_max + 1, clipped
      (pad to a multiple of 4)
      shear            f32[n_shear*3]  tx, ty, n per shear site (kPa, layout axes)
      cop              f32[n_cop*2]    CoP trace of the current stance (x, y mm)

The static geometry (outlines, grid origin and cell size, shear site positions) comes
from ``GET /api/layout`` once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"PLD1"
HEADER = struct.Struct("<4sIdB3xf")
FOOT_HEAD = struct.Struct("<BBHHHH2xdddff")
FLAG_HAS_DATA = 1
FLAG_STANCE = 2
FLAG_HELD = 4
FOOT_CODES = {"left": 0, "right": 1}
FOOT_NAMES = ("left", "right")


@dataclass
class FootView:
    """What the display shows of one foot at one instant."""

    foot: str
    grid_kpa: np.ndarray  # (ny, nx) float, NaN outside the outline
    shear_kpa: np.ndarray  # (n_shear, 3) float32
    cop_xy_mm: np.ndarray  # (n_cop, 2) float32
    t_s: float = float("nan")
    t_sample_ms: float = float("nan")
    t_recv_ms: float = float("nan")
    force_n: float = 0.0
    peak_kpa: float = 0.0
    has_data: bool = False
    stance: bool = False
    held: bool = False


def quantise_grid(grid_kpa: np.ndarray, kpa_max: float) -> np.ndarray:
    """kPa grid → u8 codes (0 = no value, 1..255 = 0..kpa_max kPa)."""
    g = np.asarray(grid_kpa, dtype=np.float32)
    finite = np.isfinite(g)
    codes = np.zeros(g.shape, dtype=np.uint8)
    scaled = np.clip(np.where(finite, g, 0.0) * (254.0 / kpa_max), 0.0, 254.0)
    codes[finite] = (np.rint(scaled[finite]) + 1).astype(np.uint8)
    return codes


def dequantise_grid(codes: np.ndarray, kpa_max: float) -> np.ndarray:
    """Inverse of :func:`quantise_grid` (NaN where the code is 0)."""
    c = np.asarray(codes, dtype=np.float32)
    return np.where(c > 0, (c - 1.0) * (kpa_max / 254.0), np.nan)


def encode_display(msg_seq: int, t_send_ms: float, kpa_max: float, feet: list[FootView]) -> bytes:
    """Pack one display message."""
    parts = [HEADER.pack(MAGIC, msg_seq & 0xFFFFFFFF, t_send_ms, len(feet), kpa_max)]
    for view in feet:
        codes = quantise_grid(view.grid_kpa, kpa_max)
        ny, nx = codes.shape
        shear = np.ascontiguousarray(view.shear_kpa, dtype="<f4").reshape(-1, 3)
        cop = np.ascontiguousarray(view.cop_xy_mm, dtype="<f4").reshape(-1, 2)
        flags = (
            (FLAG_HAS_DATA if view.has_data else 0)
            | (FLAG_STANCE if view.stance else 0)
            | (FLAG_HELD if view.held else 0)
        )
        parts.append(
            FOOT_HEAD.pack(
                FOOT_CODES[view.foot],
                flags,
                ny,
                nx,
                shear.shape[0],
                cop.shape[0],
                view.t_s,
                view.t_sample_ms,
                view.t_recv_ms,
                view.force_n,
                view.peak_kpa,
            )
        )
        grid_bytes = codes.tobytes()
        parts.append(grid_bytes)
        parts.append(b"\0" * (-len(grid_bytes) % 4))
        parts.append(shear.tobytes())
        parts.append(cop.tobytes())
    return b"".join(parts)


def decode_display(data: bytes) -> dict:
    """Unpack a display message (the Python twin of the page's decoder; tests, benchmark)."""
    magic, msg_seq, t_send_ms, n_feet, kpa_max = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError("not a Plantar display message")
    off = HEADER.size
    feet = []
    for _ in range(n_feet):
        (foot, flags, ny, nx, n_shear, n_cop, t_s, t_sample_ms, t_recv_ms, force_n, peak) = (
            FOOT_HEAD.unpack_from(data, off)
        )
        off += FOOT_HEAD.size
        codes = np.frombuffer(data, np.uint8, ny * nx, off).reshape(ny, nx)
        off += ny * nx + (-(ny * nx) % 4)
        shear = np.frombuffer(data, "<f4", n_shear * 3, off).reshape(n_shear, 3)
        off += n_shear * 12
        cop = np.frombuffer(data, "<f4", n_cop * 2, off).reshape(n_cop, 2)
        off += n_cop * 8
        feet.append(
            {
                "foot": FOOT_NAMES[foot],
                "has_data": bool(flags & FLAG_HAS_DATA),
                "stance": bool(flags & FLAG_STANCE),
                "held": bool(flags & FLAG_HELD),
                "grid_codes": codes,
                "grid_kpa": dequantise_grid(codes, kpa_max),
                "shear_kpa": shear,
                "cop_xy_mm": cop,
                "t_s": t_s,
                "t_sample_ms": t_sample_ms,
                "t_recv_ms": t_recv_ms,
                "force_n": force_n,
                "peak_kpa": peak,
            }
        )
    return {"msg_seq": msg_seq, "t_send_ms": t_send_ms, "kpa_max": kpa_max, "feet": feet}
