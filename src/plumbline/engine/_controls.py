"""The controls people use around the loop: the mode override and ending a pause (``plumb mode``,
``plumb resume``). Pausing is :func:`plumbline.engine.pause.pause`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from plumbline.cluster import Cluster
from plumbline.config import App, Config, Mode
from plumbline.engine._pipeline import plan_app
from plumbline.engine._write import Writer, sync_app
from plumbline.engine.pause import activate, end_pause
from plumbline.plan.drift import drift_of
from plumbline.store import AppState, AppStateKind, AuditAction, AuditOutcome, Store, SyncRecord, SyncResult


def effective_mode(app: App, store: Store, state: AppState | None = None) -> Mode:
    """The mode override set with ``plumb mode`` if any, else the config's ``spec.mode``; ``state``:
    the app's state already read (not read again)."""
    return (state if state is not None else store.app_state(app.name)).mode or app.spec.mode


@dataclass(frozen=True)
class ModeView:
    """The mode in force for ``app``, and whether it is an override kept in the store."""

    app: str
    mode: Mode
    overridden: bool


@dataclass(frozen=True)
class ModeChange:
    app: str
    before: Mode
    after: Mode

    @property
    def steps(self) -> int:
        """How many steps up the gradient (negative: down)."""
        return self.after.rank - self.before.rank


def mode_of(app: App, store: Store) -> ModeView:
    return ModeView(app.name, effective_mode(app, store), store.app_state(app.name).mode is not None)


def set_mode(app: App, store: Store, mode: Mode | None, *, actor: str, reason: str = "") -> ModeChange:
    """Override ``app``'s mode with ``mode`` (None: drop the override, the config's applies), audited."""
    before = effective_mode(app, store)
    store.set_app_state(replace(store.app_state(app.name), mode=mode))
    after = effective_mode(app, store)
    store.audit(
        actor=actor,
        app=app.name,
        action=AuditAction.MODE,
        reason=reason,
        summary={"from": before.value, "to": after.value, "override": mode is not None},
        outcome=AuditOutcome(after.value),
    )
    return ModeChange(app.name, before, after)


@dataclass(frozen=True)
class Resumed:
    """What ``resume`` did. ``state``: the app's state now — ``active``, ``paused-pending`` (``drift``
    made during the pause waits), or unchanged when it was not paused or ``revert`` did not succeed.
    ``revert``: the sync that reverted the drift (``--revert``), with its result."""

    app: str
    was_paused: bool
    state: AppStateKind
    drift: list[str]
    revert: SyncRecord | None = None


def resume(
    app: App,
    *,
    cluster: Cluster,
    store: Store,
    config: Config,
    actor: str,
    reason: str = "",
    revert: bool = False,
    writer: Writer | None = None,
) -> Resumed:
    """End ``app``'s pause (paused or paused-pending). Without ``revert``: active if the plan shows no
    drift, else paused-pending (the drift must be captured into Git or reverted). With ``revert``: a
    sync that reverts the drift through the write path (it takes the Lease and audits the sync; the
    pause does not refuse it), then active if it succeeded. ``writer``: who writes (default: a fresh
    identity, as ``plumb sync``; the controller's when it carries out a requested resume)."""
    state = store.app_state(app.name)
    if state.state is AppStateKind.ACTIVE:
        return Resumed(app.name, was_paused=False, state=state.state, drift=[])
    if revert:
        _, _, record = sync_app(
            app,
            cluster=cluster,
            store=store,
            revert_drift=True,
            config=config,
            ending_pause=True,
            cause=reason or "resume --revert: revert the drift made during the pause",
            writer=writer,
        )
        if record.result is not SyncResult.SUCCEEDED:
            return Resumed(app.name, was_paused=True, state=state.state, drift=[], revert=record)
        new = activate(
            store, app.name, actor=actor, reason=reason or "resumed, drift reverted", revision=record.sha
        )
        return Resumed(app.name, was_paused=True, state=new.state, drift=[], revert=record)
    plan, _ = plan_app(app, cluster=cluster, store=store, config=config)
    last = store.last_sync(app.name)
    drift = drift_of(plan, last_sha=last.sha if last else None)
    new = end_pause(
        store, app.name, drift=drift, actor=actor, action=AuditAction.RESUME, reason=reason, revision=plan.sha
    )
    return Resumed(app.name, was_paused=True, state=new.state, drift=drift)
