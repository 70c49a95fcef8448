"""matplotlib set-up shared by every review figure: the Agg canvas (no pyplot, no global
state, so figures can be drawn from the dashboard's worker threads), the live page's
colour scale, the session-clock x axis, and SVG/PNG output that embeds in one HTML file.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator, ScalarFormatter

from live.hub import DEFAULT_KPA_MAX

#: Top of the fixed pressure colour scale: the live page's (``live.hub``), so a colour
#: means the same kPa on the live page, in the review and in the report.
PRESSURE_SCALE_KPA = (0.0, DEFAULT_KPA_MAX)

#: The live page's colour stops (``dashboard/static/live.js``, ``STOPS``): dark blue →
#: cyan → green → yellow → red → white. A test pins the two to each other.
LIVE_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.0, (20, 24, 60)),
    (0.12, (30, 80, 200)),
    (0.3, (0, 190, 220)),
    (0.48, (60, 210, 90)),
    (0.65, (250, 220, 40)),
    (0.85, (240, 60, 30)),
    (1.0, (255, 235, 235)),
)
PRESSURE_CMAP = LinearSegmentedColormap.from_list(
    "plantar-live", [(f, tuple(c / 255 for c in rgb)) for f, rgb in LIVE_STOPS]
).with_extremes(bad=(0, 0, 0, 0))
DIFFERENCE_CMAP = matplotlib.colormaps["RdBu_r"].with_extremes(bad=(0, 0, 0, 0))
PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#555555")
GAP_COLOUR = "#e74c3c"
MARKER_COLOUR = "#8e1b10"

_RC = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, readable in the PDF
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "plantar",  # stable ids: the same review gives the same bytes
}

#: Tick spacings of the time axis, s.
_TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@contextmanager
def figure(width_in: float, height_in: float) -> Iterator[Figure]:
    """A new Agg figure with the project's style."""
    with rc_context(_RC):
        yield Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def svg_text(fig: Figure) -> str:
    """The figure as inline SVG (no XML prolog, no DOCTYPE)."""
    buf = io.StringIO()
    with rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def png_data_uri(fig: Figure, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    with rc_context(_RC):
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def time_axis(ax: Any, duration_s: float) -> tuple[float, float]:
    """Bound the x axis by the session (0 .. ``duration_s``) with ticks on the session
    clock (``m:ss`` from two minutes on, seconds below); returns the limits."""
    end = max(float(duration_s), 1.0)
    ax.set_xlim(0.0, end)
    step = next((s for s in _TIME_STEPS_S if end / s <= 7), _TIME_STEPS_S[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    if end >= 120:
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{int(v // 60)}:{int(v % 60):02d}")
        )
        ax.set_xlabel("time since start (min:s)")
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("time since start (s)")
    return 0.0, end


def plain_numbers(axis: Any) -> None:
    """Tick labels as plain numbers (no offset, no exponent)."""
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    axis.set_major_formatter(fmt)
