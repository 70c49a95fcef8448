"""Recovery after a crash: finalise every interrupted session, automatically.

A session is interrupted when its ``session.json`` still says ``recording`` (or raw
streams are left over) and no live recorder holds its lock. :func:`recover_interrupted`
runs at every :meth:`Recorder.start` and before ``plantar sessions``/``import``; each
recovered session is reported in one line such as
``recovered session 20261121-223015-ab12: 5,412.3 s, 0.4 s lost at the end``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from store.errors import StoreError
from store.finalise import FinaliseReport, finalise_session
from store.session import (
    STATUS_RECORDING,
    STREAM_SUFFIX,
    list_session_dirs,
    read_session_json,
    try_lock,
)

log = logging.getLogger("plantar.store.recovery")


def needs_recovery(directory: Path) -> bool:
    """True when ``directory`` holds a session that was not finalised."""
    try:
        info = read_session_json(directory)
    except (OSError, ValueError):
        return False
    if info.get("status") == STATUS_RECORDING:
        return True
    return any(directory.glob(f"*{STREAM_SUFFIX}"))


def recover_interrupted(root: Path | None = None, *, catalog: Any = None) -> list[FinaliseReport]:
    """Finalise every interrupted, unlocked session under ``root``; return their reports.

    Sessions still locked by a live recorder are skipped. A session that cannot be
    finalised (for example because the disk is full) is logged and left for next time.
    """
    reports = []
    for directory in list_session_dirs(root):
        if not needs_recovery(directory):
            continue
        with try_lock(directory) as got:
            if not got:
                continue
            try:
                report = finalise_session(
                    directory, recovered=True, catalog=catalog, lock_held=True
                )
            except (OSError, StoreError) as err:
                log.error("could not recover session %s: %s", directory.name, err)
                continue
        reports.append(report)
        log.info("%s", report.message())
    reconcile_catalog(root, catalog=catalog)
    return reports


def reconcile_catalog(root: Path | None = None, *, catalog: Any = None) -> int:
    """Bring catalog rows in line with ``session.json`` on disk; return rows updated.

    ``session.json`` is the truth and the catalog an index of it. A process killed
    between writing one and updating the other leaves the catalog behind (a session
    listed as still recording, or not listed at all); this repairs that.
    """
    from store.catalog import open_catalog

    db = open_catalog(catalog)
    if db is None:
        return 0
    try:
        listed = {row["id"]: row["status"] for row in db.list_sessions()}
    except Exception as err:  # the catalog is an index; never block recording on it
        log.warning("catalog not reconciled: %s", err)
        return 0
    updated = 0
    for directory in list_session_dirs(root):
        try:
            status = read_session_json(directory).get("status")
        except (OSError, ValueError):
            continue
        if listed.get(directory.name) != status:
            try:
                db.upsert_from_disk(directory)
                updated += 1
            except Exception as err:
                log.warning("catalog not updated for %s: %s", directory.name, err)
    return updated
