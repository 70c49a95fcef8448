"""Words, numbers and clocks of the review: the session clock's text, gaps merged into
spans, numbers for people, and the colour scale shared with the live page."""

from __future__ import annotations

import re

from base.human import number
from review.labels import metric_words
from review.plotting import LIVE_STOPS, PRESSURE_SCALE_KPA
from review.timebase import clock_text, gap_summary, merge_gaps
from tests.review.conftest import REPO


def test_clock_text() -> None:
    assert clock_text(0.0) == "0 s" and clock_text(59.4) == "59 s"
    assert clock_text(65.2) == "1:05" and clock_text(125.25, decimals=1) == "2:05.2"
    assert clock_text(None) == "–"


def test_gaps_merge_into_spans_inside_the_session() -> None:
    gaps = [
        {"foot": "left", "kind": "lost frames", "t0_s": 10.0, "t1_s": 10.02, "frames": 1},
        {"foot": "right", "kind": "lost frames", "t0_s": 10.5, "t1_s": 10.52, "frames": 1},
        {"foot": "left", "kind": "missing samples", "t0_s": 30.0, "t1_s": 31.0, "frames": 100},
        {"foot": "left", "kind": "time gap", "t0_s": 119.0, "t1_s": 130.0, "frames": 5},
    ]
    spans = merge_gaps(gaps, duration_s=120.0)
    assert [(s.t0_s, s.t1_s, s.gaps) for s in spans] == [
        (10.0, 10.52, 2),
        (30.0, 31.0, 1),
        (119.0, 120.0, 1),
    ]
    assert spans[0].feet == ("left", "right") and spans[0].frames == 2
    quality = {
        "gap_s_total": 12.04,
        "per_foot": {
            "left": {"frames": 9900, "lost_frames": 6, "missing_samples": 100},
            "right": {"frames": 9994, "lost_frames": 1, "missing_samples": 0},
        },
    }
    assert gap_summary(quality, spans) == "0.5 % of the data lost in 3 spans (12.0 s in total)"
    assert gap_summary(quality, []) == "no data lost"


def test_numbers_for_people() -> None:
    assert number(-16543.2, "N·mm") == "-16,500 N·mm"
    assert number(0.24561, "s") == "0.246 s"
    assert number(11301.9) == "11,300"
    assert number(None, "kPa") == "–"
    assert "e+" not in number(1.65e4) and "e-" not in number(3.2e-5)


def test_metric_words() -> None:
    assert metric_words("peak pressure MTH2-3") == "peak pressure, middle of the ball of the foot"
    assert metric_words("PTI lesser_toes") == "pressure-time integral, small toes"
    assert metric_words("pivot: free-moment peak at toe-off (shear)") == "twist at push-off"


def test_colour_scale_is_the_live_pages() -> None:
    """Review maps and replay use the live page's stops and its 0-400 kPa."""
    live = (REPO / "dashboard" / "static" / "live.js").read_text(encoding="utf-8")
    block = live[live.index("const STOPS") : live.index("];", live.index("const STOPS"))]
    stops = [
        (float(f), tuple(int(c) for c in rgb.split(",")))
        for f, rgb in re.findall(r"\[([\d.]+),\s*\[([\d,\s]+)\]\]", block)
    ]
    assert stops == list(LIVE_STOPS)
    review = (REPO / "dashboard" / "static" / "review.js").read_text(encoding="utf-8")
    line = next(x for x in review.splitlines() if "const STOPS" in x)
    mine = [
        (float(f), tuple(int(c) for c in rgb.split(",")))
        for f, rgb in re.findall(r"\[([\d.]+),\s*\[([\d,\s]+)\]\]", line)
    ]
    assert mine == stops
    assert PRESSURE_SCALE_KPA == (0.0, 400.0)
