"""Archive finalised sessions to a directory or an S3 bucket, one atomic commit each.

``archive_sessions(URI)`` sends every finalised (or recovered) session of this store to
``URI`` (a local directory or ``s3://bucket/prefix``, see :mod:`store.archive_fs`) ::

    URI/athlete=<a>/date=<YYYY-MM-DD>/session=<id>/upload=<u>/
        left.parquet, right.parquet   frames, copied byte for byte from the store
        events.parquet                events (when the session has any)
        <group>-<foot>.parquet        extra channel groups (imports: imu, force)
        sessions.parquet              one row: the catalog metadata of the session
        steps.parquet                 one row per detected step (store.archive_tables)
    URI/_manifests/<id>.json          written last: the commit (store.archive_index)

Per session: the data objects go under a fresh upload id (unique per writer and run),
then the manifest is written in one PUT (a rename on disk) naming that upload; only then
are older uploads of the session deleted. A reader that lists the manifests never sees
half a session; a killed run leaves an upload without manifest, deleted by the next run.

Incremental and idempotent: the manifest records a content fingerprint (sha256 of
``session.json`` and of every Parquet file, the layout and steps versions); a session
whose manifest has the same fingerprint is skipped with a single small read and nothing
written. Pis write only their own sessions (ids are unique) and never read-modify-write a
shared object; one archive run at a time per store (a lock file in the sessions
directory), so that the cleanup of a killed run's upload never races a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from base import paths
from store.archive_fs import ArchiveTarget
from store.archive_index import (
    ARCHIVE_FORMAT,
    manifest_path,
    read_manifest,
)
from store.archive_tables import (
    SESSIONS_TABLE,
    STEPS_SCHEMA_VERSION,
    STEPS_TABLE,
    partition_dir,
    session_date,
    sessions_table,
    steps_table,
)
from store.errors import StoreError
from store.session import (
    PARQUET_SUFFIX,
    SESSION_FILE,
    STATUS_FINALISED,
    STATUS_RECOVERED,
    list_session_dirs,
    read_session_json,
    utc_now_iso,
)

LOCK_FILE = ".archive.lock"


@dataclass
class ArchiveReport:
    """What one archive run did (session ids) and how many bytes it sent."""

    archived: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    not_finalised: list[str] = field(default_factory=list)
    steps_errors: dict[str, str] = field(default_factory=dict)
    destination: str = ""
    bytes_sent: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "destination": self.destination,
            "archived": self.archived,
            "skipped": self.skipped,
            "not_finalised": self.not_finalised,
            "steps_errors": self.steps_errors,
            "bytes_sent": self.bytes_sent,
        }


def _source_files(directory: Path) -> list[Path]:
    """The finalised files of a session that go into the archive (no streams, no lock)."""
    return sorted(p for p in directory.glob(f"*{PARQUET_SUFFIX}") if p.is_file())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def source_checksums(directory: Path) -> dict[str, str]:
    """sha256 of ``session.json`` and of every Parquet file of the session."""
    files = [directory / SESSION_FILE, *_source_files(directory)]
    return {p.name: _sha256(p) for p in files}


def fingerprint(checksums: dict[str, str], with_steps: bool) -> str:
    """Content fingerprint of what an archive of the session holds."""
    what = {
        "archive_format": ARCHIVE_FORMAT,
        "steps_schema": STEPS_SCHEMA_VERSION if with_steps else None,
        "checksums": checksums,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def new_upload_id() -> str:
    """Unique per writer and run: host, then random (never all digits: a string partition)."""
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24]
    return f"{host}-{uuid.uuid4().hex[:16]}"


#: The caller's step analysis: a finalised session directory -> its step rows (dicts with
#: foot, timing, peak force, strike index, forefoot peak and a ``pivot`` record; see
#: :func:`store.archive_tables.steps_table`).
StepsOf = Callable[[Path], list[dict[str, Any]]]


def _upload(
    target: ArchiveTarget,
    directory: Path,
    info: dict[str, Any],
    upload_dir: str,
    steps_of: StepsOf | None,
) -> tuple[dict[str, int], str | None, int]:
    """Write one session's data objects under ``upload_dir``: (files, steps error, bytes)."""
    files: dict[str, int] = {}
    for src in _source_files(directory):
        files[src.name] = target.copy_file(src, target.path(upload_dir, src.name))
    tables = {SESSIONS_TABLE: sessions_table(directory, info)}
    error = None
    if steps_of is not None:
        try:
            step_rows = steps_of(directory)
        except Exception as err:  # one bad layout must not stop the archive
            error = f"{type(err).__name__}: {err}"
            step_rows = []
        tables[STEPS_TABLE] = steps_table(step_rows)
    for name, table in tables.items():
        path = target.path(upload_dir, name)
        pq.write_table(table, path, filesystem=target.fs)
        files[name] = target.fs.get_file_info(path).size or 0
    return files, error, sum(files.values())


def _drop_old_uploads(target: ArchiveTarget, session_dir: str, keep: str) -> None:
    """Delete uploads of one session other than ``keep`` (killed runs, older content)."""
    leftover = {
        i.path[len(target.path(session_dir)) + 1 :].split("/", 1)[0]
        for i in target.list_files(target.path(session_dir), recursive=True)
    }
    for name in sorted(leftover - {keep}):
        target.delete_dir(target.path(session_dir, name))


def archive_one(
    target: ArchiveTarget, directory: Path, info: dict[str, Any], steps_of: StepsOf | None
) -> tuple[bool, str | None, int]:
    """Archive one finalised session unless unchanged: (sent, steps error, bytes sent)."""
    session_id = str(info.get("id") or directory.name)
    checksums = source_checksums(directory)
    content_print = fingerprint(checksums, steps_of is not None)
    old = read_manifest(target, session_id)
    if old is not None and old.get("fingerprint") == content_print:
        return False, None, 0
    meta = info.get("meta") or {}
    date = session_date(info, session_id)
    session_dir = partition_dir(meta.get("athlete") or "", date, session_id)
    upload = f"upload={new_upload_id()}"
    files, error, sent = _upload(target, directory, info, f"{session_dir}/{upload}", steps_of)
    manifest = {
        "archive_format": ARCHIVE_FORMAT,
        "session": session_id,
        "path": f"{session_dir}/{upload}",
        "files": files,
        "fingerprint": content_print,
        "checksums": checksums,
        "steps_schema_version": STEPS_SCHEMA_VERSION if steps_of is not None else None,
        "steps_error": error,
        "archived_at": utc_now_iso(),
        "source_host": socket.gethostname(),
        "source_path": str(directory),
    }
    data = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    target.put_bytes(manifest_path(target, session_id), data)  # the commit
    _drop_old_uploads(target, session_dir, upload)
    old_dir = str((old or {}).get("path") or "").rsplit("/", 1)[0]
    if old_dir and old_dir != session_dir:  # athlete or date changed: the old partition
        target.delete_dir(target.path(old_dir))
    return True, error, sent + len(data)


@contextlib.contextmanager
def archive_lock(root: Path) -> Iterator[None]:
    """One archive run at a time per store (waits for the other one to finish)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def archive_sessions(
    target: ArchiveTarget,
    *,
    athlete: str | None = None,
    only: set[str] | None = None,
    root: Path | None = None,
    steps_of: StepsOf | None = None,
    on_archived: Callable[[str], None] | None = None,
) -> ArchiveReport:
    """Archive every finalised session under ``root`` (default: the sessions directory)
    to ``target``; only ``athlete``'s, or only the ids in ``only``, when given.

    ``steps_of`` is the caller's step analysis (the store computes no metric): each
    session's rows go into ``steps.parquet``; None writes no steps table.
    ``on_archived(session_id)`` is called after each commit (and for unchanged sessions).

    Raises
    ------
    StoreError
        The destination cannot be reached or written (network down, disk full ...);
        every session committed before stays committed.
    """
    report = ArchiveReport(destination=target.uri)
    root = root or paths.sessions_dir()
    current = ""
    try:
        with archive_lock(root):
            for directory in list_session_dirs(root):
                if only is not None and directory.name not in only:
                    continue
                try:
                    info = read_session_json(directory)
                except (OSError, ValueError):
                    report.not_finalised.append(directory.name)
                    continue
                if athlete is not None and ((info.get("meta") or {}).get("athlete") or "") != (
                    athlete
                ):
                    continue
                current = str(info.get("id") or directory.name)
                if info.get("status") not in (STATUS_FINALISED, STATUS_RECOVERED):
                    report.not_finalised.append(current)
                    continue
                sent, error, n_bytes = archive_one(target, directory, info, steps_of)
                (report.archived if sent else report.skipped).append(current)
                report.bytes_sent += n_bytes
                if error:
                    report.steps_errors[current] = error
                if on_archived is not None:
                    on_archived(current)
    except OSError as err:
        where = f" (session {current})" if current else ""
        raise StoreError(
            f"archive to {target.uri} stopped{where}: {err}; "
            f"{len(report.archived)} session(s) were committed, run it again to resume"
        ) from err
    return report
