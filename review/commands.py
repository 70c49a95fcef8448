"""``plantar compare`` and ``plantar report``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


class StatusLine:
    """A one-line progress status on stderr (``\\r``-updated on a terminal, a line at most
    every 2 s otherwise); never on stdout, so ``--json`` output stays clean."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._width = 0

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < 2.0 and done < total:
            return
        self._last = now
        text = f"plantar: [{done}/{total}] {label}"
        if self.tty:
            pad = max(self._width - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End the status line."""
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


def register(sub: Any) -> None:
    """Add ``compare`` and ``report`` to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "compare",
        help="compare shoe/sock conditions: effect sizes with 95%% CIs, risk per km",
        description=(
            "Compare conditions (e.g. shoe x sock) of one runner at matched treadmill speed: "
            "per-region per-step distributions, effect sizes with bootstrap 95%% CIs and the "
            "blister-risk index change per km (relative index, no clinical threshold). The "
            "first steps of each foot in every session are discarded as acclimatisation."
        ),
    )
    p.add_argument(
        "--by", default="shoe,sock", help="keys that define a condition (default shoe,sock)"
    )
    p.add_argument("--athlete", help="only this athlete's sessions")
    p.add_argument("--discard-steps", type=int, default=30, help="acclimatisation steps per foot")
    p.add_argument(
        "--min-steps", type=int, default=60, help="fewest steps per condition for a number"
    )
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=12345, help="bootstrap random seed")
    p.add_argument("--metric", action="append", help="only metrics whose name contains this")
    p.add_argument("--no-cache", action="store_true", help="recompute every session")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_compare)

    p = sub.add_parser(
        "report",
        help="write one self-contained HTML report of a session (opens offline)",
        description="Write maps, trends, data quality and a plain-language summary of one "
        "session into a single HTML file with embedded images.",
    )
    p.add_argument("session", help="session id (or a unique prefix)")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument("--no-cache", action="store_true", help="recompute the session")
    p.set_defaults(handler=run_report)


def run_compare(args: argparse.Namespace) -> int:
    """Print the comparison of every pair of conditions."""
    from review.compare import CompareOptions, compare, public

    by = tuple(k.strip() for k in args.by.split(",") if k.strip())
    opts = CompareOptions(
        by=by,
        athlete=args.athlete,
        discard_steps=args.discard_steps,
        min_steps=args.min_steps,
        n_boot=args.n_boot,
        seed=args.seed,
    )
    status = StatusLine()
    try:
        result = public(compare(opts, progress=status, use_cache=not args.no_cache))
    finally:
        status.done()
    if args.metric:
        for c in result["comparisons"]:
            c["metrics"] = [m for m in c["metrics"] if any(s in m["metric"] for s in args.metric)]
    if args.json:
        print(json.dumps(result))
        return 0
    if not result["comparisons"]:
        print(
            f"nothing to compare: {len(result['conditions'])} condition(s) by {','.join(by)} "
            "(comparisons are within one athlete and one treadmill speed)"
        )
        return 0
    for c in result["comparisons"]:
        speed = f"{c['speed_kmh']} km/h" if c["speed_matched"] else "speed unknown (not matched)"
        print(f"A = {c['a']}  vs  B = {c['b']}   athlete {c['athlete'] or '-'}, {speed}")
        print(
            f"  steps after acclimatisation: A {c['steps']['a']}, B {c['steps']['b']}; "
            f"bootstrap: {c['bootstrap']['level']}"
        )
        if c.get("note"):
            print(f"  note: {c['note']}")
        for m in c["metrics"]:
            name = f"{m['metric']} ({m['unit']})"
            if m["status"] != "ok":
                extra = f" (n={m['n_a']}/{m['n_b']}, need {m.get('need')})" if m.get("need") else ""
                print(f"  {name:<44} {m['status']}{extra}")
                continue
            ci = m["effect_ci"] or [float("nan")] * 2
            pct = m.get("pct_change")
            line = f"  {name:<44} A−B {m['effect']:+.4g} [{ci[0]:+.4g}, {ci[1]:+.4g}]"
            if pct is not None:
                line += f"  B vs A {pct:+.1f} %"
            if m.get("per_km_change") is not None:
                k = m["per_km_change_ci"] or [float("nan")] * 2
                line += f"  per km {m['per_km_change']:+.4g} [{k[0]:+.4g}, {k[1]:+.4g}]"
            if m.get("proxy"):
                line += "  (proxy)"
            print(line)
    print("risk dose: relative index, no clinical threshold")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the HTML report of one session."""
    from review.cache import get_review
    from review.report import render_report

    status = StatusLine()
    steps = ["loading frames", "analysing steps", "building maps", "data quality"]

    def tick(label: str) -> None:
        status(steps.index(label) if label in steps else 0, len(steps), label)

    try:
        review = get_review(args.session, use_cache=not args.no_cache, progress=tick)
        html = render_report(review)
    finally:
        status.done()
    out = Path(args.output).expanduser()
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as err:
        from base.errors import PlantarError

        raise PlantarError(f"cannot write {out}: {err.strerror}; choose another -o path") from err
    print(f"wrote {out} ({len(html) / 1e6:.1f} MB): session {review.session_id}")
    return 0
