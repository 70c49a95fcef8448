"""The review and compare pages in headless Debian Chromium (Playwright): the maps render
(canvas pixel checks of the map images), every chart is on the session clock (x from 0 to
the session's duration, gap bands and markers inside the plot, the gap table and the
step replay on the same clock), the CI numbers on the compare page match
``plantar compare --json``, and a filtered comparison sent while an unfiltered one is in
flight is the only one that renders."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.review.conftest import REPO, compare_cli_json
from tests.review.served import served

# Count the coloured (value) pixels of every map image: draw it on a canvas, read pixels.
PIXELS = """() => Array.from(document.querySelectorAll('figure.map img')).map(img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let coloured = 0, opaque = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] < 200) continue;
    opaque++;
    const r = d[i], gg = d[i + 1], b = d[i + 2];
    if (Math.max(r, gg, b) - Math.min(r, gg, b) > 40) coloured++;
  }
  return {kind: img.closest('figure').dataset.kind || img.closest('figure').dataset.foot,
          w: c.width, h: c.height, coloured, opaque};
})"""

# Per chart: the x limits it states, and the boxes of its plot area, gap bands and markers.
CHART_GEOMETRY = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const box = (e) => {
    const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; };
  const plot = f.querySelector('[id^="plot-area"]');
  return {key: f.dataset.chart, x0: Number(f.dataset.x0), x1: Number(f.dataset.x1),
          plot: plot ? box(plot) : null,
          gaps: Array.from(f.querySelectorAll('g[id^="gap"] path')).map(box),
          markers: Array.from(f.querySelectorAll('g[id^="marker"] path')).map(box)};
})"""


class ComparisonGate:
    """Holds unfiltered ``/api/compare`` requests while ``hold`` is set (test-only hook of
    :func:`dashboard.review_routes.make_review_router`)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = 0

    def __call__(self, query: dict) -> None:
        if self.hold.is_set() and not query.get("athlete"):
            self.entered.set()
            self.release.wait(120)


@pytest.fixture(scope="module")
def gate() -> ComparisonGate:
    return ComparisonGate()


@pytest.fixture(scope="module")
def server(experiment: dict, gate: ComparisonGate) -> Iterator[str]:
    pytest.importorskip("playwright")
    from fastapi import FastAPI, Request
    from fastapi.staticfiles import StaticFiles

    from dashboard.review_routes import STATIC_DIR, make_review_router

    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(make_review_router(compare_gate=gate))

    @app.middleware("http")
    async def count(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if request.url.path == "/api/compare":
            gate.finished += 1
        return response

    with served(app) as url:
        yield url
        gate.release.set()


def _open_session(page, server: str, sid: str) -> None:
    page.goto(f"{server}/review")
    page.wait_for_selector(f"#sessions li[data-id='{sid}']", timeout=60000)
    page.click(f"#sessions li[data-id='{sid}']")
    page.wait_for_selector("#maps-right figure.map img", timeout=120000)
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")


def test_review_page_maps_render(page, server: str, experiment: dict) -> None:
    sid = experiment["ids"]["A"]
    _open_session(page, server, sid)
    maps = page.evaluate(PIXELS)
    kinds = {m["kind"] for m in maps}
    assert {"peak_pressure", "pti", "peak_shear", "pivot", "hotspot_recurrence", "gait_line"} <= (
        kinds
    )
    assert len(maps) == 12
    for m in maps:
        assert m["w"] > 50 and m["h"] > 150
        if m["kind"] in ("peak_pressure", "pti"):
            assert m["coloured"] > 0.12 * m["opaque"], m  # a full colour map over the foot
        elif m["kind"] in ("peak_shear", "pivot"):
            assert m["coloured"] > 200, m  # coloured discs at the 5 shear sites
    # the live page's fixed scale, and the switch to auto
    fixed = page.locator("figure[data-kind='peak_pressure']").first
    assert float(fixed.get_attribute("data-scale-max")) == 400.0
    assert fixed.locator(".ends").inner_text().endswith("kPa")
    page.select_option("#scale", "auto")
    page.wait_for_function(
        "() => document.querySelector(\"figure[data-kind='peak_pressure']\")"
        " && document.querySelector(\"figure[data-kind='peak_pressure']\").dataset.scaleMax"
        " !== '400'",
        timeout=60000,
    )
    auto = float(page.locator("figure[data-kind='peak_pressure']").first.get_attribute(
        "data-scale-max"
    ))  # fmt: skip
    assert 100 < auto < 400
    page.select_option("#scale", "fixed")
    page.wait_for_function(
        "() => document.querySelector(\"figure[data-kind='peak_pressure']\")"
        " && document.querySelector(\"figure[data-kind='peak_pressure']\").dataset.scaleMax"
        " === '400'",
        timeout=60000,
    )
    page.wait_for_function(
        "() => window.plantarReview.replay && window.plantarReview.replay.frames > 5"
        " && window.plantarReview.replay.scale_kpa === 400"
    )
    assert "Gaps and data quality" in page.inner_text("#detail")
    page.screenshot(path=str(REPO / "test-artifacts" / "review-page.png"), full_page=False)
    assert not page.errors, page.errors


def test_review_page_one_clock(page, server: str, experiment: dict) -> None:
    sid = experiment["ids"]["A"]
    info = json.loads((experiment["root"] / sid / "session.json").read_text())
    duration = info["summary"]["duration_s"]
    _open_session(page, server, sid)
    page.wait_for_selector("figure.chart svg")
    charts = page.evaluate(CHART_GEOMETRY)
    assert len(charts) == 8  # 4 per-step series, symmetry, 3 trends
    for c in charts:
        assert c["x0"] == 0.0, c["key"]
        assert abs(c["x1"] - duration) <= 0.01 * duration, (c["key"], c["x1"], duration)
        left, right, top, bottom = c["plot"]
        for x0, x1, y0, y1 in c["gaps"] + c["markers"]:
            assert left - 1 <= x0 and x1 <= right + 1 and top - 1 <= y0 and y1 <= bottom + 1, c
    series = next(c for c in charts if c["key"] == "contact_time")
    assert series["gaps"], "the simulated insoles lose frames: gap bands expected"
    # the gap table and the chart bands read on one clock: the first span's start is
    # where the chart draws the first band
    rows = page.evaluate(
        "() => Array.from(document.querySelectorAll('table.spans tr[data-t0]'))"
        ".map(r => [Number(r.dataset.t0), Number(r.dataset.t1), r.cells[0].innerText])"
    )
    assert rows and all(0 <= t0 <= t1 <= duration for t0, t1, _ in rows)
    left, right = series["plot"][:2]
    first_band = min(g[0] for g in series["gaps"])
    assert abs(left + rows[0][0] / duration * (right - left) - first_band) < 2.0
    # the replay shows a step's own frames on the same clock as the step list
    page.wait_for_function("() => window.plantarReview.replay")
    rp = page.evaluate("() => window.plantarReview.replay")
    step = next(s for s in page.evaluate("() => window.plantarReview.loaded.steps")
                if s["foot"] == rp["foot"])  # fmt: skip
    assert abs(rp["t0_s"] - step["heel_strike_s"]) < 0.02
    assert 0 <= rp["t0_s"] < rp["t1_s"] <= duration
    label = page.inner_text("#rp-label")
    assert f"{step['heel_strike_s']:.2f} s" in label or ":" in label


def test_time_range_applies_to_the_page(page, server: str, experiment: dict) -> None:
    sid = experiment["ids"]["A"]
    _open_session(page, server, sid)
    whole = page.evaluate("() => window.plantarReview.loaded.summary.steps")
    page.fill("#range input[name=from]", "0:10")
    page.fill("#range input[name=to]", "0:40")
    page.click("#range button[type=submit]")
    page.wait_for_selector("#range-note", timeout=120000)
    d = page.evaluate("() => window.plantarReview.loaded")
    assert d["range"] == {"t0_s": 10.0, "t1_s": 40.0, "steps": d["summary"]["steps"]}
    assert 0 < d["summary"]["steps"] < whole
    assert "10 s – 40 s" in page.inner_text("#range-note")
    assert page.locator("figure.curves svg").count() == 1
    charts = page.evaluate(CHART_GEOMETRY)
    assert all(c["x0"] == 0.0 for c in charts)  # still the session clock
    page.click("#range-clear")
    page.wait_for_function("() => !window.plantarReview.loaded.range", timeout=120000)
    assert not page.errors, page.errors


def test_tags_fixed_on_the_review_page(page, server: str, experiment: dict) -> None:
    sid = experiment["ids"]["A2"]
    _open_session(page, server, sid)
    page.fill("#tags input[name=note]", "left insole slipped at 5 min")
    page.click("#tags button")
    page.wait_for_function("() => document.querySelector('#tag-status').innerText === 'saved'")
    info = json.loads((experiment["root"] / sid / "session.json").read_text())
    assert info["meta"]["notes"] == "left insole slipped at 5 min"
    assert info["meta"]["sock"] == "A2"  # the others kept


def test_compare_page_matches_cli(page, server: str, experiment: dict) -> None:
    cli = compare_cli_json(experiment["home"])
    page.goto(f"{server}/compare?by=sock")
    page.wait_for_selector("section.pair table", timeout=120000)
    rows = page.evaluate(
        """() => Array.from(document.querySelectorAll('section.pair')).map(s => ({
          title: s.querySelector('h3').innerText,
          verdict: s.querySelector('.verdict').innerText,
          cis: Array.from(s.querySelectorAll('tr[data-metric]')).map(tr => {
            const ci = tr.querySelector('td.ci');
            return {metric: tr.dataset.metric, lo: ci ? Number(ci.dataset.lo) : null,
                    hi: ci ? Number(ci.dataset.hi) : null, text: ci ? ci.innerText : tr.innerText};
          })}))"""
    )
    assert len(rows) == len(cli["comparisons"]) == 3
    checked = 0
    for sec, comp in zip(rows, cli["comparisons"], strict=True):
        assert sec["title"] == f"A = {comp['a']} vs B = {comp['b']}"
        assert comp["b"] in sec["verdict"] and "steps" in sec["verdict"]
        by_name = {m["metric"]: m for m in comp["metrics"]}
        for r in sec["cis"]:
            m = by_name[r["metric"]]
            if m["status"] != "ok":
                assert m["status"] in r["text"]
                continue
            assert [r["lo"], r["hi"]] == m["effect_ci"]
            checked += 1
    assert checked > 30
    assert page.locator("figure.map[data-kind=diff] img").count() == 6  # 2 feet x 3 pairs
    # Mean and Max maps of both conditions beside each difference map
    assert page.locator("figure.map[data-kind=mean] img").count() == 12
    assert page.locator("figure.map[data-kind=max] img").count() == 12
    # box-plot labels are drawn whole (wrapped, never cut)
    assert page.locator("figure.box svg text", has_text="A2").count() > 0
    page.screenshot(path=str(REPO / "test-artifacts" / "compare-page.png"), full_page=False)
    assert not page.errors, page.errors


def test_compare_page_reference_condition(page, server: str) -> None:
    page.goto(f"{server}/compare?by=sock&reference=B")
    page.wait_for_selector("section.pair .verdict", timeout=120000)
    titles = page.locator("section.pair h3").all_inner_texts()
    assert "A = B vs B = A" in titles and "A = B vs B = A2" in titles


def test_only_the_latest_comparison_renders(page, server: str, gate: ComparisonGate) -> None:
    aborted: list[str] = []
    page.on("requestfailed", lambda r: aborted.append(r.url))
    before = gate.finished
    gate.hold.set()
    try:
        page.goto(f"{server}/compare?by=sock")  # runs unfiltered on load: held in the gate
        assert gate.entered.wait(60), "the unfiltered comparison never reached the server"
        page.fill("#opts input[name=athlete]", "nobody")
        page.click("#opts button[type=submit]")
        page.wait_for_selector("#result >> text=Nothing to compare", timeout=60000)
    finally:
        gate.hold.clear()
        gate.release.set()
    deadline = time.monotonic() + 120
    while gate.finished < before + 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert gate.finished >= before + 2, "the held comparison did not finish"
    assert any("/api/compare" in u and "athlete" not in u for u in aborted), aborted
    page.evaluate("() => fetch('/api/review/sessions').then(r => r.json())")  # one round trip
    assert "Nothing to compare" in page.inner_text("#result")
    assert "athlete=nobody" in page.evaluate("() => window.plantarCompare.query")
    assert page.locator("section.pair").count() == 0
    assert not page.errors, page.errors
