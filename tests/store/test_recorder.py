"""The recorder: round trip, units, queue overflow, truncated streams, disk full, read-only."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from store import schema as sch
from store.catalog import Catalog
from store.errors import RecordingError
from store.finalise import finalise_session
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta, read_session_json
from store.streams import SessionWriter, read_stream
from store.synthetic import synthetic_frames
from tests.store.conftest import REPO

BATCH = 10


def _meta() -> SessionMeta:
    return SessionMeta(
        athlete="A1",
        shoe="Pegasus 40",
        sock="thin",
        treadmill_speed_kmh=12.5,
        treadmill_incline_pct=1.0,
        feet={"left": FootLayout("plantar-ref", 42.0), "right": FootLayout("plantar-ref", 42.0)},
    )


def _read_foot(directory: Path, foot: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = pq.read_table(directory / f"{foot}.parquet")
    n = table.num_rows
    pressure = table.column("pressure_kpa").combine_chunks().values.to_numpy().reshape(n, -1)
    shear = table.column("shear_kpa").combine_chunks().values.to_numpy().reshape(n, -1, 3)
    return table.column("seq").to_numpy(), pressure, shear


def test_round_trip_is_bit_identical_with_units(plantar_home: Path) -> None:
    rec = Recorder(_meta(), flush_interval_s=0.05).start()
    sent = {"left": [], "right": []}
    for k in range(30):
        for foot in ("left", "right"):
            frames = synthetic_frames(foot, k * BATCH, BATCH)
            sent[foot].append(frames)
            assert rec.write_frames(frames)
        rec.write_event(sch.EVENT_STEP, t_s=k * 0.05, foot="left", value=1.0, seq=k * BATCH)
    report = rec.stop()
    assert rec.error is None
    assert report.frames == 600 and report.events == 30 and report.complete
    directory = rec.directory
    assert directory is not None
    assert not list(directory.glob("*.arrows"))
    for foot in ("left", "right"):
        seq, pressure, shear = _read_foot(directory, foot)
        expected_p = np.concatenate([f.pressure_kpa for f in sent[foot]])
        expected_s = np.concatenate([f.shear_kpa for f in sent[foot]])
        assert np.array_equal(seq, np.arange(300))
        assert pressure.tobytes() == expected_p.tobytes()
        assert shear.tobytes() == expected_s.tobytes()
    schema = pq.read_schema(directory / "left.parquet")
    assert sch.field_unit(schema.field("pressure_kpa")) == "kPa"
    assert sch.field_unit(schema.field("t_device_us")) == "us"
    assert sch.field_unit(schema.field("t_s")) == "s"
    assert sch.schema_meta(schema, sch.KEY_LAYOUT) == "plantar-ref"
    assert sch.schema_meta(schema, sch.KEY_EU_SIZE) == "42.0"
    assert '"athlete": "A1"' in sch.schema_meta(schema, sch.KEY_SESSION)
    info = read_session_json(directory)
    assert info["status"] == "finalised"
    row = Catalog().get(rec.session_id)
    assert row is not None
    assert (row["frames_left"], row["frames_right"], row["status"]) == (300, 300, "finalised")
    assert row["shoe"] == "Pegasus 40" and row["treadmill_speed_kmh"] == 12.5


def test_full_queue_is_counted_recorded_and_refused(plantar_home: Path) -> None:
    rec = Recorder(_meta(), max_queued_frames=100, flush_interval_s=10.0).start()
    release = threading.Event()
    real_write = rec._write

    def slow_write(writer, items):  # type: ignore[no-untyped-def]
        release.wait(10)
        real_write(writer, items)

    rec._write = slow_write  # type: ignore[method-assign]
    assert rec.write_frames(synthetic_frames("left", 0, 60))  # wakes the writer, which blocks
    deadline = time.monotonic() + 5
    while rec.status().queued_frames and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rec.write_frames(synthetic_frames("left", 60, 60))
    assert not rec.write_frames(synthetic_frames("left", 120, 60))  # 120 > 100: refused
    assert rec.status().frames_dropped == {"left": 60}
    release.set()
    assert rec.write_frames(synthetic_frames("left", 180, 20))
    report = rec.stop()
    assert report.dropped_frames == 60
    assert report.gap_frames == 60 and report.unaccounted_gap_frames == 0
    events = pq.read_table(rec.directory / "events.parquet").to_pylist()
    overflow = [e for e in events if e["kind"] == sch.EVENT_QUEUE_OVERFLOW]
    assert len(overflow) == 1
    assert overflow[0]["value"] == 60 and overflow[0]["seq"] == 120
    assert overflow[0]["foot"] == "left"


def test_batch_larger_than_the_bound_is_taken_by_an_empty_queue(plantar_home: Path) -> None:
    """A batch larger than the bound (e.g. after a start-up stall) is taken when empty."""
    rec = Recorder(_meta(), max_queued_frames=100, flush_interval_s=10.0).start()
    assert rec.write_frames(synthetic_frames("left", 0, 250))
    report = rec.stop()
    assert report.frames == 250 and report.dropped_frames == 0


def _write_session(directory: Path, n_batches: int) -> list:
    directory.mkdir(parents=True)
    from store.session import write_json_atomic

    write_json_atomic(
        directory / "session.json", {"id": directory.name, "status": "recording", "meta": {}}
    )
    writer = SessionWriter(directory, {"id": directory.name})
    sent = []
    for k in range(n_batches):
        frames = synthetic_frames("left", k * BATCH, BATCH)
        writer.write_frames(frames, 1.0e9)
        writer.sync()
        sent.append(frames)
    writer.close(clean=False)  # no end-of-stream marker: as after a crash
    return sent


@pytest.mark.parametrize("cut_fraction", [0.0, 0.13, 0.5, 0.77, 0.999])
def test_truncated_stream_reads_back_to_its_last_whole_batch(
    plantar_home: Path, tmp_path: Path, cut_fraction: float
) -> None:
    directory = tmp_path / "sessions" / "20260101-000000-0000"
    sent = _write_session(directory, 20)
    stream = directory / "left.arrows"
    size = stream.stat().st_size
    os.truncate(stream, int(size * cut_fraction))
    whole = sum(b.num_rows for b in read_stream(stream))
    assert whole % BATCH == 0 and whole <= 200
    report = finalise_session(directory, recovered=True, catalog=False)
    assert report.status == "recovered"
    if whole == 0:
        assert report.frames == 0
        return
    seq, pressure, _ = _read_foot(directory, "left")
    assert len(seq) == whole
    expected = np.concatenate([f.pressure_kpa for f in sent])[:whole]
    assert pressure.tobytes() == expected.tobytes()
    if cut_fraction < 0.999 or whole < 200:
        assert report.lost_at_end_s > 0
    assert "recovered session" in report.message() and "lost at the end" in report.message()


DISK_FULL_CHILD = """
import resource, signal, sys, time
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from store.recorder import Recorder
from store.session import SessionMeta
from store.synthetic import synthetic_frames
rec = Recorder(SessionMeta(athlete="full"), flush_interval_s=0.02, catalog=False)
rec.start()
print(rec.session_id, flush=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
k = 0
while rec.error is None and k < 10_000:
    rec.write_frames(synthetic_frames("left", k * 10, 10, n_sensels=256))
    k += 1
    time.sleep(0.002)
rec.stop()
if rec.error is not None:
    print(f"plantar: error: {rec.error}", file=sys.stderr)
    sys.exit(rec.error.exit_code)
"""


def test_disk_full_stops_cleanly_and_keeps_what_was_written(plantar_home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-c", DISK_FULL_CHILD], capture_output=True, text=True, timeout=60, env=env
    )
    assert r.returncode == RecordingError.exit_code, r.stderr
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("plantar: error:")]
    assert len(errors) == 1, r.stderr
    assert "recording stopped: disk full at" in errors[0]
    assert "free space and start a new session" in errors[0]
    session_id = r.stdout.split()[0]
    from store.recovery import recover_interrupted

    reports = recover_interrupted(catalog=False)
    directory = plantar_home / "sessions" / session_id
    if reports:  # finalise could not run in the child: the raw stream was recovered here
        assert reports[0].session_id == session_id
    seq, pressure, _ = _read_foot(directory, "left")
    assert len(seq) > 0
    expected = np.concatenate(
        [
            synthetic_frames("left", k * 10, 10, n_sensels=256).pressure_kpa
            for k in range(len(seq) // 10 + 1)
        ]
    )[: len(seq)]
    assert pressure.tobytes() == expected.tobytes()


def test_disk_full_on_a_tiny_tmpfs(tiny_tmpfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTAR_HOME", str(tiny_tmpfs))
    rec = Recorder(SessionMeta(), flush_interval_s=0.02, catalog=False).start()
    k = 0
    while rec.error is None and k < 2000:
        rec.write_frames(synthetic_frames("left", k * 10, 10, n_sensels=256))
        k += 1
        time.sleep(0.001)
    rec.stop()
    assert rec.error is not None
    assert str(rec.error).startswith("recording stopped: disk full at")
    assert "\n" not in str(rec.error)
    assert not rec.write_frames(synthetic_frames("left", k * 10, 10, n_sensels=256))
    written = sum(b.num_rows for p in rec.directory.glob("left.*") for b in _batches(p))
    assert written > 0


def _batches(path: Path):  # type: ignore[no-untyped-def]
    if path.suffix == ".arrows":
        yield from read_stream(path)
    else:
        yield from pq.ParquetFile(path).iter_batches()


def _read_only_home(tmp_path: Path) -> Path:
    home = tmp_path / "ro"
    home.mkdir()
    if os.geteuid() != 0:
        (home / "sessions").mkdir()
        home.chmod(0o555)
        (home / "sessions").chmod(0o555)
        return home
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(home)])
    if r.returncode != 0:
        pytest.skip("running as root and cannot mount a read-only tmpfs")
    return home


def test_read_only_directory_is_one_line(tmp_path: Path) -> None:
    home = _read_only_home(tmp_path)
    try:
        child = (
            "from store.recorder import Recorder\n"
            "from store.session import SessionMeta\n"
            "from base.errors import PlantarError\n"
            "import sys\n"
            "try:\n"
            "    Recorder(SessionMeta(), catalog=False).start()\n"
            "except PlantarError as err:\n"
            "    print(f'plantar: error: {err}', file=sys.stderr); sys.exit(err.exit_code)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(home)}
        r = subprocess.run(
            [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, env=env
        )
        assert r.returncode == RecordingError.exit_code, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "cannot start recording:" in r.stderr and "not writable" in r.stderr
    finally:
        subprocess.run(["umount", "-l", str(home)], capture_output=True)
        home.chmod(0o755)
