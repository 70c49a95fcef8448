"""Post-run review and shoe × sock comparison: per-session maps, series, fatigue trend and
data quality (cached per session), comparison statistics with bootstrap CIs, and the
self-contained HTML report. See ``docs/review.md``."""

from base.lazy import lazy_exports

# loaded on first use: importing review.commands for the CLI's parser must not load numba
__getattr__ = lazy_exports(
    __name__,
    {
        "ANALYSIS_VERSION": "review.cache",
        "get_review": "review.cache",
        "CompareOptions": "review.compare",
        "compare": "review.compare",
        "SessionReview": "review.session",
    },
)

__all__ = ["ANALYSIS_VERSION", "CompareOptions", "SessionReview", "compare", "get_review"]
