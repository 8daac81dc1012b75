"""Turning validation failures into messages that name file, line, object, field and what was expected.

pydantic reports *where* in the data a value is wrong as a path (``loc``: ``("spec", "destination",
"namespace")``); the YAML parsed with line numbers (ruamel's ``.lc``) tells where that path is in the
file. A missing field has no line of its own, so the line of the nearest enclosing key is used.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from plumbline.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration. Shown as ``file:line: Kind/name: field.path: message``."""

    file: str
    line: int | None
    obj: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}" if self.line else self.file]
        parts += [p for p in (self.obj, self.field) if p]
        return ": ".join([*parts, self.message])


class InvalidConfigError(ConfigError):
    """The configuration has one or more problems; ``problems`` lists them in file and line order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the configuration:\n" + "\n".join(
                f"  {p}" for p in self.problems
            )
        super().__init__(text)


def field_path(loc: Sequence[int | str]) -> str:
    """``("spec", "destinations", 0, "namespace")`` -> ``spec.destinations[0].namespace``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def line_of(data: Any, loc: Sequence[int | str], *, default: int) -> int:
    """The 1-based line of ``loc`` in ruamel round-trip ``data``, or of its nearest present ancestor."""
    line, node = default, data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                line = lc.key(part)[0] + 1 if lc is not None else line
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = lc.item(part)[0] + 1 if lc is not None else line
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
        node = node[part]
    return line


def _unwrap(annotation: Any, part: int | str) -> Any:
    """The type reached by stepping ``part`` into a value of type ``annotation`` (None if unknown)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(inner[0], part) if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if (info.alias or name) == part:
                return info.annotation
        return None
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def known_fields(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The YAML names of the fields allowed at ``loc`` (the path to a mapping) in ``model``."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation, part)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [info.alias or name for name, info in annotation.model_fields.items()]
    return []


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        known = known_fields(model, loc[:-1])
        if not known:
            return "unknown field: nothing is allowed here"
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field ({hint}known: {', '.join(known)})"
    message = error["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if kind == "string_type" and isinstance(value, int | float | bool):
        return f"{message} (got {value!r}; quote it in YAML to make it a string)"
    if value is None or isinstance(value, str | int | float | bool):
        return f"{message} (got {value!r})"
    return message


def problems_from_validation(
    errors: Sequence[ErrorDetails],
    *,
    model: type[BaseModel],
    data: Any,
    file: str,
    obj: str,
    line: int,
) -> list[Problem]:
    """One :class:`Problem` per pydantic error of validating ``data`` (round-trip YAML) as ``model``."""
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        problems.append(
            Problem(
                file=file,
                line=line_of(data, loc, default=line),
                obj=obj,
                field=field_path(loc) or None,
                message=_describe(error, model),
            )
        )
    return problems
