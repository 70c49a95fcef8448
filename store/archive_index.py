"""Reading an archive: only sessions whose manifest exists, only the upload it names.

Every committed session has one small manifest object, ``_manifests/<session>.json``,
written after all its data objects. It names the session's upload directory
(``athlete=<a>/date=<d>/session=<id>/upload=<u>/``) and its files. An upload that was
killed half-way has no manifest, and an older upload of a changed session is no longer
named by one: listing the manifests is how every reader (DuckDB, Spark, Dask, pyarrow)
sees whole sessions only::

    from store.archive_index import committed_files
    files = committed_files("s3://lab/plantar", "steps.parquet")   # or a directory
"""

from __future__ import annotations

import json
from typing import Any

from store.archive_fs import ArchiveTarget, S3Settings, open_target
from store.archive_tables import partition_value

MANIFEST_DIR = "_manifests"
#: Version of the archive layout (2: uploads under upload=<id>, manifests in _manifests/).
ARCHIVE_FORMAT = 2


def manifest_path(target: ArchiveTarget, session_id: str) -> str:
    """Where the manifest of ``session_id`` lives."""
    return target.path(MANIFEST_DIR, f"{partition_value(session_id)}.json")


def read_manifest(target: ArchiveTarget, session_id: str) -> dict[str, Any] | None:
    """The manifest of one session, or None (never archived, or unreadable)."""
    return _parse(target.get_bytes(manifest_path(target, session_id)))


def _parse(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) else None


def read_manifests(target: ArchiveTarget) -> list[dict[str, Any]]:
    """Every committed session's manifest, sorted by session id."""
    out = []
    for info in target.list_files(target.path(MANIFEST_DIR)):
        if info.base_name.endswith(".json"):
            manifest = _parse(target.get_bytes(info.path))
            if manifest is not None and manifest.get("archive_format") == ARCHIVE_FORMAT:
                out.append(manifest)
    return sorted(out, key=lambda m: str(m.get("session")))


def _uri(target: ArchiveTarget, relative: str) -> str:
    path = target.path(relative)
    return path if target.is_local else f"s3://{path}"


def committed_files(
    archive: str | ArchiveTarget, table: str, settings: S3Settings | None = None
) -> list[str]:
    """Paths (a directory's) or ``s3://`` URIs of ``table`` (e.g. ``"steps.parquet"``)
    in every committed session of ``archive``, one per session that has that table."""
    target = (
        archive
        if isinstance(archive, ArchiveTarget)
        else open_target(archive, settings, create=False)
    )
    return [
        _uri(target, f"{m['path']}/{table}")
        for m in read_manifests(target)
        if table in (m.get("files") or {})
    ]
