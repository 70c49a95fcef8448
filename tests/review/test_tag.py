"""``plantar tag``: fixes a session's labels in session.json and the catalog, keeps the
recording and the cached review, and refuses a session being recorded in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_tag_changes_labels_and_keeps_the_review(
    experiment: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from plantar.cli import main
    from review.cache import entry_dir, get_review
    from store.catalog import Catalog

    monkeypatch.setenv("PLANTAR_HOME", str(experiment["home"]))
    sid = experiment["ids"]["A2"]
    d: Path = experiment["root"] / sid
    get_review(d)  # cached
    cached = (entry_dir(sid) / "review.json.gz").stat().st_mtime_ns
    before = json.loads((d / "session.json").read_text())
    assert main(["tag", sid[:-1], "--shoe", "trail-2", "--note", "new insoles", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shoe"] == "trail-2" and out["sock"] == before["meta"]["sock"]
    after = json.loads((d / "session.json").read_text())
    assert after["meta"]["shoe"] == "trail-2" and after["meta"]["notes"] == "new insoles"
    assert after["summary"] == before["summary"]
    assert Catalog(experiment["home"] / "catalog.sqlite").get(sid)["shoe"] == "trail-2"
    review = get_review(d)
    assert review.data["session"]["shoe"] == "trail-2"
    assert (entry_dir(sid) / "review.json.gz").stat().st_mtime_ns == cached  # not recomputed
    assert main(["tag", sid, "--shoe", before["meta"]["shoe"]]) == 0


def test_tag_errors_are_one_line(experiment: dict, monkeypatch, capsys) -> None:
    from plantar.cli import main
    from store.session import hold_lock, release_lock

    monkeypatch.setenv("PLANTAR_HOME", str(experiment["home"]))
    sid = experiment["ids"]["B"]
    assert main(["tag", sid]) != 0
    assert main(["tag", "no-such-session", "--shoe", "x"]) != 0
    fd = hold_lock(experiment["root"] / sid)
    try:
        assert main(["tag", sid, "--shoe", "x"]) != 0
    finally:
        release_lock(fd)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("plantar: error: ") for e in err), err
    assert "being recorded" in err[2]
