"""CPU cost of the whole live pipeline per second of data, beside the analysis kernels' own.

Each load runs in a fresh child process: two simulated insoles in their own processes
(:mod:`hardware.sim.pty_process`, on pseudo-terminals, not counted), and in the measured
process the real ``serial://`` bridge, Analyzer, recorder (recording to a temporary
directory) and dashboard (uvicorn on loopback), with one page client in another process
(not counted) that reads ``/ws/live`` at the page's frame rate and decodes every message
as ``live.js`` does, and reads ``/ws/events``. Loads:

* ``reference``: 2 feet x 200 Hz x ``plantar-ref`` (170 sensels + 5 shear sites);
* ``dense``: 2 feet x 500 Hz x ``plantar-dense`` (1024 sensels);
* ``idle``: ``plantar serve`` with no insoles, the page connected;
* ``idle-run``: ``plantar run`` waiting for insoles that are not there (retry every 5 s).

After a warm-up (start, numba warm-up, the clock fit settling) it reads the process CPU
time (``/proc/self/stat``) and each thread's (``/proc/self/task/*/stat``) over a window and
reports **cores** = CPU seconds per second of data. Beside it, the Analyzer alone fed the
same kind of frames in batches of the same size (``kernel cores``), so the overhead shows
as a ratio. ``--profile`` adds a cProfile summary of the event loop's thread (a separate
run: the profiler's own cost is not in the cores figure).

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_pipeline.py                    # all loads, 3 runs
    PYTHONPATH=. python benchmarks/bench_pipeline.py --load dense --seconds 600 --repeat 1
    PYTHONPATH=. python benchmarks/bench_pipeline.py --load reference --profile

Prints a Markdown table (``--json``: one JSON document) and exits 1 if a bar is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: Bars in cores of this machine (issue #18); a Pi 4 core runs Python ~5-8x slower.
BARS_CORES = {"reference": 0.08, "dense": 0.30, "idle": 0.01, "idle-run": 0.01}
LOADS = {
    "reference": ("plantar-ref", 200.0),
    "dense": ("plantar-dense", 500.0),
    "idle": (None, 0.0),
    "idle-run": (None, 0.0),
}
PI_SLOWDOWN = (5.0, 8.0)
_TICK_S = os.sysconf("SC_CLK_TCK")

_CLIENT = r"""
import json, sys, threading, time
from websockets.sync.client import connect
from live.display_wire import decode_display
base, duration = sys.argv[1], float(sys.argv[2])
counts = {"display": 0, "events": 0}
def events():
    try:
        with connect(base + "/ws/events", max_size=None, open_timeout=30) as ws:
            while True:
                json.loads(ws.recv())
                counts["events"] += 1
    except Exception:
        pass
threading.Thread(target=events, daemon=True).start()
t_end = time.monotonic() + duration
with connect(base + "/ws/live", max_size=None, open_timeout=30) as ws:
    print("ready", flush=True)
    while time.monotonic() < t_end:
        try:
            decode_display(ws.recv(timeout=max(t_end - time.monotonic(), 0.01)))
        except TimeoutError:
            break
        counts["display"] += 1
print(json.dumps(counts), flush=True)
"""


# -- CPU accounting from /proc --------------------------------------------------------


def _cpu_s(stat_path: str) -> float:
    """utime + stime of a /proc stat file (s)."""
    with open(stat_path, encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK_S


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per live thread of this process, by Python thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            cpu = _cpu_s(f"/proc/self/task/{tid}/stat")
        except OSError:
            continue  # the thread ended
        name = names.get(int(tid), "other (native)")
        if name.startswith("plantar-"):  # one line per kind: plantar-serial-<port> ...
            name = "-".join(name.split("-")[:2])
        else:  # pool threads (asyncio_0, ThreadPoolExecutor-0_1 ...) by kind
            name = name.rstrip("0123456789").rstrip("-_ ") or name
        out[name] = out.get(name, 0.0) + cpu
    return out


# -- the kernels' own cost --------------------------------------------------------------


def kernel_cores(layout_id: str, rate_hz: float, batch: int, seconds: float = 20.0) -> float:
    """CPU seconds per data second of the Analyzer alone, 2 feet, in batches of ``batch``."""
    from analysis.analyzer import Analyzer
    from analysis.bench import sim_frames
    from hardware.layout import load_layout

    layouts = {f: load_layout(layout_id, foot=f) for f in ("left", "right")}
    left = sim_frames(layouts["left"], seconds, rate_hz)
    feet = [left, replace(left, foot="right")]
    analyzer = Analyzer(layouts, rate_hint_hz=rate_hz, keep_steps=500)
    analyzer.feed(feet[0].rows(0, batch))  # JIT / cache load outside the timing
    t0 = time.process_time()
    for a in range(batch, len(left), batch):
        for fr in feet:
            analyzer.feed(fr.rows(a, a + batch))
    return (time.process_time() - t0) / (seconds - batch / rate_hz)


# -- one run (child process) ---------------------------------------------------------


def _bridge_lost(runtime: Any) -> int:
    bridge = runtime.bridge.stats() if runtime.bridge is not None else {}
    return sum(int(s.get("lost_frames", 0)) for s in bridge.values())


def _wait(cond: Any, timeout_s: float, what: str) -> None:
    t_end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > t_end:
            raise SystemExit(f"bench_pipeline: {what} within {timeout_s:g} s")
        time.sleep(0.1)


def run_one(load: str, seconds: float, warmup_s: float, profile: bool) -> dict[str, Any]:
    """Measure one load in this process; returns the report."""
    from dashboard.server import live_runtime
    from hardware.sim.pty_process import spawn_pair
    from live.runtime import RuntimeOptions

    layout_id, rate_hz = LOADS[load]
    tmp = Path(tempfile.mkdtemp(prefix="plantar-bench-pipeline-"))
    devices: list[Any] = []
    urls = None
    if layout_id is not None:
        urls = {f: f"serial://{tmp / f'plantar-{f}'}" for f in ("left", "right")}
    elif load == "idle-run":
        urls = {f: f"serial://{tmp / f'absent-{f}'}" for f in ("left", "right")}
    options = RuntimeOptions(port=0, layout=layout_id or "plantar-ref", sessions_root=tmp / "s")
    runtime = live_runtime(options, urls=urls, meta={"source": "benchmark"})  # numba warm-up
    if layout_id is not None:  # after the warm-up: nobody reads them before the bridge opens
        total_s = warmup_s + seconds + 30.0
        pre = total_s if total_s <= 120 else 0.0  # pre-encoded bytes: ~0.8 MB/s at dense
        devices = list(
            spawn_pair(tmp, layout=layout_id, rate_hz=rate_hz, pregenerate_s=pre).values()
        )
    batches = {"n": 0, "frames": 0}
    if runtime.pipeline is not None:  # count the batches the bridge hands on
        on_frames = runtime.pipeline.on_frames

        def counting(frames: Any, t_recv_ns: int | None = None) -> None:
            batches["n"] += 1
            batches["frames"] += len(frames)
            on_frames(frames, t_recv_ns)

        runtime.pipeline.on_frames = counting  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None

    def serve() -> None:
        if profiler is not None:
            profiler.runcall(runtime.serve)
        else:
            runtime.serve()

    server = threading.Thread(target=serve, name="plantar-loop", daemon=True)
    client = None
    try:
        runtime.start(record=urls is not None and load != "idle-run", wait=load == "idle-run")
        server.start()
        port = runtime.server.port
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]))
        client = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, f"ws://127.0.0.1:{port}", str(warmup_s + seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert client.stdout is not None
        if client.stdout.readline().strip() != "ready":
            raise SystemExit(f"page client failed: {client.stderr.read()[-300:]}")  # type: ignore[union-attr]
        if urls is not None and load != "idle-run":
            _wait(lambda: batches["frames"] > 0, 60.0, "no frames arrived")
        time.sleep(warmup_s)
        f0, b0, m0 = batches["frames"], batches["n"], runtime.hub.messages_built
        lost0 = _bridge_lost(runtime)
        c0, th0, t0 = _cpu_s("/proc/self/stat"), _thread_cpu(), time.monotonic()
        time.sleep(seconds)
        c1, th1, t1 = _cpu_s("/proc/self/stat"), _thread_cpu(), time.monotonic()
        f1, b1, m1 = batches["frames"], batches["n"], runtime.hub.messages_built
        lost1 = _bridge_lost(runtime)
        hub = runtime.hub.status()
        out, _ = client.communicate(timeout=60)
        seen = json.loads(out.strip().splitlines()[-1]) if client.returncode == 0 else {}
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        runtime.server.stop()
        server.join(timeout=120)
        t_fin = time.monotonic()
        runtime.close()
        finalise_s = time.monotonic() - t_fin
        device_stats = []
        for proc in devices:
            proc.stdin.close()
            out = proc.stdout.read()
            proc.wait(timeout=30)
            device_stats += [
                json.loads(line[6:]) for line in out.splitlines() if line.startswith("stats ")
            ]
    wall = t1 - t0
    data_s = (f1 - f0) / (2.0 * rate_hz) if rate_hz else wall
    threads = {
        name: round((th1.get(name, 0.0) - th0.get(name, 0.0)) / wall, 4)
        for name in sorted(set(th1) | set(th0))
    }
    report: dict[str, Any] = {
        "load": load,
        "layout": layout_id,
        "rate_hz_per_foot": rate_hz,
        "window_s": round(wall, 2),
        "data_s": round(data_s, 2),
        "cores": round((c1 - c0) / data_s, 4) if data_s > 0 else None,
        "threads_cores": {k: v for k, v in threads.items() if v > 0},
        "batches_per_s": round((b1 - b0) / wall, 1),
        "frames_per_batch": round((f1 - f0) / (b1 - b0), 2) if b1 > b0 else None,
        "display_msgs_per_s": round((m1 - m0) / wall, 1),
        "display_msgs_received": seen.get("display"),
        "events_received": seen.get("events"),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "kernels": __import__("base.kernels", fromlist=["kernel_mode"]).kernel_mode(),
        "numba_loaded": "numba" in sys.modules,
        "finalise_s": round(finalise_s, 2),
    }
    rec = runtime.final_recording or {}
    if rate_hz:
        report["frames_lost_link"] = sum((rec.get("frames_lost_link") or {}).values())
        report["frames_dropped_recorder"] = sum((rec.get("frames_dropped") or {}).values())
        report["frames_written"] = sum((rec.get("frames_written") or {}).values())
        report["bridge_lost"] = _bridge_lost(runtime)
        report["bridge_lost_in_window"] = lost1 - lost0
        # frames the simulated devices dropped because their transmit buffer was full (the
        # host did not read in time, or the device fell behind and produced a burst)
        report["device_messages_dropped"] = sum(d["messages_dropped"] for d in device_stats)
        report["gaps_first"] = [  # session time (s) and frames of the first gaps
            (e.foot, round(e.t_s, 2), e.lost_frames)
            for stream in (runtime.bridge.streams.values() if runtime.bridge else ())
            for e in stream.gap_events[:3]
        ]
        report["hub_frames"] = hub["frames"]
        batch = max(1, round(report["frames_per_batch"] or 1))
        report["kernel_cores"] = round(kernel_cores(layout_id, rate_hz, batch), 4)
        if report["cores"] is not None:
            report["overhead_ratio"] = round(report["cores"] / report["kernel_cores"], 1)
    if profiler is not None:
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("tottime").print_stats(25)
        report["profile_top"] = _trim_profile(buf.getvalue())
    return report


def _trim_profile(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:]).replace(str(REPO) + "/", "").replace(sys.prefix, "<env>")


# -- driver ----------------------------------------------------------------------------


def _child(load: str, args: argparse.Namespace, profile: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", load, "--seconds", str(args.seconds)]
    cmd += ["--warmup", str(args.warmup)] + (["--profile"] if profile else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_pipeline: run of {load} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pi(cores: float) -> str:
    return f"{cores * PI_SLOWDOWN[0]:.2f}-{cores * PI_SLOWDOWN[1]:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--load", choices=[*LOADS, "all"], default="all")
    p.add_argument("--seconds", type=float, default=20.0, help="measured window per run (s)")
    p.add_argument("--warmup", type=float, default=8.0, help="seconds before the window")
    p.add_argument("--repeat", type=int, default=3, help="runs per load (median reported)")
    p.add_argument("--profile", action="store_true", help="one more run under cProfile")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--child", choices=list(LOADS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.seconds, args.warmup, args.profile)))
        return 0
    loads = list(LOADS) if args.load == "all" else [args.load]
    results: dict[str, Any] = {}
    for load in loads:
        runs = [_child(load, args, False) for _ in range(args.repeat)]
        cores = [r["cores"] for r in runs]
        median = statistics.median(cores)
        pick = min(runs, key=lambda r: abs(r["cores"] - median))
        results[load] = {"median_cores": median, "runs_cores": cores, "median_run": pick}
        if args.profile and load in ("reference", "dense"):
            results[load]["profile_top"] = _child(load, args, True)["profile_top"]
    ok = all(results[ld]["median_cores"] <= BARS_CORES[ld] for ld in results)
    if args.json:
        print(json.dumps({"machine": _machine(), "results": results, "bars_met": ok}))
        return 0 if ok else 1
    print(f"## live pipeline CPU, one page client ({_machine()})")
    print(
        "| load | cores (median) | runs | bar | Pi 4 cores (5-8x) | kernel cores | overhead "
        "ratio | batches/s | frames/batch | lost (link/recorder) | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for load, res in results.items():
        r = res["median_run"]
        lost = f"{r.get('frames_lost_link', '-')}/{r.get('frames_dropped_recorder', '-')}"
        print(
            f"| {load} | {res['median_cores']:.3f} | "
            f"{', '.join(f'{c:.3f}' for c in res['runs_cores'])} | <= {BARS_CORES[load]:g} | "
            f"{_pi(res['median_cores'])} | {r.get('kernel_cores', '-')} | "
            f"{r.get('overhead_ratio', '-')} | {r['batches_per_s']} | "
            f"{r['frames_per_batch'] or '-'} | {lost} | {r['loadavg_1min']} |"
        )
    for load, res in results.items():
        threads = res["median_run"]["threads_cores"]
        print(f"\n{load} threads (cores): " + ", ".join(f"{k} {v:.3f}" for k, v in threads.items()))
        r = res["median_run"]
        print(f"{load} kernels: {r.get('kernels')} (numba loaded: {r.get('numba_loaded')})")
        if "profile_top" in res:
            print(f"\n### cProfile of the event loop, {load} (top 25 by own time)\n")
            print("```text\n" + res["profile_top"] + "\n```")
    return 0 if ok else 1


def _machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
