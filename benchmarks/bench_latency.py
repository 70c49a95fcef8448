"""Live-path benchmark: bridge receive → websocket client receive, and a stalled client.

Two simulated insoles at 200 Hz on pseudo-terminals, the real bridge, analysis,
recorder and dashboard, a reading websocket client in another process on loopback::

    python benchmarks/bench_latency.py                       # 30 s, latency bar p99 <= 25 ms
    python benchmarks/bench_latency.py --duration 120 --stalled 1
        # a client that never reads during a 2-minute recording: no recorded frame lost,
        # memory flat

Prints one JSON object; exits 1 if a bar is missed. ``plantar bench`` can call
:func:`dashboard.latency.measure_live` directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.latency import measure_live

P99_BAR_MS = 25.0
RSS_GROWTH_BAR_MB = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--rate", type=float, default=200.0, help="Hz per insole")
    parser.add_argument("--stalled", type=int, default=0, help="clients that never read")
    args = parser.parse_args()
    report = measure_live(args.duration, rate_hz=args.rate, stalled_clients=args.stalled)
    dropped = sum((report["recording"]["frames_dropped_by_recorder"] or {}).values())
    growth = report["rss_mb"]["growth_second_half"] or 0.0
    report["bars"] = {
        "p99_latency_le_25ms": (report["latency_ms"]["p99"] or 1e9) <= P99_BAR_MS,
        "zero_recorded_frames_lost": dropped == 0,
        "rss_flat_within_10mb": growth <= RSS_GROWTH_BAR_MB,
    }
    print(json.dumps(report))
    return 0 if all(report["bars"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
