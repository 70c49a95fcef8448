"""Figures of a :class:`~review.session.SessionReview`: map PNGs per foot and kind, and
the SVG charts (per-step series, fatigue trend, symmetry), shared by the report and
the dashboard pages."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from review.render import (
    DIVERGING,
    SEQUENTIAL,
    FootCanvas,
    css_gradient,
    data_uri_png,
    scale_range,
    svg_series,
)
from review.session import SessionReview

PX_PER_MM = 1.2


def map_png(review: SessionReview, foot: str, kind: str) -> bytes:
    """PNG of one map of one foot (outline, values, colour by the map's min..max)."""
    a = review.arrays
    pfx = f"{foot}/"
    canvas = FootCanvas(a[pfx + "outline_mm"], PX_PER_MM)
    canvas.fill_inside()
    info = review.data["maps"][foot][kind]
    if info["type"] == "grid":
        values = a[pfx + "map/" + kind]
        lo, hi = scale_range(values)
        canvas.grid(a[pfx + "grid_x_mm"], a[pfx + "grid_y_mm"], values, lo, hi, SEQUENTIAL)
    elif info["type"] == "sites":
        values = a[pfx + "sites/" + kind]
        lo, hi = scale_range(values)
        from review.render import colormap

        for (x, y), v in zip(a[pfx + "shear_xy_mm"], values, strict=True):
            if math.isfinite(float(v)):
                rgb = colormap(np.array([(v - lo) / (hi - lo)]), SEQUENTIAL)[0]
                canvas.disc(float(x), float(y), 9.0, (*map(int, rgb), 255))
    elif info["type"] == "lines":
        gait = a[pfx + "gait_line_mm"]
        step = max(1, len(gait) // 150)
        for line in gait[::step]:
            canvas.polyline(line[:, 0], line[:, 1], (150, 150, 150, 255))
        if len(gait):
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(gait, axis=0)
            canvas.polyline(mean[:, 0], mean[:, 1], (0, 0, 0, 255), width=3)
    canvas.outline_path()
    return canvas.png()


def difference_png(
    outline: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray, diff: np.ndarray
) -> tuple[bytes, float, float]:
    """PNG of a difference map (diverging scale, symmetric); returns png, lo, hi."""
    canvas = FootCanvas(outline, PX_PER_MM)
    canvas.fill_inside()
    lo, hi = scale_range(diff, diverging=True)
    canvas.grid(x_mm, y_mm, diff, lo, hi, DIVERGING)
    canvas.outline_path()
    return canvas.png(), lo, hi


def maps_for_page(review: SessionReview) -> dict[str, dict[str, Any]]:
    """Per foot and kind: title, unit, scale (min, max, CSS gradient), proxy label and
    the PNG as a data URI."""
    out: dict[str, dict[str, Any]] = {}
    for foot, kinds in review.data["maps"].items():
        out[foot] = {}
        for kind, info in kinds.items():
            entry = dict(info)
            entry["png"] = data_uri_png(map_png(review, foot, kind))
            if info["type"] in ("grid", "sites"):
                key = f"{foot}/{'map' if info['type'] == 'grid' else 'sites'}/{kind}"
                lo, hi = scale_range(review.arrays[key])
                entry["scale"] = {"min": round(lo, 3), "max": round(hi, 3)}
                entry["gradient"] = css_gradient(SEQUENTIAL)
            out[foot][kind] = entry
    return out


def _arr(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def charts(review: SessionReview) -> dict[str, str]:
    """SVG charts: per-step series (by foot) with gap bands; fatigue trend with onset."""
    d = review.data
    s = d["series"]
    t = _arr(s["t_s"])
    feet = np.array(s["foot"])
    t0 = float(d["fatigue"].get("t0_s") or 0.0)
    bands = [(g["t0_s"] - t0, g["t1_s"] - t0) for g in d["quality"]["gaps"]]
    onset = d["fatigue"].get("onset_s")
    marker = (
        (float(onset) - t0, f"onset: {d['fatigue'].get('onset_metric')}")
        if onset is not None
        else None
    )

    def by_foot(key: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
        y = _arr(s[key])
        return [
            (f, t[feet == f] - t0, y[feet == f]) for f in ("left", "right") if (feet == f).any()
        ]

    piv = d["pivot"]
    out = {
        "contact_time": svg_series(
            by_foot("contact_time_s"), title="Contact time", unit="s", bands=bands
        ),
        "cadence": svg_series(
            [("both", t - t0, _arr(s["cadence_spm"]))],
            title="Cadence",
            unit="steps/min",
            bands=bands,
        ),
        "pivot": svg_series(
            by_foot("pivot"),
            title=f"Pivot: {piv['name']}",
            unit=piv["unit"],
            bands=bands,
            marker=marker if d["fatigue"].get("onset_metric") == piv["series_key"] else None,
        ),
        "forefoot_peak": svg_series(
            by_foot("forefoot_peak_kpa"), title="Forefoot peak pressure", unit="kPa", bands=bands
        ),
    }
    sym = d["symmetry_per_minute"]
    mins = np.arange(len(sym.get("contact_time_s", []))) * 60.0 + 30.0
    out["symmetry"] = svg_series(
        [
            ("contact time", mins, _arr(sym.get("contact_time_s", []))),
            ("peak force", mins, _arr(sym.get("peak_force_n", []))),
        ],
        title="Symmetry index L vs R (per minute; 0 = symmetric)",
        unit="%",
    )
    trends = d["summary"].get("trends_per_minute") or {}
    fat = []
    for name, unit in (
        (piv["series_key"], piv["unit"]),
        ("contact_time_s", "s"),
        ("hotspot_peak_kpa", "kPa"),
    ):
        vals = _arr(trends.get(name, []))
        m = np.arange(len(vals)) * 60.0 + 30.0
        fz = (d["fatigue"]["per_metric"] or {}).get(name) or {}
        mk = (
            (
                float(fz["onset_s"]) - t0,
                f"change from min {int((fz['onset_s'] - t0) // 60)}",
            )
            if fz.get("flagged") and fz.get("onset_s") is not None
            else None
        )
        fat.append(
            svg_series(
                [("per-minute median", m, vals)],
                title=f"Trend and change point: {name}",
                unit=unit,
                marker=mk,
                width=420,
                height=170,
            )
        )
    out["fatigue"] = "".join(fat)
    return out
