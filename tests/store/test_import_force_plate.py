"""Treadmill force-plate imports (Fukuchi 2017 text files and C3D) on the real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from store.importers import read_recording
from store.importers.force_plate import MIN_ALTERNATION, stance_windows
from tests.store.conftest import run_cli, shared_file

TEXT_FILES = [f"fukuchi-running/RBDS00{r}runT{s}forces.txt" for r in (2, 3) for s in (25, 35, 45)]


def _force(rec, foot: str, column: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    group = next(c for c in rec.channels if c.group == "force" and c.foot == foot)
    return np.asarray(group.values[column], dtype=np.float64)


@pytest.mark.parametrize("name", TEXT_FILES)
def test_text_file_splits_into_alternating_feet(name: str) -> None:
    path = shared_file(name)
    rec = read_recording(path)
    assert rec.fmt == "fukuchi" and set(rec.feet) == {"left", "right"}
    raw = np.loadtxt(path, skiprows=1)
    split = rec.extra["foot_split"]
    assert split["alternation_agreement"] >= MIN_ALTERNATION
    assert abs(split["stances"]["left"] - split["stances"]["right"]) <= 1
    left, right = _force(rec, "left", "total_force_n"), _force(rec, "right", "total_force_n")
    # Every sample of the plate's force belongs to exactly one foot.
    np.testing.assert_allclose(left + right, raw[:, 2], atol=1e-2)
    assert np.all((left == 0) | (right == 0))
    # Right-foot stances sit to the right (larger COPz) of the left-foot ones.
    ml_l = np.nanmedian(_force(rec, "left", "cop_ml_mm"))
    ml_r = np.nanmedian(_force(rec, "right", "cop_ml_mm"))
    assert ml_r > ml_l
    # The free moment is kept per foot, in N·mm, where the foot loads the plate.
    fm = _force(rec, "right", "free_moment_nmm")
    on = right >= 20.0
    np.testing.assert_allclose(fm[on], raw[on, 7], rtol=1e-6, atol=0.5)
    assert np.all(np.isnan(fm[right < 20.0]))


def test_c3d_and_text_of_the_same_trial_agree() -> None:
    text = read_recording(shared_file("fukuchi-running/RBDS002runT35forces.txt"))
    c3d = read_recording(shared_file("fukuchi-running/RBDS002runT35.c3d"))
    assert c3d.fmt == "c3d"
    for foot in ("left", "right"):
        ft, fc = _force(text, foot, "total_force_n"), _force(c3d, foot, "total_force_n")
        assert len(ft) == len(fc)
        loaded = (ft > 200.0) & (fc > 200.0)
        assert loaded.sum() > 1000, f"{foot}: the two files put stances on different feet"
        assert np.median(np.abs(ft[loaded] - fc[loaded])) < 15.0  # N (offset removal)
        for column, tol in (("cop_ml_mm", 3.0), ("cop_ap_mm", 5.0)):
            a, b = _force(text, foot, column)[loaded], _force(c3d, foot, column)[loaded]
            assert np.median(np.abs(a - b)) < tol, column
        mt, mc = _force(text, foot, "free_moment_nmm"), _force(c3d, foot, "free_moment_nmm")
        both = loaded & np.isfinite(mt) & np.isfinite(mc)
        assert np.corrcoef(mt[both], mc[both])[0, 1] > 0.99
        assert np.median(np.abs(mt[both] - mc[both])) < 3000.0  # N·mm


def test_stance_windows_need_a_minimum_duration() -> None:
    t = np.arange(3000) / 300.0
    force = np.zeros_like(t)
    for k in range(8):  # 8 stances of 0.25 s, one single-sample spike
        force[100 + 300 * k : 175 + 300 * k] = 1500.0
    force[2950] = 1500.0
    windows, cores = stance_windows(t, force)
    assert len(cores) == 8
    assert np.all(np.diff(windows.ravel()) >= 0)


def test_walking_or_one_sided_plate_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one_side_forces.txt"
    rows = ["Time\tFx\tFy\tFz\tCOPx\tCOPy\tCOPz\tTy"]
    rng = np.random.default_rng(1)
    for i in range(3000):
        fy = 1500.0 if (i % 300) < 75 else 0.0
        rows.append(f"{i + 1}\t0\t{fy}\t0\t2000\t0\t{1000 + rng.normal(0, 30):.1f}\t0")
    path.write_text("\n".join(rows) + "\n")
    proc = run_cli("import", str(path), env={"PLANTAR_HOME": str(tmp_path / "home")})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error:"), proc.stderr
    assert "alternate" in lines[0]


def test_import_command_stores_a_force_plate_session(tmp_path: Path) -> None:
    src = shared_file("fukuchi-running/RBDS002runT45forces.txt")
    proc = run_cli("import", str(src), "--json", env={"PLANTAR_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == "fukuchi"
    assert {"force-left.parquet", "force-right.parquet"} <= set(doc["files"])
    meta = json.loads((Path(doc["path"]) / "session.json").read_text())["meta"]
    assert meta["feet"]["left"]["layout_id"] == "force-plate"


def test_broken_c3d_files_are_one_line_errors(tmp_path: Path) -> None:
    whole = shared_file("fukuchi-running/RBDS002runT35.c3d").read_bytes()
    cases = {"garbage.c3d": b"\x02\x50" + b"\x00" * 100, "cut.c3d": whole[: len(whole) // 3]}
    env = {"PLANTAR_HOME": str(tmp_path / "home")}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        proc = run_cli("import", str(path), env=env)
        assert proc.returncode != 0, name
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("plantar: error:"), (name, proc.stderr)
    sessions = tmp_path / "home" / "sessions"
    assert not sessions.exists() or not [p for p in sessions.iterdir() if p.is_dir()]
