"""Where Plantar keeps its state.

All state (catalog, recordings, caches) lives under one data directory:
``$PLANTAR_HOME`` when set, otherwise the platform's user data directory
(``~/.local/share/plantar`` on Linux).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from base.errors import ConfigError

ENV_HOME = "PLANTAR_HOME"


def data_dir(create: bool = True) -> Path:
    """Return the data directory, creating it when ``create`` is true."""
    env = os.environ.get(ENV_HOME)
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("plantar"))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def sessions_dir(create: bool = True) -> Path:
    """Directory that holds recorded sessions."""
    path = data_dir(create) / "sessions"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(create: bool = True) -> Path:
    """Directory for caches (numba cache, analysis results)."""
    path = data_dir(create) / "cache"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def check_data_dir() -> Path:
    """Check once, at the start of a command, that the data directory can be written.

    Returns it (created with its ``sessions`` folder); raises a one-line
    :class:`~base.errors.ConfigError` when ``$PLANTAR_HOME`` is a file, cannot be created
    or is not writable (a read-only file system, no permission).
    """
    env = os.environ.get(ENV_HOME)
    where = f"{ENV_HOME}={env}" if env else "the data directory"
    try:
        path = data_dir(create=False)
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"{where} is a file, not a directory; set {ENV_HOME} to a directory (or unset it)"
            )
        sessions_dir(create=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        what = err.strerror or str(err)
        raise ConfigError(
            f"{where} cannot be written ({what}: {err.filename or path}); set {ENV_HOME} to "
            "a writable directory"
        ) from None
    return path
