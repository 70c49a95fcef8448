"""Errors of the session store, each one line the user can act on."""

from __future__ import annotations

import errno

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
