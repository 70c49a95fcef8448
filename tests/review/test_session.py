"""The review's per-step shear reductions agree with the analyzer's step records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.review.simdata import record_sim_session


@pytest.fixture(scope="module")
def small_review(tmp_path_factory: pytest.TempPathFactory):
    from review.session import compute_review
    from store.export import find_session

    root = tmp_path_factory.mktemp("review-session")
    sid = record_sim_session(Path(root), steps=120, seed=7)
    return compute_review(find_session(sid, Path(root)))


def test_site_shear_peak_equals_step_record(small_review) -> None:
    # Both come from the friction-bounded shear (analysis.pivot) through the same kernel,
    # over the same late-stance frames; the record rounds to 0.001 kPa.
    data, arrays = small_review.data, small_review.arrays
    compared = 0
    for foot in ("left", "right"):
        steps = [s for s in data["steps"] if s["foot"] == foot]
        per_step = arrays[f"{foot}/step_peak_shear_kpa"]
        sites = data["maps"][foot]["peak_shear"]["sites"]
        assert per_step.shape == (len(steps), len(sites))
        for st, row in zip(steps, per_step, strict=True):
            rec = st["pivot"]["peak_shear_kpa"]
            if st["pivot"].get("invalid"):
                assert np.isnan(row).all()  # no late stance to show
                continue
            for k, site in enumerate(sites):
                assert row[k] == pytest.approx(rec[site], abs=1e-3), (foot, st["heel_strike_s"])
                compared += 1
        # the map is the mean over steps of those peaks
        want = [
            np.mean(
                [s["pivot"]["peak_shear_kpa"][site] for s in steps if not s["pivot"].get("invalid")]
            )
            for site in sites
        ]
        np.testing.assert_allclose(arrays[f"{foot}/sites/peak_shear"], want, atol=1e-3)
    assert compared > 100 * 5
