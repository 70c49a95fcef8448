"""Packing of the framed byte stream into BLE DATA notifications, and back.

``hardware/PROTOCOL.md`` section 5: each notification payload is a u8 counter followed by
stream bytes. The device side packs (:func:`pack_notifications`); the host reassembles
and counts lost notifications (:class:`NotificationReassembler`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from base.wire.cobs import frame_message
from base.wire.protocol import BLE_ATT_HEADER_BYTES, BLE_COUNTER_BYTES

__all__ = ["NotificationChunk", "NotificationReassembler", "pack_notifications"]


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
