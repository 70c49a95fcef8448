"""The one session state of the live pipeline, through the dashboard's routes: shared with
every page over the events channel, Record acting on it once however many press it, the
runner's markers recorded (real recorder, real files) and read back for the analysis;
the treadmill odometer; the session options of ``serve``/``demo`` and their errors."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from live.hub import LiveHub
from live.odometer import TreadmillOdometer
from live.pipeline import LivePipeline
from store.session_reader import read_markers
from tests.dashboard.conftest import frames_of
from tests.store.conftest import run_cli


def _events_until(ws, kind: str, limit: int = 200) -> dict:
    for _ in range(limit):
        event = ws.receive_json()
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event in {limit}")


def test_session_state_is_shared_and_record_makes_one_session(
    layouts, pair, sessions_root: Path
) -> None:
    hub = LiveHub(layouts)
    pipeline = LivePipeline(
        hub, layouts, sessions_root=sessions_root, meta={"athlete": "R. One", "shoe": "A"}
    )
    # the ASGI test client calls itself "testserver": a host name the guard must be told of
    app = create_app(hub, pipeline, sessions_root=sessions_root, allowed_hosts=("testserver",))
    try:
        with TestClient(app) as client:
            with client.websocket_connect("/ws/events") as screen_a:
                snap = screen_a.receive_json()
                assert snap["type"] == "snapshot"
                assert snap["session"]["meta"] == {"athlete": "R. One", "shoe": "A"}
                with client.websocket_connect("/ws/events") as screen_b:
                    screen_b.receive_json()
                    r = client.put("/api/session", json={"shoe": "B", "sock": "thin"})
                    assert r.status_code == 200
                    for screen in (screen_a, screen_b):  # every page hears the change
                        meta = _events_until(screen, "session")["meta"]
                        assert meta["shoe"] == "B" and meta["athlete"] == "R. One"
            assert client.post("/api/marker", json={}).status_code == 409  # not recording
            for insole in pair:  # frames, so the markers have a session time
                pipeline.on_frames(frames_of(insole, 50))
            # two screens press Record at once: one session, the other is refused
            with ThreadPoolExecutor(4) as pool:
                codes = sorted(
                    r.status_code
                    for r in pool.map(
                        lambda _: client.post("/api/recording/start", json={}), range(4)
                    )
                )
            assert codes == [200, 409, 409, 409]
            for insole in pair:
                pipeline.on_frames(frames_of(insole, 50))
            first = client.post("/api/marker", json={}).json()
            for insole in pair:
                pipeline.on_frames(frames_of(insole, 50))
            second = client.post("/api/marker", json={"label": "left toe"}).json()
            assert first["label"] == "hot spot felt now" and second["t_s"] > first["t_s"]
            stopped = client.post("/api/recording/stop", json={}).json()
    finally:
        pipeline.close()
    sessions = [p for p in sessions_root.iterdir() if (p / "session.json").exists()]
    assert [p.name for p in sessions] == [stopped["session_id"]]
    meta = json.loads((sessions[0] / "session.json").read_text())["meta"]
    assert (meta["athlete"], meta["shoe"], meta["sock"]) == ("R. One", "B", "thin")
    events = pq.read_table(sessions[0] / "events.parquet").to_pylist()
    assert [e["kind"] for e in events].count("marker") == 2
    markers = read_markers(sessions[0])
    assert [m["label"] for m in markers] == ["hot spot felt now", "left toe"]
    assert [m["t_s"] for m in markers] == pytest.approx([first["t_s"], second["t_s"]], abs=1e-3)


def test_odometer_integrates_the_belt_speed_as_set() -> None:
    now = [100.0]
    odo = TreadmillOdometer(12.0, clock=lambda: now[0])
    now[0] += 60.0  # one minute at 12 km/h = 200 m
    odo.set_speed(6.0)
    now[0] += 120.0  # two at 6 km/h = 200 m
    elapsed_s, distance_m = odo.read()
    assert elapsed_s == pytest.approx(180.0)
    assert distance_m == pytest.approx(400.0)
    odo.set_speed(None)  # stopped or unknown: no distance
    now[0] += 30.0
    assert odo.read()[1] == pytest.approx(400.0)
    odo.reset()
    assert odo.read() == (0.0, 0.0)


def test_status_loop_publishes_clock_from_another_thread(layouts, sessions_root: Path) -> None:
    hub = LiveHub(layouts)
    pipeline = LivePipeline(hub, layouts, sessions_root=sessions_root, meta={})
    seen = threading.Event()
    publish = hub.publish_clock

    def spy(clock: dict) -> None:
        publish(clock)
        if clock["elapsed_s"] > 0:
            seen.set()

    hub.publish_clock = spy  # type: ignore[method-assign]
    try:
        assert seen.wait(30.0)
    finally:
        pipeline.close()
    assert set(hub.snapshot()["clock"]) == {"elapsed_s", "distance_m", "steps"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--left", "sim://", "--right", "sim://", "--speed-kmh", "55"], "--speed-kmh"),
        (["demo", "--speed-kmh", "0", "--no-browser"], "--speed-kmh"),
        (["serve", "--incline-pct", "-20"], "--incline-pct"),
    ],
)
def test_bad_session_options_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    out = run_cli(*args, env={"PLANTAR_HOME": str(tmp_path / "home")})
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantar: error: "), out.stderr
    assert expected in lines[0]
