"""Access control: the LAN-mode token, and the origin guard that every mode has.

Access token for LAN mode: an ASGI middleware that guards every HTTP and websocket route.

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

import ipaddress
import json
import secrets
import socket
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


# ----------------------------------------------------------------------------- origin guard

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def own_host_names(extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Host names this dashboard answers to (besides IP literals): localhost, this
    machine's name and its mDNS name, and any names the operator adds."""
    name = socket.gethostname().lower()
    names = {"localhost", name, f"{name}.local"}  # no getfqdn(): it can stall without DNS
    return frozenset(names | {e.lower().rstrip(".") for e in extra if e})


def _split_host(value: str) -> str:
    """The host part of a Host header or an Origin's netloc (port and brackets removed)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    host, sep, port = value.rpartition(":")
    return host if sep and port.isdigit() else value


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class OriginGuard:
    """Localhost is not a trust boundary: refuse other sites' pages and DNS rebinding.

    * **Host** (every HTTP request and websocket): an IP literal or one of
      :func:`own_host_names`. A page on ``evil.example`` whose name an attacker points at
      127.0.0.1 (DNS rebinding) sends ``Host: evil.example`` and gets 403.
    * **Origin** (websockets and state-changing requests): when the browser names the
      page's origin it must be this server (same host and port as ``Host``); ``null`` and
      ``Sec-Fetch-Site: cross-site`` are refused. Tools that send no Origin (curl, scripts)
      are let through: a browser always sends one on these requests.
    * **JSON only** for state-changing requests (415 otherwise), so no HTML form, which
      cannot send ``application/json``, can start or stop a recording.

    A refused websocket is closed with code 1008 before it is accepted.
    """

    def __init__(self, app: Any, extra_hosts: tuple[str, ...] = ()) -> None:
        self.app = app
        self.names = own_host_names(extra_hosts)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        host_header = _header(scope, b"host")
        if host_header is not None:
            host = _split_host(host_header)
            if not _is_ip_literal(host) and host not in self.names:
                return 403, f"unknown host name {host!r}: open the dashboard by its address"
        unsafe = scope["type"] == "websocket" or scope.get("method", "GET") in UNSAFE_METHODS
        if not unsafe:
            return None
        origin = _header(scope, b"origin")
        if origin is not None:
            netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
            if not netloc or host_header is None or netloc != host_header.strip().lower():
                return 403, "cross-origin request refused: use the dashboard page itself"
        elif _header(scope, b"sec-fetch-site") in ("cross-site", "same-site"):
            return 403, "cross-origin request refused: use the dashboard page itself"
        if scope["type"] == "http":
            ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return 415, "write requests must be JSON (Content-Type: application/json)"
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
