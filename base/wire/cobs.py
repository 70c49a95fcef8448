"""Consistent Overhead Byte Stuffing (COBS) and 0x00-delimited framing.

The encoder is the canonical Cheshire & Baker algorithm: the message is split at its
zero bytes; each piece is emitted as blocks ``code, data...`` where ``code - 1`` is the
number of data bytes (at most 254); a block with code < 0xFF stands for its data
followed by one zero, and the zero implied after the last block is dropped. A piece
of 254 or more bytes is cut into 0xFF blocks (254 data bytes, no zero implied).
Decoders accept a trailing 0x01 block after a final 0xFF block or its absence.
"""

from __future__ import annotations

FRAME_DELIMITER = b"\x00"


class CobsError(ValueError):
    """The bytes are not a valid COBS encoding."""


def cobs_encode(message: bytes | bytearray | memoryview) -> bytes:
    """COBS-encode ``message``; the result contains no 0x00 byte."""
    out = bytearray()
    for piece in bytes(message).split(b"\x00"):
        view = memoryview(piece)
        while len(view) >= 254:
            out.append(0xFF)
            out += view[:254]
            view = view[254:]
        out.append(len(view) + 1)
        out += view
    return bytes(out)


def cobs_decode(encoded: bytes | bytearray | memoryview) -> bytes:
    """Decode one COBS block sequence (without its 0x00 delimiter).

    Raises
    ------
    CobsError
        If a zero byte appears or a block code points past the end.
    """
    data = bytes(encoded)
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0 or i + code > n:
            raise CobsError(f"bad COBS block code {code} at offset {i} of {n}")
        out += data[i + 1 : i + code]
        i += code
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def frame_message(message: bytes | bytearray | memoryview) -> bytes:
    """COBS-encode one message and append the 0x00 frame delimiter."""
    return cobs_encode(message) + FRAME_DELIMITER


class FrameSplitter:
    """Cuts a 0x00-delimited byte stream into decoded messages, any chunking of the input.

    The device side's reader of the (low-rate) CONTROL channel; the host decodes DATA
    frames in batches with :class:`firmware_bridge.stream_decoder.StreamDecoder` instead.
    A frame that is not valid COBS is skipped (counted in :attr:`bad_frames`), as is a
    partial frame longer than ``max_frame_bytes``.
    """

    def __init__(self, max_frame_bytes: int = 1024) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.bad_frames = 0
        self._tail = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Decoded messages completed by ``data`` (empty frames are idle fill, skipped)."""
        *frames, self._tail = (self._tail + bytes(data)).split(FRAME_DELIMITER)
        if len(self._tail) > self.max_frame_bytes:
            self.bad_frames += 1
            self._tail = b""
        messages = []
        for frame in frames:
            if not frame:
                continue
            try:
                messages.append(cobs_decode(frame))
            except CobsError:
                self.bad_frames += 1
        return messages
