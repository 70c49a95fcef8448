"""Fix a session's labels after the run (``plantar tag``, the review page): athlete, shoe,
sock and note, written to ``session.json`` (atomically, under the session lock) and to
the catalog. The recording and its cached review are kept: tags are not part of the
review's fingerprint (:mod:`review.cache`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from base.errors import PlantarError

#: Tag names, as given on the command line and to the page's API.
TAG_FIELDS = ("athlete", "shoe", "sock", "note")


def tag_session(directory: Path, **tags: str) -> dict[str, Any]:
    """Set the given tags (``note`` is stored as the session's ``notes``); returns the
    session's tags after the change."""
    from store.session import read_session_json, try_lock, write_json_atomic

    unknown = set(tags) - set(TAG_FIELDS)
    if unknown:
        raise PlantarError(f"unknown tag {sorted(unknown)[0]!r}; use {', '.join(TAG_FIELDS)}")
    with try_lock(directory) as free:
        if not free:
            raise PlantarError(
                f"session {directory.name} is being recorded; tag it after the run has ended"
            )
        info = read_session_json(directory)
        meta = info.setdefault("meta", {})
        for key, value in tags.items():
            meta["notes" if key == "note" else key] = value.strip()
        try:
            write_json_atomic(directory / "session.json", info)
        except OSError as err:
            raise PlantarError(
                f"cannot write {directory / 'session.json'}: {err.strerror}; check the "
                "permissions of the session directory"
            ) from None
    try:
        from store.catalog import open_catalog

        catalog = open_catalog()
        if catalog is not None:
            catalog.upsert_from_disk(directory)
    except (PlantarError, OSError):
        pass  # the catalog is an index rebuilt from session.json: never lose the tag over it
    return {
        "id": directory.name,
        **{k: meta.get(k) or "" for k in ("athlete", "shoe", "sock")},
        "note": meta.get("notes") or "",
    }
