"""Structured logs of ``plantar run``: journald's native protocol, or logfmt on stderr.

Under systemd (``$JOURNAL_STREAM`` names our stderr) records go to journald's native
socket with their own fields (``PLANTAR_SESSION_ID``, ``PLANTAR_FRAMES_WRITTEN`` ...), so
``journalctl -u plantar -o verbose`` shows them and ``journalctl -u plantar
PLANTAR_EVENT=recovered`` filters them. Elsewhere each record is one ``key=value`` line on
stderr (logfmt). No dependency on ``systemd-python``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import sys
import time
from typing import Any

JOURNAL_SOCKET = "/run/systemd/journal/socket"
#: logging level → syslog priority (journald's PRIORITY field)
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _journal_name(key: str) -> str:
    name = "".join(c if c.isalnum() else "_" for c in key.upper())
    return "PLANTAR_" + name.lstrip("_")


class JournalHandler(logging.Handler):
    """Send records to journald over its native datagram protocol (no systemd-python).

    Fields: ``MESSAGE``, ``PRIORITY``, ``SYSLOG_IDENTIFIER``, ``LOGGER``, ``CODE_FILE``,
    ``CODE_LINE``, ``CODE_FUNC``, ``THREAD_NAME``, plus ``PLANTAR_<KEY>`` for every item of
    the record's ``fields`` (``log.info(msg, extra={"fields": {...}})``).
    """

    MAX_VALUE = 48 * 1024

    def __init__(self, path: str = JOURNAL_SOCKET, identifier: str = "plantar") -> None:
        super().__init__()
        self.path = path
        self.identifier = identifier
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.connect(path)  # raises OSError when there is no journal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            items: list[tuple[str, str]] = [
                ("MESSAGE", message),
                ("PRIORITY", str(_PRIORITY.get(record.levelno, 6))),
                ("SYSLOG_IDENTIFIER", self.identifier),
                ("LOGGER", record.name),
                ("CODE_FILE", record.pathname),
                ("CODE_LINE", str(record.lineno)),
                ("CODE_FUNC", record.funcName),
                ("THREAD_NAME", record.threadName or ""),
            ]
            items += [(_journal_name(k), _text(v)) for k, v in _fields(record).items()]
            self.sock.send(encode_journal(items, self.MAX_VALUE))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


def encode_journal(items: list[tuple[str, str]], max_value: int = 48 * 1024) -> bytes:
    """Serialise fields in journald's native format (``KEY=value\\n``, or binary-safe)."""
    out = bytearray()
    for key, value in items:
        data = value.encode("utf-8", "replace")[:max_value]
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


class LogfmtFormatter(logging.Formatter):
    """One line per record: ``ts=... level=info logger=plantar.run msg="..." key=value``."""

    def __init__(self, with_time: bool = True) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        pairs: list[tuple[str, Any]] = []
        if self.with_time:
            t = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            pairs.append(("ts", f"{t}.{int(record.msecs):03d}"))
        pairs += [
            ("level", record.levelname.lower()),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        pairs += list(_fields(record).items())
        if record.exc_info:
            pairs.append(("exc", self.formatException(record.exc_info)))
        return " ".join(f"{k}={_quote(_text(v))}" for k, v in pairs)


def _quote(text: str) -> str:
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def under_journald(env: dict[str, str] | None = None) -> bool:
    """True when stderr is connected to journald (``$JOURNAL_STREAM`` is ``dev:inode`` of it)."""
    value = (env if env is not None else os.environ).get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def setup_logging(fmt: str = "auto", level: int = logging.INFO) -> str:
    """Route the ``plantar`` loggers (and warnings of libraries) to journald or stderr.

    Returns the format in use: ``"journal"`` or ``"logfmt"``.
    """
    handler: logging.Handler | None = None
    used = "logfmt"
    if fmt == "journal" or (fmt == "auto" and under_journald()):
        try:
            handler = JournalHandler(os.environ.get("PLANTAR_JOURNAL_SOCKET", JOURNAL_SOCKET))
            used = "journal"
        except OSError:
            handler = None
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        # journald adds its own timestamps to captured stderr
        handler.setFormatter(LogfmtFormatter(with_time=not under_journald()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("plantar").setLevel(level)
    logging.captureWarnings(True)
    return used


# --- the service --------------------------------------------------------------------------
