"""The SQLite catalog: migrations, WAL, filters, tags, a concurrent reader."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from store.catalog import Catalog
from store.errors import StoreError
from store.migrations import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version


def _row(i: int, **kw: object) -> dict[str, object]:
    return {
        "id": f"20260101-0000{i:02d}-abcd",
        "status": "finalised",
        "athlete": "A" if i % 2 else "B",
        "shoe": "S1",
        "sock": "thin" if i % 3 else "thick",
        "started_at": f"2026-01-01T00:00:{i:02d}Z",
        "path": f"/x/{i}",
        **kw,
    }


def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema_version(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION == len(MIGRATIONS)
    assert migrate(conn) == SCHEMA_VERSION
    columns = {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    assert {
        "athlete",
        "shoe",
        "sock",
        "layout_left",
        "status",
        "source",
        "lost_at_end_s",
    } <= columns
    conn.close()
    cat = Catalog(path)
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cat.upsert(_row(1))
    assert cat.get(_row(1)["id"])["athlete"] == "A"


def test_migration_from_version_one_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO sessions (id, status, path) VALUES ('old', 'finalised', '/o')")
    conn.close()
    row = Catalog(path).get("old")
    assert row is not None and row["lost_at_end_s"] == 0 and row["status"] == "finalised"


def test_newer_catalog_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this Plantar"):
        Catalog(path)


def test_filters_and_tags(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "c.sqlite")
    for i in range(6):
        cat.upsert(_row(i), tags=["baseline"] if i < 2 else ["fatigue", "hot"])
    assert len(cat.list_sessions()) == 6
    assert {r["athlete"] for r in cat.list_sessions(athlete="A")} == {"A"}
    assert len(cat.list_sessions(athlete="A", sock="thick")) == 1  # i = 3
    assert len(cat.list_sessions(tag="fatigue")) == 4
    assert cat.get(_row(5)["id"])["tags"] == ["fatigue", "hot"]
    cat.upsert(_row(5, status="recovered"), tags=["x"])
    assert cat.get(_row(5)["id"])["tags"] == ["x"]
    assert cat.get(_row(5)["id"])["status"] == "recovered"
    with pytest.raises(sqlite3.IntegrityError):
        cat.upsert(_row(7, status="bogus"))


def test_concurrent_reader_never_fails_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = Catalog(path)
    reader = Catalog(path, readonly=True)
    errors: list[BaseException] = []
    counts: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                counts.append(len(reader.list_sessions()))
            except BaseException as err:
                errors.append(err)
                return

    thread = threading.Thread(target=read)
    thread.start()
    for i in range(200):
        writer.upsert(_row(i % 60, notes=f"n{i}"), tags=[f"t{i % 3}"])
    done.set()
    thread.join()
    assert not errors
    assert counts and counts == sorted(counts)  # rows only ever appear, never vanish
    assert len(reader.list_sessions()) == 60


def test_recovery_repairs_a_catalog_left_behind_by_a_kill(plantar_home: Path) -> None:
    """Killed after session.json said 'finalised' but before the catalog was updated."""
    from store.catalog import row_from_session_json
    from store.recorder import Recorder
    from store.recovery import recover_interrupted
    from store.session import SessionMeta
    from store.synthetic import synthetic_frames

    with Recorder(SessionMeta(athlete="K")) as rec:
        rec.write_frames(synthetic_frames("left", 0, 50))
    catalog = Catalog()
    row, tags = row_from_session_json(rec.directory)
    assert row["status"] == "finalised"
    catalog.upsert({**row, "status": "recording"}, tags)  # the state the kill leaves
    orphan = rec.directory.parent / "20260101-000000-dead"  # on disk, never catalogued
    orphan.mkdir()
    text = (rec.directory / "session.json").read_text()
    (orphan / "session.json").write_text(text.replace(rec.session_id, orphan.name))
    assert recover_interrupted() == []  # nothing to finalise ...
    statuses = {r["id"]: r["status"] for r in catalog.list_sessions()}
    assert statuses[rec.session_id] == "finalised"  # ... but the index is repaired
    assert orphan.name in statuses
