"""``plantar layouts``: list the shipped insole layouts."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    """Add the ``layouts`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "layouts",
        help="list the insole layouts shipped with Plantar",
        description="List the insole sensor layouts Plantar knows (sensels, shear sites, regions).",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print every shipped layout, as a table or as JSON."""
    from hardware.layout import REGIONS, available_layouts, load_layout

    rows = []
    for layout_id in available_layouts():
        layout = load_layout(layout_id)
        rows.append(
            {
                "id": layout.id,
                "name": layout.name,
                "sensels": layout.n_sensels,
                "shear_sites": [site.name for site in layout.shear_sites],
                "foot_length_mm": layout.foot_length_mm,
                "eu_size": layout.eu_size,
                "calibration_id": layout.calibration_id,
                "provenance": layout.provenance,
                "regions": {r: int(layout.region_mask(r).sum()) for r in REGIONS},
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'id':<16} {'sensels':>7} {'shear':>5}  {'provenance':<17} name")
    for row in rows:
        print(
            f"{row['id']:<16} {row['sensels']:>7} {len(row['shear_sites']):>5}  "
            f"{row['provenance']:<17} {row['name']}"
        )
    return 0
