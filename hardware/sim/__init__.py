"""The simulated insole: running physics, device imperfections and real protocol bytes.

See ``docs/simulator.md``. The pseudo-terminal server is in :mod:`hardware.sim.pty_device`.
"""

from hardware.sim.gait_model import STRIKE_PATTERNS, GaitParams
from hardware.sim.ground_truth import StepTruth, read_ground_truth_jsonl, write_ground_truth_jsonl
from hardware.sim.imperfections import Imperfections
from hardware.sim.insole import SampleBlock, SimulatedInsole, make_pair

__all__ = [
    "STRIKE_PATTERNS",
    "GaitParams",
    "Imperfections",
    "SampleBlock",
    "SimulatedInsole",
    "StepTruth",
    "make_pair",
    "read_ground_truth_jsonl",
    "write_ground_truth_jsonl",
]
