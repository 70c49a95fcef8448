"""Mutation fuzzing of every importer on the real recordings (issue 16): truncated,
garbled and oversized variants of each file in ``../shared/data`` end in a one-line
:class:`~base.errors.PlantarError` or a clean import, never another exception.

Each variant goes through format detection, the format's own reader and the streamed
reader (what ``plantar import`` runs); the CLI's one-line printing of a PlantarError is
covered by the other import tests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.errors import PlantarError
from store.importers import FORMATS, detect_format, read_recording
from store.importers.streaming import is_streamed, iter_recording
from tests.store.conftest import shared_file

REAL_FILES = {
    "moticon": "moticon/walk_with_events.txt",
    "pedar": "pedar/pressure_example.asc",
    "gaitpdb": "physionet-gaitpdb/SiPt02_01.txt",
    "fukuchi": "fukuchi-running/RBDS003runT25forces.txt",
    "c3d": "fukuchi-running/RBDS002runT35.c3d",
}
#: Bytes a garbling may write (digits, separators, signs, exponents, non-UTF-8, NUL).
GARBLE = b"0123456789.-+eE\t \n\r,;#[]\x00\xff\xc3\xa9nanif"


def _mutations() -> st.SearchStrategy[tuple[str, float, list[tuple[float, bytes]]]]:
    kind = st.sampled_from(["truncate", "garble", "oversize", "garble+truncate"])
    edits = st.lists(
        st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=12).map(_garble_bytes)),
        min_size=1,
        max_size=8,
    )
    return st.tuples(kind, st.floats(0.0, 1.0), edits)


def _garble_bytes(raw: bytes) -> bytes:
    return bytes(GARBLE[b % len(GARBLE)] for b in raw)


def _mutate(data: bytes, kind: str, where: float, edits: list[tuple[float, bytes]]) -> bytes:
    out = bytearray(data)
    if "garble" in kind:
        for at, text in edits:
            i = int(at * max(len(out) - 1, 0))
            out[i : i + len(text)] = text
    if "truncate" in kind:
        out = out[: int(where * len(out))]
    if kind == "oversize":  # the body repeated: longer than any real file, time goes back
        out = out + out[len(out) // 2 :] * 3
    return bytes(out)


def _import_like_plantar(path: Path, fmt: str) -> None:
    for use in ("auto", fmt):
        try:
            chosen = detect_format(path) if use == "auto" else use
            if is_streamed(chosen):
                for run in iter_recording(path, chosen, chunk_bytes=32 * 1024):
                    assert all(np.isfinite(f.t_s).all() for f in run.feet.values())
            else:
                rec = read_recording(path, chosen)
                assert all(np.isfinite(f.t_s).all() for f in rec.feet.values())
        except PlantarError as err:
            message = str(err)
            assert message and "\n" not in message, message


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_real_files_import_cleanly_or_fail_in_one_line(fmt: str) -> None:
    original = shared_file(REAL_FILES[fmt]).read_bytes()
    suffix = Path(REAL_FILES[fmt]).suffix

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_mutations())
    def check(mutation: tuple[str, float, list[tuple[float, bytes]]]) -> None:
        kind, where, edits = mutation
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"variant{suffix}"
            path.write_bytes(_mutate(original, kind, where, edits))
            _import_like_plantar(path, fmt)

    check()
