"""store.arrow_numpy against pyarrow's own conversions (the reference), and the point of it:
recording and finalising a session does not import pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.arrow_numpy import (
    fixed_list_column,
    numpy_column,
    string_column,
    to_numpy,
    to_strings,
)
from tests.store.conftest import REPO

DTYPES = [np.int32, np.int64, np.float32, np.float64, np.uint8, np.int16]


@pytest.mark.parametrize("dtype", DTYPES)
@given(values=st.lists(st.integers(0, 100), max_size=40), cut=st.integers(0, 40))
@settings(max_examples=30, deadline=None)
def test_numpy_column_and_back_match_pyarrow(dtype: type, values: list[int], cut: int) -> None:
    array = np.asarray(values, dtype=dtype)
    ours = numpy_column(array, dtype)
    reference = pa.array(array)
    assert ours.equals(reference)
    ours.validate(full=True)
    sliced = reference.slice(min(cut, len(values)) // 2, cut)
    assert np.array_equal(to_numpy(sliced), sliced.to_numpy(zero_copy_only=False))
    assert to_numpy(sliced).dtype == np.dtype(dtype)


@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=40),
    start=st.integers(0, 20),
)
@settings(max_examples=60, deadline=None)
def test_nulls_round_trip_as_nan(values: list[float | None], start: int) -> None:
    valid = np.asarray([v is not None for v in values], dtype=bool)
    filled = np.asarray([0.0 if v is None else v for v in values])
    ours = numpy_column(filled, np.float64, valid=valid)
    reference = pa.array(values, type=pa.float64())
    assert ours.equals(reference)
    ours.validate(full=True)
    sliced = reference.slice(min(start, len(values)))
    expected = sliced.to_numpy(zero_copy_only=False)  # pyarrow: nulls as NaN
    assert np.array_equal(to_numpy(sliced), expected, equal_nan=True)


def test_integer_nulls_are_refused() -> None:
    with pytest.raises(ValueError, match="nulls in an integer column"):
        to_numpy(pa.array([1, None, 3], type=pa.int64()))


@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=30),
    start=st.integers(0, 15),
)
@settings(max_examples=60, deadline=None)
def test_strings_match_pyarrow(values: list[str | None], start: int) -> None:
    ours = string_column(values)
    reference = pa.array(values, type=pa.string())
    assert ours.equals(reference)
    ours.validate(full=True)
    sliced = reference.slice(min(start, len(values)))
    assert to_strings(sliced) == sliced.to_pylist()
    chunked = pa.chunked_array([reference, reference], type=pa.string())
    assert to_strings(chunked) == values + values


def test_fixed_size_lists_flatten_their_slice() -> None:
    rows = np.arange(24, dtype=np.float32).reshape(6, 4)
    column = fixed_list_column(rows, 4, np.float32)
    assert column.equals(pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel()), 4))
    part = column.slice(2, 3)
    assert np.array_equal(to_numpy(part).reshape(3, 4), rows[2:5])
    empty = pa.chunked_array([], type=pa.float64())
    assert to_numpy(empty).size == 0


def test_recording_and_finalising_do_not_import_pandas(tmp_path: Path) -> None:
    pytest.importorskip("pandas")  # the test venv has it (dask); the point is not loading it
    script = """
import sys
from store import schema as sch
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta
from store.synthetic import synthetic_frames
feet = {f: FootLayout("plantar-ref", 42.0) for f in ("left", "right")}
meta = SessionMeta(athlete="A", feet=feet)
rec = Recorder(meta, flush_interval_s=0.05).start()
for k in range(20):
    for foot in ("left", "right"):
        assert rec.write_frames(synthetic_frames(foot, k * 10, 10))
    rec.write_event(sch.EVENT_STEP, t_s=k * 0.05, foot="left", value=1.0, seq=k * 10)
    rec.write_event(sch.EVENT_GAP, t_s=k * 0.05, foot="right", value=None, seq=None)
report = rec.stop()
assert rec.error is None and report.complete, report
print("pandas" in sys.modules)
"""
    env = {"PLANTAR_HOME": str(tmp_path), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "recording or finalising imported pandas"


def test_a_live_runtime_allocates_arrow_from_the_c_library(tmp_path: Path) -> None:
    script = """
import sys, tempfile, pyarrow as pa
from pathlib import Path
from dashboard.server import live_runtime
from live.runtime import RuntimeOptions
before = pa.default_memory_pool().backend_name
runtime = live_runtime(RuntimeOptions(port=0, sessions_root=Path(sys.argv[1])))
print(before, pa.default_memory_pool().backend_name)
runtime.close()
"""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PLANTAR_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "sessions")],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.split()
    assert after == "system" and before != "system"
