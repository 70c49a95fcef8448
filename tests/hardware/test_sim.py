"""Sanity checks of the simulated insole against published running values.

Every check is computed from what the simulator emits (decoded bytes or measured arrays),
not from its parameters.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from base.errors import ConfigError
from base.wire.protocol import FOOT_LEFT, FOOT_RIGHT
from firmware_bridge.stream_decoder import StreamDecoder, unwrap_seq
from hardware.calibration import load_calibration
from hardware.layout import REGIONS, available_layouts, load_layout
from hardware.sim.gait_model import BLOB_NAMES, GaitParams, free_moment_nmm
from hardware.sim.ground_truth import read_ground_truth_jsonl, write_ground_truth_jsonl
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import SimulatedInsole, make_pair

RATE_HZ = 200
CONTACT_THRESHOLD_N = 40.0
FOREFOOT = ("MTH1", "MTH2-3", "MTH4-5")


@pytest.fixture(scope="module")
def layout():
    return load_layout("plantar-ref")


@pytest.fixture(scope="module")
def calibration(layout):
    return load_calibration(layout.calibration_id, layout.n_sensels)


def decode(insole: SimulatedInsole, data: bytes):
    decoder = StreamDecoder(insole.layout.n_sensels, insole.layout.n_shear)
    batch = decoder.feed(data)
    assert decoder.stats.rejected == 0
    return batch, decoder


def contacts(force_n: np.ndarray) -> list[tuple[int, int]]:
    """(first, last+1) sample indices of each complete contact in a force series."""
    on = (force_n > CONTACT_THRESHOLD_N).astype(np.int8)
    edges = np.diff(on)
    rises = np.flatnonzero(edges == 1) + 1
    falls = np.flatnonzero(edges == -1) + 1
    if rises.size == 0:
        return []
    falls = falls[falls > rises[0]]
    return list(zip(rises[: falls.size].tolist(), falls.tolist(), strict=True))


def sensed_force_n(pressure_kpa: np.ndarray, layout) -> np.ndarray:
    return (pressure_kpa * layout.sensel_area_mm2).sum(axis=1) * 1e-3


def cop_y_mm(pressure_kpa: np.ndarray, layout) -> np.ndarray:
    w = pressure_kpa * layout.sensel_area_mm2
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ layout.sensel_xy_mm[:, 1]) / w.sum(axis=1)


def region_of(layout, names) -> np.ndarray:
    return np.isin(layout.sensel_region, [REGIONS.index(n) for n in names])


@pytest.fixture(scope="module")
def decoded_pair(layout, calibration):
    """20 s of both feet through the codec, with the default imperfections minus loss."""
    imps = [
        Imperfections(
            clock_ppm=ppm, clock_offset_us=off, loss_probability=0.0, burst_probability=0.0
        )
        for ppm, off in ((30.0, 1_000_000), (-40.0, 5_000_000))
    ]
    left, right = make_pair(layout, calibration, imperfections=imps, seed=11)
    out = {}
    for insole in (left, right):
        batch, decoder = decode(insole, insole.encoded(20 * RATE_HZ))
        out[insole.foot] = (insole, batch, decoder, calibration.to_kpa(batch.pressure_counts))
    return out


def test_regions_match_layout_regions():
    assert BLOB_NAMES == REGIONS


def test_cadence_and_contact_time_in_running_range(decoded_pair, layout):
    n_steps = 0
    contact_s = []
    for _insole, batch, _dec, pressure in decoded_pair.values():
        steps = contacts(sensed_force_n(pressure, layout))
        n_steps += len(steps)
        contact_s += [(b - a) / RATE_HZ for a, b in steps]
        # stride time from consecutive heel strikes of the same foot
        assert batch.t_device_us.size == 20 * RATE_HZ
    duration_s = 20.0
    cadence_spm = n_steps / duration_s * 60.0
    assert 160.0 <= cadence_spm <= 200.0, cadence_spm
    assert 0.2 <= float(np.median(contact_s)) <= 0.3
    assert np.std(contact_s) > 0.0  # step-to-step variability exists


def test_forefoot_peak_pressure_and_vertical_force(decoded_pair, layout):
    insole, _batch, _dec, pressure = decoded_pair["left"]
    body_weight_n = insole.gait.body_weight_n
    forefoot = region_of(layout, FOREFOOT)
    force = sensed_force_n(pressure, layout)
    peaks_kpa, peaks_bw = [], []
    for a, b in contacts(force):
        peaks_kpa.append(pressure[a:b, forefoot].max())
        peaks_bw.append(force[a:b].max() / body_weight_n)
    assert 150.0 <= float(np.median(peaks_kpa)) <= 300.0, np.median(peaks_kpa)
    assert 2.0 <= float(np.median(peaks_bw)) <= 2.8, np.median(peaks_bw)


@pytest.mark.parametrize(
    ("strike", "band"),
    [("rearfoot", (0.0, 33.0)), ("midfoot", (34.0, 67.0)), ("forefoot", (68.0, 100.0))],
)
def test_strike_index_from_cop_at_first_contact(layout, calibration, strike, band):
    insole = SimulatedInsole(
        layout, calibration, gait=GaitParams(strike=strike), seed=5, start_phase_s=0.1
    )
    block = insole.samples(8 * RATE_HZ)
    pressure = block.measured_pressure_kpa
    cop = cop_y_mm(pressure, layout)
    first = [a for a, _b in contacts(sensed_force_n(pressure, layout))]
    assert len(first) >= 8
    strike_index = 100.0 * cop[first] / layout.foot_length_mm
    assert band[0] <= float(np.median(strike_index)) <= band[1], strike_index
    truth = np.array([s.strike_index_pct for s in insole.ground_truth])
    assert np.all((truth >= band[0]) & (truth <= band[1]))


def test_rearfoot_has_impact_peak_forefoot_does_not(layout, calibration):
    def first_local_max_phase(strike: str) -> float:
        insole = SimulatedInsole(
            layout, calibration, gait=GaitParams(strike=strike), imperfections=Imperfections.none()
        )
        block = insole.samples(2 * RATE_HZ)
        force = sensed_force_n(block.measured_pressure_kpa, layout)
        a, b = contacts(force)[0]
        f = force[a:b]
        maxima = np.flatnonzero((f[1:-1] > f[:-2]) & (f[1:-1] >= f[2:])) + 1
        return maxima[0] / (b - a)

    assert first_local_max_phase("rearfoot") < 0.2
    assert first_local_max_phase("forefoot") > 0.3


def late_stance_torque(block, layout) -> dict[int, float]:
    """Peak |Tz| per step in late stance, from the measured (noisy) shear and pressure."""
    pressure = block.measured_pressure_kpa.astype(np.float64)
    w = pressure * layout.sensel_area_mm2
    with np.errstate(invalid="ignore", divide="ignore"):
        cop = (w @ layout.sensel_xy_mm) / w.sum(axis=1)[:, None]
    tz = free_moment_nmm(
        block.measured_shear_kpa.astype(np.float64), layout.shear_xy_mm, layout.shear_area_mm2, cop
    )
    force = sensed_force_n(pressure, layout)
    out = {}
    for a, b in contacts(force):
        late = slice(a + (b - a) // 2, b)
        out[a] = float(np.nanmax(np.abs(tz[late])))
    return out


def test_fatigue_increases_pivot_torque_after_onset(layout, calibration):
    gait = GaitParams(fatigue_onset_s=6.0, fatigue_ramp_s=4.0)
    insole = SimulatedInsole(layout, calibration, gait=gait, seed=3)
    block = insole.samples(16 * RATE_HZ)
    per_step = late_stance_torque(block, insole.layout)
    t_step = np.array(list(per_step)) / RATE_HZ
    torque = np.array(list(per_step.values()))
    fresh = torque[t_step < 6.0]
    tired = torque[t_step > 10.5]
    assert fresh.size >= 5 and tired.size >= 5
    assert tired.mean() > 1.4 * fresh.mean()
    truth = insole.ground_truth
    fresh_gt = [s.pivot_torque_nmm for s in truth if s.fatigue_level == 0.0]
    tired_gt = [s.pivot_torque_nmm for s in truth if s.fatigue_level == 1.0]
    assert np.mean(tired_gt) > 1.4 * np.mean(fresh_gt)
    # MTH1 (medial forefoot) load grows too: per-step peak pressure
    mth1 = region_of(layout, ("MTH1",))
    pressure = block.measured_pressure_kpa
    peaks = np.array(
        [pressure[a:b, mth1].max() for a, b in contacts(sensed_force_n(pressure, layout))]
    )
    starts = np.array([a for a, _b in contacts(sensed_force_n(pressure, layout))]) / RATE_HZ
    assert peaks[starts > 10.5].mean() > 1.1 * peaks[starts < 6.0].mean()


def test_dead_sensel_reads_zero(layout, calibration):
    mth23 = np.flatnonzero(region_of(layout, ("MTH2-3",)))
    dead = int(mth23[len(mth23) // 2])
    imp = Imperfections(dead_sensel_indices=(dead,))
    insole = SimulatedInsole(layout, calibration, imperfections=imp, seed=2)
    block = insole.samples(2 * RATE_HZ)
    assert block.pressure_kpa[:, dead].max() > 100.0  # it is loaded...
    assert np.all(block.pressure_counts[:, dead] == 0)  # ...but reads nothing
    neighbours = mth23[mth23 != dead]
    assert block.pressure_counts[:, neighbours].max() > 0
    # the default picks one dead sensel from the seed
    default = SimulatedInsole(layout, calibration, seed=2)
    assert default.dead_sensels.size == 1
    assert np.all(default.samples(RATE_HZ).pressure_counts[:, default.dead_sensels] == 0)


def test_clock_drift_and_offset_show_in_device_timestamps(decoded_pair):
    for foot, ppm, offset_us in (("left", 30.0, 1_000_000), ("right", -40.0, 5_000_000)):
        insole, batch, _dec, _p = decoded_pair[foot]
        t_us = batch.t_device_us.astype(np.float64)
        seq = unwrap_seq(batch.seq).astype(np.float64)
        # device ticks are regular; true time runs (1 + ppm) slower than device time
        slope, intercept = np.polyfit(seq, t_us, 1)
        assert slope == pytest.approx(1e6 / RATE_HZ, rel=1e-9)
        assert intercept == pytest.approx(offset_us, abs=1.0)
        truth = insole.ground_truth
        hs_s = np.array([s.heel_strike_s for s in truth])
        hs_us = np.array([s.heel_strike_device_us for s in truth], dtype=np.float64)
        rate, offset = np.polyfit(hs_s * 1e6, hs_us, 1)
        assert (rate - 1.0) * 1e6 == pytest.approx(ppm, abs=0.5)
        assert offset == pytest.approx(offset_us, abs=2.0)
    # the two feet drift apart: 70 ppm over 20 s = 1.4 ms
    left, right = decoded_pair["left"][0], decoded_pair["right"][0]
    t = 20.0
    drift_us = (left.clock.device_us(t) - left.clock.device_us(0.0)) - (
        right.clock.device_us(t) - right.clock.device_us(0.0)
    )
    assert drift_us == pytest.approx(70e-6 * t * 1e6, abs=2)


def test_lost_frames_leave_sequence_gaps(layout, calibration):
    imp = Imperfections(loss_probability=0.02, burst_probability=0.005, burst_mean_frames=10)
    insole = SimulatedInsole(layout, calibration, imperfections=imp, seed=9)
    block = insole.samples(10 * RATE_HZ)
    data = insole.encode_block(block)
    batch, _ = decode(insole, data)
    seq = unwrap_seq(batch.seq)
    assert len(batch) == int((~block.lost).sum())
    assert block.lost.sum() > 20
    received = set(seq.tolist())
    missing = set(range(int(seq[0]), int(seq[-1]) + 1)) - received
    assert missing == set(block.seq[block.lost].tolist()) & set(
        range(int(seq[0]), int(seq[-1]) + 1)
    )
    gaps = np.diff(seq)
    assert gaps.max() > 3  # at least one burst
    assert np.all(gaps >= 1)


def test_no_loss_gives_contiguous_seq_and_info_messages(decoded_pair):
    insole, batch, decoder, _p = decoded_pair["right"]
    seq = unwrap_seq(batch.seq)
    assert np.all(np.diff(seq) == 1)
    assert np.all(batch.foot == FOOT_RIGHT) and np.all(batch.device_id == insole.device_id)
    infos = decoder.infos
    assert 19 <= len(infos) <= 21  # at start and once per device second
    assert infos[0] == insole.info
    assert infos[0].layout_id == "plantar-ref" and infos[0].sampling_rate_hz == RATE_HZ
    assert np.all(decoded_pair["left"][1].foot == FOOT_LEFT)


def test_deterministic_per_seed_and_independent_of_block_size(layout, calibration):
    def run(seed: int, blocks: list[int]) -> bytes:
        insole = SimulatedInsole(layout, calibration, seed=seed)
        return b"".join(insole.encoded(n) for n in blocks)

    a = run(4, [600])
    assert a == run(4, [600])
    assert a == run(4, [1, 99, 250, 250])
    assert a != run(5, [600])


def test_right_foot_is_mirrored(layout, calibration):
    left, right = make_pair(layout, calibration, imperfections=Imperfections.none(), seed=1)
    assert right.layout.foot == "right"
    mth1 = region_of(layout, ("MTH1",))
    sums = {}
    for insole in (left, right):
        block = insole.samples(4 * RATE_HZ)
        load = block.measured_pressure_kpa.sum(axis=0)
        x = insole.layout.sensel_xy_mm[:, 0]
        sums[insole.foot] = load
        mth1_x = float((load[mth1] * x[mth1]).sum() / load[mth1].sum())
        assert (mth1_x < 0.0) if insole.foot == "right" else (mth1_x > 0.0)
    # same sensel order, mirrored positions: the same load pattern
    assert np.corrcoef(sums["left"], sums["right"])[0, 1] > 0.98
    # internal-rotation pivot: Tz < 0 in the left frame, > 0 in the right frame
    assert all(s.pivot_torque_signed_nmm < 0 for s in left.ground_truth)
    assert all(s.pivot_torque_signed_nmm > 0 for s in right.ground_truth)
    # right heel strikes half a stride after the left ones
    hs_left = np.array([s.heel_strike_s for s in left.ground_truth])
    hs_right = np.array([s.heel_strike_s for s in right.ground_truth])
    half = 0.5 * left.gait.stride_period_s
    assert np.median(hs_right[: hs_left.size] - hs_left[: hs_right.size]) == pytest.approx(
        half, abs=0.01
    )


def test_ground_truth_events_match_stream(decoded_pair, layout):
    insole, batch, _dec, pressure = decoded_pair["left"]
    seq = unwrap_seq(batch.seq)
    force = sensed_force_n(pressure, layout)
    observed = np.array([(seq[a], seq[b]) for a, b in contacts(force)])
    truth = insole.ground_truth
    assert len(truth) >= 20
    for step in truth[1:-1]:
        assert step.complete
        # the force crosses the detection threshold within a few samples of the true events
        match = np.abs(observed[:, 0] - step.heel_strike_seq) <= 3
        assert match.sum() == 1
        assert abs(int(observed[match, 1][0]) - step.toe_off_seq) <= 3
        assert 0.2 <= step.contact_time_s <= 0.3
        row = int(np.flatnonzero(seq == step.heel_strike_seq)[0])
        assert int(batch.t_device_us[row]) >= step.heel_strike_device_us
        assert int(batch.t_device_us[row]) - step.heel_strike_device_us < 1e6 / RATE_HZ + 1


def test_ground_truth_jsonl_round_trip(layout, calibration, tmp_path):
    insole = SimulatedInsole(layout, calibration, seed=1)
    insole.samples(3 * RATE_HZ)
    path = tmp_path / "truth.jsonl"
    n = write_ground_truth_jsonl(insole.ground_truth, path)
    assert n == len(insole.ground_truth) >= 3
    assert read_ground_truth_jsonl(path) == insole.ground_truth
    buffer = io.StringIO()
    write_ground_truth_jsonl(insole.ground_truth[:1], buffer)
    assert buffer.getvalue().count("\n") == 1 and '"pivot_torque_nmm"' in buffer.getvalue()


def test_invalid_parameters_raise_config_error():
    with pytest.raises(ConfigError, match="strike"):
        GaitParams(strike="heel")
    with pytest.raises(ConfigError, match="cadence_spm"):
        GaitParams(cadence_spm=20)
    with pytest.raises(ConfigError, match="noise_kpa"):
        Imperfections(noise_kpa=-1.0)


def test_dense_block_shape():
    """The dense layout simulates whole blocks (its speed against real time is a ratio in
    ``benchmarks/bench_sim.py``, not a timed test)."""
    dense = load_layout("plantar-dense")
    insole = SimulatedInsole(dense, sampling_rate_hz=500, seed=0)
    block = insole.samples(2 * 500)
    assert block.pressure_counts.shape == (1000, 1024)
    assert block.pressure_counts.max() > 0


@pytest.mark.parametrize("layout_id", available_layouts())
def test_every_shipped_layout_simulates_and_decodes(layout_id):
    layout = load_layout(layout_id)
    left, right = make_pair(layout, seed=1)
    for insole in (left, right):
        batch, _ = decode(insole, insole.encoded(RATE_HZ))
        assert len(batch) >= RATE_HZ * 0.9
        assert batch.pressure_counts.max() > 0
        assert batch.shear_centi_kpa.shape[1] == layout.n_shear
        assert len(insole.ground_truth) >= 1


def test_ground_truth_can_be_bounded_to_the_last_steps(layout, calibration):
    """A simulator behind a long ``plantar run`` keeps only recent truth (bounded memory)."""
    full, _ = make_pair(layout, calibration, imperfections=Imperfections.none(), seed=3)
    bounded, _ = make_pair(layout, calibration, imperfections=Imperfections.none(), seed=3)
    bounded.truth.keep_last(4)
    for _ in range(5):
        full.samples(2 * RATE_HZ)
        bounded.samples(2 * RATE_HZ)
    assert len(full.ground_truth) > 8
    assert bounded.ground_truth == full.ground_truth[-4:]


FUKUCHI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fukuchi-running"


def test_pivot_calibrated_to_real_free_moment():
    """The simulator's free moment (continuous field, noise-free) has the late-stance peak,
    step-to-step CV and peak timing of real treadmill running (Fukuchi et al. 2017): each
    within the range of the real file-feet and near their median."""
    from hardware.sim.pivot_calibration import (
        FUKUCHI_SPEEDS,
        force_plate_stats,
        simulator_stats,
    )

    files = sorted(FUKUCHI.glob("*forces.txt"))
    if not files:
        pytest.skip(f"no Fukuchi running files under {FUKUCHI}")
    real = [s for f in files for s in force_plate_stats(f)]
    peak = np.array([s.late_peak_nmm for s in real])
    cv = np.array([s.late_peak_cv for s in real])
    tau = np.array([s.peak_tau for s in real])
    for speed, (contact_s, cadence) in FUKUCHI_SPEEDS.items():
        gait = GaitParams(speed_mps=speed, contact_time_s=contact_s, cadence_spm=cadence)
        left, _ = make_pair(load_layout("plantar-ref"), seed=2, gait=gait)
        block = left.samples(40 * RATE_HZ)
        sim = simulator_stats(block.step_index, block.stance_phase, block.pivot_torque_nmm, RATE_HZ)
        assert peak.min() <= sim.late_peak_nmm <= peak.max()
        assert abs(np.log(sim.late_peak_nmm / np.median(peak))) < np.log(1.3)
        assert cv.min() <= sim.late_peak_cv <= cv.max()
        assert tau.min() <= sim.peak_tau <= tau.max()
    # the truth is the continuous field, not the sampled sites: they differ ~40-fold
    truth = [s for s in left.ground_truth if s.complete]
    ratio = np.mean([s.pivot_torque_nmm / s.pivot_torque_sites_nmm for s in truth])
    assert ratio > 10.0
