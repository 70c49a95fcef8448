"""Foot contact events (heel strike = initial contact, toe-off) from the total vertical
force of one foot, online, one sample at a time: the streaming kernel the Analyzer uses.

Method
------
A contact starts when the force rises through the **contact level** ``baseline +
max(contact_level_n, noise_k x swing noise)``: the force-plate convention of a fixed
force threshold (20 N, as in the validation of insole event detection against force
plates by Blades et al. 2023), measured above this foot's own unloaded baseline so an
insole's offset or drift does not move it. The heel-strike time is the linear
interpolation of that crossing between the two samples around it.

A contact is a **step** only when it loads the foot to at least ``confirm_frac`` (50 %) of
the foot's typical step peak, the rough-detection threshold of Harle et al. (the 50 %
level Blades et al. 2023 use for it) -- a shuffle or a toe touch while standing does not --
and lasts at least ``min_contact_s`` (0.08 s: the shortest stance of human running,
elite sprinters at top speed, Weyand et al. 2000). Both are rules of human gait, not
numbers fitted to a recording. A rise that has not reached that load within
``max_rise_s`` (1 s, a whole stance of slow walking) is drift or a resting load; a
stopping step or a Parkinsonian step may take 0.4 s to get there, and is a step.

Toe-off has three rules (``toe_off_rule``):

* ``0`` threshold: the interpolated crossing of the contact level on the way down (a
  two-level threshold detector, Blades et al. 2023 FCE1/FCE2).
* ``1`` knee: the end of the steep push-off unloading. Below ``knee_level_frac`` of the
  step's own range the detector waits for the unloading rate ``-dF/dt`` to drop below
  ``knee_rate_frac`` of the steepest unloading rate of the step and, at once, below
  ``knee_drop_frac`` of the rate just before: that sample is a toe-off *candidate*. It
  becomes the toe-off only when the force then falls to the contact level without rising
  again by ``rebound_frac`` of the step range (a rise cancels it: the dip between the
  two humps of walking is not a toe-off), and only if that fall, from the candidate to
  the contact level, is a slow tail: its mean rate below ``knee_rate_frac`` of the
  steepest unloading (a force plate's unloading runs on steeply to zero, and its
  threshold crossing is then the toe-off). What remains after a knee is the slowly
  decaying tail of toe tips and insole recovery that a plain threshold counts as
  contact. Without a surviving candidate, the threshold crossing is the toe-off.
* ``2`` shares of the peak: heel strike where the force rises through ``hs_share`` of the
  typical step peak above the baseline, toe-off where it falls through ``to_share`` of the
  step's own peak (neither below the contact level; bridging as for rule 0). The
  convention of a sensor that still reads load after the foot has left the ground and
  whose maker times events there (Moticon, ``Layout.gait_events == "share-of-peak"``).
  Until the typical peak is known (live, the first step), heel strike is at the contact
  level.

A contact ends only when the force stays below the contact level for ``bridge_s`` (20
ms): a shorter dip, crossing to crossing, is noise or a dropout, and the stance goes on.
The decision is made ``bridge_s`` after the crossing on the way down, so a toe-off is
emitted a few samples after its time; ``out_events`` carries the sample at which it was
decided. Every weight is a time constant or a time, so the detector behaves alike at any
sampling rate (checked by the validation on force plates resampled to 100 and 200 Hz).

Start-up: a step can only start from an unloaded foot. Until the foot is seen unloaded
the detector waits: either the force sits on a flat floor (within ``2 x min_range_n``) and
rises off it by the contact level, or it falls by more than ``min_range_n`` and comes to
rest. That floor follows the samples below its contact level with the baseline's time
constant: a noise spike moves it little (the lowest sample, the floor until 2026-12-07,
put a first heel strike 106 ms early after a -26 N spike), and a rise is a rise however
slowly it climbs (one slower than the contact level per sample was not seen). Once the
typical step peak is known (seeded by a first pass over a stored recording), that floor
must also be below 10 % of it, so a weight shift while standing is not the swing a step
starts from. Unseeded (live), until the first step each
contact's floor (the baseline at its heel strike) is judged when the contact ends: a
floor at or above 10 % of the contact's range (the foot stood loaded and shifted its
weight) makes it no step, and its toe-off is not emitted (its heel strike is superseded
by the next one). Both rules assume an unloaded insole reads below 10 % of a step. The
baseline follows unloaded samples slowly (time constant ``baseline_tau_s``), a tenth as fast
when they lie above the midpoint of baseline and contact level (a light load in swing, a
toe drag or a heel hovering, is not the baseline: followed at full speed it lifted the
level over the start of the next contact), and drops at once when a resting load comes off
(the force below it by the contact level for ``drop_s``). The swing noise is the mean absolute
sample-to-sample difference over sqrt 2 (the mean absolute deviation of white noise), so a
slow tail or a light load, which is no noise, does not lift the level.

Gaps and missing samples: NaN samples are skipped; a time step longer than
``gap_factor`` sampling periods is a gap across which no rate is computed and crossings
are interpolated.

References
----------
Blades, S., Marriott, H., Hundza, S., Honert, E. C., Stellingwerff, T., & Klimstra, M. (2023).
Evaluation of different pressure-based foot contact event detection algorithms across
different slopes and speeds. Sensors, 23(5), 2736. https://doi.org/10.3390/s23052736
Weyand, P. G., Sternlight, D. B., Bellizzi, M. J., & Wright, S. (2000). Faster top running
speeds are achieved with greater ground forces not more rapid leg movements. J Appl
Physiol, 89(5), 1991-1999. https://doi.org/10.1152/jappl.2000.89.5.1991
"""

from __future__ import annotations

import numpy as np

from analysis.contact_params import (
    _BASELINE,
    _DIFF_TO_MAD,
    _DT,
    _F_KNEE,
    _F_PREV,
    _FLOOR_EST,
    _FLOOR_START,
    _INIT_MAX,
    _INIT_MIN,
    _KNEE_RATE_MAX,
    _N_SAMPLES,
    _N_STEPS,
    _NOISE,
    _P_BASE_TAU,
    _P_BRIDGE,
    _P_CONFIRM,
    _P_DROP,
    _P_GAP,
    _P_HS_SHARE,
    _P_KNEE_DROP,
    _P_KNEE_LEVEL,
    _P_KNEE_RATE,
    _P_LEVEL,
    _P_MAX_RISE,
    _P_MIN_CONTACT,
    _P_MIN_RANGE,
    _P_NOISE_K,
    _P_PEAK_ALPHA,
    _P_REBOUND,
    _P_RULE,
    _P_TO_SHARE,
    _PEAK,
    _PHASE,
    _RATE_MAX,
    _RATE_PREV,
    _STEP_PEAK,
    _T_CROSS,
    _T_HS,
    _T_KNEE,
    _T_LOW,
    _T_OFF,
    _T_PREV,
    _UNLOADED_FRAC,
    STATE_SIZE,
    TOE_OFF_KNEE,
    TOE_OFF_SHARE,
    TOE_OFF_THRESHOLD,
    ContactParams,
    baseline_n,
    new_contact_state,
    pending_toe_off_s,
    typical_peak_n,
)
from analysis.events import (
    EVENT_HEEL_STRIKE,
    EVENT_TOE_OFF,
    SAMPLE_AFTER_GAP,
    SAMPLE_SKIP,
    advance_sample,
)
from analysis.events import _interp_cross as _cross
from base.kernels import njit

__all__ = [
    "EVENT_HEEL_STRIKE",
    "EVENT_TOE_OFF",
    "STATE_SIZE",
    "TOE_OFF_KNEE",
    "TOE_OFF_SHARE",
    "TOE_OFF_THRESHOLD",
    "ContactParams",
    "baseline_n",
    "contact_events_kernel",
    "new_contact_state",
    "pending_toe_off_s",
    "typical_peak_n",
]


@njit(cache=True, nogil=True)
def _follow_stance(
    state: np.ndarray,
    f: float,
    f_prev: float,
    dt: float,
    gap: bool,
    baseline: float,
    params: np.ndarray,
) -> None:
    """Stance, one sample: follow the step peak and, for the knee rule, the unloading."""
    if f > state[_STEP_PEAK]:
        state[_STEP_PEAK] = f
    if params[_P_RULE] != 1.0:
        return
    if gap:
        state[_RATE_PREV] = 0.0
        return
    step_rng = max(state[_STEP_PEAK] - baseline, params[_P_MIN_RANGE])
    rate = (f_prev - f) / dt
    if state[_T_KNEE] == state[_T_KNEE] and f > state[_F_KNEE] + params[_P_REBOUND] * step_rng:
        state[_T_KNEE] = np.nan  # the force rose again: a dip, not toe-off
        state[_RATE_MAX] = 0.0
    if f >= f_prev and f > baseline + 0.5 * step_rng:
        state[_RATE_MAX] = 0.0
    elif (
        state[_T_KNEE] != state[_T_KNEE]
        and state[_RATE_MAX] > 0.0
        and f_prev < baseline + params[_P_KNEE_LEVEL] * step_rng
        and rate < params[_P_KNEE_RATE] * state[_RATE_MAX]
        and rate < params[_P_KNEE_DROP] * state[_RATE_PREV]
    ):
        state[_T_KNEE] = state[_T_PREV]
        state[_F_KNEE] = f_prev
        state[_KNEE_RATE_MAX] = state[_RATE_MAX]
    elif rate > state[_RATE_MAX]:
        state[_RATE_MAX] = rate
    state[_RATE_PREV] = rate


@njit(cache=True, nogil=True)
def _end_contact(
    state: np.ndarray,
    to_time: float,
    i: int,
    out_events: np.ndarray,
    n_out: int,
    params: np.ndarray,
) -> int:
    """The contact ends at ``to_time``: a toe-off if it was a step; back to swing.

    Returns the number of event rows written so far.
    """
    floor0 = state[_FLOOR_START]
    standing = floor0 == floor0 and floor0 >= _UNLOADED_FRAC * (state[_STEP_PEAK] - floor0)
    if to_time - state[_T_HS] >= params[_P_MIN_CONTACT] and not standing:
        state[_FLOOR_START] = np.nan  # a step: the foot was unloaded
        if n_out < out_events.shape[0]:
            out_events[n_out, 0] = 2.0
            out_events[n_out, 1] = to_time
            out_events[n_out, 2] = i
            n_out += 1
        peak = state[_STEP_PEAK] - state[_BASELINE]
        if peak > state[_PEAK]:
            state[_PEAK] = peak
        else:
            state[_PEAK] += params[_P_PEAK_ALPHA] * (peak - state[_PEAK])
        state[_N_STEPS] += 1.0
    state[_PHASE] = 0.0
    state[_T_CROSS] = np.nan
    state[_T_KNEE] = np.nan
    state[_T_OFF] = np.nan
    return n_out


@njit(cache=True, nogil=True)
def contact_events_kernel(
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
    params : (PARAM_SIZE,) float64, see :class:`ContactParams`.
    state : (STATE_SIZE,) float64 detector state, updated in place (carry it from one
        batch to the next).
    out_events : (m, 3) float64 rows ``(kind, time_s, sample_index)``; kind 1 = heel
        strike, 2 = toe-off. A heel strike not followed by a toe-off (a contact too short
        to be a step) is superseded by the next heel strike. ``m >= n + 1`` is enough.

    Returns
    -------
    Number of rows written.
    """
    level_n = params[_P_LEVEL]
    noise_k = params[_P_NOISE_K]
    confirm_frac = params[_P_CONFIRM]
    knee_rate = params[_P_KNEE_RATE]
    min_range = params[_P_MIN_RANGE]
    base_tau = params[_P_BASE_TAU]
    gap_factor = params[_P_GAP]
    max_rise = params[_P_MAX_RISE]
    min_contact = params[_P_MIN_CONTACT]
    bridge = params[_P_BRIDGE]
    drop = params[_P_DROP]
    share = params[_P_RULE] == TOE_OFF_SHARE  # events at shares of the peak
    hs_share = params[_P_HS_SHARE]
    to_share = params[_P_TO_SHARE]
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
        if state[_PHASE] < 0.0:
            # Start: the phase is unknown until the foot is seen unloaded, either as a flat
            # floor the force rises from, or as the floor a falling force comes to rest on.
            # The floor follows the samples below its contact level with the baseline's
            # time constant: a noise spike moves it little, a rise not at all.
            if state[_FLOOR_EST] != state[_FLOOR_EST]:
                state[_FLOOR_EST] = f_prev
            floor = state[_FLOOR_EST]
            rise_level = floor + level_n  # where a rise off the floor starts
            if (
                state[_N_SAMPLES] >= 3.0
                and state[_INIT_MAX] - state[_INIT_MIN] < 2.0 * min_range
                and f >= rise_level
                and (state[_PEAK] != state[_PEAK] or floor < _UNLOADED_FRAC * state[_PEAK])
            ):
                state[_PHASE] = 0.0
                state[_BASELINE] = floor  # not the lowest sample: it may be a noise spike
                if state[_PEAK] != state[_PEAK]:
                    state[_FLOOR_START] = floor  # unloaded? judged by this contact's peak
                rose = f_prev < rise_level
                state[_T_CROSS] = _cross(t_prev, f_prev, t, f, rise_level) if rose else t_prev
            else:
                if f < state[_INIT_MIN]:
                    state[_INIT_MIN] = f
                if f > state[_INIT_MAX]:
                    state[_INIT_MAX] = f
                if f < rise_level:
                    state[_FLOOR_EST] = floor + (1.0 - np.exp(-dt / base_tau)) * (f - floor)
                span = state[_INIT_MAX] - state[_INIT_MIN]
                state[_BASELINE] = state[_INIT_MIN]
                unloaded = state[_PEAK] != state[_PEAK] or (
                    state[_INIT_MIN] < _UNLOADED_FRAC * state[_PEAK]
                )
                if (
                    span > min_range
                    and f < state[_INIT_MIN] + _UNLOADED_FRAC * span
                    and f >= f_prev
                    and unloaded
                ):
                    state[_PHASE] = 0.0
                    if state[_PEAK] != state[_PEAK]:
                        state[_PEAK] = span
                        state[_FLOOR_START] = state[_INIT_MIN]
                    state[_T_CROSS] = np.nan
                state[_T_PREV] = t
                state[_F_PREV] = f
                continue
        baseline = state[_BASELINE]
        level = baseline + max(level_n, noise_k * state[_NOISE])
        swing_now = state[_PHASE] == 0.0
        if state[_PHASE] == 1.0:
            # Stance: a dip below the contact level ends it once it has lasted bridge_s.
            end_level = level
            if share:
                end_level = max(level, baseline + to_share * (state[_STEP_PEAK] - baseline))
            t_off = state[_T_OFF]
            if t_off == t_off:
                if f >= end_level:
                    if _cross(t_prev, f_prev, t, f, end_level) - t_off < bridge:
                        state[_T_OFF] = np.nan  # a dip, not a swing: the stance goes on
                    else:
                        n_out = _end_contact(state, t_off, i, out_events, n_out, params)
                        swing_now = True  # this sample may start the next contact
                elif t - t_off >= bridge:
                    n_out = _end_contact(state, t_off, i, out_events, n_out, params)
            if state[_PHASE] == 1.0 and state[_T_OFF] != state[_T_OFF]:
                _follow_stance(state, f, f_prev, dt, gap, baseline, params)
                if share:
                    end_level = max(level, baseline + to_share * (state[_STEP_PEAK] - baseline))
                if f < end_level:
                    to_time = _cross(t_prev, f_prev, t, f, end_level)
                    t_knee = state[_T_KNEE]
                    if t_knee == t_knee and to_time > t_knee:
                        # A knee only if a slow tail follows it, not more of the descent.
                        tail_rate = (state[_F_KNEE] - level) / (to_time - t_knee)
                        if tail_rate < knee_rate * state[_KNEE_RATE_MAX]:
                            to_time = t_knee
                    state[_T_OFF] = to_time
                    if t - to_time >= bridge or to_time - state[_T_HS] < min_contact:
                        n_out = _end_contact(state, to_time, i, out_events, n_out, params)
        if swing_now:
            # Swing: track the baseline, wait for a rise that loads the foot.
            typical = state[_PEAK]
            if typical != typical or typical < min_range:
                typical = min_range
            confirm = baseline + confirm_frac * typical
            rise_level = level
            if share and state[_PEAK] == state[_PEAK]:
                rise_level = max(level, baseline + hs_share * state[_PEAK])
            if f < rise_level:
                state[_T_CROSS] = np.nan
            elif f_prev < rise_level:
                state[_T_CROSS] = _cross(t_prev, f_prev, t, f, rise_level)
            elif t - state[_T_CROSS] > max_rise:
                state[_T_CROSS] = np.nan  # a slow drift or a resting load, not a step
            if f < confirm and state[_T_CROSS] != state[_T_CROSS]:
                # Unloaded (or a load that stays below a step): follow the baseline, with
                # a weight per sample from the time constant at the sampling period.
                base_alpha = 1.0 - np.exp(-state[_DT] / base_tau)
                if not gap:
                    deviation = min(abs(f - f_prev), level_n) * _DIFF_TO_MAD
                    state[_NOISE] += base_alpha * (deviation - state[_NOISE])
                alpha = base_alpha
                if f >= baseline - level_n:
                    state[_T_LOW] = np.nan
                elif state[_T_LOW] != state[_T_LOW]:
                    state[_T_LOW] = t
                if t - state[_T_LOW] >= drop:
                    alpha = 0.5  # a resting load came off (not a spike: it lasted drop_s)
                elif f > 0.5 * (baseline + level):
                    alpha = 0.1 * base_alpha  # a light load near the contact level: slowly
                state[_BASELINE] = baseline + alpha * (f - baseline)
            if f >= confirm and state[_T_CROSS] == state[_T_CROSS]:
                t_hs = state[_T_CROSS]
                if n_out < m:
                    out_events[n_out, 0] = 1.0
                    out_events[n_out, 1] = t_hs
                    out_events[n_out, 2] = i
                    n_out += 1
                state[_PHASE] = 1.0
                state[_T_HS] = t_hs
                if state[_FLOOR_START] == state[_FLOOR_START]:
                    state[_FLOOR_START] = baseline
                state[_STEP_PEAK] = f
                state[_RATE_MAX] = 0.0
                state[_RATE_PREV] = 0.0
                state[_T_KNEE] = np.nan
                state[_T_CROSS] = np.nan
                state[_T_OFF] = np.nan
        state[_T_PREV] = t
        state[_F_PREV] = f
    return n_out
