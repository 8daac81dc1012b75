"""One writer per app, one controller replica per app: Kubernetes Leases (coordination.k8s.io/v1).

Two Leases per app in ``plumbline-system`` (created if missing), each naming its holder and when the
holder last renewed it:

* ``plumbline-app-<app>``, the **write** Lease (:func:`lease_name`): held only while a write of the
  app runs — by ``plumb sync``, ``plumb resume --revert`` or a controller replica alike — and given
  back when it ends, so one write never waits for more than another write.
* ``plumbline-owner-<app>``, the **owner** Lease (:func:`owner_lease_name`): the controller replica
  that reconciles the app holds it for as long as it does, so replicas share the apps out; it never
  blocks a manual write. It is written when taken, released or handed over, not renewed: it stays
  held while its holder's **membership** Lease (:func:`heartbeat`, renewed by :class:`Renewer`'s
  thread every third of the duration) is fresh, so renewals grow with replicas, not apps.

Anyone may take a lease whose holder has not renewed it for ``leaseDurationSeconds`` — an owner
Lease only when its holder's membership Lease has lapsed too (:meth:`LeaseInfo.expired`, the one
rule; :func:`read_lease` and :func:`acquire` read the membership Lease when it matters). Every write
goes through the API server's optimistic concurrency (``resourceVersion``), so two replicas racing
for one expired lease cannot both win: the loser gets 409 Conflict and sees the winner on its next
read.

    with app_lease(cluster, "guestbook", identity="alice@laptop"):
        ...   # no one else writes the app meanwhile (engine.sync_app takes it like this to write)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from plumbline.cluster import ApiFailure, Cluster
from plumbline.errors import ClusterError
from plumbline.words import LEASE_DURATION_S as LEASE_DURATION_S
from plumbline.words import LEASE_NAMESPACE as LEASE_NAMESPACE

_PREFIX = "plumbline-app-"
_OWNER_PREFIX = "plumbline-owner-"


class LeaseHeldError(ClusterError):
    """Another holder has the app's lease and keeps renewing it. Exit code 1: like a guard, a refusal."""

    exit_code = 1


def default_identity() -> str:
    """``$PLUMBLINE_IDENTITY``, else host, pid and a random suffix: unique per process."""
    if explicit := os.environ.get("PLUMBLINE_IDENTITY", "").strip():
        return explicit
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def lease_name(app: str) -> str:
    """The app's write Lease: held while a write of the app runs."""
    return _PREFIX + app


def owner_lease_name(app: str) -> str:
    """The app's owner Lease: held by the controller replica that reconciles the app."""
    return _OWNER_PREFIX + app


def _micro(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LeaseInfo:
    app: str
    holder: str | None
    renewed: datetime | None
    duration_s: int
    transitions: int
    membership: LeaseInfo | None = None
    """Of an owner Lease not renewed within its duration: the holder's membership Lease (None: none)."""

    def expired(self, at: datetime | None = None) -> bool:
        """Free to take: no holder, or the holder renewed it longer than its duration ago — and, for
        an owner Lease, the holder's membership Lease has lapsed too (or is gone)."""
        if not self.holder:
            return True
        moment = at or datetime.now(UTC)
        if self.renewed is not None and moment <= self.renewed + timedelta(seconds=self.duration_s):
            return False
        member = self.membership
        return member is None or member.holder != self.holder or member.expired(moment)


def _path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{path}/{name}" if name else path


_ensured: set[tuple[str, str]] = set()


def ensure_namespace(cluster: Cluster, namespace: str) -> None:
    """Create the lease namespace if it is missing (once per process and server)."""
    if (cluster.server, namespace) in _ensured:
        return
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    try:
        # Idempotent in effect (AlreadyExists is success), so a dropped connection may be retried.
        cluster.request("POST", "/api/v1/namespaces", body=body, idempotent=True)
    except ApiFailure as failure:
        if failure.status != 409:
            raise ClusterError(f"cannot create the lease namespace {namespace}: {failure}") from None
    _ensured.add((cluster.server, namespace))


def read_lease(
    cluster: Cluster, app: str, *, namespace: str = LEASE_NAMESPACE, name: str | None = None
) -> LeaseInfo | None:
    """The app's write Lease (``name``: another of its Leases, e.g. :func:`owner_lease_name`)."""
    name = name or lease_name(app)
    obj = cluster.read(_path(namespace, name))
    return None if obj is None else _judged(cluster, app, obj, namespace=namespace, name=name)


def _info(app: str, obj: dict[str, Any]) -> LeaseInfo:
    spec = obj.get("spec") or {}
    return LeaseInfo(
        app=app,
        holder=spec.get("holderIdentity"),
        renewed=_parse(spec.get("renewTime")),
        duration_s=int(spec.get("leaseDurationSeconds") or LEASE_DURATION_S),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def _judged(
    cluster: Cluster, app: str, obj: dict[str, Any], *, namespace: str, name: str, at: datetime | None = None
) -> LeaseInfo:
    """The Lease ``obj`` as :class:`LeaseInfo`; an owner Lease held but not renewed within its
    duration with its holder's membership Lease read beside it (one GET), so ``expired`` is the one
    rule for every reader."""
    info = _info(app, obj)
    if not name.startswith(_OWNER_PREFIX) or not info.holder or not info.expired(at):
        return info
    member = cluster.read(_path(namespace, replica_lease_name(info.holder)))
    return info if member is None else replace(info, membership=_info("", member))


class Grant(StrEnum):
    """What one attempt on a lease did."""

    ACQUIRED = "acquired"  # it was not ours (absent, released, lapsed) and now is: a transition
    RENEWED = "renewed"  # it was ours already
    REFUSED = "refused"  # someone else holds it unexpired, or won a race for it just now

    @property
    def held(self) -> bool:
        """The caller holds the lease now."""
        return self is not Grant.REFUSED


def acquire(
    cluster: Cluster,
    app: str,
    identity: str,
    *,
    namespace: str = LEASE_NAMESPACE,
    duration_s: int = LEASE_DURATION_S,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Grant:
    """Take or renew the app's lease for ``identity``, saying whether it changed hands (:class:`Grant`);
    REFUSED if someone else holds it unexpired, or won a race for it just now. ``name`` and ``labels``
    override the lease's, ``annotations`` are added to it (for replica heartbeats)."""
    grant, _ = _acquire(
        cluster,
        app,
        identity,
        namespace=namespace,
        duration_s=duration_s,
        name=name,
        labels=labels,
        annotations=annotations,
    )
    return grant


def _acquire(
    cluster: Cluster,
    app: str,
    identity: str,
    *,
    namespace: str,
    duration_s: int,
    name: str | None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> tuple[Grant, dict[str, Any] | None]:
    """:func:`acquire`, and the Lease as written (None: not written, REFUSED)."""
    ensure_namespace(cluster, namespace)
    moment = datetime.now(UTC)
    name = name or lease_name(app)
    obj = cluster.read(_path(namespace, name))
    if obj is None:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels or {"plumbline.dev/lease-app": app},
                "annotations": annotations or {},
            },
            "spec": {
                "holderIdentity": identity,
                "leaseDurationSeconds": duration_s,
                "acquireTime": _micro(moment),
                "renewTime": _micro(moment),
                "leaseTransitions": 0,
            },
        }
        try:
            created = cluster.request("POST", _path(namespace), body=body)
        except ApiFailure as conflict:
            if conflict.status == 409:
                return Grant.REFUSED, None
            raise
        return Grant.ACQUIRED, created
    info = _info(app, obj)
    if info.holder != identity:
        info = _judged(cluster, app, obj, namespace=namespace, name=name, at=moment)
    spec = obj.setdefault("spec", {})
    if annotations:
        obj.setdefault("metadata", {}).setdefault("annotations", {}).update(annotations)
    grant = Grant.RENEWED
    if info.holder == identity:
        spec["renewTime"] = _micro(moment)
        spec["leaseDurationSeconds"] = duration_s
    elif info.expired(moment):
        grant = Grant.ACQUIRED
        spec.update(
            holderIdentity=identity,
            leaseDurationSeconds=duration_s,
            acquireTime=_micro(moment),
            renewTime=_micro(moment),
            leaseTransitions=info.transitions + 1,
        )
    else:
        return Grant.REFUSED, None
    try:
        written = cluster.request("PUT", _path(namespace, name), body=obj)  # carries resourceVersion: CAS
    except ApiFailure as conflict:
        if conflict.status == 409:
            return Grant.REFUSED, None
        raise
    return grant, written


def renew(cluster: Cluster, lease: dict[str, Any], *, duration_s: int) -> dict[str, Any] | None:
    """Renew ``lease`` — the Lease as this holder last wrote it — with one write, no read: its
    ``resourceVersion`` makes the write fail (None) if anyone changed the Lease since, and the caller
    then reads it and decides (:func:`acquire`). The Lease as written otherwise."""
    metadata = lease.get("metadata") or {}
    renewed = {**lease, "spec": {**(lease.get("spec") or {})}}
    renewed["spec"]["renewTime"] = _micro(datetime.now(UTC))
    renewed["spec"]["leaseDurationSeconds"] = duration_s
    path = _path(str(metadata.get("namespace", "")), str(metadata.get("name", "")))
    try:
        written: dict[str, Any] = cluster.request("PUT", path, body=renewed)
    except ApiFailure as conflict:
        if conflict.status in (404, 409):
            return None
        raise
    return written


def release(
    cluster: Cluster, app: str, identity: str, *, namespace: str = LEASE_NAMESPACE, name: str | None = None
) -> None:
    """Give the lease up (only if ``identity`` still holds it), so others need not wait for expiry."""
    name = name or lease_name(app)
    with contextlib.suppress(ApiFailure, ClusterError):
        obj = cluster.request("GET", _path(namespace, name))
        spec = obj.get("spec") or {}
        if spec.get("holderIdentity") != identity:
            return
        spec["holderIdentity"] = None
        spec["renewTime"] = None
        obj["spec"] = spec
        cluster.request("PUT", _path(namespace, name), body=obj)


class Renewer:
    """The leases one identity holds on one cluster (named by ``name``, default the write Lease; a
    controller's :func:`owner_lease_name`), as one state machine: taking an app
    (:meth:`claim`), keeping it (its own thread, every third of the duration) and giving it up
    (:meth:`discard`) all go through one lock, so the loop and the renewal never race each other's
    writes to the same Lease, and ``claim`` says :attr:`Grant.ACQUIRED` only when the lease really
    changed hands.

    Write Leases are renewed each, every third of the duration. Owner Leases are not: the thread
    renews this identity's **membership** Lease instead (:func:`heartbeat`'s, one write a round
    whatever the number of apps), and an owner Lease stays held while its holder's membership Lease
    is fresh (:meth:`LeaseInfo.expired`). A renewal the API cannot answer keeps the apps held until
    the lease would have lapsed (the loop's next claim finds out); one refused means another holder
    took it: ``lost``. A membership that lapsed meanwhile (no renewal for a whole duration) makes
    every owner Lease read again before it is counted as held."""

    def __init__(
        self,
        cluster: Cluster,
        identity: str,
        *,
        namespace: str,
        duration_s: int,
        name: Callable[[str], str] = lease_name,
    ) -> None:
        self.cluster, self.identity, self.namespace, self.duration_s = (
            cluster,
            identity,
            namespace,
            duration_s,
        )
        self.name = name
        self.by_membership = name("app").startswith(_OWNER_PREFIX)  # owner Leases: kept by membership
        self.apps: set[str] = set()
        self.lost: set[str] = set()
        self.published: frozenset[str] | None = None  # the apps on the membership Lease (None: none)
        self._renewed: dict[str, float] = {}
        self._leases: dict[str, dict[str, Any]] = {}  # each held Lease as last written: renewed blind
        self._member: dict[str, Any] | None = None  # the membership Lease as last written
        self._beat: float | None = None  # when the membership Lease was last renewed (monotonic)
        self._unverified: set[str] = set()  # held, but the membership lapsed since: read again
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._thread = threading.Thread(target=self._run, name="plumbline-lease", daemon=True)

    def start(self) -> Renewer:
        self._thread.start()
        return self

    def claim(self, app: str) -> Grant:
        """Take or keep ``app``'s lease; the app is held afterwards unless REFUSED. A lease this
        holder keeps is not written again (RENEWED): an owner Lease while this identity's membership
        Lease is fresh (renewed here first if the thread is late), a write Lease renewed less than a
        third of its duration ago — no one else can have taken it since, so a pass over an app it
        holds costs the Lease nothing."""
        with self._lock:
            if self.by_membership:
                if self._beat is None or time.monotonic() - self._beat >= self.duration_s / 2:
                    self._renew_membership()  # the thread is late (it renews every third)
                if app in self.apps and app not in self._unverified:
                    return Grant.RENEWED
            elif app in self.apps and time.monotonic() - self._renewed.get(app, 0.0) < self.duration_s / 3:
                return Grant.RENEWED
            grant = self._take(app)
            if grant is Grant.REFUSED:
                self._drop(app, lost=app in self.apps)
            else:
                self.apps.add(app)
                self.lost.discard(app)
                self._unverified.discard(app)
                self._renewed[app] = time.monotonic()
            return grant

    def publish(self, apps: Iterable[str]) -> None:
        """Publish ``apps`` (the apps this replica is configured with) on the membership Lease:
        written at once when the list changed, kept by the renewals after."""
        mine = frozenset(apps)
        with self._lock:
            if mine != self.published:
                self.published = mine
                self._renew_membership()

    def _renew_membership(self) -> None:
        """Renew this identity's membership Lease: one blind write while it is as last written and
        publishes :attr:`published`, else read it and write. Raises when the API cannot answer."""
        started = time.monotonic()
        written = None
        if self._member is not None and _published(self._member) == self.published:
            written = renew(self.cluster, self._member, duration_s=self.duration_s)
        if written is None:
            annotations = (
                None if self.published is None else {APPS_ANNOTATION: json.dumps(sorted(self.published))}
            )
            _, written = _acquire(
                self.cluster,
                self.identity,
                self.identity,
                namespace=self.namespace,
                duration_s=self.duration_s,
                name=replica_lease_name(self.identity),
                labels={REPLICA_LABEL: "true"},
                annotations=annotations,
            )
            if written is None:
                raise ClusterError(
                    f"the membership Lease {replica_lease_name(self.identity)} is held by another process "
                    f"named {self.identity}; give each replica its own --identity"
                )
        if self._beat is None or started - self._beat > self.duration_s:
            self._unverified = set(self.apps)  # it lapsed meanwhile: anyone may have taken them
        self._member, self._beat = written, started

    def _take(self, app: str) -> Grant:
        grant, written = _acquire(
            self.cluster,
            app,
            self.identity,
            namespace=self.namespace,
            duration_s=self.duration_s,
            name=self.name(app),
        )
        if written is not None:
            self._leases[app] = written
        return grant

    def _renew(self, app: str) -> Grant:
        """Renew ``app``'s Lease: one write when it is as this holder last wrote it (the common case),
        else read it and decide as :meth:`claim` would."""
        lease = self._leases.get(app)
        if lease is not None:
            written = renew(self.cluster, lease, duration_s=self.duration_s)
            if written is not None:
                self._leases[app] = written
                return Grant.RENEWED
            self._leases.pop(app, None)
        return self._take(app)

    def add(self, app: str) -> None:
        """Count ``app`` as held (its lease was just taken by the caller)."""
        with self._lock:
            self.apps.add(app)
            self.lost.discard(app)
            self._renewed[app] = time.monotonic()

    def discard(self, app: str) -> None:
        with self._lock:
            self._drop(app, lost=False)

    def _drop(self, app: str, *, lost: bool) -> None:
        self.apps.discard(app)
        self._unverified.discard(app)
        self._renewed.pop(app, None)
        self._leases.pop(app, None)
        if lost:
            self.lost.add(app)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self.duration_s / 3)):
            self.renew_all()

    def renew_all(self) -> None:
        """The renewal thread's round, every third of the duration: for owner Leases, renew the
        membership Lease (one write) and read again any app held across a lapse of it; for write
        Leases, renew each (one write each while no one else has changed it)."""
        if self.by_membership:
            self._keep_by_membership()
            return
        with self._lock:
            apps = sorted(self.apps)
        for app in apps:
            with self._lock:
                if app not in self.apps:
                    continue  # given up meanwhile
                try:
                    grant = self._renew(app)
                except (ApiFailure, ClusterError):
                    # Unreachable: still ours until the lease could have lapsed.
                    if time.monotonic() - self._renewed.get(app, 0.0) > self.duration_s:
                        self._drop(app, lost=True)
                    continue
                if grant is Grant.REFUSED:
                    self._drop(app, lost=True)
                else:
                    self._renewed[app] = time.monotonic()

    def _keep_by_membership(self) -> None:
        with self._lock:
            try:
                self._renew_membership()
            except (ApiFailure, ClusterError):
                # Unreachable: the apps are still ours until the membership Lease could have lapsed.
                if self._beat is None or time.monotonic() - self._beat > self.duration_s:
                    for app in sorted(self.apps):
                        self._drop(app, lost=True)
                return
            for app in sorted(self._unverified & self.apps):
                try:
                    grant = self._take(app)
                except (ApiFailure, ClusterError):
                    continue  # read again next round (or at the loop's next claim)
                if grant is Grant.REFUSED:
                    self._drop(app, lost=True)
                else:
                    self._unverified.discard(app)


@contextlib.contextmanager
def app_lease(
    cluster: Cluster,
    app: str,
    identity: str | None = None,
    *,
    namespace: str = LEASE_NAMESPACE,
    duration_s: int = LEASE_DURATION_S,
    wait_s: float = 0.0,
) -> Iterator[str]:
    """Hold the app's lease for the block (renewed meanwhile), then release it. Yields the identity.

    Waits up to ``wait_s`` for another holder to release or lapse, then raises :class:`LeaseHeldError`
    naming the holder.
    """
    who = identity or default_identity()
    deadline = time.monotonic() + wait_s
    while not acquire(cluster, app, who, namespace=namespace, duration_s=duration_s).held:
        if time.monotonic() >= deadline:
            info = read_lease(cluster, app, namespace=namespace)
            holder = info.holder if info else "?"
            raise LeaseHeldError(
                f"app {app} is being written by {holder} (Lease {namespace}/{lease_name(app)}); "
                f"wait for it to finish, or for the lease to lapse ({duration_s}s without renewal)"
            )
        time.sleep(min(1.0, max(0.1, deadline - time.monotonic())))
    renewer = Renewer(cluster, who, namespace=namespace, duration_s=duration_s)
    renewer.add(app)
    renewer.start()
    try:
        yield who
    finally:
        renewer.stop()
        release(cluster, app, who, namespace=namespace)


REPLICA_LABEL = "plumbline.dev/replica"


def replica_lease_name(identity: str) -> str:
    """A controller replica's membership Lease (:func:`heartbeat`, :class:`Renewer`)."""
    safe = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-")[:40] or "replica"
    return f"plumbline-replica-{safe}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


APPS_ANNOTATION = "plumbline.dev/apps"
"""On a replica's membership lease: the apps it is configured with (JSON list), so every replica
shares out the apps all of them see (``controller/_share.py``)."""


def heartbeat(
    cluster: Cluster, identity: str, *, namespace: str, duration_s: int, apps: Iterable[str] = ()
) -> dict[str, frozenset[str] | None]:
    """Renew this replica's own membership lease, publishing ``apps`` (the apps it is configured
    with); return the live replicas (:func:`live_replicas`). A controller's :class:`Renewer` keeps
    its membership Lease itself; this is for a replica without one."""
    mine = frozenset(apps)
    acquire(
        cluster,
        identity,
        identity,
        namespace=namespace,
        duration_s=duration_s,
        name=replica_lease_name(identity),
        labels={REPLICA_LABEL: "true"},
        annotations={APPS_ANNOTATION: json.dumps(sorted(mine))},
    )
    return live_replicas(cluster, identity, namespace=namespace, apps=mine)


def live_replicas(
    cluster: Cluster, identity: str, *, namespace: str, apps: Iterable[str]
) -> dict[str, frozenset[str] | None]:
    """The live replicas (this one, ``identity`` with ``apps``, included), from the unexpired
    membership leases (one LIST), each with the apps it publishes (None: it publishes none, an older
    version). Used to share apps out."""
    listed = cluster.request("GET", _path(namespace), query={"labelSelector": f"{REPLICA_LABEL}=true"})
    moment = datetime.now(UTC)
    alive: dict[str, frozenset[str] | None] = {}
    for item in listed.get("items") or []:
        info = _info("", item)
        if info.holder and not info.expired(moment):
            alive[info.holder] = _published(item)
    alive[identity] = frozenset(apps)
    return alive


def _published(lease: dict[str, Any]) -> frozenset[str] | None:
    raw = ((lease.get("metadata") or {}).get("annotations") or {}).get(APPS_ANNOTATION)
    try:
        names = json.loads(raw) if raw else None
    except ValueError:
        return None
    return frozenset(str(n) for n in names) if isinstance(names, list) else None


def release_replica(cluster: Cluster, identity: str, *, namespace: str) -> None:
    """Leave the membership at once (a clean stop), so the others take a fair share sooner."""
    with contextlib.suppress(ApiFailure, ClusterError):
        cluster.request("DELETE", _path(namespace, replica_lease_name(identity)))
