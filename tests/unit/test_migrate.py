"""``plumb import argocd|flux``: real Argo CD and Flux objects in, plumbline configuration out.

The configuration must load as ``plumb apps`` loads it and render with the real helm and kustomize
from Git repositories the tests make; every field of every corpus object must be carried or listed
as not carried, each by a rule of the converter (never as an unknown field).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from plumbline.config import App, load_config
from plumbline.engine import render_app
from plumbline.migrate import (
    UNKNOWN_FIELD,
    ImportResult,
    InvalidInput,
    Source,
    Status,
    import_files,
    leaves,
    show_path,
)
from tests.support import cli
from tests.support.git import git

DATA = Path(__file__).parent.parent / "data" / "migrate"
ARGOCD = DATA / "argocd"
FLUX = DATA / "flux"


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml"))


def load(result: ImportResult, tmp_path: Path) -> Any:
    """The imported configuration loaded as ``plumb apps`` loads it."""
    config = tmp_path / "plumbline.yaml"
    config.write_text(result.to_yaml())
    return load_config(config)


def covered(leaf: str, entry: str) -> bool:
    return entry == "" or leaf == entry or leaf.startswith((entry + ".", entry + "[", entry + '["'))


def assert_every_field_accounted_for(result: ImportResult) -> None:
    """Walk each input object's fields: every leaf is covered by a report entry, and no entry is the
    fallback for a field the converter has no rule for."""
    by_where = {(r.file, r.line): r for r in result.reports}
    for report in result.reports:
        assert not [f for f in report.fields if f.why == UNKNOWN_FIELD], (report.label, report.where)
    for file in {r.file for r in result.reports}:
        from plumbline.yamlio import load_documents

        for doc in load_documents(Path(file).read_text(), file=file):
            report = by_where[(file, doc.line)]
            for leaf in leaves(doc.data):
                path = show_path(leaf)
                if path in ("apiVersion", "kind"):
                    continue
                assert any(covered(path, f.path) for f in report.fields), (report.label, path)


# --- the corpora: accounted for, loadable ---------------------------------------------------------


def test_every_argocd_corpus_field_is_carried_or_reported(tmp_path: Path) -> None:
    result = import_files(Source.ARGOCD, yaml_files(ARGOCD))
    assert_every_field_accounted_for(result)
    config = load(result, tmp_path)
    assert sorted(config.apps) == ["guestbook", "test-self-managed-apps"]
    assert "my-project" in config.projects
    assert not result.complete


def test_every_flux_corpus_field_is_carried_or_reported(tmp_path: Path) -> None:
    for tree in ("classic-gitrepository", "head"):
        for cluster in ("staging", "production"):
            files = [flux_system(tmp_path, "ssh://git@github.com/fluxcd/flux2-kustomize-helm-example")]
            files += yaml_files(FLUX / tree / "clusters" / cluster)
            files += yaml_files(FLUX / tree / "apps") + yaml_files(FLUX / tree / "infrastructure")
            result = import_files(Source.FLUX, files)
            assert_every_field_accounted_for(result)
            # head: the Kustomizations read ExternalArtifacts an ArtifactGenerator copies from the
            # repository, keeping its layout; its charts come from OCI registries (not written)
            assert sorted(load(result, tmp_path).apps) == ["apps", "infra-configs", "infra-controllers"]


def test_a_field_the_converter_does_not_know_is_reported_not_dropped(tmp_path: Path) -> None:
    app = yaml.safe_load((ARGOCD / "test/e2e/testdata/self-managed-app/resources.yaml").read_text())
    app["spec"]["futureSetting"] = {"enabled": True}
    app["spec"]["source"]["newKnob"] = "x"
    app["spec"]["ignoreDifferences"] = []
    app["metadata"]["labels"] = {}
    file = tmp_path / "app.yaml"
    file.write_text(yaml.safe_dump(app))
    result = import_files(Source.ARGOCD, [file])
    unknown = {f.path for f in result.reports[0].not_carried if f.why == UNKNOWN_FIELD}
    assert unknown == {"spec.futureSetting.enabled", "spec.source.newKnob"}
    carried = {f.path: f.why for f in result.reports[0].carried}
    assert carried["spec.ignoreDifferences"] == "empty: nothing to carry"
    assert "metadata.labels" in carried
    assert "#   not carried: spec.source.newKnob: plumb import does not know this field" in result.to_yaml()


def test_an_applicationset_is_not_supported_and_its_generators_are_named() -> None:
    files = [ARGOCD / "applicationset/examples/matrix/cluster-and-git.yaml"]
    files += [ARGOCD / "applicationset/examples/matrix/matrix-and-union-in-matrix.yaml"]
    result = import_files(Source.ARGOCD, files)
    assert result.written == []
    reasons = [r.not_carried[0].why for r in result.reports]
    assert all(r.startswith("ApplicationSet is not supported") for r in reasons)
    assert "matrix(git, clusters)" in reasons[0]
    assert "matrix(merge(list, list), matrix(list, list))" in reasons[1]


def test_unknown_kinds_are_reported(tmp_path: Path) -> None:
    file = tmp_path / "mixed.yaml"
    file.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\n"
    )
    result = import_files(Source.ARGOCD, [file])
    assert [(r.label, r.not_carried[0].path) for r in result.reports] == [
        ("ConfigMap/c", ""),
        ("Rollout/r", ""),
    ]
    assert all("not an Argo CD Application or AppProject" in r.not_carried[0].why for r in result.reports)
    flux = import_files(Source.FLUX, [file])
    assert all("not a Flux object" in r.not_carried[0].why for r in flux.reports)


def test_the_reference_application_and_project() -> None:
    docs = ARGOCD / "docs/operator-manual"
    result = import_files(Source.ARGOCD, [docs / "project.yaml", docs / "application.yaml"])
    objs = {f"{w.obj['kind']}/{w.obj['metadata']['name']}": w.obj for w in result.written}
    assert sorted(objs) == [
        "App/guestbook",
        "Environment/default",
        "Environment/my-project",
        "Project/my-project",
    ]
    project = objs["Project/my-project"]["spec"]
    assert project["sourceRepos"] == ["*"]
    assert project["destinations"] == [{"namespace": "guestbook"}, {"namespace": "guestbook-*"}]
    assert project["clusterResourceAllowList"] == [{"group": "", "kind": "Namespace"}]
    assert [k["kind"] for k in project["namespaceResourceDenyList"]] == [
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
    ]
    # only the window for every application fits an Environment; the others are reported
    assert objs["Environment/my-project"]["spec"]["syncWindows"] == [
        {"kind": "allow", "schedule": "0 9 * * *", "duration": "8h"}
    ]
    reasons = {f.path: f.why for r in result.reports for f in r.not_carried}
    assert reasons["spec.syncWindows[0]"].startswith("applies only to applications *-prod")
    assert "allowed in plumbline" in reasons["spec.namespaceResourceWhitelist"]
    app = objs["App/guestbook"]["spec"]
    # sourceHydrator wins over source and sources, as in Argo CD: the hydrated branch is synced
    assert app["source"] == {
        "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
        "targetRevision": "env/prod",
        "path": "guestbook-hydrated",
    }
    assert app["mode"] == "prune" and app["syncOptions"] == {"createNamespace": True}
    assert app["environment"] == "default"
    assert app["ignoreDifferences"] == [
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},
        {"group": "", "kind": "ConfigMap", "jsonPointers": ["/data/config.yaml"]},
        {"group": "*", "kind": "*", "name": "my-deployment", "managers": ["kube-controller-manager"]},
    ]
    assert reasons["spec.source"].startswith("ignored by Argo CD too")
    assert (
        reasons["spec.syncPolicy.syncOptions[7]"]
        == "plumbline never replaces objects; it applies server-side"
    )


def test_a_helm_repository_chart_is_not_written_and_says_how_to_vendor_it() -> None:
    result = import_files(Source.ARGOCD, [ARGOCD / "controller/testdata/target-child-application.yaml"])
    assert result.written == []
    why = result.reports[0].not_carried[0].why
    assert "the chart 'argo-workflows' (version 0.45.28)" in why
    assert "https://argoproj.github.io/argo-helm" in why and "allowRemoteSources" in why


# --- the mode: never more than asked ----------------------------------------------------------------


def application(tmp_path: Path, **spec: Any) -> Path:
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/web.git", "path": "deploy"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            **spec,
        },
    }
    file = tmp_path / "web.yaml"
    file.write_text(yaml.safe_dump(obj))
    return file


@pytest.mark.parametrize(
    ("policy", "mode", "not_carried"),
    [
        ({}, "observe", set()),
        ({"automated": {}}, "sync", set()),
        ({"automated": {"selfHeal": True}}, "self-heal", set()),
        ({"automated": {"selfHeal": True, "prune": True}}, "prune", set()),
        ({"automated": {"prune": True}}, "sync", {"spec.syncPolicy.automated.prune"}),
        ({"automated": {"enabled": False, "prune": True, "selfHeal": True}}, "observe", set()),
        (
            {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["Prune=false"]},
            "self-heal",
            set(),
        ),
        ({"automated": {"allowEmpty": True}}, "sync", {"spec.syncPolicy.automated.allowEmpty"}),
    ],
)
def test_automated_sync_policy_becomes_the_mode(
    tmp_path: Path, policy: dict[str, Any], mode: str, not_carried: set[str]
) -> None:
    result = import_files(Source.ARGOCD, [application(tmp_path, syncPolicy=policy)])
    assert result.written[0].obj["spec"]["mode"] == mode
    dropped = {f.path for f in result.reports[0].not_carried} - {"metadata.namespace"}
    assert dropped == not_carried
    assert_every_field_accounted_for(result)


def test_sync_options_carried_and_not(tmp_path: Path) -> None:
    options = [
        "CreateNamespace=true",
        "ServerSideApply=true",
        "PruneLast=true",
        "ServerSideApply=false",
        "Bogus=1",
    ]
    result = import_files(Source.ARGOCD, [application(tmp_path, syncPolicy={"syncOptions": options})])
    assert result.written[0].obj["spec"]["syncOptions"] == {"createNamespace": True}
    reasons = {f.path: f.why for f in result.reports[0].not_carried}
    assert reasons["spec.syncPolicy.syncOptions[3]"] == "plumbline always applies server-side"
    assert reasons["spec.syncPolicy.syncOptions[4]"] == "plumbline has no sync option like Bogus"
    assert {f.path for f in result.reports[0].carried} >= {
        f"spec.syncPolicy.syncOptions[{i}]" for i in range(3)
    }


# --- bad input: exit 2 naming file, object and field ---------------------------------------------


def test_a_field_of_the_wrong_type_names_file_object_and_field(tmp_path: Path) -> None:
    file = application(tmp_path, syncPolicy={"syncOptions": "CreateNamespace=true"})
    with pytest.raises(InvalidInput) as caught:
        import_files(Source.ARGOCD, [file])
    assert str(caught.value) == (
        f"{file}:1: Application/web: spec.syncPolicy.syncOptions: expected a list, "
        "got the string 'CreateNamespace=true'"
    )


def plumb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "PLUMBLINE_STATE_DIR": str(cwd / "state")}
    return cli.plumb(*args, env=env, cwd=cwd, timeout=120)


def test_the_command_writes_config_that_plumb_apps_loads_and_exits_by_what_was_carried(
    tmp_path: Path,
) -> None:
    done = plumb("import", "argocd", *map(str, yaml_files(ARGOCD)), "--out", "imported.yaml", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # fields were not carried: 1, the configuration still written
    assert (
        "ApplicationSet/cluster-git" in done.stderr
        and "not carried: (whole object): ApplicationSet" in done.stderr
    )
    apps = plumb("--config", "imported.yaml", "apps", "-o", "json", cwd=tmp_path)
    assert apps.returncode == 0, apps.stderr
    assert [a["name"] for a in yaml.safe_load(apps.stdout)] == ["guestbook", "test-self-managed-apps"]
    complete = application(tmp_path, syncPolicy={"automated": {}})
    text = complete.read_text().replace("  namespace: argocd\n", "")
    complete.write_text(text)
    whole = plumb("import", "argocd", str(complete), cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert "kind: App" in whole.stdout
    bad = plumb("import", "flux", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert bad.returncode == 2 and "missing.yaml: cannot be read" in bad.stderr
    nowhere = plumb("import", "argocd", str(complete), "--out", "no/such/dir.yaml", cwd=tmp_path)
    assert nowhere.returncode == 2 and "no/such/dir.yaml: cannot be written" in nowhere.stderr


# --- render: the imported Apps render from real repositories ---------------------------------------


def repository(root: Path, files: dict[str, str], *, branch: str = "main") -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root.parent, "init", "-q", "-b", branch, str(root))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "manifests")
    return root


def rewritten(file: Path, tmp_path: Path, old: str, new: str) -> Path:
    copy = tmp_path / f"in-{file.name}"
    copy.write_text(file.read_text().replace(old, new))
    return copy


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  from: {name}\n"


def rendered(app: App, config: Any) -> list[str]:
    return [m.ref for m in render_app(app, project=config.project(app.spec.project)).manifests]


def test_imported_argocd_apps_render(tmp_path: Path) -> None:
    repo = repository(tmp_path / "argo-cd", {"self-managed-app/app.yaml": CONFIGMAP.format(name="self")})
    hydrated = repository(
        tmp_path / "example-apps",
        {"guestbook-hydrated/manifest.yaml": CONFIGMAP.format(name="guestbook-ui")},
        branch="env/prod",
    )
    files = [
        rewritten(
            ARGOCD / "test/e2e/testdata/self-managed-app/resources.yaml",
            tmp_path,
            "https://github.com/argoproj/argo-cd.git",
            f"file://{repo}",
        ),
        rewritten(
            ARGOCD / "docs/operator-manual/application.yaml",
            tmp_path,
            "https://github.com/argoproj/argocd-example-apps.git",
            f"file://{hydrated}",
        ),
    ]
    config = load(import_files(Source.ARGOCD, files), tmp_path)
    assert rendered(config.app("test-self-managed-apps"), config) == ["ConfigMap/self"]
    # createNamespace is carried: the render adds the destination Namespace
    assert rendered(config.app("guestbook"), config) == ["Namespace/guestbook", "ConfigMap/guestbook-ui"]


CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "greeting: hello\nreplicas: 1\nlabels: {}\n",
    "charts/web/values-prod.yaml": "replicas: 3\n",
    "charts/web/templates/config.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels: {{ toJson .Values.labels }}
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
  typed: {{ kindOf .Values.flag | quote }}
""",
}


def test_an_argocd_helm_source_renders_with_its_values_files_and_parameters(tmp_path: Path) -> None:
    repo = repository(tmp_path / "charts", CHART)
    file = application(
        tmp_path,
        source={
            "repoURL": f"file://{repo}",
            "targetRevision": "main",
            "path": "charts/web",
            "helm": {
                "releaseName": "shop",
                "valueFiles": ["values-prod.yaml"],
                "values": "greeting: bonjour\n",
                "parameters": [
                    {"name": "labels.app\\.kubernetes\\.io/part-of", "value": "shop"},
                    {"name": "flag", "value": "true"},
                ],
            },
        },
    )
    result = import_files(Source.ARGOCD, [file])
    helm = result.written[0].obj["spec"]["source"]["helm"]
    assert helm["valueFiles"] == ["charts/web/values-prod.yaml"]  # Argo CD: relative to the path
    config = load(result, tmp_path)
    [manifest] = render_app(config.app("web")).manifests
    assert manifest.obj["metadata"]["name"] == "shop-config"
    assert manifest.obj["metadata"]["labels"] == {"app.kubernetes.io/part-of": "shop"}
    assert manifest.obj["data"] == {"greeting": "bonjour", "replicas": "3", "typed": "bool"}


def flux_system(tmp_path: Path, url: str, branch: str = "main") -> Path:
    """The GitRepository ``flux bootstrap`` makes in the cluster, as ``flux export source git`` prints it."""
    file = tmp_path / "flux-system-source.yaml"
    file.write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
        "  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m0s\n"
        f"  ref:\n    branch: {branch}\n  secretRef:\n    name: flux-system\n  url: {url}\n"
    )
    return file


def test_imported_flux_kustomizations_render_with_real_kustomize(tmp_path: Path) -> None:
    tree = FLUX / "classic-gitrepository"
    work = tmp_path / "fleet"
    shutil.copytree(tree, work)
    repo = repository(work, {})
    files = [flux_system(tmp_path, f"file://{repo}"), *yaml_files(tree / "clusters" / "staging")]
    result = import_files(Source.FLUX, files)
    config = load(result, tmp_path)
    assert {n: (a.spec.source.path, a.spec.mode.value) for n, a in config.apps.items()} == {
        "apps": ("apps/staging", "prune"),
        "infra-configs": ("infrastructure/configs", "prune"),
        "infra-controllers": ("infrastructure/controllers", "prune"),
    }
    apps = render_app(config.app("apps")).manifests
    assert [m.ref for m in apps] == [
        "Namespace/podinfo",
        "HelmRelease podinfo/podinfo",
        "HelmRepository podinfo/podinfo",
    ]
    release = next(m.obj for m in apps if m.kind == "HelmRelease")
    assert release["spec"]["chart"]["spec"]["version"] == ">=1.0.0-alpha"  # the staging overlay applied
    assert "ClusterIssuer/letsencrypt" in rendered(config.app("infra-configs"), config)
    reasons = {
        f.path: f.why
        for r in result.reports
        for f in r.not_carried
        if r.label == "Kustomization/infra-configs"
    }
    assert reasons["spec.patches"].startswith("plumbline builds what Git holds")


def test_flux_2_7_external_artifacts_resolve_to_the_repository_folders_they_copy(tmp_path: Path) -> None:
    tree = FLUX / "head"
    shutil.copytree(tree, tmp_path / "fleet")
    repo = repository(tmp_path / "fleet", {})
    files = [flux_system(tmp_path, f"file://{repo}"), *yaml_files(tree / "clusters" / "production")]
    result = import_files(Source.FLUX, files)
    assert_every_field_accounted_for(result)
    config = load(result, tmp_path)
    # the apps artifact copies apps/base/** to base/ and apps/production/** to production/: path
    # ./production is the repository's apps/production, whose ../base is apps/base as in the artifact
    assert {n: a.spec.source.path for n, a in config.apps.items()} == {
        "apps": "apps/production",
        "infra-configs": "infrastructure/configs",
        "infra-controllers": "infrastructure/controllers",
    }
    apps = render_app(config.app("apps")).manifests
    release = next(m.obj for m in apps if m.kind == "HelmRelease")
    assert release["spec"]["chart"]["spec"]["version"] == ">=1.0.0"  # the production overlay applied
    controllers = [m.ref for m in render_app(config.app("infra-controllers")).manifests]
    assert "OCIRepository cert-manager/cert-manager" in controllers
    generator = next(r for r in result.reports if r.kind == "ArtifactGenerator")
    assert generator.written == ["App/infra-controllers", "App/infra-configs", "App/apps"]
    # a copy that moves a folder elsewhere does not keep the repository's layout: not written, and why
    moved = tmp_path / "moved.yaml"
    moved.write_text(
        (tree / "clusters/production/artifacts.yaml")
        .read_text()
        .replace('to: "@artifact/base/"', 'to: "@artifact/b/"')
    )
    result = import_files(Source.FLUX, [files[0], moved, tree / "clusters/production/apps.yaml"])
    why = next(r for r in result.reports if r.label == "Kustomization/apps").not_carried[0].why
    assert "copies apps/base to b: the folder layout of the repository is not kept" in why


def test_a_flux_helm_release_from_git_renders_with_real_helm(tmp_path: Path) -> None:
    repo = repository(tmp_path / "charts", CHART)
    release = tmp_path / "release.yaml"
    release.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {
                    "interval": "10m",
                    "targetNamespace": "store",
                    "chart": {
                        "spec": {
                            "chart": "./charts/web",
                            "sourceRef": {
                                "kind": "GitRepository",
                                "name": "flux-system",
                                "namespace": "flux-system",
                            },
                            "valuesFiles": [
                                "charts/web/values.yaml",
                                "charts/web/values-prod.yaml",
                                "../x.yaml",
                            ],
                        }
                    },
                    "values": {"greeting": "hej"},
                    "install": {"createNamespace": True},
                    "driftDetection": {
                        "mode": "enabled",
                        "ignore": [{"paths": ["/data/replicas"], "target": {"kind": "ConfigMap"}}],
                    },
                },
            }
        )
    )
    result = import_files(Source.FLUX, [flux_system(tmp_path, f"file://{repo}"), release])
    assert_every_field_accounted_for(result)
    config = load(result, tmp_path)
    app = config.app("web")
    assert app.spec.mode.value == "prune" and app.spec.destination.namespace == "store"
    assert app.release_name == "store-web"  # Flux's default release name: [targetNamespace-]name
    assert app.spec.ignore_differences[0].json_pointers == ["/data/replicas"]
    reasons = {f.path: f.why for f in result.reports[1].not_carried}
    assert (
        reasons["spec.chart.spec.valuesFiles[2]"]
        == "leads outside the repository, where plumbline never reads"
    )
    manifests = render_app(app).manifests
    assert [m.ref for m in manifests] == ["Namespace/store", "ConfigMap/store-web-config"]
    assert manifests[1].obj["data"]["greeting"] == "hej" and manifests[1].obj["data"]["replicas"] == "3"


def test_a_kustomization_whose_git_repository_is_missing_says_how_to_export_it() -> None:
    result = import_files(Source.FLUX, [FLUX / "classic-gitrepository/clusters/staging/apps.yaml"])
    assert result.written == []
    assert (
        result.reports[0]
        .not_carried[0]
        .why.startswith("its GitRepository flux-system/flux-system is not in the input files")
    )
    assert "flux export source git flux-system -n flux-system" in result.reports[0].not_carried[0].why
    assert result.reports[0].not_carried[0].status is Status.NOT_CARRIED


def test_multiple_sources_carry_when_one_renders_and_the_others_lend_value_files(tmp_path: Path) -> None:
    repo = repository(tmp_path / "charts", {**CHART, "envs/prod/values.yaml": "greeting: moin\n"})
    chart: dict[str, Any] = {"repoURL": f"file://{repo}", "targetRevision": "main", "path": "charts/web"}
    chart |= {"name": "chart", "helm": {"valueFiles": ["$values/envs/prod/values.yaml", "values-prod.yaml"]}}
    lender = {"repoURL": f"file://{repo}", "targetRevision": "main", "ref": "values"}
    result = import_files(Source.ARGOCD, [application(tmp_path, sources=[chart, lender])])
    assert_every_field_accounted_for(result)
    helm = result.written[0].obj["spec"]["source"]["helm"]
    assert helm["valueFiles"] == ["envs/prod/values.yaml", "charts/web/values-prod.yaml"]
    config = load(result, tmp_path)
    [manifest] = render_app(config.app("web")).manifests
    assert manifest.obj["data"]["greeting"] == "moin" and manifest.obj["data"]["replicas"] == "3"
    # a value file lent by another repository cannot be read by plumbline: reported, the rest carried
    elsewhere = {**lender, "repoURL": "https://git.example.com/values.git"}
    result = import_files(Source.ARGOCD, [application(tmp_path, sources=[chart, elsewhere])])
    assert result.written[0].obj["spec"]["source"]["helm"]["valueFiles"] == ["charts/web/values-prod.yaml"]
    reasons = {f.path: f.why for f in result.reports[0].not_carried}
    assert reasons["spec.sources[0].helm.valueFiles[0]"].startswith("comes from another repository")
    assert reasons["spec.sources[1]"] == "no value file of the App uses this ref source"
    # two sources that both render are one App each in plumbline: nothing written, and why
    second = {"repoURL": f"file://{repo}", "path": "envs"}
    result = import_files(Source.ARGOCD, [application(tmp_path, sources=[chart, second])])
    assert result.written == []
    assert result.reports[0].not_carried[0].why.startswith("spec.sources has 2 sources that render")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
            "metadata:\n  name: a\n  namespace: [x]\n",
            "x.yaml:1: GitRepository/a: metadata.namespace: expected a string, got a list",
        ),
        (
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n"
            "spec:\n  source:\n    repoURL: r\n    helm: {values: 'a: [1'}\n  destination: {namespace: n}\n",
            "x.yaml:1: Application/a: spec.source.helm.values: not valid YAML",
        ),
        (
            "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\n"
            "spec:\n  syncWindows: [{kind: allow, duration: 1h, applications: ['*']}]\n",
            "x.yaml:1: AppProject/p: spec.syncWindows[0].schedule: missing: a sync window needs a cron",
        ),
        ("- just\n- a list\n", "x.yaml:1: expected a Kubernetes object (a mapping), got a list"),
        ("kind: Application\nmetadata: {name: a}\n", "x.yaml:1: Application/a: apiVersion: missing"),
    ],
)
def test_bad_input_is_an_error_naming_file_object_and_field(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "x.yaml"
    file.write_text(text)
    tool = Source.FLUX if "fluxcd" in text else Source.ARGOCD
    with pytest.raises(InvalidInput) as caught:
        import_files(tool, [file])
    assert str(caught.value).startswith(f"{tmp_path}/{message}")


def test_an_applicationset_with_odd_generators_is_still_reported(tmp_path: Path) -> None:
    file = tmp_path / "set.yaml"
    file.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\n"
        "spec:\n  generators: [{matrix: {generators: 3}}, {list: {elements: []}}]\n"
    )
    [report] = import_files(Source.ARGOCD, [file]).reports
    assert "(this one uses: matrix, list)" in report.not_carried[0].why


def test_sync_windows_go_to_the_environments_of_the_applications_they_select(tmp_path: Path) -> None:
    apps = []
    for name, namespace, destination in (
        ("web-prod", "guestbook", {"server": "https://kubernetes.default.svc"}),
        ("web-dev", "default", {"name": "in-cluster"}),
        ("web-test", "guestbook-test", {"server": "https://kubernetes.default.svc"}),
    ):
        file = application(
            tmp_path, project="my-project", destination={**destination, "namespace": namespace}
        )
        apps.append(file.rename(tmp_path / f"{name}.yaml"))
        apps[-1].write_text(apps[-1].read_text().replace("name: web\n", f"name: {name}\n"))
    result = import_files(Source.ARGOCD, [ARGOCD / "docs/operator-manual/project.yaml", *apps])
    assert_every_field_accounted_for(result)
    config = load(result, tmp_path)
    # the project's windows: 0 applications *-prod, 1 every application, 2 namespaces default,
    # 3 clusters in-cluster and cluster1 (Argo CD matches a cluster glob against server and name)
    assert {n: a.spec.environment for n, a in config.apps.items()} == {
        "web-prod": "my-project-windows-0-1",
        "web-dev": "my-project-windows-1-2-3",
        "web-test": "my-project",
    }
    schedules = {n: [w.schedule for w in e.spec.sync_windows] for n, e in config.environments.items()}
    assert schedules == {
        "my-project": ["0 9 * * *"],
        "my-project-windows-0-1": ["10 1 * * *", "0 9 * * *"],
        "my-project-windows-1-2-3": ["0 9 * * *", "0 22 * * *", "0 23 * * *"],
    }
    project = next(r for r in result.reports if r.label == "AppProject/my-project")
    notes = {f.path: f.why for f in project.carried}
    assert notes["spec.syncWindows[0].applications"] == "selects web-prod: their Environment holds it"
    # an App no window selects gets an Environment without windows
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\nspec:\n"
        "  syncWindows: [{kind: deny, schedule: '0 1 * * *', duration: 1h, applications: ['*-prod']}]\n"
    )
    dev = application(tmp_path, project="p")
    config = load(import_files(Source.ARGOCD, [narrow, dev]), tmp_path)
    assert config.app("web").spec.environment == "p" and config.environment("p").spec.sync_windows == []
    # alone, the project's narrower windows select nothing: reported, not guessed
    alone = import_files(Source.ARGOCD, [ARGOCD / "docs/operator-manual/project.yaml"])
    reasons = {f.path: f.why for f in alone.reports[0].not_carried}
    assert reasons["spec.syncWindows[0]"].startswith("applies only to applications *-prod, which selects no")
    assert "spec.syncWindows[0].manualSync" not in reasons  # the window's own reason covers its fields
