"""Validation of the foot contact event detectors on real recordings (``plantar validate``).

Every recording under a data directory that an importer recognises (Moticon, pedar,
gaitpdb, Fukuchi force files, C3D force plates) is read through the importers; each foot
becomes a :class:`Trial`: the total vertical force Plantar computes (pressure x sensel
area on the file's layout, or the plate's vertical force) and the reference steps:

* Moticon step annotations (codes 11/15, 21/25) where the file has them;
* otherwise a stated force threshold: the foot's force crosses :data:`REF_LEVEL_N`
  (20 N) above its unloaded baseline (the 5th percentile), on the file's own force column
  where it has one (gaitpdb totals, Moticon total force, the plate's Fy) and on
  Plantar's force otherwise (pedar). Runs shorter than :data:`REF_MIN_S` are noise, gaps
  shorter than :data:`REF_BRIDGE_S` are bridged, contacts cut by the start or end of the
  file or by missing samples are left out, and a contact that does not load the foot to
  half the median peak of the foot's contacts is not a step (a shuffle). On a sensor
  whose declared event convention is shares of the peak (``Layout.gait_events ==
  "share-of-peak"``: Moticon), heel strike is instead where the force rises through
  :data:`REF_HS_SHARE` of the median step peak and toe-off where it falls through
  :data:`REF_TO_SHARE` of the step's own peak: the levels Moticon's own annotations mark
  on ``230927_102114.txt`` (``test_moticon_convention_reference_reproduces_the_annotations``).

Each detector of :data:`analysis.event_detectors.EVENT_DETECTORS` runs on every trial;
detected and reference steps are paired when their contacts overlap. Reported per trial
and detector: heel-strike and toe-off error (median and 90th percentile of the absolute
error, and the median signed error), % of reference steps matched within
:data:`MATCH_S` at both events, phantom steps (detected, overlapping no reference step),
missed steps, median contact time, and Plantar's total force against the file's own force
column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.event_detectors import EventDetector, make_detector, plantar_force_n

__all__ = ["load_trials", "plantar_force_n", "resampled", "score", "validate"]

REF_LEVEL_N = 20.0
REF_MIN_S = 0.05
REF_BRIDGE_S = 0.02
REF_STEP_FRAC = 0.5
#: References on a share-of-peak sensor (Moticon's annotated convention): heel strike where
#: the force rises through this share of the median step peak, toe-off where it falls
#: through this share of the step's own peak, each above the baseline.
REF_HS_SHARE = 0.05
REF_TO_SHARE = 0.10
MATCH_S = 0.05
EDGE_S = 0.3  # annotated recordings: phantoms count within the annotated span +- this
#: Bars of issue 15: median error (ms) by reference kind, p90 (ms), % matched, phantoms.
BAR_MEDIAN_MS = {"force plate": 10.0, "annotation": 20.0, "threshold": 20.0}
BAR_P90_MS = 30.0
BAR_MATCHED_PCT = 98.0
BAR_PHANTOM = 0
PATTERNS = ("*.txt", "*.asc", "*.c3d")
SKIP_NAMES = {"README.md", "LICENSE", "SHA256SUMS"}


@dataclass
class Trial:
    """One foot of one recording: the force detectors read and the reference steps."""

    file: str
    fmt: str
    foot: str
    t_s: np.ndarray
    sampling_rate_hz: float
    force_n: np.ndarray
    ref_hs_s: np.ndarray
    ref_to_s: np.ndarray
    reference: str
    reference_kind: str
    span_s: tuple[float, float]
    own_force_n: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    #: The sensor's toe-off convention (``Layout.gait_events``); the detectors that follow
    #: one are told it.
    gait_events: str = "threshold"


def _interp(t0: float, f0: float, t1: float, f1: float, level: float) -> float:
    return t1 if f1 == f0 else t0 + (level - f0) / (f1 - f0) * (t1 - t0)


def threshold_steps(
    t_s: np.ndarray, force_n: np.ndarray, convention: str = "threshold"
) -> tuple[np.ndarray, np.ndarray]:
    """Reference steps from a force signal by the stated threshold rule (module doc);
    ``convention="share-of-peak"``: at :data:`REF_HS_SHARE` / :data:`REF_TO_SHARE` of the
    peak."""
    f = np.asarray(force_n, dtype=np.float64)
    ok = np.isfinite(f)
    if ok.sum() < 3:
        return np.empty(0), np.empty(0)
    level = float(np.percentile(f[ok], 5)) + REF_LEVEL_N
    # a missing sample keeps the state of the last one read: it does not split a contact
    last_read = np.maximum.accumulate(np.where(ok, np.arange(len(f)), 0))
    above = (ok[last_read] & (f[last_read] > level)).astype(np.int8)
    edges = np.diff(np.concatenate([[0], above, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    runs: list[list[int]] = []
    for a, b in zip(starts, ends, strict=True):
        if runs and t_s[a] - t_s[runs[-1][1]] <= REF_BRIDGE_S:
            runs[-1][1] = int(b)
        else:
            runs.append([int(a), int(b)])
    n = len(f)
    runs = [
        r
        for r in runs
        if r[0] > 0 and r[1] < n - 1 and ok[r[0] - 1 : r[0] + 1].all()
        and ok[r[1] : r[1] + 2].all()  # not cut by the file's ends or a gap
        and t_s[r[1]] - t_s[r[0]] >= REF_MIN_S
    ]  # fmt: skip
    if not runs:
        return np.empty(0), np.empty(0)
    floor = level - REF_LEVEL_N
    peaks = np.array([np.nanmax(f[a : b + 1]) - floor for a, b in runs])
    keep = peaks >= REF_STEP_FRAC * np.median(peaks)
    hs, to = [], []
    share = convention == "share-of-peak"
    rise = max(level, floor + REF_HS_SHARE * float(np.median(peaks))) if share else level
    for (a, b), peak in zip(runs, peaks, strict=True):
        # the first rise through the heel-strike level (the higher of the two levels)
        while a < b and not (f[a] >= rise and f[a - 1] == f[a - 1]):
            a += 1
        hs.append(_interp(t_s[a - 1], f[a - 1], t_s[a], f[a], rise))
        # the last fall through the toe-off level
        cut = max(level, floor + REF_TO_SHARE * peak) if share else level
        while b > a and not (f[b] >= cut and f[b + 1] == f[b + 1]):
            b -= 1
        to.append(_interp(t_s[b], f[b], t_s[b + 1], f[b + 1], cut))
    return np.array(hs)[keep], np.array(to)[keep]


def _annotated_steps(events: list[dict[str, Any]], foot: str) -> tuple[np.ndarray, np.ndarray]:
    hs: list[float] = []
    to: list[float] = []
    pending = np.nan
    for e in sorted(events, key=lambda e: e["t_s"]):
        if e.get("foot") != foot:
            continue
        if e["kind"] == "heel_strike":
            pending = e["t_s"]
        elif e["kind"] == "toe_off" and pending == pending:
            hs.append(pending)
            to.append(e["t_s"])
            pending = np.nan
    return np.array(hs), np.array(to)


def load_trials(path: Path, root: Path) -> list[Trial]:
    """The trials (one per foot) of one recording."""
    from hardware.layout import load_layout
    from store.importers import read_recording
    from store.importers.force_plate import LAYOUT_ID as PLATE_LAYOUT

    rec = read_recording(path)
    name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    trials = []
    for foot, frames in rec.feet.items():
        t = np.asarray(frames.t_s, dtype=np.float64)
        rate = 1.0 / float(np.median(np.diff(t)))
        own = next(
            (
                np.asarray(c.values["total_force_n"], dtype=np.float64)
                for c in rec.channels
                if c.group == "force" and c.foot == foot and "total_force_n" in c.values
            ),
            None,
        )
        fl = rec.layouts[foot]
        convention = "threshold"
        if fl.layout_id == PLATE_LAYOUT:
            assert own is not None
            force, kind = own, "force plate"
            reference = f"force plate Fy > {REF_LEVEL_N:g} N"
        else:
            layout = load_layout(fl.layout_id, foot=foot, eu_size=fl.eu_size)
            convention = layout.gait_events
            force = plantar_force_n(frames.pressure_kpa, layout)
            kind = "threshold"
            column = "the file's total force" if own is not None else "Plantar's force"
            reference = f"{column} > baseline + {REF_LEVEL_N:g} N"
            if convention == "share-of-peak":
                reference = (
                    f"{column}: heel strike > {100 * REF_HS_SHARE:g} % of the median step "
                    f"peak, toe-off < {100 * REF_TO_SHARE:g} % of the step's peak (the "
                    "maker's convention)"
                )
        hs, to = _annotated_steps(rec.events, foot)
        if len(hs):
            kind, reference = "annotation", "Moticon step annotations"
            span = (float(hs[0]) - EDGE_S, float(to[-1]) + EDGE_S)
        else:
            hs, to = threshold_steps(t, own if own is not None else force, convention)
            span = (float(t[0]), float(t[-1]))
        trials.append(
            Trial(
                name, rec.fmt, foot, t, rate, force, hs, to, reference, kind, span,
                None if fl.layout_id == PLATE_LAYOUT else own, gait_events=convention,
            )
        )  # fmt: skip
    return trials


def default_data_dir() -> Path | None:
    """``../shared/data`` beside the project (a source checkout), or None."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def find_recordings(root: Path) -> list[Path]:
    """Every file under ``root`` an importer recognises, sorted."""
    from base.errors import PlantarError
    from store.importers import detect_format

    found = []
    for pattern in PATTERNS:
        for path in root.rglob(pattern):
            if path.name in SKIP_NAMES:
                continue
            try:
                detect_format(path)
            except PlantarError:
                continue
            found.append(path)
    return sorted(set(found))


def _percentile_ms(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(np.abs(values), q)) * 1000.0, 1) if len(values) else None


def score(trial: Trial, detector: EventDetector) -> dict[str, Any]:
    """Detect the steps of ``trial`` and compare them with its reference."""
    detector.detect(trial.force_n, sampling_rate_hz=trial.sampling_rate_hz, t_s=trial.t_s)
    d_hs, d_to = detector.heel_strike_s_, detector.toe_off_s_
    lo, hi = trial.span_s
    inside = (d_to >= lo) & (d_hs <= hi)
    d_hs, d_to = d_hs[inside], d_to[inside]
    used = np.zeros(len(d_hs), dtype=bool)
    hs_err, to_err, matched, missed = [], [], 0, 0
    for r_hs, r_to in zip(trial.ref_hs_s, trial.ref_to_s, strict=True):
        overlap = np.flatnonzero((d_hs < r_to) & (d_to > r_hs) & ~used)
        if len(overlap) == 0:
            missed += 1
            continue
        k = overlap[np.argmin(np.abs(d_hs[overlap] - r_hs))]
        used[k] = True
        e_hs, e_to = d_hs[k] - r_hs, d_to[k] - r_to
        hs_err.append(e_hs)
        to_err.append(e_to)
        matched += int(abs(e_hs) <= MATCH_S and abs(e_to) <= MATCH_S)
    n_ref = len(trial.ref_hs_s)
    hs_a, to_a = np.array(hs_err), np.array(to_err)
    row: dict[str, Any] = {
        "steps_reference": n_ref,
        "steps_detected": len(d_hs),
        "heel_strike_error_ms": {
            "median": _percentile_ms(hs_a, 50),
            "p90": _percentile_ms(hs_a, 90),
            "bias": round(float(np.median(hs_a)) * 1000, 1) if len(hs_a) else None,
        },
        "toe_off_error_ms": {
            "median": _percentile_ms(to_a, 50),
            "p90": _percentile_ms(to_a, 90),
            "bias": round(float(np.median(to_a)) * 1000, 1) if len(to_a) else None,
        },
        "matched_pct": round(100.0 * matched / n_ref, 1) if n_ref else None,
        "phantom_steps": int((~used).sum()),
        "missed_steps": missed,
        "contact_time_s": round(float(np.median(d_to - d_hs)), 3) if len(d_hs) else None,
        "contact_time_reference_s": (
            round(float(np.median(trial.ref_to_s - trial.ref_hs_s)), 3) if n_ref else None
        ),
    }
    row["meets_bars"] = meets_bars(row, trial.reference_kind)
    return row


def meets_bars(row: dict[str, Any], reference_kind: str) -> bool:
    """The bars of issue 15 for one trial and detector."""
    if not row["steps_reference"]:
        return False
    bar = BAR_MEDIAN_MS[reference_kind]
    for key in ("heel_strike_error_ms", "toe_off_error_ms"):
        med, p90 = row[key]["median"], row[key]["p90"]
        if med is None or med > bar or p90 > BAR_P90_MS:
            return False
    return (
        row["matched_pct"] >= BAR_MATCHED_PCT
        and row["phantom_steps"] <= BAR_PHANTOM
        and row["missed_steps"] == 0
    )


def force_agreement(trial: Trial) -> float | None:
    """Plantar's total force over the file's own, summed over loaded samples (ratio)."""
    if trial.own_force_n is None:
        return None
    own, ours = trial.own_force_n, trial.force_n
    loaded = np.isfinite(own) & np.isfinite(ours) & (own > 50.0)
    if loaded.sum() < 10:
        return None
    return round(float(ours[loaded].sum() / own[loaded].sum()), 4)


def force_at_reference(trial: Trial) -> dict[str, float | None]:
    """What the reference calls heel strike and toe-off, in the force the detectors read:
    the median force (N) at the reference's events, and at toe-off as % of the step's peak
    above the foot's 5th percentile. A 20 N threshold reads ~20 N; an annotation made at
    another level shows it."""
    t, f = trial.t_s, trial.force_n
    ok = np.isfinite(f)
    if not len(trial.ref_hs_s) or ok.sum() < 3:
        return {"heel_strike_n": None, "toe_off_n": None, "toe_off_pct_of_peak": None}
    base = float(np.percentile(f[ok], 5))
    hs = np.interp(trial.ref_hs_s, t[ok], f[ok]) - base
    to = np.interp(trial.ref_to_s, t[ok], f[ok]) - base
    spans = zip(trial.ref_hs_s, trial.ref_to_s, strict=True)
    peaks = np.array([np.nanmax(f[(t >= a) & (t <= b)]) - base for a, b in spans])
    return {
        "heel_strike_n": round(float(np.median(hs)), 1),
        "toe_off_n": round(float(np.median(to)), 1),
        "toe_off_pct_of_peak": round(float(np.median(100.0 * to / peaks)), 1),
    }


def resampled(trial: Trial, step: int) -> Trial:
    """``trial`` as a slower recorder would have sampled it: every ``step``-th sample (no
    filter, as an insole's sampler), with the threshold reference recomputed on it."""
    t, force = trial.t_s[::step], trial.force_n[::step]
    hs, to = threshold_steps(t, force, trial.gait_events)
    return Trial(
        trial.file, trial.fmt, trial.foot, t, trial.sampling_rate_hz / step, force, hs, to,
        trial.reference, trial.reference_kind, (float(t[0]), float(t[-1])),
        gait_events=trial.gait_events,
    )  # fmt: skip


#: Force-plate trials are also scored resampled to these rates (Hz): insoles record at
#: 50-200 Hz, and every rule of the detector must hold at a rate it was not looked at.
RESAMPLED_RATES_HZ = (100.0, 150.0)


def _resampled_rows(trial: Trial, names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for rate in RESAMPLED_RATES_HZ:
        step = round(trial.sampling_rate_hz / rate)
        if step < 2:
            continue
        slow = resampled(trial, step)
        rows.append(
            {
                "file": trial.file,
                "foot": trial.foot,
                "sampling_rate_hz": round(slow.sampling_rate_hz, 3),
                "detectors": {
                    name: score(slow, make_detector(name, slow.gait_events)) for name in names
                },
            }
        )
    return rows


def validate(root: Path, detectors: list[str] | None = None) -> dict[str, Any]:
    """The validation document: every recording under ``root``, every detector; the
    force-plate trials also resampled to :data:`RESAMPLED_RATES_HZ` (``"resampled"``)."""
    from analysis.event_detectors import EVENT_DETECTORS

    names = detectors or list(EVENT_DETECTORS)
    from base.errors import PlantarError

    trials_out, skipped, resampled_out = [], [], []
    for path in find_recordings(root):
        try:
            trials = load_trials(path, root)
        except PlantarError as err:
            skipped.append({"file": str(path), "error": str(err)})
            continue
        for trial in trials:
            if trial.reference_kind == "force plate":
                resampled_out += _resampled_rows(trial, names)
            rows = {name: score(trial, make_detector(name, trial.gait_events)) for name in names}
            trials_out.append(
                {
                    "file": trial.file,
                    "format": trial.fmt,
                    "foot": trial.foot,
                    "sampling_rate_hz": round(trial.sampling_rate_hz, 3),
                    "reference": trial.reference,
                    "reference_kind": trial.reference_kind,
                    "force_vs_file_column": force_agreement(trial),
                    "force_at_reference": force_at_reference(trial),
                    "detectors": rows,
                }
            )
    summary = {}
    for name in names:
        rows = [t["detectors"][name] for t in trials_out]
        summary[name] = {
            "trials": len(rows),
            "trials_meeting_bars": sum(r["meets_bars"] for r in rows),
            "phantom_steps": sum(r["phantom_steps"] for r in rows),
            "missed_steps": sum(r["missed_steps"] for r in rows),
            "worst_heel_strike_median_ms": _worst(rows, "heel_strike_error_ms"),
            "worst_toe_off_median_ms": _worst(rows, "toe_off_error_ms"),
            "lowest_matched_pct": min(
                (r["matched_pct"] for r in rows if r["matched_pct"] is not None), default=None
            ),
        }
    return {
        "data": str(root),
        "bars": {
            "median_ms": BAR_MEDIAN_MS,
            "p90_ms": BAR_P90_MS,
            "matched_pct": BAR_MATCHED_PCT,
            "phantom_steps": BAR_PHANTOM,
            "match_window_ms": MATCH_S * 1000,
        },
        "summary": summary,
        "trials": trials_out,
        "resampled": resampled_out,
        "skipped": skipped,
    }


def _worst(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key]["median"] for r in rows if r[key]["median"] is not None]
    return max(values) if values else None
