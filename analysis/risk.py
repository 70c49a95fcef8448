"""Blister-risk index: a relative, per-region cumulative shear dose.

``D_region = Σ_steps (S / S_ref) ** m`` where ``S`` is the late-stance stress of the
region: the peak resultant shear at the region's shear site when the insole measures
shear, otherwise a labelled proxy ``S = mu_assumed * p_late * (1 + |θ| / θ_ref)`` from
the region's late-stance peak pressure ``p_late`` and the CoP rotation ``θ`` in late
stance. The power law follows the fatigue-like dose-response of friction blisters to
repeated shear (Naylor, P. F. D. (1955). Experimental friction blisters. Br J Dermatol
67(10), 327-342: blisters form after fewer rubs at higher shear).

**Relative index, no clinical threshold.** ``S_ref``, ``m``, ``mu_assumed`` and
``θ_ref`` are assumptions, not validated constants: compare the index only within one
runner, across shoe/sock conditions, never between runners and never as a probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RISK_LABEL = "relative index, no clinical threshold"
#: Regions the index is reported for (forefoot, where push-off blisters form, and heel).
RISK_REGIONS: tuple[str, ...] = ("MTH1", "MTH2-3", "MTH4-5", "hallux", "heel")


@dataclass(frozen=True)
class RiskAssumptions:
    """Assumptions of the blister-risk index (documented as assumptions, not facts).

    s_ref_kpa : reference stress (kPa); mu_assumed : shear/pressure ratio assumed at
    push-off when shear is not measured; theta_ref_deg : CoP rotation that doubles the
    proxy stress; exponent_m : power of the dose law.
    """

    s_ref_kpa: float = 20.0
    exponent_m: float = 3.0
    mu_assumed: float = 0.1
    theta_ref_deg: float = 30.0


def step_stress_kpa(
    late_peak_pressure_kpa: np.ndarray,
    cop_rotation_deg: np.ndarray,
    late_peak_shear_kpa: np.ndarray | None,
    assumptions: RiskAssumptions,
) -> tuple[np.ndarray, str]:
    """Per-step stress ``S`` (steps,) of one region and its kind ("shear" or "proxy")."""
    if late_peak_shear_kpa is not None:
        return np.asarray(late_peak_shear_kpa, dtype=np.float64), "shear"
    theta = np.nan_to_num(np.abs(np.asarray(cop_rotation_deg, dtype=np.float64)))
    p = np.nan_to_num(np.asarray(late_peak_pressure_kpa, dtype=np.float64))
    return assumptions.mu_assumed * p * (1.0 + theta / assumptions.theta_ref_deg), "proxy"


def dose(stress_kpa: np.ndarray, assumptions: RiskAssumptions) -> np.ndarray:
    """Per-step dose ``(S / S_ref) ** m`` (dimensionless)."""
    s = np.nan_to_num(np.asarray(stress_kpa, dtype=np.float64))
    return (s / assumptions.s_ref_kpa) ** assumptions.exponent_m


def risk_summary(
    doses: np.ndarray, kind: str, distance_km: float | None
) -> dict[str, float | str | None]:
    """Cumulative dose, mean dose per step and, with a known distance, dose per km."""
    total = float(np.sum(doses))
    n = int(np.size(doses))
    return {
        "kind": kind,
        "label": RISK_LABEL,
        "dose": round(total, 6),
        "per_step": round(total / n, 6) if n else None,
        "per_km": round(total / distance_km, 6) if distance_km else None,
    }
