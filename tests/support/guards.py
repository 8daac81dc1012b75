"""Shared helpers for the guard tests: configuration objects, manifests and offline plans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from plumbline.config import App, Environment, Project
from plumbline.guards import CheckoutInfo, GuardContext
from plumbline.guards.offline import offline_plan
from plumbline.plan import Plan
from tests.support.data import GITOPS_ENGINE_DIFF
from tests.support.manifests import workload

ROOT = Path(__file__).resolve().parents[2]
CORPUS = GITOPS_ENGINE_DIFF
GUESTBOOK = ROOT / "examples" / "guestbook"
API = "plumbline.dev/v1alpha1"


@dataclass(frozen=True)
class M:
    obj: dict[str, Any]
    file: str


def project(**spec: Any) -> Project:
    return Project.model_validate(
        {"apiVersion": API, "kind": "Project", "metadata": {"name": "shop"}, "spec": spec}
    )


def environment(name: str = "test", **spec: Any) -> Environment:
    return Environment.model_validate(
        {"apiVersion": API, "kind": "Environment", "metadata": {"name": name}, "spec": spec}
    )


def app(name: str = "orders", namespace: str = "shop", env: str = "test", repo: str = "/srv/git/shop") -> App:
    return App.model_validate(
        {
            "apiVersion": API,
            "kind": "App",
            "metadata": {"name": name},
            "spec": {
                "project": "shop",
                "environment": env,
                "source": {"repoURL": repo, "path": "apps/orders"},
                "destination": {"namespace": namespace},
            },
        }
    )


def context(
    *,
    the_app: App | None = None,
    the_project: Project | None = None,
    the_env: Environment | None = None,
    branches: tuple[str, ...] | None = ("main",),
    revision: str = "main",
    message: str = "change",
    root: Path | None = None,
    sha: str = "c0ffee" * 6 + "abcd",
    mirror: Path | None = None,
    base: str | None = None,
    **kw: Any,
) -> GuardContext:
    """``mirror``: a repository holding ``sha`` (signed-commit checks read it); ``base``: a merge
    request's base SHA."""
    the_env = the_env or environment()
    return GuardContext(
        app=the_app or app(env=the_env.name),
        project=the_project or project(),
        environment=the_env,
        checkout=CheckoutInfo(
            sha=sha,
            revision=revision,
            message=message,
            branches=branches,
            root=root,
            mirror=mirror,
            base=base,
        ),
        clock=kw.pop("clock", lambda: datetime(2026, 11, 18, 12, 0, tzinfo=UTC)),
        **kw,
    )


def plan_of(
    head: list[dict[str, Any]], base: list[dict[str, Any]] | None = None, namespace: str = "shop"
) -> Plan:
    def ms(objs: list[dict[str, Any]]) -> list[M]:
        return [M(o, f"apps/orders/{o['kind'].lower()}-{o['metadata']['name']}.yaml") for o in objs]

    return offline_plan(
        app="orders",
        namespace=namespace,
        base=ms(base or []),
        head=ms(head),
        revision="main",
        sha="c0ffee" * 6 + "abcd",
    )


def load(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        return [json.loads(path.read_text())]
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def guestbook() -> list[dict[str, Any]]:
    return [obj for f in sorted(GUESTBOOK.glob("*.yaml")) for obj in load(f)]


def corpus() -> list[dict[str, Any]]:
    """gitops-engine's desired objects (``*-config.*``; the live ones are not what a plan is made of)."""
    return [obj for f in sorted(CORPUS.glob("*-config.*")) for obj in load(f)]


def deployment(
    name: str, *, env: dict[str, str] | None = None, image: str = "registry.example/orders:2.0.1"
) -> dict[str, Any]:
    container = {
        "name": "app",
        "image": image,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
    }
    return workload("Deployment", name, container)


def service(name: str, *ports: int, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": {"app": name}, "ports": [{"port": p} for p in ports or (80,)]},
    }


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
