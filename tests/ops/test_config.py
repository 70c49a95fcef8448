"""plantar.toml: defaults, the commented default file, env overrides, one test per error kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from base.errors import ConfigError
from plantar.cli import main
from plantar.config import (
    Config,
    config_from_dict,
    default_toml,
    find_config,
    load_config,
    parse_toml,
)

DATA = Path(__file__).resolve().parent / "data"


def _load(text: str, env: dict[str, str] | None = None) -> Config:
    return config_from_dict(parse_toml(text, "t.toml"), source=Path("t.toml"), env=env or {})


def _error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        _load(text, env)
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- valid files -----------------------------------------------------------------------


def test_empty_file_gives_defaults() -> None:
    cfg = _load("")
    assert cfg.insoles == {}
    assert cfg.dashboard.host == "127.0.0.1" and cfg.dashboard.port == 8000
    assert cfg.recording.autostart is True
    assert cfg.alerts.pivot_factor == 1.3


@pytest.mark.parametrize("insoles", ["ble", "serial", "sim"])
def test_default_toml_parses_and_validates(insoles: str) -> None:
    text = default_toml(insoles=insoles, token="t" * 22)
    cfg = _load(text)
    assert set(cfg.insoles) == {"left", "right"}
    assert all(i.scheme == insoles for i in cfg.insoles.values())
    assert cfg.dashboard.token == "t" * 22
    # every key is explained: more comment lines than keys
    lines = text.splitlines()
    assert sum(ln.startswith("#") for ln in lines) > sum("=" in ln and ln[0] != "#" for ln in lines)


def test_sim_toml_of_the_tests_is_valid() -> None:
    cfg = load_config(DATA / "sim.toml", env={})
    assert cfg.insoles["left"].url.startswith("sim://")
    assert cfg.insoles["right"].layout == "plantar-ref"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("Plantar-L", "ble://name/Plantar-L"),
        ("aa:bb:cc:dd:ee:ff", "ble://AA:BB:CC:DD:EE:FF"),
        ("/dev/ttyACM0", "serial:///dev/ttyACM0"),
        (
            "serial:///dev/serial/by-id/usb-Plantar_L-if00",
            "serial:///dev/serial/by-id/usb-Plantar_L-if00",
        ),
    ],
)
def test_insole_names_become_urls(given: str, url: str) -> None:
    cfg = _load(f'[insoles.left]\nurl = "{given}"\n')
    assert cfg.insoles["left"].url == url


def test_env_overrides_keys_and_are_typed() -> None:
    env = {
        "PLANTAR_DASHBOARD__PORT": "8080",
        "PLANTAR_RECORDING__AUTOSTART": "false",
        "PLANTAR_INSOLES__LEFT__URL": "serial:///dev/ttyACM3",
        "PLANTAR_ATHLETE__NAME": "Ana",  # not TOML: taken as a string
        "PLANTAR_HOME": "/ignored",  # single underscore: not an override
    }
    cfg = _load('[insoles.left]\nurl = "Plantar-L"\n[dashboard]\nport = 8000\n', env)
    assert cfg.dashboard.port == 8080
    assert cfg.recording.autostart is False
    assert cfg.insoles["left"].url == "serial:///dev/ttyACM3"
    assert cfg.athlete.name == "Ana"
    assert "PLANTAR_DASHBOARD__PORT" in cfg.overrides and "PLANTAR_HOME" not in cfg.overrides


def test_allowed_hosts_reach_the_dashboard_guard() -> None:
    """dashboard.allowed_hosts (a reverse proxy's name) is let in by the origin guard; a
    name not listed still is not."""
    from fastapi.testclient import TestClient

    from dashboard.app import create_app
    from hardware.layout import load_layout
    from live.hub import LiveHub
    from plantar.run_command import runtime_options

    toml = '[insoles]\nleft = "sim://"\nright = "sim://"\n'
    cfg = _load(toml + '[dashboard]\nallowed_hosts = "treadmill1.lab, pi.example"\n', {})
    assert cfg.dashboard.allowed_host_names() == ("treadmill1.lab", "pi.example")
    options = runtime_options(cfg)
    layouts = {f: load_layout("plantar-ref", foot=f) for f in ("left", "right")}
    app = create_app(LiveHub(layouts), None, allowed_hosts=options.allowed_hosts)
    with TestClient(app, base_url="http://treadmill1.lab") as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health", headers={"host": "evil.example"}).status_code == 403


# --- errors: one test per kind, each naming the key ---------------------------------------


def test_error_toml_syntax_names_line() -> None:
    msg = _error("[dashboard]\nport = \n")
    assert msg.startswith("t.toml: invalid TOML") and "line 2" in msg


def test_error_unknown_key_suggests_the_right_one() -> None:
    msg = _error("[dashboard]\nprot = 80\n")
    assert "dashboard.prot: unknown key" in msg and "dashboard.port" in msg


def test_error_unknown_section() -> None:
    assert "storge: unknown key; did you mean storage?" in _error("[storge]\ndir = '/x'\n")


def test_error_wrong_type() -> None:
    assert 'dashboard.port: must be an integer from 1 to 65535, got "eighty"' in _error(
        '[dashboard]\nport = "eighty"\n'
    )


def test_error_bool_expected() -> None:
    assert 'recording.autostart: must be true or false, got "yes"' in _error(
        '[recording]\nautostart = "yes"\n'
    )


def test_error_out_of_range() -> None:
    assert "dashboard.port: must be an integer from 1 to 65535, got 70000" in _error(
        "[dashboard]\nport = 70000\n"
    )


def test_error_section_not_a_table() -> None:
    assert "t.toml: storage: must be a table" in _error("storage = 3\n")


def test_error_missing_required_key() -> None:
    assert "insoles.left.url: missing" in _error('[insoles.left]\nlayout = "plantar-ref"\n')


def test_error_unknown_transport() -> None:
    msg = _error('[insoles.right]\nurl = "usb://x"\n')
    assert "insoles.right.url: unknown transport scheme 'usb'" in msg


def test_error_malformed_url() -> None:
    assert "insoles.left.url" in _error('[insoles.left]\nurl = "serial://ttyACM0"\n')


def test_error_unknown_layout_suggests() -> None:
    msg = _error('[insoles.left]\nurl = "sim://"\nlayout = "plantar-rf"\n')
    assert "insoles.left.layout: unknown layout 'plantar-rf'; did you mean plantar-ref?" in msg


def test_error_relative_storage_dir() -> None:
    assert "storage.dir: must be an absolute path" in _error('[storage]\ndir = "recordings"\n')


def test_error_bad_host() -> None:
    assert "dashboard.host" in _error('[dashboard]\nhost = "my pi"\n')


def test_error_short_token() -> None:
    assert "dashboard.token: must be at least 12" in _error('[dashboard]\ntoken = "abc"\n')


def test_error_same_device_twice() -> None:
    text = '[insoles.left]\nurl = "Plantar-L"\n[insoles.right]\nurl = "Plantar-L"\n'
    assert "insoles.right.url: is the same device" in _error(text)


def test_error_from_env_names_the_variable() -> None:
    msg = _error("", {"PLANTAR_DASHBOARD__PORT": "0"})
    assert msg.startswith("PLANTAR_DASHBOARD__PORT (dashboard.port): must be an integer")


def test_error_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; create one with: plantar config init"):
        find_config(tmp_path / "nope.toml")


def test_error_no_insoles_when_required(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[athlete]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"insoles: no insole configured"):
        load_config(path, env={}, require_insoles=True)


# --- the CLI ---------------------------------------------------------------------------


def test_config_init_show_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "etc" / "plantar.toml"
    assert main(["config", "init", "--path", str(path), "--insoles", "sim"]) == 0
    assert path.stat().st_mode & 0o077 == 0  # holds the token
    assert main(["config", "init", "--path", str(path)]) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    assert main(["config", "check", "--config", str(path)]) == 0
    capsys.readouterr()
    assert main(["config", "show", "--config", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dashboard"]["token"] == "***"
    assert shown["insoles"]["left"]["url"].startswith("sim://")


def test_config_check_fails_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.toml"
    path.write_text('[insoles.left]\nurl = "sim://"\n[dashboard]\nport = -1\n')
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"plantar: error: {path}: dashboard.port: must be an integer from 1 to 65535, got -1"
    )


def test_replay_of_a_session_id_is_accepted_as_the_replay_transport_accepts_it() -> None:
    url = "replay://20250101-120000-ab12?foot=left&speed=0"
    assert _load(f'[insoles.left]\nurl = "{url}"\n').insoles["left"].url == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sim://?rate=0", ("rate",)),
        ("ble://name/Plantar-L?radio=wifi", ("radio",)),
        ("serial:///dev/ttyACM0?baud=fast", ("baud",)),
        ("replay:///tmp/x.plantar-bytes?foot=left", ("unknown parameter", "foot")),
    ],
)
def test_url_rules_are_the_transports_own(url: str, words: tuple[str, ...]) -> None:
    msg = _error(f'[insoles.left]\nurl = "{url}"\n')
    assert "insoles.left.url" in msg and all(w in msg for w in words), msg
