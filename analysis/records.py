"""Typed step and pivot records, and their one JSON form.

A :class:`StepRecord` is what the :class:`~analysis.analyzer.Analyzer` finds per step; its
``"pivot"`` is a :class:`PivotValue` that carries the number, its kind, its unit and the
thresholds that apply to it. :meth:`StepRecord.to_dict` is the only place a step becomes
JSON (``plantar analyze``, the live stream, the review cache, the archive);
:meth:`StepRecord.from_dict` and :meth:`PivotValue.from_dict` read it back.

Pivot kinds (definitions in ``docs/metrics.md``):

``shear``
    Peak free moment ``Tz`` in late stance from the insole's shear sites (N·mm).
``force_plate``
    Peak free moment in late stance measured by a force plate (N·mm): a measured
    reference, not a proxy.
``proxy``
    A pressure-only insole cannot observe the free moment: the late-stance medio-lateral
    sweep of the centre of pressure (mm), labelled as a proxy everywhere it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

#: The unit of the free moment, written once (kPa·mm²·mm·1e-3 = N·mm).
FREE_MOMENT_UNIT = "N·mm"
PIVOT_KINDS = ("shear", "force_plate", "proxy")
#: ``pivot["invalid"]`` of a step whose late stance or toe-off fell in a run of lost
#: frames (see :data:`~analysis.step_metrics.PIVOT_MAX_GAP_FRAMES`).
PIVOT_INVALID_FRAME_LOSS = "frame loss at toe-off"
#: Alert when the recent median pivot exceeds the early-run median by this factor.
PIVOT_ALERT_FACTOR = 1.3


def round_or_none(x: Any, nd: int = 4) -> float | None:
    """``x`` rounded to ``nd`` decimals, or None when it is missing or not finite (the one
    rounding rule of every JSON number of a record)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, nd) if math.isfinite(v) else None


def _rounded(v: Any) -> Any:
    """A detail value rounded for JSON: numbers to 4 decimals, dicts of numbers per key."""
    if isinstance(v, dict):
        return {k: round_or_none(x, 4) for k, x in v.items()}
    return round_or_none(v, 4)


@dataclass(frozen=True)
class PivotSpec:
    """What the pivot value of one kind is: the record key holding it, its name, its unit,
    the label shown beside it (empty for measured kinds) and its alert threshold."""

    kind: str
    metric: str
    quantity: str
    unit: str
    series_key: str
    label: str = ""
    alert_factor: float = PIVOT_ALERT_FACTOR

    @property
    def is_proxy(self) -> bool:
        """True when the value is a proxy, not a measured free moment."""
        return self.kind == "proxy"

    def describe(self, label: str = "") -> dict[str, str]:
        """Kind, quantity, unit, series key and label, for a summary or a page."""
        return {
            "kind": self.kind,
            "quantity": self.quantity,
            "unit": self.unit,
            "series_key": self.series_key,
            "label": label or self.label,
        }


#: Proxy wording, with and without an IMU on the insole (pedar and gaitpdb have none).
PROXY_LABEL_COP = "proxy: CoP signals, not shear"
PROXY_LABEL_COP_IMU = "proxy: CoP and IMU signals, not shear"

PIVOT_SPECS: dict[str, PivotSpec] = {
    "shear": PivotSpec(
        "shear",
        "free_moment_peak_nmm",
        "free-moment peak at toe-off (shear)",
        FREE_MOMENT_UNIT,
        "pivot_shear_free_moment_nmm",
    ),
    "force_plate": PivotSpec(
        "force_plate",
        "free_moment_peak_nmm",
        "free-moment peak at toe-off (force plate)",
        FREE_MOMENT_UNIT,
        "pivot_force_plate_free_moment_nmm",
    ),
    "proxy": PivotSpec(
        "proxy",
        "cop_ml_sweep_late_mm",
        "late-stance CoP sweep (proxy, not the free moment)",
        "mm",
        "pivot_proxy_cop_sweep_mm",
        PROXY_LABEL_COP,
    ),
}


def pivot_spec(kind: str) -> PivotSpec:
    """The :class:`PivotSpec` of a kind (an unknown kind reads as a proxy)."""
    return PIVOT_SPECS.get(kind, PIVOT_SPECS["proxy"])


def session_pivot_kind(kinds: set[str]) -> str:
    """One kind for a set of steps: the common kind, or ``"mixed"`` (never a blend of units
    under one key)."""
    if not kinds:
        return "proxy"
    return next(iter(kinds)) if len(kinds) == 1 else "mixed"


@dataclass
class PivotValue:
    """The pivot of one step: ``value`` in ``unit`` of ``kind``, plus the kind's details.

    ``details`` holds the other numbers of the kind (free-moment impulse, site shear
    peaks, CoP rotation, yaw rate), each with its unit in its name; ``invalid`` the reason
    the step has no value (None when it has one).
    """

    kind: str
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    invalid: str | None = None

    @property
    def spec(self) -> PivotSpec:
        """The kind's :class:`PivotSpec`."""
        return pivot_spec(self.kind)

    @property
    def unit(self) -> str:
        """Unit of :attr:`value`."""
        return self.spec.unit

    def number(self) -> float:
        """:attr:`value` as a float (NaN when there is none)."""
        return math.nan if self.value is None else float(self.value)

    def invalidated(self, reason: str) -> PivotValue:
        """The same record with every number None and ``invalid`` set to ``reason``."""
        empty = {
            k: dict.fromkeys(v) if isinstance(v, dict) else None for k, v in self.details.items()
        }
        return PivotValue(self.kind, None, empty, self.label, reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: kind, value, unit, quantity, label, the metric key (which detail is
        the value) and the details; ``invalid`` only when set."""
        spec = self.spec
        out: dict[str, Any] = {
            "kind": self.kind,
            "value": round_or_none(self.value, 4),
            "unit": spec.unit,
            "quantity": spec.quantity,
            "metric": spec.metric,
            "label": self.label,
            "alert_factor": spec.alert_factor,
            **{k: _rounded(v) for k, v in self.details.items()},
        }
        if self.invalid:
            out["invalid"] = self.invalid
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PivotValue:
        """Read :meth:`to_dict`'s form (also records written before ``value`` existed)."""
        kind = str(d.get("kind") or "proxy")
        spec = pivot_spec(kind)
        value = d["value"] if "value" in d else d.get(spec.metric)
        skip = {"kind", "value", "unit", "quantity", "metric", "label", "alert_factor", "invalid"}
        details = {k: v for k, v in d.items() if k not in skip}
        return cls(kind, value, details, str(d.get("label") or ""), d.get("invalid"))

    @classmethod
    def from_step(cls, step: dict[str, Any]) -> PivotValue:
        """The pivot of a step's JSON form."""
        return cls.from_dict(step.get("pivot") or {})


@dataclass
class StepRecord:
    """One step of one foot, as the analyzer finds it; units in the names.

    Per-region dicts are keyed by :data:`hardware.layout.REGIONS`; a region the insole has
    no sensor under is None ("not measured"), never 0.
    """

    foot: str
    heel_strike_s: float
    toe_off_s: float
    step_time_s: float | None
    stride_time_s: float | None
    peak_force_n: float
    loading_rate_n_per_s: float
    strike_index: float
    strike_pattern: str | None
    cop_velocity_mm_per_s: float
    late_stance_start_s: float
    longest_gap_s: float
    peak_pressure_kpa: dict[str, float | None]
    pti_kpa_s: dict[str, float | None]
    fti_n_s: dict[str, float | None]
    pivot: PivotValue
    risk_dose: dict[str, float | None]
    hotspots: list[dict[str, Any]] | None = None

    @property
    def contact_time_s(self) -> float:
        """Heel strike to toe-off (s)."""
        return self.toe_off_s - self.heel_strike_s

    def to_dict(self) -> dict[str, Any]:
        """The step's JSON form, every number rounded here and nowhere else."""
        r = round_or_none
        out: dict[str, Any] = {
            "foot": self.foot,
            "heel_strike_s": r(self.heel_strike_s, 6),
            "toe_off_s": r(self.toe_off_s, 6),
            "contact_time_s": r(self.contact_time_s, 6),
            "step_time_s": r(self.step_time_s, 6),
            "stride_time_s": r(self.stride_time_s, 6),
            "peak_force_n": r(self.peak_force_n, 2),
            "loading_rate_n_per_s": r(self.loading_rate_n_per_s, 1),
            "strike_index": r(self.strike_index, 2),
            "strike_pattern": self.strike_pattern,
            "cop_velocity_mm_per_s": r(self.cop_velocity_mm_per_s, 2),
            "late_stance_start_s": r(self.late_stance_start_s, 6),
            "longest_gap_s": r(self.longest_gap_s, 4),
            "peak_pressure_kpa": {k: r(v, 2) for k, v in self.peak_pressure_kpa.items()},
            "pti_kpa_s": {k: r(v, 3) for k, v in self.pti_kpa_s.items()},
            "fti_n_s": {k: r(v, 3) for k, v in self.fti_n_s.items()},
            "pivot": self.pivot.to_dict(),
            "risk_dose": {k: r(v, 6) for k, v in self.risk_dose.items()},
        }
        if self.hotspots is not None:
            out["hotspots"] = self.hotspots
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepRecord:
        """Read :meth:`to_dict`'s form."""
        names = {f.name for f in fields(cls)} - {"pivot"}
        kwargs = {k: d.get(k) for k in names}
        return cls(**kwargs, pivot=PivotValue.from_step(d))
