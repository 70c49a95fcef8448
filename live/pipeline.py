"""The live pipeline: bridge output → recorder, Analyzer and hub, on the server's loop.

:class:`LivePipeline` is the bridge's consumer. :meth:`~LivePipeline.on_frames` is called
on the event loop with every batch of either foot; it hands the batch to the recorder
(when recording; a queue put that never blocks), runs the
:class:`analysis.analyzer.Analyzer` on it (numba kernels, tens of microseconds a batch;
the per-step work, at toe-off, about a millisecond) and publishes the newest frame with
the Analyzer's force, CoP and stance flag to the hub, then any finished step (with its
own hot cells), the Analyzer's pivot gauge and metrics, and its alerts. Steps and alerts
are recorded once, here. Nothing waits for the page: the hub keeps one slot per client.

It also implements :class:`live.control.SessionControl`: the **one** session state of the
live process (athlete, shoe, sock, treadmill speed and incline, notes), published to every
page on the hub's events channel; start and stop recording on that state (two pages pressing
Record at once get one session: the second is refused), and the runner's markers ("hot spot
felt now"), recorded as ``marker`` events.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.analyzer import Analyzer, PivotAlertPolicy
from analysis.records import round_or_none
from base.frames import FootFrames
from hardware.layout import Layout
from live.control import ControlError
from live.hub import LiveHub
from live.odometer import TreadmillOdometer

log = logging.getLogger("plantar.live.pipeline")


@dataclass
class _FootCount:
    first_seq: int | None = None
    last_seq: int | None = None
    handed: int = 0


@dataclass
class _RecordingCounts:
    feet: dict[str, _FootCount] = field(
        default_factory=lambda: {"left": _FootCount(), "right": _FootCount()}
    )
    steps: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})


class LivePipeline:
    """Consumer of the bridge; owner of the recorder and the analysis worker.

    Parameters
    ----------
    hub : where the page's data goes.
    layouts : {"left": Layout, "right": Layout} of the connected insoles.
    sessions_root : sessions directory for recordings (default: the data directory's).
    meta : initial session conditions (athlete, shoe, sock, treadmill_speed_kmh ...).
    catalog : passed to :class:`store.recorder.Recorder` (None: default catalog).
    pivot_alert : the Analyzer's pivot-alert policy (default: its own defaults).
    """

    def __init__(
        self,
        hub: LiveHub,
        layouts: dict[str, Layout],
        *,
        sessions_root: Path | None = None,
        meta: dict[str, Any] | None = None,
        catalog: Any = None,
        pivot_alert: PivotAlertPolicy | None = None,
    ) -> None:
        self.hub = hub
        self.layouts = layouts
        self.sessions_root = sessions_root
        self.catalog = catalog
        self.meta: dict[str, Any] = dict(meta or {})
        self._odometer = TreadmillOdometer(self.meta.get("treadmill_speed_kmh"))
        self._rec_odometer = TreadmillOdometer(self.meta.get("treadmill_speed_kmh"))
        self._analyzer = Analyzer(
            layouts,
            rate_hint_hz=200.0,
            speed_mps=self._speed_mps(),
            keep_steps=500,
            pivot_alert=pivot_alert,
        )
        #: Frames of batches the Analyzer failed on (shown nowhere, still recorded).
        self.analysis_failed = 0
        self._rec_lock = threading.Lock()
        self._hand_lock = threading.Lock()  # held only around a non-blocking queue put
        self._recorder: Any = None
        self._counts = _RecordingCounts()
        self._last_report: Any = None
        self._last_session: str | None = None
        self.steps_total = {"left": 0, "right": 0}
        #: True while ``plantar run`` waits for the insoles to be switched on.
        self.waiting_for_insoles = False
        #: Set by the runtime: a recording starts by itself once the insoles stream.
        self.record_when_connected = False
        hub.publish_analysis(self._analyzer.pivot_gauge(), self._analyzer.live_metrics())
        hub.publish_session(self.session_info())
        self._status_stop = threading.Event()
        self._status_thread = threading.Thread(
            target=self._status_loop, name="plantar-rec-status", daemon=True
        )
        self._status_thread.start()

    # -- the bridge's side (the event loop; never blocks) -------------------------------

    def on_frames(self, frames: FootFrames, t_recv_ns: int | None = None) -> None:
        """One batch of one foot from the bridge: record, analyse, publish."""
        if len(frames) == 0:
            return
        with self._hand_lock:
            rec = self._recorder
            if rec is not None:
                c = self._counts.feet[frames.foot]
                if c.first_seq is None:
                    c.first_seq = int(frames.seq[0])
                c.last_seq = int(frames.seq[-1])
                if rec.write_frames(frames):
                    c.handed += len(frames)
        try:
            out = self._analyzer.feed(frames)
        except Exception:  # a bad batch must not end the live view (it is recorded)
            self.analysis_failed += len(frames)
            log.exception("analysis failed on a batch of %s frames", len(frames))
            return
        assert out.frames is not None
        self.hub.publish_frames(frames, out.frames, t_recv_ns)
        for step, hot_cells in zip(out.steps, out.hot_cells, strict=True):
            self.steps_total[step["foot"]] += 1
            if rec is not None:
                self._counts.steps[step["foot"]] += 1
                rec.write_event(
                    "step",
                    float(step["toe_off_s"]),
                    foot=step["foot"],
                    value=step.get("contact_time_s"),
                    detail=json.dumps(step, allow_nan=False, default=_json_default),
                )
            self.hub.publish_step(step, hot_cells)
        if out.steps:
            self.hub.publish_analysis(self._analyzer.pivot_gauge(), self._analyzer.live_metrics())
        for alert in out.alerts:
            self._record_alert(alert)
            self.hub.publish_alert(alert)

    def on_event(
        self,
        kind: str,
        t_s: float,
        *,
        foot: str | None = None,
        value: float | None = None,
        seq: int | None = None,
        detail: str = "",
    ) -> None:
        """A bridge event (``gap``, ``reconnect`` ...): recorded when recording."""
        rec = self._recorder
        if rec is not None:
            rec.write_event(kind, t_s, foot=foot, value=value, seq=seq, detail=detail)

    def on_link(self, foot: str, status: dict[str, Any]) -> None:
        """Link state / RSSI of one insole from the bridge."""
        self.hub.publish_link(foot, status)

    def set_waiting_for_insoles(self, waiting: bool) -> None:
        """The bridge is waiting for the insoles (True) or they stream (False).

        While waiting, a recording cannot be started (it would hold nothing) and the
        recording status says ``"waiting": true``.
        """
        self.waiting_for_insoles = waiting
        if self._recorder is None:
            self.hub.publish_recording(self.recording_status())

    # -- analysis results ----------------------------------------------------------------

    def _record_alert(self, alert: dict[str, Any]) -> None:
        rec = self._recorder
        if rec is not None:
            rec.write_event(
                "alert",
                float(alert.get("t_s", math.nan)),
                foot=alert.get("foot"),
                value=alert.get("ratio"),
                detail=json.dumps(alert, default=_json_default),
            )

    # -- session control (the page; a worker thread) -----------------------------------

    def _speed_mps(self) -> float | None:
        v = self.meta.get("treadmill_speed_kmh")
        return float(v) / 3.6 if v else None

    def session_info(self) -> dict[str, Any]:
        """Conditions and recording state."""
        return {"meta": dict(self.meta), "recording": self.recording_status()}

    def update_meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Set conditions of the one session state and publish them to every page; they go
        into the next recording (a change while recording is a ``meta`` event in it)."""
        self.meta.update({k: v for k, v in meta.items() if v is not None})
        self._analyzer.speed_mps = self._speed_mps()
        speed = self.meta.get("treadmill_speed_kmh")
        self._odometer.set_speed(speed)
        self._rec_odometer.set_speed(speed)
        rec = self._recorder
        if rec is not None and meta:
            rec.write_event("meta", self._now_t_s(), detail=json.dumps({"meta": meta}))
        info = self.session_info()
        self.hub.publish_session(info)
        return info

    def add_marker(self, label: str) -> dict[str, Any]:
        """The runner's marker ("hot spot felt now"): a ``marker`` event in the recording,
        at the session time of the newest frame, and on every page."""
        rec = self._recorder
        if rec is None:
            raise ControlError("not recording: press Record first, then mark what you feel")
        from store.schema import EVENT_MARKER

        t_s = self._now_t_s()
        if not rec.write_event(EVENT_MARKER, t_s, detail=json.dumps({"label": label})):
            raise ControlError(
                "marker not recorded: the recording is stopping or its queue is full; "
                "press again in a moment"
            )
        marker = {"t_s": round_or_none(t_s, 3), "label": label, "session_id": rec.session_id}
        self.hub.publish_marker(marker)
        return marker

    def start_recording(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start a recording of both feet; returns the recording status."""
        from store.recorder import Recorder
        from store.session import FootLayout, SessionMeta

        with self._rec_lock:
            if self._recorder is not None:
                raise ControlError("already recording; stop first")
            if self.waiting_for_insoles:
                raise ControlError(
                    "the insoles are not connected yet: switch them on (and check they are "
                    "charged); recording can start once both stream"
                )
            if meta:
                self.update_meta(meta)
            m = self.meta
            session_meta = SessionMeta(
                athlete=str(m.get("athlete") or ""),
                shoe=str(m.get("shoe") or ""),
                sock=str(m.get("sock") or ""),
                treadmill_speed_kmh=m.get("treadmill_speed_kmh"),
                treadmill_incline_pct=m.get("treadmill_incline_pct"),
                notes=str(m.get("notes") or ""),
                source=str(m.get("source") or "live"),
                feet={
                    f: FootLayout(layout_id=lay.id, eu_size=float(lay.eu_size))
                    for f, lay in self.layouts.items()
                },
            )
            rec = Recorder(session_meta, root=self.sessions_root, catalog=self.catalog)
            rec.start()
            self._rec_odometer.reset()
            self._counts = _RecordingCounts()
            self._last_report = None
            self._last_session = rec.session_id
            self._recorder = rec
        status = self.recording_status()
        self.hub.publish_recording(status)
        return status

    def stop_recording(self) -> dict[str, Any]:
        """Stop and finalise; returns the final recording status."""
        with self._rec_lock:
            rec = self._recorder
            if rec is None:
                raise ControlError("not recording")
            with self._hand_lock:
                self._recorder = None  # the bridge stops handing frames over from here
            self._final_status = self._status_of(rec)
            self._last_report = rec.stop()
            self._final_status = self._status_of(rec, stopped=True)
        status = self.recording_status()
        self.hub.publish_recording(status)
        return status

    def _status_of(self, rec: Any, stopped: bool = False) -> dict[str, Any]:
        st = rec.status()
        feet = {}
        for foot, c in self._counts.feet.items():
            written = int(st.frames_written.get(foot, 0))
            expected = (
                c.last_seq - c.first_seq + 1
                if c.first_seq is not None and c.last_seq is not None
                else 0
            )
            feet[foot] = {
                "written": written,
                "handed": c.handed,
                "lost_link": max(expected - c.handed - int(st.frames_dropped.get(foot, 0)), 0),
                "dropped_recorder": int(st.frames_dropped.get(foot, 0)),
            }
        recording_s, distance_m = self._rec_odometer.read()
        return {
            "state": "stopped" if stopped else st.state,
            "live": True,
            "session_id": st.session_id,
            "recording_s": round(recording_s, 1),
            "recording_distance_m": round(distance_m, 1),
            "frames_written": {f: v["written"] for f, v in feet.items()},
            "frames_dropped": {f: v["dropped_recorder"] for f, v in feet.items()},
            "frames_lost_link": {f: v["lost_link"] for f, v in feet.items()},
            "steps": dict(self._counts.steps),
            "seconds_written": round(float(st.seconds_written), 2),
            "error": st.error,
        }

    def recording_status(self) -> dict[str, Any]:
        """Current (or last) recording's counters."""
        rec = self._recorder
        if rec is not None:
            return self._status_of(rec)
        final = getattr(self, "_final_status", None)
        status = dict(final) if final is not None else {"state": "idle", "session_id": None}
        status["live"] = True
        if self.waiting_for_insoles:
            status["waiting"] = True
            status["autostart"] = self.record_when_connected
        return status

    def clock(self) -> dict[str, Any]:
        """Time and treadmill distance since the live session started, steps seen."""
        elapsed_s, distance_m = self._odometer.read()
        return {
            "elapsed_s": round(elapsed_s, 1),
            "distance_m": round(distance_m, 1),
            "steps": dict(self.steps_total),
        }

    def _status_loop(self) -> None:
        while not self._status_stop.wait(1.0):
            if self._recorder is not None:
                self.hub.publish_recording(self.recording_status())
            self.hub.publish_clock(self.clock())

    def _now_t_s(self) -> float:
        return float(self.hub.latest_t_s())

    def close(self) -> dict[str, Any] | None:
        """Stop recording (if any) and the status thread; returns the final status."""
        final = None
        if self._recorder is not None:
            final = self.stop_recording()
        self._status_stop.set()
        self._status_thread.join(timeout=5.0)
        return final


def _json_default(obj: Any) -> Any:
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)
