"""Two Pis archive to one S3 bucket at once, one killed mid-upload; DuckDB, Spark, NumPy.

The bucket is on moto's standalone S3 server (a subprocess on a free port, HTTP on
localhost, ``s3_server.py``). Each Pi is a data directory of 20 recorded sessions and
``plantar archive --to s3://lab/plantar`` in its own process, both started together; the
second is SIGKILLed once it has written 14 data objects (in the middle of its fourth
session) and run again. The bucket must then hold exactly the 40 sessions, each whole
and nothing else; a third run of both sends nothing (no write request reaches the
server). DuckDB and Spark (local mode, the README's query) read the committed sessions
of a copy of the bucket and must agree with NumPy over the stores on every aggregate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

from store.archive_fs import S3Settings, open_target
from store.archive_index import MANIFEST_DIR, read_manifests
from tests.store.archive_helpers import (
    as_aggregates,
    assert_same_aggregates,
    dask_aggregates,
    duckdb_aggregates,
    numpy_aggregates,
    record_sessions,
)
from tests.store.conftest import REPO
from tests.store.s3_server import S3Server, moto_server

URI = "s3://lab/plantar"
N_PER_PI = 20
KILL_AFTER_OBJECTS = 14  # three whole sessions (4 data objects each) and half a fourth
README = REPO / "README.md"
SPARK_MARKER = "<!-- spark-archive-query: run by tests/store/test_archive_s3.py -->"


def _archive(server: S3Server, home: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **server.env,
        "PYTHONPATH": str(REPO),
        "PLANTAR_HOME": str(home),
        "PLANTAR_CONFIG": str(home / "plantar.toml"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "plantar.cli", "archive", "--to", URI, "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc: subprocess.Popen[str], timeout_s: float = 600) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def _objects(fs: pafs.FileSystem) -> dict[str, int]:
    infos = fs.get_file_info(pafs.FileSelector("lab/plantar", recursive=True, allow_not_found=True))
    return {i.path: i.size for i in infos if i.type == pafs.FileType.File}


_SESSION = re.compile(r"/session=([^/]+)/")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two Pis' stores, the bucket after the kill-and-rerun scenario and a local copy."""
    base = tmp_path_factory.mktemp("lab")
    with moto_server(base) as server:
        settings = S3Settings(server.endpoint_url, "us-east-1", "testing", "testing")
        fs = server.filesystem()
        fs.create_dir("lab")
        homes = [base / f"pi{pi}" for pi in (1, 2)]
        ids = []
        for pi, home in enumerate(homes, start=1):
            ids.append(record_sessions(home / "sessions", N_PER_PI, pi=pi))
            (home / "plantar.toml").write_text("")
        first = _archive(server, homes[0])
        second = _archive(server, homes[1])
        try:
            yield _scenario(server, settings, fs, homes, ids, first, second)
        finally:
            for proc in (first, second):
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()


def _scenario(
    server: S3Server,
    settings: S3Settings,
    fs: pafs.FileSystem,
    homes: list[Path],
    ids: list[list[str]],
    first: subprocess.Popen[str],
    second: subprocess.Popen[str],
) -> dict[str, Any]:
    """Kill the second Pi half-way, rerun it, run both again, copy the bucket."""
    deadline = time.monotonic() + 600
    while True:  # kill the second Pi on what the bucket shows, not after a sleep
        written = [p for p in _objects(fs) if (m := _SESSION.search(p)) and m[1] in ids[1]]
        if len(written) >= KILL_AFTER_OBJECTS:
            second.send_signal(signal.SIGKILL)
            break
        assert second.poll() is None, "the second Pi finished before it could be killed"
        assert time.monotonic() < deadline, "the second Pi wrote nothing in 600 s"
        time.sleep(0.05)
    second.communicate(timeout=60)
    killed_rc = second.returncode
    committed = {m["session"] for m in read_manifests(open_target(URI, settings))}
    committed_at_kill = len(committed & set(ids[1]))
    first_report = _finish(first)
    rerun_report = _finish(_archive(server, homes[1]))
    writes_before = server.writes()
    again = [_finish(_archive(server, home)) for home in homes]
    writes_after = server.writes()
    mirror = homes[0].parent / "mirror"
    pafs.copy_files("lab/plantar", str(mirror), source_filesystem=fs)
    return {
        "server": server,
        "settings": settings,
        "fs": fs,
        "ids": ids,
        "homes": homes,
        "killed_rc": killed_rc,
        "committed_at_kill": committed_at_kill,
        "first": first_report,
        "rerun": rerun_report,
        "again": again,
        "writes": (writes_before, writes_after),
        "mirror": mirror,
    }


def test_two_pis_one_killed_then_exactly_40_whole_sessions(lab: dict[str, Any]) -> None:
    ids1, ids2 = lab["ids"]
    assert lab["killed_rc"] == -signal.SIGKILL
    assert 3 <= lab["committed_at_kill"] < N_PER_PI  # killed half-way
    assert sorted(lab["first"]["archived"]) == sorted(ids1)
    # the rerun sends only what the killed run had not committed
    rerun = lab["rerun"]
    assert sorted(rerun["archived"] + rerun["skipped"]) == sorted(ids2)
    assert 0 < len(rerun["archived"]) < N_PER_PI and len(rerun["skipped"]) >= 3

    target = open_target(URI, lab["settings"])
    manifests = read_manifests(target)
    assert sorted(m["session"] for m in manifests) == sorted(ids1 + ids2)
    # every object is a manifest or a file its manifest names, with the size it names
    expected = {target.path(MANIFEST_DIR, f"{m['session']}.json") for m in manifests}
    objects = _objects(lab["fs"])
    for m in manifests:
        for name, size in m["files"].items():
            path = target.path(m["path"], name)
            expected.add(path)
            assert objects.get(path) == size, path
        assert set(m["files"]) >= {"left.parquet", "right.parquet", "steps.parquet"}
    assert set(objects) == expected  # the killed upload was cleaned up

    # archiving unchanged stores again: no write request reaches the server
    for report in lab["again"]:
        assert report["archived"] == [] and len(report["skipped"]) == N_PER_PI
        assert report["bytes_sent"] == 0
    before, after = lab["writes"]
    assert before > 40 * 5 and after == before


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session for the module (one core, no UI, few partitions)."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime: ./scripts/test installs default-jre-headless")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("plantar-archive-test")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        # list the 80 leaf directories on the driver, not in two 40-task Spark jobs
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def readme_spark_query() -> str:
    """The README's Spark example (the python block after the marker)."""
    text = README.read_text(encoding="utf-8")
    after = text.split(SPARK_MARKER, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def want(lab: dict[str, Any]) -> dict[Any, Any]:
    """The aggregates by NumPy over both Pis' stores (never read from the archive)."""
    stores = [home / "sessions" / s for home, ids in zip(lab["homes"], lab["ids"], strict=True)
              for s in ids]  # fmt: skip
    aggregates = numpy_aggregates(stores)
    assert sum(v[3] for v in aggregates.values()) == 2 * N_PER_PI
    return aggregates


def test_duckdb_reads_the_40_sessions_and_agrees_with_numpy(
    lab: dict[str, Any], want: dict[Any, Any]
) -> None:
    got = duckdb_aggregates(str(lab["mirror"]))
    assert_same_aggregates(got, want)
    assert sum(v[3] for v in got.values()) == 2 * N_PER_PI


def test_spark_runs_the_readme_query_and_agrees_with_numpy(
    lab: dict[str, Any], want: dict[Any, Any], spark: Any
) -> None:
    namespace: dict[str, Any] = {}
    exec(readme_spark_query(), namespace)
    rows = namespace["mean_pivot_and_forefoot_peak"](spark, str(lab["mirror"])).collect()
    got = as_aggregates([tuple(r) for r in rows])
    assert_same_aggregates(got, want)
    assert sum(v[3] for v in got.values()) == 2 * N_PER_PI


def test_dask_reads_the_40_sessions_and_agrees_with_numpy(
    lab: dict[str, Any], want: dict[Any, Any]
) -> None:
    got = dask_aggregates(str(lab["mirror"]))
    assert_same_aggregates(got, want)
    assert sum(v[3] for v in got.values()) == 2 * N_PER_PI
