"""`spec.ignoreDifferences` in the App config: accepted in Argo CD's shape, mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from plumbline import engine
from plumbline.config import InvalidConfigError, load_config
from plumbline.plan.runtime import IgnoreRule, RuntimeRules

APP = """apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  source: {{repoURL: https://example.com/r.git, path: web}}
  destination: {{namespace: web}}
  ignoreDifferences:
{rules}"""


def rules_of(tmp_path: Path, rules: str) -> list[IgnoreRule]:
    path = tmp_path / "plumbline.yaml"
    path.write_text(APP.format(rules=rules))
    return engine.ignore_rules(load_config(path).app("web"))


def test_rules_become_plan_rules_and_match_what_they_say(tmp_path: Path) -> None:
    rules = rules_of(
        tmp_path,
        "    - {group: apps, kind: Deployment, name: web, jsonPointers: [/spec/replicas]}\n"
        "    - {kind: ConfigMap, managers: [vpa-*]}\n",
    )
    plan_rules = RuntimeRules(rules=tuple(rules))
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "web"}}
    api = {**web, "metadata": {"name": "api", "namespace": "web"}}
    assert plan_rules.why_ignored(web, ("spec", "replicas")) is not None
    assert plan_rules.why_ignored(web, ("spec", "template")) is None
    assert plan_rules.why_ignored(api, ("spec", "replicas")) is None


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ("    - {kind: Deployment}\n", "needs jsonPointers or managers"),
        ("    - {kind: Deployment, jsonPointers: [spec/replicas]}\n", "must start with '/'"),
        ("    - {kind: Deployment, jsonPointer: [/spec/replicas]}\n", "jsonPointer"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, rules: str, problem: str) -> None:
    with pytest.raises(InvalidConfigError) as raised:
        rules_of(tmp_path, rules)
    assert problem in str(raised.value) and "ignoreDifferences" in str(raised.value)


def test_what_the_api_server_sets_on_every_namespace_is_runtime() -> None:
    # A Namespace plumbline created (syncOptions.createNamespace) came back with these two, and every
    # sync after it reported them as unmanaged additions: OutOfSync for ever (found by make demo).
    rules = RuntimeRules()
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", "team": "a"}},
        "spec": {"finalizers": ["kubernetes"]},
    }
    assert rules.why_ignored(namespace, ("metadata", "labels", "kubernetes.io/metadata.name")) is not None
    assert rules.why_ignored(namespace, ("spec", "finalizers")) is not None
    assert rules.why_ignored(namespace, ("metadata", "labels", "team")) is None
    namespace["spec"] = {"finalizers": ["kubernetes", "example.com/keep"]}  # someone added one: not runtime
    assert rules.why_ignored(namespace, ("spec", "finalizers")) is None
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": namespace["metadata"]}
    assert rules.why_ignored(config_map, ("metadata", "labels", "kubernetes.io/metadata.name")) is None
