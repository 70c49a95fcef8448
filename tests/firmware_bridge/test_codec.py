"""Tests of the wire codec: encoder, numba stream decoder, BLE packing, helpers."""

from __future__ import annotations

import itertools
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.wire.ble_packing import NotificationReassembler, pack_notifications
from base.wire.cobs import CobsError, cobs_decode, cobs_encode, frame_message
from base.wire.crc import CRC32_CHECK, CRC32_TABLES, crc32
from base.wire.messages import (
    Ack,
    ControlCommand,
    DeviceInfo,
    ProtocolError,
    decode_message,
    encode_ack,
    encode_control,
    encode_info,
)
from base.wire.payload import encode_data_frame, encode_pressure_payload
from base.wire.protocol import (
    FOOT_LEFT,
    FOOT_RIGHT,
    INFO_SIZE,
    MAX_ENCODED_BYTES,
    AckStatus,
    Command,
    Encoding,
)
from firmware_bridge import decode_kernels as dk
from firmware_bridge.stream_decoder import FrameBatch, StreamDecoder, unwrap_seq
from tests.firmware_bridge.reference_decoder import ref_cobs_decode, ref_decode_stream

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "hardware" / "PROTOCOL.md"
ENCODINGS = ("dense", "sparse", "dense12", "sparse12", "auto")


def _frame(
    n: int,
    k: int,
    seq: int,
    pressure: np.ndarray | None = None,
    encoding: str = "auto",
    foot: int = FOOT_LEFT,
) -> bytes:
    counts = np.zeros(n, np.uint16) if pressure is None else pressure
    shear = np.arange(3 * k, dtype=np.int16).reshape(k, 3) - 4
    return encode_data_frame(
        device_id=0xBEEF,
        foot=foot,
        seq=seq,
        t_device_us=1_000 * seq,
        pressure_counts=counts,
        shear_centi_kpa=shear,
        encoding=encoding,
    )


def _assert_matches_reference(batch: FrameBatch, stream: bytes, n: int, k: int) -> None:
    ref = ref_decode_stream(stream, n, k, lenient_first=True)
    assert len(batch) == len(ref.frames)
    for row, frame in enumerate(ref.frames):
        assert batch.seq[row] == frame.seq
        assert batch.t_device_us[row] == frame.t_device_us
        assert batch.device_id[row] == frame.device_id
        assert batch.foot[row] == frame.foot
        assert batch.pressure_counts[row].tolist() == frame.pressure
        assert [tuple(s) for s in batch.shear_centi_kpa[row].tolist()] == frame.shear


# --------------------------------------------------------------------- CRC and COBS


def test_crc_check_value_and_kernel_agree_with_zlib() -> None:
    assert crc32(b"123456789") == CRC32_CHECK == 0xCBF43926
    rng = np.random.default_rng(1)
    for size in (0, 1, 3, 4, 5, 17, 566, 1031):
        data = rng.integers(0, 256, size, dtype=np.uint8)
        assert dk.crc32_kernel(data, 0, size, CRC32_TABLES) == zlib.crc32(data.tobytes())


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
        (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    ],
)
def test_cobs_known_vectors(raw: bytes, encoded: bytes) -> None:
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw
    assert ref_cobs_decode(encoded) == raw


def test_cobs_accepts_missing_final_01_block_and_rejects_overrun() -> None:
    assert cobs_decode(b"\xff" + bytes(range(1, 255))) == bytes(range(1, 255))
    with pytest.raises(CobsError):
        cobs_decode(b"\x05\x11")


@given(st.binary(max_size=2000))
def test_cobs_round_trip(raw: bytes) -> None:
    encoded = cobs_encode(raw)
    assert 0 not in encoded
    assert len(encoded) <= len(raw) + len(raw) // 254 + 1
    assert cobs_decode(encoded) == raw
    out = np.empty(len(encoded), np.uint8)
    m = dk.cobs_decode_kernel(np.frombuffer(encoded, np.uint8), 0, len(encoded), out)
    assert out[:m].tobytes() == raw


# --------------------------------------------------------------------- the document


def _doc_hex(name: str) -> bytes:
    text = PROTOCOL_MD.read_text()
    block = re.search(rf"<!-- {name} -->\s*```text\n(.*?)```", text, re.S)
    assert block is not None, f"block {name} missing from PROTOCOL.md"
    return bytes.fromhex(re.sub(r"[^0-9a-fA-F]", "", block.group(1)))


def test_worked_example_in_protocol_md_matches_encoder() -> None:
    pressure = np.zeros(10, np.uint16)
    pressure[[1, 9]] = (0x0123, 0x0200)
    message = encode_data_frame(
        device_id=0x0102,
        foot=FOOT_RIGHT,
        seq=0x00000005,
        t_device_us=0x000000012A05F200,
        pressure_counts=pressure,
        shear_centi_kpa=np.array([[-100, 250, 1234]], np.int16),
        encoding="sparse",
    )
    assert _doc_hex("example-message") == message
    assert _doc_hex("example-framed") == frame_message(message)


# ------------------------------------------------------------------ encode / decode


def test_all_zero_256_frame_costs_four_payload_bytes() -> None:
    encoding, payload = encode_pressure_payload(np.zeros(256, np.uint16))
    assert encoding == Encoding.SPARSE16
    assert payload == b"\x00" * 4
    assert len(_frame(256, 0, 1)) == 20 + 4 + 4


def test_auto_picks_the_smallest_encoding() -> None:
    rng = np.random.default_rng(2)
    for fill in (0.0, 0.05, 0.3, 0.6, 1.0):
        for high in (4095, 65535):
            p = rng.integers(1, high + 1, 300).astype(np.uint16)
            p[rng.random(300) >= fill] = 0
            sizes = []
            for name in ("dense", "sparse", "dense12", "sparse12"):
                if p.max() > 4095 and name.endswith("12"):
                    with pytest.raises(ValueError, match="4095"):
                        encode_pressure_payload(p, name)
                    continue
                sizes.append(len(encode_pressure_payload(p, name)[1]))
            assert len(encode_pressure_payload(p, "auto")[1]) == min(sizes)


def test_decoder_matches_input_for_every_encoding() -> None:
    rng = np.random.default_rng(3)
    n, k = 37, 2
    pressures = rng.integers(0, 4096, (len(ENCODINGS), n)).astype(np.uint16)
    pressures[:, ::3] = 0
    stream = b"".join(
        frame_message(_frame(n, k, i, pressures[i], enc, foot=i % 2))
        for i, enc in enumerate(ENCODINGS)
    )
    decoder = StreamDecoder(n, k)
    batch = decoder.feed(stream)
    assert np.array_equal(batch.pressure_counts, pressures)
    assert batch.seq.tolist() == list(range(len(ENCODINGS)))
    assert batch.foot.tolist() == [i % 2 for i in range(len(ENCODINGS))]
    assert batch.t_device_us.tolist() == [1000 * i for i in range(len(ENCODINGS))]
    assert (batch.device_id == 0xBEEF).all()
    assert batch.shear_centi_kpa[0, 1].tolist() == [-1, 0, 1]
    assert decoder.stats.frames_ok == len(ENCODINGS)
    assert decoder.stats.rejected == 0


pressure_layouts = st.tuples(st.integers(1, 1100), st.integers(0, 8))


@st.composite
def frames_strategy(draw: st.DrawFn) -> tuple[int, int, list[tuple[np.ndarray, np.ndarray, str]]]:
    n, k = draw(pressure_layouts)
    n_frames = draw(st.integers(1, 4))
    frames = []
    for _ in range(n_frames):
        fill = draw(st.sampled_from([0.0, 0.01, 0.4, 0.6, 1.0]))
        high = draw(st.sampled_from([1, 4095, 65535]))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        p = rng.integers(1, high + 1, n).astype(np.uint16)
        p[rng.random(n) >= fill] = 0
        if draw(st.booleans()):
            p[rng.integers(0, n)] = high  # max values
        shear = rng.integers(-32768, 32768, (k, 3)).astype(np.int16)
        encoding = draw(st.sampled_from(ENCODINGS if high <= 4095 else ("dense", "sparse", "auto")))
        frames.append((p, shear, encoding))
    return n, k, frames


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames_strategy(), st.lists(st.integers(1, 4000), max_size=8), st.integers(0, 2**32 - 1))
def test_round_trip_property(
    case: tuple[int, int, list[tuple[np.ndarray, np.ndarray, str]]],
    cuts: list[int],
    seq0: int,
) -> None:
    n, k, frames = case
    messages = [
        encode_data_frame(
            device_id=i,
            foot=i % 2,
            seq=seq0 + i,
            t_device_us=2**64 - 1 - i,
            pressure_counts=p,
            shear_centi_kpa=s,
            encoding=enc,
        )
        for i, (p, s, enc) in enumerate(frames)
    ]
    stream = b"".join(frame_message(m) for m in messages)
    whole = StreamDecoder(n, k).feed(stream)
    assert np.array_equal(whole.pressure_counts, np.stack([p for p, _, _ in frames]))
    assert np.array_equal(whole.shear_centi_kpa, np.stack([s for _, s, _ in frames]))
    assert whole.seq.tolist() == [(seq0 + i) % 2**32 for i in range(len(frames))]
    assert whole.t_device_us.tolist() == [2**64 - 1 - i for i in range(len(frames))]
    _assert_matches_reference(whole, stream, n, k)
    # arbitrary chunking of the stream gives identical results
    bounds = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    decoder = StreamDecoder(n, k, max_frames=1)
    parts = [decoder.feed(stream[a:b]) for a, b in itertools.pairwise(bounds)]
    chunked = FrameBatch.concatenate(parts)
    for name in ("device_id", "foot", "seq", "t_device_us", "pressure_counts", "shear_centi_kpa"):
        assert np.array_equal(getattr(chunked, name), getattr(whole, name)), name
    assert decoder.stats.frames_ok == len(frames)
    assert decoder.buffered_bytes == 0


def test_feed_with_more_frames_than_max_frames_drops_nothing() -> None:
    decoder = StreamDecoder(16, 0, max_frames=2)
    stream = b"".join(frame_message(_frame(16, 0, i)) for i in range(1000))
    assert decoder.feed(stream).seq.tolist() == list(range(1000))
    # the next feed of few frames does not return stale rows
    assert decoder.feed(frame_message(_frame(16, 0, 7))).seq.tolist() == [7]


def test_layout_mismatch_is_counted_with_the_seen_layout() -> None:
    decoder = StreamDecoder(256, 5)
    batch = decoder.feed(frame_message(_frame(99, 2, 1)) + frame_message(_frame(256, 5, 2)))
    assert batch.seq.tolist() == [2]
    stats = decoder.stats
    assert (stats.layout_mismatch, stats.last_mismatch_n_sensels, stats.last_mismatch_n_shear) == (
        1,
        99,
        2,
    )
    assert stats.crc_errors == stats.malformed == 0


def test_join_mid_stream_resyncs_without_counting_an_error() -> None:
    good = frame_message(_frame(64, 1, 1))
    decoder = StreamDecoder(64, 1)
    batch = decoder.feed(good[10:] + good + b"\x00" + good)
    assert batch.seq.tolist() == [1, 1]
    stats = decoder.stats
    assert stats.resync_discards == 1
    assert stats.crc_errors == stats.malformed == 0
    assert stats.empty_frames == 1
    # once synced, a damaged frame is an error
    assert len(decoder.feed(good[10:])) == 0
    assert decoder.stats.crc_errors + decoder.stats.cobs_errors == 1


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m[:1] + b"\x09" + m[2:], "bad_version"),
        (lambda m: b"\x07" + m[1:], "bad_type"),
        (lambda m: m[:2] + bytes([m[2] | 0x80]) + m[3:], "bad_flags"),
        (lambda m: m + b"\x01\x02", "length_mismatch"),
        (lambda m: m[:20] + b"\xff" + m[21:], "bad_payload"),  # group bits beyond G
        (lambda m: m[:10], "too_short"),
    ],
)
def test_rejection_reasons(mutate: object, reason: str) -> None:
    p = np.zeros(12, np.uint16)
    p[3] = 5
    body = _frame(12, 1, 1, p, "sparse")[:-4]
    assert callable(mutate)
    bad = mutate(body)
    bad += zlib.crc32(bad).to_bytes(4, "little")
    decoder = StreamDecoder(12, 1, synced=True)
    assert len(decoder.feed(frame_message(bad) + frame_message(_frame(12, 1, 2)))) == 1
    stats = decoder.stats
    assert getattr(stats, reason) == 1
    assert stats.rejected == 1
    assert stats.bytes_discarded == len(cobs_encode(bad))


def test_crc_error_and_oversize_partial_are_counted() -> None:
    good = _frame(8, 0, 1)
    decoder = StreamDecoder(8, 0, synced=True)
    damaged = bytearray(good)
    damaged[22] ^= 0x10
    decoder.feed(frame_message(bytes(damaged)))
    assert decoder.stats.crc_errors == 1
    decoder.feed(b"\x01" * (MAX_ENCODED_BYTES + 10))
    assert decoder.buffered_bytes == 0
    assert decoder.stats.oversize == 1
    batch = decoder.feed(b"\x01" * 50 + b"\x00" + frame_message(good))
    assert batch.seq.tolist() == [1]


# ------------------------------------------------------------------ INFO / CONTROL


def test_info_control_ack_round_trip_in_stream() -> None:
    info = DeviceInfo(1, 0x1234, FOOT_RIGHT, 200, 256, 5, "1.2.3", "plantar-ref", "cal-2024-01")
    message = encode_info(info)
    assert len(message) == INFO_SIZE
    assert decode_message(message) == info
    assert decode_message(encode_control(Command.SET_RATE, 500)) == ControlCommand(
        Command.SET_RATE, 500
    )
    assert decode_message(encode_ack(Command.START, AckStatus.BUSY)) == Ack(1, AckStatus.BUSY, 0)
    decoder = StreamDecoder(256, 5)
    stream = frame_message(message) + frame_message(_frame(256, 5, 3))
    stream += frame_message(encode_control(Command.STOP))
    assert len(decoder.feed(stream)) == 1
    assert decoder.last_info == info
    assert decoder.infos == [info]
    assert decoder.pop_messages() == [info, ControlCommand(Command.STOP)]
    assert decoder.messages == []
    assert decoder.stats.messages_ok == 2


def test_bad_messages_raise_protocol_error_and_are_counted_in_stream() -> None:
    with pytest.raises(ProtocolError, match="CRC"):
        decode_message(encode_control(Command.START)[:-1] + b"\x00")
    bad = encode_control(0x7F)
    with pytest.raises(ProtocolError, match="unknown CONTROL"):
        decode_message(bad)
    decoder = StreamDecoder(4, 0)
    decoder.feed(frame_message(bad))
    assert decoder.stats.bad_payload == 1
    assert decoder.stats.messages_ok == 0
    with pytest.raises(ValueError, match="longer than 16"):
        encode_info(DeviceInfo(1, 1, 0, 100, 4, 0, "x" * 17, "a", "b"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pressure_counts": np.zeros(0, np.uint16)},
        {"pressure_counts": np.full(4, 70000)},
        {"pressure_counts": np.zeros((2, 2), np.uint16)},
        {"shear_centi_kpa": np.zeros((2, 2), np.int16)},
        {"foot": 2},
    ],
)
def test_encoder_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "device_id": 1,
        "foot": 0,
        "seq": 0,
        "t_device_us": 0,
        "pressure_counts": np.zeros(4, np.uint16),
        "shear_centi_kpa": None,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        encode_data_frame(**args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ BLE


@pytest.mark.parametrize("att_mtu", [23, 64, 185, 247, 517])
def test_notifications_round_trip(att_mtu: int) -> None:
    rng = np.random.default_rng(att_mtu)
    messages = []
    for i in range(60):
        p = rng.integers(0, 4096, 256).astype(np.uint16)
        p[rng.random(256) < rng.random()] = 0
        messages.append(_frame(256, 5, i, p))
    payloads = pack_notifications(messages, att_mtu, start_counter=250)
    assert all(2 <= len(pl) <= att_mtu - 3 for pl in payloads)
    assert [pl[0] for pl in payloads[:8]] == [250, 251, 252, 253, 254, 255, 0, 1]
    stream = b"".join(frame_message(m) for m in messages)
    assert pack_notifications(stream, att_mtu, start_counter=250) == payloads
    assert b"".join(pl[1:] for pl in payloads) == stream
    # a frame that fits a notification is never split across two
    capacity = att_mtu - 4
    payload_ends = np.cumsum([len(pl) - 1 for pl in payloads])
    frame_ends = np.cumsum([len(frame_message(m)) for m in messages])
    for start, end in zip(np.r_[0, frame_ends[:-1]], frame_ends, strict=True):
        if end - start <= capacity:
            first = np.searchsorted(payload_ends, start, side="right")
            assert end <= payload_ends[first]
    reassembler = NotificationReassembler()
    decoder = StreamDecoder(256, 5)
    batches = []
    for pl in payloads:
        chunk = reassembler.push(pl)
        batches.append(decoder.feed(chunk.data, discard_partial=chunk.gap))
    assert FrameBatch.concatenate(batches).seq.tolist() == list(range(60))
    assert reassembler.lost_notifications == reassembler.gaps == 0


def test_notification_gap_discards_partial_and_counts_lost() -> None:
    messages = [_frame(256, 0, i, np.full(256, 1000 + i, np.uint16)) for i in range(20)]
    payloads = pack_notifications(messages, 185)
    kept = payloads[:3] + payloads[6:]  # lose notifications 3, 4, 5
    reassembler = NotificationReassembler()
    decoder = StreamDecoder(256, 0)
    seqs: list[int] = []
    for pl in kept:
        chunk = reassembler.push(pl)
        seqs += decoder.feed(chunk.data, discard_partial=chunk.gap).seq.tolist()
    assert reassembler.lost_notifications == 3
    assert reassembler.gaps == 1
    lost_bytes = sum(len(pl) - 1 for pl in payloads[3:6])
    assert 1 <= 20 - len(seqs) <= lost_bytes // 400 + 2
    assert seqs == sorted(seqs)
    assert seqs[-1] == 19
    stats = decoder.stats
    assert stats.crc_errors == stats.malformed == 0
    assert stats.resync_discards >= 1


# --------------------------------------------------------------------------- seq


def test_unwrap_seq() -> None:
    seq = np.array([2**32 - 2, 2**32 - 1, 0, 1, 5], np.uint32)
    assert unwrap_seq(seq).tolist() == [2**32 - 2, 2**32 - 1, 2**32, 2**32 + 1, 2**32 + 5]
    assert unwrap_seq(np.array([0, 1], np.uint32), last=2**32 - 1).tolist() == [2**32, 2**32 + 1]
    assert unwrap_seq(np.array([3, 2], np.uint32), last=10 * 2**32 + 4).tolist() == [
        10 * 2**32 + 3,
        10 * 2**32 + 2,
    ]
    assert unwrap_seq(np.array([], np.uint32)).dtype == np.int64
