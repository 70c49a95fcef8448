"""The validation document of :mod:`analysis.event_validation` as Markdown: the tables
of docs/metrics.md ("Validation of gait events"), written by ``plantar validate``."""

from __future__ import annotations

from typing import Any

__all__ = ["to_markdown"]


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def to_markdown(doc: dict[str, Any]) -> str:
    """The summary and one table per detector, as Markdown (for docs/metrics.md)."""
    lines = [
        "| detector | trials meeting all bars | phantom | missed | worst HS median ms | "
        "worst TO median ms | lowest % matched |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in doc["summary"].items():
        lines.append(
            f"| `{name}` | {s['trials_meeting_bars']}/{s['trials']} | {s['phantom_steps']} | "
            f"{s['missed_steps']} | {_fmt(s['worst_heel_strike_median_ms'])} | "
            f"{_fmt(s['worst_toe_off_median_ms'])} | {_fmt(s['lowest_matched_pct'])} |"
        )
    lines += [
        "",
        "**References, in the force the detectors read** (median force above the foot's 5th "
        "percentile at the reference's events):",
        "",
        "| file | foot | reference | steps | force at HS N | force at TO N | TO % of peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in doc["trials"]:
        at = t["force_at_reference"]
        steps = next(iter(t["detectors"].values()))["steps_reference"]
        lines.append(
            f"| {t['file']} | {t['foot']} | {t['reference']} | {steps} | "
            f"{_fmt(at['heel_strike_n'])} | {_fmt(at['toe_off_n'])} | "
            f"{_fmt(at['toe_off_pct_of_peak'])} |"
        )
    if doc.get("resampled"):
        names = list(doc["summary"])
        lines += [
            "",
            "**Force plates resampled** (every k-th sample, reference recomputed at that "
            "rate; trials meeting all bars):",
            "",
            "| rate Hz | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for rate in sorted({r["sampling_rate_hz"] for r in doc["resampled"]}):
            rows = [r for r in doc["resampled"] if r["sampling_rate_hz"] == rate]
            met = [sum(r["detectors"][n]["meets_bars"] for r in rows) for n in names]
            lines.append(f"| {rate:g} | " + " | ".join(f"{m}/{len(rows)}" for m in met) + " |")
    for name in doc["summary"]:
        lines += [
            "",
            f"**`{name}`**",
            "",
            "| file | foot | reference | steps | HS med/p90 (bias) ms | TO med/p90 (bias) ms | "
            "% matched | phantom | missed | contact s (ref) | force / file | bars |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in doc["trials"]:
            r = t["detectors"][name]
            hs, to = r["heel_strike_error_ms"], r["toe_off_error_ms"]
            lines.append(
                f"| {t['file']} | {t['foot']} | {t['reference']} | {r['steps_reference']} | "
                f"{_fmt(hs['median'])}/{_fmt(hs['p90'])} ({_fmt(hs['bias'])}) | "
                f"{_fmt(to['median'])}/{_fmt(to['p90'])} ({_fmt(to['bias'])}) | "
                f"{_fmt(r['matched_pct'])} | {r['phantom_steps']} | {r['missed_steps']} | "
                f"{_fmt(r['contact_time_s'])} ({_fmt(r['contact_time_reference_s'])}) | "
                f"{_fmt(t['force_vs_file_column'])} | {'yes' if r['meets_bars'] else 'no'} |"
            )
    return "\n".join(lines) + "\n"
