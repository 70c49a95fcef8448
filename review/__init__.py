"""Post-run review and shoe × sock comparison: per-session maps, series, fatigue trend and
data quality (cached per session), comparison statistics with bootstrap CIs, and the
self-contained HTML report. See ``docs/review.md``."""

from review.cache import ANALYSIS_VERSION, get_review
from review.compare import CompareOptions, compare
from review.session import SessionReview

__all__ = ["ANALYSIS_VERSION", "CompareOptions", "SessionReview", "compare", "get_review"]
