"""Sync windows: "no prod syncs Friday 16:00 to Monday 08:00" (Europe/Berlin), allow windows too."""

from __future__ import annotations

from datetime import UTC, datetime

from plumbline.guards import run_guards
from tests.support.guards import context, deployment, environment, plan_of

FRIDAY_FREEZE = {"kind": "deny", "schedule": "0 16 * * 5", "duration": "64h", "timeZone": "Europe/Berlin"}
PROD = environment("prod", syncWindows=[FRIDAY_FREEZE])


def windows(at: datetime, env=PROD, **kw):  # type: ignore[no-untyped-def]
    return run_guards(
        plan=plan_of([deployment("orders")]),
        context=context(the_env=env, clock=lambda: at, **kw),
        only={"windows"},
    )


def test_seed01_friday_evening_sync_to_prod_blocks() -> None:
    [finding] = windows(datetime(2026, 11, 20, 17, 30, tzinfo=UTC))  # Friday 18:30 in Berlin
    assert finding.blocks and "deny window" in finding.message and "2026-11-23T08:00" in finding.message
    assert "--allow windows:App/orders --reason" in finding.fix


def test_outside_the_window_passes() -> None:
    assert windows(datetime(2026, 11, 20, 14, 59, tzinfo=UTC)) == []  # Friday 15:59 Berlin
    assert windows(datetime(2026, 11, 23, 7, 1, tzinfo=UTC)) == []  # Monday 08:01 Berlin


def test_allow_windows_limit_syncs_to_them() -> None:
    office = environment("prod", syncWindows=[{"kind": "allow", "schedule": "0 9 * * 1-4", "duration": "8h"}])
    assert windows(datetime(2026, 11, 17, 10, 0, tzinfo=UTC), env=office) == []  # Tuesday 10:00
    [finding] = windows(datetime(2026, 11, 17, 18, 0, tzinfo=UTC), env=office)
    assert "none is open" in finding.message


def test_controller_syncs_wait() -> None:
    [finding] = windows(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), manual=False)
    assert "waits" in finding.fix
