"""Secrets: no credential anywhere in the app's source, whichever object (or none) holds it.

Seeds 02 and 04: base64 is encoding, not protection. Two passes, both through Yelp's detect-secrets
(known token formats, private keys, high entropy, password-like keys) with its own default filters
(allowlist pragmas, ``*_id`` names, UUIDs, sequences, templated values, indirect references, lock
files) and ours (:mod:`plumbline.guards._secret_filters`: commit SHAs, names of where a secret is,
public keys, SOPS ciphertext):

* objects: a ``Secret`` (any spelling of the kind) with ``data``/``stringData`` blocks (SOPS-encrypted
  values pass); values in container env, args and ConfigMap data, read as ``KEY: "value"``;
  ``SealedSecret`` ciphertext and ``ExternalSecret`` references are accounted for, not secrets;
* raw text: every file below the app's source path (a README, Helm values, a ``.env``, a misspelled
  kind …), each read once, bounded in size, binary files skipped, as gitleaks and detect-secrets scan a
  repository. YAML ``key: value`` lines, env ``- name: KEY`` / ``value: …`` pairs and ``KEY=value``
  lines are read as ``KEY: "value"``; a YAML document of kind Secret blocks on its data even if it
  does not parse. A value the object pass accounted for is not reported again.

Findings name the file, line, key and detector, never the value.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from plumbline.config import GuardName, Severity
from plumbline.guards import _secret_filters as _filters
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards._objects import containers
from plumbline.plan import Action, Plan, PlanItem

NAME = GuardName.SECRETS
NEEDS_CLUSTER = False

# Detectors that say nothing about secrecy (a public IP is not a credential).
_SKIPPED_DETECTORS = ("IPPublicDetector",)
# Our filters, added to detect-secrets' defaults by import path (how its settings name filters). They
# live in a module of their own: leaving its settings, detect-secrets clears every cache in a filter's
# module, and this module's caches are what keep a re-sync of the same commit cheap.
_OUR_FILTERS = tuple(
    f"{_filters.__name__}.{name}"
    for name in ("is_commit_sha", "is_reference_name", "is_public_value", "is_sops_encrypted")
)
_SOPS_MARK = _filters.SOPS_MARK
_MAX_VALUE = 64 * 1024
MAX_FILE_BYTES = 1024 * 1024  # larger files are reported as not scanned, not read
MAX_FILES = 5000  # per source path; past this the rest is reported as not scanned
_BINARY_PROBE = 8192


# detect-secrets keeps its settings in one global, which each check swaps its own into, and its
# package cannot be imported by two threads at once (its modules import each other): one check at a
# time in a process — the controller's workers plan apps in parallel.
_ONE_AT_A_TIME = threading.RLock()


@contextmanager
def _detect_secrets() -> Iterator[None]:
    """detect-secrets' default plugins and filters, ours added, for this thread alone until it
    leaves. Entering is costly: once per check."""
    with _ONE_AT_A_TIME:
        from detect_secrets.settings import default_settings, get_filters, get_plugins

        with default_settings() as settings:
            for name in _SKIPPED_DETECTORS:
                settings.plugins.pop(name, None)
            settings.filters.update({path: {} for path in _OUR_FILTERS})
            get_plugins.cache_clear()
            get_filters.cache_clear()
            yield


# --- scanning lines ---


@dataclass(frozen=True)
class _Hit:
    line: int
    key: str
    kinds: tuple[str, ...]
    values: tuple[str, ...] = field(repr=False)  # kept in memory to match object findings; never shown


def _scan(filename: str, lines: list[tuple[int, str]]) -> list[_Hit]:
    """detect-secrets' plugins, then every filter, over numbered lines; one hit per line.

    What ``scan_file`` does line by line (``_process_line_based_plugins``), in two steps so it stays
    fast: the plugins' matches are cached by line text and file type (YAML repeats itself), and the
    filters run only on a match. The filters are detect-secrets' own predicates, called as it calls
    them (detect-secrets is pinned; these private names with it).
    """
    from detect_secrets.core.scan import _is_filtered_out
    from detect_secrets.util.code_snippet import get_code_snippet

    content = [line for _, line in lines]
    kind = os.path.splitext(filename)[1]
    found: dict[int, tuple[list[str], list[str]]] = {}
    for index, (number, full) in enumerate(lines):
        line = full.rstrip()
        matches = _matches(kind, line)
        if not matches:
            continue
        snippet = get_code_snippet(lines=content, line_number=index + 1)
        if _is_filtered_out(
            required_filter_parameters=["line"], filename=filename, line=line, context=snippet
        ):
            continue
        for plugin, kind_name, value in matches:
            args = {"filename": filename, "secret": value, "plugin": plugin, "line": line}
            if _is_filtered_out(required_filter_parameters=["secret"], **args) or _is_filtered_out(
                required_filter_parameters=["context"], context=snippet, **args
            ):
                continue
            kinds, values = found.setdefault(number, ([], []))
            if kind_name not in kinds:
                kinds.append(kind_name)
            if value:
                values.append(value)
    text = dict(lines)
    return [
        _Hit(n, _filters.key_of(text[n], values[0] if values else "") or "-", tuple(kinds), tuple(values))
        for n, (kinds, values) in sorted(found.items())
    ]


@lru_cache(maxsize=1)
def _could_match() -> re.Pattern[str]:
    """A line no plugin can match fails this one search (most lines of a manifest): the union of the
    regex detectors' own patterns, the keyword detector's keywords, and for an entropy detector a run
    of its characters long enough to exceed its limit (n characters carry at most log2(n) bits each).
    A plugin of another type matches anything here, so it always runs."""
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import DENYLIST_REGEX, KeywordDetector
    from detect_secrets.settings import get_plugins

    parts: list[str] = []
    for plugin in get_plugins():
        if isinstance(plugin, RegexBasedDetector):
            for regex in plugin.denylist:
                flags = "i" if regex.flags & re.IGNORECASE else ""
                parts.append(f"(?{flags}:{regex.pattern})" if flags else f"(?:{regex.pattern})")
        elif isinstance(plugin, KeywordDetector):
            parts.append(f"(?i:{DENYLIST_REGEX})")
        elif isinstance(plugin, HighEntropyStringsPlugin):
            shortest = math.floor(2**plugin.entropy_limit) + 1
            parts.append(f"[{re.escape(plugin.charset)}]{{{shortest},}}")
        else:
            return re.compile("")
    return re.compile("|".join(parts))


@lru_cache(maxsize=65536)
def _matches(kind: str, line: str) -> tuple[tuple[Any, str, str], ...]:
    """Every plugin's raw matches on ``line`` in a file of type ``kind`` (``.yaml``): (plugin, detector
    name, value). Plugins read only the line and the file type, so the result is shared."""
    from detect_secrets.settings import get_plugins

    if not _could_match().search(line):
        return ()
    return tuple(
        (plugin, secret.type, secret.secret_value or "")
        for plugin in get_plugins()
        for secret in plugin.analyze_line(filename=f"file{kind}", line=line, line_number=0)
    )


def detect(key: str, value: str) -> list[str]:
    """The kinds of secret ``value`` (under ``key``) looks like, e.g. ``["GitHub Token"]``; [] if none."""
    with _detect_secrets():
        return list(_detect(key, value))


@lru_cache(maxsize=8192)
def _detect(key: str, value: str) -> tuple[str, ...]:
    """:func:`detect` inside :func:`_detect_secrets`; values repeated across objects are scanned once."""
    if not value.strip() or _SOPS_MARK in value:
        return ()
    lines = value[:_MAX_VALUE].splitlines() or [value]
    numbered = list(enumerate([f"{key}: {json.dumps(lines[0])}", *lines[1:]], start=1))
    kinds: list[str] = []
    for hit in _scan("manifest.yaml", numbered):
        kinds += [kind for kind in hit.kinds if kind not in kinds]
    return tuple(kinds)


_YAML_SUFFIXES = (".yaml", ".yml")
_ENV_NAME = re.compile(r"""^\s*-\s+name:\s*["']?([\w.\-]+)["']?\s*$""")
_ENV_VALUE = re.compile(r"""^(\s*)value:\s*(.*?)\s*$""")
_FLOW_ENV = re.compile(r"""^(\s*)-\s*\{\s*name:\s*["']?([\w.\-]+)["']?\s*,\s*value:\s*(.*?)\s*\}\s*$""")
_PLAIN_SCALAR = re.compile(
    r"""^(\s*(?:-\s+)?)([\w.\-]+):[ \t]+(?:!!\w+[ \t]+)?([^\s"'|>&*!{\[#%@`][^#]*?)[ \t]*(#.*)?$"""
)
_SOPS_METADATA = re.compile(r"^sops:\s*$")  # SOPS's own block: key groups, MAC, encrypted data keys
_SECRET_KIND = re.compile(r"""^\s*kind:\s*["']?secret["']?\s*(?:#.*)?$""", re.IGNORECASE)
_DATA_BLOCK = re.compile(r"^(\s*)(?:data|stringData):\s*(?:#.*)?$")
_DATA_ENTRY = re.compile(r"""^(\s*)([\w.\-]+):[ \t]*(.*?)\s*$""")
_MIN_DATA = 10  # shorter values are too short to be a credential (gitleaks' rule: not "YmFyCg==")


def _quoted(indent: str, key: str, value: str, comment: str | None = "") -> str:
    """``key: "value"``, the shape detect-secrets' keyword and entropy detectors read best."""
    value = value.strip()
    if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return f"{indent}{key}: {json.dumps(value)}" + (f"  {comment}" if comment else "")


def _yaml_lines(lines: list[str]) -> list[str]:
    """YAML as ``KEY: "value"`` where we can tell the key: env pairs take the env name as key,
    unquoted scalars are quoted. Line numbers are kept (one line out for each line in)."""
    out: list[str] = []
    env_name = ""
    in_sops = False
    for line in lines:
        if line[:1] not in ("", " ", "\t", "#"):
            in_sops = bool(_SOPS_METADATA.match(line))
        if in_sops:
            out.append("")
            continue
        # Cheap substring tests first: this runs on every line of every YAML file.
        named = _ENV_NAME.match(line) if "name:" in line else None
        value = _ENV_VALUE.match(line) if "value:" in line else None
        flow = _FLOW_ENV.match(line) if named is None and "{" in line else None
        plain = _PLAIN_SCALAR.match(line) if named is None and ":" in line else None
        if flow:
            out.append(_quoted(flow.group(1), flow.group(2), flow.group(3)))
        elif value and env_name and value.group(2):
            body, _, comment = value.group(2).partition(" #")
            out.append(_quoted(value.group(1), env_name, body, f"#{comment}" if comment else ""))
        elif plain:
            out.append(_quoted(plain.group(1), plain.group(2), plain.group(3), plain.group(4)))
        else:
            out.append(line)
        if named:
            env_name = named.group(1)
        elif line.strip() and not value:
            env_name = ""
    return out


_ASSIGNMENT = re.compile(r"""^(\s*(?:export\s+)?)([A-Za-z_][\w.]*)=([^\s"'`$({\[<][^\s]*)\s*$""")


def _assignment_lines(lines: list[str]) -> list[str]:
    """``KEY=value`` lines (dotenv, shell, properties) as ``KEY="value"``: detect-secrets reads unquoted
    values only in file types it knows, and ``.env`` is not one."""
    out = []
    for line in lines:
        match = _ASSIGNMENT.match(line)
        out.append(f"{match.group(1)}{match.group(2)}={json.dumps(match.group(3))}" if match else line)
    return out


_SCANNED: dict[tuple[str, bytes], tuple[_Hit, ...] | None] = {}
_SCANNED_MAX = 4096


def _scan_file(path: Path, filename: str) -> tuple[_Hit, ...] | None:
    """The hits in one file; None: binary, not scanned. Results are kept by name and content, so a
    sync of the next commit reads again only the files that changed."""
    from detect_secrets.core.scan import _is_filtered_out

    if _is_filtered_out(required_filter_parameters=["filename"], filename=str(path)):
        return ()  # detect-secrets' file filters: images and archives by extension, lock files
    data = path.read_bytes()
    key = (filename, hashlib.sha256(data).digest())
    if key not in _SCANNED:
        if len(_SCANNED) >= _SCANNED_MAX:
            _SCANNED.clear()
        _SCANNED[key] = _scan_bytes(filename, data)
    return _SCANNED[key]


def _scan_bytes(filename: str, data: bytes) -> tuple[_Hit, ...] | None:
    if b"\0" in data[:_BINARY_PROBE]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    if not filename.endswith(_YAML_SUFFIXES):
        return tuple(_scan(filename, list(enumerate(_assignment_lines(lines), start=1))))
    hits = {hit.line: hit for hit in _secret_manifests(lines)}
    hits.update({hit.line: hit for hit in _scan(filename, list(enumerate(_yaml_lines(lines), start=1)))})
    return tuple(hits[n] for n in sorted(hits))


def _secret_manifests(lines: list[str]) -> Iterator[_Hit]:
    """Values under ``data``/``stringData`` of a YAML document whose kind is ``Secret`` in any
    spelling, read as text: a Secret manifest that does not parse, or is no object of the app,
    leaks all the same (gitleaks' kubernetes-secret-yaml rule). Templates, empty and SOPS values pass."""
    start = 0
    for end in [n for n, line in enumerate(lines) if line.startswith("---")] + [len(lines)]:
        document = lines[start:end]
        if any("kind" in line and _SECRET_KIND.match(line) for line in document):
            yield from _data_values(document, start)
        start = end + 1


def _data_values(document: list[str], offset: int) -> Iterator[_Hit]:
    block: int | None = None  # indentation of the data: line while inside its block
    for index, line in enumerate(document):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        opened = _DATA_BLOCK.match(line)
        if opened:
            block = len(opened.group(1))
            continue
        if block is None or indent <= block:
            block = None
            continue
        entry = _DATA_ENTRY.match(line)
        if not entry:
            continue
        value, number = entry.group(3), index
        if value[:1] in ("|", ">") and index + 1 < len(document):
            value, number = document[index + 1].strip(), index + 1
        value = value.strip("\"'")
        if len(value) >= _MIN_DATA and "{{" not in value and _SOPS_MARK not in value:
            yield _Hit(offset + number + 1, entry.group(2), ("Kubernetes Secret",), (value,))


def _source_files(root: Path, path: str) -> Iterator[tuple[Path, str]]:
    """Every regular file below ``root/path`` (not ``.git``; symlinks not followed), with its
    repository-relative name."""
    top = root / path
    if top.is_file() and not top.is_symlink():
        yield top, top.relative_to(root).as_posix()
        return
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if file.is_file() and not file.is_symlink():
                yield file, file.relative_to(root).as_posix()


FILE = "File"  # the subject of a finding about a file of the source rather than an object: File/<path>


def is_file_subject(subject: str) -> bool:
    return subject.startswith(f"{FILE}/")


def _file_finding(rel: str, hit: _Hit) -> Finding:
    message = (
        f"{rel} line {hit.line}: the value of {hit.key} looks like a secret "
        f"({', '.join(hit.kinds)}; value not shown); whoever can read the repository can read it"
    )
    fix = (
        "remove it from the repository, keep it in a secret store (referenced by an ExternalSecret or "
        "a SealedSecret) and rotate it, it has been exposed; if it is not a secret, end the line with "
        "'# pragma: allowlist secret'"
    )
    return finding(NAME, f"{FILE}/{rel}", message, fix, field=f"line {hit.line} {hit.key}", overridable=True)


def _not_scanned(rel: str, why: str) -> Finding:
    message = f"{rel} was not scanned for secrets: {why}"
    fix = "keep generated or large data out of the app's source path, or scan it with a secret scanner"
    return finding(NAME, f"{FILE}/{rel}", message, fix, severity=Severity.WARN)


def _same_value(found: str, known: str) -> bool:
    """Whether a value found in a line is one the object pass accounted for: inside it, or holding it
    with the line's punctuation (``{password: x}`` yields ``x}``). Short known values (``1h``) are
    not enough to claim a longer one."""
    return found in known or (len(known) >= 8 and known in found)


def _scan_source(context: GuardContext, covered: dict[str, list[str]]) -> list[Finding]:
    """Raw-text findings for every file of the app's source path; ``covered`` maps a file to the
    values the object pass accounted for there (reported already, or SealedSecret ciphertext)."""
    root = context.checkout.root
    if root is None:
        return []
    findings: list[Finding] = []
    for count, (file, rel) in enumerate(_source_files(root, context.app.spec.source.path)):
        if count >= MAX_FILES:
            findings.append(_not_scanned(rel, f"more than {MAX_FILES} files in the source path"))
            break
        stat = file.stat()
        if stat.st_size > MAX_FILE_BYTES:
            findings.append(_not_scanned(rel, f"{stat.st_size} bytes is more than {MAX_FILE_BYTES}"))
            continue
        hits = _scan_file(file, rel)
        for hit in hits or ():
            known = covered.get(rel, [])
            if hit.values and all(any(_same_value(v, c) for c in known) for v in hit.values):
                continue
            findings.append(_file_finding(rel, hit))
    return findings


# --- objects ---


def _is_secret(item: PlanItem) -> bool:
    # Any spelling: ``kind: secret`` is refused by the API server, but its data is in Git all the same.
    return item.ref.kind.lower() == "secret" and item.ref.group == ""


def _plaintext_secret(item: PlanItem) -> tuple[Finding, list[str]] | None:
    obj = item.desired or {}
    merged = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
    data = {key: value for key, value in merged.items() if value}  # null values hold nothing
    if not data or "sops" in obj:
        return None
    if all(isinstance(v, str) and _SOPS_MARK in v for v in data.values()):
        return None
    keys = ", ".join(sorted(data)[:5]) + (" …" if len(data) > 5 else "")
    field = "stringData" if obj.get("stringData") else "data"
    message = (
        f"a plaintext Secret is in the source (keys: {keys}; from {item.source}): "
        "base64 is encoding, not encryption, and everyone who can read the repository can read it"
    )
    fix = (
        "keep the value in a secret store and commit an ExternalSecret, a SealedSecret or a "
        "SOPS-encrypted file instead; rotate the value, it has been exposed"
    )
    return finding(NAME, item.ref, message, fix, field=field), [str(v) for v in data.values()]


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


def _leaves(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    elif isinstance(node, str) and node:
        yield node


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    with _detect_secrets():
        findings, covered = _check(plan)
        return findings + _scan_source(context, covered)


def _check(plan: Plan) -> tuple[list[Finding], dict[str, list[str]]]:
    findings: list[Finding] = []
    covered: dict[str, list[str]] = {}
    for item in plan.items:
        if item.desired is None or item.action is Action.PRUNE:
            continue
        if item.ref.kind in ("SealedSecret", "ExternalSecret"):
            # Ciphertext only the controller in the cluster can open, or references into a secret
            # store: safe in Git, however random or secret-named they look.
            covered.setdefault(item.source, []).extend(_leaves(item.desired.get("spec")))
            continue
        if _is_secret(item):
            found = _plaintext_secret(item)
            if found:
                findings.append(found[0])
                covered.setdefault(item.source, []).extend(found[1])
            continue
        for field_path, key, value in _values(item):
            kinds = _detect(key, value)
            if kinds:
                covered.setdefault(item.source, []).append(value)
                message = (
                    f"the value looks like a secret ({', '.join(kinds)}; value not shown) "
                    f"(from {item.source})"
                )
                fix = (
                    "reference a Secret instead (env valueFrom.secretKeyRef, fed by an "
                    "ExternalSecret or SealedSecret) and rotate the value"
                )
                findings.append(finding(NAME, item.ref, message, fix, field=field_path, overridable=True))
    return findings, covered
