"""Append-only Arrow IPC stream files and a tolerant reader for them.

Each record batch in an Arrow IPC stream is a self-delimiting message, so a file cut
anywhere (a crash, a full disk) reads back up to its last whole batch:
:func:`read_stream` yields those batches and reports how many bytes of a partial batch
were left at the end. :class:`SessionWriter` owns every stream of one session and is
used synchronously, both by the :class:`~store.recorder.Recorder`'s writer thread and by
the importers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from base.frames import FootFrames
from store import schema as sch
from store.session import STREAM_SUFFIX, FootLayout


class StreamFile:
    """One Arrow IPC stream being written. The schema goes out with the first batch."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._file: BinaryIO = open(path, "xb")  # noqa: SIM115 - closed in close()
        self._writer = ipc.new_stream(self._file, schema)
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one record batch (buffered until :meth:`sync`)."""
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def sync(self) -> None:
        """Flush Python's buffer and fsync the file."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self, *, clean: bool = True) -> None:
        """Write the end-of-stream marker (when ``clean``), fsync and close.

        With ``clean=False`` (after a write error) nothing more is written; errors while
        closing are ignored so that what is already on disk stays as it is.
        """
        if clean:
            self._writer.close()
            self.sync()
            self._file.close()
            return
        for closer in (self._file.flush, self._file.close):
            with contextlib.suppress(OSError):
                closer()


@dataclass
class StreamReadResult:
    """What :func:`read_stream` found after the last whole batch."""

    schema: pa.Schema | None = None
    rows: int = 0
    batches: int = 0
    bytes_read: int = 0
    trailing_bytes: int = 0  # bytes of a partial message at the end (0 for a whole file)
    complete: bool = True  # the end-of-stream marker was present


def read_stream(path: Path, result: StreamReadResult | None = None) -> Iterator[pa.RecordBatch]:
    """Yield the whole record batches of the stream file at ``path``, one at a time.

    A file cut short ends the iteration at its last whole batch instead of raising;
    ``result`` (filled in as the iteration goes) then has ``complete=False`` and the
    number of ``trailing_bytes`` that could not be read.
    """
    result = result if result is not None else StreamReadResult()
    size = path.stat().st_size
    with pa.OSFile(str(path), "rb") as source:
        try:
            reader = ipc.open_stream(source)
        except (pa.ArrowInvalid, OSError):
            result.complete = False
            result.trailing_bytes = size
            return
        result.schema = reader.schema
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                result.bytes_read = size
                result.trailing_bytes = 0
                return
            except (pa.ArrowInvalid, OSError):
                result.complete = False
                result.trailing_bytes = size - result.bytes_read
                return
            result.bytes_read = source.tell()
            result.rows += batch.num_rows
            result.batches += 1
            yield batch


def stream_name_frames(foot: str) -> str:
    """Stream (file stem) of one foot's frames."""
    return foot


def stream_name_channels(group: str, foot: str) -> str:
    """Stream (file stem) of a per-foot channel group."""
    return f"{group}-{foot}"


EVENTS_STREAM = "events"


@dataclass
class WrittenTotals:
    """Running totals of a :class:`SessionWriter`."""

    frames: dict[str, int] = field(default_factory=dict)
    first_t_s: dict[str, float] = field(default_factory=dict)
    last_t_s: dict[str, float] = field(default_factory=dict)
    events: int = 0

    def seconds(self) -> float:
        """Longest span of session time written for any foot, in s."""
        spans = [self.last_t_s[f] - self.first_t_s[f] for f in self.last_t_s]
        return max(spans, default=0.0)


class SessionWriter:
    """Writes the streams of one session directory. Not thread-safe: one writer thread.

    Parameters
    ----------
    directory : Path
        The session directory (must exist).
    session : mapping
        Session metadata copied into every stream's schema metadata.
    feet : mapping of str to FootLayout
        Layout id and size per foot, stored in the frame streams' schema metadata.
    """

    def __init__(
        self,
        directory: Path,
        session: Mapping[str, Any],
        feet: Mapping[str, FootLayout] | None = None,
    ) -> None:
        self.directory = directory
        self.session = dict(session)
        self.feet = dict(feet or {})
        self.streams: dict[str, StreamFile] = {}
        self.totals = WrittenTotals()
        self._dirty: set[str] = set()

    def _stream(self, name: str, make_schema: Any) -> StreamFile:
        stream = self.streams.get(name)
        if stream is None:
            stream = StreamFile(self.directory / f"{name}{STREAM_SUFFIX}", make_schema())
            self.streams[name] = stream
        return stream

    def write_frames(self, frames: FootFrames, t_host_s: np.ndarray | float) -> None:
        """Append a batch of one foot's frames."""
        if len(frames) == 0:
            return
        foot = frames.foot
        layout = self.feet.get(foot, FootLayout())
        stream = self._stream(
            stream_name_frames(foot),
            lambda: sch.frames_schema(
                foot=foot,
                n_sensels=frames.n_sensels,
                n_shear=frames.n_shear,
                layout_id=layout.layout_id,
                eu_size=layout.eu_size,
                session=self.session,
            ),
        )
        stream.write(sch.frames_to_batch(frames, t_host_s, stream.schema))
        self._dirty.add(stream.path.stem)
        totals = self.totals
        totals.frames[foot] = totals.frames.get(foot, 0) + len(frames)
        totals.first_t_s.setdefault(foot, float(frames.t_s[0]))
        totals.last_t_s[foot] = float(frames.t_s[-1])

    def write_events(self, rows: list[dict[str, Any]]) -> None:
        """Append events (dicts with keys t_s, kind and optionally foot, value, seq, detail)."""
        if not rows:
            return
        stream = self._stream(EVENTS_STREAM, lambda: sch.events_schema(self.session))
        stream.write(sch.events_to_batch(rows, stream.schema))
        self._dirty.add(EVENTS_STREAM)
        self.totals.events += len(rows)

    def write_channels(
        self,
        group: str,
        foot: str,
        seq: np.ndarray,
        t_s: np.ndarray,
        values: Mapping[str, np.ndarray],
        units: Mapping[str, str],
    ) -> None:
        """Append samples of an extra per-foot channel group (e.g. ``imu``)."""
        if len(seq) == 0:
            return
        name = stream_name_channels(group, foot)
        stream = self._stream(
            name,
            lambda: sch.channels_schema(group=group, foot=foot, units=units, session=self.session),
        )
        stream.write(sch.channels_to_batch(seq, t_s, values, stream.schema))
        self._dirty.add(name)

    def sync(self) -> None:
        """fsync every stream written since the last sync."""
        for name in sorted(self._dirty):
            self.streams[name].sync()
        self._dirty.clear()

    def close(self, *, clean: bool = True) -> None:
        """Close every stream (see :meth:`StreamFile.close`)."""
        for stream in self.streams.values():
            stream.close(clean=clean)
        self._dirty.clear()
