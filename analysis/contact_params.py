"""The contact detector's parameters and state (:mod:`analysis.contact_events`): the
parameter vector and the state vector its kernel reads by index, and
:class:`ContactParams`, which documents each parameter (see that module's docstring for
the method)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Indices into the detector state vector (float64).
_PHASE = 0  # -1 unknown (start), 0 swing, 1 stance
_BASELINE = 1
_PEAK = 2  # typical step peak above the baseline (N); NaN until known
_T_PREV = 3
_F_PREV = 4
_T_CROSS = 5  # candidate heel-strike time (NaN: none)
_STEP_PEAK = 6
_T_HS = 7
_DT = 8
_N_SAMPLES = 9
_INIT_MIN = 10
_INIT_MAX = 11
_NOISE = 12
_RATE_MAX = 13
_RATE_PREV = 14
_T_KNEE = 15
_F_KNEE = 16
_N_STEPS = 17
_KNEE_RATE_MAX = 18  # steepest unloading rate before the toe-off candidate (N/s)
_FLOOR_START = 19  # unseeded, until a first step: the floor the contact rose from (NaN: none)
_T_OFF = 20  # the force fell below the contact level at this time (NaN: it has not)
_T_LOW = 21  # swing: the force went below the baseline by the contact level (NaN: not)
_FLOOR_EST = 22  # start-up: the floor, following samples below its contact level (N)
STATE_SIZE = 23

# Indices into the parameter vector.
_P_LEVEL = 0
_P_NOISE_K = 1
_P_CONFIRM = 2
_P_RULE = 3
_P_KNEE_LEVEL = 4
_P_KNEE_RATE = 5
_P_KNEE_DROP = 6
_P_REBOUND = 7
_P_MIN_RANGE = 8
_P_PEAK_ALPHA = 9
_P_BASE_TAU = 10
_P_GAP = 11
_P_MIN_CONTACT = 12
_P_MAX_RISE = 13
_P_BRIDGE = 14
_P_DROP = 15
_P_HS_SHARE = 16
_P_TO_SHARE = 17
PARAM_SIZE = 18

TOE_OFF_THRESHOLD = 0
TOE_OFF_KNEE = 1
TOE_OFF_SHARE = 2
#: The foot is unloaded below this share of its typical step peak (start-up: a weight
#: shift while standing is not the swing a step starts from).
_UNLOADED_FRAC = 0.1
#: Mean absolute sample-to-sample difference of white noise x this = its mean absolute
#: deviation (sigma sqrt(2/pi) over 2 sigma / sqrt(pi)): noise from differences ignores a
#: slow load or tail in swing, which is no noise.
_DIFF_TO_MAD = 0.7071067811865476


@dataclass(frozen=True)
class ContactParams:
    """Parameters of the contact detector (see the module docstring).

    Attributes
    ----------
    contact_level_n : force above the unloaded baseline that starts and ends a contact (N).
    noise_k : the contact level is never below this many swing-noise deviations.
    confirm_frac : a contact is a step once it reaches this share of the typical peak.
    toe_off_rule : 0 threshold crossing, 1 end of the unloading (knee), 2 shares of the
        peak (heel strike at ``hs_share`` of the typical step peak, toe-off at ``to_share``
        of the step's own peak, each above the baseline and never below the contact level).
    knee_level_frac, knee_rate_frac, knee_drop_frac, rebound_frac : the knee rule.
    min_range_n : smallest step range the relative levels assume (N).
    peak_alpha : weight of a lower step peak in the typical peak (a higher one replaces it).
    baseline_tau_s : time constant (s) with which the baseline and the swing noise follow
        unloaded samples: a time, so the detector behaves alike at 50 Hz and at 1 kHz.
    gap_factor : a time step longer than this many sampling periods is a gap.
    min_contact_s : shortest stance that is a step (s).
    max_rise_s : a rise that takes longer than this to confirm is drift, not a contact (s):
        a whole stance of slow walking (~1 s). A stopping step or a Parkinsonian step
        loads slowly (0.43 s from contact to half the typical peak on the last step of
        the pedar walk), an insole's drift or a standing weight shift far more slowly.
    bridge_s : a dip below the contact level shorter than this, crossing to crossing, does
        not end a contact that has lasted ``min_contact_s`` (s; a shorter contact, a spike
        or a touch, ends at once): 20 ms, two samples at 100 Hz, is sensor noise or a
        one-sample dropout, while the shortest swing of human gait lasts ~0.2 s. It is the
        validation reference's own gap rule (``analysis.event_validation.REF_BRIDGE_S``);
        a longer one would merge the shuffle contacts that reference splits.
    hs_share, to_share : rule 2 (a sensor whose maker times events there, Moticon): 0.05
        and 0.10, the median force at Moticon's annotated heel strikes and toe-offs of
        ``230927_102114.txt`` as a share of each step's peak (heel strike 3.9 % / 5.8 %,
        toe-off 9.4 % / 10.9 %, left / right).
    drop_s : the baseline drops at once (a resting load came off) only when the force has
        stayed below it by the contact level this long (s): 50 ms, longer than a noise
        spike or a force plate's brief negative swing (-49 and -42 N for 13 ms before a
        contact in RBDS002runT35, which at 150 Hz pulled the baseline down and merged the
        steps that followed).
    """

    contact_level_n: float = 20.0
    noise_k: float = 4.0
    confirm_frac: float = 0.5
    toe_off_rule: int = TOE_OFF_THRESHOLD
    knee_level_frac: float = 0.3
    knee_rate_frac: float = 0.2
    knee_drop_frac: float = 0.45
    rebound_frac: float = 0.1
    min_range_n: float = 40.0
    peak_alpha: float = 0.3
    baseline_tau_s: float = 0.3
    gap_factor: float = 2.5
    min_contact_s: float = 0.08
    max_rise_s: float = 1.0
    bridge_s: float = 0.02
    drop_s: float = 0.05
    hs_share: float = 0.05
    to_share: float = 0.10

    def for_sensor(self, convention: str) -> ContactParams:
        """These parameters with the event rule of a sensor's convention.

        ``convention`` is :attr:`hardware.layout.Layout.gait_events`: ``"share-of-peak"``
        gives rule 2 (events at shares of the peak: a sensor still reading load after the
        foot has gone, whose maker times events there, Moticon's), anything else the
        threshold crossing.
        """
        rule = TOE_OFF_SHARE if convention == "share-of-peak" else TOE_OFF_THRESHOLD
        return replace(self, toe_off_rule=rule)

    def as_array(self) -> np.ndarray:
        """The parameter vector the kernel takes."""
        return np.array(
            [
                self.contact_level_n,
                self.noise_k,
                self.confirm_frac,
                float(self.toe_off_rule),
                self.knee_level_frac,
                self.knee_rate_frac,
                self.knee_drop_frac,
                self.rebound_frac,
                self.min_range_n,
                self.peak_alpha,
                self.baseline_tau_s,
                self.gap_factor,
                self.min_contact_s,
                self.max_rise_s,
                self.bridge_s,
                self.drop_s,
                self.hs_share,
                self.to_share,
            ],
            dtype=np.float64,
        )


def new_contact_state(typical_peak_n: float | None = None) -> np.ndarray:
    """A fresh detector state; ``typical_peak_n`` seeds the typical step peak (N above
    the baseline), e.g. from a first pass over a stored recording."""
    state = np.full(STATE_SIZE, np.nan)
    state[_PHASE] = -1.0
    state[_N_STEPS] = 0.0
    state[_N_SAMPLES] = 0.0
    state[_NOISE] = 0.0
    state[_RATE_MAX] = 0.0
    state[_RATE_PREV] = 0.0
    if typical_peak_n is not None:
        state[_PEAK] = typical_peak_n
    return state


def typical_peak_n(state: np.ndarray) -> float:
    """The typical step peak (N above the baseline) a state has learnt (NaN: none yet)."""
    return float(state[_PEAK])


def pending_toe_off_s(state: np.ndarray) -> float:
    """When the force fell below the contact level in a contact not yet ended (the toe-off
    decided ``bridge_s`` later, unless the dip is bridged); NaN if it has not."""
    return float(state[_T_OFF]) if state[_PHASE] == 1.0 else float("nan")


def baseline_n(state: np.ndarray) -> float:
    """The unloaded baseline (N) a state has learnt."""
    return float(state[_BASELINE])
