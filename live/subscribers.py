"""The hub's two kinds of subscriber, one per browser and channel (see :mod:`live.hub`).

A display client holds one message (a newer one replaces an unsent one); an event client
holds a bounded queue (overflow flags it, and the page reconnects for a fresh snapshot).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class DisplayClient:
    """One browser's display slot: the newest message replaces an unsent one."""

    def __init__(self) -> None:
        self.slot: bytes | None = None
        self.ready = asyncio.Event()
        self.sent = 0
        self.replaced = 0

    def offer(self, message: bytes) -> None:
        if self.slot is not None:
            self.replaced += 1
        self.slot = message
        self.ready.set()

    async def take(self) -> bytes:
        while self.slot is None:
            self.ready.clear()
            await self.ready.wait()
        message, self.slot = self.slot, None
        self.ready.clear()
        return message


class EventClient:
    """One browser's reliable event queue (bounded: overflow closes the client)."""

    def __init__(self, limit: int) -> None:
        self.queue: deque[dict[str, Any]] = deque()
        self.limit = limit
        self.ready = asyncio.Event()
        self.overflowed = False

    def offer(self, event: dict[str, Any]) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
            self.queue.clear()
        else:
            self.queue.append(event)
        self.ready.set()
