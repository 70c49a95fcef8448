"""The archive with the per-step analysis: step rows for ``steps.parquet`` and the push.

The archive (:mod:`store.archive`) copies sessions; the step rows of ``steps.parquet``
come from here (:func:`session_steps`), so that the store computes no metric.
:func:`push_sessions` archives a store and keeps the backlog of ``plantar run`` in step;
the command itself (``plantar archive``) is :mod:`plantar.archive_command`, which reads
the ``[archive]`` settings of ``plantar.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardware.layout import FOREFOOT_REGIONS


def forefoot_peak_kpa(step: dict[str, Any]) -> float | None:
    """Highest peak pressure of the step over the forefoot regions (kPa); None when the
    insole measures none of them (or the step has no pressure: force-plate steps)."""
    peaks = step.get("peak_pressure_kpa") or {}
    values = [v for r in FOREFOOT_REGIONS if (v := peaks.get(r)) is not None]
    return max(values) if values else None


def session_steps(directory: Path) -> list[dict[str, Any]]:
    """Step rows of one finalised session directory (no hot spots: the archive keeps none),
    each with its ``forefoot_peak_kpa``; a force-plate session gives its steps with the
    measured free moment."""
    from analysis.analyzer import analyze_recording
    from analysis.force_plate_steps import analyze_plate, load_plate
    from store.session_reader import read_session

    plate = load_plate(str(directory))
    if plate is not None:
        steps: list[dict[str, Any]] = analyze_plate(plate)["steps"]
    else:
        rec = read_session(directory)
        out = analyze_recording(
            rec.feet,
            rec.layouts,
            yaw_rate_dps=rec.yaw_rate_dps,
            speed_mps=rec.speed_mps,
            hotspots=False,
        )
        steps = out["steps"]
    return [{**st, "forefoot_peak_kpa": forefoot_peak_kpa(st)} for st in steps]


def push_sessions(
    target: Any,
    *,
    with_steps: bool = True,
    athlete: str | None = None,
    only: set[str] | None = None,
    root: Path | None = None,
    on_session: Callable[[str], None] | None = None,
) -> Any:
    """Archive this store's finalised sessions to ``target`` (a
    :class:`store.archive_fs.ArchiveTarget`) and clear each committed session from the
    archive backlog; on a failure the sessions still owed stay queued with the error,
    and the :class:`~store.errors.StoreError` is raised. ``on_session(id)`` is called
    after each session is committed or found unchanged (progress)."""
    from store.archive import archive_sessions
    from store.archive_backlog import ArchiveBacklog
    from store.errors import StoreError

    backlog = ArchiveBacklog()
    queued = {e.session_id for e in backlog.pending(target.uri)}
    done: set[str] = set()

    def on_archived(session_id: str) -> None:
        done.add(session_id)
        if session_id in queued:
            backlog.done(session_id, target.uri)
        if on_session is not None:
            on_session(session_id)

    try:
        return archive_sessions(
            target,
            athlete=athlete,
            only=only,
            root=root,
            steps_of=session_steps if with_steps else None,
            on_archived=on_archived,
        )
    except StoreError as err:
        if queued - done:
            backlog.failed(sorted(queued - done), target.uri, str(err))
        raise
