"""The guards' data: a finding (built by :func:`finding`, with its override hint) and what a guard may
look at. Severity and the guards' names are config's vocabulary (:class:`plumbline.config.Severity`,
:class:`plumbline.config.GuardName`)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plumbline.config import App, Environment, GuardName, Project, Severity
from plumbline.plan import ObjectRef
from plumbline.store import now

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from plumbline.cluster import Cluster
    from plumbline.config import Config
    from plumbline.store import Store


TRAILER = "Plumb-Allow"
"""The commit trailer that overrides a finding for that commit: ``Plumb-Allow: GUARD KIND/NAME``."""


@dataclass(frozen=True)
class Finding:
    """One thing a guard found, with enough to act on it.

    ``subject`` is what an override names after the guard (``destructive:StatefulSet/db``): the
    object's ``Kind/name``, or ``App/<app>`` for findings about the whole plan (``ref`` None).
    ``message`` says why; ``fix`` how to fix it or override it. Neither ever holds a secret value.
    """

    guard: GuardName
    severity: Severity
    ref: ObjectRef | None
    field: str | None
    message: str
    fix: str
    subject: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "guard", GuardName(self.guard))
        object.__setattr__(self, "severity", Severity(self.severity))
        if not self.subject:
            subject = f"{self.ref.kind}/{self.ref.name}" if self.ref else "App/*"
            object.__setattr__(self, "subject", subject)

    @property
    def key(self) -> str:
        """``GUARD:KIND/NAME``, the words ``--allow`` and ``Plumb-Allow:`` take."""
        return f"{self.guard}:{self.subject}"

    @property
    def blocks(self) -> bool:
        return self.severity is Severity.BLOCK

    def to_dict(self) -> dict[str, Any]:
        return {
            "guard": self.guard.value,
            "severity": self.severity.value,
            "object": str(self.ref) if self.ref else None,
            "subject": self.subject,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        where = str(self.ref) if self.ref else self.subject
        if self.field:
            where += f" {self.field}"
        return f"{self.severity.value} [{self.guard.value}] {where}: {self.message} — {self.fix}"


def override_hint(guard: GuardName, subject: str) -> str:
    """The words that let a blocking finding through, for its ``fix``: ``--allow`` and the trailer."""
    name = guard.value
    allow = shlex.quote(f"{name}:{subject}")  # as a shell takes it: a file's name may hold a space
    return f"--allow {allow} --reason TEXT (or a commit trailer '{TRAILER}: {name} {subject}')"


def finding(
    guard: GuardName,
    about: ObjectRef | str,
    message: str,
    fix: str,
    *,
    field: str | None = None,
    severity: Severity = Severity.BLOCK,
    overridable: bool = False,
) -> Finding:
    """A finding of ``guard`` about an object (``about`` its ref) or a subject (``App/<app>``,
    ``File/<path>``). An ``overridable`` finding's fix ends with how to override it
    (:func:`override_hint`); one a person cannot or need not override (a warning, an admission
    denial, a broken policy) says only how to fix it."""
    ref = about if isinstance(about, ObjectRef) else None
    subject = f"{about.kind}/{about.name}" if isinstance(about, ObjectRef) else about
    if overridable:
        fix = f"{fix}; override: {override_hint(guard, subject)}"
    return Finding(guard, severity, ref, field, message, fix, subject)


@dataclass(frozen=True)
class CheckoutInfo:
    """The revision a plan was made from.

    ``branches`` are the branches whose history contains ``sha`` (None: not known, e.g. a plan
    built without the repository at hand). ``message`` is the commit message (for trailers).
    ``root`` is the checked-out tree (read-only; the secrets guard reads its files), None if not at hand.
    ``mirror`` is the repository's bare mirror (read-only; signed-commit checks read commit objects
    from it), None if not at hand. ``base`` is the revision a merge request is checked against
    (``plumb check --base``, as a SHA), None for a sync.
    """

    sha: str
    revision: str
    message: str = ""
    branches: tuple[str, ...] | None = None
    root: Path | None = None
    mirror: Path | None = None
    base: str | None = None


@dataclass
class GuardContext:
    """Everything a guard may consult besides the plan. Only ``cluster`` and ``store`` do I/O.

    * ``apps`` / ``environments``: the whole configuration (other apps' namespaces and environments,
      for references, promotion and environment labels). Default: just this app and environment.
    * ``store``: history (promotion rule; other apps' last applied Services). None: not consulted.
    * ``cluster``: live reads (Services). None: offline (``plumb check``).
    * ``clock``: the current time, timezone-aware (sync windows).
    * ``prune``: whether this sync would delete its prune candidates (destructive guard).
    * ``manual``: a person asked for this sync (vs the controller), for sync windows.
    """

    app: App
    project: Project
    environment: Environment
    checkout: CheckoutInfo
    apps: Mapping[str, App] = field(default_factory=dict)
    environments: Mapping[str, Environment] = field(default_factory=dict)
    store: Store | None = None
    cluster: Cluster | None = None
    clock: Callable[[], datetime] = now
    prune: bool = False
    manual: bool = True

    @classmethod
    def of(
        cls,
        app: App,
        config: Config,
        *,
        checkout: CheckoutInfo,
        store: Store | None = None,
        cluster: Cluster | None = None,
        prune: bool = False,
        manual: bool = True,
    ) -> GuardContext:
        """The context for ``app`` with the whole of ``config``: its Project and Environment, every app
        and environment."""
        project, environment = config.project(app.spec.project), config.environment(app.spec.environment)
        return cls(app, project, environment, checkout, config.apps, config.environments, store, cluster,
                   prune=prune, manual=manual)  # fmt: skip

    def __post_init__(self) -> None:
        if not self.apps:
            self.apps = {self.app.name: self.app}
        if not self.environments:
            self.environments = {self.environment.name: self.environment}

    @property
    def app_subject(self) -> str:
        return f"App/{self.app.name}"

    @property
    def offline(self) -> bool:
        return self.cluster is None
