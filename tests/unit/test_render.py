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

DATA = Path(__file__).parent.parent / "data" / "render"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


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

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
"""


@pytest.fixture
def kustomize_repo(tmp_path: Path) -> Path:
    return write(
        tmp_path / "repo",
        {
            "base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
            "base/deployment.yaml": DEPLOYMENT,
            "base/service.yaml": SERVICE,
            "overlays/prod/kustomization.yaml": "resources:\n- ../../base\nnamePrefix: prod-\n"
            "namespace: shop\npatches:\n- path: replicas.yaml\n",
            "overlays/prod/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "spec:\n  replicas: 3\n",
        },
    )


def test_kustomize_overlay_with_a_base(kustomize_repo: Path) -> None:
    manifests = render(kustomize_repo, "overlays/prod")
    assert sorted(refs(manifests)) == ["Deployment shop/prod-web", "Service shop/prod-web"]
    deployment = next(m for m in manifests if m.kind == "Deployment")
    assert deployment.obj["spec"]["replicas"] == 3
    assert {m.file for m in manifests} == {"overlays/prod"}
    assert sorted(m.index for m in manifests) == [0, 1]


def test_kustomize_from_a_real_checkout(
    kustomize_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUMBLINE_CACHE_DIR", str(tmp_path / "cache"))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@example.com",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@example.com",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "app"]):
        subprocess.run(["git", *args], cwd=kustomize_repo, env=env, check=True)
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
    "charts/web/templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
""",
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


@pytest.fixture
def chart_repo(tmp_path: Path) -> Path:
    return write(tmp_path / "repo", CHART)


def test_helm_chart_with_a_values_file(chart_repo: Path) -> None:
    options = HelmOptions(
        release_name="shop", value_files=("../../envs/prod/values.yaml",), values={"image": "nginx:1.28"}
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
    manifests = render(chart_repo, "charts/web")
    deployment = next(m for m in manifests if m.kind == "Deployment")
    assert deployment.name == "web-web"  # release named after the folder by default
    assert deployment.namespace == "default"
    assert not (chart_repo / "must-not-be-created").exists()


@pytest.mark.parametrize(
    ("value_file", "expected"),
    [
        ("../../../outside.yaml", "leads outside the repository"),
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
            helm=HelmOptions(release_name="x", value_files=("../../envs/prod/linked.yaml",)),
        )


def test_helm_chart_with_a_dependency_not_vendored_fails_without_network(chart_repo: Path) -> None:
    write(
        chart_repo,
        {
            "charts/web/Chart.yaml": "apiVersion: v2\nname: webapp\nversion: 0.1.0\ndependencies:\n"
            "- name: redis\n  version: 1.2.3\n  repository: https://charts.example.com\n"
        },
    )
    with pytest.raises(RenderError) as caught:
        render(chart_repo, "charts/web")
    message = str(caught.value)
    assert message.startswith("helm template charts/web failed")
    assert "missing in charts/ directory: redis" in message


def test_a_failing_template_reports_helm_s_message(chart_repo: Path) -> None:
    write(
        chart_repo, {"charts/web/templates/need.yaml": '{{ required "set .Values.domain" .Values.domain }}\n'}
    )
    with pytest.raises(RenderError, match=r"set \.Values\.domain"):
        render(chart_repo, "charts/web")
