# Long module: one review document (maps, curves, gaps, trends) built from one session read.
"""Per-session review: maps per foot, per-step series, fatigue trend, CoP gait line and
data quality, computed once per session and cached (:mod:`review.cache`).

The steps come from :func:`analysis.analyze_recording` (the same kernels as the live
path); the maps need the frames of each step, so this module goes back to the frames
with the step windows (heel strike → toe-off, late stance → toe-off) and reduces them
per step with NumPy (one Python iteration per step, never per frame). Force, CoP and the
shear quantities per frame come from the analyzer's own kernels
(:func:`~analysis.frame_kernels.frame_reduce_kernel`, and
:func:`~analysis.frame_kernels.free_moment_kernel` on the friction-bounded shear of
:mod:`analysis.pivot`), so a site's late-stance shear peak here is the step record's
``peak_shear_kpa``; steps whose pivot is invalid (frame loss at toe-off) have none.

Everything returned is split in two: ``data`` (plain JSON: metadata, series, summary,
quality, map descriptions) and ``arrays`` (NumPy: grids, per-step sensel maps, gait
lines), which :mod:`review.cache` stores as ``.json.gz`` and ``.npz``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.frame_kernels import frame_reduce_kernel, free_moment_kernel
from analysis.hotspots import (
    FOREFOOT_FROM_FRAC,
    HOTSPOT_ABS_KPA,
    HOTSPOT_REL_FRAC,
    InterpolationGrid,
    interpolated_note,
)
from analysis.pivot import FRICTION_MU_MAX, friction_bounded_shear
from analysis.records import PivotValue, pivot_spec, round_or_none, session_pivot_kind
from analysis.risk import RISK_LABEL
from hardware.layout import FOREFOOT_REGIONS, REGIONS, Layout

#: Stance-phase samples of one step's CoP gait line and of its per-step curves.
GAIT_LINE_POINTS = 41
#: Per-step curves over stance, with their units (the pivot's unit depends on the insole).
CURVES = ("force_n", "forefoot_kpa", "pivot")
PROXY_MAP_LABEL = "proxy: late-stance CoP dwell, not shear"
NOT_MEASURED = "not measured: pressure-only insole"

#: Map kinds, in display order, with title and unit.
MAP_KINDS: dict[str, tuple[str, str]] = {
    "peak_pressure": ("Peak pressure (mean of per-step peaks)", "kPa"),
    "pti": ("Pressure-time integral (mean per step)", "kPa·s"),
    "peak_shear": ("Peak resultant shear in late stance (mean per step)", "kPa"),
    "pivot": ("Pivot: peak site rotational shear in late stance (mean per step)", "kPa"),
    "hotspot_recurrence": ("Hot-spot recurrence (share of steps hot)", "%"),
    "gait_line": ("CoP gait line (grey: steps, black: mean)", "mm"),
}


@dataclass
class SessionReview:
    """The review of one session: JSON-able ``data`` and NumPy ``arrays``."""

    data: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        """Id of the session."""
        return str(self.data["session"]["id"])


def load_session(directory: Path) -> tuple[dict[str, Any], Any]:
    """``session.json`` and the :class:`store.session_reader.SessionRecording` of a
    finalised session directory."""
    from store.session import read_session_json
    from store.session_reader import read_session

    return read_session_json(directory), read_session(directory)


def dense_weights(grid: InterpolationGrid, n_sensels: int) -> np.ndarray:
    """The grid's sparse IDW weights as a dense (cells, sensels) matrix."""
    w = np.zeros((grid.n_cells, n_sensels))
    rows = np.repeat(np.arange(grid.n_cells), np.diff(grid.indptr))
    np.add.at(w, (rows, grid.indices), grid.weights)
    return w


def interpolate_many(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """IDW of many sensel vectors (m, S) → (m, cells), renormalised over finite sensels."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    finite = np.isfinite(v)
    num = np.nan_to_num(v) @ w.T
    den = finite.astype(np.float64) @ w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def to_grid(grid: InterpolationGrid, flat: np.ndarray) -> np.ndarray:
    """(cells,) → (ny, nx) with NaN outside the outline."""
    out = np.full(grid.inside.shape, np.nan)
    out[grid.inside] = flat
    return out


def _step_windows(t: np.ndarray, steps: list[dict[str, Any]]) -> np.ndarray:
    """(n, 3) frame indices: heel strike, late-stance start, toe-off (exclusive)."""
    out = np.zeros((len(steps), 3), dtype=np.int64)
    for k, st in enumerate(steps):
        hs, to = st["heel_strike_s"], st["toe_off_s"]
        ls = st.get("late_stance_start_s")
        if ls is None or not (hs <= ls <= to):
            ls = hs + 0.55 * (to - hs)
        else:  # a frame time rounded to 1 µs in the record: that frame, not the next
            ls -= 1e-6
        out[k] = (
            np.searchsorted(t, hs, "left"),
            np.searchsorted(t, ls, "left"),
            np.searchsorted(t, to, "right"),
        )
    return out


def frame_series(
    pressure_kpa: np.ndarray, shear_kpa: np.ndarray, layout: Layout
) -> dict[str, np.ndarray]:
    """Per-frame force (N, NaN for a missing frame), CoP (mm) and, with shear sites, the
    resultant and the rotational shear of each site (kPa, (n, K)) of a run of frames, from
    the analyzer's kernels on the friction-bounded shear (what the step records are made
    of). Called per step, so memory does not grow with the session.

    A site's rotational shear is :func:`~analysis.frame_kernels.free_moment_kernel`'s
    rotational shear of that site alone: its shear component perpendicular to the radius
    from the CoP (counter-clockwise positive; 0 without a CoP).
    """
    p = np.ascontiguousarray(pressure_kpa, dtype=np.float32)
    n, r_count, K = len(p), len(REGIONS), layout.n_shear
    force = np.empty(n)
    cop = np.empty((n, 2))
    frame_reduce_kernel(
        p,
        np.ascontiguousarray(layout.sensel_area_mm2, dtype=np.float64),
        np.ascontiguousarray(layout.sensel_xy_mm, dtype=np.float64),
        np.ascontiguousarray(layout.sensel_region, dtype=np.int8),
        force,
        cop,
        np.empty((n, r_count)),
        np.empty((n, r_count)),
    )
    resultant = np.zeros((n, K))
    rotational = np.zeros((n, K))
    if K:
        shear = friction_bounded_shear(shear_kpa, FRICTION_MU_MAX)
        xy = np.ascontiguousarray(layout.shear_xy_mm, dtype=np.float64).reshape(-1, 2)
        area = np.ascontiguousarray(layout.shear_area_mm2, dtype=np.float64)
        tz = np.empty(n)
        rot = np.empty(n)
        free_moment_kernel(shear, xy, area, cop, tz, resultant, rot)
        free_moment = tz.copy()
        one = np.empty((n, 1))
        for k in range(K):  # one site at a time: the kernel's rotational shear of site k
            free_moment_kernel(
                np.ascontiguousarray(shear[:, k : k + 1]),
                xy[k : k + 1],
                area[k : k + 1],
                cop,
                tz,
                one,
                rot,
            )
            rotational[:, k] = rot
    else:
        free_moment = np.full(n, np.nan)
    return {
        "force": force,
        "cop": cop,
        "resultant": resultant,
        "rotational": rotational,
        "free_moment": free_moment,
    }


def foot_arrays(frames: Any, layout: Layout, steps: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per-step reductions of one foot's frames (see the module docstring)."""
    t = np.asarray(frames.t_s, dtype=np.float64)
    p = np.asarray(frames.pressure_kpa, dtype=np.float32)
    n_steps, S, K = len(steps), layout.n_sensels, layout.n_shear
    win = _step_windows(t, steps)
    peak = np.full((n_steps, S), np.nan, dtype=np.float32)
    pti = np.full((n_steps, S), np.nan, dtype=np.float32)
    shear_peak = np.full((n_steps, K), np.nan, dtype=np.float32)
    rot_peak = np.full((n_steps, K), np.nan, dtype=np.float32)
    gait = np.full((n_steps, GAIT_LINE_POINTS, 2), np.nan, dtype=np.float32)
    curves = {k: np.full((n_steps, GAIT_LINE_POINTS), np.nan, dtype=np.float32) for k in CURVES}
    forefoot = np.isin(layout.sensel_region, [REGIONS.index(r) for r in FOREFOOT_REGIONS])
    late_cop: list[np.ndarray] = []
    phase = np.linspace(0.0, 1.0, GAIT_LINE_POINTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k, (i0, il, i1) in enumerate(win):
            if i1 - i0 < 2:
                continue
            ps = p[i0:i1].astype(np.float64)
            ts = t[i0:i1]
            peak[k] = np.nanmax(ps, axis=0)
            pti[k] = np.trapezoid(np.nan_to_num(ps), ts, axis=0)
            fr = frame_series(p[i0:i1], frames.shear_kpa[i0:i1], layout)
            force = np.nan_to_num(fr["force"])
            cop = fr["cop"]
            # the gait line follows the loaded part of stance (CoP of a nearly unloaded
            # insole is noise)
            ok = np.isfinite(cop[:, 0]) & (force >= 0.1 * np.max(force, initial=0.0))
            if ok.sum() >= 2:
                u = (ts[ok] - ts[0]) / max(ts[-1] - ts[0], 1e-9)
                gait[k, :, 0] = np.interp(phase, u, cop[ok, 0])
                gait[k, :, 1] = np.interp(phase, u, cop[ok, 1])
            _step_curves(curves, k, ts, fr, ps[:, forefoot] if forefoot.any() else None, K)
            j0 = max(il - i0, 0)
            late_cop.append(cop[j0:][np.isfinite(cop[j0:, 0])])
            # late stance: valid frames only, as in the step record; none when the step's
            # pivot is invalid (frame loss at toe-off)
            late = j0 + np.flatnonzero(np.isfinite(fr["force"][j0:]))
            if K and late.size and not (steps[k].get("pivot") or {}).get("invalid"):
                shear_peak[k] = fr["resultant"][late].max(axis=0)
                rot_peak[k] = np.abs(fr["rotational"][late]).max(axis=0)
    lc = np.concatenate(late_cop) if late_cop else np.zeros((0, 2))
    return {
        "peak": peak,
        "pti": pti,
        "shear_peak": shear_peak,
        "rot_peak": rot_peak,
        "gait": gait,
        "curves": curves,
        "late_cop": lc.astype(np.float32),
        "windows": win,
    }


def _step_curves(
    curves: dict[str, np.ndarray],
    k: int,
    ts: np.ndarray,
    fr: dict[str, np.ndarray],
    forefoot_kpa: np.ndarray | None,
    n_shear: int,
) -> None:
    """Step ``k``'s force, forefoot peak pressure and pivot over stance, resampled to
    :data:`GAIT_LINE_POINTS` stance-phase points (heel strike → toe-off). The pivot curve
    is the free moment with shear sites, else the CoP's medio-lateral position relative to
    heel strike (the sweep the proxy measures)."""
    u = (ts - ts[0]) / max(ts[-1] - ts[0], 1e-9)
    phase = np.linspace(0.0, 1.0, GAIT_LINE_POINTS)
    cop_x = fr["cop"][:, 0]
    first = np.flatnonzero(np.isfinite(cop_x))
    pivot = fr["free_moment"] if n_shear else cop_x - (cop_x[first[0]] if first.size else np.nan)
    series = {
        "force_n": fr["force"],
        "forefoot_kpa": np.nanmax(forefoot_kpa, axis=1) if forefoot_kpa is not None else None,
        "pivot": pivot,
    }
    for name, y in series.items():
        if y is None:
            continue
        ok = np.isfinite(y)
        if ok.sum() >= 2:
            curves[name][k] = np.interp(phase, u[ok], y[ok])


def _hot_recurrence(
    grid: InterpolationGrid, w: np.ndarray, peak: np.ndarray, foot_length_mm: float
) -> np.ndarray:
    """Per cell: share of steps (%) in which the cell was a forefoot hot cell."""
    if peak.shape[0] == 0:
        return np.full(grid.n_cells, np.nan)
    cells = interpolate_many(w, peak)
    yy = np.broadcast_to(grid.y_mm[:, None], grid.inside.shape)[grid.inside]
    fore = yy >= FOREFOOT_FROM_FRAC * foot_length_mm
    vals = np.where(fore[None, :], np.nan_to_num(cells), 0.0)
    thr = np.maximum(HOTSPOT_ABS_KPA, HOTSPOT_REL_FRAC * vals.max(axis=1, keepdims=True))
    hot = (vals >= thr) & (vals > 0)
    return 100.0 * hot.mean(axis=0)


def _cop_dwell(grid: InterpolationGrid, cop: np.ndarray) -> np.ndarray:
    """Per cell: % of late-stance samples whose CoP lies in the cell."""
    out = np.zeros(grid.n_cells)
    if cop.shape[0] == 0:
        return out
    cell = grid.cell_mm
    xi = np.floor((cop[:, 0] - (grid.x_mm[0] - cell / 2)) / cell).astype(int)
    yi = np.floor((cop[:, 1] - (grid.y_mm[0] - cell / 2)) / cell).astype(int)
    ok = (xi >= 0) & (xi < len(grid.x_mm)) & (yi >= 0) & (yi < len(grid.y_mm))
    idx = grid.cell_index[yi[ok], xi[ok]]
    idx = idx[idx >= 0]
    np.add.at(out, idx, 1.0)
    return 100.0 * out / cop.shape[0]


def _quality(
    info: dict[str, Any], feet: dict[str, Any], result: dict[str, Any], directory: Path
) -> dict[str, Any]:
    """Gaps and data quality, per foot and as time bands."""
    import pyarrow.parquet as pq

    summary = info.get("summary") or {}
    bands: list[dict[str, Any]] = []
    per_foot: dict[str, Any] = {}
    for foot, fr in feet.items():
        t = np.asarray(fr.t_s, dtype=np.float64)
        seq = np.asarray(fr.seq, dtype=np.int64)
        n = len(t)
        dt = float(np.median(np.diff(t))) if n > 2 else float("nan")
        missing_rows = ~np.isfinite(np.asarray(fr.pressure_kpa, dtype=np.float32)).any(axis=1)
        # sequence gaps (lost frames)
        dseq = np.diff(seq)
        for i in np.nonzero(dseq > 1)[0]:
            bands.append(
                {
                    "foot": foot,
                    "t0_s": float(t[i]),
                    "t1_s": float(t[i + 1]),
                    "kind": "lost frames",
                    "frames": int(dseq[i] - 1),
                }
            )
        # time gaps without a sequence gap (imports)
        if n > 2 and math.isfinite(dt) and dt > 0:
            dtt = np.diff(t)
            for i in np.nonzero((dtt > 2.5 * dt) & (dseq <= 1))[0]:
                bands.append(
                    {
                        "foot": foot,
                        "t0_s": float(t[i]),
                        "t1_s": float(t[i + 1]),
                        "kind": "time gap",
                        "frames": round(float(dtt[i] / dt) - 1),
                    }
                )
        # runs of missing samples (NaN rows)
        if missing_rows.any():
            edges = np.diff(np.concatenate([[0], missing_rows.astype(np.int8), [0]]))
            for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
                bands.append(
                    {
                        "foot": foot,
                        "t0_s": float(t[a]),
                        "t1_s": float(t[b - 1]),
                        "kind": "missing samples",
                        "frames": int(b - a),
                    }
                )
        sf = (summary.get("feet") or {}).get(foot) or {}
        lost = int(sf.get("gap_frames") or int(np.sum(np.clip(dseq - 1, 0, None))))
        per_foot[foot] = {
            "frames": n,
            "rate_hz": round_or_none(1.0 / dt, 2) if dt and math.isfinite(dt) and dt > 0 else None,
            "lost_frames": lost,
            "lost_pct": round_or_none(100.0 * lost / max(n + lost, 1), 3),
            "missing_samples": int(missing_rows.sum()),
            "missing_pct": round_or_none(100.0 * missing_rows.mean(), 3) if n else None,
            "rejected_steps": int((result["summary"].get("rejected_steps") or {}).get(foot, 0)),
        }
    events: list[dict[str, Any]] = []
    ev_path = directory / "events.parquet"
    if ev_path.exists():
        try:
            ev = pq.read_table(ev_path).to_pylist()
        except Exception:  # events are auxiliary: a bad events file must not stop a review
            ev = []
        for e in ev:
            if e.get("kind") in ("gap", "reconnect", "queue_overflow"):
                events.append(
                    {
                        "t_s": round_or_none(e.get("t_s"), 3),
                        "foot": e.get("foot"),
                        "kind": e.get("kind"),
                        "value": round_or_none(e.get("value"), 1),
                        "detail": e.get("detail") or "",
                    }
                )
    bands.sort(key=lambda b: b["t0_s"])
    gap_s = sum(max(b["t1_s"] - b["t0_s"], 0.0) for b in bands)
    steps = result["steps"]
    steps_with_gaps = sum(
        1
        for s in steps
        if s.get("longest_gap_s") is not None
        and per_foot.get(s["foot"], {}).get("rate_hz")
        and s["longest_gap_s"] > 2.5 / per_foot[s["foot"]]["rate_hz"]
    )
    return {
        "per_foot": per_foot,
        "gaps": bands[:500],
        "n_gaps": len(bands),
        "gap_s_total": round_or_none(gap_s, 3),
        "events": events[:200],
        "steps_with_gaps": steps_with_gaps,
        "dropped_frames": int(summary.get("dropped_frames") or 0),
        "lost_at_end_s": round_or_none(summary.get("lost_at_end_s") or 0.0, 3),
        "status": info.get("status"),
    }


def _main_pivot_kind(pivots: list[PivotValue]) -> str:
    """The pivot kind of most steps (the review's pivot series shows that kind only)."""
    kinds = [p.kind for p in pivots]
    return max(set(kinds), key=kinds.count) if kinds else "proxy"


def _pivot_of_kind(step: dict[str, Any], kind: str) -> float:
    p = PivotValue.from_step(step)
    return p.number() if p.kind == kind else float("nan")


def series_of(steps: list[dict[str, Any]], pivot_kind: str) -> dict[str, list[Any]]:
    def col(fn: Any) -> list[float | None]:
        return [round_or_none(fn(s), 4) for s in steps]

    return {
        "t_s": col(lambda s: s["heel_strike_s"]),
        "foot": [s["foot"] for s in steps],
        "contact_time_s": col(lambda s: s["contact_time_s"]),
        "cadence_spm": col(
            lambda s: 60.0 / s["step_time_s"] if s.get("step_time_s") else float("nan")
        ),
        "pivot": col(lambda s: _pivot_of_kind(s, pivot_kind)),
        "forefoot_peak_kpa": col(
            lambda s: (
                np.nanmax(
                    [
                        np.nan
                        if s["peak_pressure_kpa"].get(r) is None
                        else s["peak_pressure_kpa"][r]
                        for r in FOREFOOT_REGIONS
                    ]
                )
                if any(s["peak_pressure_kpa"].get(r) is not None for r in FOREFOOT_REGIONS)
                else float("nan")
            )
        ),
        "peak_force_n": col(
            lambda s: s["peak_force_n"] if s["peak_force_n"] is not None else np.nan
        ),
        "longest_gap_s": col(
            lambda s: s["longest_gap_s"] if s["longest_gap_s"] is not None else np.nan
        ),
    }


def symmetry_per_minute(steps: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    if not steps:
        return {"contact_time_s": [], "peak_force_n": []}
    t0 = steps[0]["heel_strike_s"]
    minutes = int((steps[-1]["heel_strike_s"] - t0) // 60) + 1
    out: dict[str, list[float | None]] = {}
    for key in ("contact_time_s", "peak_force_n"):
        vals: list[float | None] = []
        for m in range(minutes):
            sel = [
                s for s in steps if int((s["heel_strike_s"] - t0) // 60) == m and s[key] is not None
            ]
            lv = [s[key] for s in sel if s["foot"] == "left"]
            rv = [s[key] for s in sel if s["foot"] == "right"]
            if lv and rv:
                lm, rm = float(np.median(lv)), float(np.median(rv))
                vals.append(
                    round_or_none(100.0 * (lm - rm) / (0.5 * (lm + rm)), 3) if lm + rm else None
                )
            else:
                vals.append(None)
        out[key] = vals
    return out


def session_header(info: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The ``"session"`` part of a review: id, status, tags, speed, source, duration."""
    meta = info.get("meta") or {}
    return {
        "id": info.get("id", directory.name),
        "status": info.get("status"),
        "athlete": meta.get("athlete") or "",
        "shoe": meta.get("shoe") or "",
        "sock": meta.get("sock") or "",
        "treadmill_speed_kmh": meta.get("treadmill_speed_kmh"),
        "started_at": meta.get("started_at") or "",
        "source": meta.get("source") or "",
        "notes": meta.get("notes") or "",
        "duration_s": round_or_none((info.get("summary") or {}).get("duration_s"), 2),
    }


def is_force_plate(info: dict[str, Any]) -> bool:
    """Whether ``session.json`` (``info``) describes a force-plate session."""
    from store.session import FORCE_PLATE_LAYOUT_ID

    feet = (info.get("meta") or {}).get("feet") or {}
    return bool(feet) and all(
        (fl or {}).get("layout_id") == FORCE_PLATE_LAYOUT_ID for fl in feet.values()
    )


def compute_review(directory: Path, progress: Any = None) -> SessionReview:
    """Analyse the session in ``directory`` and build its review (no cache); a
    force-plate session's review is :func:`review.plate_review.plate_review`'s."""
    from analysis.analyzer import analyze_recording
    from store.session import read_session_json

    def tick(label: str) -> None:
        if progress is not None:
            progress(label)

    info = read_session_json(directory)
    if is_force_plate(info):
        from review.plate_review import plate_review

        result: SessionReview = plate_review(directory, info, progress)
        return result
    tick("loading frames")
    info, inp = load_session(directory)
    tick("analysing steps")
    result = analyze_recording(
        inp.feet, inp.layouts, yaw_rate_dps=inp.yaw_rate_dps, speed_mps=inp.speed_mps
    )
    steps = result["steps"]
    summary = result["summary"]
    arrays: dict[str, np.ndarray] = {}
    maps: dict[str, dict[str, Any]] = {}
    feet_info: dict[str, Any] = {}
    tick("building maps")
    for foot, fr in inp.feet.items():
        lay = inp.layouts[foot]
        fsteps = [s for s in steps if s["foot"] == foot]
        fa = foot_arrays(fr, lay, fsteps)
        grid = InterpolationGrid.from_layout(lay)
        w = dense_weights(grid, lay.n_sensels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_peak = (
                np.nanmean(fa["peak"], axis=0) if len(fsteps) else np.full(lay.n_sensels, np.nan)
            )
            mean_pti = (
                np.nanmean(fa["pti"], axis=0) if len(fsteps) else np.full(lay.n_sensels, np.nan)
            )
            site_shear = (
                np.nanmean(fa["shear_peak"], axis=0)
                if len(fsteps)
                else np.full(lay.n_shear, np.nan)
            )
            site_rot = (
                np.nanmean(fa["rot_peak"], axis=0) if len(fsteps) else np.full(lay.n_shear, np.nan)
            )
        pfx = f"{foot}/"
        arrays[pfx + "outline_mm"] = np.asarray(lay.outline_mm)
        arrays[pfx + "grid_x_mm"] = grid.x_mm
        arrays[pfx + "grid_y_mm"] = grid.y_mm
        arrays[pfx + "shear_xy_mm"] = np.asarray(lay.shear_xy_mm).reshape(-1, 2)
        arrays[pfx + "step_peak_kpa"] = fa["peak"]
        arrays[pfx + "step_pti_kpa_s"] = fa["pti"]
        arrays[pfx + "gait_line_mm"] = fa["gait"]
        arrays[pfx + "step_peak_shear_kpa"] = fa["shear_peak"]
        arrays[pfx + "windows"] = fa["windows"]
        for name, values in fa["curves"].items():
            arrays[pfx + "curve/" + name] = values
        arrays[pfx + "map/peak_pressure"] = to_grid(grid, interpolate_many(w, mean_peak)[0])
        arrays[pfx + "map/pti"] = to_grid(grid, interpolate_many(w, mean_pti)[0])
        arrays[pfx + "map/hotspot_recurrence"] = to_grid(
            grid, _hot_recurrence(grid, w, fa["peak"], lay.foot_length_mm)
        )
        fmaps: dict[str, Any] = {}
        for kind, (title, unit) in MAP_KINDS.items():
            fmaps[kind] = {
                "title": title,
                "unit": unit,
                "type": "grid",
                "proxy": False,
                "label": "",
            }
        fmaps["gait_line"]["type"] = "lines"
        sparse = interpolated_note(lay)
        for kind in ("peak_pressure", "pti", "hotspot_recurrence"):
            fmaps[kind]["label"] = sparse
        if lay.n_shear:
            arrays[pfx + "sites/peak_shear"] = site_shear
            arrays[pfx + "sites/pivot"] = site_rot
            fmaps["peak_shear"]["type"] = "sites"
            fmaps["pivot"]["type"] = "sites"
            fmaps["peak_shear"]["sites"] = [s.name for s in lay.shear_sites]
            fmaps["pivot"]["sites"] = [s.name for s in lay.shear_sites]
        else:
            fmaps["peak_shear"].update(type="none", label=NOT_MEASURED, unit="")
            arrays[pfx + "map/pivot"] = to_grid(grid, _cop_dwell(grid, fa["late_cop"]))
            fmaps["pivot"].update(
                title="Pivot proxy: late-stance CoP dwell (share of late-stance samples)",
                unit="%",
                proxy=True,
                label=PROXY_MAP_LABEL,
            )
        for kind, m in fmaps.items():
            key = pfx + ("map/" if m["type"] == "grid" else "sites/") + kind
            if key in arrays:
                v = arrays[key][np.isfinite(arrays[key])]
                m["min"] = round_or_none(v.min(), 3) if v.size else None
                m["max"] = round_or_none(v.max(), 3) if v.size else None
        maps[foot] = fmaps
        feet_info[foot] = {
            "layout_id": lay.id,
            "eu_size": round_or_none(lay.eu_size, 2),
            "n_sensels": lay.n_sensels,
            "n_shear": lay.n_shear,
            "steps": len(fsteps),
            "foot_length_mm": round_or_none(lay.foot_length_mm, 1),
            "interpolated": sparse,
        }
    tick("data quality")
    quality = _quality(info, inp.feet, result, directory)
    data = review_document(info, directory, steps, summary, feet_info, maps, quality)
    return SessionReview(data, arrays)


def review_document(
    info: dict[str, Any],
    directory: Path,
    steps: list[dict[str, Any]],
    summary: dict[str, Any],
    feet_info: dict[str, Any],
    maps: dict[str, Any],
    quality: dict[str, Any],
) -> dict[str, Any]:
    """The JSON part of a review from its parts: session header, pivot (the main kind of
    the steps, with its unit and label), series, symmetry, change points, maps, quality."""
    pivots = [PivotValue.from_step(s) for s in steps]
    kind = _main_pivot_kind(pivots)
    spec = pivot_spec(kind)
    fatigue = summary.get("fatigue") or {}
    flagged = [
        (fz["onset_s"], metric)
        for metric, fz in fatigue.items()
        if fz.get("flagged") and fz.get("onset_s") is not None
    ]
    onset, flagged_metric = min(flagged) if flagged else (None, None)
    pivot_label = next((p.label for p in pivots if p.kind == kind), spec.label)
    return {
        "version": 1,
        "session": session_header(info, directory),
        "feet": feet_info,
        "pivot": {
            **spec.describe(pivot_label),
            "name": spec.quantity,
            "session_kind": session_pivot_kind({p.kind for p in pivots}),
        },
        "risk_label": RISK_LABEL,
        "summary": summary,
        "series": series_of(steps, kind),
        "symmetry_per_minute": symmetry_per_minute(steps),
        "fatigue": {
            "per_metric": fatigue,
            "flags": summary.get("fatigue_flags") or [],
            "onset_s": onset,
            "onset_metric": flagged_metric,
            "t0_s": steps[0]["heel_strike_s"] if steps else 0.0,
        },
        "maps": maps,
        "quality": quality,
        "steps": steps,
    }


def region_names() -> tuple[str, ...]:
    """The layout regions, in order."""
    return REGIONS
