"""The reports a physio hands to a runner, as PDFs printed by headless Chromium: the
session report's first page is in plain words (no raw variable names, no number without
a unit), and ``plantar report --compare`` states the verdict with its CI and the sessions
and steps behind it on page 1."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from review.labels import RAW_NAMES
from tests.review.conftest import metric, pair
from tests.review.test_report import self_contained

pypdf = pytest.importorskip("pypdf")

#: Units (and counted things) a number on the runner's page may carry.
UNITS = (
    "steps/min", "samples/s", "km/h", "kPa", "N·mm", "N", "mm", "min", "s", "%", "h",
    "sensors", "steps", "spans", "sessions", "session", "runs", "(min:s)",
)  # fmt: skip
NUMBER = re.compile(
    r"(?<![\w.,:])(\d[\d,]*(?:\.\d+)?(?::\d\d(?:\.\d)?)?)((?:\s*(?:-|–|to)\s*\d[\d,.]*)?)"
)


def _pdf_pages(path: Path) -> list[str]:
    reader = pypdf.PdfReader(str(path))
    # NFKC: Chromium's fonts set "ff" / "fi" as ligatures
    return [
        re.sub(r"\s+", " ", unicodedata.normalize("NFKC", p.extract_text())) for p in reader.pages
    ]


def _unitless(text: str) -> list[str]:
    """Numbers in ``text`` that are not followed by one of :data:`UNITS`."""
    bad = []
    for m in NUMBER.finditer(text):
        rest = text[m.end() :].lstrip()
        if not any(rest.startswith(u) for u in UNITS):
            bad.append(text[max(m.start() - 20, 0) : m.end() + 12])
    return bad


@pytest.fixture(scope="module")
def session_pdf(experiment: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    from plantar.cli import main
    from tests.chromium import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    out = tmp_path_factory.mktemp("runner") / "session.html"
    assert main(["report", experiment["ids"]["B"], "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8"), out.with_suffix(".pdf")


def test_session_report_first_page_is_for_the_runner(session_pdf: tuple[str, Path]) -> None:
    html, pdf = session_pdf
    self_contained(html)
    pages = _pdf_pages(pdf)
    assert len(pages) >= 2  # page 1 for the runner, the appendix after it
    first = pages[0]
    for heading in ("What was measured", "What we found", "What it means", "What to try"):
        assert heading in first
    assert "Running session of runner" in first and "sock B" in first
    raw = [w for w in RAW_NAMES if w in first]
    assert not raw, raw
    # the date line is the one place with bare numbers (day, year, clock time)
    body = re.sub(r"\w+day \d{1,2} \w+ \d{4}, \d\d:\d\d", "", first)
    assert body != first
    assert not _unitless(body), _unitless(body)
    assert "Technical appendix" in " ".join(pages[1:])


def test_unit_check_can_fail() -> None:
    assert _unitless("cadence 172 steps/min, contact 0.24 s") == []
    assert _unitless("per km 11301.9") and _unitless("-1.65e+04 N·mm")


def test_compare_report_states_verdict_with_ci(
    experiment: dict, comparison: dict, tmp_path: Path
) -> None:
    from plantar.cli import main
    from tests.chromium import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    out = tmp_path / "compare.html"
    args = ["report", "--compare", "--by", "sock", "--athlete", "runner", "-o", str(out)]
    assert main([*args, "--reference", "A"]) == 0
    html = out.read_text(encoding="utf-8")
    self_contained(html)
    first = _pdf_pages(out.with_suffix(".pdf"))[0]
    # sock B has 0.7x the pivot shear of sock A: the verdict says lower, with its CI
    ab = pair(comparison, "A", "B")
    piv = metric(ab, "pivot: free-moment peak at toe-off (shear)")
    lo, hi = sorted(-x for x in piv["pct_change_ci"])
    want = (
        f"B: twist at push-off {abs(piv['pct_change']):.0f} % lower [{lo:.0f}, {hi:.0f}] vs A, "
        f"1 session each, {ab['steps']['a']:,} and {ab['steps']['b']:,} steps"
    )
    assert want in first, first[:600]
    # A/A2 are the same sock: no clear difference
    assert "no clear difference between A2 and A" in first
    assert "Verdict" in first and "Conditions" in first


def test_report_pdf_route(experiment: dict) -> None:
    """The review page's PDF link: the same runner's page, printed on the server."""
    import io

    from fastapi.testclient import TestClient

    from dashboard.app import create_app
    from hardware.layout import load_layout
    from live.hub import LiveHub
    from tests.chromium import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    layouts = {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}
    app = create_app(
        LiveHub(layouts), None, sessions_root=experiment["root"], allowed_hosts=("testserver",)
    )
    with TestClient(app) as client:
        r = client.get(f"/api/review/{experiment['ids']['A']}/report.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        first = pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
        assert "What we found" in first and "sock A" in first
        assert client.get("/api/review/no-such-session/report.pdf").status_code == 404
