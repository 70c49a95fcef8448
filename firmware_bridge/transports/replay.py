"""``replay://``: play back a byte capture, exactly as the bytes arrived.

``replay:///path/left.plantar-bytes?speed=1`` (``speed=0``: as fast as possible).

A ``.plantar-bytes`` file is what one insole's transport delivered: every chunk with
its host arrival time and gap flag, and the link drops and reconnects. ``plantar stream
--capture DIR`` writes one per foot (:class:`ByteCaptureWriter`). Replaying one runs
the same decoder, sequence accounting and clock alignment as the live session and
reproduces its garbage, gaps and reconnects: the tool for debugging a bad run.

Replay keeps the recorded arrival times in :attr:`Chunk.t_host_ns` (so the clock
alignment and the session times are those of the original run, at any speed) and only
paces *when* chunks are handed out. At the end of the file :meth:`read` raises
:class:`~firmware_bridge.transport.StreamEnded`.

``replay://<session dir or id>?foot=left&speed=1`` replays one foot of a *stored*
session instead: the store reads sessions, so that transport is
:class:`store.session_replay.SessionReplayTransport`, which sets
:attr:`ReplayTransport.session_class` when the ``plantar.transports`` entry point loads
it (:func:`firmware_bridge.transport.transport_class`). Which of the two is meant is
decided by the path: a ``.plantar-bytes`` file is a capture, anything else a session.

File format (little-endian): the 8-byte magic ``PLBYTES1``, then records of
``i64 t_host_ns, u8 kind, u32 length, length bytes``; kind 0 = chunk, 1 = chunk after a
gap, 2 = link lost, 3 = reconnected. A record cut short by a crash ends the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

from base.errors import ConfigError, DeviceError
from base.wire.messages import DeviceInfo
from firmware_bridge.transport import (
    Chunk,
    LinkLost,
    StreamEnded,
    Transport,
    register_transport,
    wait_for_info,
)

MAGIC = b"PLBYTES1"
SUFFIX = ".plantar-bytes"
_RECORD = struct.Struct("<qBI")
KIND_CHUNK, KIND_CHUNK_GAP, KIND_LINK_LOST, KIND_RECONNECTED = 0, 1, 2, 3


class ByteCaptureWriter:
    """Appends what a transport delivered to a ``.plantar-bytes`` file.

    Writes are buffered (64 KiB); :meth:`close` flushes. ~1 MB/s at most per insole.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: BinaryIO | None = open(self.path, "wb", buffering=1 << 16)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(
                f"{self.path}: cannot write the byte capture ({exc.strerror})"
            ) from None
        self._file.write(MAGIC)

    def _write(self, t_host_ns: int, kind: int, data: bytes = b"") -> None:
        if self._file is not None:
            self._file.write(_RECORD.pack(int(t_host_ns), kind, len(data)))
            if data:
                self._file.write(data)

    def write_chunk(self, chunk: Chunk) -> None:
        self._write(chunk.t_host_ns, KIND_CHUNK_GAP if chunk.gap else KIND_CHUNK, chunk.data)

    def write_link_lost(self, t_host_ns: int) -> None:
        self._write(t_host_ns, KIND_LINK_LOST)

    def write_reconnected(self, t_host_ns: int) -> None:
        self._write(t_host_ns, KIND_RECONNECTED)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_capture(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """Records (t_host_ns, kind, data) of a capture file; stops at a truncated record."""
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DeviceError(f"replay file {path} cannot be read ({exc.strerror})") from None
    with f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ConfigError(f"{path}: not a Plantar byte capture (no {MAGIC.decode()} header)")
        while True:
            head = f.read(_RECORD.size)
            if len(head) < _RECORD.size:
                return
            t_ns, kind, length = _RECORD.unpack(head)
            data = f.read(length)
            if len(data) < length:
                return
            yield t_ns, kind, data


def replay_target(url: str, params: dict[str, str]) -> Path:
    """The file, directory or session id a ``replay://`` URL names."""
    netloc, path = params.get("netloc", ""), params.get("path", "")
    target = Path(netloc + path if netloc else path)
    if not str(target) or str(target) == ".":
        raise ConfigError(
            f"transport URL {url!r} names nothing to replay: use replay:///path/x{SUFFIX} "
            "or replay://<session dir or id>?foot=left"
        )
    return target


def parse_speed(url: str, params: dict[str, str]) -> float:
    """The ``speed`` parameter: a factor of real time, 0 (or ``max``) for no pacing."""
    text = params.get("speed", "1").strip().lower()
    if text == "max":
        return 0.0
    try:
        speed = float(text)
    except ValueError:
        raise ConfigError(f"transport URL {url!r}: speed must be a number or max") from None
    if not speed >= 0 or speed == float("inf"):
        raise ConfigError(f"transport URL {url!r}: speed must be >= 0 (0 or max: no pacing)")
    return speed


def _is_capture(target: Path) -> bool:
    """A ``.plantar-bytes`` file (or any existing plain file but a session's Parquet)."""
    if target.suffix == SUFFIX:
        return True
    return target.is_file() and target.suffix != ".parquet"


@register_transport
class ReplayTransport(Transport):
    """Plays a ``.plantar-bytes`` capture back (a stored session: :attr:`session_class`)."""

    scheme = "replay"
    #: The transport of ``replay://<session>``, set by :mod:`store.session_replay` (the
    #: bridge sits below the store and reads no sessions itself).
    session_class: ClassVar[type[ReplayTransport] | None] = None

    def __new__(cls, url: str, params: dict[str, str]) -> ReplayTransport:
        if cls is ReplayTransport and not _is_capture(replay_target(url, params)):
            if ReplayTransport.session_class is None:
                raise ConfigError(
                    f"transport URL {url!r} is not a {SUFFIX} capture, and stored sessions "
                    "cannot be replayed: the plantar.transports entry point of the store is "
                    "missing (reinstall plantar)"
                )
            cls = ReplayTransport.session_class
        return super().__new__(cls)

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(url, params)
        unknown = sorted(set(params) - {"netloc", "path", "speed"})
        if unknown:
            raise ConfigError(f"transport URL {url!r}: unknown parameter {unknown[0]!r}")
        self.path = replay_target(url, params)
        self.speed = parse_speed(url, params)
        self._records: Iterator[tuple[int, int, bytes]] | None = None
        self._held: list[Chunk] = []
        self._closed = asyncio.Event()
        self._lost = False
        self._gap_next = False
        self._info: DeviceInfo | None = None
        self._t_rec0: int | None = None
        self._t_wall0 = 0.0

    @property
    def description(self) -> str:
        return str(self.path)

    async def _next_record_chunk(self) -> Chunk:
        """Next chunk of the file, paced; LinkLost at a recorded drop; StreamEnded at EOF."""
        assert self._records is not None
        for t_ns, kind, data in self._records:
            if self._t_rec0 is None:
                self._t_rec0, self._t_wall0 = t_ns, time.monotonic()
            if self.speed > 0:
                due = self._t_wall0 + (t_ns - self._t_rec0) * 1e-9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closed.wait(), delay)
            if self._closed.is_set():
                raise LinkLost(f"{self.path}: closed")
            if kind == KIND_LINK_LOST:
                self._lost = True
                raise LinkLost(f"{self.path}: link lost in the recording")
            if kind == KIND_RECONNECTED:
                continue
            return Chunk(data, t_ns, kind == KIND_CHUNK_GAP)
        raise StreamEnded(f"{self.path}: end of the recording")

    async def open(self) -> DeviceInfo:
        if not self.path.is_file():
            raise DeviceError(f"replay file {self.path} not found")
        self._records = read_capture(self.path)
        try:
            info, self._held = await wait_for_info(self._next_record_chunk, 1e9)
        except (StreamEnded, LinkLost):
            info = None
        if info is None:
            raise DeviceError(f"replay file {self.path} holds no INFO message: not an insole")
        self._info = info
        return info

    async def read(self) -> Chunk:
        if self._closed.is_set() or self._lost or self._records is None:
            raise LinkLost(f"{self.path}: not open")
        chunk = self._held.pop(0) if self._held else await self._next_record_chunk()
        if self._gap_next:
            self._gap_next = False
            chunk = Chunk(chunk.data, chunk.t_host_ns, True)
        return chunk

    async def send_control(self, message: bytes) -> None:
        if self._closed.is_set():
            raise LinkLost(f"{self.path}: closed")
        # a recording cannot be controlled; controls are ignored

    async def reconnect(self) -> DeviceInfo:
        if self._closed.is_set() or self._info is None:
            raise LinkLost(f"{self.path}: closed")
        self._lost = False
        self._gap_next = True
        return self._info

    async def close(self) -> None:
        self._closed.set()
