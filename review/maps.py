"""Foot maps of a :class:`~review.session.SessionReview`, drawn with matplotlib: PNG data
URIs with a colour bar, on fixed colour scales (peak pressure on the live page's
0-400 kPa, shares on 0-100 %, other kinds on one scale for both feet) or ``auto``, and
the difference maps of a comparison."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from matplotlib.patches import Polygon

from review.plotting import (
    DIFFERENCE_CMAP,
    PRESSURE_CMAP,
    PRESSURE_SCALE_KPA,
    figure,
    plain_numbers,
    png_data_uri,
)
from review.session import SessionReview

#: Fixed colour-scale tops by map kind (``"auto"`` scales each map to its own data):
#: pressure on the live page's 0-400 kPa, shares of steps on 0-100 %. Kinds without a
#: fixed top share one scale between both feet of the session.
FIXED_SCALE_TOP = {"peak_pressure": PRESSURE_SCALE_KPA[1], "hotspot_recurrence": 100.0}
SCALES = ("fixed", "auto")


def _scale(values: np.ndarray, kind: str, scale: str, shared_top: float | None) -> float:
    if scale == "fixed" and kind in FIXED_SCALE_TOP:
        return FIXED_SCALE_TOP[kind]
    if scale == "fixed" and shared_top:
        return shared_top
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    top = float(v.max()) if v.size else 1.0
    return top if top > 0 else 1.0


def _foot_axes(ax: Any, outline: np.ndarray) -> Polygon:
    ax.set_aspect("equal")
    ax.axis("off")
    patch = Polygon(outline, closed=True, facecolor="#ebebeb", edgecolor="none", zorder=0)
    ax.add_patch(patch)
    rim = Polygon(outline, closed=True, facecolor="none", edgecolor="#3c3c3c", lw=1.2, zorder=4)
    ax.add_patch(rim)
    pad = 6.0
    ax.set_xlim(outline[:, 0].min() - pad, outline[:, 0].max() + pad)
    ax.set_ylim(outline[:, 1].min() - pad, outline[:, 1].max() + pad)
    return patch


def foot_map(
    outline: np.ndarray,
    *,
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    sites: tuple[np.ndarray, np.ndarray] | None = None,
    lines: np.ndarray | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    unit: str = "",
    diverging: bool = False,
) -> str:
    """PNG data URI of one foot: a cell grid ``(x_mm, y_mm, values)``, shear sites
    ``(xy_mm, values)`` or CoP lines, with a colour bar in ``unit``."""
    cmap = DIFFERENCE_CMAP if diverging else PRESSURE_CMAP
    with figure(1.9, 3.6) as fig:
        ax = fig.add_subplot()
        patch = _foot_axes(ax, outline)
        mappable = None
        if grid is not None:
            x, y, v = grid
            cell = float(x[1] - x[0]) if len(x) > 1 else 5.0
            extent = (x[0] - cell / 2, x[-1] + cell / 2, y[0] - cell / 2, y[-1] + cell / 2)
            mappable = ax.imshow(
                np.ma.masked_invalid(v),
                origin="lower",
                extent=extent,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                interpolation="nearest",
                zorder=1,
            )
            mappable.set_clip_path(patch)
        elif sites is not None:
            xy, v = sites
            ok = np.isfinite(v)
            mappable = ax.scatter(
                xy[ok, 0],
                xy[ok, 1],
                c=v[ok],
                s=160,
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                edgecolors="#3c3c3c",
                linewidths=1.0,
                zorder=3,
            )
        elif lines is not None:
            step = max(1, len(lines) // 150)
            for line in lines[::step]:
                ax.plot(line[:, 0], line[:, 1], color="#999999", lw=0.5)
            if len(lines):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(lines, axis=0)
                ax.plot(mean[:, 0], mean[:, 1], color="black", lw=2.2)
        if mappable is not None:
            bar = fig.colorbar(mappable, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02)
            bar.set_label(unit)
            bar.ax.tick_params(labelsize=7)
            plain_numbers(bar.ax.xaxis)
        return png_data_uri(fig)


def _map_values(review: SessionReview, foot: str, kind: str) -> np.ndarray | None:
    info = review.data["maps"][foot][kind]
    key = {"grid": "map/", "sites": "sites/"}.get(info["type"])
    return None if key is None else review.arrays[f"{foot}/{key}{kind}"]


def maps_for_page(review: SessionReview, scale: str = "fixed") -> dict[str, dict[str, Any]]:
    """Per foot and kind: title, unit, proxy label, colour-scale limits and the PNG.

    ``scale="fixed"``: pressure maps on the live page's 0-400 kPa, shares on 0-100 %, the
    other kinds on one scale for both feet; ``"auto"``: every map on its own range."""
    a = review.arrays
    out: dict[str, dict[str, Any]] = {}
    shared: dict[str, float] = {}
    for kinds in review.data["maps"].values():
        for kind in kinds:
            for foot in review.data["maps"]:
                v = _map_values(review, foot, kind) if kind in review.data["maps"][foot] else None
                if v is not None and np.isfinite(v).any():
                    shared[kind] = max(shared.get(kind, 0.0), float(np.nanmax(v)))
    for foot, kinds in review.data["maps"].items():
        out[foot] = {}
        if not kinds:  # a force plate: no pressure map (the page says so)
            continue
        outline = a[f"{foot}/outline_mm"]
        for kind, info in kinds.items():
            entry = dict(info)
            values = _map_values(review, foot, kind)
            if values is None:
                lines = a[f"{foot}/gait_line_mm"] if info["type"] == "lines" else None
                entry["png"] = foot_map(outline, lines=lines)
                out[foot][kind] = entry
                continue
            top = _scale(values, kind, scale, shared.get(kind))
            if info["type"] == "grid":
                grid = (a[f"{foot}/grid_x_mm"], a[f"{foot}/grid_y_mm"], values)
                entry["png"] = foot_map(outline, grid=grid, vmax=top, unit=info["unit"])
            else:
                sites = (a[f"{foot}/shear_xy_mm"], values)
                entry["png"] = foot_map(outline, sites=sites, vmax=top, unit=info["unit"])
            entry["scale"] = {"min": 0.0, "max": round(top, 3), "mode": scale}
            out[foot][kind] = entry
    return out


def difference_map(
    outline: np.ndarray, x_mm: np.ndarray, y_mm: np.ndarray, diff: np.ndarray
) -> tuple[str, float]:
    """PNG data URI of a difference map on a symmetric scale; returns (uri, ±limit)."""
    v = diff[np.isfinite(diff)]
    m = float(np.max(np.abs(v))) if v.size else 1.0
    m = m or 1.0
    uri = foot_map(outline, grid=(x_mm, y_mm, diff), vmin=-m, vmax=m, unit="kPa", diverging=True)
    return uri, m
