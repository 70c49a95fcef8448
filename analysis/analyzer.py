# Long module: the streaming Analyzer and its batch wrapper share per-foot state.
"""The streaming :class:`Analyzer` (frame batches in, step records and alerts out) and the
batch function :func:`analyze_recording` over a whole session (the same Analyzer and
kernels, fed 10 s batches of both feet in time order).

Per batch and foot: one pass of the frame reduction (a
:class:`~analysis.frame_kernels.FrameReducer` prepared once per layout) and of
:func:`~analysis.frame_kernels.free_moment_kernel` on the friction-bounded shear
(:class:`~analysis.pivot.FrictionBound`) into preallocated ring arrays, one call
of :func:`~analysis.contact_events.contact_events_kernel`; per finished step (at toe-off): one
call of :func:`~analysis.step_metrics.step_metrics_kernel` and the hot-spot search.
There is no Python loop over frames.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.alert_policy import (
    ACCLIMATISATION_STEPS,
    PivotAlertPolicy,
)

# Gait events: the contact detector chosen by `plantar validate` (docs/metrics.md).
from analysis.contact_events import (
    ContactParams,
    contact_events_kernel,
    new_contact_state,
    pending_toe_off_s,
)
from analysis.event_detectors import typical_step_peak_n
from analysis.events import EVENT_HEEL_STRIKE
from analysis.fatigue import change_flag, per_minute, ramp_change_point
from analysis.frame_kernels import FrameReducer, free_moment_kernel
from analysis.hotspots import HotSpotTracker, InterpolationGrid, interpolated_note
from analysis.pivot import FRICTION_MU_MAX, FrictionBound, twist_free_moment_kernel
from analysis.records import (
    PIVOT_INVALID_FRAME_LOSS,
    PROXY_LABEL_COP,
    PROXY_LABEL_COP_IMU,
    PivotValue,
    StepRecord,
    pivot_spec,
    round_or_none,
    session_pivot_kind,
)
from analysis.risk import RISK_REGIONS, RiskAssumptions, dose, risk_summary, step_stress_kpa
from analysis.step_metrics import (
    K_INTEGRAL_LATE_KPAS,
    K_PEAK_LATE_KPA,
    N_REGION_ROWS,
    N_SCALARS,
    N_SITE_ROWS,
    PIVOT_MAX_GAP_FRAMES,
    R_FTI_NS,
    R_LATE_PEAK_KPA,
    R_PEAK_KPA,
    R_PTI_KPAS,
    S_COP_ML_SWEEP_LATE_MM,
    S_COP_ROTATION_LATE_DEG,
    S_COP_VELOCITY_MM_PER_S,
    S_FRAME_INTERVAL_S,
    S_FREE_MOMENT_AT_PEAK_NMM,
    S_FREE_MOMENT_IMPULSE_LATE_NMMS,
    S_FREE_MOMENT_PEAK_ABS_NMM,
    S_LATE_START_S,
    S_LOADING_RATE_N_PER_S,
    S_LONGEST_GAP_LATE_S,
    S_LONGEST_GAP_S,
    S_PEAK_FORCE_N,
    S_ROTATIONAL_SHEAR_PEAK_LATE_KPA,
    S_STRIKE_INDEX_PCT,
    S_YAW_RATE_PEAK_LATE_DPS,
    step_metrics_kernel,
    strike_pattern,
    symmetry_index_pct,
)
from base.errors import ConfigError
from base.frames import MAX_SAMPLING_RATE_HZ, FootFrames
from hardware.layout import REGIONS, Layout

#: Risk kind and label of a region no step measured (no sensor under it on this insole).
NOT_MEASURED = "not measured"
NOT_MEASURED_LABEL = "not measured: no sensor under this region (or no valid step)"
#: A step whose peak force is below this share of the foot's recent median is rejected
#: (a shuffle or weight shift, not a step).
MIN_STEP_PEAK_FRAC = 0.4


class _Ring:
    """Per-foot frame-level arrays for the last ``keep`` frames (amortised O(1) append)."""

    def __init__(self, n_sensels: int, n_regions: int, n_shear: int, capacity: int) -> None:
        self.capacity = capacity
        self.n = 0
        self.t_s = np.empty(capacity)
        self.force_n = np.empty(capacity)
        self.cop_xy_mm = np.empty((capacity, 2))
        self.region_force_n = np.empty((capacity, n_regions))
        self.region_peak_kpa = np.empty((capacity, n_regions))
        self.free_moment_nmm = np.zeros(capacity)
        self.rotational_shear_kpa = np.zeros(capacity)
        self.shear_resultant_kpa = np.zeros((capacity, n_shear))
        self.yaw_rate_dps = np.full(capacity, np.nan)
        self.pressure_kpa = np.empty((capacity, n_sensels), dtype=np.float32)

    _NAMES = (
        "t_s",
        "force_n",
        "cop_xy_mm",
        "region_force_n",
        "region_peak_kpa",
        "free_moment_nmm",
        "rotational_shear_kpa",
        "shear_resultant_kpa",
        "yaw_rate_dps",
        "pressure_kpa",
    )

    def reserve(self, m: int, keep: int) -> slice:
        """Room for ``m`` new rows, keeping at least the last ``keep``; returns their slice."""
        if self.n + m > self.capacity:
            keep = min(keep, self.n)
            if keep + m > self.capacity:
                self.capacity = 2 * (keep + m)
                for name in self._NAMES:
                    old = getattr(self, name)
                    new = np.empty((self.capacity, *old.shape[1:]), dtype=old.dtype)
                    new[:keep] = old[self.n - keep : self.n]
                    setattr(self, name, new)
            else:
                for name in self._NAMES:
                    arr = getattr(self, name)
                    arr[:keep] = arr[self.n - keep : self.n]
            self.n = keep
        sl = slice(self.n, self.n + m)
        self.n += m
        return sl


# -- what the live engine publishes (per-frame reductions, hot cells, pivot alert) --------


#: Pivot values per foot kept for the gauge's sparkline.
PIVOT_HISTORY_STEPS = 40


@dataclass
class FrameReductions:
    """The Analyzer's per-frame reductions of one batch of one foot (copies, row = frame).

    ``stance`` is the gait-event detector's phase after each frame: True from the frame at
    which a heel strike was decided to the first frame at or after its toe-off. A toe-off
    is decided ``bridge_s`` after its time: frames since then are swing already, and so
    are those of a dip below the contact level still undecided at the end of the batch
    (if the dip is bridged, the next batch is stance again).
    """

    foot: str
    force_n: np.ndarray
    cop_xy_mm: np.ndarray
    stance: np.ndarray


def step_time_s(
    heel_strike_s: float, own_previous_s: float | None, opposite_previous_s: float | None
) -> float | None:
    """Step time: from the other foot's heel strike to this one (Perry & Burnfield, *Gait
    Analysis*, 2010), or None when it is not one step.

    The other foot's heel strike must lie within this foot's stride, after its own previous
    heel strike: when the other insole was lost for a while its last heel strike is older,
    and the interval would be several steps (cadence halved after a reconnection).
    """
    if opposite_previous_s is None:
        return None
    if own_previous_s is not None and opposite_previous_s <= own_previous_s:
        return None
    dt = heel_strike_s - opposite_previous_s
    return dt if 0.0 < dt < 2.0 else None


@dataclass
class AnalyzerOutput:
    """What one :meth:`Analyzer.feed` produced.

    ``hot_cells`` has one entry per step in ``steps``: the flat indices of the cells of the
    foot's :class:`~analysis.hotspots.InterpolationGrid` that were hot on that step's own
    peak-pressure map (empty without hot-spot tracking).
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    frames: FrameReductions | None = None
    hot_cells: list[list[int]] = field(default_factory=list)


# -----------------------------------------------------------------------------------------


class _FootState:
    def __init__(self, layout: Layout, params: np.ndarray, keep_frames: int, hotspots: bool):
        self.layout = layout
        self.params = params
        self.state = new_contact_state()
        self.ring = _Ring(layout.n_sensels, len(REGIONS), layout.n_shear, 4 * keep_frames)
        self.keep = keep_frames
        self.pending_hs: float | None = None
        self.last_hs: float | None = None
        self.peaks: deque[float] = deque(maxlen=20)  # recent step peaks, for rejection
        self.rejected = 0
        # Layout tables built once: live batches are often a few frames.
        self.reduce_frames = FrameReducer(
            layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region, len(REGIONS)
        )
        self.bound_shear = FrictionBound(FRICTION_MU_MAX)
        self.shear_xy = np.ascontiguousarray(layout.shear_xy_mm, dtype=np.float64).reshape(-1, 2)
        self.shear_area = np.ascontiguousarray(layout.shear_area_mm2, dtype=np.float64)
        self.sensel_xy = np.ascontiguousarray(layout.sensel_xy_mm, dtype=np.float64)
        self.sensel_area = np.ascontiguousarray(layout.sensel_area_mm2, dtype=np.float64)
        self.tracker = (
            HotSpotTracker(InterpolationGrid.from_layout(layout), layout.foot_length_mm)
            if hotspots
            else None
        )
        #: regions with at least one sensel; the others are "not measured" (None).
        #: label of hot spots found by interpolating between sparse sensors ("" if dense).
        self.interpolated = interpolated_note(layout)
        self.region_measured = np.bincount(layout.sensel_region, minlength=len(REGIONS)) > 0
        #: True once a batch came with a yaw rate (the proxy then uses an IMU signal).
        self.has_imu = False
        self.last_hot_cells: list[int] = []
        self.pivot_history: deque[float] = deque(maxlen=PIVOT_HISTORY_STEPS)
        self.scalars = np.empty(N_SCALARS)
        self.region_out = np.empty((N_REGION_ROWS, len(REGIONS)))
        self.site_out = np.empty((N_SITE_ROWS, layout.n_shear))


class Analyzer:
    """Streaming analysis of one runner: feed :class:`FootFrames` batches of either foot.

    Parameters
    ----------
    layouts : {"left": Layout, "right": Layout} of the insoles (each for its own foot).
    event_params : gait event detector parameters; each foot takes its toe-off rule from
        its layout's sensor convention (:meth:`ContactParams.for_sensor`).
    risk : blister-risk assumptions.
    speed_mps : running speed, for the risk index per km (None: per step only).
    hotspots : find forefoot hot spots per step (needs the raw frames of the step).
    keep_s : seconds of frames kept per foot (longer than any stance phase).
    keep_steps : step records and alerts kept in :attr:`steps` / :attr:`alerts`; None
        keeps every one (the batch pass, which summarises the whole session). The live
        path keeps a window so that memory and per-step work stay flat over a 2-hour run;
        the pivot baseline is kept separately and is not affected.
    pivot_alert : when ``"pivot_rising"`` is raised (default :class:`PivotAlertPolicy`).
    """

    def __init__(
        self,
        layouts: dict[str, Layout],
        *,
        event_params: ContactParams | None = None,
        risk: RiskAssumptions | None = None,
        speed_mps: float | None = None,
        hotspots: bool = True,
        keep_s: float = 3.0,
        rate_hint_hz: float = 500.0,
        keep_steps: int | None = None,
        pivot_alert: PivotAlertPolicy | None = None,
    ) -> None:
        self.event_params = event_params or ContactParams()
        keep = int(keep_s * rate_hint_hz)
        self.feet = {
            f: _FootState(
                lay, self.event_params.for_sensor(lay.gait_events).as_array(), keep, hotspots
            )
            for f, lay in layouts.items()
        }
        self.risk = risk or RiskAssumptions()
        self.speed_mps = speed_mps
        self.keep_steps = keep_steps
        self.steps: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.n_steps = 0  # steps found since the start, whatever the window keeps
        self._baseline_pivot: list[float] = []  # pivot of steps after acclimatisation
        self.pivot_alert = pivot_alert or PivotAlertPolicy()
        self._recent_pivot: deque[float] = deque(maxlen=self.pivot_alert.recent_steps)
        self._last_alert_s = -np.inf
        self._pivot_kind: str | None = None  # kind of the steps in the alert's baseline
        self._pivot_baseline = math.nan
        self._pivot_recent = math.nan
        #: True while the recent pivot is above the policy's factor x baseline.
        self.pivot_alert_active = False

    def seed_events(self, frames: FootFrames, chunk: int = 65536) -> None:
        """Stored recording, before it is fed: seed the foot's contact detector with the
        typical step peak of a first pass (:func:`~analysis.event_detectors.typical_step_peak_n`),
        so the batch path runs exactly the two-pass detector ``plantar validate`` scores."""
        fs = self.feet[frames.foot]
        n, n_regions = len(frames), len(REGIONS)
        force = np.empty(n)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            fs.reduce_frames(
                np.ascontiguousarray(frames.pressure_kpa[a:b], dtype=np.float32),
                force[a:b],
                np.empty((b - a, 2)),
                np.empty((b - a, n_regions)),
                np.empty((b - a, n_regions)),
            )
        seed = typical_step_peak_n(
            frames.t_s, force, self.event_params.for_sensor(fs.layout.gait_events)
        )
        fs.state = new_contact_state(seed)

    def feed(self, frames: FootFrames, yaw_rate_dps: np.ndarray | None = None) -> AnalyzerOutput:
        """Analyse one batch of one foot; returns the steps finished in it and alerts."""
        fs = self.feet[frames.foot]
        n = len(frames)
        out = AnalyzerOutput()
        if n == 0:
            return out
        ring = fs.ring
        sl = ring.reserve(n, fs.keep)
        ring.t_s[sl] = frames.t_s
        ring.pressure_kpa[sl] = frames.pressure_kpa
        fs.reduce_frames(
            ring.pressure_kpa[sl],
            ring.force_n[sl],
            ring.cop_xy_mm[sl],
            ring.region_force_n[sl],
            ring.region_peak_kpa[sl],
        )
        if fs.layout.n_shear:
            # Shear a site's own normal stress cannot hold by friction is noise (pivot.py).
            free_moment_kernel(
                fs.bound_shear(frames.shear_kpa),
                fs.shear_xy,
                fs.shear_area,
                ring.cop_xy_mm[sl],
                ring.free_moment_nmm[sl],
                ring.shear_resultant_kpa[sl],
                ring.rotational_shear_kpa[sl],
            )
            # The pivot: the twist at the sites over the whole insole (analysis/pivot.py).
            twist_free_moment_kernel(
                ring.pressure_kpa[sl],
                fs.sensel_xy,
                fs.sensel_area,
                ring.cop_xy_mm[sl],
                ring.rotational_shear_kpa[sl],
                ring.free_moment_nmm[sl],
            )
        ring.yaw_rate_dps[sl] = np.nan if yaw_rate_dps is None else yaw_rate_dps
        if yaw_rate_dps is not None and not fs.has_imu:
            fs.has_imu = bool(np.isfinite(yaw_rate_dps).any())
        events = np.empty((n + 1, 3))
        n_ev = contact_events_kernel(ring.t_s[sl], ring.force_n[sl], fs.params, fs.state, events)
        stance = np.full(n, fs.pending_hs is not None)
        for kind, t_event, i_event in events[:n_ev]:
            if kind == EVENT_HEEL_STRIKE:
                stance[int(i_event) :] = True
            else:  # decided bridge_s after it: the frames since its time are swing already
                stance[int(np.searchsorted(ring.t_s[sl], t_event)) :] = False
            if kind == EVENT_HEEL_STRIKE:
                fs.pending_hs = float(t_event)
            elif fs.pending_hs is not None:
                step = self._finish_step(frames.foot, fs, fs.pending_hs, float(t_event))
                fs.pending_hs = None
                if step is not None:
                    out.steps.append(step)
                    out.hot_cells.append(fs.last_hot_cells)
        t_off = pending_toe_off_s(fs.state)
        if t_off == t_off:  # below the contact level, toe-off not decided yet: not loading
            stance[int(np.searchsorted(ring.t_s[sl], t_off)) :] = False
        out.frames = FrameReductions(
            frames.foot, ring.force_n[sl].copy(), ring.cop_xy_mm[sl].copy(), stance
        )
        self.steps.extend(out.steps)
        out.alerts = self._alerts(out.steps)
        self.alerts.extend(out.alerts)
        if self.keep_steps is not None:
            del self.steps[: max(0, len(self.steps) - self.keep_steps)]
            del self.alerts[: max(0, len(self.alerts) - self.keep_steps)]
        return out

    def _finish_step(
        self, foot: str, fs: _FootState, hs: float, to: float
    ) -> dict[str, Any] | None:
        ring = fs.ring
        t = ring.t_s[: ring.n]
        i0 = int(np.searchsorted(t, hs, side="left"))
        i1 = int(np.searchsorted(t, to, side="right"))
        if i1 - i0 < 2:
            return None
        step_metrics_kernel(
            ring.t_s,
            ring.force_n,
            ring.cop_xy_mm,
            ring.region_force_n,
            ring.region_peak_kpa,
            ring.free_moment_nmm,
            ring.rotational_shear_kpa,
            ring.shear_resultant_kpa,
            ring.yaw_rate_dps,
            i0,
            i1,
            hs,
            to,
            REGIONS.index("heel"),
            float(fs.layout.foot_length_mm),
            fs.scalars,
            fs.region_out,
            fs.site_out,
        )
        s = fs.scalars
        peak = s[S_PEAK_FORCE_N]
        recent = list(fs.peaks)
        if recent and not peak >= MIN_STEP_PEAK_FRAC * float(np.median(recent)):
            fs.rejected += 1
            return None
        fs.peaks.append(float(peak))
        opposite = [
            st["heel_strike_s"]
            for st in self.steps[-8:]
            if st["foot"] != foot and st["heel_strike_s"] < hs
        ]
        step_time = step_time_s(hs, fs.last_hs, max(opposite) if opposite else None)
        stride_time = hs - fs.last_hs if fs.last_hs is not None else np.nan
        fs.last_hs = hs
        reg = fs.region_out
        # A run of lost frames over late stance or toe-off hides the pivot (its peak may
        # lie in the run): the step's late-stance values are not reported as if measured.
        late_gap = s[S_LONGEST_GAP_LATE_S]
        pivot_ok = bool(late_gap <= PIVOT_MAX_GAP_FRAMES * s[S_FRAME_INTERVAL_S])
        measured = fs.region_measured

        def per_region(row: int) -> dict[str, float | None]:
            return {r: reg[row, i] if measured[i] else None for i, r in enumerate(REGIONS)}

        pivot = self._pivot_values(fs, s)
        record = StepRecord(
            foot=foot,
            heel_strike_s=hs,
            toe_off_s=to,
            step_time_s=step_time,
            stride_time_s=stride_time if 0 < stride_time < 4.0 else None,
            peak_force_n=peak,
            loading_rate_n_per_s=s[S_LOADING_RATE_N_PER_S],
            strike_index=s[S_STRIKE_INDEX_PCT],
            strike_pattern=strike_pattern(s[S_STRIKE_INDEX_PCT]),
            cop_velocity_mm_per_s=s[S_COP_VELOCITY_MM_PER_S],
            late_stance_start_s=s[S_LATE_START_S],
            longest_gap_s=s[S_LONGEST_GAP_S],
            peak_pressure_kpa=per_region(R_PEAK_KPA),
            pti_kpa_s=per_region(R_PTI_KPAS),
            fti_n_s=per_region(R_FTI_NS),
            pivot=pivot if pivot_ok else pivot.invalidated(PIVOT_INVALID_FRAME_LOSS),
            risk_dose=(self._risk(fs, s, reg) if pivot_ok else dict.fromkeys(RISK_REGIONS, None)),
        )
        if fs.tracker is not None:
            peak_map = np.nanmax(ring.pressure_kpa[i0:i1], axis=0)
            note = {"interpolated": fs.interpolated} if fs.interpolated else {}
            record.hotspots = [h.to_dict() | note for h in fs.tracker.step(peak_map)[:3]]
            fs.last_hot_cells = np.flatnonzero(fs.tracker.last_hot).tolist()
        return record.to_dict()

    def _pivot_values(self, fs: _FootState, s: np.ndarray) -> PivotValue:
        if fs.layout.n_shear:
            names = [site.name for site in fs.layout.shear_sites]
            site = fs.site_out
            return PivotValue(
                "shear",
                s[S_FREE_MOMENT_PEAK_ABS_NMM],
                {
                    "free_moment_peak_nmm": s[S_FREE_MOMENT_PEAK_ABS_NMM],
                    "free_moment_at_peak_nmm": s[S_FREE_MOMENT_AT_PEAK_NMM],
                    "free_moment_impulse_nmm_s": s[S_FREE_MOMENT_IMPULSE_LATE_NMMS],
                    "rotational_shear_peak_kpa": s[S_ROTATIONAL_SHEAR_PEAK_LATE_KPA],
                    "peak_shear_kpa": {n: site[K_PEAK_LATE_KPA, k] for k, n in enumerate(names)},
                    "shear_integral_kpa_s": {
                        n: site[K_INTEGRAL_LATE_KPAS, k] for k, n in enumerate(names)
                    },
                },
            )
        return PivotValue(
            "proxy",
            s[S_COP_ML_SWEEP_LATE_MM],
            {
                "cop_ml_sweep_late_mm": s[S_COP_ML_SWEEP_LATE_MM],
                "cop_rotation_late_deg": s[S_COP_ROTATION_LATE_DEG],
                "yaw_rate_peak_late_dps": s[S_YAW_RATE_PEAK_LATE_DPS],
            },
            PROXY_LABEL_COP_IMU if fs.has_imu else PROXY_LABEL_COP,
        )

    def _risk(self, fs: _FootState, s: np.ndarray, reg: np.ndarray) -> dict[str, float | None]:
        sites = {site.region: k for k, site in enumerate(fs.layout.shear_sites)}
        out: dict[str, float | None] = {}
        for region in RISK_REGIONS:
            if region not in sites and not fs.region_measured[REGIONS.index(region)]:
                out[region] = None  # no sensor under the region: not measured, not 0
                continue
            shear = None
            if region in sites:
                shear = np.array([fs.site_out[K_PEAK_LATE_KPA, sites[region]]])
            stress, _ = step_stress_kpa(
                np.array([reg[R_LATE_PEAK_KPA, REGIONS.index(region)]]),
                np.array([s[S_COP_ROTATION_LATE_DEG]]),
                shear,
                self.risk,
            )
            out[region] = float(dose(stress, self.risk)[0])
        return out

    def _alerts(self, new_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        policy = self.pivot_alert
        baseline_end = policy.acclimatisation_steps + policy.baseline_steps
        for step in new_steps:
            pivot = PivotValue.from_step(step)
            value = pivot.number()
            self._pivot_kind = self._pivot_kind or pivot.kind
            self.feet[step["foot"]].pivot_history.append(value)
            # a step without a pivot value (frame loss at toe-off), or of another kind than
            # the baseline's (never compare mm with N·mm), is left out of both
            if np.isfinite(value) and pivot.kind == self._pivot_kind:
                if policy.acclimatisation_steps <= self.n_steps < baseline_end:
                    self._baseline_pivot.append(value)
                self._recent_pivot.append(value)
            self.n_steps += 1
        if not new_steps or self.n_steps < baseline_end:
            return []
        base = np.nanmedian(self._baseline_pivot)
        recent = np.nanmedian(np.array(self._recent_pivot, dtype=np.float64))
        self._pivot_baseline, self._pivot_recent = float(base), float(recent)
        self.pivot_alert_active = bool(base > 0 and recent > policy.factor * base)
        t = new_steps[-1]["toe_off_s"]
        spec = pivot_spec(self._pivot_kind or "proxy")
        if self.pivot_alert_active and t - self._last_alert_s >= policy.repeat_s:
            self._last_alert_s = t
            return [pivot_rising_alert(spec.kind, t, float(recent), float(base))]
        return []

    def pivot_gauge(self) -> dict[str, dict[str, Any]]:
        """Per foot, the pivot-alert state for display: the foot's last pivot and recent
        history as multiples of the (both-feet) baseline, and the alert's own state."""
        policy = self.pivot_alert
        base = self._pivot_baseline
        ready = bool(np.isfinite(base) and base > 0)
        out = {}
        for foot, fs in self.feet.items():
            spec = pivot_spec("shear" if fs.layout.n_shear else "proxy")
            last = fs.pivot_history[-1] if fs.pivot_history else math.nan
            out[foot] = {
                "foot": foot,
                "kind": spec.kind,
                "unit": spec.unit,
                "quantity": spec.quantity,
                "value": round_or_none(last),
                "baseline": round_or_none(base) if ready else None,
                "baseline_ready": ready,
                "baseline_steps": len(self._baseline_pivot),
                "baseline_steps_needed": policy.baseline_steps,
                "acclimatisation_steps": policy.acclimatisation_steps,
                "steps": self.n_steps,
                "ratio": round_or_none(last / base) if ready else None,
                "recent_ratio": round_or_none(self._pivot_recent / base) if ready else None,
                "recent_steps": policy.recent_steps,
                "history_ratio": [
                    round_or_none(v / base) if ready else None for v in fs.pivot_history
                ],
                "threshold": policy.factor,
                "alert": self.pivot_alert_active,
            }
        return out

    def live_metrics(self, last_steps: int = 40, per_foot: int = 10) -> dict[str, Any]:
        """Cadence (median step time of the last ``last_steps`` steps), contact time per
        foot (median of its last ``per_foot`` steps) and their symmetry index."""
        steps = self.steps[-last_steps:]
        step_times = [s["step_time_s"] for s in steps if s.get("step_time_s")]
        cadence = 60.0 / float(np.median(step_times)) if step_times else math.nan
        contact = {}
        for foot in self.feet:
            vals = [s["contact_time_s"] for s in steps if s["foot"] == foot][-per_foot:]
            contact[foot] = float(np.median(vals)) if vals else math.nan
        si = symmetry_index_pct(contact.get("left", math.nan), contact.get("right", math.nan))
        return {
            "cadence_spm": round_or_none(cadence, 1),
            "contact_time_ms": {f: round_or_none(v * 1000.0, 0) for f, v in contact.items()},
            "symmetry_contact_pct": round_or_none(si, 1),
        }

    def summary(self) -> dict[str, Any]:
        """Session summary: cadence, symmetry, risk per region, trends and fatigue flags."""
        return summarize_steps(self.steps, self.speed_mps, self.risk, self.feet)


def pivot_rising_alert(kind: str, t_s: float, recent: float, base: float) -> dict[str, Any]:
    """The ``pivot_rising`` alert: the recent median pivot against the early-run median,
    worded with the pivot's kind and unit (a proxy says proxy)."""
    spec = pivot_spec(kind)
    what = (
        f"pivot proxy ({spec.quantity}, {spec.unit})"
        if spec.is_proxy
        else f"pivot at toe-off ({spec.quantity}, {spec.unit})"
    )
    return {
        "kind": "pivot_rising",
        "t_s": t_s,
        "message": f"{what}: {recent / base:.2f}x the early-run level",
        "ratio": round(recent / base, 3),
        "pivot_kind": spec.kind,
        "unit": spec.unit,
        "recent": round_or_none(recent, 4),
        "baseline": round_or_none(base, 4),
        "label": spec.label,
    }


def _pivot_value(step: dict[str, Any]) -> float:
    return PivotValue.from_step(step).number()


def _median(values: list[Any]) -> float:
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return float(np.nanmedian(arr)) if np.isfinite(arr).any() else float("nan")


def _fill_missing_doses(doses: list[float | None]) -> np.ndarray:
    """Per-step doses with the steps that have none (pivot invalid: frame loss at toe-off)
    given the mean dose of the other steps, so the cumulative dose and the dose per km
    still count every step and ``per_step`` is the mean over measured steps."""
    arr = np.array([np.nan if d is None else d for d in doses], dtype=np.float64)
    ok = np.isfinite(arr)
    if ok.any():
        arr[~ok] = arr[ok].mean()
    return arr


def summarize_steps(
    steps: list[dict[str, Any]],
    speed_mps: float | None,
    risk: RiskAssumptions,
    feet: dict[str, _FootState] | None = None,
    speed_changes: list[tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """The ``"summary"`` object of ``plantar analyze`` from step records.

    ``speed_changes``: (session time s, new speed m/s) of treadmill speed changes the
    session records; a change point within a minute of one names it."""
    step_times = [s["step_time_s"] for s in steps if s["step_time_s"] is not None]
    stride_times = [s["stride_time_s"] for s in steps if s["stride_time_s"] is not None]
    if step_times:
        cadence = 60.0 / float(np.median(step_times))
    elif stride_times:
        cadence = 120.0 / float(np.median(stride_times))
    else:
        cadence = float("nan")
    by_foot = {f: [s for s in steps if s["foot"] == f] for f in ("left", "right")}
    symmetry = {}
    for key in ("contact_time_s", "peak_force_n", "step_time_s"):
        lv = _median([s[key] for s in by_foot["left"]])
        rv = _median([s[key] for s in by_foot["right"]])
        symmetry[key] = round_or_none(symmetry_index_pct(lv, rv), 2)
    t0 = steps[0]["heel_strike_s"] if steps else 0.0
    t1 = steps[-1]["toe_off_s"] if steps else 0.0
    distance_km = speed_mps * (t1 - t0) / 1000.0 if speed_mps and t1 > t0 else None
    kinds = {s["pivot"]["kind"] for s in steps}
    kind = "shear" if kinds == {"shear"} else "proxy"  # of the risk index's stress
    risk_out = {}
    for region in RISK_REGIONS:
        doses = _fill_missing_doses([s["risk_dose"][region] for s in steps])
        if np.isfinite(doses).all():
            risk_out[region] = risk_summary(doses, kind, distance_km)
        else:  # no sensor under the region, or no step with a valid pivot
            risk_out[region] = {
                **risk_summary(doses[:0], NOT_MEASURED, None),
                "dose": None,
                "label": NOT_MEASURED_LABEL,
            }
    t = np.array([s["heel_strike_s"] for s in steps], dtype=np.float64)
    # One series per pivot kind, keyed with its unit: never mm and N·mm under one key.
    pivots = [PivotValue.from_step(s) for s in steps]
    series = {
        pivot_spec(k).series_key: np.array(
            [p.number() if p.kind == k else np.nan for p in pivots], dtype=np.float64
        )
        for k in sorted(kinds)
    }
    series |= {
        "contact_time_s": np.array([s["contact_time_s"] for s in steps], dtype=np.float64),
        "hotspot_peak_kpa": np.array(
            [s["hotspots"][0]["peak_kpa"] if s.get("hotspots") else np.nan for s in steps]
        ),
        "hotspot_recurrence": np.array(
            [s["hotspots"][0]["recurrence"] if s.get("hotspots") else np.nan for s in steps]
        ),
    }
    trends = {k: per_minute(t, v) for k, v in series.items()}
    skip = 2 * ACCLIMATISATION_STEPS  # both feet
    fatigue = {k: ramp_change_point(t[skip:], v[skip:]).to_dict() for k, v in series.items()}
    flagged = [
        (k, v["onset_s"]) for k, v in fatigue.items() if v["flagged"] and v["onset_s"] is not None
    ]
    flags = [change_flag(name, onset, t0, speed_changes or []) for name, onset in flagged]
    return {
        "steps": len(steps),
        "steps_per_foot": {f: len(v) for f, v in by_foot.items()},
        "rejected_steps": {f: fs.rejected for f, fs in (feet or {}).items()},
        # Which toe-off each foot's steps use: the sensor's convention (docs/metrics.md).
        "gait_event_convention": {f: fs.layout.gait_events for f, fs in (feet or {}).items()},
        "cadence_spm": round_or_none(cadence, 2),
        "contact_time_s": {
            f: round_or_none(_median([s["contact_time_s"] for s in v]), 4)
            for f, v in by_foot.items()
        },
        "symmetry_index_pct": symmetry,
        "risk": risk_out,
        "risk_label": "relative index, no clinical threshold",
        "pivot_kind": session_pivot_kind(kinds),
        "pivot": {
            k: pivot_spec(k).describe(next((p.label for p in pivots if p.kind == k), ""))
            for k in sorted(kinds)
        },
        "pivot_invalid_steps": sum(1 for s in steps if s["pivot"].get("invalid")),
        "trends_per_minute": trends,
        "fatigue": fatigue,
        "fatigue_flags": flags,
    }


def analyze_recording(
    feet: dict[str, FootFrames],
    layouts: dict[str, Layout],
    *,
    yaw_rate_dps: dict[str, np.ndarray] | None = None,
    speed_mps: float | None = None,
    event_params: ContactParams | None = None,
    hotspots: bool = True,
    speed_changes: list[tuple[float, float]] | None = None,
    declared_rate_hz: float | None = None,
) -> dict[str, Any]:
    """Analyse a whole recording (batch path): each foot fed as one batch to the same
    kernels as the streaming path; steps of both feet are ordered by heel strike.

    Returns ``{"steps": [...], "summary": {...}, "alerts": [...]}``. The analysis
    window is sized from the rate of the time stamps, clamped to ``declared_rate_hz`` (the
    layout's or session's rate, when known) and :data:`base.frames.MAX_SAMPLING_RATE_HZ`,
    so absurd time stamps cannot ask for gigabytes. A recording whose median time step
    is faster than that maximum has a broken clock: :class:`base.errors.ConfigError`.
    """
    check_time_steps(feet)
    analyzer = Analyzer(
        layouts,
        event_params=event_params,
        speed_mps=speed_mps,
        hotspots=hotspots,
        rate_hint_hz=window_rate_hz(feet, declared_rate_hz),
    )
    for fr in feet.values():
        if len(fr):
            analyzer.seed_events(fr)  # the validated two-pass detector (plantar validate)
    # Feed in time-ordered chunks of both feet, so step times and alerts see both feet.
    chunk_s = 10.0
    ends = [float(np.nanmax(fr.t_s)) for fr in feet.values() if len(fr)]
    starts = [float(np.nanmin(fr.t_s)) for fr in feet.values() if len(fr)]
    if not ends:
        return {"steps": [], "summary": analyzer.summary(), "alerts": []}
    edges = np.arange(min(starts), max(ends) + chunk_s, chunk_s)
    cuts = {f: np.searchsorted(fr.t_s, edges, side="left") for f, fr in feet.items()}
    for j in range(len(edges) - 1):
        for foot, fr in feet.items():
            a, b = int(cuts[foot][j]), int(cuts[foot][j + 1])
            if b > a:
                yaw = (
                    None
                    if not yaw_rate_dps or foot not in yaw_rate_dps
                    else yaw_rate_dps[foot][a:b]
                )
                analyzer.feed(fr.rows(a, b), yaw)
        if j == len(edges) - 2:
            for foot, fr in feet.items():
                a = int(cuts[foot][-1])
                if a < len(fr):
                    analyzer.feed(fr.rows(a, len(fr)))
    steps = sorted(analyzer.steps, key=lambda s: s["heel_strike_s"])
    last_hs: dict[str, float] = {}
    for st in steps:  # step time from the whole session, whatever the feeding order
        other = last_hs.get("right" if st["foot"] == "left" else "left")
        dt = step_time_s(st["heel_strike_s"], last_hs.get(st["foot"]), other)
        st["step_time_s"] = round_or_none(dt, 6)
        last_hs[st["foot"]] = st["heel_strike_s"]
    summary = summarize_steps(steps, speed_mps, analyzer.risk, analyzer.feet, speed_changes)
    return {"steps": steps, "summary": summary, "alerts": analyzer.alerts}


def check_time_steps(feet: dict[str, FootFrames]) -> None:
    """Raise a one-line :class:`ConfigError` when a foot's median time step is faster than
    :data:`base.frames.MAX_SAMPLING_RATE_HZ` (before any kernel is compiled or sized)."""
    for foot, fr in feet.items():
        if len(fr) > 1:
            dt = float(np.nanmedian(np.diff(fr.t_s)))
            if 0 < dt < 1.0 / MAX_SAMPLING_RATE_HZ:
                raise ConfigError(
                    f"{foot} foot: samples {dt:.3g} s apart ({1.0 / dt:,.0f} Hz), faster than "
                    f"any insole ({MAX_SAMPLING_RATE_HZ:,.0f} Hz); its time stamps are broken, "
                    "re-import or re-record it"
                )


def window_rate_hz(feet: dict[str, FootFrames], declared_rate_hz: float | None = None) -> float:
    """Rate that sizes the analysis window, Hz: 1 / median time step (at least 100 Hz),
    at most ``declared_rate_hz`` and :data:`base.frames.MAX_SAMPLING_RATE_HZ`."""
    rate = 100.0
    for fr in feet.values():
        if len(fr) > 1:
            dt = np.nanmedian(np.diff(fr.t_s))
            if dt > 0:
                rate = max(rate, 1.0 / dt)
    cap = MAX_SAMPLING_RATE_HZ
    if declared_rate_hz is not None and 0 < declared_rate_hz < cap:
        cap = declared_rate_hz
    return float(min(rate, cap))
