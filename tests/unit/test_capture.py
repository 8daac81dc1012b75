"""Capturing live drift into Git: plain, Kustomize and Helm apps in real Git repositories, rendered by
the real binaries. Every test checks the property that matters: after the edits, the app renders to
the live values."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from plumbline.capture import CapturePlan, capture_changes, commit_message, default_branch, write_capture
from plumbline.config import Tool
from plumbline.errors import RenderError, SourceError
from plumbline.plan.attribution import Attribution, FieldChange, FieldPath
from plumbline.plan.fields import ABSENT, get_path
from plumbline.plan.model import ObjectRef
from plumbline.render import HelmOptions, Manifest, render
from plumbline.source import Checkout, fetch
from plumbline.yamlio import MAX_FILE_BYTES, YamlError
from tests.support.git import commit_all, git, init_repo, serve_http
from tests.support.manifests import config_map_yaml, deployment_yaml, kustomize_files

DRIFT = Attribution.DRIFT_REVERT
ADDED = Attribution.UNMANAGED_ADDITION
OLD_HOST = "pgbouncer.users.svc.cluster.local"
NEW_HOST = "pgbouncer-primary.users.svc.cluster.local"
API = ("spec", "template", "spec", "containers", {"name": "api"})


pytestmark = pytest.mark.usefixtures("isolated_cache")  # a cache of each test's own


def make_repo(path: Path, files: dict[str, str]) -> Checkout:
    init_repo(path, files, "the app")
    return fetch(str(path), "main")


def change(
    kind: str,
    name: str,
    path: FieldPath,
    *,
    live: Any,
    git: Any,
    attribution: Attribution = DRIFT,
    group: str = "",
) -> FieldChange:
    ref = ObjectRef(group=group, kind=kind, namespace="users", name=name)
    return FieldChange(ref=ref, path=path, attribution=attribution, live=live, git=git)


def applied(root: Path, plan: CapturePlan, tmp_path: Path) -> Path:
    """A copy of ``root`` with the plan's edits written: what the new commit's tree will hold."""
    work = tmp_path / "applied"
    shutil.copytree(root, work)
    for edit in plan.edits:
        (work / edit.path).parent.mkdir(parents=True, exist_ok=True)
        (work / edit.path).write_text(edit.content)
    return work


def capture(
    checkout: Checkout,
    app_path: str,
    tool: Tool,
    changes: list[FieldChange],
    *,
    helm: HelmOptions | None = None,
) -> CapturePlan:
    """The capture of ``changes`` into the app at ``app_path``, as the checkout renders it now."""
    return capture_changes(
        checkout_root=checkout.root, app_path=app_path, tool=tool, helm=helm,
        manifests=render(checkout.root, app_path, helm=helm), changes=changes,
    )  # fmt: skip


def assert_renders_live(manifests: list[Manifest], changes: list[FieldChange]) -> None:
    for c in changes:
        obj = next(m.obj for m in manifests if (m.kind, m.name) == (c.ref.kind, c.ref.name))
        value = get_path(obj, c.path)
        if c.live is None:
            assert value is ABSENT, c.pointer
        elif isinstance(c.live, dict):
            assert isinstance(value, dict)
            assert {k: value.get(k) for k in c.live} == c.live, c.pointer
        else:
            assert value == c.live, c.pointer


# --- plain YAML ---------------------------------------------------------------------------------------

PLAIN_CONFIG = """\
# users-api environment, owned by the platform team
apiVersion: v1
kind: ConfigMap
metadata:
  name: users-api-env
data:
  # PgBouncer in front of the users database
  DB_HOST: "pgbouncer.users.svc.cluster.local"
  LOG_LEVEL: info   # debug only during incidents
  POOL_SIZE: '20'
"""

PLAIN_DEPLOY = """\
apiVersion: v1
kind: Service
metadata:
  name: users-api
spec:
  ports:
    - port: 80
      targetPort: 8080
---
# the API itself
apiVersion: apps/v1
kind: Deployment
metadata:
  name: users-api
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: envoy
          image: envoyproxy/envoy:v1.30.1
        - name: api
          image: registry.example.com/users-api:2.3.1  # bumped by CI
          env:
            - name: PORT
              value: "8080"
"""


@pytest.fixture
def plain(tmp_path: Path) -> Checkout:
    return make_repo(
        tmp_path / "plain",
        {"apps/users-api/config.yaml": PLAIN_CONFIG, "apps/users-api/deploy.yaml": PLAIN_DEPLOY},
    )


def incident_changes(*, configmap: str, deployment: str) -> list[FieldChange]:
    """The seed-04 drift: DB_HOST edited live, an env var and an image set live, a key removed live."""
    return [
        change("ConfigMap", configmap, ("data", "DB_HOST"), live=NEW_HOST, git=OLD_HOST),
        change("ConfigMap", configmap, ("data", "LOG_LEVEL"), live=None, git="info"),
        change(
            "Deployment",
            deployment,
            (*API, "env", {"name": "FEATURE_BULK_IMPORT"}),
            live={"name": "FEATURE_BULK_IMPORT", "value": "on"},
            git=None,
            attribution=ADDED,
            group="apps",
        ),
        change(
            "Deployment",
            deployment,
            (*API, "image"),
            live="registry.example.com/users-api:2.3.2",
            git="registry.example.com/users-api:2.3.1",
            group="apps",
        ),
    ]


def capture_incident(
    checkout: Checkout, app_path: str, tool: Tool, *, prefix: str
) -> tuple[CapturePlan, list[FieldChange]]:
    """The incident's changes to the app's objects (named with its ``prefix``) and their capture, which
    finds a place in Git for every one."""
    changes = incident_changes(configmap=f"{prefix}users-api-env", deployment=f"{prefix}users-api")
    plan = capture(checkout, app_path, tool, changes)
    assert plan.unmapped == []
    return plan, changes


def test_plain_yaml_is_edited_in_place_keeping_comments_quoting_and_style(
    plain: Checkout, tmp_path: Path
) -> None:
    plan, changes = capture_incident(plain, "apps/users-api", Tool.PLAIN, prefix="")
    assert [c.pointer for c in plan.captured] == [c.pointer for c in changes]
    contents = {e.path: e.content for e in plan.edits}
    assert contents["apps/users-api/config.yaml"] == PLAIN_CONFIG.replace(
        '"pgbouncer.users', '"pgbouncer-primary.users'
    ).replace("  LOG_LEVEL: info   # debug only during incidents\n", "")
    assert contents["apps/users-api/deploy.yaml"] == PLAIN_DEPLOY.replace(":2.3.1", ":2.3.2").replace(
        '              value: "8080"\n',
        '              value: "8080"\n            - name: FEATURE_BULK_IMPORT\n              value: "on"\n',
    )
    assert '-  DB_HOST: "pgbouncer.users' in plan.diff and '+  DB_HOST: "pgbouncer-primary' in plan.diff
    assert plain.root.joinpath("apps/users-api/config.yaml").read_text() == PLAIN_CONFIG  # checkout untouched
    assert_renders_live(render(applied(plain.root, plan, tmp_path), "apps/users-api"), changes)


def test_plain_list_items_are_found_by_merge_key_not_position(plain: Checkout, tmp_path: Path) -> None:
    # env by name and containers by name: PORT is in the second container, first env entry.
    changes = [
        change("Deployment", "users-api", (*API, "env", {"name": "PORT"}, "value"), live="9090", git="8080",
               group="apps"),
        change("Deployment", "users-api", ("spec", "template", "spec", "containers", {"name": "envoy"}),
               live=None, git={"name": "envoy"}, group="apps"),
    ]  # fmt: skip
    plan = capture(plain, "apps/users-api", Tool.PLAIN, changes)
    assert plan.unmapped == []
    objects = render(applied(plain.root, plan, tmp_path), "apps/users-api")
    deployment = next(m.obj for m in objects if m.kind == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"] == [
        {
            "name": "api",
            "image": "registry.example.com/users-api:2.3.1",
            "env": [{"name": "PORT", "value": "9090"}],
        }
    ]


def test_what_is_not_drift_or_is_a_secret_value_is_not_captured(plain: Checkout) -> None:
    changes = [
        change("ConfigMap", "users-api-env", ("data", "POOL_SIZE"), live="40", git="20",
               attribution=Attribution.COMMIT),
        change("Secret", "users-api-db", ("data", "password"), live="c2VjcmV0", git="b2xk"),
        change("ConfigMap", "not-in-git", ("data", "X"), live="1", git="0"),
    ]  # fmt: skip
    plan = capture(plain, "apps/users-api", Tool.PLAIN, changes)
    assert plan.edits == [] and plan.captured == []
    reasons = [u.reason for u in plan.unmapped]
    assert "commit is not live drift" in reasons[0]
    assert "not written to Git in plain text" in reasons[1]
    assert "not among the app's rendered objects" in reasons[2]
    assert "c2VjcmV0" not in "".join(u.describe() for u in plan.unmapped)


# --- Kustomize ----------------------------------------------------------------------------------------

BASE_DEPLOY = deployment_yaml(
    "users-api",
    container="api",
    image="registry.example.com/users-api:2.3.1",
    more='          env:\n            - name: PORT\n              value: "8080"\n',
)

BASE_CONFIG = config_map_yaml("users-api-env", {"DB_HOST": OLD_HOST, "LOG_LEVEL": "info"})

OVERLAY = """\
# production overlay: reviewed by the platform team
resources:
- ../../base  # shared with staging
namePrefix: prod-
namespace: users
"""


@pytest.fixture
def kustomize(tmp_path: Path) -> Checkout:
    return make_repo(
        tmp_path / "kustomize",
        kustomize_files({"deployment.yaml": BASE_DEPLOY, "config.yaml": BASE_CONFIG}, OVERLAY),
    )


def test_kustomize_gets_a_patch_in_the_overlay_and_bases_stay_untouched(
    kustomize: Checkout, tmp_path: Path
) -> None:
    plan, changes = capture_incident(kustomize, "overlays/prod", Tool.KUSTOMIZE, prefix="prod-")
    assert len(plan.captured) == 4
    paths = sorted(e.path for e in plan.edits)
    assert paths == [
        "overlays/prod/capture-configmap-prod-users-api-env.yaml",
        "overlays/prod/capture-deployment-prod-users-api.yaml",
        "overlays/prod/kustomization.yaml",
    ]
    kustomization = next(e.content for e in plan.edits if e.path.endswith("kustomization.yaml"))
    assert kustomization == OVERLAY + (
        "patches:\n- path: capture-configmap-prod-users-api-env.yaml\n"
        "- path: capture-deployment-prod-users-api.yaml\n"
    ) or kustomization == OVERLAY + (
        "patches:\n- path: capture-deployment-prod-users-api.yaml\n"
        "- path: capture-configmap-prod-users-api-env.yaml\n"
    )
    patch = next(e.content for e in plan.edits if "configmap" in e.path)
    assert "LOG_LEVEL: null" in patch and NEW_HOST in patch
    objects = render(applied(kustomize.root, plan, tmp_path), "overlays/prod")
    assert_renders_live(objects, changes)
    config = next(m.obj for m in objects if m.kind == "ConfigMap")
    assert "LOG_LEVEL" not in config["data"]


# --- Helm ---------------------------------------------------------------------------------------------

CHART = {
    "charts/users-api/Chart.yaml": "apiVersion: v2\nname: users-api\nversion: 1.0.0\n",
    "charts/users-api/values.yaml": """\
# defaults for every environment
image:
  repository: registry.example.com/users-api
  tag: "2.3.0"
db:
  host: pgbouncer.users.svc.cluster.local
  replicaHost: pgbouncer-replica.users.svc.cluster.local
replicas: 1
logLevel: info
""",
    "charts/users-api/values-prod.yaml": """\
# production: change with care
image:
  tag: "2.3.1"   # bumped by CI
db:
  host: pgbouncer.users.svc.cluster.local  # PgBouncer in front of the users DB
  replicaHost: pgbouncer.users.svc.cluster.local  # no replica in prod yet
replicas: 3
port: 8080
""",
    "charts/users-api/templates/config.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: users-api-env
data:
  DB_HOST: {{ .Values.db.host | quote }}
  DB_REPLICA_HOST: {{ .Values.db.replicaHost | quote }}
  LOG_LEVEL: {{ .Values.logLevel }}
""",
    "charts/users-api/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: users-api
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: users-api}
  template:
    metadata:
      labels: {app: users-api}
    spec:
      containers:
      - name: api
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        env:
        - name: PORT
          value: {{ .Values.port | quote }}
""",
}

PROD = HelmOptions(release_name="users-api", value_files=("charts/users-api/values-prod.yaml",))


@pytest.fixture
def chart(tmp_path: Path) -> Checkout:
    return make_repo(tmp_path / "helm", CHART)


def test_helm_values_proven_by_experiment_are_edited(chart: Checkout, tmp_path: Path) -> None:
    changes = incident_changes(configmap="users-api-env", deployment="users-api")
    db_host, _, env, image = changes
    replicas = change("Deployment", "users-api", ("spec", "replicas"), live=5, git=3, group="apps")
    plan = capture(chart, "charts/users-api", Tool.HELM, [db_host, env, image, replicas], helm=PROD)
    # db.host and db.replicaHost hold the same value; only db.host feeds DB_HOST, and the render says so.
    assert [c.how for c in plan.captured] == [
        "helm value values-prod.yaml: db.host",
        "helm value values-prod.yaml: image.tag",
        "helm value values-prod.yaml: replicas",
    ]
    assert [e.path for e in plan.edits] == ["charts/users-api/values-prod.yaml"]
    assert plan.edits[0].content == CHART["charts/users-api/values-prod.yaml"].replace(
        "  host: pgbouncer.users", "  host: pgbouncer-primary.users"
    ).replace('"2.3.1"', '"2.3.2"').replace("replicas: 3", "replicas: 5")
    (unmapped,) = plan.unmapped  # the env var: no value in the chart could hold it
    assert unmapped.change is env
    assert unmapped.patch is not None and "FEATURE_BULK_IMPORT" in unmapped.patch
    objects = render(applied(chart.root, plan, tmp_path), "charts/users-api", helm=PROD)
    assert_renders_live(objects, [db_host, image, replicas])


def test_helm_a_value_file_past_yamlio_s_size_bound_is_refused(tmp_path: Path) -> None:
    # Helm renders it (a comment changes no value; alias bombs Helm refuses itself); capture reads the
    # file through yamlio, with the bounds every render's input has, and stops naming the file.
    values = "charts/users-api/values-prod.yaml"
    oversize = "# " + "x" * MAX_FILE_BYTES + "\n"
    checkout = make_repo(tmp_path / "bounded", {**CHART, values: CHART[values] + oversize})
    db_host = change("ConfigMap", "users-api-env", ("data", "DB_HOST"), live=NEW_HOST, git=OLD_HOST)
    manifests = render(checkout.root, "charts/users-api", helm=PROD)
    with pytest.raises(YamlError, match=rf"^{values}: \d+ bytes is more than the {MAX_FILE_BYTES} bytes"):
        capture_changes(
            checkout_root=checkout.root, app_path="charts/users-api", tool=Tool.HELM, helm=PROD,
            manifests=manifests, changes=[db_host],
        )  # fmt: skip


def test_helm_a_value_that_feeds_more_than_the_drifted_field_is_not_guessed(
    chart: Checkout, tmp_path: Path
) -> None:
    # The same value feeds DB_HOST and an annotation: Git cannot say "only DB_HOST changed".
    template = "charts/users-api/templates/config.yaml"
    files = {**CHART, template: CHART[template].replace(
        "  name: users-api-env\n",
        "  name: users-api-env\n  annotations:\n    db: {{ .Values.db.host | quote }}\n",
    )}  # fmt: skip
    checkout = make_repo(tmp_path / "shared-value", files)
    db_host = change("ConfigMap", "users-api-env", ("data", "DB_HOST"), live=NEW_HOST, git=OLD_HOST)
    plan = capture(checkout, "charts/users-api", Tool.HELM, [db_host], helm=PROD)
    assert plan.edits == [] and plan.captured == []
    (unmapped,) = plan.unmapped
    assert "values-prod.yaml: db.host also sets 1 other field" in unmapped.reason
    assert "values-prod.yaml: db.replicaHost does not feed this field" in unmapped.reason
    assert unmapped.patch == (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: users-api-env\ndata:\n  DB_HOST: {NEW_HOST}\n"
    )


def test_helm_a_number_in_the_values_stays_a_number(chart: Checkout, tmp_path: Path) -> None:
    port = change("Deployment", "users-api", (*API, "env", {"name": "PORT"}, "value"), live="9090",
                  git="8080", group="apps")  # fmt: skip
    plan = capture(chart, "charts/users-api", Tool.HELM, [port], helm=PROD)
    assert [c.how for c in plan.captured] == ["helm value values-prod.yaml: port"]
    assert "\nport: 9090\n" in plan.edits[0].content
    assert_renders_live(render(applied(chart.root, plan, tmp_path), "charts/users-api", helm=PROD), [port])


def test_helm_a_chart_default_is_overridden_in_the_app_s_value_file(chart: Checkout, tmp_path: Path) -> None:
    log_level = change("ConfigMap", "users-api-env", ("data", "LOG_LEVEL"), live="debug", git="info")
    plan = capture(chart, "charts/users-api", Tool.HELM, [log_level], helm=PROD)
    assert [c.how for c in plan.captured] == [
        "helm value values-prod.yaml: logLevel (overrides the chart's default in values.yaml)"
    ]
    assert [e.path for e in plan.edits] == ["charts/users-api/values-prod.yaml"]  # the defaults stay
    assert plan.edits[0].content == CHART["charts/users-api/values-prod.yaml"] + "logLevel: debug\n"
    assert_renders_live(
        render(applied(chart.root, plan, tmp_path), "charts/users-api", helm=PROD), [log_level]
    )


def test_helm_without_value_files_uses_the_chart_values(chart: Checkout, tmp_path: Path) -> None:
    options = HelmOptions(release_name="users-api")
    replicas = change("Deployment", "users-api", ("spec", "replicas"), live=2, git=1, group="apps")
    plan = capture(chart, "charts/users-api", Tool.HELM, [replicas], helm=options)
    assert [c.how for c in plan.captured] == ["helm value values.yaml: replicas"]
    assert plan.edits[0].content.startswith("# defaults for every environment\n")


# --- writing the commit -------------------------------------------------------------------------------


def test_write_capture_commits_on_a_new_branch_and_leaves_main_alone(plain: Checkout, tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    changes = incident_changes(configmap="users-api-env", deployment="users-api")
    plan = capture(plain, "apps/users-api", Tool.PLAIN, changes)
    main_before = git(repo, "rev-parse", "main")
    message = commit_message(app="users-api", plan=plan)
    sha = write_capture(
        repo=f"file://{repo}", base_sha=plain.sha, plan=plan, branch="plumbline/capture-users-api-1",
        message=message, author="plumbline <plumbline@example.com>",
    )  # fmt: skip
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "status", "--porcelain") == ""  # the working tree is not touched
    assert git(repo, "rev-parse", "plumbline/capture-users-api-1") == sha
    assert git(repo, "rev-parse", f"{sha}^") == plain.sha
    body = git(repo, "log", "-1", "--format=%B", sha)
    assert f'ConfigMap users/users-api-env /data/DB_HOST = "{NEW_HOST}"' in body
    assert "/data/LOG_LEVEL = (absent)" in body
    assert git(repo, "fsck", "--strict") == ""
    captured = fetch(str(repo), "plumbline/capture-users-api-1")
    assert_renders_live(render(captured.root, "apps/users-api"), changes)

    with pytest.raises(SourceError, match="already exists"):
        write_capture(
            repo=str(repo), base_sha=plain.sha, plan=plan, branch="plumbline/capture-users-api-1",
            message=message, author="plumbline <plumbline@example.com>",
        )  # fmt: skip


def test_write_capture_into_a_bare_repository_and_secret_values_stay_out_of_the_message(
    plain: Checkout, tmp_path: Path
) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "plain"), str(bare))
    # A Secret (without data) in a new commit of the bare repository, pushed there from a clone.
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    (work / "apps/users-api/secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n")
    commit_all(work, "secret")
    git(work, "push", "-q", "origin", "main")
    checkout = fetch(str(bare), "main")
    label = change("Secret", "db", ("metadata", "labels", "rotated"), live="2026-11-01", git=None,
                   attribution=ADDED)  # fmt: skip
    plan = capture(checkout, "apps/users-api", Tool.PLAIN, [label])
    assert len(plan.captured) == 1
    message = commit_message(app="users-api", plan=plan)
    assert "(secret value)" in message and "2026-11-01" not in message
    branch = default_branch("users-api")
    assert branch.startswith("plumbline/capture-users-api-")
    sha = write_capture(
        repo=str(bare), base_sha=checkout.sha, plan=plan, branch=branch, message=message,
        author="plumbline <plumbline@example.com>",
    )  # fmt: skip
    assert git(bare, "rev-parse", branch) == sha
    assert git(bare, "rev-parse", "main") == checkout.sha
    assert 'rotated: "2026-11-01"' in git(bare, "show", f"{sha}:apps/users-api/secret.yaml")


def test_write_capture_refuses_an_unknown_base_and_an_empty_plan(plain: Checkout, tmp_path: Path) -> None:
    repo = str(tmp_path / "plain")
    with pytest.raises(SourceError, match="no file edits"):
        write_capture(repo=repo, base_sha=plain.sha, plan=CapturePlan(), branch="b", message="m",
                      author="a <a@example.com>")  # fmt: skip
    plan = capture(
        plain,
        "apps/users-api",
        Tool.PLAIN,
        incident_changes(configmap="users-api-env", deployment="users-api")[:1],
    )
    with pytest.raises(SourceError, match="has no commit"):
        write_capture(repo=repo, base_sha="0" * 40, plan=plan, branch="b", message="m",
                      author="a <a@example.com>")  # fmt: skip
    with pytest.raises(SourceError, match="not a valid branch"):
        write_capture(repo=repo, base_sha=plain.sha, plan=plan, branch="a..b", message="m",
                      author="a <a@example.com>")  # fmt: skip


def test_write_capture_pushes_a_new_branch_to_a_remote_repository(plain: Checkout, tmp_path: Path) -> None:
    bare = tmp_path / "served.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "plain"), str(bare))
    with serve_http(bare) as url:
        checkout = fetch(url, "main")
        plan = capture(
            checkout,
            "apps/users-api",
            Tool.PLAIN,
            incident_changes(configmap="users-api-env", deployment="users-api")[:1],
        )
        sha = write_capture(
            repo=url, base_sha=checkout.sha, plan=plan, branch="capture/db-host", message="capture DB_HOST",
            author="plumbline <plumbline@example.com>",
        )  # fmt: skip
        assert git(bare, "rev-parse", "capture/db-host") == sha
        assert git(bare, "rev-parse", "main") == checkout.sha
        assert NEW_HOST in git(bare, "show", f"{sha}:apps/users-api/config.yaml")
        with pytest.raises(SourceError, match="already exists"):
            write_capture(
                repo=url, base_sha=checkout.sha, plan=plan, branch="capture/db-host", message="again",
                author="plumbline <plumbline@example.com>",
            )  # fmt: skip
        assert git(bare, "rev-parse", "capture/db-host") == sha


def test_kustomize_images_entries_are_edited_and_other_transformer_overrides_reported(
    tmp_path: Path,
) -> None:
    overlay = (
        OVERLAY
        + "images:\n- name: registry.example.com/users-api  # CI sets the tag\n  newTag: 2.3.1\n"
        + "replicas:\n- name: users-api\n  count: 4\n"
        + "patches:\n- path: resources.yaml\n"
    )
    checkout = make_repo(
        tmp_path / "kustomize-images",
        kustomize_files(
            {"deployment.yaml": BASE_DEPLOY.replace(":2.3.1", ":2.0.0"), "config.yaml": BASE_CONFIG},
            overlay,
            overlay_files={
                "resources.yaml": "apiVersion: apps/v1\nkind: Deployment\n"
                "metadata:\n  name: users-api\nspec:\n  minReadySeconds: 10\n"
            },
        ),
    )
    db_host, _, env, image = incident_changes(configmap="prod-users-api-env", deployment="prod-users-api")
    replicas = change("Deployment", "prod-users-api", ("spec", "replicas"), live=6, git=4, group="apps")
    plan = capture(checkout, "overlays/prod", Tool.KUSTOMIZE, [db_host, env, image, replicas])
    # images: and replicas: run after patches. The image is captured in the images: entry; replicas:
    # overrides the patch and is reported; the env var in the same object is captured all the same.
    assert [(c.change, c.how) for c in plan.captured] == [
        (db_host, "kustomize patch"),
        (env, "kustomize patch"),
        (image, "kustomize images:"),
    ]
    (unmapped,) = plan.unmapped
    assert unmapped.change is replicas and "replicas:" in unmapped.reason
    assert unmapped.patch is not None and "replicas: 6" in unmapped.patch
    kustomization = next(e.content for e in plan.edits if e.path.endswith("kustomization.yaml"))
    assert kustomization == overlay.replace("newTag: 2.3.1", "newTag: 2.3.2") + (
        "- path: capture-configmap-prod-users-api-env.yaml\n- path: capture-deployment-prod-users-api.yaml\n"
    )
    patch = next(e.content for e in plan.edits if "deployment" in e.path)
    assert "2.3.2" not in patch and "FEATURE_BULK_IMPORT" in patch and "replicas" not in patch
    objects = render(applied(checkout.root, plan, tmp_path), "overlays/prod")
    assert_renders_live(objects, [db_host, env, image])
    deployment = next(m.obj for m in objects if m.kind == "Deployment")
    assert (deployment["spec"]["replicas"], deployment["spec"]["minReadySeconds"]) == (4, 10)


def test_plain_objects_inside_a_list_document_are_edited(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: first
    data: {A: "1"}
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: users-api-env
    data:
      DB_HOST: pgbouncer.users.svc.cluster.local  # the pooler
"""
    checkout = make_repo(tmp_path / "list", {"app/list.yaml": text})
    db_host = change("ConfigMap", "users-api-env", ("data", "DB_HOST"), live=NEW_HOST, git=OLD_HOST)
    plan = capture(checkout, "app", Tool.PLAIN, [db_host])
    assert plan.unmapped == []
    assert plan.edits[0].content == text.replace(OLD_HOST, NEW_HOST)


# --- a capture diff is as small as a person's edit ----------------------------------------------------

# Shaped like microservices-demo's release/kubernetes-manifests.yaml: a licence header before the first
# `---`, documents whose lists are indented in different styles, quoted, folded and literal scalars.
MULTI_DOC = """\
# Copyright 2018 Google LLC
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.

# ----------------------------------------------------------
# WARNING: This file is autogenerated. Do not manually edit.
# ----------------------------------------------------------

---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: emailservice
  labels:
    app: emailservice
spec:
  selector:
    matchLabels:
      app: emailservice
  template:
    spec:
      containers:
      - name: server
        image: gcr.io/google-samples/microservices-demo/emailservice:v0.10.1
        ports:
        - containerPort: 8080
        env:
        - name: PORT
          value: "8080"
        - name: DISABLE_PROFILER
          value: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: checkout-config
data:
  NOTE: >
    folded text that
    spans two lines
  SCRIPT: |
    #!/bin/sh
    echo 'hello'
  CURRENCY:   'USD'     # aligned comment
  SHIPPING_ADDR: "shippingservice:50051"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkoutservice
spec:
  template:
    spec:
      containers:
        - name: server
          image: gcr.io/google-samples/microservices-demo/checkoutservice:v0.10.1
          args: [ "--port", "5050" ]
          env:
            - name: PORT
              value: "5050"
            - name: PRODUCT_CATALOG_SERVICE_ADDR
              value: "productcatalogservice:3550"
"""


@pytest.fixture
def multi(tmp_path: Path) -> Checkout:
    return make_repo(tmp_path / "multi", {"release/kubernetes-manifests.yaml": MULTI_DOC})


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines removed and the lines added, as ``git diff`` counts them."""
    import difflib

    removed, added = [], []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    return removed, added


def capture_multi(multi: Checkout, changes: list[FieldChange]) -> str:
    plan = capture(multi, "release", Tool.PLAIN, changes)
    assert plan.unmapped == []
    assert len(plan.edits) == 1
    return plan.edits[0].content


SERVER = ("spec", "template", "spec", "containers", {"name": "server"})
CATALOG = '              value: "productcatalogservice:3550"'


@pytest.mark.parametrize(
    ("kind", "name", "path", "old", "new", "line_before", "line_after"),
    [
        ("ConfigMap", "checkout-config", ("data", "SHIPPING_ADDR"), "shippingservice:50051",
         "shipping:50051", '  SHIPPING_ADDR: "shippingservice:50051"', '  SHIPPING_ADDR: "shipping:50051"'),
        ("ConfigMap", "checkout-config", ("data", "CURRENCY"), "USD", "EUR",
         "  CURRENCY:   'USD'     # aligned comment", "  CURRENCY:   'EUR'     # aligned comment"),
        ("Deployment", "checkoutservice", (*SERVER, "env", {"name": "PRODUCT_CATALOG_SERVICE_ADDR"}, "value"),
         "productcatalogservice:3550", "catalog:3550", CATALOG, '              value: "catalog:3550"'),
        ("Deployment", "emailservice", (*SERVER, "image"),
         "gcr.io/google-samples/microservices-demo/emailservice:v0.10.1",
         "gcr.io/google-samples/microservices-demo/emailservice:v0.10.2",
         "        image: gcr.io/google-samples/microservices-demo/emailservice:v0.10.1",
         "        image: gcr.io/google-samples/microservices-demo/emailservice:v0.10.2"),
    ],
)  # fmt: skip
def test_a_one_field_capture_changes_one_line_of_a_multi_document_file(
    multi: Checkout,
    kind: str,
    name: str,
    path: FieldPath,
    old: str,
    new: str,
    line_before: str,
    line_after: str,
) -> None:
    group = "apps" if kind == "Deployment" else ""
    content = capture_multi(multi, [change(kind, name, path, live=new, git=old, group=group)])
    assert changed_lines(MULTI_DOC, content) == ([line_before], [line_after])


def test_a_structural_capture_changes_only_its_own_lines(multi: Checkout, tmp_path: Path) -> None:
    env = ("spec", "template", "spec", "containers", {"name": "server"}, "env")
    changes = [
        change("Deployment", "emailservice", (*env, {"name": "LOG_LEVEL"}), group="apps",
               live={"name": "LOG_LEVEL", "value": "debug"}, git=None, attribution=ADDED),
        change("Deployment", "checkoutservice", (*env, {"name": "PORT"}), group="apps",
               live=None, git={"name": "PORT", "value": "5050"}),
        change("ConfigMap", "checkout-config", ("data", "CURRENCY"), live=None, git="USD"),
    ]  # fmt: skip
    content = capture_multi(multi, changes)
    removed, added = changed_lines(MULTI_DOC, content)
    assert added == ["        - name: LOG_LEVEL", "          value: debug"]
    assert removed == [
        "  CURRENCY:   'USD'     # aligned comment",
        "            - name: PORT",
        '              value: "5050"',
    ]
    target = tmp_path / "after"
    shutil.copytree(multi.root, target)
    (target / "release/kubernetes-manifests.yaml").write_text(content)
    assert_renders_live(render(target, "release"), changes)


def test_the_captured_commit_of_one_field_is_one_line_in_git_diff_stat(
    multi: Checkout, tmp_path: Path
) -> None:
    repo = tmp_path / "multi"
    changes = [change("ConfigMap", "checkout-config", ("data", "SHIPPING_ADDR"), live="shipping:50051",
                      git="shippingservice:50051")]  # fmt: skip
    plan = capture(multi, "release", Tool.PLAIN, changes)
    sha = write_capture(
        repo=str(repo), base_sha=multi.sha, plan=plan, branch="capture", message="capture",
        author="plumbline <plumbline@example.com>",
    )  # fmt: skip
    assert git(repo, "diff", "--numstat", multi.sha, sha) == "1\t1\trelease/kubernetes-manifests.yaml"


REMOTE_CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared-settings
data:
  REGION: eu-west-1
"""


@pytest.fixture
def served_manifest() -> Any:
    """A manifest served over HTTP on loopback: a remote kustomize resource that needs no network."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = REMOTE_CONFIG.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/yaml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/shared-settings.yaml"
    server.shutdown()


def test_capture_renders_remote_sources_the_project_allows(tmp_path: Path, served_manifest: str) -> None:
    overlay = f"resources:\n- ../../base\n- {served_manifest}\nnamePrefix: prod-\n"
    checkout = make_repo(
        tmp_path / "remote",
        kustomize_files({"config.yaml": BASE_CONFIG}, overlay),
    )
    allowed = ("http://127.0.0.1:*",)
    manifests = render(checkout.root, "overlays/prod", allow_remote=allowed)
    assert {m.name for m in manifests} == {"prod-users-api-env", "prod-shared-settings"}
    changes = [change("ConfigMap", "prod-users-api-env", ("data", "DB_HOST"), live=NEW_HOST, git=OLD_HOST)]

    def capture_allowing(allow_remote: tuple[str, ...]) -> CapturePlan:
        return capture_changes(
            checkout_root=checkout.root, app_path="overlays/prod", tool=Tool.KUSTOMIZE, helm=None,
            manifests=manifests, changes=changes, allow_remote=allow_remote,
        )  # fmt: skip

    with pytest.raises(RenderError, match=r"spec\.allowRemoteSources"):
        capture_allowing(())
    plan = capture_allowing(allowed)
    assert plan.unmapped == [] and [c.change for c in plan.captured] == changes
