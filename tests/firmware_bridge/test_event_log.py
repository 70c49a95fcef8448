"""InsoleStream's event log: whole-session counts, a bounded window of recent events."""

from __future__ import annotations

from firmware_bridge.insole_stream import EventLog, StreamEvent


def test_event_log_counts_everything_and_keeps_the_last_events() -> None:
    log = EventLog(keep=10)
    events = [
        StreamEvent("gap" if i % 3 else "duplicate", "left", 0.01 * i, seq=i, lost_frames=1)
        for i in range(25)
    ]
    log.extend(events[:24])
    log.append(events[24])
    assert len(log) == 10 and list(log) == events[-10:]
    assert log[-1] is events[-1]
    assert dict(log.counts) == {"gap": 16, "duplicate": 9}
