"""``plantar analyze``, ``plantar bench`` and ``plantar warmup``."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from base.units import kmh_to_mps


def register(sub: Any) -> None:
    """Add the analysis subcommands to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "analyze",
        help="analyse a session: steps, pivot at toe-off, hot spots, risk, fatigue",
        description=(
            "Analyse a stored session (id or unique prefix) or a recording file (Moticon, "
            "pedar, gaitpdb): gait events, per-step metrics, pivot at toe-off, hot spots, "
            "blister-risk index (relative index, no clinical threshold) and fatigue trend. "
            "A force-plate session or file gives steps and the measured free moment."
        ),
    )
    p.add_argument("session", help="session id (or a unique prefix), or a path to a file")
    p.add_argument("--speed-kmh", type=float, help="running speed, for the risk index per km")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_analyze)

    p = sub.add_parser(
        "bench",
        help="measure the analysis kernels (ratios measured in one run)",
        description="Benchmark the analysis: headroom at 1024 sensels, speed-up vs NumPy, "
        "memory bandwidth fraction of the batch pass, warm start time.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quick", action="store_true", help="smaller arrays (for a smoke test)")
    p.set_defaults(handler=run_bench)

    p = sub.add_parser(
        "validate",
        help="gait event detectors against real recordings: the validation table",
        description=(
            "Run every foot contact event detector over every recording under DATA "
            "(Moticon, pedar, gaitpdb, Fukuchi force files, C3D force plates) and compare "
            "heel strike and toe-off with the file's annotations or a stated force threshold "
            "(docs/metrics.md, 'Validation of gait events')."
        ),
    )
    p.add_argument(
        "--data",
        help="folder of recordings (default: ../shared/data beside the project, if present)",
    )
    p.add_argument("--detector", action="append", help="detector name (repeatable; default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_validate)

    p = sub.add_parser(
        "warmup",
        help="compile every analysis kernel ahead of time",
        description="Compile the numba kernels of the analysis into numba's on-disk cache, "
        "so that the first run starts analysing at once, then build them ahead of time into "
        "one extension module (needs gcc, g++ and Python's headers: apt install g++ python3-dev) "
        "that the live process loads instead of numba: about 110 MB less memory. Without "
        "a compiler the live process compiles with numba, as before.",
    )
    p.add_argument(
        "--out",
        help="folder of the ahead-of-time build (default: PLANTAR_AOT_DIR, "
        "else plantar-aot in NUMBA_CACHE_DIR, else ~/.cache/plantar/aot)",
    )
    p.add_argument("--no-aot", action="store_true", help="fill numba's cache only")
    p.set_defaults(handler=run_warmup)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def run_analyze(args: argparse.Namespace) -> int:
    """Analyse one session and print steps and summary."""
    from analysis.force_plate_steps import analyze_plate, load_plate
    from base.human import number
    from base.progress import progress
    from store.session_reader import load_recording

    with progress(f"analysing {args.session}", quiet=args.json) as bar:
        bar.update(label="loading")
        plate = load_plate(args.session)
        if plate is not None:  # a treadmill force plate: steps and the measured pivot
            bar.update(label="analysing the force plate")
            doc = {**analyze_plate(plate), "source": f"force plate:{args.session}"}
        else:
            data = load_recording(args.session)
            bar.update(label="compiling and analysing steps")
            from analysis.analyzer import analyze_recording

            speed = kmh_to_mps(args.speed_kmh) if args.speed_kmh else data.speed_mps
            doc = analyze_recording(
                data.feet, data.layouts, yaw_rate_dps=data.yaw_rate_dps, speed_mps=speed
            )
            doc["source"] = data.source
            doc["markers"] = data.markers
    if args.json:
        print(json.dumps(_clean(doc)))
        return 0
    s = doc["summary"]
    print(f"{doc['source']}: {s['steps']} steps, cadence {number(s['cadence_spm'], 'steps/min')}")
    ct = s["contact_time_s"]
    ct_text = (
        ", ".join(f"{foot} {number(v, 's')}" for foot, v in ct.items())
        if isinstance(ct, dict)
        else number(ct, "s")
    )
    print(f"contact time: {ct_text}")
    if plate is not None:
        print(f"pivot: {s['pivot']['label']}")
    for region, r in (s.get("risk") or {}).items():
        print(
            f"  blister-risk index {region:<8} {number(r['per_step'], 'per step')} "
            f"({r['kind']}; {r['label']})"
        )
    for flag in s.get("fatigue_flags") or []:
        print(f"  {flag}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    """Print the benchmark ratios."""
    from analysis.bench import run_benchmarks

    result = run_benchmarks(quick=args.quick)
    if args.json:
        print(json.dumps(_clean(result)))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


def run_warmup(args: argparse.Namespace) -> int:
    """Fill numba's cache, then build the kernels ahead of time (:mod:`analysis.aot_build`),
    each in a process of its own that runs numba's jit whatever this one loaded. The build
    compiles into an empty numba cache: a kernel numba loads from its cache does not
    record the argument types of the kernels it calls, so a build from a warm cache would
    hold fewer variants, depending on what was cached before."""
    import os
    import subprocess
    import sys
    import tempfile

    from base.kernels import aot_dir

    module = [sys.executable, "-m", "analysis.aot_build"]
    env = {**os.environ, "PLANTAR_KERNELS": "jit"}
    code = subprocess.run([*module, "--no-aot"], env=env, check=False).returncode
    if code != 0 or args.no_aot:
        return code
    out = args.out or str(aot_dir())
    with tempfile.TemporaryDirectory(prefix="plantar-aot-numba-") as cache:
        argv = [*module, "--aot-only", "--out", out]
        return subprocess.run(argv, env={**env, "NUMBA_CACHE_DIR": cache}, check=False).returncode


def run_validate(args: argparse.Namespace) -> int:
    """Print the event-detector validation table (Markdown) or its JSON document."""
    from pathlib import Path

    from analysis.event_detectors import EVENT_DETECTORS
    from analysis.event_validation import default_data_dir, validate
    from analysis.validation_table import to_markdown
    from base.errors import ConfigError

    root = Path(args.data).expanduser() if args.data else default_data_dir()
    if root is None or not root.is_dir():
        where = args.data or "../shared/data"
        raise ConfigError(f"no folder of recordings at {where}; pass --data DIR")
    unknown = [d for d in args.detector or [] if d not in EVENT_DETECTORS]
    if unknown:
        raise ConfigError(
            f"unknown detector {unknown[0]!r}; use one of: {', '.join(EVENT_DETECTORS)}"
        )
    doc = validate(root, args.detector)
    if not doc["trials"]:
        raise ConfigError(f"{root}: no recording an importer recognises; pass --data DIR")
    if args.json:
        print(json.dumps(_clean(doc)))
    else:
        print(to_markdown(doc), end="")
    return 0
