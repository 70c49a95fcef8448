"""Pairing on a live runtime (live.pairing + plantar.pair_config), over bumble's virtual radio.

The runtime is the real one (``dashboard.server.live_runtime``, no insoles yet); the insoles
are simulated GATT peripherals; scanning, the press test and the stream afterwards go
through bleak and the ``ble://`` transport. The left insole is named so that it is listed
second, so that "the first one found is the left" cannot pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("bumble")
pytest.importorskip("tomlkit")

from firmware_bridge.ble.peripheral import SimulatedBlePeripheral
from firmware_bridge.ble.scan import SCAN_CACHE
from firmware_bridge.ble.virtual_radio import VirtualRadio, use_radio
from hardware.sim import Imperfections, make_pair
from live.pairing import PairingError, PairingService
from plantar.config import load_config
from plantar.pair_config import pair_saver

#: Generous: the suite must pass with both cores busy.
STEP_TIMEOUT_S = 60.0
CONFIG_TEXT = """\
# the lab's Pi: comments and other keys must survive pairing
[insoles.left]
url = "ble://name/Old-L"
layout = "plantar-ref"  # kept

[insoles.right]
url = "ble://name/Old-R"

[athlete]
name = "Ada"
"""


class Rig:
    """A live runtime with pairing, its loop driven by the test between steps."""

    def __init__(self, tmp_path: Path) -> None:
        from dashboard.server import live_runtime
        from live.runtime import RuntimeOptions

        self.config = tmp_path / "etc" / "plantar.toml"
        self.config.parent.mkdir()
        self.config.write_text(CONFIG_TEXT, encoding="utf-8")
        self.radio = VirtualRadio("test-pairing")
        self.pairing = PairingService(
            pair_saver(self.config), radio="virtual", scan_s=1.0, press_timeout_s=20.0
        )
        options = RuntimeOptions(port=0, pairing=self.pairing, sessions_root=tmp_path / "s")
        self.runtime = live_runtime(options, urls={}, meta={})
        self.runtime.start(record=False)
        self.insoles: dict[str, SimulatedBlePeripheral] = {}

    def run(self, coro: Any) -> Any:
        return self.runtime.loop.run_until_complete(asyncio.wait_for(coro, STEP_TIMEOUT_S))

    def start_insoles(self) -> None:
        async def start() -> None:
            left, right = make_pair(
                "plantar-ref", imperfections=Imperfections(loss_probability=0.0), seed=2
            )
            # the left insole sorts second in the scan list
            for name, insole in (("Plantar-B", left), ("Plantar-A", right)):
                p = SimulatedBlePeripheral(self.radio, insole, name=name, battery_pct=64)
                await p.start()
                self.insoles[insole.foot] = p

        self.run(start())

    def wait_state(self, *states: str) -> dict[str, Any]:
        async def until() -> dict[str, Any]:
            while self.pairing.state not in states:
                await asyncio.sleep(0.05)
            return self.pairing.status()

        return self.run(until())

    def identify_pressing(self, *feet: str) -> dict[str, Any]:
        for p in self.insoles.values():
            p.release()
        self.run(self.pairing.identify())
        self.wait_state("press", "error")
        assert self.pairing.state == "press", self.pairing.message
        for foot in feet:
            self.insoles[foot].press()  # a hand on the forefoot
        status = self.wait_state("identified", "error")
        for p in self.insoles.values():
            p.release()
        return status

    def close(self) -> None:
        async def stop() -> None:
            for p in self.insoles.values():
                with contextlib.suppress(Exception):
                    await p.stop()

        self.runtime.close()
        if not self.runtime.loop.is_closed():
            self.run(stop())


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    SCAN_CACHE.clear()
    radio_rig = None
    try:
        radio_rig = Rig(tmp_path)
        with use_radio(radio_rig.radio):
            yield radio_rig
    finally:
        if radio_rig is not None:
            radio_rig.close()
        SCAN_CACHE.clear()


def test_bad_input_says_what_to_do(rig: Rig) -> None:
    with pytest.raises(PairingError, match="No insoles in range"):
        rig.run(rig.pairing.scan())
    assert rig.pairing.state == "error"
    rig.start_insoles()
    rig.run(rig.pairing.scan())
    with pytest.raises(PairingError, match="Nothing to save"):
        rig.run(rig.pairing.save())

    both = rig.identify_pressing("left", "right")
    assert both["state"] == "error" and "Both insoles were pressed" in both["message"]
    assert not both["pair"]

    wrong = rig.identify_pressing("right")
    assert wrong["state"] == "error"
    assert "Plantar-A" in wrong["message"] and "reports itself as a right" in wrong["message"]

    # the configuration cannot be written (its directory is gone, a file in its place)
    assert rig.identify_pressing("left")["state"] == "identified"
    shutil.rmtree(rig.config.parent)
    rig.config.parent.write_text("not a directory")
    with pytest.raises(PairingError, match="cannot write"):
        rig.run(rig.pairing.save())
    assert rig.runtime.urls == {}  # nothing switched
    assert rig.pairing.state == "identified"  # fix the file, save again


def test_pressing_the_left_insole_saves_the_pair_and_streams(rig: Rig) -> None:
    rig.start_insoles()
    found = rig.run(rig.pairing.scan())["insoles"]
    assert [i["name"] for i in found] == ["Plantar-A", "Plantar-B"]
    assert all(i["battery_pct"] == 64 and i["layout_id"] == "plantar-ref" for i in found)
    assert all(i["rssi_dbm"] is not None for i in found)

    status = rig.identify_pressing("left")
    assert status["state"] == "identified", status["message"]
    left, right = rig.insoles["left"].address, rig.insoles["right"].address
    assert status["pair"] == {"left": left, "right": right}
    assert status["rise_kpa"][left] > 80 and status["rise_kpa"][right] < 40

    saved = rig.run(rig.pairing.save())
    assert saved["state"] == "saved" and saved["saved_to"] == str(rig.config)
    text = rig.config.read_text(encoding="utf-8")
    assert "# the lab's Pi: comments and other keys must survive pairing" in text
    assert 'layout = "plantar-ref"  # kept' in text
    cfg = load_config(rig.config, env={})
    assert cfg.insoles["left"].url == f"ble://{left}?radio=virtual"
    assert cfg.insoles["right"].url == f"ble://{right}?radio=virtual"
    assert cfg.insoles["left"].layout == "plantar-ref" and cfg.athlete.name == "Ada"

    async def streaming(more_than: int) -> dict[str, int]:
        hub = rig.runtime.hub
        while True:
            frames = hub.status()["frames"]
            if all(frames[f] > more_than for f in ("left", "right")):
                return frames
            await asyncio.sleep(0.1)

    frames = rig.run(streaming(200))
    streams = rig.runtime.bridge.streams
    assert streams["left"].transport.description.startswith("Plantar-B")
    assert streams["right"].transport.description.startswith("Plantar-A")

    # pairing again closes the insoles (they must advertise); cancel gives them back
    rig.run(rig.pairing.scan())
    assert rig.runtime.bridge is None
    assert rig.runtime.hub.status()["links"]["left"]["state"] == "waiting"
    rig.run(rig.pairing.cancel())
    assert rig.runtime.urls == {"left": cfg.insoles["left"].url, "right": cfg.insoles["right"].url}
    rig.run(streaming(max(frames.values()) + 200))
    # Cancel with nothing paused (the page's button is always there): the streaming pair
    # is left alone, not shown as unpaired
    rig.run(rig.pairing.cancel())
    links = rig.runtime.hub.status()["links"]
    assert all(links[f]["state"] != "waiting" for f in ("left", "right")), links
    rig.run(streaming(max(rig.runtime.hub.status()["frames"].values()) + 100))
