"""Numbers for people: rounded to what they can tell apart, thousands separated, never
an exponent, always with their unit (CLI output, pages, reports)."""

from __future__ import annotations

import math
from typing import Any


def number(value: Any, unit: str = "", *, digits: int = 3) -> str:
    """A number for people: ``digits`` significant figures, thousands separated, no
    exponent, followed by its unit (``"12,300 N·mm"``, ``"0.245 s"``, ``"18 %"``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if v == 0:
        text = "0"
    else:
        magnitude = math.floor(math.log10(abs(v)))
        decimals = max(digits - 1 - magnitude, 0)
        rounded = round(v, decimals if decimals else -(magnitude - digits + 1))
        text = f"{rounded:,.{decimals}f}"
    return f"{text} {unit}".strip() if unit else text
