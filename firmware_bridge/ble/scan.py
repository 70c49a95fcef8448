"""Finding Plantar insoles over Bluetooth LE: one scan, shared by every insole opened.

BlueZ fails when it scans and connects, or connects two devices, at the same time
(``org.bluez.Error.InProgress``, bleak #1036). So all BLE work of one adapter goes
through :func:`adapter_lock` (scan, then connect left, then connect right), and the
devices a scan saw are remembered (:class:`ScanCache`) so that the second insole is
usually connected from the first insole's scan, as a :class:`~bleak.backends.device.BLEDevice`
(bleak's troubleshooting docs: pass the scanned device, not an address string).

:func:`scan_insoles` is what ``plantar scan`` and the pairing page show: each insole's
name, address, RSSI and, read from its INFO characteristic, its layout, and its battery
level where it serves the standard Battery Service.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from base.errors import DeviceError
from base.wire.protocol import GATT_INFO_UUID, GATT_SERVICE_UUID

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from base.wire.messages import DeviceInfo
    from firmware_bridge.ble.virtual_radio import VirtualRadio

__all__ = [
    "FoundInsole",
    "Radio",
    "ScanCache",
    "adapter_error",
    "adapter_lock",
    "find_insole",
    "is_plantar_advertisement",
    "scan_insoles",
    "select_radio",
]

#: Local names of Plantar insoles start with this (firmware and simulator).
NAME_PREFIX = "Plantar"
#: After the wanted insole is seen, keep scanning this long for the other foot.
SETTLE_S = 0.5
#: Devices seen by a scan are reused for connecting this long.
CACHE_TTL_S = 120.0
_ADDRESS_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

ADAPTER_ADVICE = (
    "plug in a USB Bluetooth dongle or enable bluetooth: sudo systemctl start bluetooth"
)
_NO_ADAPTER_DBUS_ERRORS = {
    "org.freedesktop.DBus.Error.ServiceUnknown",  # bluetoothd not running
    "org.freedesktop.DBus.Error.UnknownObject",  # adapter path gone (dongle unplugged)
    "org.bluez.Error.NotReady",  # adapter powered off
    "org.bluez.Error.NotAvailable",
}


def adapter_error(exc: BaseException) -> DeviceError | None:
    """The one-line user error for ``exc`` if it means "no usable Bluetooth adapter"."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

    detail: str | None = None
    if isinstance(exc, BleakBluetoothNotAvailableError):
        detail = str(exc.args[0]) if exc.args else type(exc).__name__
    elif isinstance(exc, BleakDBusError):
        if exc.dbus_error in _NO_ADAPTER_DBUS_ERRORS:
            detail = f"BlueZ: {exc.dbus_error}"
    elif isinstance(exc, FileNotFoundError | ConnectionRefusedError | PermissionError):
        detail = f"cannot reach BlueZ on the D-Bus system bus: {exc.strerror or exc}"
    elif isinstance(exc, BleakError) and "adapter" in str(exc).lower():
        detail = str(exc)
    if detail is None:
        return None
    return DeviceError(f"no Bluetooth adapter found ({detail}); {ADAPTER_ADVICE}")


# --------------------------------------------------------------------------- radios


@dataclass(frozen=True)
class Radio:
    """Which Bluetooth stack bleak uses: the system's (BlueZ) or a virtual radio.

    Attributes
    ----------
    kind : ``"bluez"`` (bleak's default backend) or ``"virtual"``.
    scanner_kwargs, client_kwargs : extra keyword arguments for ``BleakScanner`` /
        ``BleakClient`` (``backend=`` and ``radio=`` for the virtual radio,
        ``bluez={"adapter": ...}`` for a chosen adapter).
    key : identifies the adapter for the scan cache and the adapter lock.
    """

    kind: str
    scanner_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    client_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    key: object = None


def select_radio(kind: str = "bluez", *, adapter: str | None = None) -> Radio:
    """The :class:`Radio` for ``kind`` (``"bluez"`` or ``"virtual"``).

    ``"virtual"`` uses the radio made current with
    :func:`firmware_bridge.ble.virtual_radio.use_radio`.
    """
    if kind == "virtual":
        from firmware_bridge.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
        from firmware_bridge.ble.virtual_radio import active_radio

        radio = active_radio()
        return virtual_radio(radio, BumbleScannerBackend, BumbleClientBackend)
    if kind != "bluez":
        raise ValueError(f"unknown radio {kind!r}")
    bluez = {"adapter": adapter} if adapter else {}
    return Radio(
        "bluez",
        scanner_kwargs={"bluez": bluez} if bluez else {},
        client_kwargs={"bluez": bluez} if bluez else {},
        key=("bluez", adapter or ""),
    )


def virtual_radio(radio: VirtualRadio, scanner_backend: type, client_backend: type) -> Radio:
    """A :class:`Radio` for a :class:`~firmware_bridge.ble.virtual_radio.VirtualRadio`."""
    return Radio(
        "virtual",
        scanner_kwargs={"backend": scanner_backend, "radio": radio},
        client_kwargs={"backend": client_backend},
        key=("virtual", radio),
    )


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def adapter_lock(radio: Radio) -> asyncio.Lock:
    """The lock that serialises scanning and connecting on one adapter (this event loop)."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(radio.key, asyncio.Lock())


# ------------------------------------------------------------------------- scanning


@dataclass
class _Seen:
    device: BLEDevice
    adv: AdvertisementData
    t_s: float


class ScanCache:
    """Devices seen by recent scans, per adapter (the "scan once" memory)."""

    def __init__(self) -> None:
        self._seen: dict[object, dict[str, _Seen]] = {}

    def add(self, radio: Radio, device: BLEDevice, adv: AdvertisementData) -> None:
        """Remember ``device`` as seen now."""
        self._seen.setdefault(radio.key, {})[device.address.upper()] = _Seen(
            device, adv, time.monotonic()
        )

    def items(self, radio: Radio) -> Iterator[tuple[BLEDevice, AdvertisementData]]:
        """Fresh entries for ``radio``."""
        now = time.monotonic()
        for seen in list(self._seen.get(radio.key, {}).values()):
            if now - seen.t_s <= CACHE_TTL_S:
                yield seen.device, seen.adv

    def find(self, radio: Radio, target: Target) -> tuple[BLEDevice, AdvertisementData] | None:
        """A fresh entry matching ``target``."""
        for device, adv in self.items(radio):
            if target.matches(device, adv):
                return device, adv
        return None

    def clear(self) -> None:
        """Forget everything."""
        self._seen.clear()


#: The process-wide scan cache.
SCAN_CACHE = ScanCache()


def is_plantar_advertisement(adv: AdvertisementData) -> bool:
    """True if an advertisement is a Plantar insole's (service UUID or name prefix)."""
    if GATT_SERVICE_UUID in (u.lower() for u in adv.service_uuids):
        return True
    return bool(adv.local_name and adv.local_name.startswith(NAME_PREFIX))


@dataclass(frozen=True)
class Target:
    """What a ``ble://`` URL asks for: an address or an advertised name."""

    address: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``AA:BB:CC:DD:EE:FF`` or ``name/Plantar-L`` (ValueError otherwise)."""
        if text.startswith("name/") and len(text) > len("name/"):
            return cls(name=text[len("name/") :])
        if _ADDRESS_RE.match(text):
            return cls(address=text.upper())
        raise ValueError(text)

    def matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        """True if the scanned device is the one asked for."""
        if self.address is not None:
            return device.address.upper() == self.address
        return self.name in (adv.local_name, device.name)

    def __str__(self) -> str:
        return self.address if self.address is not None else f"name/{self.name}"


async def _scan(
    radio: Radio,
    timeout_s: float,
    *,
    until: Target | None = None,
    settle_s: float = SETTLE_S,
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    """Scan for Plantar insoles into :data:`SCAN_CACHE`; returns those seen, by address.

    Stops ``settle_s`` after ``until`` is seen and either the other foot is seen as well
    or the settle time is over, or after ``timeout_s``.
    """
    from bleak import BleakScanner

    found = asyncio.Event()
    plantar_seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        if not is_plantar_advertisement(adv):
            return
        SCAN_CACHE.add(radio, device, adv)
        plantar_seen[device.address.upper()] = (device, adv)
        if until is not None and until.matches(device, adv):
            found.set()

    try:
        scanner = BleakScanner(on_advertisement, **radio.scanner_kwargs)
        async with scanner:
            if until is None:
                await asyncio.sleep(timeout_s)
                return plantar_seen
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(found.wait(), timeout_s)
            if not found.is_set():
                return plantar_seen
            deadline = time.monotonic() + settle_s
            while len(plantar_seen) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return plantar_seen
    except Exception as exc:
        error = adapter_error(exc)
        if error is not None:
            raise error from None
        raise


async def find_insole(
    radio: Radio, target: Target, timeout_s: float
) -> tuple[BLEDevice, AdvertisementData]:
    """The scanned device for ``target``: from the scan cache, else from one new scan.

    Call with :func:`adapter_lock` held.

    Raises
    ------
    DeviceError
        No adapter, or the insole was not seen within ``timeout_s``.
    """
    hit = SCAN_CACHE.find(radio, target)
    if hit is not None:
        return hit
    await _scan(radio, timeout_s, until=target)
    hit = SCAN_CACHE.find(radio, target)
    if hit is None:
        raise DeviceError(
            f"insole ble://{target} not found in a {timeout_s:g} s scan; check that it is "
            "switched on, charged, in range and not connected to another host "
            "('plantar scan' lists the insoles in range)"
        )
    return hit


@dataclass(frozen=True)
class FoundInsole:
    """One insole seen by :func:`scan_insoles`.

    ``info`` is None when INFO was not read (``read_info=False``) or could not be read;
    ``error`` then says why. ``battery_pct`` is None when the insole reports no battery
    level (no Battery Service) or INFO was not read.
    """

    name: str
    address: str
    rssi_dbm: int | None
    info: DeviceInfo | None = None
    error: str | None = None
    battery_pct: int | None = None

    @property
    def layout(self) -> str:
        """Layout id and sensel count for display, or ``?``."""
        if self.info is None:
            return "?"
        return f"{self.info.layout_id} ({self.info.n_sensels} sensels, {self.info.n_shear} shear)"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (``plantar scan --json`` and the pairing page)."""
        info = self.info
        return {
            "name": self.name,
            "address": self.address,
            "rssi_dbm": self.rssi_dbm,
            "layout_id": None if info is None else info.layout_id,
            "n_sensels": None if info is None else info.n_sensels,
            "n_shear": None if info is None else info.n_shear,
            "foot": None if info is None else ("right" if info.foot else "left"),
            "firmware_version": None if info is None else info.firmware_version,
            "battery_pct": self.battery_pct,
            "error": self.error,
        }


#: Battery Level characteristic of the standard Battery Service (u8, percent).
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


async def read_info(
    radio: Radio, device: BLEDevice, timeout_s: float
) -> tuple[DeviceInfo, int | None]:
    """Connect to ``device``, read its INFO and battery level (None: not served), disconnect."""
    from bleak import BleakClient

    from base.wire.messages import DeviceInfo, decode_message

    battery: int | None = None
    async with BleakClient(device, timeout=timeout_s, **radio.client_kwargs) as client:
        value = await client.read_gatt_char(GATT_INFO_UUID)
        level = client.services.get_characteristic(BATTERY_LEVEL_UUID)
        if level is not None:
            raw = await client.read_gatt_char(level)
            battery = int(raw[0]) if raw and raw[0] <= 100 else None
    info = decode_message(bytes(value))
    if not isinstance(info, DeviceInfo):
        raise ValueError("INFO characteristic holds no INFO message")
    return info, battery


async def scan_insoles(
    radio: Radio, timeout_s: float = 5.0, *, read_infos: bool = True
) -> list[FoundInsole]:
    """Scan for ``timeout_s`` and list the Plantar insoles seen, sorted by name.

    With ``read_infos`` each insole is connected (one at a time) to read its INFO.

    Raises
    ------
    DeviceError
        No usable Bluetooth adapter.
    """
    from bleak.exc import BleakError

    async with adapter_lock(radio):
        seen = sorted(
            (await _scan(radio, timeout_s)).values(),
            key=lambda item: (item[1].local_name or "", item[0].address),
        )
        found: list[FoundInsole] = []
        for device, adv in seen:
            info: DeviceInfo | None = None
            error: str | None = None
            battery: int | None = None
            if read_infos:
                try:
                    info, battery = await read_info(radio, device, timeout_s)
                except (BleakError, TimeoutError, ValueError) as exc:
                    error = f"INFO not readable: {exc}"
            found.append(
                FoundInsole(
                    name=adv.local_name or device.name or "?",
                    address=device.address,
                    rssi_dbm=adv.rssi,
                    info=info,
                    error=error,
                    battery_pct=battery,
                )
            )
    return found
