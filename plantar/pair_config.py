"""Writing a paired set of insoles into ``plantar.toml`` (the pairing page's "save").

The file is edited with tomlkit, so its comments, order and every other key stay as they
were; only ``insoles.left.url`` and ``insoles.right.url`` change (each foot's ``layout``
and ``size_eu`` are kept). The new text is validated like any configuration before it
replaces the old file, and it replaces it atomically (a temporary file in the same
directory, fsynced, then renamed), keeping the file's mode: a power cut leaves either
the old file or the new one. A missing file is created from the commented default.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from base.errors import ConfigError

__all__ = ["check_writable", "pair_saver", "save_pair"]


def check_writable(path: Path) -> Path:
    """``path`` if the pairing page will be able to save there, else a ConfigError (one line:
    checked when a command starts, not after the runner has paired)."""
    path = Path(path).expanduser()
    parent = path.parent
    problem = None
    if path.exists() and not path.is_file():
        problem = "it is not a file"
    elif path.exists() and not os.access(path, os.W_OK):
        problem = "it is read-only for this user"
    elif not parent.is_dir():
        problem = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"{parent} is read-only for this user"
    if problem:
        raise ConfigError(
            f"cannot save the paired insoles to {path} ({problem}): give a writable file "
            "with --config"
        )
    return path


def _updated_text(old: str, urls: dict[str, str], where: str) -> str:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(old)
    except TOMLKitError as err:
        raise ConfigError(
            f"{where}: not valid TOML ({err}); fix or remove it, then save again"
        ) from None
    insoles = doc.get("insoles")
    if insoles is None:
        insoles = tomlkit.table(is_super_table=True)
        doc["insoles"] = insoles
    for foot, url in urls.items():
        entry = insoles.get(foot)
        if isinstance(entry, str) or entry is None:  # insoles.left = "..." shorthand, or none
            entry = tomlkit.table()
            insoles[foot] = entry
        entry["url"] = url
    return tomlkit.dumps(doc)


def save_pair(path: Path, urls: dict[str, str]) -> Path:
    """Set the insoles' URLs in the configuration file ``path``; returns ``path``.

    Raises
    ------
    ConfigError
        The file is not valid TOML, the result would not be a valid configuration, or
        the file cannot be written (the message says which and what to do).
    """
    from plantar.config import config_from_dict, default_toml, parse_toml

    path = Path(path).expanduser()
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else default_toml()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    text = _updated_text(old, urls, str(path))
    config_from_dict(parse_toml(text, str(path)), source=path, env={}, require_insoles=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(
            f"cannot write {path} ({err.strerror or err}): run plantar as a user who may "
            "write it, or give another file with --config"
        ) from None
    return path


def pair_saver(path: Path) -> Callable[[dict[str, str]], str]:
    """The ``save`` callback of :class:`live.pairing.PairingService` for ``path``."""

    def save(urls: dict[str, str]) -> str:
        return str(save_pair(path, urls))

    return save
