"""Versioned schema of the SQLite catalog.

The schema version is SQLite's ``PRAGMA user_version``. :data:`MIGRATIONS` is an
ordered list; migration ``i`` (1-based) takes the catalog from version ``i-1`` to ``i``.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions and tags
    """
    CREATE TABLE sessions (
        id                    TEXT PRIMARY KEY,
        status                TEXT NOT NULL
                              CHECK (status IN ('recording', 'finalised', 'recovered')),
        source                TEXT NOT NULL DEFAULT 'live',
        athlete               TEXT NOT NULL DEFAULT '',
        shoe                  TEXT NOT NULL DEFAULT '',
        sock                  TEXT NOT NULL DEFAULT '',
        layout_left           TEXT NOT NULL DEFAULT '',
        layout_right          TEXT NOT NULL DEFAULT '',
        eu_size_left          REAL,
        eu_size_right         REAL,
        treadmill_speed_kmh   REAL,
        treadmill_incline_pct REAL,
        notes                 TEXT NOT NULL DEFAULT '',
        started_at            TEXT NOT NULL DEFAULT '',
        ended_at              TEXT NOT NULL DEFAULT '',
        duration_s            REAL NOT NULL DEFAULT 0,
        frames_left           INTEGER NOT NULL DEFAULT 0,
        frames_right          INTEGER NOT NULL DEFAULT 0,
        gap_frames            INTEGER NOT NULL DEFAULT 0,
        gap_s                 REAL NOT NULL DEFAULT 0,
        dropped_frames        INTEGER NOT NULL DEFAULT 0,
        path                  TEXT NOT NULL
    );
    CREATE TABLE tags (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        tag        TEXT NOT NULL,
        PRIMARY KEY (session_id, tag)
    );
    """,
    # 2: what recovery lost, when a row last changed, and indexes for the usual filters
    """
    ALTER TABLE sessions ADD COLUMN lost_at_end_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
    CREATE INDEX sessions_athlete ON sessions (athlete, started_at);
    CREATE INDEX sessions_shoe_sock ON sessions (shoe, sock);
    CREATE INDEX tags_tag ON tags (tag);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The catalog's current schema version (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations, each in its own transaction; return the new version.

    Raises
    ------
    RuntimeError
        The catalog is newer than this version of Plantar.
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"catalog schema version {current} is newer than this Plantar ({SCHEMA_VERSION})"
        )
    while current < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # another process may have migrated while we waited for the write lock
            current = schema_version(conn)
            if current < SCHEMA_VERSION:
                for statement in MIGRATIONS[current].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current
