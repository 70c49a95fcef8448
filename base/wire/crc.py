"""CRC-32 of the wire protocol (IEEE 802.3 / ISO-HDLC, identical to ``zlib.crc32``).

Parameters: polynomial 0x04C11DB7 (reflected 0xEDB88320), init 0xFFFFFFFF, input and
output reflected, xorout 0xFFFFFFFF, check value ``crc32(b"123456789") == 0xCBF43926``.
The Python side uses :func:`zlib.crc32`; the numba kernels use :data:`CRC32_TABLES`
(slicing-by-4 lookup tables, built once at import).
"""

from __future__ import annotations

import zlib

import numpy as np

CRC32_POLY_REFLECTED = 0xEDB88320
CRC32_CHECK = 0xCBF43926


def crc32(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 of ``data`` as an unsigned int (same as :func:`zlib.crc32`)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def _make_tables() -> np.ndarray:
    """Slicing-by-4 tables, shape (4, 256) uint32; row 0 is the classic byte table."""
    tables = np.zeros((4, 256), dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ CRC32_POLY_REFLECTED if c & 1 else c >> 1
        tables[0, i] = c
    for k in range(1, 4):
        for i in range(256):
            prev = int(tables[k - 1, i])
            tables[k, i] = (prev >> 8) ^ int(tables[0, prev & 0xFF])
    return tables


CRC32_TABLES: np.ndarray = _make_tables()


def append_crc32(body: bytes) -> bytes:
    """``body`` followed by its CRC-32, little-endian: every message ends this way."""
    return body + crc32(body).to_bytes(4, "little")
