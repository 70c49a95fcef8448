"""A demo shorter than the clock settle time records its frames, re-timed at finalise.

``plantar demo --duration 3`` recorded 0 frames while the bridge held the first 5 s of a
link in memory. Now every frame leaves the bridge with its arrival time, the recorder
stores it at once, and finalising replays the clock model over the stored device and
arrival times (``store/retime.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from firmware_bridge.clock import CLOCK_SETTLE_S
from firmware_bridge.clock_replay import replay_session_times
from store.session import list_session_dirs
from tests.store.conftest import run_cli

DURATION_S = 3.0
RATE_HZ = 200  # the demo's simulated insoles


def test_a_three_second_demo_records_from_the_first_frame(plantar_home: Path) -> None:
    assert DURATION_S < CLOCK_SETTLE_S  # the case that recorded nothing before
    proc = run_cli("demo", "--duration", f"{DURATION_S:g}", "--no-browser", "--port", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    per_foot = summary["frames_recorded_per_foot"]
    # frames from the first seconds are there (not 0 as before; a busy machine may take a
    # second or more to open the links, so no more than half a second is asked for)
    assert min(per_foot.values()) > RATE_HZ * 0.5, summary
    (directory,) = list_session_dirs()
    for foot in ("left", "right"):
        table = pq.read_table(directory / f"{foot}.parquet")
        assert table.num_rows == per_foot[foot]
        arrival = table.column("t_arrival_s").to_numpy()
        t_dev = table.column("t_device_us").to_numpy()
        t_s = table.column("t_s").to_numpy()
        assert np.all(np.isfinite(arrival)) and np.all(np.diff(arrival) >= 0)
        # t_s is the clock fit replayed over what is stored, not the provisional times
        assert t_s.tobytes() == replay_session_times(t_dev, arrival).tobytes()
        # from the link's first chunk on: the session timebase starts at the first arrival
        assert arrival[0] < 0.5 and t_s[0] < 0.5, (arrival[0], t_s[0])
