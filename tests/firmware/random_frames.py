"""Random DATA frames for the cross-language tests (C core vs Python codec)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENCODINGS = ("auto", "dense", "sparse", "dense12", "sparse12")
ENCODING_CODE = {"auto": 255, "dense": 0, "sparse": 1, "dense12": 2, "sparse12": 3}


@dataclass
class RandomFrame:
    """Arguments of one ``encode_data_frame`` call."""

    device_id: int
    foot: int
    seq: int
    t_device_us: int
    pressure_counts: np.ndarray
    shear_centi_kpa: np.ndarray | None
    encoding: str

    def kwargs(self) -> dict:
        return {
            "device_id": self.device_id,
            "foot": self.foot,
            "seq": self.seq,
            "t_device_us": self.t_device_us,
            "pressure_counts": self.pressure_counts,
            "shear_centi_kpa": self.shear_centi_kpa,
            "encoding": self.encoding,
        }

    def driver_record(self) -> bytes:
        """The record of ``plantar_host encode`` (see host/plantar_host_main.c)."""
        p = self.pressure_counts
        k = 0 if self.shear_centi_kpa is None else self.shear_centi_kpa.shape[0]
        head = (
            bytes([ENCODING_CODE[self.encoding], self.foot])
            + self.device_id.to_bytes(2, "little")
            + (self.seq % (1 << 32)).to_bytes(4, "little")
            + self.t_device_us.to_bytes(8, "little")
            + p.shape[0].to_bytes(2, "little")
            + bytes([k])
        )
        shear = b"" if k == 0 else self.shear_centi_kpa.astype("<i2").tobytes()
        return head + p.astype("<u2").tobytes() + shear


def _n_sensels(rng: np.random.Generator) -> int:
    r = rng.random()
    if r < 0.15:
        return int(rng.integers(1, 17))
    if r < 0.65:
        return int(rng.integers(17, 301))
    if r < 0.80:
        return int(rng.choice([99, 170, 256, 1024]))
    return int(rng.integers(301, 4097))


def random_frames(rng: np.random.Generator, count: int) -> list[RandomFrame]:
    """``count`` frames over the protocol's whole range: sizes 1..4096 sensels, 0..32
    shear sites, all-zero to fully loaded, 12- and 16-bit values, every encoding (mostly
    auto), sequence numbers around the 32-bit wrap and beyond, any device clock."""
    frames = []
    for _ in range(count):
        n = _n_sensels(rng)
        k = 0 if rng.random() < 0.3 else int(rng.integers(1, 33))
        fill = float(rng.choice([0.0, 0.005, 0.05, 0.3, 0.5, 0.9, 1.0]))
        top = int(rng.choice([4095, 4095, 4095, 65535, 15], p=[0.25, 0.25, 0.25, 0.2, 0.05]))
        p = rng.integers(1, top + 1, n).astype(np.uint16)
        p[rng.random(n) >= fill] = 0
        if rng.random() < 0.05:  # 12-bit boundary
            p[rng.integers(n)] = 4096 if rng.random() < 0.5 else 4095
        shear = (
            rng.integers(-32768, 32768, (k, 3)).astype(np.int16)
            if k
            else (None if rng.random() < 0.5 else np.zeros((0, 3), np.int16))
        )
        r = rng.random()
        seq = (
            int(rng.integers(0, 1 << 32))
            if r < 0.8
            else int(rng.choice([0, 0xFFFFFFFF, 0xFFFFFFFE, 1 << 32, (1 << 40) + 7]))
        )
        frames.append(
            RandomFrame(
                device_id=int(rng.integers(0, 1 << 16)),
                foot=int(rng.integers(0, 2)),
                seq=seq,
                t_device_us=int(rng.integers(0, 1 << 63)) * 2 + int(rng.integers(0, 2)),
                pressure_counts=p,
                shear_centi_kpa=shear,
                encoding="auto" if rng.random() < 0.7 else str(rng.choice(ENCODINGS[1:])),
            )
        )
    return frames


def python_control(message: bytes) -> tuple[int, int] | None:
    """(command, argument) if the Python decoder takes ``message`` as a CONTROL message
    that a device must ACK (an unknown command byte included), else None."""
    from base.wire.messages import ControlCommand, ProtocolError, decode_message

    try:
        decoded = decode_message(message)
    except ProtocolError as exc:
        if "unknown CONTROL command" in str(exc):
            return message[2], int.from_bytes(message[3:5], "little")
        return None
    if isinstance(decoded, ControlCommand):
        return int(decoded.command), decoded.argument
    return None


def control_fuzz_stream(rng: np.random.Generator, units: int) -> bytes:
    """Mutated CONTROL (and other short) messages, COBS-framed, some left intact."""
    from base.wire.cobs import cobs_encode
    from base.wire.messages import DeviceInfo, encode_ack, encode_control, encode_info
    from tests.firmware_bridge.test_fuzz import _mutate_fixed, _mutate_raw

    base = [encode_control(c, a) for c in (1, 2, 3, 4, 0x42, 0xFF) for a in (0, 200, 0xFFFF)]
    base += [encode_ack(3, 0, 200), encode_info(DeviceInfo(1, 1, 0, 200, 8, 0, "f", "l", "c"))]
    parts = []
    for _ in range(units):
        message = base[int(rng.integers(len(base)))]
        r = rng.random()
        if r < 0.2:
            parts.append(cobs_encode(message))
        elif r < 0.6:
            parts.append(_mutate_raw(rng, cobs_encode(message), int(rng.integers(8))))
        else:
            parts.append(cobs_encode(_mutate_fixed(rng, message, int(rng.integers(6)))))
        parts.append(b"\x00" * int(rng.choice([1, 1, 1, 2])))
    return b"".join(parts)
