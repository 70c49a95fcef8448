"""Ground truth of a simulated run: one record per step, computed noise-free.

Records are built from the samples the insole actually took (so event sequence numbers
and peaks match what the data stream can show), from the noise-free physical fields, and
are final once the first sample after toe-off has been taken.

The pivot truth (``pivot_torque_nmm``, ``pivot_impulse_nmm_s``) is the free moment of the
continuous shear field over the whole insole (``LoadFields.field_free_moment_nmm``), not
of the 5 sampled shear sites the estimator reads; ``pivot_torque_sites_nmm`` (what those
sites would read without noise) is kept only to check the estimator's arithmetic.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from hardware.sim.gait_model import BLOB_NAMES
from hardware.sim.imperfections import DeviceClock
from hardware.sim.steps import StepTimeline

#: Late stance, where the pivot torque peak is searched (stance phase from here to toe-off).
LATE_STANCE_FROM = 0.5
#: Late stance of the free-moment impulse: from the first sample after the heel-force peak
#: with heel force below this share of that peak (the heel is unloaded) to toe-off; a step
#: whose heel peak stays below ``HEEL_LOADED_FRAC`` of the step's peak force starts late
#: stance at the force peak. The same rule as the analyzer's late stance
#: (``analysis.step_metrics``), applied to the noise-free forces, so that the impulse is
#: compared like for like.
HEEL_UNLOADED_FRAC = 0.1
HEEL_LOADED_FRAC = 0.05


@dataclass
class StepTruth:
    """What really happened during one step of one foot.

    Times are true seconds since the start of the simulation and device microseconds of
    that foot's clock. Sequence numbers are those of the first sample at or after the
    event. Torques are in the foot's own layout frame (see ``hardware.sim.gait_model``).
    """

    foot: str
    step: int
    heel_strike_s: float
    toe_off_s: float
    heel_strike_device_us: int
    toe_off_device_us: int
    heel_strike_seq: int
    toe_off_seq: int
    contact_time_s: float
    strike_index_pct: float  # CoP at first contact, % of foot length from the heel
    peak_force_n: float  # vertical force (sum of pressure * area over the sensels)
    peak_pressure_kpa: dict[str, float]  # per region, sampled, noise-free
    pivot_torque_nmm: float  # peak |Tz| about the CoP in late stance
    pivot_torque_signed_nmm: float  # Tz at that peak
    peak_rotational_shear_kpa: float  # peak magnitude of the pivot shear component
    fatigue_level: float  # 0..1 at heel strike
    complete: bool = True  # False if sampling stopped or restarted during the step
    # Time integral of Tz (trapezoid over the samples) from heel unloaded to toe-off
    # (see HEEL_UNLOADED_FRAC); NaN when the heel force was not given.
    pivot_impulse_nmm_s: float = float("nan")
    # Peak |Tz| of the 5 shear sites alone, noise-free (N·mm): not ground truth, the value
    # the estimator's arithmetic should reproduce from noise-free site readings.
    pivot_torque_sites_nmm: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-serialisable dict."""
        return asdict(self)


@dataclass
class _OpenStep:
    heel_strike_seq: int
    strike_index_pct: float
    complete: bool
    peak_force_n: float = 0.0
    peak_pressure_kpa: np.ndarray = field(default_factory=lambda: np.zeros(len(BLOB_NAMES)))
    pivot_torque_nmm: float = 0.0
    pivot_torque_signed_nmm: float = 0.0
    peak_rotational_shear_kpa: float = 0.0
    pivot_torque_sites_nmm: float = 0.0
    # Stance samples (time, Tz, force, heel force), for the late-stance impulse at the close.
    samples: list[np.ndarray] = field(default_factory=list)


class GroundTruthRecorder:
    """Accumulates per-step truth over blocks of samples (one recorder per insole)."""

    def __init__(
        self, foot: str, foot_length_mm: float, timeline: StepTimeline, clock: DeviceClock
    ) -> None:
        self.foot = foot
        self.foot_length_mm = foot_length_mm
        self.timeline = timeline
        self.clock = clock
        self.steps: list[StepTruth] | deque[StepTruth] = []
        self._open: dict[int, _OpenStep] = {}

    def keep_last(self, n_steps: int) -> None:
        """Keep only the records of the last ``n_steps`` steps from now on.

        For a simulator that runs for hours (``sim://`` behind ``plantar run``), where
        nobody reads the truth of old steps and the list would grow for the whole run.
        """
        self.steps = deque(self.steps, maxlen=n_steps)

    def interrupt(self) -> None:
        """Sampling is stopped or re-timed: the open steps are incomplete."""
        for step in self._open.values():
            step.complete = False

    def update(
        self,
        *,
        seq: np.ndarray,
        t_true_s: np.ndarray,
        sample_period_s: float,
        step_index: np.ndarray,
        tau: np.ndarray,
        force_n: np.ndarray,
        region_peak_kpa: np.ndarray,
        cop_xy_mm: np.ndarray,
        torque_nmm: np.ndarray,
        rotational_shear_kpa: np.ndarray,
        heel_force_n: np.ndarray | None = None,
        sites_torque_nmm: np.ndarray | None = None,
    ) -> None:
        """Fold one block of samples (one entry per sample; ``region_peak_kpa`` is (n, R)).

        ``heel_force_n`` (noise-free force on the heel region's sensels, N) gives the
        late stance of the free-moment impulse; without it the impulse is NaN.
        """
        stance = (step_index >= 0) & (tau >= 0.0) & (tau < 1.0)
        for k in np.unique(step_index[stance]).tolist():
            rows = np.flatnonzero(stance & (step_index == k))
            first = rows[0]
            if k not in self._open:
                hs = self.timeline.heel_strike_s[k]
                complete = t_true_s[first] - hs < sample_period_s * 1.000001
                si = 100.0 * cop_xy_mm[first, 1] / self.foot_length_mm
                self._open[k] = _OpenStep(int(seq[first]), float(si), bool(complete))
            step = self._open[k]
            step.peak_force_n = max(step.peak_force_n, float(force_n[rows].max()))
            np.maximum(
                step.peak_pressure_kpa,
                region_peak_kpa[rows].max(axis=0),
                out=step.peak_pressure_kpa,
            )
            late = rows[tau[rows] >= LATE_STANCE_FROM]
            if late.size:
                j = late[np.argmax(np.abs(torque_nmm[late]))]
                if abs(torque_nmm[j]) > step.pivot_torque_nmm:
                    step.pivot_torque_nmm = float(abs(torque_nmm[j]))
                    step.pivot_torque_signed_nmm = float(torque_nmm[j])
                step.peak_rotational_shear_kpa = max(
                    step.peak_rotational_shear_kpa, float(rotational_shear_kpa[late].max())
                )
                if sites_torque_nmm is not None:
                    step.pivot_torque_sites_nmm = max(
                        step.pivot_torque_sites_nmm, float(np.abs(sites_torque_nmm[late]).max())
                    )
            if heel_force_n is not None:
                step.samples.append(
                    np.stack([t_true_s[rows], torque_nmm[rows], force_n[rows], heel_force_n[rows]])
                )
        after = (step_index >= 0) & (tau >= 1.0)
        for k in sorted(set(np.unique(step_index[after]).tolist()) & set(self._open)):
            first = np.flatnonzero(after & (step_index == k))[0]
            self._close(k, int(seq[first]))

    def _close(self, k: int, toe_off_seq: int) -> None:
        step = self._open.pop(k)
        tl = self.timeline
        hs = float(tl.heel_strike_s[k])
        to = float(tl.toe_off_s[k])
        self.steps.append(
            StepTruth(
                foot=self.foot,
                step=k,
                heel_strike_s=hs,
                toe_off_s=to,
                heel_strike_device_us=int(self.clock.device_us(hs)),
                toe_off_device_us=int(self.clock.device_us(to)),
                heel_strike_seq=step.heel_strike_seq,
                toe_off_seq=toe_off_seq,
                contact_time_s=to - hs,
                strike_index_pct=step.strike_index_pct,
                peak_force_n=step.peak_force_n,
                peak_pressure_kpa={
                    name: float(v)
                    for name, v in zip(BLOB_NAMES, step.peak_pressure_kpa, strict=True)
                },
                pivot_torque_nmm=step.pivot_torque_nmm,
                pivot_torque_signed_nmm=step.pivot_torque_signed_nmm,
                peak_rotational_shear_kpa=step.peak_rotational_shear_kpa,
                fatigue_level=float(tl.fatigue[k]),
                complete=step.complete,
                pivot_impulse_nmm_s=_late_stance_impulse(step.samples),
                pivot_torque_sites_nmm=step.pivot_torque_sites_nmm,
            )
        )


def _late_stance_impulse(samples: list[np.ndarray]) -> float:
    """Trapezoid integral of Tz from heel unloaded to toe-off (N·mm·s), from the rows
    (t, Tz, force, heel force) of a step's stance samples."""
    if not samples:
        return float("nan")
    t, tz, force, heel = np.concatenate(samples, axis=1)
    if t.size < 2:
        return float("nan")
    i_late = int(np.argmax(force))
    i_heel = int(np.argmax(heel))
    if heel[i_heel] > HEEL_LOADED_FRAC * force[i_late]:
        unloaded = np.flatnonzero(heel[i_heel:] < HEEL_UNLOADED_FRAC * heel[i_heel])
        i_late = i_heel + int(unloaded[0]) if unloaded.size else t.size - 1
    return float(np.sum(0.5 * np.diff(t[i_late:]) * (tz[i_late + 1 :] + tz[i_late:-1])))


def write_ground_truth_jsonl(steps: Iterable[StepTruth], target: str | Path | IO[str]) -> int:
    """Write step records as JSON lines (one object per line); returns the number written."""
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8") as fh:
            return write_ground_truth_jsonl(steps, fh)
    n = 0
    for step in steps:
        target.write(json.dumps(step.to_dict(), sort_keys=True) + "\n")
        n += 1
    return n


def read_ground_truth_jsonl(source: str | Path) -> list[StepTruth]:
    """Read step records written by :func:`write_ground_truth_jsonl`."""
    with open(source, encoding="utf-8") as fh:
        return [StepTruth(**json.loads(line)) for line in fh if line.strip()]
