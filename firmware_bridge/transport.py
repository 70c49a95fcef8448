"""Transports: where a device's protocol byte stream comes from, selected by URL.

A transport is a URL, as in pyserial (``loop://``, ``socket://``) and python-can: one
abstract base class :class:`Transport`, a registry :data:`TRANSPORTS` keyed by URL scheme
(filled by :func:`register_transport`) and :func:`open_transport`, which parses a URL and
builds the transport. Every transport passes the same contract tests
(``tests/firmware_bridge/test_transport_contract.py``).

URLs::

    serial:///dev/ttyACM0?baud=921600
    ble://AA:BB:CC:DD:EE:FF          ble://name/Plantar-L
    sim://?foot=left&layout=plantar-ref&rate=200&seed=1
    replay:///path/to/capture.plantar-bytes?speed=4

A transport delivers :class:`Chunk` objects: raw bytes of the COBS + 0x00 stream of
``hardware/PROTOCOL.md`` section 4 (any length; read boundaries carry no meaning) with
the host arrival time. Decoding, sequence accounting and clock alignment are the job of
:mod:`firmware_bridge.insole_stream` above it, so they are written once for all links.

A dropped link raises :class:`LinkLost` from :meth:`Transport.read`; the bridge calls
:meth:`Transport.reconnect` with backoff and records the gap. Errors the user must fix
(port absent, busy, permission, adapter missing) are :class:`base.errors.DeviceError`
with a one-line message; a malformed URL is :class:`base.errors.ConfigError`.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import importlib
import importlib.metadata
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from base.errors import ConfigError
from base.wire.messages import DeviceInfo
from firmware_bridge.stream_decoder import StreamDecoder, warm_up_decoder

__all__ = [
    "TRANSPORTS",
    "Chunk",
    "LinkLost",
    "LinkState",
    "StreamEnded",
    "Transport",
    "check_url",
    "load_transport_modules",
    "open_transport",
    "parse_url",
    "register_transport",
    "wait_for_info",
]


@dataclass(frozen=True)
class Chunk:
    """Bytes of the 0x00-delimited protocol stream as they arrived.

    Attributes
    ----------
    data : bytes
        Stream bytes (serial bytes, or BLE notification payloads after
        :class:`~base.wire.ble_packing.NotificationReassembler`); any length.
    t_host_ns : int
        ``time.monotonic_ns()`` when the chunk arrived (for replay: the recorded
        arrival time shifted onto this run's monotonic clock).
    gap : bool
        True if bytes were lost right before this chunk (BLE notification gap,
        reconnect): the stream decoder must discard its partial frame.
    """

    data: bytes
    t_host_ns: int
    gap: bool = False


class LinkState(enum.Enum):
    """State of one insole's link, as shown by ``plantar stream`` and the dashboard."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class LinkLost(Exception):  # noqa: N818 - name fixed by the transport contract
    """The link dropped (unplug, BLE disconnect); transient, the bridge reconnects."""


class StreamEnded(Exception):  # noqa: N818 - an end, not an error
    """The stream ended for good (end of a replayed file); the bridge does not reconnect."""


class Transport(abc.ABC):
    """One device's byte stream. Subclasses set :attr:`scheme` and register themselves.

    Parameters
    ----------
    url : str
        The full URL, as given by the user (kept for messages).
    params : dict[str, str]
        Parsed by :func:`parse_url`: ``"netloc"`` and ``"path"`` (percent-decoded) plus
        every query parameter. Unknown query parameters should raise ConfigError.

    Notes
    -----
    Life cycle: ``open()`` → ``read()`` … (``LinkLost`` → ``reconnect()`` → ``read()`` …)
    → ``close()``. ``close()`` is idempotent and may be called from any state; a
    ``read()`` pending when ``close()`` is called must return or raise ``LinkLost``
    promptly. The first chunk after ``open()``/``reconnect()`` should have ``gap=True``
    after a reconnect (a partial frame from before the drop must not be completed with
    bytes from after it).
    """

    scheme: ClassVar[str] = ""

    def __init__(self, url: str, params: dict[str, str]) -> None:
        self.url = url
        self.params = params

    @abc.abstractmethod
    async def open(self) -> DeviceInfo:
        """Connect, read the device's INFO, and start streaming."""

    @abc.abstractmethod
    async def read(self) -> Chunk:
        """Return the next chunk of stream bytes; raise :class:`LinkLost` if the link drops."""

    @abc.abstractmethod
    async def send_control(self, message: bytes) -> None:
        """Send one unframed CONTROL message (:func:`base.wire.messages.encode_control`)."""

    @abc.abstractmethod
    async def reconnect(self) -> DeviceInfo:
        """Re-open after :class:`LinkLost`; raise LinkLost again if the device is not back."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the device; idempotent."""

    @property
    def rssi_dbm(self) -> float | None:
        """Received signal strength in dBm, or None when the link has none / unknown."""
        return None

    @property
    def description(self) -> str:
        """Short human-readable name of the device for status lines and messages."""
        return self.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


TRANSPORTS: dict[str, type[Transport]] = {}

#: Schemes whose module is imported on first use (so that e.g. a missing bleak only
#: matters when a ``ble://`` URL is opened).
LAZY_TRANSPORTS: dict[str, str] = {
    "serial": "firmware_bridge.transports.serial",
    "sim": "firmware_bridge.transports.sim",
    "replay": "firmware_bridge.transports.replay",
    "ble": "firmware_bridge.transports.ble",
}

#: Entry-point group through which packages above the bridge add or extend a scheme
#: (``store`` extends ``replay`` to stored sessions; see ``pyproject.toml``). The value of
#: an entry point is a module that registers its classes when imported.
ENTRY_POINT_GROUP = "plantar.transports"
_LOADED: set[str] = set()

T = TypeVar("T", bound=type[Transport])


def register_transport(cls: T) -> T:
    """Class decorator: register ``cls`` under ``cls.scheme``."""
    if not cls.scheme:
        raise TypeError(f"{cls.__name__} has no scheme")
    TRANSPORTS[cls.scheme] = cls
    return cls


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """Split a transport URL into its scheme and parameters.

    Returns
    -------
    (scheme, params) where params holds ``"netloc"``, ``"path"`` (percent-decoded) and
    the query parameters (the last value wins for a repeated key).

    Raises
    ------
    ConfigError
        If the text is not a ``scheme://...`` URL.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"transport URL {url!r} is malformed: expected scheme://..., e.g. "
            "serial:///dev/ttyACM0, ble://AA:BB:CC:DD:EE:FF, sim://?foot=left"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"transport URL {url!r} is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if not scheme or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        raise ConfigError(f"transport URL {url!r} is malformed: missing or bad scheme")
    params: dict[str, str] = {"netloc": unquote(parts.netloc), "path": unquote(parts.path)}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("netloc", "path"):
            raise ConfigError(f"transport URL {url!r}: query parameter {key!r} is reserved")
        params[key] = value
    return scheme, params


def load_transport_modules(scheme: str) -> None:
    """Import the modules of ``scheme`` once: the bridge's own, then its entry points."""
    if scheme in _LOADED:
        return
    if scheme in LAZY_TRANSPORTS:
        importlib.import_module(LAZY_TRANSPORTS[scheme])
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=scheme):
        importlib.import_module(entry.value)
    _LOADED.add(scheme)


def transport_class(scheme: str) -> type[Transport]:
    """The registered class for ``scheme``, importing its modules on first use."""
    load_transport_modules(scheme)
    try:
        return TRANSPORTS[scheme]
    except KeyError:
        plugins = {e.name for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        known = ", ".join(sorted(set(TRANSPORTS) | set(LAZY_TRANSPORTS) | plugins))
        raise ConfigError(f"unknown transport scheme {scheme!r}: use one of {known}") from None


def open_transport(url: str) -> Transport:
    """Build (not yet open) the transport for ``url``.

    Raises
    ------
    ConfigError
        Malformed URL, unknown scheme, or bad parameters (one line).
    """
    scheme, params = parse_url(url)
    return transport_class(scheme)(url, params)


def check_url(url: str) -> str:
    """Check ``url`` by its transport's own rules, touching no device; return the scheme.

    Each transport's constructor checks its URL (parameters, path, address) and does no
    I/O, so the configuration asks the transports rather than keeping rules of its own.

    Raises
    ------
    ConfigError
        Malformed URL, unknown scheme, or bad parameters (one line).
    """
    transport = open_transport(url)
    return transport.scheme


async def wait_for_info(
    read_chunk: Callable[[], Awaitable[Chunk]],
    timeout_s: float,
    request_again: Callable[[], Awaitable[None]] | None = None,
    request_every_s: float = 1.0,
) -> tuple[DeviceInfo | None, list[Chunk]]:
    """Read chunks until an INFO message has arrived (for byte-stream transports).

    Parameters
    ----------
    read_chunk : the transport's raw chunk reader.
    timeout_s : give up after this long.
    request_again : sends REQUEST_INFO again; called every ``request_every_s`` seconds
        without an INFO. A device whose transmit buffer is full of frames the host has not
        read yet drops its answer to the first request (the simulator does; firmware whose
        USB host stalled may), and a corrupted request gets no answer at all.

    Returns
    -------
    (info or None on timeout, every chunk read): the caller hands the chunks on through
    ``read()`` so that no frame read during the handshake is lost.
    """
    warm_up_decoder()  # JIT time must not eat into the insole's time to answer
    sniffer = StreamDecoder(1, 0)  # DATA frames count as layout mismatch; INFO decodes
    chunks: list[Chunk] = []
    deadline = time.monotonic() + timeout_s
    next_request = time.monotonic() + request_every_s
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            return None, chunks
        if request_again is not None and now >= next_request:
            await request_again()
            next_request = now + request_every_s
        wait_s = remaining if request_again is None else min(remaining, next_request - now)
        try:
            chunk = await asyncio.wait_for(read_chunk(), max(wait_s, 0.0))
        except TimeoutError:
            continue  # the deadline or the next request: checked above
        chunks.append(chunk)
        sniffer.feed(chunk.data)
        if sniffer.last_info is not None:
            return sniffer.last_info, chunks
