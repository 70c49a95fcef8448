"""Imports stream in bounded memory (issue 16, item 5): runs of rows parsed in blocks give
the whole-file reader's result; 200 MB of rows import under 300 MB peak RSS; /dev/zero and
200 MB of junk end in one line, quickly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from store.importers import read_recording
from store.importers.streaming import iter_recording
from tests.store.conftest import run_cli, run_cli_peak_rss, shared_file

RSS_LIMIT_MB = 300
BIG_BYTES = 200 * 1000 * 1000


@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        ("moticon/230927_102114.txt", "moticon"),
        ("moticon/walk_with_events.txt", "moticon"),
        ("pedar/pressure_example.asc", "pedar"),
        ("physionet-gaitpdb/GaCo01_01.txt", "gaitpdb"),
    ],
)
def test_blocks_give_the_whole_file_result(relative: str, fmt: str) -> None:
    path = shared_file(relative)
    whole = read_recording(path, fmt)
    runs = list(iter_recording(path, fmt, chunk_bytes=64 * 1024))
    assert len(runs) > 1
    for foot, frames in whole.feet.items():
        for field in ("seq", "t_s", "t_device_us", "pressure_kpa"):
            joined = np.concatenate([getattr(r.feet[foot], field) for r in runs])
            np.testing.assert_array_equal(joined, getattr(frames, field), err_msg=field)
    assert [e for r in runs for e in r.events] == whole.events
    assert len(whole.channels) == len(runs[0].channels)
    for k, ch in enumerate(whole.channels):
        np.testing.assert_array_equal(np.concatenate([r.channels[k].seq for r in runs]), ch.seq)
        for name, values in ch.values.items():
            joined = np.concatenate([r.channels[k].values[name] for r in runs])
            np.testing.assert_array_equal(joined, values)
    assert runs[0].extra.keys() - {"missing_pressure_samples"} == (
        whole.extra.keys() - {"missing_pressure_samples"}
    )


def test_time_going_back_across_blocks_is_one_line(tmp_path: Path) -> None:
    rows = [
        f"{0.01 * (i if i < 3000 else i - 2000):.4f}\t" + "\t".join(["1"] * 18) for i in range(4000)
    ]
    path = tmp_path / "back.txt"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(Exception, match="time does not increase") as err:
        for _ in iter_recording(path, "gaitpdb", chunk_bytes=16 * 1024):
            pass
    assert "\n" not in str(err.value)


def _big_gaitpdb(path: Path, n_bytes: int) -> int:
    """A gaitpdb-shaped file of about ``n_bytes``; returns its rows."""
    rng = np.random.default_rng(7)
    tail = ["\t".join(f"{v:.2f}" for v in rng.uniform(0, 200, 18)) for _ in range(997)]
    rows = 0
    with open(path, "w", encoding="ascii") as f:
        while f.tell() < n_bytes:
            block = [f"{0.01 * (rows + i):.2f}\t{tail[(rows + i) % 997]}\n" for i in range(50_000)]
            f.write("".join(block))
            rows += len(block)
    return rows


@pytest.mark.slow
def test_200_mb_of_rows_import_under_300_mb(tmp_path: Path) -> None:
    src = tmp_path / "big.txt"
    rows = _big_gaitpdb(src, BIG_BYTES)
    home = tmp_path / "home"
    out, rss_mb = run_cli_peak_rss(
        "import", str(src), "--format", "gaitpdb", "--json", env={"PLANTAR_HOME": str(home)}
    )
    assert out.returncode == 0, out.stderr
    assert rss_mb < RSS_LIMIT_MB, f"peak RSS {rss_mb:.0f} MB for {src.stat().st_size / 1e6:.0f} MB"
    doc = json.loads(out.stdout)
    assert doc["frames_per_foot"] == {"left": rows, "right": rows}


def test_dev_zero_is_one_line_quickly() -> None:
    for extra in ([], ["--format", "gaitpdb"]):
        t0 = time.monotonic()
        out = run_cli("import", "/dev/zero", *extra, timeout=60)
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1, out.stderr
        assert lines[0].startswith("plantar: error: ") and "not a regular file" in lines[0]
        assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_200_mb_of_junk_is_one_line_quickly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    rng = np.random.default_rng(1)
    with open(junk, "wb") as f:
        for _ in range(200):
            f.write(rng.integers(0, 256, 1_000_000, dtype=np.uint8).tobytes())
    home = tmp_path / "home"
    for extra in ([], ["--format", "moticon"], ["--format", "gaitpdb"], ["--format", "pedar"]):
        out, rss_mb = run_cli_peak_rss("import", str(junk), *extra, env={"PLANTAR_HOME": str(home)})
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1, (extra, out.stderr)
        assert lines[0].startswith("plantar: error: ")
        assert rss_mb < RSS_LIMIT_MB, (extra, rss_mb)
    assert not any((home / "sessions").iterdir()) if (home / "sessions").exists() else True
