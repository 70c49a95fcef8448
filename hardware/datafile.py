"""Reading and writing Plantar's JSON data files (layouts, calibrations).

:class:`FieldReader` reads typed fields and turns every problem into a one-line
:class:`~base.errors.ConfigError` that names the file and the field;
:func:`format_data_json` writes long numeric columns compactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from base.errors import ConfigError


def readonly_array(values: Any, dtype: Any, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    """A read-only copy of ``values`` as ``dtype``, reshaped to (-1, *shape_tail) if given."""
    arr = np.array(values, dtype=dtype, copy=True)
    if shape_tail and (arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail):
        arr = arr.reshape((-1, *shape_tail))
    arr.setflags(write=False)
    return arr


class FieldReader:
    """Reads typed fields of one JSON data file; every problem is a one-line ConfigError.

    Shared by the layout and calibration loaders. ``kind`` is "layout" or "calibration";
    ``hint`` is appended to every message (what the user can do instead).
    """

    def __init__(self, kind: str, path: Path, hint: str) -> None:
        self.kind = kind
        self.path = path
        self.hint = hint

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.kind} file {self.path}: {message}; {self.hint}")

    def field_error(self, name: str, problem: str) -> ConfigError:
        return self.fail(f"field '{name}' {problem}")

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self.fail("file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail(f"cannot be read ({exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise self.fail("the top level must be a JSON object")
        return data

    def get(self, obj: dict[str, Any], key: str, prefix: str = "", default: Any = ...) -> Any:
        name = prefix + key
        if key not in obj:
            if default is ...:
                raise self.field_error(name, "is missing")
            return default
        return obj[key]

    def obj(self, obj: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
        value = self.get(obj, key, prefix)
        if not isinstance(value, dict):
            raise self.field_error(prefix + key, "must be a JSON object")
        return value

    def string(
        self,
        obj: dict[str, Any],
        key: str,
        prefix: str = "",
        choices: Sequence[str] | None = None,
        default: Any = ...,
    ) -> str:
        value = self.get(obj, key, prefix, default)
        name = prefix + key
        if not isinstance(value, str) or not value.strip():
            raise self.field_error(name, f"must be a non-empty string (got {value!r})")
        if choices is not None and value not in choices:
            raise self.field_error(name, f"must be one of {', '.join(choices)} (got {value!r})")
        return value

    def _check_number(self, value: Any, name: str, minimum: float | None, positive: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.field_error(name, f"must be a number (got {value!r})")
        number = float(value)
        if not math.isfinite(number):
            raise self.field_error(name, f"must be a finite number (got {value!r})")
        if positive and number <= 0:
            raise self.field_error(name, f"must be > 0 (got {value!r})")
        if minimum is not None and number < minimum:
            raise self.field_error(name, f"must be >= {minimum:g} (got {value!r})")
        return number

    def number(
        self,
        obj: dict[str, Any],
        key: str,
        prefix: str = "",
        *,
        positive: bool = False,
        minimum: float | None = None,
        default: Any = ...,
    ) -> float:
        value = self.get(obj, key, prefix, default)
        return self._check_number(value, prefix + key, minimum, positive)

    def integer(
        self, obj: dict[str, Any], key: str, prefix: str = "", *, minimum: int, maximum: int
    ) -> int:
        value = self.get(obj, key, prefix)
        name = prefix + key
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.field_error(name, f"must be an integer (got {value!r})")
        if not minimum <= value <= maximum:
            raise self.field_error(name, f"must be between {minimum} and {maximum} (got {value})")
        return value

    def _list(self, obj: dict[str, Any], key: str, prefix: str, length: int | None) -> list[Any]:
        value = self.get(obj, key, prefix)
        name = prefix + key
        if not isinstance(value, list):
            raise self.field_error(name, "must be a JSON array")
        if length is not None and len(value) != length:
            raise self.field_error(name, f"must have {length} values (got {len(value)})")
        return value

    def numbers(
        self,
        obj: dict[str, Any],
        key: str,
        prefix: str = "",
        *,
        length: int | None = None,
        positive: bool = False,
        minimum: float | None = None,
    ) -> np.ndarray:
        values = self._list(obj, key, prefix, length)
        name = prefix + key
        return np.array(
            [
                self._check_number(v, f"{name}[{i}]", minimum, positive)
                for i, v in enumerate(values)
            ],
            dtype=np.float64,
        )

    def strings(
        self,
        obj: dict[str, Any],
        key: str,
        prefix: str = "",
        *,
        length: int | None = None,
        choices: Sequence[str] | None = None,
    ) -> list[str]:
        values = self._list(obj, key, prefix, length)
        name = prefix + key
        for i, v in enumerate(values):
            if not isinstance(v, str) or (choices is not None and v not in choices):
                allowed = f"one of {', '.join(choices)}" if choices is not None else "a string"
                raise self.field_error(f"{name}[{i}]", f"must be {allowed} (got {v!r})")
        return values


def resolve_data_file(
    name_or_path: str | Path, directory: Path, available: list[str], kind: str
) -> Path:
    """Path of a shipped data file by id (in ``directory``), or the given path.

    Anything that is a ``Path``, ends in ``.json`` or contains a path separator is a path;
    otherwise it must be one of ``available`` (else ConfigError listing them).
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".json") or "/" in text or "\\" in text:
        return Path(name_or_path).expanduser()
    if text in available:
        return directory / f"{text}.json"
    raise ConfigError(
        f"unknown {kind} {text!r}; use one of: {', '.join(available)} or a path to a .json file"
    )


def format_data_json(obj: Any, indent: int = 0, width: int = 100) -> str:
    """JSON text with objects indented and arrays of scalars wrapped to ``width`` columns,
    so that data files with long columns stay small and readable."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if all(not isinstance(v, dict | list) for v in obj.values()):
            flat = json.dumps(obj, ensure_ascii=False)
            if len(flat) + len(pad) <= width:
                return flat
        items = [
            f"{inner}{json.dumps(k)}: {format_data_json(v, indent + 1, width)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if any(isinstance(v, dict | list) for v in obj):
            items = [inner + format_data_json(v, indent + 1, width) for v in obj]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]" if items else "[]"
        tokens = [json.dumps(v, ensure_ascii=False) for v in obj]
        lines: list[str] = []
        line = ""
        for tok in tokens:
            if line and len(inner) + len(line) + len(tok) + 2 > width:
                lines.append(line + ",")
                line = tok
            else:
                line = f"{line}, {tok}" if line else tok
        lines.append(line)
        if len(lines) == 1 and len(pad) + len(lines[0]) + 2 <= width:
            return "[" + lines[0] + "]"
        return "[\n" + "\n".join(inner + ln for ln in lines) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)
