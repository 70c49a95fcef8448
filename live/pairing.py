"""Pairing two Bluetooth LE insoles from the page: scan, press to tell left from right, save.

:class:`PairingService` runs on the live runtime's event loop (the dashboard's pairing
routes await it) and walks through:

1. **scan** (:meth:`~PairingService.scan`): the runtime's insoles are closed first (a
   connected insole stops advertising), then one scan lists the insoles in range with
   name, address, RSSI, layout and battery (:func:`firmware_bridge.ble.scan.scan_insoles`).
2. **identify** (:meth:`~PairingService.identify`): both insoles are connected (one at a
   time, then streamed together) and :class:`analysis.press_detect.PressDetector` watches
   their forefoot pressure: first a baseline ("don't touch the insoles"), then the runner
   is asked to press on the insole in their LEFT shoe; the one whose pressure rises is the
   left one. Nobody pressing, both pressed, or the pressed insole reporting itself as a
   right insole end in a message that says what to do.
3. **save** (:meth:`~PairingService.save`): the pair goes to the configuration file
   through the ``save`` callback (``plantar`` writes ``plantar.toml``; this package
   cannot), then the runtime streams from the new insoles without a restart
   (:meth:`live.runtime.LiveRuntime.use_insoles`).

:meth:`~PairingService.cancel` gives the runtime its previous insoles back. Simulated
insoles (``plantar demo --transport ble``) can be pressed through
:meth:`~PairingService.press_simulated`, so the page's demo and the tests take the same
path as a runner's hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from base.errors import PlantarError

log = logging.getLogger("plantar.live.pairing")

__all__ = ["PairingError", "PairingService"]

#: Seconds of scanning for insoles in range.
SCAN_S = 4.0
#: Seconds the runner has to press once asked.
PRESS_TIMEOUT_S = 30.0
#: An insole counts as pressed once its pressure stayed up this long; the other one is
#: watched as long (both pressed?).
CONFIRM_S = 0.8
#: Bound on connecting both insoles for the press test (s).
CONNECT_TIMEOUT_S = 30.0

#: Called with {"left": url, "right": url}; writes the configuration and returns its path,
#: or raises a PlantarError whose message says what to do.
SaveFn = Callable[[dict[str, str]], str]


class PairingError(Exception):
    """A pairing step that cannot be done now; the message is shown on the page."""


class PairingService:
    """The pairing flow of one live runtime (see the module).

    Parameters
    ----------
    save : writes the pair to the configuration (see :data:`SaveFn`).
    radio : ``"bluez"`` (the system's adapter) or ``"virtual"`` (bumble's virtual radio of
        ``plantar demo --transport ble`` and the tests).
    adapter : BlueZ adapter (``hci1``), None for the default.
    simulated : address -> simulated peripheral (``press()``/``release()``), demo only.
    scan_s, press_timeout_s : see :data:`SCAN_S`, :data:`PRESS_TIMEOUT_S`.
    """

    def __init__(
        self,
        save: SaveFn,
        *,
        radio: str = "bluez",
        adapter: str | None = None,
        simulated: dict[str, Any] | None = None,
        scan_s: float = SCAN_S,
        press_timeout_s: float = PRESS_TIMEOUT_S,
    ) -> None:
        self._save = save
        self.radio_kind = radio
        self.adapter = adapter
        self.simulated = {a.upper(): p for a, p in (simulated or {}).items()}
        self.scan_s = scan_s
        self.press_timeout_s = press_timeout_s
        self.runtime: Any = None
        self.state = "idle"
        self.message = "Scan for the insoles in range."
        self.found: list[dict[str, Any]] = []
        self.pair: dict[str, str] = {}
        self.rise_kpa: dict[str, float] = {}
        self.saved_to: str | None = None
        self._previous_urls: dict[str, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def attach(self, runtime: Any) -> None:
        """The live runtime whose insoles are paired (``pause_insoles``/``use_insoles``)."""
        self.runtime = runtime

    # -- what the page shows ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """State, message, insoles found, the pair found and the simulated insoles."""
        return {
            "state": self.state,
            "message": self.message,
            "insoles": self.found,
            "pair": dict(self.pair),
            "rise_kpa": {a: round(r, 1) for a, r in self.rise_kpa.items()},
            "saved_to": self.saved_to,
            "radio": self.radio_kind,
            "simulated": [
                {"address": a, "name": p.name, "pressed": bool(p.pressed)}
                for a, p in sorted(self.simulated.items())
            ],
        }

    def _set(self, state: str, message: str) -> None:
        self.state = state
        self.message = message
        log.info("pairing: %s: %s", state, message)

    def _fail(self, message: str) -> PairingError:
        self._set("error", message)
        return PairingError(message)

    # -- the steps ----------------------------------------------------------------------

    def _busy_reason(self) -> str | None:
        runtime = self.runtime
        if runtime is None or runtime.pipeline is None:
            return "no live session to pair insoles for: start plantar run or plantar demo"
        if runtime.pipeline.recording_status().get("state") == "recording":
            return "a recording is running: stop it before pairing other insoles"
        return None

    def _url(self, address: str) -> str:
        params = []
        if self.radio_kind != "bluez":
            params.append(f"radio={self.radio_kind}")
        if self.adapter:
            params.append(f"adapter={self.adapter}")
        return f"ble://{address.upper()}" + (f"?{'&'.join(params)}" if params else "")

    async def scan(self) -> dict[str, Any]:
        """Close the runtime's insoles and list the insoles in range."""
        from firmware_bridge.ble.scan import scan_insoles, select_radio

        async with self._lock:
            busy = self._busy_reason()
            if busy:
                raise self._fail(busy)
            await self._stop_identify()
            await self._pause()
            self.pair = {}
            self.rise_kpa = {}
            self.saved_to = None
            self._set("scanning", f"Scanning for insoles for {self.scan_s:g} s ...")
            try:
                radio = select_radio(self.radio_kind, adapter=self.adapter)
                found = await scan_insoles(radio, self.scan_s)
            except PlantarError as err:
                raise self._fail(str(err) + await self._resume()) from None
            self.found = [f.to_dict() for f in found]
            if not found:
                raise self._fail(
                    f"No insoles in range after {self.scan_s:g} s: switch both insoles on "
                    "(check they are charged and not connected to a phone), then scan again."
                    + await self._resume()
                )
            if len(found) < 2:
                raise self._fail(
                    f"Only one insole in range ({found[0].name}): switch the other one on "
                    "(check it is charged), then scan again." + await self._resume()
                )
            self._set(
                "found",
                f"{len(found)} insoles in range. Choose the two to pair, then press Identify.",
            )
            return self.status()

    async def _pause(self) -> None:
        """Close the runtime's insoles (remembering them) so that they advertise."""
        if self._previous_urls is None:
            self._previous_urls = dict(self.runtime.urls or {})
        await self.runtime.pause_insoles()
        for foot in ("left", "right"):
            self.runtime.hub.publish_link(
                foot, {"state": "waiting", "url": "", "detail": "pairing insoles (/pair)"}
            )

    async def _resume(self) -> str:
        """Give the runtime its previous insoles back (a scan failed); what to tell."""
        from live.runtime import UNPAIRED_LINK

        previous, self._previous_urls = self._previous_urls, None
        if not previous:  # nothing was paused (no scan yet, or just saved): leave it be
            if not self.runtime.urls:
                for foot in ("left", "right"):
                    self.runtime.hub.publish_link(foot, UNPAIRED_LINK)
            return ""
        await self.runtime.use_insoles(previous)
        return " Until then the insoles paired before are used again."

    async def identify(self, addresses: list[str] | None = None) -> dict[str, Any]:
        """Start the press test on two scanned insoles (default: the first two found)."""
        async with self._lock:
            busy = self._busy_reason()
            if busy:
                raise self._fail(busy)
            known = {i["address"].upper(): i for i in self.found}
            chosen = [a.upper() for a in (addresses or list(known)[:2])]
            if len(chosen) != 2 or len(set(chosen)) != 2:
                raise self._fail("Choose two different insoles to pair.")
            unknown = [a for a in chosen if a not in known]
            if unknown:
                raise self._fail(f"{unknown[0]} was not found by the last scan: scan again.")
            await self._stop_identify()
            await self._pause()  # identify again after a save: the insoles are in use
            self.pair = {}
            self.rise_kpa = {}
            self._set("connecting", "Connecting to both insoles ...")
            self._task = asyncio.get_running_loop().create_task(
                self._identify(chosen, known), name="plantar-pairing"
            )
            return self.status()

    async def _identify(self, addresses: list[str], known: dict[str, dict[str, Any]]) -> None:
        from analysis.press_detect import PressDetector
        from firmware_bridge.insole_stream import InsoleStream, SessionClock
        from firmware_bridge.transport import open_transport
        from hardware.layout import load_layout

        session = SessionClock()
        streams = {
            a: InsoleStream(open_transport(self._url(a)), session=session) for a in addresses
        }
        pumps: list[asyncio.Task[None]] = []
        try:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    for stream in streams.values():  # one connection set-up at a time
                        await stream.open()
            except (PlantarError, TimeoutError) as err:
                self._set("error", f"Could not connect to both insoles ({err}); scan again.")
                return
            feet = {a: s.foot for a, s in streams.items()}
            masks = {}
            used = self.runtime.layouts["left"]
            for a, s in streams.items():
                info = s.info
                assert info is not None
                if info.n_sensels != used.n_sensels:
                    self._set(
                        "error",
                        f"{known[a]['name']} has layout {info.layout_id} ({info.n_sensels} "
                        f"sensels) but this service shows {used.id} ({used.n_sensels}): set "
                        "insoles.left.layout and insoles.right.layout in the configuration "
                        "and restart it, then pair.",
                    )
                    return
                try:
                    layout = load_layout(info.layout_id, foot=feet[a])
                except PlantarError as err:
                    self._set("error", f"{known[a]['name']}: {err}")
                    return
                if layout.n_sensels != info.n_sensels:
                    self._set("error", f"{known[a]['name']}: layout does not match its sensels")
                    return
                masks[a] = layout.forefoot_mask()
            detector = PressDetector(masks)
            pumps = [asyncio.create_task(self._pump(a, s, detector)) for a, s in streams.items()]
            self._set(
                "baseline", "Measuring: sit down, feet off the insoles, do not touch them ..."
            )
            while not detector.verdict().ready:
                await asyncio.sleep(0.1)
                self._check_pumps(pumps)
            self._set(
                "press",
                "Press firmly with your thumb on the front (ball of the foot) of the insole "
                "in your LEFT shoe, and hold it for two seconds.",
            )
            await self._await_press(detector, pumps, known, feet)
        except PairingError:
            pass  # the state and message are set
        except Exception as err:  # a link lost mid-test ...: say so, never a traceback
            log.exception("pairing failed")
            self._set("error", f"Pairing failed ({err}); scan again.")
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for stream in streams.values():
                with contextlib.suppress(Exception):
                    await stream.close()

    async def _pump(self, address: str, stream: Any, detector: Any) -> None:
        while True:
            frames, _events = await stream.next_batch()
            if frames is not None and len(frames):
                detector.feed(address, frames.t_s, frames.pressure_kpa)

    def _check_pumps(self, pumps: list[asyncio.Task[None]]) -> None:
        for task in pumps:
            if task.done():
                err = task.exception() if not task.cancelled() else None
                raise self._fail(f"An insole stopped streaming ({err or 'ended'}); scan again.")

    async def _await_press(
        self,
        detector: Any,
        pumps: list[asyncio.Task[None]],
        known: dict[str, dict[str, Any]],
        feet: dict[str, str],
    ) -> None:
        deadline = time.monotonic() + self.press_timeout_s
        first_at: float | None = None
        while True:
            await asyncio.sleep(0.1)
            self._check_pumps(pumps)
            verdict = detector.verdict()
            self.rise_kpa = dict(verdict.rise_kpa)
            now = time.monotonic()
            if not verdict.pressed:
                first_at = None  # a moment's rise (a step, a knock) is not a press
            elif first_at is None:
                first_at = now
            elif now - first_at >= CONFIRM_S:
                break
            if first_at is None and now > deadline:
                raise self._fail(
                    f"No insole was pressed within {self.press_timeout_s:g} s: press firmly "
                    "on the front of the LEFT insole when asked; Identify again."
                )
        left = detector.verdict().single
        if left is None:
            raise self._fail(
                "Both insoles were pressed: sit down with both feet off the insoles, press "
                "only the insole in your LEFT shoe; Identify again."
            )
        right = next(a for a in feet if a != left)
        if feet[left] != "left" or feet[right] != "right":
            raise self._fail(
                f"The insole you pressed ({known[left]['name']}) reports itself as a "
                f"{feet[left]} insole. Press the insole in your LEFT shoe; if that is the one "
                "you pressed, the insoles are in the wrong shoes: swap them."
            )
        self.pair = {"left": left, "right": right}
        self._set(
            "identified",
            f"Left: {known[left]['name']} ({left}); right: {known[right]['name']} ({right}). "
            "Save the pair to use it.",
        )

    async def _stop_identify(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def save(self) -> dict[str, Any]:
        """Write the identified pair to the configuration and stream from it."""
        async with self._lock:
            if self.state != "identified" or not self.pair:
                raise PairingError("Nothing to save yet: scan, then identify the left insole.")
            urls = {foot: self._url(a) for foot, a in self.pair.items()}
            try:
                path = await asyncio.get_running_loop().run_in_executor(None, self._save, urls)
            except PlantarError as err:
                self.message = f"The pair was not saved: {err}"
                raise PairingError(self.message) from None
            self.saved_to = str(path)
            await self.runtime.use_insoles(urls)
            self._previous_urls = None
            self._set("saved", f"Saved to {path}; connecting to the new pair ...")
            return self.status()

    async def cancel(self) -> dict[str, Any]:
        """Stop the press test and give the runtime its previous insoles back."""
        async with self._lock:
            await self._stop_identify()
            resumed = await self._resume() if self.runtime is not None else ""
            self._set("idle", "Pairing cancelled." + resumed)
            return self.status()

    def press_simulated(self, address: str, pressed: bool) -> dict[str, Any]:
        """Press (or release) a simulated insole's forefoot (demo and tests only)."""
        peripheral = self.simulated.get(address.upper())
        if peripheral is None:
            raise PairingError(f"{address} is not a simulated insole")
        if pressed:
            peripheral.press()
        else:
            peripheral.release()
        return self.status()
