"""The live hub: heat-map content, CoP trace and stance from the Analyzer, steps with their
own hot cells through the live pipeline, bounded per-client queues."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from live.display_wire import decode_display
from live.hub import LiveHub
from live.pipeline import LivePipeline
from tests.dashboard.conftest import frames_of, publish


def _feed_until(
    hub: LiveHub, analyzer, pair, *, stance: bool, foot: str, max_s: float = 5.0
) -> dict:
    """Feed both insoles in 5 ms batches until ``foot`` is (not) in stance; the message then."""
    for _ in range(int(max_s / 0.005)):
        for insole in pair:
            publish(hub, analyzer, frames_of(insole, 1))
        msg = decode_display(hub.build_display_message())
        view = {f["foot"]: f for f in msg["feet"]}[foot]
        deep = view["force_n"] > 600 if stance else view["force_n"] < 5
        if view["stance"] == stance and deep:
            return msg
    raise AssertionError("never reached the requested phase")


def test_heat_map_follows_stance_and_swing(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    stance = _feed_until(hub, analyzer, pair, stance=True, foot="left")
    swing = _feed_until(hub, analyzer, pair, stance=False, foot="left")
    g_stance = {f["foot"]: f for f in stance["feet"]}["left"]["grid_kpa"]
    g_swing = {f["foot"]: f for f in swing["feet"]}["left"]["grid_kpa"]
    inside = np.isfinite(g_stance)
    assert inside.sum() > 500  # the grid covers the foot outline
    assert np.nanmax(g_stance) > 100.0
    # in swing the page is sent the last stance's peak map, flagged as held
    assert not {f["foot"]: f for f in stance["feet"]}["left"]["held"]
    assert {f["foot"]: f for f in swing["feet"]}["left"]["held"]
    assert np.nanmax(g_swing) > 100.0
    # cells outside the outline stay empty in every message
    assert np.array_equal(np.isfinite(g_swing), inside)


def test_held_map_is_the_per_sensel_peak_of_the_last_stance(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    peak = None
    seen_stance = False
    for _ in range(2000):  # 5 ms batches, up to 10 s
        for insole in pair:
            frames = frames_of(insole, 1)
            out = analyzer.feed(frames)
            if out.frames is None:
                continue
            hub.publish_frames(frames, out.frames)
            if frames.foot != "left":
                continue
            for row, in_stance in zip(frames.pressure_kpa, out.frames.stance, strict=True):
                if in_stance:
                    peak = row.copy() if not seen_stance or peak is None else np.fmax(peak, row)
                    seen_stance = True
                elif seen_stance and peak is not None:
                    held_expected = peak
                    msg = decode_display(hub.build_display_message())
                    view = {f["foot"]: f for f in msg["feet"]}["left"]
                    assert view["held"]
                    want = hub._feet["left"].grid.interpolate(held_expected)
                    # one quantisation step of the u8 grid (kpa_max / 254)
                    assert np.nanmax(np.abs(view["grid_kpa"] - want)) <= hub.kpa_max / 254 + 1e-3
                    assert np.nanmax(want) > 100.0
                    return
    raise AssertionError("never saw a whole stance of the left foot")


def test_cop_trace_is_the_current_step_and_resets_at_heel_strike(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    msg = _feed_until(hub, analyzer, pair, stance=True, foot="left")
    msg = _feed_until(hub, analyzer, pair, stance=False, foot="left")
    cop = {f["foot"]: f for f in msg["feet"]}["left"]["cop_xy_mm"]
    assert len(cop) > 20  # a whole stance at 200 Hz
    assert cop[-1, 1] > cop[0, 1] + 80  # heel to toe: CoP moves anterior
    msg = _feed_until(hub, analyzer, pair, stance=True, foot="left")
    cop2 = {f["foot"]: f for f in msg["feet"]}["left"]["cop_xy_mm"]
    assert len(cop2) < len(cop)  # a new trace for the new step


def test_left_and_right_maps_differ(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    msg = _feed_until(hub, analyzer, pair, stance=True, foot="left")
    left, right = ({f["foot"]: f for f in msg["feet"]}[k]["grid_kpa"] for k in ("left", "right"))
    # mirrored outlines: the masks are mirror images, not the same
    assert not np.array_equal(np.isfinite(left), np.isfinite(right))


def test_display_slot_keeps_only_the_newest_message(layouts, analyzer, pair) -> None:
    async def run() -> None:
        hub = LiveHub(layouts, max_rate_hz=30.0)
        await hub.start()
        try:
            client = hub.add_display_client()  # never reads: a stalled browser
            t0 = time.monotonic()
            for _ in range(60):
                for insole in pair:
                    publish(hub, analyzer, frames_of(insole, 10))
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert hub.messages_built >= 5
            assert client.slot is not None
            assert client.replaced == hub.messages_built - 1  # all but the newest dropped
            newest = decode_display(client.slot)
            assert newest["msg_seq"] == hub.messages_built
            # rate limit: at most 30 messages per second of publishing (however long the
            # publishing took on a busy machine)
            assert hub.messages_built <= 30 * (time.monotonic() - t0) + 2
        finally:
            await hub.stop()

    asyncio.run(run())


def test_event_queue_is_bounded_and_overflow_is_flagged(layouts) -> None:
    async def run() -> None:
        hub = LiveHub(layouts, max_client_events=50)
        await hub.start()
        try:
            client = hub.add_event_client()
            for i in range(200):
                hub.publish_alert({"kind": "test", "i": i})
            await asyncio.sleep(0.01)
            assert client.overflowed and len(client.queue) == 0
            fresh = hub.add_event_client()
            snap = fresh.queue[0]
            assert snap["type"] == "snapshot" and len(snap["alerts"]) == 60  # history bound
        finally:
            await hub.stop()

    asyncio.run(run())


def test_link_status_from_sequence_numbers(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    left = pair[0]
    for _ in range(40):
        publish(hub, analyzer, frames_of(left, 5))
    fr = frames_of(left, 50)
    keep = np.ones(len(fr), bool)
    keep[10:20] = False  # 10 frames lost on the link
    from base.frames import FootFrames

    publish(
        hub,
        analyzer,
        FootFrames(
            foot="left",
            device_id=1,
            seq=fr.seq[keep],
            t_device_us=fr.t_device_us[keep],
            t_s=fr.t_s[keep],
            pressure_kpa=fr.pressure_kpa[keep],
            shear_kpa=fr.shear_kpa[keep],
        ),
    )
    hub.publish_link("left", {"state": "streaming", "rssi_dbm": -61.0})
    link = hub.link_event("left")
    assert link["rssi_dbm"] == -61.0 and link["state"] == "streaming"
    assert 0.0 < link["loss_pct"] < 10.0
    assert hub.link_event("right")["rate_hz"] is None


def test_pipeline_publishes_the_analyzers_steps_hot_cells_and_gauges(layouts, pair) -> None:
    """Steps reach the page with the hot cells of their own peak map and the Analyzer's
    gauge and metrics; nothing of the hub's own (no recording here)."""

    async def run() -> None:
        hub = LiveHub(layouts)
        await hub.start()
        pipeline = LivePipeline(hub, layouts)
        try:
            client = hub.add_event_client()
            for _ in range(int(6.0 / 0.025)):
                for insole in pair:
                    pipeline.on_frames(frames_of(insole, 5))
            await asyncio.sleep(0.05)
            events = list(client.queue)
        finally:
            pipeline.close()
            await hub.stop()
        steps = [e for e in events if e["type"] == "step"]
        analyzer_steps = pipeline._analyzer.steps
        assert len(steps) == len(analyzer_steps) >= 10
        assert [s["step"]["toe_off_s"] for s in steps] == [s["toe_off_s"] for s in analyzer_steps]
        for e in steps:
            assert bool(e["hot_cells"]) == bool(e["step"]["hotspots"])
        assert any(e["hot_cells"] for e in steps)
        gauges = [e for e in events if e["type"] == "gauge"]
        assert gauges[-1] == {
            "type": "gauge",
            **pipeline._analyzer.pivot_gauge()[gauges[-1]["foot"]],
        }
        metrics = [e for e in events if e["type"] == "metrics"][-1]
        assert 140 < metrics["cadence_spm"] < 220

    asyncio.run(run())


def test_insole_is_lost_when_the_bridge_says_so_or_its_frames_stop(layouts, analyzer, pair) -> None:
    hub = LiveHub(layouts)
    assert not hub.link_event("left")["lost"]  # never streamed: waiting, not lost
    for _ in range(20):
        for insole in pair:
            publish(hub, analyzer, frames_of(insole, 5))
    assert not hub.link_event("left")["lost"] and not hub.link_event("right")["lost"]
    hub.publish_link("right", {"state": "reconnecting", "detail": "unplugged"})
    right = hub.link_event("right")
    assert right["lost"] and right["lost_for_s"] is not None and right["lost_for_s"] >= 0
    assert not hub.link_event("left")["lost"]
    # frames again and the bridge streaming: back
    hub.publish_link("right", {"state": "streaming"})
    publish(hub, analyzer, frames_of(pair[1], 5))
    assert not hub.link_event("right")["lost"]
    # silence: the newest left frame arrived 3 s ago, the bridge still says streaming
    frames = frames_of(pair[0], 5)
    hub.publish_frames(frames, analyzer.feed(frames).frames, time.monotonic_ns() - 3_000_000_000)
    left = hub.link_event("left")
    assert left["lost"] and left["lost_for_s"] >= 2.9  # counted from the last frame
