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
session (finalised Parquet, see ``docs/storage.md``) through the real codec
(:class:`SessionReplayTransport`): an INFO first, then one DATA frame per stored row
with its original ``seq`` and ``t_device_us`` (gaps in the recording replay as gaps),
pressure turned back into counts with the layout's calibration and shear into int16
centi-kPa. ``speed=0`` or ``speed=max``: as fast as possible. Which of the two is
meant is decided by the path: a ``.plantar-bytes`` file is a capture, anything else a
session (a directory holding ``session.json``, or a session id under the sessions
directory).

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
from typing import Any, BinaryIO

import numpy as np

from base.errors import ConfigError, DeviceError
from base.wire.cobs import frame_message
from base.wire.messages import DeviceInfo, encode_info
from base.wire.payload import encode_data_frame
from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT, PROTOCOL_VERSION
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


def _url_path(url: str, params: dict[str, str]) -> Path:
    netloc, path = params.get("netloc", ""), params.get("path", "")
    target = Path(netloc + path if netloc else path)
    if not str(target) or str(target) == ".":
        raise ConfigError(
            f"transport URL {url!r} names nothing to replay: use replay:///path/x{SUFFIX} "
            "or replay://<session dir or id>?foot=left"
        )
    return target


def _parse_speed(url: str, params: dict[str, str]) -> float:
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


async def _wait_closed(closed: asyncio.Event, delay: float) -> None:
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), delay)


@register_transport
class ReplayTransport(Transport):
    """Plays a ``.plantar-bytes`` capture back (a session: :class:`SessionReplayTransport`)."""

    scheme = "replay"

    def __new__(cls, url: str, params: dict[str, str]) -> ReplayTransport:
        if cls is ReplayTransport and not _is_capture(_url_path(url, params)):
            cls = SessionReplayTransport
        return super().__new__(cls)

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(url, params)
        unknown = sorted(set(params) - {"netloc", "path", "speed"})
        if unknown:
            raise ConfigError(f"transport URL {url!r}: unknown parameter {unknown[0]!r}")
        self.path = _url_path(url, params)
        self.speed = _parse_speed(url, params)
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


# ------------------------------------------------------------------ stored sessions

#: Rows read from the Parquet file at a time (bounded memory: never the whole session).
SESSION_BATCH_ROWS = 512
#: At most this many frames go into one chunk when several are due at once.
MAX_FRAMES_PER_CHUNK = 64


class SessionReplayTransport(ReplayTransport):
    """Replays one foot of a stored (finalised) session through the codec.

    ``replay://<session dir or id>?foot=left&speed=1``. Pressure (kPa) goes back to counts
    with :meth:`hardware.calibration.Calibration.to_counts` of the layout's calibration,
    so a replayed frame decodes to within one count of the stored value; shear goes to
    int16 centi-kPa. Rows with a NaN pressure (a missing sample of an import) are not
    frames: they are skipped and replay as sequence gaps. Chunks are paced by the
    recorded ``t_device_us`` divided by ``speed``; :attr:`Chunk.t_host_ns` is the
    recorded device time shifted onto this run's monotonic clock (at any speed), as if an
    ideal link had delivered every frame the moment it was sampled.
    """

    def __init__(self, url: str, params: dict[str, str]) -> None:
        Transport.__init__(self, url, params)
        unknown = sorted(set(params) - {"netloc", "path", "speed", "foot"})
        if unknown:
            raise ConfigError(f"transport URL {url!r}: unknown parameter {unknown[0]!r}")
        target = _url_path(url, params)
        foot = params.get("foot")
        if target.suffix == ".parquet":  # replay:///sessions/<id>/left.parquet
            foot = foot or target.stem
            target = target.parent
        if foot is not None and foot not in ("left", "right"):
            raise ConfigError(f"transport URL {url!r}: foot must be left or right, got {foot!r}")
        self.target = target
        self.foot = foot
        self.speed = _parse_speed(url, params)
        self.directory: Path | None = None
        self._frames: Iterator[tuple[int, bytes]] | None = None
        self._pending: tuple[int, bytes] | None = None
        self._parquet: Any = None
        self._closed = asyncio.Event()
        self._gap_next = False
        self._info: DeviceInfo | None = None
        self._t_dev0: int | None = None
        self._t_wall0 = 0.0
        self._t_host0_ns = 0
        self._last_t_host_ns = 0
        self.skipped_rows = 0  # rows with NaN pressure (missing samples) left out

    @property
    def description(self) -> str:
        return f"{self.directory or self.target} ({self.foot or '?'} foot)"

    # ------------------------------------------------------------------- opening

    def _find_directory(self) -> Path:
        from base import paths
        from store.session import SESSION_FILE

        candidates = [self.target]
        if not self.target.is_absolute() and len(self.target.parts) == 1:
            candidates.append(paths.sessions_dir(create=False) / self.target)
        for candidate in candidates:
            if (candidate / SESSION_FILE).is_file():
                return candidate
        raise DeviceError(
            f"replay session {self.target} not found (give a session directory, a session id "
            f"under {paths.sessions_dir(create=False)}, or a {SUFFIX} file)"
        )

    def _open_session(self) -> DeviceInfo:
        import pyarrow.parquet as pq

        from hardware.calibration import load_calibration
        from hardware.layout import load_layout
        from store.session import PARQUET_SUFFIX, STREAM_SUFFIX, read_session_json

        directory = self._find_directory()
        self.directory = directory
        try:
            doc = read_session_json(directory)
        except (OSError, ValueError) as exc:
            raise DeviceError(
                f"replay session {directory}: session.json unreadable ({exc})"
            ) from None
        feet_meta = (doc.get("meta") or {}).get("feet") or {}
        if self.foot is None:
            present = [
                f for f in ("left", "right") if (directory / f"{f}{PARQUET_SUFFIX}").is_file()
            ]
            if len(present) != 1:
                raise ConfigError(
                    f"transport URL {self.url!r}: say which foot to replay (?foot=left or "
                    "?foot=right)"
                )
            self.foot = present[0]
        foot = self.foot
        parquet_path = directory / f"{foot}{PARQUET_SUFFIX}"
        if not parquet_path.is_file():
            if (directory / f"{foot}{STREAM_SUFFIX}").is_file():
                raise DeviceError(
                    f"replay session {directory} is not finalised (no {parquet_path.name}): "
                    "finalise or recover it first"
                )
            raise DeviceError(
                f"replay session {directory} has no {foot} foot ({parquet_path.name})"
            )
        layout_id = (feet_meta.get(foot) or {}).get("layout_id") or ""
        try:
            self._parquet = pq.ParquetFile(parquet_path)
        except Exception as exc:  # pyarrow raises several types
            raise DeviceError(
                f"replay session {directory}: {parquet_path.name} unreadable ({exc})"
            ) from None
        schema = self._parquet.schema_arrow
        if "pressure_kpa" not in schema.names:
            raise DeviceError(
                f"replay session {directory}: {parquet_path.name} has no pressure_kpa"
            )
        n_sensels = int(schema.field("pressure_kpa").type.list_size)
        n_shear = (
            int(schema.field("shear_kpa").type.list_size) // 3 if "shear_kpa" in schema.names else 0
        )
        if not layout_id:
            layout_id = (schema.metadata or {}).get(b"plantar.layout_id", b"").decode()
        try:
            layout = load_layout(layout_id, foot)
            calibration = load_calibration(layout.calibration_id, n_sensels)
        except ConfigError as exc:
            raise DeviceError(
                f"replay session {directory}: layout {layout_id!r} of the {foot} foot cannot be "
                f"used ({exc})"
            ) from None
        if layout.n_sensels != n_sensels:
            raise DeviceError(
                f"replay session {directory}: {parquet_path.name} has {n_sensels} sensels but "
                f"layout {layout_id!r} has {layout.n_sensels}"
            )
        first = next(self._parquet.iter_batches(batch_size=64, columns=self._columns()), None)
        device_id = int(first.column("device_id")[0].as_py()) if first and first.num_rows else 0
        rate = (((doc.get("summary") or {}).get("feet") or {}).get(foot) or {}).get("rate_hz")
        if not rate and first is not None and first.num_rows > 1:
            t = first.column("t_device_us").to_numpy().astype(np.float64)
            q = first.column("seq").to_numpy().astype(np.float64)
            ok = np.diff(q) > 0
            if ok.any():
                rate = 1e6 / float(np.median(np.diff(t)[ok] / np.diff(q)[ok]))
        rate_hz = round(float(rate)) if rate and np.isfinite(rate) and rate > 0 else 100
        self._info = DeviceInfo(
            protocol_version=PROTOCOL_VERSION,
            device_id=device_id & 0xFFFF,
            foot=FOOT_LEFT if foot == "left" else FOOT_RIGHT,
            sampling_rate_hz=max(1, min(rate_hz, 0xFFFF)),
            n_sensels=n_sensels,
            n_shear=n_shear,
            firmware_version="replay",
            layout_id=layout_id,
            calibration_id=layout.calibration_id,
        )
        self._frames = self._encoded_frames(calibration, n_shear)
        return self._info

    def _columns(self) -> list[str]:
        names = self._parquet.schema_arrow.names
        cols = ["seq", "t_device_us", "device_id", "pressure_kpa"]
        return cols + (["shear_kpa"] if "shear_kpa" in names else [])

    def _encoded_frames(self, calibration: Any, n_shear: int) -> Iterator[tuple[int, bytes]]:
        """(t_device_us, framed DATA message) for every stored row with a full sample."""
        assert self._info is not None
        info = self._info
        for batch in self._parquet.iter_batches(
            batch_size=SESSION_BATCH_ROWS, columns=self._columns()
        ):
            n = batch.num_rows
            if n == 0:
                continue
            seq = batch.column("seq").to_numpy()
            t_dev = batch.column("t_device_us").to_numpy()
            pressure = batch.column("pressure_kpa").flatten().to_numpy(zero_copy_only=False)
            pressure = pressure.reshape(n, info.n_sensels)
            present = ~np.isnan(pressure).any(axis=1)
            self.skipped_rows += int(n - present.sum())
            counts = calibration.to_counts(pressure)
            if n_shear:
                shear = batch.column("shear_kpa").flatten().to_numpy(zero_copy_only=False)
                shear = np.nan_to_num(shear.reshape(n, n_shear, 3).astype(np.float64) * 100.0)
                shear = np.clip(np.rint(shear), -32768, 32767).astype(np.int16)
            for i in np.flatnonzero(present):
                message = encode_data_frame(
                    device_id=info.device_id,
                    foot=info.foot,
                    seq=int(seq[i]),
                    t_device_us=max(int(t_dev[i]), 0),
                    pressure_counts=counts[i],
                    shear_centi_kpa=shear[i] if n_shear else None,
                )
                yield int(t_dev[i]), frame_message(message)

    async def open(self) -> DeviceInfo:
        if self._closed.is_set():
            raise LinkLost(f"{self.description}: closed")
        info = self._open_session()
        self._t_host0_ns = time.monotonic_ns()
        self._last_t_host_ns = self._t_host0_ns
        # the INFO comes first in the stream, as from a device that was just connected
        self._pending = (-1, frame_message(encode_info(info)))
        return info

    # ------------------------------------------------------------------- reading

    def _next_frame(self) -> tuple[int, bytes] | None:
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        assert self._frames is not None
        return next(self._frames, None)

    def _due(self, t_dev: int) -> float:
        """Wall-clock time (monotonic s) at which the frame sampled at ``t_dev`` is handed out."""
        if self._t_dev0 is None:
            self._t_dev0, self._t_wall0 = t_dev, time.monotonic()
        return self._t_wall0 + (t_dev - self._t_dev0) * 1e-6 / self.speed

    def _t_host_ns(self, t_dev: int) -> int:
        t0 = self._t_dev0 if self._t_dev0 is not None else t_dev
        t = self._t_host0_ns + max(t_dev - t0, 0) * 1000
        self._last_t_host_ns = max(self._last_t_host_ns, t)
        return self._last_t_host_ns

    async def read(self) -> Chunk:
        if self._closed.is_set() or self._frames is None:
            raise LinkLost(f"{self.description}: not open")
        first = self._next_frame()
        if first is None:
            raise StreamEnded(f"{self.description}: end of the recording")
        t_dev, data = first
        parts = [data]
        if t_dev >= 0:  # -1: the INFO, handed out at once
            if self.speed > 0:
                await _wait_closed(self._closed, self._due(t_dev) - time.monotonic())
                if self._closed.is_set():
                    raise LinkLost(f"{self.description}: closed")
            elif self._t_dev0 is None:
                self._t_dev0 = t_dev
            # frames already due go out together (bounded), as a fast link would batch them
            while len(parts) < MAX_FRAMES_PER_CHUNK:
                nxt = self._next_frame()
                if nxt is None:
                    break
                if self.speed > 0 and self._due(nxt[0]) > time.monotonic():
                    self._pending = nxt
                    break
                t_dev = nxt[0]
                parts.append(nxt[1])
        if self._closed.is_set():
            raise LinkLost(f"{self.description}: closed")
        gap, self._gap_next = self._gap_next, False
        t_host = self._last_t_host_ns if t_dev < 0 else self._t_host_ns(t_dev)
        return Chunk(b"".join(parts), t_host, gap)

    async def send_control(self, message: bytes) -> None:
        if self._closed.is_set():
            raise LinkLost(f"{self.description}: closed")
        # a recording cannot be controlled; controls are ignored

    async def reconnect(self) -> DeviceInfo:
        if self._closed.is_set() or self._info is None:
            raise LinkLost(f"{self.description}: closed")
        self._gap_next = True
        return self._info

    async def close(self) -> None:
        self._closed.set()
        self._frames = None
        self._pending = None
        self._parquet = None
