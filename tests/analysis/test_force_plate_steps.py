"""``plantar analyze`` on treadmill force plates: the step pivot is the measured free
moment (kind ``force_plate``), checked against the file's own Ty column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.force_plate_steps import PIVOT_KIND, PIVOT_UNIT, analyze_plate, load_plate
from analysis.pivot import FREE_MOMENT_SMOOTH_S
from analysis.reference import free_moment_peak_ref
from tests.store.conftest import run_cli, shared_file

TRIAL = "fukuchi-running/RBDS002runT35forces.txt"


def test_pivot_is_the_measured_free_moment() -> None:
    path = shared_file(TRIAL)
    plate = load_plate(str(path))
    assert plate is not None and set(plate) == {"left", "right"}
    doc = analyze_plate(plate)
    steps = doc["steps"]
    assert len(steps) >= 75  # 77 complete stances in the 30 s file
    raw = np.loadtxt(path, skiprows=1)
    t, fy, ty = (raw[:, 0] - 1) / 300.0, raw[:, 2], raw[:, 7]
    ratios = []
    for s in steps:
        piv = s["pivot"]
        assert piv["kind"] == PIVOT_KIND and piv["unit"] == PIVOT_UNIT
        assert "not a proxy" in piv["label"]
        hs, to = s["heel_strike_s"], s["toe_off_s"]
        assert 0.15 < s["contact_time_s"] < 0.4
        i0, i1 = np.searchsorted(t, hs), np.searchsorted(t, to, side="right")
        i_late = np.searchsorted(t, hs + 0.5 * (to - hs))
        # Plain NumPy reference of the same peak on the file's own Ty column.
        force = np.where(fy >= 20.0, fy, np.nan)
        peak, _ = free_moment_peak_ref(
            t, force, np.nan_to_num(ty * (fy >= 20.0)), i0, i_late, i1, FREE_MOMENT_SMOOTH_S
        )
        assert piv["free_moment_peak_nmm"] == pytest.approx(peak, rel=1e-3, abs=0.5)
        ratios.append(piv["free_moment_peak_nmm"] / np.max(np.abs(ty[i_late:i1])))
    # A smoothed peak: below the raw maximum (noise spikes), of the same order.
    assert np.all(np.array(ratios) <= 1.0 + 1e-6) and np.median(ratios) > 0.4
    assert doc["summary"]["pivot"]["kind"] == PIVOT_KIND


def test_insole_recordings_are_not_plates() -> None:
    assert load_plate(str(shared_file("physionet-gaitpdb/SiCo01_01.txt"))) is None


def test_analyze_an_imported_force_plate_session(tmp_path: Path) -> None:
    env = {"PLANTAR_HOME": str(tmp_path)}
    imported = run_cli("import", str(shared_file(TRIAL)), "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    session = json.loads(imported.stdout)["session"]
    out = run_cli("analyze", session, "--json", env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["steps"]) >= 75
    assert {s["pivot"]["kind"] for s in doc["steps"]} == {PIVOT_KIND}
    assert doc["summary"]["steps_per_foot"]["left"] >= 37
    # by its folder too, and into the archive's per-step table with its kind and unit
    by_path = run_cli("analyze", str(tmp_path / "sessions" / session), "--json", env=env)
    assert by_path.returncode == 0, by_path.stderr
    assert json.loads(by_path.stdout)["summary"] == doc["summary"]
    archived = run_cli("archive", "--to", str(tmp_path / "archive"), "--json", env=env)
    assert archived.returncode == 0, archived.stderr
    (steps_file,) = (tmp_path / "archive").rglob("steps.parquet")
    rows = pq.read_table(steps_file).to_pylist()
    assert len(rows) == len(doc["steps"])
    assert {(r["pivot_kind"], r["pivot_unit"]) for r in rows} == {(PIVOT_KIND, PIVOT_UNIT)}
    assert [r["pivot"] for r in rows] == pytest.approx(
        [s["pivot"]["value"] for s in doc["steps"]], rel=1e-6
    )
