"""Comparison statistics on a simulated experiment with a known effect."""

from __future__ import annotations

from analysis.records import pivot_spec
from tests.review.conftest import compare_cli_json, metric, pair

PIVOT = f"pivot: {pivot_spec('shear').quantity}"


def test_known_effect_sign_and_ci(comparison: dict) -> None:
    m = metric(pair(comparison, "A", "B"), PIVOT)
    assert m["status"] == "ok"
    assert m["effect"] > 0  # A (x) minus B (0.7x)
    lo, hi = m["effect_ci"]
    assert 0 < lo < m["effect"] < hi
    # B vs A about -30 % (pivot 0.7x); measured, with noise, not exact
    assert -38 < m["pct_change"] < -24
    assert m["pct_change_ci"][1] < 0
    assert m["ci_excludes_0"]


def test_aa_ci_contains_zero(comparison: dict) -> None:
    m = metric(pair(comparison, "A", "A2"), PIVOT)
    assert m["status"] == "ok"
    lo, hi = m["effect_ci"]
    assert lo < 0 < hi
    assert not m["ci_excludes_0"]


def test_design_fields(comparison: dict) -> None:
    c = pair(comparison, "A", "B")
    assert c["speed_matched"] and c["speed_kmh"] == 12.0
    assert c["bootstrap"]["level"] == "step blocks within session"
    # 30 acclimatisation steps per foot left out of ~600
    assert 500 < c["steps"]["a"] < 600
    risk = [m for m in c["metrics"] if m["group"] == "risk"]
    assert risk and all(m["label"] == "relative index, no clinical threshold" for m in risk)
    assert all(m["per_km_change"] is not None for m in risk if m["status"] == "ok")


def test_too_few_steps(experiment: dict) -> None:
    from review.compare import CompareOptions, compare, public

    res = public(compare(CompareOptions(by=("sock",), discard_steps=295)))
    m = metric(pair(res, "A", "B"), PIVOT)
    assert m["status"] == "too few steps"
    assert "effect" not in m


def test_cli_json_matches_api(experiment: dict, comparison: dict) -> None:
    cli = compare_cli_json(experiment["home"])
    assert cli["comparisons"] == comparison["comparisons"]


def test_cache_reused_and_keyed_by_version(experiment: dict, monkeypatch) -> None:
    import review.cache as cache

    sid = experiment["ids"]["A"]
    first = cache.get_review(sid)
    assert (cache.entry_dir(sid) / "review.json.gz").exists()
    assert cache.ANALYSIS_VERSION in str(cache.entry_dir(sid))

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(cache, "compute_review", boom)
    again = cache.get_review(sid)
    assert again.data["summary"] == first.data["summary"]
