"""Battery level in the scan (what ``plantar scan`` and the pairing page show), over bumble's
virtual radio: read from the standard Battery Service where the insole serves one."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("bumble")

from firmware_bridge.ble.peripheral import SimulatedBlePeripheral
from firmware_bridge.ble.scan import SCAN_CACHE, scan_insoles, select_radio
from firmware_bridge.ble.virtual_radio import VirtualRadio, use_radio
from hardware.sim import make_pair


def test_battery_is_read_where_served_and_none_elsewhere() -> None:
    async def main() -> dict[str, int | None]:
        radio = VirtualRadio("battery")
        left, right = make_pair("plantar-ref", seed=4)
        insoles = [
            SimulatedBlePeripheral(radio, left, battery_pct=23),
            SimulatedBlePeripheral(radio, right, battery_pct=None),  # no Battery Service
        ]
        with use_radio(radio):
            for p in insoles:
                await p.start()
            try:
                found = await scan_insoles(select_radio("virtual"), 1.0)
            finally:
                for p in insoles:
                    await p.stop()
                await radio.close()
        assert all(f.error is None and f.info is not None for f in found)
        return {f.name: f.battery_pct for f in found}

    SCAN_CACHE.clear()
    assert asyncio.run(asyncio.wait_for(main(), 60)) == {"Plantar-L": 23, "Plantar-R": None}
