"""A simulated insole: the gait physics sampled by a device with its own clock, noise,
dead sensels and packet loss, emitting real protocol bytes.

Typical use::

    left, right = make_pair("plantar-ref", gait=GaitParams(fatigue_onset_s=120), seed=1)
    stream = left.encoded(200)          # one second of framed INFO + DATA messages
    truth = left.ground_truth           # StepTruth records of the finished steps

Everything is vectorised over blocks of samples; only the final per-frame byte encoding
loops in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from base.errors import ConfigError
from base.wire.cobs import frame_message
from base.wire.messages import DeviceInfo, encode_info
from base.wire.payload import encode_data_frame
from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT, PROTOCOL_VERSION
from hardware.sim.gait_model import (
    BLOB_NAMES,
    GaitParams,
    PlantarLoadModel,
    StanceState,
    free_moment_nmm,
    vertical_force_bw,
)
from hardware.sim.ground_truth import GroundTruthRecorder, StepTruth
from hardware.sim.imperfections import DeviceClock, Imperfections, PacketLoss
from hardware.sim.steps import StepTimeline

if TYPE_CHECKING:
    from hardware.calibration import Calibration
    from hardware.layout import Layout

SIM_FIRMWARE_VERSION = "plantar-sim 1"
DEFAULT_LEFT_IMPERFECTIONS = Imperfections(clock_ppm=28.0, clock_offset_us=1_250_000)
DEFAULT_RIGHT_IMPERFECTIONS = Imperfections(clock_ppm=-41.0, clock_offset_us=3_870_000)
_MAX_RATE_HZ = 2000
#: How hard :meth:`SimulatedInsole.press` presses by default (kPa: a firm palm).
PRESS_KPA = 150.0
_INFO_PERIOD_US = 1_000_000


@dataclass
class SampleBlock:
    """A block of consecutive samples of one insole (one row per sample).

    Physical arrays are the noise-free truth; ``measured_*`` and the wire arrays include
    noise, dead sensels and quantisation. Lost frames are computed like the others but
    flagged in ``lost`` (their sequence numbers are never sent).
    """

    seq: np.ndarray  # (n,) int64 sample counter (sent modulo 2**32)
    t_true_s: np.ndarray  # (n,) float64 true time since the start of the simulation
    t_device_us: np.ndarray  # (n,) int64 device clock
    lost: np.ndarray  # (n,) bool frame not delivered
    step_index: np.ndarray  # (n,) int64 step of the foot (-1 before the first heel strike)
    stance_phase: np.ndarray  # (n,) float64 0 at heel strike .. 1 at toe-off; else swing
    force_n: np.ndarray  # (n,) vertical force applied (N)
    cop_xy_mm: np.ndarray  # (n, 2) noise-free centre of pressure over the sensels (nan: none)
    pivot_torque_nmm: np.ndarray  # (n,) noise-free free moment about the CoP (N*mm)
    pressure_kpa: np.ndarray  # (n, S) float32 noise-free
    shear_kpa: np.ndarray  # (n, K, 3) float32 noise-free tx, ty, normal
    measured_pressure_kpa: np.ndarray  # (n, S) float32, what the counts decode to
    measured_shear_kpa: np.ndarray  # (n, K, 3) float32, what the wire shear decodes to
    pressure_counts: np.ndarray  # (n, S) uint16 wire values
    shear_centi_kpa: np.ndarray  # (n, K, 3) int16 wire values

    def __len__(self) -> int:
        return int(self.seq.shape[0])


class SimulatedInsole:
    """One simulated insole on one foot.

    Parameters
    ----------
    layout : sensor layout (any foot; it is mirrored to ``foot``).
    calibration : counts <-> kPa curves; default: the layout's calibration file.
    foot : "left" or "right"; default: the layout's foot.
    gait : how the runner runs.
    imperfections : device and runner imperfections.
    sampling_rate_hz : frames per second of the device clock.
    device_id : 16-bit id sent in every frame.
    seed : random seed; the same seed, foot and parameters give the same bytes.
    start_phase_s : true time of the first heel strike (s); later ones follow the stride.
    """

    def __init__(
        self,
        layout: Layout,
        calibration: Calibration | None = None,
        *,
        foot: str | None = None,
        gait: GaitParams | None = None,
        imperfections: Imperfections | None = None,
        sampling_rate_hz: float = 200.0,
        device_id: int = 1,
        seed: int = 0,
        start_phase_s: float = 0.05,
    ) -> None:
        foot = layout.foot if foot is None else foot
        self.layout = layout.for_foot(foot)
        self.foot = foot
        if calibration is None:
            from hardware.calibration import load_calibration

            calibration = load_calibration(layout.calibration_id, layout.n_sensels)
        if calibration.n_sensels != self.layout.n_sensels:
            raise ConfigError(
                f"calibration {calibration.id}: has {calibration.n_sensels} sensels but layout "
                f"{layout.id} has {self.layout.n_sensels}"
            )
        if not 0 <= device_id <= 0xFFFF:
            raise ConfigError(f"simulated insole: device_id={device_id} must be 0..65535")
        self.calibration = calibration
        self.gait = gait or GaitParams()
        self.imperfections = DEFAULT_LEFT_IMPERFECTIONS if imperfections is None else imperfections
        self.device_id = int(device_id)
        self.seed = int(seed)
        self.clock = DeviceClock(self.imperfections.clock_ppm, self.imperfections.clock_offset_us)
        root = np.random.SeedSequence([self.seed, 0 if foot == "left" else 1])
        rng_steps, rng_noise, rng_shear_noise, rng_loss, rng_dead = (
            np.random.Generator(np.random.PCG64(s)) for s in root.spawn(5)
        )
        self._rng_noise = rng_noise
        self._rng_shear_noise = rng_shear_noise
        self.model = PlantarLoadModel(self.layout, self.gait)
        self.timeline = StepTimeline(
            self.gait, self.imperfections, foot=foot, start_phase_s=start_phase_s, rng=rng_steps
        )
        imp = self.imperfections
        self.loss = PacketLoss(
            imp.loss_probability, imp.burst_probability, imp.burst_mean_frames, rng_loss
        )
        self.dead_sensels = self._choose_dead(rng_dead)
        self._region_masks = [
            np.asarray(self.layout.sensel_region) == r for r in range(len(BLOB_NAMES))
        ]
        self.truth = GroundTruthRecorder(
            foot, self.layout.foot_length_mm, self.timeline, self.clock
        )
        self._next_seq = 0
        self._rate_hz = 0.0
        self._seq_base = 0
        self._elapsed_base_us = 0.0  # device clock minus offset at sample _seq_base
        self.set_sampling_rate(sampling_rate_hz)
        self._next_info_us: int | None = None  # None: send INFO before the next frame
        #: A hand pressing the forefoot (kPa added to its sensels): see :meth:`press`.
        self.press_kpa = 0.0
        self._forefoot = self.layout.forefoot_mask()

    # ------------------------------------------------------------------ configuration

    def _choose_dead(self, rng: np.random.Generator) -> np.ndarray:
        imp = self.imperfections
        n = self.layout.n_sensels
        if imp.dead_sensel_indices:
            dead = np.array(sorted(set(imp.dead_sensel_indices)), dtype=np.int64)
            if dead.min() < 0 or dead.max() >= n:
                raise ConfigError(
                    f"imperfections: dead_sensel_indices must be in 0..{n - 1} for layout "
                    f"{self.layout.id}"
                )
            return dead
        count = min(imp.dead_sensels, n)
        return np.sort(rng.choice(n, size=count, replace=False)).astype(np.int64)

    @property
    def sampling_rate_hz(self) -> float:
        """Frames per second of device time."""
        return self._rate_hz

    def set_sampling_rate(self, sampling_rate_hz: float) -> None:
        """Change the sampling rate from the next sample on (device time continues)."""
        rate = float(sampling_rate_hz)
        if not 1.0 <= rate <= _MAX_RATE_HZ:
            raise ConfigError(
                f"simulated insole: sampling_rate_hz={sampling_rate_hz} must be 1..{_MAX_RATE_HZ}"
            )
        if self._rate_hz:
            self._elapsed_base_us = self._elapsed_us(self._next_seq)
            self._seq_base = self._next_seq
        self._rate_hz = rate
        self._next_info_us = None

    def _elapsed_us(self, seq: np.ndarray | int) -> np.ndarray:
        return self._elapsed_base_us + (np.asarray(seq) - self._seq_base) * (1e6 / self._rate_hz)

    @property
    def info(self) -> DeviceInfo:
        """What this insole says about itself in its INFO messages."""
        return DeviceInfo(
            protocol_version=PROTOCOL_VERSION,
            device_id=self.device_id,
            foot=FOOT_RIGHT if self.foot == "right" else FOOT_LEFT,
            sampling_rate_hz=round(self._rate_hz),
            n_sensels=self.layout.n_sensels,
            n_shear=self.layout.n_shear,
            firmware_version=SIM_FIRMWARE_VERSION,
            layout_id=self.layout.id,
            calibration_id=self.calibration.id,
        )

    @property
    def next_seq(self) -> int:
        """Sequence number of the next sample."""
        return self._next_seq

    @property
    def next_t_true_s(self) -> float:
        """True time of the next sample (s)."""
        return float(self._elapsed_us(self._next_seq)) / self.clock.rate * 1e-6

    def samples_due(self, t_true_s: float) -> int:
        """Number of samples with a true time before ``t_true_s``."""
        elapsed = t_true_s * 1e6 * self.clock.rate
        n = np.ceil((elapsed - float(self._elapsed_us(self._next_seq))) * self._rate_hz * 1e-6)
        return max(int(n), 0)

    def skip_to(self, t_true_s: float) -> None:
        """Resume sampling at true time ``t_true_s`` (after a STOP): no samples, no seq."""
        self._elapsed_base_us = t_true_s * 1e6 * self.clock.rate
        self._seq_base = self._next_seq
        self.truth.interrupt()
        self._next_info_us = None

    def press(self, pressure_kpa: float = PRESS_KPA) -> None:
        """Press on the forefoot (pairing: "press on the left insole"): from the next sample
        ``pressure_kpa`` is added to every forefoot sensel, on top of the gait, until
        :meth:`release`. Not part of the gait, so not in the ground truth."""
        if not 0.0 <= pressure_kpa <= 1000.0:
            raise ConfigError(f"simulated insole: press of {pressure_kpa} kPa must be 0..1000")
        self.press_kpa = float(pressure_kpa)

    def release(self) -> None:
        """Stop pressing (see :meth:`press`)."""
        self.press_kpa = 0.0

    def request_info(self) -> None:
        """Send an INFO message before the next frame."""
        self._next_info_us = None

    @property
    def ground_truth(self) -> list[StepTruth]:
        """Records of the steps finished so far (toe-off sampled; see ``truth.keep_last``)."""
        return list(self.truth.steps)

    # ---------------------------------------------------------------------- sampling

    def samples(self, n: int) -> SampleBlock:
        """Take the next ``n`` samples (physical truth, measured values and wire values)."""
        seq = np.arange(self._next_seq, self._next_seq + n, dtype=np.int64)
        elapsed_us = self._elapsed_us(seq)
        t_device_us = np.rint(self.clock.offset_us + elapsed_us).astype(np.int64)
        t_true_s = elapsed_us / self.clock.rate * 1e-6
        self._next_seq += n

        tl = self.timeline
        idx, tau = tl.locate(t_true_s)
        safe = np.maximum(idx, 0)
        gait = self.gait
        fatigue = tl.fatigue[safe]
        force_n = (
            gait.body_weight_n
            * tl.load_scale[safe]
            * vertical_force_bw(tau, tl.contact_s[safe], gait)
        )
        state = StanceState(
            tau=tau,
            force_n=force_n,
            mth1_scale=1.0 + gait.fatigue_mth1_gain * fatigue,
            pivot_kpa=gait.pivot_shear_kpa
            * (1.0 + gait.fatigue_pivot_gain * fatigue)
            * tl.pivot_scale[safe],
            shear_scale=tl.shear_scale[safe],
            pivot_peak_tau=tl.pivot_peak_tau[safe],
        )
        fields = self.model.fields(state)
        # The truth is the continuous field's free moment; what the 5 shear sites see
        # (noise-free) is kept beside it for checking the estimator's arithmetic only.
        torque = fields.field_free_moment_nmm
        sites_torque = free_moment_nmm(
            fields.shear_kpa, self.model.shear_xy_mm, self.model.shear_area_mm2, fields.cop_xy_mm
        )
        region_peak = np.zeros((n, len(BLOB_NAMES)))
        for r, mask in enumerate(self._region_masks):
            if mask.any():
                region_peak[:, r] = fields.pressure_kpa[:, mask].max(axis=1)
        heel = self._region_masks[BLOB_NAMES.index("heel")]
        heel_force_n = (fields.pressure_kpa[:, heel] * self.model.sensel_area_mm2[heel]).sum(
            axis=1
        ) * 1e-3
        self.truth.update(
            seq=seq,
            t_true_s=t_true_s,
            sample_period_s=1.0 / self._rate_hz / self.clock.rate,
            step_index=idx,
            tau=tau,
            force_n=(fields.pressure_kpa * self.model.sensel_area_mm2).sum(axis=1) * 1e-3,
            region_peak_kpa=region_peak,
            cop_xy_mm=fields.cop_xy_mm,
            torque_nmm=torque,
            sites_torque_nmm=sites_torque,
            rotational_shear_kpa=fields.pivot_shear_kpa.max(axis=1, initial=0.0),
            heel_force_n=heel_force_n,
        )

        imp = self.imperfections
        pressure = fields.pressure_kpa.astype(np.float64)
        if self.press_kpa:
            pressure[:, self._forefoot] += self.press_kpa
        if imp.noise_kpa > 0.0:
            pressure = pressure + imp.noise_kpa * self._rng_noise.standard_normal(pressure.shape)
        pressure[pressure < imp.threshold_kpa] = 0.0
        pressure[:, self.dead_sensels] = 0.0
        counts = self.calibration.to_counts(pressure)
        shear = fields.shear_kpa.astype(np.float64)
        if imp.shear_noise_kpa > 0.0:
            shear = shear + imp.shear_noise_kpa * self._rng_shear_noise.standard_normal(shear.shape)
        shear[..., 2] = np.maximum(shear[..., 2], 0.0)
        shear_centi = np.clip(np.rint(shear * 100.0), -32768, 32767).astype(np.int16)
        return SampleBlock(
            seq=seq,
            t_true_s=t_true_s,
            t_device_us=t_device_us,
            lost=self.loss.draw(n),
            step_index=idx,
            stance_phase=tau,
            force_n=force_n,
            cop_xy_mm=fields.cop_xy_mm,
            pivot_torque_nmm=torque,
            pressure_kpa=fields.pressure_kpa,
            shear_kpa=fields.shear_kpa,
            measured_pressure_kpa=self.calibration.to_kpa(counts),
            measured_shear_kpa=(shear_centi * 0.01).astype(np.float32),
            pressure_counts=counts,
            shear_centi_kpa=shear_centi,
        )

    def encode_block(self, block: SampleBlock) -> bytes:
        """Framed protocol bytes of a block: INFO (at start, then once per device second)
        and one DATA message per delivered frame."""
        foot = FOOT_RIGHT if self.foot == "right" else FOOT_LEFT
        out: list[bytes] = []
        shear = block.shear_centi_kpa if self.layout.n_shear else None
        for i in range(len(block)):
            t_us = int(block.t_device_us[i])
            if self._next_info_us is None or t_us >= self._next_info_us:
                out.append(frame_message(encode_info(self.info)))
                self._next_info_us = t_us + _INFO_PERIOD_US
            if block.lost[i]:
                continue
            message = encode_data_frame(
                device_id=self.device_id,
                foot=foot,
                seq=int(block.seq[i]),
                t_device_us=t_us,
                pressure_counts=block.pressure_counts[i],
                shear_centi_kpa=None if shear is None else shear[i],
            )
            out.append(frame_message(message))
        return b"".join(out)

    def encoded(self, n: int) -> bytes:
        """Take the next ``n`` samples and return their framed protocol bytes."""
        return self.encode_block(self.samples(n))


def make_pair(
    layout: Layout | str = "plantar-ref",
    calibration: Calibration | None = None,
    *,
    gait: GaitParams | None = None,
    imperfections: Imperfections | Sequence[Imperfections] | None = None,
    sampling_rate_hz: float = 200.0,
    seed: int = 0,
    device_ids: tuple[int, int] = (1, 2),
    start_phase_s: float = 0.05,
) -> tuple[SimulatedInsole, SimulatedInsole]:
    """A left and a right insole of one runner, the right half a stride later.

    ``layout`` is a layout or a shipped layout id; ``imperfections`` is one set for both
    feet, a (left, right) pair, or None for the defaults (each foot its own clock).
    """
    if isinstance(layout, str):
        from hardware.layout import load_layout

        layout = load_layout(layout)
    gait = gait or GaitParams()
    if imperfections is None:
        pair = (DEFAULT_LEFT_IMPERFECTIONS, DEFAULT_RIGHT_IMPERFECTIONS)
    elif isinstance(imperfections, Imperfections):
        pair = (imperfections, imperfections)
    else:
        pair = tuple(imperfections)
        if len(pair) != 2:
            raise ConfigError("make_pair: give one Imperfections or a (left, right) pair")
    phases = (start_phase_s, start_phase_s + 0.5 * gait.stride_period_s)
    left, right = (
        SimulatedInsole(
            layout,
            calibration,
            foot=foot,
            gait=gait,
            imperfections=imp,
            sampling_rate_hz=sampling_rate_hz,
            device_id=dev,
            seed=seed,
            start_phase_s=phase,
        )
        for foot, imp, dev, phase in zip(("left", "right"), pair, device_ids, phases, strict=True)
    )
    return left, right
