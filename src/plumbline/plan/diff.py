"""Unified diffs of objects, as YAML people read."""

from __future__ import annotations

import difflib
import io
from typing import Any

from ruamel.yaml import YAML

from plumbline.plan.normalize import normalize


def to_yaml(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(obj, buffer)
    return buffer.getvalue()


def unified_diff(live: dict[str, Any] | None, after: dict[str, Any] | None, *, name: str) -> str:
    """The change from ``live`` to ``after`` (either may be None), server-owned fields removed."""
    before_lines = to_yaml(normalize(live)).splitlines(keepends=True)
    after_lines = to_yaml(normalize(after)).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(before_lines, after_lines, fromfile=f"live/{name}", tofile=f"git/{name}", n=3)
    )
