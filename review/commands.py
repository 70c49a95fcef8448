"""``plantar compare`` and ``plantar report``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from base.progress import progress


def register(sub: Any) -> None:
    """Add ``compare`` and ``report`` to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "compare",
        help="compare shoe/sock conditions: effect sizes with 95 %% CIs, risk per km",
        description=(
            "Compare conditions (e.g. shoe x sock) of one runner at matched treadmill speed: "
            "per-region per-step distributions, effect sizes with bootstrap 95 % CIs and the "
            "blister-risk index change per km (relative index, no clinical threshold). The "
            "first steps of each foot in every session are discarded as acclimatisation."
        ),
    )
    _compare_options(p)
    p.add_argument("--metric", action="append", help="only metrics whose name contains this")
    p.add_argument("--no-cache", action="store_true", help="recompute every session")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_compare)

    p = sub.add_parser(
        "report",
        help="write a runner's report of a session, or of a shoe/sock comparison (HTML + PDF)",
        description="Write one self-contained HTML file (opens offline) and a PDF next to it "
        "(printed by headless Chromium): a session in plain words with a technical appendix, "
        "or with --compare the verdict of every shoe/sock pair with its 95 % CI.",
    )
    p.add_argument("session", nargs="?", help="session id (or a unique prefix)")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument(
        "--compare", action="store_true", help="report the comparison of conditions instead"
    )
    _compare_options(p)
    p.add_argument("--pdf", help="PDF file to write (default: the HTML path with .pdf)")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    p.add_argument("--no-cache", action="store_true", help="recompute the sessions")
    p.set_defaults(handler=run_report)

    p = sub.add_parser(
        "tag",
        help="fix a session's athlete, shoe, sock or note after the run",
        description="Set the athlete, shoe, sock or note of a stored session (session.json "
        "and the catalog); the recording and its cached review are kept.",
    )
    p.add_argument("session", help="session id (or a unique prefix)")
    for name in ("athlete", "shoe", "sock", "note"):
        p.add_argument(f"--{name}", help=f"new {name}")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler=run_tag)


def run_tag(args: argparse.Namespace) -> int:
    """Set the tags given on the command line."""
    from base.errors import PlantarError
    from review.tagging import TAG_FIELDS, tag_session
    from store.export import find_session

    tags = {k: getattr(args, k) for k in TAG_FIELDS if getattr(args, k) is not None}
    if not tags:
        raise PlantarError("nothing to change; give --athlete, --shoe, --sock or --note")
    result = tag_session(find_session(args.session, None), **tags)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"session {result['id']}: athlete {result['athlete'] or '–'}, shoe "
            f"{result['shoe'] or '–'}, sock {result['sock'] or '–'}, note {result['note'] or '–'}"
        )
    return 0


def _compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--by", default="shoe,sock", help="keys that define a condition (default shoe,sock)"
    )
    p.add_argument("--athlete", help="only this athlete's sessions")
    p.add_argument(
        "--reference", help="condition every other is compared against, e.g. 'shoe1 / A'"
    )
    p.add_argument("--discard-steps", type=int, default=30, help="acclimatisation steps per foot")
    p.add_argument(
        "--min-steps", type=int, default=60, help="fewest steps per condition for a number"
    )
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=12345, help="bootstrap random seed")


def _options(args: argparse.Namespace) -> Any:
    from review.compare import CompareOptions

    return CompareOptions(
        by=tuple(k.strip() for k in args.by.split(",") if k.strip()),
        athlete=args.athlete,
        reference=args.reference,
        discard_steps=args.discard_steps,
        min_steps=args.min_steps,
        n_boot=args.n_boot,
        seed=args.seed,
    )


def run_compare(args: argparse.Namespace) -> int:
    """Print the comparison of every pair of conditions."""
    from review.compare import compare, public
    from review.labels import number
    from review.verdict import pair_verdict

    opts = _options(args)
    by = opts.by
    with progress("comparing", quiet=args.json) as bar:
        result = public(compare(opts, progress=bar.step, use_cache=not args.no_cache))
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
        print(f"  verdict: {pair_verdict(c)['text']}")
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
            line = f"  {name:<44} A−B {number(m['effect'])} [{number(ci[0])}, {number(ci[1])}]"
            if pct is not None:
                line += f"  B vs A {pct:+.1f} %"
            if m.get("per_km_change") is not None:
                k = m["per_km_change_ci"] or [float("nan")] * 2
                line += f"  per km {number(m['per_km_change'])} [{number(k[0])}, {number(k[1])}]"
            if m.get("proxy"):
                line += "  (proxy)"
            print(line)
    print("risk dose: relative index, no clinical threshold")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the HTML report (and its PDF) of one session or of a comparison."""
    from base.errors import PlantarError

    if args.compare == bool(args.session):
        raise PlantarError(
            "give either a session id or --compare, e.g. `plantar report SESSION -o r.html` or "
            "`plantar report --compare --by shoe,sock -o r.html`"
        )
    out = Path(args.output).expanduser()
    html, what = _compare_html(args) if args.compare else _session_html(args)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as err:
        raise PlantarError(f"cannot write {out}: {err.strerror}; choose another -o path") from err
    print(f"wrote {out} ({len(html) / 1e6:.1f} MB): {what}")
    if not args.no_pdf:
        from review.pdf import html_to_pdf

        pdf = Path(args.pdf).expanduser() if args.pdf else out.with_suffix(".pdf")
        with progress("printing the PDF"):
            html_to_pdf(html, pdf)
        print(f"wrote {pdf}")
    return 0


def _session_html(args: argparse.Namespace) -> tuple[str, str]:
    from review.cache import get_review
    from review.report import render_report

    steps = ["loading frames", "analysing steps", "building maps", "data quality"]
    with progress("reviewing", total=len(steps) + 1) as bar:
        review = get_review(
            args.session,
            use_cache=not args.no_cache,
            progress=lambda label: bar.update(
                steps.index(label) if label in steps else 0, label=label
            ),
        )
        bar.update(len(steps), label="drawing")
        html = render_report(review)
    return html, f"session {review.session_id}"


def _compare_html(args: argparse.Namespace) -> tuple[str, str]:
    from review.compare import compare, difference_maps, public
    from review.compare_report import render_compare_report

    opts = _options(args)
    with progress("comparing") as bar:
        cmp = compare(opts, progress=bar.step, use_cache=not args.no_cache)
        maps = [difference_maps(cmp, i, opts.discard_steps) for i in range(len(cmp["comparisons"]))]
        html = render_compare_report(public(cmp), maps)
    return html, f"{len(cmp['comparisons'])} comparison(s) by {','.join(opts.by)}"
