"""Foot contact event detectors, one class per algorithm, one interface.

As gaitmap's event detectors do: parameters go to the constructor, ``detect(force_n,
sampling_rate_hz=...)`` runs the algorithm on the total vertical force of one foot and
returns the detector itself, and the results are attributes ending in ``_``:

* ``heel_strike_s_``: (k,) times of initial contact (s);
* ``toe_off_s_``: (k,) times of the toe-off that ends each of those contacts (s);
* ``contact_time_s_``: (k,) ``toe_off_s_ - heel_strike_s_``.

Only complete steps are reported (a contact cut by the start or end of the recording,
or one that is not a step, is not). :data:`EVENT_DETECTORS` lists them by name for the
validation command (``plantar validate``), which runs each alike.

Notes
-----
Heel strike (initial contact) is the first instant the foot loads the ground; toe-off
is the last instant it does. Force plates call both at a force threshold (20 N is
usual); in-shoe insoles see a slow creep before contact and a slow tail after toe-off
(toe tips, insole recovery), which is what separates the algorithms.

References
----------
Blades, S., Marriott, H., Hundza, S., Honert, E. C., Stellingwerff, T., & Klimstra, M. (2023).
Evaluation of different pressure-based foot contact event detection algorithms across
different slopes and speeds. Sensors, 23(5), 2736. https://doi.org/10.3390/s23052736
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np

from analysis.contact_events import (
    TOE_OFF_KNEE,
    TOE_OFF_THRESHOLD,
    ContactParams,
    baseline_n,
    contact_events_kernel,
    new_contact_state,
    typical_peak_n,
)
from analysis.events import EVENT_HEEL_STRIKE, EVENT_TOE_OFF, EventParams
from analysis.events import detect_events_kernel as adaptive_knee_kernel
from analysis.events import new_event_state as new_adaptive_knee_state
from analysis.slope_events import slope_extension_kernel


def pair_events(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heel strikes and toe-offs of complete steps from kernel rows ``(kind, t, i)``.

    A heel strike followed by another heel strike (a contact that was not a step) is
    dropped; a toe-off without a heel strike before it is dropped.
    """
    hs: list[float] = []
    to: list[float] = []
    pending = np.nan
    for kind, t, _ in rows:
        if kind == EVENT_HEEL_STRIKE:
            pending = t
        elif kind == EVENT_TOE_OFF and pending == pending:
            hs.append(pending)
            to.append(t)
            pending = np.nan
    return np.array(hs, dtype=np.float64), np.array(to, dtype=np.float64)


def typical_step_peak_n(
    t_s: np.ndarray, force_n: np.ndarray, params: ContactParams | None = None
) -> float | None:
    """First pass over a stored recording: the median step peak above the unloaded
    baseline (N), the seed of the second pass (so the first steps and the shuffles before
    them are judged by the typical step of the whole recording). None: no step found.

    :class:`ThresholdEventDetection` and ``plantar analyze`` (via
    :func:`analysis.analyzer.analyze_recording`) seed the contact kernel with it.
    """
    t = np.ascontiguousarray(t_s, dtype=np.float64)
    force = np.ascontiguousarray(force_n, dtype=np.float64)
    out = np.empty((len(t) + 1, 3))
    state = new_contact_state()
    n = contact_events_kernel(t, force, (params or ContactParams()).as_array(), state, out)
    hs, to = pair_events(out[:n])
    if len(hs) == 0:
        peak = typical_peak_n(state)
        return peak if peak == peak else None
    first = np.searchsorted(t, hs, side="left")
    last = np.searchsorted(t, to, side="right")
    peaks = [np.nanmax(force[a:b]) - baseline_n(state) for a, b in zip(first, last, strict=True)]
    return float(np.median(peaks))


def plantar_force_n(pressure_kpa: np.ndarray, layout: Any) -> np.ndarray:
    """Total force (N) per frame as the Analyzer computes it (NaN for a missing frame):
    what the detectors read on an insole."""
    from analysis.frame_kernels import frame_reduce_batch

    n, n_regions = len(pressure_kpa), int(layout.sensel_region.max()) + 1
    force = np.empty(n)
    frame_reduce_batch(
        np.ascontiguousarray(pressure_kpa, dtype=np.float64),
        layout.sensel_area_mm2,
        layout.sensel_xy_mm,
        layout.sensel_region,
        force,
        np.empty((n, 2)),
        np.empty((n, n_regions)),
        np.empty((n, n_regions)),
    )
    force[np.isnan(pressure_kpa).all(axis=1)] = np.nan
    return force


class EventDetector:
    """Base class: ``detect`` fills ``heel_strike_s_``, ``toe_off_s_``, ``contact_time_s_``."""

    name: ClassVar[str] = ""
    heel_strike_s_: np.ndarray
    toe_off_s_: np.ndarray
    contact_time_s_: np.ndarray

    def detect(
        self,
        force_n: np.ndarray,
        *,
        sampling_rate_hz: float,
        t_s: np.ndarray | None = None,
    ) -> Self:
        """Find the steps of one foot.

        Parameters
        ----------
        force_n : (n,) total vertical force of one foot (N); NaN = missing sample.
        sampling_rate_hz : nominal sampling rate (Hz); gives the sample times when
            ``t_s`` is not given.
        t_s : (n,) optional sample times (s), for recordings with gaps.
        """
        force = np.ascontiguousarray(force_n, dtype=np.float64)
        if t_s is None:
            t = np.arange(len(force), dtype=np.float64) / float(sampling_rate_hz)
        else:
            t = np.ascontiguousarray(t_s, dtype=np.float64)
        hs, to = self._detect(t, force)
        self.heel_strike_s_ = hs
        self.toe_off_s_ = to
        self.contact_time_s_ = to - hs
        return self

    def _detect(self, t_s: np.ndarray, force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class AdaptiveKneeEventDetection(EventDetector):
    """The detector of Plantar up to issue 15 (:mod:`analysis.events`), kept for the table.

    Notes
    -----
    Heel strike: the crossing of 0.2 % of the foot's force range above its baseline,
    confirmed at 15 %. Toe-off: the end of the steep unloading below 30 % of the step's
    range, or the crossing of the heel-strike level.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "adaptive-knee-2023"

    def __init__(self, params: EventParams | None = None) -> None:
        self.params = params or EventParams()

    def _detect(self, t_s: np.ndarray, force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((len(t_s) + 1, 3))
        n = adaptive_knee_kernel(
            t_s, force_n, self.params.as_array(), new_adaptive_knee_state(), out
        )
        return pair_events(out[:n])


class _ContactDetection(EventDetector):
    toe_off_rule: ClassVar[int] = TOE_OFF_THRESHOLD

    def __init__(self, params: ContactParams | None = None, *, two_pass: bool = True) -> None:
        base = params or ContactParams()
        self.params = replace(base, toe_off_rule=self.toe_off_rule)
        self.two_pass = two_pass

    def _detect(self, t_s: np.ndarray, force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seed = typical_step_peak_n(t_s, force_n, self.params) if self.two_pass else None
        out = np.empty((len(t_s) + 1, 3))
        state = new_contact_state(seed)
        n = contact_events_kernel(t_s, force_n, self.params.as_array(), state, out)
        return pair_events(out[:n])


class ThresholdEventDetection(_ContactDetection):
    """Two-level force threshold (Blades et al. 2023, FCE1/FCE2 family).

    Notes
    -----
    Heel strike: the interpolated crossing of 20 N above the foot's unloaded baseline,
    for a contact that goes on to load the foot to half its typical step peak (Harle's
    50 % rule) and lasts at least 0.08 s. Toe-off: the crossing of the same level on
    the way down. Stored recordings are read twice: the first pass learns the typical
    step peak, so shuffles before the first step are judged by it too.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "threshold-20n"
    toe_off_rule = TOE_OFF_THRESHOLD


class OnlineThresholdEventDetection(ThresholdEventDetection):
    """:class:`ThresholdEventDetection` in one pass, as the live Analyzer runs it.

    Notes
    -----
    The same kernel and rules, but no first pass: the typical step peak is learnt from
    the steps as they come (live, no recording exists yet to learn from). Until the first
    step, ``min_range_n`` (40 N) stands in for it, so a shuffle before the first step
    that loads the foot by 20 N is a step here.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "threshold-20n-online"

    def __init__(self, params: ContactParams | None = None) -> None:
        super().__init__(params, two_pass=False)


class KneeEventDetection(_ContactDetection):
    """Threshold heel strike, toe-off at the end of the steep unloading (knee).

    Notes
    -----
    Heel strike as :class:`ThresholdEventDetection`. Toe-off: the sample where the
    unloading rate collapses, below 30 % of the step's range, kept only if the force
    then falls to the contact level without rising again (so the dip between the two
    humps of a walking step is not a toe-off); otherwise the 20 N crossing.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "threshold-20n-knee"
    toe_off_rule = TOE_OFF_KNEE


class SensorConventionEventDetection(ThresholdEventDetection):
    """Heel strike and toe-off by the sensor's own convention (``Layout.gait_events``).

    Notes
    -----
    What ``plantar analyze`` and the live Analyzer run. On a sensor whose reading returns
    to its floor as the foot unloads (force plates, gaitpdb, pedar, Plantar's insoles):
    :class:`ThresholdEventDetection`. On a sensor that still reads load after the foot
    has left the ground and whose maker times events at shares of the peak (Moticon,
    ``"share-of-peak"``): heel strike where the force rises through 5 % of the typical
    step peak, toe-off where it falls through 10 % of the step's own peak (the kernel's
    rule 2), the levels of Moticon's annotations on ``230927_102114.txt``. There the 20 N
    crossing is 30-70 ms after Moticon's toe-off, and on ``walk_with_events.txt`` it comes
    after the foot's sagittal rotation has reversed, in swing (docs/metrics.md).

    Parameters
    ----------
    convention : the sensor's convention, :data:`hardware.layout.GAIT_EVENT_CONVENTIONS`.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "threshold-20n-sensor"
    follows_sensor: ClassVar[bool] = True

    def __init__(
        self,
        params: ContactParams | None = None,
        *,
        convention: str = "threshold",
        two_pass: bool = True,
    ) -> None:
        super().__init__(params, two_pass=two_pass)
        self.convention = convention
        self.params = self.params.for_sensor(convention)


class OnlineSensorConventionEventDetection(SensorConventionEventDetection):
    """:class:`SensorConventionEventDetection` in one pass, as the live Analyzer runs it.

    Notes
    -----
    The same kernel and rules as :class:`OnlineThresholdEventDetection`, with the toe-off
    rule of the sensor's convention.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "threshold-20n-sensor-online"

    def __init__(
        self, params: ContactParams | None = None, *, convention: str = "threshold"
    ) -> None:
        super().__init__(params, convention=convention, two_pass=False)


class SlopeExtensionEventDetection(EventDetector):
    """Slope extension (Blades et al. 2023, FCE4) of the threshold detector's contacts.

    Notes
    -----
    Heel strike: where the tangent at the steepest loading (first 30 % of the contact)
    meets the unloaded baseline. Toe-off: where the tangent at the steepest unloading
    (last 30 %) meets it. The baseline is the median force outside every contact.

    References
    ----------
    Blades et al. (2023), Sensors 23(5), 2736. https://doi.org/10.3390/s23052736
    """

    name = "slope-extension"

    def __init__(self, params: ContactParams | None = None, search_frac: float = 0.3) -> None:
        self.params = params
        self.search_frac = search_frac

    def _detect(self, t_s: np.ndarray, force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hs, to = ThresholdEventDetection(self.params)._detect(t_s, force_n)
        if len(hs) == 0:
            return hs, to
        first = np.searchsorted(t_s, hs, side="left")
        last = np.searchsorted(t_s, to, side="right") - 1
        contacts = np.ascontiguousarray(np.column_stack([first, last]), dtype=np.int64)
        inside = np.zeros(len(t_s), dtype=bool)
        for a, b in contacts:
            inside[a : b + 1] = True
        swing = force_n[~inside]
        baseline = float(np.nanmedian(swing)) if np.isfinite(swing).any() else 0.0
        times = np.empty((len(contacts), 2))
        slope_extension_kernel(t_s, force_n, baseline, contacts, self.search_frac, times)
        ok = np.isfinite(times).all(axis=1) & (times[:, 1] > times[:, 0])
        return times[ok, 0].copy(), times[ok, 1].copy()


#: Every candidate, by name: the validation table has one row per detector.
EVENT_DETECTORS: dict[str, type[EventDetector]] = {
    cls.name: cls
    for cls in (
        AdaptiveKneeEventDetection,
        ThresholdEventDetection,
        OnlineThresholdEventDetection,
        KneeEventDetection,
        SlopeExtensionEventDetection,
        SensorConventionEventDetection,
        OnlineSensorConventionEventDetection,
    )
}


def make_detector(name: str, convention: str = "threshold") -> EventDetector:
    """The detector ``name``, told the sensor's toe-off convention if it follows one."""
    cls = EVENT_DETECTORS[name]
    if getattr(cls, "follows_sensor", False):
        return cls(convention=convention)  # type: ignore[call-arg]
    return cls()


#: The detector ``plantar analyze`` runs (the Analyzer's streaming kernel, seeded by
#: :func:`typical_step_peak_n`), chosen by the validation table (``plantar validate``;
#: docs/metrics.md): the most trials within every bar. Live, the Analyzer runs it in one
#: pass: :class:`OnlineSensorConventionEventDetection`, its own row of the table.
CHOSEN_DETECTOR = SensorConventionEventDetection.name
