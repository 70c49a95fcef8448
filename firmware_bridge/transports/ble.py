"""``ble://`` transport: one Plantar insole over Bluetooth LE through bleak.

URLs::

    ble://AA:BB:CC:DD:EE:FF              the insole with this address
    ble://name/Plantar-L                 the insole advertising this local name
    ble://name/Plantar-L?layout=plantar-ref&timeout=10&adapter=hci1

Query parameters: ``layout`` (the layout the session expects; INFO must name it),
``timeout`` (s, scan and connect, default 10), ``reconnect_timeout`` (s one
:meth:`BleTransport.reconnect` waits for the insole to come back, default 10),
``adapter`` (BlueZ adapter, e.g. ``hci1``), ``radio`` (``bluez``, the default, or
``virtual``: the in-process bumble radio the tests and ``plantar scan --simulate`` use).

What it does, following the maintainers' advice collected in DESIGN.md: one scan per
adapter whose results are reused (so left and right are found by one scan), connect one
insole at a time under a per-adapter lock (BlueZ ``InProgress``, bleak #1036), pass the
scanned ``BLEDevice`` to ``BleakClient``, connect with bleak-retry-connector's
``establish_connection`` (transient BlueZ failures), check the Plantar service and the
INFO characteristic against the expected layout, subscribe to DATA notifications and
turn them into :class:`~firmware_bridge.transport.Chunk` objects through
:class:`~base.wire.ble_packing.NotificationReassembler` (a notification-counter gap sets
``Chunk.gap``). A disconnect makes :meth:`read` raise ``LinkLost``; :meth:`reconnect`
opens a new client for the same scanned device. Callbacks of a client that has been
replaced (late notifications, late disconnect events) are ignored and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from base.errors import ConfigError, DeviceError
from base.wire.ble_packing import NotificationReassembler
from base.wire.messages import DeviceInfo, ProtocolError, decode_message
from base.wire.protocol import (
    GATT_CONTROL_UUID,
    GATT_DATA_UUID,
    GATT_INFO_UUID,
    GATT_SERVICE_UUID,
    PROTOCOL_VERSION,
)
from firmware_bridge.ble.scan import (
    Radio,
    Target,
    adapter_error,
    adapter_lock,
    find_insole,
    select_radio,
)
from firmware_bridge.transport import Chunk, LinkLost, LinkState, Transport, register_transport

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice

__all__ = ["BleTransport", "check_info"]

_PARAMS = ("layout", "timeout", "reconnect_timeout", "adapter", "radio")
_RADIOS = ("bluez", "virtual")
log = logging.getLogger("plantar.bridge")

_DEFAULT_TIMEOUT_S = 10.0
#: DATA notifications waiting to be read before new ones are dropped (counted in
#: ``dropped_notifications``; the decoder is told of the gap): about 20 s of one insole at
#: 200 Hz, a few MB. Only a stalled reader fills it; it bounds memory, it is not a buffer.
MAX_QUEUED_CHUNKS = 8192
_LOST = object()  # queue sentinel: the link dropped (or the transport was closed)


def _positive_float(url: str, params: dict[str, str], key: str, default: float) -> float:
    text = params.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"transport URL {url!r}: {key}={text!r} must be a positive number")
    return value


def check_info(info: DeviceInfo, where: str, expected_layout: str | None) -> None:
    """Check an insole's INFO against the layout the host expects.

    The layout is ``expected_layout`` if given (INFO must name it), else the one INFO
    names; its sensel and shear-site counts must match INFO's.

    Raises
    ------
    DeviceError
        One line naming the expected and the found layout.
    """
    from hardware.layout import load_layout

    found = f"{info.layout_id!r} with {info.n_sensels} sensels and {info.n_shear} shear sites"
    if info.protocol_version != PROTOCOL_VERSION:
        raise DeviceError(
            f"{where}: speaks protocol version {info.protocol_version}, this host "
            f"speaks {PROTOCOL_VERSION}; update the insole firmware or plantar"
        )
    if expected_layout is not None and info.layout_id != expected_layout:
        raise DeviceError(
            f"{where}: expected layout {expected_layout!r} but the insole reports {found}; "
            "connect the right insole or change layout= in the URL"
        )
    try:
        layout = load_layout(info.layout_id)
    except ConfigError:
        raise DeviceError(
            f"{where}: the insole reports layout {found}, which this host does not know; "
            "install its layout file or update plantar"
        ) from None
    if (layout.n_sensels, layout.n_shear) != (info.n_sensels, info.n_shear):
        raise DeviceError(
            f"{where}: expected layout {layout.id!r} with {layout.n_sensels} sensels and "
            f"{layout.n_shear} shear sites but the insole reports {found}; the firmware's "
            "layout does not match its layout file"
        )


@register_transport
class BleTransport(Transport):
    """One insole over Bluetooth LE (see the module docstring for the URL).

    Attributes
    ----------
    ignored_callbacks : notifications / disconnect events from replaced clients, ignored.
    lost_notifications : DATA notifications missing according to the counter.
    dropped_notifications : DATA notifications dropped on the host because the reader fell
        :data:`MAX_QUEUED_CHUNKS` behind (logged once per episode as a warning).
    last_connect_s : how long the last open/reconnect took from start to streaming.
    """

    scheme = "ble"

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(url, params)
        unknown = sorted(set(params) - {"netloc", "path", *_PARAMS})
        if unknown:
            raise ConfigError(
                f"transport URL {url!r}: unknown parameter {unknown[0]!r} "
                f"(known: {', '.join(_PARAMS)})"
            )
        try:
            self.target = Target.parse(params.get("netloc", "") + params.get("path", ""))
        except ValueError:
            raise ConfigError(
                f"transport URL {url!r} is malformed: expected ble://AA:BB:CC:DD:EE:FF or "
                "ble://name/<advertised name>, e.g. ble://name/Plantar-L"
            ) from None
        self.radio_kind = params.get("radio", "bluez")
        if self.radio_kind not in _RADIOS:
            raise ConfigError(
                f"transport URL {url!r}: radio={self.radio_kind!r} must be one of "
                f"{', '.join(_RADIOS)}"
            )
        self.expected_layout = params.get("layout") or None
        self.timeout_s = _positive_float(url, params, "timeout", _DEFAULT_TIMEOUT_S)
        self.reconnect_timeout_s = _positive_float(
            url, params, "reconnect_timeout", _DEFAULT_TIMEOUT_S
        )
        self.adapter = params.get("adapter") or None
        self.state = LinkState.CLOSED
        self.ignored_callbacks = 0
        self.last_connect_s: float | None = None
        self.info: DeviceInfo | None = None
        self._radio: Radio | None = None
        self._device: BLEDevice | None = None
        self._client: BleakClient | None = None
        self._rssi: float | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.max_queued_chunks = MAX_QUEUED_CHUNKS
        self.dropped_notifications = 0
        self._dropping = False
        self._reassembler = NotificationReassembler()
        self._lost_before = 0
        self._gap_next = False
        self._closed = False

    # ------------------------------------------------------------------ properties

    @property
    def rssi_dbm(self) -> float | None:
        """RSSI of the insole's advertisement when it was scanned (dBm)."""
        return self._rssi

    @property
    def description(self) -> str:
        """``Plantar-L (AA:BB:...)`` once scanned, else the URL."""
        if self._device is None:
            return self.url
        return f"{self._device.name or self.target} ({self._device.address})"

    @property
    def lost_notifications(self) -> int:
        """Notifications missing according to the DATA counter, over all connections."""
        return self._lost_before + self._reassembler.lost_notifications

    # ------------------------------------------------------------------ life cycle

    async def open(self) -> DeviceInfo:
        """Scan (or reuse the last scan), connect, check INFO, subscribe.

        Raises
        ------
        DeviceError
            No Bluetooth adapter, insole not found or not connectable, not a Plantar
            insole, or a layout other than expected.
        """
        if self._closed:
            raise DeviceError(f"{self.url}: transport was closed; open a new one")
        self.state = LinkState.CONNECTING
        if self._radio is None:
            self._radio = select_radio(self.radio_kind, adapter=self.adapter)
        try:
            return await self._connect(reconnect=False)
        except (DeviceError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise self._device_error(exc, "cannot connect") from None

    async def reconnect(self) -> DeviceInfo:
        """Connect again to the same scanned insole after ``LinkLost``.

        Waits up to ``reconnect_timeout`` seconds for the insole to be back (a pending
        connection completes as soon as it advertises again).

        Raises
        ------
        LinkLost
            The insole is not back yet (the caller retries with backoff).
        DeviceError
            The adapter is gone, or the insole came back with another layout.
        """
        if self._closed:
            raise LinkLost(f"{self.description}: transport closed")
        if self._radio is None:
            return await self.open()
        self.state = LinkState.RECONNECTING
        await self._drop_client()
        try:
            async with asyncio.timeout(self.reconnect_timeout_s):
                return await self._connect(reconnect=True)
        except DeviceError:
            raise
        except Exception as exc:
            error = adapter_error(exc)
            if error is not None:
                raise error from None
            raise LinkLost(f"{self.description}: not back yet ({_reason(exc)})") from None

    async def close(self) -> None:
        """Disconnect and end reads; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.state = LinkState.CLOSED
        self._queue.put_nowait(_LOST)
        await self._drop_client()

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _device_error(self, exc: BaseException, what: str) -> DeviceError:
        return adapter_error(exc) or DeviceError(
            f"{what} to insole {self.description}: {_reason(exc)}; check that it is "
            "switched on, in range and not connected to another host"
        )

    async def _connect(self, *, reconnect: bool) -> DeviceInfo:
        from bleak import BleakClient
        from bleak_retry_connector import establish_connection

        radio = self._radio
        assert radio is not None
        t0 = time.monotonic()
        async with adapter_lock(radio):
            if self._device is None:
                self._device, adv = await find_insole(radio, self.target, self.timeout_s)
                self._rssi = float(adv.rssi)
            # establish_connection retries up to 4 times with 20 s connect timeouts of its
            # own; the URL's timeout bounds the whole attempt.
            async with asyncio.timeout(self.timeout_s):
                client = await establish_connection(
                    BleakClient,
                    self._device,
                    self._device.name or str(self.target),
                    disconnected_callback=self._on_disconnected,
                    timeout=self.timeout_s,
                    **radio.client_kwargs,
                )
            self._client = client
            try:
                info = await self._start(client, reconnect=reconnect)
            except BaseException:
                self._client = None
                with contextlib.suppress(Exception):
                    await client.disconnect()
                raise
        self.info = info
        self.state = LinkState.STREAMING
        self.last_connect_s = time.monotonic() - t0
        return info

    async def _start(self, client: BleakClient, *, reconnect: bool) -> DeviceInfo:
        """Check the GATT service and INFO, then subscribe to DATA."""
        service = client.services.get_service(GATT_SERVICE_UUID)
        chars: dict[str, BleakGATTCharacteristic | None] = {
            uuid: (service.get_characteristic(uuid) if service is not None else None)
            for uuid in (GATT_DATA_UUID, GATT_INFO_UUID, GATT_CONTROL_UUID)
        }
        needs = {GATT_DATA_UUID: "notify", GATT_INFO_UUID: "read", GATT_CONTROL_UUID: "write"}
        for uuid, prop in needs.items():
            char = chars[uuid]
            if char is None or prop not in char.properties:
                raise DeviceError(
                    f"{self.description}: not a Plantar insole: its GATT service "
                    f"{GATT_SERVICE_UUID} lacks characteristic {uuid} with {prop} "
                    "(hardware/PROTOCOL.md section 5); update the insole firmware"
                )
        value = await client.read_gatt_char(GATT_INFO_UUID)
        try:
            info = decode_message(bytes(value))
        except ProtocolError as exc:
            raise DeviceError(
                f"{self.description}: INFO characteristic is invalid ({exc}); "
                "update the insole firmware"
            ) from None
        if not isinstance(info, DeviceInfo):
            raise DeviceError(f"{self.description}: INFO characteristic holds no INFO message")
        check_info(info, f"insole {self.description}", self.expected_layout)
        if reconnect and self.info is not None:
            before = (self.info.device_id, self.info.foot, self.info.layout_id)
            if (info.device_id, info.foot, info.layout_id) != before:
                raise DeviceError(
                    f"{self.description}: came back as another insole (device "
                    f"{info.device_id}, foot {info.foot}, layout {info.layout_id!r}); "
                    "restart the session"
                )
        # Chunks of the old connection stay in order; a stale LinkLost marker does not.
        self._purge_lost_markers()
        self._lost_before += self._reassembler.lost_notifications
        self._reassembler = NotificationReassembler()
        self._gap_next = reconnect
        await client.start_notify(GATT_DATA_UUID, functools.partial(self._on_notify, client))
        return info

    def _purge_lost_markers(self) -> None:
        kept = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _LOST:
                kept.append(item)
        for item in kept:
            self._queue.put_nowait(item)

    # ------------------------------------------------------------------- callbacks

    def _on_notify(
        self, client: BleakClient, _char: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        if client is not self._client or self._closed:
            self.ignored_callbacks += 1
            return
        piece = self._reassembler.push(data)
        if self._queue.qsize() >= self.max_queued_chunks:
            self.dropped_notifications += 1
            self._gap_next = True  # the next chunk queued starts mid-stream
            if not self._dropping:
                self._dropping = True
                log.warning(
                    "%s: reader %d notifications behind, dropping new ones (they show as a gap)",
                    self.description,
                    self.max_queued_chunks,
                )
            return
        if self._queue.qsize() < self.max_queued_chunks // 2:
            self._dropping = False  # the episode ends once the reader has caught up by half
        gap = piece.gap or self._gap_next
        self._gap_next = False
        self._queue.put_nowait(Chunk(piece.data, time.monotonic_ns(), gap))

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is not self._client or self._closed:
            self.ignored_callbacks += 1
            return
        self._client = None
        self.state = LinkState.RECONNECTING
        self._queue.put_nowait(_LOST)

    # ------------------------------------------------------------------------- I/O

    async def read(self) -> Chunk:
        """Next chunk of stream bytes; ``LinkLost`` once the link dropped or on close."""
        if self._closed:
            raise LinkLost(f"{self.description}: transport closed")
        item = await self._queue.get()
        if item is _LOST:
            if self._closed:
                self._queue.put_nowait(_LOST)  # every later read ends too
                raise LinkLost(f"{self.description}: transport closed")
            raise LinkLost(f"{self.description}: Bluetooth link lost")
        return item

    async def send_control(self, message: bytes) -> None:
        """Write one CONTROL message (write with response)."""
        from bleak.exc import BleakError

        client = self._client
        if client is None or not client.is_connected:
            raise LinkLost(f"{self.description}: not connected")
        try:
            await client.write_gatt_char(GATT_CONTROL_UUID, message, response=True)
        except BleakError as exc:
            if not client.is_connected:
                raise LinkLost(f"{self.description}: link lost during CONTROL write") from None
            raise DeviceError(f"{self.description}: CONTROL write failed: {exc}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
