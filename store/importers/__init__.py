"""Importers: recordings from other insole systems into Plantar sessions.

Each format module has ``read_<format>(path) -> ImportedRecording`` (parse and convert
units to kPa, s, µs; no I/O besides reading) and ``sniff(head) -> bool``. :func:`import_file`
detects the format, writes the recording through the same stream writer and finaliser
as a live recording (into a hidden staging directory, locked from the first byte, that is
renamed into place only once the session is complete, so a failed import leaves nothing
behind and no other process sees it half-written) and registers it in the catalog with
source ``import:<format>``.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from base import paths
from base.frames import FootFrames
from store.errors import ImportFormatError, RecordingError, StoreError, describe_os_error
from store.finalise import FinaliseReport, finalise_session
from store.session import (
    STAGING_PREFIX,
    STATUS_RECORDING,
    FootLayout,
    SessionMeta,
    fsync_dir,
    hold_lock,
    new_session_id,
    release_lock,
    write_json_atomic,
)
from store.streams import SessionWriter

log = logging.getLogger("plantar.store.importers")

FORMATS: tuple[str, ...] = ("moticon", "pedar", "gaitpdb", "fukuchi", "c3d")
#: Rows per record batch written by an import.
IMPORT_BATCH_ROWS = 4096
#: Bytes read to tell a file's format.
SNIFF_BYTES = 8192
#: Largest file read whole into memory (force plates; analysing a file directly).
MAX_WHOLE_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class ChannelGroup:
    """Extra per-foot channels of an imported file (e.g. a Moticon IMU)."""

    group: str
    foot: str
    seq: np.ndarray
    t_s: np.ndarray
    values: dict[str, np.ndarray]
    units: dict[str, str]


@dataclass
class ImportedRecording:
    """A parsed file, in Plantar units, ready to be stored."""

    fmt: str
    path: Path
    feet: dict[str, FootFrames]
    layouts: dict[str, FootLayout]
    events: list[dict[str, Any]] = field(default_factory=list)
    channels: list[ChannelGroup] = field(default_factory=list)
    started_at: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportResult:
    """What :func:`import_file` stored."""

    session_id: str
    fmt: str
    report: FinaliseReport
    directory: Path

    def to_json(self) -> dict[str, Any]:
        """The document ``plantar import --json`` prints."""
        rep = self.report
        return {
            "session": self.session_id,
            "format": self.fmt,
            "frames": rep.frames,
            "frames_per_foot": {foot: s.frames for foot, s in rep.feet.items()},
            "duration_s": round(rep.duration_s, 6),
            "events": rep.events,
            "files": rep.files,
            "path": str(self.directory),
        }


def read_text(path: Path) -> str:
    """Read a whole text file (see :func:`decode_text`; at most
    :data:`MAX_WHOLE_FILE_BYTES`) with a one-line error."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise StoreError(f"{path}: not a regular file; give a recording file")
        if size > MAX_WHOLE_FILE_BYTES:
            raise ImportFormatError(
                f"{path}: {size / 1e6:,.0f} MB is too large to read whole (at most "
                f"{MAX_WHOLE_FILE_BYTES / 1e6:,.0f} MB); `plantar import` streams Moticon, "
                "pedar and gaitpdb files of any size, split a force-plate file"
            )
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise StoreError(f"{path}: no such file") from err
    except OSError as err:
        raise StoreError(f"{path}: cannot read ({err.strerror})") from err
    return decode_text(path, raw)


def decode_text(path: Path, raw: bytes, first_line: int = 1) -> str:
    """Decode a text export: UTF-8; Latin-1 only for a file with no UTF-8 character at all
    (an old Windows export). A UTF-8 file with a broken byte is a one-line error, never
    reinterpreted (which would turn ``N/cm²`` into ``N/cmÂ²``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        lenient = raw.decode("utf-8", errors="replace")
        if any(ord(c) > 127 and c != "\ufffd" for c in lenient):
            line = raw.count(b"\n", 0, err.start) + first_line
            raise ImportFormatError(
                f"{path} line {line}: byte 0x{raw[err.start]:02x} is not UTF-8 in a UTF-8 "
                "file (the file is damaged); re-export it or fix that byte"
            ) from None
        return raw.decode("latin-1")


def header_through(prefix: str) -> Callable[[list[str]], int]:
    """A ``header_lines(lines)`` for :mod:`store.importers.streaming`: the lines up to and
    including the first that starts with ``prefix`` (0 when none does)."""

    def header_lines(lines: list[str]) -> int:
        return next((i + 1 for i, line in enumerate(lines) if line.startswith(prefix)), 0)

    return header_lines


def parse_float(text: str) -> float:
    """Parse a number; an empty field is NaN (a missing sample)."""
    text = text.strip()
    return float(text) if text else np.nan


def parse_table(path: Path, lines: list[str], first_lineno: int, n_columns: int) -> np.ndarray:
    """Whitespace-separated numeric rows (blank lines skipped) as a (rows, n_columns) array.

    ``first_lineno`` is the 1-based line number of ``lines[0]`` in the file, for the
    one-line errors: a row of another width, a field that is not a number, no rows.
    """
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines, start=first_lineno):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != n_columns:
            raise ImportFormatError(
                f"{path} line {lineno}: {len(fields)} values, expected {n_columns} "
                "(file cut short or columns changed)"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError as err:
            raise ImportFormatError(f"{path} line {lineno}: {err}") from err
    if not rows:
        raise ImportFormatError(f"{path}: no samples after the header row")
    return np.array(rows, dtype=np.float64)


def make_foot_frames(
    foot: str, t_s: np.ndarray, pressure_kpa: np.ndarray, seq: np.ndarray | None = None
) -> FootFrames:
    """FootFrames for an imported pressure-only foot (device 0, device clock = file time)."""
    n = len(t_s)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/absurd times: checks.py refuses
        t_device_us = np.round(np.asarray(t_s) * 1e6).astype(np.int64)
    return FootFrames(
        foot=foot,
        device_id=0,
        seq=np.arange(n, dtype=np.int64) if seq is None else seq,
        t_device_us=t_device_us,
        t_s=np.asarray(t_s, dtype=np.float64),
        pressure_kpa=np.ascontiguousarray(pressure_kpa, dtype=np.float32),
        shear_kpa=np.zeros((n, 0, 3), dtype=np.float32),
    )


def _readers() -> dict[str, tuple[Callable[[str], bool], Callable[[Path], ImportedRecording]]]:
    from store.importers import c3d_plate, fukuchi, gaitpdb, moticon, pedar

    return {
        "moticon": (moticon.sniff, moticon.read_moticon),
        "pedar": (pedar.sniff, pedar.read_pedar),
        "gaitpdb": (gaitpdb.sniff, gaitpdb.read_gaitpdb),
        "fukuchi": (fukuchi.sniff, fukuchi.read_fukuchi),
        "c3d": (c3d_plate.sniff, c3d_plate.read_c3d),
    }


def read_head(path: Path, n_bytes: int = SNIFF_BYTES) -> str:
    """The first ``n_bytes`` of a regular file, as Latin-1 (each byte one character, so the
    ASCII markers the sniffers look for survive any encoding); one-line errors."""
    try:
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            raise StoreError(f"{path}: {what}; give a recording file to import")
        with open(path, "rb") as f:
            return f.read(n_bytes).decode("latin-1")
    except OSError as err:
        raise StoreError(f"{path}: cannot read ({err.strerror})") from err


def detect_format(path: Path) -> str:
    """Tell the format of ``path`` from its first :data:`SNIFF_BYTES` (at most 40 lines)."""
    head = "\n".join(read_head(path).splitlines()[:40])
    for name, (sniff, _) in _readers().items():
        if sniff(head):
            return name
    raise ImportFormatError(
        f"{path}: cannot tell the format (not a Moticon OpenGo text export, pedar .asc, "
        f"PhysioNet gaitpdb .txt, Fukuchi *forces.txt or C3D); pass --format "
        f"{'|'.join(FORMATS)}"
    )


def read_recording(path: Path, fmt: str = "auto") -> ImportedRecording:
    """Parse ``path`` in format ``fmt`` (``auto`` detects it) and check its bounds
    (:mod:`store.importers.checks`)."""
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    from store.importers.checks import check_recording

    readers = _readers()
    if fmt not in readers:
        raise ImportFormatError(
            f"unknown import format {fmt!r}; use one of: auto, {', '.join(FORMATS)}"
        )
    recording = readers[fmt][1](path)
    check_recording(recording)
    return recording


def import_file(
    path: Path | str,
    *,
    fmt: str = "auto",
    meta: SessionMeta | None = None,
    root: Path | None = None,
    catalog: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import one file as a new finalised session and register it in the catalog.

    Parameters
    ----------
    path : file to import.
    fmt : "auto" or one of :data:`FORMATS` (Moticon, pedar and gaitpdb files are read in
        blocks, in bounded memory: :mod:`store.importers.streaming`).
    meta : athlete, shoe, sock, notes, tags... given by the user (source and layouts are
        set from the file).
    root : sessions directory (default :func:`base.paths.sessions_dir`).
    catalog : see :func:`store.catalog.open_catalog`.
    progress : called with (bytes read, file size) as a streamed file is read.
    """
    from store.catalog import open_catalog

    runs = _recording_runs(Path(path), fmt, progress)
    recording = next(runs)  # the file's errors come before any directory is made
    meta = meta or SessionMeta()
    meta.source = f"import:{recording.fmt}"
    meta.feet = dict(recording.layouts)
    meta.started_at = meta.started_at or recording.started_at
    meta.notes = meta.notes or recording.notes
    meta.extra = {**recording.extra, "imported_from": str(Path(path).resolve())}
    session_id = new_session_id()
    root = root or paths.sessions_dir()
    staging = root / f"{STAGING_PREFIX}{session_id}"
    final = root / session_id
    try:
        staging.mkdir(parents=True)
    except OSError as err:
        raise _cannot_import(err, root) from err
    try:
        lock_fd = hold_lock(staging)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise _cannot_import(err, root) from err
    try:
        _write_recording(staging, session_id, meta, recording, runs)
        report = finalise_session(staging, catalog=False, lock_held=True)
        staging.rename(final)
        fsync_dir(root)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise RecordingError(
            f"import stopped: {describe_os_error(err)} at {root}; nothing was imported, "
            "free space and run the import again"
        ) from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        release_lock(lock_fd)
    db = open_catalog(catalog)
    if db is not None:
        db.upsert_from_disk(final)
    return ImportResult(session_id=session_id, fmt=recording.fmt, report=report, directory=final)


def _cannot_import(err: OSError, root: Path) -> RecordingError:
    return RecordingError(
        f"cannot import: {describe_os_error(err)} at {err.filename or root}; choose a "
        "writable data directory (set PLANTAR_HOME) or free space"
    )


def _recording_runs(
    path: Path, fmt: str, progress: Callable[[int, int], None] | None
) -> Iterator[ImportedRecording]:
    """The file as runs of rows (streamed formats) or as one whole recording."""
    from store.importers.streaming import is_streamed, iter_recording

    if fmt == "auto":
        fmt = detect_format(path)
    if is_streamed(fmt):
        return iter_recording(path, fmt, progress)
    return iter([read_recording(path, fmt)])


def _write_recording(
    directory: Path,
    session_id: str,
    meta: SessionMeta,
    first: ImportedRecording,
    rest: Iterator[ImportedRecording],
) -> None:
    def session_json() -> None:
        write_json_atomic(
            directory / "session.json",
            {
                "format_version": 1,
                "id": session_id,
                "status": STATUS_RECORDING,
                "meta": meta.to_dict(),
            },
        )

    session_json()
    writer = SessionWriter(directory, {"id": session_id, **meta.to_dict()}, meta.feet)
    missing = 0
    try:
        for recording in itertools.chain([first], rest):
            _write_run(writer, recording)
            missing += int(recording.extra.get("missing_pressure_samples", 0))
        writer.sync()
    except BaseException:
        writer.close(clean=False)
        raise
    writer.close()
    if missing:
        meta.extra["missing_pressure_samples"] = missing
        session_json()


def _write_run(writer: SessionWriter, recording: ImportedRecording) -> None:
    for frames in recording.feet.values():
        for start in range(0, len(frames), IMPORT_BATCH_ROWS):
            writer.write_frames(frames.rows(start, start + IMPORT_BATCH_ROWS), np.nan)
    for ch in recording.channels:
        for start in range(0, len(ch.seq), IMPORT_BATCH_ROWS):
            sl = slice(start, start + IMPORT_BATCH_ROWS)
            values = {k: v[sl] for k, v in ch.values.items()}
            writer.write_channels(ch.group, ch.foot, ch.seq[sl], ch.t_s[sl], values, ch.units)
    writer.write_events(recording.events)
