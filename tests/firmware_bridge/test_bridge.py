"""The bridge: sequence accounting, clock mapping, consumers, capture and replay."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from base.frames import FootFrames
from base.wire.cobs import frame_message
from base.wire.messages import DeviceInfo
from base.wire.payload import encode_data_frame
from base.wire.protocol import FOOT_LEFT
from firmware_bridge.bridge import Bridge
from firmware_bridge.clock_replay import replay_session_times
from firmware_bridge.insole_stream import InsoleStream, StreamEvent
from firmware_bridge.transport import Chunk, Transport


class FakeTransport(Transport):
    """Never read: process() is fed by the test."""

    scheme = "fake"

    def __init__(self) -> None:
        super().__init__("fake://", {})

    async def open(self) -> DeviceInfo:
        return INFO

    async def read(self) -> Chunk:
        raise AssertionError

    async def send_control(self, message: bytes) -> None:
        return None

    async def reconnect(self) -> DeviceInfo:
        return INFO

    async def close(self) -> None:
        return None


N_SENSELS = 16
INFO = DeviceInfo(1, 7, FOOT_LEFT, 200, N_SENSELS, 0, "t", "moticon-16", "linear-0.1kpa")


def frames_bytes(seqs, t0_us: int = 1_000_000) -> bytes:
    out = []
    for s in seqs:
        counts = np.full(N_SENSELS, (s % 100) + 1, dtype=np.uint16)
        msg = encode_data_frame(
            device_id=7,
            foot=FOOT_LEFT,
            seq=s & 0xFFFFFFFF,
            t_device_us=t0_us + 5000 * s,
            pressure_counts=counts,
            shear_centi_kpa=None,
        )
        out.append(frame_message(msg))
    return b"".join(out)


def make_stream() -> InsoleStream:
    stream = InsoleStream(FakeTransport(), expected_foot="left", settle_s=0)
    asyncio.run(stream.open())
    return stream


def feed(stream: InsoleStream, seqs, t_ns: int, **kw) -> tuple[FootFrames | None, list]:
    return stream.process(Chunk(frames_bytes(seqs, **kw), t_ns))


def test_gaps_are_events_with_their_length_never_interpolated() -> None:
    stream = make_stream()
    _f1, _ = feed(stream, [0, 1, 2, 3], 1_000_000_000)
    f2, ev = feed(stream, [4, 9, 10, 14], 1_050_000_000)
    assert list(f2.seq) == [4, 9, 10, 14]  # nothing made up for 5-8 and 11-13
    gaps = [e for e in ev if e.kind == "gap"]
    assert [(g.seq, g.lost_frames) for g in gaps] == [(5, 4), (11, 3)]
    assert gaps[0].duration_s == pytest.approx(0.025, abs=1e-3)  # 5 periods of 5 ms
    assert stream.stats.lost_frames == 7 and stream.stats.gaps == 2
    assert stream.stats.loss_pct == pytest.approx(100 * 7 / 15)


def test_gap_across_chunks_is_found() -> None:
    stream = make_stream()
    feed(stream, [0, 1], 1_000_000_000)
    _, ev = feed(stream, [5, 6], 1_030_000_000)
    assert [(e.seq, e.lost_frames) for e in ev if e.kind == "gap"] == [(2, 3)]


def test_duplicates_and_late_frames_are_dropped_and_counted() -> None:
    stream = make_stream()
    feed(stream, [0, 1, 2, 3], 1_000_000_000)
    frames, ev = feed(stream, [2, 3, 4, 6, 5, 6, 7], 1_050_000_000)
    assert list(frames.seq) == [4, 6, 7]  # strictly increasing, none twice
    assert stream.stats.duplicates == 4
    assert [e.kind for e in ev].count("duplicate") == 1
    # the late 5 is not counted as found: the gap stays a gap of 1
    assert stream.stats.lost_frames == 1


def test_sequence_wrap_is_continuous() -> None:
    stream = make_stream()
    base = (1 << 32) - 2
    feed(stream, [base, base + 1], 1_000_000_000)
    frames, ev = feed(stream, [base + 2, base + 3], 1_020_000_000)  # sent as 0, 1
    assert list(frames.seq) == [base + 2, base + 3]
    assert not [e for e in ev if e.kind == "gap"]


def test_calibrated_kpa_and_session_time() -> None:
    stream = make_stream()
    frames, _ = feed(stream, [0, 1, 2], 2_000_000_000)
    assert frames.pressure_kpa.dtype == np.float32
    expected = stream.calibration.to_kpa(np.full((1, N_SENSELS), 2, np.uint16))[0]
    np.testing.assert_allclose(frames.pressure_kpa[1], expected)
    assert frames.t_s[0] <= 0.0 < frames.t_s[-1] + 1e-9  # session starts at the first chunk
    assert np.all(np.diff(frames.t_s) > 0)


def test_garbage_between_frames_is_counted_not_raised() -> None:
    stream = make_stream()
    data = frames_bytes([0, 1]) + b"\x13\x37garbage\x00\xff\xfe" + frames_bytes([2, 3])
    frames, ev = stream.process(Chunk(data, 1_000_000_000))
    # the trailing ff fe glue onto frame 2, which is lost (and counted); nothing else is
    assert list(frames.seq) == [0, 1, 3]
    assert stream.stats.bad_frames == 2
    assert [(e.seq, e.lost_frames) for e in ev if e.kind == "gap"] == [(2, 1)]


def test_device_restart_after_reconnect_keeps_seq_increasing() -> None:
    stream = make_stream()
    feed(stream, [100, 101, 102], 1_000_000_000, t0_us=50_000_000)
    stream._lost_at_ns = 1_100_000_000
    stream._after_reconnect = True
    frames, ev = feed(stream, [0, 1], 2_100_000_000, t0_us=10_000)  # rebooted: seq, clock anew
    kinds = [e.kind for e in ev]
    assert "device_restart" in kinds
    assert frames.seq[0] > 102 and np.all(np.diff(frames.seq) == 1)
    restart = ev[kinds.index("device_restart")]
    assert restart.lost_frames == pytest.approx(200, abs=2)  # 1 s away at 200 Hz, estimated


def test_frames_leave_at_once_with_arrival_times_and_are_retimed_from_them() -> None:
    """Nothing is held while the clock settles: each chunk's frames leave with it, with the
    chunk's arrival time; replaying the clock model over what left (as the store does at
    finalise) gives the first frames the settled fit instead of their provisional times."""
    stream = InsoleStream(FakeTransport(), settle_s=0.05)
    asyncio.run(stream.open())
    late_ns = 4_000_000  # the first chunk arrives 4 ms late, the later ones on time
    first, _ = feed(stream, range(0, 5), 1_020_000_000 + late_ns)
    assert first is not None and list(first.seq) == list(range(5))
    assert not stream.clock_settled
    assert first.t_arrival_s is not None and np.all(first.t_arrival_s == 0.0)  # the session t0
    batches = [first]
    for k in range(1, 40):  # 5 frames per chunk, 25 ms of device time, arriving on time
        frames, _ = feed(stream, range(5 * k, 5 * k + 5), 1_020_000_000 + 25_000_000 * k)
        assert frames is not None and len(frames) == 5
        batches.append(frames)
    assert stream.clock_settled
    t_dev = np.concatenate([b.t_device_us for b in batches])
    arrival = np.concatenate([b.t_arrival_s for b in batches])
    handed = np.concatenate([b.t_s for b in batches])
    replayed = replay_session_times(t_dev, arrival, settle_s=0.05)
    # provisional: the first chunk mapped with its own late arrival; settled: 4 ms earlier
    assert handed[4] - replayed[4] == pytest.approx(late_ns * 1e-9, abs=1e-6)
    assert np.all(np.diff(replayed) > 0)
    assert np.allclose(replayed[100:], handed[100:], atol=1e-9)  # later frames as handed


# ------------------------------------------------------------------------ the bridge


class Collect:
    def __init__(self) -> None:
        self.frames: dict[str, list[FootFrames]] = {"left": [], "right": []}
        self.events: list[StreamEvent] = []

    def on_frames(self, frames: FootFrames) -> None:
        self.frames[frames.foot].append(frames)

    def on_event(self, event: StreamEvent) -> None:
        self.events.append(event)


class Broken:
    def on_frames(self, frames: FootFrames) -> None:
        raise RuntimeError("consumer bug")

    def on_event(self, event: StreamEvent) -> None:
        return None


def _cat(batches: list[FootFrames], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in batches])


def test_two_sim_feet_stream_aligned_with_broken_consumer_isolated() -> None:
    from hardware.sim.insole import DEFAULT_LEFT_IMPERFECTIONS, DEFAULT_RIGHT_IMPERFECTIONS

    collect = Collect()
    bridge = Bridge(
        "sim://?foot=left&rate=200&loss=0.01",
        "sim://?foot=right&rate=200&loss=0.01",
        consumers=[Broken(), collect],
        settle_s=0.5,
    )
    asyncio.run(bridge.run(duration_s=2.0))
    assert bridge.consumer_errors > 0  # the broken consumer did not stop the others
    offsets = {}
    for foot, imp in (("left", DEFAULT_LEFT_IMPERFECTIONS), ("right", DEFAULT_RIGHT_IMPERFECTIONS)):
        batches = collect.frames[foot]
        seq, t_s = _cat(batches, "seq"), _cat(batches, "t_s")
        assert len(seq) > 150
        assert np.all(np.diff(seq) >= 1) and np.all(np.diff(t_s) > 0)
        assert bridge.streams[foot].stats.lost_frames == int(np.sum(np.diff(seq) - 1))
        t_dev = _cat(batches, "t_device_us")
        t_true = (t_dev - imp.clock_offset_us) / (1 + imp.clock_ppm * 1e-6) * 1e-6
        sim = bridge.streams[foot].transport  # each sim maps its own true time to the wall
        t_wall = sim._t0_wall + (t_true - sim._t0_true)
        offsets[foot] = np.median(t_s - t_wall)  # session time minus sample wall time
    # both feet land on one timebase: same sample instant, same t_s (loop jitter aside)
    assert abs(offsets["left"] - offsets["right"]) < 3e-3


def test_capture_then_replay_reproduces_the_frames(tmp_path: Path) -> None:
    live = Collect()
    bridge = Bridge(
        "sim://?foot=left&speed=4&loss=0.02",
        "sim://?foot=right&speed=4&loss=0.02",
        consumers=[live],
        capture_dir=tmp_path,
        settle_s=0.2,
    )
    asyncio.run(bridge.run(duration_s=1.0))
    replayed = Collect()
    again = Bridge(
        f"replay://{tmp_path}/left.plantar-bytes?speed=0",
        f"replay://{tmp_path}/right.plantar-bytes?speed=0",
        consumers=[replayed],
        settle_s=0.2,
    )
    asyncio.run(again.run(duration_s=10.0))  # ends when both files end
    for foot in ("left", "right"):
        a, b = _cat(live.frames[foot], "seq"), _cat(replayed.frames[foot], "seq")
        assert len(a) > 100
        np.testing.assert_array_equal(a, b[: len(a)])
        gaps_live = [(e.seq, e.lost_frames) for e in bridge.streams[foot].gap_events]
        gaps_replay = [(e.seq, e.lost_frames) for e in again.streams[foot].gap_events]
        assert gaps_live == gaps_replay[: len(gaps_live)]
    assert any(e.kind == "stream_ended" for e in replayed.events)
