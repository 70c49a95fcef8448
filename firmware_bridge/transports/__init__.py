"""Transport implementations, one module per URL scheme.

Importing this package registers ``serial``, ``sim`` and ``replay`` (with the entry
points that extend them, e.g. the store's replay of stored sessions) and, if its module
imports (it needs bleak), ``ble``. :func:`firmware_bridge.transport.open_transport` also
imports a scheme's modules on first use, so code that only opens URLs needs no import.
"""

from __future__ import annotations

import contextlib

from firmware_bridge.transport import LAZY_TRANSPORTS, load_transport_modules

for _scheme in LAZY_TRANSPORTS:
    # ble (and anything optional) must not break the others when its dependency is missing
    with contextlib.suppress(ImportError):
        load_transport_modules(_scheme)
