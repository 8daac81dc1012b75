"""Secret values never leave the plan in clear: each becomes a keyed fingerprint.

Seeds 02 and 04: base64 is encoding, not protection. A ``Secret``'s ``data``/``stringData`` values,
``binaryData``/``data`` values of ConfigMaps under password-like keys, and container ``env`` values
with password-like names (:data:`RULES`) are replaced by ``redacted:<16 hex>`` wherever objects are
compared, shown, stored or sent: field changes, diffs, plan JSON, history, messages, notifications,
Events, logs. The same value always gives the same fingerprint (under one installation's key), so a
change is still a change — "``/data/password``: ``redacted:1a2b…`` → ``redacted:3c4d…``" — and the
three-way attribution of a Secret key works on fingerprints alone. Only the apply (and the guards,
in memory) see the real values.

Why keyed (HMAC-SHA-256) and not a plain hash: a plain SHA-256 of a short password is brute-forced
offline from a Slack message or an Event in minutes. The key is per installation, kept by the history
store (``<store>.key``, mode 0600, beside an SQLite file; the store's key Secret in a cluster):
whoever reads output, notifications, Events or a copy of the store alone cannot test guesses. No
length is shown either (it narrows a guess).
A value is fingerprinted by its bytes, so a key set through ``stringData`` (clear) and through
``data`` (base64) has the same fingerprint.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy as copying
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any, Protocol

from plumbline.store import Store

PREFIX = "redacted:"
_FINGERPRINT = re.compile(r"redacted:[0-9a-f]{16}")

# Names of keys and env vars whose values are treated as secret (case-insensitive, anywhere in the
# name). Over-matching only hides a harmless value; under-matching shows a secret.
SENSITIVE_NAME = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|credential|api[-_.]?key|access[-_.]?key|private[-_.]?key"
    r"|signing[-_.]?key|client[-_.]?key|\.pem$|\.key$",
    re.IGNORECASE,
)


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and _FINGERPRINT.fullmatch(value) is not None


def contains_fingerprint(value: Any) -> bool:
    """True if ``value`` is, or holds anywhere inside it, a fingerprint (a redacted value)."""
    if isinstance(value, dict):
        return any(contains_fingerprint(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_fingerprint(v) for v in value)
    return is_fingerprint(value)


Fingerprint = Callable[[Any, bool], Any]  # (value, base64-encoded?) -> fingerprint


class Rule(Protocol):
    """Marks values of an object sensitive: replaces them in place with ``fingerprint(value, encoded)``."""

    def redact(self, obj: dict[str, Any], fingerprint: Fingerprint) -> None: ...


@dataclass(frozen=True)
class MappingRule:
    """In objects of ``group``/``kind`` (globs), the values of the top-level mappings ``fields`` whose
    key matches ``keys`` (None: every key). ``encoded`` fields hold base64 (``data`` of a Secret)."""

    group: str
    kind: str
    fields: tuple[str, ...]
    encoded: tuple[str, ...] = ()
    keys: re.Pattern[str] | None = None

    def redact(self, obj: dict[str, Any], fingerprint: Fingerprint) -> None:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        if not (fnmatchcase(group, self.group) and fnmatchcase(str(obj.get("kind", "")), self.kind)):
            return
        for name in self.fields:
            mapping = obj.get(name)
            if not isinstance(mapping, dict):
                continue
            for key, value in mapping.items():
                if self.keys is None or self.keys.search(str(key)):
                    mapping[key] = fingerprint(value, name in self.encoded)


@dataclass(frozen=True)
class EnvRule:
    """Container ``env`` values whose variable name matches ``names``, in any kind of object (pod
    templates of workloads, Pods, and custom resources that embed them)."""

    names: re.Pattern[str] = SENSITIVE_NAME

    def redact(self, obj: dict[str, Any], fingerprint: Fingerprint) -> None:
        stack: list[Any] = [obj.get("spec")]  # containers live under spec (Pods, templates, CRs)
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                env = node.get("env")
                if isinstance(env, list):
                    for var in env:
                        if (
                            isinstance(var, dict)
                            and "value" in var
                            and self.names.search(str(var.get("name", "")))
                        ):
                            var["value"] = fingerprint(var["value"], False)
                stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, (dict, list)))


# The rules every plan applies; append to extend (e.g. a custom resource that holds credentials).
RULES: list[Rule] = [
    MappingRule(group="", kind="Secret", fields=("data", "stringData"), encoded=("data",)),
    MappingRule(
        group="",
        kind="ConfigMap",
        fields=("data", "binaryData"),
        encoded=("binaryData",),
        keys=SENSITIVE_NAME,
    ),
    EnvRule(),
]


class Redactor:
    """Fingerprints under one installation's key. See the module docstring."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_store(cls, store: Store) -> Redactor:
        """The redactor of the installation whose history store is ``store``: its key is the store's
        (:meth:`Store.fingerprint_key`: ``<file>.key`` beside an SQLite store, created mode 0600 on
        first use; the store's key Secret in a cluster). StoreError if it cannot be read."""
        return cls(store.fingerprint_key())

    def fingerprint(self, value: Any, encoded: bool = False) -> Any:
        """``redacted:<16 hex>`` for ``value`` (None and fingerprints stay as they are). ``encoded``:
        the value is base64 and its decoded bytes are what is fingerprinted."""
        if value is None or is_fingerprint(value):
            return value
        if isinstance(value, str):
            raw = value.encode("utf-8")
            if encoded:
                # Not base64 (the server will refuse it): the text itself is fingerprinted.
                with contextlib.suppress(binascii.Error, ValueError):
                    raw = base64.b64decode(value, validate=True)
        else:
            raw = json.dumps(value, sort_keys=True).encode("utf-8")
        return PREFIX + hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:16]

    def digest(self, obj: dict[str, Any]) -> str:
        """A keyed digest of ``obj``: HMAC-SHA-256 (128 bits, hex) of its canonical JSON (sorted keys, no
        spaces) with every sensitive value fingerprinted first. Equal objects digest alike under one
        installation's key; without the key nothing about them can be tested, and under another key
        the same object digests differently. ``obj`` is not changed."""
        shown = self.redact(obj) if sensitive_values(obj) else obj  # copied only when something is hidden
        text = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def redact(self, obj: dict[str, Any] | None, *, copy: bool = True) -> dict[str, Any] | None:
        """``obj`` with every sensitive value (:data:`RULES`) fingerprinted; a copy unless ``copy`` is
        False (then ``obj`` itself is changed and returned)."""
        if obj is None:
            return None
        out = copying.deepcopy(obj) if copy else obj
        for rule in RULES:
            rule.redact(out, self.fingerprint)
        return out

    def restore(self, recorded: dict[str, Any], clear: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``recorded`` (an object as history keeps it: sensitive values fingerprinted) with each
        fingerprint replaced by the value at the same place in ``clear`` (the same object read again,
        in clear: rendered from Git at the recorded commit) whose fingerprint it is. Also returns the
        places (JSON pointers) where ``clear`` holds no such value: those stay fingerprints, and the
        object cannot be applied as recorded. Nothing is ever taken from ``clear`` that the record
        does not vouch for."""
        shown = self.redact(clear)
        unmatched: list[str] = []

        def walk(rec: Any, clr: Any, shw: Any, pointer: str) -> Any:
            if is_fingerprint(rec):
                if shw == rec:
                    return clr
                unmatched.append(pointer)
                return rec
            if isinstance(rec, dict):
                clr, shw = (clr, shw) if isinstance(clr, dict) and isinstance(shw, dict) else ({}, {})
                return {k: walk(v, clr.get(k), shw.get(k), f"{pointer}/{k}") for k, v in rec.items()}
            if isinstance(rec, list):
                clr, shw = (clr, shw) if isinstance(clr, list) and isinstance(shw, list) else ([], [])
                return [
                    walk(
                        v,
                        clr[i] if i < len(clr) else None,
                        shw[i] if i < len(shw) else None,
                        f"{pointer}/{i}",
                    )
                    for i, v in enumerate(rec)
                ]
            return rec

        return walk(recorded, clear, shown, ""), unmatched

    def scrub(self, text: str, *objects: dict[str, Any] | None) -> str:
        """``text`` (a server's message, say) with every sensitive value of ``objects`` in it — clear,
        base64 or decoded — replaced by its fingerprint. An admission policy's message may quote the
        object it refuses; what it quotes is shown no more than the object is."""
        found: dict[str, str] = {}
        for value, encoded in sensitive_values(*objects):
            if not isinstance(value, str):
                continue
            shown = self.fingerprint(value, encoded)
            forms = [value, base64.b64encode(value.encode("utf-8")).decode("ascii")]
            if encoded:
                with contextlib.suppress(binascii.Error, ValueError, UnicodeDecodeError):
                    forms.append(base64.b64decode(value, validate=True).decode("utf-8"))
            for form in forms:
                if len(form) >= MIN_SCRUBBED:
                    found[form] = shown
        for form in sorted(found, key=len, reverse=True):  # longest first: a value inside another
            text = text.replace(form, found[form])
        return text


def sensitive_values(*objects: dict[str, Any] | None) -> list[tuple[Any, bool]]:
    """Every value of ``objects`` a rule marks sensitive and not yet fingerprinted, with whether it is
    base64; the objects are left as they are."""
    found: list[tuple[Any, bool]] = []

    def collect(value: Any, encoded: bool) -> Any:
        if value is not None and not is_fingerprint(value):
            found.append((value, encoded))
        return value  # as it is: nothing changes

    for obj in objects:
        if obj is not None:
            for rule in RULES:
                rule.redact(obj, collect)
    return found


# Shorter values are not replaced in free text: one or two characters would mangle every word.
MIN_SCRUBBED = 3


@cache
def ephemeral() -> Redactor:
    """A redactor with a key of this process alone: for plans made without a history store, whose
    fingerprints are compared with nothing recorded."""
    return Redactor(secrets.token_bytes(32))
