"""``plantar sim`` end to end: device paths printed, real protocol bytes on the pty."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import numpy as np
import pytest

from firmware_bridge.stream_decoder import StreamDecoder
from hardware.layout import load_layout

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="pseudo-terminals: Linux")


def _read_for(fd: int, seconds: float) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunks.append(os.read(fd, 65536))
            except OSError:
                break
    return b"".join(chunks)


def test_sim_prints_paths_and_streams_decodable_frames(tmp_path) -> None:
    truth = tmp_path / "truth.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plantar.cli",
            "sim",
            "--json",
            "--duration",
            "3",
            "--ideal",
            "--ground-truth",
            str(truth),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        devices = json.loads(proc.stdout.readline())["devices"]
        assert set(devices) == {"left", "right"}
        n = load_layout("plantar-ref").n_sensels
        decoder = StreamDecoder(n_sensels=n, n_shear=5)
        decoder.feed(b"")  # compile before reading in real time
        fd = os.open(devices["left"], os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            batch = decoder.feed(_read_for(fd, 1.5))
        finally:
            os.close(fd)
        summary = json.loads(proc.stdout.readline())
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        proc.kill()
    # 1.5 s at 200 Hz: about 300 frames, from the left insole only. Before the port was
    # opened the device dropped what its transmit buffer could not hold (one gap at most,
    # like a real device on a stalled USB host); once read, frames are consecutive.
    assert len(batch) > 200
    assert set(batch.foot.tolist()) == {0}
    step = np.diff(batch.seq.astype("int64"))
    assert (step >= 1).all()
    assert np.count_nonzero(step > 1) <= 1
    assert (step[-200:] == 1).all()
    assert decoder.stats.crc_errors == 0
    steps = [json.loads(line) for line in truth.read_text().splitlines()]
    assert len(steps) >= 2 * 3
    assert summary["frames_sent"]["left"] >= 590


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "--rate must be > 0"),
        (["--layout", "no-such"], "unknown layout 'no-such'"),
        (["--duration", "-1"], "--duration must be > 0"),
        (["--cadence", "5"], "cadence"),
    ],
)
def test_sim_bad_input_is_one_line_error(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plantar.cli", "sim", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error:"), result.stderr
    assert message in lines[0]
