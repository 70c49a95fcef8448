"""Analysis of plantar pressure and shear: gait events, per-step metrics, pivot at
toe-off, forefoot hot spots, blister-risk index (relative index, no clinical threshold)
and fatigue trend. Numba kernels (``@njit(cache=True)``, explicit output arrays) serve
both the streaming :class:`~analysis.analyzer.Analyzer` and the batch
:func:`~analysis.analyzer.analyze_recording`. Definitions: ``docs/metrics.md``.
"""

from analysis.analyzer import Analyzer, AnalyzerOutput, analyze_recording
from analysis.contact_events import ContactParams
from analysis.event_detectors import CHOSEN_DETECTOR, EVENT_DETECTORS
from analysis.hotspots import InterpolationGrid

__all__ = [
    "CHOSEN_DETECTOR",
    "EVENT_DETECTORS",
    "Analyzer",
    "AnalyzerOutput",
    "ContactParams",
    "InterpolationGrid",
    "analyze_recording",
]
