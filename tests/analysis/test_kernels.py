"""Each numba kernel agrees with its NumPy reference, on simulator data and real files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from analysis.events import detect_events
from analysis.frame_kernels import (
    FrameReducer,
    frame_reduce_batch,
    frame_reduce_kernel,
    free_moment_kernel,
)
from analysis.hotspots import InterpolationGrid, label_kernel
from analysis.pivot import twist_free_moment_kernel
from analysis.reference import (
    detect_events_ref,
    frame_reduce_ref,
    free_moment_ref,
    interpolate_ref,
    twist_free_moment_ref,
)
from hardware.layout import REGIONS, available_layouts, load_layout


def _reduce(pressure, layout):
    n = len(pressure)
    out = np.empty(n), np.empty((n, 2)), np.empty((n, 7)), np.empty((n, 7))
    frame_reduce_kernel(
        pressure, layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region, *out
    )
    return out


#: CoP agreement with the float64 reference, mm. The kernel accumulates the CoP moments in
#: float32 about the layout's area centroid (lever arms up to ~130 mm), which leaves an
#: absolute CoP error of ~2e-5 mm on these data; 1e-4 mm is 1e-5 of the ~10 mm sensel
#: pitch, far below anything a CoP trace or the strike index can resolve.
COP_ATOL_MM = 1e-4


def _check_reduce(pressure, layout):
    got = _reduce(pressure, layout)
    want = frame_reduce_ref(
        pressure, layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region, len(REGIONS)
    )
    force, cop, region_force, region_peak = got
    for g, w in ((force, want[0]), (region_force, want[2]), (region_peak, want[3])):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(cop, want[1], rtol=0, atol=COP_ATOL_MM, equal_nan=True)
    return got


def test_frame_reduce_matches_reference_on_sim(sim60):
    fr = sim60.feet["left"]
    force, *_ = _check_reduce(fr.pressure_kpa[:3000], sim60.layouts["left"])
    assert np.nanmax(force) > 500.0  # a real load passed through


def test_frame_reduce_matches_reference_on_moticon_with_missing(moticon):
    layout = load_layout("moticon-16", foot="left")
    p = moticon.feet["left"].pressure_kpa.copy()
    missing_rows = np.isnan(p).all(axis=1)
    rows = np.flatnonzero(~missing_rows)[200:210]
    p[rows, 3] = np.nan  # a few missing sensels on top of the file's missing rows
    force, _cop, _, _ = _check_reduce(p, layout)
    assert missing_rows.any() and np.isnan(force[missing_rows]).all()
    assert np.isfinite(force[rows]).all()


def test_frame_reduce_odd_values_agree(sim60):
    """NaN (both signs), negative values, all-zero frames and float64 input (the scalar
    path) against the reference; the vectorised path skips NaN sensels itself."""
    layout = sim60.layouts["left"]
    p = sim60.feet["left"].pressure_kpa[:400].copy()
    p[10, 5] = np.nan
    p[11, 7] = -np.nan
    p[12, :] = -3.0
    p[13, :] = np.nan
    p[14, ::3] = np.nan
    p[15, :] = 0.0
    p[16, :] = -np.inf
    force, cop, region_force, _ = _check_reduce(p, layout)
    assert np.isnan(force[13]) and force[12] == force[15] == force[16] == 0.0
    assert np.isnan(cop[12]).all() and (region_force[15] == 0.0).all()
    _check_reduce(p.astype(np.float64), layout)


@pytest.mark.parametrize("layout_id", available_layouts())
def test_frame_reduce_any_layout(layout_id):
    """Every shipped layout (8 to 1024 sensels, so vector loops with and without a scalar
    tail) on random frames with unloaded, negative and missing sensels."""
    layout = load_layout(layout_id, foot="right")
    rng = np.random.default_rng(3)
    p = rng.gamma(0.6, 60.0, size=(300, layout.n_sensels)).astype(np.float32)
    p[rng.random(p.shape) < 0.3] = 0.0
    p[rng.random(p.shape) < 0.05] = -1.5
    p[rng.random(p.shape) < 0.05] = np.nan
    p[7] = np.nan
    force, _, _, region_peak = _check_reduce(p, layout)
    assert np.isnan(force[7]) and np.nanmax(region_peak) > 300.0


def test_frame_reduce_batch_threads_match_single(sim60):
    layout = sim60.layouts["left"]
    p = sim60.feet["left"].pressure_kpa
    n = len(p)
    outs = [(np.empty(n), np.empty((n, 2)), np.empty((n, 7)), np.empty((n, 7))) for _ in "ab"]
    args = (layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region)
    frame_reduce_batch(p, *args, *outs[0], threads=1)
    frame_reduce_batch(p, *args, *outs[1], threads=3)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout_id", ["plantar-ref", "plantar-dense"])
def test_frame_reducer_matches_kernel_on_small_batches(layout_id):
    """The live path's prepared reducer gives the kernel's outputs bit for bit, batch by
    batch (1, 3 and 10 frames, float32 and float64)."""
    layout = load_layout(layout_id)
    args = (layout.sensel_area_mm2, layout.sensel_xy_mm, layout.sensel_region)
    reduce = FrameReducer(*args, len(REGIONS))
    rng = np.random.default_rng(5)
    for n in (1, 3, 10):
        p = rng.gamma(0.6, 60.0, size=(n, layout.n_sensels)).astype(np.float32)
        p[0, ::5] = np.nan
        for x in (p, p.astype(np.float64)):
            outs = [
                (np.empty(n), np.empty((n, 2)), np.empty((n, 7)), np.empty((n, 7))) for _ in "ab"
            ]
            frame_reduce_kernel(x, *args, *outs[0])
            reduce(x, *outs[1])
            for a, b in zip(*outs, strict=True):
                np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="region count"):
        reduce(p, np.empty(10), np.empty((10, 2)), np.empty((10, 6)), np.empty((10, 6)))


def test_frame_reduce_rejects_region_counts_int8_cannot_hold():
    """Region indices are int8 on both paths: more than 127 regions is an error, not a
    silent wrap-around; 127 regions (the scalar path) still work."""
    layout = load_layout("plantar-ref")
    s = layout.n_sensels
    p = np.full((2, s), 10.0, dtype=np.float32)
    for r_count, ok in ((127, True), (128, False), (300, False)):
        region = np.arange(s) % r_count
        out = np.empty(2), np.empty((2, 2)), np.empty((2, r_count)), np.empty((2, r_count))
        if ok:
            frame_reduce_kernel(p, layout.sensel_area_mm2, layout.sensel_xy_mm, region, *out)
            want = np.bincount(region, layout.sensel_area_mm2, r_count) * 10.0 * 1e-3
            np.testing.assert_allclose(out[2][0], want, rtol=1e-9)
            continue
        with pytest.raises(ValueError, match="127 regions"):
            frame_reduce_kernel(p, layout.sensel_area_mm2, layout.sensel_xy_mm, region, *out)
        with pytest.raises(ValueError, match="127 regions"):
            FrameReducer(layout.sensel_area_mm2, layout.sensel_xy_mm, region, r_count)


def test_free_moment_matches_reference_and_simulator(sim60):
    fr, layout = sim60.feet["right"], sim60.layouts["right"]
    _, cop, _, _ = _reduce(fr.pressure_kpa, layout)
    n = len(fr)
    tz, res, rot = np.empty(n), np.empty((n, layout.n_shear)), np.empty(n)
    free_moment_kernel(fr.shear_kpa, layout.shear_xy_mm, layout.shear_area_mm2, cop, tz, res, rot)
    tz_ref, res_ref, rot_ref = free_moment_ref(
        fr.shear_kpa, layout.shear_xy_mm, layout.shear_area_mm2, cop
    )
    np.testing.assert_allclose(tz, tz_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res, res_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rot, rot_ref, rtol=1e-6, atol=1e-6)
    # the twist over the loaded area: kernel and NumPy reference
    whole = np.empty(n)
    twist_free_moment_kernel(
        fr.pressure_kpa, layout.sensel_xy_mm, layout.sensel_area_mm2, cop, rot, whole
    )
    want = twist_free_moment_ref(
        fr.pressure_kpa, layout.sensel_xy_mm, layout.sensel_area_mm2, cop, rot_ref
    )
    np.testing.assert_allclose(whole, want, rtol=1e-6, atol=1e-6)
    assert np.abs(whole).max() > 1000.0  # whole-insole N·mm, not the sites' few %
    assert np.abs(tz).max() > 10.0  # the pivot is there


@pytest.mark.parametrize("source", ["sim", "moticon"])
def test_event_detector_matches_reference(source, sim60, moticon):
    if source == "sim":
        fr, layout = sim60.feet["left"], sim60.layouts["left"]
    else:
        fr, layout = moticon.feet["right"], load_layout("moticon-16", foot="right")
    force, *_ = _reduce(fr.pressure_kpa, layout)
    kind, t = detect_events(fr.t_s, force)
    kind_ref, t_ref = detect_events_ref(fr.t_s, force)
    assert len(kind) > 10
    np.testing.assert_array_equal(kind, kind_ref)
    np.testing.assert_allclose(t, t_ref, rtol=0, atol=1e-9)


def test_interpolation_matches_dense_reference(sim60):
    layout = sim60.layouts["left"]
    grid = InterpolationGrid.from_layout(layout, cell_mm=5.0)
    frame = sim60.feet["left"].pressure_kpa[int(np.argmax(sim60.feet["left"].pressure_kpa.sum(1)))]
    got = grid.interpolate(frame)[grid.inside]
    np.testing.assert_allclose(got, interpolate_ref(grid, frame), rtol=1e-9)
    assert got.max() <= frame.max() + 1e-6  # IDW is a convex combination
    # the weight rows sum to one
    np.testing.assert_allclose(np.add.reduceat(grid.weights, grid.indptr[:-1]), 1.0)


def test_labelling_matches_scipy():
    rng = np.random.default_rng(7)
    mask = rng.random((40, 30)) > 0.55
    labels = np.zeros(mask.shape, dtype=np.int32)
    n = label_kernel(mask, labels, np.zeros(mask.size, dtype=np.int64))
    ref, n_ref = ndimage.label(mask)
    assert n == n_ref > 5
    # same partition (labels may be numbered differently)
    pairs = set(zip(labels[mask].tolist(), ref[mask].tolist(), strict=True))
    assert len(pairs) == n


def test_free_moment_peak_ignores_one_sided_fits_at_toe_off():
    """A noise spike on the last frame before toe-off: a quadratic fitted to the 4 frames
    before it and read at its end (weight 0.95 on the spike) would make it the step's
    peak (190 here); the window's mean is used there instead (analysis/pivot.py)."""
    from analysis.pivot import FREE_MOMENT_SMOOTH_S, free_moment_peak
    from analysis.reference import free_moment_peak_ref

    t = np.arange(60) * 0.005
    tz = 100.0 * np.exp(-0.5 * ((t - 0.15) / 0.02) ** 2)
    tz[-1] = 200.0
    got = free_moment_peak(t, np.ones(60), tz, 0, 10, 60, FREE_MOMENT_SMOOTH_S)
    assert got[0] == pytest.approx(100.0, rel=0.01)
    want = free_moment_peak_ref(t, np.ones(60), tz, 0, 10, 60, FREE_MOMENT_SMOOTH_S)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_friction_bound_buffer_matches_copy_across_batch_sizes():
    """The live path bounds shear into a kept buffer; each batch's result equals the
    allocating :func:`friction_bounded_shear`, and the buffer stops growing."""
    from analysis.pivot import FRICTION_MU_MAX, FrictionBound, friction_bounded_shear

    bound = FrictionBound(FRICTION_MU_MAX)
    rng = np.random.default_rng(9)
    for n in (3, 1, 50, 10, 50):
        shear = rng.normal(0.0, 5.0, (n, 5, 3)).astype(np.float32)
        shear[::2, :, 2] = np.abs(shear[::2, :, 2]) * 20
        got = bound(shear)
        assert got.shape == shear.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, friction_bounded_shear(shear, FRICTION_MU_MAX))
    buf = bound._buf
    bound(shear[:7])
    assert bound._buf is buf
    got64 = bound(shear.astype(np.float64))  # another dtype gets its own buffer
    assert got64.dtype == np.float64
