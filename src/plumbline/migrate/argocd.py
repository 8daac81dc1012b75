"""Argo CD ``Application`` and ``AppProject`` → plumbline ``App``, ``Project`` and ``Environment``.

The mapping, field by field, is in docs/import.md. In short:

* an ``AppProject`` becomes a ``Project`` (source repositories, destination namespaces, the
  cluster-scoped allow list, the namespaced deny list); its sync windows go to ``Environment`` s:
  each imported Application gets the one holding exactly the windows that select it (as Argo CD
  matches them), since a plumbline window applies to every App of its Environment;
* an ``Application`` becomes an ``App``: one Git source (``sources`` when only one of them renders and
  the others only lend it value files from the same repository; the hydrated branch when
  ``sourceHydrator`` is set), the destination namespace (and cluster name as kubeconfig context),
  ``syncPolicy.automated`` as the mode (never more than asked: ``prune`` without ``selfHeal`` stays
  at ``sync``, because plumbline's prune rung includes self-heal), ``syncOptions``, and
  ``ignoreDifferences``;
* an ``ApplicationSet`` is not supported: it is reported with its generators.

Charts from Helm repositories, config management plugins and clusters named only by API address
have no plumbline equivalent: such an Application is reported, not written.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from plumbline.config import Mode
from plumbline.migrate._common import convert_each, label, metadata, result, valid
from plumbline.migrate._report import Abandon, Path, Reading, show_path
from plumbline.migrate._result import ImportResult, Written, new_object, repo_path
from plumbline.yamlio import YamlError, load_documents

TOOL = "argocd"
GROUP = "argoproj.io/"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"

_OWN_ANNOTATIONS = ("argoproj.io",)
_OWN_WHY = "an annotation for Argo CD itself (tracking, refresh, notifications); plumbline does not read it"
_FINALIZERS_WHY = (
    "Argo CD's finalizer (an Application's cascade deletion, an AppProject kept while in use); plumbline "
    "deletes objects only by prune, never because configuration went away"
)
NAMESPACE_WHY = (
    "the namespace the Argo CD object lives in; plumbline's configuration objects are not namespaced"
)
_STATE_WHY = "Argo CD's record of the object's state, not configuration"


def convert(readings: list[Reading]) -> ImportResult:
    """Convert every Argo CD object in ``readings``; other objects are reported, not ignored."""
    written: list[Written] = []
    windows: dict[str, list[_Window]] = {}  # by project
    environments: dict[str, list[_Window]] = {}  # by Environment name: the windows it holds
    projects = [r for r in readings if _is(r, "AppProject")]
    apps = [r for r in readings if _is(r, "Application")]

    def project(r: Reading) -> None:
        obj, project_windows = _project(r)
        written.append(Written(obj, [r]))
        r.written.append(f"Project/{r.name}")
        if project_windows:
            windows[r.name] = project_windows
            everyone = [w for w in project_windows if w.everyone]
            if everyone:
                environments[r.name] = everyone

    convert_each(projects, project)
    declared_projects = {r.name for r in projects if r.written}
    stubs: dict[str, Written] = {}

    def application(r: Reading) -> None:
        obj = _application(r, declared_projects)
        spec = obj["spec"]
        if windows:
            spec["environment"] = _environment(spec["project"], r, windows, environments)
        valid(obj)
        wanted = spec["project"]
        if wanted != "default" and wanted not in declared_projects:
            stub = stubs.setdefault(wanted, Written(valid(new_object("Project", wanted, {})), []))
            stub.inputs.append(r)
        written.append(Written(obj, [r]))
        r.written.append(f"App/{obj['metadata']['name']}")

    convert_each(apps, application)
    for r in readings:
        if not (_is(r, "AppProject") or _is(r, "Application")):
            convert_each([r], _other)
    for project_windows in windows.values():
        _mark_windows(project_windows, environments, apps)
    owners = {r.name: r for r in projects}
    envs = [
        Written(
            valid(new_object("Environment", name, {"syncWindows": [w.body for w in held]})),
            [held[0].reading if held else owners[name]],
        )
        for name, held in environments.items()
    ]
    for env in envs:
        if env.origin is not None:
            env.origin.written.append(env.label)
    uses_default = any(
        w.obj["kind"] == "App" and w.obj["spec"].get("environment") == "default" for w in written
    )
    if uses_default and "default" not in environments:
        envs.append(Written(valid(new_object("Environment", "default", {})), []))
    ordered = [w for w in written if w.obj["kind"] == "Project"] + list(stubs.values())
    ordered += envs + [w for w in written if w.obj["kind"] == "App"]
    return result(TOOL, readings, ordered)


def _is(r: Reading, kind: str) -> bool:
    return r.kind == kind and str(r.obj.get("apiVersion", "")).startswith(GROUP)


def _other(r: Reading) -> None:
    if _is(r, "ApplicationSet"):
        generators = r.get(("spec", "generators"), list, []) or []
        names = ", ".join(_generator_names(generators)) or "none"
        raise Abandon(
            f"ApplicationSet is not supported: plumbline has no generators (this one uses: {names}). "
            "Generate its Applications (argocd appset generate FILE -o yaml) and import those"
        )
    raise Abandon(
        f"not an Argo CD Application or AppProject ({r.obj.get('apiVersion')} {r.kind}): nothing imported"
    )


_GENERATORS = (
    "list",
    "clusters",
    "git",
    "scmProvider",
    "clusterDecisionResource",
    "pullRequest",
    "matrix",
    "merge",
    "plugin",
)


def _generator_names(generators: list[Any]) -> list[str]:
    names = []
    for g in generators:
        if not isinstance(g, dict):
            continue
        for key, value in g.items():
            if key not in _GENERATORS:
                continue
            inner_list = value.get("generators") if isinstance(value, dict) else None
            if key in ("matrix", "merge") and isinstance(inner_list, list):
                inner = _generator_names(inner_list)
                names.append(f"{key}({', '.join(inner)})")
            else:
                names.append(key)
    return names


# --- AppProject ---------------------------------------------------------------------------------------


def _project(r: Reading) -> tuple[dict[str, Any], list[_Window]]:
    name = label(r.name, "the AppProject name")
    to = f"Project/{name}"
    meta = metadata(r, own=_OWN_ANNOTATIONS, own_why=_OWN_WHY, to=to, finalizers_why=_FINALIZERS_WHY)
    r.drop(("metadata", "namespace"), NAMESPACE_WHY)
    r.get(("spec",), dict, {})
    spec: dict[str, Any] = {}
    r.drop(("spec", "description"), "plumbline Projects have no description")
    spec["sourceRepos"] = _source_repos(r, to)
    spec["destinations"] = _destinations(r, to)
    spec["clusterResourceAllowList"] = _kinds(r, ("spec", "clusterResourceWhitelist"), to, allow=True)
    spec["namespaceResourceDenyList"] = _kinds(r, ("spec", "namespaceResourceBlacklist"), to, allow=False)
    r.drop(
        ("spec", "clusterResourceBlacklist"),
        "plumbline has no deny list for cluster-scoped kinds: they are denied unless "
        "clusterResourceAllowList names them (whole kinds, no names)",
    )
    r.drop(
        ("spec", "namespaceResourceWhitelist"),
        "plumbline has no allow list for namespaced kinds, only namespaceResourceDenyList: the kinds this "
        "list left out are allowed in plumbline — deny them there if they must stay out",
    )
    r.drop(
        ("spec", "orphanedResources"),
        "plumb drift reports objects no app owns in the namespaces it scans; there is no per-project setting",
    )
    r.drop(
        ("spec", "roles"),
        "plumbline leaves who may do what to Kubernetes RBAC (on the App custom resources and the "
        "cluster); it has no project roles or tokens",
    )
    r.drop(
        ("spec", "permitOnlyProjectScopedClusters"),
        "plumbline has no project-scoped clusters: an App names its cluster by kubeconfig context",
    )
    r.drop(("spec", "sourceNamespaces"), "plumbline's Apps are not namespaced objects")
    r.drop(
        ("spec", "sourceIntegrity"),
        "commit signature checks are not part of plumbline's configuration yet; "
        "the Environment guard does not verify signatures",
    )
    r.drop(
        ("spec", "signatureKeys"),
        "commit signature checks are not part of plumbline's configuration yet",
    )
    r.drop(
        ("spec", "destinationServiceAccounts"),
        "plumbline applies as the controller's (or the CLI user's) identity; it does not impersonate",
    )
    windows = _windows(r)
    r.drop(("status",), _STATE_WHY)
    return valid(new_object("Project", name, spec, meta)), windows


def _source_repos(r: Reading, to: str) -> list[str]:
    kept: list[str] = []
    for i, repo in enumerate(r.get(("spec", "sourceRepos"), list, []) or []):
        path: Path = ("spec", "sourceRepos", i)
        repo = r.get(path, str, "") or ""
        if repo.startswith("!"):
            r.drop(
                path,
                "a negated repository: plumbline's sourceRepos only allow, so what this excluded "
                "is allowed if another entry matches it",
            )
        else:
            kept.append(repo)
            r.carry(path, f"{to}.spec.sourceRepos")
    return kept


def _destinations(r: Reading, to: str) -> list[dict[str, str]]:
    kept: list[dict[str, str]] = []
    for i, _ in enumerate(r.get(("spec", "destinations"), list, []) or []):
        base: Path = ("spec", "destinations", i)
        namespace = r.get((*base, "namespace"), str)
        if namespace is None:
            r.drop(base, "names no namespace: plumbline's Project destinations are namespace globs")
            continue
        if namespace.startswith("!"):
            r.drop(base, "a negated namespace: plumbline's destinations only allow")
            continue
        kept.append({"namespace": namespace})
        r.carry((*base, "namespace"), f"{to}.spec.destinations[].namespace")
        server = r.get((*base, "server"), str)
        cluster = r.get((*base, "name"), str)
        for key, value, local in (("server", server, IN_CLUSTER_SERVER), ("name", cluster, IN_CLUSTER_NAME)):
            if value == local or value == "*":
                r.carry(
                    (*base, key), to, "plumbline's Project destinations hold on whichever cluster an App uses"
                )
            else:
                r.drop(
                    (*base, key),
                    f"plumbline Projects bound namespaces, not clusters: namespace {namespace!r} is allowed "
                    "on every cluster, not only this one",
                )
    return kept


def _kinds(r: Reading, where: Path, to: str, *, allow: bool) -> list[dict[str, str]]:
    kept: list[dict[str, str]] = []
    target = "clusterResourceAllowList" if allow else "namespaceResourceDenyList"
    for i, _ in enumerate(r.get(where, list, []) or []):
        base: Path = (*where, i)
        kind = r.get((*base, "kind"), str)
        if kind is None:
            raise r.error((*base, "kind"), "missing: each entry names a kind")
        group = r.get((*base, "group"), str, "") or ""
        name = r.get((*base, "name"), str, "") or ""
        if name and allow:
            r.drop(
                base,
                f"allows only the names {name!r}: plumbline allows a cluster-scoped kind whole, so the "
                "entry is left out and the kind stays denied",
            )
            continue
        kept.append({"group": group, "kind": kind})
        r.carry((*base, "group"), f"{to}.spec.{target}")
        r.carry((*base, "kind"), f"{to}.spec.{target}")
        if name:
            r.drop(
                (*base, "name"), "plumbline's deny list names whole kinds: the kind is denied for every name"
            )
        else:
            r.carry((*base, "name"), f"{to}.spec.{target}", "empty: every name, as in plumbline")
    return kept


_GO_DURATION = re.compile(r"(\d+)(h|m|s)")


def _minutes(text: str) -> int | None:
    """A Go duration (``1h``, ``90m``, ``1h30m``) in whole minutes; None if not one."""
    if not text or _GO_DURATION.sub("", text):
        return None
    seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in _GO_DURATION.findall(text))
    return seconds // 60 if seconds % 60 == 0 and seconds else None


@dataclass
class _Window:
    """A sync window of an AppProject and what it selects (applications, namespaces, clusters)."""

    reading: Reading
    index: int
    body: dict[str, Any]  # as a plumbline SyncWindow
    selectors: dict[str, list[str]]
    both: bool  # andOperator: every selector given must match

    @property
    def base(self) -> Path:
        return ("spec", "syncWindows", self.index)

    @property
    def everyone(self) -> bool:
        named = [s for s in self.selectors.values() if s]
        return all("*" in s for s in named) if self.both else any("*" in s for s in named)

    def applies(self, app: Reading) -> bool:
        """As Argo CD decides it: a glob of each selector given against the Application's name,
        destination namespace, destination server or name."""
        dest: Path = ("spec", "destination")
        seen = {
            "applications": [app.name],
            "namespaces": [app.get((*dest, "namespace"), str, "") or ""],
            "clusters": [app.get((*dest, "server"), str, "") or "", app.get((*dest, "name"), str, "") or ""],
        }
        hits = [
            any(fnmatchcase(value, str(glob)) for value in seen[key] if value for glob in globs)
            for key, globs in self.selectors.items()
            if globs
        ]
        return bool(hits) and (all(hits) if self.both else any(hits))

    def describe(self) -> str:
        return "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in self.selectors.items() if v) or "nothing"


def _windows(r: Reading) -> list[_Window]:
    """The AppProject's sync windows that plumbline can express (the others are reported)."""
    kept: list[_Window] = []
    for i, _ in enumerate(r.get(("spec", "syncWindows"), list, []) or []):
        base: Path = ("spec", "syncWindows", i)
        kind = r.get((*base, "kind"), str)
        if kind not in ("allow", "deny"):
            raise r.error((*base, "kind"), f"expected allow or deny, got {kind!r}")
        schedule = r.get((*base, "schedule"), str)
        if not schedule:
            raise r.error((*base, "schedule"), "missing: a sync window needs a cron schedule")
        selectors = {
            key: r.get((*base, key), list, []) or [] for key in ("applications", "namespaces", "clusters")
        }
        duration = r.get((*base, "duration"), str, "") or ""
        minutes = _minutes(duration)
        if minutes is None:
            r.drop(base, f"duration {duration!r} is not a whole number of minutes, hours or days")
            continue
        body = {
            "kind": kind,
            "schedule": schedule,
            "duration": f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m",
        }
        zone = r.get((*base, "timeZone"), str)
        if zone:
            body["timeZone"] = zone
        both = r.get((*base, "andOperator"), bool, False) or False
        kept.append(_Window(r, i, body, selectors, both))
        r.drop(
            (*base, "manualSync"),
            "plumbline lets a person sync in a closed window only with a recorded reason "
            "(--allow windows:App/NAME --reason TEXT); there is no per-window switch",
        )
        r.drop(
            (*base, "syncOverrun"), "plumbline checks windows when a sync starts; there is no overrun setting"
        )
        r.drop((*base, "description"), "plumbline windows have no description")
    return kept


def _environment(
    project: str, app: Reading, windows: dict[str, list[_Window]], environments: dict[str, list[_Window]]
) -> str:
    """The Environment for an App: the one holding exactly the windows of its project that apply to it
    (``<project>`` for the windows every application gets, ``<project>-windows-0-2`` for others);
    ``default`` when its project has no windows."""
    project_windows = windows.get(project)
    if not project_windows:
        return "default"
    chosen = [w for w in project_windows if w.everyone or w.applies(app)]
    if chosen == [w for w in project_windows if w.everyone]:
        name = project
    else:
        suffix = "-windows-" + "-".join(str(w.index) for w in chosen)
        name = project[: 63 - len(suffix)].rstrip("-") + suffix
    environments.setdefault(name, chosen)
    return name


def _mark_windows(
    windows: list[_Window], environments: dict[str, list[_Window]], apps: list[Reading]
) -> None:
    """Each window carried to the Environments that hold it, or reported: it selects no App here."""
    for w in windows:
        r, base = w.reading, w.base
        holders = [name for name, held in environments.items() if w in held]
        if not holders:
            r.drop(
                base,
                f"applies only to {w.describe()}, which selects no Application in the input: a plumbline "
                "window belongs to an Environment and applies to all of its Apps; import the AppProject "
                "with the Applications it selects",
            )
            continue
        to = ", ".join(f"Environment/{h}" for h in holders) + " spec.syncWindows"
        for key in ("kind", "schedule", "duration", "timeZone"):
            r.carry((*base, key), to)
        if w.everyone:
            note = "applies to every application, as a plumbline window does"
        else:
            selected = [a.name for a in apps if a.written and w.applies(a)]
            note = f"selects {', '.join(selected)}: their Environment holds it"
        for key in ("applications", "namespaces", "clusters", "andOperator"):
            r.carry((*base, key), to, note)


# --- Application --------------------------------------------------------------------------------------


def _application(r: Reading, declared_projects: set[str]) -> dict[str, Any]:
    name = label(r.name, "the Application name")
    to = f"App/{name}"
    meta = metadata(r, own=_OWN_ANNOTATIONS, own_why=_OWN_WHY, to=to, finalizers_why=_FINALIZERS_WHY)
    r.drop(("metadata", "namespace"), NAMESPACE_WHY)
    r.get(("spec",), dict, {})
    project = r.get(("spec", "project"), str, "default") or "default"
    label(project, "the project name")
    if project == "default" and "default" not in declared_projects:
        note = (
            "plumbline's default Project: any repository and namespace, of cluster-scoped kinds only "
            "Namespace (Argo CD's default project allows every kind)"
        )
    elif project not in declared_projects:
        note = (
            f"the AppProject {project!r} is not in the input: Project {project!r} is written with "
            "plumbline's defaults (any repository and namespace, no cluster-scoped kinds); import the "
            "AppProject with its Applications to carry its limits"
        )
    else:
        note = ""
    r.carry(("spec", "project"), f"{to}.spec.project", note)
    destination = _destination(r, to)
    source = _source(r, to, destination["namespace"])
    mode = _mode(r, to)
    spec: dict[str, Any] = {
        "project": project,
        "source": source,
        "destination": destination,
        "mode": mode.value,
    }
    options = _sync_options(r, to, spec)
    if options:
        spec["syncOptions"] = options
    ignores = _ignore_differences(r, to)
    if ignores:
        spec["ignoreDifferences"] = ignores
    r.drop(("spec", "revisionHistoryLimit"), "plumbline's history keeps every sync (plumb history APP)")
    r.drop(("spec", "info"), "plumbline Apps have no informational links")
    r.drop(("status",), _STATE_WHY)
    r.drop(("operation",), "an Argo CD operation in progress, not configuration")
    return new_object("App", name, spec, meta)


def _destination(r: Reading, to: str) -> dict[str, Any]:
    base: Path = ("spec", "destination")
    namespace = r.get((*base, "namespace"), str)
    if not namespace:
        raise Abandon(
            "spec.destination.namespace is unset: a plumbline App needs a destination namespace (for the "
            "objects that name none)"
        )
    label(namespace, "the destination namespace")
    out: dict[str, Any] = {"namespace": namespace}
    r.carry((*base, "namespace"), f"{to}.spec.destination.namespace")
    server = r.get((*base, "server"), str)
    cluster = r.get((*base, "name"), str)
    if server and server != IN_CLUSTER_SERVER and not cluster:
        raise Abandon(
            f"spec.destination.server {server!r}: plumbline reaches a cluster through a kubeconfig context, "
            "not an API address; name the cluster (spec.destination.name, as the kubeconfig context is "
            "named) and import again"
        )
    here = "the cluster of the current kubeconfig context (the controller's own, in the cluster)"
    if server == IN_CLUSTER_SERVER:
        r.carry((*base, "server"), f"{to}.spec.destination", here)
    elif server:
        r.drop((*base, "server"), "plumbline names the cluster by kubeconfig context only (destination.name)")
    if cluster == IN_CLUSTER_NAME:
        r.carry((*base, "name"), f"{to}.spec.destination", here)
    elif cluster:
        out["context"] = cluster
        r.carry(
            (*base, "name"),
            f"{to}.spec.destination.context",
            "Argo CD's cluster name as the kubeconfig context (argocd cluster add CONTEXT names it so)",
        )
    return out


def _source(r: Reading, to: str, namespace: str) -> dict[str, Any]:
    hydrator = r.get(("spec", "sourceHydrator"), dict)
    sources = r.get(("spec", "sources"), list) or []
    if hydrator is not None:
        ignored = "ignored by Argo CD too: it syncs from sourceHydrator.syncSource when sourceHydrator is set"
        r.drop(("spec", "source"), ignored)
        r.drop(("spec", "sources"), ignored)
        return _hydrated(r, to)
    if sources:
        r.drop(("spec", "source"), "ignored by Argo CD too: spec.sources is set")
        return _multi_source(r, to, namespace, sources)
    if r.get(("spec", "source"), dict) is None:
        raise Abandon("no spec.source, spec.sources or spec.sourceHydrator: nothing to render")
    return _one_source(r, ("spec", "source"), to, namespace, refs={})


def _hydrated(r: Reading, to: str) -> dict[str, Any]:
    base: Path = ("spec", "sourceHydrator")
    dry: Path = (*base, "drySource")
    sync: Path = (*base, "syncSource")
    repo = r.get((*sync, "repoURL"), str) or r.get((*dry, "repoURL"), str)
    branch = r.get((*sync, "targetBranch"), str)
    if not repo or not branch:
        raise r.error(sync, "needs targetBranch, and repoURL here or in drySource")
    path = repo_path(r.get((*sync, "path"), str, ".") or ".")
    if path is None:
        raise Abandon("sourceHydrator.syncSource.path leaves the repository")
    r.carry((*sync, "repoURL"), f"{to}.spec.source.repoURL")
    r.carry((*sync, "targetBranch"), f"{to}.spec.source.targetRevision")
    r.carry((*sync, "path"), f"{to}.spec.source.path")
    if not r.has((*sync, "repoURL")):
        r.carry((*dry, "repoURL"), f"{to}.spec.source.repoURL", "the hydrated branch is in this repository")
    r.drop(
        dry,
        "plumbline does not hydrate: it syncs the hydrated branch (syncSource), as Argo CD does; keep "
        "Argo CD's hydrator (or CI) writing that branch",
    )
    r.drop((*base, "hydrateTo"), "plumbline does not hydrate (see drySource)")
    return {"repoURL": repo, "targetRevision": branch, "path": path}


def _renders(source: dict[str, Any]) -> bool:
    """A source of ``sources`` that renders objects (not only lending value files by ``ref``)."""
    return not source.get("ref") or bool(source.get("path") or source.get("chart"))


def _multi_source(r: Reading, to: str, namespace: str, sources: list[Any]) -> dict[str, Any]:
    for i, s in enumerate(sources):
        if not isinstance(s, dict):
            raise r.error(("spec", "sources", i), "expected a mapping")
    content = [i for i, s in enumerate(sources) if _renders(s)]
    if len(content) != 1:
        raise Abandon(
            f"spec.sources has {len(content)} sources that render: a plumbline App has one source "
            "(split it into one App per source, each with its own destination)"
        )
    refs = {str(s["ref"]): i for i, s in enumerate(sources) if s.get("ref") and i != content[0]}
    out = _one_source(r, ("spec", "sources", content[0]), to, namespace, refs=refs)
    r.drop(("spec", "sources", content[0], "name"), "a plumbline App has one source, which needs no name")
    for i in refs.values():
        if not r.marked(("spec", "sources", i)):
            r.drop(("spec", "sources", i), "no value file of the App uses this ref source")
    return out


def _one_source(r: Reading, base: Path, to: str, namespace: str, *, refs: dict[str, int]) -> dict[str, Any]:
    repo = r.get((*base, "repoURL"), str)
    if not repo:
        raise r.error((*base, "repoURL"), "missing: a source names its repository")
    revision = r.get((*base, "targetRevision"), str, "HEAD") or "HEAD"
    chart = r.get((*base, "chart"), str)
    if chart:
        raise Abandon(
            f"{show_path(base)}.chart: the chart {chart!r} (version {revision}) comes from the Helm "
            f"repository {repo}, and plumbline renders from Git only. Vendor it: a chart folder in Git "
            f"whose Chart.yaml depends on {chart} {revision} from {repo}, with {repo} in the Project's "
            "allowRemoteSources, and point an App at that folder"
        )
    blocks = [k for k in ("helm", "kustomize", "directory", "plugin") if r.has((*base, k))]
    if len(blocks) > 1:
        raise Abandon(
            f"{show_path(base)} sets {', '.join(blocks)}: one source has one kind (Argo CD refuses it too)"
        )
    if blocks == ["plugin"]:
        raise Abandon(
            f"{show_path(base)}.plugin: a config management plugin renders this source; plumbline renders "
            "plain YAML, Kustomize and Helm only (commit the plugin's output, or render it in CI)"
        )
    path = repo_path(r.get((*base, "path"), str, ".") or ".")
    if path is None:
        raise Abandon(f"{show_path(base)}.path leaves the repository")
    out: dict[str, Any] = {"repoURL": repo, "targetRevision": revision, "path": path}
    r.carry((*base, "repoURL"), f"{to}.spec.source.repoURL")
    r.carry((*base, "targetRevision"), f"{to}.spec.source.targetRevision")
    r.carry((*base, "path"), f"{to}.spec.source.path")
    if blocks == ["helm"]:
        out["tool"] = "helm"
        helm = _helm(r, (*base, "helm"), to, source=out, namespace=namespace, refs=refs)
        if helm:
            out["helm"] = helm
    elif blocks == ["kustomize"]:
        out["tool"] = "kustomize"
        _kustomize(r, (*base, "kustomize"))
    elif blocks == ["directory"]:
        out["tool"] = "plain"
        _directory(r, (*base, "directory"), to)
    if r.has((*base, "ref")):
        r.carry(
            (*base, "ref"), f"{to}.spec.source.helm.valueFiles", "its $ref value files are repository paths"
        )
    return out


def _helm(
    r: Reading, base: Path, to: str, *, source: dict[str, Any], namespace: str, refs: dict[str, int]
) -> dict[str, Any]:
    helm: dict[str, Any] = {}
    where = f"{to}.spec.source.helm"
    release = r.get((*base, "releaseName"), str)
    if release:
        helm["releaseName"] = release
        r.carry((*base, "releaseName"), f"{where}.releaseName")
    files = _value_files(r, base, where, source=source, refs=refs)
    if files:
        helm["valueFiles"] = files
    values = _values(r, base, where)
    for i, _ in enumerate(r.get((*base, "parameters"), list, []) or []):
        path: Path = (*base, "parameters", i)
        name = r.get((*path, "name"), str, "") or ""
        keys = _set_keys(name)
        if keys is None:
            r.drop(path, f"{name!r}: a --set path with list indices or empty parts; write it into values")
            continue
        text = r.get((*path, "value"), str, "") or ""
        as_string = r.get((*path, "forceString"), bool, False)
        _put(values, keys, text if as_string else _set_value(text))
        r.carry(path, f"{where}.values", "as a value (parameters win over values, as in Argo CD)")
    if values:
        helm["values"] = values
    r.drop(
        (*base, "fileParameters"),
        "plumbline's Helm values have no --set-file: put the file's content into values",
    )
    for key, (default, same, why) in _HELM_FLAGS.items():
        r.same_or_drop((*base, key), default, to=where, same=same, why=why)
    r.same_or_drop(
        (*base, "namespace"), namespace, to=where, same="the release namespace is the destination namespace",
        why=f"plumbline templates with the destination namespace ({namespace}) as the release namespace",
    )  # fmt: skip
    capabilities = (
        "plumbline's helm template uses Helm's built-in capabilities; set them in the chart's values"
    )
    r.drop((*base, "kubeVersion"), capabilities)
    r.drop((*base, "apiVersions"), capabilities)
    return helm


# Helm flag: (the value plumbline behaves as, why it is carried then, why it is not carried otherwise)
_HELM_FLAGS: dict[str, tuple[Any, str, str]] = {
    "passCredentials": (
        False,
        "plumbline's behaviour",
        "plumbline renders offline; remote chart repositories get no credentials",
    ),
    "ignoreMissingValueFiles": (
        False,
        "plumbline's behaviour",
        "plumbline refuses a value file that does not exist",
    ),
    "skipCrds": (
        False,
        "plumbline renders with --include-crds",
        "plumbline renders with --include-crds: keep the CRDs out of the chart instead",
    ),
    "skipSchemaValidation": (
        False,
        "helm validates values.schema.json",
        "plumbline's helm template always validates values against the chart's schema",
    ),
    "skipTests": (
        True,
        "plumbline renders with --skip-tests",
        "plumbline renders with --skip-tests: chart tests are never applied",
    ),
    "version": ("v3", "plumbline runs Helm 3", "plumbline runs Helm 3 only"),
}


def _value_files(
    r: Reading, base: Path, where: str, *, source: dict[str, Any], refs: dict[str, int]
) -> list[str]:
    files: list[str] = []
    for i, _ in enumerate(r.get((*base, "valueFiles"), list, []) or []):
        path: Path = (*base, "valueFiles", i)
        name = r.get(path, str, "") or ""
        if "://" in name:
            r.drop(path, "a value file by URL: plumbline reads value files from the App's repository only")
            continue
        note = "relative to the repository root in plumbline (Argo CD: to the source path)"
        if name.startswith("$"):
            ref, _, rest = name[1:].partition("/")
            if ref not in refs:
                r.drop(path, f"names the source ${ref}, which spec.sources does not hold")
                continue
            lender: Path = ("spec", "sources", refs[ref])
            lent = (
                r.get((*lender, "repoURL"), str),
                r.get((*lender, "targetRevision"), str, "HEAD") or "HEAD",
            )
            if lent != (source["repoURL"], source["targetRevision"]):
                r.drop(
                    path,
                    f"comes from another repository or revision ({lent[0]}@{lent[1]}): plumbline reads "
                    "value files from the App's own repository at its revision",
                )
                continue
            candidate = repo_path(rest)
            r.carry(lender, f"{where}.valueFiles", "same repository and revision as the chart")
            note = f"${ref} is the App's own repository: a repository path"
        else:
            candidate = repo_path(posixpath.join(source["path"], name))
        if candidate is None:
            r.drop(path, "leads outside the repository, where plumbline never reads")
            continue
        files.append(candidate)
        r.carry(path, f"{where}.valueFiles", note)
    return files


def _values(r: Reading, base: Path, where: str) -> dict[str, Any]:
    as_object = r.get((*base, "valuesObject"), dict)
    if as_object is not None:
        r.carry((*base, "valuesObject"), f"{where}.values")
        r.drop((*base, "values"), "ignored by Argo CD too: valuesObject is set")
        return copy.deepcopy(as_object)
    text = r.get((*base, "values"), str)
    if text is None:
        return {}
    try:
        documents = load_documents(text, file=f"{r.file}: {r.label}: {show_path((*base, 'values'))}")
    except YamlError as error:
        raise r.error((*base, "values"), f"not valid YAML: {error}") from None
    if not documents:
        return {}
    if len(documents) > 1 or not isinstance(documents[0].data, dict):
        raise r.error((*base, "values"), "expected one YAML mapping of values")
    r.carry((*base, "values"), f"{where}.values")
    return dict(documents[0].data)


def _set_keys(name: str) -> list[str] | None:
    """The keys of a Helm ``--set`` name (``a.b\\.c`` → ``["a", "b.c"]``); None for list indices."""
    if not name or "[" in name:
        return None
    keys, current, escaped = [], "", False
    for char in name:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ".":
            keys.append(current)
            current = ""
        else:
            current += char
    keys.append(current)
    return None if any(k == "" for k in keys) else keys


def _set_value(text: str) -> Any:
    """A ``--set`` value typed as Helm types it: true, false, null, integers; else the string."""
    special: dict[str, Any] = {"true": True, "false": False, "null": None}
    if text in special:
        return special[text]
    if re.fullmatch(r"-?[1-9]\d*|0", text):
        return int(text)
    return text


def _put(values: dict[str, Any], keys: list[str], value: Any) -> None:
    here = values
    for key in keys[:-1]:
        if not isinstance(here.get(key), dict):
            here[key] = {}
        here = here[key]
    here[keys[-1]] = value


def _kustomize(r: Reading, base: Path) -> None:
    for key in r.get(base, dict, {}) or {}:
        why = (
            "plumbline runs its pinned kustomize"
            if key == "version"
            else "plumbline builds the kustomization in Git as it is: write this into its kustomization.yaml"
        )
        r.drop((*base, key), why)


def _directory(r: Reading, base: Path, to: str) -> None:
    r.same_or_drop(
        (*base, "recurse"), True, to=f"{to}.spec.source.tool", same="plumbline reads folders recursively",
        why="plumbline reads plain folders recursively: move the files below into another folder",
    )  # fmt: skip
    r.drop((*base, "jsonnet"), "plumbline does not render Jsonnet: commit its output")
    r.drop((*base, "include"), "plumbline reads every YAML and JSON file below the path: move the others out")
    r.drop((*base, "exclude"), "plumbline reads every YAML and JSON file below the path: move these out")


# --- syncPolicy ---------------------------------------------------------------------------------------


def _mode(r: Reading, to: str) -> Mode:
    base: Path = ("spec", "syncPolicy", "automated")
    automated = r.get(base, dict)
    where = f"{to}.spec.mode"
    if automated is None:
        if r.get(("spec", "syncPolicy"), dict) == {}:
            r.carry(("spec", "syncPolicy"), where, f"{Mode.OBSERVE}: no automated sync")
        return Mode.OBSERVE
    enabled = r.get((*base, "enabled"), bool, True)
    prune = r.get((*base, "prune"), bool, False)
    heal = r.get((*base, "selfHeal"), bool, False)
    r.same_or_drop(
        (*base, "allowEmpty"), False, to=where, same="plumbline never prunes an empty render wholesale",
        why="plumbline never prunes everything because a render came out empty",
    )  # fmt: skip
    if not enabled:
        r.carry(base, where, f"{Mode.OBSERVE}: automated sync is switched off")
        return Mode.OBSERVE
    mode = Mode.PRUNE if prune and heal else Mode.SELF_HEAL if heal else Mode.SYNC
    r.carry(base, where, mode.value)
    if prune and not heal:
        r.drop(
            (*base, "prune"),
            "plumbline's rungs are observe → sync → self-heal → prune, and prune includes self-heal, which "
            "this Application does not have: mode sync, without automatic prune (plumb readiness APP "
            "says when the next step is safe; plumb sync --prune prunes by hand)",
        )
    return mode


def _sync_options(r: Reading, to: str, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base: Path = ("spec", "syncPolicy")
    for i, option in enumerate(r.get((*base, "syncOptions"), list, []) or []):
        path: Path = (*base, "syncOptions", i)
        if not isinstance(option, str) or "=" not in option:
            raise r.error(path, f"expected NAME=VALUE, got {option!r}")
        key, value = option.split("=", 1)
        on = value.strip().lower() == "true"
        mode = f"{to}.spec.mode"
        if key == "CreateNamespace":
            out["createNamespace"] = on
            r.carry(path, f"{to}.spec.syncOptions.createNamespace")
        elif key == "Prune" and not on:
            if spec["mode"] == Mode.PRUNE:
                spec["mode"] = Mode.SELF_HEAL.value
            r.carry(path, mode, "never prune automatically: mode at most self-heal")
        elif key in _SAME_WHEN and on == _SAME_WHEN[key][0]:
            r.carry(path, to, _SAME_WHEN[key][1])
        elif key in _SAME_WHEN:
            r.drop(path, _SAME_WHEN[key][2])
        elif key == "PrunePropagationPolicy":
            if value == "background":
                r.carry(path, to, "plumbline prunes with background propagation")
            else:
                r.drop(path, "plumbline prunes with background propagation only")
        else:
            r.drop(path, f"plumbline has no sync option like {key}")
    r.drop(
        (*base, "managedNamespaceMetadata"),
        "createNamespace makes a bare Namespace: declare the Namespace in Git with these labels and "
        "annotations",
    )
    r.drop((*base, "retry"), "plumbline's controller retries failed syncs with its own backoff")
    return out


# NAME: (the value plumbline behaves as, why it is carried then, why it is not carried otherwise)
_SAME_WHEN: dict[str, tuple[bool, str, str]] = {
    "ServerSideApply": (True, "plumbline always applies server-side", "plumbline always applies server-side"),
    "Prune": (True, "pruning as the mode allows", ""),
    "PruneLast": (True, "plumbline prunes last, after every wave", "plumbline always prunes last"),
    "ApplyOutOfSyncOnly": (
        True,
        "plumbline applies only objects whose dry run shows a change",
        "plumbline applies only objects whose dry run shows a change",
    ),
    "RespectIgnoreDifferences": (
        True,
        "a sync never reverts plumbline's ignoreDifferences",
        "a sync never reverts plumbline's ignoreDifferences: they are respected as with =true",
    ),
    "Validate": (
        True,
        "the server-side dry run validates",
        "plumbline's server-side dry run always validates",
    ),
    "Replace": (
        False,
        "plumbline applies server-side",
        "plumbline never replaces objects; it applies server-side",
    ),
    "SkipDryRunOnMissingResource": (
        False,
        "plumbline dry-runs every object",
        "plumbline dry-runs every object before any write: a kind not installed yet is refused (install "
        "its CRD with another App first)",
    ),
    "FailOnSharedResource": (False, "", "plumbline has no such option"),
    "Force": (
        False,
        "plumbline never deletes and recreates",
        "plumbline never deletes and recreates objects",
    ),
}


# --- ignoreDifferences --------------------------------------------------------------------------------

_JQ_STEP = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]')


def jq_pointer(expression: str) -> str | None:
    """A jq path made only of keys and indices (``.data["config.yaml"]``) as a JSON pointer
    (``/data/config.yaml``); None for anything else (filters, pipes, ``[]``)."""
    text, tokens, at = expression.strip(), [], 0
    if not text.startswith("."):
        return None
    while at < len(text):
        match = _JQ_STEP.match(text, at)
        if match is None:
            return None
        key = match[1] or (
            match[2].replace('\\"', '"').replace("\\\\", "\\") if match[2] is not None else match[3]
        )
        tokens.append(key.replace("~", "~0").replace("/", "~1"))
        at = match.end()
    return "/" + "/".join(tokens) if tokens else None


def _ignore_differences(r: Reading, to: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    where = f"{to}.spec.ignoreDifferences"
    for i, _ in enumerate(r.get(("spec", "ignoreDifferences"), list, []) or []):
        base: Path = ("spec", "ignoreDifferences", i)
        kind = r.get((*base, "kind"), str)
        if not kind:
            raise r.error((*base, "kind"), "missing: each entry names a kind")
        entry: dict[str, Any] = {"group": r.get((*base, "group"), str, "") or "", "kind": kind}
        name = r.get((*base, "name"), str)
        if name:
            entry["name"] = name
        pointers = list(r.get((*base, "jsonPointers"), list, []) or [])
        for j, expression in enumerate(r.get((*base, "jqPathExpressions"), list, []) or []):
            pointer = jq_pointer(str(expression))
            if pointer is None:
                r.drop(
                    (*base, "jqPathExpressions", j),
                    "a jq expression that is not a plain path: plumbline takes JSON pointers",
                )
            else:
                pointers.append(pointer)
                r.carry((*base, "jqPathExpressions", j), f"{where}[].jsonPointers", f"as {pointer}")
        managers = list(r.get((*base, "managedFieldsManagers"), list, []) or [])
        if not pointers and not managers:
            r.drop(base, "nothing left to ignore that plumbline can express")
            continue
        if pointers:
            entry["jsonPointers"] = pointers
        if managers:
            entry["managers"] = managers
        out.append(entry)
        for key, note in (
            ("group", "the core group when unset, as in Argo CD"),
            ("kind", ""),
            ("name", ""),
            ("jsonPointers", "respected by syncs too, as RespectIgnoreDifferences=true"),
            ("managedFieldsManagers", "as managers; respected by syncs too"),
        ):
            r.carry((*base, key), where, note)
        r.drop(
            (*base, "namespace"),
            "plumbline's entries have no namespace: this one applies in every namespace of the App",
        )
    return out
