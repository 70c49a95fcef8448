"""The firmware core under AddressSanitizer + UBSan and under valgrind memcheck.

The core runs inside the test driver ``hardware/firmware/host/plantar_host_main.c``
(a plain executable, so no Python interpreter sits between the sanitizer and the core).
Each mode's output is also checked against the Python codec, so these are cross-checks
as well: random frames (encode), the BLE packer (pack), the fuzz corpus of the Python
decoder plus CONTROL mutations through the C COBS and CONTROL decoders (segments, rx),
and a whole device with a synthetic ADC behind the packer (device).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from base.wire.ble_packing import NotificationReassembler, pack_notifications
from base.wire.cobs import CobsError, cobs_decode, frame_message
from base.wire.messages import Ack, DeviceInfo
from base.wire.payload import encode_data_frame
from base.wire.protocol import AckStatus
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from tests.firmware.random_frames import control_fuzz_stream, python_control, random_frames
from tests.firmware_bridge.test_fuzz import build_fuzz_stream

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=98",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full"]
VALGRIND += ["--errors-for-leak-kinds=definite,indirect"]


@pytest.fixture(scope="module", params=["asan", "valgrind"])
def runner(request, core):
    """(run(args, stdin) -> stdout, scale): the driver under ASan+UBSan or valgrind."""
    from hardware.firmware_core import build_driver, sanitizers_available

    if request.param == "asan":
        reason = sanitizers_available()
        if reason:
            pytest.skip(f"AddressSanitizer unavailable: {reason}")
        exe = build_driver("asan")
        prefix: list[str] = []
        scale = 1.0
    else:
        if shutil.which("valgrind") is None:
            pytest.skip("valgrind not installed (Debian package: valgrind)")
        exe = build_driver("plain")
        prefix = VALGRIND
        scale = 0.15  # valgrind runs the core ~30x slower

    def run(args: list[str], stdin: bytes) -> bytes:
        proc = subprocess.run(
            [*prefix, str(exe), *args],
            input=stdin,
            capture_output=True,
            env={**os.environ, **SANITIZER_ENV},
            timeout=120,
        )
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 0, f"{request.param} {args[0]}: rc {proc.returncode}\n{err}"
        assert "ERROR" not in err and "runtime error" not in err, err
        return proc.stdout

    return run, scale


def _read_notifications(out: bytes) -> list[bytes]:
    values, i = [], 0
    while i < len(out):
        n = int.from_bytes(out[i : i + 2], "little")
        values.append(out[i + 2 : i + 2 + n])
        i += 2 + n
    return values


def test_encode_random_frames(runner) -> None:
    run, scale = runner
    frames = random_frames(np.random.default_rng(77), int(10_000 * scale))
    out = run(["encode"], b"".join(f.driver_record() for f in frames))
    i = equal = 0
    for frame in frames:
        n = int.from_bytes(out[i : i + 4], "little", signed=True)
        i += 4
        try:
            expected = frame_message(encode_data_frame(**frame.kwargs()))
        except ValueError:
            expected = None
        if n < 0:
            assert expected is None or len(expected) > 8408
            continue
        assert out[i : i + n] == expected
        i += n
        equal += 1
    assert i == len(out) and equal >= 0.9 * len(frames)


def test_pack(runner, core) -> None:
    run, scale = runner
    rng = np.random.default_rng(4)
    frames = []
    for i in range(int(400 * scale) + 20):
        n = int(rng.choice([170, 256, 1024, 4096], p=[0.4, 0.4, 0.15, 0.05]))
        p = rng.integers(1, 4096, n).astype(np.uint16)
        p[rng.random(n) >= rng.random()] = 0
        message = core.encode_data_frame(
            device_id=1, foot=0, seq=i, t_device_us=i, pressure_counts=p, shear_centi_kpa=None
        )
        frames.append(core.frame_message(message))
    stream = b"".join(frames)
    for mtu, start in ((23, 0), (247, 255), (517, 7)):
        got = _read_notifications(run(["pack", str(mtu), str(start)], stream))
        assert got == pack_notifications(stream, mtu, start_counter=start)


def _fuzz_streams(scale: float) -> list[bytes]:
    rng = np.random.default_rng(31)
    units = int(6000 * scale) + 100
    streams = [build_fuzz_stream(rng, units, n, k).stream for n, k in ((256, 5), (13, 0))]
    return [*streams, control_fuzz_stream(rng, 2 * units)]


def test_segments_cobs_and_control_decoders(runner) -> None:
    """Every 0x00-delimited piece of the fuzz corpus through the C COBS decoder and the
    CONTROL decoder, each piece in an exact-size heap buffer."""
    run, scale = runner
    for stream in _fuzz_streams(scale):
        pieces = [p for p in stream.split(b"\x00") if len(p) <= 9000]
        records = b"".join(len(p).to_bytes(4, "little") + p for p in pieces)
        out = run(["segments"], records)
        i = 0
        for piece in pieces:
            n = int.from_bytes(out[i : i + 4], "little", signed=True)
            i += 4
            try:
                want = cobs_decode(piece)
            except CobsError:
                want = None
            got = None
            if n >= 0:
                got = out[i : i + n]
                i += n
            assert got == want
            rc = int.from_bytes(out[i : i + 4], "little", signed=True)
            cmd, arg = out[i + 4], int.from_bytes(out[i + 5 : i + 7], "little")
            i += 7
            expected = python_control(want) if want is not None else None
            assert ((cmd, arg) if rc == 0 else None) == expected
        assert i == len(out)


def test_rx_stream(runner) -> None:
    """The serial CONTROL receiver over the fuzz corpus: exactly the valid CONTROLs."""
    run, scale = runner
    for stream in _fuzz_streams(scale):
        out = run(["rx"], stream)
        accepted = [
            (out[i], int.from_bytes(out[i + 1 : i + 3], "little"))
            for i in range(0, len(out) - 8, 3)
        ]
        expected = []
        pieces = stream.split(b"\x00")[:-1]  # the last piece is unterminated
        for piece in pieces:
            if not piece:
                continue
            try:
                want = python_control(cobs_decode(piece))
            except CobsError:
                want = None
            if want is not None:
                expected.append(want)
        assert accepted == expected
        frames = int.from_bytes(out[-8:-4], "little")
        rejected = int.from_bytes(out[-4:], "little")
        assert frames == sum(1 for p in pieces if p) and rejected == frames - len(expected)


@pytest.mark.parametrize("by_row", [[], ["row"]], ids=["read_column", "read_row"])
def test_device_through_packer(runner, by_row) -> None:
    """A whole device (synthetic 16x16 matrix, 255 sensels, 5 shear sites) driven by
    CONTROL messages, sampling at a fixed rate through the BLE packer."""
    run, scale = runner
    n_samples = int(2000 * scale) + 100
    values = _read_notifications(run(["device", str(n_samples), "247", *by_row], b""))
    reassembler = NotificationReassembler()
    decoder = StreamDecoder(255, 5, synced=True)
    batch = decoder.feed(b"".join(reassembler.push(v).data for v in values))
    assert reassembler.gaps == 0 and values[0][0] == 200
    assert decoder.stats.rejected == 0 and len(batch) == n_samples
    seq = unwrap_seq(batch.seq)
    assert np.all(np.diff(seq) == 1) and batch.seq[0] == 0xFFFFFFF0
    assert (batch.foot == 1).all() and (batch.device_id == 0x0102).all()
    loaded = (batch.pressure_counts > 0).mean(axis=1)
    assert loaded.max() > 0.3 and loaded.min() == 0.0  # stance and swing frames
    messages = decoder.pop_messages()
    acks = [(m.command, m.status, m.argument) for m in messages if isinstance(m, Ack)]
    assert acks == [(1, AckStatus.OK, 0), (3, AckStatus.OK, 250), (0x7F, 1, 9)]
    rates = [m.sampling_rate_hz for m in messages if isinstance(m, DeviceInfo)]
    assert rates[0] == 200 and rates[-1] == 250


def test_driver_sources_exist() -> None:
    from hardware.firmware_core import FIRMWARE_DIR

    assert Path(FIRMWARE_DIR, "host", "plantar_host_main.c").is_file()
