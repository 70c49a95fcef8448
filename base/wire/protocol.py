"""Constants of the Plantar wire protocol, version 1.

The normative description is ``hardware/PROTOCOL.md``; this module holds the same
numbers for the Python side (message types, byte offsets, size limits, GATT UUIDs).
All multi-byte integers on the wire are little-endian.
"""

from __future__ import annotations

import struct
from enum import IntEnum

PROTOCOL_VERSION = 1

FOOT_LEFT = 0
FOOT_RIGHT = 1


class MsgType(IntEnum):
    """Value of byte 0 of every message."""

    DATA = 0x01
    INFO = 0x02
    CONTROL = 0x03
    ACK = 0x04


class Encoding(IntEnum):
    """Pressure payload encoding, bits 1-2 of the DATA ``flags`` byte.

    Bit 1 of the flags byte (field value 1) selects the sparse bitmap layout, bit 2
    (field value 2) selects 12-bit packing of the values.
    """

    DENSE16 = 0
    SPARSE16 = 1
    DENSE12 = 2
    SPARSE12 = 3


ENCODING_NAMES: dict[str, Encoding] = {
    "dense": Encoding.DENSE16,
    "sparse": Encoding.SPARSE16,
    "dense12": Encoding.DENSE12,
    "sparse12": Encoding.SPARSE12,
}

FLAG_FOOT_RIGHT = 0x01
FLAG_ENCODING_SHIFT = 1
FLAG_ENCODING_MASK = 0x06
FLAG_RESERVED_MASK = 0xF8

# DATA header: msg_type, version, flags, device_id, seq, t_device_us, n_sensels, n_shear
DATA_HEADER = struct.Struct("<BBBHIQHB")
DATA_HEADER_SIZE = DATA_HEADER.size  # 20
OFF_FLAGS = 2
OFF_DEVICE_ID = 3
OFF_SEQ = 5
OFF_T_DEVICE_US = 9
OFF_N_SENSELS = 17
OFF_N_SHEAR = 19
CRC_SIZE = 4
SHEAR_COMPONENTS = 3  # tx, ty, n
SHEAR_BYTES_PER_SITE = 2 * SHEAR_COMPONENTS

MAX_SENSELS = 4096
MAX_SHEAR = 32
MAX_12BIT_COUNTS = 4095

# INFO: msg_type, version, foot, device_id, sampling_rate_hz, n_sensels, n_shear,
#       firmware_version[16], layout_id[24], calibration_id[24]; then CRC-32
FIRMWARE_VERSION_LEN = 16
LAYOUT_ID_LEN = 24
CALIBRATION_ID_LEN = 24
INFO_BODY = struct.Struct(f"<BBBHHHB{FIRMWARE_VERSION_LEN}s{LAYOUT_ID_LEN}s{CALIBRATION_ID_LEN}s")
INFO_SIZE = INFO_BODY.size + CRC_SIZE  # 78


class Command(IntEnum):
    """CONTROL command codes (byte 2 of a CONTROL message)."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    REQUEST_INFO = 0x04


# CONTROL: msg_type, version, command, u16 argument; then CRC-32
CONTROL_BODY = struct.Struct("<BBBH")
CONTROL_SIZE = CONTROL_BODY.size + CRC_SIZE  # 9


class AckStatus(IntEnum):
    """Result code of an ACK message (byte 3)."""

    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    BUSY = 3


# ACK: msg_type, version, command echoed, status, u16 argument echoed; then CRC-32
ACK_BODY = struct.Struct("<BBBBH")
ACK_SIZE = ACK_BODY.size + CRC_SIZE  # 10


def sparse_group_count(n_sensels: int) -> int:
    """Number of 8-sensel groups G = ceil(n / 8)."""
    return (n_sensels + 7) // 8


def sparse_group_mask_bytes(n_sensels: int) -> int:
    """Bytes of the sparse group mask, ceil(G / 8)."""
    return (sparse_group_count(n_sensels) + 7) // 8


def packed12_bytes(n_values: int) -> int:
    """Bytes taken by ``n_values`` 12-bit values packed as a little-endian bit stream."""
    return (3 * n_values + 1) // 2


def max_message_bytes() -> int:
    """Largest valid message of protocol version 1 (dense u16, maximal layout)."""
    return DATA_HEADER_SIZE + 2 * MAX_SENSELS + SHEAR_BYTES_PER_SITE * MAX_SHEAR + CRC_SIZE


def cobs_max_encoded_bytes(n_raw: int) -> int:
    """Upper bound of the COBS-encoded size of an ``n_raw``-byte message (no delimiter)."""
    return n_raw + n_raw // 254 + 1


MAX_MESSAGE_BYTES = max_message_bytes()
MAX_ENCODED_BYTES = cobs_max_encoded_bytes(MAX_MESSAGE_BYTES)

# BLE GATT (128-bit UUIDs; the 16-bit slot in bytes 2-3 distinguishes them)
GATT_SERVICE_UUID = "29ac0001-a55d-4285-a31f-0e2e7bf121e1"
GATT_DATA_UUID = "29ac0002-a55d-4285-a31f-0e2e7bf121e1"
GATT_INFO_UUID = "29ac0003-a55d-4285-a31f-0e2e7bf121e1"
GATT_CONTROL_UUID = "29ac0004-a55d-4285-a31f-0e2e7bf121e1"
BLE_ATT_HEADER_BYTES = 3
BLE_COUNTER_BYTES = 1
BLE_DEFAULT_ATT_MTU = 23
