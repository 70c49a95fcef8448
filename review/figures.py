"""Charts of a :class:`~review.session.SessionReview`, drawn with matplotlib and shared by
the report and the dashboard pages (the foot maps are in :mod:`review.maps`): SVG charts
on the session clock (0 = session start, axes bounded by the session, gaps merged into
spans, every marker inside its plot), averaged per-step curves and box plots.

Every chart is returned with the limits of its x axis as matplotlib drew them, so the
pages can state them (``data-x0``/``data-x1``) and the tests can check them.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from review.labels import series_words
from review.plotting import (
    GAP_COLOUR,
    MARKER_COLOUR,
    PALETTE,
    figure,
    plain_numbers,
    svg_text,
    time_axis,
)
from review.session import SessionReview
from review.timebase import GapSpan, clock_text, merge_gaps


@dataclass
class Chart:
    """One SVG chart and the facts the page and tests read from it."""

    key: str
    svg: str
    x0: float
    x1: float
    markers: list[float] = field(default_factory=list)

    def html(self) -> str:
        """A ``<figure class="chart">`` carrying the x limits as data attributes."""
        return (
            f'<figure class="chart" data-chart="{self.key}" data-x0="{self.x0:g}" '
            f'data-x1="{self.x1:g}">{self.svg}</figure>'
        )


def duration_of(review: SessionReview) -> float:
    """Session duration, s (the end of the session clock)."""
    d = review.data["session"].get("duration_s")
    if d:
        return float(d)
    t = [s["toe_off_s"] for s in review.data["steps"]]
    return float(max(t)) if t else 1.0


def gap_spans(review: SessionReview) -> list[GapSpan]:
    """The session's gaps merged into spans on the session clock."""
    return merge_gaps(review.data["quality"]["gaps"], duration_of(review))


# -- charts ----------------------------------------------------------------------------


def _arr(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _marker(ax: Any, t_s: float, text: str, end_s: float) -> float:
    x = min(max(float(t_s), 0.0), end_s)
    ax.axvline(x, color=MARKER_COLOUR, lw=1.5, ls="--", gid="marker")
    ha = "right" if x > 0.6 * end_s else "left"
    ax.annotate(
        text,
        (x, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-3 if ha == "right" else 3, -3),
        textcoords="offset points",
        ha=ha,
        va="top",
        color=MARKER_COLOUR,
        fontsize=8,
    )
    return x


def time_chart(
    key: str,
    series: list[tuple[str, np.ndarray, np.ndarray]],
    *,
    title: str,
    unit: str,
    duration_s: float,
    spans: list[GapSpan] = (),  # type: ignore[assignment]
    markers: list[tuple[float, str]] = (),  # type: ignore[assignment]
    steps: bool = False,
    size: tuple[float, float] = (7.0, 2.1),
) -> Chart:
    """A chart over the session clock of ``(name, t_s, y)`` series; ``spans`` shade gaps,
    ``markers`` are vertical lines with a label; ``steps`` draws per-interval values."""
    with figure(*size) as fig:
        ax = fig.add_subplot()
        ax.patch.set_gid("plot-area")
        x0, x1 = time_axis(ax, duration_s)
        for s in spans:
            ax.axvspan(
                s.t0_s,
                max(s.t1_s, s.t0_s + x1 / 500),
                color=GAP_COLOUR,
                alpha=0.25,
                lw=0,
                gid="gap",
            )
        drawn = False
        for i, (name, t, y) in enumerate(series):
            ok = np.isfinite(t) & np.isfinite(y) & (t >= x0) & (t <= x1)
            if not ok.any():
                continue
            drawn = True
            colour = PALETTE[i % len(PALETTE)]
            if steps:  # one value per interval (minute): a bar from its start to the next
                ends = np.minimum(np.append(t[1:], t[-1] + 60.0), x1)
                ax.hlines(y[ok], t[ok], ends[ok], color=colour, lw=2.2, label=name)
                ax.plot((t[ok] + ends[ok]) / 2, y[ok], "o", ms=3, color=colour)
            elif ok.sum() > 300:
                ax.plot(t[ok], y[ok], ".", ms=1.5, color=colour, label=name, alpha=0.6)
            else:
                ax.plot(t[ok], y[ok], "-", lw=1.0, color=colour, label=name)
        if not drawn:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
        placed = [_marker(ax, t, text, x1) for t, text in markers if math.isfinite(t)]
        ax.set_ylabel(unit)
        plain_numbers(ax.yaxis)
        ax.set_title(f"{title} ({unit})", loc="left", fontsize=10)
        if len(series) > 1 and drawn:
            ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=len(series))
        lo, hi = ax.get_xlim()
        return Chart(key, svg_text(fig), float(lo), float(hi), placed)


def charts(review: SessionReview) -> dict[str, Chart]:
    """The review's charts on the session clock: per-step series, symmetry per minute and
    the per-minute trends with their change points."""
    d = review.data
    s = d["series"]
    t = _arr(s["t_s"])
    feet = np.array(s["foot"])
    dur = duration_of(review)
    spans = gap_spans(review)
    piv = d["pivot"]
    fatigue = d["fatigue"].get("per_metric") or {}

    def onset(metric: str) -> list[tuple[float, str]]:
        fz = fatigue.get(metric) or {}
        if fz.get("flagged") and fz.get("onset_s") is not None:
            return [(float(fz["onset_s"]), f"change from {clock_text(fz['onset_s'])}")]
        return []

    def by_foot(key: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
        y = _arr(s[key])
        return [(f, t[feet == f], y[feet == f]) for f in ("left", "right") if (feet == f).any()]

    def chart(key: str, series_key: str, data: list, marks: list | None = None) -> Chart:
        title, unit = series_words(series_key)
        return time_chart(
            key,
            data,
            title=title,
            unit=unit or piv["unit"],
            duration_s=dur,
            spans=spans,
            markers=marks or [],
        )

    out = {
        "contact_time": chart(
            "contact_time", "contact_time_s", by_foot("contact_time_s"), onset("contact_time_s")
        ),
        "cadence": chart("cadence", "cadence_spm", [("both feet", t, _arr(s["cadence_spm"]))]),
        "pivot": chart("pivot", piv["series_key"], by_foot("pivot"), onset(piv["series_key"])),
        "forefoot_peak": chart("forefoot_peak", "forefoot_peak_kpa", by_foot("forefoot_peak_kpa")),
    }
    first = float(t[np.isfinite(t)].min()) if np.isfinite(t).any() else 0.0
    sym = d["symmetry_per_minute"]
    minutes = first + 60.0 * np.arange(len(sym.get("contact_time_s", [])))
    out["symmetry"] = time_chart(
        "symmetry",
        [
            ("contact time", minutes, _arr(sym.get("contact_time_s", []))),
            ("peak force", minutes, _arr(sym.get("peak_force_n", []))),
        ],
        title="Left-right difference per minute (0 = symmetric)",
        unit="%",
        duration_s=dur,
        steps=True,
    )
    trends = d["summary"].get("trends_per_minute") or {}
    for name in (piv["series_key"], "contact_time_s", "hotspot_peak_kpa"):
        vals = _arr(trends.get(name, []))
        title, unit = series_words(name)
        out[f"trend:{name}"] = time_chart(
            f"trend:{name}",
            [("median per minute", first + 60.0 * np.arange(len(vals)), vals)],
            title=f"{title}: trend",
            unit=unit,
            duration_s=dur,
            markers=onset(name),
            steps=True,
            size=(4.6, 1.9),
        )
    return out


def step_curves(review: SessionReview, steps: dict[str, np.ndarray] | None = None) -> str:
    """SVG of the averaged per-step curves over stance (force, forefoot peak pressure,
    pivot): mean per foot with a ±1 SD band. ``steps`` (per foot, a boolean mask of its
    steps) limits them to a time range."""
    piv = review.data["pivot"]
    pivot_title = "Twist (free moment)" if piv["kind"] != "proxy" else "CoP sideways shift (proxy)"
    panels = (
        ("force_n", "Force", "N"),
        ("forefoot_kpa", "Forefoot peak pressure", "kPa"),
        ("pivot", pivot_title, "N·mm" if piv["kind"] != "proxy" else "mm"),
    )
    with figure(9.0, 2.4) as fig:
        axes = fig.subplots(1, 3)
        for ax, (name, title, unit) in zip(axes, panels, strict=True):
            drawn = False
            for i, foot in enumerate(review.data["feet"]):
                key = f"{foot}/curve/{name}"
                if key not in review.arrays:
                    continue
                y = review.arrays[key].astype(np.float64)
                if steps is not None and foot in steps:
                    y = y[steps[foot]]
                y = y[np.isfinite(y).all(axis=1)] if y.size else y
                if len(y) < 2:
                    continue
                drawn = True
                x = np.linspace(0.0, 100.0, y.shape[1])
                mean, sd = y.mean(axis=0), y.std(axis=0, ddof=1)
                colour = PALETTE[i % len(PALETTE)]
                ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)
                ax.plot(x, mean, color=colour, lw=1.6, label=f"{foot} (n = {len(y)})")
            if not drawn:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
            ax.set_xlim(0.0, 100.0)
            ax.set_xlabel("% of stance")
            ax.set_ylabel(unit)
            plain_numbers(ax.yaxis)
            ax.set_title(f"{title} ({unit})", loc="left", fontsize=9)
            if drawn:
                ax.legend(fontsize=7, frameon=False)
        return (
            '<figure class="curves" data-chart="step_curves">'
            f"{svg_text(fig)}<figcaption>Mean per-step curves, band: ±1 SD</figcaption></figure>"
        )


def boxplots(
    key: str, groups: list[tuple[str, dict[str, float] | None]], *, title: str, unit: str
) -> str:
    """SVG box plots from quantiles ``p5 p25 p50 p75 p95`` per group (labels wrapped,
    never cut)."""
    with figure(3.4, 2.3) as fig:
        ax = fig.add_subplot()
        stats = []
        for name, q in groups:
            label = textwrap.fill(name, 16)
            if not q or any(q.get(k) is None for k in ("p5", "p25", "p50", "p75", "p95")):
                stats.append(
                    {
                        "label": label + "\n(too few)",
                        "whislo": np.nan,
                        "q1": np.nan,
                        "med": np.nan,
                        "q3": np.nan,
                        "whishi": np.nan,
                    }
                )
                continue
            stats.append(
                {
                    "label": label,
                    "whislo": q["p5"],
                    "q1": q["p25"],
                    "med": q["p50"],
                    "q3": q["p75"],
                    "whishi": q["p95"],
                }
            )
        ax.bxp(stats, showfliers=False, patch_artist=True)
        for i, box in enumerate(ax.patches):
            box.set_facecolor(PALETTE[i % len(PALETTE)] + "55")
        ax.set_ylabel(unit)
        plain_numbers(ax.yaxis)
        ax.set_title(textwrap.fill(title, 40), loc="left", fontsize=9)
        return f'<figure class="box" data-chart="{key}">{svg_text(fig)}</figure>'
