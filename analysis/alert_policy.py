"""The one pivot-alert policy (``pivot_rising``) and its defaults, in a module without numba
so that the command line can show its defaults without compiling anything."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.records import PIVOT_ALERT_FACTOR

#: Steps discarded as acclimatisation before the pivot baseline of the alerts.
ACCLIMATISATION_STEPS = 30
#: Steps after acclimatisation that set the pivot baseline, and the recent window.
BASELINE_STEPS = 60
ALERT_RECENT_STEPS = 20


@dataclass(frozen=True)
class PivotAlertPolicy:
    """The one pivot-alert policy (``"pivot_rising"``), for ``plantar analyze`` and live.

    Steps of both feet are counted in order: the first ``acclimatisation_steps`` are
    discarded, the next ``baseline_steps`` set the runner's own baseline (median pivot at
    toe-off), and the alert is raised when the median of the last ``recent_steps`` exceeds
    ``factor`` x baseline, at most once per ``repeat_s`` of session time. The factor is a
    display setting: no validated threshold exists for blister risk.
    """

    acclimatisation_steps: int = ACCLIMATISATION_STEPS
    baseline_steps: int = BASELINE_STEPS
    recent_steps: int = ALERT_RECENT_STEPS
    factor: float = PIVOT_ALERT_FACTOR
    repeat_s: float = 60.0

    def __post_init__(self) -> None:
        if self.acclimatisation_steps < 0 or self.baseline_steps < 1 or self.recent_steps < 1:
            raise ValueError(
                "pivot alert: need acclimatisation_steps >= 0, baseline_steps >= 1 and "
                "recent_steps >= 1"
            )
        if not self.factor > 1.0 or not self.repeat_s >= 0.0:
            raise ValueError("pivot alert: need factor > 1 and repeat_s >= 0")
