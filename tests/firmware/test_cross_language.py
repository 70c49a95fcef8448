"""The C firmware core against the Python codec: byte-identical encodings, Python-decodable.

Everything here runs the core through ctypes (``hardware/firmware_core.py``); the same
checks under AddressSanitizer and valgrind are in ``test_memory_safety.py``.
"""

from __future__ import annotations

import zlib
from collections import defaultdict

import numpy as np
import pytest

from base.wire.ble_packing import pack_notifications
from base.wire.cobs import cobs_decode, cobs_encode, frame_message
from base.wire.messages import DeviceInfo, encode_ack, encode_control, encode_info
from base.wire.payload import encode_data_frame, encode_pressure_payload
from base.wire.protocol import AckStatus, Command, Encoding
from firmware_bridge.stream_decoder import StreamDecoder
from hardware.firmware_core import ERR_RANGE, CoreCallError
from tests.firmware.random_frames import python_control, random_frames

N_RANDOM_FRAMES = 12_000


def _python_encode(frame) -> bytes | None:
    try:
        return encode_data_frame(**frame.kwargs())
    except ValueError:
        return None


def test_crc_check_value_and_cobs_examples(core) -> None:
    assert core.crc32(b"123456789") == 0xCBF43926
    examples = [b"", b"\x00", b"\x11\x22\x00\x33", b"\x11\x00\x00\x00"]
    examples += [bytes(range(1, 255)), bytes(range(1, 256)), bytes(600), bytes(range(256)) * 3]
    for message in examples:
        assert core.cobs_encode(message) == cobs_encode(message)
        assert core.cobs_decode(cobs_encode(message)) == message
        assert core.frame_message(message) == frame_message(message)
    # a final 0x01 after a 0xFF block is accepted, as PROTOCOL.md section 4 requires
    assert core.cobs_decode(b"\xff" + bytes(range(1, 255))) == bytes(range(1, 255))


def test_protocol_worked_example(core) -> None:
    """PROTOCOL.md 4.1: the 37-byte sparse-u16 example, byte for byte."""
    p = np.zeros(10, np.uint16)
    p[1], p[9] = 0x0123, 0x0200
    message = core.encode_data_frame(
        device_id=0x0102,
        foot=1,
        seq=5,
        t_device_us=5_000_000_000,
        pressure_counts=p,
        shear_centi_kpa=np.array([[-100, 250, 1234]]),
        encoding="sparse",
    )
    expected = bytes.fromhex(
        "01 01 03 02 01 05 00 00 00 00 f2 05 2a 01 00 00 00 0a 00 01"
        "03 02 02 23 01 00 02 9c ff fa 00 d2 04 42 3a 40 93"
    )
    assert message == expected
    assert core.frame_message(message) == bytes.fromhex(
        "07 01 01 03 02 01 05 01 01 01 05 f2 05 2a 01 01 01 02 0a 07"
        "01 03 02 02 23 01 05 02 9c ff fa 07 d2 04 42 3a 40 93 00"
    )


def test_random_frames_byte_identical_and_decodable(core) -> None:
    """>= 10,000 random frames: C bytes == Python bytes; the Python decoder decodes them."""
    rng = np.random.default_rng(20240609)
    frames = random_frames(rng, N_RANDOM_FRAMES)
    groups: dict[tuple[int, int], list[tuple[object, bytes]]] = defaultdict(list)
    compared = rejected = 0
    for frame in frames:
        expected = _python_encode(frame)
        try:
            got = core.encode_data_frame(**frame.kwargs())
        except CoreCallError as exc:
            # 12-bit encoding of a value > 4095: both refuse (nothing else may fail: a
            # sparse u16 request that would exceed the largest message is sent dense)
            assert expected is None and exc.code == ERR_RANGE
            rejected += 1
            continue
        assert expected is not None
        assert got == expected, frame
        assert core.frame_message(got) == frame_message(expected)
        compared += 1
        k = 0 if frame.shear_centi_kpa is None else frame.shear_centi_kpa.shape[0]
        groups[(frame.pressure_counts.shape[0], k)].append((frame, got))
    assert compared >= 10_000
    assert rejected < N_RANDOM_FRAMES - 10_000
    decoded = 0
    for (n, k), items in groups.items():
        decoder = StreamDecoder(n, k, synced=True)
        batch = decoder.feed(b"".join(core.frame_message(m) for _, m in items))
        assert len(batch) == len(items) and decoder.stats.rejected == 0
        for row, (frame, _) in enumerate(items):
            assert batch.seq[row] == frame.seq % (1 << 32)
            assert batch.device_id[row] == frame.device_id
            assert batch.foot[row] == frame.foot
            assert batch.t_device_us[row] == frame.t_device_us
            assert np.array_equal(batch.pressure_counts[row], frame.pressure_counts)
            if k:
                assert np.array_equal(batch.shear_centi_kpa[row], frame.shear_centi_kpa)
        decoded += len(batch)
    assert decoded == compared


@pytest.mark.parametrize("n", [1, 7, 8, 9, 63, 64, 65, 255, 256, 257, 4096])
def test_edge_sizes_every_encoding(core, n) -> None:
    rng = np.random.default_rng(n)
    for fill in (0.0, 1 / n, 0.5, 1.0):
        p = rng.integers(1, 4096, n).astype(np.uint16)
        p[rng.random(n) >= fill] = 0
        for encoding in ("auto", "dense", "sparse", "dense12", "sparse12"):
            kwargs = {
                "device_id": 9,
                "foot": 0,
                "seq": 0xFFFFFFFF,
                "t_device_us": 2**64 - 1,
                "pressure_counts": p,
                "shear_centi_kpa": rng.integers(-32768, 32768, (32, 3)).astype(np.int16),
                "encoding": encoding,
            }
            expected = encode_data_frame(**kwargs)
            assert len(expected) <= 8408  # PROTOCOL.md section 9, whatever is asked for
            assert core.encode_data_frame(**kwargs) == expected


@pytest.mark.parametrize("n", [64, 4096])
def test_sparse_u16_larger_than_dense_is_sent_dense(core, n) -> None:
    """PROTOCOL.md 2.1: a fully loaded frame asked for in sparse u16 goes out dense u16."""
    p = np.full(n, 4000, np.uint16)
    assert len(encode_pressure_payload(p, "sparse")[1]) == 2 * n
    assert encode_pressure_payload(p, "sparse")[0] == Encoding.DENSE16
    p[::2] = 0  # half loaded: sparse u16 is smaller, and kept
    assert encode_pressure_payload(p, "sparse")[0] == Encoding.SPARSE16
    for fill in (p, np.full(n, 4000, np.uint16)):
        kwargs = {
            "device_id": 1,
            "foot": 0,
            "seq": 1,
            "t_device_us": 1,
            "pressure_counts": fill,
            "shear_centi_kpa": np.zeros((5, 3), np.int16),
            "encoding": "sparse",
        }
        assert core.encode_data_frame(**kwargs) == encode_data_frame(**kwargs)


def test_info_ack_control(core) -> None:
    info = DeviceInfo(1, 0xBEEF, 1, 500, 4096, 32, "plantar-fw 1.2.3", "plantar-ref", "cal-α")
    assert core.encode_info(info) == encode_info(info)
    full = DeviceInfo(1, 1, 0, 200, 170, 5, "x" * 16, "y" * 24, "z" * 24)
    assert core.encode_info(full) == encode_info(full)
    for cmd in (*Command, 0x00, 0x7F, 0xFF):
        for arg in (0, 1, 200, 500, 0xFFFF):
            control = core.encode_control(int(cmd), arg)
            assert control == encode_control(int(cmd), arg)
            assert core.decode_control(control) == (int(cmd), arg)
            for status in AckStatus:
                assert core.encode_ack(int(cmd), int(status), arg) == encode_ack(cmd, status, arg)
    assert core.encode_control(3, 500).hex(" ") == "03 01 03 f4 01 de 40 af 3c"


def _packable_streams(core, rng: np.random.Generator) -> list[list[bytes]]:
    streams = []
    for n, fill, count in ((170, 0.5, 40), (256, 0.0, 30), (1024, 0.9, 6), (4096, 1.0, 2)):
        frames = []
        for i in range(count):
            p = rng.integers(1, 4096, n).astype(np.uint16)
            p[rng.random(n) >= fill * rng.random()] = 0
            message = core.encode_data_frame(
                device_id=1, foot=0, seq=i, t_device_us=i, pressure_counts=p, shear_centi_kpa=None
            )
            frames.append(core.frame_message(message))
            if i % 7 == 0:
                frames.append(frame_message(encode_ack(1, 0)))
        streams.append(frames)
    return streams


@pytest.mark.parametrize("att_mtu", [23, 24, 64, 185, 247, 251, 512, 517])
def test_packer_equals_pack_notifications(core, att_mtu) -> None:
    rng = np.random.default_rng(att_mtu)
    for frames in _packable_streams(core, rng):
        start = int(rng.integers(0, 256))
        expected = pack_notifications(b"".join(frames), att_mtu, start_counter=start)
        assert core.pack_notifications(frames, att_mtu, start_counter=start) == expected
        assert core.pack_notifications(b"".join(frames), att_mtu, start_counter=start) == expected
        assert all(len(v) <= att_mtu - 3 for v in expected)


def test_packer_rejects_bad_mtu(core) -> None:
    for mtu in (0, 22, 518):
        with pytest.raises(CoreCallError):
            core.pack_notifications([b"\x01\x00"], mtu)


def test_decode_control_matches_python_on_mutations(core) -> None:
    """The C CONTROL decoder accepts exactly what the Python decoder accepts (an unknown
    command byte is accepted by the device, which then ACKs it with UNKNOWN_COMMAND)."""
    rng = np.random.default_rng(5)
    base = [encode_control(c, a) for c in (1, 2, 3, 4, 0x42) for a in (0, 200, 0xFFFF)]
    base += [encode_ack(1, 0), encode_info(DeviceInfo(1, 1, 0, 200, 8, 0, "f", "l", "c"))]
    for _ in range(20_000):
        message = bytearray(base[int(rng.integers(len(base)))])
        kind = int(rng.integers(4))
        if kind == 0:
            message[int(rng.integers(len(message)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            del message[int(rng.integers(len(message))) :]
        elif kind == 2:
            message[int(rng.integers(3))] = int(rng.integers(256))
            message[-4:] = zlib.crc32(bytes(message[:-4])).to_bytes(4, "little")
        else:
            message += bytes(rng.integers(0, 256, int(rng.integers(1, 4)), dtype=np.uint8))
        try:
            got = core.decode_control(bytes(message))
        except CoreCallError:
            got = None
        assert got == python_control(bytes(message)), message.hex()


def test_cobs_decoder_matches_python(core) -> None:
    rng = np.random.default_rng(11)
    for _ in range(5000):
        if rng.random() < 0.5:
            segment = bytes(rng.integers(1, 256, int(rng.integers(0, 600)), dtype=np.uint8))
        else:
            message = bytes(rng.integers(0, 3, int(rng.integers(0, 600)), dtype=np.uint8))
            segment = bytearray(cobs_encode(message))
            if segment and rng.random() < 0.5:
                segment[int(rng.integers(len(segment)))] = int(rng.integers(1, 256))
            segment = bytes(segment)
        try:
            want = cobs_decode(segment)
        except ValueError:
            want = None
        try:
            got = core.cobs_decode(segment)
        except CoreCallError:
            got = None
        assert got == want
