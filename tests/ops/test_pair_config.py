"""Saving a pair into plantar.toml (plantar.pair_config): comments and other keys kept,
validated before writing, atomic, mode kept, errors in one line, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("tomlkit")

from base.errors import ConfigError
from plantar.config import load_config
from plantar.pair_config import check_writable, save_pair

PAIR = {"left": "ble://D4:0A:1B:22:31:07", "right": "ble://D4:0A:1B:22:31:0C"}


def test_shorthand_urls_become_tables_and_the_rest_stays(tmp_path: Path) -> None:
    path = tmp_path / "plantar.toml"
    path.write_text(
        '# mine\ninsoles.left = "Plantar-L"  # old\n\n[insoles.right]\nurl = "Plantar-R"\n'
        "size_eu = 44\n\n[dashboard]\nport = 8123  # keep\n"
    )
    os.chmod(path, 0o640)
    save_pair(path, PAIR)
    text = path.read_text()
    assert text.startswith("# mine\n") and "port = 8123  # keep" in text
    cfg = load_config(path, env={})
    assert {f: i.url for f, i in cfg.insoles.items()} == PAIR
    assert cfg.insoles["right"].size_eu == 44 and cfg.dashboard.port == 8123
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plantar.toml"]  # no temporary left


def test_a_missing_file_is_created_from_the_commented_default(tmp_path: Path) -> None:
    path = tmp_path / "new" / "plantar.toml"
    save_pair(path, PAIR)
    assert "# plantar.toml: configuration of `plantar run`" in path.read_text()
    assert load_config(path, env={}).insoles["left"].url == PAIR["left"]
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the dashboard token


@pytest.mark.parametrize(
    ("text", "urls", "message"),
    [
        ("[insoles\n", PAIR, "not valid TOML"),
        ("[dashboard]\nport = 8000\n", {"left": "ble://X", "right": "ble://Y"}, "insoles.left"),
        ("[dashboard]\nport = 8000\n", {"left": PAIR["left"], "right": PAIR["left"]}, "same"),
    ],
)
def test_bad_input_leaves_the_file_alone(
    tmp_path: Path, text: str, urls: dict[str, str], message: str
) -> None:
    path = tmp_path / "plantar.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        save_pair(path, urls)
    assert "\n" not in str(err.value)
    assert path.read_text() == text


def test_unwritable_places_are_refused_before_and_at_saving(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    with pytest.raises(ConfigError, match="is not a directory"):
        check_writable(blocker / "plantar.toml")
    with pytest.raises(ConfigError, match="cannot write"):
        save_pair(blocker / "plantar.toml", PAIR)
    with pytest.raises(ConfigError, match="not a file"):
        check_writable(tmp_path)
    assert check_writable(tmp_path / "plantar.toml") == tmp_path / "plantar.toml"
