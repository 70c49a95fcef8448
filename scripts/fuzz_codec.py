"""Long fuzz run of the wire decoder (the CI test runs 10^5 units; this runs 10^6+).

Usage::

    PYTHONPATH=. python scripts/fuzz_codec.py --iterations 1000000 [--seed 1] [--no-reference]

Each iteration is one corrupted frame (mutated, truncated, garbage, or structurally
changed with a valid CRC) followed by a good marker frame; see
``tests/firmware_bridge/test_fuzz.py`` for the generator and the checks. A watchdog ends
the process with exit code 3 if one batch takes longer than ``--batch-timeout`` seconds
(a hang); a failed check ends it with a traceback and exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.firmware_bridge.test_fuzz import run_fuzz

BATCH_UNITS = 100_000


def _hang(batch: int, timeout_s: float) -> None:
    print(f"fuzz_codec: batch {batch} took more than {timeout_s:.0f} s: hang", flush=True)
    os._exit(3)


def main() -> int:
    """Run the fuzz batches and print the summed decoder statistics."""
    parser = argparse.ArgumentParser(description="Fuzz the Plantar stream decoder.")
    parser.add_argument("--iterations", type=int, default=1_000_000, help="corrupted frames")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-reference", action="store_true", help="skip the Python reference")
    parser.add_argument("--batch-timeout", type=float, default=600.0, help="seconds per batch")
    args = parser.parse_args()
    totals: dict[str, int] = {}
    t0 = time.perf_counter()
    done = 0
    batch = 0
    while done < args.iterations:
        units = min(BATCH_UNITS, args.iterations - done)
        watchdog = threading.Timer(args.batch_timeout, _hang, (batch, args.batch_timeout))
        watchdog.daemon = True
        watchdog.start()
        stats = run_fuzz(args.seed * 1_000_003 + batch, units, reference=not args.no_reference)
        watchdog.cancel()
        for name, value in stats.items():
            if not name.startswith("last_"):
                totals[name] = totals.get(name, 0) + value
        done += units
        batch += 1
        print(
            f"{done:>10,} units, {time.perf_counter() - t0:6.1f} s, all checks passed", flush=True
        )
    print("totals:", ", ".join(f"{k}={v:,}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
