"""A Terraform/OpenTofu plan as ``terraform show -json PLANFILE`` / ``tofu show -json PLANFILE`` prints it.

Only what the guards read is kept: each resource change (address, module, type, mode, actions, why,
the planned values), the root module's input variables and the module calls of the configuration
(for finding a module's files). Anything malformed is a :class:`TerraformPlanError` naming the file
and the field (``resource_changes[2].change.actions``), never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from plumbline.errors import TerraformPlanError


class TerraformAction(StrEnum):
    """The words of a change's ``actions`` in plan JSON (Terraform's and OpenTofu's ``plans.Action``)."""

    NO_OP = "no-op"
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    FORGET = "forget"  # OpenTofu: removed from state, the object left alone


class ResourceMode(StrEnum):
    MANAGED = "managed"
    DATA = "data"


@dataclass(frozen=True)
class ResourceChange:
    """One ``resource_changes[]`` entry."""

    address: str  # module.db.aws_db_instance.main["a"]
    module: str  # module.db ("" for the root module)
    mode: ResourceMode
    type: str
    name: str
    actions: tuple[TerraformAction, ...]
    reason: str = ""  # action_reason: replace_because_cannot_update, delete_because_no_resource_config
    replace_paths: tuple[str, ...] = ()  # ["list", 1, "id"] as "list[1].id"
    after: Any = None  # planned values (None for a delete); sensitive values dropped
    before: Any = None

    @property
    def deletes(self) -> bool:
        """The change destroys the real object: a delete, or a replacement either way round."""
        return self.mode is ResourceMode.MANAGED and TerraformAction.DELETE in self.actions

    @property
    def replaces(self) -> bool:
        return self.deletes and TerraformAction.CREATE in self.actions

    @property
    def existed(self) -> bool:
        """The object exists before the plan is applied (everything but a plain create or a read)."""
        return self.mode is ResourceMode.MANAGED and self.actions != (TerraformAction.CREATE,)

    @property
    def config_key(self) -> str:
        """``aws_db_instance.main`` of ``module.db.aws_db_instance.main["a"]``: the resource block."""
        return f"{self.type}.{self.name}"

    @property
    def spelled_actions(self) -> str:
        """``["delete","create"]``, as the plan spells it."""
        return json.dumps([a.value for a in self.actions], separators=(",", ":"))


@dataclass(frozen=True)
class TerraformPlan:
    """A plan read from ``path``; ``label`` is how findings name it (the path as given)."""

    path: Path
    label: str
    changes: tuple[ResourceChange, ...]
    # name -> value (root module inputs; None for one declared sensitive)
    variables: Mapping[str, Any] = field(default_factory=dict)
    module_sources: Mapping[str, str] = field(default_factory=dict)  # module.a.module.b -> its source
    terraform_version: str = ""

    @property
    def managed(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.mode is ResourceMode.MANAGED]


def load_plan(path: Path, *, label: str | None = None) -> TerraformPlan:
    """Read ``path`` (``show -json`` of a saved plan). Raises :class:`TerraformPlanError`. ``label``
    names it in findings and errors; default: the path relative to the working directory if it is
    below it, else as given."""
    name = label or _label(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TerraformPlanError(f"{name}: cannot read the plan: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise TerraformPlanError(
            f"{name}: not UTF-8 text; expected the output of `tofu show -json PLANFILE`"
        ) from None
    return parse_plan(text, path=path, label=name)


def _label(path: Path) -> str:
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def parse_plan(text: str, *, path: Path, label: str) -> TerraformPlan:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TerraformPlanError(
            f"{label}: line {err.lineno} column {err.colno}: not JSON ({err.msg}); expected the output "
            "of `tofu show -json PLANFILE` (or `terraform show -json PLANFILE`)"
        ) from None
    reader = _Reader(label)
    top = reader.mapping(data, "")
    if "planned_values" not in top and "resource_changes" not in top:
        what = "a state (`show -json` without a plan file)" if "values" in top else "not a plan"
        raise TerraformPlanError(
            f"{label}: (top level): {what}: there is no resource_changes or planned_values; run "
            "`tofu plan -out=PLANFILE` and give the output of `tofu show -json PLANFILE`"
        )
    reader.string(top.get("format_version"), "format_version")
    if top.get("errored") is True:
        raise TerraformPlanError(
            f"{label}: errored: true: the plan did not complete (tofu/terraform plan failed), so what it "
            "would change is not known; fix the plan's errors and plan again"
        )
    changes = tuple(
        _change(reader, entry, f"resource_changes[{i}]")
        for i, entry in enumerate(reader.array(top.get("resource_changes", []), "resource_changes"))
    )
    configuration = reader.mapping(top.get("configuration", {}), "configuration")
    root_module = configuration.get("root_module")
    declared = root_module.get("variables") if isinstance(root_module, dict) else None
    sensitive = {
        name for name, decl in (declared or {}).items() if isinstance(decl, dict) and decl.get("sensitive")
    }
    variables: dict[str, Any] = {}
    for var, spec in reader.mapping(top.get("variables", {}), "variables").items():
        value = reader.mapping(spec, f"variables.{var}").get("value")
        variables[var] = None if var in sensitive else value
    sources: dict[str, str] = {}
    _module_calls(reader, configuration.get("root_module", {}), "", "configuration.root_module", sources)
    version = top.get("terraform_version", "")
    return TerraformPlan(
        path=path,
        label=label,
        changes=changes,
        variables=variables,
        module_sources=sources,
        terraform_version=version if isinstance(version, str) else "",
    )


def _change(reader: _Reader, entry: Any, where: str) -> ResourceChange:
    obj = reader.mapping(entry, where)
    address = reader.string(obj.get("address"), f"{where}.address")
    mode_text = reader.string(obj.get("mode"), f"{where}.mode")
    try:
        mode = ResourceMode(mode_text)
    except ValueError:
        raise reader.error(f"{where}.mode", f"{mode_text!r} is not one of managed, data") from None
    change = reader.mapping(obj.get("change"), f"{where}.change")
    actions_field = f"{where}.change.actions"
    actions = []
    for text in reader.array(change.get("actions"), actions_field):
        try:
            actions.append(TerraformAction(text))
        except ValueError:
            known = ", ".join(a.value for a in TerraformAction)
            raise reader.error(actions_field, f"{text!r} is not an action ({known})") from None
    if not actions:
        raise reader.error(actions_field, "is empty")
    module = obj.get("module_address", "")
    reason = obj.get("action_reason", "")
    paths = change.get("replace_paths") or []
    return ResourceChange(
        address=address,
        module=reader.string(module, f"{where}.module_address") if module else "",
        mode=mode,
        type=reader.string(obj.get("type"), f"{where}.type"),
        name=reader.string(obj.get("name"), f"{where}.name"),
        actions=tuple(actions),
        reason=reason if isinstance(reason, str) else "",
        replace_paths=tuple(_path(p) for p in reader.array(paths, f"{where}.change.replace_paths")),
        after=_unsensitive(change.get("after"), change.get("after_sensitive")),
        before=_unsensitive(change.get("before"), change.get("before_sensitive")),
    )


def _unsensitive(values: Any, mask: Any) -> Any:
    """``values`` with every value ``mask`` (the plan's ``after_sensitive``) marks sensitive dropped:
    nothing read from a plan can print a secret."""
    if mask is True:
        return None
    if isinstance(values, dict) and isinstance(mask, dict):
        return {key: _unsensitive(value, mask.get(key)) for key, value in values.items()}
    if isinstance(values, list) and isinstance(mask, list):
        return [_unsensitive(value, mask[i] if i < len(mask) else None) for i, value in enumerate(values)]
    return values


def _path(steps: Any) -> str:
    if not isinstance(steps, list):
        return str(steps)
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _module_calls(reader: _Reader, module: Any, prefix: str, where: str, out: dict[str, str]) -> None:
    calls = reader.mapping(reader.mapping(module, where).get("module_calls", {}), f"{where}.module_calls")
    for name, call in calls.items():
        call_where = f"{where}.module_calls.{name}"
        body = reader.mapping(call, call_where)
        address = f"{prefix}module.{name}"
        source = body.get("source")
        if isinstance(source, str):
            out[address] = source
        if "module" in body:
            _module_calls(reader, body["module"], f"{address}.", f"{call_where}.module", out)


class _Reader:
    """Type checks that name the file and the field."""

    def __init__(self, label: str) -> None:
        self.label = label

    def error(self, where: str, problem: str) -> TerraformPlanError:
        return TerraformPlanError(f"{self.label}: {where or '(top level)'}: {problem}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"expected an object, got {_kind(value)}")
        return value

    def array(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error(where, f"expected a list, got {_kind(value)}")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(where, f"expected a non-empty string, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (missing or null)"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
