"""One clock for every review figure, table and replay: the session's own time base
(0 = session start, the ``t_s`` of the recorded frames), shown as ``m:ss`` (or seconds
under a minute), and the data-quality gaps merged into spans on that clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Gaps closer than this are drawn and listed as one span.
MERGE_GAPS_WITHIN_S = 1.0


def clock_text(t_s: float | None, *, decimals: int = 0) -> str:
    """A session time as people read it: ``"1:05"`` (min:s), ``"42 s"`` under a minute.

    >>> clock_text(65.2), clock_text(42.0), clock_text(3725.0)
    ('1:05', '42 s', '62:05')
    """
    if t_s is None or not math.isfinite(t_s):
        return "–"
    t = max(float(t_s), 0.0)
    if t < 60.0:
        return f"{t:.{decimals}f} s"
    minutes, seconds = divmod(t, 60.0)
    width = 2 + (decimals + 1 if decimals else 0)
    return f"{int(minutes)}:{seconds:0{width}.{decimals}f}"


def duration_text(duration_s: float | None) -> str:
    """A duration: ``"2 min 6 s"``, ``"45 s"``, ``"1 h 02 min"``."""
    if duration_s is None or not math.isfinite(duration_s):
        return "unknown duration"
    d = round(float(duration_s))
    if d < 60:
        return f"{d} s"
    if d < 3600:
        return f"{d // 60} min {d % 60} s"
    return f"{d // 3600} h {(d % 3600) // 60:02d} min"


@dataclass(frozen=True)
class GapSpan:
    """Consecutive data gaps (of either foot) merged into one span of session time."""

    t0_s: float
    t1_s: float
    feet: tuple[str, ...]
    kinds: tuple[str, ...]
    frames: int
    gaps: int

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "t0_s": round(self.t0_s, 3),
            "t1_s": round(self.t1_s, 3),
            "from": clock_text(self.t0_s, decimals=1),
            "to": clock_text(self.t1_s, decimals=1),
            "feet": list(self.feet),
            "kinds": list(self.kinds),
            "frames": self.frames,
            "gaps": self.gaps,
        }


def merge_gaps(
    gaps: list[dict[str, Any]], duration_s: float, within_s: float = MERGE_GAPS_WITHIN_S
) -> list[GapSpan]:
    """Gaps (``t0_s``, ``t1_s``, ``foot``, ``kind``, ``frames``) merged into spans when
    less than ``within_s`` apart, clipped to the session ``[0, duration_s]``."""
    spans: list[GapSpan] = []
    end = duration_s if math.isfinite(duration_s) and duration_s > 0 else math.inf
    for g in sorted(gaps, key=lambda g: g["t0_s"]):
        t0 = min(max(float(g["t0_s"]), 0.0), end)
        t1 = min(max(float(g["t1_s"]), t0), end)
        last = spans[-1] if spans else None
        if last is not None and t0 - last.t1_s < within_s:
            spans[-1] = GapSpan(
                last.t0_s,
                max(last.t1_s, t1),
                tuple(sorted({*last.feet, g["foot"]})),
                tuple(sorted({*last.kinds, g["kind"]})),
                last.frames + int(g.get("frames") or 0),
                last.gaps + 1,
            )
        else:
            spans.append(GapSpan(t0, t1, (g["foot"],), (g["kind"],), int(g.get("frames") or 0), 1))
    return spans


def lost_share_pct(quality: dict[str, Any]) -> float:
    """Frames lost or missing as a share of the frames that should be there (both feet)."""
    per_foot = quality.get("per_foot") or {}
    lost = sum(f["lost_frames"] + f["missing_samples"] for f in per_foot.values())
    expected = sum(f["frames"] + f["lost_frames"] for f in per_foot.values())
    return 100.0 * lost / expected if expected else 0.0


def gap_summary(quality: dict[str, Any], spans: list[GapSpan]) -> str:
    """One line: ``"0.4 % of the data lost in 12 spans (1.3 s in total)"``."""
    if not spans:
        return "no data lost"
    total = float(quality.get("gap_s_total") or 0.0)
    pct = lost_share_pct(quality)
    share = f"{pct:.1f} %" if pct >= 0.1 or pct == 0 else "under 0.1 %"
    word = "span" if len(spans) == 1 else "spans"
    return f"{share} of the data lost in {len(spans)} {word} ({total:.1f} s in total)"
