"""The live process's CPU share: the meter, the page's event and status, ``plantar doctor``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from live.cpu_budget import CPU_LIMIT_CORES, CPU_WARN_FRACTION, CpuMeter, cpu_warning
from plantar import doctor_command as doctor


class _Clock:
    """A wall clock and a CPU clock that advance only when told."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0

    def run(self, wall_s: float, cores: float) -> None:
        self.wall += wall_s
        self.cpu += wall_s * cores


def test_meter_reports_the_share_over_its_window() -> None:
    clock = _Clock()
    meter = CpuMeter(window_s=5.0, clock=lambda: clock.wall, cpu_s=lambda: clock.cpu)
    assert meter.last()["cores"] is None
    for _ in range(10):  # 10 s at 0.2 cores
        clock.run(1.0, 0.2)
        meter.sample()
    assert meter.last()["cores"] == pytest.approx(0.2)
    for _ in range(5):  # then a window at 0.9 cores: the old load has left the window
        clock.run(1.0, 0.9)
        report = meter.sample()
    assert report["cores"] == pytest.approx(0.9, abs=0.15)
    assert report["warning"] is not None and "lower the sampling rate" in report["warning"]
    assert report["limit_cores"] == CPU_LIMIT_CORES


def test_warning_only_near_the_limit() -> None:
    assert cpu_warning(0.5 * CPU_WARN_FRACTION) is None
    assert cpu_warning(CPU_WARN_FRACTION * CPU_LIMIT_CORES) is not None


def test_meter_measures_this_process() -> None:
    meter = CpuMeter(window_s=5.0)
    t_end = time.monotonic() + 0.3
    while time.monotonic() < t_end:  # burn CPU in this thread
        sum(range(1000))
    cores = meter.sample()["cores"]
    assert cores is not None and 0.0 < cores <= (meter.last()["machine_cores"] + 0.1)


@pytest.fixture
def served(tmp_path: Any) -> Iterator[Any]:
    """``plantar serve`` without insoles on a free loopback port (the real server)."""
    from dashboard.server import live_runtime
    from live.runtime import RuntimeOptions

    runtime = live_runtime(RuntimeOptions(port=0, sessions_root=tmp_path / "sessions"))
    thread = threading.Thread(target=runtime.serve, daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        runtime.server.stop()
        thread.join(timeout=60)
        runtime.close()


def _wait_for_cpu(runtime: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        cpu = runtime.hub.status()["cpu"]
        if cpu["cores"] is not None:
            return cpu
        time.sleep(0.2)
    raise AssertionError("the hub never sampled its CPU share")


def test_page_gets_cpu_events_and_status(served: Any) -> None:
    from websockets.sync.client import connect

    port = served.server.port
    with connect(f"ws://127.0.0.1:{port}/ws/events", open_timeout=30) as ws:
        import json

        snapshot = json.loads(ws.recv(timeout=30))
        assert snapshot["type"] == "snapshot" and "cpu" in snapshot
        t_end = time.monotonic() + 30
        event = None
        while time.monotonic() < t_end and event is None:
            msg = json.loads(ws.recv(timeout=30))
            if msg["type"] == "cpu":
                event = msg
    assert event is not None and event["cores"] >= 0.0
    assert event["machine_cores"] >= 1 and event["limit_cores"] == CPU_LIMIT_CORES
    assert _wait_for_cpu(served)["cores"] >= 0.0


def test_doctor_reads_the_running_services_share(served: Any) -> None:
    from plantar.config import config_from_dict

    cfg = config_from_dict({"dashboard": {"host": "127.0.0.1", "port": served.server.port}}, env={})
    _wait_for_cpu(served)
    check = doctor.check_cpu(cfg, active=True)
    assert check.status == doctor.OK and "plantar.service uses" in check.detail, check
    # the same service, loaded to 0.9 cores: the check warns and says what to do
    clock = _Clock()
    served.hub.cpu = CpuMeter(clock=lambda: clock.wall, cpu_s=lambda: clock.cpu)
    for _ in range(6):
        clock.run(1.0, 0.9)
        served.hub.cpu.sample()
    check = doctor.check_cpu(cfg, active=True)
    assert check.status == doctor.WARN and "0.90 cores" in check.detail and check.fix, check


def test_doctor_without_a_service_skips_or_warns_on_a_busy_machine() -> None:
    check = doctor.check_cpu(None, active=False)
    assert check.status in (doctor.SKIP, doctor.WARN) and "load average" in check.detail
    assert check.status == doctor.SKIP or check.fix
