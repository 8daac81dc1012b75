"""The application layer: every caller — the CLI, the controller, later a web UI — goes through it.

It connects the pipeline's stages (source → render → plan → sync → record) and owns what a write
must respect, so no caller can bypass it: :func:`sync_app` is the one write path (it refuses a paused
app, runs the guards, records its intent, takes the app's Lease only to write, and records the
outcome); :func:`wait_healthy` then waits for the app's health (``plumb sync --wait``) and
:func:`verify_app` runs its verification window (health holds, metric checks pass);
:func:`rollback_app` applies a good revision's recorded desired state through it and holds the app
there. Break-glass state (and the hold, and failed SHAs) lives in :mod:`plumbline.engine.pause`, one
writer per app in :mod:`plumbline.engine.lease`.

    with engine.connect(app) as cluster, Store.open() as store:
        plan, rendered = engine.plan_app(app, cluster=cluster, store=store, config=config)
        plan, report, record = engine.sync_app(app, cluster=cluster, store=store, config=config)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, for mypy and readers; at run time __getattr__ imports them
    from plumbline.engine._check import OFFLINE_GUARDS, AppCheck, check_app, check_plans, terraform_app
    from plumbline.engine._config import ConfigReader, cluster_config, read_config
    from plumbline.engine._controls import (
        ModeChange,
        ModeView,
        Resumed,
        effective_mode,
        mode_of,
        resume,
        set_mode,
    )
    from plumbline.engine._pipeline import (
        Progress,
        Rendered,
        allowed_remote,
        bounds_of,
        connect,
        drift_app,
        gate_app,
        ignore_rules,
        last_synced,
        plan_app,
        render_app,
        resolve_kubeconfig,
    )
    from plumbline.engine._rollback import (
        Rollback,
        RollbackError,
        changed_fields,
        rollback_app,
        rollback_target,
    )
    from plumbline.engine._session import Session, plan, session
    from plumbline.engine._signed import signatures_of
    from plumbline.engine._verify import last_verification, planned_health, verify_app
    from plumbline.engine._views import (
        AppStatus,
        app_status,
        exceptions_of,
        history,
        record_to_dict,
        unfinished_to_dict,
    )
    from plumbline.engine._wait import (
        DONE,
        HealthWatch,
        ObjectHealth,
        WaitResult,
        health_checks,
        wait_healthy,
    )
    from plumbline.engine._write import (
        LEASE_WAIT_S,
        Unfinished,
        UnfinishedState,
        Writer,
        close_interrupted,
        sync_app,
        unfinished_syncs,
    )

# Each public name and the module it comes from. The package is lazy (PEP 562): `from plumbline import
# engine` costs nothing, and a name's module (with its Kubernetes client, guards, renderers...) is
# imported only when the name is first used, so `plumb --help` or `plumb apps` never load them
# (tests/unit/test_startup.py). A new export goes here, in the TYPE_CHECKING imports and in __all__.
_WHERE: dict[str, str] = {
    "OFFLINE_GUARDS": "_check",
    "AppCheck": "_check",
    "check_app": "_check",
    "check_plans": "_check",
    "terraform_app": "_check",
    "cluster_config": "_config",
    "read_config": "_config",
    "ConfigReader": "_config",
    "ModeChange": "_controls",
    "ModeView": "_controls",
    "Resumed": "_controls",
    "effective_mode": "_controls",
    "mode_of": "_controls",
    "resume": "_controls",
    "set_mode": "_controls",
    "Progress": "_pipeline",
    "Rendered": "_pipeline",
    "allowed_remote": "_pipeline",
    "bounds_of": "_pipeline",
    "connect": "_pipeline",
    "drift_app": "_pipeline",
    "gate_app": "_pipeline",
    "ignore_rules": "_pipeline",
    "last_synced": "_pipeline",
    "plan_app": "_pipeline",
    "render_app": "_pipeline",
    "resolve_kubeconfig": "_pipeline",
    "Rollback": "_rollback",
    "RollbackError": "_rollback",
    "changed_fields": "_rollback",
    "rollback_app": "_rollback",
    "rollback_target": "_rollback",
    "Session": "_session",
    "plan": "_session",
    "session": "_session",
    "signatures_of": "_signed",
    "last_verification": "_verify",
    "planned_health": "_verify",
    "verify_app": "_verify",
    "AppStatus": "_views",
    "app_status": "_views",
    "exceptions_of": "_views",
    "history": "_views",
    "record_to_dict": "_views",
    "unfinished_to_dict": "_views",
    "DONE": "_wait",
    "HealthWatch": "_wait",
    "ObjectHealth": "_wait",
    "WaitResult": "_wait",
    "health_checks": "_wait",
    "wait_healthy": "_wait",
    "LEASE_WAIT_S": "_write",
    "Unfinished": "_write",
    "UnfinishedState": "_write",
    "Writer": "_write",
    "close_interrupted": "_write",
    "sync_app": "_write",
    "unfinished_syncs": "_write",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DONE",
    "LEASE_WAIT_S",
    "OFFLINE_GUARDS",
    "AppCheck",
    "AppStatus",
    "ConfigReader",
    "HealthWatch",
    "ModeChange",
    "ModeView",
    "ObjectHealth",
    "Progress",
    "Rendered",
    "Resumed",
    "Rollback",
    "RollbackError",
    "Session",
    "Unfinished",
    "UnfinishedState",
    "WaitResult",
    "Writer",
    "allowed_remote",
    "app_status",
    "bounds_of",
    "changed_fields",
    "check_app",
    "check_plans",
    "close_interrupted",
    "cluster_config",
    "connect",
    "drift_app",
    "effective_mode",
    "exceptions_of",
    "gate_app",
    "health_checks",
    "history",
    "ignore_rules",
    "last_synced",
    "last_verification",
    "mode_of",
    "plan",
    "plan_app",
    "planned_health",
    "read_config",
    "record_to_dict",
    "render_app",
    "resolve_kubeconfig",
    "resume",
    "rollback_app",
    "rollback_target",
    "session",
    "set_mode",
    "signatures_of",
    "sync_app",
    "terraform_app",
    "unfinished_syncs",
    "unfinished_to_dict",
    "verify_app",
    "wait_healthy",
]
