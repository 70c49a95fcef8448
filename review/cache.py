"""Per-session cache of review results under :func:`base.paths.cache_dir`.

``<cache>/review/<session id>/<ANALYSIS_VERSION>/`` holds ``review.json.gz`` (the JSON
part) and ``arrays.npz`` (the NumPy part). A cached entry is used only when its
``fingerprint`` (size and mtime of ``session.json`` and of every Parquet file of the
session) still matches, so a recovered or re-finalised session is recomputed; a new
analysis version is a new directory. Writes go through a temporary file and a rename,
so a crash never leaves a half-written entry; an unreadable entry is recomputed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from base import paths
from base.version import __version__
from review.session import SessionReview, compute_review

#: Bump when the review computation changes (with the package version, this keys the cache).
REVIEW_REVISION = 7  # 7: toe-off by sensor, plate reviews; 6: per-step curves; 5: tags
#: Fields of ``session.json``'s ``meta`` that only label a session: changing them
#: (``plantar tag``) keeps the cached review, whose labels are refreshed on load.
TAG_FIELDS = ("athlete", "shoe", "sock", "notes", "tags")
ANALYSIS_VERSION = f"{__version__}-r{REVIEW_REVISION}"


def cache_root() -> Path:
    """``<cache dir>/review``."""
    return paths.cache_dir() / "review"


def fingerprint(directory: Path) -> list[list[Any]]:
    """Size and mtime (ns) of the Parquet files of a session, and a hash of its
    ``session.json`` without the tag fields (a re-tagged session keeps its review)."""
    import hashlib

    out: list[list[Any]] = []
    for p in sorted(directory.iterdir()):
        if p.suffix == ".parquet":
            st = p.stat()
            out.append([p.name, st.st_size, st.st_mtime_ns])
    info = json.loads((directory / "session.json").read_text(encoding="utf-8"))
    meta = {k: v for k, v in (info.get("meta") or {}).items() if k not in TAG_FIELDS}
    text = json.dumps({**info, "meta": meta}, sort_keys=True)
    out.append(["session.json", hashlib.sha256(text.encode()).hexdigest()[:16]])
    return out


def refresh_tags(review: SessionReview, directory: Path) -> None:
    """Copy the current tags of ``session.json`` into ``review``."""
    from store.session import read_session_json

    meta = read_session_json(directory).get("meta") or {}
    sess = review.data["session"]
    for key in ("athlete", "shoe", "sock"):
        sess[key] = meta.get(key) or ""
    sess["notes"] = meta.get("notes") or ""


def entry_dir(session_id: str) -> Path:
    """Directory of one session's cache entry for the current analysis version."""
    return cache_root() / session_id / ANALYSIS_VERSION


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, np.floating):
        return _clean(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def load_cached(directory: Path) -> SessionReview | None:
    """The cached review of the session in ``directory``, or None (missing or stale)."""
    d = entry_dir(directory.name)
    try:
        with gzip.open(d / "review.json.gz", "rt", encoding="utf-8") as f:
            data = json.load(f)
        if data.get("cache", {}).get("fingerprint") != fingerprint(directory):
            return None
        with np.load(d / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError):
        return None
    return SessionReview(data, arrays)


def save(review: SessionReview, directory: Path) -> None:
    """Store ``review`` atomically (best effort: a read-only cache is not an error)."""
    d = entry_dir(directory.name)
    tmp = d.with_name(d.name + f".tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        review.data["cache"] = {"version": ANALYSIS_VERSION, "fingerprint": fingerprint(directory)}
        with gzip.open(tmp / "review.json.gz", "wt", encoding="utf-8") as f:
            json.dump(_clean(review.data), f)
        buf = io.BytesIO()
        np.savez_compressed(buf, **review.arrays)
        (tmp / "arrays.npz").write_bytes(buf.getvalue())
        shutil.rmtree(d, ignore_errors=True)
        os.replace(tmp, d)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def get_review(
    session: str | Path,
    *,
    root: Path | None = None,
    use_cache: bool = True,
    progress: Any = None,
) -> SessionReview:
    """The review of a session (id, unique id prefix, or its directory), from the cache
    when it is current, otherwise computed and cached."""
    directory = Path(session) if isinstance(session, Path) else _find(session, root)
    if use_cache:
        cached = load_cached(directory)
        if cached is not None:
            refresh_tags(cached, directory)
            return cached
    review = compute_review(directory, progress=progress)
    review.data = _clean(review.data)
    if use_cache:
        save(review, directory)
    else:
        review.data["cache"] = {"version": ANALYSIS_VERSION, "fingerprint": fingerprint(directory)}
    return review


def _find(session: str, root: Path | None) -> Path:
    from store.export import find_session

    return find_session(session, root)
