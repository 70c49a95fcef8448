"""Imports run one way: no package imports a package above it (``docs/architecture.md``).

Also: no module of a package is over 450 lines without a one-line reason at its top.

Every module of every package is parsed (imports inside functions too, and those under
``if TYPE_CHECKING``) and each absolute import of one of our packages is checked against
the documented order. ``tests/``, ``benchmarks/`` and ``scripts/`` sit outside the order
and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: From the bottom up; a package may import its own level and those below it.
LEVELS: dict[str, int] = {
    "base": 0,
    "hardware": 1,
    "firmware_bridge": 2,
    "store": 3,
    "analysis": 4,
    "live": 5,  # the live engine: bridge feed, pipeline, runtime, hub
    "review": 6,
    "dashboard": 7,  # serves the review pages: may import review, never the other way
    "plantar": 8,  # the CLI, imported by nothing
}
#: Top-level directories that are not packages of the product.
EXEMPT = {"tests", "benchmarks", "scripts", "docs"}

#: (module file, imported package) -> why it is still allowed. Each entry names its issue;
#: an entry that no longer matches an import fails the test (remove it).
ALLOWED: dict[tuple[str, str], str] = {}


#: A module longer than this starts with ``# Long module: <reason>``, or is split.
MAX_MODULE_LINES = 450
LONG_MODULE_MARK = "# Long module: "
#: Long modules without a reason yet, each being reworked by another step of issue 14.
LONG_ALLOWED: dict[str, str] = {}


def _packages() -> list[str]:
    return sorted(
        p.name
        for p in REPO.iterdir()
        if (p / "__init__.py").is_file() and p.name not in EXEMPT and not p.name.startswith(".")
    )


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``path``."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _against_order(package: str, target: str) -> bool:
    """True if ``package`` may not import ``target``."""
    if target == package or target not in LEVELS:
        return False
    return LEVELS[target] > LEVELS[package] or target == "plantar"


def _violations() -> tuple[list[str], set[tuple[str, str]]]:
    """Import lines against the order, and the allow-list entries that were used."""
    bad: list[str] = []
    used: set[tuple[str, str]] = set()
    for package in _packages():
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for line, target in _imports(path):
                if not _against_order(package, target):
                    continue
                if (rel, target) in ALLOWED:
                    used.add((rel, target))
                    continue
                bad.append(f"{rel}:{line}: {package} (level {LEVELS[package]}) imports {target}")
    return bad, used


def test_every_package_has_a_level() -> None:
    packages = _packages()
    assert {"base", "hardware", "firmware_bridge", "plantar"} <= set(packages)
    missing = [p for p in packages if p not in LEVELS]
    assert not missing, f"place {missing} in LEVELS and in docs/architecture.md"


def test_no_package_imports_a_package_above_it_or_the_cli() -> None:
    bad, _ = _violations()
    assert not bad, "imports against the documented order:\n" + "\n".join(bad)


def test_the_allow_list_has_no_stale_entries() -> None:
    _, used = _violations()
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"remove these ALLOWED entries, the imports are gone: {stale}"


def test_long_modules_say_why_at_their_top() -> None:
    unexplained, allowed_seen = [], set()
    for package in _packages():
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            lines = path.read_text("utf-8").splitlines()
            if len(lines) <= MAX_MODULE_LINES:
                continue
            if rel in LONG_ALLOWED:
                allowed_seen.add(rel)
            elif not (lines[0].startswith(LONG_MODULE_MARK) and len(lines[0]) > 30):
                unexplained.append(f"{rel} ({len(lines)} lines)")
    assert not unexplained, (
        f"over {MAX_MODULE_LINES} lines: split, or start with {LONG_MODULE_MARK!r}<reason>: "
        + ", ".join(unexplained)
    )
    stale = sorted(set(LONG_ALLOWED) - allowed_seen)
    assert not stale, f"remove these LONG_ALLOWED entries, they are short now: {stale}"


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("def f():\n    from store.session import x\n", "hardware", True),
        ("import plantar.cli\n", "dashboard", True),
        ("from base.errors import ConfigError\n", "store", False),
        ("from . import sibling\n", "store", False),
    ],
)
def test_the_checker_sees_imports_inside_functions(
    tmp_path: Path, source: str, package: str, expected: bool
) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert any(_against_order(package, t) for _, t in _imports(path)) is expected
