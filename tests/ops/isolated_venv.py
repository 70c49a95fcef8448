"""A virtual environment that holds plantar's declared runtime dependencies and nothing else.

The wheel tests must prove what a user's ``pip install plantar-*.whl`` gets, on any machine,
without downloading numba, pyarrow ... again and without seeing anything the base
interpreter happens to have. So the venv is created *without* system site-packages, and
each distribution in the transitive closure of plantar's declared requirements (extras
named in a requirement, such as ``uvicorn[standard]``, included; plantar's own optional
extras excluded) is linked in file by file from this test run's environment (the project's
``.venv``), following the distribution's own RECORD. Nothing else is visible in it:
an undeclared import fails there as it would for a user.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sysconfig
import venv
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def runtime_closure(project: str = "plantar") -> dict[str, md.Distribution]:
    """Installed distributions that ``project``'s runtime requirements pull in (by name)."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions()}
    chosen: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in md.requires(project) or []]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name not in installed:
            raise LookupError(f"{project} requires {req}, which this environment does not have")
        before = chosen.get(name)
        extras = set(req.extras) | (before or set())
        if before is not None and extras == before:
            continue
        chosen[name] = extras
        for text in installed[name].requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": e}) for e in (extras or {""})
            ):
                todo.append(sub)
    return {name: installed[name] for name in chosen}


def create(env_dir: Path, project: str = "plantar") -> Path:
    """Create the isolated venv at ``env_dir``; return its python executable."""
    venv.EnvBuilder(system_site_packages=False, with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    for dist in runtime_closure(project).values():
        root = Path(str(dist.locate_file(""))).resolve()
        for rel in dist.files or []:
            if ".." in Path(str(rel)).parts:  # console scripts in bin/: not needed
                continue
            src = root / str(rel)
            if not src.is_file():
                continue
            dst = purelib / str(rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                os.symlink(src, dst)
    return python
