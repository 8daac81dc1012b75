"""Environment binding: seed 01's "merge meant for test went to prod" is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plumbline.config import VerificationOutcome
from plumbline.guards import Finding, run_guards
from plumbline.plan import Plan
from plumbline.store import FAILED, AuditAction, AuditOutcome, Store
from tests.support.guards import app, context, deployment, environment, guestbook, plan_of
from tests.support.store import sync_record

PROD = environment("prod", branches=["main", "release/*"], protected=True)
TEST = environment("test")


def env_guard(plan: Plan, **kw: Any) -> list[Finding]:
    return run_guards(plan=plan, context=context(**kw), only={"environment"})


def test_seed01_feature_branch_revision_refused_in_prod() -> None:
    [finding] = env_guard(
        plan_of([deployment("orders")]), the_env=PROD, revision="feature/friday", branches=("feature/friday",)
    )
    assert finding.blocks and "feature/friday" in finding.message and "main, release/*" in finding.message
    assert "--allow environment:App/orders" in finding.fix


def test_a_sha_on_main_is_accepted_and_unknown_reachability_falls_back_to_the_name() -> None:
    plan = plan_of([deployment("orders")])
    assert env_guard(plan, the_env=PROD, revision="c0ffee1", branches=("main", "feature/x")) == []
    assert env_guard(plan, the_env=PROD, revision="main", branches=None) == []
    assert env_guard(plan, the_env=PROD, revision="c0ffee1", branches=None)[0].blocks


def test_objects_marked_for_another_environment() -> None:
    marked = deployment("orders")
    marked["metadata"]["labels"] = {"plumbline.dev/environment": "test"}
    [finding] = env_guard(plan_of([marked]), the_env=PROD, environments={"prod": PROD, "test": TEST})
    assert finding.field == "metadata plumbline.dev/environment" and "'test'" in finding.message


def test_promotion_requires_a_successful_sync_in_the_earlier_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prod = environment("prod", branches=["main"], requiresPassedIn="test")
    apps = {"orders": app(env="prod"), "orders-test": app(name="orders-test", env="test")}
    plan = plan_of([deployment("orders")])
    with Store.open(tmp_path / "h.db") as store:
        [finding] = env_guard(plan, the_env=prod, the_app=apps["orders"], apps=apps, store=store)
        assert "has not synced successfully in 'test'" in finding.message and "orders-test" in finding.message
        at = datetime(2026, 11, 1, tzinfo=UTC)
        store.record_sync(sync_record("orders-test", sha=plan.sha, at=at, finished_at=at, actor="ci"))
        assert env_guard(plan, the_env=prod, the_app=apps["orders"], apps=apps, store=store) == []


def test_guestbook_passes_in_test() -> None:
    assert env_guard(plan_of(guestbook(), namespace="guestbook"), the_env=TEST) == []


def test_promotion_from_an_environment_with_a_verification_window_requires_it_passed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    prod = environment("prod", branches=["main"], requiresPassedIn="test")
    test = environment("test", verification={"window": "2m"})
    apps = {"orders": app(env="prod"), "orders-test": app(name="orders-test", env="test")}
    plan = plan_of([deployment("orders")])
    envs = {"prod": prod, "test": test}

    def promoted(store: Store) -> list[Finding]:
        orders = apps["orders"]
        return env_guard(plan, the_env=prod, the_app=orders, apps=apps, environments=envs, store=store)

    def verified(store: Store, outcome: VerificationOutcome) -> None:
        store.audit(
            actor="ci",
            app="orders-test",
            action=AuditAction.VERIFY,
            revision=plan.sha,
            reason="the window's verdict",
            summary={},
            outcome=AuditOutcome(outcome.value),
        )

    with Store.open(tmp_path / "h.db") as store:
        at = datetime(2026, 11, 1, tzinfo=UTC)
        store.record_sync(sync_record("orders-test", sha=plan.sha, at=at, finished_at=at, actor="ci"))
        [finding] = promoted(store)  # synced, but its window has not run: not "passed" yet
        assert "synced in 'test' but did not pass its verification window there" in finding.message
        assert "(orders-test: not verified yet)" in finding.message and finding.blocks
        verified(store, VerificationOutcome.FAILED)
        [finding] = promoted(store)
        assert "(orders-test: verification Failed)" in finding.message
        verified(store, VerificationOutcome.PASSED)  # verified again, and this time it held
        assert promoted(store) == []
        # A revision a rollback left in test does not count there, verified or not.
        store.audit(
            actor="ci",
            app="orders-test",
            action=AuditAction.ROLLBACK,
            summary={FAILED: plan.sha, "to": "0" * 40},
            outcome=AuditOutcome.STARTED,
        )
        [finding] = promoted(store)
        assert "(orders-test: rolled back)" in finding.message
