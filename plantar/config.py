# Long module: every key of plantar.toml with its type, range and message, in one validator.
"""``plantar.toml``: which insoles, whose feet, where recordings go, the dashboard, alerts.

Read with the standard library's :mod:`tomllib`, validated key by key; every error is a
:class:`~base.errors.ConfigError` of one line that names the file and the key, e.g.
``/etc/plantar/plantar.toml: dashboard.port: must be an integer from 1 to 65535, got
"eighty"``.

Where the file is found (the first that exists): ``--config PATH``, ``$PLANTAR_CONFIG``,
``~/.config/plantar/plantar.toml`` (the platform's user config directory),
``/etc/plantar/plantar.toml``. Without one, the defaults below apply (no insoles).

Environment variables override single keys: ``PLANTAR_<SECTION>__<KEY>`` (two
underscores between levels, case-insensitive), e.g. ``PLANTAR_DASHBOARD__PORT=8080`` or
``PLANTAR_INSOLES__LEFT__URL=serial:///dev/ttyACM0``. A value is read as a TOML value
when it parses as one (``8080``, ``true``, ``1.5``) and as a string otherwise. Variables
with a single underscore (``PLANTAR_HOME``, ``PLANTAR_CONFIG``) are not overrides.

:func:`default_toml` is the commented file ``plantar config init`` writes.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.errors import ConfigError

ENV_CONFIG = "PLANTAR_CONFIG"
ENV_PREFIX = "PLANTAR_"
SYSTEM_CONFIG = Path("/etc/plantar/plantar.toml")
FEET = ("left", "right")
DEFAULT_LAYOUT = "plantar-ref"
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


# --- the configuration ------------------------------------------------------------------


@dataclass(frozen=True)
class InsoleConfig:
    """One insole: its transport URL and, optionally, the layout and shoe size to use.

    ``layout`` None means :data:`DEFAULT_LAYOUT`; ``size_eu`` None the layout's own size.
    """

    foot: str
    url: str
    layout: str | None = None
    size_eu: float | None = None

    @property
    def scheme(self) -> str:
        """URL scheme: ``ble``, ``serial``, ``sim`` or ``replay``."""
        return self.url.split("://", 1)[0].lower()


@dataclass(frozen=True)
class AthleteConfig:
    """Who runs: stored in every session's metadata."""

    name: str = ""


@dataclass(frozen=True)
class StorageConfig:
    """Where recordings go: ``dir`` None means ``$PLANTAR_HOME`` or the user data directory."""

    dir: Path | None = None
    min_free_hours: float = 1.0


@dataclass(frozen=True)
class DashboardConfig:
    """The web dashboard of ``plantar run``; a token is required off loopback."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str = ""
    #: host names the page is opened by besides IP addresses, localhost and this machine's
    #: name (a reverse proxy's or the lab's DNS name), comma-separated
    allowed_hosts: str = ""

    def allowed_host_names(self) -> tuple[str, ...]:
        """:attr:`allowed_hosts` as a tuple of names."""
        return tuple(h.strip() for h in self.allowed_hosts.split(",") if h.strip())


@dataclass(frozen=True)
class RecordingConfig:
    """When recording starts and the rate used to estimate disk use."""

    autostart: bool = True
    rate_hz: float = 200.0
    shoe: str = ""
    sock: str = ""
    treadmill_speed_kmh: float | None = None
    notes: str = ""


@dataclass(frozen=True)
class AlertsConfig:
    """Thresholds of the live alerts (the blister-risk index is relative, never a probability).

    The analysis' one pivot-alert policy (:class:`analysis.analyzer.PivotAlertPolicy`),
    counted in steps of both feet:

    pivot_factor : alert when the recent median pivot at toe-off exceeds this x baseline.
    pivot_recent_steps : steps in the recent median.
    pivot_baseline_steps : steps whose median pivot is the runner's own baseline.
    acclimatisation_steps : steps discarded before the baseline.
    """

    pivot_factor: float = 1.3
    pivot_recent_steps: int = 20
    pivot_baseline_steps: int = 60
    acclimatisation_steps: int = 30


@dataclass(frozen=True)
class ArchiveConfig:
    """Push on finalise (:mod:`store.archive`): ``to`` empty means no push.

    to : a directory or ``s3://bucket/prefix``.
    endpoint_url, region, access_key_id, secret_access_key : S3 settings; empty ones come
        from the usual AWS_* environment variables.
    retry_interval_s : how often ``plantar run`` retries the backlog (network down).
    steps : write the per-step table (the step analysis of each session).
    """

    to: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    retry_interval_s: float = 300.0
    steps: bool = True


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; ``source`` is the file read (None: defaults)."""

    insoles: dict[str, InsoleConfig] = field(default_factory=dict)
    athlete: AthleteConfig = field(default_factory=AthleteConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    source: Path | None = None
    overrides: tuple[str, ...] = ()

    def sessions_dir(self, create: bool = False) -> Path:
        """Directory of recorded sessions under the configured storage directory."""
        from base import paths

        if self.storage.dir is not None:
            path = self.storage.dir / "sessions"
            if create:
                path.mkdir(parents=True, exist_ok=True)
            return path
        return paths.sessions_dir(create)

    def apply_storage_env(self) -> None:
        """Point :mod:`base.paths` at ``storage.dir`` (sets ``$PLANTAR_HOME``)."""
        from base import paths

        if self.storage.dir is not None:
            os.environ[paths.ENV_HOME] = str(self.storage.dir)

    def to_dict(self, *, reveal_token: bool = False) -> dict[str, Any]:
        """Plain form (the token masked unless asked), for ``plantar config show``."""
        token = self.dashboard.token
        return {
            "source": str(self.source) if self.source else None,
            "overrides": list(self.overrides),
            "insoles": {
                foot: {"url": i.url, "layout": i.layout, "size_eu": i.size_eu}
                for foot, i in self.insoles.items()
            },
            "athlete": {"name": self.athlete.name},
            "storage": {
                "dir": str(self.storage.dir) if self.storage.dir else None,
                "min_free_hours": self.storage.min_free_hours,
            },
            "dashboard": {
                "host": self.dashboard.host,
                "port": self.dashboard.port,
                "token": token if reveal_token or not token else "***",
                "allowed_hosts": self.dashboard.allowed_hosts,
            },
            "recording": dict(vars(self.recording)),
            "alerts": dict(vars(self.alerts)),
            "archive": {
                **vars(self.archive),
                "secret_access_key": "***" if self.archive.secret_access_key else "",
            },
        }


# --- finding and reading --------------------------------------------------------------


def candidate_paths() -> list[Path]:
    """Files looked for, in order, when no ``--config`` is given."""
    import platformdirs

    out = []
    env = os.environ.get(ENV_CONFIG)
    if env:
        out.append(Path(env).expanduser())
    out.append(Path(platformdirs.user_config_dir("plantar")) / "plantar.toml")
    out.append(SYSTEM_CONFIG)
    return out


def find_config(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to read: ``path`` (must exist), else the first candidate."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(
                f"configuration file {p} not found; create one with: plantar config init --path {p}"
            )
        return p
    env = os.environ.get(ENV_CONFIG)
    if env and not Path(env).expanduser().is_file():
        raise ConfigError(
            f"{ENV_CONFIG}={env}: file not found; create it with: plantar config init --path {env}"
        )
    for candidate in candidate_paths():
        if candidate.is_file():
            return candidate
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    require_insoles: bool = False,
) -> Config:
    """Find, read, override from the environment and validate the configuration.

    Parameters
    ----------
    path : explicit file (``--config``); None searches :func:`candidate_paths`.
    env : environment for the overrides (default ``os.environ``).
    require_insoles : raise ConfigError when no insole is configured.
    """
    source = find_config(path)
    data: dict[str, Any] = {}
    if source is not None:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{source}: cannot read: {err}") from None
        data = parse_toml(text, str(source))
    return config_from_dict(
        data, source=source, env=os.environ if env is None else env, require_insoles=require_insoles
    )


def parse_toml(text: str, where: str = "plantar.toml") -> dict[str, Any]:
    """Parse TOML text; a syntax error is a ConfigError naming the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: invalid TOML: {err}; fix the syntax at that line") from None


def config_from_dict(
    data: Mapping[str, Any],
    *,
    source: Path | None = None,
    env: Mapping[str, str] | None = None,
    require_insoles: bool = False,
) -> Config:
    """Validate parsed TOML (plus environment overrides) into a :class:`Config`."""
    merged: dict[str, Any] = _deepcopy(dict(data))
    origins: dict[str, str] = {}
    for var, dotted, value in _env_overrides(env or {}):
        _set_dotted(merged, dotted, value, var)
        origins[dotted] = var
    v = _Validator(str(source) if source else "plantar.toml", origins)
    cfg = v.config(merged, source)
    if require_insoles and not cfg.insoles:
        where = str(source) if source else "no configuration file found"
        raise ConfigError(
            f"{where}: insoles: no insole configured; add [insoles.left] and [insoles.right] "
            "with a url (plantar config init writes an example)"
        )
    return cfg


# --- environment overrides -------------------------------------------------------------


def _env_overrides(env: Mapping[str, str]) -> list[tuple[str, str, Any]]:
    out = []
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX) or "__" not in var:
            continue
        parts = var[len(ENV_PREFIX) :].lower().split("__")
        if any(not p for p in parts):
            raise ConfigError(f"{var}: malformed override; use PLANTAR_SECTION__KEY=value")
        out.append((var, ".".join(parts), _env_value(env[var])))
    return out


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, var: str) -> None:
    node = data
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{var}: {'.'.join(parts[: i + 1])} is not a table")
        node = child
    node[parts[-1]] = value


def _deepcopy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in d.items()}


# --- validation -------------------------------------------------------------------------


_MISSING = object()


class _Validator:
    """Checks one section at a time; every message names the key (and env var)."""

    def __init__(self, where: str, origins: dict[str, str]) -> None:
        self.where = where
        self.origins = origins

    def fail(self, key: str, problem: str) -> ConfigError:
        var = self.origins.get(key)
        prefix = f"{var} ({key})" if var else f"{self.where}: {key}"
        return ConfigError(f"{prefix}: {problem}")

    def table(self, data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1], {}) if key else data
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table ([{key}]), got {_show(value)}")
        for name in value:
            if name not in allowed:
                full = f"{key}.{name}" if key else name
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = (
                    f"did you mean {(key + '.') if key else ''}{close[0]}?"
                    if close
                    else f"known keys: {', '.join(allowed)}"
                )
                raise self.fail(full, f"unknown key; {hint}")
        return value

    def get(self, t: Mapping[str, Any], key: str, name: str, kind: str, default: Any, **kw: Any):
        value = t.get(name, _MISSING)
        full = f"{key}.{name}" if key else name
        if value is _MISSING:
            if default is _MISSING:
                raise self.fail(full, f"missing; {kw.get('hint', 'add it')}")
            return default
        return getattr(self, f"_{kind}")(
            full, value, **{k: v for k, v in kw.items() if k != "hint"}
        )

    def _str(self, key: str, value: Any, nonempty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {_show(value)}")
        if nonempty and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def _bool(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_show(value)}")
        return value

    def _int(self, key: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer from {lo} to {hi}, got {_show(value)}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be an integer from {lo} to {hi}, got {value}")
        return value

    def _float(
        self, key: str, value: Any, lo: float, hi: float, unit: str = "", optional: bool = False
    ) -> float | None:
        u = f" {unit}" if unit else ""
        if optional and isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number from {lo:g} to {hi:g}{u}, got {_show(value)}")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise self.fail(key, f"must be a number from {lo:g} to {hi:g}{u}, got {value:g}")
        return float(value)

    # sections

    def config(self, data: dict[str, Any], source: Path | None) -> Config:
        sections = (
            "insoles", "athlete", "storage", "dashboard", "recording", "alerts", "archive"
        )  # fmt: skip
        self.table(data, "", sections)
        return Config(
            insoles=self.insoles(data),
            athlete=self.athlete(data),
            storage=self.storage(data),
            dashboard=self.dashboard(data),
            recording=self.recording(data),
            alerts=self.alerts(data),
            archive=self.archive(data),
            source=source,
            overrides=tuple(sorted(self.origins.values())),
        )

    def insoles(self, data: dict[str, Any]) -> dict[str, InsoleConfig]:
        t = self.table(data, "insoles", FEET)
        out = {}
        for foot in FEET:
            if foot not in t:
                continue
            key = f"insoles.{foot}"
            if isinstance(t[foot], str):  # insoles.left = "ble://..." shorthand
                t[foot] = {"url": t[foot]}
            it = self.table(t, key, ("url", "layout", "size_eu"))
            raw = self.get(
                it,
                key,
                "url",
                "str",
                _MISSING,
                nonempty=True,
                hint="set a transport URL such as ble://name/Plantar-L, serial:///dev/ttyACM0 "
                "or sim://",
            )
            url = self.url(f"{key}.url", raw, foot)
            layout = self.get(it, key, "layout", "str", None, nonempty=True)
            if layout is not None:
                self.layout(f"{key}.layout", layout)
            size = self.get(it, key, "size_eu", "float", None, lo=16, hi=55, unit="(EU)")
            out[foot] = InsoleConfig(foot=foot, url=url, layout=layout, size_eu=size)
        urls = [i.url for i in out.values()]
        if len(urls) == 2 and urls[0] == urls[1] and not urls[0].startswith("sim://"):
            raise self.fail(
                "insoles.right.url", f"is the same device as insoles.left.url ({urls[0]})"
            )
        return out

    def url(self, key: str, raw: str, foot: str) -> str:
        """Normalise a URL or a bare name; check the scheme and the parts each one needs."""
        text = raw.strip()
        if "://" not in text:
            if text.startswith("/dev/"):
                text = f"serial://{text}"
            elif _MAC_RE.fullmatch(text):
                text = f"ble://{text.upper()}"
            elif re.fullmatch(r"[\w .\-]{1,29}", text):
                text = f"ble://name/{text}"
            else:
                raise self.fail(
                    key,
                    f"{raw!r} is neither a transport URL nor an insole name; use e.g. "
                    "ble://name/Plantar-L, ble://AA:BB:CC:DD:EE:FF, serial:///dev/ttyACM0, sim://",
                )
        from firmware_bridge.transport import check_url

        try:
            scheme = check_url(text)
        except ConfigError as err:
            raise self.fail(key, str(err)) from None
        rest = text.split("://", 1)[1]
        if scheme == "sim":
            other = "right" if foot == "left" else "left"
            if f"foot={other}" in rest:
                raise self.fail(key, f"{raw!r} simulates the {other} foot, not the {foot}")
        return text

    def layout(self, key: str, value: str) -> None:
        from hardware.layout import available_layouts

        known = available_layouts()
        if value in known or Path(value).expanduser().is_file():
            return
        close = difflib.get_close_matches(value, known, n=1)
        hint = f"did you mean {close[0]}?" if close else f"shipped: {', '.join(known)}"
        raise self.fail(key, f"unknown layout {value!r}; {hint} (plantar layouts lists them)")

    def athlete(self, data: dict[str, Any]) -> AthleteConfig:
        t = self.table(data, "athlete", ("name",))
        return AthleteConfig(name=self.get(t, "athlete", "name", "str", ""))

    def storage(self, data: dict[str, Any]) -> StorageConfig:
        t = self.table(data, "storage", ("dir", "min_free_hours"))
        raw = self.get(t, "storage", "dir", "str", "")
        directory = None
        if raw.strip():
            directory = Path(raw).expanduser()
            if not directory.is_absolute():
                raise self.fail("storage.dir", f"must be an absolute path, got {raw!r}")
            if directory.exists() and not directory.is_dir():
                raise self.fail("storage.dir", f"{raw} exists and is not a directory")
        hours = self.get(t, "storage", "min_free_hours", "float", 1.0, lo=0, hi=1000, unit="h")
        return StorageConfig(dir=directory, min_free_hours=hours)

    def dashboard(self, data: dict[str, Any]) -> DashboardConfig:
        t = self.table(data, "dashboard", ("host", "port", "token", "allowed_hosts"))
        host = self.get(t, "dashboard", "host", "str", "127.0.0.1", nonempty=True).strip()
        if host != "localhost":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise self.fail(
                    "dashboard.host",
                    f"{host!r} is not an IP address; use 127.0.0.1 (this machine only) or "
                    "0.0.0.0 (the local network, with a token)",
                ) from None
        token = self.get(t, "dashboard", "token", "str", "")
        if token and (len(token) < 12 or not re.fullmatch(r"[A-Za-z0-9_\-.~]+", token)):
            raise self.fail(
                "dashboard.token",
                "must be at least 12 URL-safe characters (letters, digits, - _ . ~); "
                "plantar config init writes a random one",
            )
        return DashboardConfig(
            host=host,
            port=self.get(t, "dashboard", "port", "int", 8000, lo=1, hi=65535),
            token=token,
            allowed_hosts=self.get(t, "dashboard", "allowed_hosts", "str", ""),
        )

    def recording(self, data: dict[str, Any]) -> RecordingConfig:
        names = ("autostart", "rate_hz", "shoe", "sock", "treadmill_speed_kmh", "notes")
        t = self.table(data, "recording", names)
        return RecordingConfig(
            autostart=self.get(t, "recording", "autostart", "bool", True),
            rate_hz=self.get(t, "recording", "rate_hz", "float", 200.0, lo=1, hi=2000, unit="Hz"),
            shoe=self.get(t, "recording", "shoe", "str", ""),
            sock=self.get(t, "recording", "sock", "str", ""),
            treadmill_speed_kmh=self.get(
                t,
                "recording",
                "treadmill_speed_kmh",
                "float",
                None,
                lo=0,
                hi=40,
                unit="km/h",
                optional=True,
            ),
            notes=self.get(t, "recording", "notes", "str", ""),
        )

    def alerts(self, data: dict[str, Any]) -> AlertsConfig:
        names = tuple(AlertsConfig.__dataclass_fields__)
        t = self.table(data, "alerts", names)
        factor = self.get(t, "alerts", "pivot_factor", "float", 1.3, lo=1.0, hi=10.0)
        if factor <= 1.0:
            raise self.fail("alerts.pivot_factor", "must be greater than 1 (1.3 = 30 % above)")
        return AlertsConfig(
            pivot_factor=factor,
            pivot_recent_steps=self.get(
                t, "alerts", "pivot_recent_steps", "int", 20, lo=1, hi=1000
            ),
            pivot_baseline_steps=self.get(
                t, "alerts", "pivot_baseline_steps", "int", 60, lo=1, hi=10000
            ),
            acclimatisation_steps=self.get(
                t, "alerts", "acclimatisation_steps", "int", 30, lo=0, hi=10000
            ),
        )

    def archive(self, data: dict[str, Any]) -> ArchiveConfig:
        names = tuple(ArchiveConfig.__dataclass_fields__)
        t = self.table(data, "archive", names)
        to = self.get(t, "archive", "to", "str", "").strip()
        scheme, sep, rest = to.partition("://")
        if to and sep and (scheme not in ("s3", "file") or not rest.strip("/")):
            raise self.fail("archive.to", f"must be a directory or s3://bucket/prefix, got {to!r}")
        if to and not sep and not Path(to).expanduser().is_absolute():
            raise self.fail("archive.to", f"must be an absolute path, got {to!r}")
        text = {
            n: self.get(t, "archive", n, "str", "")
            for n in ("endpoint_url", "region", "access_key_id", "secret_access_key")
        }
        if bool(text["access_key_id"]) != bool(text["secret_access_key"]):
            raise self.fail(
                "archive.access_key_id",
                "set both access_key_id and secret_access_key, or neither (then the "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables are used)",
            )
        return ArchiveConfig(
            to=to,
            **text,
            retry_interval_s=self.get(
                t, "archive", "retry_interval_s", "float", 300.0, lo=1, hi=86400, unit="s"
            ),
            steps=self.get(t, "archive", "steps", "bool", True),
        )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) < 40 else f'"{value[:37]}..."'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


# --- the commented default ------------------------------------------------------------


def default_toml(*, token: str | None = None, insoles: str = "ble") -> str:
    """The commented ``plantar.toml`` that ``plantar config init`` writes.

    Parameters
    ----------
    token : dashboard token (default: a fresh random one).
    insoles : example insoles to enable: ``ble`` (Plantar-L / Plantar-R by name),
        ``serial`` (/dev/ttyACM0 and /dev/ttyACM1) or ``sim`` (two simulated insoles).
    """
    import secrets

    token = token or secrets.token_urlsafe(16)
    urls = {
        "ble": ("ble://name/Plantar-L", "ble://name/Plantar-R"),
        "serial": ("serial:///dev/ttyACM0", "serial:///dev/ttyACM1"),
        "sim": ("sim://?seed=1", "sim://?seed=2"),
    }
    if insoles not in urls:
        raise ConfigError(f"--insoles must be one of {', '.join(urls)}, got {insoles!r}")
    left, right = urls[insoles]
    return _TEMPLATE.format(left=left, right=right, token=token)


_TEMPLATE = """\
# plantar.toml: configuration of `plantar run` (and `plantar doctor`).
# Every key is optional except the insoles' url. Environment variables override keys:
# PLANTAR_<SECTION>__<KEY>, e.g. PLANTAR_DASHBOARD__PORT=8080 or
# PLANTAR_INSOLES__LEFT__URL=serial:///dev/ttyACM0. Check with: plantar config show

# The insoles, one table per foot. url is a transport URL:
#   ble://name/Plantar-L          the insole advertising this Bluetooth LE name
#   ble://AA:BB:CC:DD:EE:FF       a Bluetooth LE address
#   serial:///dev/ttyACM0         USB serial (better: a /dev/serial/by-id/... path)
#   sim://?seed=1                 a simulated insole (add &rate=200&layout=plantar-ref)
#   replay:///path/capture.plantar-bytes   a captured byte stream
# A bare name ("Plantar-L") means ble://name/Plantar-L. layout (default plantar-ref; both
# feet use the same one) and size_eu (default: the layout's own size) scale the display
# and analysis; `plantar layouts` lists the shipped layouts.
[insoles.left]
url = "{left}"
# layout = "plantar-ref"
# size_eu = 42

[insoles.right]
url = "{right}"
# layout = "plantar-ref"
# size_eu = 42

[athlete]
# Stored in every session's metadata.
name = ""

[storage]
# Where sessions are written. Empty: $PLANTAR_HOME, else ~/.local/share/plantar of the
# user running plantar (sessions/ below it). Use an absolute path, e.g. on a USB disk.
dir = ""
# `plantar doctor` fails below this many hours of recording left on that disk.
min_free_hours = 1.0

[dashboard]
# 127.0.0.1: this machine only. 0.0.0.0: the local network; then the token is required
# (open http://<pi>:<port>/?token=<token> once, the browser keeps a cookie).
host = "0.0.0.0"
port = 8000
token = "{token}"

[recording]
# Start recording as soon as both insoles stream (a service switched on at the wall;
# plantar run serves the dashboard and waits for insoles that are still off).
# false: start and stop from the dashboard.
autostart = true
# Sampling rate of the insoles (Hz): used to estimate the hours of recording left.
rate_hz = 200
# Conditions of the session (editable on the dashboard).
shoe = ""
sock = ""
# treadmill_speed_kmh = 12.0
notes = ""

[alerts]
# Live alerts compare the runner with their own baseline; the blister-risk index is a
# relative index (no validated threshold exists), never a probability.
# Steps of both feet, in order: acclimatisation_steps are discarded, the next
# pivot_baseline_steps set the baseline (median pivot at toe-off); the alert shows when
# the median of the last pivot_recent_steps exceeds pivot_factor x baseline.
pivot_factor = 1.3
pivot_recent_steps = 20
pivot_baseline_steps = 60
acclimatisation_steps = 30

[archive]
# Push each session to the lab's archive when it ends (plantar archive --to does it by
# hand): a directory (e.g. a network share) or s3://bucket/prefix. Empty: no push.
# Sessions that cannot be sent (network down) wait in a backlog, retried every
# retry_interval_s seconds; plantar doctor shows it. S3 settings left empty come from
# AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
to = ""
# endpoint_url = "https://s3.example.org"
# region = "eu-west-1"
# access_key_id = ""
# secret_access_key = ""
retry_interval_s = 300
steps = true
"""
