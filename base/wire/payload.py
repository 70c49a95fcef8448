"""Device-side encoder of DATA messages of the Plantar wire protocol, version 1.

The specification is ``hardware/PROTOCOL.md``. Encoding is plain Python/NumPy (a device
or the simulator sends a few hundred frames per second); the host decodes batches with
:class:`firmware_bridge.stream_decoder.StreamDecoder`.
"""

from __future__ import annotations

import numpy as np

from base.wire.crc import append_crc32
from base.wire.protocol import (
    DATA_HEADER,
    ENCODING_NAMES,
    FLAG_ENCODING_SHIFT,
    FOOT_LEFT,
    FOOT_RIGHT,
    MAX_12BIT_COUNTS,
    MAX_SENSELS,
    MAX_SHEAR,
    PROTOCOL_VERSION,
    SHEAR_COMPONENTS,
    Encoding,
    MsgType,
    packed12_bytes,
    sparse_group_count,
    sparse_group_mask_bytes,
)

__all__ = ["encode_data_frame", "encode_pressure_payload"]

_U32 = 1 << 32


def _pack12(values: np.ndarray) -> bytes:
    """12-bit values (< 4096) as a little-endian bit stream, (3m+1)//2 bytes."""
    m = values.shape[0]
    v = values.astype(np.uint16)
    if m & 1:
        v = np.append(v, np.uint16(0))
    a = v[0::2]
    b = v[1::2]
    out = np.empty((a.shape[0], 3), dtype=np.uint8)
    out[:, 0] = a & 0xFF
    out[:, 1] = (a >> 8) | ((b & 0x0F) << 4)
    out[:, 2] = b >> 4
    return out.tobytes()[: packed12_bytes(m)]


def _sparse_masks(counts: np.ndarray) -> tuple[bytes, bytes, np.ndarray]:
    """Group mask, per-group masks of the set groups, and the nonzero values."""
    n = counts.shape[0]
    n_groups = sparse_group_count(n)
    nonzero = np.zeros(8 * n_groups, dtype=bool)
    nonzero[:n] = counts != 0
    masks = np.packbits(nonzero.reshape(n_groups, 8), axis=1, bitorder="little").ravel()
    present = masks != 0
    group_mask = np.packbits(present, bitorder="little")
    return group_mask.tobytes(), masks[present].tobytes(), counts[nonzero[:n]]


def encode_pressure_payload(
    pressure_counts: np.ndarray, encoding: str | Encoding = "auto"
) -> tuple[Encoding, bytes]:
    """Encode the pressure payload of a DATA message.

    Parameters
    ----------
    pressure_counts
        (n,) ADC counts after tare, 0..65535 (0..4095 for the 12-bit encodings).
    encoding
        ``"auto"`` (smallest; ties go to the simpler encoding), ``"dense"``, ``"sparse"``,
        ``"dense12"``, ``"sparse12"`` or an :class:`Encoding`.

    Returns
    -------
    (encoding, payload)
    """
    counts = np.asarray(pressure_counts)
    n = counts.shape[0]
    max_count = int(counts.max()) if n else 0
    if isinstance(encoding, str) and encoding != "auto":
        if encoding not in ENCODING_NAMES:
            raise ValueError(f"unknown encoding {encoding!r}; use auto or {list(ENCODING_NAMES)}")
        encoding = ENCODING_NAMES[encoding]
    if encoding == "auto":
        n_nonzero = int(np.count_nonzero(counts))
        n_groups_set = int(np.count_nonzero(np.add.reduceat(counts != 0, np.arange(0, n, 8))))
        sparse_head = sparse_group_mask_bytes(n) + n_groups_set
        sizes = {
            Encoding.DENSE16: 2 * n,
            Encoding.SPARSE16: sparse_head + 2 * n_nonzero,
        }
        if max_count <= MAX_12BIT_COUNTS:
            sizes[Encoding.DENSE12] = packed12_bytes(n)
            sizes[Encoding.SPARSE12] = sparse_head + packed12_bytes(n_nonzero)
        encoding = min(sizes, key=lambda e: (sizes[e], e))
    encoding = Encoding(encoding)
    if encoding == Encoding.SPARSE16:
        # PROTOCOL.md 2.1: never larger than dense u16 (keeps every message in bounds).
        n_groups_set = int(np.count_nonzero(np.add.reduceat(counts != 0, np.arange(0, n, 8))))
        sparse_size = sparse_group_mask_bytes(n) + n_groups_set + 2 * np.count_nonzero(counts)
        if n and sparse_size > 2 * n:
            encoding = Encoding.DENSE16
    packed = encoding in (Encoding.DENSE12, Encoding.SPARSE12)
    if packed and max_count > MAX_12BIT_COUNTS:
        raise ValueError(f"{encoding.name} needs counts <= 4095, got {max_count}")
    if encoding in (Encoding.DENSE16, Encoding.DENSE12):
        return encoding, _pack12(counts) if packed else counts.astype("<u2").tobytes()
    group_mask, masks, values = _sparse_masks(counts)
    value_bytes = _pack12(values) if packed else values.astype("<u2").tobytes()
    return encoding, group_mask + masks + value_bytes


def encode_data_frame(
    *,
    device_id: int,
    foot: int,
    seq: int,
    t_device_us: int,
    pressure_counts: np.ndarray,
    shear_centi_kpa: np.ndarray | None,
    encoding: str | Encoding = "auto",
) -> bytes:
    """One DATA message, unframed, with its CRC-32.

    Parameters
    ----------
    device_id
        0..65535.
    foot
        ``FOOT_LEFT`` (0) or ``FOOT_RIGHT`` (1).
    seq
        Sample counter; sent modulo 2**32.
    t_device_us
        Device clock in µs, 0..2**64-1.
    pressure_counts
        (n,) uint16 ADC counts after tare, 1 <= n <= 4096.
    shear_centi_kpa
        (k, 3) int16 tx, ty, n in 0.01 kPa, k <= 32, or None for k = 0.
    encoding
        See :func:`encode_pressure_payload`.
    """
    counts = np.asarray(pressure_counts)
    if counts.ndim != 1 or not 1 <= counts.shape[0] <= MAX_SENSELS:
        raise ValueError(f"pressure_counts must have shape (n,), 1 <= n <= {MAX_SENSELS}")
    if counts.size and (int(counts.min()) < 0 or int(counts.max()) > 0xFFFF):
        raise ValueError("pressure_counts must be in 0..65535")
    shear = (
        np.zeros((0, SHEAR_COMPONENTS), dtype=np.int16)
        if shear_centi_kpa is None
        else np.asarray(shear_centi_kpa)
    )
    if shear.ndim != 2 or shear.shape[1] != SHEAR_COMPONENTS or shear.shape[0] > MAX_SHEAR:
        raise ValueError(f"shear_centi_kpa must have shape (k, 3), k <= {MAX_SHEAR}")
    if shear.size and (int(shear.min()) < -32768 or int(shear.max()) > 32767):
        raise ValueError("shear_centi_kpa must be in the int16 range")
    if foot not in (FOOT_LEFT, FOOT_RIGHT):
        raise ValueError(f"foot must be 0 (left) or 1 (right), got {foot}")
    chosen, payload = encode_pressure_payload(counts, encoding)
    flags = foot | (int(chosen) << FLAG_ENCODING_SHIFT)
    header = DATA_HEADER.pack(
        MsgType.DATA,
        PROTOCOL_VERSION,
        flags,
        device_id,
        seq % _U32,
        t_device_us,
        counts.shape[0],
        shear.shape[0],
    )
    return append_crc32(header + payload + shear.astype("<i2").tobytes())
