"""``BridgeFeed(wait=True)``: waiting for insoles that are off, with real serial devices.

The left insole is a simulated device on a real pseudo-terminal (its own process); the
right one's path does not exist until its device process is started. The feed must keep
the left insole alone while it waits for the right one (no connect/disconnect churn every
retry: on Bluetooth that costs battery and upsets BlueZ), report both links, and stream
once the right insole appears. A configuration error found while connecting is not
waited out. The feed runs on an event loop serving in another thread, as the server's
loop does while ``plantar run`` waits for the insoles.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from base.errors import ConfigError
from firmware_bridge.insole_stream import InsoleStream
from live.bridge_feed import BridgeFeed

pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")


class Collector:
    """The pipeline side of the feed: keeps what it is told."""

    def __init__(self) -> None:
        self.links: dict[str, list[dict[str, Any]]] = {"left": [], "right": []}
        self.frames = {"left": 0, "right": 0}
        self.waiting: list[bool] = []

    def on_frames(self, frames: Any, t_recv_ns: int | None = None) -> None:
        self.frames[frames.foot] += len(frames)

    def on_event(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_link(self, foot: str, status: dict[str, Any]) -> None:
        self.links[foot].append(dict(status))

    def set_waiting_for_insoles(self, waiting: bool) -> None:
        self.waiting.append(waiting)


class Hub:
    def set_timebase(self, t0_ns: int) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread (the server's loop while it serves)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-server-loop", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _until(ok: Any, timeout_s: float, what: str) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if ok():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout_s} s")


def test_waits_for_the_missing_insole_without_reopening_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop
) -> None:
    from tests.firmware_bridge.test_serial import DeviceProcess

    opens = {"left": 0, "right": 0}
    real_open = InsoleStream.open

    async def counted_open(self: InsoleStream) -> Any:
        opens[str(self.expected_foot)] += 1
        return await real_open(self)

    monkeypatch.setattr(InsoleStream, "open", counted_open)
    left, right = tmp_path / "left", tmp_path / "right"
    pipeline = Collector()
    connected = threading.Event()
    feed = BridgeFeed(
        loop,
        {"left": f"serial://{left}", "right": f"serial://{right}"},
        pipeline,
        Hub(),
        settle_s=0.5,
        wait=True,
        retry_s=0.2,
        on_connected=connected.set,
    )
    devices = [DeviceProcess(left, "--foot", "left")]
    try:
        feed.start()  # returns at once
        assert feed.waiting and pipeline.waiting == [True]
        _until(lambda: opens["right"] >= 6, 60, "six attempts at the right insole")
        assert list(feed.waiting_for) == ["right"] and "not found" in feed.waiting_for["right"]
        assert opens["left"] == 1  # opened once, then left alone while right is off
        assert pipeline.links["left"][-1]["state"] == "ready"
        assert "waiting for the right insole" in pipeline.links["left"][-1]["detail"]
        last = pipeline.links["right"][-1]
        assert last["state"] == "waiting" and last["url"] == f"serial://{right}"
        assert not connected.is_set() and pipeline.frames == {"left": 0, "right": 0}

        devices.append(DeviceProcess(right, "--foot", "right", "--seed", "2"))
        assert connected.wait(60)
        assert opens["left"] == 2  # once more, in the attempt that connected both
        assert not feed.waiting and feed.waiting_for == {} and pipeline.waiting == [True, False]
        _until(lambda: min(pipeline.frames.values()) > 100, 60, "frames of both feet")
        _until(
            lambda: all(pipeline.links[f][-1]["state"] == "streaming" for f in ("left", "right")),
            30,
            "both links streaming",
        )
        assert pipeline.links["right"][-1]["detail"] is None
    finally:
        feed.stop()
        for d in devices:
            d.stop()


def test_stop_while_waiting_ends_promptly(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    pipeline = Collector()
    feed = BridgeFeed(
        loop,
        {"left": f"serial://{tmp_path}/l", "right": f"serial://{tmp_path}/r"},
        pipeline,
        Hub(),
        wait=True,
        retry_s=60.0,
    )
    feed.start()
    _until(lambda: set(feed.waiting_for) == {"left", "right"}, 60, "both insoles waited for")
    t0 = time.monotonic()
    feed.stop()  # in the middle of a 60 s pause between attempts
    assert time.monotonic() - t0 < 20.0  # far less than the pause, even on a busy machine
    assert feed._task is None


def test_a_config_error_while_connecting_is_fatal_not_waited_out(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    not_a_capture = tmp_path / "left.plantar-bytes"
    not_a_capture.write_bytes(b"this is not a byte capture")
    fatal: list[BaseException] = []
    done = threading.Event()

    def on_fatal(err: BaseException) -> None:
        fatal.append(err)
        done.set()

    feed = BridgeFeed(
        loop,
        {"left": f"replay://{not_a_capture}", "right": f"serial://{tmp_path}/r"},
        Collector(),
        Hub(),
        wait=True,
        retry_s=0.2,
        on_fatal=on_fatal,
    )
    try:
        feed.start()
        assert done.wait(60)
        assert isinstance(fatal[0], ConfigError) and "byte capture" in str(fatal[0])
    finally:
        feed.stop()


def test_a_malformed_url_fails_in_start(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    feed = BridgeFeed(
        loop,
        {"left": f"serial://{tmp_path}/l?baud=fast", "right": f"serial://{tmp_path}/r"},
        Collector(),
        Hub(),
        wait=True,
    )
    with pytest.raises(ConfigError, match="baud"):
        feed.start()
    assert feed._task is None


@pytest.mark.parametrize("open_timeout_s", [1.0, 3.0])
def test_fail_fast_start_keeps_the_given_open_deadline(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, open_timeout_s: float
) -> None:
    """A silent device (a pty nobody answers on) with a long INFO deadline: the start gives
    up after ``open_timeout_s`` (the demo passes its own, longer one) and says so."""
    from base.errors import DeviceError

    master, slave = os.openpty()
    try:
        url = f"serial://{os.ttyname(slave)}?info_timeout=100"
        feed = BridgeFeed(
            loop, {"left": url, "right": url}, Collector(), Hub(), open_timeout_s=open_timeout_s
        )
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=f"did not answer within {open_timeout_s:g} s"):
            feed.start()
        assert time.monotonic() - t0 >= open_timeout_s
    finally:
        os.close(master)
        os.close(slave)
