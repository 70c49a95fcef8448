"""``sim://``: a simulated insole, in process, through the real codec.

``sim://?foot=left&layout=plantar-ref&rate=200&seed=0&pivot=12&loss=0.002&speed=1``

The :class:`~hardware.sim.insole.SimulatedInsole` encodes its samples into protocol
bytes (``encode_data_frame`` → COBS → 0x00) at real-time pace (``speed`` times faster),
and the bridge decodes them with :class:`~firmware_bridge.stream_decoder.StreamDecoder` like any
serial or BLE byte stream: ``plantar demo`` exercises the same code as a real insole.

Query parameters (all optional): ``foot`` left|right, ``layout`` (layout id), ``rate``
(Hz), ``seed``, ``pivot`` (peak rotational shear of the twist in stance, kPa; default
11.5, calibrated to real free moments), ``loss`` (probability that a frame is lost),
``speed`` (time factor, 1 = real time), ``block_ms`` (interval between chunks, ms),
``device_id``.

For tests and demos the transport has fault hooks: :meth:`SimTransport.unplug`,
:meth:`SimTransport.replug` and :meth:`SimTransport.lose_next_frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

from base.errors import ConfigError
from base.wire.cobs import frame_message
from base.wire.messages import (
    ControlCommand,
    DeviceInfo,
    ProtocolError,
    decode_message,
    encode_ack,
    encode_info,
)
from base.wire.protocol import AckStatus, Command
from firmware_bridge.transport import Chunk, LinkLost, Transport, register_transport

_PARAMS = ("foot", "layout", "rate", "seed", "pivot", "loss", "speed", "block_ms", "device_id")


#: Ground-truth step records a ``sim://`` insole keeps (about 20 min of running per foot);
#: a simulator behind a two-hour ``plantar run`` must not grow for the whole run.
GROUND_TRUTH_STEPS_KEPT = 2000


def _number(url: str, params: dict[str, str], name: str, default: float, lo: float, hi: float):
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"transport URL {url!r}: {name}={text!r} is not a number") from None
    if not lo <= value <= hi:
        raise ConfigError(f"transport URL {url!r}: {name}={text} must be in {lo:g}..{hi:g}")
    return value


@register_transport
class SimTransport(Transport):
    """A simulated insole producing real protocol bytes at a paced rate."""

    scheme = "sim"

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(url, params)
        unknown = sorted(set(params) - {"netloc", "path", *_PARAMS})
        if unknown or params.get("netloc") or params.get("path") not in ("", "/"):
            what = ", ".join(unknown) or "a host or path"
            raise ConfigError(
                f"transport URL {url!r}: sim:// takes no {what}; use sim://?foot=left&rate=200"
            )
        self.foot = params.get("foot", "left") or "left"
        if self.foot not in ("left", "right"):
            raise ConfigError(f"transport URL {url!r}: foot={self.foot!r} must be left or right")
        self.layout_id = params.get("layout", "plantar-ref") or "plantar-ref"
        self.rate_hz = _number(url, params, "rate", 200.0, 1.0, 2000.0)
        self.seed = int(_number(url, params, "seed", 0, 0, 2**31))
        self.pivot_kpa = _number(url, params, "pivot", -1.0, 0.0, 500.0)
        self.loss = _number(url, params, "loss", -1.0, 0.0, 1.0)
        self.speed = _number(url, params, "speed", 1.0, 0.01, 1000.0)
        self.block_s = _number(url, params, "block_ms", 10.0, 1.0, 1000.0) * 1e-3
        device_id = params.get("device_id")
        self.device_id = int(_number(url, params, "device_id", 0, 0, 0xFFFF)) if device_id else None
        self._insole = None
        self._closed = asyncio.Event()
        self._opened = False
        self._unplugged = False
        self._lost_reported = False
        self._gap_next = False
        self._lose = 0
        self._control_replies = bytearray()
        self._t0_wall = 0.0
        self._t0_true = 0.0
        self._next_chunk = 0.0

    def _make_insole(self):
        from hardware.sim.gait_model import GaitParams
        from hardware.sim.insole import (
            DEFAULT_LEFT_IMPERFECTIONS,
            DEFAULT_RIGHT_IMPERFECTIONS,
            make_pair,
        )

        imperfections = [DEFAULT_LEFT_IMPERFECTIONS, DEFAULT_RIGHT_IMPERFECTIONS]
        if self.loss >= 0:
            imperfections = [
                dataclasses.replace(i, loss_probability=self.loss, burst_probability=0.0)
                for i in imperfections
            ]
        gait = GaitParams() if self.pivot_kpa < 0 else GaitParams(pivot_shear_kpa=self.pivot_kpa)
        ids = (1, 2) if self.device_id is None else (self.device_id, self.device_id)
        pair = make_pair(
            self.layout_id,
            gait=gait,
            imperfections=tuple(imperfections),
            sampling_rate_hz=self.rate_hz,
            seed=self.seed,
            device_ids=ids,
        )
        insole = pair[0] if self.foot == "left" else pair[1]
        insole.truth.keep_last(GROUND_TRUTH_STEPS_KEPT)
        return insole

    @property
    def insole(self):
        """The simulated insole (hardware.sim.insole.SimulatedInsole), after open()."""
        return self._insole

    def monotonic_s_at(self, t_true_s: float) -> float:
        """Host monotonic time (s) at which the simulation reaches true time ``t_true_s``
        (after open()): the continuous model's ground truth for clock-alignment tests."""
        return self._t0_wall + (t_true_s - self._t0_true) / self.speed

    def _t_true(self) -> float:
        return self._t0_true + (time.monotonic() - self._t0_wall) * self.speed

    async def open(self) -> DeviceInfo:
        if self._closed.is_set():
            raise LinkLost("sim transport is closed")
        if self._insole is None:
            self._insole = await asyncio.to_thread(self._make_insole)
            self._t0_true = self._insole.next_t_true_s
            self._t0_wall = time.monotonic()
            self._next_chunk = self._t0_wall
        self._opened = True
        return self._insole.info

    async def read(self) -> Chunk:
        if self._closed.is_set() or not self._opened:
            raise LinkLost("sim transport is closed")
        if self._unplugged:
            self._lost_reported = True
            raise LinkLost("simulated insole unplugged")
        self._next_chunk += self.block_s
        delay = self._next_chunk - time.monotonic()
        if delay < -1.0:  # far behind (suspended): do not burst to catch up
            self._next_chunk = time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
        if self._closed.is_set():
            raise LinkLost("sim transport is closed")
        if self._unplugged:
            self._lost_reported = True
            raise LinkLost("simulated insole unplugged")
        data = bytes(self._control_replies) + self._produce()
        self._control_replies.clear()
        gap, self._gap_next = self._gap_next, False
        return Chunk(data, time.monotonic_ns(), gap)

    def _produce(self) -> bytes:
        insole = self._insole
        n = insole.samples_due(self._t_true())
        if n == 0:
            return b""
        block = insole.samples(n)
        if self._lose:
            k = min(self._lose, n - 1) if n > 1 else 0
            block.lost[1 : 1 + k] = True  # keep the first: the gap is inside the stream
            self._lose -= k
        return insole.encode_block(block)

    async def send_control(self, message: bytes) -> None:
        if self._closed.is_set() or self._unplugged:
            raise LinkLost("sim transport is not connected")
        try:
            command = decode_message(message)
        except ProtocolError:
            return  # firmware ignores a bad CONTROL (no ACK)
        if not isinstance(command, ControlCommand):
            return
        status = AckStatus.OK
        if command.command == Command.SET_RATE:
            try:
                self._insole.set_sampling_rate(command.argument)
            except ConfigError:
                status = AckStatus.BAD_ARGUMENT
        elif command.command == Command.REQUEST_INFO:
            self._control_replies += frame_message(encode_info(self._insole.info))
        elif command.command not in (Command.START, Command.STOP):
            status = AckStatus.UNKNOWN_COMMAND
        ack = encode_ack(int(command.command), status, command.argument)
        self._control_replies += frame_message(ack)

    async def reconnect(self) -> DeviceInfo:
        if self._closed.is_set():
            raise LinkLost("sim transport is closed")
        if self._unplugged:
            raise LinkLost("simulated insole is still unplugged")
        # the device kept sampling while unplugged: those frames are gone (a seq gap)
        n = self._insole.samples_due(self._t_true())
        if n:
            await asyncio.to_thread(self._insole.samples, n)
        self._next_chunk = time.monotonic()
        self._gap_next = True
        self._lost_reported = False
        return self._insole.info

    async def close(self) -> None:
        self._closed.set()
        self._opened = False

    # ------------------------------------------------------------------ fault hooks

    def unplug(self) -> None:
        """The insole disappears: reads raise LinkLost, reconnect() fails until replug()."""
        self._unplugged = True

    def replug(self) -> None:
        """The insole is back."""
        self._unplugged = False

    def lose_next_frames(self, n: int) -> None:
        """Drop the next ``n`` frames on the link (a sequence gap, link stays up)."""
        self._lose += int(n)
