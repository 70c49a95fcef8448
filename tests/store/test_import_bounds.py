"""NaN, non-monotonic and absurd times and values are refused at import in one line
(issue 16, item 2): nothing is stored, no ``t_device_us = -2^63``, no ``inf`` kPa."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from store.importers import read_recording
from tests.store.conftest import run_cli, shared_file


def _gaitpdb(path: Path, times: list[str], force: str = "10") -> Path:
    rows = [f"{t}\t" + "\t".join([force] + ["10"] * 17) for t in times]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


GOOD_TIMES = [f"{0.01 * i:.4f}" for i in range(50)]

CASES = {
    "nan time": ([*GOOD_TIMES[:10], "nan", *GOOD_TIMES[11:]], "10", "time of sample 11"),
    "time goes back": (
        [*GOOD_TIMES[:20], "0.0500", *GOOD_TIMES[21:]],
        "10",
        "time does not increase at sample 21",
    ),
    "1e-7 s steps": ([f"{i * 1e-7:.7e}" for i in range(50)], "10", "faster than any insole"),
    "absurd time": ([*GOOD_TIMES[:5], "1e300", *GOOD_TIMES[6:]], "10", "time of sample 6"),
    "inf force": (GOOD_TIMES, "1e400", "pressure inf kPa at sample 1, sensel 1"),
    "absurd force": (GOOD_TIMES, "1e9", "beyond"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_times_and_values_are_refused_in_one_line(
    case: str, plantar_home: Path, tmp_path: Path
) -> None:
    times, force, expected = CASES[case]
    path = _gaitpdb(tmp_path / "walk.txt", times, force)
    out = run_cli("import", str(path), env={"PLANTAR_HOME": str(plantar_home)})
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error: "), out.stderr
    assert expected in lines[0]
    sessions = plantar_home / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


def test_a_clean_file_imports_and_counts_its_missing_pressures(tmp_path: Path) -> None:
    path = _gaitpdb(tmp_path / "walk.txt", GOOD_TIMES)
    rec = read_recording(path)
    assert np.all(np.diff(rec.feet["left"].t_s) > 0)
    assert "missing_pressure_samples" not in rec.extra
    moticon = read_recording(shared_file("moticon/230927_102114.txt"))
    nan_count = sum(int(np.isnan(f.pressure_kpa).sum()) for f in moticon.feet.values())
    assert moticon.extra.get("missing_pressure_samples", 0) == nan_count
