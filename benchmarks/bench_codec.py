"""Benchmark of the wire codec: decode rate, bytes per frame, BLE budget.

Run ``python benchmarks/bench_codec.py`` (from the repository root, PYTHONPATH=.).
Speeds are reported as ratios measured in the same run: against the data rate the
codec must sustain, and against ``np.sum`` over the same stream bytes (a memory
bandwidth yardstick). Single thread throughout.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from base.wire.ble_packing import pack_notifications
from base.wire.cobs import frame_message
from base.wire.payload import encode_data_frame, encode_pressure_payload
from base.wire.protocol import ENCODING_NAMES
from firmware_bridge.stream_decoder import StreamDecoder

N_SHEAR = 5
ADC_MAX_COUNTS = 4095  # 12-bit ADC
BLE_2M_APP_BIT_S = 1.4e6  # practical application throughput of BLE 2M PHY
BLE_BUDGET_BIT_S = BLE_2M_APP_BIT_S / 2
ATT_MTU = 247  # with Data Length Extension: one notification per link-layer packet
ATT_L2CAP_HEADER_BYTES = 3 + 4
USB_FS_CDC_BYTE_S = 1.0e6  # practical USB full-speed CDC-ACM bulk throughput


def make_pressure(rng: np.random.Generator, n: int, loaded: float) -> np.ndarray:
    """One frame of ADC counts with a fraction ``loaded`` of sensels nonzero."""
    p = rng.integers(1, ADC_MAX_COUNTS + 1, n).astype(np.uint16)
    p[rng.random(n) >= loaded] = 0
    return p


def scenario_frames(
    rng: np.random.Generator, n: int, scenario: str, n_frames: int
) -> list[np.ndarray]:
    """Frames for 'swing' (all zero), 'stance' (40-60 % loaded) or 'dense' (all loaded)."""
    if scenario == "swing":
        return [np.zeros(n, np.uint16) for _ in range(n_frames)]
    if scenario == "stance":
        return [make_pressure(rng, n, rng.uniform(0.4, 0.6)) for _ in range(n_frames)]
    return [make_pressure(rng, n, 1.0) for _ in range(n_frames)]


def gait_cycle_frames(
    rng: np.random.Generator, n: int, rate_hz: float, stance_fraction: float = 0.38
) -> list[np.ndarray]:
    """One stride (cadence 170 steps/min) of one foot: stance 40-60 % loaded, swing zero."""
    stride_s = 2 * 60 / 170
    n_frames = round(stride_s * rate_hz)
    n_stance = round(stance_fraction * n_frames)
    stance = scenario_frames(rng, n, "stance", n_stance)
    return stance + scenario_frames(rng, n, "swing", n_frames - n_stance)


def encode_stream(frames: list[np.ndarray], encoding: str, shear: np.ndarray) -> list[bytes]:
    """Unframed DATA messages for ``frames``."""
    return [
        encode_data_frame(
            device_id=1,
            foot=0,
            seq=i,
            t_device_us=5000 * i,
            pressure_counts=p,
            shear_centi_kpa=shear,
            encoding=encoding,
        )
        for i, p in enumerate(frames)
    ]


def best_time_s(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_decode(n: int, required_fps: float, n_frames: int, rng: np.random.Generator) -> None:
    """Decode rate per scenario and encoding, as ratios."""
    shear = rng.integers(-2000, 2000, (N_SHEAR, 3)).astype(np.int16)
    print(f"\n## decode, {n} sensels + {N_SHEAR} shear sites, {n_frames} frames per feed")
    print(f"required: {required_fps:.0f} frames/s")
    print(
        "| scenario | encoding | bytes/frame (framed) | frames/s | x required | "
        "time / np.sum time |"
    )
    print("|---|---|---|---|---|---|")
    for scenario in ("swing", "stance", "dense"):
        frames = scenario_frames(rng, n, scenario, n_frames)
        for encoding in ("auto", "dense"):
            stream = b"".join(frame_message(m) for m in encode_stream(frames, encoding, shear))
            decoder = StreamDecoder(n, N_SHEAR, max_frames=n_frames)
            decoder.feed(stream)  # warm-up (JIT load from cache, buffers)
            t_decode = best_time_s(lambda s=stream, d=decoder: d.feed(s))
            raw = np.frombuffer(stream, np.uint8)
            t_sum = best_time_s(lambda r=raw: np.sum(r))
            assert decoder.stats.frames_ok == 6 * n_frames
            fps = n_frames / t_decode
            print(
                f"| {scenario} | {encoding} | {len(stream) / n_frames:.1f} | {fps:,.0f} | "
                f"{fps / required_fps:,.0f} | {t_decode / t_sum:.1f} |"
            )


def bench_bytes(n: int, rng: np.random.Generator) -> None:
    """Pressure payload and framed bytes per frame for every encoding."""
    shear_bytes = 6 * N_SHEAR
    print(f"\n## bytes per frame, {n} sensels + {N_SHEAR} shear (header 20 + CRC 4 included)")
    print("| scenario | " + " | ".join(["auto", *ENCODING_NAMES]) + " |")
    print("|---|" + "---|" * (len(ENCODING_NAMES) + 1))
    for scenario in ("swing", "stance", "dense"):
        frames = scenario_frames(rng, n, scenario, 200)
        cells = []
        for encoding in ("auto", *ENCODING_NAMES):
            sizes = [len(encode_pressure_payload(p, encoding)[1]) for p in frames]
            cells.append(f"{24 + shear_bytes + np.mean(sizes):.0f}")
        print(f"| {scenario} | " + " | ".join(cells) + " |")


def ble_budget(rng: np.random.Generator, n_strides: int = 20) -> None:
    """2 feet x 200 Hz x 256 sensels over BLE 2M against half its throughput."""
    n, rate_hz, feet = 256, 200.0, 2
    shear = rng.integers(-2000, 2000, (N_SHEAR, 3)).astype(np.int16)
    frames = [p for _ in range(n_strides) for p in gait_cycle_frames(rng, n, rate_hz)]
    print(
        f"\n## BLE budget: {feet} feet x {rate_hz:.0f} Hz x {n} sensels + {N_SHEAR} shear, "
        f"gait cycle with 38 % stance, ATT_MTU {ATT_MTU}"
    )
    print(
        f"budget: half of {BLE_2M_APP_BIT_S / 1e6:.1f} Mbit/s = {BLE_BUDGET_BIT_S / 1e6:.2f} Mbit/s"
    )
    print(
        "| encodings allowed | message B/frame | + COBS + 0x00 | + notification counter | "
        "Mbit/s | margin | Mbit/s incl. ATT+L2CAP headers | margin |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, encoding in (
        ("dense u16 only", "dense"),
        ("u16 (auto of dense/sparse)", None),
        ("all (auto, 12-bit)", "auto"),
    ):
        if encoding is None:
            messages = [
                min(
                    (encode_stream([p], e, shear)[0] for e in ("dense", "sparse")),
                    key=len,
                )
                for p in frames
            ]
        else:
            messages = encode_stream(frames, encoding, shear)
        stream = b"".join(frame_message(m) for m in messages)
        payloads = pack_notifications(stream, ATT_MTU)
        n_frames = len(messages)
        message_b = sum(map(len, messages)) / n_frames
        framed_b = len(stream) / n_frames
        notif_b = sum(map(len, payloads)) / n_frames
        onair_b = notif_b + ATT_L2CAP_HEADER_BYTES * len(payloads) / n_frames
        bit_s = feet * rate_hz * notif_b * 8
        bit_s_hdr = feet * rate_hz * onair_b * 8
        print(
            f"| {label} | {message_b:.1f} | {framed_b:.1f} | {notif_b:.1f} | {bit_s / 1e6:.3f} | "
            f"{1 - bit_s / BLE_BUDGET_BIT_S:+.0%} | {bit_s_hdr / 1e6:.3f} | "
            f"{1 - bit_s_hdr / BLE_BUDGET_BIT_S:+.0%} |"
        )


def usb_budget(rng: np.random.Generator) -> None:
    """1024 sensels x 500 Hz per foot over USB full-speed CDC."""
    n, rate_hz = 1024, 500.0
    shear = np.zeros((N_SHEAR, 3), np.int16)
    frames = scenario_frames(rng, n, "dense", 50)
    print(f"\n## USB serial budget: 1 foot x {rate_hz:.0f} Hz x {n} sensels, fully loaded")
    print("| encoding | framed B/frame | byte/s | share of ~1 MB/s USB FS CDC |")
    print("|---|---|---|---|")
    for encoding in ("dense", "dense12"):
        stream = b"".join(frame_message(m) for m in encode_stream(frames, encoding, shear))
        per_frame = len(stream) / len(frames)
        print(
            f"| {encoding} | {per_frame:.0f} | {per_frame * rate_hz:,.0f} | "
            f"{per_frame * rate_hz / USB_FS_CDC_BYTE_S:.0%} |"
        )


def bench_encode(rng: np.random.Generator) -> None:
    """Encoder rate (the simulator needs ~400 frames/s)."""
    shear = np.zeros((N_SHEAR, 3), np.int16)
    frames = scenario_frames(rng, 256, "stance", 2000)
    t = best_time_s(lambda: [frame_message(m) for m in encode_stream(frames, "auto", shear)], 3)
    fps = len(frames) / t
    print(
        f"\n## encode (Python/NumPy), 256 sensels stance, auto: {fps:,.0f} frames/s "
        f"= {fps / 400:,.0f} x the 400 frames/s of 2 feet x 200 Hz"
    )


def main() -> None:
    """Run all benchmarks and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20000, help="frames per decode feed")
    args = parser.parse_args()
    rng = np.random.default_rng(20240601)
    bench_decode(256, 2 * 200.0, args.frames, rng)
    bench_decode(1024, 2 * 500.0, args.frames // 4, rng)
    bench_bytes(256, rng)
    bench_bytes(1024, rng)
    ble_budget(rng)
    usb_budget(rng)
    bench_encode(rng)


if __name__ == "__main__":
    main()
