"""Build the kernels ahead of time: ``plantar warmup``'s second half.

Run as ``python -m analysis.aot_build [--out DIR] [--no-aot]``, always in numba's jit
mode (:mod:`base.kernels`): it compiles every kernel the live and review paths use
(:func:`analysis.warmup.warm_up`, which also fills numba's on-disk cache), then exports
each of the argument-type variants numba compiled for them into one extension module
with numba's ``pycc`` (gcc, g++ and Python's headers are needed here, not at run
time), and writes the manifest the live process checks before loading it.

Two settings of the build matter to the live process:

* the target CPU is the build machine's (``host``), as numba's JIT would pick: the same
  speed and the same floating-point rounding as the jit kernels (pycc's generic default
  was 5x slower on the frame reduction, and its fastmath sums differed in the last bits);
* the compiled functions release the GIL, as the kernels' ``nogil=True`` asks (pycc has
  no option for it: its compile flags are set for the build).

References
----------
numba's ahead-of-time compilation, ``numba.pycc``:
https://numba.readthedocs.io/en/stable/user/pycc.html (pending deprecation since 0.57;
it stays until a replacement exists, with two releases of warning before removal).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["build_aot", "main", "spec_of_type"]


#: The packages a kernel may depend on: its own and those below it (the import order of
#: tests/test_architecture.py). A change to any of their sources makes a build stale.
KERNEL_PACKAGES = ("base", "hardware", "firmware_bridge", "analysis")


class UnsupportedTypeError(TypeError):
    """An argument type the runtime matching of :mod:`base.kernels` does not know."""


def spec_of_type(t: Any) -> list[Any]:
    """A numba argument type as the JSON spec :mod:`base.kernels` matches calls against."""
    from numba.core import types

    if isinstance(t, types.Array):
        return ["A", str(t.dtype), int(t.ndim), str(t.layout), bool(t.mutable)]
    if isinstance(t, types.BaseTuple):
        return ["T", *(spec_of_type(x) for x in t.types)]
    if isinstance(t, types.Boolean):
        return ["S", "bool"]
    if isinstance(t, types.Integer | types.Float) and not isinstance(t, types.Literal):
        return ["S", str(t)]
    raise UnsupportedTypeError(str(t))


def _wrapper(dispatcher: Any, n_args: int) -> Any:
    """A function of exactly ``n_args`` positional arguments that calls the kernel's
    dispatcher: exported instead of the kernel itself, so the kernel keeps its own
    options (fastmath, inlining) when pycc compiles it as a callee."""
    params = ", ".join(f"a{i}" for i in range(n_args))
    namespace: dict[str, Any] = {"kernel": dispatcher}
    exec(f"def wrapper({params}):\n    return kernel({params})\n", namespace)
    return namespace["wrapper"]


def _no_gil_flags(flags_cls: Any) -> Any:
    def make() -> Any:
        flags = flags_cls()
        flags.release_gil = True
        return flags

    return make


def build_aot(out_dir: Path, *, target_cpu: str = "host") -> tuple[Path, int]:
    """Compile every variant of every registered kernel into ``out_dir``.

    Returns the extension's path and the number of variants. The manifest is replaced
    last and atomically, so a live process never sees a half-written build.
    """
    import numba.pycc.compiler as pycc_compiler
    from numba.pycc import CC

    from base import kernels

    cc = CC(kernels.MODULE_NAME)
    cc.target_cpu = target_cpu
    variants: dict[str, list[dict[str, Any]]] = {}
    n = 0
    for name, dispatcher in sorted(kernels.REGISTRY.items()):
        for sig in dispatcher.signatures:
            try:
                specs = [spec_of_type(t) for t in sig]
            except UnsupportedTypeError:
                continue
            restype = dispatcher.overloads[sig].signature.return_type
            export = f"k{n}"
            cc.export(export, restype(*sig))(_wrapper(dispatcher, len(sig)))
            variants.setdefault(name, []).append({"export": export, "args": specs})
            n += 1
    manifest: dict[str, Any] = {
        "platform": kernels.platform_key(),
        "target_cpu": target_cpu,
        "sources": {p: kernels.package_digest(p) for p in KERNEL_PACKAGES},
        "variants": variants,
    }
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    filename = f"{kernels.MODULE_NAME}-{digest}{suffix}"
    manifest["file"] = filename
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        cc.output_dir = tmp
        cc.output_file = filename
        original = pycc_compiler.Flags
        pycc_compiler.Flags = _no_gil_flags(original)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cc.compile()
        finally:
            pycc_compiler.Flags = original
        os.replace(Path(tmp) / filename, out_dir / filename)
    staged = out_dir / f".{kernels.MANIFEST}.tmp"
    staged.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(staged, out_dir / kernels.MANIFEST)
    for old in out_dir.glob(f"{kernels.MODULE_NAME}-*"):
        if old.name != filename:
            old.unlink(missing_ok=True)  # a running process keeps its mapping
    return out_dir / filename, n


def _missing_tools() -> str:
    """What the build needs and this machine lacks, as the apt command that installs it."""
    missing = [pkg for tool, pkg in (("gcc", "gcc"), ("g++", "g++")) if not shutil.which(tool)]
    include = sysconfig.get_paths().get("include", "")
    if not (Path(include) / "Python.h").is_file():
        missing.append("python3-dev")
    return f" (missing: sudo apt install {' '.join(missing)})" if missing else ""


def main(argv: list[str] | None = None) -> int:
    """``plantar warmup``: fill numba's cache, then build the kernels ahead of time."""
    parser = argparse.ArgumentParser(prog="plantar warmup")
    parser.add_argument("--out", help="build folder (default: base.kernels.aot_dir())")
    parser.add_argument("--no-aot", action="store_true", help="numba's cache only")
    parser.add_argument("--aot-only", action="store_true", help="say nothing of the cache")
    args = parser.parse_args(argv)
    if os.environ.get("PLANTAR_KERNELS", "").lower() != "jit":
        print("error: run with PLANTAR_KERNELS=jit (plantar warmup does)", file=sys.stderr)
        return 2
    from analysis.warmup import warm_up
    from base.kernels import aot_dir

    t0 = time.perf_counter()
    names = warm_up()
    if not args.aot_only:
        took = time.perf_counter() - t0
        print(f"compiled {len(names)} kernels in {took:.1f} s: {', '.join(names)}")
    if args.no_aot:
        return 0
    out = Path(args.out).expanduser() if args.out else aot_dir()
    try:
        path, n = build_aot(out)
    except Exception as err:  # the live process still works, with numba
        hint = _missing_tools()
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        reason = (errors or lines or [type(err).__name__])[0]
        print(
            f"warning: kernels not built ahead of time: {reason}{hint}. The live process "
            "compiles them with numba instead (about 110 MB more memory).",
            file=sys.stderr,
        )
        return 0
    print(
        f"built {n} kernel variants ahead of time in {time.perf_counter() - t0:.1f} s: {path} "
        "(the live process loads them instead of numba)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
