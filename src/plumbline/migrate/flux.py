"""Flux ``Kustomization`` and ``HelmRelease`` (with the ``GitRepository`` they read) → plumbline ``App``.

The mapping, field by field, is in docs/import.md. In short:

* a Flux ``Kustomization`` becomes an ``App`` whose source is the ``GitRepository`` it names (its
  ``url`` and ``ref``) at ``path``; ``targetNamespace`` (else the Kustomization's namespace) is the
  destination; the mode follows what Flux does: it reverts drift on every interval (``self-heal``),
  and deletes what left Git when ``prune`` is set (``prune``); ``suspend`` is ``observe``;
* a ``HelmRelease`` whose chart is in a ``GitRepository`` becomes a Helm ``App`` (chart path, values,
  value files, release name); ``driftDetection`` decides between ``sync`` and ``prune``;
* a ``GitRepository`` is carried into the Apps that use it; one no input object uses produces nothing;
* an ``ExternalArtifact`` made by an ``ArtifactGenerator`` that copies folders of a GitRepository as
  they are is that repository's folder (:mod:`._artifacts`).

plumbline's sources are Git repositories: a chart from a ``HelmRepository`` or an OCI registry, a
``Bucket`` or an artifact that rearranges files is reported with what to do instead. The
``GitRepository`` that ``flux bootstrap`` made lives only in the cluster: export it
(``flux export source git flux-system``) and pass it with the Kustomizations that use it.
"""

from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass, field
from typing import Any

from plumbline.config import Mode
from plumbline.migrate import _artifacts
from plumbline.migrate._artifacts import Artifact
from plumbline.migrate._common import convert_each, label, metadata, result, valid
from plumbline.migrate._report import Abandon, Path, Reading
from plumbline.migrate._result import ImportResult, Written, new_object, repo_path

TOOL = "flux"

_OWN_ANNOTATIONS = ("fluxcd.io",)
_OWN_WHY = "an annotation for Flux itself (reconcile requests, ownership); plumbline does not read it"
_FINALIZERS_WHY = "Flux's clean-up when the object is deleted; plumbline deletes objects only by prune"
_STATE_WHY = "Flux's record of the object's state, not configuration"
_INTERVAL_WHY = "plumbline polls every App's repository at one interval: plumb controller --interval SECONDS"
_NOT_HELM = (
    "plumbline applies the objects helm template renders; it makes no Helm release, so Helm's "
    "install, upgrade, rollback and uninstall settings do not apply"
)
_IN_GIT = "plumbline builds what Git holds: write this into a kustomization.yaml in the repository"
_IMPERSONATE = "plumbline applies as the controller's (or the CLI user's) identity; it does not impersonate"
_REMOTE = "a remote cluster: set the App's spec.destination.context (and kubeconfig) by hand"


# Fields of a Kustomization and a HelmRelease (under spec) that plumbline has no place for, and why.
_RECONCILER = {
    "interval": _INTERVAL_WHY,
    "retryInterval": "plumbline has no per-App timeouts",
    "timeout": "plumbline has no per-App timeouts",
    "serviceAccountName": _IMPERSONATE,
    "kubeConfig": _REMOTE,
    "commonMetadata": "plumbline adds only its own tracking label and annotation",
}
_KUSTOMIZATION = {
    "wait": "plumbline shows health after a sync (plumb status); a sync does not wait for it",
    "healthChecks": "plumbline reports the health of every object the App applies",
    **dict.fromkeys(("patches", "images", "components", "namePrefix", "nameSuffix"), _IN_GIT),
    "ignoreMissingComponents": _IN_GIT,
    "postBuild": "plumbline does not substitute variables: commit the values",
    "decryption": "plumbline does not decrypt sources",
    "force": "plumbline never deletes and recreates objects",
    "deletionPolicy": "plumbline deletes objects only by prune",
}
_HELM_RELEASE = {
    **dict.fromkeys(
        ("install", "upgrade", "rollback", "uninstall", "test", "maxHistory", "storageNamespace"), _NOT_HELM
    ),
    "postRenderers": "plumbline applies what helm template renders: put the patches in the chart",
    "persistentClient": "plumbline runs helm template afresh for every render",
}


def _drop_all(r: Reading, why: dict[str, str]) -> None:
    """Each ``spec`` field named in ``why`` is not carried, for that reason; nor is ``status``."""
    for key, reason in why.items():
        r.drop(("spec", key), reason)
    r.drop(("status",), _STATE_WHY)


def _group(r: Reading) -> str:
    return str(r.obj.get("apiVersion", "")).split("/")[0]


@dataclass
class _Git:
    """A GitRepository and the Apps that use it (its fields are marked once they are known)."""

    reading: Reading
    users: list[str] = field(default_factory=list)


def convert(readings: list[Reading]) -> ImportResult:
    """Convert every Flux object in ``readings``; other objects are reported, not ignored."""
    gits = {
        (r.namespace or "default", r.name): _Git(r)
        for r in readings
        if r.kind == "GitRepository" and _group(r) == "source.toolkit.fluxcd.io"
    }
    helm_repos = {
        (r.namespace or "default", r.name): r
        for r in readings
        if r.kind == "HelmRepository" and _group(r) == "source.toolkit.fluxcd.io"
    }
    arts = _artifacts.artifacts(readings)
    written: list[Written] = []
    helm_users: dict[tuple[str, str], list[str]] = {}

    def app(r: Reading) -> None:
        if r.kind == "Kustomization":
            obj, git = _kustomization(r, gits, arts)
        else:
            obj, git = _helm_release(r, gits, helm_repos, helm_users)
        via = [a.generator for a in arts.values() if obj["metadata"]["name"] in a.users]
        written.append(Written(valid(obj), [r, git.reading, *via[:1]]))
        r.written.append(f"App/{obj['metadata']['name']}")
        git.users.append(obj["metadata"]["name"])

    convert_each(
        [r for r in readings if _kind(r) in ("Kustomization", "HelmRelease")],
        app,
    )
    for art in arts.values():
        _artifacts.mark(art)
    for r in readings:
        if _kind(r) == "ArtifactGenerator":
            mine = [a for a in arts.values() if a.generator is r]
            convert_each([r], lambda g, found=mine: _artifacts.finish(g, found))  # type: ignore[misc]
    for git in gits.values():
        convert_each([git.reading], lambda r, g=git: _git_repository(r, g))  # type: ignore[misc]
    for key, r in helm_repos.items():
        convert_each([r], lambda r, k=key: _helm_repository(r, helm_users.get(k, [])))  # type: ignore[misc]
    for r in readings:
        if _kind(r) is None:
            convert_each([r], _other)
    return result(TOOL, readings, written)


def _kind(r: Reading) -> str | None:
    """The kind this converter handles (Kustomization, HelmRelease, GitRepository, HelmRepository)."""
    group = _group(r)
    if r.kind == "Kustomization" and group == "kustomize.toolkit.fluxcd.io":
        return r.kind
    if r.kind == "HelmRelease" and group == "helm.toolkit.fluxcd.io":
        return r.kind
    if r.kind in ("GitRepository", "HelmRepository") and group == "source.toolkit.fluxcd.io":
        return r.kind
    if r.kind == "ArtifactGenerator" and group == _artifacts.GROUP:
        return r.kind
    return None


def _other(r: Reading) -> None:
    group = _group(r)
    if r.kind == "Kustomization" and group == "kustomize.config.k8s.io":
        raise Abandon(
            "a kustomize build file (kustomization.yaml), not a Flux Kustomization: it stays in the "
            "repository, where plumbline's kustomize builds it"
        )
    if group.startswith("source.") and group.endswith("fluxcd.io"):
        raise Abandon(
            f"a Flux {r.kind}: plumbline's sources are Git repositories, so nothing is written; point an "
            "App at the Git repository and path this source is made from"
        )
    if group.endswith("fluxcd.io"):
        raise Abandon(f"a Flux {r.kind}: plumbline has no equivalent")
    raise Abandon(
        f"not a Flux object ({r.obj.get('apiVersion')} {r.kind}): an object to deploy belongs in an App's "
        "source in Git, where plumbline applies it from; nothing imported"
    )


def _source_ref(
    r: Reading, base: Path, gits: dict[tuple[str, str], _Git], to: str, arts: dict[tuple[str, str], Artifact]
) -> tuple[_Git, str]:
    """The GitRepository an object reads, and the folder of it that its paths are relative to."""
    kind = r.get((*base, "kind"), str, "") or ""
    name = r.get((*base, "name"), str, "") or ""
    namespace = r.get((*base, "namespace"), str) or r.namespace or "default"
    prefix, via = "", ""
    if kind == "ExternalArtifact":
        art = arts.get((namespace, name))
        if art is None:
            raise Abandon(
                f"its ExternalArtifact {namespace}/{name}: the ArtifactGenerator that makes it is not in the "
                "input files; import it too"
            )
        if art.why or art.git is None:
            raise Abandon(
                f"its ExternalArtifact {namespace}/{name} is {art.why}: plumbline reads Git folders"
            )
        art.users.append(r.name)
        via = f" through ExternalArtifact {namespace}/{name}, the folder {art.prefix or '/'}"
        (namespace, name), prefix = art.git, art.prefix
    elif kind != "GitRepository":
        raise Abandon(
            f"its source is a {kind or 'source'} ({name}): plumbline's sources are Git repositories; point "
            "an App at the Git repository and path it is made from"
        )
    git = gits.get((namespace, name))
    if git is None:
        raise Abandon(
            f"its GitRepository {namespace}/{name} is not in the input files (flux bootstrap makes it in the "
            f"cluster): export it (flux export source git {name} -n {namespace}) and import it with this"
        )
    r.carry(base, f"{to}.spec.source", f"from GitRepository {namespace}/{name}{via}")
    return git, prefix


def _revision(git: _Git) -> str:
    """The Git revision a GitRepository follows, in Flux's order of precedence."""
    g = git.reading
    ref = g.get(("spec", "ref"), dict, {}) or {}
    for key in ("commit", "name", "semver", "tag", "branch"):
        value = ref.get(key)
        if isinstance(value, str) and value:
            if key == "semver":
                raise Abandon(
                    f"its GitRepository {g.name} follows the semver range {value!r}: plumbline follows one "
                    "branch, tag or commit"
                )
            return value
    return "master"


def _mode(r: Reading, git: _Git, *, full: Mode, to: str, why: str) -> str:
    suspended = r.get(("spec", "suspend"), bool, False) or git.reading.get(("spec", "suspend"), bool, False)
    if suspended:
        r.carry(("spec", "suspend"), f"{to}.spec.mode", f"{Mode.OBSERVE}: nothing automatic until stepped up")
        return Mode.OBSERVE.value
    r.carry(("spec", "suspend"), f"{to}.spec.mode", f"{full}: {why}")
    return full.value


def _destination(r: Reading, to: str) -> str:
    target = r.get(("spec", "targetNamespace"), str)
    if target:
        label(target, "spec.targetNamespace")
        r.carry(
            ("spec", "targetNamespace"),
            f"{to}.spec.destination.namespace",
            "for objects that name no namespace (Flux also moves those that name another)",
        )
        r.drop(
            ("metadata", "namespace"),
            "the namespace the Flux object lives in; targetNamespace is the destination",
        )
        return target
    namespace = r.namespace or "default"
    label(namespace, "metadata.namespace")
    r.carry(
        ("metadata", "namespace"),
        f"{to}.spec.destination.namespace",
        "no targetNamespace: the object's own namespace is the destination for objects that name none",
    )
    return namespace


def _meta(r: Reading, to: str) -> dict[str, Any]:
    return metadata(r, own=_OWN_ANNOTATIONS, own_why=_OWN_WHY, to=to, finalizers_why=_FINALIZERS_WHY)


# --- Kustomization ------------------------------------------------------------------------------------


def _kustomization(
    r: Reading, gits: dict[tuple[str, str], _Git], arts: dict[tuple[str, str], Artifact]
) -> tuple[dict[str, Any], _Git]:
    name = label(r.name, "the Kustomization name")
    to = f"App/{name}"
    meta = _meta(r, to)
    r.get(("spec",), dict, {})
    git, prefix = _source_ref(r, ("spec", "sourceRef"), gits, to, arts)
    path = repo_path(posixpath.join(prefix, r.get(("spec", "path"), str, ".") or "."))
    if path is None:
        raise Abandon("spec.path leads outside the repository")
    r.carry(
        ("spec", "path"), f"{to}.spec.source.path", "kustomize when a kustomization.yaml is there, else plain"
    )
    prune = r.get(("spec", "prune"), bool, False)
    full = Mode.PRUNE if prune else Mode.SELF_HEAL
    mode = _mode(r, git, full=full, to=to, why="Flux reverts drift on every interval")
    r.carry(
        ("spec", "prune"),
        f"{to}.spec.mode",
        "prune: deletes what left Git" if prune else "self-heal: never deletes what left Git",
    )
    namespace = _destination(r, to)
    source = {"repoURL": git.reading.get(("spec", "url"), str, "") or "", "targetRevision": _revision(git)}
    spec: dict[str, Any] = {
        "source": {**source, "path": path},
        "destination": {"namespace": namespace},
        "mode": mode,
    }
    checks = _health_checks(r, to)
    if checks:
        spec["healthChecks"] = checks
    r.drop(
        ("spec", "dependsOn"),
        "plumbline syncs each App on its own: order objects inside an App with sync waves, or sync the "
        "Apps in order",
    )
    _drop_all(r, {**_RECONCILER, **_KUSTOMIZATION})
    return new_object("App", name, spec, meta), git


def _health_checks(r: Reading, to: str) -> list[dict[str, Any]]:
    out = []
    for i, _ in enumerate(r.get(("spec", "healthCheckExprs"), list, []) or []):
        base: Path = ("spec", "healthCheckExprs", i)
        api_version = r.get((*base, "apiVersion"), str, "") or ""
        check: dict[str, Any] = {
            "group": api_version.split("/")[0] if "/" in api_version else "",
            "kind": r.get((*base, "kind"), str, "") or "",
            "current": r.get((*base, "current"), str, "") or "",
        }
        for key in ("failed", "inProgress"):
            value = r.get((*base, key), str)
            if value:
                check[key] = value
        out.append(check)
        r.carry(base, f"{to}.spec.healthChecks", "the same CEL over the live object")
    return out


# --- HelmRelease --------------------------------------------------------------------------------------


def _helm_release(
    r: Reading,
    gits: dict[tuple[str, str], _Git],
    helm_repos: dict[tuple[str, str], Reading],
    helm_users: dict[tuple[str, str], list[str]],
) -> tuple[dict[str, Any], _Git]:
    name = label(r.name, "the HelmRelease name")
    to = f"App/{name}"
    meta = _meta(r, to)
    r.get(("spec",), dict, {})
    chart: Path = ("spec", "chart", "spec")
    if not r.has(("spec", "chart")) and not r.has(("spec", "chartRef")):
        raise Abandon(
            "names no chart (spec.chart or spec.chartRef): a fragment of a HelmRelease, such as a kustomize "
            "patch, not a whole one; nothing written"
        )
    if r.has(("spec", "chartRef")):
        kind = r.get(("spec", "chartRef", "kind"), str, "") or ""
        raise Abandon(
            f"spec.chartRef: the chart comes from a {kind}, and plumbline renders charts from Git only. "
            "Vendor it into a Git repository (helm pull --untar) and point an App at it"
        )
    ref_kind = r.get((*chart, "sourceRef", "kind"), str, "") or ""
    ref_name = r.get((*chart, "sourceRef", "name"), str, "") or ""
    ref_ns = r.get((*chart, "sourceRef", "namespace"), str) or r.namespace or "default"
    chart_name = r.get((*chart, "chart"), str, "") or ""
    if ref_kind == "HelmRepository":
        helm_users.setdefault((ref_ns, ref_name), []).append(r.label)
        repo = helm_repos.get((ref_ns, ref_name))
        url = (repo.get(("spec", "url"), str) if repo else None) or f"HelmRepository {ref_ns}/{ref_name}"
        version = r.get((*chart, "version"), str, "*") or "*"
        raise Abandon(
            f"the chart {chart_name!r} (version {version}) comes from the Helm repository {url}, and "
            f"plumbline renders charts from Git only. Vendor it: a chart folder in Git whose Chart.yaml "
            f"depends on {chart_name} {version} from {url}, with {url} in the Project's allowRemoteSources"
        )
    git, _ = _source_ref(r, (*chart, "sourceRef"), gits, to, {})
    path = repo_path(chart_name)
    if path is None:
        raise Abandon("spec.chart.spec.chart leads outside the repository")
    r.carry((*chart, "chart"), f"{to}.spec.source.path", "the chart's folder in the repository")
    r.drop((*chart, "version"), "Flux ignores the version of a chart from Git, and so does plumbline")
    r.drop((*chart, "interval"), _INTERVAL_WHY)
    r.drop((*chart, "reconcileStrategy"), "plumbline renders the chart at the repository's revision")
    r.drop((*chart, "verify"), "plumbline does not verify chart signatures")
    r.same_or_drop(
        (*chart, "ignoreMissingValuesFiles"), False, to=to, same="plumbline refuses a missing value file",
        why="plumbline refuses a value file that does not exist",
    )  # fmt: skip
    r.drop(("spec", "chart", "metadata"), "plumbline has no HelmChart object to label")
    namespace = _destination(r, to)
    helm: dict[str, Any] = {}
    release = r.get(("spec", "releaseName"), str)
    target = r.get(("spec", "targetNamespace"), str)
    if release:
        helm["releaseName"] = release
        r.carry(("spec", "releaseName"), f"{to}.spec.source.helm.releaseName")
    elif target:
        helm["releaseName"] = f"{target}-{name}"  # Flux's default: [targetNamespace-]name
    note = "a path in the repository, as in Flux (plumbline also reads the chart's own values.yaml)"
    places: list[Path] = [
        (*chart, "valuesFiles", i) for i, _ in enumerate(r.get((*chart, "valuesFiles"), list, []) or [])
    ]
    places += [(*chart, "valuesFile")] if r.get((*chart, "valuesFile"), str) else []
    kept = []
    for place in places:
        normal = repo_path(r.get(place, str, "") or "")
        if normal is None:
            r.drop(place, "leads outside the repository, where plumbline never reads")
        else:
            kept.append(normal)
            r.carry(place, f"{to}.spec.source.helm.valueFiles", note)
    if kept:
        helm["valueFiles"] = kept
    values = r.get(("spec", "values"), dict)
    if values:
        helm["values"] = copy.deepcopy(values)
    r.carry(("spec", "values"), f"{to}.spec.source.helm.values")
    r.drop(
        ("spec", "valuesFrom"),
        "plumbline's values come from Git only (values, value files): put these ConfigMap and Secret "
        "values there",
    )
    spec: dict[str, Any] = {
        "source": {
            "repoURL": git.reading.get(("spec", "url"), str, "") or "",
            "targetRevision": _revision(git),
            "path": path,
            "tool": "helm",
            **({"helm": helm} if helm else {}),
        },
        "destination": {"namespace": namespace},
    }
    drift = r.get(("spec", "driftDetection", "mode"), str, "disabled") or "disabled"
    full = Mode.PRUNE if drift == "enabled" else Mode.SYNC
    why = (
        "Flux corrects drift and Helm deletes what left the chart"
        if full is Mode.PRUNE
        else "without drift detection Flux does not revert live edits; Helm's deletion of objects that left "
        "the chart needs plumbline's prune rung, which also reverts live edits, so it is not automatic"
    )
    spec["mode"] = _mode(r, git, full=full, to=to, why=why)
    r.carry(("spec", "driftDetection", "mode"), f"{to}.spec.mode")
    ignores = _drift_ignores(r, to)
    if ignores:
        spec["ignoreDifferences"] = ignores
    create = r.get(("spec", "install", "createNamespace"), bool, False)
    if create:
        spec["syncOptions"] = {"createNamespace": True}
    r.carry(("spec", "install", "createNamespace"), f"{to}.spec.syncOptions.createNamespace")
    r.same_or_drop(
        ("spec", "install", "crds"), "Create", to=to, same="plumbline renders with --include-crds",
        why="plumbline renders with --include-crds and applies CRDs like every object",
    )  # fmt: skip
    r.same_or_drop(
        ("spec", "test", "enable"), False, to=to, same="plumbline renders with --skip-tests",
        why="plumbline renders with --skip-tests: chart tests are never run",
    )  # fmt: skip
    r.drop(("spec", "dependsOn"), "plumbline syncs each App on its own: sync the Apps in order")
    _drop_all(r, {**_RECONCILER, **_HELM_RELEASE})
    return new_object("App", name, spec, meta), git


def _drift_ignores(r: Reading, to: str) -> list[dict[str, Any]]:
    out = []
    for i, _ in enumerate(r.get(("spec", "driftDetection", "ignore"), list, []) or []):
        base: Path = ("spec", "driftDetection", "ignore", i)
        paths = [str(p) for p in r.get((*base, "paths"), list, []) or []]
        entry: dict[str, Any] = {
            "group": r.get((*base, "target", "group"), str, "*") or "",
            "kind": r.get((*base, "target", "kind"), str, "*") or "*",
            "jsonPointers": paths,
        }
        name = r.get((*base, "target", "name"), str)
        if name:
            entry["name"] = name
        out.append(entry)
        r.carry((*base, "paths"), f"{to}.spec.ignoreDifferences[].jsonPointers")
        for key in ("group", "kind", "name", "version"):
            r.carry((*base, "target", key), f"{to}.spec.ignoreDifferences[]")
        for key in ("namespace", "labelSelector", "annotationSelector"):
            r.drop(
                (*base, "target", key), "plumbline's ignoreDifferences select by group, kind and name only"
            )
    return out


# --- sources ------------------------------------------------------------------------------------------


def _git_repository(r: Reading, git: _Git) -> None:
    if not git.users:
        raise Abandon("no Kustomization or HelmRelease in the input uses it: nothing written")
    r.written.extend(f"App/{u}" for u in dict.fromkeys(git.users))
    apps = ", ".join(r.written)
    r.carry(("metadata", "name"), apps, "named by their sourceRef")
    r.carry(("metadata", "namespace"), apps, "named by their sourceRef")
    r.carry(("spec", "url"), f"{apps} spec.source.repoURL")
    ref = r.get(("spec", "ref"), dict, {}) or {}
    chosen = next((k for k in ("commit", "name", "semver", "tag", "branch") if ref.get(k)), None)
    for key in ref:
        if key == chosen:
            r.carry(("spec", "ref", key), f"{apps} spec.source.targetRevision")
        else:
            r.drop(("spec", "ref", key), f"ignored by Flux too: ref.{chosen} takes precedence")
    r.carry(("spec", "suspend"), f"{apps} spec.mode", "a suspended source: observe")
    r.drop(("spec", "interval"), _INTERVAL_WHY)
    r.drop(("spec", "timeout"), "plumbline has no per-repository timeout")
    r.drop(
        ("spec", "secretRef"),
        "plumbline has no per-repository credentials: give the controller's Git access to the repository",
    )
    for key in ("provider", "proxySecretRef"):
        r.drop(("spec", key), "plumbline has no per-repository credentials or proxy")
    r.drop(
        ("spec", "ignore"), "plumbline renders every file below the App's path: move ignored files out of it"
    )
    r.drop(("spec", "include"), "plumbline reads one repository per App")
    r.drop(("spec", "recurseSubmodules"), "plumbline does not check out submodules")
    r.drop(("spec", "sparseCheckout"), "plumbline checks out the whole tree")
    r.drop(("spec", "verify"), "plumbline does not verify commit signatures yet")
    r.drop(("status",), _STATE_WHY)
    for key in ("labels", "annotations", "finalizers"):
        r.drop(("metadata", key), "a GitRepository's metadata does not go into the Apps that use it")
    for key in r.get(("metadata",), dict, {}) or {}:
        if key not in ("name", "namespace", "labels", "annotations", "finalizers"):
            r.drop(("metadata", key), "kept by the API server, not configuration")


def _helm_repository(r: Reading, users: list[str]) -> None:
    if users:
        raise Abandon(
            f"a Helm repository: plumbline renders charts from Git only, so {', '.join(users)} that "
            "use it are not written either"
        )
    raise Abandon("no HelmRelease in the input uses it, and plumbline renders charts from Git only")
