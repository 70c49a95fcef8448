# Long module: one physical model (force, pressure, shear and its continuous free-moment truth).
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
from hardware.layout import points_in_polygon

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
#: Activation of the pivot over stance: a raised-cosine bump from ``PIVOT_START_TAU`` to
#: toe-off whose peak lies at the step's own stance phase (``StanceState.pivot_peak_tau``;
#: mean ``PIVOT_PEAK_TAU``). Calibrated to the free moment Ty of the Fukuchi et al. (2017)
#: treadmill runs (``benchmarks/calibrate_pivot.py``, docs/metrics.md): after the impact
#: transient the free moment rises to a peak at 34-69 % of stance (median 49 %) and falls
#: to zero at toe-off.
PIVOT_START_TAU = 0.2
PIVOT_PEAK_TAU = 0.52
#: Grid cell of the continuous field whose free moment is the simulator's ground truth (mm).
FIELD_CELL_MM = 5.0
_FIELD_BLOCK = 512


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
    pivot_shear_kpa : magnitude of the rotational shear field at its peak before fatigue
        (kPa); the default gives a whole-foot free-moment peak of ~10 N·m (9.5 N·m is the
        median of the Fukuchi treadmill runs, docs/metrics.md).
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
    pivot_shear_kpa: float = 11.5
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
    pivot_peak_tau: np.ndarray | float = PIVOT_PEAK_TAU  # (n,) stance phase of the pivot peak


@dataclass
class LoadFields:
    """Noise-free physical fields of a block of samples."""

    pressure_kpa: np.ndarray  # (n, S) at sensel centres
    shear_kpa: np.ndarray  # (n, K, 3): tx, ty, normal pressure at shear sites
    pivot_shear_kpa: np.ndarray  # (n, K) magnitude of the rotational (pivot) shear component
    cop_xy_mm: np.ndarray  # (n, 2) centre of pressure over the sensels (nan when unloaded)
    #: (n,) free moment of the continuous shear field over the whole insole about the
    #: continuous field's centre of pressure (N·mm): the ground truth of the pivot, not
    #: computed from the sampled shear sites
    field_free_moment_nmm: np.ndarray


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
        self._core_mm = _PIVOT_CORE_MM * scale
        site_regions = [s.region for s in layout.shear_sites]
        self._site_gain = np.array([_SITE_SHEAR_GAIN.get(r, 1.0) for r in site_regions])
        self._pivot_field = self._pivot_directions(self.shear_xy_mm)  # (K, 2), |.| <= 1
        # The continuous field, on a grid of cells inside the insole outline.
        self.field_xy_mm = _outline_cells(np.asarray(layout.outline_mm), FIELD_CELL_MM)
        self.field_cell_mm2 = FIELD_CELL_MM * FIELD_CELL_MM
        self._g_field = self._densities(self.field_xy_mm)  # (B, C)
        nearest = _nearest(self.field_xy_mm, self.sensel_xy_mm)
        regions = [BLOB_NAMES[int(layout.sensel_region[j])] for j in nearest]
        self._field_gain = np.array([_SITE_SHEAR_GAIN.get(r, 1.0) for r in regions])
        self._field_pivot = self._pivot_directions(self.field_xy_mm)

    def _pivot_directions(self, points_xy_mm: np.ndarray) -> np.ndarray:
        """(P, 2) direction of the pivot shear at each point, ``|.| <= 1``: the unit
        tangent of a clockwise (seen from above) field about the pivot point times the
        elastic-core falloff, signed by :attr:`pivot_sign`."""
        r = points_xy_mm - self.pivot_xy_mm
        radius = np.hypot(r[:, 0], r[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            tangent = np.stack([r[:, 1], -r[:, 0]], axis=1) / radius[:, None]
        tangent = np.nan_to_num(tangent)
        core = np.clip(radius / self._core_mm, 0.0, 1.0)
        return -self.pivot_sign * tangent * core[:, None]

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
        n = tau.shape[0]
        shear_scale = np.broadcast_to(np.asarray(state.shear_scale, np.float64), (n,))
        pivot_now_kpa = np.broadcast_to(
            np.asarray(state.pivot_kpa, np.float64) * pivot_activation(tau, state.pivot_peak_tau),
            (n,),
        )
        tx, ty, cap = self._tangential(
            tau, normal_kpa, shear_scale, pivot_now_kpa, self._site_gain, self._pivot_field
        )
        shear_kpa = np.stack([tx, ty, normal_kpa], axis=2)
        field_abs = np.hypot(self._pivot_field[:, 0], self._pivot_field[:, 1])
        pivot_abs = pivot_now_kpa[:, None] * field_abs[None] * cap
        return LoadFields(
            pressure_kpa=pressure_kpa.astype(np.float32),
            shear_kpa=shear_kpa.astype(np.float32),
            pivot_shear_kpa=pivot_abs.astype(np.float32),
            cop_xy_mm=_cop(pressure_kpa * self.sensel_area_mm2, self.sensel_xy_mm),
            field_free_moment_nmm=self._field_free_moment(
                tau, blob_force_n, shear_scale, pivot_now_kpa
            ),
        )

    def _field_free_moment(
        self,
        tau: np.ndarray,
        blob_force_n: np.ndarray,
        shear_scale: np.ndarray,
        pivot_now_kpa: np.ndarray,
    ) -> np.ndarray:
        """Free moment of the continuous field (N·mm, (n,)): pressure and shear evaluated
        on every cell of the insole, Tz about the field's own centre of pressure; 0 in
        swing. Evaluated over blocks of ``_FIELD_BLOCK`` stance samples (bounded memory)."""
        out = np.zeros(tau.shape[0])
        rows = np.flatnonzero(blob_force_n.sum(axis=1) > 0.0)
        x, y = self.field_xy_mm[:, 0], self.field_xy_mm[:, 1]
        for a in range(0, rows.size, _FIELD_BLOCK):
            sel = rows[a : a + _FIELD_BLOCK]
            normal_kpa = (blob_force_n[sel] @ self._g_field) * 1e3  # (m, C)
            tx, ty, _ = self._tangential(
                tau[sel],
                normal_kpa,
                shear_scale[sel],
                pivot_now_kpa[sel],
                self._field_gain,
                self._field_pivot,
            )
            # Tz = Σ [(x − x_cop)·ty − (y − y_cop)·tx]·A about the field's own CoP.
            total = normal_kpa.sum(axis=1)
            cx = (normal_kpa @ x) / total
            cy = (normal_kpa @ y) / total
            tz = ty @ x - cx * ty.sum(axis=1) - tx @ y + cy * tx.sum(axis=1)
            out[sel] = tz * self.field_cell_mm2 * 1e-3
        return out

    def _tangential(
        self,
        tau: np.ndarray,
        normal_kpa: np.ndarray,
        shear_scale: np.ndarray,
        pivot_now_kpa: np.ndarray,
        gain: np.ndarray,
        pivot_field: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Friction-capped tangential stress ``(tx, ty)`` (n, P) at P points with shear
        gains ``gain`` (P,) and pivot directions ``pivot_field`` (P, 2), and the cap's
        factor (n, P); ``shear_scale`` (n,) scales the AP/ML traction, ``pivot_now_kpa``
        (n,) is the pivot shear magnitude at each sample (activation included)."""
        speed_factor = float(np.clip(self.gait.speed_mps / 3.3, 0.5, 1.8))
        # Fraction of local pressure: braking (posterior, -y) early, propulsion (+y) late.
        ap_schedule = np.array(
            [[-0.10 * speed_factor, 0.0, 0.16, 0.48], [0.11 * speed_factor, 0.38, 0.74, 1.0]]
        )
        # Medio-lateral: slightly medial early, lateral in push-off (in lateral units).
        ml_schedule = np.array([[-0.03, 0.0, 0.12, 0.35], [0.05, 0.40, 0.72, 1.0]])
        ap = raised_cosine_bumps(tau, ap_schedule).sum(axis=1) * shear_scale
        ml = raised_cosine_bumps(tau, ml_schedule).sum(axis=1) * shear_scale
        local = normal_kpa * gain  # (n, P)
        pivot_mag = pivot_now_kpa[:, None]  # (n, 1)
        tx = (self.lateral_sign * ml)[:, None] * local + pivot_mag * pivot_field[None, :, 0]
        ty = ap[:, None] * local + pivot_mag * pivot_field[None, :, 1]
        # Static friction caps the tangential stress a point can carry.
        magnitude = np.hypot(tx, ty)
        limit = _STATIC_FRICTION * normal_kpa
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(magnitude > limit, limit / magnitude, 1.0)
        factor = np.nan_to_num(factor)
        tx *= factor
        ty *= factor
        return tx, ty, factor


def pivot_activation(tau: np.ndarray, peak_tau: np.ndarray | float) -> np.ndarray:
    """Pivot activation 0..1 over stance (n,): a raised cosine from ``PIVOT_START_TAU``
    through 1 at ``peak_tau`` (per sample, or one value) to 0 at toe-off."""
    t = np.asarray(tau, dtype=np.float64)
    peak = np.clip(np.broadcast_to(np.asarray(peak_tau, np.float64), t.shape), 0.3, 0.9)
    rise = np.clip((t - PIVOT_START_TAU) / (peak - PIVOT_START_TAU), 0.0, 1.0)
    fall = np.clip((1.0 - t) / (1.0 - peak), 0.0, 1.0)
    return np.where(t < peak, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 - 0.5 * np.cos(np.pi * fall))


def _cop(area_pressure: np.ndarray, xy_mm: np.ndarray) -> np.ndarray:
    """Centre of pressure (n, 2) of per-point ``pressure * area`` (n, P); NaN unloaded."""
    total = area_pressure.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cop = (area_pressure @ xy_mm) / total[:, None]
    cop[total <= 0.0] = np.nan
    return cop


def _outline_cells(outline_mm: np.ndarray, cell_mm: float) -> np.ndarray:
    """Centres (C, 2) of the square cells of side ``cell_mm`` inside a polygon."""
    x = np.arange(outline_mm[:, 0].min() + cell_mm / 2, outline_mm[:, 0].max(), cell_mm)
    y = np.arange(outline_mm[:, 1].min() + cell_mm / 2, outline_mm[:, 1].max(), cell_mm)
    gx, gy = np.meshgrid(x, y)
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    return centres[points_in_polygon(centres, outline_mm)]


def _nearest(points_xy_mm: np.ndarray, targets_xy_mm: np.ndarray) -> np.ndarray:
    """Index of the nearest target of each point."""
    d = (points_xy_mm[:, None, :] - targets_xy_mm[None, :, :]) ** 2
    return np.argmin(d.sum(axis=2), axis=1)


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
