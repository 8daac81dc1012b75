"""Guards against the real API server: live Services, replacements the server refuses, admission denials."""

from __future__ import annotations

import copy
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from plumbline.cluster import Cluster
from plumbline.guards import Severity, run_guards
from plumbline.plan import Plan, build_plan
from plumbline.sync import sync_plan
from tests.support.cluster import admission_policy
from tests.support.guards import app, config_map, context, deployment, service
from tests.support.manifests import workload

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class M:
    obj: dict[str, Any]
    file: str


def plan(cluster: Cluster, name: str, namespace: str, objs: list[dict[str, Any]]) -> Plan:
    manifests = [M(copy.deepcopy(o), f"apps/{name}/{o['kind'].lower()}.yaml") for o in objs]
    return build_plan(
        cluster=cluster, app=name, namespace=namespace, manifests=manifests, revision="main", sha="b" * 40
    )


def guard(p: Plan, cluster: Cluster, namespace: str, only: str, **kw: Any) -> list[Any]:
    ctx = context(the_app=app(name=p.app, namespace=namespace), cluster=cluster, **kw)
    return run_guards(plan=p, context=ctx, only={only})


def test_seed04_db_host_checked_against_live_services(cluster: Cluster, namespace: str, dyn: Any) -> None:
    services = dyn.resources.get(api_version="v1", kind="Service")
    services.create(namespace=namespace, body=service("pgbouncer-primary", 5432))
    name = f"users-{uuid.uuid4().hex[:6]}"
    wrong = plan(
        cluster,
        name,
        namespace,
        [config_map("users-api-env", DB_HOST=f"pgbouncer.{namespace}.svc.cluster.local")],
    )
    [finding] = guard(wrong, cluster, namespace, "references")
    assert finding.blocks and finding.field == "data.DB_HOST" and "or live" in finding.message
    assert f"pgbouncer-primary.{namespace}.svc" in finding.fix

    right = plan(
        cluster,
        name,
        namespace,
        [
            config_map(
                "users-api-env", DB_HOST=f"pgbouncer-primary.{namespace}.svc.cluster.local", DB_PORT="5432"
            )
        ],
    )
    assert guard(right, cluster, namespace, "references") == []
    bad_port = plan(
        cluster,
        name,
        namespace,
        [config_map("users-api-env", DB_HOST=f"pgbouncer-primary.{namespace}.svc", DB_PORT="6432")],
    )
    [finding] = guard(bad_port, cluster, namespace, "references")
    assert "port 6432" in finding.message and "5432" in finding.message


def statefulset(service_name: str) -> dict[str, Any]:
    return workload("StatefulSet", "db", {"name": "db", "image": "postgres:17.2"}, serviceName=service_name)


def test_replacing_a_statefulset_is_detected_from_the_dry_run(cluster: Cluster, namespace: str) -> None:
    name = f"db-{uuid.uuid4().hex[:6]}"
    sync_plan(plan(cluster, name, namespace, [statefulset("db")]), cluster=cluster)
    changed = plan(cluster, name, namespace, [statefulset("db-headless")])
    [item] = changed.items
    assert item.error, "the server should refuse to change serviceName in place"
    [finding] = guard(changed, cluster, namespace, "destructive")
    assert finding.severity is Severity.BLOCK and finding.subject == "StatefulSet/db"
    assert "deleting and recreating the protected StatefulSet" in finding.message


def test_admission_policy_denials_are_findings(cluster: Cluster, namespace: str) -> None:
    tag = uuid.uuid4().hex[:6]
    no_debug = {
        "expression": "!has(object.data) || !('DEBUG' in object.data)",
        "message": "no DEBUG switch in shared config",
    }
    with admission_policy(
        cluster, f"no-debug-{tag}", namespace=namespace, resource="configmaps", validation=no_debug
    ):
        deadline = time.monotonic() + 30
        while True:  # the policy takes a moment to reach the admission chain
            p = plan(cluster, f"cfg-{tag}", namespace, [config_map("shared", DEBUG="1")])
            if p.items[0].error or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        findings = [f for f in guard(p, cluster, namespace, "policy") if f.blocks]
        assert [f.subject for f in findings] == ["ConfigMap/shared"]
        assert "no DEBUG switch" in findings[0].message


def test_a_namespace_that_exists_nowhere_warns_a_stale_service_blocks(
    cluster: Cluster, namespace: str
) -> None:
    tracing = f"jaeger-{uuid.uuid4().hex[:6]}"  # Argo CD's sock-shop: carts sends traces to zipkin.jaeger
    name = f"carts-{uuid.uuid4().hex[:6]}"
    env = {"ZIPKIN": f"zipkin.{tracing}.svc.cluster.local", "QUEUE_HOST": f"rabbitmq.{namespace}.svc"}
    found = guard(
        plan(cluster, name, namespace, [deployment("carts", env=env)]), cluster, namespace, "references"
    )
    by_key = {f.field.rsplit("[", 1)[1].rstrip("]"): f for f in found}
    assert by_key["ZIPKIN"].severity is Severity.WARN
    assert (
        f"namespace {tracing!r}" in by_key["ZIPKIN"].message and "exists nowhere" in by_key["ZIPKIN"].message
    )
    assert by_key["QUEUE_HOST"].severity is Severity.BLOCK  # the namespace exists: a stale Service

    # A namespace this plan creates exists in Git: a Service missing from it blocks.
    declared = plan(
        cluster,
        name,
        namespace,
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": tracing}},
            config_map("env", ZIPKIN=f"zipkin.{tracing}.svc.cluster.local"),
        ],
    )
    [finding] = guard(declared, cluster, namespace, "references")
    assert finding.blocks, finding


def test_a_misspelt_namespace_still_blocks_and_names_the_real_one(
    cluster: Cluster, namespace: str, dyn: Any
) -> None:
    real = f"billing-{uuid.uuid4().hex[:6]}"
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": real}})
    try:
        dyn.resources.get(api_version="v1", kind="Service").create(namespace=real, body=service("payments"))
        typo = real[:-1]  # one letter short
        objs = [config_map("env", PAYMENTS=f"http://payments.{typo}.svc:80")]
        [finding] = guard(
            plan(cluster, f"pay-{typo[-6:]}", namespace, objs), cluster, namespace, "references"
        )
        assert finding.blocks, finding
        assert f"did you mean {real!r}" in finding.message
        assert f"closest existing: payments.{real}.svc" in finding.fix
    finally:
        namespaces.delete(name=real)
