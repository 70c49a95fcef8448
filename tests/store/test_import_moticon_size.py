"""Moticon import: the ``Size:`` header scales the ``moticon-16`` layout, so the total
force Plantar computes from the pressures matches Moticon's own total-force column."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from analysis.event_validation import plantar_force_n
from store.importers import import_file
from store.importers.moticon import eu_size_for_moticon_size
from store.session_reader import read_session
from tests.store.conftest import shared_file

FORCE_TOLERANCE = 0.02  # issue 15: within 2 % of the file's own column


def _total_force_n(directory: Path, foot: str) -> tuple[np.ndarray, np.ndarray]:
    data = read_session(directory)
    force = plantar_force_n(data.feet[foot].pressure_kpa, data.layouts[foot])
    own = pq.read_table(directory / f"force-{foot}.parquet").column("total_force_n").to_numpy()
    return force, np.asarray(own, dtype=np.float64)


@pytest.mark.parametrize(
    ("name", "size"), [("moticon/230927_102114.txt", 7), ("moticon/walk_with_events.txt", 3)]
)
def test_total_force_matches_moticon_column(plantar_home: Path, name: str, size: int) -> None:
    result = import_file(shared_file(name))
    for foot in ("left", "right"):
        ours, theirs = _total_force_n(result.directory, foot)
        loaded = np.isfinite(ours) & np.isfinite(theirs) & (theirs > 50.0)
        assert loaded.sum() > 100, "too few loaded samples to compare"
        ratio = ours[loaded].sum() / theirs[loaded].sum()
        assert abs(ratio - 1.0) <= FORCE_TOLERANCE, f"{name} {foot}: force ratio {ratio:.4f}"
        per_sample = np.median(np.abs(ours[loaded] / theirs[loaded] - 1.0))
        assert per_sample <= FORCE_TOLERANCE, f"{name} {foot}: median error {per_sample:.4f}"
    meta = json.loads((result.directory / "session.json").read_text())["meta"]
    assert meta["feet"]["left"]["eu_size"] == pytest.approx(eu_size_for_moticon_size(size))


def test_sizes_map_to_the_eu_sizes_moticon_sells_them_for() -> None:
    # Moticon sells insole size 3 for EU 38-39 and size 7 for EU 46-47.
    assert 38.0 <= eu_size_for_moticon_size(3) <= 40.0
    assert 45.5 <= eu_size_for_moticon_size(7) <= 47.5
    sizes = [eu_size_for_moticon_size(s) for s in range(1, 11)]
    assert all(b > a for a, b in itertools.pairwise(sizes))
