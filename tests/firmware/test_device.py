"""The firmware core's device loop: matrix scan, tare, fixed-rate scheduler, sequence
counter, CONTROL handling, INFO schedule, all read back with the Python decoder."""

from __future__ import annotations

import numpy as np
import pytest

from base.wire.ble_packing import NotificationReassembler
from base.wire.cobs import frame_message
from base.wire.messages import Ack, DeviceInfo, encode_control
from base.wire.protocol import AckStatus, Command
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from hardware.firmware_core import CoreCallError

ROWS, COLS = 12, 16


def _wiring(rng: np.random.Generator, unused: int = 4) -> np.ndarray:
    """A shuffled row/column -> sensel map with a few unused cells."""
    cells = ROWS * COLS
    order = rng.permutation(cells)
    sensel = np.full(cells, -1, np.int16)
    n = cells - unused
    sensel[order[:n]] = np.arange(n)
    return sensel.reshape(ROWS, COLS)


class Matrix:
    """Raw ADC readings of a matrix: per-cell offset plus an applied load."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.offset = rng.integers(50, 200, (ROWS, COLS))
        self.load = np.zeros((ROWS, COLS), np.int64)
        self.reads = 0

    def read(self, row: int, col: int) -> int:
        self.reads += 1
        return int(self.offset[row, col] + self.load[row, col])


@pytest.fixture
def rig(core):
    rng = np.random.default_rng(3)
    wiring = _wiring(rng)
    matrix = Matrix(rng)
    shear = rng.integers(-3000, 3000, (3, 3)).astype(np.int16)
    dev = core.device(
        sensel_of_cell=wiring,
        read_raw=matrix.read,
        n_shear=3,
        read_shear=lambda: shear,
        device_id=0x0A0B,
        foot=1,
        rate_hz=200,
        min_rate_hz=10,
        max_rate_hz=1000,
        threshold_counts=3,
        layout_id="test-12x16",
    )
    return dev, wiring, matrix, shear


def _expected_counts(wiring, matrix, threshold=3) -> np.ndarray:
    n = int((wiring >= 0).sum())
    out = np.zeros(n, np.uint16)
    load = matrix.load
    for (r, c), s in np.ndenumerate(wiring):
        if s >= 0 and load[r, c] > threshold:
            out[s] = load[r, c]
    return out


def test_scan_maps_cells_to_sensels_with_tare_and_threshold(rig) -> None:
    dev, wiring, matrix, _ = rig
    dev.tare(4)
    used = wiring >= 0
    assert np.array_equal(dev.tare_counts[wiring[used]], matrix.offset[used])
    rng = np.random.default_rng(8)
    matrix.load = rng.integers(0, 4000, (ROWS, COLS)) * (rng.random((ROWS, COLS)) < 0.5)
    matrix.load[0, :4] = [1, 2, 3, 4]  # at / above the threshold of 3
    reads = matrix.reads
    assert np.array_equal(dev.scan(), _expected_counts(wiring, matrix))
    assert matrix.reads - reads == used.sum()  # unused cells are not converted


def test_sampling_loop_streams_decodable_frames(rig) -> None:
    dev, wiring, matrix, shear = rig
    dev.tare(2)
    n = dev.n_sensels
    decoder = StreamDecoder(n, 3, synced=True)
    dev.seq = 0xFFFFFFFD  # the counter wraps inside this run
    dev.rx(frame_message(encode_control(Command.START)), now_us=0)
    assert dev.streaming
    rng = np.random.default_rng(1)
    expected = []
    t = 10_000
    for i in range(60):
        stance = (i // 10) % 2 == 0
        matrix.load = (rng.integers(0, 4000, (ROWS, COLS)) * (rng.random((ROWS, COLS)) < 0.5)) * (
            stance
        )
        while not dev.poll(t):
            t += 250
        expected.append((t, _expected_counts(wiring, matrix)))
        t += 250
    batch = decoder.feed(dev.take_output())
    assert decoder.stats.rejected == 0
    assert len(batch) == 60
    seq = unwrap_seq(batch.seq)
    assert np.all(np.diff(seq) == 1) and batch.seq[0] == 0xFFFFFFFD and batch.seq[-1] == 56
    assert np.array_equal(batch.t_device_us, [t for t, _ in expected])
    assert np.array_equal(batch.pressure_counts, np.array([c for _, c in expected]))
    assert (batch.shear_centi_kpa == shear).all()
    assert np.all(batch.device_id == 0x0A0B) and np.all(batch.foot == 1)
    # fixed rate: one sample per 5000 us slot
    assert np.all(np.diff(batch.t_device_us.astype(np.int64)) == 5000)
    messages = decoder.pop_messages()
    assert isinstance(messages[0], Ack) and messages[0].status == AckStatus.OK
    info = [m for m in messages if isinstance(m, DeviceInfo)]
    assert info and info[0].layout_id == "test-12x16" and info[0].n_sensels == n
    assert info[0].sampling_rate_hz == 200 and info[0].foot == 1


def test_scheduler_skips_missed_slots_without_bursting(rig) -> None:
    dev, *_ = rig
    dev.control(encode_control(Command.START), 0)
    assert dev.poll(1_000_000)
    assert not dev.poll(1_004_999)
    assert dev.poll(1_005_000)
    assert dev.poll(1_050_000)  # 8 slots late: one sample, the others skipped
    assert dev.overruns == 8
    assert not dev.poll(1_054_999)
    assert dev.poll(1_055_000)


def test_controls_stop_set_rate_info_unknown(rig) -> None:
    dev, *_ = rig
    decoder = StreamDecoder(dev.n_sensels, 3, synced=True)
    assert dev.control(encode_control(Command.START), 0) == AckStatus.OK
    assert dev.control(encode_control(Command.SET_RATE, 5000), 0) == AckStatus.OK
    assert dev.rate_hz == 1000  # clamped to max_rate_hz, reported in the ACK
    assert dev.control(encode_control(Command.SET_RATE, 1), 0) == AckStatus.OK
    assert dev.rate_hz == 10
    assert dev.control(encode_control(0x7E, 3), 0) == AckStatus.UNKNOWN_COMMAND
    assert dev.control(encode_control(Command.REQUEST_INFO), 0) == AckStatus.OK
    assert dev.control(encode_control(Command.STOP), 0) == AckStatus.OK
    assert not dev.poll(10_000_000)
    bad = bytearray(encode_control(Command.START))
    bad[-1] ^= 1
    with pytest.raises(CoreCallError):
        dev.core.decode_control(bytes(bad))
    assert dev.control(bytes(bad), 0) < 0 and not dev.streaming  # no ACK for a bad CRC
    dev.rx(b"\x00\x00" + frame_message(bytes(bad)) + b"\x05\x05\x00", 0)
    assert dev.rx_rejected == 2
    decoder.feed(dev.take_output())
    acks = [m for m in decoder.pop_messages() if isinstance(m, Ack)]
    assert [(a.command, a.status, a.argument) for a in acks] == [
        (Command.START, AckStatus.OK, 0),
        (Command.SET_RATE, AckStatus.OK, 1000),
        (Command.SET_RATE, AckStatus.OK, 10),
        (0x7E, AckStatus.UNKNOWN_COMMAND, 3),
        (Command.REQUEST_INFO, AckStatus.OK, 0),
        (Command.STOP, AckStatus.OK, 0),
    ]


def test_info_once_per_second_and_ble_packing(core) -> None:
    """A device writing into the BLE packer: notifications reassemble into the stream."""
    rng = np.random.default_rng(2)
    wiring = _wiring(rng, unused=0)
    matrix = Matrix(rng)
    dev = core.device(
        sensel_of_cell=wiring, read_raw=matrix.read, rate_hz=100, start_streaming=True
    )
    for i in range(250):  # 2.5 s at 100 Hz
        matrix.load[:] = 1000 if i % 50 < 20 else 0
        assert dev.poll(i * 10_000)
    stream = dev.take_output()
    notifications = core.pack_notifications(stream, 247, start_counter=250)
    reassembler = NotificationReassembler()
    decoder = StreamDecoder(dev.n_sensels, 0, synced=True)
    batch = decoder.feed(b"".join(reassembler.push(v).data for v in notifications))
    assert len(batch) == 250 and reassembler.gaps == 0 and decoder.stats.rejected == 0
    assert sum(isinstance(m, DeviceInfo) for m in decoder.pop_messages()) == 3  # t=0, 1, 2 s
    assert all(len(v) <= 244 for v in notifications)


def test_init_rejects_bad_wiring(core) -> None:
    duplicate = np.arange(ROWS * COLS, dtype=np.int16).reshape(ROWS, COLS)
    duplicate[0, 1] = 0  # sensel 0 twice, the last sensel missing
    with pytest.raises(CoreCallError):
        core.device(sensel_of_cell=duplicate, read_raw=lambda r, c: 0)
    with pytest.raises(CoreCallError):  # rate outside min..max
        core.device(
            sensel_of_cell=_wiring(np.random.default_rng(0)),
            read_raw=lambda r, c: 0,
            rate_hz=5,
            min_rate_hz=10,
        )


def test_missing_compiler_is_one_line_error(monkeypatch) -> None:
    from hardware.firmware_core import FirmwareCoreError, build_library

    monkeypatch.setenv("CC", "/nonexistent/gcc-plantar")
    with pytest.raises(FirmwareCoreError) as info:
        build_library()
    message = str(info.value)
    assert "\n" not in message and "install gcc" in message
