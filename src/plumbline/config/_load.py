"""Loading a configuration file or folder into a checked :class:`Config`.

Every problem found is collected (all files, all documents) and raised together as one
:class:`InvalidConfigError`, in file and line order, so a user fixes them in one pass.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from plumbline.config._model import (
    API_VERSION,
    DEFAULT_ENVIRONMENT,
    DEFAULT_INSTANCE,
    DEFAULT_PROJECT,
    INSTANCE_ENV,
    KINDS,
    App,
    Environment,
    GuardException,
    Instance,
    Project,
    StoreSpec,
    VerificationSpec,
    check_dns1123_label,
    effective_verification,
)
from plumbline.config._problems import InvalidConfigError, Problem, line_of, problems_from_validation
from plumbline.errors import ConfigError
from plumbline.yamlio import MAX_FILE_BYTES, YamlError, load_documents, load_documents_with_lines

SUFFIXES = (".yaml", ".yml")

T = TypeVar("T")


@dataclass(frozen=True)
class Origin:
    """Where an object was declared: file (as found from the path given) and 1-based line; for an
    object read from the cluster, ``cluster:NAMESPACE`` (line 0) and its ``metadata.generation``."""

    file: str
    line: int
    generation: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Config:
    """Projects, Environments, Apps and GuardExceptions by name (sorted), and where each was declared.

    ``projects`` always holds ``default`` (declared or implicit). ``environments`` holds the implicit
    ``default`` only when no Environment is declared: once environments exist, an App must name one.
    ``instance`` names this installation in every object it tracks (the declared ``Instance``, else
    ``$PLUMBLINE_INSTANCE``, else ``default``); ``store`` where it keeps its state (the declared
    Instance's ``spec.store``, else the SQLite default).
    """

    apps: dict[str, App]
    projects: dict[str, Project]
    environments: dict[str, Environment]
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    exceptions: dict[str, GuardException] = field(default_factory=dict)
    instance: str = DEFAULT_INSTANCE
    rejected: tuple[Problem, ...] = ()
    """Read leniently from the cluster: the problems of the Apps left out because they are invalid."""
    store: StoreSpec = field(default_factory=StoreSpec)

    def exceptions_for(self, app: str) -> list[GuardException]:
        """The standing guard exceptions of ``app`` (expired ones too: they are reported)."""
        return [e for e in self.exceptions.values() if e.spec.app == app]

    def app(self, name: str) -> App:
        """The App called ``name``; ConfigError naming the known apps (and the closest) if there is none."""
        return _lookup("app", name, self.apps)

    def project(self, name: str) -> Project:
        return _lookup("project", name, self.projects)

    def environment(self, name: str) -> Environment:
        return _lookup("environment", name, self.environments)

    def verification(self, app: App) -> VerificationSpec | None:
        """The verification window ``app`` is held to after a sync: its own ``spec.verification``
        over its Environment's, field by field (None: neither declares one)."""
        environment = self.environments.get(app.spec.environment)
        return effective_verification(
            app.spec.verification, environment.spec.verification if environment else None
        )

    def origin(self, obj: App | Project | Environment | GuardException) -> Origin | None:
        """Where ``obj`` was declared; None for the implicit defaults."""
        return self.origins.get((obj.kind, obj.name))


def _lookup(what: str, name: str, known: dict[str, T]) -> T:
    if name in known:
        return known[name]
    if not known:
        raise ConfigError(f"unknown {what} {name!r}: no {what}s are configured")
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown {what} {name!r}{hint} (known {what}s: {', '.join(known)})")


def config_files(path: Path) -> list[Path]:
    """``path`` itself if a file; else every ``*.yaml``/``*.yml`` below it, sorted, hidden folders skipped."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no such configuration file or directory")
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder, f) for f in files if f.endswith(SUFFIXES) and not f.startswith(".")]
    if not found:
        raise ConfigError(f"{path}: no *.yaml or *.yml files in this directory")
    return sorted(found, key=lambda p: p.relative_to(path).parts)


@dataclass(frozen=True)
class _Declared:
    kind: str
    name: str
    obj: BaseModel | None  # None if the object was declared but is invalid
    data: Any
    origin: Origin
    refs: dict[str, str]  # field name in spec -> name it refers to, read even from an invalid object


def _read(file: Path, problems: list[Problem]) -> list[tuple[Any, Any, int]]:
    """(round-trip data, plain data, first line) for each document of ``file``; problems appended."""
    name = str(file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(name, None, None, None, f"larger than {MAX_FILE_BYTES} bytes"))
            return []
        text = file.read_text(encoding="utf-8")
        with_lines = load_documents_with_lines(text, file=name)
        plain = load_documents(text, file=name)
    except OSError as error:
        problems.append(Problem(name, None, None, None, f"cannot be read: {error.strerror or error}"))
        return []
    except UnicodeDecodeError:
        problems.append(Problem(name, None, None, None, "not UTF-8 text"))
        return []
    except YamlError as error:
        match = re.match(rf"{re.escape(name)}(?::(\d+))?(?::\d+)?: (.*)", str(error), re.S)
        line, message = (int(match[1]) if match[1] else None, match[2]) if match else (None, str(error))
        problems.append(Problem(name, line, None, None, message))
        return []
    return [(r.data, p.data, r.line) for r, p in zip(with_lines, plain, strict=True)]


def _declare(data: Any, plain: Any, *, file: str, line: int, problems: list[Problem]) -> _Declared | None:
    """Validate one document. None if it is not even recognisable as a plumbline object."""
    if not isinstance(plain, dict):
        problems.append(Problem(file, line, None, None, "expected a mapping with apiVersion, kind, metadata"))
        return None
    kind, version = plain.get("kind"), plain.get("apiVersion")
    metadata = plain.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    obj_label = f"{kind}/{name if isinstance(name, str) else '?'}"
    if version != API_VERSION:
        where = line_of(data, ("apiVersion",), default=line)
        problems.append(
            Problem(file, where, obj_label, "apiVersion", f"expected {API_VERSION!r} (got {version!r})")
        )
        return None
    if kind not in KINDS:
        where = line_of(data, ("kind",), default=line)
        known = ", ".join(KINDS)
        problems.append(Problem(file, where, obj_label, "kind", f"expected one of {known} (got {kind!r})"))
        return None
    model = KINDS[kind]
    base_dir = str(Path(file).parent.absolute())
    origin = Origin(file, line_of(data, ("metadata", "name"), default=line))
    try:
        obj: BaseModel | None = model.model_validate(plain, context={"base_dir": base_dir})
    except ValidationError as error:
        problems += problems_from_validation(
            error.errors(), model=model, data=data, file=file, obj=obj_label, line=line
        )
        obj = None
    if not isinstance(name, str):
        return None
    return _Declared(kind=kind, name=name, obj=obj, data=data, origin=origin, refs=_refs(kind, plain))


# What each kind refers to by name, and the default when the field is left out.
_REFERENCES: dict[str, dict[str, str | None]] = {
    "App": {"project": "default", "environment": "default"},
    "Environment": {"requiresPassedIn": None},
    "GuardException": {"app": None},
}


def _refs(kind: str, plain: dict[str, Any]) -> dict[str, str]:
    spec = plain.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    refs = {}
    for key, default in _REFERENCES.get(kind, {}).items():
        value = spec.get(key, default)
        if isinstance(value, str):
            refs[key] = value
    return refs


def _instance(declared: list[_Declared], problems: list[Problem], env: Mapping[str, str]) -> str:
    """The instance name: the one Instance declared, else ``$PLUMBLINE_INSTANCE``, else the default.
    An environment variable that disagrees with the config is a problem, not a silent override: the
    name is part of every tracked object's identity."""
    from_env = env.get(INSTANCE_ENV, "").strip()
    for extra in declared[1:]:
        problems.append(
            Problem(
                extra.origin.file,
                extra.origin.line,
                f"Instance/{extra.name}",
                "metadata.name",
                f"only one Instance may be declared; {declared[0].origin} already names this installation "
                f"{declared[0].name!r}",
            )
        )
    if declared:
        first = declared[0]
        if from_env and from_env != first.name:
            problems.append(
                Problem(
                    first.origin.file,
                    first.origin.line,
                    f"Instance/{first.name}",
                    "metadata.name",
                    f"${INSTANCE_ENV} is {from_env!r} but the configuration names this installation "
                    f"{first.name!r}; the name is part of every tracked object's identity, so they must "
                    f"agree (unset {INSTANCE_ENV}, or change one of them)",
                )
            )
        return first.name
    if from_env:
        try:
            return check_dns1123_label(from_env)
        except ValueError as error:
            problems.append(Problem(f"${INSTANCE_ENV}", None, None, None, str(error)))
    return DEFAULT_INSTANCE


def _cross_check(
    declared: list[_Declared], problems: list[Problem], env: Mapping[str, str] | None = None
) -> Config:
    """Duplicates, and references from Apps and Environments to names that do not exist."""
    seen: dict[tuple[str, str], _Declared] = {}
    for d in declared:
        first = seen.setdefault((d.kind, d.name), d)
        if first is not d:
            problems.append(
                Problem(
                    d.origin.file,
                    d.origin.line,
                    f"{d.kind}/{d.name}",
                    "metadata.name",
                    f"{d.kind} {d.name!r} is declared twice: here and at {first.origin}",
                )
            )
    valid = {key: d.obj for key, d in seen.items() if d.obj is not None}
    projects = {n: o for (k, n), o in valid.items() if isinstance(o, Project)}
    projects.setdefault("default", DEFAULT_PROJECT)
    environments = {n: o for (k, n), o in valid.items() if isinstance(o, Environment)}
    declared_envs = {n for (k, n) in seen if k == "Environment"}
    if not declared_envs:
        environments["default"] = DEFAULT_ENVIRONMENT
    apps = {n: o for (k, n), o in valid.items() if isinstance(o, App)}
    exceptions = {n: o for (k, n), o in valid.items() if isinstance(o, GuardException)}
    known_apps = set(apps) | {n for (k, n) in seen if k == "App"}
    # Names declared but invalid already have a problem of their own: do not report them as unknown too.
    known_projects = set(projects) | {n for (k, n) in seen if k == "Project"}
    known_envs = set(environments) | declared_envs

    def refer(d: _Declared, field: tuple[str, str], value: str, what: str, known: set[str]) -> None:
        close = difflib.get_close_matches(value, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        note = ""
        if what == "environment" and value == "default" and declared_envs:
            note = "; once Environments are declared, every App must name one"
        problems.append(
            Problem(
                d.origin.file,
                line_of(d.data, field, default=d.origin.line),
                f"{d.kind}/{d.name}",
                ".".join(field),
                f"unknown {what} {value!r} ({hint}known: {', '.join(sorted(known))}){note}",
            )
        )

    for d in seen.values():
        for key, value in d.refs.items():
            where = ("spec", key)
            if key == "project" and value not in known_projects:
                refer(d, where, value, "project", known_projects)
            elif key == "environment" and value not in known_envs:
                refer(d, where, value, "environment", known_envs)
            elif key == "requiresPassedIn" and value == d.name:
                line = line_of(d.data, where, default=d.origin.line)
                message = "an environment cannot require a revision to have passed in itself"
                problems.append(Problem(d.origin.file, line, f"Environment/{d.name}", "spec." + key, message))
            elif key == "requiresPassedIn" and value not in known_envs:
                refer(d, where, value, "environment", known_envs)
            elif key == "app" and value not in known_apps:
                refer(d, where, value, "app", known_apps)

    instances = [d for (k, _), d in seen.items() if k == "Instance"]
    config = Config(
        apps=dict(sorted(apps.items())),
        projects=dict(sorted(projects.items())),
        environments=dict(sorted(environments.items())),
        origins={key: d.origin for key, d in seen.items()},
        exceptions=dict(sorted(exceptions.items())),
        instance=_instance(instances, problems, os.environ if env is None else env),
        store=next((d.obj.spec.store for d in instances if isinstance(d.obj, Instance)), StoreSpec()),
    )
    for name, app in config.apps.items():
        try:
            config.verification(app)
        except ValueError as error:
            d = seen[("App", name)]
            line = line_of(d.data, ("spec", "verification"), default=d.origin.line)
            field_name = "spec.verification.checks"
            problems.append(Problem(d.origin.file, line, f"App/{name}", field_name, str(error)))
    return config


_EMPTY = (
    "declares nothing: the file is empty (or holds only comments, '---' or null documents); "
    "a configuration file declares Projects, Environments and Apps, or is removed"
)


SERVER_METADATA = ("name", "namespace", "labels", "annotations")
"""What of an object's metadata read from the cluster is the author's; the rest is the server's."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLUSTER = "cluster:"
"""How an object read from the cluster is named in problems: ``cluster:NAMESPACE: App/x: field: ...``."""


def as_written(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object read from the cluster as its author wrote it: without ``status`` and the metadata the
    API server adds (uid, resourceVersion, managedFields, kubectl's last-applied annotation)."""
    metadata = obj.get("metadata") or {}
    kept = {k: v for k, v in metadata.items() if k in SERVER_METADATA}
    annotations = {k: v for k, v in (kept.pop("annotations", None) or {}).items() if k != LAST_APPLIED}
    if annotations:
        kept["annotations"] = annotations
    return {**{k: v for k, v in obj.items() if k not in ("metadata", "status")}, "metadata": kept}


def config_from_objects(
    objects: list[dict[str, Any]], *, home: str, env: Mapping[str, str] | None = None, lenient: bool = False
) -> Config:
    """The configuration from plumbline's objects as read from the cluster (every kind listed in the
    ``home`` namespace, the controller's; Apps from any namespace), checked by the same models as a
    file, each problem naming ``cluster:NAMESPACE``, the object and the field.

    An App outside ``home`` belongs to the configuration only if its Project (in ``home``) lists the
    App's namespace in ``sourceNamespaces`` (decision 0014); others are left out, as are objects of
    other kinds outside ``home``. Raises :class:`InvalidConfigError` listing every problem; with
    ``lenient`` (the controller), an App with problems of its own is left out instead and its problems
    are the config's ``rejected`` — one team's broken App does not stop the others' — while a problem
    of any other kind still raises.
    """
    problems: list[Problem] = []
    declared: list[_Declared] = []
    for obj in objects:
        namespace = (obj.get("metadata") or {}).get("namespace") or home
        if obj.get("kind") != "App" and namespace != home:
            continue
        written = as_written(obj)
        where = f"{CLUSTER}{namespace}"
        found = _declare(written, written, file=where, line=0, problems=problems)
        if found is not None:
            generation = (obj.get("metadata") or {}).get("generation")
            declared.append(replace(found, origin=Origin(where, 0, generation=generation)))
    projects = {d.name: d.obj for d in declared if isinstance(d.obj, Project)}
    projects.setdefault("default", DEFAULT_PROJECT)

    def admitted(d: _Declared) -> bool:
        namespace = d.origin.file.removeprefix(CLUSTER)
        if d.kind != "App" or namespace == home:
            return True
        project = projects.get(d.refs.get("project", "default"))
        return project is not None and project.allows_apps_in(namespace)

    def from_objects(problem: Problem) -> bool:
        return problem.file.startswith(CLUSTER)

    kept = [d for d in declared if admitted(d)]
    left = {f"{d.origin.file}: {d.kind}/{d.name}" for d in declared if d not in kept}
    problems = [p for p in problems if not (from_objects(p) and f"{p.file}: {p.obj}" in left)]
    config = _cross_check(kept, problems, env)
    problems.sort(key=lambda p: (p.file, p.obj or ""))
    rejected = [p for p in problems if lenient and from_objects(p) and (p.obj or "").startswith("App/")]
    problems = [p for p in problems if p not in rejected]
    if problems:
        raise InvalidConfigError(problems)
    if not rejected:
        return config
    names = {(p.obj or "").removeprefix("App/") for p in rejected}
    apps = {name: app for name, app in config.apps.items() if name not in names}
    return replace(config, apps=apps, rejected=tuple(rejected))


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Load and check a configuration file (multi-document YAML) or folder (every YAML file inside).
    ``env`` (default: the process environment) supplies ``$PLUMBLINE_INSTANCE``.

    Raises :class:`InvalidConfigError` (a ConfigError) listing every problem, each naming file, line,
    object and field (a file that declares nothing is one); ConfigError if ``path`` does not exist or
    a folder holds no YAML files.
    """
    problems: list[Problem] = []
    declared: list[_Declared] = []
    files = config_files(path)
    for file in files:
        before = len(problems)
        documents = _read(file, problems)
        if not documents and len(problems) == before:
            # An empty file would otherwise load as a configuration with no apps, silently.
            problems.append(Problem(str(file), None, None, None, _EMPTY))
        for data, plain, line in documents:
            found = _declare(data, plain, file=str(file), line=line, problems=problems)
            if found is not None:
                declared.append(found)
    config = _cross_check(declared, problems, env)
    if problems:
        order = {str(f): i for i, f in enumerate(files)}
        problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
        raise InvalidConfigError(problems)
    return config
