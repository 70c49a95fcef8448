"""What makes a simulated insole imperfect: noise, dead sensels, asymmetry, variability,
clock drift and packet loss.

Each random effect draws from its own generator, so the output for a given seed does not
depend on how the samples are split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from base.errors import ConfigError


@dataclass(frozen=True)
class Imperfections:
    """Imperfections of one insole and of the runner's step-to-step consistency.

    Parameters
    ----------
    noise_kpa : SD of additive Gaussian noise on each sensel's pressure (kPa).
    shear_noise_kpa : SD of additive Gaussian noise on each shear component (kPa).
    threshold_kpa : turn-on threshold of a sensel; measured pressures below it read 0 (kPa).
    dead_sensels : number of sensels that always read 0 (chosen from the seed).
    dead_sensel_indices : explicit dead sensel indices; overrides ``dead_sensels`` if given.
    load_asymmetry : right-minus-left load difference as a fraction (0.04: right +2 %, left -2 %).
    contact_asymmetry : right-minus-left contact time difference as a fraction.
    timing_asymmetry_s : extra delay of the right heel strike after half a stride (s).
    stride_jitter_cv : SD of heel-strike timing around the metronome grid, fraction of a stride.
    contact_cv : step-to-step coefficient of variation of contact time.
    load_cv : step-to-step coefficient of variation of the force amplitude.
    pivot_cv : step-to-step coefficient of variation of the pivot shear magnitude (0.22:
        the median late-stance free-moment CV of the Fukuchi treadmill runs, 0.11-0.43).
    pivot_timing_sd : step-to-step SD of the stance phase of the pivot peak (0.07: the
        Fukuchi runs' median within-trial spread).
    clock_ppm : device crystal error (ppm); device time = offset + (1 + ppm*1e-6) * true time.
    clock_offset_us : device clock at true time 0 (us), e.g. time since the insole booted.
    loss_probability : probability that any one frame is lost (independent losses).
    burst_probability : per-frame probability that a burst of consecutive losses starts.
    burst_mean_frames : mean length of a loss burst (frames, geometric).
    """

    noise_kpa: float = 2.0
    shear_noise_kpa: float = 0.5
    threshold_kpa: float = 4.0
    dead_sensels: int = 1
    dead_sensel_indices: tuple[int, ...] = ()
    load_asymmetry: float = 0.04
    contact_asymmetry: float = 0.02
    timing_asymmetry_s: float = 0.004
    stride_jitter_cv: float = 0.012
    contact_cv: float = 0.025
    load_cv: float = 0.04
    pivot_cv: float = 0.22
    pivot_timing_sd: float = 0.15
    clock_ppm: float = 0.0
    clock_offset_us: int = 0
    loss_probability: float = 0.002
    burst_probability: float = 0.0002
    burst_mean_frames: float = 25.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("clock_ppm", "clock_offset_us", "dead_sensel_indices"):
                continue
            if isinstance(value, int | float) and value < 0:
                raise ConfigError(f"imperfections: {f.name}={value} must be >= 0")
        for name in ("loss_probability", "burst_probability"):
            if getattr(self, name) > 1.0:
                raise ConfigError(f"imperfections: {name}={getattr(self, name)} must be <= 1")
        if abs(self.clock_ppm) > 1e4:
            raise ConfigError(f"imperfections: clock_ppm={self.clock_ppm} is not a crystal")
        if self.clock_offset_us < 0:
            raise ConfigError(f"imperfections: clock_offset_us={self.clock_offset_us} must be >= 0")
        if self.burst_mean_frames < 1.0:
            raise ConfigError(
                f"imperfections: burst_mean_frames={self.burst_mean_frames} must be >= 1"
            )

    @classmethod
    def none(cls) -> Imperfections:
        """A perfect device and a perfectly repeatable runner."""
        zeros = {f.name: type(f.default)() for f in fields(cls)}
        zeros["burst_mean_frames"] = cls.burst_mean_frames
        return cls(**zeros)


@dataclass(frozen=True)
class DeviceClock:
    """A device clock: ``t_device_us = offset_us + (1 + ppm * 1e-6) * t_true_us``."""

    ppm: float = 0.0
    offset_us: int = 0

    @property
    def rate(self) -> float:
        """Device microseconds per true microsecond."""
        return 1.0 + self.ppm * 1e-6

    def device_us(self, t_true_s: np.ndarray | float) -> np.ndarray:
        """Device timestamps (int64 us) of true times (s)."""
        t = np.asarray(t_true_s, dtype=np.float64)
        return np.rint(self.offset_us + self.rate * t * 1e6).astype(np.int64)


class PacketLoss:
    """Independent and bursty frame loss (a simple two-source loss model).

    A frame is lost if an independent Bernoulli draw says so or if it falls inside a
    burst; bursts start with ``burst_probability`` per frame and last a geometric number
    of frames. Bursts carry over from one block to the next.
    """

    def __init__(
        self,
        loss_probability: float,
        burst_probability: float,
        burst_mean_frames: float,
        rng: np.random.Generator,
    ) -> None:
        self.loss_probability = loss_probability
        self.burst_probability = burst_probability
        self.burst_mean_frames = burst_mean_frames
        self._rng_single, self._rng_start, self._rng_length = rng.spawn(3)
        self._burst_left = 0  # frames of the current burst still to lose

    def draw(self, n: int) -> np.ndarray:
        """Lost mask (bool, n) of the next ``n`` frames."""
        lost = np.zeros(n, dtype=bool)
        if self.loss_probability > 0.0:
            lost |= self._rng_single.random(n) < self.loss_probability
        carry = min(self._burst_left, n)
        lost[:carry] = True
        self._burst_left -= carry
        if self.burst_probability > 0.0:
            starts = np.flatnonzero(self._rng_start.random(n) < self.burst_probability)
            lengths = self._rng_length.geometric(1.0 / self.burst_mean_frames, size=starts.size)
            for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
                lost[start : start + length] = True
                self._burst_left = max(self._burst_left, start + length - n)
        return lost
