"""Bluetooth LE for the bridge: scanning, a virtual radio and simulated GATT insoles.

Modules (import them directly; this package imports nothing heavy):

- :mod:`firmware_bridge.ble.scan`: one scan per adapter, the adapter lock, the
  no-adapter error, :func:`~firmware_bridge.ble.scan.scan_insoles` for ``plantar scan``.
- :mod:`firmware_bridge.ble.commands`: the ``plantar scan`` subcommand.
- :mod:`firmware_bridge.ble.virtual_radio`: bumble controllers on one ``LocalLink``.
- :mod:`firmware_bridge.ble.bumble_backend`: bleak client/scanner backends driving a
  bumble central on that radio (``BleakClient(..., backend=BumbleClientBackend)``).
- :mod:`firmware_bridge.ble.peripheral`: a simulated insole as a GATT peripheral.

The ``ble://`` transport itself is :mod:`firmware_bridge.transports.ble`. See
``docs/ble.md``.
"""
