"""Service references: seed 01's stale INVENTORY_SERVICE_URL and seed 04's DB_HOST are blocked."""

from __future__ import annotations

from typing import Any

from plumbline.guards import Finding, Severity, run_guards
from plumbline.guards.references import addresses
from plumbline.plan import Plan
from tests.support.guards import config_map, context, deployment, guestbook, plan_of, service


def refs(plan: Plan, **kw: Any) -> list[Finding]:
    return run_guards(plan=plan, context=context(**kw), only={"references"})


def orders_calling_inventory_at(url: str) -> Plan:
    """Seed 01: orders still calls the old inventory service by URL; the new one is in the plan."""
    return plan_of([deployment("orders", env={"INVENTORY_SERVICE_URL": url}), service("inventory-service")])


def test_seed01_stale_inventory_url_without_namespace_blocks() -> None:
    [finding] = refs(orders_calling_inventory_at("http://old-inventory-service.svc.cluster.local"))
    assert finding.severity is Severity.BLOCK
    assert finding.ref is not None and finding.ref.name == "orders"
    assert finding.field == "spec.template.spec.containers[app].env[INVENTORY_SERVICE_URL]"
    assert "no namespace" in finding.message
    assert "inventory-service.shop.svc" in finding.fix


def test_seed01_deprecated_service_blocks_naming_closest() -> None:
    [finding] = refs(orders_calling_inventory_at("http://old-inventory-service.shop.svc.cluster.local"))
    assert finding.blocks and "'old-inventory-service'" in finding.message
    assert "closest existing: inventory-service.shop.svc" in finding.fix
    assert "--allow references:Deployment/orders" in finding.fix


def test_seed04_db_host_names_the_wrong_pgbouncer() -> None:
    plan = plan_of(
        [
            config_map("users-api-env", DB_HOST="pgbouncer.users.svc.cluster.local"),
            service("pgbouncer-primary", 5432),
        ],
        namespace="users",
    )
    [finding] = refs(plan, the_app=None)
    assert finding.field == "data.DB_HOST"
    assert "pgbouncer-primary.users.svc" in finding.fix


def test_port_must_be_exposed() -> None:
    plan = plan_of([config_map("env", CACHE_URL="redis://cache:6380"), service("cache", 6379)])
    [finding] = refs(plan)
    assert "port 6380" in finding.message and "6379" in finding.message


def test_sibling_port_key_is_used() -> None:
    plan = plan_of([config_map("env", DB_HOST="db", DB_PORT="5433"), service("db", 5432)])
    [finding] = refs(plan)
    assert "port 5433" in finding.message


def test_resolves_in_plan_and_ignores_public_hosts() -> None:
    plan = plan_of(
        [
            config_map(
                "env",
                API="https://api.github.com/repos",
                SITE="example.com",
                LOG_LEVEL="info",
                DB_HOST="db",
                DB_PORT="5432",
                LOCAL="http://localhost:8080",
                IP="http://10.0.0.1:80",
            ),
            service("db", 5432),
        ]
    )
    assert refs(plan) == []


def test_unknown_namespace_offline_warns_only() -> None:
    plan = plan_of([config_map("env", PAY="http://payments.billing.svc:8080")])
    [finding] = refs(plan)
    assert finding.severity is Severity.WARN


def test_guestbook_passes() -> None:
    assert refs(plan_of(guestbook(), namespace="guestbook")) == []


def test_address_forms() -> None:
    found = addresses("http://a.b.svc.cluster.local:81/x", key="", namespace="n", known_namespaces=set())
    assert [(a.name, a.namespace, a.port) for a in found] == [("a", "b", 81)]
    assert addresses("svc.ns", key="X", namespace="n", known_namespaces={"ns"})[0].namespace == "ns"
    assert addresses("svc.ns", key="X", namespace="n", known_namespaces=set()) == []
    assert addresses("cache", key="CACHE_HOST", namespace="n", known_namespaces=set())[0].namespace == "n"
    assert addresses("cache", key="MODE", namespace="n", known_namespaces=set()) == []


def test_closest_services_are_ranked_by_similarity_not_by_name() -> None:
    # Alphabetically "inventory" < "inventory-api" < "inventory-service"; by similarity to
    # "old-inventory-service" the order is the reverse, and that is the order a reader needs.
    plan = plan_of(
        [
            deployment("orders", env={"INVENTORY_URL": "http://old-inventory-service.shop.svc:80"}),
            service("inventory"),
            service("inventory-api"),
            service("inventory-service"),
        ]
    )
    [finding] = refs(plan)
    assert (
        "closest existing: inventory-service.shop.svc, inventory-api.shop.svc, inventory.shop.svc"
        in finding.fix
    ), finding.fix
