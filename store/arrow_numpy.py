"""Arrow ↔ NumPy for the recording's columns without pyarrow's pandas detour.

pyarrow's ``pa.array(...)``, ``Array.to_numpy()`` and ``to_pylist()`` ask pandas whether
their argument is a pandas object, and so import pandas whenever it is installed: about
76 MB of a live process's memory (measured, issue 18) for a library the recorder never
uses. These helpers build and read the primitive, string and fixed-size-list columns of
the streams straight from their buffers: no copy where the layout allows, no pandas.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa

#: Arrow types of the NumPy dtypes the streams hold, and back.
_TO_ARROW = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint8): pa.uint8(),
    np.dtype(np.uint16): pa.uint16(),
    np.dtype(np.uint32): pa.uint32(),
    np.dtype(np.uint64): pa.uint64(),
    np.dtype(np.float32): pa.float32(),
    np.dtype(np.float64): pa.float64(),
}
_TO_NUMPY = {arrow: dtype for dtype, arrow in _TO_ARROW.items()}


def numpy_column(values: Any, dtype: Any, valid: np.ndarray | None = None) -> pa.Array:
    """A primitive Arrow array over the memory of ``values`` as a 1-D array of ``dtype``
    (no copy when it is already contiguous in ``dtype``); ``valid`` (one bool per value)
    marks the non-null ones."""
    flat = np.ascontiguousarray(values, dtype=dtype).reshape(-1)
    return pa.Array.from_buffers(
        _TO_ARROW[flat.dtype], len(flat), [_validity(valid), pa.py_buffer(flat)]
    )


def string_column(values: list[str | None]) -> pa.Array:
    """An Arrow string array of ``values`` (``None`` = null)."""
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.asarray([v is not None for v in values], dtype=bool)
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )


def fixed_list_column(values: np.ndarray, width: int, dtype: Any) -> pa.FixedSizeListArray:
    """Rows of ``width`` values (``values`` of shape (n, width) or flat) as a fixed-size list."""
    return pa.FixedSizeListArray.from_arrays(numpy_column(values, dtype), width)


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A primitive or fixed-size-list column as a 1-D NumPy array (list values flattened,
    honouring slices). Zero-copy and read-only without nulls; nulls of a float column
    become NaN (a copy); nulls in an integer column raise ``ValueError``."""
    array = _one_chunk(column)
    if pa.types.is_fixed_size_list(array.type):
        array = array.flatten()
    dtype = _TO_NUMPY.get(array.type)
    if dtype is None:
        raise TypeError(f"to_numpy: Arrow type {array.type} is not a primitive number")
    data = array.buffers()[1]
    n = len(array)
    if data is None or n == 0:
        return np.zeros(0, dtype=dtype)
    out = np.frombuffer(data, dtype=dtype, count=array.offset + n)[array.offset :]
    if array.null_count:
        if dtype.kind != "f":
            raise ValueError(f"to_numpy: {array.null_count} nulls in an integer column")
        out = out.copy()
        out[~_valid(array)] = np.nan
    return out


def to_strings(column: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """A string column as a list (``None`` for null)."""
    array = _one_chunk(column)
    if not pa.types.is_string(array.type):
        raise TypeError(f"to_strings: Arrow type {array.type} is not a string")
    n = len(array)
    if n == 0:
        return []
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=array.offset + n + 1)
    offsets = offsets[array.offset :]
    data = b"" if data_buf is None else data_buf.to_pybytes()
    valid = _valid(array) if array.null_count else np.ones(n, dtype=bool)
    return [
        data[offsets[i] : offsets[i + 1]].decode("utf-8") if valid[i] else None for i in range(n)
    ]


def _one_chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.Array.from_buffers(column.type, 0, [None, None])
        return column.combine_chunks()
    return column


def _valid(array: pa.Array) -> np.ndarray:
    """One bool per value of ``array`` (which has a validity bitmap)."""
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=array.offset + len(array))[
        array.offset :
    ].astype(bool)


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    """Arrow's validity bitmap (LSB first) for ``valid``; ``None`` when all are valid."""
    if valid is None or bool(np.all(valid)):
        return None
    return pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little"))


def use_system_allocator() -> None:
    """Arrow allocates from the C library's ``malloc`` from here on, in this process.

    Arrow's bundled mimalloc keeps the pages of freed buffers: finalising a recording
    (8 MB row groups, compressed) left the live process ~25-50 MB higher than the C
    allocator did, at the same recording level or lower (issue 18, measured with
    ``benchmarks/bench_soak.py``). ``ARROW_DEFAULT_MEMORY_POOL``, when set, wins.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    pa.set_memory_pool(pa.system_memory_pool())
