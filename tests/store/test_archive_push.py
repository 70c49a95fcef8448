"""Push on finalise: ``[archive]`` of plantar.toml, the backlog while the network is down,
``plantar doctor`` showing it, and the push once the S3 server answers.

The "network down" is an S3 endpoint on a port nobody listens on; the server that comes
back is moto's standalone S3 server (``s3_server.py``) over HTTP on localhost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from base.errors import ConfigError
from plantar.archive_command import s3_settings
from plantar.archive_push import ArchivePusher
from plantar.config import config_from_dict
from plantar.doctor_command import OK, SKIP, WARN, check_archive
from store.archive_backlog import ArchiveBacklog
from store.archive_fs import open_target
from store.archive_index import read_manifests
from tests.store.archive_helpers import record_sessions
from tests.store.s3_server import S3Server, _free_port, moto_server

URI = "s3://lab/pushed"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server with the bucket ``lab``."""
    with moto_server(tmp_path_factory.mktemp("moto")) as srv:
        srv.filesystem().create_dir("lab")
        yield srv


def _config(endpoint: str, **extra: Any) -> Any:
    archive = {
        "to": URI,
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "retry_interval_s": 1.0,
        **extra,
    }
    return config_from_dict({"archive": archive})


def test_archive_section_is_validated() -> None:
    assert config_from_dict({}).archive.to == ""
    cfg = _config("http://127.0.0.1:9")
    assert cfg.archive.to == URI and cfg.archive.steps
    assert cfg.to_dict()["archive"]["secret_access_key"] == "***"
    bad = [
        ({"to": "ftp://host/x"}, "archive.to: must be a directory or s3://bucket/prefix"),
        ({"to": "s3://"}, "archive.to: must be a directory or s3://bucket/prefix"),
        ({"to": "relative/dir"}, "archive.to: must be an absolute path"),
        ({"access_key_id": "AKIA"}, "set both access_key_id and secret_access_key"),
        ({"retry_interval_s": 0}, "archive.retry_interval_s: must be a number from 1"),
        ({"bucket": "x"}, "archive.bucket: unknown key"),
    ]
    for section, message in bad:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            config_from_dict({"archive": section})


def test_backlog_while_down_shown_by_doctor_then_pushed(
    server: S3Server, plantar_home: Path
) -> None:
    root = plantar_home / "sessions"
    record_sessions(root, 1, pi=0)  # an older session: not this run's, never pushed by it
    down = _config(f"http://127.0.0.1:{_free_port()}")
    assert check_archive(config_from_dict({})).status == SKIP
    assert check_archive(down).status == OK

    pusher = ArchivePusher(down, root)
    (new,) = record_sessions(root, 1, pi=1)  # finalised while the service runs
    assert not pusher.push_once()  # the session this run finalised waits in the backlog
    (entry,) = ArchiveBacklog().pending(URI)
    assert entry.session_id == new and entry.attempts == 1 and "archive to" in entry.last_error
    doctor = check_archive(down)
    assert doctor.status == WARN and "1 session(s) waiting" in doctor.detail

    up = _config(server.endpoint_url)
    back = ArchivePusher(up, root).start(recovered=[])  # a later run, the network back
    back.stop(None)
    assert ArchiveBacklog().pending(URI) == []
    assert check_archive(up).status == OK
    committed = read_manifests(open_target(URI, s3_settings(up.archive)))
    assert [m["session"] for m in committed] == [new]


def test_archive_errors_are_one_line(plantar_home: Path, tmp_path: Path) -> None:
    from tests.store.conftest import run_cli

    record_sessions(plantar_home / "sessions", 1)
    (tmp_path / "plantar.toml").write_text("")
    env = {
        "PLANTAR_HOME": str(plantar_home),
        "PLANTAR_CONFIG": str(tmp_path / "plantar.toml"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}",  # nobody listens
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    cases = [
        ((), "no destination; give --to DIR or --to s3://bucket/prefix"),
        (("--to", "ftp://host/x"), "unsupported destination 'ftp://host/x'"),
        (("--to", "s3://lab/x", "--no-steps"), "archive to s3://lab/x stopped (session "),
    ]
    for args, message in cases:
        r = run_cli("archive", *args, env=env)
        assert r.returncode != 0
        (line,) = r.stderr.strip().splitlines()
        assert line.startswith("plantar: error: ") and message in line, line
    assert "run it again to resume" in line


def test_plantar_run_pushes_the_session_it_ends(server: S3Server, tmp_path: Path) -> None:
    """``plantar run`` with two simulated insoles and ``[archive]`` to the S3 server: the
    session it finalises at the end of ``--duration`` is committed in the bucket."""
    import subprocess
    import sys

    from tests.store.conftest import REPO

    config = tmp_path / "plantar.toml"
    config.write_text(
        f"""
[insoles.left]
url = "sim://?seed=1"
[insoles.right]
url = "sim://?seed=2"
[athlete]
name = "push test"
[dashboard]
host = "127.0.0.1"
port = {_free_port()}
[archive]
to = "{URI}-run"
endpoint_url = "{server.endpoint_url}"
region = "us-east-1"
access_key_id = "testing"
secret_access_key = "testing"
"""
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(tmp_path / "home")}
    env.pop("JOURNAL_STREAM", None)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)  # the [archive] section alone says where and how
    run = subprocess.run(
        [sys.executable, "-m", "plantar.cli", "run", "--config", str(config), "--duration", "6",
         "--log-format", "logfmt"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    session_id = json.loads(run.stdout.strip().splitlines()[-1])["session_id"]
    assert session_id
    settings = s3_settings(_config(server.endpoint_url).archive)
    committed = read_manifests(open_target(f"{URI}-run", settings))
    assert [m["session"] for m in committed] == [session_id]
    assert "event=archived" in run.stderr
