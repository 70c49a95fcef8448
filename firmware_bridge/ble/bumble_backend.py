"""bleak backends that drive a bumble central device on a :class:`VirtualRadio`.

Pass them to bleak's public API::

    scanner = BleakScanner(backend=BumbleScannerBackend, radio=radio)
    client = BleakClient(ble_device, backend=BumbleClientBackend)

Everything below bleak's front-end classes is then real Bluetooth LE: the central's bumble
host sends HCI commands to its virtual controller, which talks link layer to the
peripherals' controllers; service discovery, MTU exchange, reads, writes and notifications
are ATT/GATT PDUs answered by the peripherals' bumble GATT servers. The backends only
translate between bleak's backend interface (``bleak.backends.client.BaseBleakClient``,
``bleak.backends.scanner.BaseBleakScanner``) and bumble's ``Device``/``Peer`` API, the way
bleak's BlueZ backend translates to D-Bus calls.

A :class:`~bleak.backends.device.BLEDevice` found by the scanner carries a
:class:`BumbleDetails` (the radio and the bumble address) in ``details``; a client made
from an address string uses the ``radio=`` keyword or the active radio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import (
    AdvertisementData,
    AdvertisementDataCallback,
    BaseBleakScanner,
)
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import core, hci
from bumble.att import ATT_Error
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.hci import Address

from firmware_bridge.ble.virtual_radio import VirtualRadio, active_radio

__all__ = ["BumbleClientBackend", "BumbleDetails", "BumbleScannerBackend"]

logger = logging.getLogger(__name__)

#: ATT MTU the central asks for after connecting (BlueZ asks for 517; 247 is what the
#: insole firmware requests, PROTOCOL.md section 5).
REQUESTED_ATT_MTU = 247
_ATT_HEADER_BYTES = 3


@dataclass(frozen=True)
class BumbleDetails:
    """``BLEDevice.details`` of a device seen on a virtual radio.

    Not a dict on purpose: bleak-retry-connector treats ``details`` dicts with a
    ``"path"`` key as BlueZ objects and asks D-Bus about them.
    """

    radio: VirtualRadio
    address: Address


def _bleak_uuid(uuid: core.UUID) -> str:
    """A bumble UUID as bleak's normalised 128-bit lower-case string."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def _advertisement_data(adv: Advertisement) -> AdvertisementData:
    data = adv.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.SHORTENED_LOCAL_NAME
    )
    uuids: list[str] = []
    for kind in (
        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        uuids.extend(_bleak_uuid(u) for u in data.get(kind) or [])
    manufacturer: dict[int, bytes] = {}
    for company, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA):
        manufacturer[int(company)] = bytes(payload)
    service_data: dict[str, bytes] = {}
    for kind in (
        AdvertisingData.SERVICE_DATA_16_BIT_UUID,
        AdvertisingData.SERVICE_DATA_128_BIT_UUID,
    ):
        for uuid, payload in data.get_all(kind):
            service_data[_bleak_uuid(uuid)] = bytes(payload)
    tx_power = None if adv.tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else adv.tx_power
    return AdvertisementData(
        local_name=str(name) if name else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power,
        rssi=int(adv.rssi),
        platform_data=(adv,),
    )


class BumbleScannerBackend(BaseBleakScanner):
    """bleak scanner backend: scans with the virtual radio's central device.

    Extra keyword (through ``BleakScanner(..., radio=...)``): ``radio``, default the
    active radio.
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: VirtualRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = radio or active_radio()
        self._active = scanning_mode == "active"
        self._central: Device | None = None

    async def start(self) -> None:
        """Start scanning (clears :attr:`seen_devices`)."""
        self.seen_devices = {}
        central = await self._radio.central()
        self._central = central
        central.on(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        self._radio.scans_started += 1
        await central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        """Stop scanning."""
        central = self._central
        if central is None:
            return
        self._central = None
        central.remove_listener(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        with contextlib.suppress(core.BaseBumbleError):
            await central.stop_scanning()

    def _on_advertisement(self, adv: Advertisement) -> None:
        adv_data = _advertisement_data(adv)
        if not self.is_allowed_uuid(adv_data.service_uuids):
            return
        address = str(adv.address).split("/")[0]
        device = self.create_or_update_device(
            address,
            address,
            adv_data.local_name,
            BumbleDetails(self._radio, adv.address),
            adv_data,
        )
        self.call_detection_callbacks(device, adv_data)


def _gatt_error(exc: ATT_Error) -> BleakGATTProtocolError:
    return BleakGATTProtocolError(int(exc.error_code))


class BumbleClientBackend(BaseBleakClient):
    """bleak client backend: connects the virtual radio's central device to a peripheral.

    Extra keyword (through ``BleakClient(..., radio=...)``): ``radio``, used when the
    client is given an address string instead of a scanned ``BLEDevice``.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        services: set[str] | None = None,
        radio: VirtualRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = getattr(address_or_ble_device, "details", None)
        if isinstance(details, BumbleDetails):
            self._radio = details.radio
            self._peer_address: Address = details.address
        else:
            self._radio = radio or active_radio()
            self._peer_address = Address(self.address)
        self._name = getattr(address_or_ble_device, "name", None) or self.address
        self._service_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._notify: dict[int, Callable[[bytes], None]] = {}
        self._disconnecting = False

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        """Name of the peripheral (from the scan, else its address)."""
        return self._name

    @property
    def mtu_size(self) -> int:
        """Negotiated ATT MTU."""
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        """True while the LE connection is up."""
        return self._connection is not None

    # ---------------------------------------------------------------- connectivity

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover all services.

        Raises
        ------
        TimeoutError
            The peripheral did not show up (advertise) within ``timeout`` seconds.
        BleakError
            The central is busy connecting to another device, or discovery failed.
        """
        timeout = float(kwargs.get("timeout", self._timeout))
        central = await self._radio.central()
        if central.is_le_connecting:
            # What BlueZ answers too (org.bluez.Error.InProgress, bleak #1036).
            raise BleakError(f"{self.address}: another connection is in progress (InProgress)")
        self._radio.connects_started += 1
        try:
            connection = await central.connect(self._peer_address, timeout=timeout)
        except core.TimeoutError:
            raise TimeoutError(f"{self.address}: not found within {timeout:g} s") from None
        except asyncio.CancelledError:
            # bumble stops waiting but the controller still tries: cancel it there too.
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    central.send_sync_command_raw(hci.HCI_LE_Create_Connection_Cancel_Command())
                )
            raise
        except core.BaseBumbleError as exc:
            raise BleakDeviceNotFoundError(self.address, f"{self.address}: {exc}") from exc
        self._connection = connection
        self._disconnecting = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(connection)
            self._peer = peer
            await peer.request_mtu(REQUESTED_ATT_MTU)
            self.services = await self._discover(peer)
        except BaseException:
            await self._drop_connection()
            raise
        if pair:
            logger.info("%s: pairing is not supported on the virtual radio", self.address)

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        try:
            services = await peer.discover_services()
            for service_proxy in services:
                uuid = _bleak_uuid(service_proxy.uuid)
                if self._service_filter is not None and uuid not in self._service_filter:
                    continue
                service = BleakGATTService(service_proxy, service_proxy.handle, uuid)
                collection.add_service(service)
                for char_proxy in await service_proxy.discover_characteristics():
                    characteristic = BleakGATTCharacteristic(
                        char_proxy,
                        char_proxy.handle,
                        _bleak_uuid(char_proxy.uuid),
                        sorted(gatt_char_props_to_strs(int(char_proxy.properties))),
                        self._max_write_without_response,
                        service,
                    )
                    collection.add_characteristic(characteristic)
                    for desc_proxy in await char_proxy.discover_descriptors():
                        collection.add_descriptor(
                            BleakGATTDescriptor(
                                desc_proxy,
                                desc_proxy.handle,
                                _bleak_uuid(desc_proxy.type),
                                characteristic,
                            )
                        )
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: service discovery failed: {exc}") from exc
        return collection

    def _max_write_without_response(self) -> int:
        return self.mtu_size - _ATT_HEADER_BYTES

    def _on_disconnection(self, reason: int) -> None:
        solicited = self._disconnecting
        self._connection = None
        self._peer = None
        self._notify.clear()
        logger.debug("%s: disconnected (reason 0x%02x)", self.address, reason)
        if not solicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _drop_connection(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._disconnecting = True
        with contextlib.suppress(core.BaseBumbleError, asyncio.TimeoutError):
            await connection.disconnect()
        self._connection = None
        self._peer = None

    async def disconnect(self) -> None:
        """Disconnect (no disconnected callback for a disconnect we asked for)."""
        await self._drop_connection()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pairing is not needed by Plantar insoles and not offered here."""
        raise NotImplementedError("pairing is not supported on the virtual radio")

    async def unpair(self) -> None:
        """See :meth:`pair`."""
        raise NotImplementedError("pairing is not supported on the virtual radio")

    # ---------------------------------------------------------------------- I/O

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (ATT Read / Read Blob)."""
        self._require_peer()
        proxy: CharacteristicProxy = characteristic.obj
        try:
            return bytearray(await proxy.read_value())
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: read failed: {exc}") from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        self._require_peer()
        proxy: DescriptorProxy = descriptor.obj
        try:
            return bytearray(await proxy.read_value())
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write a characteristic (ATT Write Request, or Write Command without response)."""
        self._require_peer()
        proxy: CharacteristicProxy = characteristic.obj
        try:
            await proxy.write_value(bytes(data), with_response=response)
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: write failed: {exc}") from exc

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Write a descriptor value."""
        self._require_peer()
        proxy: DescriptorProxy = descriptor.obj
        try:
            await proxy.write_value(bytes(data), with_response=True)
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD and route each notification to ``callback(bytearray)``."""
        self._require_peer()
        proxy: CharacteristicProxy = characteristic.obj

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        try:
            await proxy.subscribe(on_value, prefer_notify=True)
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: subscribe failed: {exc}") from exc
        self._notify[characteristic.handle] = on_value

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Clear the CCCD and drop the callback."""
        on_value = self._notify.pop(characteristic.handle, None)
        if self._peer is None or on_value is None:
            return
        proxy: CharacteristicProxy = characteristic.obj
        try:
            await proxy.unsubscribe(on_value)
        except ATT_Error as exc:
            raise _gatt_error(exc) from exc
