"""Configuration: real files in a temporary folder, loaded and checked as a user's would be."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from plumbline.config import (
    DEFAULT_PROJECT,
    App,
    InvalidConfigError,
    Mode,
    Tool,
    find_config,
    load_config,
)
from plumbline.errors import ConfigError
from plumbline.yamlio import load_documents
from tests.support import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PROJECTS = """\
# The boundaries teams work in.
apiVersion: plumbline.dev/v1alpha1
kind: Project
metadata:
  name: shop
spec:
  sourceRepos: ["https://git.example.com/shop/*"]
  destinations:
    - namespace: "shop-*"
  clusterResourceAllowList:
    - {group: "", kind: Namespace}
  namespaceResourceDenyList:
    - {group: "", kind: ResourceQuota}
  protectedKinds:
    - {group: "", kind: PersistentVolumeClaim}
    - {group: apps, kind: StatefulSet}
"""

ENVIRONMENTS = """\
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata:
  name: test
spec:
  branches: ["*"]
---
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata:
  name: prod
spec:
  branches: [main, "release-*"]
  protected: true
  requiresPassedIn: test
"""

APPS = """\
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: orders
spec:
  project: shop
  environment: prod
  source:
    repoURL: https://git.example.com/shop/orders.git
    targetRevision: main
    path: deploy/overlays/prod
    tool: kustomize
  destination:
    namespace: shop-orders
    context: prod-eu
  mode: self-heal
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: inventory
spec:
  project: shop
  environment: test
  source:
    repoURL: ../repos/inventory
    tool: helm
    helm:
      valueFiles: [values-test.yaml]
      values: {replicas: 2}
  destination:
    namespace: shop-inventory
    kubeconfig: ../kube/test.yaml
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def doc(kind: str, name: str, body: str = "", *, api_version: str = "plumbline.dev/v1alpha1") -> str:
    """One configuration document: its header lines, then ``body``."""
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: {name}}}\n" + body


def app_doc(name: str = "guestbook", *, spec: str | None = None) -> str:
    spec = (
        spec
        or """\
      source:
        repoURL: https://example.com/repo.git
      destination:
        namespace: guestbook
    """
    )
    return (
        f"apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
    )


def write_app(path: Path, name: str, spec: str) -> Path:
    """``path`` holding the one App ``name`` with ``spec``."""
    return write(path, app_doc(name, spec=spec))


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "plumbline"
    write(root / "projects.yaml", PROJECTS)
    write(root / "environments.yml", ENVIRONMENTS)
    write(root / "apps" / "shop.yaml", APPS)
    write(root / ".hidden" / "ignored.yaml", "not: [valid")
    write(root / "README.md", "not YAML, not read")
    return root


def test_valid_folder_loads_every_kind(folder: Path) -> None:
    config = load_config(folder)

    assert list(config.apps) == ["inventory", "orders"]
    assert set(config.projects) == {"default", "shop"}  # the implicit default is kept
    assert set(config.environments) == {"prod", "test"}  # no implicit default once any is declared

    orders = config.app("orders")
    assert orders.spec.mode is Mode.SELF_HEAL
    assert orders.spec.source.tool is Tool.KUSTOMIZE
    assert orders.spec.source.target_revision == "main"
    assert orders.spec.destination.context == "prod-eu"
    assert config.origin(orders) is not None
    assert str(config.origin(orders)) == f"{folder / 'apps' / 'shop.yaml'}:4"

    prod = config.environment("prod")
    assert prod.spec.protected and prod.spec.requires_passed_in == "test"
    assert prod.allows_branch("release-2.1") and not prod.allows_branch("feature/x")

    shop = config.project("shop")
    assert shop.allows_repo("https://git.example.com/shop/orders.git")
    assert not shop.allows_repo("https://git.example.com/other/orders.git")
    assert shop.allows_namespace("shop-orders") and not shop.allows_namespace("kube-system")
    assert shop.allows_cluster_kind("", "Namespace") and not shop.allows_cluster_kind("", "Node")
    assert not shop.allows_namespaced_kind("", "ResourceQuota")
    assert shop.is_protected("apps", "StatefulSet") and not shop.is_protected("apps", "Deployment")


def test_defaults_are_the_safe_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "plumbline.yaml", app_doc()))
    app = config.app("guestbook")

    assert app.spec.mode is Mode.OBSERVE
    assert (app.spec.project, app.spec.environment) == ("default", "default")
    assert (app.spec.source.target_revision, app.spec.source.path) == ("HEAD", ".")
    assert app.spec.source.tool is Tool.AUTO
    assert config.project("default") is DEFAULT_PROJECT
    assert DEFAULT_PROJECT.allows_cluster_kind("", "Namespace")
    assert not DEFAULT_PROJECT.allows_cluster_kind("rbac.authorization.k8s.io", "ClusterRole")
    assert config.environment("default").allows_branch("anything/at-all")


def test_relative_local_paths_resolve_against_the_config_file(folder: Path, tmp_path: Path) -> None:
    inventory = load_config(folder).app("inventory")

    # declared in plumbline/apps/shop.yaml as ../repos/inventory and ../kube/test.yaml
    assert inventory.spec.source.repo_url == str(folder / "repos" / "inventory")
    assert inventory.spec.destination.kubeconfig == str(folder / "kube" / "test.yaml")
    assert inventory.spec.source.helm is not None
    assert inventory.spec.source.helm.release_name is None
    assert inventory.release_name == "inventory"  # defaults to the App's name
    assert inventory.spec.source.helm.values == {"replicas": 2}
    # URLs and scp-like addresses are left alone
    assert load_config(folder).app("orders").spec.source.repo_url.startswith("https://")


def test_relative_path_does_not_depend_on_the_working_directory(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config(Path("../plumbline"))
    assert config.app("inventory").spec.source.repo_url == str(folder / "repos" / "inventory")


def test_typo_names_file_line_object_field_and_suggests(tmp_path: Path) -> None:
    # the valid App, one key misspelt
    path = write(tmp_path / "apps.yaml", app_doc().replace("repoURL:", "repoUrl:"))
    problems = problems_of(path)

    assert len(problems) == 2
    assert problems[1].startswith(
        f"{path}:7: App/guestbook: spec.source.repoUrl: unknown field (did you mean 'repoURL'? known: "
    )
    # the misspelt key also leaves the real one missing, reported at the enclosing key's line
    assert f"{path}:6: App/guestbook: spec.source.repoURL: field required" in problems


def test_missing_required_field_is_reported_at_its_parent(tmp_path: Path) -> None:
    # the valid App without a namespace, below a comment so that lines are not trivially 1
    valid = "# a comment\n" + app_doc()
    path = write(tmp_path / "apps.yaml", valid.replace("namespace: guestbook", "context: kind-test"))
    assert problems_of(path) == [f"{path}:9: App/guestbook: spec.destination.namespace: field required"]


def test_several_problems_are_reported_together_in_line_order(tmp_path: Path) -> None:
    path = write_app(
        tmp_path / "apps.yaml",
        "Guest_Book",
        """\
            source:
              repoURL: https://example.com/repo.git
              targetRevision: 1.10
              path: ../../etc
            destination:
              namespace: guestbook
            mode: sinc
            """,
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith("4 problems in the configuration:\n")
    lines = [p.line or 0 for p in caught.value.problems]  # the order the loader sorts by
    assert lines == sorted(lines)
    assert re.search(r"apps\.yaml:4: App/Guest_Book: metadata\.name: must be a DNS-1123 label", message)
    assert "spec.source.targetRevision: input should be a valid string (got 1.1; quote it" in message
    assert "spec.source.path: the path must be a relative path inside the repository" in message
    assert "spec.mode: input should be 'observe', 'sync', 'self-heal' or 'prune' (got 'sinc')" in message


def test_unknown_project_and_environment(folder: Path) -> None:
    path = write_app(
        folder / "more.yaml",
        "cart",
        """\
            project: shpo
            environment: default
            source: {repoURL: https://git.example.com/shop/cart.git}
            destination: {namespace: shop-cart}
            """,
    )
    problems = problems_of(folder)
    assert problems == [
        f"{path}:6: App/cart: spec.project: unknown project 'shpo' "
        "(did you mean 'shop'? known: default, shop)",
        f"{path}:7: App/cart: spec.environment: unknown environment 'default' (known: prod, test); "
        "once Environments are declared, every App must name one",
    ]


def test_unknown_required_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "envs.yaml", doc("Environment", "prod", "spec:\n  requiresPassedIn: staging\n"))
    assert problems_of(path) == [
        f"{path}:5: Environment/prod: spec.requiresPassedIn: unknown environment 'staging' (known: prod)"
    ]


def test_duplicate_app_across_two_files_names_both(folder: Path) -> None:
    other = write(folder / "zz-copy.yaml", "---\n" + app_doc("orders"))
    problems = problems_of(folder)
    first = folder / "apps" / "shop.yaml"
    assert problems == [
        f"{other}:5: App/orders: metadata.name: App 'orders' is declared twice: here and at {first}:4"
    ]


def test_unknown_kind_and_api_version_list_the_known_ones(tmp_path: Path) -> None:
    documents = [
        doc("Application", "a"),
        doc("App", "b", api_version="argoproj.io/v1alpha1"),
        "- just a list\n",
    ]
    path = write(tmp_path / "x.yaml", "---\n".join(documents))
    assert problems_of(path) == [
        f"{path}:2: Application/a: kind: expected one of Project, Environment, App, GuardException, "
        "Instance "
        "(got 'Application')",
        f"{path}:5: App/b: apiVersion: expected 'plumbline.dev/v1alpha1' (got 'argoproj.io/v1alpha1')",
        f"{path}:9: expected a mapping with apiVersion, kind, metadata",
    ]


def test_bad_yaml_is_a_config_error_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", "apiVersion: plumbline.dev/v1alpha1\nkind: [App\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:\d+: not valid YAML"):
        load_config(path)


def test_helm_settings_with_another_tool_are_refused(tmp_path: Path) -> None:
    # the valid App, its source told to be plain and given helm settings
    source = "repoURL: https://example.com/repo.git\n"
    helm = source + "    tool: plain\n    helm: {valueFiles: [values.yaml]}\n"
    path = write(tmp_path / "a.yaml", app_doc().replace(source, helm))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:6: App/guestbook: spec.source: 'helm' settings are only used when")


def test_app_lookup_suggests_the_closest_name(folder: Path) -> None:
    config = load_config(folder)
    with pytest.raises(
        ConfigError, match=r"unknown app 'ordres'; did you mean 'orders'\? .*inventory, orders"
    ):
        config.app("ordres")


def test_models_are_frozen_and_forbid_unknown_fields() -> None:
    data = {
        "apiVersion": "plumbline.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": "a"},
        "spec": {"source": {"repoURL": "./r"}, "destination": {"namespace": "n"}},
    }
    app = App.model_validate(data)
    assert app.spec.source.repo_url == "./r"  # no config file, so nothing to resolve against
    with pytest.raises(ValidationError):
        app.spec.mode = Mode.PRUNE
    with pytest.raises(ValidationError):
        App.model_validate({**data, "status": {}})
    assert app.model_dump(by_alias=True, mode="json")["spec"]["source"]["targetRevision"] == "HEAD"


def test_mode_gradient_order() -> None:
    assert [m.value for m in Mode] == ["observe", "sync", "self-heal", "prune"]
    assert Mode.PRUNE.includes(Mode.SELF_HEAL) and Mode.SYNC.includes(Mode.SYNC)
    assert not Mode.OBSERVE.includes(Mode.SYNC)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file or directory"):
        load_config(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no \*\.yaml or \*\.yml files"):
        load_config(tmp_path / "empty")


def test_find_config_order(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"looked for --config, \$PLUMBLINE_CONFIG, ./plumbline.yaml"):
        find_config(None, cwd=tmp_path, environ={})

    (tmp_path / "plumbline").mkdir()
    assert find_config(None, cwd=tmp_path, environ={}) == tmp_path / "plumbline"
    write(tmp_path / "plumbline.yaml", app_doc())
    assert find_config(None, cwd=tmp_path, environ={}) == tmp_path / "plumbline.yaml"
    write(tmp_path / "env.yaml", app_doc())
    env = {"PLUMBLINE_CONFIG": "env.yaml"}
    assert find_config(None, cwd=tmp_path, environ=env) == tmp_path / "env.yaml"
    assert find_config(str(tmp_path / "plumbline"), cwd=tmp_path, environ=env) == tmp_path / "plumbline"
    with pytest.raises(ConfigError, match=r"given \(missing.yaml\) does not exist"):
        find_config("missing.yaml", cwd=tmp_path, environ=env)
    with pytest.raises(ConfigError, match=r"\$PLUMBLINE_CONFIG \(gone\) does not exist"):
        find_config(None, cwd=tmp_path, environ={"PLUMBLINE_CONFIG": "gone"})


def test_find_config_uses_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLUMBLINE_CONFIG", os.fspath(write(tmp_path / "c.yaml", app_doc())))
    assert find_config(None) == tmp_path / "c.yaml"


def test_example_config_loads() -> None:
    config = load_config(EXAMPLES / "plumbline.yaml")
    app = config.app("guestbook")
    assert app.spec.mode is Mode.SYNC
    assert app.spec.source.path == "apps/guestbook"
    assert app.spec.source.repo_url == str(EXAMPLES / "repo")
    assert config.environment("prod").spec.protected
    assert config.environment("prod").spec.branches == ["main"]


def test_example_app_is_namespace_less_plain_yaml() -> None:
    objects = {}
    for path in sorted((EXAMPLES / "guestbook").glob("*.yaml")):
        for doc in load_documents(path.read_text(), file=str(path)):
            objects[(doc.data["kind"], doc.data["metadata"]["name"])] = doc.data
    assert set(objects) == {
        ("ConfigMap", "guestbook-env"),
        ("Deployment", "guestbook"),
        ("Service", "guestbook"),
    }
    assert all("namespace" not in o["metadata"] for o in objects.values())
    [container] = objects["Deployment", "guestbook"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.27" and container["resources"]["limits"]
    assert container["envFrom"] == [{"configMapRef": {"name": "guestbook-env"}}]
    assert {"DB_HOST", "INVENTORY_SERVICE_URL"} <= set(objects["ConfigMap", "guestbook-env"]["data"])
    assert objects["Service", "guestbook"]["spec"]["ports"][0]["port"] == 80


@pytest.mark.parametrize("text", ["", "# nothing here yet\n", "---\n# only comments\n---\n", "~\n"])
def test_an_empty_config_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "plumbline.yaml", text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: declares nothing: the file is empty")
    # In a folder too: an empty file there is not silently skipped.
    folder = tmp_path / "conf"
    write(folder / "apps.yaml", app_doc())
    empty = write(folder / "later.yaml", text)
    assert [p.split(":")[0] for p in problems_of(folder)] == [str(empty)]


def test_an_empty_config_file_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path / "plumbline.yaml", "---\n")
    done = cli.plumb("--config", str(path), "apps")
    assert done.returncode == 2
    assert f"{path}: declares nothing" in done.stderr


def test_allow_remote_sources_is_a_list_of_url_globs(tmp_path: Path) -> None:
    project = """\
    apiVersion: plumbline.dev/v1alpha1
    kind: Project
    metadata: {name: shop}
    spec:
      allowRemoteSources: ["https://github.com/shop/*", ""]
    """
    [problem] = problems_of(write(tmp_path / "p.yaml", project))
    assert "Project/shop: spec.allowRemoteSources" in problem and "must be a URL glob" in problem
    config = load_config(write(tmp_path / "p.yaml", project.replace(', ""', "")))
    assert config.project("shop").spec.allow_remote_sources == ["https://github.com/shop/*"]
    assert DEFAULT_PROJECT.spec.allow_remote_sources == []  # offline unless a Project says otherwise


INSTANCE = "apiVersion: plumbline.dev/v1alpha1\nkind: Instance\nmetadata:\n  name: {name}\n"


def test_the_instance_is_declared_else_from_the_environment_else_default(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.yaml", app_doc())
    assert load_config(plain, env={}).instance == "default"
    assert load_config(plain, env={"PLUMBLINE_INSTANCE": "team-b"}).instance == "team-b"
    named = write(tmp_path / "named.yaml", INSTANCE.format(name="team-a") + "---\n" + app_doc())
    assert load_config(named, env={}).instance == "team-a"
    assert load_config(named, env={"PLUMBLINE_INSTANCE": "team-a"}).instance == "team-a"


def test_instance_problems_name_file_line_and_field(tmp_path: Path) -> None:
    two = write(
        tmp_path / "two.yaml",
        INSTANCE.format(name="team-a") + "---\n" + INSTANCE.format(name="team-b") + "---\n" + app_doc(),
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config(two, env={"PLUMBLINE_INSTANCE": "team-c"})
    assert [str(p) for p in caught.value.problems] == [
        f"{two}:4: Instance/team-a: metadata.name: $PLUMBLINE_INSTANCE is 'team-c' but the configuration "
        "names this installation 'team-a'; the name is part of every tracked object's identity, so they "
        "must agree (unset PLUMBLINE_INSTANCE, or change one of them)",
        f"{two}:9: Instance/team-b: metadata.name: only one Instance may be declared; {two}:4 already "
        "names this installation 'team-a'",
    ]
    plain = write(tmp_path / "plain.yaml", app_doc())
    with pytest.raises(InvalidConfigError, match=r"\$PLUMBLINE_INSTANCE: must be a DNS-1123 label"):
        load_config(plain, env={"PLUMBLINE_INSTANCE": "Team_A"})
    extra = write(tmp_path / "extra.yaml", INSTANCE.format(name="x") + "spec: {id: 1}\n")
    with pytest.raises(InvalidConfigError, match=r"Instance/x: spec"):
        load_config(extra, env={})
