"""Fixtures of the firmware-core tests: the core built on this host with gcc."""

from __future__ import annotations

import pytest

from base.errors import PlantarError


@pytest.fixture(scope="session")
def core():
    """The C core as a ctypes library; skipped with the reason if it cannot be built."""
    from hardware.firmware_core import load_core

    try:
        return load_core()
    except PlantarError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def driver(core):
    """Path of the plain (-O2 -g) test driver executable."""
    from hardware.firmware_core import build_driver

    return build_driver("plain")
