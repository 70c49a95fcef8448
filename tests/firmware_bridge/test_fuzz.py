"""Fuzz test of the stream decoder: mutated and truncated frames, each followed by a good one.

Every unit of the fuzz stream is ``corrupted bytes + 0x00 + good marker frame``. The
decoder must not crash or hang, must reject every corrupted frame whose CRC was not
fixed up, must decode every marker (it resynchronises on the next 0x00), must account
for every 0x00-terminated segment, and must agree with the plain-Python reference
decoder frame by frame and reason by reason. ``scripts/fuzz_codec.py`` runs the same
generator for 10^6+ units.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from base.wire.cobs import cobs_decode, cobs_encode, frame_message
from base.wire.messages import DeviceInfo, encode_ack, encode_control, encode_info
from base.wire.payload import encode_data_frame
from firmware_bridge.stream_decoder import FrameBatch, StreamDecoder
from tests.firmware_bridge.reference_decoder import ref_decode_stream

RAW_SEQ = 0x8000_0000  # seq of pool frames mutated without CRC fix-up
FIXED_SEQ = 0xC000_0000  # seq of pool frames mutated with CRC fix-up
MARKER_PRESSURE_AT = (0, 3)  # sensels set to 4095 in marker frames
N_RAW_KINDS = 8
N_FIXED_KINDS = 6


@dataclass
class FuzzCase:
    """A fuzz stream and what the decoder must find in it."""

    stream: bytes
    n_sensels: int
    n_shear: int
    n_units: int
    n_raw_units: int  # corrupted without CRC fix-up: must all be rejected


def _pool(rng: np.random.Generator, n: int, k: int, seq_base: int) -> list[bytes]:
    """Valid messages to mutate: every encoding, sparsity, other layouts, INFO/CONTROL/ACK."""
    pool = []
    for j, (fill, enc) in enumerate(
        (f, e)
        for f in (0.0, 0.02, 0.5, 1.0)
        for e in ("dense", "sparse", "dense12", "sparse12", "auto")
    ):
        p = rng.integers(1, 4096, n).astype(np.uint16)
        p[rng.random(n) >= fill] = 0
        shear = rng.integers(-32768, 32768, (k, 3)).astype(np.int16)
        pool.append(_data(p, shear, seq_base + j, enc))
    pool.append(_data(np.ones(n + 1, np.uint16), None, seq_base + 99, "sparse"))
    pool.append(encode_info(DeviceInfo(1, 7, 1, 200, n, k, "1.0", "plantar-ref", "c")))
    pool.append(encode_control(3, 200))
    pool.append(encode_ack(1, 0))
    return pool


def _data(p: np.ndarray, shear: np.ndarray | None, seq: int, encoding: str) -> bytes:
    return encode_data_frame(
        device_id=3,
        foot=seq & 1,
        seq=seq,
        t_device_us=seq * 2500,
        pressure_counts=p,
        shear_centi_kpa=shear,
        encoding=encoding,
    )


def _mutate_raw(rng: np.random.Generator, encoded: bytes, kind: int) -> bytes:
    """Corrupt COBS-encoded bytes (the CRC no longer matches)."""
    b = bytearray(encoded)
    size = len(b)
    if kind == 0:  # flip 1..3 bits
        for at in rng.choice(size, min(size, int(rng.integers(1, 4))), replace=False):
            b[int(at)] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncate
        del b[int(rng.integers(1, size)) :]
    elif kind == 2:  # drop one byte
        del b[int(rng.integers(size))]
    elif kind == 3:  # insert one byte
        b.insert(int(rng.integers(size + 1)), int(rng.integers(1, 256)))
    elif kind == 4:  # an early 0x00 splits the frame
        b[int(rng.integers(1, size))] = 0
    elif kind == 5:  # random garbage
        b = bytearray(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
        b[0] = b[0] or 1
    elif kind == 6:  # keep only the tail (as when joining mid-frame)
        b = b[int(rng.integers(1, size)) :]
    else:  # burst overwrite
        start = int(rng.integers(size))
        burst = rng.integers(1, 256, min(8, size - start), dtype=np.uint8).tobytes()
        b[start : start + len(burst)] = bytes(x ^ y for x, y in zip(b[start:], burst, strict=False))
    return bytes(b)


def _mutate_fixed(rng: np.random.Generator, message: bytes, kind: int) -> bytes:
    """Change the decoded message structurally, then recompute its CRC."""
    b = bytearray(message[:-4])
    size = len(b)
    if kind == 0:  # type or version byte
        b[int(rng.integers(2))] = int(rng.integers(256))
    elif kind == 1 and size > 20:  # flags: reserved bits, encoding, foot
        b[2] = int(rng.integers(256))
    elif kind == 2 and size > 20:  # n_sensels / n_shear
        b[17 + int(rng.integers(3))] = int(rng.integers(256))
    elif kind == 3:  # bytes in the payload (not the DATA header: seq tells units apart)
        low = 20 if b[0] == 1 and size > 20 else 2
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(low, size))] = int(rng.integers(256))
    elif kind == 4:  # shorter
        del b[int(rng.integers(2, size)) :]
    else:  # longer
        b += rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
    return bytes(b) + zlib.crc32(bytes(b)).to_bytes(4, "little")


def _marker(template: bytes, unit: int) -> bytes:
    """The all-zero-plus-two-values marker frame of ``unit``, framed."""
    b = bytearray(template[:-4])
    b[5:9] = unit.to_bytes(4, "little")
    body = bytes(b)
    return frame_message(body + zlib.crc32(body).to_bytes(4, "little"))


def build_fuzz_stream(
    rng: np.random.Generator, n_units: int, n_sensels: int, n_shear: int
) -> FuzzCase:
    """``n_units`` of ``corruption + 0x00 + marker``, ~1 in 4 with the CRC fixed up."""
    raw_pool = [cobs_encode(m) for m in _pool(rng, n_sensels, n_shear, RAW_SEQ)]
    fixed_pool = _pool(rng, n_sensels, n_shear, FIXED_SEQ)
    marker_p = np.zeros(n_sensels, np.uint16)
    marker_p[[i % n_sensels for i in MARKER_PRESSURE_AT]] = 4095
    template = _data(marker_p, np.ones((n_shear, 3), np.int16), 0, "sparse")
    parts = []
    n_raw = 0
    which = rng.integers(0, 1 << 30, n_units)
    for unit in range(n_units):
        w = int(which[unit])
        if w & 3:
            parts.append(
                _mutate_raw(rng, raw_pool[(w >> 2) % len(raw_pool)], (w >> 8) % N_RAW_KINDS)
            )
            n_raw += 1
        else:
            message = fixed_pool[(w >> 2) % len(fixed_pool)]
            parts.append(cobs_encode(_mutate_fixed(rng, message, (w >> 8) % N_FIXED_KINDS)))
        if w >> 20 == 0:  # ~1 in 1000: a frame longer than any valid one
            parts.append(bytes(rng.integers(1, 256, 9000, dtype=np.uint8)))
        parts.append(b"\x00")
        parts.append(_marker(template, unit))
    return FuzzCase(b"".join(parts), n_sensels, n_shear, n_units, n_raw)


def decode_in_chunks(case: FuzzCase, rng: np.random.Generator) -> tuple[FrameBatch, StreamDecoder]:
    """Feed the stream in random chunk sizes (1 byte .. 64 KiB)."""
    decoder = StreamDecoder(case.n_sensels, case.n_shear, synced=True)
    batches = []
    pos = 0
    while pos < len(case.stream):
        step = int(rng.integers(1, 65536)) if rng.random() < 0.9 else int(rng.integers(1, 64))
        batches.append(decoder.feed(case.stream[pos : pos + step]))
        pos += step
    return FrameBatch.concatenate(batches), decoder


def check_fuzz_case(case: FuzzCase, batch: FrameBatch, decoder: StreamDecoder) -> None:
    """Invariants every decode of a fuzz stream must satisfy."""
    stats = decoder.stats
    seq = batch.seq.astype(np.int64)
    markers = seq < RAW_SEQ
    # resynchronised after every corruption: every marker, in order, intact
    assert np.array_equal(seq[markers], np.arange(case.n_units)), "lost a good frame"
    marker_rows = batch.pressure_counts[markers]
    assert (marker_rows.sum(axis=1) == 4095 * len(set(MARKER_PRESSURE_AT))).all()
    # no frame corrupted without CRC fix-up was accepted
    assert not ((seq >= RAW_SEQ) & (seq < FIXED_SEQ)).any(), "accepted a corrupted frame"
    # every segment accounted for, every raw corruption rejected
    segments = case.stream.count(0)
    accounted = (
        stats.frames_ok
        + stats.messages_ok
        + stats.rejected
        + stats.resync_discards
        + stats.empty_frames
    )
    assert accounted == segments
    assert stats.rejected >= case.n_raw_units
    assert stats.frames_ok == len(batch)
    assert decoder.buffered_bytes == 0


def check_against_reference(case: FuzzCase, batch: FrameBatch, decoder: StreamDecoder) -> None:
    """Frame-by-frame and reason-by-reason agreement with the reference decoder."""
    ref = ref_decode_stream(case.stream, case.n_sensels, case.n_shear)
    assert [f.seq for f in ref.frames] == batch.seq.tolist()
    assert np.array_equal(
        np.array([f.pressure for f in ref.frames], np.uint16).reshape(len(batch), -1),
        batch.pressure_counts,
    )
    stats = decoder.stats
    for reason, count in ref.counts.items():
        assert getattr(stats, reason) == count, reason


def run_fuzz(seed: int, n_units: int, *, reference: bool = True) -> dict[str, int]:
    """Build, decode (chunked) and check two fuzz streams; returns the decoder stats."""
    rng = np.random.default_rng(seed)
    totals: dict[str, int] = {}
    for n_sensels, n_shear in ((256, 5), (13, 0)):
        units = n_units // 2
        case = build_fuzz_stream(rng, units, n_sensels, n_shear)
        batch, decoder = decode_in_chunks(case, rng)
        check_fuzz_case(case, batch, decoder)
        if reference:
            check_against_reference(case, batch, decoder)
        for name, value in vars(decoder.stats).items():
            totals[name] = totals.get(name, 0) + value
        totals["units"] = totals.get("units", 0) + units
        totals["stream_bytes"] = totals.get("stream_bytes", 0) + len(case.stream)
    return totals


def test_cobs_pool_round_trips() -> None:
    rng = np.random.default_rng(0)
    for message in _pool(rng, 40, 2, RAW_SEQ):
        assert cobs_decode(cobs_encode(message)) == message


def test_fuzz_100k_mutated_frames() -> None:
    totals = run_fuzz(seed=12345, n_units=100_000)
    assert totals["units"] == 100_000
    assert totals["frames_ok"] >= 100_000


def test_truncated_streams_never_crash() -> None:
    rng = np.random.default_rng(7)
    case = build_fuzz_stream(rng, 2000, 64, 2)
    for cut in rng.integers(0, len(case.stream), 200):
        decoder = StreamDecoder(64, 2)
        batch = decoder.feed(case.stream[: int(cut)])
        assert len(batch) == decoder.stats.frames_ok
        assert decoder.buffered_bytes <= len(case.stream)
