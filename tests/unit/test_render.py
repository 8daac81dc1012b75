"""The render stage with real inputs: corpus objects in plain folders, and the real helm and kustomize
binaries from the toolchain (built once, then cached)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from plumbline.errors import RenderError
from plumbline.render import HelmOptions, Manifest, detect, render
from plumbline.source import fetch
from plumbline.yamlio import YamlError
from tests.support.data import GITOPS_ENGINE_DIFF
from tests.support.git import init_repo
from tests.support.git import write_files as write
from tests.support.manifests import WEB_SERVICE, deployment_yaml, kustomize_files

DATA = GITOPS_ENGINE_DIFF


def refs(manifests: list[Manifest]) -> list[str]:
    return [m.ref for m in manifests]


# --- plain folders ---


def test_plain_folder_reads_yaml_and_json_recursively_in_order(tmp_path: Path) -> None:
    app = tmp_path / "apps" / "guestbook"
    (app / "corpus").mkdir(parents=True)
    for name in ("deployment-config.json", "sealedsecret-config.json", "smd-service-config.yaml"):
        shutil.copy(DATA / name, app / "corpus" / name)
    shutil.copy(DATA / "elasticsearch-config.json", app / "statefulset.json")
    write(
        app,
        {
            "config.yaml": "---\n# nothing here\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  namespace: shop\n",
            "list.json": json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": [
                        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}},
                        {
                            "apiVersion": "rbac.authorization.k8s.io/v1",
                            "kind": "Role",
                            "metadata": {"name": "x"},
                        },
                    ],
                }
            ),
            "README.md": "not a manifest",
            "values.txt": "not: read",
            ".hidden.yaml": "garbage: [",
            ".github/workflow.yml": "on: push\n",
        },
    )
    manifests = render(tmp_path, "apps/guestbook")
    assert refs(manifests) == [
        "ConfigMap/a",
        "ConfigMap shop/b",
        "Deployment default/guestbook-ui",
        "SealedSecret default/mysecret",
        "Service default/multiple-protocol-port-svc",
        "ServiceAccount/x",
        "Role/x",
        "StatefulSet/elasticsearch4-data",
    ]
    files = [(m.file, m.index) for m in manifests]
    assert files[:3] == [
        ("apps/guestbook/config.yaml", 0),
        ("apps/guestbook/config.yaml", 1),
        ("apps/guestbook/corpus/deployment-config.json", 0),
    ]
    assert files[5:7] == [("apps/guestbook/list.json", 0), ("apps/guestbook/list.json", 0)]
    # Objects come back exactly as written.
    assert manifests[2].obj == json.loads((DATA / "deployment-config.json").read_text())
    statefulset = manifests[-1]
    assert (statefulset.api_version, statefulset.group, statefulset.namespace) == (
        "apps/v1beta1",
        "apps",
        None,
    )
    assert manifests[0].group == "" and manifests[0].key == ("", "ConfigMap", None, "a")


def test_an_empty_folder_renders_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert render(tmp_path, "empty") == []


def test_a_document_without_kind_names_file_line_and_document(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
            "app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\n"
            "apiVersion: v1\nmetadata:\n  name: no-kind\n",
        },
    )
    with pytest.raises(RenderError) as caught:
        render(tmp_path, "app")
    assert "app/bad.yaml:6 (document 2): this document has no kind" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: ConfigMap\nmetadata:\n  name: x\n", "has no apiVersion"),
        ("apiVersion: v1\nkind: ConfigMap\n", "the ConfigMap has no metadata"),
        ("apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: job-\n", "uses metadata.generateName"),
        ("- a\n- b\n", "this is a list, not a Kubernetes object"),
        ("just words\n", "this is a string, not a Kubernetes object"),
        ("apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n", "(document 1), item 1"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [\n", "app/x.yaml:5:1: not valid YAML"),
    ],
)
def test_documents_that_are_not_objects_are_refused_with_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    write(tmp_path, {"app/x.yaml": text})
    with pytest.raises(RenderError) as caught:
        render(tmp_path, "app")
    assert "app/x.yaml" in str(caught.value)
    assert expected in str(caught.value)


def test_a_duplicate_object_names_both_files(tmp_path: Path) -> None:
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"
    other_version = config.replace("apiVersion: v1", "apiVersion: v1\n# same object\n")
    write(tmp_path, {"app/a.yaml": config, "app/sub/b.yaml": "---\n" + other_version})
    with pytest.raises(RenderError) as caught:
        render(tmp_path, "app")
    message = str(caught.value)
    assert "ConfigMap shop/settings is defined twice" in message
    assert "app/a.yaml (document 1)" in message and "app/sub/b.yaml (document 1)" in message


def test_same_name_in_another_namespace_or_group_is_not_a_duplicate(tmp_path: Path) -> None:
    def obj(api: str, kind: str, ns: str) -> str:
        return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: web\n  namespace: {ns}\n---\n"

    write(
        tmp_path,
        {
            "app/x.yaml": obj("v1", "Service", "a")
            + obj("v1", "Service", "b")
            + obj("example.com/v1", "Service", "a")
        },
    )
    assert len(render(tmp_path, "app")) == 3


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}" + f", *{chr(97 + i)}" * 9 + "]" for i in range(8)
    ]
    write(tmp_path, {"app/bomb.yaml": "\n".join(lines) + "\n"})
    started = time.monotonic()
    with pytest.raises(YamlError, match="alias bomb"):
        render(tmp_path, "app")
    assert time.monotonic() - started < 5


# --- app paths that lead outside (CVE-2022-24348 class) ---


def test_app_paths_that_leave_the_repository_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(tmp_path, {"outside/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"})
    (root / "apps").mkdir(parents=True)
    os.symlink("../../outside", root / "apps" / "link")
    for bad in ("../outside", "apps/../../outside", "apps/link"):
        with pytest.raises(RenderError) as caught:
            render(root, bad)
        message = str(caught.value)
        assert f"app path: path {bad!r} leads outside the repository" in message
    with pytest.raises(RenderError, match="'/etc' is absolute"):
        render(root, "/etc")
    with pytest.raises(RenderError, match="'apps/missing' does not exist in the repository"):
        render(root, "apps/missing")


def test_a_plain_file_linked_from_outside_the_repository_is_refused(tmp_path: Path) -> None:
    # A checkout never holds such a link; render refuses it anyway when given some other folder.
    write(tmp_path, {"outside/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"})
    (tmp_path / "repo/app").mkdir(parents=True)
    os.symlink("../../outside/secret.yaml", tmp_path / "repo/app/secret.yaml")
    with pytest.raises(RenderError, match=r"app/secret\.yaml is a symlink that leads outside the repository"):
        render(tmp_path / "repo", "app")


def test_auto_detection(tmp_path: Path) -> None:
    write(tmp_path, {"k/kustomization.yaml": "", "k/Chart.yaml": "", "h/Chart.yaml": "", "p/a.yaml": ""})
    assert [detect(tmp_path / d) for d in ("k", "h", "p")] == ["kustomize", "helm", "plain"]
    write(tmp_path, {"k2/Kustomization": ""})
    assert detect(tmp_path / "k2") == "kustomize"


# --- kustomize ---

DEPLOYMENT = deployment_yaml("web", container="web", image="nginx:1.27", replicas="1")
SERVICE = WEB_SERVICE


@pytest.fixture
def kustomize_repo(tmp_path: Path) -> Path:
    return write(
        tmp_path / "repo",
        kustomize_files(
            {"deployment.yaml": DEPLOYMENT, "service.yaml": SERVICE},
            "resources:\n- ../../base\nnamePrefix: prod-\nnamespace: shop\npatches:\n- path: replicas.yaml\n",
            overlay_files={
                "replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                "spec:\n  replicas: 3\n"
            },
        ),
    )


def test_kustomize_overlay_with_a_base(kustomize_repo: Path) -> None:
    manifests = render(kustomize_repo, "overlays/prod")
    assert sorted(refs(manifests)) == ["Deployment shop/prod-web", "Service shop/prod-web"]
    deployment = next(m for m in manifests if m.kind == "Deployment")
    assert deployment.obj["spec"]["replicas"] == 3
    assert {m.file for m in manifests} == {"overlays/prod"}
    assert sorted(m.index for m in manifests) == [0, 1]


def test_kustomize_from_a_real_checkout(kustomize_repo: Path, tmp_path: Path, isolated_cache: Path) -> None:
    init_repo(kustomize_repo, message="app")
    checkout = fetch(f"file://{kustomize_repo}", "main")
    assert sorted(refs(render(checkout.root, "overlays/prod"))) == [
        "Deployment shop/prod-web",
        "Service shop/prod-web",
    ]


def test_kustomize_bases_outside_the_repository_are_refused(kustomize_repo: Path, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "other-tenant/kustomization.yaml": "resources:\n- secret.yaml\n",
            "other-tenant/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: theirs\n",
        },
    )
    write(
        kustomize_repo,
        {"overlays/evil/kustomization.yaml": "resources:\n- ../../base\n- ../../../other-tenant\n"},
    )
    with pytest.raises(RenderError) as caught:
        render(kustomize_repo, "overlays/evil")
    assert "overlays/evil/kustomization.yaml: resources entry '../../../other-tenant' leads outside" in str(
        caught.value
    )
    # Also when the escape is one base further down.
    write(kustomize_repo, {"overlays/evil2/kustomization.yaml": "resources:\n- ../evil\n"})
    with pytest.raises(RenderError, match=r"overlays/evil/kustomization\.yaml: resources entry"):
        render(kustomize_repo, "overlays/evil2")


def test_kustomize_files_outside_the_kustomization_are_refused_by_kustomize(kustomize_repo: Path) -> None:
    write(
        kustomize_repo,
        {
            "patches/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
            "overlays/far/kustomization.yaml": "resources:\n- ../../base\n"
            "patches:\n- path: ../../patches/replicas.yaml\n",
        },
    )
    with pytest.raises(RenderError) as caught:
        render(kustomize_repo, "overlays/far")
    message = str(caught.value)
    assert message.startswith("kustomize build overlays/far failed")
    assert "patches/replicas.yaml" in message and "is not in or below" in message
    assert str(kustomize_repo) not in message  # paths are shown relative to the repository


def test_a_broken_kustomization_reports_kustomize_s_message(kustomize_repo: Path) -> None:
    write(kustomize_repo, {"overlays/broken/kustomization.yaml": "resources:\n- missing.yaml\n"})
    with pytest.raises(
        RenderError, match=r"kustomize build overlays/broken failed \(exit code 1\):\n.*missing\.yaml"
    ):
        render(kustomize_repo, "overlays/broken")


# --- helm ---

CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: webapp\nversion: 0.1.0\n",
    "charts/web/values.yaml": "replicas: 1\nimage: nginx:1.27\n",
    "charts/web/templates/deployment.yaml": deployment_yaml(
        "{{ .Release.Name }}-web",
        namespace="{{ .Release.Namespace }}",
        replicas="{{ .Values.replicas }}",
        app="web",
        container="web",
        image="{{ .Values.image }}",
    ),
    "charts/web/templates/config.yaml": """{{- range list "a" "b" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-{{ . }}
data:
  helm: {{ $.Capabilities.HelmVersion.Version | quote }}
{{- end }}
""",
    "charts/web/templates/tests/connection.yaml": """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers: [{name: t, image: busybox}]
""",
    "charts/web/crds/widgets.yaml": """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object}
""",
    "envs/prod/values.yaml": "replicas: 3\n",
}


WEB = HelmOptions(release_name="web")


@pytest.fixture
def chart_repo(tmp_path: Path) -> Path:
    return write(tmp_path / "repo", CHART)


def test_helm_chart_with_a_values_file(chart_repo: Path) -> None:
    options = HelmOptions(
        release_name="shop", value_files=("envs/prod/values.yaml",), values={"image": "nginx:1.28"}
    )
    manifests = render(chart_repo, "charts/web", helm=options, namespace="prod")
    assert refs(manifests) == [
        "CustomResourceDefinition/widgets.example.com",
        "ConfigMap/shop-a",
        "ConfigMap/shop-b",
        "Deployment prod/shop-web",
    ]
    crd, config_a, config_b, deployment = manifests
    assert deployment.obj["spec"]["replicas"] == 3  # from the value file
    assert deployment.obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"  # inline wins
    assert (deployment.file, deployment.index) == ("charts/web/templates/deployment.yaml", 0)
    assert [(m.file, m.index) for m in (config_a, config_b)] == [
        ("charts/web/templates/config.yaml", 0),
        ("charts/web/templates/config.yaml", 1),
    ]
    assert crd.file == "charts/web/crds/widgets.yaml"
    assert config_a.obj["data"]["helm"] == "v4.3.1"  # the kit's version is stamped into the binary


def test_helm_ignores_the_user_s_helm_environment(chart_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELM_NAMESPACE", "somewhere-else")
    monkeypatch.setenv("HELM_CONFIG_HOME", str(chart_repo / "must-not-be-created"))
    manifests = render(chart_repo, "charts/web", helm=WEB)
    deployment = next(m for m in manifests if m.kind == "Deployment")
    assert deployment.name == "web-web"
    assert deployment.namespace == "default"
    assert not (chart_repo / "must-not-be-created").exists()


@pytest.mark.parametrize(
    ("value_file", "expected"),
    [
        ("../outside.yaml", "leads outside the repository"),
        ("charts/../../outside.yaml", "leads outside the repository"),
        ("/etc/hostname", "is absolute"),
        ("https://example.com/values.yaml", "only files from inside the repository"),
        ("nope.yaml", "does not exist in the repository"),
    ],
)
def test_helm_value_files_must_be_inside_the_repository(
    chart_repo: Path, value_file: str, expected: str
) -> None:
    (chart_repo.parent / "outside.yaml").write_text("replicas: 100\n")
    with pytest.raises(RenderError) as caught:
        render(chart_repo, "charts/web", helm=HelmOptions(release_name="x", value_files=(value_file,)))
    assert f"helm value file {value_file!r}" in str(caught.value)
    assert expected in str(caught.value)


def test_helm_value_file_through_a_symlink_out_of_the_repository_is_refused(chart_repo: Path) -> None:
    (chart_repo.parent / "outside.yaml").write_text("replicas: 100\n")
    os.symlink("../../../outside.yaml", chart_repo / "envs/prod/linked.yaml")
    with pytest.raises(RenderError, match="leads outside the repository"):
        render(
            chart_repo,
            "charts/web",
            helm=HelmOptions(release_name="x", value_files=("envs/prod/linked.yaml",)),
        )


def test_helm_dependency_from_a_remote_repository_is_refused_unless_the_project_allows_it(
    chart_repo: Path,
) -> None:
    repository = "https://127.0.0.1:9/charts"  # loopback, nothing listens: fails at once if fetched
    write(
        chart_repo,
        {
            "charts/web/Chart.yaml": "apiVersion: v2\nname: webapp\nversion: 0.1.0\ndependencies:\n"
            f"- name: redis\n  version: 1.2.3\n  repository: {repository}\n"
        },
    )
    with pytest.raises(RenderError) as caught:
        render(chart_repo, "charts/web", helm=WEB)
    message = str(caught.value)
    assert message.startswith(
        f"charts/web/Chart.yaml: dependency 'redis' comes from the remote repository {repository!r}"
    )
    assert "not vendored in charts/web/charts/" in message and "spec.allowRemoteSources" in message
    with pytest.raises(RenderError, match=r"spec\.allowRemoteSources"):
        render(chart_repo, "charts/web", helm=WEB, allow_remote=("https://charts.example.com/*",))
    # Allowed: helm is run to download it (offline here, so it fails with its own message), on a copy.
    with pytest.raises(RenderError) as caught:
        render(chart_repo, "charts/web", helm=WEB, allow_remote=("https://127.0.0.1:9/*",))
    assert str(caught.value).startswith(
        "helm dependency update charts/web (allowed: https://127.0.0.1:9/charts) failed"
    )
    assert 'Unable to get an update from the "https://127.0.0.1:9/charts" chart repository' in str(
        caught.value
    )
    assert not (chart_repo / "charts/web/charts").exists()  # the checkout is not written to


def test_helm_dependency_vendored_in_charts_needs_no_network(chart_repo: Path) -> None:
    write(
        chart_repo,
        {
            "charts/web/Chart.yaml": "apiVersion: v2\nname: webapp\nversion: 0.1.0\ndependencies:\n"
            "- name: redis\n  version: 1.2.3\n  repository: https://charts.example.com\n",
            "charts/web/charts/redis/Chart.yaml": "apiVersion: v2\nname: redis\nversion: 1.2.3\n",
            "charts/web/charts/redis/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
            "metadata:\n  name: {{ .Release.Name }}-redis\n",
        },
    )
    manifests = render(chart_repo, "charts/web", helm=WEB)
    assert "ConfigMap/web-redis" in refs(manifests)


def test_helm_chart_without_options_is_refused_rather_than_named_by_folder(chart_repo: Path) -> None:
    with pytest.raises(RenderError, match="is a Helm chart, but no Helm options"):
        render(chart_repo, "charts/web")


def test_helm_value_files_are_relative_to_the_repository_not_the_chart(chart_repo: Path) -> None:
    write(chart_repo, {"charts/web/values-prod.yaml": "replicas: 4\n"})
    options = HelmOptions(release_name="web", value_files=("charts/web/values-prod.yaml",))
    deployment = next(m for m in render(chart_repo, "charts/web", helm=options) if m.kind == "Deployment")
    assert deployment.obj["spec"]["replicas"] == 4
    # Written relative to the chart, it is not found, and the error says what was meant.
    with pytest.raises(RenderError) as caught:
        render(
            chart_repo, "charts/web", helm=HelmOptions(release_name="web", value_files=("values-prod.yaml",))
        )
    assert str(caught.value) == (
        "helm value file 'values-prod.yaml' does not exist in the repository; value files are relative "
        "to the repository root: did you mean 'charts/web/values-prod.yaml'?"
    )


def test_the_release_name_is_the_app_s_everywhere(tmp_path: Path) -> None:
    """App ``shop-prod`` with its chart in ``charts/shop``: every render is release ``shop-prod``."""
    repo = write(
        tmp_path / "repo",
        {
            "charts/shop/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
            "charts/shop/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: {{ .Release.Name }}-config\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
            "envs/prod/values.yaml": "replicas: 3\n",
        },
    )
    init_repo(repo, message="chart")
    from plumbline.config import App
    from plumbline.engine import render_app
    from plumbline.render import helm_options

    def app(helm: dict[str, object] | None) -> App:
        source: dict[str, object] = {"repoURL": str(repo), "targetRevision": "main", "path": "charts/shop"}
        if helm is not None:
            source["helm"] = helm
        return App.model_validate(
            {"apiVersion": "plumbline.dev/v1alpha1", "kind": "App", "metadata": {"name": "shop-prod"},
             "spec": {"source": source, "destination": {"namespace": "shop"}}}
        )  # fmt: skip

    for shop_prod in (app(None), app({"valueFiles": ["envs/prod/values.yaml"]})):
        assert shop_prod.release_name == "shop-prod"
        assert helm_options(shop_prod).release_name == "shop-prod"
        [config_map] = render_app(shop_prod).manifests
        assert config_map.name == "shop-prod-config"
    assert config_map.obj["data"]["replicas"] == "3"  # the value file outside the chart's folder
    renamed = app({"releaseName": "shop"})
    assert [m.name for m in render_app(renamed).manifests] == ["shop-config"]


RANDOM_PASSWORD = """{{- $existing := lookup "v1" "Secret" .Release.Namespace "db" }}
apiVersion: v1
kind: Secret
metadata:
  name: db
data:
{{- if $existing }}
  password: {{ index $existing.data "password" }}
{{- else }}
  password: {{ .Values.password | default (randAlphaNum 16) | b64enc | quote }}
{{- end }}
"""


def test_a_chart_that_generates_a_new_password_every_render_is_refused(chart_repo: Path) -> None:
    write(chart_repo, {"charts/web/templates/secret.yaml": RANDOM_PASSWORD})
    with pytest.raises(RenderError) as caught:
        render(chart_repo, "charts/web", helm=WEB, namespace="shop")
    message = str(caught.value)
    assert message.startswith("helm template charts/web renders differently every time: Secret/db")
    assert "(charts/web/templates/secret.yaml): data.password" in message
    assert "never converge" in message
    assert "generates values (charts/web/templates/secret.yaml:10)" in message
    assert "calls lookup (charts/web/templates/secret.yaml:1)" in message
    # With the value set, the same chart renders the same every time, and is accepted.
    fixed = HelmOptions(release_name="web", values={"password": "from-a-value-file"})
    [secret] = [m for m in render(chart_repo, "charts/web", helm=fixed) if m.kind == "Secret"]
    assert secret.obj["data"]["password"] == "ZnJvbS1hLXZhbHVlLWZpbGU="


# --- remote sources ---


@pytest.mark.parametrize(
    ("kustomization", "field", "url"),
    [
        ("resources:\n- https://github.com/org/repo//base?ref=v1\n", "resources", "https://github.com/org/repo//base?ref=v1"),
        ("resources:\n- github.com/org/repo/base?ref=v1\n", "resources", "github.com/org/repo/base?ref=v1"),
        ("bases:\n- git@github.com:org/repo.git//base\n", "bases", "git@github.com:org/repo.git//base"),
        ("components:\n- git::https://example.com/c.git\n", "components", "git::https://example.com/c.git"),
        ("resources:\n- ../../base\npatches:\n- path: https://example.com/p.yaml\n", "patches.path",
         "https://example.com/p.yaml"),
        ("resources:\n- ../../base\nconfigMapGenerator:\n- name: c\n  files:\n  - k=https://example.com/f\n",
         "configMapGenerator.files", "k=https://example.com/f"),
    ],
)  # fmt: skip
def test_kustomize_remote_bases_are_refused(
    kustomize_repo: Path, kustomization: str, field: str, url: str
) -> None:
    write(kustomize_repo, {"overlays/remote/kustomization.yaml": kustomization})
    with pytest.raises(RenderError) as caught:
        render(kustomize_repo, "overlays/remote")
    assert str(caught.value) == (
        f"overlays/remote/kustomization.yaml: {field} entry {url!r} is remote; renders are offline, so it "
        "is not downloaded. Vendor it into the repository, or allow it in the App's Project: "
        "spec.allowRemoteSources with a URL glob that matches it."
    )


def test_kustomize_remote_base_behind_a_local_base_is_refused(kustomize_repo: Path) -> None:
    write(
        kustomize_repo,
        {
            "overlays/mid/kustomization.yaml": "resources:\n- ../../base\n- https://example.com/x.yaml\n",
            "overlays/top/kustomization.yaml": "resources:\n- ../mid\n",
        },
    )
    with pytest.raises(RenderError, match=r"^overlays/mid/kustomization\.yaml: resources entry 'https://"):
        render(kustomize_repo, "overlays/top")


def test_render_tools_get_no_network_unless_allowed(tmp_path: Path) -> None:
    """The last line of defence, for a remote reference the checks above would miss: Git may use only
    local repositories, and HTTP(S) goes to a proxy address nothing listens on."""
    from plumbline.render._run import isolated_env

    done = subprocess.run(
        ["git", "ls-remote", "https://github.com/kubernetes-sigs/kustomize"],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "transport 'https' not allowed" in done.stderr
    assert isolated_env(tmp_path)["HTTPS_PROXY"] == "http://127.0.0.1:9"
    assert "HTTPS_PROXY" not in isolated_env(tmp_path, network=True) or os.environ.get("HTTPS_PROXY")


def test_kustomize_remote_base_allowed_by_the_project_is_fetched(kustomize_repo: Path) -> None:
    url = "https://127.0.0.1:9/x.yaml"  # loopback, nothing listens: fails at once
    write(kustomize_repo, {"overlays/remote/kustomization.yaml": f"resources:\n- ../../base\n- {url}\n"})
    with pytest.raises(RenderError, match=r"spec\.allowRemoteSources"):
        render(kustomize_repo, "overlays/remote", allow_remote=("https://github.com/*",))
    with pytest.raises(RenderError) as caught:
        render(kustomize_repo, "overlays/remote", allow_remote=("https://127.0.0.1:9/*",))
    message = str(caught.value)
    assert message.startswith("kustomize build overlays/remote failed") and "127.0.0.1:9" in message


def test_a_failing_template_reports_helm_s_message(chart_repo: Path) -> None:
    write(
        chart_repo, {"charts/web/templates/need.yaml": '{{ required "set .Values.domain" .Values.domain }}\n'}
    )
    with pytest.raises(RenderError, match=r"set \.Values\.domain"):
        render(chart_repo, "charts/web", helm=WEB)
