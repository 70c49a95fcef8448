"""The Plantar wire format, version 1 (``hardware/PROTOCOL.md``), for device and host alike.

:mod:`~base.wire.protocol` (constants), :mod:`~base.wire.cobs` (framing),
:mod:`~base.wire.crc`, :mod:`~base.wire.messages` (INFO/CONTROL/ACK),
:mod:`~base.wire.payload` (DATA encoder) and :mod:`~base.wire.ble_packing` (BLE
notifications). The host's batch decoder is :mod:`firmware_bridge.stream_decoder`.
"""
