"""Package attributes loaded on first use (PEP 562), so that importing one light module of
a package (a CLI command's parser) does not load its heavy modules (numba: ~100 MB that
every ``plantar`` command would pay)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module
    name) when ``name`` is first asked for."""

    def get_attribute(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return get_attribute
