"""What the dashboard's pages show, gathered from the application layer (:mod:`plumbline.engine`) —
the same calls ``plumb status``, ``plumb diff``, ``plumb drift``, ``plumb history`` and ``plumb audit``
make; nothing here plans, attributes, guards or redacts on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plumbline import engine
from plumbline.config import App, Config
from plumbline.guards import GateResult
from plumbline.plan import Action, Plan
from plumbline.plan.attribution import Attribution, FieldChange
from plumbline.plan.drift import DriftReport
from plumbline.store import AppState, AppStateKind, AuditRecord, Broken, Store, StoreChoice, SyncRecord, now

# The order field changes are shown in, and the words of the legend (each style also has its text).
ATTRIBUTIONS = (
    Attribution.DRIFT_REVERT,
    Attribution.CONFLICT,
    Attribution.UNMANAGED_ADDITION,
    Attribution.COMMIT,
    Attribution.RUNTIME,
)


@dataclass
class AppRow:
    """One app on the overview: ``plumb status``'s row, its break-glass state and its mode."""

    status: engine.AppStatus
    mode: engine.ModeView

    @property
    def name(self) -> str:
        return self.status.app

    @property
    def state(self) -> AppState:
        """The break-glass state, with the pause's reason, actor and expiry when paused."""
        return self.status.pause or AppState(app=self.status.app, state=self.status.state)

    @property
    def paused_for_s(self) -> float | None:
        """Seconds left of a pause (None when not paused or no expiry)."""
        if self.state.state is not AppStateKind.PAUSED or self.state.until is None:
            return None
        return max(0.0, (self.state.until - now()).total_seconds())

    def digest(self) -> tuple[Any, ...]:
        """What a live update compares: a change of any of it is news."""
        s = self.status
        counts = tuple(sorted((s.counts or {}).items()))
        drift = tuple(sorted((s.drift or {}).items()))
        return (s.app, s.status, s.health, s.target, counts, drift, s.error, s.last_at,
                self.state.state, self.state.until, self.mode.mode, self.mode.overridden)  # fmt: skip


def overview(
    config: Config, store: Store, *, kubeconfig: str | None = None, context: str | None = None
) -> list[AppRow]:
    rows = []
    for app in sorted(config.apps.values(), key=lambda a: a.name):
        status = engine.app_status(app, config=config, store=store, kubeconfig=kubeconfig, context=context)
        rows.append(AppRow(status=status, mode=engine.mode_of(app, store)))
    return rows


@dataclass
class ObjectView:
    """One object of the plan, as the page lays it out."""

    ref: str
    action: Action
    kept: bool
    source: str
    note: str
    error: str | None
    conflict: str | None
    changes: list[FieldChange]
    diff: str

    @property
    def attributions(self) -> list[str]:
        return sorted({c.attribution.value for c in self.changes})


@dataclass
class AppView:
    """One app's page: its plan field by field, guard findings, rebuildability, history and audit."""

    app: App
    row: AppRow
    plan: Plan | None = None
    objects: list[ObjectView] = field(default_factory=list)
    guards: GateResult | None = None
    drift: DriftReport | None = None
    history: list[SyncRecord] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    verified: int = 0
    broken: Broken | None = None
    error: str | None = None
    at: datetime = field(default_factory=now)


def app_view(
    app: App,
    config: Config,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    history_limit: int = 20,
    audit_limit: int = 50,
) -> AppView:
    """Everything the app's page shows, from one plan: the guards and the rebuildability report are
    made from it, as ``plumb sync --dry-run`` and ``plumb drift`` make them (nothing is recorded)."""
    with engine.session(
        app, kubeconfig=kubeconfig, context=context, store=StoreChoice.of(config.store)
    ) as session:
        store, cluster = session.store, session.cluster
        status = engine.AppStatus(app.name, app.spec.mode)
        view = AppView(app=app, row=AppRow(status, engine.mode_of(app, store)))
        try:
            plan, rendered = engine.plan_app(app, cluster=cluster, store=store, config=config)
            view.row.status = engine.app_status(app, config=config, store=store, planned=(plan, cluster))
            view.plan, view.objects = plan, _objects(plan)
            view.drift = engine.drift_app(app, cluster=cluster, store=store, config=config, plan=plan)
            view.guards = engine.gate_app(app, plan, rendered, config=config, store=store, cluster=cluster)
        except Exception as error:  # one broken app's page says why; the others are unaffected
            view.error = str(error)
            if view.plan is None:
                view.row.status = engine.app_status(
                    app, config=config, store=store, kubeconfig=kubeconfig, context=context
                )
        view.history = engine.history(store, app.name, limit=history_limit)
        view.audit = list(reversed(store.audit_log(app.name, limit=audit_limit)))
        view.verified, view.broken = store.verify_audit()
    return view


def _objects(plan: Plan) -> list[ObjectView]:
    """The plan's objects that say something (changes, notes, errors), changed ones first."""
    shown = []
    for item in sorted(plan.items, key=lambda i: (i.action is Action.UNCHANGED, str(i.ref))):
        noted = any(c.attribution is not Attribution.RUNTIME for c in item.changes)
        if item.action is Action.UNCHANGED and not noted and not item.changes:
            continue
        order = {a: n for n, a in enumerate(ATTRIBUTIONS)}
        changes = sorted(
            (c for c in item.changes if c.attribution not in (Attribution.CREATE, Attribution.PRUNE)),
            key=lambda c: (order.get(c.attribution, 99), c.pointer),
        )
        shown.append(
            ObjectView(
                ref=str(item.ref),
                action=item.action,
                kept=bool(item.kept),
                source=item.source,
                note=item.note,
                error=item.error,
                conflict=item.conflict,
                changes=changes,
                diff=item.diff if item.action is not Action.PRUNE else "",
            )
        )
    return shown
