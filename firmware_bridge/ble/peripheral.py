"""A simulated insole as a Bluetooth LE GATT peripheral on a :class:`VirtualRadio`.

It is the firmware side of ``hardware/PROTOCOL.md`` section 5 running on bumble: one
primary Plantar service with DATA (notify: u8 counter + a chunk of the COBS stream),
INFO (read: the 78-byte INFO message) and CONTROL (write with response: a 9-byte CONTROL
message, answered by an ACK in the data stream), and, unless ``battery_pct`` is None, the
standard Battery Service (0x180F, Battery Level 0x2A19: what the pairing page shows).
The samples come from a :class:`hardware.sim.SimulatedInsole` (gait physics, device
clock, real codec bytes), paced by the event loop's clock.

Like real firmware, the device keeps sampling while nobody listens: samples taken while
the link is down are never sent, so the host sees a sequence gap equal to the samples
lost. Tests use :meth:`drop_link` (walk out of range for a while) and :meth:`burst`
(many notifications back to back); pairing tests and the BLE demo use :meth:`press` (a hand
on the forefoot) to tell left from right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
from bumble import hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from base.errors import ConfigError
from base.wire.ble_packing import pack_notifications
from base.wire.cobs import frame_message
from base.wire.messages import (
    ControlCommand,
    DeviceInfo,
    ProtocolError,
    decode_message,
    encode_ack,
    encode_info,
)
from base.wire.protocol import (
    GATT_CONTROL_UUID,
    GATT_DATA_UUID,
    GATT_INFO_UUID,
    GATT_SERVICE_UUID,
    AckStatus,
    Command,
)
from firmware_bridge.ble.virtual_radio import VirtualRadio
from hardware.sim import SimulatedInsole

__all__ = ["PeripheralStats", "SimulatedBlePeripheral", "advertising_data"]

#: Bluetooth SIG Battery Service and its Battery Level characteristic (u8, percent).
BATTERY_SERVICE_UUID = "180F"
BATTERY_LEVEL_UUID = "2A19"

logger = logging.getLogger(__name__)

_DEFAULT_TICK_S = 0.01
_DEFAULT_ADV_INTERVAL_MS = 50.0


def advertising_data(name: str) -> tuple[bytes, bytes]:
    """Advertising payload and scan response of a Plantar insole (``hardware/PROTOCOL.md`` §5).

    The advertising data holds the flags and the service UUID (21 of 31 bytes), the scan
    response the complete local name (up to 29 bytes of UTF-8).
    """
    adv = AdvertisingData(
        [
            (
                AdvertisingData.FLAGS,
                bytes(
                    [
                        AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG
                        | AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG
                    ]
                ),
            ),
            (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                bytes(UUID(GATT_SERVICE_UUID)),
            ),
        ]
    )
    encoded_name = name.encode("utf-8")
    if not encoded_name or len(encoded_name) > 29:
        raise ConfigError(
            f"simulated insole: name {name!r} must be 1 to 29 bytes of UTF-8 (scan response)"
        )
    scan_response = AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, encoded_name)])
    return bytes(adv), bytes(scan_response)


@dataclass
class PeripheralStats:
    """What the simulated insole did (ground truth for tests).

    Attributes
    ----------
    sent_seq : list of (n,) int64 arrays, the DATA frames handed to the link, in order.
    samples_unsent : samples taken while no host listened (link down or not subscribed).
    notifications : DATA notifications sent (including the ones lost on purpose).
    notifications_lost : notifications dropped by :meth:`lose_notifications`.
    connections : connections accepted.
    controls : CONTROL messages received (valid CRC).
    back_at_s : loop time the device last started advertising after :meth:`drop_link`.
    connected_at_s : loop time of each accepted connection.
    """

    sent_seq: list[np.ndarray] = field(default_factory=list)
    samples_unsent: int = 0
    notifications: int = 0
    notifications_lost: int = 0
    connections: int = 0
    controls: int = 0
    back_at_s: float | None = None
    connected_at_s: list[float] = field(default_factory=list)

    def all_sent_seq(self) -> np.ndarray:
        """Every sent DATA seq, concatenated."""
        if not self.sent_seq:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(self.sent_seq)


class SimulatedBlePeripheral:
    """A simulated insole advertising and serving the Plantar GATT service.

    Parameters
    ----------
    radio : the virtual radio to attach to.
    insole : the simulated insole whose frames are sent.
    name : advertised local name; default ``Plantar-L`` / ``Plantar-R`` by foot.
    address : Bluetooth address; default: allocated by the radio.
    info : INFO value to serve instead of the insole's own (to test a host's layout
        check: a device that claims another layout or sensel count).
    tick_s : how often the device samples and sends (s of loop time).
    adv_interval_ms : advertising interval.
    battery_pct : Battery Level served (0-100); None: no Battery Service.
    """

    def __init__(
        self,
        radio: VirtualRadio,
        insole: SimulatedInsole,
        *,
        name: str | None = None,
        address: str | None = None,
        info: DeviceInfo | None = None,
        tick_s: float = _DEFAULT_TICK_S,
        adv_interval_ms: float = _DEFAULT_ADV_INTERVAL_MS,
        battery_pct: int | None = 87,
    ) -> None:
        self.radio = radio
        self.insole = insole
        self.name = name or ("Plantar-R" if insole.foot == "right" else "Plantar-L")
        self._adv_payload, self._scan_response = advertising_data(self.name)
        self.device: Device = radio.new_device(self.name, address)
        self.address = str(self.device.random_address)
        self._info_override = info
        self.tick_s = float(tick_s)
        self.adv_interval_ms = float(adv_interval_ms)
        self.stats = PeripheralStats()
        self.streaming = True
        self._connection: Connection | None = None
        self._subscribed = False
        self._pending = bytearray()
        self._counter = 0
        self._t0: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._advertising_allowed = True
        self._restart_task: asyncio.Task[None] | None = None
        self._lose_next = 0
        self.data_char = Characteristic(
            GATT_DATA_UUID, Characteristic.Properties.NOTIFY, Characteristic.READABLE, b""
        )
        self.info_char = Characteristic(
            GATT_INFO_UUID,
            Characteristic.Properties.READ,
            Characteristic.READABLE,
            CharacteristicValue(read=self._read_info),
        )
        self.control_char = Characteristic(
            GATT_CONTROL_UUID,
            Characteristic.Properties.WRITE,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._on_control),
        )
        self.data_char.on(self.data_char.EVENT_SUBSCRIPTION, self._on_subscription)
        self.device.add_service(
            Service(GATT_SERVICE_UUID, [self.data_char, self.info_char, self.control_char])
        )
        self.battery_pct = battery_pct
        if battery_pct is not None:
            level = Characteristic(
                UUID.from_16_bits(int(BATTERY_LEVEL_UUID, 16)),
                Characteristic.Properties.READ,
                Characteristic.READABLE,
                CharacteristicValue(read=lambda _connection: bytes([self.battery_pct or 0])),
            )
            self.device.add_service(
                Service(UUID.from_16_bits(int(BATTERY_SERVICE_UUID, 16)), [level])
            )
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    # ------------------------------------------------------------------ life cycle

    @property
    def info(self) -> DeviceInfo:
        """The INFO this device serves."""
        return self._info_override or self.insole.info

    @property
    def connected(self) -> bool:
        """True while a host is connected."""
        return self._connection is not None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def start(self) -> None:
        """Power on, start advertising and start the sampling clock."""
        await self.device.power_on()
        self._t0 = self._now()
        await self._advertise()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop sampling, advertising and any connection."""
        self._advertising_allowed = False
        for task in (self._task, self._restart_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        await self._disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        with contextlib.suppress(Exception):
            await self.device.power_off()

    async def _advertise(self) -> None:
        if not self._advertising_allowed or self._connection is not None:
            return
        if self.device.is_advertising:
            return
        await self.device.start_advertising(
            advertising_data=self._adv_payload,
            scan_response_data=self._scan_response,
            advertising_interval_min=self.adv_interval_ms,
            advertising_interval_max=self.adv_interval_ms,
        )

    async def _disconnect(self, reason: int) -> None:
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(reason)

    async def disappear(self) -> None:
        """Walk out of range: the connection drops as on a supervision timeout and the
        device stops advertising (it keeps sampling; those samples are never sent)."""
        self._advertising_allowed = False
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        await self._disconnect(hci.HCI_CONNECTION_TIMEOUT_ERROR)

    async def reappear(self) -> None:
        """Come back into range: advertise again."""
        self._advertising_allowed = True
        self.stats.back_at_s = self._now()
        await self._advertise()

    async def drop_link(self, off_s: float) -> None:
        """:meth:`disappear`, stay away ``off_s`` seconds, then :meth:`reappear`."""
        await self.disappear()
        await asyncio.sleep(off_s)
        await self.reappear()

    def press(self, pressure_kpa: float | None = None) -> None:
        """A hand on the forefoot until :meth:`release` (see ``SimulatedInsole.press``)."""
        if pressure_kpa is None:
            self.insole.press()
        else:
            self.insole.press(pressure_kpa)

    def release(self) -> None:
        """Take the hand off (see :meth:`press`)."""
        self.insole.release()

    @property
    def pressed(self) -> bool:
        """True while pressed."""
        return self.insole.press_kpa > 0.0

    def lose_notifications(self, n: int) -> None:
        """The next ``n`` DATA notifications are lost in the air (the link stays up)."""
        self._lose_next += int(n)

    # --------------------------------------------------------------------- events

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self._subscribed = False
        self.stats.connections += 1
        self.stats.connected_at_s.append(self._now())
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._subscribed = False
        self._pending.clear()
        if self._advertising_allowed:
            self._restart_task = asyncio.get_running_loop().create_task(self._advertise())

    def _on_subscription(self, bearer: object, notify: bool, indicate: bool) -> None:
        if notify and not self._subscribed:
            # PROTOCOL.md section 4: one 0x00 before the first message after (re)connection.
            self._pending += b"\x00" + frame_message(encode_info(self.info))
        self._subscribed = notify

    def _read_info(self, connection: Connection) -> bytes:
        return encode_info(self.info)

    def _on_control(self, connection: Connection, value: bytes) -> None:
        try:
            message = decode_message(bytes(value))
        except ProtocolError:
            return  # bad CRC or not a CONTROL message: no ACK (PROTOCOL.md section 8)
        if not isinstance(message, ControlCommand):
            return
        self.stats.controls += 1
        status = AckStatus.OK
        argument = message.argument
        if message.command == Command.START:
            if not self.streaming and self._t0 is not None:
                self.insole.skip_to(self._now() - self._t0)
            self.streaming = True
        elif message.command == Command.STOP:
            self.streaming = False
        elif message.command == Command.SET_RATE:
            try:
                self.insole.set_sampling_rate(message.argument)
                argument = round(self.insole.sampling_rate_hz)
            except ConfigError:
                status = AckStatus.BAD_ARGUMENT
        elif message.command == Command.REQUEST_INFO:
            self.insole.request_info()
            if not self.streaming:
                self._pending += frame_message(encode_info(self.info))
        self._pending += frame_message(encode_ack(int(message.command), status, argument))

    # ------------------------------------------------------------------ streaming

    def _take_samples(self, n: int, *, force: bool = False) -> None:
        if n <= 0:
            return
        block = self.insole.samples(n)
        if self._connection is None or not self._subscribed or not (self.streaming or force):
            self.stats.samples_unsent += n
            return
        self._pending += self.insole.encode_block(block)
        self.stats.sent_seq.append(block.seq[~block.lost])

    async def _flush(self) -> None:
        connection = self._connection
        if not self._pending or connection is None or not self._subscribed:
            return
        payloads = pack_notifications(
            bytes(self._pending), connection.att_mtu, start_counter=self._counter
        )
        self._pending.clear()
        self._counter = (self._counter + len(payloads)) & 0xFF
        server = self.device.gatt_server
        for payload in payloads:
            if self._connection is not connection:
                return  # link dropped: the rest is lost, as on a real radio
            self.stats.notifications += 1
            if self._lose_next > 0:
                self._lose_next -= 1
                self.stats.notifications_lost += 1
                continue
            # One ATT Handle Value Notification each; bumble queues them without waiting.
            await server.notify_subscriber(connection, self.data_char, payload)

    async def _run(self) -> None:
        assert self._t0 is not None
        while True:
            if self.streaming:
                self._take_samples(self.insole.samples_due(self._now() - self._t0))
            await self._flush()
            await asyncio.sleep(self.tick_s)

    async def burst(self, n_samples: int) -> int:
        """Send ``n_samples`` samples at once, as notifications back to back (also when
        stopped: a firmware flushing its buffer).

        Returns the number of notifications sent.
        """
        before = self.stats.notifications
        self._take_samples(n_samples, force=True)
        await self._flush()
        return self.stats.notifications - before
