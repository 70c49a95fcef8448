"""Crash safety: record from ``sim://``, SIGKILL the recorder at 20 random points, restart.

Each child process is the real recording path: two ``sim://`` insoles (``loss=0``, so
every frame the simulator makes is expected; fixed seeds per run) →
:class:`firmware_bridge.bridge.Bridge` (decoding, sequence accounting, clock mapping) →
:meth:`store.recorder.Recorder.write_frames` and ``write_event``, the calls the live
engine makes for every batch and event. The child's consumer prints every batch it handed
to the recorder: foot,
first and last ``seq``, ``time.monotonic()`` after the hand-over, ``time.time()`` just
before and after it (the recorder stamps ``t_host_s`` in between) and a digest of the
batch's arrival times (``t_arrival_s``).

The parent kills each child at a random moment of one of five phases (:data:`PHASES`,
shuffled; the moment within the phase random): start-up (the recorder's recovery of the
previous, killed session), the first second after connecting (the clock's provisional
seconds), recording, finalising, or not at all (a clean exit). The next child's start
recovers the previous session; after the last kill the parent recovers too. Then, for
every session:

* every frame handed to the recorder more than 1 s before its kill is on disk, and the
  frames on disk are exactly ``seq`` 0, 1, 2, ... with nothing refused;
* ``seq``, ``t_device_us``, ``device_id``, ``pressure_kpa`` and ``shear_kpa`` are
  bit-identical to what the *simulator* sent, regenerated here independently from the
  same seed and parameters (:func:`hardware.sim.insole.make_pair`) and converted as the
  protocol defines (counts through the layout's calibration, shear centi-kPa x 0.01);
* ``t_arrival_s`` is bit-identical to what the bridge handed on, ``t_host_s`` lies within
  the hand-over of its batch, and ``t_s`` is the bridge's clock model replayed over the
  simulator's device times and those arrivals (what finalise does), bit for bit, whether
  the session was finalised or recovered;
* zero corrupt sessions: every session directory (also those of children killed before
  they reported an id) is finalised or recovered, has no raw streams left, reads back,
  reports no gaps, and its catalog row agrees with ``session.json`` and the files.

The sim runs ``SPEED`` times faster than real time, so the 20 kills take little time; at
that speed ``t_s`` is not meaningful as time (the clock model cannot follow a device
running 10x fast), but it is compared bit for bit all the same. The bar of the first
seconds (:func:`test_sigkill_two_seconds_after_the_link_starts`) runs at real time, and
there the recovered times are checked against the simulator's continuous ground truth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from base import paths
from firmware_bridge.clock_replay import replay_session_times
from store.catalog import Catalog
from store.recovery import recover_interrupted
from store.session import list_session_dirs, read_session_json
from tests.store.conftest import REPO

KILLS = 20
RATE_HZ = 100  # device sampling rate
SPEED = 10  # sim time factor: 1,000 frames per wall second and foot
LAYOUT = "plantar-ref"
#: Phases the kills are spread over (shuffled): start-up (recovery of the previous
#: session), the first second after connecting (provisional clock times), recording,
#: finalising, none (a clean exit; the next start must leave the
#: session alone).
PHASES = ["startup"] * 4 + ["settle"] * 2 + ["recording"] * 9 + ["finalise"] * 3 + ["exit"] * 2

CHILD = """
import asyncio, hashlib, sys, time
from firmware_bridge.bridge import Bridge
from store.recorder import Recorder
from store.session import FootLayout, SessionMeta

left_url, right_url, duration, layout = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]


class Reported:
    # hands each batch and event to the recorder as the live engine does, and reports it
    def __init__(self, rec):
        self.rec = rec

    def on_frames(self, frames):
        before = time.time()
        ok = self.rec.write_frames(frames)
        after = time.time()
        digest = hashlib.blake2b(frames.t_arrival_s.tobytes(), digest_size=16).hexdigest()
        print("B", frames.foot, int(frames.seq[0]), int(frames.seq[-1]), repr(time.monotonic()),
              repr(before), repr(after), int(bool(ok)), digest, repr(float(frames.t_s[-1])),
              flush=True)

    def on_event(self, event):
        print("E", event.kind, event.foot, flush=True)
        lost = event.kind in ("gap", "duplicate")
        value = float(event.lost_frames) if lost else event.duration_s
        return self.rec.write_event(
            event.kind, event.t_s, foot=event.foot, value=value, seq=event.seq, detail=event.detail
        )


feet = {foot: FootLayout(layout, 42.0) for foot in ("left", "right")}
print("R", flush=True)  # next: recovery of the previous session, then the new one
rec = Recorder(SessionMeta(athlete="crash", feet=feet))
rec.start()
print("S", rec.session_id, flush=True)


async def main():
    bridge = Bridge(left_url, right_url, consumers=[Reported(rec)])
    await bridge.connect()
    print("C", repr(time.monotonic()), flush=True)
    for foot, stream in bridge.streams.items():  # ground truth: true time 0 on this clock
        print("T", foot, repr(stream.transport.monotonic_s_at(0.0)), flush=True)
    await bridge.run(duration_s=duration)


asyncio.run(main())
print("F", flush=True)  # finalising
rec.stop()
print("D", flush=True)
"""


@dataclass
class Handed:
    """One batch the child handed to the recorder."""

    foot: str
    first: int
    last: int
    mono: float
    before: float
    after: float
    ok: bool
    digest: str
    t_s: float  # the (provisional) session time of the batch's last frame, as handed on


@dataclass
class Run:
    phase: str
    seeds: dict[str, int]
    session: str | None = None
    marks: set[str] = field(default_factory=set)
    handed: list[Handed] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # lines of the child's output cut short
    connected_at: float = float("nan")  # monotonic
    killed_at: float = float("inf")  # monotonic; inf: not killed (clean exit)
    true_zero: dict[str, float] = field(default_factory=dict)  # foot -> monotonic s
    truth: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # t_s, true
    speed: float = SPEED
    rate_hz: int = RATE_HZ

    @property
    def finished(self) -> bool:
        return "D" in self.marks


def _url(run: Run, foot: str) -> str:
    return (
        f"sim://?foot={foot}&layout={LAYOUT}&rate={run.rate_hz}&seed={run.seeds[foot]}&loss=0"
        f"&speed={run.speed:g}"
    )


def _run_and_kill(
    index: int, phase: str, rng: random.Random, env: dict[str, str], **kw: float
) -> Run:
    run = Run(phase, {"left": 1000 + index, "right": 2000 + index}, **kw)  # type: ignore[arg-type]
    duration = rng.uniform(2.5, 3.5)
    if phase == "link+2s":  # killed 2 s after both links stream, however late that is
        duration = 60.0
    urls = [_url(run, foot) for foot in run.seeds]
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *urls, f"{duration}", LAYOUT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    seen = {mark: threading.Event() for mark in "RSCBFD"}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if not line.endswith("\n") or not parts or (parts[0] == "B" and len(parts) != 10):
                run.cut.append(line)  # the last line, cut short by the kill
                continue
            if parts[0] == "B":
                foot, first, last, mono, before, after, ok, digest, t_s = parts[1:]
                run.handed.append(
                    Handed(
                        foot,
                        int(first),
                        int(last),
                        float(mono),
                        float(before),
                        float(after),
                        ok == "1",
                        digest,
                        float(t_s),
                    )
                )
                if {h.foot for h in run.handed} >= set(run.seeds):
                    seen["B"].set()  # both links stream (one may start well after the other)
            elif parts[0] == "E":
                run.events.append(parts[1])
            elif parts[0] == "T":
                run.true_zero[parts[1]] = float(parts[2])
            elif parts[0] in seen:
                if parts[0] == "S":
                    run.session = parts[1]
                elif parts[0] == "C":
                    run.connected_at = float(parts[1])
                run.marks.add(parts[0])
                seen[parts[0]].set()
        for event in seen.values():  # the child is gone: nobody waits any longer
            event.set()

    reader = threading.Thread(target=read)
    reader.start()
    if phase == "startup":  # the recovery of the previous session, or creating this one
        seen["R"].wait(60)
        time.sleep(rng.uniform(0.0, 0.15))
    elif phase == "settle":  # the clock's first 5 s of device time (0.5 s at SPEED 10)
        seen["C"].wait(60)
        time.sleep(rng.uniform(0.0, 1.0))
    elif phase == "link+2s":  # the bar: 2 s after both links started streaming
        seen["B"].wait(60)
        time.sleep(2.0)
    elif phase == "recording":  # at least 1.1 s after both feet's first frames were handed on
        seen["B"].wait(60)
        time.sleep(rng.uniform(1.1, 2.5))
    elif phase == "finalise":
        seen["F"].wait(60)
        time.sleep(rng.uniform(0.0, 0.15))
    if phase != "exit" and proc.poll() is None:
        run.killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(60)
    reader.join()
    assert len(run.cut) <= (run.killed_at < float("inf")), f"run {index}: output {run.cut}"
    assert run.killed_at < float("inf") or (run.finished and proc.returncode == 0), (
        f"run {index} ({phase}): the child failed (exit code {proc.returncode})"
    )
    return run


def simulator_sent(foot: str, seed: int, n: int, rate_hz: int = RATE_HZ) -> dict[str, np.ndarray]:
    """The first ``n`` frames the ``sim://`` insole of ``foot`` and ``seed`` sends (wire
    values), regenerated independently of the transport with the parameters of :func:`_url`."""
    from hardware.sim.insole import (
        DEFAULT_LEFT_IMPERFECTIONS,
        DEFAULT_RIGHT_IMPERFECTIONS,
        make_pair,
    )

    imperfections = tuple(
        dataclasses.replace(i, loss_probability=0.0, burst_probability=0.0)
        for i in (DEFAULT_LEFT_IMPERFECTIONS, DEFAULT_RIGHT_IMPERFECTIONS)
    )
    pair = make_pair(
        LAYOUT, imperfections=imperfections, sampling_rate_hz=rate_hz, seed=seed, device_ids=(1, 2)
    )
    insole = pair[0] if foot == "left" else pair[1]
    block = insole.samples(n)
    assert not block.lost.any()
    return {
        "seq": block.seq,
        "t_device_us": block.t_device_us,
        "device_id": np.full(n, insole.device_id, dtype=np.int32),
        "counts": block.pressure_counts,
        "centi_kpa": block.shear_centi_kpa.reshape(n, -1),
        "sim_pressure_kpa": block.measured_pressure_kpa,
        "calibration": insole.calibration,
        "t_true_s": block.t_true_s,
    }


def _digest(values: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16).hexdigest()


def _check_foot(directory: Path, foot: str, run: Run) -> tuple[int, int]:
    """Check one foot of a killed run's session; returns (frames on disk, frames required)."""
    name = f"{directory.name} {foot} ({run.phase})"
    handed = [h for h in run.handed if h.foot == foot]
    assert all(h.ok for h in handed), f"{name}: the recorder refused frames"
    assert [h.first for h in handed] == [0, *(h.last + 1 for h in handed[:-1])][: len(handed)], (
        f"{name}: the bridge did not hand on every frame the simulator sent, in order"
    )
    required = [h for h in handed if h.mono < run.killed_at - 1.0 or run.finished]
    need = required[-1].last + 1 if required else 0
    path = directory / f"{foot}.parquet"
    if not path.exists():
        assert need == 0, f"{name}: no file, but {need} frames were handed over > 1 s before"
        return 0, 0
    table = pq.read_table(path)
    n = table.num_rows
    late = run.killed_at - required[-1].mono if required else 0.0
    assert n >= need, (
        f"{name}: {n} frames on disk, {need} were handed over more than 1 s before the kill "
        f"(the last of them {late:.2f} s before)"
    )
    if n == 0:
        return 0, need
    seq = table.column("seq").to_numpy()
    assert np.array_equal(seq, np.arange(n)), f"{name}: seq on disk is not 0..{n - 1}"
    # what the simulator sent, bit for bit
    sent = simulator_sent(foot, run.seeds[foot], n, run.rate_hz)
    pressure = table.column("pressure_kpa").combine_chunks().flatten().to_numpy()
    shear = table.column("shear_kpa").combine_chunks().flatten().to_numpy().reshape(n, -1)
    assert np.array_equal(seq, sent["seq"])
    assert np.array_equal(table.column("t_device_us").to_numpy(), sent["t_device_us"]), name
    assert np.array_equal(table.column("device_id").to_numpy(), sent["device_id"]), name
    expected_pressure = sent["calibration"].to_kpa(sent["counts"]).astype(np.float32)
    assert pressure.tobytes() == expected_pressure.tobytes(), f"{name}: pressure differs"
    assert pressure.tobytes() == sent["sim_pressure_kpa"].astype(np.float32).tobytes()
    expected_shear = sent["centi_kpa"].astype(np.float32) * np.float32(0.01)
    assert shear.tobytes() == expected_shear.tobytes(), f"{name}: shear differs"
    assert np.array_equal(np.rint(shear * 100.0).astype(np.int16), sent["centi_kpa"])
    # what the bridge handed on: arrival times bit for bit, t_host_s stamped during the
    # hand-over; t_s the clock fit replayed over what is on disk, as a normal finalise does
    t_s = table.column("t_s").to_numpy()
    t_host = table.column("t_host_s").to_numpy()
    arrival = table.column("t_arrival_s").to_numpy()
    for h in handed:
        if h.last >= n:
            assert h.mono >= run.killed_at - 1.0, f"{name}: batch {h.first}..{h.last} missing"
            continue
        rows = slice(h.first, h.last + 1)
        assert _digest(arrival[rows]) == h.digest, f"{name}: arrival of {h.first}..{h.last}"
        assert np.all((t_host[rows] >= h.before) & (t_host[rows] <= h.after)), (
            f"{name}: t_host_s of {h.first}..{h.last} outside its hand-over"
        )
    replayed = replay_session_times(sent["t_device_us"], arrival)
    assert t_s.tobytes() == replayed.tobytes(), f"{name}: t_s is not the settled clock fit"
    assert np.all(np.diff(t_s) >= 0), f"{name}: t_s steps back"
    run.truth[foot] = (t_s, run.true_zero.get(foot, np.nan) + sent["t_true_s"] / run.speed)
    return n, need


def _check_intact(directory: Path, catalog: dict[str, dict]) -> dict:
    """Zero corrupt sessions: finalised or recovered, readable, indexed as on disk."""
    info = read_session_json(directory)
    assert info["status"] in ("finalised", "recovered"), directory.name
    assert not list(directory.glob("*.arrows")), f"{directory.name}: raw streams left"
    assert not list(directory.glob("*.tmp")), f"{directory.name}: temporary files left"
    rows = {}
    for parquet in directory.glob("*.parquet"):
        rows[parquet.stem] = pq.read_table(parquet).num_rows
    summary = info.get("summary", {})
    assert summary.get("gap_frames", 0) == 0 and summary.get("dropped_frames", 0) == 0
    if "events" in rows:
        kinds = set(pq.read_table(directory / "events.parquet").column("kind").to_pylist())
        assert not kinds & {"gap", "duplicate", "queue_overflow"}, (directory.name, kinds)
    row = catalog.get(directory.name)
    assert row is not None, f"{directory.name}: not in the catalog"
    assert row["status"] == info["status"], directory.name
    assert (row["frames_left"] or 0) == rows.get("left", 0), directory.name
    assert (row["frames_right"] or 0) == rows.get("right", 0), directory.name
    return info


@pytest.mark.slow
def test_sigkill_at_twenty_random_points_loses_nothing_older_than_one_second(
    plantar_home: Path,
) -> None:
    rng = random.Random(int(os.environ.get("PLANTAR_CRASH_SEED", "20261121")))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(plantar_home)}
    started = time.monotonic()
    phases = list(PHASES)
    rng.shuffle(phases)
    runs = [_run_and_kill(i, phase, rng, env) for i, phase in enumerate(phases)]
    recover_interrupted()  # the restart after the last kill
    sessions = {d.name: d for d in list_session_dirs()}
    for entry in paths.sessions_dir().iterdir():
        if entry.name not in sessions:  # killed before its session.json: must hold nothing
            assert {f.name for f in entry.iterdir()} <= {".lock", "session.json.tmp"}, entry
    catalog = {r["id"]: r for r in Catalog().list_sessions()}
    for directory in sessions.values():  # including sessions of children that never said
        _check_intact(directory, catalog)
    checked = required = 0
    where: dict[str, int] = {}
    for run in runs:
        landed = "exit" if run.finished else max(run.marks, key="RSCFD".index, default="-")
        where[f"{run.phase}:{landed}"] = where.get(f"{run.phase}:{landed}", 0) + 1
        if run.session is None:
            continue
        assert run.session in sessions, f"session {run.session} ({run.phase}) vanished"
        assert not set(run.events) & {"gap", "duplicate"}, run.events
        for foot in ("left", "right"):
            n, need = _check_foot(sessions[run.session], foot, run)
            checked += n
            required += need
        if run.finished:
            assert read_session_json(sessions[run.session])["status"] == "finalised"
    killed_with_data = sum(
        1 for r in runs if not r.finished and any(h.mono < r.killed_at - 1.0 for h in r.handed)
    )
    held = [r.handed[0].mono - r.connected_at for r in runs if r.handed]
    print(
        f"\n{len(runs)} runs, {len(sessions)} sessions, kills by phase:last mark {where}; "
        f"{killed_with_data} killed with frames older than 1 s; {required} frames required, "
        f"{checked} checked bit for bit; {sum(len(r.cut) for r in runs)} output lines cut "
        f"by a kill; first frames handed on {min(held):.2f}-"
        f"{max(held):.2f} s after connecting; {time.monotonic() - started:.1f} s"
    )
    assert sum(r.session is not None for r in runs) >= KILLS // 2
    assert killed_with_data >= KILLS // 3, "too few kills while frames were being recorded"


#: Sampling rate of the real-time kills (Hz): 1 ms between samples, so the last sample of
#: a 10 ms chunk arrives at most ~1 ms after it was taken on either foot.
FIRST_SECONDS_RATE_HZ = 1000


def _left_right_error_ms(run: Run, handed: bool = False) -> float:
    """Largest |L - R| of (t_s - true time) at the same true instants (ms): of the times on
    disk, or (``handed``) of the provisional times the bridge handed on (batch ends)."""
    errors, truths = [], []
    for foot in ("left", "right"):
        t_s, true = run.truth[foot]
        if handed:
            last = np.array([h.last for h in run.handed if h.foot == foot and h.last < t_s.size])
            t_s = np.array([h.t_s for h in run.handed if h.foot == foot and h.last < t_s.size])
            true = true[last]
        errors.append(t_s - true)
        truths.append(true)
    (err_l, err_r), (true_l, true_r) = errors, truths
    both = (true_l >= true_r[0]) & (true_l <= true_r[-1])
    return float(np.max(np.abs(err_l[both] - np.interp(true_l[both], true_r, err_r)))) * 1e3


@pytest.mark.slow
def test_sigkill_two_seconds_after_the_link_starts(plantar_home: Path) -> None:
    """The bar of the first seconds: two real-time ``sim://`` insoles through the bridge
    into the recorder, SIGKILL 2 s after the link started, recovery. Every frame handed on
    more than 1 s before the kill is on disk, with ``t_s`` the settled clock fit (as after
    a normal finalise) and left and right aligned within 1 ms of the simulator's truth."""
    rng = random.Random(16)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTAR_HOME": str(plantar_home)}
    runs = [
        _run_and_kill(i, "link+2s", rng, env, speed=1.0, rate_hz=FIRST_SECONDS_RATE_HZ)
        for i in range(3)
    ]
    recover_interrupted()
    sessions = {d.name: d for d in list_session_dirs()}
    catalog = {r["id"]: r for r in Catalog().list_sessions()}
    for run in runs:
        assert run.session is not None and run.killed_at < float("inf"), run.marks
        directory = sessions[run.session]
        assert _check_intact(directory, catalog)["status"] == "recovered"
        for foot in ("left", "right"):
            _n, need = _check_foot(directory, foot, run)
            assert need > 0, f"{foot}: no frame was handed on more than 1 s before the kill"
        first = min(h.mono for h in run.handed) - run.connected_at
        error_ms = _left_right_error_ms(run)
        print(
            f"\n{run.session}: first frames handed on {first:.3f} s after connecting; on disk "
            f"{sum(len(t[0]) for t in run.truth.values())} frames; max |L-R| {error_ms:.3f} ms "
            f"(as handed on: {_left_right_error_ms(run, handed=True):.3f} ms)"
        )
        assert error_ms < 1.0
