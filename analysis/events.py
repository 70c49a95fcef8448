"""Gait events (heel strike = initial contact, toe-off) from the total vertical force of
one insole, online, one sample at a time, with adaptive thresholds and hysteresis.

Method
------
Force-threshold detection is the usual insole method; Blades et al. (2023) compare
threshold, slope and template variants of insole contact-event algorithms against force
plates and find thresholds relative to the runner's own force range the most robust.
This detector keeps three adaptive estimates per foot: the swing ``baseline_n`` (an
exponential average of unloaded samples, so offsets, drift and stuck sensels are
absorbed), the typical step peak ``peak_n`` (exponential average of step maxima), and
their difference ``range_n``. With ``L(f) = baseline_n + f * range_n``:

* **Heel strike.** A candidate starts when the force rises through the timing level
  ``L(timing_frac)``; its time is the linear interpolation of that crossing between the
  two samples around it. It is confirmed (and emitted) only when the force goes on to
  ``L(confirm_frac)``; falling back below the timing level first cancels it. The gap
  between the two levels is the hysteresis that stops noise and brief touches from
  making steps.
* **Toe-off.** The end of the push-off unloading. During late stance (force below
  ``L(knee_level_frac)`` of the step's own range) the detector waits for the unloading
  rate ``-dF/dt`` to fall below ``knee_rate_frac`` of the step's steepest unloading rate:
  the sample where the steep descent ends is toe-off. What remains after it is a slowly
  decaying tail (toe tips, insole recovery) that a plain low threshold would count as
  contact: this is why a 5 % threshold reports toe-off 30-40 ms late on Moticon data. If
  no such knee is seen, the interpolated crossing of ``L(off_frac)`` is toe-off.
* **Gaps and dead sensels.** Missing frames (NaN force) are skipped; a time step longer
  than ``gap_factor`` sampling periods is a gap, across which no rate is computed and
  crossings are interpolated across the gap, so a gap shorter than a stance or swing
  phase neither creates nor loses a step. A dead sensel only lowers the force, and the
  thresholds are relative to this foot's own range.

References
----------
Blades, S., et al. (2023). Evaluation of different pressure-insole gait event detection
algorithms. Sensors 23(5), 2736.
Cavanagh, P. R., & Lafortune, M. A. (1980). Ground reaction forces in distance running.
J Biomech 13(5), 397-406.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from base.kernels import njit

EVENT_HEEL_STRIKE = 1
EVENT_TOE_OFF = 2

# Indices into the detector state vector (float64).
_PHASE = 0  # -1 unknown (start), 0 swing, 1 stance
_BASELINE = 1
_PEAK = 2
_T_PREV = 3
_F_PREV = 4
_T_CROSS = 5  # candidate heel-strike time (NaN: none)
_STEP_PEAK = 6
_RATE_MAX = 7
_DT = 8
_N_STEPS = 9
_T_HS = 10
_INIT_MIN = 11
_INIT_MAX = 12
_N_SAMPLES = 13
_NOISE = 14  # mean absolute deviation of unloaded samples about the baseline (N)
_RATE_PREV = 15  # unloading rate of the previous sample interval (N/s)
STATE_SIZE = 16

# Indices into the parameter vector.
_P_TIMING = 0
_P_CONFIRM = 1
_P_NOISE_K = 2
_P_KNEE_LEVEL = 3
_P_KNEE_RATE = 4
_P_MIN_RANGE = 5
_P_PEAK_ALPHA = 6
_P_BASE_ALPHA = 7
_P_GAP = 8
_P_MIN_CONTACT = 9
_P_KNEE_DROP = 10
PARAM_SIZE = 11


@dataclass(frozen=True)
class EventParams:
    """Parameters of the gait event detector (fractions are of the foot's force range).

    Attributes
    ----------
    timing_frac : level whose crossing times a heel strike and a fallback toe-off
        (0.002); never below ``noise_k`` times the swing noise (mean absolute deviation).
    confirm_frac : level that confirms a heel strike (0.15); the hysteresis band is
        ``timing_frac .. confirm_frac``.
    knee_level_frac : toe-off is searched below this share of the step's own range (0.3).
    knee_rate_frac : toe-off is where ``-dF/dt`` falls below this share of the step's
        steepest unloading rate (0.2) ...
    knee_drop_frac : ... and, at once, below this share of the rate of the interval
        before (0.45): an abrupt end of the unloading, not the gradual approach to zero
        of a force curve that simply ends (which the fallback level times).
    min_range_n : smallest force range the thresholds assume (N).
    peak_alpha : weight of a new step peak in the running peak estimate.
    baseline_alpha : per-sample weight of an unloaded sample in the baseline estimate.
    gap_factor : a time step longer than this many sampling periods is a gap.
    min_contact_s : shortest contact accepted before a toe-off (s).
    """

    timing_frac: float = 0.002
    confirm_frac: float = 0.15
    noise_k: float = 4.0
    knee_level_frac: float = 0.3
    knee_rate_frac: float = 0.2
    min_range_n: float = 40.0
    peak_alpha: float = 0.3
    baseline_alpha: float = 0.05
    gap_factor: float = 2.5
    min_contact_s: float = 0.06
    knee_drop_frac: float = 0.45

    def as_array(self) -> np.ndarray:
        """The parameter vector the kernel takes."""
        return np.array(
            [
                self.timing_frac,
                self.confirm_frac,
                self.noise_k,
                self.knee_level_frac,
                self.knee_rate_frac,
                self.min_range_n,
                self.peak_alpha,
                self.baseline_alpha,
                self.gap_factor,
                self.min_contact_s,
                self.knee_drop_frac,
            ],
            dtype=np.float64,
        )


def new_event_state() -> np.ndarray:
    """A fresh detector state (phase unknown until the foot is first seen unloaded)."""
    state = np.full(STATE_SIZE, np.nan)
    state[_PHASE] = -1.0
    state[_N_STEPS] = 0.0
    state[_N_SAMPLES] = 0.0
    state[_RATE_MAX] = 0.0
    state[_NOISE] = 0.0
    return state


@njit(cache=True, nogil=True)
def _interp_cross(t0: float, f0: float, t1: float, f1: float, level: float) -> float:
    if f1 == f0:
        return t1
    a = (level - f0) / (f1 - f0)
    if a < 0.0:
        a = 0.0
    elif a > 1.0:
        a = 1.0
    return t0 + a * (t1 - t0)


SAMPLE_SKIP = 0
SAMPLE_IN_RHYTHM = 1
SAMPLE_AFTER_GAP = 2


@njit(cache=True, nogil=True)
def advance_sample(
    state: np.ndarray,
    t: float,
    f: float,
    i_n: int,
    i_t_prev: int,
    i_f_prev: int,
    i_dt: int,
    i_min: int,
    i_max: int,
    i_base: int,
    gap_factor: float,
) -> int:
    """The common start of one sample in the streaming event kernels (state indices given).

    Skips a missing sample (NaN) or one not after the previous; initialises the state on
    the first sample; keeps the running sampling period and tells a gap (a time step
    longer than ``gap_factor`` periods) from a sample in rhythm.

    Returns :data:`SAMPLE_SKIP`, :data:`SAMPLE_IN_RHYTHM` or :data:`SAMPLE_AFTER_GAP`.
    """
    if f != f:
        return SAMPLE_SKIP
    if state[i_n] == 0.0:
        state[i_min] = f
        state[i_max] = f
        state[i_base] = f
        state[i_t_prev] = t
        state[i_f_prev] = f
        state[i_n] = 1.0
        return SAMPLE_SKIP
    dt = t - state[i_t_prev]
    if dt <= 0.0:
        return SAMPLE_SKIP
    if state[i_dt] != state[i_dt]:
        state[i_dt] = dt
    gap = dt > gap_factor * state[i_dt]
    if not gap:
        state[i_dt] += 0.01 * (dt - state[i_dt])
    state[i_n] += 1.0
    return SAMPLE_AFTER_GAP if gap else SAMPLE_IN_RHYTHM


@njit(cache=True, nogil=True)
def detect_events_kernel(
    t_s: np.ndarray,
    force_n: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    out_events: np.ndarray,
) -> int:
    """Feed samples to the detector; write the events found into ``out_events``.

    Parameters
    ----------
    t_s : (n,) float64 sample times (s), increasing.
    force_n : (n,) float64 total vertical force (N); NaN = missing sample.
    params : (PARAM_SIZE,) float64, see :class:`EventParams`.
    state : (STATE_SIZE,) float64 detector state, updated in place (carry it from one
        batch to the next).
    out_events : (m, 3) float64 rows ``(kind, time_s, sample_index)``; kind 1 = heel
        strike, 2 = toe-off; ``sample_index`` is the sample at which the event was
        decided (the event time itself is usually earlier). ``m >= n + 1`` is enough.

    Returns
    -------
    Number of rows written.
    """
    timing_frac = params[_P_TIMING]
    confirm_frac = params[_P_CONFIRM]
    noise_k = params[_P_NOISE_K]
    knee_level = params[_P_KNEE_LEVEL]
    knee_rate = params[_P_KNEE_RATE]
    min_range = params[_P_MIN_RANGE]
    peak_alpha = params[_P_PEAK_ALPHA]
    base_alpha = params[_P_BASE_ALPHA]
    gap_factor = params[_P_GAP]
    min_contact = params[_P_MIN_CONTACT]
    knee_drop = params[_P_KNEE_DROP]
    n_out = 0
    m = out_events.shape[0]
    for i in range(t_s.shape[0]):
        f = force_n[i]
        t = t_s[i]
        t_prev = state[_T_PREV]
        f_prev = state[_F_PREV]
        advance = advance_sample(
            state,
            t,
            f,
            _N_SAMPLES,
            _T_PREV,
            _F_PREV,
            _DT,
            _INIT_MIN,
            _INIT_MAX,
            _BASELINE,
            gap_factor,
        )
        if advance == SAMPLE_SKIP:
            continue
        dt = t - t_prev
        gap = advance == SAMPLE_AFTER_GAP
        phase = state[_PHASE]
        if phase < 0.0:
            # Start: the phase is unknown until the foot is seen unloaded.
            if f < state[_INIT_MIN]:
                state[_INIT_MIN] = f
            if f > state[_INIT_MAX]:
                state[_INIT_MAX] = f
            span = max(state[_INIT_MAX] - state[_INIT_MIN], min_range)
            state[_BASELINE] = state[_INIT_MIN]
            if f < state[_INIT_MIN] + 0.1 * span and state[_INIT_MAX] - state[_INIT_MIN] > (
                min_range
            ):
                state[_PHASE] = 0.0
                state[_PEAK] = state[_INIT_MAX]
                state[_T_CROSS] = np.nan
            state[_T_PREV] = t
            state[_F_PREV] = f
            continue
        baseline = state[_BASELINE]
        rng = max(state[_PEAK] - baseline, min_range)
        if phase == 0.0:
            # Swing: track the baseline, wait for a confirmed rise.
            lt = baseline + max(timing_frac * rng, noise_k * state[_NOISE])
            lc = baseline + confirm_frac * rng
            if f < lt:
                state[_T_CROSS] = np.nan
            elif f_prev < lt:
                state[_T_CROSS] = _interp_cross(t_prev, f_prev, t, f, lt)
            elif t - state[_T_CROSS] > 2.5 * min_contact:
                state[_T_CROSS] = np.nan  # a slow drift, not a contact: follow it
            if f < lc and state[_T_CROSS] != state[_T_CROSS]:
                state[_BASELINE] = baseline + base_alpha * (f - baseline)
                state[_NOISE] += base_alpha * (abs(f - baseline) - state[_NOISE])
            if f >= lc and state[_T_CROSS] == state[_T_CROSS]:
                t_hs = state[_T_CROSS]
                if n_out < m:
                    out_events[n_out, 0] = 1.0
                    out_events[n_out, 1] = t_hs
                    out_events[n_out, 2] = i
                    n_out += 1
                state[_PHASE] = 1.0
                state[_T_HS] = t_hs
                state[_STEP_PEAK] = f
                state[_RATE_MAX] = 0.0
                state[_RATE_PREV] = 0.0
                state[_T_CROSS] = np.nan
        else:
            # Stance: follow the step peak and the unloading rate; find the toe-off.
            if f > state[_STEP_PEAK]:
                state[_STEP_PEAK] = f
            step_rng = max(state[_STEP_PEAK] - baseline, min_range)
            to_time = np.nan
            if t - state[_T_HS] >= min_contact:
                if not gap:
                    rate = (f_prev - f) / dt
                    if f >= f_prev and f > baseline + 0.5 * step_rng:
                        state[_RATE_MAX] = 0.0
                    elif (
                        state[_RATE_MAX] > 0.0
                        and f_prev < baseline + knee_level * step_rng
                        and rate < knee_rate * state[_RATE_MAX]
                        and rate < knee_drop * state[_RATE_PREV]
                    ):
                        to_time = t_prev
                    elif rate > state[_RATE_MAX]:
                        state[_RATE_MAX] = rate
                    state[_RATE_PREV] = rate
                else:
                    state[_RATE_PREV] = 0.0
                lo = baseline + max(timing_frac * rng, noise_k * state[_NOISE])
                if to_time != to_time and f < lo:
                    # Interpolated along the segment that crosses the detection level,
                    # to where it meets the unloaded level.
                    to_time = _interp_cross(t_prev, f_prev, t, f, baseline)
            if to_time == to_time:
                if n_out < m:
                    out_events[n_out, 0] = 2.0
                    out_events[n_out, 1] = to_time
                    out_events[n_out, 2] = i
                    n_out += 1
                state[_PHASE] = 0.0
                if state[_N_STEPS] == 0.0:
                    state[_PEAK] = state[_STEP_PEAK]
                else:
                    state[_PEAK] += peak_alpha * (state[_STEP_PEAK] - state[_PEAK])
                state[_N_STEPS] += 1.0
                state[_T_CROSS] = np.nan
        state[_T_PREV] = t
        state[_F_PREV] = f
    return n_out


def detect_events(
    t_s: np.ndarray, force_n: np.ndarray, params: EventParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Heel strikes and toe-offs of a whole recording of one foot (batch path).

    Returns
    -------
    kind : (e,) int8, 1 heel strike, 2 toe-off; they alternate and start with a heel
        strike (a stance already under way when the recording starts is skipped).
    time_s : (e,) float64 event times.
    """
    p = (params or EventParams()).as_array()
    out = np.empty((len(t_s) + 1, 3))
    n = detect_events_kernel(
        np.ascontiguousarray(t_s, dtype=np.float64),
        np.ascontiguousarray(force_n, dtype=np.float64),
        p,
        new_event_state(),
        out,
    )
    return out[:n, 0].astype(np.int8), out[:n, 1].copy()
