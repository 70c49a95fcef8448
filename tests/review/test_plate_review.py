"""Review and compare of force-plate sessions (issue 15: labs with instrumented
treadmills get Plantar's review and compare on their own data): two Fukuchi treadmill
runs imported with ``plantar import`` and tagged as two shoes, beside one simulated insole
session, in a temporary store; the API in-process, the page in headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.review.served import served
from tests.review.simdata import record_sim_session
from tests.store.conftest import SHARED_DATA, run_cli

RUNS = {"racer": "RBDS002runT35forces.txt", "trainer": "RBDS003runT35forces.txt"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if not all((SHARED_DATA / "fukuchi-running" / f).is_file() for f in RUNS.values()):
        pytest.skip(f"Fukuchi running files absent under {SHARED_DATA}")
    home = tmp_path_factory.mktemp("plate-home")
    env = {"PLANTAR_HOME": str(home)}
    ids = {}
    for shoe, name in RUNS.items():
        before = set((home / "sessions").glob("*")) if (home / "sessions").is_dir() else set()
        out = run_cli("import", str(SHARED_DATA / "fukuchi-running" / name), env=env)
        assert out.returncode == 0, out.stderr
        (new,) = set((home / "sessions").glob("*")) - before
        tagged = run_cli("tag", new.name, "--athlete", "lab", "--shoe", shoe, env=env)
        assert tagged.returncode == 0, tagged.stderr
        ids[shoe] = new.name
    ids["insole"] = record_sim_session(home / "sessions", steps=200, seed=1, athlete="lab")
    old = os.environ.get("PLANTAR_HOME")
    os.environ["PLANTAR_HOME"] = str(home)
    try:
        yield {"home": home, "ids": ids}
    finally:
        if old is None:
            os.environ.pop("PLANTAR_HOME", None)
        else:
            os.environ["PLANTAR_HOME"] = old


def _app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from dashboard.review_routes import STATIC_DIR, make_review_router

    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(make_review_router())
    return app


@pytest.fixture(scope="module")
def client(store: dict) -> Iterator[TestClient]:
    with TestClient(_app()) as c:
        yield c


def test_a_plate_session_is_reviewed(client: TestClient, store: dict) -> None:
    sid = store["ids"]["racer"]
    r = client.get(f"/api/review/{sid}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["pivot"]["kind"] == "force_plate" and d["pivot"]["unit"] == "N·mm"
    assert "not a proxy" in d["pivot"]["label"]
    assert d["summary"]["steps"] > 60 and d["summary"]["cadence_spm"] > 140
    assert all(f["no_map"] and f["n_sensels"] == 0 for f in d["feet"].values())
    assert d["maps"] == {"left": {}, "right": {}}
    text = " ".join(d["sentences"])
    assert "force plate" in text and "shear sensors" not in text
    assert "not measured" in {v["kind"] for v in d["summary"]["risk"].values()}
    assert {"contact_time", "cadence", "pivot"} <= set(d["charts"])
    # per-step curves of force and free moment over stance
    assert "N·mm" in d["curves"] or "free moment" in d["curves"].lower(), d["curves"][:300]
    ranged = client.get(f"/api/review/{sid}", params={"t0": 5, "t1": 15}).json()
    assert 0 < ranged["range"]["steps"] < d["summary"]["steps"]
    frames = client.get(f"/api/review/{sid}/steps/left/3")
    assert frames.status_code == 404 and "no pressure map" in frames.json()["detail"]
    report = client.get(f"/api/review/{sid}/report.html")
    assert report.status_code == 200 and "force plate" in report.text


def test_plate_conditions_are_compared_and_never_with_insoles(
    client: TestClient, store: dict
) -> None:
    r = client.get("/api/compare", params={"by": "shoe", "min_steps": 20, "discard": 5})
    assert r.status_code == 200, r.text
    d = r.json()
    sensors = {c["label"]: c["sensor"] for c in d["conditions"]}
    assert sensors["racer"] == sensors["trainer"] == "force plate"
    (pair,) = [p for p in d["comparisons"] if {p["a"], p["b"]} == {"racer", "trainer"}]
    assert pair["sensor"] == "force plate" and pair["pivot_kind"] == "force_plate"
    metrics = {m["metric"]: m for m in pair["metrics"]}
    assert {"contact time", "peak vertical force"} <= set(metrics)
    assert not any(name.startswith(("peak pressure", "PTI", "risk")) for name in metrics)
    # the insole session is a condition of its own, compared with no plate condition
    assert all(p["sensor"] == "force plate" for p in d["comparisons"])


@pytest.fixture(scope="module")
def server(store: dict) -> Iterator[str]:
    pytest.importorskip("playwright")
    with served(_app()) as url:
        yield url


def test_the_review_page_of_a_plate_session(page, server: str, store: dict) -> None:
    sid = store["ids"]["trainer"]
    page.goto(f"{server}/review")
    page.wait_for_selector(f"#sessions li[data-id='{sid}']", timeout=60000)
    page.click(f"#sessions li[data-id='{sid}']")
    page.wait_for_selector("#no-map", timeout=120000)
    text = page.inner_text("#detail")
    assert "force plate" in text and "Per-step series" in text
    assert page.locator("figure.chart").count() >= 3
    assert page.locator("#replay").count() == 0 and page.locator("figure.map").count() == 0
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/review-plate.png", full_page=False)
    assert not page.errors, page.errors


def test_the_compare_page_of_plate_conditions(page, server: str, store: dict) -> None:
    page.goto(f"{server}/compare?by=shoe")
    page.wait_for_selector("section.pair table", timeout=120000)
    sections = page.locator("section.pair")
    titles = [sections.nth(i).locator("h3").inner_text() for i in range(sections.count())]
    assert titles == ["A = racer vs B = trainer"], titles
    text = sections.first.inner_text()
    assert "peak vertical force" in text and "N·mm" in text
    assert "no pressure map" in text  # instead of difference maps
    page.screenshot(path="test-artifacts/compare-plate.png", full_page=False)
    assert not page.errors, page.errors
