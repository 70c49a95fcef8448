"""INFO, CONTROL and ACK messages of the Plantar wire protocol, version 1.

The specification is ``hardware/PROTOCOL.md``. These small messages are encoded and
decoded in plain Python on both sides of the link (device simulator and host). DATA
frames are encoded by :mod:`base.wire.payload` and decoded in batches by the bridge.
"""

from __future__ import annotations

from dataclasses import dataclass

from base.wire.crc import append_crc32, crc32
from base.wire.protocol import (
    ACK_BODY,
    ACK_SIZE,
    CALIBRATION_ID_LEN,
    CONTROL_BODY,
    CONTROL_SIZE,
    CRC_SIZE,
    FIRMWARE_VERSION_LEN,
    FOOT_LEFT,
    FOOT_RIGHT,
    INFO_BODY,
    INFO_SIZE,
    LAYOUT_ID_LEN,
    PROTOCOL_VERSION,
    AckStatus,
    Command,
    MsgType,
)

__all__ = [
    "Ack",
    "ControlCommand",
    "DeviceInfo",
    "ProtocolError",
    "decode_message",
    "encode_ack",
    "encode_control",
    "encode_info",
]


class ProtocolError(ValueError):
    """A message (INFO/CONTROL/ACK) is not valid protocol version 1."""


def _check_crc(message: bytes, expected_size: int, kind: str) -> None:
    if len(message) != expected_size:
        raise ProtocolError(f"{kind} message is {len(message)} bytes, expected {expected_size}")
    if crc32(message[:-CRC_SIZE]) != int.from_bytes(message[-4:], "little"):
        raise ProtocolError(f"{kind} message fails its CRC-32")


def _check_header(msg_type: int, version: int, expected: MsgType) -> None:
    if msg_type != expected:
        raise ProtocolError(f"message type 0x{msg_type:02x} is not {expected.name}")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version} is not {PROTOCOL_VERSION}")


def _fixed_str(text: str, length: int, field: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > length:
        raise ValueError(f"{field} {text!r} is longer than {length} bytes")
    return raw


def _unfixed_str(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- INFO


@dataclass(frozen=True)
class DeviceInfo:
    """What a device says about itself (INFO message / INFO characteristic)."""

    protocol_version: int
    device_id: int
    foot: int  # FOOT_LEFT | FOOT_RIGHT
    sampling_rate_hz: int
    n_sensels: int
    n_shear: int
    firmware_version: str
    layout_id: str
    calibration_id: str


def encode_info(info: DeviceInfo) -> bytes:
    """INFO message (78 bytes, unframed, with CRC); also the INFO characteristic value."""
    if info.foot not in (FOOT_LEFT, FOOT_RIGHT):
        raise ValueError(f"foot must be 0 (left) or 1 (right), got {info.foot}")
    body = INFO_BODY.pack(
        MsgType.INFO,
        info.protocol_version,
        info.foot,
        info.device_id,
        info.sampling_rate_hz,
        info.n_sensels,
        info.n_shear,
        _fixed_str(info.firmware_version, FIRMWARE_VERSION_LEN, "firmware_version"),
        _fixed_str(info.layout_id, LAYOUT_ID_LEN, "layout_id"),
        _fixed_str(info.calibration_id, CALIBRATION_ID_LEN, "calibration_id"),
    )
    return append_crc32(body)


def _decode_info(message: bytes) -> DeviceInfo:
    _check_crc(message, INFO_SIZE, "INFO")
    t, v, foot, dev, rate, ns, nk, fw, layout, cal = INFO_BODY.unpack(message[:-CRC_SIZE])
    _check_header(t, v, MsgType.INFO)
    if foot not in (FOOT_LEFT, FOOT_RIGHT):
        raise ProtocolError(f"INFO foot byte {foot} is not 0 or 1")
    return DeviceInfo(
        v, dev, foot, rate, ns, nk, _unfixed_str(fw), _unfixed_str(layout), _unfixed_str(cal)
    )


# ----------------------------------------------------------------------- CONTROL/ACK


@dataclass(frozen=True)
class ControlCommand:
    """A host→device command; ``argument`` is the rate in Hz for SET_RATE, else 0."""

    command: Command
    argument: int = 0


@dataclass(frozen=True)
class Ack:
    """Device→host reply to a CONTROL message."""

    command: int  # echoed command byte (may be unknown to this host)
    status: AckStatus
    argument: int = 0


def encode_control(command: Command | int, argument: int = 0) -> bytes:
    """CONTROL message (9 bytes, unframed); also the CONTROL characteristic value."""
    return append_crc32(CONTROL_BODY.pack(MsgType.CONTROL, PROTOCOL_VERSION, command, argument))


def encode_ack(command: int, status: AckStatus | int, argument: int = 0) -> bytes:
    """ACK message (10 bytes, unframed)."""
    return append_crc32(ACK_BODY.pack(MsgType.ACK, PROTOCOL_VERSION, command, status, argument))


def decode_message(message: bytes) -> DeviceInfo | ControlCommand | Ack:
    """Decode one unframed INFO, CONTROL or ACK message (CRC included).

    Raises
    ------
    ProtocolError
        If the message is not a valid version-1 INFO/CONTROL/ACK message.
    """
    message = bytes(message)
    if len(message) < 2:
        raise ProtocolError("message shorter than its 2-byte header")
    msg_type = message[0]
    if msg_type == MsgType.INFO:
        return _decode_info(message)
    if msg_type == MsgType.CONTROL:
        _check_crc(message, CONTROL_SIZE, "CONTROL")
        t, v, cmd, arg = CONTROL_BODY.unpack(message[:-CRC_SIZE])
        _check_header(t, v, MsgType.CONTROL)
        try:
            return ControlCommand(Command(cmd), arg)
        except ValueError:
            raise ProtocolError(f"unknown CONTROL command 0x{cmd:02x}") from None
    if msg_type == MsgType.ACK:
        _check_crc(message, ACK_SIZE, "ACK")
        t, v, cmd, status, arg = ACK_BODY.unpack(message[:-CRC_SIZE])
        _check_header(t, v, MsgType.ACK)
        try:
            return Ack(cmd, AckStatus(status), arg)
        except ValueError:
            raise ProtocolError(f"unknown ACK status {status}") from None
    raise ProtocolError(f"message type 0x{msg_type:02x} is not INFO, CONTROL or ACK")
