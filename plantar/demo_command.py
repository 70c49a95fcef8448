"""``plantar demo``: two simulated insoles through the real serial path, live on the page.

The simulated insoles (:mod:`hardware.sim`) speak the wire protocol on pseudo-terminals;
the bridge opens them as ``serial://`` devices, exactly as it opens USB insoles, and
feeds the recorder, the analyzer and the dashboard. Fatigue drift is on by default: from
``--fatigue-onset-s`` the pivot at push-off grows, so after about two minutes the pivot
gauges climb above the runner's own baseline and the alert shows.

``--transport ble`` runs the insoles as Bluetooth LE GATT peripherals on bumble's
virtual controller instead, in this process, and starts unpaired: pair them on the page
(``/pair``: scan, press on the left one with the page's "Press on Plantar-L" button, save)
and the pair is written to ``--config`` (default: a fresh file in a temporary directory)
and streamed from at once, as the service does with real insoles (:mod:`plantar.ble_demo`).

``--duration S --no-browser`` runs headless for S seconds and prints one JSON line on
stdout: session id, steps per foot, frames recorded and frames lost. Everything meant for
people (the URL, progress) goes to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from base.errors import DeviceError
from base.units import kmh_to_mps

#: Demo fatigue: drift starts at 60 s and is complete at 180 s (pivot x 2.5 at full drift).
DEMO_FATIGUE_ONSET_S = 60.0
DEMO_FATIGUE_RAMP_S = 120.0
DEMO_FATIGUE_GAIN = 1.5
#: The simulated runner's treadmill speed (km/h) and name, unless given.
DEMO_SPEED_KMH = 12.0
DEMO_ATHLETE = "demo runner"

#: How long the demo waits for each of its own simulated insoles to answer (s): the
#: simulator is known to be starting, and under emulated arm64 its first bytes took 5 s
#: alone (the 2.5 s default is meant to catch a wrong port on real insoles).
DEMO_INFO_TIMEOUT_S = 60.0


def register(sub: Any) -> None:
    """Add ``demo`` to the ``plantar`` subcommands."""
    from dashboard.commands import add_server_options, add_session_options

    p = sub.add_parser(
        "demo",
        help="simulated runner on two insoles: bridge, analysis, recording and live page",
        description=(
            "Run two simulated insoles over pseudo-terminal serial ports through the real "
            "bridge, with live analysis, recording and the dashboard; prints the URL."
        ),
    )
    add_server_options(p)
    add_session_options(p, speed_kmh=DEMO_SPEED_KMH, athlete=DEMO_ATHLETE)
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--no-record", action="store_true", help="show live data without recording")
    p.add_argument(
        "--transport",
        choices=("serial", "ble"),
        default="serial",
        help="serial: insoles on pseudo-terminals (default); ble: Bluetooth LE insoles on a "
        "virtual radio, paired on the page (/pair)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="with --transport ble: the plantar.toml the pairing page saves to (default: a "
        "new file in a temporary directory)",
    )
    s = p.add_argument_group("simulated runner")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--rate", type=float, default=200.0, help="sampling rate per insole (Hz)")
    s.add_argument("--strike", choices=("rearfoot", "midfoot", "forefoot"), default="rearfoot")
    s.add_argument(
        "--fatigue-onset-s",
        type=float,
        default=DEMO_FATIGUE_ONSET_S,
        help=f"when the pivot starts to grow (s, default {DEMO_FATIGUE_ONSET_S:g})",
    )
    s.add_argument(
        "--fatigue-ramp-s",
        type=float,
        default=DEMO_FATIGUE_RAMP_S,
        help=f"time to full fatigue (s, default {DEMO_FATIGUE_RAMP_S:g})",
    )
    s.add_argument(
        "--fatigue-gain",
        type=float,
        default=DEMO_FATIGUE_GAIN,
        help=f"pivot growth at full fatigue (default {DEMO_FATIGUE_GAIN:g} = x2.5)",
    )
    s.add_argument("--no-fatigue", action="store_true", help="no fatigue drift")
    p.set_defaults(handler=run)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``plantar demo``."""
    from base.errors import ConfigError
    from dashboard.server import live_runtime
    from hardware.sim import GaitParams
    from live.runtime import RuntimeOptions

    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration must be a positive number of seconds")
    if args.config is not None and args.transport != "ble":
        raise ConfigError("--config is for --transport ble (where the pairing page saves)")
    if args.config is not None:  # before anything starts: not after the runner has paired
        from plantar.pair_config import check_writable

        check_writable(args.config)
    meta = _demo_meta(args)
    if not args.speed_kmh:
        raise ConfigError("--speed-kmh: the simulated runner needs a speed above 0 km/h")
    try:  # check the runner's parameters here, for a clear error before anything starts
        GaitParams(
            speed_mps=kmh_to_mps(args.speed_kmh),
            strike=args.strike,
            fatigue_onset_s=1e9 if args.no_fatigue else args.fatigue_onset_s,
            fatigue_ramp_s=args.fatigue_ramp_s,
            fatigue_pivot_gain=args.fatigue_gain,
        )
    except ValueError as err:
        raise ConfigError(f"simulated runner: {err}") from None
    from hardware.layout import load_layout

    load_layout(args.layout, eu_size=args.eu_size)
    # Compile the kernels before the simulated runner starts: with a cold numba cache (a
    # fresh install) compiling takes tens of seconds, and the runner's first seconds (the
    # pivot baseline) would pass while nothing listens.
    from analysis.warmup import warm_up

    warm_up()
    if args.transport == "ble":
        from plantar.ble_demo import run_ble_demo

        return run_ble_demo(args, meta)
    sim, paths, sim_err = _start_simulated_insoles(args)
    runtime = None
    try:
        urls = {
            foot: f"serial://{paths[foot]}?info_timeout={DEMO_INFO_TIMEOUT_S:g}"
            for foot in ("left", "right")
        }
        options = RuntimeOptions.from_args(args)
        runtime = live_runtime(options, urls=urls, meta=meta)
        # left, then right, each up to its INFO deadline (the live start's 30 s would cut
        # the second one short under emulation)
        try:
            runtime.start(record=not args.no_record, open_timeout_s=2 * DEMO_INFO_TIMEOUT_S + 30)
        except DeviceError as exc:  # say what the demo's own simulator was doing
            raise DeviceError(f"{exc}; {_simulator_state(sim, sim_err)}") from None
        _say(f"Plantar demo: {runtime.url}")
        _say(f"simulated insoles on {paths['left']} (left) and {paths['right']} (right)")
        open_and_serve(runtime, args)
    finally:
        if runtime is not None:
            runtime.close()
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    return finish(runtime, args)


def open_and_serve(runtime: Any, args: argparse.Namespace) -> None:
    """Open the page (unless ``--no-browser``) and serve until the demo ends."""
    if not args.no_browser:
        import webbrowser

        webbrowser.open(runtime.url)
    runtime.serve(args.duration)


def _demo_meta(args: argparse.Namespace) -> dict[str, Any]:
    """The demo's session state: the runner's options, the simulated shoe and sock."""
    from dashboard.commands import session_meta

    return {
        **session_meta(args),
        "shoe": args.shoe or "simulated",
        "sock": args.sock or "simulated",
        "source": "demo",
    }


def finish(runtime: Any, args: argparse.Namespace) -> int:
    """After a demo: the JSON summary (with ``--duration``), a failed recording's error."""
    if runtime is not None and args.duration is not None:
        print(json.dumps(demo_summary(runtime)), flush=True)
    error = ((runtime.final_recording or {}) if runtime is not None else {}).get("error")
    if error:  # the recording failed (disk full, ...): say so and exit non-zero
        from store.errors import RecordingError

        raise RecordingError(str(error))
    return 0


def _start_simulated_insoles(
    args: argparse.Namespace,
) -> tuple[subprocess.Popen[str], dict[str, str], Any]:
    """Start ``plantar sim`` in its own process, as real insoles are their own devices.

    In the same process the simulator would share the interpreter with the bridge,
    analysis and dashboard, and its pacing (hence its transmit buffer) would depend on
    them; a separate process keeps device and host apart, as on a treadmill.
    """

    command = [
        sys.executable, "-m", "plantar.cli", "sim", "--json",
        "--layout", args.layout, "--rate", f"{args.rate:g}", "--seed", str(args.seed),
        "--speed", f"{kmh_to_mps(args.speed_kmh):.4f}", "--strike", args.strike,
        "--fatigue-onset-min", f"{(1e9 if args.no_fatigue else args.fatigue_onset_s) / 60:.6g}",
        "--fatigue-ramp-min", f"{args.fatigue_ramp_s / 60:.6g}",
        "--fatigue-gain", f"{args.fatigue_gain:g}",
    ]  # fmt: skip
    if args.eu_size is not None:
        command += ["--size", f"{args.eu_size:g}"]
    # stderr to a file, not a pipe nobody reads while it runs (a full pipe would stall it);
    # the file lives as long as the simulator
    err_file = tempfile.TemporaryFile()  # noqa: SIM115
    sim = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=err_file,
        text=True,
        # called before the runtime starts its threads, so preexec_fn is safe here
        preexec_fn=functools.partial(_die_with_parent, os.getpid()),
    )
    assert sim.stdout is not None
    line = sim.stdout.readline()
    try:
        return sim, json.loads(line)["devices"], err_file
    except (ValueError, KeyError):
        sim.kill()
        sim.wait()
        raise DeviceError(
            f"the simulated insoles did not start ({_last_line(err_file) or 'no output'})"
        ) from None


def _last_line(err_file: Any) -> str:
    """The last line the simulator wrote to its stderr file ('' if none)."""
    err_file.seek(0)
    lines = err_file.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def _simulator_state(sim: subprocess.Popen[str], err_file: Any) -> str:
    """One phrase on the demo's simulator process, for an error about its insoles."""
    said = _last_line(err_file)
    said = f", last said: {said}" if said else ", nothing on its stderr"
    status = sim.poll()
    if status is None:
        return f"the simulator (pid {sim.pid}) is running{said}"
    return f"the simulator exited with status {status}{said}"


def _die_with_parent(parent_pid: int) -> None:
    """In the child, before exec: ask Linux to SIGKILL it when its parent dies, so a
    SIGKILLed ``plantar demo`` leaves no simulator behind (``PR_SET_PDEATHSIG``)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal as _signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, int(_signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def demo_summary(runtime: Any) -> dict[str, Any]:
    """The one-line JSON summary of a demo run."""
    rec = runtime.final_recording or {}
    written = rec.get("frames_written") or {}
    link = rec.get("frames_lost_link") or {}
    dropped = rec.get("frames_dropped") or {}
    pipeline = runtime.pipeline
    return {
        "session_id": rec.get("session_id"),
        "steps": rec.get("steps") or dict(pipeline.steps_total),
        "frames_recorded": sum(written.values()),
        "frames_lost": sum(link.values()) + sum(dropped.values()),
        "frames_recorded_per_foot": written,
        "frames_lost_link": link,
        "frames_dropped_recorder": dropped,
        "alerts": [a.get("kind") for a in runtime.hub.status()["alerts"]],
        "url": runtime.url,
    }
