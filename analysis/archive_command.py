"""``plantar archive``: the store's partitioned Parquet archive, with the per-step analysis.

The archive (:mod:`store.archive`) copies sessions; the step rows of ``steps.parquet``
come from here (:func:`session_steps`), so that the store computes no metric.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``plantar archive`` to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "archive",
        help="archive finalised sessions as a partitioned Parquet dataset",
        description=(
            "Copy every finalised session into DIR/athlete=<a>/date=<YYYY-MM-DD>/session=<id>/ "
            "(frames, events, a sessions.parquet row of catalog metadata and a steps.parquet "
            "of per-step pivot), for DuckDB, Spark or Dask. Sessions already archived with "
            "the same content are skipped; the store is never modified."
        ),
    )
    p.add_argument("--to", required=True, metavar="DIR", help="archive directory")
    p.add_argument("--athlete", help="only this athlete's sessions")
    p.add_argument(
        "--no-steps", action="store_true", help="skip the per-step analysis (steps.parquet)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_archive)


def session_steps(directory: Path) -> list[dict[str, Any]]:
    """Step rows of one finalised session directory (no hot spots: the archive keeps none);
    a force-plate session gives its steps with the measured free moment."""
    from analysis.analyzer import analyze_recording
    from analysis.force_plate_steps import analyze_plate, load_plate
    from store.session_reader import read_session

    plate = load_plate(str(directory))
    if plate is not None:
        plate_steps: list[dict[str, Any]] = analyze_plate(plate)["steps"]
        return plate_steps
    rec = read_session(directory)
    out = analyze_recording(
        rec.feet,
        rec.layouts,
        yaw_rate_dps=rec.yaw_rate_dps,
        speed_mps=rec.speed_mps,
        hotspots=False,
    )
    steps: list[dict[str, Any]] = out["steps"]
    return steps


def run_archive(args: argparse.Namespace) -> int:
    """Archive finalised sessions into a partitioned Parquet dataset."""
    from store.archive import archive_sessions
    from store.commands import recover_and_report

    recover_and_report()
    steps_of = None if args.no_steps else session_steps
    report = archive_sessions(Path(args.to), athlete=args.athlete, steps_of=steps_of)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    for session_id, error in report.steps_errors.items():
        print(f"plantar: session {session_id}: no steps.parquet rows ({error})", file=sys.stderr)
    if report.not_finalised:
        print(
            f"plantar: {len(report.not_finalised)} session(s) still recording, not archived: "
            + ", ".join(report.not_finalised[:5]),
            file=sys.stderr,
        )
    print(
        f"archived {len(report.archived)} session(s) to {report.destination} "
        f"({len(report.skipped)} already there, unchanged)"
    )
    return 0
