"""Push on finalise: ``plantar run`` sends each session to ``archive.to`` when it ends.

Every finalised session of the run (and every session recovered at start) is queued in
the persistent backlog (:mod:`store.archive_backlog`) first and pushed by a background
thread, at once and then every ``archive.retry_interval_s`` while some are still owed
(the network is down, the bucket unreachable). A stop pushes the last session once more,
waiting at most :data:`STOP_WAIT_S`; what is still owed is pushed by the next run, or by
``plantar archive`` by hand, and ``plantar doctor`` shows it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("plantar.archive")

#: How long a stopping service waits for its last push before leaving it to the backlog.
STOP_WAIT_S = 30.0


class ArchivePusher:
    """Background pushes of finalised sessions to ``cfg.archive.to`` with a backlog."""

    def __init__(self, cfg: Any, root: Path) -> None:
        from plantar.archive_command import s3_settings
        from store.archive_backlog import ArchiveBacklog
        from store.archive_fs import archive_key
        from store.session import list_session_dirs

        self.archive = cfg.archive
        self.settings = s3_settings(cfg.archive)
        self.root = root
        self.backlog = ArchiveBacklog()
        self.uri = archive_key(cfg.archive.to)  # the backlog's key, as push_sessions clears it
        self._seen = {p.name for p in list_session_dirs(root)}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="plantar-archive", daemon=True)

    def start(self, recovered: list[str]) -> ArchivePusher:
        """Queue the sessions recovered at start and begin pushing."""
        for session_id in recovered:
            self.backlog.add(session_id, self.uri)
        self._thread.start()
        return self

    def _queue_new_sessions(self) -> None:
        """Queue the sessions finalised since the last look (recordings of this run)."""
        from store.session import STATUS_FINALISED, list_session_dirs, read_session_json

        for directory in list_session_dirs(self.root):
            if directory.name in self._seen:
                continue
            try:
                status = read_session_json(directory).get("status")
            except (OSError, ValueError):
                continue
            if status == STATUS_FINALISED:
                self._seen.add(directory.name)
                self.backlog.add(directory.name, self.uri)

    def push_once(self) -> bool:
        """Push what is owed; True when the backlog is empty afterwards."""
        from analysis.archive_command import push_sessions
        from base.errors import PlantarError
        from store.archive_fs import open_target

        try:
            self._queue_new_sessions()
            owed = {e.session_id for e in self.backlog.pending(self.uri)}
            if not owed:
                return True
            target = open_target(self.uri, self.settings)
            report = push_sessions(target, with_steps=self.archive.steps, only=owed, root=self.root)
        except PlantarError as err:
            log.warning(
                "archive: %s (retried in %g s)",
                err,
                self.archive.retry_interval_s,
                extra={"fields": {"event": "archive_failed", "destination": self.uri}},
            )
            return False
        log.info(
            "archived %d session(s) to %s",
            len(report.archived),
            report.destination,
            extra={
                "fields": {
                    "event": "archived",
                    "destination": report.destination,
                    "sessions": ",".join(report.archived),
                    "bytes_sent": report.bytes_sent,
                }
            },
        )
        missing = owed - set(report.archived) - set(report.skipped)
        for session_id in missing:  # deleted from the store: nothing left to send
            if not (self.root / session_id).is_dir():
                self.backlog.done(session_id, self.uri)
        return not self.backlog.pending(self.uri)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.push_once()
            except Exception as err:  # a bug must not end the pushes of a running service
                log.error(
                    "archive: unexpected %s: %s",
                    type(err).__name__,
                    err,
                    extra={"fields": {"event": "archive_failed", "destination": self.uri}},
                )
            self._wake.wait(self.archive.retry_interval_s)
            self._wake.clear()

    def stop(self, last_session: str | None) -> None:
        """Queue the run's last session, push once more (bounded wait) and stop."""
        if last_session:
            try:
                self.backlog.add(last_session, self.uri)
            except Exception as err:  # the service must stop whatever the backlog does
                log.warning("archive backlog: %s", err)
        self._stop.set()
        self._wake.set()
        self._thread.join(STOP_WAIT_S)
        if not self._thread.is_alive():
            self.push_once()
