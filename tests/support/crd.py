"""The CRDs as tests read them: the committed file, the YAML users write, and the API server's
pruning of fields a structural schema does not declare, emulated for unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plumbline.yamlio import load_documents
from tests.support.config import app_yaml
from tests.support.data import DATA

ROOT = Path(__file__).resolve().parents[2]
CRDS_FILE = "deploy/crds.yaml"
EXAMPLE = ROOT / "examples" / "plumbline.yaml"
EVERY_FIELD = DATA / "configs" / "every-field.yaml"


def user_files() -> list[Path]:
    """Configuration files as users write them: the demo's, and one that sets every field."""
    return [EXAMPLE, EVERY_FIELD]


def user_documents() -> list[dict[str, Any]]:
    """Every document of :func:`user_files`, and an App as the tests write one."""
    found = [d.data for f in user_files() for d in load_documents(f.read_text(), file=str(f))]
    test_app = app_yaml("carts", namespace="carts", project="shop", create_namespace=True)
    return [*found, *(d.data for d in load_documents(test_app, file="app_yaml"))]


def pruned(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` as the API server stores it under ``schema``: object fields the schema does not
    declare dropped, unless it preserves unknown fields."""
    if isinstance(value, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return value
        if "additionalProperties" in schema:
            return {k: pruned(v, schema["additionalProperties"]) for k, v in value.items()}
        properties = schema.get("properties") or {}
        return {k: pruned(v, properties[k]) for k, v in value.items() if k in properties}
    if isinstance(value, list) and "items" in schema:
        return [pruned(v, schema["items"]) for v in value]
    return value
