"""The catalog: an SQLite index of every session (athlete, shoe, sock, layout, counts).

``<data dir>/catalog.sqlite`` in WAL mode, so the dashboard can read while a recorder or
an import writes; every write is one short transaction and every connection waits up to
``busy_timeout_s`` for a lock. The schema is versioned (:mod:`store.migrations`). The
catalog is an index: each session's ``session.json`` is the truth, and
:meth:`Catalog.sync_from_disk` rebuilds rows from it and :meth:`Catalog.drop_missing`
drops the rows whose directories are gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from base import paths
from store.errors import StoreError, describe_db_error
from store.migrations import migrate
from store.session import SESSION_FILE, list_session_dirs, read_session_json, utc_now_iso

CATALOG_FILE = "catalog.sqlite"

_COLUMNS = [
    "id",
    "status",
    "source",
    "athlete",
    "shoe",
    "sock",
    "layout_left",
    "layout_right",
    "eu_size_left",
    "eu_size_right",
    "treadmill_speed_kmh",
    "treadmill_incline_pct",
    "notes",
    "started_at",
    "ended_at",
    "duration_s",
    "frames_left",
    "frames_right",
    "gap_frames",
    "gap_s",
    "dropped_frames",
    "lost_at_end_s",
    "path",
    "updated_at",
]


class Catalog:
    """Access to the catalog database.

    Parameters
    ----------
    path : Path, optional
        Database file (default ``<data dir>/catalog.sqlite``).
    readonly : bool
        Open read-only (for the dashboard); no migration is attempted.
    busy_timeout_s : float
        How long to wait for another writer.
    """

    def __init__(
        self, path: Path | None = None, *, readonly: bool = False, busy_timeout_s: float = 10.0
    ) -> None:
        self.path = Path(path) if path else paths.data_dir() / CATALOG_FILE
        self.readonly = readonly
        self.busy_timeout_s = busy_timeout_s
        if not readonly:
            with self._connect() as conn:
                try:
                    migrate(conn)
                except RuntimeError as err:
                    raise StoreError(f"{self.path}: {err}; upgrade Plantar") from err

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if self.readonly:
                uri = f"file:{self.path}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s)
            else:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as err:
            raise self._error("cannot open", err) from None
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        except sqlite3.IntegrityError:
            raise  # a row that breaks the schema is a bug of the caller, not of the disk
        except sqlite3.Error as err:
            raise self._error("cannot update", err) from None
        finally:
            conn.close()

    def _error(self, what: str, err: sqlite3.Error) -> StoreError:
        why = describe_db_error(err, self.path)
        todo = (
            "free space (export and delete old sessions) and run the command again"
            if why == "disk full"
            else "check the file, or move it away and run `plantar sessions` to rebuild it"
        )
        return StoreError(f"{what} the catalog {self.path}: {why}; {todo}")

    # -- writing ---------------------------------------------------------------------

    def upsert(self, row: dict[str, Any], tags: list[str] | None = None) -> None:
        """Insert or replace the row of one session (keys as the ``sessions`` columns)."""
        row = {c: row.get(c) for c in _COLUMNS if c in row}
        row["updated_at"] = utc_now_iso()
        cols = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        update = ", ".join(f"{c} = excluded.{c}" for c in row if c != "id")
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    f"INSERT INTO sessions ({cols}) VALUES ({marks}) "
                    f"ON CONFLICT(id) DO UPDATE SET {update}",
                    row,
                )
                if tags is not None:
                    conn.execute("DELETE FROM tags WHERE session_id = ?", (row["id"],))
                    conn.executemany(
                        "INSERT INTO tags (session_id, tag) VALUES (?, ?)",
                        [(row["id"], t) for t in sorted(set(tags))],
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def upsert_from_disk(self, directory: Path) -> None:
        """Index the session in ``directory`` from its ``session.json``."""
        row, tags = row_from_session_json(directory)
        self.upsert(row, tags)

    def sync_from_disk(self, root: Path | None = None) -> int:
        """Index every session directory under ``root`` and drop rows whose directory is
        gone; return how many directories were indexed."""
        dirs = list_session_dirs(root)
        for directory in dirs:
            self.upsert_from_disk(directory)
        self.drop_missing()
        return len(dirs)

    def drop_missing(self) -> list[str]:
        """Delete the rows whose directory (``path``) no longer holds a session; return ids.

        The check runs inside the write transaction, so a session renamed into place and
        indexed by another process meanwhile is either seen on disk or indexed after it.
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute("SELECT id, path FROM sessions").fetchall()
                gone = [r["id"] for r in rows if not (Path(r["path"]) / SESSION_FILE).is_file()]
                conn.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in gone])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return gone

    # -- reading ---------------------------------------------------------------------

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The row of one session (with its ``tags``), or None."""
        rows = self._select("WHERE s.id = ?", [session_id])
        return rows[0] if rows else None

    def list_sessions(
        self,
        *,
        athlete: str | None = None,
        shoe: str | None = None,
        sock: str | None = None,
        status: str | None = None,
        tag: str | None = None,
    ) -> list[dict[str, Any]]:
        """Sessions matching every given filter, oldest first."""
        where, params = [], []
        for column, value in (("athlete", athlete), ("shoe", shoe), ("sock", sock)):
            if value is not None:
                where.append(f"s.{column} = ?")
                params.append(value)
        if status is not None:
            where.append("s.status = ?")
            params.append(status)
        if tag is not None:
            where.append("s.id IN (SELECT session_id FROM tags WHERE tag = ?)")
            params.append(tag)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._select(clause, params)

    def _select(self, clause: str, params: list[Any]) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT s.*, (SELECT group_concat(tag, ',') FROM "
                f"(SELECT tag FROM tags t WHERE t.session_id = s.id ORDER BY tag)) AS tags "
                f"FROM sessions s {clause} ORDER BY s.started_at, s.id",
                params,
            ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["tags"] = d["tags"].split(",") if d["tags"] else []
            out.append(d)
        return out


def row_from_session_json(directory: Path) -> tuple[dict[str, Any], list[str]]:
    """Build a catalog row and tags from ``directory/session.json``."""
    info = read_session_json(directory)
    meta = info.get("meta") or {}
    summary = info.get("summary") or {}
    feet = meta.get("feet") or {}
    sfeet = summary.get("feet") or {}
    started = meta.get("started_at") or ""
    duration = float(summary.get("duration_s") or 0.0)
    row = {
        "id": info.get("id", directory.name),
        "status": info.get("status", "recording"),
        "source": meta.get("source") or "live",
        "athlete": meta.get("athlete") or "",
        "shoe": meta.get("shoe") or "",
        "sock": meta.get("sock") or "",
        "layout_left": (feet.get("left") or {}).get("layout_id") or "",
        "layout_right": (feet.get("right") or {}).get("layout_id") or "",
        "eu_size_left": (feet.get("left") or {}).get("eu_size"),
        "eu_size_right": (feet.get("right") or {}).get("eu_size"),
        "treadmill_speed_kmh": meta.get("treadmill_speed_kmh"),
        "treadmill_incline_pct": meta.get("treadmill_incline_pct"),
        "notes": meta.get("notes") or "",
        "started_at": started,
        "ended_at": _plus_seconds(started, duration) if summary else "",
        "duration_s": duration,
        "frames_left": int((sfeet.get("left") or {}).get("frames") or 0),
        "frames_right": int((sfeet.get("right") or {}).get("frames") or 0),
        "gap_frames": int(summary.get("gap_frames") or 0),
        "gap_s": float(summary.get("gap_s") or 0.0),
        "dropped_frames": int(summary.get("dropped_frames") or 0),
        "lost_at_end_s": float(summary.get("lost_at_end_s") or 0.0),
        "path": str(directory),
    }
    return row, list(meta.get("tags") or [])


def _plus_seconds(iso: str, seconds: float) -> str:
    try:
        start = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return ""
    end = start + dt.timedelta(seconds=seconds)
    return end.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_catalog(arg: Any = None) -> Catalog | None:
    """Resolve a ``catalog`` argument: None → the default catalog, False → none,
    a path → that file, a :class:`Catalog` → itself."""
    if arg is False:
        return None
    if isinstance(arg, Catalog):
        return arg
    if arg is None:
        return Catalog()
    return Catalog(Path(arg))
