"""Physics of one foot running on a treadmill: vertical force, pressure pattern and shear.

Everything here is a pure function of the stance phase ``tau`` (0 at heel strike, 1 at
toe-off) and of per-step parameters; the device side (clocks, noise, loss, bytes) lives in
:mod:`hardware.sim.insole`. All arrays are evaluated in vectorised blocks of samples.

Coordinates are those of the layout of the foot being simulated (see ``hardware.layout``):
mm, origin at the back of the heel, +y anterior, +x medial for the LEFT foot and lateral for
the RIGHT foot (x as seen from above). Shear is the stress exerted by the insole on the skin.

Sign convention of the pivot (free moment, ``Tz``, z pointing up out of the insole towards
the viewer looking down on the feet): the rotational shear at push-off acts in the
internal-rotation (adduction, toes towards the midline) sense on the foot, resisting the
foot's external pivot about the ball of the foot. Internal rotation is clockwise seen from
above for the left foot and counter-clockwise for the right foot, so in each foot's own
layout frame ``Tz < 0`` for the left foot and ``Tz > 0`` for the right foot; after mirroring
the right foot into left-foot coordinates (x -> -x, tx -> -tx), ``Tz < 0`` for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from base.errors import ConfigError

if TYPE_CHECKING:
    from hardware.layout import Layout

GRAVITY_MPS2 = 9.80665
STRIKE_PATTERNS = ("rearfoot", "midfoot", "forefoot")
#: Load blobs, in the order of ``hardware.layout.REGIONS``.
BLOB_NAMES = ("heel", "midfoot", "MTH1", "MTH2-3", "MTH4-5", "hallux", "lesser_toes")
_MTH1 = BLOB_NAMES.index("MTH1")
_REFERENCE_FOOT_LENGTH_MM = 265.0

# Anatomical fallback positions for a left foot (x/L, y/L) when a layout region has no
# sensel, and flat-topped blob widths (sigma_x, sigma_y) in mm for a 265 mm foot.
_DEFAULT_POSITION_FRACTION = {
    "heel": (0.0, 0.13),
    "midfoot": (-0.06, 0.42),
    "MTH1": (0.10, 0.71),
    "MTH2-3": (0.02, 0.73),
    "MTH4-5": (-0.10, 0.66),
    "hallux": (0.10, 0.90),
    "lesser_toes": (-0.05, 0.86),
}
_BLOB_SIGMA_MM = np.array(
    [
        [27.0, 34.0],
        [22.0, 42.0],
        [25.0, 28.0],
        [25.0, 28.0],
        [25.0, 28.0],
        [18.0, 20.0],
        [27.0, 17.0],
    ]
)
#: Flat-top exponent of the blobs: density ~ exp(-0.5 * d**(2*beta)), beta = 1 is Gaussian.
_BLOB_FLATNESS = 3.0

# Blob weight schedules over stance, one row per blob: (amplitude, start, peak, end) of a
# raised-cosine bump in stance phase. Only the ratios between blobs matter at each instant;
# the total force comes from the vertical force curve.
_SCHEDULES = {
    "rearfoot": np.array(
        [
            [1.00, -0.06, 0.10, 0.70],
            [0.90, 0.05, 0.40, 0.84],
            [0.40, 0.15, 0.68, 1.02],
            [0.60, 0.14, 0.64, 1.02],
            [0.42, 0.12, 0.56, 0.98],
            [0.60, 0.35, 0.86, 1.06],
            [0.30, 0.30, 0.80, 1.03],
        ]
    ),
    "midfoot": np.array(
        [
            [0.55, -0.02, 0.18, 0.64],
            [1.10, -0.10, 0.28, 0.82],
            [0.40, 0.05, 0.66, 1.02],
            [0.60, -0.02, 0.60, 1.02],
            [0.50, -0.08, 0.48, 0.98],
            [0.60, 0.32, 0.86, 1.06],
            [0.30, 0.25, 0.80, 1.03],
        ]
    ),
    "forefoot": np.array(
        [
            [0.35, 0.10, 0.34, 0.62],
            [0.70, 0.02, 0.36, 0.78],
            [0.40, 0.02, 0.64, 1.02],
            [0.60, -0.12, 0.50, 1.02],
            [0.70, -0.14, 0.32, 0.98],
            [0.55, 0.30, 0.86, 1.06],
            [0.45, -0.15, 0.50, 1.03],
        ]
    ),
}
# Rearfoot impact transient (body weights, stance phase of its peak, width), scaled by speed.
_IMPACT_BW = {"rearfoot": 1.3, "midfoot": 0.25, "forefoot": 0.0}
_IMPACT_TAU = 0.10
_IMPACT_WIDTH_TAU = 0.03
#: Exponent of the active (sin**p) force peak; > 1 gives the narrower running peak.
_ACTIVE_EXPONENT = 1.6

# Shear: fraction of local pressure, per site region (peak shear lies more laterally).
_SITE_SHEAR_GAIN = {
    "heel": 1.0,
    "midfoot": 1.0,
    "MTH1": 0.95,
    "MTH2-3": 1.05,
    "MTH4-5": 1.15,
    "hallux": 1.0,
    "lesser_toes": 1.0,
}
_STATIC_FRICTION = 0.6  # sock-insole coefficient: |shear| <= mu * pressure at every site
_PIVOT_CORE_MM = 15.0  # inside this radius the rotational shear grows linearly with radius
_PIVOT_SCHEDULE = (0.55, 0.84, 1.0)  # heel unloaded -> toe-off (start, peak, end)


@dataclass(frozen=True)
class GaitParams:
    """How the runner runs. Units are in the names; defaults are an easy 12 km/h run.

    Parameters
    ----------
    speed_mps : treadmill belt speed (m/s); scales the impact peak and the AP shear.
    cadence_spm : steps per minute, both feet together (a stride is two steps).
    contact_time_s : ground contact time of one step (s).
    strike : foot strike pattern, one of ``STRIKE_PATTERNS``.
    body_mass_kg : body mass (kg); body weight = mass * g.
    pivot_shear_kpa : magnitude of the rotational shear field at toe-off before fatigue (kPa).
    fatigue_onset_s : run time after which fatigue starts to drift the pattern (s).
    fatigue_ramp_s : time from onset to full fatigue (s).
    fatigue_pivot_gain : relative growth of the pivot shear at full fatigue (1.0 = doubles).
    fatigue_mth1_gain : relative growth of the MTH1 (medial forefoot) load weight at full fatigue.
    """

    speed_mps: float = 3.3
    cadence_spm: float = 172.0
    contact_time_s: float = 0.25
    strike: str = "rearfoot"
    body_mass_kg: float = 70.0
    pivot_shear_kpa: float = 20.0
    fatigue_onset_s: float = 1800.0
    fatigue_ramp_s: float = 600.0
    fatigue_pivot_gain: float = 1.0
    fatigue_mth1_gain: float = 0.6

    def __post_init__(self) -> None:
        checks = {
            "speed_mps": 0.5 <= self.speed_mps <= 10.0,
            "cadence_spm": 100.0 <= self.cadence_spm <= 240.0,
            "body_mass_kg": 20.0 <= self.body_mass_kg <= 200.0,
            "pivot_shear_kpa": self.pivot_shear_kpa >= 0.0,
            "fatigue_onset_s": self.fatigue_onset_s >= 0.0,
            "fatigue_ramp_s": self.fatigue_ramp_s >= 0.0,
            "fatigue_pivot_gain": self.fatigue_pivot_gain >= 0.0,
            "fatigue_mth1_gain": self.fatigue_mth1_gain >= 0.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"gait parameters: {name}={getattr(self, name)} is out of range")
        if self.strike not in STRIKE_PATTERNS:
            choices = ", ".join(STRIKE_PATTERNS)
            raise ConfigError(f"gait parameters: strike={self.strike!r} must be one of {choices}")
        if not 0.08 <= self.contact_time_s <= self.stride_period_s - 0.1:
            raise ConfigError(
                f"gait parameters: contact_time_s={self.contact_time_s} does not fit in a stride "
                f"of {self.stride_period_s:.3f} s"
            )

    @property
    def step_period_s(self) -> float:
        """Time between consecutive heel strikes of opposite feet (s)."""
        return 60.0 / self.cadence_spm

    @property
    def stride_period_s(self) -> float:
        """Time between consecutive heel strikes of the same foot (s)."""
        return 2.0 * self.step_period_s

    @property
    def body_weight_n(self) -> float:
        """Body weight (N)."""
        return self.body_mass_kg * GRAVITY_MPS2

    def fatigue_level(self, t_true_s: np.ndarray | float) -> np.ndarray:
        """Fatigue level 0..1 at run time ``t_true_s`` (linear ramp after the onset)."""
        t = np.asarray(t_true_s, dtype=np.float64)
        if self.fatigue_ramp_s <= 0.0:
            return (t >= self.fatigue_onset_s).astype(np.float64)
        return np.clip((t - self.fatigue_onset_s) / self.fatigue_ramp_s, 0.0, 1.0)


def raised_cosine_bumps(tau: np.ndarray, schedule: np.ndarray) -> np.ndarray:
    """Evaluate raised-cosine bumps, one per schedule row (amplitude, start, peak, end).

    Returns an array of shape (len(tau), len(schedule)); zero outside (start, end).
    """
    t = np.asarray(tau, dtype=np.float64)[:, None]
    amplitude, start, peak, end = (schedule[:, i] for i in range(4))
    rise = np.clip((t - start) / (peak - start), 0.0, 1.0)
    fall = np.clip((end - t) / (end - peak), 0.0, 1.0)
    shape = np.where(t < peak, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 - 0.5 * np.cos(np.pi * fall))
    return amplitude * shape


def _sin_power_mean(power: float) -> float:
    """Mean of sin(pi*tau)**power over tau in [0, 1]."""
    return math.gamma((power + 1.0) / 2.0) / (math.sqrt(math.pi) * math.gamma(power / 2.0 + 1.0))


def vertical_force_bw(
    tau: np.ndarray, contact_time_s: np.ndarray | float, gait: GaitParams
) -> np.ndarray:
    """Vertical ground reaction force in body weights at stance phase ``tau`` (0 outside 0..1).

    The active peak is a ``sin(pi*tau)**1.6`` hump whose height makes the vertical impulse
    of one contact equal body weight times the step period (no net vertical momentum over a
    step); rearfoot (and weakly midfoot) strikes add an impact transient at ~11 % of stance.
    Shorter contacts therefore give higher peaks, as in real running.
    """
    tau = np.asarray(tau, dtype=np.float64)
    contact = np.asarray(contact_time_s, dtype=np.float64)
    impact_bw = _IMPACT_BW[gait.strike] * float(np.clip(gait.speed_mps / 3.3, 0.5, 1.6))
    impact = impact_bw * np.exp(-0.5 * ((tau - _IMPACT_TAU) / _IMPACT_WIDTH_TAU) ** 2)
    impact_impulse = impact_bw * _IMPACT_WIDTH_TAU * math.sqrt(2.0 * math.pi)
    mean_bw = gait.step_period_s / contact
    active_bw = np.maximum(mean_bw - impact_impulse, 0.2) / _sin_power_mean(_ACTIVE_EXPONENT)
    inside = (tau >= 0.0) & (tau < 1.0)
    tau_in = np.clip(tau, 0.0, 1.0)
    active = active_bw * np.sin(np.pi * tau_in) ** _ACTIVE_EXPONENT
    ramp_in = np.clip(tau_in / 0.04, 0.0, 1.0)  # the impact transient starts from zero
    return np.where(inside, active + impact * ramp_in, 0.0)


def _blob_density(dx: np.ndarray, dy: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Flat-topped blob densities (1/mm^2) integrating to 1 over the plane.

    ``dx``, ``dy`` have shape (B, P) (offsets from each blob centre); ``sigma`` is (B, 2).
    """
    d2 = (dx / sigma[:, :1]) ** 2 + (dy / sigma[:, 1:]) ** 2
    beta = _BLOB_FLATNESS
    integral = (
        sigma[:, 0] * sigma[:, 1] * math.pi * 2.0 ** (1.0 / beta) * math.gamma(1.0 + 1.0 / beta)
    )
    return np.exp(-0.5 * d2**beta) / integral[:, None]


@dataclass
class StanceState:
    """Per-sample inputs of the load model (one row per sample; swing samples have force 0)."""

    tau: np.ndarray  # (n,) stance phase, any value outside [0, 1) means swing
    force_n: np.ndarray  # (n,) vertical force (N)
    mth1_scale: np.ndarray  # (n,) multiplier of the MTH1 blob weight (fatigue)
    pivot_kpa: np.ndarray  # (n,) rotational shear magnitude at full activation (kPa)
    shear_scale: np.ndarray  # (n,) multiplier of AP/ML shear (step-to-step variability)


@dataclass
class LoadFields:
    """Noise-free physical fields of a block of samples."""

    pressure_kpa: np.ndarray  # (n, S) at sensel centres
    shear_kpa: np.ndarray  # (n, K, 3): tx, ty, normal pressure at shear sites
    pivot_shear_kpa: np.ndarray  # (n, K) magnitude of the rotational (pivot) shear component
    cop_xy_mm: np.ndarray  # (n, 2) centre of pressure over the sensels (nan when unloaded)


class PlantarLoadModel:
    """Pressure and shear under one foot of one layout, as a function of stance state.

    Blob centres are the layout's region centroids (the midfoot blob sits on the lateral
    half of the midfoot region); blob widths scale with foot length.
    """

    def __init__(self, layout: Layout, gait: GaitParams) -> None:
        self.gait = gait
        self.foot = layout.foot
        self.sensel_xy_mm = np.asarray(layout.sensel_xy_mm, dtype=np.float64)
        self.sensel_area_mm2 = np.asarray(layout.sensel_area_mm2, dtype=np.float64)
        self.shear_xy_mm = np.array([[s.x_mm, s.y_mm] for s in layout.shear_sites], dtype=float)
        self.shear_xy_mm = self.shear_xy_mm.reshape(-1, 2)
        self.shear_area_mm2 = np.array([s.area_mm2 for s in layout.shear_sites], dtype=float)
        #: +1 if +x is lateral for this foot (right), -1 if +x is medial (left).
        self.lateral_sign = 1.0 if layout.foot == "right" else -1.0
        #: sign of Tz of the internal-rotation pivot moment in this foot's frame.
        self.pivot_sign = 1.0 if layout.foot == "right" else -1.0
        scale = layout.foot_length_mm / _REFERENCE_FOOT_LENGTH_MM
        self.foot_length_mm = float(layout.foot_length_mm)
        self.blob_xy_mm = self._blob_centres(layout)
        self.blob_sigma_mm = _BLOB_SIGMA_MM * scale
        self.schedule = _SCHEDULES[gait.strike]
        self._g_sensel = self._densities(self.sensel_xy_mm)  # (B, S) 1/mm^2
        self._g_site = self._densities(self.shear_xy_mm)  # (B, K)
        self.pivot_xy_mm = 0.6 * self.blob_xy_mm[_MTH1] + 0.4 * self.blob_xy_mm[_MTH1 + 1]
        site_regions = [s.region for s in layout.shear_sites]
        self._site_gain = np.array([_SITE_SHEAR_GAIN.get(r, 1.0) for r in site_regions])
        r = self.shear_xy_mm - self.pivot_xy_mm
        radius = np.hypot(r[:, 0], r[:, 1])
        # Unit tangential direction of a clockwise (seen from above) field, times the
        # elastic-core falloff; multiplied by pivot_sign below.
        with np.errstate(invalid="ignore", divide="ignore"):
            tangent = np.stack([r[:, 1], -r[:, 0]], axis=1) / radius[:, None]
        tangent = np.nan_to_num(tangent)
        core = np.clip(radius / (_PIVOT_CORE_MM * scale), 0.0, 1.0)
        self._pivot_field = -self.pivot_sign * tangent * core[:, None]  # (K, 2), |.| <= 1

    def _blob_centres(self, layout: Layout) -> np.ndarray:
        regions = np.asarray(layout.sensel_region)
        xy = np.asarray(layout.sensel_xy_mm, dtype=np.float64)
        mirror = 1.0 if layout.foot == "left" else -1.0
        centres = np.empty((len(BLOB_NAMES), 2))
        for b, name in enumerate(BLOB_NAMES):
            mask = regions == b
            if name == "midfoot" and mask.sum() >= 4:
                lateral = (xy[:, 0] - np.median(xy[mask, 0])) * self.lateral_sign >= 0.0
                mask = mask & lateral
            if mask.any():
                centres[b] = xy[mask].mean(axis=0)
            else:
                fx, fy = _DEFAULT_POSITION_FRACTION[name]
                centres[b] = (mirror * fx * layout.foot_length_mm, fy * layout.foot_length_mm)
        return centres

    def _densities(self, points_xy_mm: np.ndarray) -> np.ndarray:
        dx = points_xy_mm[None, :, 0] - self.blob_xy_mm[:, None, 0]
        dy = points_xy_mm[None, :, 1] - self.blob_xy_mm[:, None, 1]
        return _blob_density(dx, dy, self.blob_sigma_mm)

    def blob_weights(self, tau: np.ndarray, mth1_scale: np.ndarray) -> np.ndarray:
        """Load share of each blob, (n, B), rows sum to 1 in stance and 0 in swing."""
        weights = raised_cosine_bumps(tau, self.schedule)
        weights[:, _MTH1] *= mth1_scale
        inside = (tau >= 0.0) & (tau < 1.0)
        total = weights.sum(axis=1)
        ok = inside & (total > 0.0)
        shares = np.zeros_like(weights)
        shares[ok] = weights[ok] / total[ok, None]
        return shares

    def fields(self, state: StanceState) -> LoadFields:
        """Noise-free pressure at the sensels and triaxial shear at the shear sites."""
        tau = np.asarray(state.tau, dtype=np.float64)
        shares = self.blob_weights(tau, state.mth1_scale)
        # force (N) * density (1/mm^2) = N/mm^2 = 1000 kPa
        blob_force_n = shares * state.force_n[:, None]
        pressure_kpa = (blob_force_n @ self._g_sensel) * 1e3
        normal_kpa = (blob_force_n @ self._g_site) * 1e3  # (n, K)
        shear_kpa, pivot_abs = self._shear(tau, normal_kpa, state)
        area_p = pressure_kpa * self.sensel_area_mm2
        total = area_p.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cop = (area_p @ self.sensel_xy_mm) / total[:, None]
        cop[total <= 0.0] = np.nan
        return LoadFields(
            pressure_kpa=pressure_kpa.astype(np.float32),
            shear_kpa=shear_kpa.astype(np.float32),
            pivot_shear_kpa=pivot_abs.astype(np.float32),
            cop_xy_mm=cop,
        )

    def _shear(
        self, tau: np.ndarray, normal_kpa: np.ndarray, state: StanceState
    ) -> tuple[np.ndarray, np.ndarray]:
        speed_factor = float(np.clip(self.gait.speed_mps / 3.3, 0.5, 1.8))
        # Fraction of local pressure: braking (posterior, -y) early, propulsion (+y) late.
        ap_schedule = np.array(
            [[-0.10 * speed_factor, 0.0, 0.16, 0.48], [0.11 * speed_factor, 0.38, 0.74, 1.0]]
        )
        # Medio-lateral: slightly medial early, lateral in push-off (in lateral units).
        ml_schedule = np.array([[-0.03, 0.0, 0.12, 0.35], [0.05, 0.40, 0.72, 1.0]])
        ap = raised_cosine_bumps(tau, ap_schedule).sum(axis=1) * state.shear_scale
        ml = raised_cosine_bumps(tau, ml_schedule).sum(axis=1) * state.shear_scale
        local = normal_kpa * self._site_gain  # (n, K)
        ty = ap[:, None] * local
        tx = self.lateral_sign * ml[:, None] * local
        activation = raised_cosine_bumps(tau, np.array([[1.0, *_PIVOT_SCHEDULE]]))[:, 0]
        pivot_mag = (state.pivot_kpa * activation)[:, None]  # (n, 1)
        tx = tx + pivot_mag * self._pivot_field[None, :, 0]
        ty = ty + pivot_mag * self._pivot_field[None, :, 1]
        pivot_abs = pivot_mag * np.hypot(self._pivot_field[:, 0], self._pivot_field[:, 1])[None]
        # Static friction caps the tangential stress a site can carry.
        magnitude = np.hypot(tx, ty)
        limit = _STATIC_FRICTION * normal_kpa
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(magnitude > limit, limit / magnitude, 1.0)
        factor = np.nan_to_num(factor)
        shear = np.stack([tx * factor, ty * factor, normal_kpa], axis=2)
        return shear, pivot_abs * factor


def free_moment_nmm(
    shear_kpa: np.ndarray,
    shear_xy_mm: np.ndarray,
    shear_area_mm2: np.ndarray,
    cop_xy_mm: np.ndarray,
) -> np.ndarray:
    """Free moment about the centre of pressure from the shear sites (N*mm), per sample.

    ``Tz = sum_i [(x_i - x_cop) * ty_i - (y_i - y_cop) * tx_i] * A_i`` with stresses in kPa
    (1 kPa * mm^2 = 1e-3 N). ``shear_kpa`` is (n, K, 3), ``cop_xy_mm`` (n, 2).
    """
    dx = shear_xy_mm[None, :, 0] - cop_xy_mm[:, None, 0]
    dy = shear_xy_mm[None, :, 1] - cop_xy_mm[:, None, 1]
    tz = (dx * shear_kpa[..., 1] - dy * shear_kpa[..., 0]) * shear_area_mm2[None, :]
    return np.nan_to_num(tz.sum(axis=1) * 1e-3)
