"""Proving an object unchanged without asking the server (decision 0024, docs/unchanged.md).

A plan asks the API server for a dry-run apply of every desired object: what applying it would make
of the live object. For an object that the last sync (or the last full compare) found unchanged, that
answer is known already, as long as none of its inputs moved:

* the desired object as it would be applied (after the runtime rules) — :attr:`Proof.desired`;
* the live object — :attr:`Proof.live`: everything but ``status``, ``metadata.resourceVersion`` and the
  ``managedFields`` entries of the ``status`` subresource (a status update does not change what an
  apply does; every other write — ``kubectl edit``, another manager's apply, a label removed,
  delete-and-recreate — changes a field, the uid, the generation or a managedFields entry);
* what the server does with an apply of that kind — :attr:`Proof.stamp` (:class:`Stamps`): its
  version, the CustomResourceDefinition that serves the kind (uid and generation: a schema change, a
  new default, pruning), and the mutating admission configuration.

When all three digests are equal the plan uses the live object as the prediction, with no dry run
(``PlanItem.proven``); otherwise, or when a stamp cannot be told (``None``), it asks the server as
always. Digests are keyed (:meth:`Redactor.digest`): a proof says nothing about a secret value.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from plumbline.errors import ApiForbidden, ApiNotFound

if TYPE_CHECKING:
    from plumbline.cluster import Cluster, ResourceInfo
    from plumbline.redact import Redactor


@dataclass(frozen=True)
class Proof:
    """What a sync or a full compare proved about one object: it was unchanged with these inputs.

    ``desired``: keyed digest of the desired object as applied; ``live``: keyed digest of the live
    object (:func:`live_digest`); ``stamp``: the server's behaviour for its kind (:meth:`Stamps.of`),
    ``""`` when unknown (such a proof never holds)."""

    desired: str
    live: str
    stamp: str

    def to_dict(self) -> dict[str, str]:
        return {"desired": self.desired, "live": self.live, "stamp": self.stamp}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proof:
        return cls(desired=str(data["desired"]), live=str(data["live"]), stamp=str(data.get("stamp", "")))

    def holds(self, *, desired: str, live: str, stamp: str | None) -> bool:
        """True if the object, its live state and the server's behaviour are what was proved."""
        return bool(self.stamp) and stamp == self.stamp and desired == self.desired and live == self.live


class Stamps(Protocol):
    """What makes a dry run's answer for a kind what it is (:func:`stamp_of`)."""

    def of(self, info: ResourceInfo) -> str | None:
        """The kind's stamp; None: cannot tell (then no object of it is proved unchanged)."""
        ...


def desired_digest(redactor: Redactor, desired: dict[str, Any]) -> str:
    """The keyed digest of a desired object as it would be applied."""
    return redactor.digest(desired)


def live_digest(redactor: Redactor, live: dict[str, Any]) -> str:
    """The keyed digest of a live object without what status updates change: ``status``,
    ``metadata.resourceVersion`` and ``managedFields`` entries whose subresource is ``status``. uid,
    generation, labels, annotations, spec and the other managers' entries (with their times) stay."""
    shown = {key: value for key, value in live.items() if key != "status"}
    metadata = dict(live.get("metadata") or {})
    metadata.pop("resourceVersion", None)
    if "managedFields" in metadata:
        metadata["managedFields"] = [
            entry
            for entry in metadata["managedFields"] or []
            if not (isinstance(entry, dict) and entry.get("subresource") == "status")
        ]
    shown["metadata"] = metadata
    return redactor.digest(shown)


def prove(redactor: Redactor, *, desired: dict[str, Any], live: dict[str, Any], stamp: str | None) -> Proof:
    """The proof that ``desired`` applied to ``live`` changes nothing, under ``stamp``."""
    return Proof(desired_digest(redactor, desired), live_digest(redactor, live), stamp or "")


def proven(
    proof: Proof | None,
    redactor: Redactor,
    *,
    desired: dict[str, Any],
    live: dict[str, Any],
    stamp: str | None,
) -> bool:
    """True if ``proof`` holds for ``desired`` against ``live`` under ``stamp``."""
    if proof is None or not proof.stamp or stamp != proof.stamp:
        return False
    return proof.holds(
        desired=desired_digest(redactor, desired), live=live_digest(redactor, live), stamp=stamp
    )


# ---- stamps ------------------------------------------------------------------------------------

# The objects whose configuration changes what a mutating admission makes of an apply.
MUTATING_KINDS = ("MutatingWebhookConfiguration", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")


def stamp_of(
    info: ResourceInfo,
    *,
    server: str,
    apiservice: Mapping[str, Any],
    crd: Mapping[str, Any] | None,
    admission: Iterable[Mapping[str, Any]],
) -> str | None:
    """The stamp of ``info``'s kind from what the server says about itself — the one composition, for
    :class:`RequestedStamps` and a watch-fed cache alike.

    ``server``: ``/version``'s gitVersion; ``apiservice``: the APIService of the kind's group version
    (an aggregated one, served by another server, can change behaviour unseen: None is returned);
    ``crd``: the CustomResourceDefinition serving the kind, None for a built-in kind; ``admission``:
    every MutatingWebhookConfiguration, MutatingAdmissionPolicy and MutatingAdmissionPolicyBinding
    (kind and metadata are read: name, uid, generation). A caller that cannot tell one of these (not
    allowed to read it) returns None itself instead of calling this.
    """
    if not server or (apiservice.get("spec") or {}).get("service"):
        return None
    parts: list[Any] = [server, info.group, info.version, info.kind]
    if crd is not None:
        metadata = crd.get("metadata") or {}
        parts.append(["crd", metadata.get("uid"), metadata.get("generation")])
    parts.append(
        sorted(
            [
                str(obj.get("kind", "")),
                str((obj.get("metadata") or {}).get("name", "")),
                str((obj.get("metadata") or {}).get("uid", "")),
                int((obj.get("metadata") or {}).get("generation") or 0),
            ]
            for obj in admission
        )
    )
    text = json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

_UNKNOWN = object()


class RequestedStamps:
    """:class:`Stamps` read from the API server, each fact once (for one plan: make a new one per
    plan, or a changed webhook would go unseen). Lazy: nothing is asked until a stamp is wanted.

    Requests: ``/version``; the metadata of the mutating admission configuration (one LIST per kind
    the server serves); per group version its APIService; per custom kind its
    CustomResourceDefinition (by name, ``<plural>.<group>``). Anything forbidden means "cannot tell":
    None for the kinds it concerns. Safe to use from several threads."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._lock = threading.Lock()
        self._server: Any = _UNKNOWN
        self._admission: Any = _UNKNOWN
        self._apiservices: dict[str, dict[str, Any] | None] = {}
        self._crds: dict[str, Any] = {}
        self.requests = 0  # how many requests the stamps took (a plan's cost, for tests and benchmarks)

    def of(self, info: ResourceInfo) -> str | None:
        with self._lock:
            server = self._server_version()
            admission = self._admission_objects()
            apiservice = self._apiservice(info)
            crd = self._crd(info) if apiservice is not None and info.group else None
        if not server or admission is None or apiservice is None or crd is _UNKNOWN:
            return None
        return stamp_of(info, server=server, apiservice=apiservice, crd=crd, admission=admission)

    def _get(self, path: str, *, accept: str | None = None) -> Any:
        """The answer at ``path``; None if it is not there; ``_UNKNOWN`` if it may not be read."""
        self.requests += 1
        try:
            return self._cluster.request("GET", path, accept=accept)
        except ApiNotFound:
            return None
        except ApiForbidden:
            return _UNKNOWN

    def _server_version(self) -> str:
        if self._server is _UNKNOWN:
            answer = self._get("/version")
            self._server = str(answer.get("gitVersion", "")) if isinstance(answer, dict) else ""
        return str(self._server)

    def _admission_objects(self) -> list[dict[str, Any]] | None:
        if self._admission is _UNKNOWN:
            self._admission = self._list_admission()
        return self._admission  # type: ignore[no-any-return]

    def _list_admission(self) -> list[dict[str, Any]] | None:
        """Each mutating admission object's kind and metadata; None if a kind may not be listed."""
        found: list[dict[str, Any]] = []
        for kind in MUTATING_KINDS:
            for info in _served(self._cluster, kind):
                answer = self._get(info.path(), accept=METADATA_LIST)
                if answer is _UNKNOWN:
                    return None
                found += [
                    {"kind": kind, "metadata": i.get("metadata") or {}}
                    for i in (answer or {}).get("items") or []
                ]
        return found

    def _apiservice(self, info: ResourceInfo) -> dict[str, Any] | None:
        name = f"{info.version}.{info.group}"
        if name not in self._apiservices:
            answer = self._get(f"/apis/apiregistration.k8s.io/v1/apiservices/{name}")
            self._apiservices[name] = answer if isinstance(answer, dict) else None
        return self._apiservices[name]

    def _crd(self, info: ResourceInfo) -> Any:
        name = f"{info.plural}.{info.group}"
        if name not in self._crds:
            answer = self._get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            self._crds[name] = answer
        return self._crds[name]


def _served(cluster: Cluster, kind: str) -> list[ResourceInfo]:
    """The kind in admissionregistration.k8s.io at the one version to list (the group's preferred if
    served there), or nothing if the server does not serve it."""
    found = [
        info for info in cluster.discovery.kinds_named(kind) if info.group == "admissionregistration.k8s.io"
    ]
    if not found:
        return []
    preferred = cluster.discovery.preferred.get("admissionregistration.k8s.io")
    return [
        next(
            (info for info in found if info.version == preferred), sorted(found, key=lambda i: i.version)[-1]
        )
    ]
