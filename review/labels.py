"""Words and numbers for people: region and metric names a runner understands, and
numbers rounded to what they can tell apart, always with their unit."""

from __future__ import annotations

import math

from base.human import number

__all__ = ["REGION_WORDS", "metric_words", "number", "region_words", "series_words"]

#: Foot regions in plain words (the layout's region ids are anatomical shorthand).
REGION_WORDS: dict[str, str] = {
    "heel": "heel",
    "midfoot": "arch (midfoot)",
    "MTH1": "ball of the foot behind the big toe",
    "MTH2-3": "middle of the ball of the foot",
    "MTH4-5": "outer ball of the foot",
    "hallux": "big toe",
    "lesser_toes": "small toes",
}

#: Per-step series and trend keys in plain words, with their unit.
SERIES_WORDS: dict[str, tuple[str, str]] = {
    "contact_time_s": ("Ground contact time", "s"),
    "cadence_spm": ("Cadence", "steps/min"),
    "forefoot_peak_kpa": ("Highest forefoot pressure per step", "kPa"),
    "hotspot_peak_kpa": ("Hot-spot pressure", "kPa"),
    "hotspot_recurrence": ("Hot-spot recurrence", "%"),
    "peak_force_n": ("Peak force", "N"),
    "pivot_shear_free_moment_nmm": ("Twist at push-off (measured)", "N·mm"),
    "pivot_force_plate_free_moment_nmm": ("Twist at push-off (force plate)", "N·mm"),
    "pivot_proxy_cop_sweep_mm": ("Twist at push-off (estimate from pressure)", "mm"),
}

#: Words that must not appear on a runner's first page (raw names of the data).
RAW_NAMES: tuple[str, ...] = (
    "contact_time_s",
    "hotspot_peak_kpa",
    "forefoot_peak_kpa",
    "cadence_spm",
    "peak_force_n",
    "pivot_",
    "_nmm",
    "MTH",
    "PTI",
    "lesser_toes",
    "free moment",
    "CoP",
    "per_km",
    "e+0",
    "e-0",
)


def region_words(region: str) -> str:
    """A region id in plain words (unknown ids as they are)."""
    return REGION_WORDS.get(region, region.replace("_", " "))


def series_words(key: str) -> tuple[str, str]:
    """(title, unit) of a series key."""
    return SERIES_WORDS.get(key, (key.replace("_", " "), ""))


def metric_words(metric: str) -> str:
    """A comparison metric name (``"peak pressure MTH2-3"``) in plain words."""
    for region in sorted(REGION_WORDS, key=len, reverse=True):
        if metric.endswith(" " + region):
            head = metric[: -len(region) - 1]
            head = {"PTI": "pressure-time integral", "risk dose": "blister-risk index"}.get(
                head, head
            )
            return f"{head}, {region_words(region)}"
    if metric.startswith("pivot"):
        return "twist at push-off" + (" (estimate)" if "proxy" in metric else "")
    return metric


def signed_pct(value: float) -> str:
    """``"18 % lower"`` / ``"5 % higher"`` / ``"no change"`` of a percent change."""
    if not math.isfinite(value) or round(abs(value)) == 0:
        return "no change"
    return f"{abs(value):.0f} % {'lower' if value < 0 else 'higher'}"
