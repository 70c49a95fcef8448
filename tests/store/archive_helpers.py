"""Shared by the archive tests: small recorded sessions, and the aggregates that DuckDB,
Spark and NumPy must agree on (mean pivot and forefoot peak per athlete x shoe x sock).

Sessions are recorded once with :class:`store.recorder.Recorder` from
:func:`store.synthetic.synthetic_frames`, shear scaled per shoe and sock so that the
groups differ. The NumPy answer is computed from the store (the analysis of each session
and numpy means), never from the archive.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from store.recorder import Recorder
from store.session import FootLayout, SessionMeta, read_session_json
from store.synthetic import synthetic_frames

ATHLETES = ("A1", "A2", "Zoë K")  # the last one needs percent-encoding in the path
SHOES = ("Pegasus 40", "Cloudmonster", "Novablast")
SOCKS = ("thin", "thick")
FRAMES_PER_FOOT = 600  # 3 s at 200 Hz: about 4 steps per foot
BATCH = 200

#: Key of one aggregate row: (athlete or None, shoe, sock, pivot kind).
Key = tuple[str | None, str, str, str]


def record_session(root: Path, i: int, n_sensels: int, n_shear: int, *, pi: int = 0) -> str:
    """Record session ``i`` of Pi ``pi`` into ``root``; the last of 20 has no athlete."""
    shoe, sock = SHOES[i % 3], SOCKS[(i // 3) % 2]
    meta = SessionMeta(
        athlete=ATHLETES[(i + pi) % len(ATHLETES)] if i != 19 else "",
        shoe=shoe,
        sock=sock,
        treadmill_speed_kmh=10.0 + i % 4,
        tags=["archive-test", f"block{i % 2}"],
        started_at=f"2026-11-{20 + i % 3:02d}T{8 + i % 10:02d}:00:00.000Z",
        feet={f: FootLayout("plantar-ref", 42.0) for f in ("left", "right")},
    )
    scale = (1.0 + SHOES.index(shoe)) * (1.5 if sock == "thick" else 1.0)
    session_id = f"2026112{i % 3}-{8 + i % 10:02d}0000-{pi:x}{i:03x}"
    rec = Recorder(meta, root=root, session_id=session_id, catalog=False, recover=False)
    rec.start()
    start = 1000 * (i + 37 * pi)  # a different stretch of the deterministic signal
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


def record_sessions(root: Path, n: int, *, pi: int = 0) -> list[str]:
    """``n`` finalised sessions of Pi ``pi`` under ``root``."""
    from hardware.layout import load_layout

    root.mkdir(parents=True, exist_ok=True)
    layout = load_layout("plantar-ref", foot="left", eu_size=42.0)
    return [record_session(root, i, layout.n_sensels, layout.n_shear, pi=pi) for i in range(n)]


def numpy_aggregates(sessions: list[Path]) -> dict[Key, tuple[float, float, int, int]]:
    """(mean pivot, mean forefoot peak kPa, steps, sessions) per athlete x shoe x sock x
    pivot kind, from the stored sessions through the analysis and numpy."""
    from analysis import analyze_recording
    from hardware.layout import FOREFOOT_REGIONS
    from store.session_reader import read_session

    pivots: dict[Key, list[float]] = defaultdict(list)
    peaks: dict[Key, list[float]] = defaultdict(list)
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for directory in sessions:
        meta = read_session_json(directory)["meta"]
        rec = read_session(directory)
        out = analyze_recording(
            rec.feet, rec.layouts, speed_mps=rec.speed_mps, yaw_rate_dps=rec.yaw_rate_dps,
            hotspots=False,
        )  # fmt: skip
        seen: set[Key] = set()
        for st in out["steps"]:
            key = (meta["athlete"] or None, meta["shoe"], meta["sock"], st["pivot"]["kind"])
            if st["pivot"]["value"] is not None:
                pivots[key].append(st["pivot"]["value"])
            region_peaks = np.array(
                [st["peak_pressure_kpa"].get(r) for r in FOREFOOT_REGIONS], dtype=float
            )
            if not np.all(np.isnan(region_peaks)):
                peaks[key].append(float(np.nanmax(region_peaks)))
            counts[key][0] += 1
            if key not in seen:
                counts[key][1] += 1
                seen.add(key)
    return {
        k: (float(np.mean(pivots[k])), float(np.mean(peaks[k])), n, s)
        for k, (n, s) in counts.items()
    }


def as_aggregates(rows: list[Any]) -> dict[Key, tuple[float, float, int, int]]:
    """Rows (athlete, shoe, sock, pivot_kind, mean_pivot, mean_forefoot_peak_kpa, steps,
    sessions) of an engine as the dict :func:`numpy_aggregates` returns."""
    return {
        (r[0], r[1], r[2], r[3]): (float(r[4]), float(r[5]), int(r[6]), int(r[7])) for r in rows
    }


def assert_same_aggregates(got: dict[Key, Any], want: dict[Key, Any]) -> None:
    """Same groups; means equal to 1e-9 relative, counts exactly."""
    import pytest

    assert sorted(got, key=str) == sorted(want, key=str)
    for key, (pivot, peak, steps, sessions) in want.items():
        g = got[key]
        assert g[0] == pytest.approx(pivot, rel=1e-9), key
        assert g[1] == pytest.approx(peak, rel=1e-9), key
        assert (g[2], g[3]) == (steps, sessions), key


def duckdb_aggregates(base: str) -> dict[Key, tuple[float, float, int, int]]:
    """The aggregates by DuckDB over the committed sessions of the archive at ``base``."""
    import duckdb

    from store.archive_index import committed_files

    def table(name: str) -> str:
        files = ", ".join("'" + f.replace("'", "''") + "'" for f in committed_files(base, name))
        return f"read_parquet([{files}], hive_partitioning = true, hive_types_autocast = false)"

    rows = (
        duckdb.connect()
        .execute(
            f"""
            SELECT st.athlete, s.shoe, s.sock, st.pivot_kind, avg(st.pivot) AS mean_pivot,
                   avg(st.forefoot_peak_kpa) AS mean_forefoot_peak_kpa, count(*) AS steps,
                   count(DISTINCT st.session) AS sessions
            FROM {table("steps.parquet")} st
            JOIN {table("sessions.parquet")} s USING (session)
            GROUP BY ALL
            """
        )
        .fetchall()
    )
    return as_aggregates(rows)


def dask_aggregates(base: str) -> dict[Key, tuple[float, float, int, int]]:
    """The aggregates by dask.dataframe over the committed sessions of ``base``
    (partition columns read as strings, as in the other engines)."""
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pds

    from store.archive_index import committed_files

    hive = pds.partitioning(
        pa.schema([(n, pa.string()) for n in ("athlete", "date", "session", "upload")]),
        flavor="hive",
    )

    def table(name: str, columns: list[str]) -> Any:
        return dd.read_parquet(
            committed_files(base, name),
            columns=columns,
            dataset={"partitioning": hive, "partition_base_dir": base},
        )

    steps = table(
        "steps.parquet", ["athlete", "session", "pivot_kind", "pivot", "forefoot_peak_kpa"]
    )
    sessions = table("sessions.parquet", ["session", "shoe", "sock"])
    df = steps.merge(sessions, on="session")
    keys = ["athlete", "shoe", "sock", "pivot_kind"]
    out = (
        df.groupby(keys, dropna=False)
        .agg(
            mean_pivot=("pivot", "mean"),
            mean_forefoot_peak_kpa=("forefoot_peak_kpa", "mean"),
            steps=("pivot", "size"),
        )
        .compute()
    )
    sessions_per_group = (
        df[[*keys, "session"]].drop_duplicates().groupby(keys, dropna=False).size().compute()
    )
    table_ = out.reset_index().merge(
        sessions_per_group.reset_index(name="sessions"), on=keys, how="left"
    )  # pandas matches null keys with null keys
    rows = [
        (None if pd.isna(r.athlete) else r.athlete, r.shoe, r.sock, r.pivot_kind, r.mean_pivot,
         r.mean_forefoot_peak_kpa, r.steps, r.sessions)
        for r in table_.itertuples()
    ]  # fmt: skip
    return as_aggregates(rows)
