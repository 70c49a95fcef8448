"""Memory soak: ``plantar run`` with two simulated insoles at 2 x 200 Hz for 2 h of data.

The simulated insoles (``sim://...&speed=S``) produce their data S times faster than real
time through the real bridge, recorder, analysis and dashboard, so two hours of data take
7200 / S seconds. The script samples the resident set size (``VmRSS`` of
``/proc/<pid>/status``) of the ``plantar run`` process once a second, together with the
amount of data recorded so far (its status log records), and reports RSS growth from
minute 10 of data to the end. The bar: growth < 5 %.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_soak.py                # 2 h of data at 4x, ~31 min
    PYTHONPATH=. python benchmarks/bench_soak.py --hours 0.25 --json
    PYTHONPATH=. python benchmarks/bench_soak.py --hours 0.1 --runtime-only  # as on a Pi

``--runtime-only`` measures ``plantar run`` as a Pi installs it: from a venv holding
Plantar and its runtime dependencies only (``pip install <repo>``, kept in
``~/.cache/plantar-bench/runtime-venv`` and refreshed from the working tree each run),
with the numba cache warmed first. The development venv also holds the test tools
(pandas, scipy, ...), and libraries import some of them when they are there.

Everything is written into a temporary ``$PLANTAR_HOME`` (about 1.6 GB per hour of data
while recording, plus the Parquet files at the end) that is deleted afterwards unless
``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STATUS_RE = re.compile(r"event=status .*seconds_written=([0-9.]+) frames_written=(\d+)")


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, speed: float, rate: float) -> None:
    """Two simulated insoles at ``rate`` Hz, ``speed`` x real time, dashboard on loopback."""
    path.write_text(
        f"""[insoles.left]
url = "sim://?seed=1&rate={rate:g}&speed={speed:g}"
[insoles.right]
url = "sim://?seed=2&rate={rate:g}&speed={speed:g}"
[athlete]
name = "soak"
[dashboard]
host = "127.0.0.1"
port = {_free_port()}
[recording]
rate_hz = {rate:g}
treadmill_speed_kmh = 12.0
"""
    )


REPO = Path(__file__).resolve().parents[1]
RUNTIME_VENV = Path.home() / ".cache" / "plantar-bench" / "runtime-venv"


def runtime_python() -> str:
    """The Python of a venv with Plantar and its runtime dependencies only (see module doc)."""
    python = RUNTIME_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)],
        check=True,
    )
    # numba's cache and the ahead-of-time kernels, as `plantar service install` leaves a Pi
    subprocess.run(
        [str(python), "-m", "plantar.cli", "warmup"], check=True, cwd=tempfile.gettempdir()
    )
    return str(python)


def run_soak(
    hours: float, speed: float, rate: float, home: Path, python: str = sys.executable
) -> dict:
    """Run the soak; returns the measurements."""
    config = home / "soak.toml"
    write_config(config, speed, rate)
    env = {**os.environ, "PLANTAR_HOME": str(home)}
    if python != sys.executable:  # the runtime venv: its own installed Plantar only
        env.pop("PYTHONPATH", None)
    target_s = hours * 3600.0
    cmd = [python, "-m", "plantar.cli", "run", "--config", str(config)]
    cmd += ["--status-interval", "1"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=home
    )
    state = {"data_s": 0.0, "frames": 0}
    last_lines: list[str] = []

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            last_lines.append(line)
            del last_lines[:-20]
            m = STATUS_RE.search(line)
            if m:
                # data time from the frames recorded (seconds_written is host time)
                state["frames"] = int(m.group(2))
                state["data_s"] = state["frames"] / (2.0 * rate)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    samples: list[tuple[float, float, float, int]] = []  # wall s, data s, RSS MB, frames
    try:
        while proc.poll() is None and state["data_s"] < target_s:
            rss = _rss_mb(proc.pid)
            if rss is not None:
                samples.append((time.monotonic() - t0, state["data_s"], rss, state["frames"]))
            time.sleep(1.0)
        if proc.poll() is not None:
            raise RuntimeError("plantar run ended early:\n" + "".join(last_lines))
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        finalise_rss: list[float] = []  # recording stopped: finalising to Parquet
        while proc.poll() is None and time.monotonic() - t_stop < 1800:
            rss = _rss_mb(proc.pid)
            if rss is not None:
                finalise_rss.append(rss)
            time.sleep(0.25)
        proc.communicate(timeout=60)
        t_done = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
    thread.join(timeout=5)
    stop_lines = [ln for ln in last_lines if "event=stop" in ln]
    final = {}
    if stop_lines:
        m = re.search(r"frames_lost=(\d+)", stop_lines[-1])
        final["frames_lost"] = int(m.group(1)) if m else None
        m = re.search(r"frames_recorded=(\d+)", stop_lines[-1])
        final["frames_recorded"] = int(m.group(1)) if m else None
        m = re.search(r"kernels=(\w+)", stop_lines[-1])
        final["kernels"] = m.group(1) if m else None  # aot: numba never loaded
    ten_min = next((s for s in samples if s[1] >= 600.0), None)
    end = samples[-1]
    peak = max(s[2] for s in samples)
    growth = (end[2] - ten_min[2]) / ten_min[2] * 100.0 if ten_min else float("nan")
    wall_data = end[0] - (ten_min[0] if ten_min else 0.0)
    rate_frames = (end[3] - (ten_min[3] if ten_min else 0)) / wall_data if wall_data > 0 else 0
    return {
        "hours_of_data": round(end[1] / 3600.0, 3),
        "speed": speed,
        "rate_hz": rate,
        "wall_s": round(t_stop - t0, 1),
        "finalise_s": round(t_done - t_stop, 1),
        "rss_mb_at_10_min": round(ten_min[2], 1) if ten_min else None,
        "rss_mb_end": round(end[2], 1),
        "rss_mb_peak": round(peak, 1),
        "rss_mb_peak_finalise": round(max(finalise_rss), 1) if finalise_rss else None,
        "rss_growth_pct_10min_to_end": round(growth, 2),
        "frames_per_s_recorded": round(rate_frames, 1),
        "frames_per_s_required": round(2 * rate * speed, 1),
        "exit_code": proc.returncode,
        **final,
        "rss_trace": [
            (round(s[1] / 60.0, 1), round(s[2], 1)) for s in samples[:: max(1, len(samples) // 24)]
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=2.0, help="hours of data (default 2)")
    p.add_argument("--speed", type=float, default=4.0, help="time acceleration (default 4)")
    p.add_argument("--rate", type=float, default=200.0, help="Hz per insole (default 200)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--keep", action="store_true", help="keep the temporary PLANTAR_HOME")
    p.add_argument(
        "--runtime-only",
        action="store_true",
        help="measure from a venv with the runtime dependencies only, as a Pi installs it",
    )
    args = p.parse_args(argv)
    python = runtime_python() if args.runtime_only else sys.executable
    home = Path(tempfile.mkdtemp(prefix="plantar-soak-"))
    try:
        result = run_soak(args.hours, args.speed, args.rate, home, python)
        result["venv"] = "runtime-only" if args.runtime_only else "development"
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
        return 0
    ok = result["rss_growth_pct_10min_to_end"] < 5.0
    print(
        f"## soak: plantar run, 2 x {args.rate:g} Hz, {result['hours_of_data']} h of data "
        f"at {args.speed:g}x ({result['wall_s']:.0f} s wall), {result['venv']} venv"
    )
    print(
        f"RSS at minute 10 of data: {result['rss_mb_at_10_min']} MB; at the end: "
        f"{result['rss_mb_end']} MB; peak {result['rss_mb_peak']} MB while recording, "
        f"{result['rss_mb_peak_finalise']} MB while finalising "
        f"(issue 18 bars: <= 200 MB recording, <= 300 MB with finalise)"
    )
    print(
        f"growth minute 10 -> end: {result['rss_growth_pct_10min_to_end']:+.2f} % "
        f"(bar < 5 %: {'pass' if ok else 'FAIL'})"
    )
    print(
        f"frames recorded {result.get('frames_recorded')}, lost {result.get('frames_lost')}; "
        f"recorded {result['frames_per_s_recorded']:.0f} frames/s of "
        f"{result['frames_per_s_required']:.0f} produced; finalise {result['finalise_s']} s"
    )
    print(
        "RSS trace (data minute, MB): " + ", ".join(f"{m:g}:{r:g}" for m, r in result["rss_trace"])
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
