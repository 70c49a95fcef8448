"""The one helper the live engine needs about event loops."""

from __future__ import annotations

import asyncio


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None (a thread without one)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
