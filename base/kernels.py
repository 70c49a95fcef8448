"""The numba kernels, compiled just in time or loaded from an ahead-of-time build.

Every kernel module decorates its kernels with :func:`njit` from here instead of
numba's. What that returns depends on the mode, chosen once per process:

* ``jit``: numba's own ``njit`` (its on-disk cache filled by ``plantar warmup``). Loading
  numba and LLVM's JIT costs the process ~110 MB of memory (``docs/performance.md``).
* ``aot``: the same kernels compiled ahead of time into one extension module by
  ``plantar warmup`` (:mod:`analysis.aot_build`, numba's ``pycc``), so the live process
  on a Raspberry Pi imports neither numba nor llvmlite. A kernel then is an
  :class:`AotKernel`: it calls the compiled variant whose argument types match the call
  (the compiled code checks none: a float32 array where float64 is compiled would crash
  it, so the match is made here), and for a call no variant matches it switches the whole
  process to numba, correct but with numba's memory, and logs that once.

``PLANTAR_KERNELS`` = ``auto`` (default: ``aot`` when a build for exactly these sources,
this Python, NumPy, numba and machine exists in :func:`aot_dir`, else ``jit``), ``jit``
or ``aot`` (as auto, and a warning when no usable build exists).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "AotKernel",
    "aot_dir",
    "aot_status",
    "build_status",
    "kernel_mode",
    "njit",
    "package_digest",
    "platform_key",
]

log = logging.getLogger(__name__)

ENV_MODE = "PLANTAR_KERNELS"
ENV_DIR = "PLANTAR_AOT_DIR"
#: Name of the extension module (its ``PyInit_`` symbol); files carry a content hash.
MODULE_NAME = "plantar_aot_kernels"
MANIFEST = "manifest.json"
_ROOT = Path(__file__).resolve().parents[1]

#: Every kernel decorated in this process, by ``module.name``: numba dispatchers (jit)
#: or :class:`AotKernel` (aot). The ahead-of-time build reads the dispatchers.
REGISTRY: dict[str, Any] = {}
_lock = threading.RLock()
_state: dict[str, Any] = {"mode": None, "why": "", "module": None, "manifest": None}


def aot_dir() -> Path:
    """Where ``plantar warmup`` writes the ahead-of-time build: ``PLANTAR_AOT_DIR``, else
    ``plantar-aot`` in ``NUMBA_CACHE_DIR`` (the service's cache), else
    ``~/.cache/plantar/aot``."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]).expanduser() / "plantar-aot"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "plantar" / "aot"


def platform_key() -> dict[str, str]:
    """What a build is only valid for (read without importing numba)."""
    return {
        "python": sys.implementation.cache_tag or platform.python_version(),
        "machine": platform.machine(),
        "numba": metadata.version("numba"),
        "numpy": metadata.version("numpy"),
    }


def package_digest(package: str) -> str:
    """SHA-256 of the sources of one of our packages (every ``.py`` below it, by path and
    content; read, not imported)."""
    digest = hashlib.sha256()
    folder = _ROOT / package
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _load_build() -> tuple[Any, dict[str, Any]] | str:
    """The built extension and its manifest, or why there is none usable."""
    folder = aot_dir()
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return f"no ahead-of-time build in {folder} (plantar warmup builds it)"
    except (OSError, ValueError) as err:
        return f"unreadable {folder / MANIFEST}: {err}"
    if manifest.get("platform") != platform_key():
        return f"the build in {folder} is for {manifest.get('platform')}, not {platform_key()}"
    for package, digest in manifest.get("sources", {}).items():
        try:
            same = package_digest(package) == digest
        except OSError:
            same = False
        if not same:
            return f"{package}/ changed since the build in {folder} (plantar warmup rebuilds it)"
    path = folder / manifest["file"]
    try:
        loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(path))
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path, loader=loader)
        assert spec is not None
        ext = importlib.util.module_from_spec(spec)
        loader.exec_module(ext)
    except (ImportError, OSError) as err:
        return f"cannot load {path}: {err}"
    return ext, manifest


def kernel_mode() -> str:
    """``"jit"`` or ``"aot"``, decided on the first call in this process."""
    with _lock:
        if _state["mode"] is None:
            wanted = os.environ.get(ENV_MODE, "auto").strip().lower() or "auto"
            if wanted == "jit":
                _state.update(mode="jit", why=f"{ENV_MODE}=jit")
            else:
                loaded = _load_build()
                if isinstance(loaded, str):
                    _state.update(mode="jit", why=loaded)
                    if wanted == "aot":
                        log.warning("%s=aot but %s; using numba", ENV_MODE, loaded)
                else:
                    ext, manifest = loaded
                    _state.update(mode="aot", why=str(aot_dir()), module=ext, manifest=manifest)
        return str(_state["mode"])


def build_status() -> tuple[bool, str]:
    """Whether :func:`aot_dir` holds a build this process could load, and what it holds or
    why not (loads it to see; does not change this process's mode)."""
    loaded = _load_build()
    if isinstance(loaded, str):
        return False, loaded
    n = sum(len(v) for v in loaded[1]["variants"].values())
    return True, f"{n} kernel variants for {loaded[1]['platform']['machine']} in {aot_dir()}"


def aot_status() -> dict[str, Any]:
    """Mode, the reason or the build folder, and how many kernels fell back to numba."""
    mode = kernel_mode()
    return {"mode": mode, "detail": _state["why"], "numba_loaded": "numba" in sys.modules}


# -- argument types, as numba types them ---------------------------------------------------
# A call's key is built on every call, so it is cheap: an array is (ndim, dtype char, the
# flags bitmask), an int first, unlike every other key; ``dtype.name`` alone would cost
# ~3 us per array.

_C_CONTIGUOUS, _F_CONTIGUOUS, _WRITEABLE = 0x1, 0x2, 0x400  # NumPy's array flags
_BOOL, _INT, _FLOAT = ("S", "?"), ("S", "l"), ("S", "d")
_np: Any = None


def _key_of(value: Any) -> tuple[Any, ...]:
    """The type of one argument: ``(ndim, char, flags)`` for an array, ``("S", char)``
    for a scalar, ``("T", ...)`` for a tuple."""
    global _np
    if _np is None:
        import numpy

        _np = numpy
    if type(value) is _np.ndarray:
        return (value.ndim, value.dtype.char, value.flags.num)
    if isinstance(value, bool | _np.bool_):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    if isinstance(value, _np.generic):
        return ("S", value.dtype.char)
    if isinstance(value, tuple):
        return ("T", *(_key_of(v) for v in value))
    return ("?", type(value).__name__)


def _accepts(want: tuple[Any, ...], got: tuple[Any, ...]) -> bool:
    """Whether a compiled argument type ``want`` (:func:`_as_spec`) takes ``got``. A
    read-only array is taken where a writeable one was compiled: :meth:`AotKernel.__call__`
    passes a copy (a read-only array is never a kernel's output)."""
    if want[0] == "A":
        if not isinstance(got[0], int):
            return False
        _, char, ndim, layout, _mutable = want
        got_ndim, got_char, flags = got
        contiguous = (
            layout == "A"
            or (layout == "C" and flags & _C_CONTIGUOUS)
            or (layout == "F" and flags & _F_CONTIGUOUS)
        )
        return char == got_char and ndim == got_ndim and bool(contiguous)
    if want[0] != got[0]:
        return False
    if want[0] == "T":
        return len(want) == len(got) and all(
            _accepts(w, g) for w, g in zip(want[1:], got[1:], strict=True)
        )
    return want == got


class AotKernel:
    """A kernel served by the ahead-of-time build (see the module docstring).

    Calls go to the compiled variant whose argument types accept the call's; with none,
    the process switches to numba (:func:`_switch_to_jit`) and the call is compiled.
    """

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any], variants: list):
        self.py_func = py_func
        self.options = options
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func
        self._variants = variants  # [(arg specs, compiled function)]
        self._chosen: dict[tuple[Any, ...], tuple[Callable[..., Any], tuple[int, ...]]] = {}
        self.dispatcher: Any = None

    def __call__(self, *args: Any) -> Any:
        if self.dispatcher is not None:
            return self.dispatcher(*args)
        array = _np.ndarray if _np is not None else None
        got = tuple(
            [(a.ndim, a.dtype.char, a.flags.num) if type(a) is array else _key_of(a) for a in args]
        )
        chosen = self._chosen.get(got)
        if chosen is None:
            for want, compiled in self._variants:
                if len(want) == len(got) and all(map(_accepts, want, got)):
                    copies = tuple(
                        i
                        for i, (w, g) in enumerate(zip(want, got, strict=True))
                        if w[0] == "A" and w[4] and not g[2] & _WRITEABLE
                    )
                    chosen = self._chosen[got] = (compiled, copies)
                    break
            else:
                _switch_to_jit(f"{self.py_func.__module__}.{self.__name__}{got}")
                return self.dispatcher(*args)
        func, copies = chosen
        if copies:
            args = tuple(a.copy() if i in copies else a for i, a in enumerate(args))
        return func(*args)


def _switch_to_jit(reason: str) -> None:
    """No compiled variant for a call: make every kernel a numba dispatcher (numba
    resolves a kernel's calls to other kernels through its module's globals, so those
    are rebound too) and decorate the modules still to come with numba."""
    with _lock:
        if _state["mode"] == "jit":
            return
        log.warning(
            "kernel %s has no ahead-of-time variant; compiling with numba from now on "
            "(+~110 MB of memory). Run `plantar warmup` after an upgrade.",
            reason,
        )
        import numba

        for kernel in REGISTRY.values():
            if isinstance(kernel, AotKernel) and kernel.dispatcher is None:
                kernel.dispatcher = numba.njit(**kernel.options)(kernel.py_func)
        for module in list(sys.modules.values()):
            names = getattr(module, "__dict__", {})
            for name, value in list(names.items()):
                if isinstance(value, AotKernel):
                    setattr(module, name, value.dispatcher)
        _state.update(mode="jit", why=f"switched to numba: {reason}")


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` in jit mode; an :class:`AotKernel` in aot mode."""

    def decorate(func: Callable[..., Any]) -> Any:
        name = f"{func.__module__}.{func.__name__}"
        if kernel_mode() == "jit":
            import numba

            REGISTRY[name] = numba.njit(**options)(func)
            return REGISTRY[name]
        ext, manifest = _state["module"], _state["manifest"]
        variants = [
            (tuple(_as_spec(a) for a in v["args"]), getattr(ext, v["export"]))
            for v in manifest["variants"].get(name, [])
        ]
        REGISTRY[name] = AotKernel(func, options, variants)
        return REGISTRY[name]

    return decorate


def _as_spec(item: Any) -> tuple[Any, ...]:
    """A JSON argument spec of the manifest (dtype names) in :func:`_key_of`'s terms
    (dtype chars): arrays ``("A", char, ndim, layout, mutable)``."""
    import numpy

    if item[0] == "T":
        return ("T", *(_as_spec(x) for x in item[1:]))
    if item[0] == "A":
        return ("A", numpy.dtype(item[1]).char, item[2], item[3], item[4])
    return ("S", numpy.dtype(item[1]).char)
