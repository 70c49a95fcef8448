"""Streaming import of the row-based text formats (Moticon, pedar, gaitpdb), in bounded memory.

The file is read in blocks of :data:`CHUNK_BYTES` cut at line ends. The format's header
(its first lines, up to the column header) is parsed with every run of rows by the
format's own ``parse_<format>(path, text, line_offset)``, so a streamed import gives the
same frames, channels and events as the whole-file reader; sequence numbers continue
across runs and time must keep increasing across them. Each run is checked
(:mod:`store.importers.checks`) and handed on to be written before the next is read, so
memory is bounded by one run, whatever the file's size.

Force plates (Fukuchi, C3D) are split into feet over the whole recording and are read
whole, up to :data:`store.importers.MAX_WHOLE_FILE_BYTES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from store.errors import ImportFormatError, StoreError
from store.importers import ImportedRecording, decode_text, read_head
from store.importers.checks import check_recording

#: Bytes read at a time (the rows of one block are parsed and written before the next).
CHUNK_BYTES = 1024 * 1024
#: A line longer than this is not a text export (binary junk, /dev/zero).
MAX_LINE_BYTES = 1024 * 1024

HeaderLines = Callable[[list[str]], int]
Parse = Callable[[Path, str, int], ImportedRecording]
Progress = Callable[[int, int], None]


def _formats() -> dict[str, tuple[HeaderLines, Parse]]:
    from store.importers import gaitpdb, moticon, pedar

    return {
        "moticon": (moticon.header_lines, moticon.parse_moticon),
        "pedar": (pedar.header_lines, pedar.parse_pedar),
        "gaitpdb": (gaitpdb.header_lines, gaitpdb.parse_gaitpdb),
    }


def is_streamed(fmt: str) -> bool:
    """True when ``fmt`` is imported in blocks (see the module docstring)."""
    return fmt in _formats()


def iter_text_blocks(
    path: Path, chunk_bytes: int = CHUNK_BYTES, progress: Progress | None = None
) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, text of whole lines)`` blocks of ``path``.

    Raises a one-line :class:`ImportFormatError` for a line longer than
    :data:`MAX_LINE_BYTES` (not a text export) or text that is not UTF-8/Latin-1.
    """
    read_head(path, 0)  # a one-line error for a missing file or not a regular one
    try:
        total = path.stat().st_size
        f = open(path, "rb")  # noqa: SIM115  (closed below; the generator may stop early)
    except OSError as err:
        raise StoreError(f"{path}: cannot read ({err.strerror})") from err
    with f:
        carry = b""
        lineno = 1
        done = 0
        while True:
            try:
                block = f.read(chunk_bytes)
            except OSError as err:
                raise StoreError(f"{path}: cannot read ({err.strerror})") from err
            done += len(block)
            data = carry + block
            if not block:  # the end: what is left is the last line (without a line end)
                if data:
                    yield lineno, decode_text(path, data, first_line=lineno)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_LINE_BYTES:
                    raise ImportFormatError(
                        f"{path} line {lineno}: over {MAX_LINE_BYTES // 1024} kB without a line "
                        "end; this is not a text export (check the file and --format)"
                    )
                carry = data
                continue
            piece, carry = data[:cut], data[cut:]
            yield lineno, decode_text(path, piece, first_line=lineno)
            lineno += piece.count(b"\n")
            if progress is not None:
                progress(done, total)


def iter_recording(
    path: Path, fmt: str, progress: Progress | None = None, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[ImportedRecording]:
    """Yield ``path`` as checked runs of rows, each an :class:`ImportedRecording`.

    The first run carries the header's metadata (layouts, start time, notes, extra);
    every run has at least one sample. Raises a one-line error for a file with no sample.
    """
    header_lines, parse = _formats()[fmt]
    header = ""
    n_header = 0
    offset = 0
    last_t: dict[str, tuple[float, int]] = {}
    blocks = iter_text_blocks(path, chunk_bytes, progress)
    for first_line, text in blocks:
        if first_line == 1:
            lines = text.splitlines(keepends=True)
            n_header = header_lines([line.rstrip("\r\n") for line in lines])
            header = "".join(lines[:n_header])
            text = "".join(lines[n_header:])
            first_line += n_header
        if not any(line.strip() and not line.startswith("#") for line in text.splitlines()):
            continue  # blank or comment lines only
        chunk = parse(path, header + text, first_line - 1 - n_header)
        check_recording(chunk)
        n = _continue_from(chunk, offset, last_t, first_line)
        offset += n
        yield chunk
    if offset == 0:  # the whole-file parser says best what is missing
        parse(path, header, 0)
        raise ImportFormatError(f"{path}: no samples")


def _continue_from(
    chunk: ImportedRecording,
    offset: int,
    last_t: dict[str, tuple[float, int]],
    first_line: int,
) -> int:
    """Shift ``chunk``'s sequence numbers by ``offset``, check that its time follows the
    previous run's, and return its number of samples."""
    n = 0
    for foot, frames in list(chunk.feet.items()):
        n = len(frames)
        t0 = float(frames.t_s[0])
        if foot in last_t and not t0 > last_t[foot][0]:
            raise ImportFormatError(
                f"{chunk.path}: {foot} foot: time does not increase at sample {offset + 1} "
                f"(near line {first_line}: {t0:g} s after {last_t[foot][0]:g} s); sort the "
                "file by time or fix its time column"
            )
        last_t[foot] = (float(frames.t_s[-1]), offset + n)
        chunk.feet[foot] = dataclasses.replace(frames, seq=frames.seq + offset)
    for ch in chunk.channels:
        ch.seq = np.asarray(ch.seq) + offset
    for event in chunk.events:
        if event.get("seq") is not None:
            event["seq"] = int(event["seq"]) + offset
    return n
