"""Recovery after a crash: finalise every interrupted session, automatically.

A session is interrupted when its ``session.json`` still says ``recording`` (or raw
streams are left over) and no live recorder holds its lock. :func:`recover_interrupted`
runs at every :meth:`Recorder.start` and before ``plantar sessions``/``import``; each
recovered session is reported in one line such as
``recovered session 20261121-223015-ab12: 5,412.3 s, 0.4 s lost at the end``.

Recovery never touches another process's work: hidden staging directories of imports
are not sessions, a directory whose lock is held is skipped, and a staging directory is
removed only when its lock is free and it is older than
:data:`store.session.STAGING_MAX_AGE_S` (left over from a killed import).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from store.errors import StoreError, describe_os_error
from store.finalise import FinaliseReport, finalise_session
from store.session import (
    STAGING_MAX_AGE_S,
    STATUS_RECORDING,
    STREAM_SUFFIX,
    list_session_dirs,
    list_staging_dirs,
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
                why = describe_os_error(err) if isinstance(err, OSError) else str(err)
                log.error(
                    "could not recover session %s: %s; it is recovered at the next start "
                    "(free space first if the disk is full)",
                    directory.name,
                    why,
                )
                continue
        reports.append(report)
        log.info("%s", report.message())
    remove_stale_staging(root)
    reconcile_catalog(root, catalog=catalog)
    return reports


def remove_stale_staging(
    root: Path | None = None, *, max_age_s: float = STAGING_MAX_AGE_S
) -> list[Path]:
    """Remove staging directories of killed imports (lock free, older than ``max_age_s``).

    A running import holds its staging directory's lock; one that has just created it
    and not yet taken the lock is younger than ``max_age_s``. Returns what was removed.
    """
    removed = []
    for directory in list_staging_dirs(root):
        try:
            age_s = time.time() - directory.stat().st_mtime
        except OSError:
            continue  # renamed into place or removed meanwhile
        if age_s < max_age_s:
            continue
        with try_lock(directory) as got:
            if not got:
                continue
            shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
        log.info("removed %s, left over from an interrupted import", directory.name)
    return removed


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
    try:
        updated += len(db.drop_missing())
    except Exception as err:
        log.warning("catalog rows of removed sessions not dropped: %s", err)
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
