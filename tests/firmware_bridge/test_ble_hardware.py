"""Optional tier: the ``ble://`` transport through the real BlueZ stack.

As bleak's own CI does with real controllers, but without hardware: a bumble virtual
controller is handed to the Linux kernel through ``/dev/vhci``, so ``bluetoothd`` sees a
new adapter ``hciN`` whose radio is a bumble ``LocalLink`` shared with simulated insoles.
bleak's default (BlueZ D-Bus) backend, bleak-retry-connector's BlueZ paths and the
kernel's HCI/L2CAP/ATT code are then all real.

Needs: Linux, write access to ``/dev/vhci`` (root or the ``vhci`` module with a udev
rule), a D-Bus system bus and a running ``bluetoothd``. Skipped otherwise, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bleak")
pytest.importorskip("bumble")

from firmware_bridge.ble.peripheral import SimulatedBlePeripheral
from firmware_bridge.ble.scan import SCAN_CACHE
from firmware_bridge.ble.virtual_radio import VirtualRadio
from firmware_bridge.stream_decoder import StreamDecoder
from firmware_bridge.transport import LinkLost, open_transport
from hardware.sim import Imperfections, make_pair


def _missing() -> str | None:
    if not os.path.exists("/dev/vhci"):
        return "no /dev/vhci (load the hci_vhci kernel module)"
    if not os.access("/dev/vhci", os.W_OK):
        return "/dev/vhci is not writable by this user"
    if not any(
        os.path.exists(p)
        for p in ("/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket")
    ):
        return "no D-Bus system bus"
    if shutil.which("bluetoothd") is None and not Path("/usr/libexec/bluetooth").exists():
        return "bluetoothd is not installed"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=f"BlueZ hardware tier: {_missing()}")

_SYS_BLUETOOTH = Path("/sys/class/bluetooth")


def _adapters() -> set[str]:
    if not _SYS_BLUETOOTH.exists():
        return set()
    return {
        p.name for p in _SYS_BLUETOOTH.iterdir() if p.name.startswith("hci") and ":" not in p.name
    }


@contextlib.asynccontextmanager
async def bluez_with_insoles(
    *names: str,
) -> AsyncIterator[tuple[str, list[SimulatedBlePeripheral]]]:
    """A vhci adapter on a virtual radio with simulated insoles; yields (hciN, peripherals)."""
    radio = VirtualRadio("vhci")
    before = _adapters()
    transport = await radio.attach_kernel_adapter("vhci")
    try:
        adapter = ""
        for _ in range(100):  # the kernel registers the controller, bluetoothd powers it
            new = _adapters() - before
            if new:
                adapter = sorted(new)[0]
                break
            await asyncio.sleep(0.05)
        assert adapter, "the vhci controller did not show up in /sys/class/bluetooth"
        await asyncio.sleep(1.0)  # let bluetoothd register and power the adapter
        left, right = make_pair(
            "plantar-ref", imperfections=Imperfections(loss_probability=0, burst_probability=0)
        )
        peripherals = [
            SimulatedBlePeripheral(radio, right if n.endswith("R") else left, name=n) for n in names
        ]
        for p in peripherals:
            await p.start()
        try:
            yield adapter, peripherals
        finally:
            for p in peripherals:
                await p.stop()
    finally:
        await transport.close()


def test_bluez_both_feet_and_reconnect() -> None:
    async def body() -> None:
        SCAN_CACHE.clear()
        async with bluez_with_insoles("Plantar-L", "Plantar-R") as (adapter, (left, _right)):
            urls = [
                f"ble://name/{n}?adapter={adapter}&timeout=15" for n in ("Plantar-L", "Plantar-R")
            ]
            transports = [open_transport(u) for u in urls]
            try:
                infos = [await t.open() for t in transports]  # one at a time
                assert [i.foot for i in infos] == [0, 1]
                for t, info in zip(transports, infos, strict=True):
                    decoder = StreamDecoder(info.n_sensels, info.n_shear)
                    seqs = []
                    while sum(len(s) for s in seqs) < 50:
                        chunk = await asyncio.wait_for(t.read(), 5.0)
                        seqs.append(decoder.feed(chunk.data, discard_partial=chunk.gap).seq)
                    assert np.all(np.diff(np.concatenate(seqs).astype(np.int64)) >= 1)
                drop = asyncio.create_task(left.drop_link(5.0))
                with pytest.raises(LinkLost):
                    while True:
                        await asyncio.wait_for(transports[0].read(), 10.0)
                while True:
                    try:
                        await transports[0].reconnect()
                        break
                    except LinkLost:
                        await asyncio.sleep(0.2)
                loop = asyncio.get_running_loop()
                assert left.stats.back_at_s is not None
                assert loop.time() - left.stats.back_at_s <= 3.0
                await drop
            finally:
                for t in transports:
                    await t.close()

    asyncio.run(asyncio.wait_for(body(), 90.0))
