"""Encoder and batch decoder of the Plantar wire protocol, version 1.

The specification is ``hardware/PROTOCOL.md``. Encoding is plain Python/NumPy (a device
or the simulator sends a few hundred frames per second); decoding works on batches:
:meth:`StreamDecoder.feed` takes any chunk of the byte stream (serial reads or
reassembled BLE notifications) and returns every complete DATA frame in it as one
:class:`FrameBatch`, using the numba kernels of :mod:`firmware_bridge.decode_kernels`.
Values stay raw integers (ADC counts, 0.01 kPa); conversion to physical units is the
bridge's job.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

from firmware_bridge import decode_kernels as dk
from firmware_bridge.cobs import CobsError, cobs_decode, frame_message
from firmware_bridge.crc import CRC32_TABLES
from firmware_bridge.protocol import (
    ACK_BODY,
    ACK_SIZE,
    BLE_ATT_HEADER_BYTES,
    BLE_COUNTER_BYTES,
    CALIBRATION_ID_LEN,
    CONTROL_BODY,
    CONTROL_SIZE,
    CRC_SIZE,
    DATA_HEADER,
    ENCODING_NAMES,
    FIRMWARE_VERSION_LEN,
    FLAG_ENCODING_SHIFT,
    FOOT_LEFT,
    FOOT_RIGHT,
    INFO_BODY,
    INFO_SIZE,
    LAYOUT_ID_LEN,
    MAX_12BIT_COUNTS,
    MAX_ENCODED_BYTES,
    MAX_SENSELS,
    MAX_SHEAR,
    PROTOCOL_VERSION,
    SHEAR_COMPONENTS,
    AckStatus,
    Command,
    Encoding,
    MsgType,
    packed12_bytes,
    sparse_group_count,
    sparse_group_mask_bytes,
)

__all__ = [
    "FOOT_LEFT",
    "FOOT_RIGHT",
    "Ack",
    "ControlCommand",
    "DecoderStats",
    "DeviceInfo",
    "FrameBatch",
    "NotificationChunk",
    "NotificationReassembler",
    "ProtocolError",
    "StreamDecoder",
    "decode_message",
    "encode_ack",
    "encode_control",
    "encode_data_frame",
    "encode_info",
    "encode_pressure_payload",
    "frame_message",
    "pack_notifications",
    "unwrap_seq",
]

_U32 = 1 << 32


class ProtocolError(ValueError):
    """A message (INFO/CONTROL/ACK) is not valid protocol version 1."""


def _with_crc(body: bytes) -> bytes:
    return body + (zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "little")


def _check_crc(message: bytes, expected_size: int, kind: str) -> None:
    if len(message) != expected_size:
        raise ProtocolError(f"{kind} message is {len(message)} bytes, expected {expected_size}")
    if zlib.crc32(message[:-CRC_SIZE]) & 0xFFFFFFFF != int.from_bytes(message[-4:], "little"):
        raise ProtocolError(f"{kind} message fails its CRC-32")


def _check_header(msg_type: int, version: int, expected: MsgType) -> None:
    if msg_type != expected:
        raise ProtocolError(f"message type 0x{msg_type:02x} is not {expected.name}")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version} is not {PROTOCOL_VERSION}")


def _fixed_str(text: str, length: int, field: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > length:
        raise ValueError(f"{field} {text!r} is longer than {length} bytes")
    return raw


def _unfixed_str(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- INFO


@dataclass(frozen=True)
class DeviceInfo:
    """What a device says about itself (INFO message / INFO characteristic)."""

    protocol_version: int
    device_id: int
    foot: int  # FOOT_LEFT | FOOT_RIGHT
    sampling_rate_hz: int
    n_sensels: int
    n_shear: int
    firmware_version: str
    layout_id: str
    calibration_id: str


def encode_info(info: DeviceInfo) -> bytes:
    """INFO message (78 bytes, unframed, with CRC); also the INFO characteristic value."""
    if info.foot not in (FOOT_LEFT, FOOT_RIGHT):
        raise ValueError(f"foot must be 0 (left) or 1 (right), got {info.foot}")
    body = INFO_BODY.pack(
        MsgType.INFO,
        info.protocol_version,
        info.foot,
        info.device_id,
        info.sampling_rate_hz,
        info.n_sensels,
        info.n_shear,
        _fixed_str(info.firmware_version, FIRMWARE_VERSION_LEN, "firmware_version"),
        _fixed_str(info.layout_id, LAYOUT_ID_LEN, "layout_id"),
        _fixed_str(info.calibration_id, CALIBRATION_ID_LEN, "calibration_id"),
    )
    return _with_crc(body)


def _decode_info(message: bytes) -> DeviceInfo:
    _check_crc(message, INFO_SIZE, "INFO")
    t, v, foot, dev, rate, ns, nk, fw, layout, cal = INFO_BODY.unpack(message[:-CRC_SIZE])
    _check_header(t, v, MsgType.INFO)
    if foot not in (FOOT_LEFT, FOOT_RIGHT):
        raise ProtocolError(f"INFO foot byte {foot} is not 0 or 1")
    return DeviceInfo(
        v, dev, foot, rate, ns, nk, _unfixed_str(fw), _unfixed_str(layout), _unfixed_str(cal)
    )


# ----------------------------------------------------------------------- CONTROL/ACK


@dataclass(frozen=True)
class ControlCommand:
    """A host→device command; ``argument`` is the rate in Hz for SET_RATE, else 0."""

    command: Command
    argument: int = 0


@dataclass(frozen=True)
class Ack:
    """Device→host reply to a CONTROL message."""

    command: int  # echoed command byte (may be unknown to this host)
    status: AckStatus
    argument: int = 0


def encode_control(command: Command | int, argument: int = 0) -> bytes:
    """CONTROL message (9 bytes, unframed); also the CONTROL characteristic value."""
    return _with_crc(CONTROL_BODY.pack(MsgType.CONTROL, PROTOCOL_VERSION, command, argument))


def encode_ack(command: int, status: AckStatus | int, argument: int = 0) -> bytes:
    """ACK message (10 bytes, unframed)."""
    return _with_crc(ACK_BODY.pack(MsgType.ACK, PROTOCOL_VERSION, command, status, argument))


def decode_message(message: bytes) -> DeviceInfo | ControlCommand | Ack:
    """Decode one unframed INFO, CONTROL or ACK message (CRC included).

    Raises
    ------
    ProtocolError
        If the message is not a valid version-1 INFO/CONTROL/ACK message.
    """
    message = bytes(message)
    if len(message) < 2:
        raise ProtocolError("message shorter than its 2-byte header")
    msg_type = message[0]
    if msg_type == MsgType.INFO:
        return _decode_info(message)
    if msg_type == MsgType.CONTROL:
        _check_crc(message, CONTROL_SIZE, "CONTROL")
        t, v, cmd, arg = CONTROL_BODY.unpack(message[:-CRC_SIZE])
        _check_header(t, v, MsgType.CONTROL)
        try:
            return ControlCommand(Command(cmd), arg)
        except ValueError:
            raise ProtocolError(f"unknown CONTROL command 0x{cmd:02x}") from None
    if msg_type == MsgType.ACK:
        _check_crc(message, ACK_SIZE, "ACK")
        t, v, cmd, status, arg = ACK_BODY.unpack(message[:-CRC_SIZE])
        _check_header(t, v, MsgType.ACK)
        try:
            return Ack(cmd, AckStatus(status), arg)
        except ValueError:
            raise ProtocolError(f"unknown ACK status {status}") from None
    raise ProtocolError(f"message type 0x{msg_type:02x} is not INFO, CONTROL or ACK")


# ---------------------------------------------------------------------------- DATA


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
    return _with_crc(header + payload + shear.astype("<i2").tobytes())


# ------------------------------------------------------------------------- decoding


@dataclass
class FrameBatch:
    """Decoded DATA frames, one row per frame, in stream order. Raw integer units."""

    device_id: np.ndarray  # (n,) uint16
    foot: np.ndarray  # (n,) uint8, FOOT_LEFT | FOOT_RIGHT
    seq: np.ndarray  # (n,) uint32, wraps; see unwrap_seq
    t_device_us: np.ndarray  # (n,) uint64 device clock
    pressure_counts: np.ndarray  # (n, S) uint16 ADC counts after tare
    shear_centi_kpa: np.ndarray  # (n, K, 3) int16 tx, ty, n in 0.01 kPa

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    @classmethod
    def empty(cls, n_sensels: int, n_shear: int, n: int = 0) -> FrameBatch:
        """A batch of ``n`` uninitialised rows (``n = 0``: an empty batch)."""
        return cls(
            np.empty(n, np.uint16),
            np.empty(n, np.uint8),
            np.empty(n, np.uint32),
            np.empty(n, np.uint64),
            np.empty((n, n_sensels), np.uint16),
            np.empty((n, n_shear, SHEAR_COMPONENTS), np.int16),
        )

    @classmethod
    def concatenate(cls, batches: Sequence[FrameBatch]) -> FrameBatch:
        """Rows of ``batches`` one after the other (at least one batch)."""
        return cls(*(np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)))


@dataclass(frozen=True)
class DecoderStats:
    """Counts of a :class:`StreamDecoder` since it was created.

    Every 0x00-terminated frame lands in exactly one of: ``frames_ok``,
    ``messages_ok``, ``empty_frames``, ``resync_discards`` or one rejection reason.
    """

    frames_ok: int  # DATA frames decoded
    messages_ok: int  # INFO/CONTROL/ACK messages decoded
    crc_errors: int
    too_short: int
    bad_type: int
    bad_version: int
    bad_flags: int  # reserved flag bits set
    length_mismatch: int  # length disagrees with n_sensels/n_shear/encoding
    bad_payload: int  # inconsistent sparse masks, zero value marked nonzero, padding
    oversize: int  # longer than the largest version-1 frame
    cobs_errors: int
    layout_mismatch: int  # valid DATA frame for another n_sensels/n_shear
    resync_discards: int  # partial frame at the start or after a BLE gap
    empty_frames: int  # 0x00 0x00 (allowed as idle fill)
    bytes_discarded: int  # encoded bytes of rejected frames and dropped partials
    last_mismatch_n_sensels: int  # n_sensels/n_shear of the last layout mismatch
    last_mismatch_n_shear: int

    @property
    def malformed(self) -> int:
        """Frames rejected for a reason other than CRC or layout mismatch."""
        return (
            self.too_short
            + self.bad_type
            + self.bad_version
            + self.bad_flags
            + self.length_mismatch
            + self.bad_payload
            + self.oversize
            + self.cobs_errors
        )

    @property
    def rejected(self) -> int:
        """All rejected frames (CRC, malformed, layout mismatch)."""
        return self.malformed + self.crc_errors + self.layout_mismatch


_STATS_FIELDS = (
    ("frames_ok", dk.C_FRAMES_OK),
    ("messages_ok", dk.C_MESSAGES_OK),
    ("crc_errors", dk.C_CRC),
    ("too_short", dk.C_TOO_SHORT),
    ("bad_type", dk.C_BAD_TYPE),
    ("bad_version", dk.C_BAD_VERSION),
    ("bad_flags", dk.C_BAD_FLAGS),
    ("length_mismatch", dk.C_LENGTH),
    ("bad_payload", dk.C_BAD_PAYLOAD),
    ("oversize", dk.C_OVERSIZE),
    ("cobs_errors", dk.C_COBS),
    ("layout_mismatch", dk.C_LAYOUT),
    ("resync_discards", dk.C_RESYNC),
    ("empty_frames", dk.C_EMPTY),
    ("bytes_discarded", dk.C_BYTES_DISCARDED),
    ("last_mismatch_n_sensels", dk.C_LAST_MISMATCH_N_SENSELS),
    ("last_mismatch_n_shear", dk.C_LAST_MISMATCH_N_SHEAR),
)


class StreamDecoder:
    """Batch decoder of a 0x00-delimited COBS byte stream for one layout.

    Parameters
    ----------
    n_sensels, n_shear
        The layout the frames must have; other DATA frames count as layout mismatch.
    max_frames
        Initial capacity of the reused output buffers. A feed with more frames grows
        them (to the number of 0x00 bytes in the feed): frames are never dropped.
    synced
        False (default): the stream may start inside a frame, so a first frame that
        fails its checks counts as ``resync_discards``, not as an error.

    Notes
    -----
    ``feed`` never raises on bad bytes: rejected frames are counted in :attr:`stats`
    and decoding resumes after the next 0x00. A partial frame longer than the largest
    valid frame is dropped (``oversize``) and bytes are skipped up to the next 0x00,
    so memory stays bounded whatever arrives. INFO/CONTROL/ACK messages are decoded
    into :attr:`messages` (drain it with :meth:`pop_messages`); the latest INFO is
    also in :attr:`last_info`.
    """

    def __init__(
        self, n_sensels: int, n_shear: int, max_frames: int = 4096, *, synced: bool = False
    ) -> None:
        if not 1 <= n_sensels <= MAX_SENSELS:
            raise ValueError(f"n_sensels must be in 1..{MAX_SENSELS}, got {n_sensels}")
        if not 0 <= n_shear <= MAX_SHEAR:
            raise ValueError(f"n_shear must be in 0..{MAX_SHEAR}, got {n_shear}")
        self.n_sensels = n_sensels
        self.n_shear = n_shear
        self.messages: list[DeviceInfo | ControlCommand | Ack] = []
        self.last_info: DeviceInfo | None = None
        self._counters = np.zeros(dk.N_COUNTERS, dtype=np.int64)
        self._scratch = np.empty(MAX_ENCODED_BYTES, dtype=np.uint8)
        self._tail = b""
        self._lenient = not synced
        self._skipping = False
        self._out = FrameBatch.empty(n_sensels, n_shear, max(1, max_frames))
        self._spans = np.empty((max(1, max_frames), 2), dtype=np.int64)

    @property
    def stats(self) -> DecoderStats:
        """Snapshot of the counters."""
        c = self._counters
        return DecoderStats(**{name: int(c[i]) for name, i in _STATS_FIELDS})

    @property
    def infos(self) -> list[DeviceInfo]:
        """INFO messages in :attr:`messages` (not yet popped)."""
        return [m for m in self.messages if isinstance(m, DeviceInfo)]

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the partial frame waiting for its delimiter."""
        return len(self._tail)

    def pop_messages(self) -> list[DeviceInfo | ControlCommand | Ack]:
        """Return and clear the INFO/CONTROL/ACK messages decoded so far."""
        out, self.messages = self.messages, []
        return out

    def discard_partial(self) -> None:
        """Drop the buffered partial frame (e.g. after lost BLE notifications)."""
        self._counters[dk.C_BYTES_DISCARDED] += len(self._tail)
        if self._tail:
            self._counters[dk.C_RESYNC] += 1
        self._tail = b""
        self._lenient = True

    def feed(
        self, data: bytes | bytearray | memoryview, *, discard_partial: bool = False
    ) -> FrameBatch:
        """Decode all frames completed by ``data``; keep the unterminated rest.

        Parameters
        ----------
        data
            Next bytes of the stream, any length.
        discard_partial
            Drop the buffered partial frame first (see :meth:`discard_partial`).
        """
        if discard_partial:
            self.discard_partial()
        data = bytes(data)
        if self._skipping:
            z = data.find(0)
            if z < 0:
                self._counters[dk.C_BYTES_DISCARDED] += len(data)
                return FrameBatch.empty(self.n_sensels, self.n_shear)
            self._counters[dk.C_BYTES_DISCARDED] += z
            data = data[z + 1 :]
            self._skipping = False
        stream = self._tail + data if self._tail else data
        n_delimiters = stream.count(0)
        if n_delimiters > len(self._out):
            capacity = 1 << (n_delimiters - 1).bit_length()
            self._out = FrameBatch.empty(self.n_sensels, self.n_shear, capacity)
            self._spans = np.empty((capacity, 2), dtype=np.int64)
        out = self._out
        buf = np.frombuffer(stream, dtype=np.uint8)
        n_frames, n_msgs, tail_start = dk.decode_stream_kernel(
            buf,
            0,
            self._lenient,
            self.n_sensels,
            self.n_shear,
            MAX_ENCODED_BYTES,
            self._scratch,
            CRC32_TABLES,
            out.device_id,
            out.foot,
            out.seq,
            out.t_device_us,
            out.pressure_counts,
            out.shear_centi_kpa,
            self._spans,
            self._counters,
        )
        if n_delimiters:
            self._lenient = False
        self._tail = stream[tail_start:]
        if len(self._tail) > MAX_ENCODED_BYTES:
            self._counters[dk.C_OVERSIZE] += 1
            self._counters[dk.C_BYTES_DISCARDED] += len(self._tail)
            self._tail = b""
            self._skipping = True
        for start, end in self._spans[:n_msgs]:
            self._add_message(stream[start:end])
        return FrameBatch(*(getattr(out, f.name)[:n_frames].copy() for f in fields(FrameBatch)))

    def _add_message(self, encoded: bytes) -> None:
        try:
            message = decode_message(cobs_decode(encoded))
        except (ProtocolError, CobsError):
            self._counters[dk.C_MESSAGES_OK] -= 1
            self._counters[dk.C_BAD_PAYLOAD] += 1
            self._counters[dk.C_BYTES_DISCARDED] += len(encoded)
            return
        self.messages.append(message)
        if isinstance(message, DeviceInfo):
            self.last_info = message


def unwrap_seq(seq_u32: np.ndarray, last: int | None = None) -> np.ndarray:
    """Unwrap 32-bit sequence numbers into a monotonic-ish int64 count.

    Each step is taken as the signed difference modulo 2**32 (in -2**31..2**31-1),
    so wraps 0xFFFFFFFF → 0 continue counting and a step back stays a step back.

    Parameters
    ----------
    seq_u32
        (n,) sequence numbers as sent.
    last
        Unwrapped value of the sample before ``seq_u32[0]`` (from the previous batch),
        or None to start at ``seq_u32[0]``.

    Returns
    -------
    (n,) int64 unwrapped sequence numbers.
    """
    s = np.asarray(seq_u32).astype(np.int64)
    if s.size == 0:
        return s
    prev = int(s[0]) if last is None else int(last)
    steps = np.diff(s, prepend=prev % _U32)
    steps = (steps + (1 << 31)) % _U32 - (1 << 31)
    return prev + np.cumsum(steps)


# ------------------------------------------------------------------------------ BLE


def _split_frames(stream: bytes) -> list[bytes]:
    """Frames of a 0x00-delimited stream, each with its delimiter (a last partial too)."""
    parts = stream.split(b"\x00")
    frames = [p + b"\x00" for p in parts[:-1]]
    if parts[-1]:
        frames.append(parts[-1])
    return frames


def pack_notifications(
    stream_or_messages: bytes | bytearray | memoryview | Iterable[bytes],
    att_mtu: int,
    *,
    start_counter: int = 0,
) -> list[bytes]:
    """Pack a framed byte stream into DATA-characteristic notification payloads.

    Each payload is a u8 counter (``start_counter``, +1 per notification, wrapping)
    followed by at most ``att_mtu - 4`` stream bytes. Whole frames are packed while
    they fit; a frame that does not fit in the space left starts a new notification,
    and a frame longer than a whole notification fills the current one and continues
    in the next ones.

    Parameters
    ----------
    stream_or_messages
        Either framed stream bytes (COBS + 0x00, as sent over serial) or an iterable of
        unframed messages, which are framed here.
    att_mtu
        Negotiated ATT MTU (>= 23).
    start_counter
        Counter of the first notification (0..255).
    """
    if att_mtu < 23:
        raise ValueError(f"att_mtu must be >= 23, got {att_mtu}")
    if isinstance(stream_or_messages, bytes | bytearray | memoryview):
        frames = _split_frames(bytes(stream_or_messages))
    else:
        frames = [frame_message(m) for m in stream_or_messages]
    capacity = att_mtu - BLE_ATT_HEADER_BYTES - BLE_COUNTER_BYTES
    chunks: list[bytearray] = []
    current = bytearray()
    for frame in frames:
        if len(current) + len(frame) <= capacity:
            current += frame
            continue
        view = memoryview(frame)
        if len(frame) <= capacity:
            chunks.append(current)
            current = bytearray(view)
            continue
        while view:
            room = capacity - len(current)
            current += view[:room]
            view = view[room:]
            if len(current) == capacity:
                chunks.append(current)
                current = bytearray()
    if current:
        chunks.append(current)
    return [
        bytes([(start_counter + i) & 0xFF]) + bytes(chunk)
        for i, chunk in enumerate(c for c in chunks if c)
    ]


class NotificationChunk(NamedTuple):
    """Stream bytes of one notification and whether notifications were lost before it."""

    data: bytes
    gap: bool


class NotificationReassembler:
    """Turns DATA notification payloads back into stream bytes, counting gaps.

    Use with a :class:`StreamDecoder`::

        chunk = reassembler.push(payload)
        batch = decoder.feed(chunk.data, discard_partial=chunk.gap)

    Losses of 256 or more notifications in a row are counted modulo 256.
    """

    def __init__(self) -> None:
        self.notifications = 0
        self.lost_notifications = 0
        self.gaps = 0
        self.empty_payloads = 0
        self._expected: int | None = None

    def push(self, payload: bytes | bytearray | memoryview) -> NotificationChunk:
        """Account for one notification payload and return its stream bytes."""
        if len(payload) < 1:
            self.empty_payloads += 1
            return NotificationChunk(b"", False)
        counter = payload[0]
        self.notifications += 1
        gap = False
        if self._expected is not None and counter != self._expected:
            self.lost_notifications += (counter - self._expected) & 0xFF
            self.gaps += 1
            gap = True
        self._expected = (counter + 1) & 0xFF
        return NotificationChunk(bytes(payload[1:]), gap)


_decoder_warm = False


def warm_up_decoder() -> None:
    """Compile (or load from numba's cache) the decoder kernels on one tiny frame.

    Called before a link handshake so that JIT time never counts against the time an
    insole has to answer; ``plantar warmup`` calls it to fill the on-disk cache.
    """
    global _decoder_warm
    if _decoder_warm:
        return
    message = encode_data_frame(
        device_id=0,
        foot=FOOT_LEFT,
        seq=0,
        t_device_us=0,
        pressure_counts=np.zeros(8, dtype=np.uint16),
        shear_centi_kpa=None,
    )
    StreamDecoder(8, 0).feed(frame_message(message) * 2)
    _decoder_warm = True
