"""Where an archive goes: a local directory or an S3-compatible bucket, through pyarrow.fs.

``open_target("s3://bucket/prefix")`` or ``open_target("/mnt/lab/archive")`` gives an
:class:`ArchiveTarget`: a :class:`pyarrow.fs.FileSystem`, the base path on it and the URI
to show. S3 settings come from :class:`S3Settings` (the ``[archive]`` section of
``plantar.toml``) and else from the usual AWS variables: ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` (read by the AWS SDK itself). Credentials
are never taken from the command line.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from store.errors import StoreError

#: Seconds before an S3 connection or request is given up (the backlog retries later).
S3_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class S3Settings:
    """S3 endpoint, region and credentials; empty fields fall back to the AWS_* variables."""

    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""


@dataclass(frozen=True)
class ArchiveTarget:
    """An archive's file system, its base path on it (no trailing slash) and its URI."""

    fs: pafs.FileSystem
    base: str
    uri: str

    @property
    def is_local(self) -> bool:
        """True for a directory of this machine (renames are atomic there)."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        """``base/part/...``."""
        return "/".join([self.base, *parts])

    def put_bytes(self, path: str, data: bytes) -> None:
        """Write one object whole: a single PUT on S3; on disk a temporary file renamed
        over ``path``, so a reader sees the old or the new content, never a part."""
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
            return
        parent = path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def get_bytes(self, path: str) -> bytes | None:
        """The whole object, or None when it does not exist."""
        try:
            with self.fs.open_input_stream(path) as f:
                data: bytes = f.read()
            return data
        except FileNotFoundError:
            return None

    def copy_file(self, src: Path, path: str) -> int:
        """Upload a local file to ``path``; returns its size in bytes."""
        if self.is_local:
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        size = 0
        with open(src, "rb") as f, self.fs.open_output_stream(path) as out:
            while chunk := f.read(1 << 22):
                out.write(chunk)
                size += len(chunk)
        return size

    def list_files(self, directory: str, *, recursive: bool = False) -> list[pafs.FileInfo]:
        """Files under ``directory`` (none when it does not exist)."""
        selector = pafs.FileSelector(directory, allow_not_found=True, recursive=recursive)
        return [i for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]

    def delete_dir(self, directory: str) -> None:
        """Delete ``directory`` and everything under it (absent: nothing to do); on disk,
        also the partition directories it leaves empty."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(directory)
        if self.is_local:
            parent = Path(directory).parent
            while parent != Path(self.base) and Path(self.base) in parent.parents:
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent


def _env(env: Mapping[str, str], *names: str) -> str:
    return next((env[n] for n in names if env.get(n)), "")


def s3_options(settings: S3Settings, env: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments of :class:`pyarrow.fs.S3FileSystem` (settings first, then env)."""
    opts: dict[str, Any] = {
        "connect_timeout": S3_TIMEOUT_S,
        "request_timeout": S3_TIMEOUT_S,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    endpoint = settings.endpoint_url or _env(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    if endpoint:
        scheme, sep, rest = endpoint.partition("://")
        if sep:
            opts["scheme"] = scheme
            endpoint = rest
        opts["endpoint_override"] = endpoint.rstrip("/")
    region = settings.region or _env(env, "AWS_REGION", "AWS_DEFAULT_REGION")
    if region:
        opts["region"] = region
    if settings.access_key_id or settings.secret_access_key:
        if not (settings.access_key_id and settings.secret_access_key):
            raise StoreError(
                "archive: access_key_id and secret_access_key go together; set both in "
                "[archive] of plantar.toml, or neither and use AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY"
            )
        opts["access_key"] = settings.access_key_id
        opts["secret_key"] = settings.secret_access_key
    return opts


def archive_key(uri: str) -> str:
    """The one spelling of a destination under which the archive backlog keeps its
    sessions (the ``uri`` of :func:`open_target`, without touching the destination):
    ``~/lake``, ``file:///home/pi/lake`` and ``/home/pi/lake/`` are one archive, as are
    ``s3://b/p/`` and ``s3://b/p``."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme == "file":
        return str(Path(rest if sep else uri).expanduser().resolve())
    return f"{scheme}://{rest.strip('/')}" if scheme == "s3" else uri


def open_target(
    uri: str,
    settings: S3Settings | None = None,
    env: Mapping[str, str] | None = None,
    *,
    create: bool = True,
) -> ArchiveTarget:
    """The archive at ``uri``: ``s3://bucket[/prefix]`` or a local directory (created
    unless ``create`` is false: readers create nothing).

    Raises
    ------
    StoreError
        An unknown scheme, a bucket-less S3 URI or an S3 option pyarrow refuses.
    """
    env = os.environ if env is None else env
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme == "file":
        path = Path(rest if sep else uri).expanduser().resolve()
        try:
            if create:
                path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"archive: cannot create {path}: {err.strerror}") from None
        return ArchiveTarget(pafs.LocalFileSystem(), path.as_posix(), archive_key(uri))
    if scheme != "s3":
        raise StoreError(
            f"archive: unsupported destination {uri!r}; use a directory or s3://bucket/prefix"
        )
    base = rest.strip("/")
    if not base:
        raise StoreError(f"archive: {uri!r} names no bucket; use s3://bucket/prefix")
    try:
        fs = pafs.S3FileSystem(**s3_options(settings or S3Settings(), env))
    except (pa.ArrowInvalid, ValueError) as err:
        raise StoreError(f"archive: invalid S3 settings: {err}") from None
    return ArchiveTarget(fs, base, archive_key(uri))
