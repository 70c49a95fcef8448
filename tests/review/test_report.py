"""``plantar report`` on every real recording in ../shared/data after import, and on a
simulated session: one self-contained file, proxies labelled, gaps shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.review.conftest import REPO

SHARED = REPO.parent / "shared" / "data"
REAL_FILES = sorted(
    p for p in SHARED.glob("*/*") if p.suffix in (".txt", ".asc") and p.name != "LICENSE"
)


def _self_contained(html: str) -> None:
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    # no external references: every src is a data URI, no links to other files
    srcs = re.findall(r"src=['\"]([^'\"]+)", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "href=" not in html and "url(" not in html


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not REAL_FILES:
        pytest.skip(f"no real recordings under {SHARED}")
    import os

    home = tmp_path_factory.mktemp("real-home")
    old = os.environ.get("PLANTAR_HOME")
    os.environ["PLANTAR_HOME"] = str(home)
    from store.importers import import_file

    try:
        yield {p.name: import_file(p, catalog=False).session_id for p in REAL_FILES}
    finally:
        if old is None:
            os.environ.pop("PLANTAR_HOME", None)
        else:
            os.environ["PLANTAR_HOME"] = old


@pytest.mark.parametrize("name", [p.name for p in REAL_FILES])
def test_report_renders_for_real_file(imported: dict[str, str], name: str, tmp_path: Path) -> None:
    from plantar.cli import main

    out = tmp_path / "report.html"
    assert main(["report", imported[name], "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    _self_contained(html)
    # no real system here has shear sensors: pivot and shear maps say so
    assert "proxy: late-stance CoP dwell, not shear" in html
    assert "not measured: pressure-only insole" in html
    assert "relative index, no clinical threshold" in html
    assert "Gaps and data quality" in html
    assert re.search(r"\d+ gaps, [\d.]+ s in total", html)


def test_report_shows_gaps_and_fatigue(experiment: dict, tmp_path: Path, monkeypatch) -> None:
    from plantar.cli import main

    monkeypatch.setenv("PLANTAR_HOME", str(experiment["home"]))
    out = tmp_path / "r.html"
    assert main(["report", experiment["ids"]["A"], "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    _self_contained(html)
    assert 'class="gap"' in html  # lost frames of the simulated insoles as bands
    assert "Fatigue trend" in html
    assert "proxy: late-stance CoP dwell" not in html  # shear insole: no proxy maps
