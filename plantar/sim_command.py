"""``plantar sim``: simulated insoles on pseudo-terminals.

The simulated insoles are ordinary devices (as BrainFlow's synthetic board sits beside
real boards): they speak the wire protocol of ``hardware/PROTOCOL.md`` on a
pseudo-terminal, so any bridge reads them exactly as it reads a USB insole.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from typing import Any


def register(sub: Any) -> None:
    """Add the ``sim`` subcommand to ``sub`` (an argparse subparsers object)."""
    from hardware.sim.gait_model import STRIKE_PATTERNS

    p = sub.add_parser(
        "sim",
        help="run simulated insoles on pseudo-terminals",
        description=(
            "Run one or two simulated insoles that speak the Plantar wire protocol on "
            "pseudo-terminals, and print their device paths so a bridge can read them "
            "like real USB insoles. Runs until Ctrl-C or --duration."
        ),
    )
    device = p.add_argument_group("device")
    device.add_argument(
        "--feet", choices=("both", "left", "right"), default="both", help="insoles to run"
    )
    device.add_argument("--layout", default="plantar-ref", help="layout id or file (see layouts)")
    device.add_argument("--size", type=float, default=None, metavar="EU", help="EU shoe size")
    device.add_argument(
        "--rate", type=float, default=200.0, metavar="HZ", help="sampling rate (Hz)"
    )
    device.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    device.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    device.add_argument(
        "--firmware-core",
        action="store_true",
        help="encode the frames with the C reference firmware core (hardware/firmware, "
        "built with gcc on first use) instead of the Python encoder; same bytes",
    )
    gait = p.add_argument_group("runner")
    gait.add_argument("--speed", type=float, default=3.3, metavar="M_S", help="speed (m/s)")
    gait.add_argument(
        "--cadence", type=float, default=172.0, metavar="SPM", help="cadence (steps/min)"
    )
    gait.add_argument(
        "--contact-time", type=float, default=0.25, metavar="S", help="ground contact time (s)"
    )
    gait.add_argument("--strike", choices=STRIKE_PATTERNS, default="rearfoot", help="foot strike")
    gait.add_argument("--body-mass", type=float, default=70.0, metavar="KG", help="body mass (kg)")
    gait.add_argument(
        "--pivot",
        type=float,
        default=None,
        metavar="KPA",
        help="peak rotational shear of the pivot, fresh (kPa; default: the simulator's, "
        "calibrated to the ~10 N·m free-moment peak of real treadmill running)",
    )
    gait.add_argument(
        "--fatigue-onset-min",
        type=float,
        default=30.0,
        metavar="MIN",
        help="minutes before pivot and medial forefoot load start to grow",
    )
    gait.add_argument(
        "--fatigue-ramp-min",
        type=float,
        default=10.0,
        metavar="MIN",
        help="minutes over which fatigue grows to its full effect",
    )
    gait.add_argument(
        "--fatigue-gain",
        type=float,
        default=None,
        metavar="X",
        help="growth of the pivot at full fatigue (1.0 = doubles; default: the simulator's)",
    )
    imperfect = p.add_argument_group("imperfections")
    imperfect.add_argument(
        "--loss", type=float, default=None, metavar="P", help="probability a frame is lost"
    )
    imperfect.add_argument(
        "--noise", type=float, default=None, metavar="KPA", help="pressure noise SD (kPa)"
    )
    imperfect.add_argument(
        "--clock-ppm", type=float, default=None, metavar="PPM", help="device clock drift (ppm)"
    )
    imperfect.add_argument(
        "--ideal", action="store_true", help="no noise, loss, dead sensel or asymmetry"
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--ground-truth",
        default=None,
        metavar="PATH",
        help="write the per-step ground truth (JSON lines) here when the simulator stops",
    )
    out.add_argument(
        "--json",
        action="store_true",
        help="print the device paths, then the final summary, as JSON lines",
    )
    p.set_defaults(handler=run)


def _build_insoles(args: argparse.Namespace) -> list[Any]:
    from base.errors import ConfigError
    from hardware.layout import load_layout
    from hardware.sim import GaitParams, Imperfections, SimulatedInsole, make_pair

    if args.rate <= 0:
        raise ConfigError(f"--rate must be > 0 Hz (got {args.rate:g})")
    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration must be > 0 s (got {args.duration:g})")
    gait = GaitParams(
        speed_mps=args.speed,
        cadence_spm=args.cadence,
        contact_time_s=args.contact_time,
        strike=args.strike,
        body_mass_kg=args.body_mass,
        fatigue_onset_s=args.fatigue_onset_min * 60.0,
        fatigue_ramp_s=args.fatigue_ramp_min * 60.0,
        **({} if args.fatigue_gain is None else {"fatigue_pivot_gain": args.fatigue_gain}),
        **({} if args.pivot is None else {"pivot_shear_kpa": args.pivot}),
    )
    layout = load_layout(args.layout, eu_size=args.size)
    overrides = {
        name: value
        for name, value in (
            ("loss_probability", args.loss),
            ("noise_kpa", args.noise),
            ("clock_ppm", args.clock_ppm),
        )
        if value is not None
    }
    common = {"gait": gait, "sampling_rate_hz": args.rate, "seed": args.seed}
    if args.ideal or overrides:
        base = Imperfections.none() if args.ideal else Imperfections()
        common["imperfections"] = dataclasses.replace(base, **overrides)
    if args.feet == "both":
        insoles = list(make_pair(layout, **common))
    else:
        device_id = 1 if args.feet == "left" else 2
        insoles = [SimulatedInsole(layout, foot=args.feet, device_id=device_id, **common)]
    if getattr(args, "firmware_core", False):
        from hardware.firmware_core import use_firmware_core

        insoles = list(use_firmware_core(insoles))
    return insoles


def run(args: argparse.Namespace) -> int:
    """Serve the simulated insoles until Ctrl-C or ``--duration``; 0 on a clean stop."""
    from hardware.sim import write_ground_truth_jsonl
    from hardware.sim.pty_device import serve_on_pty

    insoles = _build_insoles(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_ready(paths: list[str]) -> None:
        named = {ins.foot: path for ins, path in zip(insoles, paths, strict=True)}
        if args.json:
            print(json.dumps({"devices": named}), flush=True)
            return
        for ins, path in zip(insoles, paths, strict=True):
            print(f"{ins.foot:<5} insole (device {ins.device_id}, {ins.layout.id}): {path}")
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"streaming at {args.rate:g} Hz {until}", flush=True)

    try:
        stats = serve_on_pty(insoles, duration_s=args.duration, on_ready=on_ready, stop_event=stop)
    except KeyboardInterrupt:
        stats = []
    steps = [s for ins in insoles for s in ins.ground_truth]
    if args.ground_truth:
        write_ground_truth_jsonl(sorted(steps, key=lambda s: s.heel_strike_s), args.ground_truth)
    summary = {
        "steps": {ins.foot: len(ins.ground_truth) for ins in insoles},
        "frames_sent": {ins.foot: ins.next_seq for ins in insoles},
        "bytes_dropped_unread": {
            ins.foot: st.bytes_dropped for ins, st in zip(insoles, stats, strict=False)
        },
    }
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"stopped: {json.dumps(summary)}", file=sys.stderr)
    return 0
