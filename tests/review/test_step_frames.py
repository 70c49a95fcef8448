"""The review page's step animation API: the frames of one step, read from the Parquet file."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from hardware.layout import load_layout
from live.hub import LiveHub
from review.cache import get_review


@pytest.fixture(scope="module")
def client(experiment: dict):
    layouts = {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}
    app = create_app(
        LiveHub(layouts), None, sessions_root=experiment["root"], allowed_hosts=("testserver",)
    )
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("foot", ["left", "right"])
def test_step_frames_are_the_steps_own_rows(client, experiment: dict, foot: str) -> None:
    sid = experiment["ids"]["A"]
    review = get_review(experiment["root"] / sid)
    windows = review.arrays[f"{foot}/windows"]
    k = len(windows) // 2  # a step well inside the file: its rows do not start at row 0
    i0, _, i1 = (int(v) for v in windows[k])
    assert i0 > 0
    got = client.get(f"/api/review/{sid}/steps/{foot}/{k}")
    assert got.status_code == 200, got.text
    body = got.json()
    t_file = pq.read_table(experiment["root"] / sid / f"{foot}.parquet", columns=["t_s"])
    t_step = t_file.column("t_s").to_numpy()[i0:i1]
    assert body["t_s"][0] == pytest.approx(t_step[0], abs=1e-4)
    assert body["t_s"][-1] == pytest.approx(t_step[-1], abs=1e-4)
    assert set(np.round(body["t_s"], 4)) <= set(np.round(t_step, 4))
    assert len(body["frames"]) == len(body["t_s"]) and body["unit"] == "kPa"
    assert client.get(f"/api/review/{sid}/steps/{foot}/{len(windows)}").status_code == 404
