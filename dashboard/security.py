"""Access token for LAN mode: an ASGI middleware that guards every HTTP and websocket route.

On ``127.0.0.1`` the dashboard is open to the local machine. Bound to any other address
it needs a token: ``plantar serve`` prints ``http://<host>:<port>/?token=<token>``. A
request is let in when it carries the token as the ``token`` query parameter, as
``Authorization: Bearer <token>``, or in the ``plantar_token`` cookie, which is set
(HttpOnly, SameSite=Strict) on the first response to a request with a valid query token,
so the page's own fetches and websockets carry it. Everything else, including the static
files, ``/docs`` and ``/openapi.json``, gets 401; a websocket is closed with code 1008
before it is accepted.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

COOKIE = "plantar_token"
QUERY = "token"

Scope = dict[str, Any]


def new_token() -> str:
    """A fresh URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def _presented(scope: Scope) -> tuple[list[str], bool]:
    """Tokens a request presents, and whether one came in the query string."""
    found: list[str] = []
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    from_query = QUERY in query
    found += query.get(QUERY, [])
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                found.append(text[7:].strip())
        elif name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is just no token
                continue
            if COOKIE in cookie:
                found.append(cookie[COOKIE].value)
    return found, from_query


class TokenMiddleware:
    """Reject HTTP and websocket requests that do not present ``token``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def _ok(self, scope: Scope) -> tuple[bool, bool]:
        found, from_query = _presented(scope)
        good = any(secrets.compare_digest(t.encode(), self.token.encode()) for t in found)
        return good, good and from_query

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ok, set_cookie = self._ok(scope)
        if not ok:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "token required"})
                return
            body = b'{"detail":"access token required: open the URL printed by plantar serve"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if kind == "http" and set_cookie:
            cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

            async def send_with_cookie(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)
