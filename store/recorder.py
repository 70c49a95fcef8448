# Long module: the Recorder's queue, writer thread and finalising share one lock and one state.
"""The recorder: appends frames and events of a live session to disk, off the caller's thread.

The bridge calls :meth:`Recorder.write_frames` and :meth:`Recorder.write_event`; both
only put the batch on a bounded in-memory queue and return at once. A writer thread
drains the queue, appends Arrow record batches to the session's stream files and
fsyncs them at least every ``flush_interval_s`` (0.5 s by default).

Nothing is lost silently. When the queue is full a batch is refused (the call returns
False), the refused frames are counted per foot, a warning is logged, and the writer
thread records a ``queue_overflow`` event with the count and the first refused sequence
number; :meth:`Recorder.status` shows the totals. When the disk fills up or the
directory cannot be written, recording stops cleanly: what is on disk stays readable,
:attr:`Recorder.error` holds one :class:`~store.errors.RecordingError` line, and later
calls return False.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from base import paths
from base.frames import FOOT_NAMES, FootFrames
from store import schema as sch
from store.errors import RecordingError, describe_os_error
from store.session import (
    REFUSED_FILE,
    RESERVE_BYTES,
    RESERVE_FILE,
    STATUS_RECORDING,
    SessionMeta,
    fsync_dir,
    hold_lock,
    new_session_id,
    release_lock,
    utc_now_iso,
    write_json_atomic,
)
from store.streams import SessionWriter

log = logging.getLogger("plantar.store.recorder")

#: Default queue bound, frames: ~6 s of both feet at 1 kHz (the bridge hands frames on
#: chunk by chunk from the first one; a start-up stall can still deliver a few seconds
#: at once). It is only filled while the writer is stalled (a slow SD card): at most ~50 MB
#: with 1024 sensels, ~9 MB with plantar-ref's 170.
DEFAULT_MAX_QUEUED_FRAMES = 12_000
DEFAULT_FLUSH_INTERVAL_S = 0.5
_WARN_EVERY_S = 5.0


@dataclass
class RecorderStatus:
    """A snapshot of a recorder, for the bridge's status line and the dashboard."""

    session_id: str
    state: str  # "idle" | "recording" | "failed" | "stopped"
    frames_written: dict[str, int] = field(default_factory=dict)
    frames_dropped: dict[str, int] = field(default_factory=dict)
    events_dropped: int = 0
    queued_frames: int = 0
    seconds_written: float = 0.0
    error: str | None = None


@dataclass
class _Dropped:
    count: int = 0
    first_seq: int = -1
    first_t_s: float = math.nan
    last_seq: int = -1


class Recorder:
    """Record one session: frames of both feet, events and extra channel groups.

    Parameters
    ----------
    meta : SessionMeta
        Athlete, shoe, sock, layouts per foot and so on; stored in ``session.json``, the
        catalog and every stream's schema metadata.
    root : Path, optional
        Sessions directory (default :func:`base.paths.sessions_dir`).
    session_id : str, optional
        Defaults to a new sortable id (:func:`store.session.new_session_id`).
    max_queued_frames : int
        Queue bound, in frames of both feet together.
    flush_interval_s : float
        Longest time between fsyncs of the stream files.
    catalog : Catalog or None or False
        Where to register the session; ``None`` opens the default catalog, ``False``
        skips it.
    recover : bool
        Finalise sessions interrupted by a crash before starting (reports in
        :attr:`recovered`).

    Examples
    --------
    >>> rec = Recorder(SessionMeta(athlete="A"))            # doctest: +SKIP
    >>> rec.start()
    >>> rec.write_frames(frames)                           # from the bridge, never blocks
    >>> rec.write_event("gap", t_s=12.3, foot="left", value=4, seq=2460)
    >>> report = rec.stop()                                # finalises to Parquet
    """

    def __init__(
        self,
        meta: SessionMeta,
        *,
        root: Path | None = None,
        session_id: str | None = None,
        max_queued_frames: int = DEFAULT_MAX_QUEUED_FRAMES,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        catalog: Any = None,
        recover: bool = True,
    ) -> None:
        self.meta = meta
        self.session_id = session_id or new_session_id()
        self._root = root
        self.max_queued_frames = int(max_queued_frames)
        self.max_queued_events = 10 * int(max_queued_frames)
        self.flush_interval_s = float(flush_interval_s)
        self._catalog_arg = catalog
        self._recover = recover
        self.directory: Path | None = None
        self.recovered: list[Any] = []
        self.error: RecordingError | None = None
        self.report: Any = None

        self._cond = threading.Condition()
        self._queue: deque[tuple[str, Any]] = deque()
        self._queued_frames = 0
        self._queued_events = 0
        self._stopping = False
        self._wake = False
        self._state = "idle"
        self._dropped: dict[str, _Dropped] = {}
        self._dropped_total: dict[str, int] = {}
        self._events_dropped = 0
        self._last_warning = -math.inf
        self._thread: threading.Thread | None = None
        self._writer: SessionWriter | None = None

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> Recorder:
        """Recover interrupted sessions, create the session directory and start writing.

        Raises
        ------
        RecordingError
            The sessions directory cannot be created or written.
        """
        from store.catalog import open_catalog
        from store.recovery import recover_interrupted

        root = self._root
        try:
            root = root or paths.sessions_dir()
            root.mkdir(parents=True, exist_ok=True)
            if self._recover:
                self.recovered = recover_interrupted(root, catalog=self._catalog_arg)
                for rep in self.recovered:
                    log.warning("%s", rep.message())
            directory = root / self.session_id
            directory.mkdir()
            self._lock_fd = hold_lock(directory)
            if not self.meta.started_at:
                self.meta.started_at = utc_now_iso()
            write_json_atomic(
                directory / "session.json",
                {
                    "format_version": int(sch.FORMAT_VERSION),
                    "id": self.session_id,
                    "status": STATUS_RECORDING,
                    "meta": self.meta.to_dict(),
                },
            )
            with open(directory / RESERVE_FILE, "wb") as f:
                f.write(b"\0" * RESERVE_BYTES)
                os.fsync(f.fileno())
            fsync_dir(root)
        except OSError as err:
            where = getattr(err, "filename", None) or root
            raise RecordingError(
                f"cannot start recording: {describe_os_error(err)} at {where}; "
                f"choose a writable data directory (set PLANTAR_HOME) or free space"
            ) from err
        self.directory = directory
        self._writer = SessionWriter(directory, self._session_summary(), self.meta.feet)
        catalog = open_catalog(self._catalog_arg)
        if catalog is not None:
            try:
                catalog.upsert_from_disk(directory)
            except Exception as err:  # the catalog is an index; session.json is the truth
                log.warning("catalog not updated for %s: %s", self.session_id, err)
        self._state = "recording"
        self._thread = threading.Thread(
            target=self._run, name=f"plantar-recorder-{self.session_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, finalise: bool = True) -> Any:
        """Write what is queued, close the streams and finalise the session to Parquet.

        Returns the :class:`~store.finalise.FinaliseReport` (also in :attr:`report`), or
        None when ``finalise`` is false or finalising failed (the session is then
        recovered at the next start). Never raises for a recording error: check
        :attr:`error`.
        """
        from store.finalise import finalise_session

        if self._thread is None:
            return self.report
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        self._thread = None
        if self._state != "failed":
            self._state = "stopped"
        else:
            self._write_refused()
        if finalise and self.directory is not None:
            try:
                self.report = finalise_session(
                    self.directory, catalog=self._catalog_arg, lock_held=True
                )
            except OSError as err:
                log.warning(
                    "session %s kept as raw streams, finalise failed (%s); it is recovered "
                    "at the next start",
                    self.session_id,
                    describe_os_error(err),
                )
        release_lock(self._lock_fd)
        return self.report

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def raise_for_error(self) -> None:
        """Raise :attr:`error` if recording stopped because of one."""
        if self.error is not None:
            raise self.error

    # -- the bridge's side -----------------------------------------------------------

    def write_frames(self, frames: FootFrames, t_host_s: float | None = None) -> bool:
        """Queue a batch of one foot's frames; never blocks.

        Parameters
        ----------
        frames : FootFrames
            The batch (it must not be modified afterwards; the recorder keeps a reference).
        t_host_s : float, optional
            Host arrival time of the batch, s since the Unix epoch (default: now).

        Returns
        -------
        bool
            True when queued; False when refused (queue full, recording stopped or
            failed). Refused frames are counted and recorded as a ``queue_overflow``
            event when the recorder is still running.
        """
        n = len(frames)
        if n == 0:
            return True
        t_host = time.time() if t_host_s is None else float(t_host_s)
        with self._cond:
            if self._state == "recording" and self._fits(n):
                self._queue.append(("frames", (frames, t_host)))
                self._queued_frames += n
                self._wake_if_half_full()
                return True
            self._note_dropped(frames)
        return False

    def write_event(
        self,
        kind: str,
        t_s: float,
        *,
        foot: str | None = None,
        value: float | None = None,
        seq: int | None = None,
        detail: str = "",
    ) -> bool:
        """Queue one event (gap, reconnect, step, alert, ...); never blocks."""
        row = {"t_s": t_s, "kind": kind, "foot": foot, "value": value, "seq": seq}
        row["detail"] = detail
        with self._cond:
            if self._state == "recording" and self._queued_events < self.max_queued_events:
                self._queue.append(("events", [row]))
                self._queued_events += 1
                return True
            self._events_dropped += 1
        return False

    def write_channels(
        self,
        group: str,
        foot: str,
        seq: np.ndarray,
        t_s: np.ndarray,
        values: dict[str, np.ndarray],
        units: dict[str, str],
    ) -> bool:
        """Queue samples of an extra per-foot channel group (e.g. ``imu``); never blocks."""
        n = len(seq)
        with self._cond:
            if self._state == "recording" and self._fits(n):
                self._queue.append(("channels", (group, foot, seq, t_s, values, units)))
                self._queued_frames += n
                self._wake_if_half_full()
                return True
            self._events_dropped += 1
        return False

    def status(self) -> RecorderStatus:
        """Current counts; cheap, safe from any thread."""
        with self._cond:
            totals = self._writer.totals if self._writer else None
            return RecorderStatus(
                session_id=self.session_id,
                state=self._state,
                frames_written=dict(totals.frames) if totals else {},
                frames_dropped=dict(self._dropped_total),
                events_dropped=self._events_dropped,
                queued_frames=self._queued_frames,
                seconds_written=totals.seconds() if totals else 0.0,
                error=str(self.error) if self.error else None,
            )

    # -- internals -------------------------------------------------------------------

    def _session_summary(self) -> dict[str, Any]:
        return {"id": self.session_id, **self.meta.to_dict()}

    def _fits(self, n: int) -> bool:
        """Room for ``n`` more frames (caller holds the lock).

        An empty queue also takes a batch larger than the bound, which could otherwise
        never be recorded (a caller with a smaller bound, or a faster insole than
        :data:`DEFAULT_MAX_QUEUED_FRAMES` is sized for). What is queued then stays below
        max(bound, one batch), besides the batches the writer is writing.
        """
        return self._queued_frames == 0 or self._queued_frames + n <= self.max_queued_frames

    def _wake_if_half_full(self) -> None:
        """Wake the writer early when the queue is half full (caller holds the lock)."""
        if not self._wake and 2 * self._queued_frames >= self.max_queued_frames:
            self._wake = True
            self._cond.notify()

    def _note_dropped(self, frames: FootFrames) -> None:
        """Count refused frames (caller holds the lock)."""
        foot = frames.foot
        d = self._dropped.setdefault(foot, _Dropped())
        if d.count == 0:
            d.first_seq = int(frames.seq[0])
            d.first_t_s = float(frames.t_s[0])
        d.count += len(frames)
        d.last_seq = int(frames.seq[-1])
        self._dropped_total[foot] = self._dropped_total.get(foot, 0) + len(frames)
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            why = "queue full" if self._state == "recording" else f"recorder {self._state}"
            log.warning(
                "recorder %s: %s, %d %s frames not recorded so far",
                self.session_id,
                why,
                self._dropped_total[foot],
                foot,
            )

    def _take_dropped_events(self) -> list[dict[str, Any]]:
        rows = []
        with self._cond:
            for foot in FOOT_NAMES:
                d = self._dropped.get(foot)
                if d is None or d.count == 0:
                    continue
                rows.append(
                    {
                        "t_s": d.first_t_s,
                        "kind": sch.EVENT_QUEUE_OVERFLOW,
                        "foot": foot,
                        "value": float(d.count),
                        "seq": d.first_seq,
                        "detail": f"{d.count} frames (seq {d.first_seq}..{d.last_seq}) not "
                        "recorded: recorder queue full",
                    }
                )
                self._dropped[foot] = _Dropped()
        return rows

    def _run(self) -> None:
        writer = self._writer
        assert writer is not None
        while True:
            next_flush = time.monotonic() + self.flush_interval_s
            with self._cond:
                while not self._stopping and not self._wake:
                    timeout = next_flush - time.monotonic()
                    if timeout <= 0:
                        break
                    self._cond.wait(timeout)
                pending = list(self._queue)
                self._queue.clear()
                self._queued_frames = 0
                self._queued_events = 0
                self._wake = False
                stopping = self._stopping
            try:
                self._write(writer, pending)
                if stopping:
                    writer.close(clean=True)
                    return
            except OSError as err:
                self._fail(writer, err)
                return

    def _write(self, writer: SessionWriter, items: list[tuple[str, Any]]) -> None:
        """Append queued items as one record batch per stream, then fsync."""
        frames: dict[str, list[tuple[FootFrames, float]]] = {}
        events: list[dict[str, Any]] = []
        for kind, payload in items:
            if kind == "frames":
                frames.setdefault(payload[0].foot, []).append(payload)
            elif kind == "events":
                events.extend(payload)
            else:
                writer.write_channels(*payload)
        for batches in frames.values():
            for run in _same_device_runs(batches):
                merged, hosts = _concat(run)
                writer.write_frames(merged, hosts)
        events.extend(self._take_dropped_events())
        writer.write_events(events)
        writer.sync()

    def _write_refused(self) -> None:
        """After a failure: write the frames refused since (not in any event) to
        :data:`REFUSED_FILE`, in the space the reserve file freed."""
        with self._cond:
            feet = {
                foot: {"frames": d.count, "first_seq": d.first_seq, "last_seq": d.last_seq}
                for foot, d in self._dropped.items()
                if d.count
            }
        if not feet or self.directory is None:
            return
        try:
            write_json_atomic(
                self.directory / REFUSED_FILE, {"feet": feet, "reason": str(self.error)}
            )
        except OSError as err:
            log.warning(
                "session %s: refused frames not counted on disk (%s)",
                self.session_id,
                describe_os_error(err),
            )

    def _fail(self, writer: SessionWriter, err: OSError) -> None:
        seconds = writer.totals.seconds()
        where = self.directory
        self.error = RecordingError(
            f"recording stopped: {describe_os_error(err)} at {where} (wrote {seconds:.1f} s); "
            + (
                "free space and start a new session"
                if "full" in describe_os_error(err)
                else "fix the directory's permissions and start a new session"
            )
        )
        log.error("%s", self.error)
        if self.directory is not None:  # room for the count of refused frames
            with contextlib.suppress(OSError):
                (self.directory / RESERVE_FILE).unlink()
        writer.close(clean=False)
        with self._cond:
            self._state = "failed"
            for kind, payload in self._queue:  # accepted, never written: refused now
                if kind == "frames":
                    self._note_dropped(payload[0])
            self._queue.clear()
            self._queued_frames = 0


def _same_device_runs(
    batches: list[tuple[FootFrames, float]],
) -> list[list[tuple[FootFrames, float]]]:
    """Split consecutive batches into runs of the same device id (a device may change)."""
    runs: list[list[tuple[FootFrames, float]]] = []
    for item in batches:
        if runs and runs[-1][-1][0].device_id == item[0].device_id:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _concat(batches: list[tuple[FootFrames, float]]) -> tuple[FootFrames, np.ndarray]:
    """Merge consecutive batches of one foot; returns the frames and per-row host times."""
    if len(batches) == 1:
        frames, host = batches[0]
        return frames, np.full(len(frames), host)
    parts = [b for b, _ in batches]
    hosts = np.concatenate([np.full(len(b), h) for b, h in batches])
    merged = FootFrames(
        foot=parts[0].foot,
        device_id=parts[-1].device_id,
        seq=np.concatenate([p.seq for p in parts]),
        t_device_us=np.concatenate([p.t_device_us for p in parts]),
        t_s=np.concatenate([p.t_s for p in parts]),
        pressure_kpa=np.concatenate([p.pressure_kpa for p in parts]),
        shear_kpa=np.concatenate([p.shear_kpa for p in parts]),
        t_arrival_s=_concat_arrivals(parts),
    )
    return merged, hosts


def _concat_arrivals(parts: list[FootFrames]) -> np.ndarray | None:
    """The batches' arrival times (NaN for a batch without them; None if none has them)."""
    if all(p.t_arrival_s is None for p in parts):
        return None
    return np.concatenate(
        [np.full(len(p), np.nan) if p.t_arrival_s is None else p.t_arrival_s for p in parts]
    )
