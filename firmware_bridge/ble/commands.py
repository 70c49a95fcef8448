"""``plantar scan``: list the Plantar insoles in Bluetooth range.

Heavy imports (bleak, bumble) stay inside :func:`run` so that ``plantar --help`` is fast
and works without them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_bridge.ble.scan import FoundInsole


def register(sub: Any) -> None:
    """Add the ``scan`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "scan",
        help="list the Plantar insoles in Bluetooth range",
        description=(
            "Scan for Plantar insoles over Bluetooth LE and list each one's name, address, "
            "signal strength (RSSI), battery (where reported) and layout (read from its INFO "
            "characteristic). Use the "
            "name or address in a URL: ble://name/Plantar-L or ble://AA:BB:CC:DD:EE:FF."
        ),
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="seconds to scan (default 5)"
    )
    p.add_argument("--adapter", metavar="HCI", help="BlueZ adapter to use, e.g. hci1")
    p.add_argument(
        "--no-info",
        action="store_true",
        help="do not connect to the insoles to read their layout (faster)",
    )
    p.add_argument(
        "--simulate",
        action="store_true",
        help="scan a virtual radio with a simulated left and right insole (no hardware)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Scan and print the insoles found; 0 if any, 1 if none."""
    from base.errors import ConfigError

    if not args.timeout > 0:
        raise ConfigError(f"plantar scan: --timeout {args.timeout} must be positive")
    found = asyncio.run(_scan(args))
    if args.json:
        print(json.dumps([f.to_dict() for f in found]))
        return 0 if found else 1
    if not found:
        print(
            f"no Plantar insole found in {args.timeout:g} s; check that the insoles are "
            "switched on, charged and not connected to another host"
        )
        return 1
    print(f"{'name':<14} {'address':<18} {'RSSI':>8} {'battery':>7}  layout")
    for f in found:
        rssi = "?" if f.rssi_dbm is None else f"{f.rssi_dbm} dBm"
        battery = "-" if f.battery_pct is None else f"{f.battery_pct} %"
        layout = f.layout if f.error is None else f"? ({f.error})"
        print(f"{f.name:<14} {f.address:<18} {rssi:>8} {battery:>7}  {layout}")
    return 0


async def _scan(args: argparse.Namespace) -> list[FoundInsole]:
    from firmware_bridge.ble.scan import scan_insoles, select_radio

    if not args.simulate:
        return await scan_insoles(
            select_radio("bluez", adapter=args.adapter), args.timeout, read_infos=not args.no_info
        )
    from firmware_bridge.ble.peripheral import SimulatedBlePeripheral
    from firmware_bridge.ble.virtual_radio import VirtualRadio, use_radio
    from hardware.sim import make_pair

    radio = VirtualRadio("simulate")
    peripherals = [SimulatedBlePeripheral(radio, insole) for insole in make_pair("plantar-ref")]
    with use_radio(radio):
        for peripheral in peripherals:
            await peripheral.start()
        try:
            return await scan_insoles(
                select_radio("virtual"), min(args.timeout, 1.0), read_infos=not args.no_info
            )
        finally:
            for peripheral in peripherals:
                await peripheral.stop()
            await radio.close()
