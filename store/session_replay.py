"""``replay://<session dir or id>?foot=left&speed=1``: a stored session replayed as a device.

One foot of a finalised session (see ``docs/storage.md``), read through the store's one
session reader (:class:`store.session_reader.FootReader`), goes through the real codec:
an INFO first, then one DATA frame per stored row with its original ``seq`` and
``t_device_us`` (gaps in the recording replay as gaps), pressure turned back into counts
with the layout's calibration and shear into int16 centi-kPa. ``speed=0`` or
``speed=max``: as fast as possible. Byte captures (``.plantar-bytes``) are replayed by
:class:`firmware_bridge.transports.replay.ReplayTransport`, which hands every other path
to :class:`SessionReplayTransport` once this module is loaded (the ``plantar.transports``
entry point ``replay`` names it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from base.errors import ConfigError, DeviceError
from base.frames import FOOT_NAMES
from base.wire.cobs import frame_message
from base.wire.messages import DeviceInfo, encode_info
from base.wire.payload import encode_data_frame
from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT, PROTOCOL_VERSION
from firmware_bridge.transport import Chunk, LinkLost, StreamEnded, Transport
from firmware_bridge.transports.replay import ReplayTransport, parse_speed, replay_target
from hardware.calibration import Calibration, load_calibration
from store.errors import StoreError
from store.session_reader import FootReader, locate_session

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
        target = replay_target(url, params)
        foot = params.get("foot")
        if target.suffix == ".parquet":  # replay:///sessions/<id>/left.parquet
            foot = foot or target.stem
            target = target.parent
        if foot is not None and foot not in FOOT_NAMES:
            raise ConfigError(f"transport URL {url!r}: foot must be left or right, got {foot!r}")
        self.target = target
        self.foot = foot
        self.speed = parse_speed(url, params)
        self.directory: Path | None = None
        self._frames: Iterator[tuple[int, bytes]] | None = None
        self._pending: tuple[int, bytes] | None = None
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

    def _open_session(self) -> DeviceInfo:
        try:
            directory = locate_session(self.target)
        except StoreError as exc:
            raise DeviceError(f"replay {exc}") from None
        self.directory = directory
        try:
            reader = FootReader(directory, self.foot)
        except ConfigError as exc:
            raise ConfigError(f"transport URL {self.url!r}: {exc}") from None
        except StoreError as exc:
            raise DeviceError(f"replay {exc}") from None
        self.foot = reader.foot
        try:
            calibration = load_calibration(reader.layout.calibration_id, reader.n_sensels)
        except ConfigError as exc:
            raise DeviceError(
                f"replay session {directory}: calibration of layout {reader.layout_id!r} cannot "
                f"be used ({exc})"
            ) from None
        self._info = DeviceInfo(
            protocol_version=PROTOCOL_VERSION,
            device_id=reader.device_id & 0xFFFF,
            foot=FOOT_LEFT if reader.foot == "left" else FOOT_RIGHT,
            sampling_rate_hz=max(1, min(reader.rate_hz, 0xFFFF)),
            n_sensels=reader.n_sensels,
            n_shear=reader.n_shear,
            firmware_version="replay",
            layout_id=reader.layout_id,
            calibration_id=reader.layout.calibration_id,
        )
        self._frames = self._encoded_frames(reader, calibration)
        return self._info

    def _encoded_frames(
        self, reader: FootReader, calibration: Calibration
    ) -> Iterator[tuple[int, bytes]]:
        """(t_device_us, framed DATA message) for every stored row with a full sample."""
        assert self._info is not None
        info = self._info
        for frames in reader.batches(SESSION_BATCH_ROWS):
            present = ~np.isnan(frames.pressure_kpa).any(axis=1)
            self.skipped_rows += int(len(frames) - present.sum())
            counts = calibration.to_counts(frames.pressure_kpa)
            shear = None
            if info.n_shear:
                centi = np.nan_to_num(frames.shear_kpa.astype(np.float64) * 100.0)
                shear = np.clip(np.rint(centi), -32768, 32767).astype(np.int16)
            for i in np.flatnonzero(present):
                t_dev = int(frames.t_device_us[i])
                message = encode_data_frame(
                    device_id=info.device_id,
                    foot=info.foot,
                    seq=int(frames.seq[i]),
                    t_device_us=max(t_dev, 0),
                    pressure_counts=counts[i],
                    shear_centi_kpa=shear[i] if shear is not None else None,
                )
                yield t_dev, frame_message(message)

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


async def _wait_closed(closed: asyncio.Event, delay: float) -> None:
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), delay)


ReplayTransport.session_class = SessionReplayTransport
