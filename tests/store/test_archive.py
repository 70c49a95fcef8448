"""``plantar archive`` to a local directory: layout, manifests, idempotence, moves, DuckDB.

Twenty small sessions (three athletes, three shoes, two socks, three dates; see
``archive_helpers``) are recorded once, archived to a directory and queried with DuckDB
over the committed sessions; the aggregates are checked against NumPy straight from the
store. The S3 and Spark side is ``test_archive_s3.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analysis.archive_command import session_steps
from store.archive import archive_sessions, source_checksums
from store.archive_fs import open_target
from store.archive_index import MANIFEST_DIR, committed_files, read_manifests
from store.archive_tables import NULL_PARTITION, STEPS_SCHEMA_VERSION, partition_value
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta, read_session_json, write_json_atomic
from store.synthetic import synthetic_frames
from tests.store.archive_helpers import (
    ATHLETES,
    assert_same_aggregates,
    duckdb_aggregates,
    numpy_aggregates,
    record_sessions,
)

N_SESSIONS = 20


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data directory with 20 finalised sessions and one still recording."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTAR_HOME", str(home))
        root = home / "sessions"
        ids = record_sessions(root, N_SESSIONS)
        live = Recorder(
            SessionMeta(athlete="A1", shoe="X", sock="Y"),
            root=root,
            session_id="20261122-230000-ffff",
            catalog=False,
            recover=False,
        ).start()
        live.write_frames(synthetic_frames("left", 0, 50))
        yield {"home": home, "root": root, "ids": ids, "live": live}
        live.stop(finalise=False)


def test_partition_values_are_escaped() -> None:
    assert partition_value("A1") == "A1"
    assert partition_value("Zoë K") == "Zoë K"  # as Spark and Hive write it
    assert partition_value("a/b=c") == "a%2Fb%3Dc"
    assert partition_value("50%") == "50%25"
    assert partition_value("") == NULL_PARTITION


def _files(dest: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}


def test_archive_layout_idempotence_and_duckdb(
    store: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTAR_HOME", str(store["home"]))
    root, ids = store["root"], store["ids"]
    before = {s: source_checksums(root / s) for s in ids}
    dest = tmp_path / "archive"
    target = open_target(str(dest))

    report = archive_sessions(target, root=root, steps_of=session_steps)
    assert sorted(report.archived) == sorted(ids)
    assert report.not_finalised == ["20261122-230000-ffff"]
    assert report.steps_errors == {}
    assert report.bytes_sent > 0
    uploads = sorted(dest.glob("athlete=*/date=*/session=*/upload=*"))
    assert len(uploads) == N_SESSIONS
    assert len(list((dest / MANIFEST_DIR).iterdir())) == N_SESSIONS
    assert (dest / "athlete=Zoë K").is_dir()
    assert (dest / f"athlete={NULL_PARTITION}").is_dir()
    manifest = json.loads((dest / MANIFEST_DIR / f"{ids[0]}.json").read_text())
    first = dest / manifest["path"]
    assert first.parent == dest / "athlete=A1" / "date=2026-11-20" / f"session={ids[0]}"
    names = {p.name for p in first.iterdir()}
    assert (
        names
        == set(manifest["files"])
        >= {
            "left.parquet",
            "right.parquet",
            "sessions.parquet",
            "steps.parquet",
        }
    )
    assert all((first / n).stat().st_size == size for n, size in manifest["files"].items())
    # frames are byte-for-byte copies, units in the field metadata as in the store
    assert (first / "left.parquet").read_bytes() == (root / ids[0] / "left.parquet").read_bytes()
    assert pq.read_schema(first / "left.parquet").field("pressure_kpa").metadata[b"unit"] == (
        b"kPa"
    )
    row = pq.read_table(first / "sessions.parquet").to_pylist()[0]
    assert row["shoe"] == "Pegasus 40" and row["sock"] == "thin"
    assert row["layout_left"] == "plantar-ref" and row["treadmill_speed_kmh"] == 10.0
    assert "athlete" not in row and "id" not in row  # partition columns only
    steps_schema = pq.read_schema(first / "steps.parquet")
    assert steps_schema.metadata[b"plantar.schema_version"] == str(STEPS_SCHEMA_VERSION).encode()
    assert steps_schema.field("contact_time_s").metadata == {b"unit": b"s"}
    assert steps_schema.field("forefoot_peak_kpa").metadata == {b"unit": b"kPa"}
    steps = pq.read_table(first / "steps.parquet")
    assert steps.num_rows > 4
    assert set(steps.column("pivot_kind").to_pylist()) == {"shear"}
    assert min(steps.column("forefoot_peak_kpa").to_pylist()) > 100  # the synthetic load

    # idempotent: nothing rewritten, sources untouched (copied, never moved)
    mtimes = _files(dest)
    again = archive_sessions(target, root=root, steps_of=session_steps)
    assert again.archived == [] and sorted(again.skipped) == sorted(ids)
    assert again.bytes_sent == 0
    assert _files(dest) == mtimes
    assert {s: source_checksums(root / s) for s in ids} == before

    # a changed session is re-archived, moved to its new partition, never duplicated
    changed = root / ids[-1]  # the only session without an athlete
    info = read_session_json(changed)
    info["meta"]["athlete"] = "A9"
    write_json_atomic(changed / "session.json", info)
    third = archive_sessions(target, root=root, steps_of=session_steps)
    assert third.archived == [ids[-1]] and len(third.skipped) == N_SESSIONS - 1
    assert len(list(dest.glob(f"athlete=*/date=*/session={ids[-1]}/upload=*"))) == 1
    assert len(list(dest.glob(f"athlete=A9/date=2026-11-21/session={ids[-1]}/upload=*"))) == 1
    assert not (dest / f"athlete={NULL_PARTITION}").exists()  # emptied, removed
    assert not list(dest.rglob(".tmp-*"))  # no temporary files left behind
    info["meta"]["athlete"] = ""
    write_json_atomic(changed / "session.json", info)
    assert archive_sessions(target, root=root, steps_of=session_steps).archived == [ids[-1]]
    assert len(read_manifests(target)) == N_SESSIONS

    # only one athlete
    other = open_target(str(tmp_path / "a2"))
    only = archive_sessions(other, root=root, steps_of=session_steps, athlete="A2")
    assert only.archived and all(
        read_session_json(root / s)["meta"]["athlete"] == "A2" for s in only.archived
    )

    # DuckDB over the committed sessions vs numpy over the store
    assert len(committed_files(str(dest), "steps.parquet")) == N_SESSIONS
    want = numpy_aggregates([root / s for s in ids])
    assert {k[0] for k in want} == {*ATHLETES, None}
    got = duckdb_aggregates(str(dest))  # partition values decoded (percent, null)
    assert_same_aggregates(got, want)
    assert sum(v[3] for v in got.values()) == N_SESSIONS
    # the groups really differ (shear was scaled per shoe and sock)
    values = sorted(v[0] for v in want.values())
    assert values[-1] > 2 * values[0]


def test_a_killed_upload_is_invisible_and_cleaned(store: dict[str, Any], tmp_path: Path) -> None:
    root, ids = store["root"], store["ids"][:2]
    dest = tmp_path / "archive"
    target = open_target(str(dest))
    archive_sessions(target, root=root, only={ids[0]})
    # what a run killed half-way through ids[1] leaves: data without a manifest
    leaf = dest / "athlete=A2" / "date=2026-11-21" / f"session={ids[1]}" / "upload=killed-1"
    leaf.mkdir(parents=True)
    (leaf / "left.parquet").write_bytes((root / ids[1] / "left.parquet").read_bytes()[:100])
    assert len(committed_files(str(dest), "left.parquet")) == 1  # readers never see it
    report = archive_sessions(target, root=root, only=set(ids))
    assert report.archived == [ids[1]] and report.skipped == [ids[0]]
    assert not leaf.exists()
    assert len(committed_files(str(dest), "left.parquet")) == 2


def test_cli_archive(store: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from plantar.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTAR_HOME", str(store["home"]))
        mp.setenv("PLANTAR_CONFIG", str(tmp_path / "plantar.toml"))
        (tmp_path / "plantar.toml").write_text("")
        dest = tmp_path / "cli"
        assert main(["archive", "--to", str(dest), "--athlete", "A1", "--no-steps", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["archived"] and out["skipped"] == []
        assert committed_files(str(dest), "left.parquet")
        assert not committed_files(str(dest), "steps.parquet")
        assert main(["archive", "--to", str(dest), "--athlete", "A1", "--no-steps"]) == 0
        assert "archived 0 session(s)" in capsys.readouterr().out
        # the destination from plantar.toml; an unknown scheme is one line
        (tmp_path / "plantar.toml").write_text(f'[archive]\nto = "{dest}"\nsteps = false\n')
        assert main(["archive", "--athlete", "A1", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["archived"] == []


def test_session_that_cannot_be_analysed_is_archived_without_steps(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    meta = SessionMeta(athlete="B", feet={"left": FootLayout("no-such-layout", 42.0)})
    rec = Recorder(meta, root=root, catalog=False, recover=False).start()
    assert rec.write_frames(synthetic_frames("left", 0, 100))
    rec.stop()
    target = open_target(str(tmp_path / "archive"))
    report = archive_sessions(target, root=root, steps_of=session_steps)
    assert report.archived == [rec.session_id]
    assert "no-such-layout" in report.steps_errors[rec.session_id]
    (steps,) = committed_files(target, "steps.parquet")
    assert pq.read_table(steps).num_rows == 0
    assert len(committed_files(target, "left.parquet")) == 1


def test_one_backlog_key_for_every_spelling_of_a_destination(tmp_path: Path) -> None:
    """The backlog queues under ``archive.to`` as written and is cleared under the
    target's uri: both go through ``archive_key``, so a trailing slash, ``file://`` or
    ``~`` no longer leaves sessions owed for ever."""
    from store.archive_fs import archive_key, open_target

    lake = tmp_path / "lake"
    spellings = [str(lake), f"{lake}/", f"file://{lake}", f"{lake}/../lake"]
    assert {archive_key(u) for u in spellings} == {str(lake.resolve())}
    for u in spellings:
        assert open_target(u).uri == archive_key(u)
    assert archive_key("s3://bucket/prefix/") == archive_key("s3://bucket/prefix")
    assert archive_key("s3://bucket/prefix") == "s3://bucket/prefix"
