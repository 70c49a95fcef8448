"""Where Plantar keeps its state.

All state (catalog, recordings, caches) lives under one data directory:
``$PLANTAR_HOME`` when set, otherwise the platform's user data directory
(``~/.local/share/plantar`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

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
