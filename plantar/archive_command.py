"""``plantar archive --to URI``: send finalised sessions to a directory or an S3 bucket.

Sessions go as hive-partitioned Parquet (:mod:`store.archive`), each committed by a small
manifest written last, with the per-step analysis (:mod:`analysis.archive_command`). S3
settings come from ``[archive]`` of ``plantar.toml`` and else the AWS_* variables, never
from the command line. ``--to`` defaults to ``archive.to``. Also used by ``plantar run``
(push on finalise, with a backlog retried while the network is down).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``plantar archive`` to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "archive",
        help="send finalised sessions to a partitioned Parquet archive (directory or S3)",
        description=(
            "Send every finalised session to URI (a directory or s3://bucket/prefix) as "
            "URI/athlete=<a>/date=<YYYY-MM-DD>/session=<id>/upload=<u>/ (frames, events, a "
            "sessions.parquet row of catalog metadata and a steps.parquet of per-step "
            "metrics), each committed by URI/_manifests/<id>.json, for DuckDB, Spark or Dask. "
            "Sessions already archived with the same content are skipped; an interrupted "
            "run resumes; the store is never modified. S3 endpoint, region and credentials: "
            "[archive] of plantar.toml, else AWS_ENDPOINT_URL, AWS_REGION, "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY."
        ),
    )
    p.add_argument("--to", metavar="URI", help="directory or s3://bucket/prefix (archive.to)")
    p.add_argument("--athlete", help="only this athlete's sessions")
    p.add_argument(
        "--no-steps", action="store_true", help="skip the per-step analysis (steps.parquet)"
    )
    p.add_argument("--config", help="plantar.toml to read [archive] from")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_archive)


def s3_settings(archive: Any) -> Any:
    """:class:`store.archive_fs.S3Settings` of an ``[archive]`` configuration."""
    from store.archive_fs import S3Settings

    return S3Settings(
        endpoint_url=archive.endpoint_url,
        region=archive.region,
        access_key_id=archive.access_key_id,
        secret_access_key=archive.secret_access_key,
    )


def run_archive(args: argparse.Namespace) -> int:
    """Archive finalised sessions; 0 when every one is committed."""
    from analysis.archive_command import push_sessions
    from base.errors import ConfigError
    from base.progress import progress
    from plantar.config import load_config
    from store.archive_fs import open_target
    from store.commands import recover_and_report

    cfg = load_config(args.config)
    uri = args.to or cfg.archive.to
    if not uri:
        raise ConfigError(
            "archive: no destination; give --to DIR or --to s3://bucket/prefix, "
            "or set archive.to in plantar.toml"
        )
    recover_and_report()
    target = open_target(uri, s3_settings(cfg.archive))
    with_steps = not args.no_steps and cfg.archive.steps
    with progress(f"archiving to {uri}", quiet=args.json) as bar:

        def one_more(session_id: str) -> None:
            bar.advance(1)
            bar.update(label=f"archived {session_id}")

        report = push_sessions(
            target, with_steps=with_steps, athlete=args.athlete, on_session=one_more
        )
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
        f"({len(report.skipped)} already there, unchanged; {report.bytes_sent:,} bytes sent)"
    )
    return 0
