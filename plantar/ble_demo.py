"""``plantar demo --transport ble``: two simulated BLE insoles, paired on the page.

The insoles are :class:`firmware_bridge.ble.peripheral.SimulatedBlePeripheral` GATT
servers on a :class:`firmware_bridge.ble.virtual_radio.VirtualRadio` (bumble's virtual
controllers) in this process, on the live runtime's event loop. The runtime starts with
no insoles; the pairing page (``/pair``) scans them through bleak, asks for a press on the
left one (the page's "Press on Plantar-L" button presses the simulated forefoot), writes
the pair to ``--config`` and the runtime streams from it through the ``ble://`` transport,
exactly as ``plantar run`` does with real insoles and BlueZ.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from base.units import kmh_to_mps

#: Scan time on the virtual radio (it advertises every 50 ms).
VIRTUAL_SCAN_S = 1.5


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def config_path(args: argparse.Namespace) -> Path:
    """The file the pairing page saves to: ``--config``, else a new temporary one."""
    from plantar.pair_config import check_writable

    if args.config is not None:
        return check_writable(args.config)
    return Path(tempfile.mkdtemp(prefix="plantar-demo-")) / "plantar.toml"


def run_ble_demo(args: argparse.Namespace, meta: dict[str, Any]) -> int:
    """Run the BLE demo until ``--duration``, Ctrl-C or SIGTERM (see the module)."""
    from dashboard.server import live_runtime
    from firmware_bridge.ble.virtual_radio import VirtualRadio, use_radio
    from live.pairing import PairingService
    from live.runtime import RuntimeOptions
    from plantar.demo_command import finish, open_and_serve
    from plantar.pair_config import pair_saver

    path = config_path(args)
    options = RuntimeOptions.from_args(args)
    pairing = PairingService(pair_saver(path), radio="virtual", scan_s=VIRTUAL_SCAN_S)
    options.pairing = pairing
    radio = VirtualRadio("demo")
    runtime = None
    with use_radio(radio):
        try:
            runtime = live_runtime(options, urls={}, meta=meta)
            peripherals = runtime.loop.run_until_complete(_start_insoles(radio, args))
            pairing.simulated = {p.address.upper(): p for p in peripherals}
            runtime.start(record=not args.no_record)
            _say(f"Plantar demo: {runtime.url}")
            _say(
                "simulated BLE insoles "
                + ", ".join(f"{p.name} ({p.address})" for p in peripherals)
                + f"; pair them at {runtime.url.split('?')[0]}pair (saved to {path})"
            )
            open_and_serve(runtime, args)
        finally:
            if runtime is not None:
                runtime.close()
    return finish(runtime, args)


async def _start_insoles(radio: Any, args: argparse.Namespace) -> list[Any]:
    """A left and a right simulated insole advertising on ``radio``."""
    from firmware_bridge.ble.peripheral import SimulatedBlePeripheral
    from hardware.sim import GaitParams, make_pair

    gait = GaitParams(
        speed_mps=kmh_to_mps(args.speed_kmh),
        strike=args.strike,
        fatigue_onset_s=1e9 if args.no_fatigue else args.fatigue_onset_s,
        fatigue_ramp_s=args.fatigue_ramp_s,
        fatigue_pivot_gain=args.fatigue_gain,
    )
    from hardware.layout import load_layout

    layout = load_layout(args.layout, eu_size=args.eu_size)
    pair = make_pair(layout, gait=gait, seed=args.seed, sampling_rate_hz=args.rate)
    peripherals = [SimulatedBlePeripheral(radio, insole) for insole in pair]
    for peripheral in peripherals:
        await peripheral.start()
    return peripherals
