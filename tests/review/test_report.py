"""``plantar report`` on every real recording in ../shared/data after import, and on a
simulated session: one self-contained file, proxies labelled, gaps shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.review.conftest import REPO

SHARED = REPO.parent / "shared" / "data"
REAL_FILES = sorted(
    p for p in SHARED.glob("*/*") if p.suffix in (".txt", ".asc") and p.name != "LICENSE"
)


def self_contained(html: str) -> None:
    """No script and no reference outside the file: every src is a data URI, every link
    and url() points inside the document (the SVG charts' own clip paths)."""
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    srcs = re.findall(r"src=['\"]([^'\"]+)", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    hrefs = re.findall(r"href=['\"]([^'\"]*)", html)
    assert all(h.startswith("#") for h in hrefs), hrefs[:3]
    urls = re.findall(r"url\(([^)]*)\)", html)
    assert all(u.strip("'\"").startswith("#") for u in urls), urls[:3]


@pytest.fixture(scope="module")
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A PLANTAR_HOME for the module's imports (each file imported by its own test, so a
    format the importers do not read yet fails only that file's test)."""
    if not REAL_FILES:
        pytest.skip(f"no real recordings under {SHARED}")
    import os

    home = tmp_path_factory.mktemp("real-home")
    old = os.environ.get("PLANTAR_HOME")
    os.environ["PLANTAR_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("PLANTAR_HOME", None)
        else:
            os.environ["PLANTAR_HOME"] = old


@pytest.mark.parametrize("path", REAL_FILES, ids=[p.name for p in REAL_FILES])
def test_report_renders_for_real_file(real_home: Path, path: Path, tmp_path: Path) -> None:
    from plantar.cli import main
    from store.importers import import_file

    session_id = import_file(path, catalog=False).session_id
    out = tmp_path / "report.html"
    assert main(["report", session_id, "-o", str(out), "--no-pdf"]) == 0
    html = out.read_text(encoding="utf-8")
    if path.parent.name == "fukuchi-running":  # a force plate: what a plate measures
        assert "<script" not in html and "src=" not in html  # no map image, nothing outside
        assert "force plate" in html and "free moment" in html
        assert "not measured: a force plate has no pressure map" in html
        assert "sensors per insole" not in html and "Maps: left foot" not in html
        found = html.split("<h2>What we found")[1].split("</ul>")[0]
        assert "not a proxy" in found and "estimated from the pressure" not in found
        assert "relative index, no clinical threshold" in html
        return
    self_contained(html)
    # no real system here has shear sensors: pivot and shear maps say so
    assert "proxy: late-stance CoP dwell, not shear" in html
    assert "not measured: pressure-only insole" in html
    assert "relative index, no clinical threshold" in html
    assert "Gaps and data quality" in html
    assert re.search(r"of the data lost in \d+ spans? \([\d.]+ s in total\)|no data lost", html)
    # the pivot number is named with its kind and unit; IMU only where the source has one
    assert "Pivot: late-stance CoP sweep (proxy, not the free moment) (mm)" in html
    assert "estimated from the pressure pattern" in html  # and page 1 says so in words
    has_imu = path.parent.name == "moticon"
    assert ("CoP and IMU signals" in html) == has_imu
    assert "proxy: CoP signals, not shear" in html or has_imu
    # sparse insoles (8 or 16 sensors) say their maps are interpolated; pedar (99) does not
    assert ("interpolated:" in html) == (path.parent.name in ("moticon", "physionet-gaitpdb"))
    if path.parent.name == "physionet-gaitpdb":  # no sensor under MTH2-3
        assert re.search(r"\(MTH2-3\)</td><td>not measured</td>", html)
    assert "form is breaking down" not in html
    if path.parent.name == "physionet-gaitpdb":  # a walking data set: no running advice
        assert "Walking session" in html and "running references" in html
        assert "quicker step" not in html


def test_report_shows_gaps_and_fatigue(experiment: dict, tmp_path: Path, monkeypatch) -> None:
    from plantar.cli import main

    monkeypatch.setenv("PLANTAR_HOME", str(experiment["home"]))
    out = tmp_path / "r.html"
    assert main(["report", experiment["ids"]["A"], "-o", str(out), "--no-pdf"]) == 0
    html = out.read_text(encoding="utf-8")
    self_contained(html)
    assert '<g id="gap' in html  # lost frames of the simulated insoles as bands
    assert "Trends and change points" in html
    assert "proxy: late-stance CoP dwell" not in html  # shear insole: no proxy maps
