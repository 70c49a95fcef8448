"""Plain-Python reference decoder of the Plantar wire protocol v1, written from PROTOCOL.md.

Slow and simple on purpose: the tests compare the numba stream decoder against it.
It imports nothing from ``firmware_bridge``: COBS, CRC (zlib) and parsing are spelled
out here again from the specification.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field

MAX_ENCODED = 8442  # COBS bound of the largest v1 message (8408 bytes)
MESSAGE_SIZES = {2: 78, 3: 9, 4: 10}
VALID_MESSAGE_FIELDS = (
    {(2, foot) for foot in (0, 1)}
    | {(3, command) for command in (1, 2, 3, 4)}
    | {(4, status) for status in (0, 1, 2, 3)}
)


@dataclass
class RefFrame:
    """One decoded DATA frame."""

    device_id: int
    foot: int
    seq: int
    t_device_us: int
    pressure: list[int]
    shear: list[tuple[int, int, int]]


@dataclass
class RefResult:
    """Everything the reference decoder found in a stream."""

    frames: list[RefFrame] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    tail: bytes = b""


def ref_cobs_decode(enc: bytes) -> bytes | None:
    """COBS decode; None if a block code overruns."""
    out = bytearray()
    i = 0
    while i < len(enc):
        code = enc[i]
        if i + code > len(enc):
            return None
        out += enc[i + 1 : i + code]
        i += code
        if code != 255 and i < len(enc):
            out.append(0)
    return bytes(out)


def _unpack12(data: bytes, count: int) -> list[int] | None:
    bits = int.from_bytes(data, "little")
    values = [(bits >> (12 * k)) & 0xFFF for k in range(count)]
    if bits >> (12 * count):
        return None  # nonzero padding
    return values


def _values(data: bytes, count: int, packed: bool) -> list[int] | None:
    if packed:
        return _unpack12(data, count)
    return [int.from_bytes(data[2 * k : 2 * k + 2], "little") for k in range(count)]


def ref_parse_data(msg: bytes, n_sensels: int, n_shear: int) -> RefFrame | str:
    """Parse a CRC-checked DATA message; a reason string if rejected."""
    if len(msg) < 24:
        return "too_short"
    _, _, flags, device_id, seq, t_us, ns, nk = struct.unpack_from("<BBBHIQHB", msg)
    if flags & 0xF8:
        return "bad_flags"
    if ns != n_sensels or nk != n_shear:
        return "layout_mismatch"
    encoding = (flags >> 1) & 3
    packed = encoding >= 2
    body = msg[20 : len(msg) - 4 - 6 * nk]
    if len(msg) - 4 - 6 * nk < 20:
        return "length_mismatch"
    if encoding in (0, 2):
        need = (3 * ns + 1) // 2 if packed else 2 * ns
        if len(body) != need:
            return "length_mismatch"
        pressure = _values(body, ns, packed)
        if pressure is None:
            return "bad_payload"
    else:
        groups = (ns + 7) // 8
        gm_len = (groups + 7) // 8
        if len(body) < gm_len:
            return "length_mismatch"
        gmask = int.from_bytes(body[:gm_len], "little")
        if gmask >> groups:
            return "bad_payload"
        set_groups = [g for g in range(groups) if gmask >> g & 1]
        if len(body) < gm_len + len(set_groups):
            return "length_mismatch"
        masks = body[gm_len : gm_len + len(set_groups)]
        if any(m == 0 for m in masks):
            return "bad_payload"
        indices = []
        for g, m in zip(set_groups, masks, strict=True):
            indices += [8 * g + j for j in range(8) if m >> j & 1]
        if indices and indices[-1] >= ns:
            return "bad_payload"
        vals = body[gm_len + len(set_groups) :]
        need = (3 * len(indices) + 1) // 2 if packed else 2 * len(indices)
        if len(vals) != need:
            return "length_mismatch"
        values = _values(vals, len(indices), packed)
        if values is None or any(v == 0 for v in values):
            return "bad_payload"
        pressure = [0] * ns
        for i, v in zip(indices, values, strict=True):
            pressure[i] = v
    shear_raw = msg[len(msg) - 4 - 6 * nk : len(msg) - 4]
    shear = [struct.unpack_from("<hhh", shear_raw, 6 * k) for k in range(nk)]
    return RefFrame(device_id, flags & 1, seq, t_us, pressure, shear)


def ref_decode_stream(
    stream: bytes, n_sensels: int, n_shear: int, *, lenient_first: bool = False
) -> RefResult:
    """Decode every 0x00-terminated frame of ``stream``."""
    result = RefResult()
    *segments, result.tail = stream.split(b"\x00")
    first = lenient_first
    for seg in segments:
        reason = _ref_segment(seg, n_sensels, n_shear, result)
        if reason == "empty_frames":
            result.counts["empty_frames"] += 1
        elif reason is not None:
            if first and reason in ("crc_errors", "cobs_errors", "too_short", "oversize"):
                reason = "resync_discards"
            result.counts[reason] += 1
            result.counts["bytes_discarded"] += len(seg)
        first = False
    return result


def _ref_segment(seg: bytes, n_sensels: int, n_shear: int, result: RefResult) -> str | None:
    if not seg:
        return "empty_frames"
    if len(seg) > MAX_ENCODED:
        return "oversize"
    msg = ref_cobs_decode(seg)
    if msg is None:
        return "cobs_errors"
    if len(msg) < 6:
        return "too_short"
    if zlib.crc32(msg[:-4]) != int.from_bytes(msg[-4:], "little"):
        return "crc_errors"
    if msg[0] not in (1, 2, 3, 4):
        return "bad_type"
    if msg[1] != 1:
        return "bad_version"
    if msg[0] != 1:
        if len(msg) != MESSAGE_SIZES[msg[0]]:
            return "length_mismatch"
        if (msg[0], msg[2 + (msg[0] == 4)]) not in VALID_MESSAGE_FIELDS:
            return "bad_payload"  # INFO foot, CONTROL command or ACK status out of range
        result.messages.append(msg)
        result.counts["messages_ok"] += 1
        return None
    parsed = ref_parse_data(msg, n_sensels, n_shear)
    if isinstance(parsed, str):
        return parsed
    result.frames.append(parsed)
    result.counts["frames_ok"] += 1
    return None
