"""Plantar: a Raspberry Pi logger for plantar pressure and shear insoles (the CLI, on top)."""

from base.version import __version__

__all__ = ["__version__"]
