"""``plantar archive``: finalised sessions as a hive-partitioned Parquet dataset.

Twenty small sessions (three athletes, three shoes, two socks, three dates) are recorded
once with :class:`store.recorder.Recorder` from :func:`store.synthetic.synthetic_frames`
(shear scaled per shoe and sock so that the groups differ), archived, and queried with
DuckDB: mean pivot at toe-off and mean per-frame peak pressure per shoe/sock, each checked
against the same computed with numpy straight from the store.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.archive_command import session_steps
from hardware.layout import load_layout
from store.archive import (
    MANIFEST_FILE,
    NULL_PARTITION,
    archive_sessions,
    partition_value,
    source_checksums,
)
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta, read_session_json, write_json_atomic
from store.synthetic import synthetic_frames

ATHLETES = ("A1", "A2", "Zoë K")  # the last one needs percent-encoding in the path
SHOES = ("Pegasus 40", "Cloudmonster", "Novablast")
SOCKS = ("thin", "thick")
N_SESSIONS = 20
FRAMES_PER_FOOT = 1200  # 6 s at 200 Hz: about 8 steps per foot
BATCH = 200


def _record(root: Path, i: int, n_sensels: int, n_shear: int) -> str:
    shoe, sock = SHOES[i % 3], SOCKS[(i // 3) % 2]
    meta = SessionMeta(
        athlete=ATHLETES[i % len(ATHLETES)] if i != N_SESSIONS - 1 else "",
        shoe=shoe,
        sock=sock,
        treadmill_speed_kmh=10.0 + i % 4,
        tags=["archive-test", f"block{i % 2}"],
        started_at=f"2026-11-{20 + i % 3:02d}T{8 + i % 10:02d}:00:00.000Z",
        feet={f: FootLayout("plantar-ref", 42.0) for f in ("left", "right")},
    )
    scale = (1.0 + SHOES.index(shoe)) * (1.5 if sock == "thick" else 1.0)
    session_id = f"2026112{i % 3}-{8 + i % 10:02d}0000-{i:04x}"
    rec = Recorder(meta, root=root, session_id=session_id, catalog=False, recover=False)
    rec.start()
    start = 1000 * i  # a different stretch of the deterministic signal per session
    for k in range(0, FRAMES_PER_FOOT, BATCH):
        for foot in ("left", "right"):
            fr = synthetic_frames(foot, start + k, BATCH, n_sensels=n_sensels, n_shear=n_shear)
            fr = dataclasses.replace(
                fr, shear_kpa=fr.shear_kpa * np.float32(scale), t_s=fr.t_s - start / 200.0
            )  # t_s: session time from 0
            assert rec.write_frames(fr)
    rec.stop()
    assert rec.error is None
    return session_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data directory with 20 finalised sessions and one still recording."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTAR_HOME", str(home))
        root = home / "sessions"
        root.mkdir()
        layout = load_layout("plantar-ref", foot="left", eu_size=42.0)
        ids = [_record(root, i, layout.n_sensels, layout.n_shear) for i in range(N_SESSIONS)]
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


def _group(info: dict[str, Any]) -> tuple[str, str]:
    meta = info["meta"]
    return meta["shoe"], meta["sock"]


def _direct_means(root: Path, ids: list[str]) -> tuple[dict[Any, float], dict[Any, float]]:
    """Mean pivot and mean per-frame peak pressure per (shoe, sock), from the store."""
    from analysis import analyze_recording
    from store.session_reader import load_recording

    pivots: dict[Any, list[float]] = defaultdict(list)
    peaks: dict[Any, list[np.ndarray]] = defaultdict(list)
    for session_id in ids:
        key = _group(read_session_json(root / session_id))
        inp = load_recording(session_id)
        out = analyze_recording(
            inp.feet, inp.layouts, speed_mps=inp.speed_mps, yaw_rate_dps=inp.yaw_rate_dps,
            hotspots=False,
        )  # fmt: skip
        for st in out["steps"]:
            value = st["pivot"]["value"]
            if value is not None:
                pivots[key].append(value)
        for foot in ("left", "right"):
            table = pq.read_table(root / session_id / f"{foot}.parquet")
            n = table.num_rows
            p = table.column("pressure_kpa").combine_chunks().values.to_numpy().reshape(n, -1)
            peaks[key].append(p.max(axis=1).astype(np.float64))
    mean_pivot = {k: float(np.mean(v)) for k, v in pivots.items()}
    mean_peak = {k: float(np.mean(np.concatenate(v))) for k, v in peaks.items()}
    return mean_pivot, mean_peak


def test_partition_values_are_escaped() -> None:
    assert partition_value("A1") == "A1"
    assert partition_value("Zoë K") == "Zo%C3%AB%20K"
    assert partition_value("a/b=c") == "a%2Fb%3Dc"
    assert partition_value("") == NULL_PARTITION


def test_archive_layout_idempotence_and_duckdb(store: dict[str, Any], tmp_path: Path) -> None:
    root, ids = store["root"], store["ids"]
    before = {s: source_checksums(root / s) for s in ids}
    dest = tmp_path / "archive"

    report = archive_sessions(dest, root=root, steps_of=session_steps)
    assert sorted(report.archived) == sorted(ids)
    assert report.not_finalised == ["20261122-230000-ffff"]
    assert report.steps_errors == {}
    session_dirs = sorted(dest.glob("athlete=*/date=*/session=*"))
    assert len(session_dirs) == N_SESSIONS
    assert (dest / "athlete=Zo%C3%AB%20K").is_dir()
    assert (dest / f"athlete={NULL_PARTITION}").is_dir()
    first = dest / "athlete=A1" / "date=2026-11-20" / f"session={ids[0]}"
    names = {p.name for p in first.iterdir()}
    assert {"left.parquet", "right.parquet", "sessions.parquet", "steps.parquet"} <= names
    assert MANIFEST_FILE in names
    # frames are byte-for-byte copies, units in the field metadata as in the store
    assert (first / "left.parquet").read_bytes() == (root / ids[0] / "left.parquet").read_bytes()
    field = pq.read_schema(first / "left.parquet").field("pressure_kpa")
    assert field.metadata[b"unit"] == b"kPa"
    row = pq.read_table(first / "sessions.parquet").to_pylist()[0]
    assert row["shoe"] == "Pegasus 40" and row["sock"] == "thin"
    assert row["layout_left"] == "plantar-ref" and row["treadmill_speed_kmh"] == 10.0
    assert "athlete" not in row and "id" not in row  # partition columns only
    steps = pq.read_table(first / "steps.parquet")
    assert steps.num_rows > 4
    assert set(steps.column("pivot_kind").to_pylist()) == {"shear"}
    assert pq.read_schema(first / "steps.parquet").field("contact_time_s").metadata == {
        b"unit": b"s"
    }

    # idempotent: nothing rewritten, sources untouched (copied, never moved)
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    again = archive_sessions(dest, root=root, steps_of=session_steps)
    assert again.archived == [] and sorted(again.skipped) == sorted(ids)
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == mtimes
    assert {s: source_checksums(root / s) for s in ids} == before

    # a changed session is re-archived, moved to its new partition, never duplicated
    changed = root / ids[-1]  # the only session without an athlete
    info = read_session_json(changed)
    info["meta"]["athlete"] = "A9"
    write_json_atomic(changed / "session.json", info)
    third = archive_sessions(dest, root=root, steps_of=session_steps)
    assert third.archived == [ids[-1]] and len(third.skipped) == N_SESSIONS - 1
    assert len(list(dest.glob(f"athlete=*/date=*/session={ids[-1]}"))) == 1
    assert (dest / "athlete=A9" / "date=2026-11-21" / f"session={ids[-1]}").is_dir()
    assert not (dest / f"athlete={NULL_PARTITION}").exists()  # emptied, removed
    assert not list(dest.glob(".*"))  # no temporary directories left behind
    info["meta"]["athlete"] = ""
    write_json_atomic(changed / "session.json", info)
    assert archive_sessions(dest, root=root, steps_of=session_steps).archived == [ids[-1]]

    # only one athlete
    only = archive_sessions(tmp_path / "a2", root=root, steps_of=session_steps, athlete="A2")
    assert only.archived and all(
        read_session_json(root / s)["meta"]["athlete"] == "A2" for s in only.archived
    )

    # DuckDB over the whole archive vs numpy over the store
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (test extra)")
    con = duckdb.connect()
    base = f"read_parquet('{dest}/*/*/*/{{}}', hive_partitioning = true)"
    pivot = con.execute(
        f"""
        SELECT s.shoe, s.sock, avg(st.pivot) AS mean_pivot, count(*) AS steps,
               count(DISTINCT st.session) AS sessions
        FROM {base.format("steps.parquet")} st
        JOIN {base.format("sessions.parquet")} s USING (session)
        WHERE st.pivot IS NOT NULL
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    peak = con.execute(
        f"""
        SELECT s.shoe, s.sock, avg(list_max(f.pressure_kpa)) AS mean_peak_kpa
        FROM read_parquet('{dest}/*/*/*/*.parquet', hive_partitioning = true,
                          filename = true, union_by_name = true) f
        JOIN {base.format("sessions.parquet")} s USING (session)
        WHERE regexp_matches(f.filename, '/(left|right)\\.parquet$')
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    n_sessions = con.execute(
        f"SELECT count(*), count(DISTINCT athlete), count(DISTINCT date) "
        f"FROM {base.format('sessions.parquet')}"
    ).fetchone()
    assert n_sessions == (N_SESSIONS, len(ATHLETES), 3)
    athletes = con.execute(
        f"SELECT DISTINCT athlete FROM {base.format('sessions.parquet')}"
    ).fetchall()
    # partition values are decoded back (percent-encoding, Hive's null partition)
    assert {a for (a,) in athletes} == {*ATHLETES, None}

    direct_pivot, direct_peak = _direct_means(root, ids)
    assert len(pivot) == len(direct_pivot) == 6
    assert sum(r[4] for r in pivot) == N_SESSIONS
    for shoe, sock, mean, _, _ in pivot:
        assert mean == pytest.approx(direct_pivot[(shoe, sock)], rel=1e-9)
    assert len(peak) == len(direct_peak) == 6
    for shoe, sock, mean in peak:
        assert mean == pytest.approx(direct_peak[(shoe, sock)], rel=1e-9)
    # the groups really differ (shear was scaled per shoe and sock)
    values = sorted(direct_pivot.values())
    assert values[-1] > 2 * values[0]


def test_cli_archive(store: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from plantar.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTAR_HOME", str(store["home"]))
        dest = tmp_path / "cli"
        assert main(["archive", "--to", str(dest), "--athlete", "A1", "--no-steps", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["archived"] and out["skipped"] == []
        assert not list(dest.glob("*/*/*/steps.parquet"))
        assert main(["archive", "--to", str(dest), "--athlete", "A1", "--no-steps"]) == 0
        assert "archived 0 session(s)" in capsys.readouterr().out


def test_session_that_cannot_be_analysed_is_archived_without_steps(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    meta = SessionMeta(athlete="B", feet={"left": FootLayout("no-such-layout", 42.0)})
    rec = Recorder(meta, root=root, catalog=False, recover=False).start()
    assert rec.write_frames(synthetic_frames("left", 0, 100))
    rec.stop()
    report = archive_sessions(tmp_path / "archive", root=root, steps_of=session_steps)
    assert report.archived == [rec.session_id]
    assert "no-such-layout" in report.steps_errors[rec.session_id]
    (leaf,) = (tmp_path / "archive").glob("athlete=B/date=*/session=*")
    assert pq.read_table(leaf / "steps.parquet").num_rows == 0
    assert (leaf / "left.parquet").is_file()
