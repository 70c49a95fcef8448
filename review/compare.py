# Long module: condition grouping, bootstrap CIs and effect sizes share one step table.
"""Shoe × sock comparison: conditions, acclimatisation discard, per-region per-step
distributions, effect sizes with bootstrap 95 % CIs, risk-index change per km and
difference maps.

Design (``docs/review.md`` says why):

* A **condition** is the values of the ``by`` keys (default shoe, sock) of a session.
  Comparisons are made within one athlete and one treadmill speed (speed-matched: speeds
  rounded to 0.5 km/h must agree; unknown speed is its own group, reported as not
  speed-matched).
* The first ``discard_steps`` steps of each foot in every session are acclimatisation
  and left out (each session is a fresh donning of the shoe and sock).
* Per step, metrics are pooled over both feet. ``effect = mean(A) − mean(B)`` (A is the
  first condition in sort order), ``pct_change = 100·(mean(B)/mean(A) − 1)`` and Hedges'
  g, each with a percentile 95 % CI from a bootstrap of **blocks of consecutive steps**
  within each session and foot (moving blocks, ``block_steps`` long), because
  consecutive steps are correlated (drift, fatigue); when a condition has at least
  ``min_sessions_cluster`` sessions, sessions are resampled first (two-stage bootstrap),
  since the session (donning, day) is then the unit that repeats.
* With fewer than ``min_steps`` usable steps in a condition a metric says
  ``"too few steps"`` instead of a number.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.records import PivotValue, pivot_spec, round_or_none
from analysis.risk import RISK_LABEL, RISK_REGIONS
from hardware.layout import REGIONS
from review.session import SessionReview

BY_KEYS = ("athlete", "shoe", "sock", "speed")
TOO_FEW = "too few steps"


@dataclass(frozen=True)
class CompareOptions:
    """Knobs of :func:`compare` (defaults documented in ``docs/review.md``)."""

    by: tuple[str, ...] = ("shoe", "sock")
    athlete: str | None = None
    discard_steps: int = 30
    min_steps: int = 60
    n_boot: int = 2000
    block_steps: int = 10
    min_sessions_cluster: int = 3
    seed: int = 12345
    speed_tol_kmh: float = 0.5
    #: Condition label (``"shoe1 / A"``) every pair containing it is compared against
    #: (it becomes A); None: A is the first in sort order.
    reference: str | None = None
    #: Only these session ids (picked by hand); None: every session.
    sessions: tuple[str, ...] | None = None


@dataclass
class _Cond:
    key: tuple[str, ...]
    athlete: str
    speed: float | None
    sensor: str = "insole"  # or "force plate": never compared with each other
    sessions: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[SessionReview] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " / ".join(self.key)


def _speed_bucket(kmh: Any, tol: float) -> float | None:
    if kmh is None:
        return None
    return round(round(float(kmh) / tol) * tol, 3)


def metric_defs(kind: str, sites: list[str]) -> list[tuple[str, str, str, Any]]:
    """(name, unit, group, extractor(step) → float) of every compared metric."""

    def pv(s: dict[str, Any]) -> Any:
        return PivotValue.from_step(s).value

    spec = pivot_spec(kind)
    out: list[tuple[str, str, str, Any]] = [(f"pivot: {spec.quantity}", spec.unit, "pivot", pv)]
    if kind == "shear":
        out.append(
            (
                "pivot: rotational shear peak",
                "kPa",
                "pivot",
                lambda s: s["pivot"].get("rotational_shear_peak_kpa"),
            )
        )
        for site in sites:
            out.append(
                (
                    f"peak shear {site}",
                    "kPa",
                    "shear",
                    lambda s, site=site: (s["pivot"].get("peak_shear_kpa") or {}).get(site),
                )
            )
    out.append(("contact time", "s", "timing", lambda s: s["contact_time_s"]))
    if kind == "force_plate":  # what a plate measures: no pressure, so no region
        out.append(("peak vertical force", "N", "force", lambda s: s["peak_force_n"]))
        return out
    for r in REGIONS:
        out.append(
            (f"peak pressure {r}", "kPa", "pressure", lambda s, r=r: s["peak_pressure_kpa"].get(r))
        )
    for r in REGIONS:
        out.append((f"PTI {r}", "kPa·s", "pti", lambda s, r=r: s["pti_kpa_s"].get(r)))
    for r in RISK_REGIONS:
        out.append((f"risk dose {r}", "per step", "risk", lambda s, r=r: s["risk_dose"].get(r)))
    return out


def _steps_after_discard(review: SessionReview, discard: int) -> list[list[dict[str, Any]]]:
    """Per foot (segments), the steps left after the first ``discard`` of that foot."""
    out = []
    for foot in ("left", "right"):
        fs = [s for s in review.data["steps"] if s["foot"] == foot]
        if len(fs) > discard:
            out.append(fs[discard:])
    return out


def _matrix(segments: list[list[dict[str, Any]]], defs: list) -> list[np.ndarray]:
    mats = []
    for seg in segments:
        m = np.full((len(seg), len(defs)), np.nan)
        for i, st in enumerate(seg):
            for j, (_, _, _, fn) in enumerate(defs):
                try:
                    v = fn(st)
                except (KeyError, TypeError):
                    v = None
                if v is not None:
                    m[i, j] = float(v)
        mats.append(m)
    return mats


def _block_counts(n: int, n_boot: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) counts of a moving-block resample (circular) of ``n`` items."""
    if n == 0:
        return np.zeros((n_boot, 0))
    b = max(1, min(block, n))
    nb = math.ceil(n / b)
    starts = rng.integers(0, n, size=(n_boot, nb))
    idx = ((starts[:, :, None] + np.arange(b)[None, None, :]) % n).reshape(n_boot, -1)[:, :n]
    flat = (np.arange(n_boot)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def _boot_moments(
    sessions: list[list[np.ndarray]], opts: CompareOptions, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap (n_boot, M) mean, variance and count for one condition.

    ``sessions``: per session a list of per-foot (steps, M) matrices."""
    B = opts.n_boot
    M = sessions[0][0].shape[1] if sessions and sessions[0] else 0
    s1 = np.zeros((B, M))
    s2 = np.zeros((B, M))
    cnt = np.zeros((B, M))
    n_sess = len(sessions)
    if n_sess >= opts.min_sessions_cluster:
        mult = np.zeros((B, n_sess))
        pick = rng.integers(0, n_sess, size=(B, n_sess))
        np.add.at(mult, (np.repeat(np.arange(B), n_sess), pick.ravel()), 1.0)
    else:
        mult = np.ones((B, n_sess))
    for si, segs in enumerate(sessions):
        max_m = int(mult[:, si].max())
        for k in range(1, max_m + 1):
            active = (mult[:, si] >= k).astype(np.float64)[:, None]
            for m in segs:
                c = _block_counts(m.shape[0], B, opts.block_steps, rng) * active
                finite = np.isfinite(m)
                x = np.nan_to_num(m)
                s1 += c @ x
                s2 += c @ (x * x)
                cnt += c @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / cnt
        var = s2 / cnt - mean * mean
    return mean, np.maximum(var, 0.0) * cnt / np.maximum(cnt - 1, 1), cnt


def _quantiles(x: np.ndarray) -> dict[str, float] | None:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    q = np.percentile(x, [5, 25, 50, 75, 95])
    return {
        k: round(float(v), 4) for k, v in zip(("p5", "p25", "p50", "p75", "p95"), q, strict=True)
    }


def _ci(x: np.ndarray) -> list[float] | None:
    x = x[np.isfinite(x)]
    if x.size < 20:
        return None
    lo, hi = np.percentile(x, [2.5, 97.5])
    return [round(float(lo), 6), round(float(hi), 6)]


def _steps_per_km(cond: _Cond, discard: int) -> float | None:
    """Steps per km from cadence and treadmill speed of the condition's sessions."""
    if not cond.speed:
        return None
    cad = [r.data["summary"].get("cadence_spm") for r in cond.reviews]
    cad = [c for c in cad if c]
    if not cad:
        return None
    return float(np.mean(cad)) * 60.0 / float(cond.speed)


def _compare_pair(
    a: _Cond, b: _Cond, opts: CompareOptions, rng: np.random.Generator
) -> dict[str, Any]:
    kinds = {r.data["pivot"]["kind"] for r in a.reviews + b.reviews}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    sites: list[str] = []
    for r in a.reviews + b.reviews:
        for fm in r.data["maps"].values():
            for s in fm.get("peak_shear", {}).get("sites", []) or []:
                if s not in sites:
                    sites.append(s)
    defs = metric_defs("proxy" if kind == "mixed" else kind, sites)
    proxy_label = next(
        (r.data["pivot"]["label"] for r in a.reviews + b.reviews if r.data["pivot"]["label"]),
        pivot_spec("proxy").label,
    )
    mats_a = [_matrix(_steps_after_discard(r, opts.discard_steps), defs) for r in a.reviews]
    mats_b = [_matrix(_steps_after_discard(r, opts.discard_steps), defs) for r in b.reviews]
    mats_a = [m for m in mats_a if m]
    mats_b = [m for m in mats_b if m]
    out: dict[str, Any] = {
        "a": a.label,
        "b": b.label,
        "athlete": a.athlete,
        "speed_kmh": a.speed,
        "sensor": a.sensor,
        "speed_matched": a.speed is not None,
        "pivot_kind": kind,
        "sessions": {"a": [s["id"] for s in a.sessions], "b": [s["id"] for s in b.sessions]},
        "bootstrap": {
            "level": "session + step blocks"
            if min(len(mats_a), len(mats_b)) >= opts.min_sessions_cluster
            else "step blocks within session",
            "block_steps": opts.block_steps,
            "n_boot": opts.n_boot,
            "seed": opts.seed,
        },
        "metrics": [],
    }
    if kind == "mixed":
        out["note"] = "pivot not comparable: one condition has shear sensors, the other a proxy"
    all_a = np.vstack([m for ms in mats_a for m in ms]) if mats_a else np.zeros((0, len(defs)))
    all_b = np.vstack([m for ms in mats_b for m in ms]) if mats_b else np.zeros((0, len(defs)))
    out["steps"] = {"a": int(all_a.shape[0]), "b": int(all_b.shape[0])}
    if mats_a and mats_b:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ma, va, _ = _boot_moments(mats_a, opts, rng)
            mb, vb, _ = _boot_moments(mats_b, opts, rng)
    spk_a, spk_b = _steps_per_km(a, opts.discard_steps), _steps_per_km(b, opts.discard_steps)
    for j, (name, unit, group, _) in enumerate(defs):
        xa, xb = all_a[:, j], all_b[:, j]
        na, nb = int(np.isfinite(xa).sum()), int(np.isfinite(xb).sum())
        row: dict[str, Any] = {
            "metric": name,
            "unit": unit,
            "group": group,
            "n_a": na,
            "n_b": nb,
            "dist_a": _quantiles(xa),
            "dist_b": _quantiles(xb),
        }
        if group == "pivot" and kind == "proxy":
            row["proxy"] = True
            row["label"] = proxy_label
        if group == "risk":
            row["label"] = RISK_LABEL
        if group == "pivot" and kind == "mixed":
            row["status"] = "not comparable"
            out["metrics"].append(row)
            continue
        if na < opts.min_steps or nb < opts.min_steps:
            row["status"] = TOO_FEW
            row["need"] = opts.min_steps
            out["metrics"].append(row)
            continue
        mean_a, mean_b = float(np.nanmean(xa)), float(np.nanmean(xb))
        sd = math.sqrt(
            ((na - 1) * np.nanvar(xa, ddof=1) + (nb - 1) * np.nanvar(xb, ddof=1)) / (na + nb - 2)
        )
        corr = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            d_boot = ma[:, j] - mb[:, j]
            pct_boot = 100.0 * (mb[:, j] / ma[:, j] - 1.0)
            sd_boot = np.sqrt((va[:, j] + vb[:, j]) / 2.0)
            g_boot = corr * d_boot / sd_boot
        row.update(
            status="ok",
            mean_a=round_or_none(mean_a, 6),
            mean_b=round_or_none(mean_b, 6),
            effect=round_or_none(mean_a - mean_b, 6),
            effect_ci=_ci(d_boot),
            pct_change=round_or_none(100.0 * (mean_b / mean_a - 1.0), 6) if mean_a else None,
            pct_change_ci=_ci(pct_boot) if mean_a else None,
            hedges_g=round_or_none(corr * (mean_a - mean_b) / sd, 6) if sd > 0 else None,
            hedges_g_ci=_ci(g_boot) if sd > 0 else None,
        )
        ci = row["effect_ci"]
        row["ci_excludes_0"] = bool(ci and (ci[0] > 0 or ci[1] < 0))
        if group == "risk":
            if spk_a and spk_b:
                per_km_boot = ma[:, j] * spk_a - mb[:, j] * spk_b
                row["per_km_a"] = round_or_none(mean_a * spk_a, 6)
                row["per_km_b"] = round_or_none(mean_b * spk_b, 6)
                row["per_km_change"] = round_or_none(mean_b * spk_b - mean_a * spk_a, 6)
                ci_km = _ci(per_km_boot)
                row["per_km_change_ci"] = [-ci_km[1], -ci_km[0]] if ci_km else None
            else:
                row["per_km_change"] = None
                row["per_km_note"] = "speed unknown: no per-km value"
        out["metrics"].append(row)
    return out


def list_rows(root: Path | None = None, athlete: str | None = None) -> list[dict[str, Any]]:
    """Finalised or recovered sessions (catalog rows; from ``session.json`` under ``root``)."""
    if root is None:
        from store.catalog import Catalog

        rows = Catalog().list_sessions(athlete=athlete)
    else:
        from store.catalog import row_from_session_json
        from store.session import list_session_dirs

        rows = []
        for d in list_session_dirs(root):
            try:
                row, tags = row_from_session_json(d)
            except (OSError, ValueError):
                continue
            row["tags"] = tags
            if athlete is None or row["athlete"] == athlete:
                rows.append(row)
    return [r for r in rows if r.get("status") in ("finalised", "recovered")]


def compare(
    opts: CompareOptions | None = None,
    *,
    root: Path | None = None,
    rows: list[dict[str, Any]] | None = None,
    progress: Any = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Compare every pair of conditions (within athlete and speed); see the module doc."""
    from review.cache import get_review

    opts = opts or CompareOptions()
    for k in opts.by:
        if k not in BY_KEYS:
            from base.errors import ConfigError

            raise ConfigError(f"cannot group by {k!r}; use some of: {', '.join(BY_KEYS)}")
    rows = rows if rows is not None else list_rows(root, opts.athlete)
    if opts.sessions is not None:
        rows = [r for r in rows if r["id"] in opts.sessions]
    conds: dict[tuple, _Cond] = {}
    for i, row in enumerate(rows):
        if progress is not None:
            progress(i, len(rows), f"session {row['id']}")
        directory = Path(row["path"]) if row.get("path") else None
        review = get_review(directory or row["id"], root=root, use_cache=use_cache)
        speed = _speed_bucket(row.get("treadmill_speed_kmh"), opts.speed_tol_kmh)
        key = tuple(
            (str(speed) + " km/h" if speed is not None else "speed ?")
            if k == "speed"
            else (row.get(k) or "?")
            for k in opts.by
        )
        sensor = "force plate" if review.data.get("no_map") else "insole"
        group = (row.get("athlete") or "", speed, sensor, key)
        c = conds.setdefault(group, _Cond(key, row.get("athlete") or "", speed, sensor))
        c.sessions.append({"id": row["id"], "started_at": row.get("started_at")})
        c.reviews.append(review)
    if progress is not None:
        progress(len(rows), len(rows), "bootstrap")
    rng = np.random.default_rng(opts.seed)
    ordered = sorted(conds.values(), key=lambda c: (c.athlete, c.speed or -1.0, c.sensor, c.key))
    comparisons = []
    for a, b in itertools.combinations(ordered, 2):
        if a.athlete != b.athlete or a.speed != b.speed or a.sensor != b.sensor:
            continue  # a plate's steps and an insole's are not one measurement
        if opts.reference is not None and b.label == opts.reference:
            a, b = b, a
        comparisons.append(_compare_pair(a, b, opts, rng))
    return {
        "by": list(opts.by),
        "athlete": opts.athlete,
        "discard_steps_per_foot": opts.discard_steps,
        "min_steps": opts.min_steps,
        "reference": opts.reference,
        "effect_definition": "effect = mean(A) - mean(B); pct_change = 100*(mean(B)/mean(A) - 1)",
        "risk_label": RISK_LABEL,
        "conditions": [
            {
                "label": c.label,
                "key": list(c.key),
                "athlete": c.athlete,
                "speed_kmh": c.speed,
                "sensor": c.sensor,
                "sessions": [s["id"] for s in c.sessions],
                "steps": sum(len(r.data["steps"]) for r in c.reviews),
            }
            for c in ordered
        ],
        "comparisons": comparisons,
        "_conds": ordered,
    }


def difference_maps(cmp: dict[str, Any], index: int, discard: int = 30) -> dict[str, Any]:
    """Difference maps (A − B) of the mean per-step peak pressure, per foot, for one
    comparison, with the Mean and Max maps of each condition (``"conditions"``: mean and
    largest per-step peak over the condition's sessions, on the live page's fixed scale);
    only where both conditions use the same layout and size."""
    from analysis.hotspots import InterpolationGrid
    from review.maps import FIXED_SCALE_TOP, difference_map, foot_map
    from review.session import dense_weights, interpolate_many, to_grid

    pair = cmp["comparisons"][index]
    conds = {
        c.label: c
        for c in cmp["_conds"]
        if c.athlete == pair["athlete"]
        and c.speed == pair["speed_kmh"]
        and c.sensor == pair["sensor"]
    }
    a, b = conds[pair["a"]], conds[pair["b"]]
    out: dict[str, Any] = {}
    for foot in ("left", "right"):
        if a.sensor == "force plate":
            out[foot] = {"note": "force plate: no pressure map, so no difference map"}
            continue
        layouts = {
            (r.data["feet"][foot]["layout_id"], r.data["feet"][foot]["eu_size"])
            for r in a.reviews + b.reviews
            if foot in r.data["feet"]
        }
        if len(layouts) != 1:
            out[foot] = {"note": "layouts differ (or foot missing): no difference map"}
            continue

        def mean_map(c: _Cond, foot: str = foot, reduce: Any = np.nanmean) -> np.ndarray:
            rows = [r.arrays[f"{foot}/step_peak_kpa"][discard:] for r in c.reviews]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return reduce(np.vstack(rows), axis=0)

        ((layout_id, eu),) = layouts
        from hardware.layout import load_layout

        lay = load_layout(layout_id, foot=foot, eu_size=eu)
        grid = InterpolationGrid.from_layout(lay)
        w = dense_weights(grid, lay.n_sensels)
        diff = to_grid(grid, interpolate_many(w, mean_map(a) - mean_map(b))[0])
        png, limit = difference_map(np.asarray(lay.outline_mm), grid.x_mm, grid.y_mm, diff)
        out[foot] = {
            "title": f"Peak pressure difference ({pair['a']} − {pair['b']})",
            "unit": "kPa",
            "png": png,
            "scale": {"min": round(-limit, 3), "max": round(limit, 3)},
            "conditions": [
                {
                    "kind": kind,
                    "condition": c.label,
                    "title": f"{kind.capitalize()} peak pressure, {c.label}",
                    "unit": "kPa",
                    "scale": {"min": 0.0, "max": FIXED_SCALE_TOP["peak_pressure"]},
                    "png": foot_map(
                        np.asarray(lay.outline_mm),
                        grid=(
                            grid.x_mm,
                            grid.y_mm,
                            to_grid(grid, interpolate_many(w, mean_map(c, reduce=fn))[0]),
                        ),
                        vmax=FIXED_SCALE_TOP["peak_pressure"],
                        unit="kPa",
                    ),
                }
                for c in (a, b)
                for kind, fn in (("mean", np.nanmean), ("max", np.nanmax))
            ],
        }
    return out


def public(cmp: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able part of a comparison result."""
    return {k: v for k, v in cmp.items() if not k.startswith("_")}
