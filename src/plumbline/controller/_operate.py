"""Operations people request on the App object (``plumb sync``, ``resume``, ``pause``, ``mode`` while
a controller manages the app), carried out by the replica that holds the app, before its pass.

The requester's identity (``operation.requestedBy``, from their SelfSubjectReview) is the actor in
history and audit; an override (``allow``) is carried out only if a SubjectAccessReview says the
cluster grants the requester the ``override`` verb on the App. Progress and the outcome go to
``status.operationState``; the answered ``operation`` is removed from the App (decision 0016).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from plumbline import engine
from plumbline.cluster import ApiFailure, Cluster
from plumbline.config import App, Config, Operation, OperationAction, OperationPhase
from plumbline.config import OperationState as State
from plumbline.controller._log import log
from plumbline.controller._model import Settings
from plumbline.engine import operation as op
from plumbline.engine.pause import parse_duration, pause
from plumbline.errors import PlumbError
from plumbline.store import AppStateKind, AuditAction, AuditOutcome, Store, SyncResult

OPERATION_POLL_S = 1.0
"""How often the running controller looks for operations requested on its Apps (one LIST per
namespace of Apps and API server)."""

SYNC_EXIT = {SyncResult.BLOCKED: 1, SyncResult.FAILED: 2}
"""``plumb sync``'s exit code for a sync's result (0 for the others)."""


def requested(clusters: Callable[[], list[Cluster]], config: Config) -> list[str]:
    """The configured apps whose App object carries a requested operation (never raises: a cluster
    that cannot be asked now is asked again on the next look)."""
    found: set[str] = set()
    namespaces = sorted({op.app_namespace(app) for app in config.apps.values()})
    try:
        for cluster in clusters():
            info = op.app_info(cluster)
            if info is None:
                continue  # plumbline's CRDs are not installed there
            for namespace in namespaces:
                for obj in cluster.list(info, namespace=namespace):
                    name = (obj.get("metadata") or {}).get("name")
                    if obj.get("operation") and name in config.apps:
                        found.add(name)
    except (ApiFailure, PlumbError) as error:
        log(logging.WARNING, f"cannot look for requested operations: {error}")
    return sorted(found)


class Operator:
    def __init__(self, *, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings

    def due(self, cluster: Cluster, app: App) -> tuple[op.ManagedApp, Operation] | None:
        """The operation requested on ``app``'s App object and not answered yet (None: none, or no
        App object: plumbline's CRDs not installed, the App not there, not ours to read)."""
        info = op.app_info(cluster)
        if info is None:
            return None
        managed = op.ManagedApp(app.name, op.app_namespace(app), self.settings.identity, info)
        try:
            obj = cluster.get(info, name=app.name, namespace=managed.namespace)
        except ApiFailure as failure:
            log(logging.WARNING, f"cannot read the App for requested operations: {failure}", app=app.name)
            return None
        if obj is None:
            return None
        try:
            operation, answered = op.operation_of(obj), op.state_of(obj)
        except ValueError as error:  # written by hand, past what the CRD's schema checks
            why = " ".join(str(error).split())
            log(logging.WARNING, f"ignored a malformed App.operation (removed): {why}", app=app.name)
            cluster.request("PATCH", managed.path, body={"operation": None}, content_type=op.MERGE_PATCH)
            return None
        if operation is None:
            return None
        if answered is not None and answered.id == operation.id and answered.phase.done:
            cluster.request("PATCH", managed.path, body={"operation": None}, content_type=op.MERGE_PATCH)
            return None  # answered before; the removal did not land then
        return managed, operation

    def carry_out(
        self, app: App, cluster: Cluster, config: Config, managed: op.ManagedApp, operation: Operation
    ) -> State:
        """Carry ``operation`` out through the engine, telling its progress on the App; the answer."""
        who = operation.requested_by.username
        state = State(
            id=operation.id,
            action=operation.action,
            phase=OperationPhase.RUNNING,
            requestedBy=who,
            handledBy=self.settings.identity,
            startedAt=op.now(),
            progress=[f"{op.describe(operation)}: carried out by {self.settings.identity}"],
        )
        op.write_state(cluster, managed, state)

        def progress(line: str) -> None:
            nonlocal state
            lines = [*state.progress, line][-op.PROGRESS_LINES :]
            state = state.model_copy(update={"progress": lines})
            op.write_state(cluster, managed, state)

        log(logging.INFO, op.describe(operation), app=app.name, operation=operation.id)
        code, message, sync_id = 2, "", None
        try:
            code, message, sync_id = self._run(app, cluster, config, managed, operation, progress)
        except PlumbError as error:
            code, message = error.exit_code, str(error)
        done = state.model_copy(
            update={
                "phase": OperationPhase.SUCCEEDED if code == 0 else OperationPhase.FAILED,
                "finished_at": op.now(),
                "message": message,
                "exit_code": code,
                "sync_id": sync_id,
            }
        )
        op.write_state(cluster, managed, done, clear=True)
        level = logging.INFO if code == 0 else logging.WARNING
        log(level, f"{operation.action.value} by {who}: {message}", app=app.name, operation=operation.id)
        return done

    def _run(
        self,
        app: App,
        cluster: Cluster,
        config: Config,
        managed: op.ManagedApp,
        operation: Operation,
        progress: Callable[[str], None],
    ) -> tuple[int, str, int | None]:
        """(exit code, message, history id) of carrying ``operation`` out."""
        actor = operation.requested_by.username
        writer = engine.Writer(
            identity=self.settings.identity,
            namespace=self.settings.lease_namespace,
            duration_s=self.settings.lease_duration_s,
            held=True,
            actor=actor,
        )
        action = operation.action
        if action is OperationAction.PAUSE:
            length = parse_duration(operation.duration or "")
            state = pause(self.store, app.name, reason=operation.reason, duration=length, actor=actor)
            return 0, f"paused until {state.until:%Y-%m-%d %H:%M:%S} UTC — {operation.reason}", None
        if action is OperationAction.MODE:
            change = engine.set_mode(app, self.store, operation.mode, actor=actor, reason=operation.reason)
            return 0, f"{change.before.value} → {change.after.value}", None
        if action is OperationAction.RESUME:
            done = engine.resume(
                app,
                cluster=cluster,
                store=self.store,
                config=config,
                actor=actor,
                reason=operation.reason,
                revert=operation.revert,
                writer=writer,
            )
            if done.revert is not None:
                record = done.revert
                return SYNC_EXIT.get(record.result, 0), f"{done.state.value}: {record.message}", record.id
            pending = done.state is AppStateKind.PAUSED_PENDING
            said = "; ".join(done.drift) if pending else ("not paused" if not done.was_paused else "")
            return (1 if pending else 0), f"{done.state.value}" + (f": {said}" if said else ""), None
        if operation.allow and not op.may_override(
            cluster, operation.requested_by, namespace=managed.namespace, app=app.name
        ):
            why = op.override_refusal(operation.requested_by, namespace=managed.namespace, app=app.name)
            self.store.audit(
                actor=actor,
                app=app.name,
                action=AuditAction.SYNC,
                reason=why,
                summary={"operation": operation.id, "allow": operation.allow},
                outcome=AuditOutcome.BLOCKED,
            )
            return 1, why, None
        _, _, record = engine.sync_app(
            app,
            cluster=cluster,
            store=self.store,
            revision=operation.revision,
            prune=operation.prune,
            force_conflicts=operation.force_conflicts,
            revert_drift=operation.revert_drift,
            recheck=operation.recheck,
            config=config,
            allow=operation.allow,
            reason=operation.reason or None,
            progress=progress,
            writer=writer,
            cause=f"plumb sync by {actor} (operation {operation.id})",
        )
        return SYNC_EXIT.get(record.result, 0), f"{record.result.value}: {record.message}", record.id
