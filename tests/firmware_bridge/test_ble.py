"""BLE: simulated insoles as GATT peripherals on bumble's virtual controllers.

Every test goes through bleak's public API (``BleakScanner``, ``BleakClient``, via the
``ble://`` transport and bleak-retry-connector) with backends that drive a bumble central
device; the insoles are bumble peripherals on the same ``LocalLink``. So the traffic is
real advertising, connection, MTU exchange, discovery, ATT reads/writes and
notifications, and the code under test is the production transport, not a stub.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("bleak")
pytest.importorskip("bumble")
pytest.importorskip("bleak_retry_connector")

from bleak import BleakClient, BleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
)

from base.errors import ConfigError, DeviceError
from base.wire.ble_packing import NotificationReassembler
from base.wire.messages import Ack, DeviceInfo, decode_message, encode_control
from base.wire.protocol import (
    GATT_CONTROL_UUID,
    GATT_DATA_UUID,
    GATT_INFO_UUID,
    GATT_SERVICE_UUID,
    Command,
)
from firmware_bridge.ble import commands
from firmware_bridge.ble.bumble_backend import (
    BumbleClientBackend,
    BumbleScannerBackend,
)
from firmware_bridge.ble.peripheral import SimulatedBlePeripheral, advertising_data
from firmware_bridge.ble.scan import SCAN_CACHE, adapter_error
from firmware_bridge.ble.virtual_radio import VirtualRadio, use_radio
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from firmware_bridge.transport import Chunk, LinkLost, open_transport
from firmware_bridge.transports.ble import BleTransport
from hardware.sim import Imperfections, make_pair
from tests.firmware_bridge.test_transport_contract import (
    TransportContractTests,
    TransportHarness,
)

RATE_HZ = 200
NO_LOSS = Imperfections(loss_probability=0.0, burst_probability=0.0)
RECONNECT_BAR_S = 3.0


def run(coro_fn: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    """Run one test body on a fresh event loop with a hard timeout."""

    async def main() -> Any:
        return await asyncio.wait_for(coro_fn(), timeout_s)

    SCAN_CACHE.clear()
    return asyncio.run(main())


@contextlib.asynccontextmanager
async def insoles(
    *names: str, info: DeviceInfo | None = None, seed: int = 1
) -> AsyncIterator[tuple[VirtualRadio, list[SimulatedBlePeripheral]]]:
    """A virtual radio with simulated insoles advertising ``Plantar-L`` / ``Plantar-R``."""
    radio = VirtualRadio()
    left, right = make_pair("plantar-ref", imperfections=NO_LOSS, seed=seed)
    peripherals = []
    for name in names:
        insole = right if name.endswith("R") else left
        peripherals.append(SimulatedBlePeripheral(radio, insole, name=name, info=info))
    with use_radio(radio):
        for p in peripherals:
            await p.start()
        try:
            yield radio, peripherals
        finally:
            for p in peripherals:
                await p.stop()
            await radio.close()


async def discover(radio: VirtualRadio, address: str, **scanner_kw: Any) -> tuple[Any, Any]:
    """Scan the virtual radio for 0.3 s through bleak; (BLEDevice, AdvertisementData)."""
    found = await BleakScanner.discover(
        0.3, return_adv=True, backend=BumbleScannerBackend, radio=radio, **scanner_kw
    )
    return found[address]


def ble_url(name: str, extra: str = "") -> str:
    return f"ble://name/{name}?radio=virtual{extra}"


async def read_frames(
    transport: BleTransport, decoder: StreamDecoder, min_frames: int, timeout_s: float = 5.0
) -> tuple[np.ndarray, list[Chunk]]:
    """Read until ``min_frames`` DATA frames decoded; (seq, chunks)."""
    seqs: list[np.ndarray] = []
    chunks: list[Chunk] = []
    n = 0
    async with asyncio.timeout(timeout_s):
        while n < min_frames:
            chunk = await transport.read()
            chunks.append(chunk)
            batch = decoder.feed(chunk.data, discard_partial=chunk.gap)
            seqs.append(batch.seq.astype(np.int64))
            n += len(batch)
    return np.concatenate(seqs), chunks


async def reconnect_with_backoff(transport: BleTransport, deadline_s: float) -> DeviceInfo:
    """What the bridge does after LinkLost: retry reconnect() with growing pauses."""
    pause_s = 0.1
    t_end = time.monotonic() + deadline_s
    while True:
        try:
            return await transport.reconnect()
        except LinkLost:
            if time.monotonic() > t_end:
                raise
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, 1.0)


# ------------------------------------------------------------------ bleak backends


def test_bleak_public_api_over_the_virtual_radio() -> None:
    """Scan, connect, discover, read INFO, write CONTROL, get the ACK as a notification."""

    async def body() -> None:
        async with insoles("Plantar-L") as (radio, (left,)):
            device, adv = await discover(radio, left.address, service_uuids=[GATT_SERVICE_UUID])
            assert adv.local_name == "Plantar-L"
            assert GATT_SERVICE_UUID in adv.service_uuids
            async with BleakClient(device, backend=BumbleClientBackend) as client:
                assert client.mtu_size == 247
                service = client.services.get_service(GATT_SERVICE_UUID)
                assert service is not None
                props = {c.uuid: c.properties for c in service.characteristics}
                assert props[GATT_DATA_UUID] == ["notify"]
                assert props[GATT_INFO_UUID] == ["read"]
                assert props[GATT_CONTROL_UUID] == ["write"]
                info = decode_message(bytes(await client.read_gatt_char(GATT_INFO_UUID)))
                assert info == left.insole.info

                reassembler = NotificationReassembler()
                decoder = StreamDecoder(info.n_sensels, info.n_shear)
                await client.start_notify(
                    GATT_DATA_UUID, lambda _c, data: decoder.feed(reassembler.push(data).data)
                )
                await client.write_gatt_char(
                    GATT_CONTROL_UUID, encode_control(Command.SET_RATE, 100), response=True
                )
                await asyncio.sleep(0.2)
                acks = [m for m in decoder.pop_messages() if isinstance(m, Ack)]
                assert [(a.command, a.argument) for a in acks] == [(Command.SET_RATE, 100)]
                assert left.insole.sampling_rate_hz == 100
                assert decoder.stats.frames_ok > 0 and decoder.stats.crc_errors == 0

    run(body)


@pytest.mark.parametrize("mode", ["active", "passive"])
def test_advertisement_fits_31_bytes_and_name_is_in_the_scan_response(mode: str) -> None:
    """PROTOCOL.md section 5: flags + service UUID advertised, the name in the scan response."""
    adv_payload, scan_response = advertising_data("Plantar-L")
    assert len(adv_payload) == 21 and len(scan_response) == 11
    assert adv_payload[:3] == bytes([2, 0x01, 0x06])  # flags: LE General, no BR/EDR

    async def body() -> None:
        async with insoles("Plantar-L") as (radio, (left,)):
            _device, adv = await discover(radio, left.address, scanning_mode=mode)
            assert GATT_SERVICE_UUID in adv.service_uuids
            # a passive scanner sends no scan request, so it never learns the name
            assert adv.local_name == ("Plantar-L" if mode == "active" else None)

    run(body)


def test_name_that_does_not_fit_the_scan_response_is_refused() -> None:
    with pytest.raises(ConfigError, match="29 bytes"):
        advertising_data("Plantar-" + "x" * 22)


# ---------------------------------------------------------------- the transport


def test_both_feet_one_scan_connected_in_turn_streamed_concurrently() -> None:
    async def body() -> None:
        async with insoles("Plantar-L", "Plantar-R") as (radio, (left, right)):
            tl = open_transport(ble_url("Plantar-L", "&layout=plantar-ref"))
            tr = open_transport(ble_url("Plantar-R"))
            assert isinstance(tl, BleTransport) and isinstance(tr, BleTransport)
            # Both asked at once: the adapter lock serialises scan and connects.
            info_l, info_r = await asyncio.gather(tl.open(), tr.open())
            assert radio.scans_started == 1
            assert radio.connects_started == 2
            assert (info_l.foot, info_r.foot) == (0, 1)
            assert tl.rssi_dbm is not None and tl.description.startswith("Plantar-L")
            try:
                decoders = [StreamDecoder(i.n_sensels, i.n_shear) for i in (info_l, info_r)]
                seconds = 1.0
                want = int(0.8 * seconds * RATE_HZ)
                (seq_l, _), (seq_r, _) = await asyncio.gather(
                    read_frames(tl, decoders[0], want), read_frames(tr, decoders[1], want)
                )
                for seq, peripheral, decoder in (
                    (seq_l, left, decoders[0]),
                    (seq_r, right, decoders[1]),
                ):
                    assert np.all(np.diff(seq) == 1), "gap or reordering on a clean link"
                    sent = peripheral.stats.all_sent_seq()
                    np.testing.assert_array_equal(seq, sent[: len(seq)])
                    assert decoder.stats.crc_errors == 0
                assert tl.lost_notifications == 0 and tr.lost_notifications == 0
            finally:
                await tl.close()
                await tr.close()

    run(body)


def test_link_dropped_for_5_s_reconnects_within_bar_and_records_the_gap() -> None:
    off_s = 5.0

    async def body() -> dict[str, float]:
        async with insoles("Plantar-L") as (_radio, (left,)):
            transport = open_transport(ble_url("Plantar-L", "&reconnect_timeout=2"))
            assert isinstance(transport, BleTransport)
            info = await transport.open()
            decoder = StreamDecoder(info.n_sensels, info.n_shear)
            try:
                before, _ = await read_frames(transport, decoder, 40)
                drop = asyncio.create_task(left.drop_link(off_s))
                with pytest.raises(LinkLost):
                    while True:  # drain what arrived before the drop, then LinkLost
                        chunk = await transport.read()
                        before = np.concatenate(
                            [before, decoder.feed(chunk.data, discard_partial=chunk.gap).seq]
                        )
                await reconnect_with_backoff(transport, deadline_s=off_s + 5.0)
                loop = asyncio.get_running_loop()
                assert left.stats.back_at_s is not None
                reconnect_s = loop.time() - left.stats.back_at_s
                await drop
                after, chunks = await read_frames(transport, decoder, 20)
                assert chunks[0].gap, "first chunk after a reconnect must be marked as a gap"
                seq = unwrap_seq(np.concatenate([before, after]).astype(np.uint32))
                steps = np.diff(seq)
                assert np.all(steps >= 1), "duplicated or misordered frames"
                gaps = steps[steps > 1] - 1
                assert len(gaps) == 1, f"expected one gap, got {gaps}"
                lost = int(gaps[0])
                # The device sampled all along: the gap is the samples it took while away.
                never_delivered = np.setdiff1d(
                    np.arange(seq[0], seq[-1] + 1), seq, assume_unique=True
                )
                assert lost == len(never_delivered)
                assert 0.95 * off_s * RATE_HZ <= lost <= (off_s + RECONNECT_BAR_S) * RATE_HZ
                assert reconnect_s <= RECONNECT_BAR_S
                assert left.stats.connections == 2
                return {"reconnect_s": reconnect_s, "lost": lost}
            finally:
                await transport.close()

    result = run(body, timeout_s=25.0)
    print(
        f"reconnect {result['reconnect_s'] * 1000:.0f} ms after the insole was back; "
        f"{result['lost']} frames lost"
    )


def test_notification_burst_loses_nothing() -> None:
    n_samples = 3000

    async def body() -> tuple[int, float]:
        async with insoles("Plantar-L") as (_radio, (left,)):
            transport = open_transport(ble_url("Plantar-L"))
            assert isinstance(transport, BleTransport)
            info = await transport.open()
            decoder = StreamDecoder(info.n_sensels, info.n_shear)
            try:
                await read_frames(transport, decoder, 10)
                left.streaming = False  # only the burst from here on
                with contextlib.suppress(TimeoutError):
                    while True:  # drain what was sent before
                        decoder.feed((await asyncio.wait_for(transport.read(), 0.2)).data)
                first = int(left.insole.next_seq)
                t0 = time.perf_counter()
                n_notifications = await left.burst(n_samples)
                got, _ = await read_frames(transport, decoder, n_samples, timeout_s=20.0)
                elapsed = time.perf_counter() - t0
                burst = got[got >= first]
                np.testing.assert_array_equal(burst, np.arange(first, first + n_samples))
                assert transport.lost_notifications == 0
                assert decoder.stats.crc_errors == 0 and decoder.stats.cobs_errors == 0
                assert n_notifications >= n_samples // 2
                return n_notifications, elapsed
            finally:
                await transport.close()

    n, elapsed = run(body)
    print(f"burst: {n} notifications in {elapsed:.2f} s = {n / elapsed:.0f}/s, none lost")


def test_stalled_reader_bounds_the_queue_and_reports_the_loss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reader that stops reading: the transport drops (and counts) instead of growing."""

    async def body() -> None:
        async with insoles("Plantar-L") as (_radio, _insoles):
            transport = open_transport(ble_url("Plantar-L"))
            assert isinstance(transport, BleTransport)
            transport.max_queued_chunks = 20
            info = await transport.open()
            decoder = StreamDecoder(info.n_sensels, info.n_shear)
            try:
                await asyncio.sleep(0.5)  # ~100 samples arrive, nobody reads
                assert transport._queue.qsize() <= 20
                assert transport.dropped_notifications > 0
                got, _ = await read_frames(transport, decoder, 150, timeout_s=10.0)
                jumps = np.flatnonzero(np.diff(got) > 1)
                assert jumps.size >= 1  # the dropped stretch is a gap in seq, not hidden
                assert transport.lost_notifications == 0  # the device sent everything
            finally:
                await transport.close()

    with caplog.at_level("WARNING", logger="plantar.bridge"):
        run(body)
    assert sum("dropping new ones" in r.getMessage() for r in caplog.records) == 1


def test_replaced_client_callbacks_are_ignored() -> None:
    """Notifications still in flight for a client the transport replaced are dropped."""

    async def body() -> None:
        async with insoles("Plantar-L") as (_radio, (left,)):
            transport = open_transport(ble_url("Plantar-L"))
            assert isinstance(transport, BleTransport)
            info = await transport.open()
            decoder = StreamDecoder(info.n_sensels, info.n_shear)
            try:
                await read_frames(transport, decoder, 10)
                left.streaming = False  # only bursts from here on
                rounds = 0
                while transport.ignored_callbacks == 0 and rounds < 5:
                    rounds += 1
                    await left.burst(300)
                    await transport.read()  # the burst is arriving, much of it still in the air
                    await transport.reconnect()
                    # What the old client received before it was replaced is still handed
                    # on, in order; the new connection starts with a gap chunk.
                    seqs = []
                    async with asyncio.timeout(5.0):
                        while True:
                            chunk = await transport.read()
                            seqs.append(decoder.feed(chunk.data, discard_partial=chunk.gap).seq)
                            if chunk.gap:
                                break
                    seq = np.concatenate(seqs).astype(np.int64)
                    assert np.all(np.diff(seq) >= 1)
                assert transport.ignored_callbacks > 0, f"nothing ignored in {rounds} rounds"
                print(f"{transport.ignored_callbacks} callbacks ignored in round {rounds}")
            finally:
                await transport.close()

    run(body)


def test_send_control_reaches_the_insole() -> None:
    async def body() -> None:
        async with insoles("Plantar-L") as (_radio, (left,)):
            transport = open_transport(ble_url("Plantar-L"))
            info = await transport.open()
            decoder = StreamDecoder(info.n_sensels, info.n_shear)
            try:
                await transport.send_control(encode_control(Command.REQUEST_INFO))
                async with asyncio.timeout(2.0):
                    acks: list[Ack] = []
                    while not acks:
                        decoder.feed((await transport.read()).data)
                        acks = [m for m in decoder.pop_messages() if isinstance(m, Ack)]
                assert acks[0].command == Command.REQUEST_INFO
                assert left.stats.controls == 1
            finally:
                await transport.close()
            with pytest.raises(LinkLost):
                await transport.send_control(encode_control(Command.STOP))

    run(body)


# ---------------------------------------------------------------- errors


def _wrong_info(**changes: Any) -> DeviceInfo:
    left, _ = make_pair("plantar-ref")
    return dataclasses.replace(left.info, **changes)


@pytest.mark.parametrize(
    ("info_changes", "url_extra", "expected", "found"),
    [
        ({"n_sensels": 99}, "", "'plantar-ref' with 170 sensels", "99 sensels"),
        (
            {"layout_id": "pedar-99", "n_sensels": 99, "n_shear": 0},
            "&layout=plantar-ref",
            "expected layout 'plantar-ref'",
            "'pedar-99' with 99 sensels",
        ),
        ({"layout_id": "no-such-layout"}, "", "does not know", "'no-such-layout'"),
    ],
)
def test_wrong_service_layout_is_one_line_device_error(
    info_changes: dict[str, Any], url_extra: str, expected: str, found: str
) -> None:
    async def body() -> None:
        async with insoles("Plantar-L", info=_wrong_info(**info_changes)) as (_radio, (left,)):
            transport = open_transport(ble_url("Plantar-L", url_extra))
            with pytest.raises(DeviceError) as err:
                await transport.open()
            message = str(err.value)
            assert "\n" not in message
            assert expected in message and found in message
            assert "Plantar-L" in message
            await transport.close()
            assert not left.connected  # the host let go of the insole

    run(body)


def test_insole_not_found() -> None:
    async def body() -> None:
        async with insoles("Plantar-L"):
            transport = open_transport(ble_url("Plantar-X", "&timeout=0.3"))
            with pytest.raises(DeviceError, match="ble://name/Plantar-X not found"):
                await transport.open()

    run(body)


def test_insole_seen_but_gone_fails_within_timeout() -> None:
    """Scanned earlier (cache hit), switched off since: a bounded, one-line failure."""

    async def body() -> None:
        async with insoles("Plantar-L") as (_radio, (left,)):
            first = open_transport(ble_url("Plantar-L"))
            await first.open()
            await first.close()
            await left.disappear()
            again = open_transport(ble_url("Plantar-L", "&timeout=0.5"))
            t0 = time.monotonic()
            with pytest.raises(DeviceError, match=r"^cannot connect to insole Plantar-L"):
                await again.open()
            assert time.monotonic() - t0 < 2.0

    run(body)


@pytest.mark.parametrize(
    "url",
    [
        "ble://not-an-address",
        "ble://name/",
        "ble://AA:BB:CC:DD:EE:FF?radio=carrier-pigeon",
        "ble://AA:BB:CC:DD:EE:FF?timeout=-1",
        "ble://AA:BB:CC:DD:EE:FF?colour=blue",
    ],
)
def test_malformed_ble_url(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_transport(url)
    assert "\n" not in str(err.value) and url in str(err.value)


def test_address_url_is_parsed() -> None:
    transport = open_transport("ble://aa:bb:cc:dd:ee:ff")
    assert isinstance(transport, BleTransport)
    assert transport.target.address == "AA:BB:CC:DD:EE:FF"


@pytest.mark.parametrize(
    "exc",
    [
        BleakBluetoothNotAvailableError(
            "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        ),
        BleakBluetoothNotAvailableError(
            "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.POWERED_OFF
        ),
        BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []),
        FileNotFoundError(2, "No such file or directory"),
    ],
)
def test_no_adapter_errors_map_to_one_line(exc: Exception) -> None:
    error = adapter_error(exc)
    assert isinstance(error, DeviceError)
    assert str(error).startswith("no Bluetooth adapter found (")
    assert "sudo systemctl start bluetooth" in str(error)
    assert adapter_error(ValueError("unrelated")) is None


@pytest.mark.skipif(
    os.path.exists("/run/dbus/system_bus_socket")
    or os.path.exists("/var/run/dbus/system_bus_socket"),
    reason="this machine has a D-Bus system bus (maybe a real adapter)",
)
def test_scan_without_adapter_is_one_line_error() -> None:
    """On this machine (no D-Bus, no bluetoothd) bleak's real BlueZ backend fails."""
    args = _scan_parser().parse_args(["scan", "--timeout", "0.5"])
    with pytest.raises(DeviceError, match=r"^no Bluetooth adapter found \(") as err:
        args.handler(args)
    assert err.value.exit_code != 0

    transport = open_transport("ble://name/Plantar-L?timeout=0.5")
    with pytest.raises(DeviceError, match=r"^no Bluetooth adapter found \("):
        run(transport.open)


# ---------------------------------------------------------------- plantar scan


def _scan_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plantar")
    commands.register(parser.add_subparsers(dest="command"))
    return parser


def test_plantar_scan_lists_name_address_rssi_layout(capsys: pytest.CaptureFixture[str]) -> None:
    args = _scan_parser().parse_args(["scan", "--simulate", "--json"])
    assert args.handler(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["Plantar-L", "Plantar-R"]
    for row, foot in zip(rows, ("left", "right"), strict=True):
        assert row["address"].count(":") == 5
        assert row["rssi_dbm"] < 0
        assert (row["layout_id"], row["n_sensels"], row["foot"]) == ("plantar-ref", 170, foot)
        assert row["battery_pct"] == 87  # the simulated insole's Battery Service

    args = _scan_parser().parse_args(["scan", "--simulate"])
    assert args.handler(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "address", "RSSI", "battery", "layout"]
    assert "87 %" in table[1]
    assert "Plantar-R" in table[2] and "plantar-ref (170 sensels, 5 shear)" in table[2]


# ---------------------------------------------------------- the transport contract


class BleHarness(TransportHarness):
    """One simulated insole on a virtual radio, reached through ``ble://``."""

    min_frames = 20

    def __init__(self, foot: str = "left") -> None:
        self.foot = foot
        self.name = "Plantar-R" if foot == "right" else "Plantar-L"
        self._stack = contextlib.AsyncExitStack()
        self.peripheral: SimulatedBlePeripheral | None = None

    async def start(self) -> None:
        SCAN_CACHE.clear()
        _radio, (peripheral,) = await self._stack.enter_async_context(insoles(self.name))
        self.peripheral = peripheral

    async def stop(self) -> None:
        await self._stack.aclose()

    def make_transport(self) -> BleTransport:
        transport = open_transport(ble_url(self.name))
        assert isinstance(transport, BleTransport)
        return transport

    async def drop_link(self) -> None:
        assert self.peripheral is not None
        await self.peripheral.disappear()

    async def restore_link(self) -> None:
        assert self.peripheral is not None
        await self.peripheral.reappear()

    async def lose_frames(self) -> None:
        assert self.peripheral is not None
        self.peripheral.lose_notifications(3)


class TestBleTransportContract(TransportContractTests):
    def make_harness(self) -> TransportHarness:
        return BleHarness("left")


class TestBleTransportContractRight(TransportContractTests):
    def make_harness(self) -> TransportHarness:
        return BleHarness("right")
