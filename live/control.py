"""What a page may ask of the live session: the protocol the dashboard calls, its error."""

from __future__ import annotations

from typing import Any, Protocol


class ControlError(Exception):
    """A request the live session cannot honour now (the dashboard answers 409)."""


class SessionControl(Protocol):
    """Recording, the one session state and the runner's markers (see
    :class:`live.pipeline.LivePipeline`)."""

    def start_recording(self, meta: dict[str, Any]) -> dict[str, Any]: ...

    def stop_recording(self) -> dict[str, Any]: ...

    def update_meta(self, meta: dict[str, Any]) -> dict[str, Any]: ...

    def session_info(self) -> dict[str, Any]: ...

    def add_marker(self, label: str) -> dict[str, Any]: ...
