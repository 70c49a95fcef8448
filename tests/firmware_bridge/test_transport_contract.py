"""The one contract every transport passes: open, stream, close, gap, reconnect.

As python-can's ``test/back2back_test.py``: :class:`TransportContractTests` holds the
tests, and each transport runs them through a subclass that provides a
:class:`TransportHarness` (the device under test and how to disturb it).

Adding a transport (e.g. the BLE one, in its own test file)::

    from tests.firmware_bridge.test_transport_contract import (
        TransportContractTests,
        TransportHarness,
    )

    class BleHarness(TransportHarness):
        foot = "left"
        def make_transport(self): return open_transport("ble://...")
        async def start(self): ...          # start the peripheral
        async def stop(self): ...
        async def drop_link(self): ...      # the peripheral disconnects / disappears
        async def restore_link(self): ...   # it advertises again
        async def lose_frames(self): ...    # drop a few notifications, link stays up

    class TestBleTransportContract(TransportContractTests):
        def make_harness(self): return BleHarness()

The base class is not collected by pytest itself (its name does not start with
``Test``). Tests are synchronous and run their coroutine with ``asyncio.run`` (no
pytest-asyncio needed); each one starts and stops its own harness.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT
from firmware_bridge.insole_stream import InsoleStream, reconnect_with_backoff
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from firmware_bridge.transport import LinkLost, Transport, open_transport

#: The reconnect bar of the bridge issue: ≤ 3 s after the device is back.
RECONNECT_BAR_S = 3.0


class TransportHarness(abc.ABC):
    """A device under test for the contract, and the faults it can be put through."""

    #: Foot the device reports in its INFO ("left" / "right").
    foot: str = "left"
    #: Frames the stream test waits for (keep it a fraction of a second of data).
    min_frames: int = 40

    @abc.abstractmethod
    def make_transport(self) -> Transport:
        """A new, not yet opened, transport connected to this device."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start the device (before make_transport/open)."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop the device and release everything."""

    @abc.abstractmethod
    async def drop_link(self) -> None:
        """The device disappears (unplug, BLE disconnect); reads must raise LinkLost."""

    @abc.abstractmethod
    async def restore_link(self) -> None:
        """The device is back; ``reconnect()`` must succeed within the bar."""

    @abc.abstractmethod
    async def lose_frames(self) -> None:
        """Some frames are lost while the link stays up (dropped bytes / notifications)."""


async def collect_frames(
    transport: Transport, decoder: StreamDecoder, min_frames: int, timeout_s: float = 5.0
) -> tuple[np.ndarray, list[int]]:
    """Read chunks until ``min_frames`` DATA frames decoded; returns (seq, chunk t_host_ns)."""
    seqs: list[np.ndarray] = []
    times: list[int] = []
    n = 0
    deadline = time.monotonic() + timeout_s
    while n < min_frames:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {n} of {min_frames} frames within {timeout_s} s"
        chunk = await asyncio.wait_for(transport.read(), remaining)
        batch = decoder.feed(chunk.data, discard_partial=chunk.gap)
        times.append(chunk.t_host_ns)
        seqs.append(batch.seq.astype(np.int64))
        n += len(batch.seq)
    return np.concatenate(seqs), times


class TransportContractTests:
    """The contract; subclass it as ``Test<Name>TransportContract`` with make_harness()."""

    timeout_s: ClassVar[float] = 5.0

    def make_harness(self) -> TransportHarness:
        raise NotImplementedError

    def run_with_harness(self, body: Callable[[TransportHarness], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            harness = self.make_harness()
            await harness.start()
            try:
                return await asyncio.wait_for(body(harness), 30.0)
            finally:
                await harness.stop()

        return asyncio.run(main())

    # ------------------------------------------------------------------------- open

    def test_open_reports_device_info(self) -> None:
        async def body(h: TransportHarness) -> None:
            transport = h.make_transport()
            try:
                info = await asyncio.wait_for(transport.open(), self.timeout_s)
                assert info.foot == (FOOT_LEFT if h.foot == "left" else FOOT_RIGHT)
                assert 1 <= info.n_sensels <= 4096
                assert info.sampling_rate_hz > 0
                assert info.layout_id
            finally:
                await transport.close()

        self.run_with_harness(body)

    # ----------------------------------------------------------------------- stream

    def test_stream_delivers_ordered_frames(self) -> None:
        async def body(h: TransportHarness) -> None:
            transport = h.make_transport()
            try:
                info = await asyncio.wait_for(transport.open(), self.timeout_s)
                decoder = StreamDecoder(info.n_sensels, info.n_shear)
                seq, times = await collect_frames(transport, decoder, h.min_frames, self.timeout_s)
                unwrapped = unwrap_seq(seq)
                assert np.all(np.diff(unwrapped) >= 1), "frames out of order or duplicated"
                assert np.all(np.diff(times) >= 0), "chunk times must not go back"
                assert decoder.stats.crc_errors == 0
                assert decoder.stats.layout_mismatch == 0
            finally:
                await transport.close()

        self.run_with_harness(body)

    # ------------------------------------------------------------------------ close

    def test_close_is_idempotent_and_ends_reads(self) -> None:
        async def body(h: TransportHarness) -> None:
            transport = h.make_transport()
            await asyncio.wait_for(transport.open(), self.timeout_s)
            await transport.read()
            await transport.close()
            await transport.close()
            try:
                await asyncio.wait_for(transport.read(), 1.0)
            except LinkLost:
                pass
            else:
                raise AssertionError("read() after close() must raise LinkLost")

        self.run_with_harness(body)

    def test_close_releases_a_pending_read(self) -> None:
        async def body(h: TransportHarness) -> None:
            transport = h.make_transport()
            await asyncio.wait_for(transport.open(), self.timeout_s)
            await h.drop_link()  # nothing more arrives: the next read waits

            async def read_until_lost() -> None:
                with contextlib.suppress(LinkLost):
                    while True:
                        await transport.read()

            task = asyncio.create_task(read_until_lost())
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            await transport.close()
            await asyncio.wait_for(task, 2.0)
            assert time.monotonic() - t0 < 2.0

        self.run_with_harness(body)

    # -------------------------------------------------------------------------- gap

    def test_lost_frames_are_recorded_as_gaps(self) -> None:
        async def body(h: TransportHarness) -> None:
            stream = InsoleStream(h.make_transport(), expected_foot=h.foot, settle_s=0)
            try:
                await asyncio.wait_for(stream.open(), self.timeout_s)
                seqs: list[np.ndarray] = []
                injected = False
                deadline = time.monotonic() + 3 * self.timeout_s
                while not stream.gap_events and time.monotonic() < deadline:
                    frames, _events = await stream.next_batch()
                    if frames is not None:
                        seqs.append(frames.seq)
                    if not injected and sum(len(s) for s in seqs) >= h.min_frames:
                        await h.lose_frames()
                        injected = True
                # a little more after the gap, to check what follows it
                for _ in range(5):
                    frames, _events = await stream.next_batch()
                    if frames is not None:
                        seqs.append(frames.seq)
                assert stream.gap_events, "no gap recorded after frames were lost"
                gap = stream.gap_events[0]
                assert gap.lost_frames >= 1
                seq = np.concatenate(seqs)
                assert np.all(np.diff(seq) >= 1), "duplicated or misordered frames handed on"
                assert int(np.sum(np.diff(seq) - 1)) == stream.stats.lost_frames
            finally:
                await stream.close()

        self.run_with_harness(body)

    # -------------------------------------------------------------------- reconnect

    def test_reconnect_after_link_drop(self) -> None:
        async def body(h: TransportHarness) -> None:
            transport = h.make_transport()
            try:
                info = await asyncio.wait_for(transport.open(), self.timeout_s)
                decoder = StreamDecoder(info.n_sensels, info.n_shear)
                before, _ = await collect_frames(transport, decoder, h.min_frames, self.timeout_s)
                await h.drop_link()
                deadline = time.monotonic() + self.timeout_s
                lost = False
                while time.monotonic() < deadline:
                    try:
                        chunk = await asyncio.wait_for(
                            transport.read(), deadline - time.monotonic()
                        )
                        decoder.feed(chunk.data, discard_partial=chunk.gap)
                    except LinkLost:
                        lost = True
                        break
                assert lost, "read() did not raise LinkLost after the link dropped"
                await h.restore_link()
                t_back = time.monotonic()
                info2 = await reconnect_with_backoff(transport, timeout_s=self.timeout_s)
                assert time.monotonic() - t_back <= RECONNECT_BAR_S
                assert info2.foot == info.foot and info2.n_sensels == info.n_sensels
                after, _ = await collect_frames(transport, decoder, 5, self.timeout_s)
                assert unwrap_seq(after, int(before[-1]))[0] > int(before[-1])
            finally:
                await transport.close()

        self.run_with_harness(body)


# ------------------------------------------------------------------- sim:// and replay://


class SimHarness(TransportHarness):
    """The in-process simulated insole (``sim://``), disturbed through its fault hooks."""

    min_frames = 20

    def __init__(self, foot: str = "left") -> None:
        self.foot = foot
        self.transports: list[Any] = []

    def make_transport(self) -> Transport:
        transport = open_transport(f"sim://?foot={self.foot}&rate=200&seed=3&loss=0")
        self.transports.append(transport)
        return transport

    async def drop_link(self) -> None:
        for t in self.transports:
            t.unplug()

    async def restore_link(self) -> None:
        for t in self.transports:
            t.replug()

    async def lose_frames(self) -> None:
        for t in self.transports:
            t.lose_next_frames(7)


class TestSimTransportContract(TransportContractTests):
    def make_harness(self) -> TransportHarness:
        return SimHarness("left")


class TestSimTransportContractRight(TransportContractTests):
    def make_harness(self) -> TransportHarness:
        return SimHarness("right")


class ReplayHarness(TransportHarness):
    """A capture of a simulated insole with a frame loss and a link drop recorded in it.

    The faults are in the file, so drop_link/restore_link/lose_frames do nothing: the
    tests read on until they arrive.
    """

    min_frames = 20
    _capture: ClassVar[Path | None] = None

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    async def start(self) -> None:
        if ReplayHarness._capture is None or not ReplayHarness._capture.exists():
            ReplayHarness._capture = await record_sim_capture(self.tmp / "left.plantar-bytes")

    def make_transport(self) -> Transport:
        return open_transport(f"replay://{ReplayHarness._capture}?speed=4")

    async def drop_link(self) -> None:
        return None

    async def restore_link(self) -> None:
        return None

    async def lose_frames(self) -> None:
        return None


async def record_sim_capture(path: Path) -> Path:
    """Record ~0.4 s of sim:// bytes: 7 frames lost after 30, a link drop after 60.

    Reads on until both faults are in the capture (a gap, then a reconnection) and 60
    frames follow the reconnection: on a busy machine one batch may hold many frames, so
    the faults are placed by what was read, not by frame counts alone."""
    from firmware_bridge.transports.replay import ByteCaptureWriter

    transport = open_transport("sim://?foot=left&rate=200&seed=5&loss=0&speed=4")
    stream = InsoleStream(transport, settle_s=0, capture=ByteCaptureWriter(path))
    await stream.open()
    n = 0
    lost = dropped = False
    n_back: int | None = None
    try:
        while n_back is None or n < n_back + 60:
            frames, events = await stream.next_batch()
            n += 0 if frames is None else len(frames)
            if n >= 30 and not lost:
                transport.lose_next_frames(7)
                lost = True
            if stream.gap_events and not dropped:
                transport.unplug()
                dropped = True
                asyncio.get_running_loop().call_later(0.2, transport.replug)
            if any(e.kind == "reconnected" for e in events):
                n_back = n
    finally:
        await stream.close()
    return path


class TestReplayTransportContract(TransportContractTests):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp = tmp_path_factory.getbasetemp()

    def make_harness(self) -> TransportHarness:
        return ReplayHarness(self.tmp)
