"""The one-line verdict of a comparison pair, in plain words with its CI and what stands
behind it: ``"sock B: twist at push-off 18 % lower [9, 27] vs sock A, 3 sessions each,
1,140 and 1,152 steps"``. The headline metric is the pivot (twist at push-off, the
blister-related quantity of this project); the CI is the block-bootstrap CI of
:mod:`review.compare`."""

from __future__ import annotations

from typing import Any

from review.labels import metric_words, number

#: Metric groups tried in order for the headline.
HEADLINE_GROUPS = ("pivot", "pressure")


def _pct_words(pct: float, ci: list[float] | None) -> str:
    lower = pct < 0
    word = "lower" if lower else "higher"
    if ci is None:
        return f"{abs(pct):.0f} % {word}"
    lo, hi = (-ci[1], -ci[0]) if lower else (ci[0], ci[1])
    return f"{abs(pct):.0f} % {word} [{lo:.0f}, {hi:.0f}]"


def _sessions(pair: dict[str, Any]) -> str:
    na, nb = len(pair["sessions"]["a"]), len(pair["sessions"]["b"])
    if na == nb:
        return f"{na} session{'s' if na != 1 else ''} each"
    return f"{na} and {nb} sessions"


def pair_verdict(pair: dict[str, Any]) -> dict[str, Any]:
    """Verdict of one comparison (``compare()["comparisons"][i]``): ``text``, ``metric``,
    ``pct_change``, ``pct_change_ci``, ``clear`` (the CI excludes no change)."""
    steps = f"{pair['steps']['a']:,} and {pair['steps']['b']:,} steps"
    behind = f"{_sessions(pair)}, {steps}"
    for group in HEADLINE_GROUPS:
        rows = [m for m in pair["metrics"] if m["group"] == group and m["status"] == "ok"]
        rows = [m for m in rows if m.get("pct_change") is not None]
        if not rows:
            continue
        m = rows[0] if group == "pivot" else max(rows, key=lambda r: abs(r["pct_change"]))
        ci = m.get("pct_change_ci")
        clear = bool(ci and (ci[0] > 0 or ci[1] < 0))
        what = metric_words(m["metric"])
        change = _pct_words(m["pct_change"], ci)
        text = (
            f"{pair['b']}: {what} {change} vs {pair['a']}, {behind}"
            if clear
            else f"no clear difference between {pair['b']} and {pair['a']} in {what}: "
            f"{change} (95 % CI includes no change), {behind}"
        )
        if m.get("proxy"):
            text += " (estimate from pressure: this insole has no shear sensors)"
        return {
            "text": text,
            "metric": m["metric"],
            "pct_change": m["pct_change"],
            "pct_change_ci": ci,
            "clear": clear,
            "mean_a": number(m.get("mean_a"), m["unit"]),
            "mean_b": number(m.get("mean_b"), m["unit"]),
        }
    need = next((m["need"] for m in pair["metrics"] if m.get("need")), None)
    return {
        "text": f"{pair['b']} vs {pair['a']}: too few steps to compare ({behind}"
        + (f"; need {need} steps per condition" if need else "")
        + ")",
        "metric": None,
        "pct_change": None,
        "pct_change_ci": None,
        "clear": False,
    }
