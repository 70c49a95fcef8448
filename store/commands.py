"""``plantar import``, ``plantar export`` and ``plantar sessions`` (``plantar archive``:
:mod:`analysis.archive_command`, which adds the per-step analysis)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

IMPORT_FORMATS = ("auto", "moticon", "pedar", "gaitpdb", "fukuchi", "c3d")


def register(sub: Any) -> None:
    """Add the store's subcommands to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "import",
        help="import a recording from another insole system as a session",
        description=(
            "Import a Moticon OpenGo text export, a pedar ASCII .asc, a PhysioNet gaitpdb "
            ".txt, a Fukuchi 2017 running *forces.txt or a C3D force platform as a session, "
            "converting to kPa, N, mm on the way in (force plates: split into feet)."
        ),
    )
    p.add_argument("file", help="file to import")
    p.add_argument("--format", default="auto", help=f"one of: {', '.join(IMPORT_FORMATS)}")
    _meta_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_import)

    p = sub.add_parser(
        "export",
        help="export a session as CSV or Parquet",
        description=(
            "Write a session as one table, one row per sample per foot, units in the "
            "column names (p001_kpa, t_s); events go to <name>-events.<ext>."
        ),
    )
    p.add_argument("session", help="session id (or a unique prefix of it)")
    p.add_argument("--format", default="csv", help="parquet or csv (default csv)")
    p.add_argument("-o", "--output", required=True, help="output file")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_export)

    p = sub.add_parser(
        "sessions",
        help="list recorded and imported sessions",
        description="List the sessions in the catalog (recovering interrupted ones first).",
    )
    p.add_argument("--athlete", help="only this athlete")
    p.add_argument("--shoe", help="only this shoe")
    p.add_argument("--sock", help="only this sock")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_sessions)


def _meta_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--athlete", default="", help="athlete name or code")
    p.add_argument("--shoe", default="", help="shoe model")
    p.add_argument("--sock", default="", help="sock")
    p.add_argument("--notes", default="", help="free text")
    p.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    p.add_argument("--treadmill-speed-kmh", type=float, help="treadmill speed, km/h")
    p.add_argument("--treadmill-incline-pct", type=float, help="treadmill incline, %%")


def recover_and_report() -> None:
    """Recover interrupted sessions, one stderr line each (before reading the store)."""
    from store.recovery import recover_interrupted

    for report in recover_interrupted():
        print(f"plantar: {report.message()}", file=sys.stderr)


def run_import(args: argparse.Namespace) -> int:
    """Import one file and print the new session."""
    from pathlib import Path

    from store.errors import ImportFormatError
    from store.importers import import_file
    from store.session import SessionMeta

    if args.format not in IMPORT_FORMATS:
        raise ImportFormatError(
            f"unknown import format {args.format!r}; use one of: {', '.join(IMPORT_FORMATS)}"
        )
    recover_and_report()
    meta = SessionMeta(
        athlete=args.athlete,
        shoe=args.shoe,
        sock=args.sock,
        notes=args.notes,
        tags=list(args.tag),
        treadmill_speed_kmh=args.treadmill_speed_kmh,
        treadmill_incline_pct=args.treadmill_incline_pct,
    )
    from base.progress import progress

    with progress(f"importing {Path(args.file).name}", quiet=args.json) as bar:
        result = import_file(
            Path(args.file),
            fmt=args.format,
            meta=meta,
            progress=(lambda done, total: bar.update(done, total=total)) if bar.shown else None,
        )
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        rep = result.report
        print(
            f"imported {args.file} as session {result.session_id} ({result.fmt}, "
            f"{rep.frames} frames, {rep.duration_s:.1f} s, {rep.events} events)"
        )
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export one session."""
    from pathlib import Path

    from store.export import export_session

    summary = export_session(args.session, args.format, Path(args.output))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"exported session {summary['session']}: {summary['rows']} rows to {args.output}")
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    """List the catalog."""
    from store.catalog import Catalog

    recover_and_report()
    catalog = Catalog()
    catalog.sync_from_disk()
    rows = catalog.list_sessions(athlete=args.athlete, shoe=args.shoe, sock=args.sock)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        f"{'id':<21} {'status':<9} {'source':<15} {'athlete':<12} {'shoe':<14} {'sock':<10} "
        f"{'duration':>9} {'frames':>8} {'gaps':>5}"
    )
    for r in rows:
        print(
            f"{r['id']:<21} {r['status']:<9} {r['source']:<15} {r['athlete'][:12]:<12} "
            f"{r['shoe'][:14]:<14} {r['sock'][:10]:<10} {r['duration_s']:>8.1f}s "
            f"{r['frames_left'] + r['frames_right']:>8} {r['gap_frames']:>5}"
        )
    return 0
