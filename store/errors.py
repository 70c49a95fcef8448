"""Errors of the session store, each one line the user can act on."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from base.errors import PlantarError

#: ``errno`` values that mean "no space left" (a full disk, a quota, a file-size limit).
NO_SPACE_ERRNOS: frozenset[int] = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: ``errno`` values that mean "this place cannot be written".
NOT_WRITABLE_ERRNOS: frozenset[int] = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


class StoreError(PlantarError):
    """The session store cannot read or write a session or the catalog."""


class RecordingError(StoreError):
    """Recording stopped (disk full, directory not writable); what was written is kept."""

    exit_code = 4


class ImportFormatError(StoreError):
    """A file given to ``plantar import`` is not in the format it claims or is cut short."""


class SessionNotFoundError(StoreError):
    """No session with the given id in the catalog or on disk."""


def describe_os_error(err: OSError) -> str:
    """Return a short phrase for ``err``: "disk full", "not writable", or the OS message."""
    if err.errno in NO_SPACE_ERRNOS:
        return "disk full"
    if err.errno in NOT_WRITABLE_ERRNOS:
        return "directory not writable"
    return err.strerror or str(err)


#: Free space below this, bytes, counts as a full disk (SQLite then reports only an I/O
#: error, and a write of one more page or batch fails).
NEARLY_FULL_BYTES = 256 * 1024


def disk_is_full(path: Path) -> bool:
    """True when the file system holding ``path`` (or its nearest existing parent) has
    less than :data:`NEARLY_FULL_BYTES` free."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


def describe_db_error(err: Exception, path: Path) -> str:
    """A short phrase for an SQLite error on the database at ``path``: "disk full" when
    the disk is (SQLite says "disk I/O error" or "database or disk is full"), else its text."""
    code = getattr(err, "sqlite_errorcode", None)
    if code == 13 or disk_is_full(path):  # 13: SQLITE_FULL
        return "disk full"
    return str(err)
