"""``plantar sim --firmware-core``: the simulator's frames encoded by the C core.

The C-encoded stream must be byte-identical to the Python-encoded one for the same seed,
in process and end to end: the CLI serving C-encoded bytes on pseudo-terminals, read raw
(left foot) and through the bridge's serial transport when it exists (right foot), and
decoded by ``firmware_bridge.stream_decoder.StreamDecoder``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import select
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from base.wire.cobs import CobsError, cobs_decode
from firmware_bridge.stream_decoder import StreamDecoder
from hardware.sim import Imperfections, SimulatedInsole, make_pair
from plantar.cli import build_parser
from plantar.sim_command import _build_insoles

SIM_ARGS = ["sim", "--ideal", "--seed", "5", "--feet", "both"]
DURATION = ["--duration", "4"]


def test_same_seed_same_bytes_in_process(core) -> None:
    """Default imperfections (noise, dead sensels, lost frames, INFO every second)."""
    from hardware.firmware_core import FirmwareCoreInsole, use_firmware_core

    python_pair = make_pair("plantar-ref", seed=3)
    c_pair = use_firmware_core(make_pair("plantar-ref", seed=3), core)
    for py, c in zip(python_pair, c_pair, strict=True):
        assert isinstance(c, FirmwareCoreInsole)
        for n in (1, 37, 400, 262):  # ~3.5 s in uneven blocks
            assert c.encoded(n) == py.encoded(n)
    dense_py = make_pair("plantar-dense", seed=4, imperfections=Imperfections(loss_probability=0.1))
    dense_c = use_firmware_core(
        make_pair("plantar-dense", seed=4, imperfections=Imperfections(loss_probability=0.1))
    )
    assert dense_c[1].encoded(150) == dense_py[1].encoded(150)
    direct = FirmwareCoreInsole(python_pair[0].layout, foot="left", seed=9, core=core)
    plain = SimulatedInsole(python_pair[0].layout, foot="left", seed=9)
    assert direct.encoded(50) == plain.encoded(50)


def _data_messages(stream: bytes) -> dict[int, bytes]:
    """Complete DATA messages of a stream keyed by seq (the first piece may be partial)."""
    out = {}
    for piece in stream.split(b"\x00")[1:-1]:
        try:
            message = cobs_decode(piece)
        except CobsError:
            continue
        if message[:1] == b"\x01" and len(message) > 20:
            out[int.from_bytes(message[5:9], "little")] = message
    return out


def _read_raw(path: str, seconds: float) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    chunks = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunks.append(os.read(fd, 65536))
                except OSError:
                    break
    finally:
        os.close(fd)
    return b"".join(chunks)


async def _read_transport(url: str, seconds: float) -> bytes:
    from firmware_bridge.transport import open_transport

    transport = open_transport(url)
    await transport.open()
    chunks = []
    try:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(transport.read(), left)
            except TimeoutError:
                break
            chunks.append(chunk.data)
    finally:
        await transport.close()
    return b"".join(chunks)


@pytest.mark.skipif(sys.platform != "linux", reason="pseudo-terminals: Linux")
def test_cli_firmware_core_on_pty_matches_python_run(core, tmp_path) -> None:
    reference = _build_insoles(build_parser().parse_args(SIM_ARGS))
    ref_streams = {ins.foot: ins.encoded(1000) for ins in reference}  # 5 s of samples
    layout = reference[0].layout
    StreamDecoder(layout.n_sensels, layout.n_shear).feed(ref_streams["left"][:2000])  # compile
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", *SIM_ARGS, "--firmware-core", "--json", *DURATION],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        devices = json.loads(line)["devices"]
        got: dict[str, bytes] = {}
        left = threading.Thread(
            target=lambda: got.setdefault("left", _read_raw(devices["left"], 1.5))
        )
        left.start()  # both feet at once, well inside the simulator's --duration
        if importlib.util.find_spec("firmware_bridge.transports.serial") is not None:
            url = f"serial://{devices['right']}"
            got["right"] = asyncio.run(_read_transport(url, 1.5))
        else:
            got["right"] = _read_raw(devices["right"], 1.5)
        left.join()
    finally:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    for foot, stream in got.items():
        ref = _data_messages(ref_streams[foot])
        c_messages = _data_messages(stream)
        assert len(c_messages) >= 100, foot  # ~real time at 200 Hz
        for seq, message in c_messages.items():
            assert message == ref[seq], (foot, seq)
        decoder = StreamDecoder(layout.n_sensels, layout.n_shear)
        batch = decoder.feed(stream)
        assert decoder.stats.rejected == 0 and len(batch) >= len(c_messages)
        ref_batch = StreamDecoder(layout.n_sensels, layout.n_shear, synced=True).feed(
            ref_streams[foot]
        )
        rows = np.searchsorted(ref_batch.seq, batch.seq)
        assert np.array_equal(ref_batch.seq[rows], batch.seq)
        assert np.array_equal(ref_batch.pressure_counts[rows], batch.pressure_counts)
        assert np.array_equal(ref_batch.shear_centi_kpa[rows], batch.shear_centi_kpa)
        assert np.array_equal(ref_batch.t_device_us[rows], batch.t_device_us)
    assert json.loads(out.splitlines()[-1])["frames_sent"]["left"] > 300
