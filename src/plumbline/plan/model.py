"""What a sync would do, object by object: the plan's data shapes."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from plumbline.redact import Redactor, ephemeral, sensitive_values

if TYPE_CHECKING:
    from plumbline.plan.attribution import FieldChange
    from plumbline.plan.unchanged import Proof


class Action(StrEnum):
    """What a sync does to one object. The words users see, everywhere."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PRUNE = "prune"


class SyncStatus(StrEnum):
    """Whether live matches Git, in the words Argo CD users know (``plumb status``, metrics, the
    controller). ``Unknown``: the plan could not be made, or the server refused to compare an object."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class Keep(StrEnum):
    """Why a prune candidate is never deleted by this app, even with ``--prune`` (it is shown instead).

    * ``outside-destination``: it carries this app's tracking, but lies in a namespace the app does
      not deploy to (its destination, the namespaces its objects name, its last sync's objects);
    * ``outside-project``: a namespace or kind the app's Project does not allow;
    * ``old-tracking``: its tracking annotation has the old format without an instance, which cannot
      tell two installations' apps of the same name apart (it is adopted when the app applies it).
    """

    OUTSIDE_DESTINATION = "outside-destination"
    OUTSIDE_PROJECT = "outside-project"
    OLD_TRACKING = "old-tracking"


# The file an object has when plumbline adds it to a render itself (it is not from Git):
# ``syncOptions.createNamespace``'s Namespace. Such objects never make a render non-empty.
CREATE_NAMESPACE_SOURCE = "(syncOptions.createNamespace)"
ADDED_SOURCES = frozenset({CREATE_NAMESPACE_SOURCE})


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identifies one object: group, kind, namespace and name (the version is not part of identity)."""

    group: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        metadata = obj.get("metadata") or {}
        return cls(
            group=group,
            kind=str(obj.get("kind", "")),
            namespace=metadata.get("namespace"),
            name=str(metadata.get("name", "")),
        )

    def __str__(self) -> str:
        group_kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{group_kind} {self.namespace}/{self.name}" if self.namespace else f"{group_kind} {self.name}"

    @classmethod
    def parse(cls, text: str) -> ObjectRef:
        """The ref ``str(ref)`` wrote (``Kind.group namespace/name``, ``Kind name``). ValueError if it
        is not one."""
        group_kind, _, where = text.partition(" ")
        kind, _, group = group_kind.partition(".")
        namespace, _, name = where.rpartition("/")
        if not kind or not name:
            raise ValueError(f"not an object reference: {text!r}")
        return cls(group=group, kind=kind, namespace=namespace or None, name=name)


@dataclass
class PlanItem:
    """One object in a plan.

    ``desired`` is what would be applied (tracking added, namespace defaulted); ``predicted`` is what the
    API server said the object would become (server-side dry-run apply), ``live`` what it is now. For a
    prune candidate ``desired`` and ``predicted`` are None. ``error`` is the server's refusal of the
    dry run: such a plan cannot be synced. ``conflict`` is the server's report that fields this object
    sets are owned by another field manager; ``predicted`` is then what a forced apply would give.
    ``changes`` are the attributed field-level changes (see :mod:`plumbline.plan.attribute`): one
    ``create``/``prune`` change for a whole object, else one per changed field, ``runtime`` ones
    included (shown, never counted as changes) and ``unmanaged-addition`` ones (kept by a sync unless
    told to revert drift). ``kept`` marks a prune candidate no sync deletes (``note`` says why); it
    has no changes and no diff.

    ``proven``: no dry run was asked for; the object was proved unchanged (:mod:`plumbline.plan.unchanged`)
    and ``predicted`` is the live object. ``proof``: what a comparison that found the object
    unchanged proved (for the next plan to skip its dry run); None otherwise, or when the plan was
    made without stamps. ``stamp``: its kind's stamp when the plan was made (None: not asked, or
    cannot tell), read before its dry run — what a sync's proofs of the objects it applies stand on.

    ``desired``, ``live`` and ``predicted`` hold secret values in clear, for the apply and the guards
    only, in memory. What leaves the plan — ``changes``, ``diff``, ``recorded`` — has them
    fingerprinted by ``redactor`` (:mod:`plumbline.redact`).
    """

    ref: ObjectRef
    action: Action
    source: str
    desired: dict[str, Any] | None
    live: dict[str, Any] | None
    predicted: dict[str, Any] | None
    api_version: str
    note: str = ""
    error: str | None = None
    conflict: str | None = None
    changes: list[FieldChange] = field(default_factory=list)
    redactor: Redactor = field(default_factory=ephemeral, repr=False, compare=False)
    kept: Keep | None = None
    proven: bool = False
    proof: Proof | None = None
    stamp: str | None = None

    @property
    def from_git(self) -> bool:
        """A desired object that came from the source, not one plumbline added (``ADDED_SOURCES``)."""
        return self.desired is not None and self.source not in ADDED_SOURCES

    def changes_of(self, *attributions: str) -> list[FieldChange]:
        return [c for c in self.changes if c.attribution in attributions]

    @cached_property
    def diff(self) -> str:
        from plumbline.plan.diff import unified_diff

        if self.action is Action.UNCHANGED or self.kept:
            return ""
        return unified_diff(self.live, self.predicted, name=str(self.ref), redactor=self.redactor)

    @property
    def recorded(self) -> dict[str, Any] | None:
        """``desired`` as history keeps it: a Secret's ``stringData`` merged into ``data``, every
        sensitive value fingerprinted — all that attribution against the last sync needs."""
        from plumbline.plan.normalize import string_data_into_data

        if self.desired is None:
            return None
        if "stringData" not in self.desired and not sensitive_values(self.desired):
            return self.desired  # nothing to hide: not copied (thousands of objects per sync)
        return self.redactor.redact(string_data_into_data(copy.deepcopy(self.desired)), copy=False)


# The scans of the cluster a plan or report rests on, and what a kind they may not list leaves out.
UNSCANNED_MEANS = {
    "prune": "objects of these kinds that Git dropped are neither shown nor pruned",
    "hpa": "spec.replicas a HorizontalPodAutoscaler sets there is not known as runtime: it may show as "
    "drift-revert, and a sync would set Git's replicas",
    "unowned": "objects of these kinds no app owns are not shown, so the namespace may not be rebuildable",
}


@dataclass(frozen=True)
class Unscanned:
    """A kind a scan was not allowed to list (in ``namespace``; None: cluster-wide). ``scan`` says which
    (a key of :data:`UNSCANNED_MEANS`: the prune scan, the HorizontalPodAutoscaler scan of the runtime
    rules, ``plumb drift``'s scan for objects no app owns); ``reason`` is the server's answer."""

    group: str
    kind: str
    namespace: str | None
    reason: str
    scan: str = "prune"

    @property
    def means(self) -> str:
        """What the plan or report cannot tell because of it, as people read it."""
        return UNSCANNED_MEANS[self.scan]


@dataclass
class Plan:
    app: str
    revision: str
    sha: str
    namespace: str
    items: list[PlanItem] = field(default_factory=list)
    unscanned: list[Unscanned] = field(default_factory=list)

    def of(self, action: Action) -> list[PlanItem]:
        return [item for item in self.items if item.action is action]

    @property
    def prunable(self) -> list[PlanItem]:
        """The prune candidates a sync with ``--prune`` deletes (the kept ones left out)."""
        return [item for item in self.items if item.action is Action.PRUNE and not item.kept]

    @property
    def kept(self) -> list[PlanItem]:
        """The prune candidates no sync deletes (see :class:`Keep`)."""
        return [item for item in self.items if item.action is Action.PRUNE and item.kept]

    @property
    def empty_render(self) -> bool:
        """Nothing came from the source (objects plumbline adds itself do not count)."""
        return not any(item.from_git for item in self.items)

    @property
    def counts(self) -> dict[str, int]:
        """Objects per action, plus ``kept``: prune candidates no sync deletes (not counted in ``prune``)."""
        counts = {action.value: 0 for action in Action} | {"kept": 0}
        for item in self.items:
            counts["kept" if item.kept else item.action.value] += 1
        return counts

    @property
    def errors(self) -> list[PlanItem]:
        return [item for item in self.items if item.error]

    @property
    def conflicts(self) -> list[PlanItem]:
        return [item for item in self.items if item.conflict]

    @property
    def changes(self) -> list[FieldChange]:
        """Every attributed field change in the plan, object by object (``runtime`` ones included)."""
        return [change for item in self.items for change in item.changes]

    def changes_of(self, *attributions: str) -> list[FieldChange]:
        return [c for c in self.changes if c.attribution in attributions]

    @property
    def has_changes(self) -> bool:
        """Anything to create, update or prune (prune candidates count: they are a difference; kept
        ones do not: no sync would touch them), or a field live has that Git never had (an unmanaged
        addition)."""
        return any(item.action is not Action.UNCHANGED and not item.kept for item in self.items) or bool(
            self.changes_of("unmanaged-addition")
        )

    @property
    def sync_status(self) -> SyncStatus:
        """Synced or OutOfSync (:attr:`has_changes`); Unknown if the server refused to compare an object."""
        if self.errors:
            return SyncStatus.UNKNOWN
        return SyncStatus.OUT_OF_SYNC if self.has_changes else SyncStatus.SYNCED
