"""Shared fixtures of the review tests: one simulated experiment in a temporary store.

Same runner, same insole pair, 600 steps per session at 12 km/h: sock ``A`` with pivot
shear x = 20 kPa, sock ``B`` with 0.7x = 14 kPa, and ``A2`` = sock A again (another run,
another seed) for the A/A comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.review.simdata import record_sim_session

PIVOT_X_KPA = 20.0


@pytest.fixture(scope="session")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("review-home")
    old = os.environ.get("PLANTAR_HOME")
    os.environ["PLANTAR_HOME"] = str(home)
    try:
        from store.catalog import Catalog

        root = home / "sessions"
        root.mkdir()
        cat = Catalog(home / "catalog.sqlite")
        ids = {
            "A": record_sim_session(
                root, seed=1, sock="A", pivot_shear_kpa=PIVOT_X_KPA, catalog=cat
            ),
            "B": record_sim_session(
                root, seed=2, sock="B", pivot_shear_kpa=0.7 * PIVOT_X_KPA, catalog=cat
            ),
            "A2": record_sim_session(
                root, seed=3, sock="A2", pivot_shear_kpa=PIVOT_X_KPA, catalog=cat
            ),
        }
        yield {"home": home, "root": root, "ids": ids}
    finally:
        if old is None:
            os.environ.pop("PLANTAR_HOME", None)
        else:
            os.environ["PLANTAR_HOME"] = old


@pytest.fixture(scope="session")
def comparison(experiment: dict) -> dict:
    from review.compare import CompareOptions, compare, public

    return public(compare(CompareOptions(by=("sock",))))


def pair(result: dict, a: str, b: str) -> dict:
    for c in result["comparisons"]:
        if (c["a"], c["b"]) == (a, b):
            return c
    raise AssertionError(
        f"no comparison {a} vs {b}: {[(c['a'], c['b']) for c in result['comparisons']]}"
    )


def metric(comp: dict, name: str) -> dict:
    for m in comp["metrics"]:
        if m["metric"] == name:
            return m
    raise AssertionError(f"no metric {name}")


REPO = Path(__file__).resolve().parents[2]


def compare_cli_json(home: Path, *args: str) -> dict:
    """``plantar compare --by sock --json ARGS`` in a subprocess, with ``home`` as data dir."""
    env = {**os.environ, "PLANTAR_HOME": str(home), "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "plantar.cli", "compare", "--by", "sock", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def page(server: str) -> Iterator:
    """A headless Chromium page on the module's ``server`` fixture; page errors collect in
    ``page.errors``."""
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
