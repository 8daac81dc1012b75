"""Which kinds the API server serves, and where: aggregated discovery in two requests.

``/api`` and ``/apis`` with the ``apidiscovery.k8s.io/v2`` media type list every group, version and
resource at once (GA since Kubernetes 1.30). Servers that do not offer it get the classic walk over
each group version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plumbline.cluster.client import Cluster

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as kubectl writes it (``Deployment.apps``), just ``Kind`` for the core group."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True)
class Discovery:
    by_gvk: dict[tuple[str, str, str], ResourceInfo]
    preferred: dict[str, str]  # group -> preferred version

    @classmethod
    def load(cls, cluster: Cluster) -> Discovery:
        by_gvk: dict[tuple[str, str, str], ResourceInfo] = {}
        preferred: dict[str, str] = {}
        for root in ("/api", "/apis"):
            document = cluster.request("GET", root, accept=AGGREGATED)
            if document.get("kind") == "APIGroupDiscoveryList":
                for group_doc in document.get("items") or []:
                    group = (group_doc.get("metadata") or {}).get("name", "")
                    versions = group_doc.get("versions") or []
                    if versions:
                        preferred.setdefault(group, versions[0]["version"])
                    for version_doc in versions:
                        for res in version_doc.get("resources") or []:
                            info = _from_aggregated(group, version_doc["version"], res)
                            by_gvk.setdefault((info.group, info.version, info.kind), info)
            else:
                _legacy(cluster, root, document, by_gvk, preferred)
        return cls(by_gvk=by_gvk, preferred=preferred)

    def lookup(self, api_version: str, kind: str) -> ResourceInfo | None:
        group, version = split_api_version(api_version)
        return self.by_gvk.get((group, version, kind))

    def kinds_named(self, kind: str) -> list[ResourceInfo]:
        return [info for (_, _, k), info in self.by_gvk.items() if k == kind]

    def listable(self) -> list[ResourceInfo]:
        """One entry per group and kind, at the group's preferred version, for kinds that can be listed."""
        chosen: dict[tuple[str, str], ResourceInfo] = {}
        for info in self.by_gvk.values():
            if "list" not in info.verbs:
                continue
            key = (info.group, info.kind)
            if key not in chosen or info.version == self.preferred.get(info.group):
                chosen[key] = info
        return list(chosen.values())


def _from_aggregated(group: str, version: str, res: dict[str, Any]) -> ResourceInfo:
    kind_doc = res.get("responseKind") or {}
    return ResourceInfo(
        group=kind_doc.get("group", group) or group,
        version=kind_doc.get("version", version) or version,
        kind=kind_doc.get("kind", ""),
        plural=res["resource"],
        namespaced=res.get("scope") == "Namespaced",
        verbs=frozenset(res.get("verbs") or ()),
    )


def _legacy(
    cluster: Cluster,
    root: str,
    document: dict[str, Any],
    by_gvk: dict[tuple[str, str, str], ResourceInfo],
    preferred: dict[str, str],
) -> None:
    if root == "/api":
        group_versions = [("", v) for v in document.get("versions") or []]
        if group_versions:
            preferred.setdefault("", group_versions[0][1])
    else:
        group_versions = []
        for group_doc in document.get("groups") or []:
            preferred.setdefault(group_doc["name"], group_doc["preferredVersion"]["version"])
            group_versions += [(group_doc["name"], v["version"]) for v in group_doc.get("versions") or []]
    for group, version in group_versions:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for res in cluster.request("GET", path).get("resources") or []:
            if "/" in res["name"]:
                continue  # a subresource
            info = ResourceInfo(
                group=group,
                version=version,
                kind=res["kind"],
                plural=res["name"],
                namespaced=bool(res.get("namespaced")),
                verbs=frozenset(res.get("verbs") or ()),
            )
            by_gvk.setdefault((group, version, info.kind), info)
