"""``plantar run``: the service; bridge, recorder, analysis and dashboard for the insoles.

What it does, in order:

1. reads and validates ``plantar.toml`` (:mod:`plantar.config`);
2. finalises every session a power cut or crash interrupted
   (:func:`store.recovery.recover_interrupted`), one log record each;
3. builds the live runtime that ``plantar serve`` and ``plantar demo`` use
   (:class:`live.runtime.LiveRuntime`: bridge → recorder + analysis → dashboard)
   and serves the page at once;
4. connects the insoles in the background: an insole that is off, absent or not
   answering is waited for (``--retry-interval``, default 5 s; the page shows it as
   "waiting" with what is being looked for; one log record when waiting starts or its
   reason changes, one when they connect), and once both stream the recording starts
   when ``recording.autostart`` is true. ``--no-wait-for-insoles`` fails instead (exit 3);
   a configuration error (a malformed URL) fails at once either way (exit 2). With no
   insoles configured it waits for them to be paired on the dashboard's ``/pair`` page
   (:mod:`live.pairing`), which saves them to the configuration file and streams from
   them without a restart (a new pair can be chosen there at any time but a recording);
5. on SIGTERM (``systemctl stop``), Ctrl-C or after ``--duration``: stops the bridge,
   finalises the recording (if any: none is created while waiting) and exits 0. A
   status record is logged every ``--status-interval`` seconds;
6. with ``archive.to`` set, pushes each finalised session to the archive
   (:mod:`plantar.archive_push`): a background thread, a persistent backlog retried every
   ``archive.retry_interval_s`` while the network is down.

Logs are structured (:mod:`plantar.service_logging`): journald's native fields under
systemd, one ``key=value`` line on stderr elsewhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("plantar.run")


def register(sub: Any) -> None:
    """Add the ``run`` subcommand to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "run",
        help="run the logger for the configured insoles (what the service runs)",
        description=(
            "Recover the last interrupted session, then stream the insoles of plantar.toml "
            "through the bridge into the recorder, the live analysis and the dashboard. "
            "Stops cleanly (recording finalised) on SIGTERM, Ctrl-C or --duration."
        ),
    )
    p.add_argument("--config", type=Path, default=None, help="configuration file (plantar.toml)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--status-interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between status log records (default 60)",
    )
    p.add_argument(
        "--log-format",
        choices=("auto", "journal", "logfmt"),
        default="auto",
        help="auto: journald when started by systemd, else key=value lines on stderr",
    )
    p.add_argument(
        "--wait-for-insoles",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve the dashboard at once and keep trying to reach insoles that are off or "
        "absent, recording once both stream (default); --no-wait-for-insoles: fail (exit 3) "
        "when an insole does not answer",
    )
    p.add_argument(
        "--retry-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between attempts to reach insoles that do not answer (default 5)",
    )
    p.add_argument("--verbose", action="store_true", help="log debug records too")
    p.set_defaults(handler=run)


# --- structured logging -----------------------------------------------------------------


def insole_urls(cfg: Any) -> dict[str, str]:
    """Transport URL per foot; ``sim://`` URLs get their ``foot`` (and layout) filled in."""
    urls = {}
    for foot, ins in cfg.insoles.items():
        url = ins.url
        if ins.scheme == "sim":
            query = url.split("?", 1)[1] if "?" in url else ""
            keys = {kv.split("=", 1)[0] for kv in query.split("&") if kv}
            extra = [] if "foot" in keys else [f"foot={foot}"]
            if ins.layout and "layout" not in keys:
                extra.append(f"layout={ins.layout}")
            if extra:
                query = "&".join([q for q in (query, *extra) if q])
                url = f"sim://?{query}"
        urls[foot] = url
    return urls


def runtime_options(cfg: Any) -> Any:
    """The :class:`live.runtime.RuntimeOptions` for a configuration."""
    from analysis.alert_policy import PivotAlertPolicy
    from base.errors import ConfigError
    from live.runtime import RuntimeOptions
    from plantar.config import DEFAULT_LAYOUT

    layouts = {f: (i.layout or DEFAULT_LAYOUT, i.size_eu) for f, i in cfg.insoles.items()}
    layouts = layouts or {"left": (DEFAULT_LAYOUT, None)}  # none yet: paired on the page
    if len(set(layouts.values())) > 1:
        raise ConfigError(
            f"{cfg.source or 'plantar.toml'}: insoles.right.layout/size_eu: must equal the "
            "left insole's (the live view uses one layout and size for both feet)"
        )
    layout, size = next(iter(layouts.values()))
    a = cfg.alerts
    pivot_alert = PivotAlertPolicy(
        acclimatisation_steps=a.acclimatisation_steps,
        baseline_steps=a.pivot_baseline_steps,
        recent_steps=a.pivot_recent_steps,
        factor=a.pivot_factor,
    )
    return RuntimeOptions(
        host=cfg.dashboard.host,
        port=cfg.dashboard.port,
        token=cfg.dashboard.token or None,
        layout=layout,
        eu_size=size,
        pivot_alert=pivot_alert,
        allowed_hosts=cfg.dashboard.allowed_host_names(),
    )


def pairing_service(cfg: Any) -> Any:
    """The pairing page's service: Bluetooth LE insoles, saved to the configuration read
    (or, with none, to where ``plantar config init`` writes)."""
    from base.errors import ConfigError
    from live.pairing import PairingService
    from plantar.config_command import default_init_path
    from plantar.pair_config import check_writable, pair_saver

    path = cfg.source or default_init_path()
    try:  # said at start, in the journal, not only after a runner has scanned and pressed
        check_writable(path)
    except ConfigError as err:
        log.warning("the pairing page will not be able to save: %s", err)
    return PairingService(pair_saver(path), radio="bluez")


def session_meta(cfg: Any) -> dict[str, Any]:
    """Initial conditions of the sessions ``plantar run`` records."""
    r = cfg.recording
    return {
        "athlete": cfg.athlete.name,
        "shoe": r.shoe,
        "sock": r.sock,
        "treadmill_speed_kmh": r.treadmill_speed_kmh,
        "notes": r.notes,
        "source": "live",
    }


def recover_sessions(root: Path) -> list[dict[str, Any]]:
    """Finalise sessions interrupted by a power cut; one log record each."""
    from store.recovery import recover_interrupted

    reports = recover_interrupted(root)
    out = []
    for rep in reports:
        info = {"event": "recovered", "message": rep.message()}
        for name in ("session_id", "duration_s", "lost_at_end_s", "frames"):
            value = getattr(rep, name, None)
            if isinstance(value, int | float | str):
                info[name] = value
        log.warning("%s", rep.message(), extra={"fields": info})
        out.append(info)
    return out


def rss_mb() -> float:
    """Resident set size of this process (MB), from /proc (NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return float("nan")


def _status_fields(runtime: Any) -> dict[str, Any]:
    pipeline = runtime.pipeline
    st = pipeline.recording_status() if pipeline is not None else {}
    written = st.get("frames_written") or {}
    fields: dict[str, Any] = {
        "event": "status",
        "state": st.get("state", "idle"),
        "session_id": st.get("session_id") or "",
        "seconds_written": st.get("seconds_written", 0.0),
        "frames_written": sum(written.values()),
        "frames_dropped": sum((st.get("frames_dropped") or {}).values()),
        "frames_lost_link": sum((st.get("frames_lost_link") or {}).values()),
        "steps": sum((pipeline.steps_total if pipeline else {}).values()),
        "analysis_failed": getattr(pipeline, "analysis_failed", 0),
        "rss_mb": round(rss_mb(), 1),
    }
    if st.get("error"):
        fields["error"] = st["error"]
    waiting = runtime.waiting_for_insoles
    if waiting:
        fields["waiting_for"] = ",".join(waiting)
    return fields


def _status_loop(runtime: Any, stop: threading.Event, interval_s: float) -> None:
    while not stop.wait(interval_s):
        try:
            fields = _status_fields(runtime)
        except Exception:  # a status line must never end the service
            log.debug("status failed", exc_info=True)
            continue
        if fields.get("waiting_for"):
            log.info(
                "waiting for insoles: %s",
                fields["waiting_for"].replace(",", " and "),
                extra={"fields": fields},
            )
            continue
        log.info(
            "recording %s: %.0f s, %d frames, %d dropped, %d lost on the link, %d steps",
            fields["session_id"] or "(none)",
            fields["seconds_written"],
            fields["frames_written"],
            fields["frames_dropped"],
            fields["frames_lost_link"],
            fields["steps"],
            extra={"fields": fields},
        )


def run(args: argparse.Namespace) -> int:
    """Run the service until SIGTERM, Ctrl-C or ``--duration``; 0 on a clean stop."""
    from base.errors import ConfigError, PlantarError
    from base.kernels import kernel_mode
    from plantar import __version__
    from plantar.config import load_config

    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration must be > 0 s (got {args.duration:g})")
    if args.status_interval <= 0:
        raise ConfigError(f"--status-interval must be > 0 s (got {args.status_interval:g})")
    if not 0.1 <= args.retry_interval <= 3600:
        raise ConfigError(
            f"--retry-interval must be from 0.1 to 3600 s (got {args.retry_interval:g})"
        )
    from plantar.service_logging import setup_logging

    fmt = setup_logging(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    try:
        # waiting for insoles includes waiting for them to be paired on the page (/pair)
        cfg = load_config(args.config, require_insoles=not args.wait_for_insoles)
    except PlantarError as err:
        log.error("%s", err, extra={"fields": {"event": "config_error"}})
        raise
    cfg.apply_storage_env()
    urls = insole_urls(cfg)
    log.info(
        "plantar %s starting: config %s, insoles %s",
        __version__,
        cfg.source or "(defaults)",
        ", ".join(f"{f}={u}" for f, u in urls.items()),
        extra={
            "fields": {
                "event": "start",
                "version": __version__,
                "kernels": kernel_mode(),
                "config": str(cfg.source or ""),
                "log_format": fmt,
                "pid": os.getpid(),
                **{f"insole_{f}": u for f, u in urls.items()},
            }
        },
    )

    stop_requested = threading.Event()
    runtime: Any = None

    def on_sigterm(signum: int, _frame: Any) -> None:
        # systemctl stop: finish serving, then finalise the recording (below). uvicorn
        # re-raises the signal it caught once it has shut down; this handler absorbs it.
        stop_requested.set()
        if runtime is not None:
            runtime.server.stop()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    recovered: list[dict[str, Any]] = []
    status_stop = threading.Event()
    summary: dict[str, Any] = {}
    pusher: Any = None
    try:
        recovered = recover_sessions(cfg.sessions_dir(create=True))
        if cfg.archive.to:
            from plantar.archive_push import ArchivePusher

            pusher = ArchivePusher(cfg, cfg.sessions_dir()).start(
                [r["session_id"] for r in recovered if r.get("session_id")]
            )
        options = runtime_options(cfg)
        options.pairing = pairing_service(cfg)
        from dashboard.server import live_runtime

        runtime = live_runtime(options, urls=urls, meta=session_meta(cfg))
        runtime.start(
            record=cfg.recording.autostart,
            wait=args.wait_for_insoles,
            retry_s=args.retry_interval,
        )
        shown = runtime.url.split("?", 1)[0]
        log.info(
            "dashboard at %s%s",
            shown,
            " (token: dashboard.token of the configuration)" if runtime.token else "",
            extra={"fields": {"event": "dashboard", "url": shown}},
        )
        if not urls:
            log.warning(
                "no insoles configured: pair them at %spair",
                shown,
                extra={"fields": {"event": "unpaired", "url": f"{shown}pair"}},
            )
        status = threading.Thread(
            target=_status_loop,
            args=(runtime, status_stop, args.status_interval),
            name="plantar-status",
            daemon=True,
        )
        status.start()
        if not stop_requested.is_set() and runtime.fatal_error is None:
            runtime.serve(args.duration)
        if runtime.fatal_error is not None:  # waiting ended in an error a retry cannot fix
            raise runtime.fatal_error
    except PlantarError as err:
        log.error("%s", err, extra={"fields": {"event": "error", "kind": type(err).__name__}})
        raise
    finally:
        status_stop.set()
        if runtime is not None:
            runtime.close()
            summary = _summary(runtime, recovered)
            log.info(
                "stopped: session %s, %d frames recorded, %d lost",
                summary.get("session_id") or "(none)",
                summary["frames_recorded"],
                summary["frames_lost"],
                extra={"fields": {"event": "stop", "kernels": kernel_mode(), **_flat(summary)}},
            )
        if pusher is not None:
            pusher.stop(summary.get("session_id"))
        signal.signal(signal.SIGTERM, previous)
    if args.duration is not None:
        print(json.dumps(summary), flush=True)
    return 0


def _summary(runtime: Any, recovered: list[dict[str, Any]]) -> dict[str, Any]:
    rec = runtime.final_recording or {}
    written = rec.get("frames_written") or {}
    lost = sum((rec.get("frames_lost_link") or {}).values())
    dropped = sum((rec.get("frames_dropped") or {}).values())
    pipeline = runtime.pipeline
    return {
        "session_id": rec.get("session_id"),
        "frames_recorded": sum(written.values()),
        "frames_recorded_per_foot": written,
        "frames_lost": lost + dropped,
        "steps": rec.get("steps") or (dict(pipeline.steps_total) if pipeline else {}),
        "seconds_written": rec.get("seconds_written", 0.0),
        "recovered": [r.get("session_id") or r["message"] for r in recovered],
        "error": rec.get("error"),
        "rss_mb": round(rss_mb(), 1),
    }


def _flat(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not isinstance(v, dict | list) or v}
