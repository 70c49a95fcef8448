"""Concurrent imports, listings and a live recorder never corrupt each other (issue 16).

20 rounds of 3 concurrent ``plantar import`` processes plus a concurrent ``plantar
sessions``, while another process records: every import lands once, the catalog equals
the session directories, and no staging directory is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from store.session import STAGING_PREFIX, list_session_dirs, read_session_json
from tests.store.conftest import REPO

ROUNDS = 20
IMPORTERS = 3

RECORDER_SCRIPT = """
import select, sys
from store.recorder import Recorder
from store.session import SessionMeta
from store.synthetic import synthetic_frames
rec = Recorder(SessionMeta(athlete="live")).start()
print(rec.session_id, flush=True)
seq = 0
while not select.select([sys.stdin], [], [], 0.05)[0]:  # until the test closes stdin
    rec.write_frames(synthetic_frames("left", seq, 20))
    seq += 20
rec.stop()
"""


def _gaitpdb_file(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    t_s = np.arange(rows) * 0.01
    forces = np.round(rng.uniform(0.0, 200.0, (rows, 18)), 2)
    with open(path, "w", encoding="utf-8") as f:
        for t, row in zip(t_s, forces, strict=True):
            f.write(f"{t:.4f}\t" + "\t".join(f"{v:g}" for v in row) + "\n")
    return path


def test_twenty_rounds_of_three_imports_with_sessions_and_a_recorder(
    plantar_home: Path, tmp_path: Path
) -> None:
    sources = [_gaitpdb_file(tmp_path / f"walk{k}.txt", 150, k) for k in range(IMPORTERS)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    recorder = subprocess.Popen(
        [sys.executable, "-c", RECORDER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    imported: list[str] = []
    try:
        assert recorder.stdout is not None
        live_id = recorder.stdout.readline().strip()
        assert live_id, "the recorder did not start"
        for rnd in range(ROUNDS):
            commands = [["import", str(src), "--json", "--tag", f"r{rnd}"] for src in sources] + [
                ["sessions"]
            ]
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "plantar.cli", *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                for args in commands
            ]
            results = [proc.communicate(timeout=120) for proc in procs]
            for proc, (_, err) in zip(procs, results, strict=True):
                assert proc.returncode == 0, f"round {rnd}: {proc.args}: {err}"
            imported.extend(out.strip().splitlines()[-1] for out, _ in results[:IMPORTERS])
    finally:
        assert recorder.stdin is not None
        recorder.stdin.close()
        recorder.wait(60)
    assert recorder.returncode == 0

    ids = [json.loads(line)["session"] for line in imported]
    assert len(ids) == ROUNDS * IMPORTERS == len(set(ids))
    root = plantar_home / "sessions"
    on_disk = {d.name: read_session_json(d) for d in list_session_dirs(root)}
    assert set(on_disk) == set(ids) | {live_id}
    for sid in ids:
        info = on_disk[sid]
        assert info["status"] == "finalised", (sid, info["status"])
        assert info["summary"]["frames"] == 2 * 150
    assert not [p.name for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    with sqlite3.connect(plantar_home / "catalog.sqlite") as conn:
        rows = dict(conn.execute("SELECT id, path FROM sessions").fetchall())
    assert set(rows) == set(on_disk)
    assert all(Path(p) == root / sid for sid, p in rows.items())


def test_recovery_leaves_a_locked_staging_directory_alone_and_removes_a_stale_one(
    plantar_home: Path,
) -> None:
    from store.recovery import recover_interrupted
    from store.session import hold_lock, release_lock, write_json_atomic

    root = plantar_home / "sessions"
    running, stale, fresh = (root / f"{STAGING_PREFIX}{n}" for n in ("run", "stale", "fresh"))
    for d in (running, stale, fresh):
        d.mkdir(parents=True)
        write_json_atomic(d / "session.json", {"id": d.name, "status": "recording", "meta": {}})
    old = time.time() - 3600
    for d in (running, stale):
        os.utime(d, (old, old))
    fd = hold_lock(running)
    try:
        assert recover_interrupted(root, catalog=False) == []
        assert running.is_dir() and fresh.is_dir()
        assert not stale.exists()
        assert read_session_json(running)["status"] == "recording"
    finally:
        release_lock(fd)


def test_catalog_drops_rows_whose_directory_is_gone(plantar_home: Path) -> None:
    from store.catalog import Catalog
    from store.recorder import Recorder
    from store.session import SessionMeta
    from store.synthetic import synthetic_frames

    kept, removed = Recorder(SessionMeta()), Recorder(SessionMeta())
    for rec in (kept, removed):
        with rec:
            rec.write_frames(synthetic_frames("left", 0, 10))
    catalog = Catalog()
    assert {r["id"] for r in catalog.list_sessions()} == {kept.session_id, removed.session_id}
    assert removed.directory is not None
    shutil.rmtree(removed.directory)
    catalog.sync_from_disk()
    assert [r["id"] for r in catalog.list_sessions()] == [kept.session_id]
