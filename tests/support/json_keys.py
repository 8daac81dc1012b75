"""The key style of every ``-o json`` (docs/plan-schema.md): camelCase, except where a vocabulary's
words are the keys (a plan's summary, a sync report's outcome counts)."""

from __future__ import annotations

import re
from typing import Any

from plumbline.plan import Action
from plumbline.plan.attribution import Attribution
from plumbline.store import SyncResult
from plumbline.sync import Outcome

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
WORDS = {m.value for enum in (Action, Attribution, Outcome, SyncResult) for m in enum} | {"kept"}


def not_camel_case(data: Any, where: str = "$", *, skip: tuple[str, ...] = ("desired",)) -> list[str]:
    """Every key in ``data`` that is not camelCase, as a path; ``skip``: keys whose values are objects
    from the cluster or Git, kept as they are."""
    bad = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not CAMEL.match(key) and key not in WORDS:
                bad.append(f"{where}.{key}")
            if key not in skip:
                bad += not_camel_case(value, f"{where}.{key}", skip=skip)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            bad += not_camel_case(value, f"{where}[{i}]", skip=skip)
    return bad
