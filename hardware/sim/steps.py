"""The step timeline of one foot: heel strikes and per-step parameters.

Heel strikes sit on a metronome grid (``start_phase_s + k * stride``) plus a small
independent jitter per step, so the two feet stay coupled over a long run instead of
random-walking apart. Steps are generated lazily, in fixed chunks, from a dedicated
random generator (so the timeline is the same whatever the sampling blocks).
"""

from __future__ import annotations

import numpy as np

from hardware.sim.gait_model import PIVOT_PEAK_TAU, GaitParams
from hardware.sim.imperfections import Imperfections

_CHUNK_STEPS = 64
_MIN_SWING_S = 0.08


class StepTimeline:
    """Heel strike times (true s) and per-step parameters of one foot.

    Attributes (numpy arrays, one entry per step, grown on demand)
    ----------------------------------------------------------------
    heel_strike_s, contact_s, load_scale, pivot_scale, pivot_peak_tau, shear_scale, fatigue
    """

    def __init__(
        self,
        gait: GaitParams,
        imperfections: Imperfections,
        *,
        foot: str,
        start_phase_s: float,
        rng: np.random.Generator,
    ) -> None:
        self.gait = gait
        self.imperfections = imperfections
        side = 1.0 if foot == "right" else -1.0
        self._phase_s = start_phase_s + (imperfections.timing_asymmetry_s if side > 0 else 0.0)
        self._contact_mean_s = gait.contact_time_s * (
            1.0 + 0.5 * side * imperfections.contact_asymmetry
        )
        self._load_mean = 1.0 + 0.5 * side * imperfections.load_asymmetry
        self._rng = rng
        self.heel_strike_s = np.empty(0)
        self.contact_s = np.empty(0)
        self.load_scale = np.empty(0)
        self.pivot_scale = np.empty(0)
        self.pivot_peak_tau = np.empty(0)
        self.shear_scale = np.empty(0)
        self.fatigue = np.empty(0)

    @property
    def n_steps(self) -> int:
        """Steps generated so far."""
        return int(self.heel_strike_s.shape[0])

    @property
    def toe_off_s(self) -> np.ndarray:
        """Toe-off times (true s) of the generated steps."""
        return self.heel_strike_s + self.contact_s

    def _grow(self) -> None:
        imp = self.imperfections
        stride = self.gait.stride_period_s
        k = np.arange(self.n_steps, self.n_steps + _CHUNK_STEPS)
        z = self._rng.standard_normal((6, _CHUNK_STEPS))
        z = np.clip(z, -3.0, 3.0)
        jitter = imp.stride_jitter_cv * stride * z[0]
        contact = self._contact_mean_s * (1.0 + imp.contact_cv * z[1])
        contact = np.minimum(
            contact, stride - 2.0 * 3.0 * imp.stride_jitter_cv * stride - _MIN_SWING_S
        )
        hs = self._phase_s + k * stride + jitter
        self.heel_strike_s = np.concatenate([self.heel_strike_s, hs])
        self.contact_s = np.concatenate([self.contact_s, contact])
        self.load_scale = np.concatenate(
            [self.load_scale, self._load_mean * (1.0 + imp.load_cv * z[2])]
        )
        self.pivot_scale = np.concatenate(
            [self.pivot_scale, np.maximum(1.0 + imp.pivot_cv * z[3], 0.0)]
        )
        self.shear_scale = np.concatenate([self.shear_scale, 1.0 + 0.5 * imp.load_cv * z[4]])
        self.pivot_peak_tau = np.concatenate(
            [self.pivot_peak_tau, PIVOT_PEAK_TAU + imp.pivot_timing_sd * z[5]]
        )
        self.fatigue = np.concatenate([self.fatigue, self.gait.fatigue_level(hs)])

    def ensure_until(self, t_true_s: float) -> None:
        """Generate steps until the timeline covers ``t_true_s`` plus one stride."""
        while self.n_steps == 0 or self.heel_strike_s[-1] < t_true_s + self.gait.stride_period_s:
            self._grow()

    def locate(self, t_true_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step index (-1 before the first step) and stance phase of each true time.

        The stance phase is 0 at heel strike and 1 at toe-off; values >= 1 are swing
        after that step. Samples before the first heel strike get index -1, phase -1.
        """
        t = np.asarray(t_true_s, dtype=np.float64)
        if t.size:
            self.ensure_until(float(t.max()))
        idx = np.searchsorted(self.heel_strike_s, t, side="right") - 1
        safe = np.maximum(idx, 0)
        tau = (t - self.heel_strike_s[safe]) / self.contact_s[safe]
        tau = np.where(idx >= 0, tau, -1.0)
        return idx, tau
