"""Prune deletes only this app's objects, inside its destination (issue 9, items 1 and 2).

Two teams, two configs, two stores, one cluster; both name an app ``web``. Team A must never see team
B's objects as its own to delete, whatever the teams set as their instance. An empty render (a wrong
path) never prunes, even when plumbline adds the destination Namespace itself. A prune scan that is
not allowed to LIST a kind says so. Real ``plumb`` CLI, real Git repositories, real API server.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support import cli
from tests.support.cluster import CONFIGMAPS_ONLY, limited_kubeconfig
from tests.support.git import init_repo
from tests.support.manifests import WEB_SERVICE, deployment_yaml
from tests.support.workloads import M, add_hpa, deployment, plan_at_main, scale

pytestmark = pytest.mark.integration

API = "plumbline.dev/v1alpha1"

DEPLOYMENT = deployment_yaml("web", container="web", image="nginx:1.27")
SERVICE = WEB_SERVICE + "    targetPort: 8080\n"


class Team:
    """One team's world: its Git repository with app ``web``, its config (Project bound to its
    namespace by ``destination``, a glob by default; a blast radius wide enough not to be what saves
    the day), its store."""

    def __init__(
        self,
        root: Path,
        plane: ControlPlane,
        *,
        namespace: str,
        instance: str | None,
        destination: str = "{namespace}*",
    ) -> None:
        self.root, self.namespace = root, namespace
        # A glob destination may reach namespaces it does not name: the prune scan lists cluster-wide.
        self.destination = destination.format(namespace=namespace)
        root.mkdir()
        self.repo = root / "repo"
        files = {
            "apps/web/deployment.yaml": DEPLOYMENT,
            "apps/web/service.yaml": SERVICE,
            "apps/nothing/README.md": "no manifests here\n",
        }
        init_repo(self.repo, files, "web")
        self.config = root / "plumbline.yaml"
        self.env = cli.plumb_env(
            kubeconfig=plane.kubeconfig,
            config=self.config,
            store=root / "plumbline.db",
            actor=f"{root.name}@ci",
        )
        self.env.pop("PLUMBLINE_INSTANCE", None)
        self.instance = instance
        self.write_config("apps/web")

    def write_config(self, path: str) -> None:
        instance = ""
        if self.instance is not None:
            instance = f"apiVersion: {API}\nkind: Instance\nmetadata: {{name: {self.instance}}}\n---\n"
        self.config.write_text(
            f"""{instance}apiVersion: {API}
kind: Project
metadata:
  name: team
spec:
  destinations:
  - namespace: "{self.destination}"
  clusterResourceAllowList:
  - {{group: "", kind: Namespace}}
  blastRadius: {{maxDeletes: 100, maxDeletePercent: 100}}
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  project: team
  source: {{repoURL: ./repo, targetRevision: main, path: {path}}}
  destination: {{namespace: {self.namespace}}}
  syncOptions: {{createNamespace: true}}
  mode: sync
"""
        )

    def plumb(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.plumb(*args, env=self.env)


def live(cluster: Cluster, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    info = cluster.discovery.lookup(api_version, kind)
    assert info is not None
    return cluster.get(info, name=name, namespace=namespace)


def suffix() -> str:
    return uuid.uuid4().hex[:6]


@pytest.mark.parametrize("named", [False, True], ids=["no-instance-set", "instances-named"])
def test_two_teams_one_app_name_never_prune_each_other(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, named: bool
) -> None:
    tag = suffix()
    a = Team(tmp_path / "a", control_plane, namespace=f"a-{tag}", instance=f"team-a-{tag}" if named else None)
    b = Team(tmp_path / "b", control_plane, namespace=f"b-{tag}", instance=None)
    if named:  # team B names its instance through the environment, team A in its config
        b.env["PLUMBLINE_INSTANCE"] = f"team-b-{tag}"

    for team in (b, a):
        synced = team.plumb("sync", "web")
        assert synced.returncode == 0, synced.stdout + synced.stderr

    # Team A's plan never offers team B's objects for deletion.
    diff = a.plumb("diff", "web", "-o", "json")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    plan = json.loads(diff.stdout)
    theirs = [o for o in plan["objects"] if o["namespace"] == b.namespace]
    assert all(o["action"] == "prune" and o["kept"] for o in theirs), theirs
    assert plan["summary"]["prune"] == 0 and not plan["hasChanges"]
    if named:
        assert theirs == []  # another instance's objects are not this app's at all
    else:
        # Same instance and app name: reported with the reason, never deleted.
        assert {o["kind"] for o in theirs} == {"Deployment", "Service"}
        assert all("outside" in o["kept"] for o in theirs)

    status = a.plumb("status", "web", "-o", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)[0]["status"] == "Synced"

    pruned = a.plumb("sync", "web", "--prune")
    out = pruned.stdout + pruned.stderr
    if named:
        assert pruned.returncode == 0, out
        assert "pruned" not in out.split("succeeded:")[-1]
    else:
        # The ambiguity blocks the prune sync, naming the objects and how to tell the teams apart.
        assert pruned.returncode == 1, out
        assert "project" in out and b.namespace in out and "Instance" in out

    for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1")):
        assert live(cluster, api_version, kind, "web", b.namespace) is not None, f"team B's {kind} is gone"
        assert live(cluster, api_version, kind, "web", a.namespace) is not None, f"team A's {kind} is gone"
    status_b = b.plumb("status", "web")
    assert status_b.returncode == 0, status_b.stdout + status_b.stderr


def test_a_project_that_names_its_namespaces_scans_only_those(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster
) -> None:
    """Least privilege (decision 0016): a Project whose destinations name namespaces bounds the prune
    scan to them; another team's objects elsewhere are not even listed, so nothing blocks the prune
    and nothing of theirs is touched."""
    tag = suffix()
    a = Team(tmp_path / "a", control_plane, namespace=f"a-{tag}", instance=None, destination="{namespace}")
    b = Team(tmp_path / "b", control_plane, namespace=f"b-{tag}", instance=None)
    for team in (b, a):
        synced = team.plumb("sync", "web")
        assert synced.returncode == 0, synced.stdout + synced.stderr
    plan = json.loads(a.plumb("diff", "web", "-o", "json").stdout)
    assert [o for o in plan["objects"] if o["namespace"] == b.namespace] == []
    assert plan["unscanned"] == []
    pruned = a.plumb("sync", "web", "--prune")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1")):
        assert live(cluster, api_version, kind, "web", b.namespace) is not None, f"team B's {kind} is gone"


def test_an_empty_render_never_prunes_even_with_create_namespace(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster
) -> None:
    team = Team(tmp_path / "a", control_plane, namespace=f"empty-{suffix()}", instance=None)
    synced = team.plumb("sync", "web")
    assert synced.returncode == 0, synced.stdout + synced.stderr

    team.write_config("apps/nothing")  # a wrong path: the folder holds no manifests
    diff = team.plumb("diff", "web", "-o", "json")
    plan = json.loads(diff.stdout)
    # The Namespace plumbline adds (syncOptions.createNamespace) is the only object desired.
    assert [(o["kind"], o["action"]) for o in plan["objects"] if o["action"] != "prune"] == [
        ("Namespace", "unchanged")
    ]
    assert plan["summary"]["prune"] == 2

    pruned = team.plumb("sync", "web", "--prune")
    out = pruned.stdout + pruned.stderr
    assert pruned.returncode == 1, out
    assert "render is empty" in out
    for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1")):
        assert live(cluster, api_version, kind, "web", team.namespace) is not None, f"the {kind} was pruned"


def test_a_forbidden_list_in_the_prune_scan_is_reported(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    from plumbline.plan.report import plan_to_dict
    from plumbline.sync import sync_plan

    def cm(name: str) -> M:
        return M({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}, f"{name}.yaml")

    app = f"scan-{suffix()}"
    first = plan_at_main(cluster, app, namespace, [cm("keep"), cm("drop")])
    assert sync_plan(first, cluster=cluster).ok

    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "limited.yaml")
    with Cluster(kubeconfig=kubeconfig) as limited:
        plan = plan_at_main(limited, app, namespace, [cm("keep")])
    # Not allowed to list ConfigMaps cluster-wide, the scan looks in the destination namespace instead.
    assert [str(i.ref) for i in plan.prunable] == [f"ConfigMap {namespace}/drop"]
    # What it could not list at all is reported, not silently taken for "nothing to prune".
    gaps = {(u.kind, u.namespace) for u in plan.unscanned}
    assert ("Secret", namespace) in gaps and ("ClusterRole", None) in gaps
    assert ("ConfigMap", namespace) not in gaps and ("ConfigMap", None) not in gaps
    data = plan_to_dict(plan)
    assert {"group": "", "kind": "Secret", "namespace": namespace} in [
        {k: u[k] for k in ("group", "kind", "namespace")} for u in data["unscanned"]
    ]
    assert all("forbidden" in u["reason"].lower() for u in data["unscanned"])


def test_the_prune_scan_lists_only_what_the_project_allows(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    """With the Project's bounds, a user whose rights end at the namespace, and who may not read its
    Secrets (which the Project denies), plans with nothing left unscanned: no cluster-wide LIST, no
    cluster-scoped kind the Project does not allow, no kind it denies."""
    from plumbline.config import Project
    from plumbline.engine import bounds_of
    from plumbline.sync import sync_plan

    def cm(name: str) -> M:
        return M({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}, f"{name}.yaml")

    app = f"scan-{suffix()}"
    assert sync_plan(plan_at_main(cluster, app, namespace, [cm("keep"), cm("drop")]), cluster=cluster).ok
    project = Project.model_validate(
        {
            "apiVersion": API,
            "kind": "Project",
            "metadata": {"name": "team"},
            "spec": {
                "destinations": [{"namespace": namespace}],
                "namespaceResourceDenyList": [{"group": "", "kind": "Secret"}],
            },
        }
    )
    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "k.yaml", CONFIGMAPS_ONLY)
    with Cluster(kubeconfig=kubeconfig) as limited:
        plan = plan_at_main(limited, app, namespace, [cm("keep")], bounds=bounds_of(project))
    assert [str(i.ref) for i in plan.prunable] == [f"ConfigMap {namespace}/drop"]
    assert not any(u.namespace is None for u in plan.unscanned), plan.unscanned  # no cluster-wide LIST
    assert not any(u.kind == "Secret" for u in plan.unscanned), plan.unscanned  # denied: not listed
    # What the Project allows and the user may not list is reported, never skipped without a word.
    assert ("Deployment", namespace) in {(u.kind, u.namespace) for u in plan.unscanned}


# Deployments and ConfigMaps only: HorizontalPodAutoscalers and Secrets may not be listed.
WORKLOADS_ONLY = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
]


def test_a_forbidden_hpa_list_is_reported_with_what_it_means_for_replicas(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    from plumbline.cli.gitops import plan_lines
    from plumbline.plan.attribution import Attribution
    from plumbline.plan.report import plan_to_dict
    from plumbline.sync import sync_plan

    app = f"hpa-{suffix()}"

    def plan_as(who: Cluster) -> Any:
        return plan_at_main(who, app, namespace, [M(deployment(2), "web.yaml")])

    assert sync_plan(plan_as(cluster), cluster=cluster).ok
    add_hpa(cluster, namespace)
    scale(cluster, namespace, 5, "scaler-by-hand")  # what the autoscaler would do
    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "k.yaml", WORKLOADS_ONLY)
    with Cluster(kubeconfig=kubeconfig) as limited:
        plan = plan_as(limited)
    # Not knowing the HPA, the replicas it set look like a live edit: the plan must say why.
    (change,) = plan.changes
    assert change.pointer == "/spec/replicas" and change.attribution is Attribution.DRIFT_REVERT
    hpa_gaps = [u for u in plan.unscanned if u.scan == "hpa"]
    assert [(u.group, u.kind, u.namespace) for u in hpa_gaps] == [
        ("autoscaling", "HorizontalPodAutoscaler", namespace)
    ]
    assert "forbidden" in hpa_gaps[0].reason.lower()
    data = plan_to_dict(plan)
    assert {
        "group": "autoscaling",
        "kind": "HorizontalPodAutoscaler",
        "namespace": namespace,
        "scan": "hpa",
    } in [{k: u[k] for k in ("group", "kind", "namespace", "scan")} for u in data["unscanned"]]
    text = "\n".join(plan_lines(plan))
    (line,) = [line for line in text.splitlines() if "HorizontalPodAutoscaler" in line and "replicas" in line]
    assert "drift-revert" in line and namespace in line


def test_drift_reports_kinds_it_could_not_scan_for_unowned_objects(
    tmp_path: Path,
    control_plane: ControlPlane,
    cluster: Cluster,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from plumbline.cli.gitops import _print_drift
    from plumbline.plan.drift import drift_report, drift_to_dict
    from plumbline.sync import sync_plan

    app = f"drift-{suffix()}"
    manifests = [M({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"}}, "env.yaml")]
    first = plan_at_main(cluster, app, namespace, manifests)
    assert sync_plan(first, cluster=cluster).ok
    synced = {item.ref: item.desired for item in first.items if item.desired}
    # Made by hand, no app owns it: Git cannot rebuild it.
    secrets = cluster.discovery.lookup("v1", "Secret")
    assert secrets is not None
    cluster.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "stray", "namespace": namespace}},
        info=secrets,
        field_manager="by-hand",
    )
    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "k.yaml", WORKLOADS_ONLY)
    with Cluster(kubeconfig=kubeconfig) as limited:
        plan = plan_at_main(limited, app, namespace, manifests, last_synced=synced)
        report = drift_report(plan, cluster=limited, last_synced=synced)
    # The stray Secret could not be seen: that is reported, and "rebuildable" is not claimed.
    assert not report.unowned and not report.drifted
    gaps = {(u.kind, u.namespace, u.scan) for u in report.unscanned}
    assert ("Secret", namespace, "unowned") in gaps
    assert not any(u.kind == "ConfigMap" for u in report.unscanned)
    assert not report.rebuildable
    data = drift_to_dict(report)
    assert data["rebuildable"] is False
    assert {"group": "", "kind": "Secret", "namespace": namespace, "scan": "unowned"} in [
        {k: u[k] for k in ("group", "kind", "namespace", "scan")} for u in data["unscanned"]
    ]
    _print_drift(report)
    text = capsys.readouterr().out
    assert f"Secret in {namespace}" in text
    assert "rebuildable from Git: yes" not in text


def test_objects_tracked_in_the_old_format_are_adopted_or_reported_never_pruned(
    cluster: Cluster, namespace: str
) -> None:
    from plumbline.plan import APP_LABEL, TRACKING_ANNOTATION, Keep
    from plumbline.sync import Outcome, sync_plan

    app = f"old-{suffix()}"
    info = cluster.discovery.lookup("v1", "ConfigMap")
    assert info is not None
    # What an earlier plumbline left behind: its label, and the annotation without an instance.
    for name in ("still-in-git", "dropped"):
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {APP_LABEL: app},
                    "annotations": {TRACKING_ANNOTATION: f"{app}:/ConfigMap:{namespace}/{name}"},
                },
            },
            info=info,
            field_manager="plumbline",
        )
    manifests = [
        M({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "still-in-git"}}, "cm.yaml")
    ]

    def plan_now() -> Any:
        return plan_at_main(cluster, app, namespace, manifests, instance="team-x")

    plan = plan_now()
    (old,) = plan.kept
    assert old.ref.name == "dropped" and old.kept is Keep.OLD_TRACKING and not old.changes
    assert "old format" in old.note and plan.prunable == []
    report = sync_plan(plan, cluster=cluster, prune=True)
    assert report.ok
    assert [(o.item.ref.name, o.outcome) for o in report.objects if o.item is old] == [
        ("dropped", Outcome.KEPT)
    ]
    assert cluster.get(info, name="dropped", namespace=namespace) is not None

    adopted = cluster.get(info, name="still-in-git", namespace=namespace)
    assert adopted is not None
    assert adopted["metadata"]["annotations"][TRACKING_ANNOTATION] == (
        f"team-x/{app}:/ConfigMap:{namespace}/still-in-git"
    )
    # Once adopted, dropping it from Git makes it an ordinary prune candidate.
    manifests.clear()
    manifests.append(M({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}, "o.yaml"))
    assert [i.ref.name for i in plan_now().prunable] == ["still-in-git"]
