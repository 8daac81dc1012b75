"""Secrets: no plaintext Secret in the source, no secret-looking values in env or config.

Seeds 02 and 04: base64 is encoding, not protection. A ``Secret`` with ``data``/``stringData`` in Git
blocks; ``ExternalSecret``, ``SealedSecret`` and SOPS-encrypted values pass. Values in container env,
args and ConfigMap data are read by Yelp's detect-secrets plugins (known token formats, private keys,
high-entropy strings, password-like keys). Findings name the key and the kind of secret, never the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

from plumbline.guards._model import Finding, GuardContext, Severity
from plumbline.guards._objects import containers
from plumbline.plan import Action, Plan, PlanItem

NAME = "secrets"
NEEDS_CLUSTER = False

# Detectors that say nothing about secrecy (a public IP is not a credential).
_SKIPPED_DETECTORS = {"IPPublicDetector"}
_SOPS_MARK = "ENC[AES256_GCM,"
_MAX_VALUE = 64 * 1024


@cache
def _plugins() -> tuple[Any, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import default_settings

    with default_settings():
        classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
        return tuple(cls() for cls in classes if cls.__name__ not in _SKIPPED_DETECTORS)


def detect(key: str, value: str) -> list[str]:
    """The kinds of secret ``value`` (under ``key``) looks like, e.g. ``["GitHub Token"]``; [] if none."""
    from detect_secrets.settings import default_settings

    with default_settings():
        return list(_detect(key, value))


@lru_cache(maxsize=8192)
def _detect(key: str, value: str) -> tuple[str, ...]:
    """:func:`detect` inside detect-secrets' settings (entered once per check: entering is costly);
    values repeated across objects are scanned once."""
    if not value.strip() or _SOPS_MARK in value:
        return ()
    kinds: list[str] = []
    lines = value[:_MAX_VALUE].splitlines() or [value]
    for number, line in enumerate([f"{key}: {json.dumps(lines[0])}", *lines[1:]], start=1):
        for plugin in _plugins():
            for secret in plugin.analyze_line(filename="manifest.yaml", line=line, line_number=number):
                if secret.type not in kinds:
                    kinds.append(secret.type)
    return tuple(kinds)


def _plaintext_secret(item: PlanItem) -> Finding | None:
    obj = item.desired or {}
    merged = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
    data = {key: value for key, value in merged.items() if value}  # null values hold nothing
    if not data or "sops" in obj:
        return None
    if all(isinstance(v, str) and _SOPS_MARK in v for v in data.values()):
        return None
    keys = ", ".join(sorted(data)[:5]) + (" …" if len(data) > 5 else "")
    field = "stringData" if obj.get("stringData") else "data"
    return Finding(
        guard=NAME,
        severity=Severity.BLOCK,
        ref=item.ref,
        field=field,
        message=f"a plaintext Secret is in the source (keys: {keys}; from {item.source}): "
        "base64 is encoding, not encryption, and everyone who can read the repository can read it",
        fix="keep the value in a secret store and commit an ExternalSecret, a SealedSecret or a "
        "SOPS-encrypted file instead; rotate the value, it has been exposed",
    )


def _values(item: PlanItem) -> Iterator[tuple[str, str, str]]:
    obj = item.desired or {}
    if item.ref.kind == "ConfigMap" and item.ref.group == "":
        for key, value in (obj.get("data") or {}).items():
            if isinstance(value, str):
                yield f"data.{key}", str(key), value
    for container, path in containers(obj):
        for env in container.get("env") or []:
            if isinstance(env, dict) and isinstance(env.get("value"), str):
                yield f"{path}.env[{env.get('name')}]", str(env.get("name")), env["value"]
        for list_key in ("command", "args"):
            for index, arg in enumerate(container.get(list_key) or []):
                if isinstance(arg, str):
                    yield f"{path}.{list_key}[{index}]", "arg", arg


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    from detect_secrets.settings import default_settings

    with default_settings():
        return _check(plan)


def _check(plan: Plan) -> list[Finding]:
    findings: list[Finding] = []
    for item in plan.items:
        if item.desired is None or item.action is Action.PRUNE:
            continue
        if item.ref.kind == "Secret" and item.ref.group == "":
            found = _plaintext_secret(item)
            if found:
                findings.append(found)
            continue
        for field, key, value in _values(item):
            kinds = _detect(key, value)
            if kinds:
                findings.append(
                    Finding(
                        guard=NAME,
                        severity=Severity.BLOCK,
                        ref=item.ref,
                        field=field,
                        message=f"the value looks like a secret ({', '.join(kinds)}; value not shown) "
                        f"(from {item.source})",
                        fix="reference a Secret instead (env valueFrom.secretKeyRef, fed by an "
                        "ExternalSecret or SealedSecret) and rotate the value; if it is not a secret: "
                        f"--allow {NAME}:{item.ref.kind}/{item.ref.name} --reason TEXT",
                    )
                )
    return findings
