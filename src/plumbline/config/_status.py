"""What the controller reports about an App on the App object itself: ``status``, as a frozen model.

The same models that check the configuration describe the status, so the CRD's schema for it is
generated from here too (``plumbline.deploy``). A field is added here, once, and the CRD follows.

Words from vocabularies above the config layer (the plan's SyncStatus and Attribution, the store's
SyncResult and AppStateKind) are kept as their string values here; the one writer
(``plumbline.controller``) fills them from those enums, never from literals.

Conditions follow kstatus: ``Ready`` True when the app is synced and healthy at the generation
observed; ``Reconciling`` True while the controller is still working towards that (a pass under
way, an app out of sync it will sync); ``Stalled`` True when it cannot get there without someone
acting (a guard blocks, a sync failed, the app is paused). ``kubectl wait --for=condition=Ready``
and any kstatus consumer read them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from plumbline.config._model import (
    GuardName,
    HealthStatus,
    Mode,
    OperationState,
    VerificationOutcome,
    _Model,
)


class ConditionType(StrEnum):
    """The kstatus condition types an App's status carries."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


class Condition(_Model):
    """One condition, as metav1.Condition spells it."""

    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(min_length=1, description="CamelCase, one word: why the status is what it is")
    message: str = ""
    last_transition_time: datetime = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


class SyncState(_Model):
    """Whether live matches Git: ``status`` in plan.SyncStatus' words, at ``revision`` (as the App
    asks for it, e.g. ``main``) resolved to the commit ``sha``; ``syncedSha`` the commit last synced."""

    status: str = Field(description="Synced, OutOfSync or Unknown")
    revision: str = ""
    sha: str = Field(default="", description="the commit the revision resolved to at the last pass")
    synced_sha: str = Field(default="", alias="syncedSha", description="the commit last synced")


class HealthState(_Model):
    status: HealthStatus
    message: str = ""


class VerificationState(_Model):
    """How the verification window of the commit last synced ended (docs/health.md), from the audit."""

    outcome: VerificationOutcome
    sha: str = Field(default="", description="the commit verified")
    reason: str = Field(default="", description="why, naming the check that decided it")
    time: datetime | None = None


class LastOperation(_Model):
    """The last sync carried out for the app (by the controller or a person)."""

    result: str = Field(description="store.SyncResult's words: succeeded, failed, blocked, ...")
    time: datetime
    actor: str = ""
    message: str = ""
    sha: str = ""


class GuardBlock(_Model):
    """A guard's block that stopped the last sync (``target`` as ``--allow`` spells it: Kind/name)."""

    guard: GuardName
    target: str
    message: str = ""


class PauseState(_Model):
    """Why the app is paused, by whom, until when (``expires`` unset: until resumed)."""

    reason: str = ""
    by: str = ""
    since: datetime | None = None
    expires: datetime | None = None


class AppStatus(_Model):
    """``App.status``: written by the controller after a pass that changed it, through one writer."""

    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    mode: Mode | None = Field(default=None, description="the mode in effect (spec.mode or an override)")
    state: str = Field(default="", description="store.AppStateKind's words: active, paused, paused-pending")
    sync: SyncState | None = None
    health: HealthState | None = None
    verification: VerificationState | None = None
    last_operation: LastOperation | None = Field(default=None, alias="lastOperation")
    drift: dict[str, int] = Field(
        default_factory=dict, description="the plan's changes counted by attribution (drift-revert, ...)"
    )
    guard_blocks: list[GuardBlock] = Field(default_factory=list, alias="guardBlocks")
    pause: PauseState | None = None
    message: str = Field(default="", description="what the last pass did, in a line")
    operation_state: OperationState | None = Field(
        default=None, alias="operationState", description="the answer to App.operation (decision 0016)"
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
