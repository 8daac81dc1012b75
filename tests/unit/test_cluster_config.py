"""The configuration read from the cluster (``--config cluster:NAMESPACE``): plumbline's objects as the
API server returns them (server metadata, status) are checked by the same models as a file, problems
name ``cluster:NAMESPACE``, the object and the field, and Apps outside the controller's namespace
count only where their Project lists the namespace in ``sourceNamespaces`` (decision 0014)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from plumbline.config import (
    DEFAULT_NAMESPACE,
    InvalidConfigError,
    cluster_namespace,
    config_from_objects,
    load_config,
)
from plumbline.yamlio import load_documents
from tests.support.crd import EVERY_FIELD

HOME = "plumbline-system"


def stored(document: dict[str, Any], namespace: str = HOME, generation: int = 3) -> dict[str, Any]:
    """``document`` as the API server answers a GET of it."""
    obj = copy.deepcopy(document)
    metadata = obj["metadata"]
    metadata.update(
        namespace=namespace,
        uid="0d5e8c1e-8a0e-4f5b-9a51-000000000000",
        resourceVersion="4711",
        generation=generation,
        creationTimestamp="2026-12-01T10:00:00Z",
        managedFields=[{"manager": "kubectl", "operation": "Apply"}],
    )
    metadata.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    obj["status"] = {"sync": {"status": "Synced"}}
    return obj


def documents() -> list[dict[str, Any]]:
    return [d.data for d in load_documents(EVERY_FIELD.read_text(), file=str(EVERY_FIELD))]


def app_in(namespace: str, name: str, project: str = "shop") -> dict[str, Any]:
    (app,) = [d for d in documents() if d["kind"] == "App"]
    app = copy.deepcopy(app)
    app["metadata"]["name"] = name
    app["spec"]["project"] = project
    return stored(app, namespace)


def test_objects_read_from_the_cluster_are_the_same_configuration_as_the_file() -> None:
    from_file = load_config(EVERY_FIELD)
    config = config_from_objects([stored(d) for d in documents()], home=HOME)
    assert config.instance == from_file.instance == "shop-team"
    assert config.store == from_file.store and config.store.history_limit == 20
    for ours, theirs in ((config.apps, from_file.apps), (config.projects, from_file.projects)):
        assert ours.keys() == theirs.keys()
        for name, obj in ours.items():
            assert obj.spec == theirs[name].spec
    assert config.environments.keys() == from_file.environments.keys()
    assert config.exceptions.keys() == from_file.exceptions.keys()
    orders = config.app("orders")
    assert orders.metadata.namespace == HOME and orders.metadata.annotations == {}
    origin = config.origin(orders)
    assert origin is not None and str(origin) == f"cluster:{HOME}" and origin.generation == 3


def test_a_problem_names_the_namespace_the_object_and_the_field() -> None:
    objects = [stored(d) for d in documents()]
    (app,) = [o for o in objects if o["kind"] == "App"]
    app["spec"]["source"]["path"] = "../other-team"  # no schema says so; the model does
    with pytest.raises(InvalidConfigError) as raised:
        config_from_objects(objects, home=HOME)
    (problem,) = raised.value.problems
    assert str(problem).startswith(f"cluster:{HOME}: App/orders: spec.source.path: ")
    assert "inside the repository" in str(problem)


def test_apps_elsewhere_count_only_where_their_project_lists_the_namespace() -> None:
    objects = [stored(d) for d in documents()]
    (project,) = [o for o in objects if o["kind"] == "Project"]
    project["spec"]["sourceNamespaces"] = ["team-*"]
    broken = app_in("other", "broken")
    broken["spec"]["destination"]["namespace"] = "Not A Label"
    objects += [
        app_in("team-a", "carts"),
        app_in("other", "intruder"),
        broken,
        app_in("team-b", "free", "default"),
    ]
    config = config_from_objects(objects, home=HOME)
    assert sorted(config.apps) == ["carts", "orders"]
    assert config.app("carts").metadata.namespace == "team-a"


def test_objects_of_other_kinds_outside_the_home_namespace_are_not_read() -> None:
    objects = [stored(d) for d in documents()]
    stray = copy.deepcopy(next(o for o in objects if o["kind"] == "Environment"))
    stray["metadata"].update(name="elsewhere", namespace="team-a")
    assert "elsewhere" not in config_from_objects([*objects, stray], home=HOME).environments


def test_an_app_name_used_in_two_namespaces_is_a_problem() -> None:
    objects = [stored(d) for d in documents()]
    (project,) = [o for o in objects if o["kind"] == "Project"]
    project["spec"]["sourceNamespaces"] = ["team-a"]
    with pytest.raises(InvalidConfigError, match="App 'orders' is declared twice: here and at cluster:"):
        config_from_objects([*objects, app_in("team-a", "orders")], home=HOME)


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("cluster:team-a", {}, "team-a"),
        ("cluster:", {}, DEFAULT_NAMESPACE),
        (None, {"PLUMBLINE_CONFIG": "cluster:ops"}, "ops"),
        ("plumbline.yaml", {"PLUMBLINE_CONFIG": "cluster:ops"}, None),
        (None, {}, None),
    ],
)
def test_config_cluster_names_the_namespace(
    explicit: str | None, environ: dict[str, str], expected: str | None
) -> None:
    assert cluster_namespace(explicit, environ=environ) == expected


def test_leniently_an_invalid_app_is_left_out_and_its_problems_kept() -> None:
    objects = [stored(d) for d in documents()]
    broken = app_in(HOME, "broken")
    broken["spec"]["source"]["path"] = "../other-team"
    stray = app_in(HOME, "stray", project="nowhere")
    config = config_from_objects([*objects, broken, stray], home=HOME, lenient=True)
    assert sorted(config.apps) == ["orders"]
    assert sorted({p.obj or "" for p in config.rejected}) == ["App/broken", "App/stray"]
    assert all(p.file == f"cluster:{HOME}" for p in config.rejected)
    with pytest.raises(InvalidConfigError, match="App/broken"):
        config_from_objects([*objects, broken], home=HOME)  # the CLI reads strictly


def test_leniently_a_broken_project_still_stops_the_load() -> None:
    objects = [stored(d) for d in documents()]
    (project,) = [o for o in objects if o["kind"] == "Project"]
    project["spec"]["blastRadius"]["maxDeletes"] = -1
    with pytest.raises(InvalidConfigError, match=r"Project/shop: spec\.blastRadius\.maxDeletes"):
        config_from_objects(objects, home=HOME, lenient=True)
