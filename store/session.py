"""One session on disk: its id, its directory, its ``session.json`` and its lock.

A session directory ``<sessions_dir>/<id>/`` holds ``session.json`` (metadata and
status, replaced atomically), the Arrow IPC streams while recording
(``left.arrows``, ``right.arrows``, ``events.arrows``, ``<group>-<foot>.arrows``) and the
Parquet files once finalised. A recorder holds an exclusive ``flock`` on ``.lock`` for
as long as it writes; a session whose status is ``recording`` and whose lock is free was
interrupted and is recovered by :mod:`store.recovery`.

An import writes into a hidden staging directory ``<sessions_dir>/.import-<id>/`` and
holds its lock from the first byte until the directory is renamed into place; nothing
else lists, recovers or catalogues a hidden directory (:func:`list_session_dirs`), and
recovery removes a staging directory only once its lock is free and it is older than
:data:`STAGING_MAX_AGE_S`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from base import paths

SESSION_FILE = "session.json"
LOCK_FILE = ".lock"
#: Frames a recorder refused after it failed (disk full), per foot, written at its stop
#: into the space of :data:`RESERVE_FILE`; finalising counts them as dropped frames.
REFUSED_FILE = "refused.json"
#: Space a recorder sets aside at its start and frees when the disk is full, so that the
#: count of refused frames can still be written.
RESERVE_FILE = ".reserve"
RESERVE_BYTES = 64 * 1024
STREAM_SUFFIX = ".arrows"
PARQUET_SUFFIX = ".parquet"

#: Name prefix of an import's staging directory (hidden: a dot first).
STAGING_PREFIX = ".import-"
#: A staging directory whose lock is free and that is older than this, s, is left over
#: from a killed import and is removed by recovery.
STAGING_MAX_AGE_S = 600.0

STATUS_RECORDING = "recording"
STATUS_FINALISED = "finalised"
STATUS_RECOVERED = "recovered"
STATUSES = (STATUS_RECORDING, STATUS_FINALISED, STATUS_RECOVERED)


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T22:30:15.123Z``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session_id(now: dt.datetime | None = None) -> str:
    """Return a new sortable session id ``YYYYMMDD-HHMMSS-xxxx`` (UTC time, 4 random hex)."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


#: Layout id of a force-plate session: per-foot force, CoP and free moment, no pressure map.
FORCE_PLATE_LAYOUT_ID = "force-plate"


@dataclass
class FootLayout:
    """Which layout one foot's insole uses: layout id and shoe size (EU)."""

    layout_id: str = ""
    eu_size: float | None = None


@dataclass
class SessionMeta:
    """What the user and the source tell us about a session (stored verbatim)."""

    athlete: str = ""
    shoe: str = ""
    sock: str = ""
    treadmill_speed_kmh: float | None = None
    treadmill_incline_pct: float | None = None
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    source: str = "live"
    started_at: str = ""
    feet: dict[str, FootLayout] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def session_dir(session_id: str, root: Path | None = None) -> Path:
    """Directory of ``session_id`` under ``root`` (default :func:`base.paths.sessions_dir`)."""
    return (root or paths.sessions_dir()) / session_id


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file, fsync and rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames and new files in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_session_json(directory: Path) -> dict[str, Any]:
    """Return the parsed ``session.json`` of ``directory``."""
    with open(directory / SESSION_FILE, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@contextlib.contextmanager
def try_lock(directory: Path) -> Iterator[bool]:
    """Hold the session lock while the block runs; yields False if someone else holds it."""
    try:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        # cannot even open the lock (read-only place): nobody can be writing here
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def hold_lock(directory: Path) -> int:
    """Take the session lock of ``directory`` and return its descriptor (see
    :func:`release_lock`); raises :class:`BlockingIOError` if someone else holds it."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_lock(fd: int | None) -> None:
    """Release a lock taken with :func:`hold_lock` (None: nothing to release)."""
    if fd is not None:
        os.close(fd)


def list_session_dirs(root: Path | None = None) -> list[Path]:
    """Session directories (with a ``session.json``) under ``root``, sorted by id.

    Hidden directories (an import's ``.import-*`` staging directory) are never listed.
    """
    root = root or paths.sessions_dir()
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if not p.name.startswith(".") and (p / SESSION_FILE).is_file()
    )


def list_staging_dirs(root: Path | None = None) -> list[Path]:
    """Staging directories of imports (finished, running or killed) under ``root``."""
    root = root or paths.sessions_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(STAGING_PREFIX) and p.is_dir())
