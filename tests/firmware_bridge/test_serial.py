"""serial:// against a simulated insole in another process on a real pseudo-terminal.

The device process (:mod:`hardware.sim.pty_process`) injects garbage, drops bytes and
"unplugs" (closes its pty, removes the path, comes back on a new pty at the same path).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from base.errors import DeviceError
from firmware_bridge.insole_stream import InsoleStream
from firmware_bridge.stream_decoder import StreamDecoder
from firmware_bridge.transport import LinkLost, Transport, open_transport
from firmware_bridge.transports.serial import UDEV_RULE, _open_error
from hardware.sim.pty_process import spawn
from tests.firmware_bridge.test_transport_contract import (
    RECONNECT_BAR_S,
    TransportContractTests,
    TransportHarness,
)

pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs pseudo-terminals")

REPO = Path(__file__).resolve().parents[2]


class DeviceProcess:
    """The simulated insole process; ``send()`` writes a command line to its stdin."""

    def __init__(self, link: Path, *extra: str) -> None:
        self.link = link
        self.proc = spawn(link, *extra)

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait_line(self, prefix: str, timeout_s: float = 10.0) -> str:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix!r} from the device process")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.proc.kill()
                self.proc.wait()


class SerialHarness(TransportHarness):
    """One device process shared by the contract tests of this module (it starts slowly)."""

    min_frames = 20
    shared: DeviceProcess | None = None
    awaiting_replug = False

    def __init__(self, tmp: Path, foot: str = "left") -> None:
        self.foot = foot
        self.tmp = tmp
        self.unplug_s = 0.6

    @property
    def device(self) -> DeviceProcess:
        assert SerialHarness.shared is not None
        return SerialHarness.shared

    async def start(self) -> None:
        if SerialHarness.shared is None:
            SerialHarness.shared = await asyncio.to_thread(
                DeviceProcess, self.tmp / f"plantar-{self.foot}", "--foot", self.foot, "--seed", "4"
            )
        if SerialHarness.awaiting_replug:  # a test left it unplugged: let it come back
            await self.restore_link()

    def make_transport(self) -> Transport:
        return open_transport(f"serial://{self.device.link}")

    async def drop_link(self) -> None:
        self.device.send(f"unplug {self.unplug_s}")
        SerialHarness.awaiting_replug = True

    async def restore_link(self) -> None:
        await asyncio.to_thread(self.device.wait_line, "replugged")
        SerialHarness.awaiting_replug = False

    async def lose_frames(self) -> None:
        self.device.send("drop 2500")  # several frames of 170 sensels


@pytest.fixture(scope="module", autouse=True)
def _stop_shared_device():
    yield
    if SerialHarness.shared is not None:
        SerialHarness.shared.stop()
        SerialHarness.shared = None


@pytest.fixture(scope="module", autouse=True)
def _compiled_decoder():
    """Compile the decoder's kernels before real-time reading starts."""
    from hardware.sim.insole import make_pair

    left = make_pair("plantar-ref")[0]
    StreamDecoder(left.layout.n_sensels, left.layout.n_shear).feed(left.encoded(4))


class TestSerialTransportContract(TransportContractTests):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp = tmp_path_factory.getbasetemp()

    def make_harness(self) -> TransportHarness:
        return SerialHarness(self.tmp)


@pytest.fixture
def device(tmp_path: Path):
    dev = DeviceProcess(tmp_path / "plantar-left", "--seed", "5")
    yield dev
    dev.stop()


async def _stream_for(stream: InsoleStream, seconds: float, during=None):
    """Run the stream for ``seconds``; ``during(t)`` is called once per batch."""
    seqs, events = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frames, new = await asyncio.wait_for(stream.next_batch(), 5.0)
        events += new
        if frames is not None:
            seqs.append(frames.seq)
        if during is not None:
            during(time.monotonic())
    return (np.concatenate(seqs) if seqs else np.empty(0, np.int64)), events


def test_garbage_and_dropped_bytes_are_counted_and_gaps_recorded(device: DeviceProcess) -> None:
    async def main():
        stream = InsoleStream(open_transport(f"serial://{device.link}"), settle_s=0)
        await stream.open()
        sent = []

        def inject(_t: float) -> None:
            if len(sent) < 6:
                device.send("garbage 300" if len(sent) % 2 == 0 else "drop 1500")
                sent.append(1)

        try:
            seq, _ = await _stream_for(stream, 1.5, inject)
        finally:
            await stream.close()
        return stream, seq

    stream, seq = asyncio.run(main())
    assert np.all(np.diff(seq) >= 1), "duplicated or misordered frames handed on"
    assert stream.stats.bad_frames >= 3  # garbage/torn frames rejected and counted
    assert stream.stats.gaps >= 1 and stream.stats.lost_frames >= 1
    assert int(np.sum(np.diff(seq) - 1)) == stream.stats.lost_frames  # every hole recorded
    assert all(e.lost_frames >= 1 for e in stream.gap_events)
    assert len(seq) > 150  # still streaming at ~200 Hz after all that


def test_unplug_replug_reconnects_within_bar_and_records_the_gap(device: DeviceProcess) -> None:
    async def main():
        stream = InsoleStream(open_transport(f"serial://{device.link}"), settle_s=0)
        await stream.open()
        try:
            before, _ = await _stream_for(stream, 0.3)
            device.send("unplug 1.0")
            t_replug: list[float] = []

            async def watch() -> None:
                await asyncio.to_thread(device.wait_line, "replugged")
                t_replug.append(time.monotonic())

            watcher = asyncio.create_task(watch())
            events = []
            after = []
            while not any(e.kind == "reconnected" for e in events):
                frames, new = await asyncio.wait_for(stream.next_batch(), 10.0)
                events += new
                if frames is not None:
                    before = np.concatenate([before, frames.seq])
            t_reconnected = time.monotonic()
            await watcher
            more, ev2 = await _stream_for(stream, 0.4)
            after.append(more)
            return stream, before, np.concatenate(after), events + ev2, t_replug[0], t_reconnected
        finally:
            await stream.close()

    stream, before, after, events, t_replug, t_reconnected = asyncio.run(main())
    kinds = [e.kind for e in events]
    assert "link_lost" in kinds and "reconnected" in kinds
    assert t_reconnected - t_replug <= RECONNECT_BAR_S
    print(f"reconnect {t_reconnected - t_replug:.3f} s after the device was back")
    seq = np.concatenate([before, after])
    assert np.all(np.diff(seq) >= 1)
    gaps = [e for e in events if e.kind == "gap"]
    assert gaps and gaps[-1].lost_frames >= 150  # ~1 s unplugged at 200 Hz
    assert gaps[-1].duration_s > 0.9
    assert stream.stats.reconnects == 1


# ----------------------------------------------------------------------------- errors


def test_absent_port_is_a_one_line_device_error(tmp_path: Path) -> None:
    transport = open_transport(f"serial://{tmp_path}/ttyACM9")
    with pytest.raises(DeviceError, match="not found") as err:
        asyncio.run(transport.open())
    assert "\n" not in str(err.value)


def test_busy_port_is_a_device_error(device: DeviceProcess) -> None:
    async def main():
        first = open_transport(f"serial://{device.link}")
        await first.open()
        try:
            with pytest.raises(DeviceError, match="busy") as err:
                await open_transport(f"serial://{device.link}").open()
            assert UDEV_RULE in str(err.value)
        finally:
            await first.close()

    asyncio.run(main())


def _no_insole_error(tmp_path: Path, slave: int, info_timeout_s: float) -> str:
    """Open ``serial://`` on the pty ``slave`` (through a link, as udev names ports) and
    return the one-line error of an open that gets no INFO."""
    link = tmp_path / "port"
    link.symlink_to(os.ttyname(slave))
    transport = open_transport(f"serial://{link}?info_timeout={info_timeout_s:g}")
    with pytest.raises(DeviceError, match="no Plantar insole answers") as err:
        asyncio.run(transport.open())
    return str(err.value)


def test_a_port_without_an_insole_is_insole_not_found(tmp_path: Path) -> None:
    master, slave = os.openpty()  # a serial port that never says anything
    try:
        message = _no_insole_error(tmp_path, slave, 0.3)
        assert "nothing arrived (wrong port, or the firmware is not running)" in message
    finally:
        os.close(master)
        os.close(slave)


def test_a_port_that_answers_in_another_protocol_says_bytes_arrived(tmp_path: Path) -> None:
    # a modem, say: it answers each request, but never with an INFO message
    master, slave = os.openpty()
    stop = threading.Event()

    def modem() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready and os.read(master, 4096):  # a request came: answer it
                os.write(master, b"\r\nERROR\r\n")

    answering = threading.Thread(target=modem, daemon=True)
    answering.start()
    try:
        message = _no_insole_error(tmp_path, slave, 2.0)
        assert re.search(r"[1-9]\d* bytes arrived, no INFO among them", message)
        assert "baud" in message and "\n" not in message
    finally:
        stop.set()
        answering.join(5)
        os.close(master)
        os.close(slave)


def test_permission_error_names_the_udev_rule_and_dialout() -> None:
    for exc in (PermissionError(errno.EACCES, "Permission denied"), OSError(errno.EPERM, "x")):
        message = str(_open_error("/dev/ttyACM0", exc))
        assert UDEV_RULE in message and "dialout" in message and "\n" not in message


def _without_dac_override() -> list[str]:
    """A command prefix under which file modes apply even to root (or [] if not needed)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: modes cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_permission_denied_on_a_real_port_exits_with_one_line(tmp_path: Path) -> None:
    """A pty whose mode forbids us: ``plantar stream`` ends in one line and exit code 3."""
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        os.chmod(path, 0o000)
        code = (
            "import sys; import plantar.cli as c\n"
            "c.COMMAND_MODULES = ('firmware_bridge.commands',)\n"
            f"sys.exit(c.main(['stream', 'serial://{path}', 'sim://?foot=right']))\n"
        )
        out = subprocess.run(
            [*_without_dac_override(), sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
        )
        assert out.returncode == DeviceError.exit_code, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("plantar: error: permission denied")
        assert "dialout" in lines[0] and UDEV_RULE in lines[0]
    finally:
        os.close(master)
        os.close(slave)


def test_read_after_unplug_raises_link_lost(device: DeviceProcess) -> None:
    async def main():
        transport = open_transport(f"serial://{device.link}")
        await transport.open()
        try:
            device.send("unplug 2")
            with pytest.raises(LinkLost):
                for _ in range(1000):
                    await asyncio.wait_for(transport.read(), 3.0)
            t0 = time.monotonic()
            with pytest.raises(LinkLost):  # still away: reconnect fails fast, no hang
                await transport.reconnect()
            assert time.monotonic() - t0 < 1.0
        finally:
            await transport.close()

    asyncio.run(main())


def test_read_interval_is_a_url_parameter() -> None:
    from base.errors import ConfigError
    from firmware_bridge.transports.serial import DEFAULT_READ_MS

    assert open_transport("serial:///dev/ttyACM0").read_interval_s == DEFAULT_READ_MS * 1e-3
    assert open_transport("serial:///dev/ttyACM0?read_ms=0").read_interval_s == 0.0
    for bad in ("read_ms=-1", "read_ms=500", "read_ms=fast"):
        with pytest.raises(ConfigError, match="read_ms"):
            open_transport(f"serial:///dev/ttyACM0?{bad}")


def test_info_is_asked_for_again_when_the_first_answer_is_lost(tmp_path: Path) -> None:
    """A device that drops its answer to the first REQUEST_INFO (its transmit buffer full
    of frames nobody has read yet) answers the second: the bridge asks again."""
    import select
    import threading
    import tty

    from base.wire.cobs import FrameSplitter, frame_message
    from base.wire.messages import (
        PROTOCOL_VERSION,
        Command,
        ControlCommand,
        DeviceInfo,
        decode_message,
        encode_info,
    )

    master, slave = os.openpty()
    tty.setraw(slave)
    requests: list[float] = []
    info = DeviceInfo(PROTOCOL_VERSION, 7, 1, 200, 170, 5, "1.0", "plantar-ref", "cal-1")
    done = threading.Event()

    def device() -> None:  # plays the insole on the pty's master side
        splitter = FrameSplitter()
        while not done.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            for raw in splitter.feed(os.read(master, 4096)):
                message = decode_message(raw)
                if isinstance(message, ControlCommand) and message.command == Command.REQUEST_INFO:
                    requests.append(time.monotonic())
                    if len(requests) >= 2:  # the first answer is lost
                        os.write(master, frame_message(encode_info(info)))

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    try:
        transport = open_transport(f"serial://{os.ttyname(slave)}?info_timeout=30")
        got = asyncio.run(_open_and_close(transport))
    finally:
        done.set()
        thread.join(5)
        os.close(master)
        os.close(slave)
    assert got == info
    assert len(requests) >= 2
    assert 0.5 <= requests[1] - requests[0] <= 10.0  # asked again after about a second


async def _open_and_close(transport: Transport) -> object:
    try:
        return await transport.open()
    finally:
        await transport.close()
