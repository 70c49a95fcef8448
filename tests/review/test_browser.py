"""The review and compare pages in headless Debian Chromium (Playwright): the maps
render (canvas pixel checks of the map images) and the CI numbers on the compare page
match ``plantar compare --json``."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.review.conftest import REPO, compare_cli_json

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


@pytest.fixture(scope="module")
def server(experiment: dict) -> Iterator[str]:
    pytest.importorskip("playwright")
    import uvicorn
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from dashboard.review_routes import STATIC_DIR, make_review_router

    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(make_review_router())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(5)


@pytest.fixture(scope="module")
def page(server: str) -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def test_review_page_maps_render(page, server: str, experiment: dict) -> None:
    sid = experiment["ids"]["A"]
    page.goto(f"{server}/review")
    page.wait_for_selector(f"#sessions li[data-id='{sid}']", timeout=15000)
    page.click(f"#sessions li[data-id='{sid}']")
    page.wait_for_selector("#maps-right figure.map img", timeout=30000)
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    maps = page.evaluate(PIXELS)
    kinds = {m["kind"] for m in maps}
    assert {
        "peak_pressure",
        "pti",
        "peak_shear",
        "pivot",
        "hotspot_recurrence",
        "gait_line",
    } <= kinds
    assert len(maps) == 12
    for m in maps:
        assert m["w"] > 50 and m["h"] > 150
        assert m["opaque"] > 0.3 * m["w"] * m["h"]  # the foot is drawn
        if m["kind"] in ("peak_pressure", "pti"):
            assert m["coloured"] > 0.5 * m["opaque"], m  # a full colour map
        elif m["kind"] in ("peak_shear", "pivot"):
            assert m["coloured"] > 200, m  # coloured discs at the 5 shear sites
    # scales with units, charts with gap bands, replay frames arrive
    assert (
        page.locator("figure[data-kind='peak_pressure'] .ends").first.inner_text().endswith("kPa")
    )
    assert page.locator(".chart[data-chart='contact_time'] rect.gap").count() > 0
    page.wait_for_function(
        "() => window.plantarReview.replay && window.plantarReview.replay.frames > 5"
    )
    assert "Gaps and data quality" in page.inner_text("#detail")
    page.screenshot(path=str(REPO / "test-artifacts" / "review-page.png"), full_page=False)
    assert not page.errors, page.errors


def test_compare_page_matches_cli(page, server: str, experiment: dict) -> None:
    cli = compare_cli_json(experiment["home"])
    page.goto(f"{server}/compare?by=sock")
    page.wait_for_selector("section.pair table", timeout=30000)
    rows = page.evaluate(
        """() => Array.from(document.querySelectorAll('section.pair')).map(s => ({
          title: s.querySelector('h3').innerText,
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
        by_name = {m["metric"]: m for m in comp["metrics"]}
        for r in sec["cis"]:
            m = by_name[r["metric"]]
            if m["status"] != "ok":
                assert m["status"] in r["text"]
                continue
            assert [r["lo"], r["hi"]] == m["effect_ci"]
            checked += 1
    assert checked > 30
    assert page.locator("figure.map img").count() == 6  # difference maps, 2 feet x 3 pairs
    page.screenshot(path=str(REPO / "test-artifacts" / "compare-page.png"), full_page=False)
    assert not page.errors, page.errors
