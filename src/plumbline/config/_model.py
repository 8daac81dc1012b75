"""The shapes of plumbline's configuration: Project, Environment and App, as frozen pydantic models.

The models *are* the public data: ``app.spec.source.repo_url``, ``app.spec.mode`` and so on. They are
frozen (assigning to a field raises) and forbid unknown fields, so a typo in YAML is an error rather
than a silently ignored setting. In YAML every field is spelled the Kubernetes way (``repoURL``,
``targetRevision``); only that spelling is accepted, and ``model_dump(by_alias=True)`` gives it back.

Relative local paths (``spec.source.repoURL``, ``spec.destination.kubeconfig``) are resolved against
the directory of the file that declared them when validation is given ``context={"base_dir": dir}``
(``load_config`` always does); without a context they are kept as written.
"""

from __future__ import annotations

import os
import posixpath
import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from plumbline.words import Mode as Mode
from plumbline.words import RankedEnum as RankedEnum
from plumbline.words import StoreBackend as StoreBackend

API_VERSION = "plumbline.dev/v1alpha1"

DEFAULT_INSTANCE = "default"
INSTANCE_ENV = "PLUMBLINE_INSTANCE"

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# scp-like Git addresses (git@github.com:org/repo.git) are remote, though they have no "://".
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


class HealthStatus(RankedEnum):
    """How well an object is doing, from best to worst (gitops-engine's order).

    * ``Healthy`` — doing what it is for.
    * ``Suspended`` — paused on purpose (a paused Deployment, a suspended Job or CronJob).
    * ``Progressing`` — not there yet, and may still get there (includes "no status yet").
    * ``Missing`` — Git declares it; the cluster does not have it.
    * ``Degraded`` — failed, or cannot get there without someone acting.
    * ``Unknown`` — its health could not be assessed (a status that cannot be read, a CEL error).

    ``rank`` is the position in that order: Healthy 0 ... Unknown 5; higher is worse.
    """

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    def is_worse_than(self, other: HealthStatus) -> bool:
        return self.rank > other.rank


class VerificationOutcome(StrEnum):
    """How a verification window ended (Argo Rollouts' AnalysisRun phases, docs/health.md).

    * ``Passed`` — health stayed Healthy and every check held for the whole window.
    * ``Failed`` — health left Healthy, or a check failed more often than its ``failureLimit``.
    * ``Inconclusive`` — a check's query errored more often in a row than its
      ``consecutiveErrorLimit`` (Prometheus down, a bad query, no data): nobody knows whether it works.
    """

    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class OnFailure(StrEnum):
    """What a failed (or inconclusive) verification does: ``report`` only (audit, metrics,
    notification), ``pause`` the app (break-glass, reason "verification failed"), or ``rollback`` to
    the app's last verified revision."""

    REPORT = "report"
    PAUSE = "pause"
    ROLLBACK = "rollback"


class Comparison(StrEnum):
    """How a check compares its query's value with its threshold (``failWhen.op``)."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    def holds(self, value: float, threshold: float) -> bool:
        """``value <op> threshold`` (NaN compares false, except ``!=``)."""
        return {
            Comparison.GT: value > threshold,
            Comparison.GE: value >= threshold,
            Comparison.LT: value < threshold,
            Comparison.LE: value <= threshold,
            Comparison.EQ: value == threshold,
            Comparison.NE: value != threshold,
        }[self]


class Severity(StrEnum):
    """How much a guard's finding (or a policy's verdict) matters. ``block`` stops the sync unless
    overridden; ``warn`` is shown only."""

    BLOCK = "block"
    WARN = "warn"


class GuardName(StrEnum):
    """Every guard's name, as findings, ``--allow`` and GuardExceptions spell it (in the order the
    guards run; tests/unit check it against guards.GUARDS)."""

    PROJECT = "project"
    ENVIRONMENT = "environment"
    DESTRUCTIVE = "destructive"
    REFERENCES = "references"
    SECRETS = "secrets"
    WINDOWS = "windows"
    POLICY = "policy"


class SignatureMode(StrEnum):
    """Which commits a signature requirement checks (``spec.signatures.mode``, as Argo CD 3.5's).

    * ``head`` — the commit being synced.
    * ``strict`` — that commit and every commit since the last one verified: the app's last synced
      commit (``plumb check``: the merge request's base); with none, the whole history.
    """

    HEAD = "head"
    STRICT = "strict"


class Tool(StrEnum):
    """How an App's source is rendered. ``auto`` picks kustomize or helm by the files present, else plain."""

    AUTO = "auto"
    PLAIN = "plain"
    KUSTOMIZE = "kustomize"
    HELM = "helm"


def check_dns1123_label(value: str) -> str:
    """Return ``value`` if it is a DNS-1123 label (as Kubernetes requires of names), else raise ValueError."""
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"must be a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and "
            f"ending with a letter or digit (got {value!r})"
        )
    return value


def is_remote(repo_url: str) -> bool:
    """True for a URL (``https://``, ``ssh://``, ``file://``, ...) or scp-like address; False for a path."""
    return "://" in repo_url or bool(_SCP_LIKE.match(repo_url))


def _inside(path: str, what: str) -> str:
    """``path`` normalised, if it is relative and stays inside the repository; else ValueError."""
    normal = posixpath.normpath(path)
    if posixpath.isabs(path) or normal == ".." or normal.startswith("../"):
        raise ValueError(f"{what} must be a relative path inside the repository (got {path!r})")
    return normal


def _resolve_local(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    if base is None:
        return value
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else Path(base) / path)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupKind(_Model):
    """An API group and kind; either may be a glob (``kind: "*"``). The core group is ``""``."""

    group: str = ""
    kind: str

    def matches(self, group: str, kind: str) -> bool:
        return fnmatchcase(group, self.group) and fnmatchcase(kind, self.kind)


class Metadata(_Model):
    name: str
    namespace: str | None = Field(
        default=None, description="where the object lives in the cluster; None: read from a file"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_label(cls, value: str) -> str:
        return check_dns1123_label(value)


class _Object(_Model):
    api_version: Literal["plumbline.dev/v1alpha1"] = Field(alias="apiVersion")
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name


# --- Project ----------------------------------------------------------------------------------------


class ProjectDestination(_Model):
    namespace: str = Field(description="glob of namespaces the project's apps may deploy into")


class BlastRadius(_Model):
    """The most one sync may delete (prune): a count and a share of the app's objects, both checked."""

    max_deletes: int = Field(default=10, ge=0, alias="maxDeletes")
    max_delete_percent: int = Field(default=30, ge=0, le=100, alias="maxDeletePercent")


class Policy(_Model):
    """A rule as a CEL expression that must be true of every object it applies to (guards/policy.py)."""

    name: str = Field(min_length=1)
    expression: str = Field(min_length=1, description="CEL over object, live, app, environment")
    message: str = Field(min_length=1)
    severity: Severity = Severity.BLOCK
    kinds: list[GroupKind] = Field(default_factory=list, description="empty: every kind")


class HealthCheck(_Model):
    """How healthy objects of one group/kind are, as CEL over the object (Flux's ``healthCheckExprs``).

    Each expression sees the live object's top-level fields (``metadata``, ``spec``, ``status``, ...)
    and ``object``, the whole of it. Evaluated in order ``inProgress``, ``failed``, ``current``: the
    first true one decides (Progressing, Degraded, Healthy); none true: Progressing (health/_cel.py).
    """

    group: str = Field(default="", description="API group glob; the core group is ''")
    kind: str = Field(min_length=1, description="kind glob")
    current: str = Field(min_length=1, description="CEL: true when the object is healthy")
    failed: str | None = Field(default=None, description="CEL: true when it has failed")
    in_progress: str | None = Field(
        default=None, alias="inProgress", description="CEL: true while it progresses"
    )

    @field_validator("current", "failed", "in_progress")
    @classmethod
    def _valid_cel(cls, value: str | None) -> str | None:
        from plumbline.cel import syntax_error

        if value is not None and (problem := syntax_error(value)) is not None:
            raise ValueError(f"not valid CEL: {problem}")
        return value

    def matches(self, group: str, kind: str) -> bool:
        return fnmatchcase(group, self.group) and fnmatchcase(kind, self.kind)


class SigningKey(_Model):
    """A key whose signatures are trusted: ``openpgp`` (an ASCII-armored public key block, as ``gpg
    --export --armor`` prints it) or ``ssh`` (a public key line, as in a ``.pub`` file). ``name`` is
    how findings name it, and the principal of an SSH key."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$", max_length=128)
    openpgp: str | None = None
    ssh: str | None = None

    @model_validator(mode="after")
    def _one_valid_key(self) -> SigningKey:
        from plumbline.signatures import KeyFormatError, dearmor, ssh_key

        if (self.openpgp is None) == (self.ssh is None):
            raise ValueError(f"key {self.name!r}: give exactly one of openpgp or ssh")
        try:
            if self.openpgp is not None:
                dearmor(self.openpgp)
            else:
                ssh_key(self.ssh or "")
        except KeyFormatError as error:
            which = "openpgp" if self.openpgp is not None else "ssh"
            raise ValueError(f"key {self.name!r}: {which}: {error}") from None
        return self


class Signatures(_Model):
    """Commits must be signed by one of ``keys`` (docs/signatures.md); ``mode`` says which commits."""

    mode: SignatureMode = SignatureMode.HEAD
    keys: list[SigningKey] = Field(min_length=1)

    @field_validator("keys")
    @classmethod
    def _unique_names(cls, value: list[SigningKey]) -> list[SigningKey]:
        names = [key.name for key in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"key names must be unique; given more than once: {', '.join(twice)}")
        return value


class TerraformProtection(_Model):
    """Which Terraform/OpenTofu resources a plan may not delete or replace without a recorded approval
    (guards/terraform.py, docs/terraform.md). Types and addresses are globs."""

    protected_types: list[str] = Field(
        default_factory=list,
        alias="protectedTypes",
        description="resource type globs protected besides the defaults (aws_elasticsearch_domain)",
    )
    protected_addresses: list[str] = Field(
        default_factory=list,
        alias="protectedAddresses",
        description='resource address globs (module.core.*, aws_instance.bastion["a"])',
    )
    default_types: bool = Field(
        default=True,
        alias="defaultTypes",
        description="protect the built-in list (databases, buckets, volumes, KMS keys, DNS zones)",
    )

    @field_validator("protected_types", "protected_addresses")
    @classmethod
    def _globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("an entry must be a glob, not empty")
        return value


class ProjectSpec(_Model):
    """A boundary. Omitted lists allow any repo and namespace; cluster-scoped kinds: denied unless listed."""

    source_repos: list[str] = Field(default_factory=lambda: ["*"], alias="sourceRepos")
    destinations: list[ProjectDestination] = Field(
        default_factory=lambda: [ProjectDestination(namespace="*")]
    )
    cluster_resource_allow_list: list[GroupKind] = Field(
        default_factory=list, alias="clusterResourceAllowList"
    )
    namespace_resource_deny_list: list[GroupKind] = Field(
        default_factory=list, alias="namespaceResourceDenyList"
    )
    protected_kinds: list[GroupKind] = Field(default_factory=list, alias="protectedKinds")
    blast_radius: BlastRadius = Field(default_factory=lambda: BlastRadius(), alias="blastRadius")
    policies: list[Policy] = Field(default_factory=list)
    allow_remote_sources: list[str] = Field(
        default_factory=list,
        alias="allowRemoteSources",
        description="URL globs of remote kustomize bases and Helm chart repositories a render of this "
        "project's apps may download; empty (the default): renders are offline and refuse them",
    )
    health_checks: list[HealthCheck] = Field(
        default_factory=list, alias="healthChecks", description="per-kind CEL health, for every app"
    )
    signatures: Signatures | None = Field(
        default=None, description="commits of this project's apps must be signed by a listed key"
    )
    source_namespaces: list[str] = Field(
        default_factory=list,
        alias="sourceNamespaces",
        description="globs of namespaces besides the controller's own whose Apps may name this project "
        "(read from the cluster; Argo CD's sourceNamespaces)",
    )
    terraform: TerraformProtection = Field(default_factory=lambda: TerraformProtection())

    @field_validator("allow_remote_sources")
    @classmethod
    def _url_globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("an allowRemoteSources entry must be a URL glob, not empty")
        return value


class Project(_Object):
    kind: Literal["Project"] = "Project"
    spec: ProjectSpec = Field(default_factory=ProjectSpec)

    def allows_repo(self, repo_url: str) -> bool:
        """True if ``repo_url`` (as resolved: local paths are absolute) matches a ``sourceRepos`` glob."""
        return any(fnmatchcase(repo_url, pattern) for pattern in self.spec.source_repos)

    def allows_namespace(self, namespace: str) -> bool:
        return any(fnmatchcase(namespace, d.namespace) for d in self.spec.destinations)

    def allows_apps_in(self, namespace: str) -> bool:
        """True if Apps in ``namespace`` (not the controller's own) may name this project."""
        return any(fnmatchcase(namespace, pattern) for pattern in self.spec.source_namespaces)

    def allows_cluster_kind(self, group: str, kind: str) -> bool:
        """Cluster-scoped kinds are denied unless ``clusterResourceAllowList`` names them."""
        return any(gk.matches(group, kind) for gk in self.spec.cluster_resource_allow_list)

    def allows_namespaced_kind(self, group: str, kind: str) -> bool:
        return not any(gk.matches(group, kind) for gk in self.spec.namespace_resource_deny_list)

    def is_protected(self, group: str, kind: str) -> bool:
        return any(gk.matches(group, kind) for gk in self.spec.protected_kinds)

    def outside(self, group: str, kind: str, namespace: str | None) -> str | None:
        """Why an object (``namespace`` None: cluster-scoped) lies outside this Project, else None."""
        where = f"Project {self.name!r}"
        if namespace is None:
            if not self.allows_cluster_kind(group, kind):
                return f"{where} does not list the cluster-scoped kind {kind} in clusterResourceAllowList"
            return None
        if not self.allows_namespace(namespace):
            return f"namespace {namespace!r} is outside {where} destinations"
        if not self.allows_namespaced_kind(group, kind):
            return f"{where} denies the kind {kind} (namespaceResourceDenyList)"
        return None


# --- Environment ------------------------------------------------------------------------------------


class SyncWindow(_Model):
    """A cron-style window: ``schedule`` (5 fields) starts it, ``duration`` (``90m``, ``64h``) ends it.

    ``deny``: no syncs while it is open (a manual sync needs a recorded reason). ``allow``: if any
    allow window exists, syncs happen only while one is open. Times are in ``timeZone`` (IANA name).
    """

    kind: Literal["allow", "deny"]
    schedule: str = Field(min_length=1)
    duration: str = Field(pattern=r"^\d+[mhd]$")
    time_zone: str = Field(default="UTC", alias="timeZone")


HEALTH_CHECK = "health"
"""What the app's health is called among a verification window's checks (no check may take it)."""

_DURATION = re.compile(r"^(\d+)([smh])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> int:
    """``90s``, ``2m``, ``1h`` (or ``0``) → seconds; anything else: ValueError saying what is expected."""
    text = text.strip()
    if text == "0":
        return 0
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a whole number and a unit s, m or h (30s, 2m, 1h), or 0 (got {text!r})")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _duration(value: str) -> str:
    duration_seconds(value)
    return value.strip()


class FailWhen(_Model):
    """A check fails when its value ``op`` ``threshold`` (``{op: ">", threshold: 0.05}``: fails above 5 %)."""

    op: Comparison
    threshold: float


class MetricCheck(_Model):
    """One PromQL query measured every ``interval`` during the window (Argo Rollouts' metric).

    Each measurement is an instant query: it *fails* when any series it returns meets ``failWhen``; it
    *errors* when Prometheus refuses or does not answer the query, or it returns no series (write
    ``... or vector(0)`` when no data means zero). More than ``failureLimit`` failures: the
    verification Failed; more than ``consecutiveErrorLimit`` errors in a row: Inconclusive.
    """

    name: str = Field(min_length=1)
    query: str = Field(min_length=1, description="PromQL, evaluated as an instant query")
    fail_when: FailWhen = Field(alias="failWhen")
    failure_limit: int = Field(default=0, ge=0, alias="failureLimit")
    consecutive_error_limit: int = Field(default=4, ge=0, alias="consecutiveErrorLimit")


class PrometheusEndpoint(_Model):
    url: str = Field(min_length=1, description="http(s) address of the Prometheus HTTP API's root")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// address (got {value!r})")
        return value.rstrip("/")


class VerificationSpec(_Model):
    """``spec.verification`` of an Environment or an App: after a sync is Healthy, health must stay
    Healthy and every check must hold for ``window``. A field the App sets replaces the Environment's
    (``checks`` as a whole); :func:`effective_verification` merges them."""

    window: str = Field(default="0", description="how long to verify after health; 0: no window")
    interval: str = Field(default="10s", description="how often health and checks are measured")
    on_failure: OnFailure = Field(default=OnFailure.REPORT, alias="onFailure")
    prometheus: PrometheusEndpoint | None = None
    checks: list[MetricCheck] = Field(default_factory=list)

    @field_validator("window", "interval")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _duration(value)

    @model_validator(mode="after")
    def _usable(self) -> VerificationSpec:
        if duration_seconds(self.interval) == 0:
            raise ValueError("interval must be longer than 0")
        names = [c.name for c in self.checks]
        if HEALTH_CHECK in names:
            raise ValueError(f"checks: {HEALTH_CHECK!r} is the app's health; name the check otherwise")
        if len(set(names)) != len(names):
            raise ValueError(f"checks: each check needs a name of its own (got {names})")
        return self

    @property
    def window_s(self) -> int:
        return duration_seconds(self.window)

    @property
    def enabled(self) -> bool:
        """Anything to verify: a window, or checks to measure once (a window of 0 is one round)."""
        return self.window_s > 0 or bool(self.checks)

    @property
    def interval_s(self) -> int:
        return duration_seconds(self.interval)


def effective_verification(
    app: VerificationSpec | None, environment: VerificationSpec | None
) -> VerificationSpec | None:
    """The App's verification over its Environment's: each field the App sets wins (its ``checks``
    replace the Environment's whole list); None when neither declares one. A check without a
    Prometheus to ask is refused here, naming it."""
    if app is None and environment is None:
        return None
    merged: dict[str, Any] = {}
    for layer in (environment, app):
        if layer is not None:
            merged.update({name: getattr(layer, name) for name in layer.model_fields_set})
    result = VerificationSpec().model_copy(update=merged)
    if result.checks and result.prometheus is None:
        raise ValueError(
            f"verification.checks ({', '.join(c.name for c in result.checks)}) need "
            "verification.prometheus.url, in the App or its Environment"
        )
    return result


class EnvironmentSpec(_Model):
    branches: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    protected: bool = False
    requires_passed_in: str | None = Field(default=None, alias="requiresPassedIn")
    sync_windows: list[SyncWindow] = Field(default_factory=list, alias="syncWindows")
    verification: VerificationSpec | None = Field(
        default=None, description="after a sync: the window every app here is verified for"
    )
    signatures: Signatures | None = Field(
        default=None, description="commits deployed here must be signed by a listed key"
    )


class Environment(_Object):
    kind: Literal["Environment"] = "Environment"
    spec: EnvironmentSpec = Field(default_factory=EnvironmentSpec)

    def allows_branch(self, branch: str) -> bool:
        """True if ``branch`` (a name like ``main``, not ``refs/heads/main``) matches ``spec.branches``."""
        return any(fnmatchcase(branch, pattern) for pattern in self.spec.branches)


# --- App --------------------------------------------------------------------------------------------


class HelmSource(_Model):
    """``release_name`` unset: the App's name (:attr:`App.release_name`). ``value_files`` are paths
    relative to the repository root (not to the chart), and must stay inside it."""

    release_name: str | None = Field(default=None, alias="releaseName")
    value_files: list[str] = Field(default_factory=list, alias="valueFiles")
    values: dict[str, Any] = Field(default_factory=dict)

    @field_validator("value_files")
    @classmethod
    def _files_inside(cls, value: list[str]) -> list[str]:
        return [_inside(v, "a value file") for v in value]


class Source(_Model):
    repo_url: str = Field(alias="repoURL", min_length=1)
    target_revision: str = Field(default="HEAD", alias="targetRevision", min_length=1)
    path: str = "."
    tool: Tool = Tool.AUTO
    helm: HelmSource | None = None

    @field_validator("repo_url")
    @classmethod
    def _resolve_repo(cls, value: str, info: ValidationInfo) -> str:
        return value if is_remote(value) else _resolve_local(value, info)

    @field_validator("path")
    @classmethod
    def _path_inside(cls, value: str) -> str:
        return _inside(value, "the path")

    @model_validator(mode="after")
    def _helm_only_for_helm(self) -> Source:
        if self.helm is not None and self.tool in (Tool.PLAIN, Tool.KUSTOMIZE):
            raise ValueError(f"'helm' settings are only used when tool is helm or auto (tool is {self.tool})")
        return self


class Destination(_Model):
    namespace: str
    context: str | None = Field(default=None, description="kubeconfig context; None: the current one")
    kubeconfig: str | None = Field(default=None, description="kubeconfig file; None: the usual lookup")

    @field_validator("namespace")
    @classmethod
    def _namespace_is_label(cls, value: str) -> str:
        return check_dns1123_label(value)

    @field_validator("kubeconfig")
    @classmethod
    def _resolve_kubeconfig(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _resolve_local(value, info)


class SyncOptions(_Model):
    """How syncs of this app behave. Unknown keys are reported, like everywhere else."""

    create_namespace: bool = Field(
        default=False,
        alias="createNamespace",
        description="create the destination namespace if Git does not declare it (Argo CD's CreateNamespace)",
    )


class IgnoreDifference(_Model):
    """Differences to ignore on matching objects (like Argo CD's ``ignoreDifferences``): fields at
    ``jsonPointers`` and fields ``managers`` own are left to their owners, never reverted by a sync.
    """

    group: str = Field(default="*", description="API group glob; the core group is ''")
    kind: str = Field(default="*", description="kind glob")
    name: str | None = Field(default=None, description="object name glob; unset: every object")
    json_pointers: list[str] = Field(default_factory=list, alias="jsonPointers")
    managers: list[str] = Field(default_factory=list, description="field manager globs")

    @model_validator(mode="after")
    def _something_to_ignore(self) -> IgnoreDifference:
        if not self.json_pointers and not self.managers:
            raise ValueError("an ignoreDifferences entry needs jsonPointers or managers")
        for pointer in self.json_pointers:
            if not pointer.startswith("/"):
                raise ValueError(f"jsonPointers: {pointer!r} must start with '/' (a JSON pointer)")
        return self


class TerraformSource(_Model):
    """A Terraform/OpenTofu root module in the App's repository, checked by ``plumb check``
    (docs/terraform.md). ``plan``: the ``show -json`` output, if the repository holds one (else
    ``plumb check --terraform PLAN.json`` gives it). Both are relative to the repository root."""

    path: str = Field(description="the folder holding the root module's *.tf files")
    plan: str | None = Field(default=None, description="plan JSON file in the repository")

    @field_validator("path")
    @classmethod
    def _path_inside(cls, value: str) -> str:
        return _inside(value, "the Terraform path")

    @field_validator("plan")
    @classmethod
    def _plan_inside(cls, value: str | None) -> str | None:
        return None if value is None else _inside(value, "the plan file")


class AppSpec(_Model):
    project: str = "default"
    environment: str = "default"
    source: Source
    destination: Destination
    mode: Mode = Mode.OBSERVE
    sync_options: SyncOptions = Field(default_factory=SyncOptions, alias="syncOptions")
    ignore_differences: list[IgnoreDifference] = Field(default_factory=list, alias="ignoreDifferences")
    health_checks: list[HealthCheck] = Field(
        default_factory=list, alias="healthChecks", description="per-kind CEL health; before the Project's"
    )
    verification: VerificationSpec | None = Field(
        default=None, description="after a sync: overrides the Environment's, field by field"
    )
    terraform: TerraformSource | None = None


class OperationAction(StrEnum):
    """What a person asks the controller that holds an App to do (``App.operation.action``)."""

    SYNC = "sync"
    RESUME = "resume"
    PAUSE = "pause"
    MODE = "mode"


class OperationPhase(StrEnum):
    """Where a requested operation stands (``App.status.operationState.phase``)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # carried out, and it did not succeed (blocked, refused, failed): exitCode says how

    @property
    def done(self) -> bool:
        return self is not OperationPhase.RUNNING


class Requester(_Model):
    """Who asked: the requester's Kubernetes identity as the API server authenticated it
    (SelfSubjectReview's ``userInfo``)."""

    username: str = Field(min_length=1)
    uid: str = ""
    groups: list[str] = Field(default_factory=list)


class Operation(_Model):
    """An operation requested on the App (as ``argocd app sync`` sets ``operation``): carried out by
    the controller replica that holds the app, through the one write path; progress and result in
    ``status.operationState`` (decision 0016). Only the fields of its ``action`` are read."""

    id: str = Field(min_length=1, description="unique per request; operationState.id answers it")
    action: OperationAction
    requested_by: Requester = Field(alias="requestedBy")
    requested_at: datetime = Field(alias="requestedAt")
    reason: str = ""
    revision: str | None = Field(default=None, description="sync: branch, tag or commit")
    prune: bool = False
    force_conflicts: bool = Field(default=False, alias="forceConflicts")
    revert_drift: bool = Field(default=False, alias="revertDrift", description="sync: --revert-drift")
    recheck: bool = Field(default=False, description="sync: --recheck (dry-run every object)")
    allow: list[str] = Field(default_factory=list, description="sync: GUARD:KIND/NAME overrides")
    revert: bool = Field(default=False, description="resume: --revert")
    duration: str | None = Field(default=None, description="pause: --for (30m, 2h, 1d)")
    mode: Mode | None = Field(default=None, description="mode: the override; unset: --clear")


class OperationState(_Model):
    """The controller's answer to ``App.operation`` (same ``id``): phase, progress lines, the
    outcome's message and the exit code ``plumb`` exits with."""

    id: str
    action: OperationAction
    phase: OperationPhase
    requested_by: str = Field(default="", alias="requestedBy")
    handled_by: str = Field(default="", alias="handledBy", description="the controller replica")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    progress: list[str] = Field(default_factory=list)
    message: str = ""
    exit_code: int | None = Field(default=None, alias="exitCode")
    sync_id: int | None = Field(default=None, alias="syncId", description="the history record it wrote")


class App(_Object):
    kind: Literal["App"] = "App"
    spec: AppSpec
    operation: Operation | None = Field(
        default=None, description="an operation requested of the controller (plumb sync, pause, ...)"
    )

    @property
    def release_name(self) -> str:
        """The Helm release name: ``spec.source.helm.releaseName``, else the App's name — never the
        chart's folder. The one rule; every render of the App uses it (``render.helm_options``)."""
        helm = self.spec.source.helm
        return helm.release_name if helm is not None and helm.release_name else self.name


# --- GuardException ---------------------------------------------------------------------------------

GUARD_NAMES: tuple[str, ...] = tuple(GuardName)

MAX_EXCEPTION_DAYS = 366
"""The furthest ahead an exception may expire: a year, so every exception is looked at again."""


class ExceptionTarget(_Model):
    """What a finding names: ``kind``/``name`` as in ``--allow`` (``App``/<app> for a finding about the
    whole plan), optionally only in ``namespace`` and only for ``field`` as the finding prints it
    (``data.DB_HOST``, ``spec.template.spec.containers[carts].env[ZIPKIN]``)."""

    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None
    field: str | None = Field(default=None, min_length=1)

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"


class GuardExceptionSpec(_Model):
    """A standing override of one guard's block on one object of one app, reviewed in Git like code."""

    app: str
    guard: GuardName
    target: ExceptionTarget
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1, description="who answers for it: a team or a person")
    expires: datetime = Field(description="a date (ends at 00:00 UTC that day) or an ISO time with zone")

    @field_validator("reason", "owner")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("expires", mode="before")
    @classmethod
    def _date_is_midnight_utc(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            value = date.fromisoformat(value.strip())
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        return value

    @field_validator("expires")
    @classmethod
    def _within_a_year(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone (e.g. 2027-03-01T00:00:00Z), or give a date")
        today = (info.context or {}).get("now") or datetime.now(UTC)
        latest = today + timedelta(days=MAX_EXCEPTION_DAYS)
        if value > latest:
            raise ValueError(
                f"an exception lasts at most {MAX_EXCEPTION_DAYS} days: expires must be no later than "
                f"{latest.date().isoformat()} (got {value.date().isoformat()})"
            )
        return value


class GuardException(_Object):
    """``kind: GuardException``: see docs/guards.md. An expired one no longer applies and is reported."""

    kind: Literal["GuardException"] = "GuardException"
    spec: GuardExceptionSpec

    def expired(self, at: datetime) -> bool:
        return at >= self.spec.expires


# --- Instance ---------------------------------------------------------------------------------------


STORE_BACKEND_ENV = "PLUMBLINE_STORE_BACKEND"
DEFAULT_STORE_NAMESPACE = "plumbline-system"
DEFAULT_HISTORY_LIMIT = 10
DEFAULT_KEY_SECRET = "plumbline-keys/plumbline-store-keys"


class StoreSpec(_Model):
    """The store an installation uses (``Instance.spec.store``). ``$PLUMBLINE_STORE_BACKEND`` or
    ``plumb --store`` override ``backend`` for one run."""

    backend: StoreBackend = StoreBackend.SQLITE
    namespace: str = Field(
        default=DEFAULT_STORE_NAMESPACE, description="kubernetes: the namespace the records are kept in"
    )
    history_limit: int = Field(
        default=DEFAULT_HISTORY_LIMIT,
        ge=1,
        alias="historyLimit",
        description="kubernetes: per app, how many syncs keep their desired objects (Helm's --history-max)",
    )
    key_secret: str = Field(
        default=DEFAULT_KEY_SECRET,
        alias="keySecret",
        description="kubernetes: NAMESPACE/NAME of the Secret holding the audit and fingerprint keys; "
        "in another namespace than the records",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_is_label(cls, value: str) -> str:
        return check_dns1123_label(value)

    @field_validator("key_secret")
    @classmethod
    def _key_secret_is_namespaced(cls, value: str) -> str:
        namespace, slash, name = value.partition("/")
        if not slash:
            raise ValueError(f"expected NAMESPACE/NAME, got {value!r}")
        check_dns1123_label(namespace)
        check_dns1123_label(name)
        return value

    @model_validator(mode="after")
    def _key_apart(self) -> StoreSpec:
        if self.key_secret.partition("/")[0] == self.namespace:
            raise ValueError(
                f"keySecret {self.key_secret!r} is in the records' namespace {self.namespace!r}: whoever may "
                "read the records there could read the key too; put it in another namespace"
            )
        return self


class InstanceSpec(_Model):
    store: StoreSpec = Field(default_factory=StoreSpec)


class Instance(_Object):
    """Names this plumbline installation. The name goes into the tracking annotation of every object
    it applies, so two installations (two teams, two configs) on one cluster never take each other's
    objects for their own, even with apps of the same name. At most one per configuration; without
    one, ``$PLUMBLINE_INSTANCE``, else ``default``. Changing it later makes every object already
    applied look foreign (never pruned; adopted again when next applied). ``spec.store`` says where
    the installation keeps its state (:class:`StoreSpec`).
    """

    kind: Literal["Instance"] = "Instance"
    spec: InstanceSpec = Field(default_factory=InstanceSpec)


KINDS: dict[str, type[Project] | type[Environment] | type[App] | type[GuardException] | type[Instance]] = {
    "Project": Project,
    "Environment": Environment,
    "App": App,
    "GuardException": GuardException,
    "Instance": Instance,
}


def _implicit_default_project() -> Project:
    return Project.model_validate(
        {
            "apiVersion": API_VERSION,
            "kind": "Project",
            "metadata": {"name": "default"},
            "spec": {"clusterResourceAllowList": [{"group": "", "kind": "Namespace"}]},
        }
    )


def _implicit_default_environment() -> Environment:
    return Environment.model_validate(
        {"apiVersion": API_VERSION, "kind": "Environment", "metadata": {"name": "default"}}
    )


DEFAULT_PROJECT = _implicit_default_project()
"""Used unless a Project ``default`` is declared: any repo and namespace; of cluster kinds only Namespace."""

DEFAULT_ENVIRONMENT = _implicit_default_environment()
"""Used only when no Environment is declared at all: any branch, not protected."""
