"""The decoder kernels' literal copies of protocol constants equal base/wire/protocol.py.

numba freezes module globals at compile time, so ``firmware_bridge/decode_kernels.py``
keeps its own literal copies; this test pins every one of them to the protocol module.
"""

from __future__ import annotations

from base.wire import protocol
from firmware_bridge import decode_kernels as dk

#: kernel copy -> the protocol constant it stands for
PINNED = {
    "_VERSION": protocol.PROTOCOL_VERSION,
    "_T_DATA": protocol.MsgType.DATA,
    "_T_INFO": protocol.MsgType.INFO,
    "_T_CONTROL": protocol.MsgType.CONTROL,
    "_T_ACK": protocol.MsgType.ACK,
    "_INFO_SIZE": protocol.INFO_SIZE,
    "_CONTROL_SIZE": protocol.CONTROL_SIZE,
    "_ACK_SIZE": protocol.ACK_SIZE,
    "_HDR": protocol.DATA_HEADER_SIZE,
}
#: kernel-internal return codes, not protocol constants
KERNEL_ONLY = {"_OK_DATA", "_OK_MESSAGE"}


def test_every_kernel_copy_equals_its_protocol_constant() -> None:
    for name, expected in PINNED.items():
        assert getattr(dk, name) == int(expected), f"decode_kernels.{name} != protocol"


def test_every_private_integer_constant_of_the_kernels_is_pinned() -> None:
    copies = {
        name
        for name, value in vars(dk).items()
        if name.startswith("_") and name[1:].isupper() and isinstance(value, int)
    }
    assert copies, "no kernel constants found: the test reads the wrong module"
    assert copies - KERNEL_ONLY == set(PINNED)
