# Long module: per-foot live state, display loop and event fan-out share one lock and loop.
"""The live hub: what the live pipeline publishes, fanned out to the page's subscribers.

The producer is :class:`live.pipeline.LivePipeline`, on the server's event loop: it calls
:meth:`LiveHub.publish_frames` with each batch and the Analyzer's reductions of it (force,
CoP, stance flag), :meth:`~LiveHub.publish_step` with each step and its own hot cells,
:meth:`~LiveHub.publish_analysis` with the Analyzer's pivot gauge and metrics, and
:meth:`~LiveHub.publish_alert`, :meth:`~LiveHub.publish_link`,
:meth:`~LiveHub.publish_recording`, :meth:`~LiveHub.publish_session` (the one session
state), :meth:`~LiveHub.publish_clock` and :meth:`~LiveHub.publish_marker` (the recording's
status thread and the page's requests call these from other threads).
The hub computes no metric: it keeps the newest frame, the CoP trace and the per-sensel
peak of the current stance (from the Analyzer's stance flags; the last stance's peak map is
shown through swing), the latest analysis state, and whether each insole is lost (the
bridge says so, or nothing came for :data:`LOST_AFTER_S`); it never waits for a client or
the network.

Two channels per browser:

* **display** (``/ws/live``, binary, :mod:`live.display_wire`): at most ``max_rate_hz``
  messages per second, built once per tick for all clients from the newest frame of each
  foot. Every client has a one-message slot; a new message replaces an unsent one, so a
  slow or stalled client costs one message of memory and never slows anything else.
* **events** (``/ws/events``, JSON text): step records, alerts, gauges, link and
  recording status, the process's CPU share (:mod:`live.cpu_budget`, once a second), in
  order and without loss while the client is connected. A client whose event queue
  reaches ``max_client_events`` is disconnected (the page reconnects and gets a fresh
  snapshot), so memory stays bounded here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.analyzer import FrameReductions, PivotAlertPolicy
from analysis.hotspots import InterpolationGrid
from analysis.records import round_or_none
from base.frames import FootFrames
from hardware.layout import Layout
from live.cpu_budget import CpuMeter
from live.display_wire import FootView, encode_display
from live.loop import running_loop
from live.subscribers import DisplayClient, EventClient

#: Fixed top of the colour scale (kPa): forefoot peaks in shod running reach ~260 kPa.
DEFAULT_KPA_MAX = 400.0
_MAX_COP_POINTS = 256
_RATE_WINDOW_S = 2.0
#: An insole whose frames stopped this long ago (s) is shown as lost, whatever the bridge
#: says (a stalled link often closes only after its read timeout).
LOST_AFTER_S = 1.5
#: Link states of the bridge in which an insole that has streamed is lost.
_LOST_STATES = ("reconnecting", "closed", "connecting")
#: How often link status goes to the pages (s).
LINK_PERIOD_S = 0.5


def _wall_ms_from_monotonic_ns(t_ns: float, offset_ms: float) -> float:
    return t_ns / 1e6 + offset_ms


@dataclass
class _FootLive:
    layout: Layout
    grid: InterpolationGrid
    pressure_kpa: np.ndarray | None = None
    shear_kpa: np.ndarray | None = None
    t_s: float = math.nan
    t_sample_ns: float = math.nan
    t_recv_ns: float = math.nan
    force_n: float = 0.0
    stance: bool = False
    cop: np.ndarray = field(default_factory=lambda: np.zeros((_MAX_COP_POINTS, 2), np.float32))
    n_cop: int = 0
    arrivals: deque = field(default_factory=deque)  # (t_recv_s, n_frames, first_seq, last_seq)
    frames_total: int = 0
    link: dict[str, Any] = field(default_factory=dict)
    stance_peak_kpa: np.ndarray | None = None  # per sensel, over the current stance
    held_peak_kpa: np.ndarray | None = None  # the last finished stance's, held through swing
    lost_since_s: float | None = None  # monotonic s when the insole was first seen lost


class LiveHub:
    """Fan-out of live data to dashboard clients; see the module docstring.

    Parameters
    ----------
    layouts : {"left": Layout, "right": Layout}, each for its own foot.
    max_rate_hz : display messages per second per client (≤ 30).
    kpa_max : top of the fixed colour scale (kPa).
    pivot_alert : the Analyzer's pivot-alert policy (shown with the layout).
    max_client_events : event queue bound per client.
    history : step records and alerts kept for the snapshot a new client gets.
    """

    def __init__(
        self,
        layouts: dict[str, Layout],
        *,
        max_rate_hz: float = 30.0,
        kpa_max: float = DEFAULT_KPA_MAX,
        pivot_alert: PivotAlertPolicy | None = None,
        max_client_events: int = 2000,
        history: int = 60,
    ) -> None:
        if not 0 < max_rate_hz <= 30.0:
            raise ValueError("max_rate_hz must be in (0, 30]")
        self.max_rate_hz = float(max_rate_hz)
        self.kpa_max = float(kpa_max)
        self.max_client_events = int(max_client_events)
        self._feet: dict[str, _FootLive] = {}
        for foot, layout in layouts.items():
            self._feet[foot] = _FootLive(layout=layout, grid=InterpolationGrid.from_layout(layout))
        self.pivot_alert = pivot_alert or PivotAlertPolicy()
        self._gauges: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._mono_to_wall_ms = time.time() * 1000.0 - time.monotonic_ns() / 1e6
        self._t0_ns: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._display: set[DisplayClient] = set()
        self._events: set[EventClient] = set()
        self._steps: deque[dict[str, Any]] = deque(maxlen=history)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=history)
        self._metrics: dict[str, Any] = {}
        self._recording: dict[str, Any] = {"state": "idle"}
        self._session: dict[str, Any] = {}
        self._clock: dict[str, Any] = {}
        self._markers: deque[dict[str, Any]] = deque(maxlen=history)
        self._tasks: list[asyncio.Task] = []
        self.messages_built = 0
        self._msg_seq = 0
        self.client_latency: dict[str, float] = {}
        #: This process's CPU share, sampled once a second by the link loop.
        self.cpu = CpuMeter()

    # -- geometry ----------------------------------------------------------------------

    def geometry(self) -> dict[str, Any]:
        """Static drawing data of both feet (outline, grid, shear sites), JSON-ready."""
        feet = {}
        for foot, fl in self._feet.items():
            g = fl.grid
            feet[foot] = {
                "layout_id": fl.layout.id,
                "foot_length_mm": float(fl.layout.foot_length_mm),
                "outline_mm": np.round(fl.layout.outline_mm, 2).tolist(),
                "grid": {
                    "x0_mm": float(g.x_mm[0]),
                    "y0_mm": float(g.y_mm[0]),
                    "cell_mm": g.cell_mm,
                    "nx": int(g.x_mm.size),
                    "ny": int(g.y_mm.size),
                },
                "shear_sites": [
                    {"name": s.name, "x_mm": s.x_mm, "y_mm": s.y_mm} for s in fl.layout.shear_sites
                ],
            }
        return {
            "feet": feet,
            "kpa_max": self.kpa_max,
            "max_rate_hz": self.max_rate_hz,
            "pivot_alert": dataclasses.asdict(self.pivot_alert),
        }

    # -- producers (any thread) --------------------------------------------------------

    def set_timebase(self, t0_monotonic_ns: int) -> None:
        """Session time 0 on ``time.monotonic_ns()`` (lets the page show sensor latency)."""
        self._t0_ns = int(t0_monotonic_ns)

    def publish_frames(
        self, frames: FootFrames, reduced: FrameReductions, t_recv_ns: int | None = None
    ) -> None:
        """Newest frames of one foot (a batch) with the Analyzer's reductions of them.

        ``t_recv_ns`` is when the bridge received the bytes of the newest frame
        (``time.monotonic_ns()``); default: now.
        """
        n = len(frames)
        fl = self._feet.get(frames.foot)
        if n == 0 or fl is None:
            return
        t_recv = time.monotonic_ns() if t_recv_ns is None else int(t_recv_ns)
        with self._lock:
            self._trace_cop(fl, reduced.cop_xy_mm, reduced.stance)
            self._track_peak(fl, frames.pressure_kpa, reduced.stance)
            fl.pressure_kpa = np.array(frames.pressure_kpa[-1], dtype=np.float64)
            fl.shear_kpa = np.array(frames.shear_kpa[-1], dtype=np.float32)
            fl.t_s = float(frames.t_s[-1])
            fl.t_recv_ns = float(t_recv)
            fl.t_sample_ns = (
                self._t0_ns + fl.t_s * 1e9 if self._t0_ns is not None else float(t_recv)
            )
            fl.force_n = float(reduced.force_n[-1])
            fl.stance = bool(reduced.stance[-1])
            fl.frames_total += n
            fl.arrivals.append((t_recv / 1e9, n, int(frames.seq[0]), int(frames.seq[-1])))
            while fl.arrivals and fl.arrivals[0][0] < t_recv / 1e9 - _RATE_WINDOW_S:
                fl.arrivals.popleft()
        self._wake_display()

    def _trace_cop(self, fl: _FootLive, cop: np.ndarray, stance: np.ndarray) -> None:
        """CoP trace of the current stance: a heel strike in the batch starts a new one."""
        prev = np.concatenate(([fl.stance], stance[:-1]))
        cut_list = np.flatnonzero(stance != prev).tolist()
        bounds = [0, *cut_list, len(stance)]
        for a, b in itertools.pairwise(bounds):
            if a == b or not stance[a]:
                continue
            if a in cut_list:  # heel strike: a new trace
                fl.n_cop = 0
            pts = cop[a:b]
            pts = pts[np.isfinite(pts).all(axis=1)]
            if fl.n_cop + len(pts) > _MAX_COP_POINTS:  # decimate the older half
                keep = fl.cop[: fl.n_cop : 2].copy()
                fl.n_cop = len(keep)
                fl.cop[: fl.n_cop] = keep
                pts = pts[-(_MAX_COP_POINTS - fl.n_cop) :]
            fl.cop[fl.n_cop : fl.n_cop + len(pts)] = pts
            fl.n_cop += len(pts)

    @staticmethod
    def _track_peak(fl: _FootLive, pressure_kpa: np.ndarray, stance: np.ndarray) -> None:
        """Per-sensel peak of the current stance; at toe-off it becomes the held map."""
        in_stance = fl.stance
        for a, b in _runs(stance):
            if stance[a]:
                peak = np.nanmax(pressure_kpa[a:b], axis=0)
                if not in_stance or fl.stance_peak_kpa is None:  # heel strike: a new stance
                    fl.stance_peak_kpa = peak.astype(np.float64)
                else:
                    np.fmax(fl.stance_peak_kpa, peak, out=fl.stance_peak_kpa)
            elif in_stance and fl.stance_peak_kpa is not None:  # toe-off
                fl.held_peak_kpa, fl.stance_peak_kpa = fl.stance_peak_kpa, None
            in_stance = bool(stance[a])

    def publish_step(self, step: dict[str, Any], hot_cells: list[int]) -> None:
        """A finished step record from the Analyzer, with the hot cells of its own peak map
        (:attr:`analysis.analyzer.AnalyzerOutput.hot_cells`)."""
        foot = step.get("foot")
        if foot not in self._feet:
            return
        event = {"type": "step", "foot": foot, "step": _slim_step(step), "hot_cells": hot_cells}
        self._steps.append(event)
        self._broadcast(event)

    def publish_analysis(self, gauges: dict[str, Any], metrics: dict[str, Any]) -> None:
        """The Analyzer's pivot gauge per foot (:meth:`~analysis.analyzer.Analyzer.pivot_gauge`)
        and live metrics (:meth:`~analysis.analyzer.Analyzer.live_metrics`)."""
        self._gauges = gauges
        self._metrics = metrics
        for gauge in gauges.values():
            self._broadcast({"type": "gauge", **gauge})
        self._broadcast({"type": "metrics", **metrics})

    def publish_alert(self, alert: dict[str, Any]) -> None:
        """An alert of the Analyzer (``"pivot_rising"`` ...)."""
        event = {"type": "alert", "t_wall_ms": time.time() * 1000.0, **alert}
        self._alerts.append(event)
        self._broadcast(event)

    def publish_link(self, foot: str, status: dict[str, Any]) -> None:
        """Link facts from the bridge: ``state``, ``rssi_dbm``, ``lost``, ``description``..."""
        fl = self._feet.get(foot)
        if fl is None:
            return
        with self._lock:
            fl.link.update(status)
        self._broadcast(self.link_event(foot))

    def publish_recording(self, status: dict[str, Any]) -> None:
        """Recording state (``state``, ``session_id``, ``frames_written`` ...)."""
        self._recording = dict(status)
        self._broadcast({"type": "recording", **self._recording})

    def publish_session(self, info: dict[str, Any]) -> None:
        """The one session state (``meta``: athlete, shoe, sock, speed, incline, notes)."""
        self._session = {"meta": dict(info.get("meta") or {})}
        self._broadcast({"type": "session", **self._session})

    def publish_clock(self, clock: dict[str, Any]) -> None:
        """Elapsed time, treadmill distance and step counts of the live session."""
        self._clock = dict(clock)
        self._broadcast({"type": "clock", **self._clock})

    def publish_marker(self, marker: dict[str, Any]) -> None:
        """A runner's marker, as recorded (``t_s``, ``label``, ``session_id``)."""
        event = {"type": "marker", **marker}
        self._markers.append(event)
        self._broadcast(event)

    def latest_t_s(self) -> float:
        """Session time of the newest frame of either foot (NaN before any)."""
        times = [fl.t_s for fl in self._feet.values() if math.isfinite(fl.t_s)]
        return max(times) if times else math.nan

    def note_client_latency(self, report: dict[str, Any]) -> None:
        """A page's own measurement of sensor timestamp → drawn (ms), for ``/api/status``."""
        keep = ("p50_ms", "p95_ms", "max_ms", "n", "fps")
        self.client_latency = {
            k: float(report[k])
            for k in keep
            if isinstance(report.get(k), int | float) and math.isfinite(report[k])
        }

    # -- derived state -----------------------------------------------------------------

    def link_event(self, foot: str) -> dict[str, Any]:
        """Link status of one insole: bridge facts plus rate and loss seen by the hub."""
        fl = self._feet[foot]
        now_s = time.monotonic_ns() / 1e9
        with self._lock:
            arr = [a for a in fl.arrivals if a[0] >= now_s - _RATE_WINDOW_S]
            link = dict(fl.link)
            total = fl.frames_total
        received = sum(a[1] for a in arr)
        rate = loss = None
        if len(arr) >= 2:
            span = arr[-1][0] - arr[0][0]
            expected = arr[-1][3] - arr[0][2] + 1
            rate = (received - arr[0][1]) / span if span > 0 else None
            loss = 100.0 * max(expected - received, 0) / expected if expected > 0 else None
        state = link.pop("state", "streaming" if arr else "no data")
        lost_for_s = self._lost_for(fl, state, bool(arr), now_s)
        return {
            "type": "link",
            "foot": foot,
            "state": state,
            "lost": lost_for_s is not None,
            "lost_for_s": round(lost_for_s, 1) if lost_for_s is not None else None,
            "rate_hz": round_or_none(rate, 1) if rate is not None else None,
            "loss_pct": round_or_none(loss, 2) if loss is not None else None,
            "frames": total,
            **{k: v for k, v in link.items() if k != "type"},
        }

    def _lost_for(self, fl: _FootLive, state: str, recent: bool, now_s: float) -> float | None:
        """Seconds the insole has been lost (None: it is not). Only an insole that has
        streamed can be lost; before that the page shows it as waiting."""
        with self._lock:
            if fl.frames_total == 0:
                return None
            silent = now_s - fl.t_recv_ns / 1e9 > LOST_AFTER_S
            if state in _LOST_STATES or silent or not recent:
                if fl.lost_since_s is None:
                    fl.lost_since_s = min(now_s, fl.t_recv_ns / 1e9) if silent else now_s
                return now_s - fl.lost_since_s
            fl.lost_since_s = None
            return None

    def snapshot(self) -> dict[str, Any]:
        """What a newly connected event client gets first."""
        return {
            "type": "snapshot",
            "steps": list(self._steps)[-10:],
            "alerts": list(self._alerts),
            "gauges": self._gauges,
            "metrics": self._metrics,
            "links": {f: self.link_event(f) for f in self._feet},
            "recording": self._recording,
            "session": self._session,
            "clock": self._clock,
            "markers": list(self._markers),
            "cpu": self.cpu.last(),
        }

    def status(self) -> dict[str, Any]:
        """Counters for ``GET /api/status`` and the tests."""
        return {
            "display_clients": len(self._display),
            "event_clients": len(self._events),
            "messages_built": self.messages_built,
            "display_replaced": sum(c.replaced for c in self._display),
            "frames": {f: fl.frames_total for f, fl in self._feet.items()},
            "links": {f: self.link_event(f) for f in self._feet},
            "metrics": self._metrics,
            "gauges": self._gauges,
            "alerts": list(self._alerts),
            "recording": self._recording,
            "client_latency": self.client_latency,
            "cpu": self.cpu.last(),
        }

    # -- display loop (the server's event loop) ----------------------------------------

    async def start(self) -> None:
        """Bind to the running loop and start the display and link-status tasks."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._display_loop(), name="plantar-display"),
            asyncio.create_task(self._link_loop(), name="plantar-links"),
        ]

    async def stop(self) -> None:
        """Cancel the hub's tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _wake_display(self) -> None:
        loop = self._loop
        if loop is None or self._wake_pending:
            return
        self._wake_pending = True
        if running_loop() is loop:  # the pipeline runs on this loop: no hand-over
            self._wake_set()
            return
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            loop.call_soon_threadsafe(self._wake_set)

    def _wake_set(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _display_loop(self) -> None:
        """Build a message at most every ``1/max_rate_hz``, on the arrival of fresh data.

        When data arrives before the rate limit allows a message, the loop waits out the
        limit and then for the *next* arrival (at most one more period), so a message
        carries a frame that has just arrived rather than one that has waited: latency
        stays at the processing time, not the display period.
        """
        assert self._wake is not None
        wake = self._wake
        period = 1.0 / self.max_rate_hz
        next_ok = 0.0
        while True:
            await wake.wait()
            delay = next_ok - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                wake.clear()
                self._wake_pending = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=period)
            wake.clear()
            self._wake_pending = False
            if not self._display:
                continue
            message = self.build_display_message()
            next_ok = time.monotonic() + period
            for client in list(self._display):
                client.offer(message)

    def build_display_message(self) -> bytes:
        """One display message from the newest frame of each foot."""
        with self._lock:
            snaps = [
                (
                    foot,
                    fl,
                    fl.pressure_kpa,
                    fl.shear_kpa,
                    fl.cop[: fl.n_cop].copy(),
                    fl.t_s,
                    fl.t_sample_ns,
                    fl.t_recv_ns,
                    fl.force_n,
                    fl.stance,
                    fl.held_peak_kpa,
                )
                for foot, fl in self._feet.items()
            ]
        views = []
        for foot, fl, p, shear, cop, t_s, t_sample, t_recv, force, stance, held_p in snaps:
            has = p is not None
            held = has and not stance and held_p is not None
            shown = held_p if held else p
            grid = fl.grid.interpolate(shown) if has else np.full(fl.grid.inside.shape, np.nan)
            views.append(
                FootView(
                    foot=foot,
                    grid_kpa=grid,
                    shear_kpa=shear if shear is not None else np.zeros((0, 3), np.float32),
                    cop_xy_mm=cop,
                    t_s=t_s,
                    t_sample_ms=_wall_ms_from_monotonic_ns(t_sample, self._mono_to_wall_ms),
                    t_recv_ms=_wall_ms_from_monotonic_ns(t_recv, self._mono_to_wall_ms),
                    force_n=force,
                    peak_kpa=float(np.nanmax(p)) if has and p.size else 0.0,
                    has_data=has,
                    stance=stance,
                    held=held,
                )
            )
        self._msg_seq += 1
        self.messages_built += 1
        return encode_display(self._msg_seq, time.time() * 1000.0, self.kpa_max, views)

    async def _link_loop(self) -> None:
        while True:
            await asyncio.sleep(LINK_PERIOD_S)
            for foot in self._feet:
                self._broadcast(self.link_event(foot))
            self._broadcast({"type": "cpu", **self.cpu.sample()})

    # -- clients -----------------------------------------------------------------------

    def _broadcast(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None:
            return
        if running_loop() is loop:
            self._deliver(event)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: dict[str, Any]) -> None:
        for client in list(self._events):
            client.offer(event)

    def add_display_client(self) -> DisplayClient:
        """Register a display client (call on the hub's loop)."""
        client = DisplayClient()
        self._display.add(client)
        self._wake_display()
        return client

    def remove_display_client(self, client: DisplayClient) -> None:
        """Unregister a display client."""
        self._display.discard(client)

    def add_event_client(self) -> EventClient:
        """Register an event client; its queue starts with :meth:`snapshot`."""
        client = EventClient(self.max_client_events)
        client.offer(self.snapshot())
        self._events.add(client)
        return client

    def remove_event_client(self, client: EventClient) -> None:
        """Unregister an event client."""
        self._events.discard(client)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` index ranges over which ``flags`` is constant."""
    cuts = np.flatnonzero(flags[1:] != flags[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(flags)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _slim_step(step: dict[str, Any]) -> dict[str, Any]:
    """The fields of a step record the page uses (the full record is in the recording)."""
    keys = (
        "foot",
        "heel_strike_s",
        "toe_off_s",
        "contact_time_s",
        "step_time_s",
        "peak_force_n",
        "strike_index",
        "strike_pattern",
        "peak_pressure_kpa",
        "pivot",
        "hotspots",
    )
    return {k: step[k] for k in keys if k in step}
