"""CustomResourceDefinitions for plumbline's kinds, generated from the config models.

The models that check a YAML file (``plumbline.config``) are the one source of truth: each kind's
OpenAPI v3 schema is the model's JSON schema made *structural* (what Kubernetes requires of a CRD):
references inlined, ``Optional`` as ``nullable``, ``Literal`` as ``enum``, free-form mappings as
``x-kubernetes-preserve-unknown-fields``, and what OpenAPI v3.0 has no word for dropped (titles,
defaults — the models apply those when an object is read, so the stored object stays what its author
wrote). Checks the schema cannot express (a path that must stay inside the repository, CEL syntax)
are the models' own, run whenever plumbline reads an object.

Every kind is namespaced (decision 0014). ``apiVersion``, ``kind`` and ``metadata`` are the API
server's; every other top-level field of a model (``spec``, and any added later, such as an App's
``operation``) is in the schema, and ``status`` comes from the kind's status model, served through the
status subresource.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from plumbline.config import API_VERSION, KINDS, AppStatus

GROUP, VERSION = API_VERSION.split("/")

# The kinds' plural and short names, as kubectl spells them (``kubectl get apps``, ``app/guestbook``).
NAMES: dict[str, tuple[str, list[str]]] = {
    "App": ("apps", []),
    "Project": ("projects", ["proj"]),
    "Environment": ("environments", ["env"]),
    "GuardException": ("guardexceptions", ["gex"]),
    "Instance": ("instances", []),
}

STATUS: dict[str, type[BaseModel]] = {"App": AppStatus}
"""Each kind that has a status, and its model (the status subresource is served for these)."""

_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

COLUMNS: dict[str, list[dict[str, Any]]] = {
    "App": [
        {"name": "Sync", "type": "string", "jsonPath": ".status.sync.status"},
        {"name": "Health", "type": "string", "jsonPath": ".status.health.status"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.sync.sha", "description": "commit"},
        {"name": "Mode", "type": "string", "jsonPath": ".status.mode", "description": "mode in effect"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        _AGE,
        {"name": "Project", "type": "string", "jsonPath": ".spec.project", "priority": 1},
        {"name": "Environment", "type": "string", "jsonPath": ".spec.environment", "priority": 1},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    ],
    "Project": [_AGE],
    "Environment": [
        {"name": "Protected", "type": "boolean", "jsonPath": ".spec.protected"},
        {"name": "Requires", "type": "string", "jsonPath": ".spec.requiresPassedIn"},
        _AGE,
    ],
    "GuardException": [
        {"name": "App", "type": "string", "jsonPath": ".spec.app"},
        {"name": "Guard", "type": "string", "jsonPath": ".spec.guard"},
        {"name": "Expires", "type": "string", "jsonPath": ".spec.expires"},
        _AGE,
    ],
    "Instance": [_AGE],
}

DESCRIPTIONS = {
    "App": "Git rendered into one destination namespace, within a Project and an Environment.",
    "Project": "A boundary: which repositories, namespaces and kinds its Apps may touch.",
    "Environment": "A stage (test, prod): which branches may reach it, whether it is protected, and when.",
}

_SERVER_FIELDS = ("apiVersion", "kind", "metadata")
# Keys of a JSON schema that carry over into a structural OpenAPI v3.0 schema unchanged.
_KEPT = {
    "type",
    "description",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "required",
    "format",
}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a pydantic JSON schema node; ``defs`` its ``$defs``) as a structural OpenAPI v3.0
    schema node."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return structural({**target, **extra}, defs)
    options = schema.get("anyOf")
    if options is not None:
        others = [o for o in options if o.get("type") != "null"]
        if len(others) != 1:
            raise ValueError(f"no structural schema for a union of {len(others)} types: {schema}")
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        node = structural({**others[0], **rest}, defs)
        if len(others) < len(options):
            node["nullable"] = True
        return node
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _KEPT or k.startswith("x-kubernetes-")}
    if "description" in out:
        out["description"] = prose(out["description"])
    if "const" in schema:
        out["enum"] = [schema["const"]]
        out.setdefault("type", "string")
    if out.get("format") in ("date-time", "date"):
        # A GuardException's expires may be a date or a time with a zone; the model checks which.
        del out["format"]
    if "exclusiveMinimum" in schema:
        out["minimum"], out["exclusiveMinimum"] = schema["exclusiveMinimum"], True
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out["type"] = "object"
        properties = schema.get("properties")
        if properties:
            out["properties"] = {name: structural(sub, defs) for name, sub in properties.items()}
        more = schema.get("additionalProperties")
        if isinstance(more, dict) and more:
            out["additionalProperties"] = structural(more, defs)
        elif not properties and more is not False:
            # A mapping of anything (Helm values): kept as written, not pruned.
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array":
        out["items"] = structural(schema.get("items") or {}, defs)
    elif kind is None and "enum" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    first = ("description", "type", "nullable", "enum", "required")
    return {k: out[k] for k in sorted(out, key=lambda k: first.index(k) if k in first else len(first))}


def prose(docstring: str) -> str:
    """A docstring's first paragraph as one line of plain text (what ``kubectl explain`` shows)."""
    first = docstring.strip().split("\n\n")[0]
    return " ".join(first.replace("``", "'").split())


def kind_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of ``kind``: its model's fields but the server's, plus its status."""
    model = KINDS[kind]
    generated = model.model_json_schema(by_alias=True, mode="validation")
    defs = generated.get("$defs", {})
    properties = {
        name: structural(sub, defs)
        for name, sub in generated.get("properties", {}).items()
        if name not in _SERVER_FIELDS
    }
    if kind in STATUS:
        status = STATUS[kind].model_json_schema(by_alias=True, mode="validation")
        properties["status"] = structural(status, status.get("$defs", {}))
    schema: dict[str, Any] = {
        "type": "object",
        "description": prose(DESCRIPTIONS.get(kind) or model.__doc__ or kind),
    }
    if properties:
        schema["properties"] = properties
    required = [name for name in generated.get("required", []) if name not in _SERVER_FIELDS]
    if required:
        schema["required"] = required
    return schema


def custom_resource_definition(kind: str) -> dict[str, Any]:
    plural, short = NAMES[kind]
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
        "categories": ["plumbline"],
    }
    if short:
        names["shortNames"] = short
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": kind_schema(kind)},
        "additionalPrinterColumns": COLUMNS[kind],
    }
    if kind in STATUS:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "plumbline"}},
        "spec": {"group": GROUP, "scope": "Namespaced", "names": names, "versions": [version]},
    }


def custom_resource_definitions() -> list[dict[str, Any]]:
    """One CRD per plumbline kind, in the order the kinds are declared (``config.KINDS``)."""
    return [custom_resource_definition(kind) for kind in KINDS]
