"""A virtual Bluetooth LE radio: bumble controllers on one in-process :class:`LocalLink`.

Every device on the radio (the host's "adapter" and each simulated insole) is a real
bumble :class:`~bumble.device.Device` with its own host stack and its own virtual
:class:`~bumble.controller.Controller`; the controllers exchange link-layer PDUs
(advertising, connection requests, ACL data carrying ATT/GATT) over the shared link.
Nothing above the controllers is simulated: scanning, connecting, service discovery,
MTU exchange, reads, writes and notifications are the real protocols.

The host side is reached through bleak's public API with the backends of
:mod:`firmware_bridge.ble.bumble_backend`. ``ble://...?radio=virtual`` URLs use the
radio made current with :func:`use_radio` (tests and ``plantar scan --simulate`` do this).

A radio is bound to the asyncio event loop it is first used in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from bumble import hci, ll
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from base.errors import DeviceError

__all__ = ["VirtualRadio", "active_radio", "use_radio"]

_CENTRAL_ADDRESS = "C0:00:00:00:00:01"
#: LE Set Scan Parameters: LE_Scan_Type 0x01 = active scanning (scan requests sent).
_ACTIVE_SCAN = 1


class _Controller(Controller):
    """bumble's virtual controller with Data Length Extension and a working connect cancel.

    ACL buffers of 251 bytes model Data Length Extension (PROTOCOL.md section 5: insoles
    SHOULD use 251-byte link-layer payloads), so a 247-byte ATT notification is one ACL
    packet instead of ten 27-byte fragments.

    LE Create Connection Cancel: bumble 0.0.236 answers the command but keeps the pending
    connection, so a cancelled (timed-out) connect completes later behind the host's
    back. Core spec Vol 4 Part E 7.8.13: the controller cancels and reports an LE
    Connection Complete event with status Unknown Connection Identifier.
    """

    le_acl_data_packet_length = 251

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # After the Command Complete event that the return value becomes.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    _active_scan = False

    def on_hci_le_set_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Scan_Parameters_Command
    ) -> Any:
        self._active_scan = command.le_scan_type == _ACTIVE_SCAN
        return super().on_hci_le_set_scan_parameters_command(command)

    def on_hci_le_set_extended_scan_parameters_command(
        self, command: hci.HCI_LE_Set_Extended_Scan_Parameters_Command
    ) -> Any:
        self._active_scan = _ACTIVE_SCAN in command.scan_types
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    def on_advertising_pdu(self, pdu: ll.AdvInd | ll.AdvExtInd) -> None:
        """Scanning with real scan responses.

        bumble 0.0.236 follows every advertising report with a scan response report that
        repeats the advertising data, for passive scans too. A real controller sends a
        scan request only when scanning actively and reports the advertiser's scan
        response data (Core spec Vol 6 Part B 4.4.3). Insoles put their name in the scan
        response (PROTOCOL.md section 5), so the difference matters. The base class builds
        the reports; the scan response ones are corrected on their way to the host.
        """
        response = self._scan_response_of(pdu.advertiser_address)
        send = self.send_hci_packet

        def corrected(packet: hci.HCI_Packet) -> None:
            if isinstance(
                packet,
                hci.HCI_LE_Advertising_Report_Event | hci.HCI_LE_Extended_Advertising_Report_Event,
            ):
                reports = []
                for report in packet.reports:
                    if _is_scan_response(report):
                        if not self._active_scan:
                            continue
                        report = dataclasses.replace(report, data=response)
                    reports.append(report)
                if not reports:
                    return
                packet = type(packet)(reports)
            send(packet)

        self.send_hci_packet = corrected  # type: ignore[method-assign]
        try:
            super().on_advertising_pdu(pdu)
        finally:
            del self.send_hci_packet

    def _scan_response_of(self, address: hci.Address) -> bytes:
        """The scan response data of the advertiser at ``address`` on this link."""
        for controller in getattr(self.link, "controllers", ()):
            legacy = controller.le_legacy_advertiser
            if legacy.enabled and legacy.address == address:
                return bytes(legacy.scan_response_data)
            for adv_set in controller.advertising_sets.values():
                if adv_set.enabled and adv_set.address == address:
                    return bytes(adv_set.scan_response_data)
        return b""


def _is_scan_response(report: Any) -> bool:
    if isinstance(report, hci.HCI_LE_Extended_Advertising_Report_Event.Report):
        return bool(
            report.event_type & hci.HCI_LE_Extended_Advertising_Report_Event.EventType.SCAN_RESPONSE
        )
    return report.event_type == hci.HCI_LE_Advertising_Report_Event.EventType.SCAN_RSP


class VirtualRadio:
    """One shared link with a central device (the host adapter) and peripherals.

    Attributes
    ----------
    link : LocalLink
        The bus every controller is attached to.
    scans_started : int
        How many times the central started scanning (tests check "scan once").
    connects_started : int
        How many LE connections the central initiated.
    """

    def __init__(self, name: str = "virtual") -> None:
        self.name = name
        self.link = LocalLink()
        self.scans_started = 0
        self.connects_started = 0
        self._central: Device | None = None
        self._central_lock: asyncio.Lock | None = None
        self._addresses = itertools.count(1)
        self._kernel_controller: Controller | None = None

    def new_device(self, name: str, address: str | None = None) -> Device:
        """A bumble device with its own controller on this radio (not yet powered on).

        Parameters
        ----------
        name : device name (GAP name).
        address : ``"AA:BB:CC:DD:EE:FF"``; default: the next free ``D0:00:00:00:00:nn``.
            Used as the controller's public and the device's random static address.
        """
        if address is None:
            n = next(self._addresses)
            address = f"D0:00:00:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}"
        controller = _Controller(f"ctrl-{name}", link=self.link, public_address=address)
        host = Host(controller, AsyncPipeSink(controller))
        return Device(name=name, address=Address(address), host=host)

    async def central(self) -> Device:
        """The host-side device (like a BlueZ adapter), created and powered on once."""
        if self._central_lock is None:
            self._central_lock = asyncio.Lock()
        async with self._central_lock:
            if self._central is None:
                device = self.new_device("plantar-host", _CENTRAL_ADDRESS)
                await device.power_on()
                self._central = device
        return self._central

    async def attach_kernel_adapter(self, spec: str = "vhci") -> Any:
        """Expose one more controller of this radio to the OS as a Bluetooth adapter.

        Through ``/dev/vhci`` the Linux kernel (and so BlueZ and bleak's default
        backend) sees a new ``hciN`` whose radio is this link: real BlueZ can then scan
        and connect the simulated insoles. Needs write access to ``/dev/vhci`` and a
        running ``bluetoothd``. Returns the bumble transport; close it to detach.
        """
        from bumble.transport import open_transport

        transport = await open_transport(spec)
        self._kernel_controller = _Controller(
            "ctrl-kernel",
            host_source=transport.source,
            host_sink=transport.sink,
            link=self.link,
            public_address="C0:00:00:00:00:FE",
        )
        return transport

    async def close(self) -> None:
        """Power off the central device (peripherals are closed by their owners)."""
        if self._central is not None:
            with contextlib.suppress(Exception):
                await self._central.power_off()
            self._central = None

    def __repr__(self) -> str:
        return f"VirtualRadio({self.name!r}, {len(self.link.controllers)} controllers)"


_active: list[VirtualRadio] = []


@contextlib.contextmanager
def use_radio(radio: VirtualRadio) -> Iterator[VirtualRadio]:
    """Make ``radio`` the one ``ble://...?radio=virtual`` URLs use, inside a ``with``."""
    _active.append(radio)
    try:
        yield radio
    finally:
        _active.remove(radio)


def active_radio() -> VirtualRadio:
    """The current virtual radio.

    Raises
    ------
    DeviceError
        If no virtual radio is in use (``radio=virtual`` outside tests or ``--simulate``).
    """
    if not _active:
        raise DeviceError(
            "ble URL asks for radio=virtual but no virtual radio is running; drop "
            "'radio=virtual' to use the Bluetooth adapter, or use 'plantar scan --simulate'"
        )
    return _active[-1]
