"""The CRDs are generated from the config models: the committed deploy/crds.yaml is what the models give
(a field added to a model and not to deploy/ fails here), the schemas are structural, and every
field of the YAML users write is a field of the schema (nothing of it would be pruned)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plumbline.config import KINDS, AppStatus
from plumbline.deploy import COLUMNS, NAMES, STATUS, custom_resource_definitions, kind_schema, to_yaml
from plumbline.yamlio import load_documents
from tests.support.crd import CRDS_FILE, EVERY_FIELD, EXAMPLE, pruned, user_documents

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crds_are_what_the_models_generate() -> None:
    assert (ROOT / CRDS_FILE).read_text() == to_yaml(custom_resource_definitions()), (
        f"{CRDS_FILE} drifted from the config models: run `make deploy` and commit the result"
    )


def test_a_field_added_to_a_model_changes_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    # The drift test above can fail: the schema follows the model, not a copy of it.
    from pydantic import create_model

    grown = create_model("GrownStatus", __base__=AppStatus, operationState=(dict[str, Any] | None, None))
    monkeypatch.setitem(STATUS, "App", grown)
    assert "operationState" in kind_schema("App")["properties"]["status"]["properties"]
    assert to_yaml(custom_resource_definitions()) != (ROOT / CRDS_FILE).read_text()


def _nodes(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, sub in (schema.get("properties") or {}).items():
        found += _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _nodes(schema["additionalProperties"], f"{path}{{}}")
    return found


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_schema_is_structural(kind: str) -> None:
    for path, node in _nodes(kind_schema(kind)):
        where = f"{kind}{path}"
        assert node.get("type") or node.get("x-kubernetes-preserve-unknown-fields"), f"{where}: no type"
        for key in ("$ref", "anyOf", "allOf", "oneOf", "default", "title", "const", "$defs"):
            assert key not in node, f"{where}: {key} is not allowed in a structural schema"
        assert not ("properties" in node and "additionalProperties" in node), where


def test_every_kind_is_namespaced_with_a_name_kubectl_knows() -> None:
    crds = {crd["spec"]["names"]["kind"]: crd for crd in custom_resource_definitions()}
    assert set(crds) == set(KINDS) == set(NAMES) == set(COLUMNS)
    for kind, crd in crds.items():
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["metadata"]["name"] == f"{NAMES[kind][0]}.plumbline.dev"
    app = crds["App"]["spec"]["versions"][0]
    assert app["subresources"] == {"status": {}}
    columns = [c["name"] for c in app["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Sync", "Health", "Revision", "Mode", "State", "Age"]
    assert "subresources" not in crds["Project"]["spec"]["versions"][0]


def test_the_yaml_users_write_loses_nothing_to_pruning() -> None:
    documents = user_documents()
    assert {d["kind"] for d in documents} == set(KINDS)
    for document in documents:
        schema = kind_schema(document["kind"])
        body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind", "metadata")}
        assert pruned(body, schema) == body, f"{document['kind']}/{document['metadata']['name']}"


def test_pruning_drops_what_no_model_declares() -> None:
    # The comparison above can fail: an unknown field is pruned (kubectl's strict validation refuses it).
    app = next(d for d in load_documents(EXAMPLE.read_text(), file=str(EXAMPLE)) if d.data["kind"] == "App")
    body = {"spec": {**app.data["spec"], "sourceRepo": "typo"}}
    assert "sourceRepo" not in pruned(body, kind_schema("App"))["spec"]


def _paths(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {path} | {p for k, v in value.items() for p in _paths(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {path} | {p for v in value for p in _paths(v, f"{path}[]")}
    return {path}


def test_the_yaml_users_write_sets_every_field_so_the_cluster_tests_cover_them() -> None:
    # A path counts wherever it is set: kinds that share a model (an Environment's and an App's
    # verification) share its schema.
    written = {p for d in user_documents() for p in _paths(d)}
    for kind in KINDS:
        for path, _ in _nodes(kind_schema(kind)):
            # The controller's (status), plumb's (operation: tests/integration/test_operations.py);
            # map values.
            if path.startswith((".status", ".operation")) or path.endswith("{}"):
                continue
            assert path in written, f"{kind}{path}: set it in {EVERY_FIELD.name}"
