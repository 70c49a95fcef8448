"""The pairing page and its API: scan, press to tell left from right, save the pair.

Routes (registered by :func:`register_pairing_routes`; the service is
``app.state.pairing``, a :class:`live.pairing.PairingService` set by the server, or None
when this process cannot pair insoles):

* ``GET /pair`` the page (``static/pair.html``, ``pair.js``).
* ``GET /api/pairing`` state, message, insoles found, the pair found.
* ``POST /api/pairing/scan``: close the insoles and list those in range.
* ``POST /api/pairing/identify`` ``{"addresses": [a, b]}`` (optional): start the press test.
* ``POST /api/pairing/save``: write the pair to the configuration, stream from it.
* ``POST /api/pairing/cancel``: stop, and go back to the previous insoles.
* ``POST /api/pairing/simulated/{address}/press`` ``{"pressed": true}``: press a simulated
  insole (``plantar demo --transport ble`` only).

A step that cannot be done answers 409 with ``{"detail": <what to do>}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from dashboard.app import STATIC_DIR
from live.pairing import PairingError, PairingService

ADDRESS_PATTERN = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"


class IdentifyIn(BaseModel):
    """Which two scanned insoles to test (default: the first two found)."""

    addresses: list[str] | None = Field(None, min_length=2, max_length=2)


class PressIn(BaseModel):
    """Press (true) or release (false) a simulated insole."""

    pressed: bool = True


def _service(request: Request) -> PairingService:
    service: PairingService | None = getattr(request.app.state, "pairing", None)
    if service is None:
        raise HTTPException(
            409,
            "this server cannot pair insoles: pair from plantar run (the service) or "
            "plantar demo --transport ble",
        )
    return service


async def _step(fn: Callable[..., Awaitable[dict[str, Any]]], *args: Any) -> dict[str, Any]:
    try:
        return await fn(*args)
    except PairingError as err:
        raise HTTPException(409, str(err)) from None


def register_pairing_routes(app: FastAPI) -> None:
    """Add the pairing page and API to ``app`` (service: ``app.state.pairing``)."""
    if not hasattr(app.state, "pairing"):
        app.state.pairing = None

    @app.get("/pair", include_in_schema=False)
    async def pair_page() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "pair.html").read_text(encoding="utf-8"))

    @app.get("/api/pairing")
    async def pairing_status(request: Request) -> dict[str, Any]:
        """Pairing state, message, insoles in range and the pair found."""
        return _service(request).status()

    @app.post("/api/pairing/scan")
    async def pairing_scan(request: Request) -> dict[str, Any]:
        """Close the insoles and scan for those in range (409: none, or recording)."""
        return await _step(_service(request).scan)

    @app.post("/api/pairing/identify")
    async def pairing_identify(request: Request, body: IdentifyIn | None = None) -> dict[str, Any]:
        """Start the press test on two scanned insoles."""
        return await _step(_service(request).identify, body.addresses if body else None)

    @app.post("/api/pairing/save")
    async def pairing_save(request: Request) -> dict[str, Any]:
        """Save the identified pair to the configuration and stream from it."""
        return await _step(_service(request).save)

    @app.post("/api/pairing/cancel")
    async def pairing_cancel(request: Request) -> dict[str, Any]:
        """Stop pairing; the previous insoles are used again."""
        return await _step(_service(request).cancel)

    @app.post("/api/pairing/simulated/{address}/press")
    async def pairing_press(
        request: Request,
        body: PressIn,
        address: str = PathParam(..., pattern=ADDRESS_PATTERN),
    ) -> dict[str, Any]:
        """Press or release a simulated insole (demo only)."""
        try:
            return _service(request).press_simulated(address, body.pressed)
        except PairingError as err:
            raise HTTPException(404, str(err)) from None
