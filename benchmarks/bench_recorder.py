"""Benchmark: record a long session faster than real time, finalise it, report memory.

Records ``--duration-s`` (default 2 h) of two simulated insoles at ``--rate-hz`` (200) with
``--sensels`` (256) pressure sensels and 5 shear sites each, through the real
:class:`store.recorder.Recorder` (writer thread, bounded queue, fsync every 0.5 s), then
finalises to Parquet. The producer only waits when the queue is half full, so nothing is
dropped and the writer runs flat out. Frames carry arrival times (chunks of 5 frames, 2 ms
late) as the bridge's do, so finalising includes re-timing them (``store/retime.py``);
``--no-arrival-times`` leaves them out, for the ratio. Prints peak RSS (the bar: < 300 MB)
and the throughput as a multiple of the real-time data rate.

    PYTHONPATH=. python3 benchmarks/bench_recorder.py [--duration-s 7200] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=7200.0)
    parser.add_argument("--rate-hz", type=float, default=200.0)
    parser.add_argument("--sensels", type=int, default=256)
    parser.add_argument("--dir", help="data directory (default: a temporary one, removed)")
    parser.add_argument("--no-arrival-times", action="store_true", help="frames without them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    home = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="plantar-bench-"))
    os.environ["PLANTAR_HOME"] = str(home)
    from store.recorder import Recorder
    from store.session import FootLayout, SessionMeta
    from store.synthetic import synthetic_frames

    per_batch = int(args.rate_hz)  # one batch = 1 s of one foot
    n_batches = int(args.duration_s * args.rate_hz) // per_batch
    pool = {
        foot: [
            synthetic_frames(foot, k * per_batch, per_batch, n_sensels=args.sensels)
            for k in range(60)
        ]
        for foot in ("left", "right")
    }
    meta = SessionMeta(athlete="bench", feet={f: FootLayout("plantar-ref", 42.0) for f in pool})
    rec = Recorder(meta, catalog=False)
    rec.start()
    half = rec.max_queued_frames // 2
    t0 = time.perf_counter()
    for k in range(n_batches):
        for foot in ("left", "right"):
            base = pool[foot][k % 60]
            seq = base.seq + (k - k % 60) * per_batch
            arrival = None if args.no_arrival_times else (seq // 5 * 5 + 4) / args.rate_hz + 2e-3
            frames = dataclasses.replace(
                base,
                seq=seq,
                t_s=seq / args.rate_hz,
                t_device_us=np.rint(seq * 1e6 / args.rate_hz).astype(np.int64),
                t_arrival_s=arrival,
            )
            while rec.status().queued_frames > half:
                time.sleep(0.0005)
            if not rec.write_frames(frames):
                raise SystemExit("frames were refused: the benchmark must not drop")
    rec_stats = rec.status()
    t_recorded = time.perf_counter()
    rss_recording = peak_rss_mb()
    report = rec.stop()
    t_done = time.perf_counter()
    assert rec.error is None, rec.error
    directory = rec.directory
    assert directory is not None
    parquet_mb = sum(p.stat().st_size for p in directory.glob("*.parquet")) / 1e6
    raw_mb = report.frames * (args.sensels + 15) * 4 / 1e6
    result = {
        "duration_s": args.duration_s,
        "frames": report.frames,
        "frames_dropped": sum(rec_stats.frames_dropped.values()),
        "record_wall_s": round(t_recorded - t0, 1),
        "arrival_times": not args.no_arrival_times,
        "finalise_wall_s": round(t_done - t_recorded, 1),
        "finalise_x_realtime": round(args.duration_s / (t_done - t_recorded), 1),
        "record_x_realtime": round(args.duration_s / (t_recorded - t0), 1),
        "record_and_finalise_x_realtime": round(args.duration_s / (t_done - t0), 1),
        "peak_rss_recording_mb": round(rss_recording, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "raw_sample_mb": round(raw_mb, 1),
        "parquet_mb": round(parquet_mb, 1),
    }
    if not args.dir:
        shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    return 0 if result["peak_rss_mb"] < 300 else 1


if __name__ == "__main__":
    raise SystemExit(main())
