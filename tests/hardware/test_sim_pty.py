"""The simulated insoles served on real pseudo-terminals, read like a serial port."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from base.errors import ConfigError
from base.wire.cobs import frame_message
from base.wire.messages import Ack, DeviceInfo, encode_control
from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT, AckStatus, Command
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import SimulatedInsole, make_pair
from hardware.sim.pty_device import PtyDeviceServer, serve_on_pty

serial = pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")


@pytest.fixture(scope="module", autouse=True)
def _compiled_decoder():
    """Compile the decoder's numba kernel before any real-time reading starts."""
    insole = make_pair("plantar-ref", imperfections=Imperfections.none())[0]
    StreamDecoder(insole.layout.n_sensels, insole.layout.n_shear).feed(insole.encoded(4))


@pytest.fixture
def pair():
    return make_pair("plantar-ref", imperfections=Imperfections.none(), seed=1)


def read_for(port, decoder: StreamDecoder, seconds: float):
    """Decode everything that arrives for ``seconds``; returns the concatenated seqs."""
    seqs = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch = decoder.feed(port.read(4096))
        seqs.append(batch.seq.astype(np.int64))
    return np.concatenate(seqs) if seqs else np.empty(0, np.int64)


def read_frames(port, decoder: StreamDecoder, n: int, timeout_s: float = 60.0, into=None):
    """Decode until ``n`` frames arrived (a generous deadline: the machine may be busy);
    returns their seqs and device times, including any already in ``into``."""
    batches = list(into or [])
    end = time.monotonic() + timeout_s
    while sum(len(b) for b in batches) < n and time.monotonic() < end:
        batches.append(decoder.feed(port.read(4096)))
    seq = np.concatenate([b.seq.astype(np.int64) for b in batches])
    t_us = np.concatenate([b.t_device_us.astype(np.int64) for b in batches])
    assert seq.size >= n, f"only {seq.size} of {n} frames within {timeout_s} s"
    return seq, t_us


def open_port(path: str):
    return serial.Serial(path, timeout=0.02, exclusive=True)


def test_frames_arrive_on_both_ptys_with_contiguous_seq(pair):
    with PtyDeviceServer(pair) as server:
        ports = [open_port(p) for p in server.paths]
        try:
            for port, insole, foot in zip(ports, pair, (FOOT_LEFT, FOOT_RIGHT), strict=True):
                decoder = StreamDecoder(insole.layout.n_sensels, insole.layout.n_shear)
                # the INFO sent at start may predate opening the port: ask for one
                port.write(frame_message(encode_control(Command.REQUEST_INFO)))
                seq, t_us = read_frames(port, decoder, 60)
                assert np.all(np.diff(t_us) == 5000)  # 200 Hz device clock
                assert np.all(np.diff(unwrap_seq(seq)) == 1)
                assert decoder.stats.rejected == 0
                assert decoder.last_info is not None and decoder.last_info.foot == foot
        finally:
            for port in ports:
                port.close()


def test_control_stop_start_set_rate_and_ack(pair):
    left = pair[0]
    with PtyDeviceServer([left]) as server:
        port = open_port(server.paths[0])
        decoder = StreamDecoder(left.layout.n_sensels, left.layout.n_shear)
        try:
            read_for(port, decoder, 0.1)

            frames_seen: list = []  # frames that came with the ACKs

            def command(cmd: Command, argument: int = 0) -> Ack:
                decoder.pop_messages()
                port.write(frame_message(encode_control(cmd, argument)))
                end = time.monotonic() + 30.0
                while time.monotonic() < end:
                    frames_seen.append(decoder.feed(port.read(4096)))
                    acks = [m for m in decoder.messages if isinstance(m, Ack)]
                    if acks:
                        return acks[0]
                raise AssertionError(f"no ACK for {cmd.name}")

            assert command(Command.STOP).status == AckStatus.OK
            stop_seq = left.next_seq  # the device takes no sample after its STOP ACK
            late = read_for(port, decoder, 0.3)  # only what was in flight may still come
            assert np.all(late < stop_seq), (late, stop_seq)
            last_seq = left.next_seq
            assert last_seq == stop_seq
            assert command(Command.SET_RATE, 100).status == AckStatus.OK
            assert command(Command.SET_RATE, 0).status == AckStatus.BAD_ARGUMENT
            frames_seen.clear()
            assert command(Command.START).status == AckStatus.OK
            seq, t_us = read_frames(port, decoder, 30, into=frames_seen)
            # no samples were taken while stopped: the first one after START is the next
            # sequence number, unless the device had to drop some (counted) on a busy machine
            dropped = server.stats[0].messages_dropped
            assert last_seq <= seq[0] <= last_seq + dropped, (seq[0], last_seq, dropped)
            steps = np.diff(t_us)[np.diff(seq) == 1]
            assert steps.size and np.all(steps == 10_000)  # 100 Hz now, on the device clock
            info = [m for m in decoder.messages if isinstance(m, DeviceInfo)]
            assert info and info[-1].sampling_rate_hz == 100
            assert command(Command.REQUEST_INFO).status == AckStatus.OK
            assert server.stats[0].controls_received == 5
        finally:
            port.close()


def test_stalled_reader_drops_and_counts():
    left = make_pair("plantar-ref", imperfections=Imperfections.none(), sampling_rate_hz=1000)[0]
    with PtyDeviceServer([left], tx_buffer_bytes=2048) as server:
        time.sleep(1.0)  # nobody reads: the pty buffer fills, then the device drops frames
        stats = server.stats[0]
        assert stats.messages_dropped > 0 and stats.bytes_dropped > 0
        port = open_port(server.paths[0])
        try:
            decoder = StreamDecoder(left.layout.n_sensels, left.layout.n_shear)
            seq = unwrap_seq(read_for(port, decoder, 0.3))
            assert np.diff(seq).max() > 1  # the drop shows as a sequence gap
        finally:
            port.close()


class _SlowCpuInsole(SimulatedInsole):
    """An insole on a CPU too slow for the simulator's tick (an emulated arm64 root, a busy
    Pi): every step of the server costs more than ``block_s``, so it is always behind."""

    step_cost_s = 0.0

    def samples_due(self, t_true_s: float) -> int:
        time.sleep(self.step_cost_s)  # the cost of a slow step, not a wait for anything
        return super().samples_due(t_true_s)


def test_a_simulator_behind_its_schedule_still_writes():
    # the emulated arm64 demo: the simulator never caught up with its 15 ms tick, skipped
    # every write, and the bridge got no INFO in 60 s while the simulator "ran"
    block_s = 0.005
    layout = make_pair("plantar-ref")[0].layout
    insole = _SlowCpuInsole(layout, imperfections=Imperfections.none(), seed=4)
    insole.step_cost_s = 3 * block_s
    with PtyDeviceServer([insole], block_s=block_s) as server:
        port = open_port(server.paths[0])
        try:
            decoder = StreamDecoder(layout.n_sensels, layout.n_shear)
            port.write(frame_message(encode_control(Command.REQUEST_INFO)))
            read_frames(port, decoder, 20, timeout_s=30.0)
            assert decoder.last_info is not None and decoder.last_info.foot == FOOT_LEFT
            assert server.stats[0].bytes_written > 0
        finally:
            port.close()


def test_serve_on_pty_reports_paths_and_stops():
    insoles = make_pair("plantar-ref", imperfections=Imperfections.none(), seed=2)
    paths: list[str] = []
    stop = threading.Event()
    result = []
    thread = threading.Thread(
        target=lambda: result.append(serve_on_pty(insoles, on_ready=paths.extend, stop_event=stop))
    )
    thread.start()
    try:
        end = time.monotonic() + 2.0
        while not paths and time.monotonic() < end:
            time.sleep(0.01)
        assert len(paths) == 2 and all(os.path.exists(p) for p in paths)
        port = open_port(paths[1])
        decoder = StreamDecoder(insoles[1].layout.n_sensels, insoles[1].layout.n_shear)
        assert read_for(port, decoder, 0.2).size > 0
        port.close()
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    stats = result[0]
    assert [s.path for s in stats] == paths
    assert stats[1].bytes_written > 0
    assert not any(os.path.exists(p) for p in paths)  # ptys closed


def test_serve_on_pty_duration():
    insoles = make_pair("plantar-ref", seed=3)[:1]
    start = time.monotonic()
    stats = serve_on_pty(insoles, duration_s=0.3)
    assert 0.25 <= time.monotonic() - start < 2.0
    assert stats[0].bytes_written + stats[0].bytes_dropped > 0
    assert insoles[0].next_seq == pytest.approx(0.3 * 200, abs=2)


def test_faults_garbage_and_unplug_re_point_the_link(pair, tmp_path):
    link = tmp_path / "plantar-left"
    replugged = threading.Event()
    with PtyDeviceServer([pair[0]], links=[link], on_replugged=lambda _: replugged.set()) as server:
        first = os.readlink(link)
        assert first == server.paths[0]
        server.inject("garbage", 300)
        server.inject("unplug", 0.3)
        deadline = time.monotonic() + 10
        while link.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not link.exists()  # unplugged: the path is gone, as on a USB unplug
        assert replugged.wait(10)
        assert os.readlink(link) == server.paths[0]
        stats = server.stats[0]
        assert stats.garbage_bytes == 300 and stats.unplugs == 1
        with pytest.raises(ConfigError, match="unknown fault"):
            server.inject("melt", 1)
    assert not link.exists()
