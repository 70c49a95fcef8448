"""Analysis of plantar pressure and shear: gait events, per-step metrics, pivot at
toe-off, forefoot hot spots, blister-risk index (relative index, no clinical threshold)
and fatigue trend. Numba kernels (``@njit(cache=True)``, explicit output arrays) serve
both the streaming :class:`~analysis.analyzer.Analyzer` and the batch
:func:`~analysis.analyzer.analyze_recording`. Definitions: ``docs/metrics.md``.
"""

from base.lazy import lazy_exports

_ANALYZER, _DETECTORS = "analysis.analyzer", "analysis.event_detectors"
__getattr__ = lazy_exports(
    __name__,
    {
        "Analyzer": _ANALYZER,
        "AnalyzerOutput": _ANALYZER,
        "analyze_recording": _ANALYZER,
        "CHOSEN_DETECTOR": _DETECTORS,
        "EVENT_DETECTORS": _DETECTORS,
        "ContactParams": "analysis.contact_events",
        "InterpolationGrid": "analysis.hotspots",
    },
)

__all__ = [
    "CHOSEN_DETECTOR",
    "EVENT_DETECTORS",
    "Analyzer",
    "AnalyzerOutput",
    "ContactParams",
    "InterpolationGrid",
    "analyze_recording",
]
