"""Per-sample cost of the C firmware core, counted with valgrind's callgrind on the host.

Usage (from the repository root)::

    PYTHONPATH=. python scripts/firmware_cycles.py [--frames 2000] [--markdown]

Builds the host test driver (``hardware/firmware/host/plantar_host_main.c``) with gcc at
-O2 and -Os, feeds it frames of 256 sensels + 5 shear sites at realistic sparsity (swing:
all zero; stance: 40-60 % of sensels loaded, as ``benchmarks/bench_codec.py``; a whole
gait cycle with 38 % stance; every sensel loaded as the worst case; and the simulator's
``plantar-ref`` insole, 170 sensels, over real strides), and reads the instructions
executed in each stage from callgrind (inclusive counts):

- ``encode``: choose the encoding and write the DATA message, CRC-32 included;
- ``frame``: COBS + delimiter;  ``pack``: the BLE notification packer (ATT_MTU 247);
- ``device``: the whole per-sample path of ``plantar_dev_poll``: matrix scan through the
  ADC callbacks (a table stands in for the conversions), tare, encode, frame, pack,
  INFO once a second.

The Cortex-M4 estimate scales host (x86-64) instructions to cycles with two stated
assumptions: Thumb-2 needs ``--arm-ratio`` (default 1.3) times as many instructions as
x86-64 for this integer byte-twiddling code (x86 folds loads into ALU operations; Thumb-2
cannot), and the M4 runs at ``--cpi`` (default 1.5) cycles per instruction (loads 2
cycles, taken branches 2-4, flash wait states hidden by the cache at 64 MHz). ADC
conversion time is not included: with EasyDMA/PPI (nRF52) or the ESP32's ADC DMA the CPU
does not wait for conversions; a busy-waiting scan adds its conversion time on top.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware.firmware_core import build_driver

N_SENSELS = 256
N_SHEAR = 5
RATE_HZ = 200
CLOCK_HZ = 64e6
STAGES = ("bench_encode", "bench_frame", "bench_pack", "bench_crc", "bench_device")


@dataclass
class Result:
    scenario: str
    variant: str
    n_sensels: int
    bytes_per_frame: float
    per_sample: dict[str, float]  # stage -> instructions per sample


def _pressure(rng: np.random.Generator, n: int, loaded: float) -> np.ndarray:
    p = rng.integers(1, 4096, n).astype(np.uint16)
    p[rng.random(n) >= loaded] = 0
    return p


def scenario_frames(name: str, rng: np.random.Generator, n_frames: int):
    """(pressure (n_frames, S) uint16, shear (n_frames, K, 3) int16)."""
    shear = rng.integers(-2000, 2000, (n_frames, N_SHEAR, 3)).astype(np.int16)
    if name == "swing":
        return np.zeros((n_frames, N_SENSELS), np.uint16), shear
    if name == "stance":
        rows = [_pressure(rng, N_SENSELS, rng.uniform(0.4, 0.6)) for _ in range(n_frames)]
        return np.array(rows), shear
    if name == "full":
        return np.array([_pressure(rng, N_SENSELS, 1.0) for _ in range(n_frames)]), shear
    if name == "gait cycle":
        stance, _ = scenario_frames("stance", rng, round(0.38 * n_frames))
        swing, _ = scenario_frames("swing", rng, n_frames - stance.shape[0])
        return np.concatenate([stance, swing]), shear
    if name == "sim plantar-ref":
        from hardware.sim import make_pair

        block = make_pair("plantar-ref", seed=1)[0].samples(n_frames)
        return block.pressure_counts.astype(np.uint16), block.shear_centi_kpa
    raise ValueError(name)


def _write_bench_file(path: Path, pressure: np.ndarray, shear: np.ndarray) -> None:
    n_frames, n = pressure.shape
    k = shear.shape[1]
    head = n.to_bytes(2, "little") + bytes([k]) + n_frames.to_bytes(4, "little")
    body = np.concatenate(
        [
            pressure.astype("<u2").view(np.uint8),
            shear.reshape(n_frames, -1).astype("<i2").view(np.uint8),
        ],
        axis=1,
    )
    path.write_bytes(head + body.tobytes())


def _inclusive(annotate_out: str) -> dict[str, int]:
    found = {}
    for line in annotate_out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:?(bench_\w+)\b", line)
        if m and m.group(2) in STAGES and m.group(2) not in found:
            found[m.group(2)] = int(m.group(1).replace(",", ""))
    return found


def measure(driver: Path, name: str, variant: str, n_frames: int, seed: int) -> Result:
    rng = np.random.default_rng(seed)
    pressure, shear = scenario_frames(name, rng, n_frames)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "frames.bin"
        out = Path(tmp) / "callgrind.out"
        _write_bench_file(data, pressure, shear)
        callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        run = subprocess.run(
            [*callgrind, str(driver), "bench", str(data)],
            capture_output=True,
            text=True,
            check=True,
        )
        stats = dict(zip(run.stdout.split()[::2], run.stdout.split()[1::2], strict=True))
        ann = subprocess.run(
            ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    counts = _inclusive(ann)
    missing = set(STAGES) - set(counts)
    if missing:
        raise SystemExit(f"firmware_cycles: callgrind output lacks {sorted(missing)}")
    per_sample = {stage.removeprefix("bench_"): counts[stage] / n_frames for stage in STAGES}
    return Result(
        name,
        variant,
        pressure.shape[1],
        int(stats["framed_bytes"]) / n_frames,
        per_sample,
    )


def m4_cycles(instructions: float, arm_ratio: float, cpi: float) -> float:
    """Estimated Cortex-M4 cycles for a count of host (x86-64) instructions."""
    return instructions * arm_ratio * cpi


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--arm-ratio", type=float, default=1.3, help="Thumb-2 / x86-64 instr.")
    parser.add_argument("--cpi", type=float, default=1.5, help="Cortex-M4 cycles/instruction")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"firmware_cycles: {tool} not found (Debian package: valgrind)")
    scenarios = ("swing", "stance", "gait cycle", "full", "sim plantar-ref")
    results = []
    for variant in ("plain", "size"):
        driver = build_driver(variant)
        for name in scenarios:
            results.append(measure(driver, name, variant, args.frames, args.seed))
    flags = {"plain": "-O2", "size": "-Os"}
    print(f"## firmware core, instructions per sample (x86-64, callgrind), {args.frames} frames")
    print(
        "| scenario | sensels | gcc | bytes/frame | encode | (of it CRC) | frame | pack |"
        " device total | M4 cycles | M4 CPU at 200 Hz, 64 MHz | budget left |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r.per_sample
        cycles = m4_cycles(s["device"], args.arm_ratio, args.cpi)
        load = cycles * RATE_HZ / CLOCK_HZ
        print(
            f"| {r.scenario} | {r.n_sensels} | {flags[r.variant]} | {r.bytes_per_frame:.1f} | "
            f"{s['encode']:,.0f} | {s['crc']:,.0f} | {s['frame']:,.0f} | {s['pack']:,.0f} | "
            f"{s['device']:,.0f} | {cycles:,.0f} | {100 * load:.2f} % | {100 * (1 - load):.1f} % |"
        )
    print(
        f"\nM4 cycles = host instructions x {args.arm_ratio} (Thumb-2/x86-64 instruction ratio) "
        f"x {args.cpi} CPI; CPU = cycles x {RATE_HZ} Hz / {CLOCK_HZ / 1e6:.0f} MHz. "
        "'device total' is plantar_dev_poll per sample: scan through the ADC callbacks "
        "(conversion time excluded), tare, encode, COBS, BLE packer, INFO once a second."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
