"""The archive backlog: sessions that ``plantar run`` finalised and has not yet pushed.

A small SQLite file beside the catalog (``<data dir>/archive-backlog.sqlite``, WAL), so
that a session finalised while the network is down is pushed by a later run and shown
by ``plantar doctor``. It is kept apart from the catalog (an index rebuilt from disk)
because it is state of its own: what is still owed to a destination.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from base import paths
from store.errors import StoreError, describe_db_error
from store.session import utc_now_iso

BACKLOG_FILE = "archive-backlog.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS backlog (
    session_id      TEXT NOT NULL,
    destination     TEXT NOT NULL,
    queued_at       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, destination)
)
"""


@dataclass(frozen=True)
class BacklogEntry:
    """One session still owed to a destination."""

    session_id: str
    destination: str
    queued_at: str
    attempts: int
    last_attempt_at: str
    last_error: str


class ArchiveBacklog:
    """Sessions waiting to be archived, per destination (URI)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.data_dir() / BACKLOG_FILE

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            why = describe_db_error(err, self.path) if isinstance(err, sqlite3.Error) else err
            raise StoreError(
                f"cannot open the archive backlog {self.path}: {why}; check the data directory"
            ) from None
        try:
            yield conn
        except sqlite3.Error as err:
            raise StoreError(
                f"cannot update the archive backlog {self.path}: "
                f"{describe_db_error(err, self.path)}"
            ) from None
        finally:
            conn.close()

    def add(self, session_id: str, destination: str) -> None:
        """Queue a session (again: no change)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO backlog (session_id, destination, queued_at) "
                "VALUES (?, ?, ?)",
                (session_id, destination, utc_now_iso()),
            )

    def done(self, session_id: str, destination: str) -> None:
        """The session is committed at ``destination``."""
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM backlog WHERE session_id = ? AND destination = ?",
                (session_id, destination),
            )

    def failed(self, session_ids: list[str], destination: str, error: str) -> None:
        """An attempt at these sessions failed with ``error``; they stay queued."""
        with self._connect() as conn:
            conn.executemany(
                "UPDATE backlog SET attempts = attempts + 1, last_attempt_at = ?, "
                "last_error = ? WHERE session_id = ? AND destination = ?",
                [(utc_now_iso(), error, s, destination) for s in session_ids],
            )

    def pending(self, destination: str | None = None) -> list[BacklogEntry]:
        """Queued sessions (of one destination, or all), oldest first."""
        if not self.path.exists():
            return []
        query = "SELECT * FROM backlog"
        params: tuple[str, ...] = ()
        if destination is not None:
            query += " WHERE destination = ?"
            params = (destination,)
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY queued_at, session_id", params).fetchall()
        return [BacklogEntry(*row) for row in rows]
