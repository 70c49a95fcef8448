"""What a session review says to a runner, in plain words: what was measured, what was
found, what it means and what to try. Every number carries its unit; the reference
ranges are those of ``DESIGN.md`` (running: cadence 160-200 steps/min, contact time
about 200-300 ms, forefoot peak pressure about 175-260 kPa shod, Hennig)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from review.labels import number, region_words
from review.session import FOREFOOT_REGIONS, SessionReview
from review.timebase import clock_text, duration_text, gap_summary, merge_gaps

CADENCE_RANGE_SPM = (160.0, 200.0)
CONTACT_RANGE_S = (0.200, 0.300)
FOREFOOT_SHOD_KPA = (175.0, 260.0)
#: Left-right difference above which the report mentions it, %.
ASYMMETRY_NOTE_PCT = 10.0
#: Below this cadence the session reads as walking (running is 160-200 steps/min; brisk
#: walking reaches about 130), and the running references and advice are left out.
WALKING_MAX_SPM = 140.0


@dataclass
class Findings:
    """The runner's page: headline facts and three lists of sentences."""

    title: str
    when: str
    duration: str
    gear: str
    measured: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    meaning: list[str] = field(default_factory=list)
    try_next: list[str] = field(default_factory=list)


def when_text(started_at: str) -> str:
    """``"Sunday 6 December 2026, 14:05"`` of an ISO time stamp (as given when unparsable)."""
    try:
        t = datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return started_at or "date not recorded"
    return f"{t:%A} {t.day} {t:%B %Y, %H:%M}"


def _region_means(review: SessionReview, foot: str) -> list[tuple[float, str]]:
    regions: dict[str, list[float]] = {}
    for st in review.data["steps"]:
        if st["foot"] != foot:
            continue
        for r, v in st["peak_pressure_kpa"].items():
            if v is not None and math.isfinite(v):
                regions.setdefault(r, []).append(v)
    return sorted(((sum(v) / len(v), r) for r, v in regions.items() if v), reverse=True)


def findings(review: SessionReview) -> Findings:
    """The plain-language first page of a session report."""
    d = review.data
    sess = d["session"]
    s = d["summary"]
    q = d["quality"]
    cad = s.get("cadence_spm")
    walking = bool(cad and cad < WALKING_MAX_SPM)
    activity = "Walking" if walking else "Running"
    gear = (
        ", ".join(
            x
            for x in (
                sess.get("shoe") and f"shoe {sess['shoe']}",
                sess.get("sock") and f"sock {sess['sock']}",
            )
            if x
        )
        or "shoe and sock not recorded"
    )
    f = Findings(
        title=f"{activity} session" + (f" of {sess['athlete']}" if sess.get("athlete") else ""),
        when=when_text(sess.get("started_at") or ""),
        duration=duration_text(sess.get("duration_s")),
        gear=gear,
    )
    feet = d["feet"]
    sensors = {info["n_sensels"] for info in feet.values()}
    shear = any(info["n_shear"] for info in feet.values())
    rates = [pf["rate_hz"] for pf in q["per_foot"].values() if pf.get("rate_hz")]
    rate = f", {number(min(rates), 'samples/s', digits=2)}" if rates else ""
    if d.get("no_map"):  # a force plate
        f.measured.append(
            "Vertical force and free moment (twist) of both feet on a force plate (an "
            f"instrumented treadmill){rate}; {s['steps']} steps analysed. No pressure map."
        )
    else:
        f.measured.append(
            f"Pressure under {'both feet' if len(feet) == 2 else 'one foot'} from "
            f"{'/'.join(str(n) for n in sorted(sensors))} sensors per insole"
            + rate
            + (", with sensors for sideways (shear) force" if shear else "")
            + f"; {s['steps']} steps analysed."
        )
    if sess.get("treadmill_speed_kmh"):
        f.measured.append(f"Treadmill speed {number(sess['treadmill_speed_kmh'], 'km/h')}.")
    ct = s.get("contact_time_s") or {}
    if cad:
        f.found.append(f"Cadence: {number(cad, 'steps/min')}.")
    if ct:
        parts = [f"{foot} {number(v, 's')}" for foot, v in ct.items() if v is not None]
        f.found.append("Time on the ground per step: " + ", ".join(parts) + ".")
    hottest: list[float] = []
    for foot in feet:
        means = _region_means(review, foot)
        if means:
            top = ", ".join(f"{region_words(r)} ({number(m, 'kPa')})" for m, r in means[:2])
            f.found.append(f"{foot.capitalize()} foot: most pressure under the {top}.")
            hottest += [m for m, r in means if r in FOREFOOT_REGIONS]
    piv = d["pivot"]
    if piv["kind"] == "force_plate":
        f.found.append(
            "Twist at push-off was measured by the force plate (its free moment: a "
            "reference, not a proxy). A force plate has no pressure map, so pressure, hot "
            "spots and the blister-risk index are not measured."
        )
    elif piv["kind"] == "shear":
        f.found.append("Twist at push-off was measured with the shear sensors.")
    else:
        f.found.append(
            "Twist at push-off is estimated from the pressure pattern (this insole has no "
            "shear sensors), so treat it as a rough guide."
        )
    flagged = [
        (fz["onset_s"], name)
        for name, fz in (d["fatigue"].get("per_metric") or {}).items()
        if fz.get("flagged") and fz.get("onset_s") is not None
    ]
    spans = merge_gaps(q["gaps"], float(sess.get("duration_s") or 0.0))
    f.found.append(f"Data: {gap_summary(q, spans)}.")
    if walking:
        f.meaning.append(
            f"At {number(cad, 'steps/min')} this was walking, not running: the running "
            "references (cadence, forefoot pressure in running shoes) do not apply."
        )
    elif cad and not CADENCE_RANGE_SPM[0] <= cad <= CADENCE_RANGE_SPM[1]:
        side = "below" if cad < CADENCE_RANGE_SPM[0] else "above"
        f.meaning.append(f"Cadence is {side} the usual running range of 160-200 steps/min.")
        if side == "below":
            f.try_next.append(
                "Try a slightly quicker step (about 5 % more steps/min): shorter steps usually "
                "land softer."
            )
    elif cad:
        f.meaning.append("Cadence is within the usual running range (160-200 steps/min).")
    peak = max(hottest) if hottest else None
    if walking:
        pass
    elif peak is not None and peak > FOREFOOT_SHOD_KPA[1]:
        f.meaning.append(
            f"The forefoot (ball of the foot and toes) takes more pressure "
            f"({number(peak, 'kPa')}) than is usual in running shoes (175-260 kPa): a place "
            "where hot spots and blisters start."
        )
        f.try_next.append(
            "Try a shoe with more cushioning under the ball of the foot, or a thicker sock, and "
            "record one run in each to compare them."
        )
    elif peak is not None:
        f.meaning.append(
            f"Pressure under the forefoot ({number(peak, 'kPa')}) is within the usual range "
            "for running shoes (175-260 kPa) or below it."
        )
    sym = (s.get("symmetry_index_pct") or {}).get("contact_time_s")
    if sym is not None and abs(sym) > ASYMMETRY_NOTE_PCT:
        longer = "left" if sym > 0 else "right"
        f.meaning.append(
            f"The {longer} foot stays on the ground {number(abs(sym), '%', digits=2)} longer "
            "than the other: worth mentioning to your physio."
        )
    if flagged:
        t, _ = min(flagged)
        f.meaning.append(
            f"Your running changed after {clock_text(t)}{' (min:s)' if t >= 60 else ''} (more "
            "twisting, longer contact "
            "or higher pressure): often a sign of tiring."
        )
        f.try_next.append("Try pacing the first part more easily, or a shorter run, and compare.")
    if piv["kind"] != "force_plate":  # a plate has no risk index
        f.meaning.append(
            "The blister-risk index compares your own shoes and socks with each other; it is "
            "not a probability of getting a blister."
        )
    f.try_next.append(
        "To choose between shoes or socks, record at least 3 runs in each at the same speed; "
        "the comparison report then says which one twists and presses less."
    )
    return f
