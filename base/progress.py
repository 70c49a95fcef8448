"""Progress of commands that take more than a second: one bar on stderr (``rich``), shown
only on a terminal and never with ``--json``, so piped and machine-read output stays
clean.

>>> with progress("importing", total=3, quiet=True) as bar:
...     for i in range(3):
...         bar.advance(1)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class ProgressBar:
    """Handle of a running bar (a no-op when quiet)."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def shown(self) -> bool:
        """True when a bar is drawn."""
        return self._bar is not None

    def update(
        self, completed: float | None = None, *, total: float | None = None, label: str = ""
    ) -> None:
        """Set the amount done (and the total, or the label)."""
        if self._bar is None:
            return
        kw: dict[str, Any] = {}
        if completed is not None:
            kw["completed"] = completed
        if total is not None:
            kw["total"] = total
        if label:
            kw["description"] = label
        self._bar.update(self._task, **kw)

    def advance(self, amount: float = 1.0) -> None:
        """Add ``amount`` to the amount done."""
        if self._bar is not None:
            self._bar.advance(self._task, amount)

    def step(self, done: int, total: int, label: str = "") -> None:
        """``progress(done, total, label)`` callback form."""
        self.update(done, total=total, label=label)


@contextmanager
def progress(
    label: str, *, total: float | None = None, quiet: bool = False, stream: TextIO | None = None
) -> Iterator[ProgressBar]:
    """A progress bar on ``stream`` (stderr) while the block runs; quiet when ``quiet`` or
    when the stream is not a terminal. ``total=None`` shows a spinner."""
    out = stream or sys.stderr
    if quiet or not getattr(out, "isatty", lambda: False)():
        yield ProgressBar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(file=out, stderr=out is sys.stderr)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("plantar: {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        yield ProgressBar(bar, bar.add_task(label, total=total))
