"""Arrow conversion of frame batches: FootFrames <-> record batches and tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from store import schema as sch
from store.synthetic import synthetic_frames


def _batch(n: int = 30) -> tuple[pa.RecordBatch, np.ndarray]:
    frames = synthetic_frames("left", 100, n, n_sensels=16, n_shear=2)
    schema = sch.frames_schema(foot="left", n_sensels=16, n_shear=2)
    host = 1.7e9 + np.arange(n) * 0.005
    return sch.frames_to_batch(frames, host, schema), frames


def _assert_rows(got, frames, start: int, stop: int) -> None:
    want = frames.rows(start, stop)
    assert len(got) == stop - start
    np.testing.assert_array_equal(got.seq, want.seq)
    np.testing.assert_array_equal(got.t_device_us, want.t_device_us)
    np.testing.assert_array_equal(got.t_s, want.t_s)
    assert got.pressure_kpa.tobytes() == np.ascontiguousarray(want.pressure_kpa).tobytes()
    assert got.shear_kpa.tobytes() == np.ascontiguousarray(want.shear_kpa).tobytes()


def test_batch_to_frames_round_trip() -> None:
    batch, frames = _batch()
    _assert_rows(sch.batch_to_frames(batch, "left"), frames, 0, len(frames))


@pytest.mark.parametrize("kind", ["batch", "table", "table of two chunks"])
def test_batch_to_frames_of_a_slice_gives_the_slice_rows(kind: str) -> None:
    """A slice keeps its parent's list values with an offset; the rows must be the slice's."""
    batch, frames = _batch()
    if kind == "batch":
        data = batch.slice(7, 11)
        start, stop = 7, 18
    elif kind == "table":
        data = pa.Table.from_batches([batch]).slice(7, 11)
        start, stop = 7, 18
    else:
        data = pa.Table.from_batches([batch.slice(0, 20), batch.slice(20)]).slice(15, 10)
        start, stop = 15, 25
    _assert_rows(sch.batch_to_frames(data, "left"), frames, start, stop)


def test_batch_to_frames_of_a_pressure_only_slice() -> None:
    frames = synthetic_frames("right", 0, 12, n_sensels=8, n_shear=0)
    schema = sch.frames_schema(foot="right", n_sensels=8, n_shear=0)
    batch = sch.frames_to_batch(frames, 1.7e9, schema)
    got = sch.batch_to_frames(batch.slice(4, 5), "right")
    assert got.shear_kpa.shape == (5, 0, 3)
    assert got.pressure_kpa.tobytes() == frames.pressure_kpa[4:9].tobytes()


@pytest.mark.parametrize(("start", "stop"), [(0, 30), (3, 9), (9, 21), (29, 30)])
def test_read_frame_rows_reads_only_the_row_groups_it_needs(
    tmp_path, monkeypatch: pytest.MonkeyPatch, start: int, stop: int
) -> None:
    import pyarrow.parquet as pq

    batch, frames = _batch()
    path = tmp_path / "left.parquet"
    pq.write_table(pa.Table.from_batches([batch]), path, row_group_size=6)  # 5 groups
    read_groups: list[int] = []
    real = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, *args, **kwargs):  # type: ignore[no-untyped-def]
        read_groups.extend(row_groups)
        return real(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    _assert_rows(sch.read_frame_rows(path, start, stop, "left"), frames, start, stop)
    assert read_groups == list(range(start // 6, (stop - 1) // 6 + 1))
    with pytest.raises(ValueError, match="outside"):
        sch.read_frame_rows(path, 5, 31, "left")
