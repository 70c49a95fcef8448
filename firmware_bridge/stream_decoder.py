"""Batch decoder of the Plantar wire protocol, version 1 (the host side).

The specification is ``hardware/PROTOCOL.md``; the encoders are in :mod:`base.wire`.
:meth:`StreamDecoder.feed` takes any chunk of the byte stream (serial reads or
reassembled BLE notifications) and returns every complete DATA frame in it as one
:class:`FrameBatch`, using the numba kernels of :mod:`firmware_bridge.decode_kernels`.
Values stay raw integers (ADC counts, 0.01 kPa); conversion to physical units is the
bridge's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from base.wire.cobs import CobsError, cobs_decode, frame_message
from base.wire.crc import CRC32_TABLES
from base.wire.messages import Ack, ControlCommand, DeviceInfo, ProtocolError, decode_message
from base.wire.payload import encode_data_frame
from base.wire.protocol import (
    FOOT_LEFT,
    MAX_ENCODED_BYTES,
    MAX_SENSELS,
    MAX_SHEAR,
    SHEAR_COMPONENTS,
)
from firmware_bridge import decode_kernels as dk

__all__ = [
    "DecoderStats",
    "FrameBatch",
    "StreamDecoder",
    "unwrap_seq",
    "warm_up_decoder",
]

_U32 = 1 << 32


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
