"""Transport implementations, one module per URL scheme.

Importing this package registers ``serial``, ``sim`` and ``replay`` and, if its module
imports (it needs bleak), ``ble``. :func:`firmware_bridge.transport.open_transport` also
imports a scheme's module on first use, so code that only opens URLs needs no import.
"""

from __future__ import annotations

import contextlib
import importlib

from firmware_bridge.transport import LAZY_TRANSPORTS

for _module in LAZY_TRANSPORTS.values():
    # ble (and anything optional) must not break the others when its dependency is missing
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)
